// Entry to running graphs: the Waypoint runner, its queue and workers, and the thread views it returns.
export { Waypoint, defaultConfigPath, type HistoryEntry, type WaypointOptions } from "./runner.js";
export type { ProgressEvent } from "./execute.js";
export type { PendingInterrupt, ThreadView, ThreadViewStatus } from "./threads.js";
export { Worker, type WorkerEvent, type WorkerOptions } from "./worker.js";
export { assistantIdFor } from "./assistants.js";
export { readTrace, type TraceEntry } from "./trace.js";
export { MULTITASK_STRATEGIES, RUN_STATUSES, findRun, getRun, isUuid, listRuns, requestStop, retryRun, submitRun, type MultitaskStrategy, type NewRun, type RunRow, type RunStatus } from "./queue.js";
export { prepareSubmission, type Submission } from "./submit.js";
export { RunFeed } from "./feed.js";
export { diagnose } from "./doctor.js";
export { toJson } from "./events.js";
export { findThreadRow, type ThreadRow } from "./threads.js";
export { toCommand } from "./execute.js";
