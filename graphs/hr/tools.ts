// HR tools: the provisioning sub-agent creates the account and grants privileges; the HR agent itself
// only sends the welcome email.
import { createAccount, grantPrivileges, ONBOARDING_POLICY, sendWelcomeEmail } from "../onboarding/tools.js";

export const PROVISIONING_TOOLS = [createAccount, grantPrivileges];
export const HR_OWN_TOOLS = [sendWelcomeEmail];
export const HR_TOOLS = [...PROVISIONING_TOOLS, ...HR_OWN_TOOLS];
/** Built-in oversight policy: the same rules as the onboarding agent's. */
export const HR_POLICY = ONBOARDING_POLICY;
