// Entry to running graphs: the Waypoint runner, its queue and workers, and the thread views it returns.
export { Waypoint, defaultConfigPath, type HistoryEntry, type WaypointOptions } from "./runner.js";
export type { ProgressEvent } from "./execute.js";
export type { PendingInterrupt, ThreadView, ThreadViewStatus } from "./threads.js";
export { Worker, type WorkerEvent, type WorkerOptions } from "./worker.js";
export { assistantIdFor } from "./assistants.js";
export { readTrace, type TraceEntry } from "./trace.js";
