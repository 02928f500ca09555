// Human oversight: HITL shapes and decision validation, the oversight policy, the audit log, the
// oversight state channel, and the requests a reviewer sees. The nodes that ask live in src/agents.
export * from "./hitl.js";
export * from "./policy.js";
export * from "./audit.js";
export * from "./oversight-state.js";
export { buildDoubtRequest } from "./doubt.js";
export { buildReviewRequest, contextFromConversation, describeCall, progressOf } from "./review-node.js";
