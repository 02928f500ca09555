// WaypointSaver: PostgresSaver (same tables, same serialisation, a stock PostgresSaver reads what it
// writes) with these changes (the first three for delta channels, MessagesDeltaValue):
//  - writes keep their task path (column checkpoint_writes.task_path, added by setup()) and are read
//    back in LangGraph's writesSortKey order (task_path, task_id, idx). Stock PostgresSaver 1.0.5 drops
//    the path and orders by task_id, so messages written by parallel nodes in one super-step come back
//    in a random order when a DeltaChannel is rebuilt (measured: live "abcdefgh", reloaded "dfbchega");
//  - getDeltaChannelHistory is one SQL round trip (a recursive walk up parent_checkpoint_id) instead of
//    one getTuple per ancestor (up to 100 of them);
//  - every message written to a messages channel is appended to waypoint.transcript, atomically with
//    the write itself;
//  - a step's writes go in one statement with its checkpoint, and the checkpoints of threads ready at the
//    same moment share one statement and commit (group.ts).
import {
  WRITES_IDX_MAP,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointTuple,
  type CheckpointPendingWrite,
  type DeltaChannelHistory,
  type PendingWrite,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { RunnableConfig } from "@langchain/core/runnables";
import type pg from "pg";
import { log } from "../log.js";
import { isConnectionLost } from "../db/index.js";
import { haltArmed, haltPoint } from "../halt.js";
import { GroupCommitter, type BlobRow, type NamedQuery, type Rows, type WriteRow } from "./group.js";
import { transcriptEntries, type TranscriptEntry } from "./transcript.js";

/** PostgresSaver's serialisation helpers (protected in its source, untyped in its declarations). */
interface StockInternals {
  _dumpBlobs(threadId: string | undefined, checkpointNs: string, values: Checkpoint["channel_values"], versions: ChannelVersions): Promise<unknown[][]>;
  _dumpMetadata(metadata: CheckpointMetadata): Promise<unknown>;
  _dumpCheckpoint(checkpoint: Checkpoint): unknown;
}

export interface WaypointSaverOptions {
  /** Channels whose messages go to waypoint.transcript (default ["messages"]; [] turns it off). */
  transcriptChannels?: string[];
  /** Serializer for checkpoints and writes (default: PostgresSaver's JsonPlusSerializer). */
  serde?: SerializerProtocol;
  /**
   * Milliseconds a task's ordinary writes may wait to go out in the same statement as the step's
   * checkpoint (default 25; 0 writes each task's writes at once, as stock does).
   */
  groupWritesMs?: number;
  /**
   * Group statements (several threads' checkpoints in one statement and commit) sent at once (default
   * 2). Checkpoints that become ready while they run wait for the next one.
   */
  groupMaxInFlight?: number;
  /** Checkpoints (or flushes of writes) in one group statement at most (default 100). */
  groupMaxMembers?: number;
}

/** The order stock PostgresSaver reads a checkpoint's writes in, and the order LangGraph applies them in. */
const STOCK_WRITES_ORDER = "order by cw.task_id, cw.idx)";
// Byte order ("C") of UTF-8 text is code point order, which is what compareWritesSortKeys uses.
const WRITES_ORDER = `order by cw.task_path COLLATE "C", cw.task_id COLLATE "C", cw.idx)`;

/** Writes of one checkpoint waiting for its next checkpoint (or for their flush timer). */
interface PendingWrites {
  threadId: string;
  /** In arrival order; the first row of a (task id, idx) wins, as INSERT ... DO NOTHING keeps it. */
  regular: WriteRow[];
  entries: TranscriptEntry[];
  timer?: NodeJS.Timeout;
  /** The flush timer waits for the writes' own checkpoint to commit. */
  waiting?: boolean;
}

/** The nodes whose writes are held ("tools", "agent+tools"), from their task paths ("~__pregel_pull, tools"). */
function heldNodes(p: PendingWrites): string {
  const nodes = new Set(p.regular.map((r) => /^~__pregel_pull, (.+)$/.exec(r[8])?.[1] ?? "task"));
  return [...nodes].sort().join("+");
}

const pendingKey = (threadId: string, checkpointNs: string, checkpointId: string) => `${threadId}\u0000${checkpointNs}\u0000${checkpointId}`;
const rowKey = (r: WriteRow) => `${r[3]}\u0000${r[4]}`;

/** Special writes replace earlier ones: of rows with one key, the last (one upsert may not touch a row twice). */
function uniqueRows(rows: WriteRow[]): WriteRow[] {
  return [...new Map(rows.map((r) => [rowKey(r), r])).values()];
}

const NO_ENTRIES = { entries: [] as TranscriptEntry[], withoutId: 0 };
const decoder = new TextDecoder();

/** Stock SELECT_SQL's channel_values join (group 1: the blobs table as stock names it). */
const CHANNEL_VALUES_JOIN = /from jsonb_each_text\(checkpoint -> 'channel_versions'\)\s+inner join (\S+) bl\s+on bl\.thread_id = cp\.thread_id\s+and bl\.checkpoint_ns = cp\.checkpoint_ns\s+and bl\.channel = jsonb_each_text\.key\s+and bl\.version = jsonb_each_text\.value\s+\) as channel_values/;

interface HistoryRow {
  kind: "seed" | "write";
  channel: string;
  task_id: string | null;
  type: string;
  blob: Buffer | null;
}

export class WaypointSaver extends PostgresSaver {
  /** PostgresSaver keeps its pool private; the same pool, for our own statements. */
  private readonly db: pg.Pool;
  private readonly transcriptChannels: ReadonlySet<string>;
  private readonly groupWritesMs: number;
  /** Ordinary writes waiting for their checkpoint's successor, by (thread, namespace, checkpoint). */
  private readonly pending = new Map<string, PendingWrites>();
  /** Flushes being sent, by the same key: a checkpoint waits for its parent's writes to land first. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Checkpoints being put, by the same key; settles when the put has (or has not) committed. */
  private readonly putting = new Map<string, Promise<void>>();
  /** Puts and flushes of every thread, sent together when they are ready together. */
  private readonly group: GroupCommitter;

  constructor(pool: pg.Pool, opts: WaypointSaverOptions = {}) {
    super(pool, opts.serde);
    this.db = pool;
    this.transcriptChannels = new Set(opts.transcriptChannels ?? ["messages"]);
    this.groupWritesMs = opts.groupWritesMs ?? 25;
    this.group = new GroupCommitter((q) => this.send(q), {
      maxInFlight: opts.groupMaxInFlight ?? 2,
      maxMembers: opts.groupMaxMembers ?? 100,
      onSplit: (members, error) => log.warn({ members, error: (error as Error).message }, "checkpoint group: the statement failed; sending its members one by one"),
    });
    // getTuple/list return pendingWrites in writesSortKey order (BaseCheckpointSaver's contract). The
    // statement is private to PostgresSaver: fail here, loudly, if an upgrade changed it.
    const sql = this as unknown as { SQL_STATEMENTS: { SELECT_SQL: string } };
    if (!sql.SQL_STATEMENTS.SELECT_SQL.includes(STOCK_WRITES_ORDER)) {
      throw new Error("WaypointSaver: PostgresSaver's SELECT_SQL changed (writes are not ordered by task_id, idx); review src/persistence/saver.ts");
    }
    // Channel values: stock joins jsonb_each_text(channel_versions) to checkpoint_blobs, which the planner
    // turns into a hash join over every blob of the thread (measured: 20,000 buffers to read one
    // checkpoint of a 10,000-checkpoint thread). A lateral probe per channel uses the primary key.
    const blobJoin = CHANNEL_VALUES_JOIN.exec(sql.SQL_STATEMENTS.SELECT_SQL);
    if (!blobJoin) throw new Error("WaypointSaver: PostgresSaver's SELECT_SQL changed (channel_values join); review src/persistence/saver.ts");
    const table = blobJoin[1] as string;
    const lateral = `from jsonb_each_text(checkpoint -> 'channel_versions') cv
      cross join lateral (
        select b.channel, b.type, b.blob from ${table} b
        where b.thread_id = cp.thread_id and b.checkpoint_ns = cp.checkpoint_ns and b.channel = cv.key and b.version = cv.value
        offset 0
      ) bl
    ) as channel_values`;
    sql.SQL_STATEMENTS = { ...sql.SQL_STATEMENTS, SELECT_SQL: sql.SQL_STATEMENTS.SELECT_SQL.replace(STOCK_WRITES_ORDER, WRITES_ORDER).replace(blobJoin[0], lateral) };
  }

  /**
   * PostgresSaver's tables and migrations, plus checkpoint_writes.task_path (the name and definition
   * LangGraph's Python PostgresSaver uses). Stock savers ignore the column; rows they write get ''.
   * Run it under the setup advisory lock (createPersistence does).
   */
  override async setup(): Promise<void> {
    await super.setup();
    const { rowCount } = await this.db.query(
      "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'checkpoint_writes' AND column_name = 'task_path'",
    );
    // Checked first: ALTER TABLE takes an exclusive lock even when IF NOT EXISTS makes it a no-op.
    if (!rowCount) await this.db.query("ALTER TABLE checkpoint_writes ADD COLUMN IF NOT EXISTS task_path TEXT NOT NULL DEFAULT ''");
  }

  /**
   * PostgresSaver.putWrites with the task path stored, and the messages among the writes appended to
   * the transcript in the same statement. Ordinary writes wait (at most `groupWritesMs` once their own
   * checkpoint is committed) for the step's next checkpoint and go in the same statement as it: one
   * round trip and one commit per super-step, shared with other threads'. A step that takes longer gets
   * its writes flushed without it when the wait ends, so a finished task is durable within that time,
   * as with stock. Errors, interrupts and resumes are written at once.
   */
  override async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    if (writes.length === 0) return;
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: checkpointId } = (config.configurable ?? {}) as Record<string, string | undefined>;
    if (threadId === undefined || checkpointId === undefined) throw new Error("WaypointSaver.putWrites: config.configurable needs thread_id and checkpoint_id");
    // Special writes (errors, interrupts, resumes) replace an earlier one; others keep the first.
    const special = writes.every((w) => w[0] in WRITES_IDX_MAP);
    const rows = await this.dumpWrites(threadId, checkpointNs, checkpointId, taskId, taskPath, writes);
    const { entries, withoutId } = this.transcriptChannels.size ? transcriptEntries({ threadId, checkpointNs, taskId, writes, channels: this.transcriptChannels }) : NO_ENTRIES;
    if (withoutId > 0) log.debug({ threadId, taskId, withoutId }, "messages without an id were not added to the transcript");
    const key = pendingKey(threadId, checkpointNs, checkpointId);
    if (!special && this.groupWritesMs > 0) {
      let p = this.pending.get(key);
      if (!p) {
        p = { threadId, regular: [], entries: [] };
        this.pending.set(key, p);
      }
      for (const r of rows) p.regular.push(r);
      for (const e of entries) p.entries.push(e);
      if (!p.timer && !p.waiting) {
        // The wait starts when the writes' own checkpoint is committed: before that, writing them alone
        // makes nothing durable sooner (a thread resumes from a committed checkpoint), and under load
        // that checkpoint's commit alone can outlast the window (LangGraph does not await the input
        // checkpoint before running the first task).
        const own = this.putting.get(key);
        if (own) {
          p.waiting = true;
          const pending = p;
          void own.then(() => this.armTimer(key, pending));
        } else this.armTimer(key, p);
      }
      return;
    }
    await this.flushKey(key, special ? { special: uniqueRows(rows), entries } : { regular: rows, entries });
  }

  private armTimer(key: string, p: PendingWrites): void {
    p.waiting = false;
    if (this.pending.get(key) !== p || p.timer) return;
    p.timer = setTimeout(
      () => this.flushKey(key).catch((e: unknown) => log.warn({ threadId: p.threadId, error: (e as Error).message }, "checkpoint writes: a grouped flush failed; the next checkpoint or read sends them again")),
      this.groupWritesMs,
    );
    p.timer.unref?.();
  }

  /** PostgresSaver._dumpWrites with the task path appended, without its copies of each blob. */
  private async dumpWrites(threadId: string, checkpointNs: string, checkpointId: string, taskId: string, taskPath: string, writes: PendingWrite[]): Promise<WriteRow[]> {
    const rows: WriteRow[] = [];
    for (let idx = 0; idx < writes.length; idx++) {
      const [channel, value] = writes[idx]!;
      const [type, blob] = await this.serde.dumpsTyped(value);
      rows.push([threadId, checkpointNs, checkpointId, taskId, WRITES_IDX_MAP[channel] ?? idx, channel, type, blob, taskPath]);
    }
    return rows;
  }

  /** Send what `key` has buffered (and `extra`) in one group; buffered writes go back on failure. */
  private async flushKey(key: string, extra: { regular?: WriteRow[]; special?: WriteRow[]; entries: TranscriptEntry[] } = { entries: [] }): Promise<void> {
    await this.inFlight.get(key);
    const buffered = this.takePending(key);
    const regular = buffered ? (extra.regular ? [...buffered.regular, ...extra.regular] : buffered.regular) : (extra.regular ?? []);
    const special = extra.special ?? [];
    const entries = buffered ? [...buffered.entries, ...extra.entries] : extra.entries;
    if (regular.length === 0 && special.length === 0 && entries.length === 0) return;
    const sending = this.group.commit({ writes: regular, special, entries });
    const tracked = sending.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.set(key, tracked);
    try {
      await sending;
    } catch (e) {
      if (buffered) this.restorePending(key, buffered);
      throw e;
    } finally {
      if (this.inFlight.get(key) === tracked) this.inFlight.delete(key);
    }
  }

  private takePending(key: string): PendingWrites | undefined {
    const p = this.pending.get(key);
    if (!p) return undefined;
    this.pending.delete(key);
    if (p.timer) clearTimeout(p.timer);
    delete p.timer;
    return p;
  }

  /** Put writes taken for a statement that failed back in front of any that arrived since (the first row of a key wins). */
  private restorePending(key: string, p: PendingWrites): void {
    const now = this.pending.get(key);
    if (now) {
      now.regular.unshift(...p.regular);
      now.entries.unshift(...p.entries);
    } else this.pending.set(key, { threadId: p.threadId, regular: p.regular, entries: p.entries });
  }

  /** Everything buffered written, and nothing being written: what a read must see first. */
  async flushPending(): Promise<void> {
    if (this.pending.size === 0 && this.inFlight.size === 0) return;
    await Promise.all([...this.pending.keys()].map((k) => this.flushKey(k)));
    await Promise.all([...this.inFlight.values()]);
  }

  override async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    await this.flushPending();
    return super.getTuple(config);
  }

  override async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    await this.flushPending();
    yield* super.list(config, options);
  }

  override async deleteThread(threadId: string): Promise<void> {
    for (const [key, p] of this.pending) if (p.threadId === threadId) this.takePending(key);
    await Promise.all([...this.inFlight.values()]);
    await super.deleteThread(threadId);
  }

  /**
   * PostgresSaver.put in one statement, shared with the checkpoints of other threads ready at the same
   * moment (see GroupCommitter): the writes of the parent checkpoint still buffered (see putWrites) and
   * their transcript rows, the new channel blobs, and the checkpoint row (stock sends BEGIN, one INSERT
   * per blob, the checkpoint, COMMIT, after a transaction per task's writes). Same rows, same
   * serialisation. Resolves once all of it is committed; the writes commit with (or before) the
   * checkpoint that follows them, which is what rebuilding a delta channel needs.
   */
  override async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    if (config.configurable === undefined) throw new Error(`Missing "configurable" field in "config" param`);
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: parentId } = config.configurable as Record<string, string | undefined>;
    const ownKey = threadId !== undefined ? pendingKey(threadId, checkpointNs, checkpoint.id) : undefined;
    let committed: () => void = () => {};
    if (ownKey) this.putting.set(ownKey, new Promise<void>((resolve) => (committed = resolve)));
    try {
      const [blobs, dumpedMetadata] = await Promise.all([this.dumpBlobs(threadId, checkpointNs, checkpoint.channel_values, newVersions), this.dumpMetadata(metadata)]);
      const { channel_values: _values, ...stored } = checkpoint;
      const rows: Rows = {
        blobs,
        checkpoint: { threadId, checkpointNs, checkpointId: checkpoint.id, parentId, checkpoint: JSON.stringify(stored), metadata: dumpedMetadata },
      };
      const parentKey = threadId !== undefined && parentId !== undefined ? pendingKey(threadId, checkpointNs, parentId) : undefined;
      if (parentKey) await this.inFlight.get(parentKey);
      const buffered = parentKey ? this.takePending(parentKey) : undefined;
      if (buffered) {
        rows.writes = buffered.regular;
        rows.entries = buffered.entries;
      }
      // Crash tests kill the process here: the step's writes are only in memory, its checkpoint unsent.
      if (buffered?.regular.length && haltArmed()) await haltPoint("saver.grouped", heldNodes(buffered));
      try {
        await this.group.commit(rows);
      } catch (e) {
        if (parentKey && buffered) this.restorePending(parentKey, buffered);
        throw e;
      }
    } finally {
      if (ownKey) {
        this.putting.delete(ownKey);
        committed();
      }
    }
    return { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpoint.id } };
  }

  /** PostgresSaver._dumpBlobs without its copy of each blob. */
  private async dumpBlobs(threadId: string | undefined, checkpointNs: string, values: Checkpoint["channel_values"], versions: ChannelVersions): Promise<BlobRow[]> {
    const rows: BlobRow[] = [];
    for (const channel in versions) {
      const version = String(versions[channel]);
      if (channel in values) {
        const [type, blob] = await this.serde.dumpsTyped(values[channel]);
        rows.push([threadId, checkpointNs, channel, version, type, blob]);
      } else rows.push([threadId, checkpointNs, channel, version, "empty", undefined]);
    }
    return rows;
  }

  /**
   * PostgresSaver._dumpMetadata as JSON text: stock decodes the serializer's JSON, parses it and pg
   * stringifies it again; the text itself is the same jsonb.
   */
  private async dumpMetadata(metadata: CheckpointMetadata): Promise<string> {
    const [, bytes] = await this.serde.dumpsTyped(metadata);
    const text = decoder.decode(bytes);
    return text.includes("\0") ? text.replace(/\0/g, "") : text;
  }

  /**
   * One statement on the pool. Every statement the saver sends is idempotent (an upsert of the same
   * rows), so when the connection it ran on turns out to be dead (the server or a proxy dropped an idle
   * connection during a long model call: "Connection terminated", "SSL error: bad length", 57P01) it is
   * sent once more, on a fresh connection, instead of failing the run.
   */
  private async send(query: NamedQuery): Promise<void> {
    // A named (prepared) statement: each connection parses and plans each shape once, not every step.
    try {
      await this.db.query(query);
    } catch (e) {
      if (!isConnectionLost(e)) throw e;
      log.warn({ error: (e as Error).message }, "checkpoint write: the connection was lost; sending it again on a new one");
      await this.db.query(query);
    }
  }

  /**
   * What BaseCheckpointSaver.getDeltaChannelHistory returns, in one round trip: walk up from the
   * target's parent; a channel's walk stops at the first ancestor whose blob for it (at that ancestor's
   * version) is not the 'empty' sentinel, which is the seed. Writes come oldest checkpoint first, each
   * checkpoint's in writesSortKey order; the seed checkpoint's own writes are included.
   */
  override async getDeltaChannelHistory(options: { config: RunnableConfig; channels: string[] }): Promise<Record<string, DeltaChannelHistory>> {
    await this.flushPending();
    const { config } = options;
    const channels = [...new Set(options.channels)];
    if (channels.length === 0) return {};
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: checkpointId } = (config.configurable ?? {}) as Record<string, string | undefined>;
    const { rows } = await this.db.query<HistoryRow>(HISTORY_SQL, [threadId, checkpointNs, checkpointId || null, channels]);

    const result: Record<string, DeltaChannelHistory> = {};
    for (const ch of channels) result[ch] = { writes: [] };
    for (const row of rows) {
      const entry = result[row.channel];
      if (!entry) continue;
      const value: unknown = await this.serde.loadsTyped(row.type, row.blob ?? new Uint8Array());
      if (row.kind === "seed") entry.seed = value;
      else entry.writes.push([row.task_id ?? "", row.channel, value] satisfies CheckpointPendingWrite);
    }
    return result;
  }
}

/**
 * $1 thread, $2 namespace, $3 target checkpoint (null: the newest), $4 channels.
 * `wanted` is the set of channels still walking when a checkpoint is reached: that checkpoint's writes
 * to them are collected, and those whose blob there is a real value end their walk with it as seed.
 * Every lookup is a primary-key probe per row (scalar subqueries, LATERAL with OFFSET 0 so the planner
 * cannot flatten it into a join): on a fresh table without statistics the planner otherwise chose join
 * filters over all of a thread's rows, 90 s for one read of a 10,000-checkpoint thread.
 */
const HISTORY_SQL = `
WITH RECURSIVE chain AS (
  SELECT c.checkpoint_id, c.parent_checkpoint_id, c.versions, 1 AS depth, $4::text[] AS wanted
    FROM (SELECT parent_checkpoint_id FROM checkpoints
           WHERE thread_id = $1 AND checkpoint_ns = $2 AND ($3::text IS NULL OR checkpoint_id = $3)
           ORDER BY checkpoint_id DESC LIMIT 1) AS t
   CROSS JOIN LATERAL (
     SELECT p.checkpoint_id, p.parent_checkpoint_id, p.checkpoint -> 'channel_versions' AS versions FROM checkpoints p
      WHERE p.thread_id = $1 AND p.checkpoint_ns = $2 AND p.checkpoint_id = t.parent_checkpoint_id OFFSET 0) AS c
  UNION ALL
  SELECT c.checkpoint_id, c.parent_checkpoint_id, c.versions, ch.depth + 1, left_over.wanted
    FROM chain ch
   CROSS JOIN LATERAL (
     SELECT ARRAY(
       SELECT w FROM unnest(ch.wanted) AS w
        WHERE NOT COALESCE((SELECT b.type <> 'empty' FROM checkpoint_blobs b
                             WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = w AND b.version = ch.versions ->> w), false)
     ) AS wanted) AS left_over
   CROSS JOIN LATERAL (
     SELECT p.checkpoint_id, p.parent_checkpoint_id, p.checkpoint -> 'channel_versions' AS versions FROM checkpoints p
      WHERE p.thread_id = $1 AND p.checkpoint_ns = $2 AND p.checkpoint_id = ch.parent_checkpoint_id OFFSET 0) AS c
   WHERE cardinality(left_over.wanted) > 0
)
SELECT 'seed' AS kind, w AS channel, NULL::text AS task_id, b.type, b.blob, ch.depth, NULL::text AS task_path, NULL::int AS idx
  FROM chain ch
 CROSS JOIN unnest(ch.wanted) AS w
 CROSS JOIN LATERAL (
   SELECT b.type, b.blob FROM checkpoint_blobs b
    WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = w AND b.version = ch.versions ->> w AND b.type <> 'empty' OFFSET 0) AS b
UNION ALL
-- Byte ("C") order of the output columns: UNION's ORDER BY takes column names only.
SELECT 'write', cw.channel, cw.task_id COLLATE "C", cw.type, cw.blob, ch.depth, cw.task_path COLLATE "C", cw.idx
  FROM chain ch
 CROSS JOIN LATERAL (
   SELECT * FROM checkpoint_writes cw
    WHERE cw.thread_id = $1 AND cw.checkpoint_ns = $2 AND cw.checkpoint_id = ch.checkpoint_id AND cw.channel = ANY (ch.wanted) OFFSET 0) AS cw
 ORDER BY depth DESC, task_path, task_id, idx`;
