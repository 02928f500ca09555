// Checkpoint retention: delete old checkpoints (with their writes and the blobs nothing references any
// more) while every thread stays resumable and its state stays exactly what it was. The transcript and
// the side-effect ledger are never touched: they are the record, checkpoints are working state.
//
// Per (thread, namespace) a prune keeps:
//  - the newest `keep` checkpoints (checkpoint ids are uuid6: sortable by time), so always the newest;
//  - every checkpoint with an interrupt no resume answered (a review may still be pending there);
//  - the start and target checkpoints of the thread's pending and running runs (a rollback or a
//    time-travel run goes back to them);
//  - for each of those, its ancestors up to and including the nearest one holding a real value
//    (a DeltaSnapshot, not the 'empty' sentinel) for each delta channel, so that rebuilding a kept
//    checkpoint, or a new child of it, replays exactly the writes it replayed before.
// Delta channels are those named in a checkpoint's `counters_since_delta_snapshot` metadata or having a
// DeltaSnapshot blob. Not "any channel with an 'empty' blob": LangGraph also writes that sentinel for
// plain channels (`__start__`, `branch:to:*`) once consumed, and walking those back to a value would
// keep every checkpoint of a thread.
//
// Pruning a thread that is running is safe without taking it from its runner: the run's next checkpoint
// has the newest one (kept) as parent and references the blobs the newest one references, or new blobs
// written in the same transaction as itself; rows committed after the prune's snapshot are invisible to
// it and never deleted (the prune deletes only rows it listed). A fork from a checkpoint that a prune is
// deleting at that moment can fail; forks are started by people, from a checkpoint they just listed.
// Two prunes of one thread do not overlap: each takes a transaction-scoped advisory lock, and a busy
// thread is skipped (the next pass gets it).
import type pg from "pg";

export interface PruneOptions {
  /** Newest checkpoints kept per thread and namespace (at least 1: the newest is always kept). */
  keep: number;
  /** Count what would be deleted; delete nothing. */
  dryRun?: boolean;
}

export interface ThreadPruneResult {
  threadId: string;
  /** Checkpoints deleted (in a dry run: that would be). */
  checkpoints: number;
  /** Pending writes deleted with them. */
  writes: number;
  /** Channel blobs no kept checkpoint references any more. */
  blobs: number;
  /** Checkpoints left, every namespace. */
  kept: number;
  /** Of those, kept beyond the newest `keep` per namespace: delta-channel ancestors, open interrupts, run starts. */
  keptForReplay: number;
  /** Why the thread was left alone this time, if it was. */
  skipped?: string;
}

export interface PruneResult {
  keep: number;
  dryRun: boolean;
  threads: ThreadPruneResult[];
  totals: { threads: number; checkpoints: number; writes: number; blobs: number; kept: number; skipped: number };
}

type Version = string | number;

interface CheckpointRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  versions: Record<string, Version> | null;
  counters: string[];
  writes: string;
}

interface BlobRow {
  checkpoint_ns: string;
  channel: string;
  version: string;
  filled: boolean;
  delta_snapshot: boolean | null;
}

const key = (...parts: string[]) => parts.join("\u0000");

function assertKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a whole number of at least 1, got ${keep}`);
}

/** Which checkpoints of one namespace stay: see the header. Pure, for the rule to be read in one place. */
export function checkpointsToKeep(opts: {
  checkpoints: ReadonlyArray<{ id: string; parent: string | null; versions: Record<string, Version> }>;
  keep: number;
  /** Checkpoints kept whatever their age (open interrupts, run starts). */
  pinned: ReadonlySet<string>;
  deltaChannels: ReadonlySet<string>;
  /** Whether the blob of `channel` at `version` holds a value (not the 'empty' sentinel). */
  hasValue: (channel: string, version: string) => boolean;
}): Set<string> {
  type Node = (typeof opts.checkpoints)[number];
  const byId = new Map<string, Node>(opts.checkpoints.map((c) => [c.id, c]));
  const newestFirst = [...byId.keys()].sort().reverse();
  const roots = new Set(newestFirst.slice(0, opts.keep));
  for (const id of opts.pinned) if (byId.has(id)) roots.add(id);
  const kept = new Set(roots);
  // A channel's walk from one checkpoint up is the same whoever starts it: remember where it has been.
  const walked = new Map<string, Set<string>>();
  for (const root of roots) {
    const start = byId.get(root);
    for (const ch of opts.deltaChannels) {
      // No version: the channel was never written on this branch; there is nothing to rebuild.
      if (start?.versions[ch] === undefined) continue;
      const seen = walked.get(ch) ?? new Set<string>();
      walked.set(ch, seen);
      for (let c: Node | undefined = start; c !== undefined && !seen.has(c.id); c = c.parent === null ? undefined : byId.get(c.parent)) {
        seen.add(c.id);
        kept.add(c.id);
        const v = c.versions[ch];
        if (v !== undefined && opts.hasValue(ch, String(v))) break;
      }
    }
  }
  return kept;
}

/** Prune one thread (every namespace) in one transaction. */
export async function pruneThread(pool: pg.Pool, threadId: string, opts: PruneOptions): Promise<ThreadPruneResult> {
  assertKeep(opts.keep);
  const result: ThreadPruneResult = { threadId, checkpoints: 0, writes: 0, blobs: 0, kept: 0, keptForReplay: 0 };
  const client = await pool.connect();
  try {
    // One snapshot for every read and delete: a checkpoint a running graph commits meanwhile is neither
    // seen (so its blobs are not taken for unreferenced) nor deleted.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    const { rows: lock } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok", [`waypoint:prune:${threadId}`]);
    if (!lock[0]?.ok) {
      await client.query("ROLLBACK");
      return { ...result, skipped: "another prune of this thread is running" };
    }
    const { rows: checkpoints } = await client.query<CheckpointRow>(
      `SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint -> 'channel_versions' AS versions,
              CASE WHEN jsonb_typeof(metadata -> 'counters_since_delta_snapshot') = 'object'
                   THEN ARRAY(SELECT jsonb_object_keys(metadata -> 'counters_since_delta_snapshot')) ELSE '{}'::text[] END AS counters,
              (SELECT count(*) FROM checkpoint_writes cw
                WHERE cw.thread_id = cp.thread_id AND cw.checkpoint_ns = cp.checkpoint_ns AND cw.checkpoint_id = cp.checkpoint_id) AS writes
         FROM checkpoints cp WHERE thread_id = $1`,
      [threadId],
    );
    const { rows: blobs } = await client.query<BlobRow>(
      `SELECT checkpoint_ns, channel, version, type <> 'empty' AS filled,
              position('"type":"delta_snapshot"'::bytea IN substring(blob FROM 1 FOR 64)) > 0 AS delta_snapshot
         FROM checkpoint_blobs WHERE thread_id = $1`,
      [threadId],
    );
    const { rows: open } = await client.query<{ checkpoint_ns: string; checkpoint_id: string }>(
      `SELECT checkpoint_ns, checkpoint_id FROM checkpoint_writes
        WHERE thread_id = $1 AND channel IN ('__interrupt__', '__resume__')
        GROUP BY checkpoint_ns, checkpoint_id
       HAVING bool_or(channel = '__interrupt__') AND NOT bool_or(channel = '__resume__')`,
      [threadId],
    );
    const { rows: runs } = await client.query<{ id: string }>(
      `SELECT unnest(ARRAY[start_checkpoint, kwargs->>'checkpoint_id']) AS id FROM waypoint.runs WHERE thread_id = $1 AND status IN ('pending', 'running')`,
      [threadId],
    );

    const pinned = new Set([...open.map((r) => key(r.checkpoint_ns, r.checkpoint_id)), ...runs.filter((r) => r.id).map((r) => key("", r.id))]);
    const filled = new Set(blobs.filter((b) => b.filled).map((b) => key(b.checkpoint_ns, b.channel, b.version)));
    const byNs = new Map<string, CheckpointRow[]>();
    for (const c of checkpoints) {
      const list = byNs.get(c.checkpoint_ns);
      if (list) list.push(c);
      else byNs.set(c.checkpoint_ns, [c]);
    }

    const doomed: CheckpointRow[] = [];
    const referenced = new Set<string>();
    for (const [ns, rows] of byNs) {
      const deltaChannels = new Set(rows.flatMap((r) => r.counters));
      for (const b of blobs) if (b.checkpoint_ns === ns && b.delta_snapshot) deltaChannels.add(b.channel);
      const kept = checkpointsToKeep({
        checkpoints: rows.map((r) => ({ id: r.checkpoint_id, parent: r.parent_checkpoint_id, versions: r.versions ?? {} })),
        keep: opts.keep,
        pinned: new Set(rows.filter((r) => pinned.has(key(ns, r.checkpoint_id))).map((r) => r.checkpoint_id)),
        deltaChannels,
        hasValue: (ch, v) => filled.has(key(ns, ch, v)),
      });
      result.keptForReplay += Math.max(0, kept.size - Math.min(opts.keep, rows.length));
      for (const r of rows) {
        if (!kept.has(r.checkpoint_id)) {
          doomed.push(r);
          continue;
        }
        for (const [ch, v] of Object.entries(r.versions ?? {})) referenced.add(key(ns, ch, String(v)));
      }
    }
    const unreferenced = blobs.filter((b) => !referenced.has(key(b.checkpoint_ns, b.channel, b.version)));
    result.checkpoints = doomed.length;
    result.kept = checkpoints.length - doomed.length;
    result.blobs = unreferenced.length;
    result.writes = doomed.reduce((n, r) => n + Number(r.writes), 0);

    if (opts.dryRun || (doomed.length === 0 && unreferenced.length === 0)) {
      await client.query("ROLLBACK");
      return result;
    }
    const nss = doomed.map((r) => r.checkpoint_ns);
    const ids = doomed.map((r) => r.checkpoint_id);
    const pairs = "(checkpoint_ns, checkpoint_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))";
    const writes = await client.query(`DELETE FROM checkpoint_writes WHERE thread_id = $1 AND ${pairs}`, [threadId, nss, ids]);
    await client.query(`DELETE FROM checkpoints WHERE thread_id = $1 AND ${pairs}`, [threadId, nss, ids]);
    await client.query(
      "DELETE FROM checkpoint_blobs WHERE thread_id = $1 AND (checkpoint_ns, channel, version) IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))",
      [threadId, unreferenced.map((b) => b.checkpoint_ns), unreferenced.map((b) => b.channel), unreferenced.map((b) => b.version)],
    );
    await client.query("COMMIT");
    result.writes = writes.rowCount ?? result.writes;
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    // A row this prune meant to delete changed after its snapshot (a write landed on an old checkpoint):
    // leave the thread for the next pass rather than decide on stale facts.
    if ((e as { code?: string }).code === "40001") return { ...result, checkpoints: 0, writes: 0, blobs: 0, skipped: "the thread changed during the prune; the next pass retries" };
    throw e;
  } finally {
    client.release();
  }
}

/**
 * Prune every thread that has more than `keep` checkpoints in a namespace (or the given threads), one
 * thread and one transaction at a time.
 */
export async function pruneAll(pool: pg.Pool, opts: PruneOptions & { threadIds?: string[] }): Promise<PruneResult> {
  assertKeep(opts.keep);
  const threadIds =
    opts.threadIds ??
    (
      await pool.query<{ thread_id: string }>(
        "SELECT DISTINCT thread_id FROM (SELECT thread_id FROM checkpoints GROUP BY thread_id, checkpoint_ns HAVING count(*) > $1) t ORDER BY thread_id",
        [opts.keep],
      )
    ).rows.map((r) => r.thread_id);
  const threads: ThreadPruneResult[] = [];
  for (const threadId of threadIds) threads.push(await pruneThread(pool, threadId, opts));
  const sum = (f: (t: ThreadPruneResult) => number) => threads.reduce((n, t) => n + f(t), 0);
  return {
    keep: opts.keep,
    dryRun: opts.dryRun === true,
    threads,
    totals: {
      threads: threads.length,
      checkpoints: sum((t) => t.checkpoints),
      writes: sum((t) => t.writes),
      blobs: sum((t) => t.blobs),
      kept: sum((t) => t.kept),
      skipped: sum((t) => (t.skipped ? 1 : 0)),
    },
  };
}
