// Entry to tool machinery: declaring tools, the side-effect ledger, and the tool executor.
export { durableTool, describeZodError, type DurableTool, type DurableToolOptions, type Risk, type ToolRunContext } from "./durable-tool.js";
export { idempotencyKeyFor, runThroughLedger, stableNamespace, type LedgerKey } from "./ledger.js";
export { closeDanglingToolCalls, executeToolCalls, lastAIMessage, toolResultMessage, unansweredToolCalls, type ExecuteContext } from "./executor.js";
