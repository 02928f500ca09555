// The runs queue, in Postgres: a run row per submission, claimed with SKIP LOCKED, at most one running
// run per thread (a unique index), woken by NOTIFY. Every status change and the queue change that goes
// with it happen in one statement or one transaction.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { withTransaction } from "../db/index.js";
import { WaypointError } from "../errors.js";

export const RUN_STATUSES = ["pending", "running", "success", "interrupted", "error", "cancelled", "dead"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const MULTITASK_STRATEGIES = ["reject", "enqueue", "interrupt", "rollback"] as const;
export type MultitaskStrategy = (typeof MULTITASK_STRATEGIES)[number];
export type RunKind = "start" | "resume" | "decide";
export type StopRequest = "cancel" | "interrupt" | "rollback";
/** What a run applies besides recorded decisions: a state update and/or where to go next. */
export interface RunCommand {
  update?: Record<string, unknown>;
  goto?: string | string[];
}

/** NOTIFY channel: a run became claimable (payload unused). */
export const WAKE_CHANNEL = "waypoint_runs";
/** NOTIFY channel: stop this run at its next super-step (payload: "<run id>:<cancel|interrupt|rollback>"). */
export const STOP_CHANNEL = "waypoint_run_stop";
/** Advisory lock class for worker liveness locks: pg_advisory_lock(LOCK_CLASS, worker_lock). */
export const LOCK_CLASS = 0x5750; // "WP"

export interface RunRow {
  run_id: string;
  thread_id: string;
  agent: string;
  graph_version: string;
  kind: RunKind;
  status: RunStatus;
  multitask_strategy: MultitaskStrategy;
  idempotency_key: string | null;
  attempts: number;
  crashes: number;
  worker_id: string | null;
  worker_lock: number | null;
  available_at: Date;
  stop_requested: StopRequest | null;
  start_checkpoint: string | null;
  /** Deadline put on reviews this run stops at (see deadlines.ts). */
  review_deadline: import("./deadlines.js").DeadlinePolicy | null;
  /** LangGraph Command fields to apply (update / goto), for a run submitted with them. */
  command: RunCommand | null;
  /** Continue from this checkpoint instead of the latest (a branch on the same thread). */
  from_checkpoint: string | null;
  detail: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/** Statuses in which a run still owns its thread's future. */
const ACTIVE = "('pending', 'running')";

export async function getRun(pool: pg.Pool, runId: string): Promise<RunRow> {
  const ok = /^[0-9a-f-]{36}$/i.test(runId);
  const row = ok ? (await pool.query<RunRow>("SELECT * FROM waypoint.runs WHERE run_id = $1", [runId])).rows[0] : undefined;
  if (!row) throw new WaypointError("unknown_run", `No run with id "${runId}". List runs with \`waypoint runs\`.`, { details: { runId } });
  return row;
}

export async function runByIdempotencyKey(pool: pg.Pool, key: string): Promise<RunRow | undefined> {
  return (await pool.query<RunRow>("SELECT * FROM waypoint.runs WHERE idempotency_key = $1", [key])).rows[0];
}

export async function listRuns(pool: pg.Pool, opts: { threadId?: string; status?: RunStatus; limit?: number } = {}): Promise<RunRow[]> {
  const { rows } = await pool.query<RunRow>(
    `SELECT * FROM waypoint.runs WHERE ($1::text IS NULL OR thread_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3`,
    [opts.threadId ?? null, opts.status ?? null, opts.limit ?? 50],
  );
  return rows;
}

/** Runs of a thread that are queued or running, oldest first. */
export async function activeRuns(client: pg.Pool | pg.PoolClient, threadId: string): Promise<RunRow[]> {
  const { rows } = await client.query<RunRow>(`SELECT * FROM waypoint.runs WHERE thread_id = $1 AND status IN ${ACTIVE} ORDER BY created_at`, [threadId]);
  return rows;
}

export interface NewRun {
  threadId: string;
  agent: string;
  version: string;
  kind: RunKind;
  strategy: MultitaskStrategy;
  idempotencyKey?: string | undefined;
  reviewDeadline?: import("./deadlines.js").DeadlinePolicy | undefined;
  command?: RunCommand | undefined;
  fromCheckpoint?: string | undefined;
}

/**
 * Queue a run on a thread, applying the multitask strategy when the thread already has an active run:
 * reject (thread_busy), enqueue (after it), interrupt / rollback (stop it at its next super-step, then
 * this one runs). The thread row is locked for the check, so two submissions cannot both see it idle.
 */
export async function enqueueRun(pool: pg.Pool, run: NewRun): Promise<RunRow> {
  return withTransaction(pool, async (client) => {
    await client.query("SELECT 1 FROM waypoint.threads WHERE thread_id = $1 FOR UPDATE", [run.threadId]);
    const busy = await activeRuns(client, run.threadId);
    if (busy.length > 0 && run.strategy === "reject") {
      throw new WaypointError(
        "thread_busy",
        `Thread ${run.threadId} already has a ${busy[0]?.status} run (${busy[0]?.run_id}); submit with multitask strategy enqueue, interrupt or rollback, or wait.`,
        { details: { runs: busy.map((r) => r.run_id) } },
      );
    }
    if (busy.length > 0 && (run.strategy === "interrupt" || run.strategy === "rollback")) {
      // Queued ones never started: cancel them. The running one stops at its next super-step.
      await client.query(
        `UPDATE waypoint.runs SET status = 'cancelled', detail = 'replaced by a newer submission (' || $2 || ')', finished_at = now(), updated_at = now()
          WHERE thread_id = $1 AND status = 'pending'`,
        [run.threadId, run.strategy],
      );
      const { rows } = await client.query<{ run_id: string }>(
        "UPDATE waypoint.runs SET stop_requested = $2, updated_at = now() WHERE thread_id = $1 AND status = 'running' RETURNING run_id",
        [run.threadId, run.strategy],
      );
      for (const r of rows) await client.query("SELECT pg_notify($1, $2)", [STOP_CHANNEL, `${r.run_id}:${run.strategy}`]);
    }
    const inserted = await client.query<RunRow>(
      `INSERT INTO waypoint.runs (run_id, thread_id, agent, graph_version, kind, status, multitask_strategy, idempotency_key, review_deadline, command, from_checkpoint)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10) RETURNING *`,
      [
        randomUUID(),
        run.threadId,
        run.agent,
        run.version,
        run.kind,
        run.strategy,
        run.idempotencyKey ?? null,
        run.reviewDeadline ? JSON.stringify(run.reviewDeadline) : null,
        run.command ? JSON.stringify(run.command) : null,
        run.fromCheckpoint ?? null,
      ],
    );
    await client.query("SELECT pg_notify($1, '')", [WAKE_CHANNEL]);
    return inserted.rows[0] as RunRow;
  });
}

export interface WorkerIdentity {
  workerId: string;
  lock: number;
  /** "agent@version" this worker can run. */
  versions: string[];
}

/**
 * Claim up to `limit` of the oldest claimable runs: pending, due, of a version this worker has, on a
 * thread with no running run and no older queued run (so one batch never holds two runs of a thread).
 * Two workers racing for one thread: the unique index lets one win, and the loser claims nothing.
 */
export async function claimRuns(pool: pg.Pool, worker: WorkerIdentity, limit = 1): Promise<RunRow[]> {
  try {
    const { rows } = await pool.query<RunRow>(
      `UPDATE waypoint.runs SET status = 'running', worker_id = $1, worker_lock = $2, attempts = attempts + 1, started_at = now(), updated_at = now()
        WHERE run_id IN (
          SELECT r.run_id FROM waypoint.runs r
           WHERE r.status = 'pending' AND r.available_at <= now() AND (r.agent || '@' || r.graph_version) = ANY($3)
             AND NOT EXISTS (SELECT 1 FROM waypoint.runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
             AND NOT EXISTS (SELECT 1 FROM waypoint.runs o WHERE o.thread_id = r.thread_id AND o.status = 'pending' AND o.created_at < r.created_at)
           ORDER BY r.available_at, r.created_at
           LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [worker.workerId, worker.lock, worker.versions, limit],
    );
    return rows;
  } catch (e) {
    if ((e as { code?: string }).code === "23505") return []; // another worker took one of these threads first
    throw e;
  }
}

/**
 * Record how a run ended. Only the worker that holds it can (a run the reaper took back is no longer
 * this worker's: the update matches nothing and returns false).
 */
export async function finishRun(pool: pg.Pool, runId: string, workerId: string, status: Exclude<RunStatus, "pending" | "running">, detail: string | null): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE waypoint.runs SET status = $3, detail = $4, finished_at = now(), updated_at = now(), stop_requested = NULL
      WHERE run_id = $1 AND worker_id = $2 AND status = 'running'`,
    [runId, workerId, status, detail],
  );
  return rowCount === 1;
}

/** Hand a running run back to the queue (drain, retry after an error), due after `delayMs`. */
export async function requeueRun(pool: pg.Pool, runId: string, workerId: string, detail: string, delayMs = 0): Promise<boolean> {
  const { rowCount } = await pool.query(
    `WITH r AS (
       UPDATE waypoint.runs SET status = 'pending', worker_id = NULL, worker_lock = NULL, detail = $3, available_at = now() + make_interval(secs => $4 / 1000.0), updated_at = now()
        WHERE run_id = $1 AND worker_id = $2 AND status = 'running' RETURNING run_id)
     SELECT pg_notify($5, '') FROM r`,
    [runId, workerId, detail, delayMs, WAKE_CHANNEL],
  );
  return rowCount === 1;
}

/** Remember the checkpoint a run starts from (what a rollback goes back to); the first attempt's counts. */
export async function markStart(pool: pg.Pool, run: Pick<RunRow, "run_id" | "thread_id">): Promise<void> {
  await pool.query(
    `UPDATE waypoint.runs SET start_checkpoint = COALESCE(start_checkpoint,
       (SELECT checkpoint_id FROM checkpoints WHERE thread_id = $2 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1))
      WHERE run_id = $1`,
    [run.run_id, run.thread_id],
  );
}

/**
 * Take back running runs whose worker is gone (its liveness lock is not held any more: the process
 * died, or lost its connection). Each goes back to the queue, or to `dead` after `maxCrashes`; the
 * thread's registry entry is released in the same statement. Returns the runs taken back.
 */
export async function reapOrphans(pool: pg.Pool, maxCrashes: number): Promise<Array<{ run_id: string; thread_id: string; status: RunStatus }>> {
  const { rows } = await pool.query<{ run_id: string; thread_id: string; status: RunStatus }>(
    `WITH orphans AS (
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
                            THEN 'dead: its worker died ' || (r.crashes + 1) || ' times while running it (' || $2 || ' allowed); waypoint runs retry brings it back'
                            ELSE 'its worker (' || coalesce(r.worker_id, '?') || ') died; queued again' END,
              finished_at = CASE WHEN r.crashes + 1 >= $2 THEN now() ELSE NULL END,
              worker_id = NULL, worker_lock = NULL, available_at = now(), updated_at = now()
         FROM orphans o WHERE r.run_id = o.run_id
       RETURNING r.run_id, r.thread_id, r.status),
     released AS (
       UPDATE waypoint.threads t SET runner_pid = NULL, runner_host = NULL, status = 'error',
              status_detail = 'its worker died mid-run; the run was queued again', updated_at = now()
         FROM reaped WHERE t.thread_id = reaped.thread_id AND t.status = 'running')
     SELECT * FROM reaped`,
    [LOCK_CLASS, maxCrashes],
  );
  if (rows.length) await pool.query("SELECT pg_notify($1, '')", [WAKE_CHANNEL]);
  return rows;
}

/**
 * Stop a run: a queued one is cancelled at once; a running one stops at its next super-step (its
 * worker hears it by NOTIFY). The thread stays resumable either way.
 */
export async function requestStop(pool: pg.Pool, runId: string, mode: StopRequest): Promise<RunRow> {
  const run = await getRun(pool, runId);
  if (run.status === "pending") {
    const { rows } = await pool.query<RunRow>(
      `UPDATE waypoint.runs SET status = 'cancelled', detail = 'cancelled before it started', finished_at = now(), updated_at = now() WHERE run_id = $1 AND status = 'pending' RETURNING *`,
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
        WHERE run_id = $1 RETURNING *)
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
