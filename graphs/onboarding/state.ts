// Onboarding agent state: the new hire (input), what memory recalled, the conversation (a delta
// channel: each checkpoint stores only the new messages), and the oversight record (grants, guard pauses).
import { MessagesDeltaValue, StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { OversightValue } from "../../src/approvals/index.js";

export const TONES = ["warm", "formal", "casual"] as const;

export const NewHire = z
  .object({
    name: z.string().min(1).describe("Full name of the new hire"),
    email: z.email().describe("Work email address the directory account is created for"),
    department: z.string().min(1).describe("Department the hire joins"),
    manager: z.email().describe("Manager's email; their preferences are remembered across threads"),
    privileges: z.array(z.string().min(1)).min(1).describe("Privileges to request, e.g. ['github:write', 'prod-db:read']"),
    welcomeTone: z.enum(TONES).optional().describe("The manager's preferred tone for welcome emails; remembered for later hires"),
  })
  .strict();
export type NewHire = z.infer<typeof NewHire>;

export const OnboardingInput = z.object({ hire: NewHire.describe("The person to onboard") }).strict();
export type OnboardingInput = z.infer<typeof OnboardingInput>;

export const OnboardingState = new StateSchema({
  messages: MessagesDeltaValue,
  hire: NewHire,
  preferences: z.record(z.string(), z.string()).optional().describe("The manager's remembered preferences"),
  oversight: OversightValue,
});
export type OnboardingStateValue = typeof OnboardingState.State;
