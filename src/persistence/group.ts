// Group commit: the rows of every checkpoint (and of task writes that waited too long for theirs) that
// are ready at the same moment, from any number of threads, go to Postgres in one statement and one
// commit. Each caller's promise settles when its rows are committed, or failed alone. The scheduling
// (Grouper) serves other rows written the same way: the runs' stream events (src/runs/events.ts).
import type { TranscriptEntry } from "./transcript.js";

/** Columns of one checkpoint_writes row as the saver inserts them, task path last. */
export type WriteRow = [threadId: string, checkpointNs: string, checkpointId: string, taskId: string, idx: number, channel: string, type: string, blob: Uint8Array, taskPath: string];

/** Columns of one checkpoint_blobs row (the blob is absent for the 'empty' sentinel). */
export type BlobRow = [threadId: string | undefined, checkpointNs: string, channel: string, version: string, type: string, blob: Uint8Array | undefined];

/** One checkpoints row; checkpoint and metadata as JSON text. */
export interface CheckpointRow {
  threadId: string | undefined;
  checkpointNs: string;
  checkpointId: string;
  parentId: string | undefined;
  checkpoint: string;
  metadata: string;
}

/** What one caller needs committed together. */
export interface Rows {
  /** Ordinary writes: the first row of a key wins (DO NOTHING). */
  writes?: WriteRow[];
  /** Errors, interrupts, resumes: replace an earlier row (DO UPDATE); at most one row per key. */
  special?: WriteRow[];
  entries?: TranscriptEntry[];
  blobs?: BlobRow[];
  checkpoint?: CheckpointRow;
}

/** A prepared statement: the text depends only on which kinds of rows a group holds. */
export interface NamedQuery {
  name: string;
  text: string;
  values: unknown[];
}

export interface GroupCommitOptions {
  /** Group statements sent at once (each takes a pool connection while it runs). */
  maxInFlight: number;
  /** Callers in one statement at most; the rest wait for the next one. */
  maxMembers: number;
  /** Called once when a group failed and its members are sent again one by one. */
  onSplit?: (members: number, error: unknown) => void;
}

const WRITE_COLUMNS = "thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path";
const WRITE_ARRAYS = ["text", "text", "text", "text", "int", "text", "text", "bytea", "text"];
const WRITE_KEY = "(thread_id, checkpoint_ns, checkpoint_id, task_id, idx)";

/** Per kind of rows: how its arrays are bound and the INSERT that reads them ($ numbers from `at`). */
const PARTS = {
  writes: (at: number) =>
    `INSERT INTO checkpoint_writes (${WRITE_COLUMNS}) SELECT * FROM unnest(${WRITE_ARRAYS.map((t, i) => `$${at + i}::${t}[]`).join(", ")})
      ON CONFLICT ${WRITE_KEY} DO NOTHING`,
  special: (at: number) =>
    `INSERT INTO checkpoint_writes (${WRITE_COLUMNS}) SELECT * FROM unnest(${WRITE_ARRAYS.map((t, i) => `$${at + i}::${t}[]`).join(", ")})
      ON CONFLICT ${WRITE_KEY} DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob, task_path = EXCLUDED.task_path`,
  // The message column is one JSON array (no per-element escaping); row order is the order given.
  entries: (at: number) =>
    `INSERT INTO waypoint.transcript (thread_id, checkpoint_ns, message_id, type, name, tool_call_id, message, content_hash, task_id)
      SELECT t, ns, mid, ty, nm, tc, msg, h, task FROM ROWS FROM (
        unnest($${at}::text[]), unnest($${at + 1}::text[]), unnest($${at + 2}::text[]), unnest($${at + 3}::text[]), unnest($${at + 4}::text[]),
        unnest($${at + 5}::text[]), jsonb_array_elements($${at + 6}::jsonb), unnest($${at + 7}::text[]), unnest($${at + 8}::text[])
      ) WITH ORDINALITY AS x(t, ns, mid, ty, nm, tc, msg, h, task, ord) ORDER BY ord
      ON CONFLICT (thread_id, checkpoint_ns, message_id, content_hash) DO NOTHING`,
  blobs: (at: number) =>
    `INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
      SELECT * FROM unnest($${at}::text[], $${at + 1}::text[], $${at + 2}::text[], $${at + 3}::text[], $${at + 4}::text[], $${at + 5}::bytea[])
      ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING`,
  checkpoints: (at: number) =>
    `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
      SELECT * FROM ROWS FROM (unnest($${at}::text[]), unnest($${at + 1}::text[]), unnest($${at + 2}::text[]), unnest($${at + 3}::text[]),
        jsonb_array_elements($${at + 4}::jsonb), jsonb_array_elements($${at + 5}::jsonb))
      ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata`,
} as const;

type Kind = keyof typeof PARTS;
const KINDS = Object.keys(PARTS) as Kind[];
const ARITY: Record<Kind, number> = { writes: 9, special: 9, entries: 9, blobs: 6, checkpoints: 6 };

const texts = new Map<number, { name: string; text: string }>();

/** The statement for a set of kinds (a bit per kind): every part but the last as a CTE. */
function statementFor(mask: number): { name: string; text: string } {
  let s = texts.get(mask);
  if (!s) {
    const parts: string[] = [];
    let at = 1;
    for (const [i, kind] of KINDS.entries()) {
      if (!(mask & (1 << i))) continue;
      parts.push(PARTS[kind](at));
      at += ARITY[kind];
    }
    const main = parts.pop() ?? "SELECT 1";
    s = { name: `wp_group_${mask}`, text: parts.length ? `WITH ${parts.map((p, i) => `part_${i} AS (${p})`).join(", ")} ${main}` : main };
    texts.set(mask, s);
  }
  return s;
}

/** One statement for the rows of every member (in member order). */
export function groupStatement(all: readonly Rows[]): NamedQuery {
  const writes: WriteRow[] = [];
  const special: WriteRow[] = [];
  const entries: TranscriptEntry[] = [];
  const blobs: BlobRow[] = [];
  const checkpoints: CheckpointRow[] = [];
  for (const r of all) {
    if (r.writes) for (const w of r.writes) writes.push(w);
    if (r.special) for (const w of r.special) special.push(w);
    if (r.entries) for (const e of r.entries) entries.push(e);
    if (r.blobs) for (const b of r.blobs) blobs.push(b);
    if (r.checkpoint) checkpoints.push(r.checkpoint);
  }
  let mask = 0;
  const values: unknown[] = [];
  const columns = <T>(rows: readonly T[], n: number) => {
    for (let c = 0; c < n; c++) values.push(rows.map((r) => (r as unknown[])[c]));
  };
  if (writes.length) {
    mask |= 1;
    columns(writes, 9);
  }
  if (special.length) {
    mask |= 2;
    columns(special, 9);
  }
  if (entries.length) {
    mask |= 4;
    values.push(
      entries.map((e) => e.threadId),
      entries.map((e) => e.checkpointNs),
      entries.map((e) => e.messageId),
      entries.map((e) => e.type),
      entries.map((e) => e.name),
      entries.map((e) => e.toolCallId),
      `[${entries.map((e) => JSON.stringify(e.message)).join(",")}]`,
      entries.map((e) => e.contentHash),
      entries.map((e) => e.taskId),
    );
  }
  if (blobs.length) {
    mask |= 8;
    columns(blobs, 6);
  }
  if (checkpoints.length) {
    mask |= 16;
    values.push(
      checkpoints.map((c) => c.threadId),
      checkpoints.map((c) => c.checkpointNs),
      checkpoints.map((c) => c.checkpointId),
      checkpoints.map((c) => c.parentId),
      `[${checkpoints.map((c) => c.checkpoint).join(",")}]`,
      `[${checkpoints.map((c) => c.metadata).join(",")}]`,
    );
  }
  return { ...statementFor(mask), values };
}

const checkpointKey = (c: CheckpointRow) => `${c.threadId}\u0000${c.checkpointNs}\u0000${c.checkpointId}`;

interface Member<T> {
  item: T;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Collects items from any caller and sends what has gathered in one statement: at the end of the
 * current turn of the event loop when no group is being sent, otherwise as soon as one finishes. So a
 * lone caller waits for nothing, and many callers ready together share a commit. Two items with the same
 * key never go in one statement (the later waits for the next).
 */
export class Grouper<T> {
  private queue: Member<T>[] = [];
  private sending = 0;
  private scheduled = false;

  constructor(
    private readonly send: (query: NamedQuery) => Promise<void>,
    private readonly opts: GroupCommitOptions,
    /** One statement for the items of a group (in member order). */
    private readonly statement: (items: readonly T[]) => NamedQuery,
    /** Items with the same key go in different statements (undefined: no key). */
    private readonly keyOf: (item: T) => string | undefined = () => undefined,
  ) {}

  /** Resolves once `item` is committed (with others' or, after a group failed, alone). */
  commit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Members waiting or being sent. */
  get busy(): boolean {
    return this.queue.length > 0 || this.sending > 0;
  }

  private schedule(): void {
    if (this.scheduled || this.sending >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every caller whose I/O completed in this turn gets to join.
    setImmediate(() => {
      this.scheduled = false;
      if (this.sending >= this.opts.maxInFlight || this.queue.length === 0) return;
      const group = this.take();
      this.sending++;
      void this.sendGroup(group).finally(() => {
        this.sending--;
        this.schedule();
      });
      this.schedule();
    });
  }

  /** The next group: up to maxMembers, in arrival order, never two members with one key. */
  private take(): Member<T>[] {
    const group: Member<T>[] = [];
    const rest: Member<T>[] = [];
    const seen = new Set<string>();
    for (const m of this.queue) {
      const key = this.keyOf(m.item);
      if (group.length >= this.opts.maxMembers || (key !== undefined && seen.has(key))) rest.push(m);
      else {
        if (key !== undefined) seen.add(key);
        group.push(m);
      }
    }
    this.queue = rest;
    return group;
  }

  private async sendGroup(group: Member<T>[]): Promise<void> {
    try {
      await this.send(this.statement(group.map((m) => m.item)));
    } catch (e) {
      if (group.length === 1) {
        group[0]!.reject(e);
        return;
      }
      // One member's rows can fail the statement for all (a constraint, a value jsonb refuses): each
      // is sent on its own, so only the one at fault fails.
      this.opts.onSplit?.(group.length, e);
      await Promise.all(
        group.map(async (m) => {
          try {
            await this.send(this.statement([m.item]));
            m.resolve();
          } catch (err) {
            m.reject(err);
          }
        }),
      );
      return;
    }
    for (const m of group) m.resolve();
  }
}

/** The saver's group commit: never two upserts of one checkpoint row in a statement. */
export class GroupCommitter extends Grouper<Rows> {
  constructor(send: (query: NamedQuery) => Promise<void>, opts: GroupCommitOptions) {
    super(send, opts, groupStatement, (r) => (r.checkpoint ? checkpointKey(r.checkpoint) : undefined));
  }
}
