// Entry to the shared agent machinery: run context and the agent/review/tools loop.
export { resolveContext, type AgentContext, type ResolvedContext } from "./context.js";
export { createAgentNode, createToolsNode, routeAfterAgent, routeAfterReview, type AgentNodeOptions } from "./loop.js";
