// The side-effect ledger: one row per tool call, keyed by (thread, namespace, tool call id). The intent
// is written before the tool runs and the result after; a recorded result is replayed, never re-run. A
// call found started but unfinished (the process died mid-call) runs again only when that is safe.
import { createHash } from "node:crypto";
import type pg from "pg";
import type { Risk } from "./durable-tool.js";

export interface LedgerKey {
  threadId: string;
  /** Graph namespace without task ids, e.g. "" or "provisioning" (stable across re-executions). */
  checkpointNs: string;
  toolCallId: string;
}

/**
 * started: intent written, no outcome yet (running, or the process died mid-call);
 * succeeded / failed: outcome recorded (`final` false: the run stopped on it and a resume tries again);
 * in_doubt: the outcome is unknown and repeating could do it twice, so a human decides;
 * rerun: a human said "run it again"; skipped: a human said "do not run it again".
 */
export type LedgerStatus = "started" | "succeeded" | "failed" | "in_doubt" | "rerun" | "skipped";

export interface LedgerRow {
  thread_id: string;
  checkpoint_ns: string;
  tool_call_id: string;
  tool: string;
  risk: Risk;
  args: Record<string, unknown>;
  idempotency_key: string;
  status: LedgerStatus;
  result: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  dedupes: boolean;
  final: boolean;
  doubt: string | null;
  resolution: "confirm_done" | "run_again" | "skip" | null;
  resolution_note: string | null;
  from_cache: boolean;
  /** The task (checkpoint namespace with task ids) whose interrupt() answers were applied to this row, and how many. */
  doubt_task: string | null;
  doubt_answers: number;
  started_at: Date;
  finished_at: Date | null;
}

/** The idempotency key handed to outside systems: the same for every attempt of one tool call. */
export function idempotencyKeyFor(key: LedgerKey): string {
  return createHash("sha256").update(`${key.threadId}\u0000${key.checkpointNs}\u0000${key.toolCallId}`).digest("hex").slice(0, 32);
}

/** Strip task ids from a LangGraph checkpoint namespace ("a:task|b:task" -> "a|b"). */
export function stableNamespace(checkpointNs: string | undefined): string {
  if (!checkpointNs) return "";
  return checkpointNs
    .split("|")
    .map((part) => part.split(":")[0])
    .join("|");
}

/**
 * The graph a node runs in, from the node's own checkpoint namespace (which ends with the node itself):
 * "tools:task" -> "", "provisioning:t1|tools:t2" -> "provisioning". Every node of one (sub)graph shares it,
 * so the tools node, the doubt node and recovery steps address the same ledger rows.
 */
export function graphNamespace(nodeCheckpointNs: string | undefined): string {
  const parts = stableNamespace(nodeCheckpointNs).split("|");
  return parts.slice(0, -1).join("|");
}

/** What the executor does with a call, given its ledger row. */
export type Begin =
  | { action: "run"; row: LedgerRow }
  | { action: "replay"; row: LedgerRow }
  /** Outcome unknown and not safe to repeat: a human decides (the doubt node asks). */
  | { action: "doubt"; row: LedgerRow };

const PK = "thread_id = $1 AND checkpoint_ns = $2 AND tool_call_id = $3";
const pk = (k: LedgerKey) => [k.threadId, k.checkpointNs, k.toolCallId];

/**
 * Write the intent of a call, or find the row an earlier execution left and decide what to do:
 * replay a recorded outcome; run again (read/compute, a system that dedupes by key, a human's "run
 * again", a failure the system said was not applied); or stop for a human when repeating is unsafe.
 */
export async function beginCall(
  pool: pg.Pool,
  key: LedgerKey,
  call: { tool: string; risk: Risk; args: Record<string, unknown>; dedupes: boolean },
): Promise<Begin> {
  // One round trip: the new row when this is the first attempt, else the row an earlier one left.
  const { rows } = await pool.query<LedgerRow & { inserted: boolean }>(
    `WITH ins AS (
       INSERT INTO waypoint.tool_calls (thread_id, checkpoint_ns, tool_call_id, tool, risk, args, idempotency_key, status, dedupes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'started', $8)
       ON CONFLICT (thread_id, checkpoint_ns, tool_call_id) DO NOTHING RETURNING *)
     SELECT *, true AS inserted FROM ins
     UNION ALL SELECT *, false AS inserted FROM waypoint.tool_calls WHERE ${PK} AND NOT EXISTS (SELECT 1 FROM ins)`,
    [...pk(key), call.tool, call.risk, JSON.stringify(call.args), idempotencyKeyFor(key), call.dedupes],
  );
  const found = rows[0];
  if (!found) throw new Error(`ledger: tool call ${key.toolCallId} was neither recorded nor found`);
  const { inserted, ...row } = found;
  if (inserted) return { action: "run", row };
  if (row.status === "succeeded" || row.status === "skipped" || (row.status === "failed" && row.final)) return { action: "replay", row };
  if (row.status === "in_doubt") return { action: "doubt", row };
  const repeatable = row.risk !== "mutate" || row.dedupes;
  const knownNotApplied = row.status === "failed" && row.doubt === null;
  if (row.status === "rerun" || repeatable || knownNotApplied) {
    const again = await pool.query<LedgerRow>(
      `UPDATE waypoint.tool_calls SET status = 'started', attempts = attempts + 1, error = NULL, finished_at = NULL
        WHERE ${PK} AND status = $4 AND attempts = $5 RETURNING *`,
      [...pk(key), row.status, row.attempts],
    );
    if (!again.rows[0]) throw new Error(`ledger: tool call ${key.toolCallId} changed while it was being resumed (another process runs this thread?)`);
    return { action: "run", row: again.rows[0] };
  }
  // started (the process died mid-call) or failed with an unknown outcome, on a system that cannot dedupe.
  const doubt =
    row.status === "started"
      ? `the process stopped during attempt ${row.attempts} (started ${row.started_at.toISOString()}); no reply was recorded`
      : (row.doubt ?? "its outcome was not recorded");
  return { action: "doubt", row: await markInDoubt(pool, key, doubt) };
}

export async function recordSuccess(pool: pg.Pool, key: LedgerKey, result: Record<string, unknown>, extra: { extraAttempts: number; fromCache?: boolean; cacheHash?: string }): Promise<void> {
  const params = [...pk(key), JSON.stringify(result), extra.extraAttempts, extra.fromCache ?? false];
  if (extra.cacheHash === undefined) {
    await pool.query(
      `UPDATE waypoint.tool_calls SET status = 'succeeded', result = $4, error = NULL, doubt = NULL, final = true, attempts = attempts + $5, from_cache = $6, finished_at = now() WHERE ${PK}`,
      params,
    );
    return;
  }
  // A read's result also refreshes its cache (the fallback when its system is down), in the same round trip.
  await pool.query(
    `WITH done AS (
       UPDATE waypoint.tool_calls SET status = 'succeeded', result = $4, error = NULL, doubt = NULL, final = true, attempts = attempts + $5, from_cache = $6, finished_at = now()
        WHERE ${PK} RETURNING tool)
     INSERT INTO waypoint.tool_cache (tool, args_hash, result) SELECT tool, $7, $4 FROM done
     ON CONFLICT (tool, args_hash) DO UPDATE SET result = EXCLUDED.result, fetched_at = now()`,
    [...params, extra.cacheHash],
  );
}

/**
 * Record a failure. `final`: the failure is the call's answer (given to the model); otherwise the run
 * stops and a resume tries again. `doubt`: why the outcome is unknown (null when the system said the
 * request was not applied).
 */
export async function recordFailure(pool: pg.Pool, key: LedgerKey, error: string, extra: { final: boolean; doubt: string | null; extraAttempts: number }): Promise<void> {
  await pool.query(
    `UPDATE waypoint.tool_calls SET status = 'failed', error = $4, final = $5, doubt = $6, attempts = attempts + $7, finished_at = now() WHERE ${PK}`,
    [...pk(key), error, extra.final, extra.doubt, extra.extraAttempts],
  );
}

export async function markInDoubt(pool: pg.Pool, key: LedgerKey, doubt: string, extraAttempts = 0): Promise<LedgerRow> {
  const { rows } = await pool.query<LedgerRow>(
    `UPDATE waypoint.tool_calls SET status = 'in_doubt', doubt = $4, attempts = attempts + $5, finished_at = now() WHERE ${PK} RETURNING *`,
    [...pk(key), doubt, extraAttempts],
  );
  if (!rows[0]) throw new Error(`ledger: no row for tool call ${key.toolCallId}`);
  return rows[0];
}

export type Resolution = { type: "confirm_done"; message?: string | undefined } | { type: "run_again" } | { type: "skip"; message?: string | undefined };

/**
 * Apply a human's answer to an in-doubt call. Only an in-doubt row at the same attempt changes, so
 * applying the same decision twice (the node re-ran) is harmless.
 */
export async function resolveDoubt(pool: pg.Pool, key: LedgerKey, attempt: number, resolution: Resolution, answeredIn?: string): Promise<boolean> {
  const note = "message" in resolution ? (resolution.message ?? null) : null;
  const [status, result, error] =
    resolution.type === "confirm_done"
      ? ["succeeded", JSON.stringify({ confirmedByReviewer: true, note: note ?? "a reviewer confirmed it happened" }), null]
      : resolution.type === "skip"
        ? ["skipped", null, `Skipped by a reviewer${note ? `: ${note}` : ""}. It was not run again; whether the first attempt took effect is unknown.`]
        : ["rerun", null, null];
  // `answeredIn`: the task whose interrupt() gave the answer (durable() asks inside the tool's own task);
  // the row counts that task's applied answers, so a re-run of the task skips exactly those.
  const r = await pool.query(
    `UPDATE waypoint.tool_calls SET status = $4, result = COALESCE($5::jsonb, result), error = $6, resolution = $7, resolution_note = $8, final = true, finished_at = now(),
            doubt_answers = CASE WHEN $10::text IS NULL THEN doubt_answers WHEN doubt_task IS NOT DISTINCT FROM $10::text THEN doubt_answers + 1 ELSE 1 END,
            doubt_task = coalesce($10::text, doubt_task)
      WHERE ${PK} AND status = 'in_doubt' AND attempts = $9`,
    [...pk(key), status, result, error, resolution.type, note, attempt, answeredIn ?? null],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * The call stopped half-way on purpose (the tool itself paused the run with interrupt()): nothing was
 * recorded, and LangGraph runs the tool again from its first line on resume, so the row goes back to
 * "run it". Only the same attempt, still started, changes.
 */
export async function abandonCall(pool: pg.Pool, key: LedgerKey, attempt: number): Promise<void> {
  await pool.query(`UPDATE waypoint.tool_calls SET status = 'rerun' WHERE ${PK} AND status = 'started' AND attempts = $4`, [...pk(key), attempt]);
}

/**
 * Let a call that failed for good run once more, with the same key (a human chose to retry it). Only a
 * failed row changes, so doing it twice is harmless.
 */
export async function reopenFailedCall(pool: pg.Pool, key: LedgerKey): Promise<void> {
  await pool.query(`UPDATE waypoint.tool_calls SET status = 'rerun', resolution = 'run_again', final = true WHERE ${PK} AND status = 'failed'`, pk(key));
}

/** Ledger rows of one thread, oldest first; `open` limits them to calls without a settled outcome. */
/** A ledger row without a settled outcome: started, in doubt, to run again, or failed and not final. */
const OPEN = "(status IN ('started', 'in_doubt', 'rerun') OR (status = 'failed' AND NOT final))";

export async function ledgerRows(pool: pg.Pool, threadId: string, opts: { open?: boolean } = {}): Promise<LedgerRow[]> {
  const { rows } = await pool.query<LedgerRow>(
    `SELECT * FROM waypoint.tool_calls WHERE thread_id = $1 ${opts.open ? `AND ${OPEN}` : ""} ORDER BY started_at`,
    [threadId],
  );
  return rows;
}

/** The open ledger rows (what `ledgerRows(..., { open: true })` gives) of several threads in one query, by thread. */
export async function openLedgerRowsOf(pool: pg.Pool, threadIds: string[]): Promise<Map<string, LedgerRow[]>> {
  const out = new Map<string, LedgerRow[]>();
  if (threadIds.length === 0) return out;
  const { rows } = await pool.query<LedgerRow>(
    `SELECT * FROM waypoint.tool_calls WHERE thread_id = ANY($1::text[]) AND ${OPEN} ORDER BY started_at`,
    [threadIds],
  );
  for (const r of rows) out.set(r.thread_id, [...(out.get(r.thread_id) ?? []), r]);
  return out;
}

/** The last good result of a read tool for the same arguments (used when its system is down). */
export async function cachedResult(pool: pg.Pool, tool: string, argsHash: string): Promise<{ result: Record<string, unknown>; fetchedAt: Date } | undefined> {
  const { rows } = await pool.query<{ result: Record<string, unknown>; fetched_at: Date }>("SELECT result, fetched_at FROM waypoint.tool_cache WHERE tool = $1 AND args_hash = $2", [tool, argsHash]);
  const row = rows[0];
  return row ? { result: row.result, fetchedAt: row.fetched_at } : undefined;
}

/** Stable hash of a tool's arguments (key order does not matter). */
export function argsHash(args: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return createHash("sha256").update(JSON.stringify(canonical(args))).digest("hex").slice(0, 32);
}
