// HR tools: the provisioning sub-agent creates the account and grants privileges; the HR agent itself
// only sends the welcome email.
import { createAccount, grantPrivileges, sendWelcomeEmail } from "../onboarding/tools.js";

export const PROVISIONING_TOOLS = [createAccount, grantPrivileges];
export const HR_OWN_TOOLS = [sendWelcomeEmail];
export const HR_TOOLS = [...PROVISIONING_TOOLS, ...HR_OWN_TOOLS];
/** Tools a human reviews before they run. */
export const REVIEWED_TOOLS = [grantPrivileges.name];
