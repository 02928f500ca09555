// Entry to Waypoint's guarantees for ordinary LangChain agents: durable() around any tool, the
// idempotency key a tool passes on, conversation repair, and the oversight policy as middleware.
export { durable, idempotencyKey, isDurable, toolInfo, DurableLangChainTool, IDEMPOTENCY_KEY, type DurableOptions } from "./durable.js";
export { repairDanglingToolCalls, repairToolCalls, repairToolCallsNode, waypointOversight, type OversightOptions } from "./middleware.js";
