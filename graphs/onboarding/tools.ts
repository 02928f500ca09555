// Onboarding tools: directory account, privilege grants (reviewed by a human), welcome email.
import { z } from "zod";
import type { Policy } from "../../src/approvals/index.js";
import { durableTool } from "../../src/tools/index.js";
import { TONES } from "./state.js";
import { demoWorld } from "../world.js";

export const createAccount = durableTool({
  name: "create_account",
  description: "Create the new hire's account in the staff directory.",
  risk: "mutate",
  dedupesByKey: true,
  schema: z.object({
    email: z.email().describe("Work email of the account"),
    name: z.string().min(1).describe("Full name"),
    department: z.string().min(1).describe("Department"),
    manager: z.email().optional().describe("Manager's email"),
  }),
  describe: (a) => `Create directory account ${a.email} (${a.name}, ${a.department})`,
  async run(args, { config, idempotencyKey }) {
    const world = await demoWorld(config);
    const account = await world.createAccount(args, idempotencyKey);
    return { accountRef: account.accountRef, email: account.email, alreadyExisted: account.alreadyExisted };
  },
});

export const grantPrivileges = durableTool({
  name: "grant_privileges",
  description: "Grant access privileges to an existing directory account. Risky: a human reviews every call.",
  risk: "mutate",
  dedupesByKey: true,
  schema: z.object({
    email: z.email().describe("Account to grant to"),
    privileges: z.array(z.string().min(1)).min(1).max(20).describe("Privileges, e.g. 'github:write'"),
  }),
  describe: (a) => `Grant ${a.privileges.join(", ")} to ${a.email}`,
  async run(args, { config, idempotencyKey }) {
    const world = await demoWorld(config);
    const grant = await world.grantPrivileges(args, idempotencyKey);
    return { grantRef: `grant-${idempotencyKey.slice(0, 10)}`, email: grant.email, granted: grant.privileges };
  },
});

const GREETINGS: Record<(typeof TONES)[number], (name: string) => { subject: string; body: string }> = {
  warm: (n) => ({ subject: `Welcome aboard, ${n}!`, body: `Hi ${n},\n\nWe are so glad you are joining us. Your accounts are ready; say hello to the team!\n` }),
  formal: (n) => ({ subject: `Welcome to the company, ${n}`, body: `Dear ${n},\n\nWelcome. Your directory account and access have been set up. Please review the onboarding handbook.\n\nKind regards,\nPeople Operations\n` }),
  casual: (n) => ({ subject: `Hey ${n}, you're in`, body: `Hey ${n}!\n\nYou're all set up. Grab a coffee and ping the team channel.\n` }),
};

export const sendWelcomeEmail = durableTool({
  name: "send_welcome_email",
  description: "Send the welcome email to the new hire, in the manager's preferred tone.",
  risk: "mutate",
  dedupesByKey: true,
  schema: z.object({
    email: z.email().describe("Recipient: the new hire's work email"),
    name: z.string().min(1).describe("Name to greet"),
    tone: z.enum(TONES).describe("Tone of the email"),
  }),
  describe: (a) => `Send a ${a.tone} welcome email to ${a.email}`,
  async run(args, { config, idempotencyKey }) {
    const world = await demoWorld(config);
    const { subject, body } = GREETINGS[args.tone](args.name);
    const sent = await world.sendEmail({ to: args.email, subject, body }, idempotencyKey);
    return { messageRef: sent.messageRef, to: sent.to, subject: sent.subject, tone: args.tone };
  },
});

export const ONBOARDING_TOOLS = [createAccount, grantPrivileges, sendWelcomeEmail];

/** Built-in oversight policy: privileges always go past a human; mail outside the company does too. */
export const ONBOARDING_POLICY: Policy = {
  tools: {
    create_account: { tier: "auto", reason: "creating a directory account is routine and dedupes by key" },
    grant_privileges: { tier: "review", reason: "privileges change what the hire can reach", when: [{ arg: "privileges", matches: "\\b(admin|root|superuser)\\b", then: "review", reason: "administrator privileges" }] },
    send_welcome_email: { tier: "auto", when: [{ arg: "email", domainNotIn: ["acme.test"], then: "review", reason: "the welcome email would leave the company" }] },
  },
};

