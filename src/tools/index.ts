// Entry to tool machinery: declaring tools, the side-effect ledger, the failure ladder and the executor.
export { durableTool, describeZodError, type DurableTool, type DurableToolOptions, type Risk, type ToolRunContext } from "./durable-tool.js";
export {
  argsHash,
  graphNamespace,
  idempotencyKeyFor,
  ledgerRows,
  reopenFailedCall,
  resolveDoubt,
  stableNamespace,
  type LedgerKey,
  type LedgerRow,
  type LedgerStatus,
  type Resolution,
} from "./ledger.js";
export { canRepeat, DEFAULT_RETRY, DEFAULT_TIMEOUT_MS, retryPolicyOf, type RetryPolicy } from "./policy.js";
export {
  closeDanglingToolCalls,
  executeToolCalls,
  lastAIMessage,
  messageFromLedger,
  toolResultMessage,
  ToolFailedError,
  unansweredToolCalls,
  type ExecuteContext,
  type ExecuteResult,
} from "./executor.js";
