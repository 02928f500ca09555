// The runs queue, in Postgres: a run row per submission, claimed with SKIP LOCKED, at most one running
// run per thread (a unique index), woken by NOTIFY. A submission is one call of waypoint.submit_run
// (one transaction); every status change and the thread status that goes with it happen in one
// statement.
import type pg from "pg";
import { withTransaction } from "../db/index.js";
import { WaypointError } from "../errors.js";
import { haltArmed, haltPoint } from "../halt.js";

export const RUN_STATUSES = ["pending", "running", "success", "interrupted", "error", "cancelled", "dead"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const MULTITASK_STRATEGIES = ["reject", "enqueue", "interrupt", "rollback"] as const;
export type MultitaskStrategy = (typeof MULTITASK_STRATEGIES)[number];
/** start: the run brings input; decide: it answers interrupts (command.resume); resume: it continues (or updates / goes to). */
export type RunKind = "start" | "resume" | "decide";
export type StopRequest = "cancel" | "interrupt" | "rollback";
export type ThreadStatus = "idle" | "busy" | "interrupted" | "error";

/** NOTIFY channel: a run became claimable (payload unused). */
export const WAKE_CHANNEL = "waypoint_runs";
/** NOTIFY channel: stop this run at its next super-step (payload: "<run id>:<cancel|interrupt|rollback>"). */
export const STOP_CHANNEL = "waypoint_run_stop";
/** Advisory lock class for liveness locks (workers, CLI processes): pg_advisory_lock(LOCK_CLASS, lock). */
export const LOCK_CLASS = 0x5750; // "WP"

/** What a run was asked to do, as the LangGraph API sends it (stored as the run's kwargs). */
export interface RunKwargs {
  input?: unknown;
  command?: { resume?: unknown; update?: unknown; goto?: unknown } | undefined;
  /** Run config: configurable, tags, recursion_limit (the assistant's and the thread's merged in). */
  config?: { configurable?: Record<string, unknown>; tags?: string[]; recursion_limit?: number; metadata?: Record<string, unknown> } | undefined;
  context?: unknown;
  stream_mode?: string[] | undefined;
  interrupt_before?: "*" | string[] | undefined;
  interrupt_after?: "*" | string[] | undefined;
  subgraphs?: boolean | undefined;
  /** Continue from this earlier checkpoint of the thread (a branch), not the latest. */
  checkpoint_id?: string | undefined;
  /** A checkpoint payload ({ checkpoint_id, checkpoint_ns, ... }), the same as checkpoint_id. */
  checkpoint?: Record<string, unknown> | undefined;
  webhook?: string | undefined;
  /** A stateless run: its thread is deleted when the run ends. */
  temporary?: boolean | undefined;
  resumable?: boolean | undefined;
  [key: string]: unknown;
}

export interface RunRow {
  run_id: string;
  thread_id: string;
  graph_id: string;
  graph_version: string;
  assistant_id: string | null;
  kind: RunKind;
  status: RunStatus;
  multitask_strategy: MultitaskStrategy;
  idempotency_scope: string | null;
  idempotency_key: string | null;
  kwargs: RunKwargs;
  metadata: Record<string, unknown>;
  attempts: number;
  crashes: number;
  worker_id: string | null;
  worker_lock: number | null;
  available_at: Date;
  stop_requested: StopRequest | null;
  start_checkpoint: string | null;
  /** Deadline put on reviews this run stops at (see deadlines.ts). */
  review_deadline: import("./deadlines.js").DeadlinePolicy | null;
  detail: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/** Statuses in which a run still owns its thread's future. */
const ACTIVE = "('pending', 'running')";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(id: string): boolean {
  return UUID.test(id);
}

export async function findRun(pool: pg.Pool | pg.PoolClient, runId: string): Promise<RunRow | undefined> {
  if (!isUuid(runId)) return undefined;
  return (await pool.query<RunRow>("SELECT * FROM waypoint.runs WHERE run_id = $1", [runId])).rows[0];
}

export async function getRun(pool: pg.Pool | pg.PoolClient, runId: string): Promise<RunRow> {
  const row = await findRun(pool, runId);
  if (!row) throw new WaypointError("unknown_run", `No run with id "${runId}". List runs with \`waypoint runs\`.`, { details: { runId } });
  return row;
}

export async function listRuns(
  pool: pg.Pool,
  opts: { threadId?: string; status?: RunStatus; metadata?: Record<string, unknown>; limit?: number; offset?: number; order?: "asc" | "desc" } = {},
): Promise<RunRow[]> {
  const { rows } = await pool.query<RunRow>(
    `SELECT * FROM waypoint.runs
      WHERE ($1::text IS NULL OR thread_id = $1) AND ($2::text IS NULL OR status = $2) AND ($3::jsonb IS NULL OR metadata @> $3)
      ORDER BY created_at ${opts.order === "asc" ? "ASC" : "DESC"}, run_id LIMIT $4 OFFSET $5`,
    [opts.threadId ?? null, opts.status ?? null, opts.metadata ? JSON.stringify(opts.metadata) : null, opts.limit ?? 50, opts.offset ?? 0],
  );
  return rows;
}

/** Runs of a thread that are queued or running, oldest first. */
export async function activeRuns(client: pg.Pool | pg.PoolClient, threadId: string): Promise<RunRow[]> {
  const { rows } = await client.query<RunRow>(`SELECT * FROM waypoint.runs WHERE thread_id = $1 AND status IN ${ACTIVE} ORDER BY created_at`, [threadId]);
  return rows;
}

export interface NewRun {
  runId: string;
  threadId: string;
  graphId: string;
  /** The version a new thread pins (an existing thread keeps its own). */
  graphVersion: string;
  assistantId?: string | undefined;
  kind: RunKind;
  kwargs: RunKwargs;
  metadata?: Record<string, unknown> | undefined;
  /** Merged into the thread's metadata (graph_id, assistant_id, owner, the caller's own keys). */
  threadMetadata?: Record<string, unknown> | undefined;
  threadConfig?: Record<string, unknown> | undefined;
  /** Recorded as the thread's input when it has none yet. */
  input?: unknown;
  strategy: MultitaskStrategy;
  /** Create the thread when it does not exist (else: no_thread). */
  createThread: boolean;
  /** The thread's metadata must contain this (an owner's filter); else the thread is not visible. */
  ownerFilter?: Record<string, unknown> | undefined;
  idempotencyScope?: string | undefined;
  idempotencyKey?: string | undefined;
  afterSeconds?: number | undefined;
  reviewDeadline?: import("./deadlines.js").DeadlinePolicy | undefined;
  /** Store this as the thread's oversight policy in the same transaction. */
  policy?: { policy: unknown; source: string } | undefined;
  /** A decision: the interrupt ids it answers must still be pending when it is recorded. */
  expectInterrupts?: string[] | undefined;
  /** The caller carries the run itself (a CLI process): inserted as running under its lock when it can. */
  claimFor?: { workerId: string; lock: number } | undefined;
}

export type SubmitOutcome =
  | { outcome: "created"; run: RunRow; claimed: boolean }
  | { outcome: "existing"; run: RunRow }
  | { outcome: "busy"; runIds: string[] }
  | { outcome: "no_thread" | "not_visible" | "stale" }
  | { outcome: "graph_mismatch"; graphId: string };

/**
 * Submit a run: one call (see waypoint.submit_run_row in the migrations) that writes the thread, policy,
 * decision and run, and returns the outcome with the run's row, in one round trip. It runs in a
 * transaction of its own, whose explicit BEGIN/COMMIT gives crash tests a halt point on each side of
 * the writes (a process that dies at either leaves its transaction open, and Postgres rolls it back
 * when the connection goes); or, given a client in a transaction the caller owns (POST /runs/batch),
 * inside that one.
 */
export async function submitRun(pool: pg.Pool | pg.PoolClient, r: NewRun): Promise<SubmitOutcome> {
  type Row = RunRow & { submit_outcome: string; submit_detail: string | null; submit_run_id: string | null };
  const query = {
    name: "waypoint_submit_run_row",
    text: `SELECT s.outcome AS submit_outcome, s.detail AS submit_detail, s.out_run_id AS submit_run_id, (s.run).*
             FROM waypoint.submit_run_row($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) s`,
    values: [
      r.runId,
      r.threadId,
      r.graphId,
      r.graphVersion,
      r.assistantId ?? null,
      r.kind,
      JSON.stringify(r.kwargs),
      JSON.stringify(r.metadata ?? {}),
      JSON.stringify(r.threadMetadata ?? {}),
      JSON.stringify(r.threadConfig ?? {}),
      r.input === undefined ? null : JSON.stringify(r.input),
      r.strategy,
      r.createThread,
      r.ownerFilter ? JSON.stringify(r.ownerFilter) : null,
      r.idempotencyScope ?? null,
      r.idempotencyKey ?? null,
      r.afterSeconds ?? null,
      r.reviewDeadline ? JSON.stringify(r.reviewDeadline) : null,
      r.policy ? JSON.stringify(r.policy.policy) : null,
      r.policy?.source ?? null,
      r.expectInterrupts ?? null,
      r.claimFor?.workerId ?? null,
      r.claimFor?.lock ?? null,
    ],
  };
  const write = async (client: pg.Pool | pg.PoolClient) => {
    await haltPoint("submit.begun", r.kind);
    const { rows } = await client.query<Row>(query);
    await haltPoint("submit.written", r.kind);
    return rows[0];
  };
  // One statement is one transaction: every write of submit_run commits together or not at all. The
  // explicit BEGIN/COMMIT is for the halt points between them (crash tests stop a submission there), and
  // for a caller's own transaction (a batch); otherwise the submission is one round trip.
  const row = "release" in pool ? await write(pool) : haltArmed() ? await withTransaction(pool, write) : (await pool.query<Row>(query)).rows[0];
  await haltPoint("submit.committed", r.kind);
  const runOf = async (r: NonNullable<typeof row>): Promise<RunRow> => {
    const { submit_outcome: _o, submit_detail: _d, submit_run_id: id, ...run } = r;
    // The run is read in the submission's own transaction; only a run deleted since (never, in practice) is read again.
    return run.run_id ? (run as RunRow) : getRun(pool, id ?? "");
  };
  switch (row?.submit_outcome) {
    case "created":
      return { outcome: "created", run: await runOf(row), claimed: row.submit_detail === "claimed" };
    case "existing":
      return { outcome: "existing", run: await runOf(row) };
    case "busy":
      return { outcome: "busy", runIds: (row.submit_detail ?? "").split(",").filter(Boolean) };
    case "graph_mismatch":
      return { outcome: "graph_mismatch", graphId: row.submit_detail ?? "" };
    case "no_thread":
    case "not_visible":
    case "stale":
      return { outcome: row.submit_outcome };
    default:
      throw new Error(`waypoint.submit_run returned ${JSON.stringify(row)}`);
  }
}

export interface WorkerIdentity {
  workerId: string;
  lock: number;
  /** "graph@version" this worker can run. */
  versions: string[];
}

/**
 * Claim up to `limit` of the oldest claimable runs: pending, due, of a version this worker has, on a
 * thread with no running run and no older queued run (so one batch never holds two runs of a thread).
 * Two workers racing for one thread: the unique index lets one win, and the loser claims nothing.
 */
export async function claimRuns(pool: pg.Pool | pg.Client, worker: WorkerIdentity, limit = 1): Promise<RunRow[]> {
  try {
    const { rows } = await pool.query<RunRow>({
      name: "waypoint_claim_runs",
      text: `UPDATE waypoint.runs SET status = 'running', worker_id = $1, worker_lock = $2, attempts = attempts + 1, started_at = now(), updated_at = now()
        WHERE run_id IN (
          SELECT r.run_id FROM waypoint.runs r
           WHERE r.status = 'pending' AND r.available_at <= now() AND (r.graph_id || '@' || r.graph_version) = ANY($3)
             AND NOT EXISTS (SELECT 1 FROM waypoint.runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
             AND NOT EXISTS (SELECT 1 FROM waypoint.runs o WHERE o.thread_id = r.thread_id AND o.status = 'pending' AND o.created_at < r.created_at)
           ORDER BY r.available_at, r.created_at
           LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      values: [worker.workerId, worker.lock, worker.versions, limit],
    });
    return rows;
  } catch (e) {
    if ((e as { code?: string }).code === "23505") return []; // another worker took one of these threads first
    throw e;
  }
}

/** Claim one specific pending run (a CLI process carrying a run it queued behind another). */
export async function claimRun(pool: pg.Pool, runId: string, worker: Omit<WorkerIdentity, "versions">): Promise<RunRow | undefined> {
  try {
    const { rows } = await pool.query<RunRow>(
      `UPDATE waypoint.runs r SET status = 'running', worker_id = $2, worker_lock = $3, attempts = attempts + 1, started_at = now(), updated_at = now()
        WHERE r.run_id = $1 AND r.status = 'pending' AND r.available_at <= now()
          AND NOT EXISTS (SELECT 1 FROM waypoint.runs o WHERE o.thread_id = r.thread_id AND o.status = 'pending' AND o.created_at < r.created_at)
        RETURNING *`,
      [runId, worker.workerId, worker.lock],
    );
    return rows[0];
  } catch (e) {
    if ((e as { code?: string }).code === "23505") return undefined;
    throw e;
  }
}

/** How the thread looks after a run: what GET /threads/:id shows and `waypoint threads` lists. */
export interface ThreadOutcome {
  status: Exclude<ThreadStatus, "busy">;
  detail: string | null;
  values: unknown;
  /** Pending interrupts by task id, as the LangGraph API keys them. */
  interrupts: Record<string, unknown[]>;
  /** The same interrupts as a thread view shows them (node, namespace, HITL request); kept on the row for the inbox. */
  pending?: unknown[] | undefined;
}

/**
 * Record how a run ended, and the thread with it, in one statement. Only the worker that holds the run
 * can (a run the reaper took back is no longer this worker's: nothing matches, and it returns false).
 * The thread stays busy while another run waits for it.
 */
export async function finishRun(
  pool: pg.Pool,
  runId: string,
  workerId: string,
  status: Exclude<RunStatus, "pending" | "running">,
  detail: string | null,
  thread?: ThreadOutcome,
): Promise<boolean> {
  const { rowCount } = await pool.query({
    name: "waypoint_finish_run",
    text: `WITH r AS (
       UPDATE waypoint.runs SET status = $3, detail = $4, finished_at = now(), updated_at = now(), stop_requested = NULL
        WHERE run_id = $1 AND worker_id = $2 AND status = 'running' RETURNING thread_id),
     t AS (
       UPDATE waypoint.threads t
          SET status = CASE WHEN EXISTS (SELECT 1 FROM waypoint.runs p WHERE p.thread_id = t.thread_id AND p.status = 'pending') THEN 'busy' ELSE coalesce($5, t.status) END,
              status_detail = coalesce($6, CASE WHEN $5 IS NULL THEN t.status_detail END),
              "values" = CASE WHEN $7::boolean THEN $8::jsonb ELSE t."values" END,
              interrupts = CASE WHEN $7::boolean THEN $9::jsonb ELSE t.interrupts END,
              pending = CASE WHEN $7::boolean THEN $10::jsonb ELSE t.pending END,
              updated_at = now()
         FROM r WHERE t.thread_id = r.thread_id RETURNING 1)
     SELECT pg_notify('waypoint_run_events', $1::text) FROM r`,
    values: [
      runId,
      workerId,
      status,
      detail,
      thread?.status ?? null,
      thread?.detail ?? null,
      thread !== undefined,
      thread ? JSON.stringify(thread.values ?? null) : null,
      thread ? JSON.stringify(thread.interrupts) : "{}",
      thread?.pending ? JSON.stringify(thread.pending) : null,
    ],
  });
  return rowCount === 1;
}

/** Hand a running run back to the queue (drain, retry after an error), due after `delayMs`. */
export async function requeueRun(pool: pg.Pool, runId: string, workerId: string, detail: string, delayMs = 0): Promise<boolean> {
  const { rowCount } = await pool.query(
    `WITH r AS (
       UPDATE waypoint.runs SET status = 'pending', worker_id = NULL, worker_lock = NULL, detail = $3, available_at = now() + make_interval(secs => $4 / 1000.0), updated_at = now()
        WHERE run_id = $1 AND worker_id = $2 AND status = 'running' RETURNING run_id)
     SELECT pg_notify($5, ''), pg_notify('waypoint_run_events', $1::text) FROM r`,
    [runId, workerId, detail, delayMs, WAKE_CHANNEL],
  );
  return rowCount === 1;
}

/** Of these running runs, the ones whose carrier still holds its liveness lock. */
export async function liveRuns(pool: pg.Pool, runIds: string[]): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  const { rows } = await pool.query<{ run_id: string }>(
    `SELECT r.run_id FROM waypoint.runs r WHERE r.run_id = ANY($2::uuid[]) AND EXISTS (
       SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = r.worker_lock AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`,
    [LOCK_CLASS, runIds],
  );
  return new Set(rows.map((r) => r.run_id));
}

/**
 * Take back running runs whose carrier is gone (its liveness lock is not held any more: the process
 * died, or lost its connection). Each goes back to the queue, or to `dead` after `maxCrashes` (then its
 * thread shows the error), in the same statement. Returns the runs taken back.
 */
export async function reapOrphans(pool: pg.Pool, maxCrashes: number): Promise<Array<{ run_id: string; thread_id: string; status: RunStatus }>> {
  const { rows } = await pool.query<{ run_id: string; thread_id: string; status: RunStatus }>({
    name: "waypoint_reap",
    text: `WITH orphans AS (
       SELECT r.run_id FROM waypoint.runs r
        WHERE r.status = 'running'
          AND NOT EXISTS (
            SELECT 1 FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = r.worker_lock AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
        FOR UPDATE SKIP LOCKED),
     reaped AS (
       UPDATE waypoint.runs r
          SET crashes = r.crashes + 1,
              status = CASE WHEN r.crashes + 1 >= $2 THEN 'dead' ELSE 'pending' END,
              detail = CASE WHEN r.crashes + 1 >= $2
                            THEN 'dead: the process carrying it died ' || (r.crashes + 1) || ' times (' || $2 || ' allowed); waypoint runs retry brings it back'
                            ELSE 'the process carrying it (' || coalesce(r.worker_id, '?') || ') died; queued again' END,
              finished_at = CASE WHEN r.crashes + 1 >= $2 THEN now() ELSE NULL END,
              worker_id = NULL, worker_lock = NULL, available_at = now(), updated_at = now()
         FROM orphans o WHERE r.run_id = o.run_id
       RETURNING r.run_id, r.thread_id, r.status, r.detail),
     released AS (
       UPDATE waypoint.threads t SET status = 'error', status_detail = reaped.detail, updated_at = now()
         FROM reaped WHERE t.thread_id = reaped.thread_id AND reaped.status = 'dead'
           AND NOT EXISTS (SELECT 1 FROM waypoint.runs p WHERE p.thread_id = t.thread_id AND p.status IN ('pending', 'running')))
     SELECT run_id, thread_id, status, pg_notify('waypoint_run_events', run_id::text) FROM reaped`,
    values: [LOCK_CLASS, maxCrashes],
  });
  if (rows.length) await pool.query("SELECT pg_notify($1, '')", [WAKE_CHANNEL]);
  return rows;
}

/**
 * Stop a run: a queued one is cancelled at once (its thread goes back to idle unless another run
 * waits); a running one stops at its next super-step (its carrier hears it by NOTIFY). The thread stays
 * resumable either way.
 */
export async function requestStop(pool: pg.Pool, runId: string, mode: StopRequest): Promise<RunRow> {
  const run = await getRun(pool, runId);
  if (run.status === "pending") {
    const { rows } = await pool.query<RunRow>(
      `WITH r AS (
         UPDATE waypoint.runs SET status = 'cancelled', detail = 'cancelled before it started', finished_at = now(), updated_at = now()
          WHERE run_id = $1 AND status = 'pending' RETURNING *),
       t AS (
         UPDATE waypoint.threads t SET status = CASE WHEN t.interrupts <> '{}'::jsonb THEN 'interrupted' ELSE 'idle' END, updated_at = now()
           FROM r WHERE t.thread_id = r.thread_id AND t.status = 'busy'
            AND NOT EXISTS (SELECT 1 FROM waypoint.runs o WHERE o.thread_id = t.thread_id AND o.run_id <> r.run_id AND o.status IN ('pending', 'running')))
       SELECT r.*, pg_notify('waypoint_run_events', r.run_id::text) FROM r`,
      [runId],
    );
    if (rows[0]) return rows[0];
  }
  if (run.status !== "running" && run.status !== "pending") {
    throw new WaypointError("invalid_submission", `Run ${runId} is ${run.status}; only a pending or running run can be stopped.`, { details: { status: run.status } });
  }
  const { rows } = await pool.query<RunRow>(
    `WITH r AS (UPDATE waypoint.runs SET stop_requested = $2, updated_at = now() WHERE run_id = $1 AND status = 'running' RETURNING *)
     SELECT r.*, pg_notify($3, r.run_id::text || ':' || $2) FROM r`,
    [runId, mode, STOP_CHANNEL],
  );
  return rows[0] ?? (await getRun(pool, runId));
}

/** Bring a dead, failed or cancelled run back to the queue (a person decided to try again). */
export async function retryRun(pool: pg.Pool, runId: string): Promise<RunRow> {
  const run = await getRun(pool, runId);
  if (!["dead", "error", "cancelled"].includes(run.status)) {
    throw new WaypointError("invalid_submission", `Run ${runId} is ${run.status}; only a dead, error or cancelled run can be retried.`, { details: { status: run.status } });
  }
  const others = (await activeRuns(pool, run.thread_id)).filter((r) => r.run_id !== runId);
  if (others.length) throw new WaypointError("thread_busy", `Thread ${run.thread_id} has another active run (${others[0]?.run_id}); retry after it ends.`);
  const { rows } = await pool.query<RunRow>(
    `WITH r AS (
       UPDATE waypoint.runs SET status = 'pending', crashes = 0, attempts = 0, detail = 'retried by a person', available_at = now(), finished_at = NULL, stop_requested = NULL, updated_at = now()
        WHERE run_id = $1 RETURNING *),
     t AS (UPDATE waypoint.threads t SET status = 'busy', updated_at = now() FROM r WHERE t.thread_id = r.thread_id)
     SELECT r.*, pg_notify($2, '') FROM r`,
    [runId, WAKE_CHANNEL],
  );
  return rows[0] as RunRow;
}

/**
 * Undo what a rolled-back run did to its thread: delete the checkpoints it created (newer than the
 * one it started from; all of them for a thread it started) and the run itself. World effects and the
 * ledger stay: they happened.
 */
export async function rollBack(pool: pg.Pool, run: RunRow): Promise<void> {
  await withTransaction(pool, async (client) => {
    const after = run.start_checkpoint ?? "";
    await client.query("DELETE FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_id > $2", [run.thread_id, after]);
    await client.query("DELETE FROM checkpoints WHERE thread_id = $1 AND checkpoint_id > $2", [run.thread_id, after]);
    await client.query("DELETE FROM waypoint.runs WHERE run_id = $1", [run.run_id]);
    await client.query(
      "INSERT INTO waypoint.events (thread_id, run_id, kind, message) VALUES ($1, $2, 'rollback', 'run rolled back: its checkpoints were deleted for a newer submission')",
      [run.thread_id, run.run_id],
    );
  });
}
