// The side-effect ledger: one row per tool call, keyed by (thread, namespace, tool call id). The intent
// is written before the tool runs and the result after; a recorded result is replayed, never re-run.
import { createHash } from "node:crypto";
import type pg from "pg";
import type { Risk } from "./durable-tool.js";

export interface LedgerKey {
  threadId: string;
  /** Graph namespace without task ids, e.g. "" or "provisioning" (stable across re-executions). */
  checkpointNs: string;
  toolCallId: string;
}

export type LedgerOutcome = { ok: true; result: Record<string, unknown>; replayed: boolean } | { ok: false; error: string };

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

export async function runThroughLedger(
  pool: pg.Pool,
  key: LedgerKey,
  call: { tool: string; risk: Risk; args: Record<string, unknown> },
  execute: (idempotencyKey: string) => Promise<Record<string, unknown>>,
): Promise<LedgerOutcome> {
  const idempotencyKey = idempotencyKeyFor(key);
  const pk = [key.threadId, key.checkpointNs, key.toolCallId];
  const { rows } = await pool.query<{ status: string; result: Record<string, unknown> | null; error: string | null }>(
    `INSERT INTO waypoint.tool_calls (thread_id, checkpoint_ns, tool_call_id, tool, risk, args, idempotency_key, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'started')
     ON CONFLICT (thread_id, checkpoint_ns, tool_call_id)
       DO UPDATE SET attempts = waypoint.tool_calls.attempts + CASE WHEN waypoint.tool_calls.status = 'succeeded' THEN 0 ELSE 1 END,
                     status = CASE WHEN waypoint.tool_calls.status = 'succeeded' THEN 'succeeded' ELSE 'started' END,
                     args = CASE WHEN waypoint.tool_calls.status = 'succeeded' THEN waypoint.tool_calls.args ELSE EXCLUDED.args END
     RETURNING status, result, error`,
    [...pk, call.tool, call.risk, JSON.stringify(call.args), idempotencyKey],
  );
  const row = rows[0];
  if (row?.status === "succeeded" && row.result) return { ok: true, result: row.result, replayed: true };
  // A call that started before and never finished (the process died mid-call) runs again here with the
  // same idempotency key; every world adapter dedupes by it, so a mutate cannot happen twice.
  try {
    const result = await execute(idempotencyKey);
    await pool.query(
      "UPDATE waypoint.tool_calls SET status = 'succeeded', result = $4, error = NULL, finished_at = now() WHERE thread_id = $1 AND checkpoint_ns = $2 AND tool_call_id = $3",
      [...pk, JSON.stringify(result)],
    );
    return { ok: true, result, replayed: false };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    await pool.query(
      "UPDATE waypoint.tool_calls SET status = 'failed', error = $4, finished_at = now() WHERE thread_id = $1 AND checkpoint_ns = $2 AND tool_call_id = $3",
      [...pk, error],
    );
    return { ok: false, error };
  }
}
