// Entry to running agents: the Waypoint runner and the thread views it returns.
export { Waypoint, type HistoryEntry, type ProgressEvent, type RunOptions, type WaypointOptions } from "./runner.js";
export type { PendingReview, ThreadStatus, ThreadView } from "./threads.js";
export { readTrace, type TraceEntry } from "./trace.js";
