// The one error class Waypoint throws on purpose: a stable code, a message a person can act on, details.
export type WaypointErrorCode =
  | "config_invalid"
  | "db_unavailable"
  | "embedded_postgres"
  | "unknown_agent"
  | "unknown_thread"
  | "invalid_input"
  | "invalid_decision"
  | "nothing_pending"
  | "thread_busy"
  | "thread_finished"
  | "unknown_checkpoint"
  | "run_failed"
  | "version_mismatch"
  | "model_unavailable"
  | "tool_failed"
  | "drained"
  | "unknown_run"
  | "invalid_submission"
  | "invalid_policy"
  | "unknown_audit_entry"
  | "sql_sandbox_unavailable"
  | "sql_sandbox_busy";

export class WaypointError extends Error {
  override name = "WaypointError";
  /** Stable machine-readable code; the CLI and API map it to exit codes and statuses. */
  readonly code: WaypointErrorCode;
  /** Structured facts about the failure (what was received, what is accepted). */
  readonly details: Record<string, unknown>;

  constructor(code: WaypointErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isWaypointError(e: unknown, code?: WaypointErrorCode): e is WaypointError {
  return e instanceof WaypointError && (code === undefined || e.code === code);
}
