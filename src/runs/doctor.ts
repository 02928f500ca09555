// `waypoint doctor`: finds what a crash at the worst moment can leave behind, and repairs it. Runs
// marked running whose worker is gone; threads with work left but no run that will do it (a worker
// killed between a graph step and the run's status, a CLI process that died); runs waiting for an
// agent version no live worker has (reported, never touched).
import { config } from "../config.js";
import { LOCK_CLASS, reapOrphans, enqueueRun } from "./queue.js";
import type { Waypoint } from "./runner.js";
import { getThreadRow } from "./threads.js";

export interface Finding {
  kind: "orphaned_run" | "stalled_thread" | "needs_a_person" | "no_worker_for_version";
  threadId: string;
  runId?: string;
  problem: string;
  /** What was done about it (with repair), or what would be done. */
  repair: string;
}

/** Check every thread and run; with `repair`, fix what can be fixed safely. */
export async function diagnose(wp: Waypoint, opts: { repair: boolean }): Promise<Finding[]> {
  const pool = wp.pool;
  const findings: Finding[] = [];

  // 1. Running runs whose worker holds no liveness lock.
  if (opts.repair) {
    for (const r of await reapOrphans(pool, config().worker.maxCrashes)) {
      findings.push({ kind: "orphaned_run", threadId: r.thread_id, runId: r.run_id, problem: "marked running, but its worker is gone", repair: r.status === "dead" ? "marked dead (too many crashes)" : "queued again" });
    }
  } else {
    const { rows } = await pool.query<{ run_id: string; thread_id: string }>(
      `SELECT run_id, thread_id FROM waypoint.runs r WHERE status = 'running' AND NOT EXISTS (
         SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = r.worker_lock AND l.objsubid = 2)`,
      [LOCK_CLASS],
    );
    for (const r of rows) findings.push({ kind: "orphaned_run", threadId: r.thread_id, runId: r.run_id, problem: "marked running, but its worker is gone", repair: "queue it again" });
  }

  // 2. Threads with work left and nobody on it.
  const { rows: idle } = await pool.query<{ thread_id: string; last_status: string | null; last_run: string | null }>(
    `SELECT t.thread_id,
            (SELECT status FROM waypoint.runs r WHERE r.thread_id = t.thread_id ORDER BY created_at DESC LIMIT 1) AS last_status,
            (SELECT run_id::text FROM waypoint.runs r WHERE r.thread_id = t.thread_id ORDER BY created_at DESC LIMIT 1) AS last_run
       FROM waypoint.threads t
      WHERE t.status <> 'done' OR EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = t.thread_id AND r.status IN ('success', 'interrupted')
                                            AND r.created_at = (SELECT max(created_at) FROM waypoint.runs x WHERE x.thread_id = t.thread_id))
      ORDER BY t.updated_at`,
  );
  for (const t of idle) {
    if ((await pool.query("SELECT 1 FROM waypoint.runs WHERE thread_id = $1 AND status IN ('pending', 'running')", [t.thread_id])).rowCount) continue;
    const view = await wp.view(t.thread_id).catch(() => undefined);
    if (!view || view.status !== "error") continue; // done, waiting for a person, or run by a live process
    if (t.last_status === "dead" || t.last_status === "cancelled" || t.last_status === "error") {
      findings.push({
        kind: "needs_a_person",
        threadId: t.thread_id,
        ...(t.last_run ? { runId: t.last_run } : {}),
        problem: `stopped with work left; its last run is ${t.last_status}`,
        repair: `left alone: \`waypoint runs retry ${t.last_run}\` or \`waypoint resume ${t.thread_id}\``,
      });
      continue;
    }
    const problem = `has work left (${view.detail ?? `next: ${view.next.join(", ")}`}) but no run will do it`;
    if (!opts.repair) {
      findings.push({ kind: "stalled_thread", threadId: t.thread_id, problem, repair: "queue a resume run" });
      continue;
    }
    const row = await getThreadRow(pool, t.thread_id);
    const run = await enqueueRun(pool, { threadId: t.thread_id, agent: row.agent, version: row.graph_version, kind: "resume", strategy: "enqueue" });
    findings.push({ kind: "stalled_thread", threadId: t.thread_id, runId: run.run_id, problem, repair: `queued resume run ${run.run_id}` });
  }

  // 3. Queued runs no live worker can take.
  const { rows: stranded } = await pool.query<{ run_id: string; thread_id: string; v: string }>(
    `SELECT r.run_id, r.thread_id, r.agent || '@' || r.graph_version AS v FROM waypoint.runs r
      WHERE r.status = 'pending' AND EXISTS (SELECT 1 FROM waypoint.workers w WHERE w.stopped_at IS NULL)
        AND NOT EXISTS (
          SELECT 1 FROM waypoint.workers w JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = w.worker_lock AND l.objsubid = 2
           WHERE w.stopped_at IS NULL AND (r.agent || '@' || r.graph_version) = ANY (w.versions))`,
    [LOCK_CLASS],
  );
  for (const r of stranded) {
    findings.push({ kind: "no_worker_for_version", threadId: r.thread_id, runId: r.run_id, problem: `waits for ${r.v}, which no live worker runs`, repair: "left alone: deploy a worker with that version" });
  }
  return findings;
}
