// Waypoint's public surface: `import { durable, idempotencyKey, waypointOversight } from "waypoint"`.
//   - For ordinary LangChain agents (createAgent, createReactAgent, a StateGraph with a ToolNode):
//     durable() around any tool, idempotencyKey() inside it, repairToolCalls() / repairToolCallsNode,
//     and waypointOversight() middleware.
//   - For graphs written on Waypoint's own pieces: durableTool(), the agent / review / tools / doubt
//     nodes, the oversight state channel, the HITL shapes, and describeGraph() for a version and a
//     sample input.
//   - For embedding: Waypoint (the runner: queue, threads, decisions) and Registry (langgraph.json).
export {
  durable,
  idempotencyKey,
  isDurable,
  repairDanglingToolCalls,
  repairToolCalls,
  repairToolCallsNode,
  toolInfo,
  waypointOversight,
  DurableLangChainTool,
  type DurableOptions,
  type OversightOptions,
} from "./langchain/index.js";
export {
  AGENT_RECURSION_LIMIT,
  createAgentNode,
  createDoubtNode,
  createReviewNode,
  createToolsNode,
  resolveContext,
  reviewEnds,
  routeAfterAgent,
  routeAfterTools,
  routeUnlessStopped,
  type AgentContext,
  type AgentNodeOptions,
  type ReviewNodeOptions,
} from "./agents/index.js";
export {
  EMPTY_OVERSIGHT,
  OversightValue,
  isHITLRequest,
  mergePolicies,
  normalizeHITLRequest,
  parsePolicy,
  progressOf,
  validateResponse,
  type ActionRequest,
  type ChoiceOption,
  type Decision,
  type HITLRequest,
  type HITLResponse,
  type Oversight,
  type Policy,
  type ReviewConfig,
} from "./approvals/index.js";
export {
  durableTool,
  lastAIMessage,
  reopenFailedCall,
  unansweredToolCalls,
  type DurableTool,
  type DurableToolOptions,
  type Risk,
  type ToolInfo,
  type ToolRunContext,
} from "./tools/index.js";
export { describeGraph, Registry, type GraphInfo } from "./registry/index.js";
export { Waypoint, type WaypointOptions } from "./runs/index.js";
export { currentScope, type RunScope } from "./scope/index.js";
/** The configured chat model: OpenAI when OPENAI_API_KEY is set, else the offline planner (deterministic, no network). */
export { createChatModel } from "./models/index.js";
export { WaypointError, isWaypointError } from "./errors.js";
