// `waypoint doctor`: what a crash at the worst moment can leave behind, and what it repairs. Runs marked
// running whose carrier is gone (queued again, as every worker's reaper does); threads marked busy with
// no run that will do anything (their status recomputed from their checkpoint); threads that stopped
// with an error (reported: a person decides); queued runs of a graph version no live worker serves
// (reported, never touched). Each check is one indexed query with a LIMIT.
import { config } from "../config.js";
import { LOCK_CLASS, reapOrphans } from "./queue.js";
import type { Waypoint } from "./runner.js";

export interface Finding {
  kind: "orphaned_run" | "stale_status" | "needs_a_person" | "no_worker_for_version";
  threadId: string;
  runId?: string;
  problem: string;
  /** What was done about it (with repair), or what would be done. */
  repair: string;
}

const PAGE = 200;

/** Check threads and runs; with `repair`, fix what can be fixed safely. */
export async function diagnose(wp: Waypoint, opts: { repair: boolean }): Promise<Finding[]> {
  const pool = wp.pool;
  const findings: Finding[] = [];

  // 1. Running runs whose carrier holds no liveness lock.
  if (opts.repair) {
    for (const r of await reapOrphans(pool, config().worker.maxCrashes)) {
      findings.push({ kind: "orphaned_run", threadId: r.thread_id, runId: r.run_id, problem: "marked running, but the process carrying it is gone", repair: r.status === "dead" ? "marked dead (too many crashes)" : "queued again" });
    }
  } else {
    const { rows } = await pool.query<{ run_id: string; thread_id: string }>(
      `SELECT run_id, thread_id FROM waypoint.runs r WHERE status = 'running' AND NOT EXISTS (
         SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid = $1 AND l.objid = r.worker_lock AND l.objsubid = 2)
       LIMIT $2`,
      [LOCK_CLASS, PAGE],
    );
    for (const r of rows) findings.push({ kind: "orphaned_run", threadId: r.thread_id, runId: r.run_id, problem: "marked running, but the process carrying it is gone", repair: "queue it again" });
  }

  // 2. Threads marked busy that no run owns (nothing should leave one, but a status is cheap to recompute).
  const { rows: stale } = await pool.query<{ thread_id: string }>(
    `SELECT t.thread_id FROM waypoint.threads t
      WHERE t.status = 'busy' AND t.updated_at < now() - interval '5 seconds'
        AND NOT EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running'))
      LIMIT $1`,
    [PAGE],
  );
  for (const t of stale) {
    if (opts.repair) await wp.refreshThread(t.thread_id).catch(() => undefined);
    findings.push({ kind: "stale_status", threadId: t.thread_id, problem: "marked busy, but no run is queued or running", repair: opts.repair ? "status recomputed from its checkpoint" : "recompute its status" });
  }

  // 3. Threads that stopped with an error and no run: a person looks, then resumes or retries.
  const { rows: stopped } = await pool.query<{ thread_id: string; status_detail: string | null; last_run: string | null; last_status: string | null }>(
    `SELECT t.thread_id, t.status_detail, r.run_id::text AS last_run, r.status AS last_status FROM waypoint.threads t
       LEFT JOIN LATERAL (SELECT run_id, status FROM waypoint.runs x WHERE x.thread_id = t.thread_id ORDER BY created_at DESC LIMIT 1) r ON true
      WHERE t.status = 'error' ORDER BY t.updated_at DESC LIMIT $1`,
    [PAGE],
  );
  for (const t of stopped) {
    findings.push({
      kind: "needs_a_person",
      threadId: t.thread_id,
      ...(t.last_run ? { runId: t.last_run } : {}),
      problem: `stopped with an error${t.last_status ? ` (its last run is ${t.last_status})` : ""}: ${t.status_detail ?? "no detail"}`,
      repair: t.last_run && t.last_status === "dead" ? `left alone: \`waypoint runs retry ${t.last_run}\` or \`waypoint resume ${t.thread_id}\`` : `left alone: \`waypoint resume ${t.thread_id}\` once the cause is fixed`,
    });
  }

  // 4. Queued runs no live worker can take.
  const { rows: stranded } = await pool.query<{ run_id: string; thread_id: string; v: string }>(
    `SELECT r.run_id, r.thread_id, r.graph_id || '@' || r.graph_version AS v FROM waypoint.runs r
      WHERE r.status = 'pending' AND EXISTS (SELECT 1 FROM waypoint.workers w WHERE w.stopped_at IS NULL)
        AND NOT EXISTS (
          SELECT 1 FROM waypoint.workers w JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid = $1 AND l.objid = w.worker_lock AND l.objsubid = 2
           WHERE w.stopped_at IS NULL AND (r.graph_id || '@' || r.graph_version) = ANY (w.versions))
      LIMIT $2`,
    [LOCK_CLASS, PAGE],
  );
  for (const r of stranded) {
    findings.push({ kind: "no_worker_for_version", threadId: r.thread_id, runId: r.run_id, problem: `waits for ${r.v}, which no live worker runs`, repair: "left alone: deploy a worker with that version" });
  }
  return findings;
}
