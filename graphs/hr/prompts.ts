// Prompt text for the HR agent and its provisioning sub-agent.
import type { NewHire } from "./state.js";

function facts(hire: NewHire, preferences: Record<string, string>): string {
  const tone = preferences.welcomeTone ?? hire.welcomeTone ?? "warm";
  return ["Facts:", "```json", JSON.stringify({ email: hire.email, name: hire.name, department: hire.department, manager: hire.manager, privileges: hire.privileges, tone }, null, 2), "```"].join("\n");
}

export function provisioningPrompt(hire: NewHire, preferences: Record<string, string>): string {
  return [
    "You are the provisioning sub-agent. First create_account for the hire, then grant_privileges with exactly the requested privileges",
    "(a human reviews it; if rejected, do not retry). Call one tool at a time, then summarise.",
    "",
    facts(hire, preferences),
  ].join("\n");
}

export function hrPrompt(hire: NewHire, preferences: Record<string, string>): string {
  return [
    "You are the HR agent. Provisioning (account and privileges) has been handled by a sub-agent; its results are above.",
    "Now send_welcome_email in the manager's preferred tone, then reply with a short summary of the whole onboarding.",
    "",
    facts(hire, preferences),
  ].join("\n");
}
