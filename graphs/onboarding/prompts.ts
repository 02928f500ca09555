// Prompt text for the onboarding agent. Facts go in a ```json block: a real model reads them, and so
// does the offline planner.
import type { NewHire } from "./state.js";

export function taskMessage(hire: NewHire): string {
  return `Onboard ${hire.name} (${hire.email}) into ${hire.department}.`;
}

export function systemPrompt(hire: NewHire, preferences: Record<string, string>): string {
  const tone = preferences.welcomeTone ?? hire.welcomeTone ?? "warm";
  const facts = { email: hire.email, name: hire.name, department: hire.department, manager: hire.manager, privileges: hire.privileges, tone };
  return [
    "You are an IT onboarding assistant. Onboard the new hire in this order:",
    "1. create_account for the hire;",
    "2. grant_privileges with exactly the requested privileges (a human reviews this; if they reject it, do not retry, report it);",
    "3. send_welcome_email in the manager's preferred tone.",
    "Call one tool at a time. When done, reply with a short summary of what was done and what was not.",
    "",
    "Facts:",
    "```json",
    JSON.stringify(facts, null, 2),
    "```",
  ].join("\n");
}
