// Entry to the shared agent machinery: run context and the agent/review/tools loop.
export { resolveContext, type AgentContext, type ResolvedContext } from "./context.js";
export { createAgentNode, createDoubtNode, createToolsNode, routeAfterAgent, routeAfterTools, type AgentNodeOptions } from "./loop.js";
export { createReviewNode, reviewEnds, routeUnlessStopped, type ReviewNodeOptions } from "./review.js";

/** Super-steps a run of a Waypoint agent may take by default (the guard pauses it for a human before). */
export const AGENT_RECURSION_LIMIT = 100;
export { guardPass, policyPass, type OverseeContext } from "./oversee.js";
