// Entry to tool machinery: declaring tools, the side-effect ledger, the failure ladder, the executor and
// artifacts (large outputs stored once, referenced from state).
export {
  ARTIFACT_MAX_PAGE_CHARS,
  ARTIFACT_PAGE_CHARS,
  ARTIFACT_PREVIEW_CHARS,
  artifactIdFor,
  externaliseResult,
  isArtifactRef,
  readArtifact,
  readArtifactTool,
  type ArtifactPage,
  type ArtifactRef,
  type ExternaliseOptions,
  type ReadArtifactOptions,
} from "./artifacts.js";
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
