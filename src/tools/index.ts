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
export { durableTool, describeZodError, type DurableTool, type DurableToolOptions, type Risk, type ToolInfo, type ToolRunContext } from "./durable-tool.js";
export {
  abandonCall,
  argsHash,
  beginCall,
  cachedResult,
  graphNamespace,
  idempotencyKeyFor,
  ledgerRows,
  markInDoubt,
  openLedgerRowsOf,
  recordFailure,
  recordSuccess,
  reopenFailedCall,
  resolveDoubt,
  stableNamespace,
  type Begin,
  type LedgerKey,
  type LedgerRow,
  type LedgerStatus,
  type Resolution,
} from "./ledger.js";
export { canRepeat, DEFAULT_RETRY, DEFAULT_TIMEOUT_MS, readFailure, retryPolicyOf, runWithPolicy, type AttemptLog, type FailureReading, type RetryPolicy, type ToolPolicy } from "./policy.js";
export {
  closeDanglingToolCalls,
  executeToolCalls,
  lastAIMessage,
  messageFromLedger,
  repairToolCalls,
  toolResultMessage,
  ToolFailedError,
  unansweredToolCalls,
  type ExecuteContext,
  type ExecuteResult,
} from "./executor.js";
export { isRecordedOutput, RECORDED, recordOutput, recordedMessage, replayOutput } from "./recorded.js";
