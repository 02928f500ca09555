// Halt points for crash tests: WAYPOINT_HALT_AT names a place in the code where the process stops,
// says so on stderr, and waits to be SIGKILLed. A test then kills it at a moment it chose, and knows
// which side of each write the kill landed on, instead of racing a sleep. Unset, a halt point costs one
// property read; never set it in a deployment.
import { config } from "./config.js";

/**
 * Every halt point, in the order a run reaches them. A point is reached with a detail after a colon
 * (the tools or nodes involved, joined by "+"); WAYPOINT_HALT_AT may give the point alone (any detail)
 * or the point and its exact detail, and `#n` for the n-th time it matches in the process.
 */
export const HALT_POINTS = {
  /** submitRun: its transaction is open, nothing of the submission is written (detail: the run kind, start | decide | resume). */
  "submit.begun": "in a submission, after BEGIN and before its writes",
  /** submitRun: thread, run, policy and decision are written in the open transaction, not committed (detail: the run kind). */
  "submit.written": "in a submission, after its writes and before COMMIT",
  /** submitRun: the submission is committed; the caller has not been told (detail: the run kind). */
  "submit.committed": "in a submission, after COMMIT and before the caller hears of it",
  /** Waypoint.run: a run that answers an interrupt is recorded (its row holds the answer), the graph has not resumed with it. */
  "decide.recorded": "after a decision is recorded and before the graph is resumed with it",
  /** Agent node: the step before it is checkpointed; the model has not been called (detail: none). */
  "agent.model": "in an agent step, before the model call",
  /** executeToolCalls: the review (if any) is checkpointed, no call of this step has reached the ledger (detail: tool names). */
  "tools.before": "in a tools step, before its calls begin",
  /** executeToolCalls: every call's outcome is in the ledger; the step's writes do not exist yet (detail: tool names). */
  "tools.after": "in a tools step, after its calls finished and before the step returns",
  /** durable(): the call's intent is in the ledger ("started"), the wrapped tool has not been called (detail: tool name). */
  "durable.started": "in a durable() tool call, after its intent is recorded and before the tool runs",
  /** durable(): the wrapped tool returned (its effect happened), the outcome is not in the ledger (detail: tool name). */
  "durable.returned": "in a durable() tool call, after the tool returned and before its outcome is recorded",
  /** durable(): the outcome is in the ledger, the tools step's writes do not exist yet (detail: tool name). */
  "durable.recorded": "in a durable() tool call, after its outcome is recorded and before the step is written",
  /**
   * WaypointSaver.put: a task's writes are held in the write-grouping window, about to go out in one
   * statement with the step's checkpoint; neither is written (detail: the nodes whose writes are held).
   */
  "saver.grouped": "in WaypointSaver.put, with the grouped writes and the checkpoint not yet sent",
} as const;

export type HaltPoint = keyof typeof HALT_POINTS;

/** The line a halted process prints on stderr (followed by the point and its pid). */
export const HALT_MARKER = "waypoint: halted at";

/** A halted process that nobody killed kills itself after this long (a test that failed before its kill). */
const MAX_HALT_MS = 60_000;

let matched = 0;

/** True when a halt point is configured: callers skip building a detail string otherwise. */
export function haltArmed(): boolean {
  return config().haltAt !== undefined;
}

/**
 * Halt here (for good) if WAYPOINT_HALT_AT names this point and this is the occurrence it asks for;
 * otherwise return at once.
 */
export async function haltPoint(point: HaltPoint, detail?: string): Promise<void> {
  const spec = config().haltAt;
  if (!spec) return;
  const base = spec.point.split(":")[0] ?? "";
  // A misspelt point would never halt and the test would only time out: say so loudly instead.
  if (!(base in HALT_POINTS)) throw new Error(`WAYPOINT_HALT_AT: unknown halt point "${base}" (points: ${Object.keys(HALT_POINTS).join(", ")})`);
  const reached = detail === undefined ? point : `${point}:${detail}`;
  if (spec.point !== point && spec.point !== reached) return;
  matched += 1;
  if (matched !== spec.occurrence) return;
  // Written synchronously (stderr is a pipe or a terminal), so the marker is out before anything else runs.
  process.stderr.write(`${HALT_MARKER} ${reached} pid=${process.pid}\n`);
  setTimeout(() => process.kill(process.pid, "SIGKILL"), MAX_HALT_MS);
  await new Promise<never>(() => undefined);
}
