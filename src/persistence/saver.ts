// WaypointSaver: PostgresSaver (same tables, same serialisation, a stock PostgresSaver reads what it
// writes) with three changes for delta channels (MessagesDeltaValue):
//  - writes keep their task path (column checkpoint_writes.task_path, added by setup()) and are read
//    back in LangGraph's writesSortKey order (task_path, task_id, idx). Stock PostgresSaver 1.0.5 drops
//    the path and orders by task_id, so messages written by parallel nodes in one super-step come back
//    in a random order when a DeltaChannel is rebuilt (measured: live "abcdefgh", reloaded "dfbchega");
//  - getDeltaChannelHistory is one SQL round trip (a recursive walk up parent_checkpoint_id) instead of
//    one getTuple per ancestor (up to 100 of them);
//  - every message written to a messages channel is appended to waypoint.transcript, atomically with
//    the write itself.
import {
  WRITES_IDX_MAP,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type DeltaChannelHistory,
  type PendingWrite,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { RunnableConfig } from "@langchain/core/runnables";
import type pg from "pg";
import { log } from "../log.js";
import { createHash } from "node:crypto";
import { isConnectionLost } from "../db/pool.js";
import { transcriptEntries, transcriptInsert } from "./transcript.js";

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
}

/** The order stock PostgresSaver reads a checkpoint's writes in, and the order LangGraph applies them in. */
const STOCK_WRITES_ORDER = "order by cw.task_id, cw.idx)";
// Byte order ("C") of UTF-8 text is code point order, which is what compareWritesSortKeys uses.
const WRITES_ORDER = `order by cw.task_path COLLATE "C", cw.task_id COLLATE "C", cw.idx)`;

const statementNames = new Map<string, string>();

/** A stable name per statement text (the text depends only on how many rows a step writes). */
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `wp_${createHash("sha1").update(sql).digest("hex").slice(0, 16)}`;
    if (statementNames.size < 1000) statementNames.set(sql, name);
  }
  return name;
}

/** Stock SELECT_SQL's channel_values join (group 1: the blobs table as stock names it). */
const CHANNEL_VALUES_JOIN = /from jsonb_each_text\(checkpoint -> 'channel_versions'\)\s+inner join (\S+) bl\s+on bl\.thread_id = cp\.thread_id\s+and bl\.checkpoint_ns = cp\.checkpoint_ns\s+and bl\.channel = jsonb_each_text\.key\s+and bl\.version = jsonb_each_text\.value\s+\) as channel_values/;

/** Columns of one checkpoint_writes row as the saver inserts them, task path last. */
type WriteRow = [string, string, string, string, number, string, string, Uint8Array, string];

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

  constructor(pool: pg.Pool, opts: WaypointSaverOptions = {}) {
    super(pool, opts.serde);
    this.db = pool;
    this.transcriptChannels = new Set(opts.transcriptChannels ?? ["messages"]);
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
   * PostgresSaver.putWrites with the task path stored, in one statement (stock: one per write), and the
   * messages among the writes appended to the transcript in the same transaction.
   */
  override async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    if (writes.length === 0) return;
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: checkpointId } = (config.configurable ?? {}) as Record<string, string | undefined>;
    if (threadId === undefined || checkpointId === undefined) throw new Error("WaypointSaver.putWrites: config.configurable needs thread_id and checkpoint_id");
    // Special writes (errors, interrupts, resumes) replace an earlier one; others keep the first.
    const upsert = writes.every((w) => w[0] in WRITES_IDX_MAP);
    const dumped = await this._dumpWrites(threadId, checkpointNs, checkpointId, taskId, writes);
    // One statement cannot touch a row twice: keep the write a row-by-row insert would have left.
    const byIdx = new Map<number, WriteRow>();
    for (const d of dumped) if (upsert || !byIdx.has(d[4])) byIdx.set(d[4], [...d, taskPath]);
    const rows = [...byIdx.values()];
    const { entries, withoutId } = transcriptEntries({ threadId, checkpointNs, taskId, writes, channels: this.transcriptChannels });
    if (withoutId > 0) log.debug({ threadId, taskId, withoutId }, "messages without an id were not added to the transcript");

    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(...r);
      const b = i * 9;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`;
    });
    const insert = `INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
      VALUES ${tuples.join(", ")}
      ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) ${
        upsert ? "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob, task_path = EXCLUDED.task_path" : "DO NOTHING"
      }`;
    if (entries.length === 0) {
      await this.send(insert, values);
      return;
    }
    // The writes and their messages in one statement: one round trip, one commit, both or neither.
    const transcript = transcriptInsert(entries, values.length + 1);
    await this.send(`WITH step_writes AS (${insert}) ${transcript.sql}`, [...values, ...transcript.values]);
  }

  /**
   * PostgresSaver.put in one statement: the new channel blobs and the checkpoint row together (stock
   * sends BEGIN, one INSERT per blob, the checkpoint, COMMIT). Same rows, same serialisation.
   */
  override async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    if (config.configurable === undefined) throw new Error(`Missing "configurable" field in "config" param`);
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: parentId } = config.configurable as Record<string, string | undefined>;
    const self = this as unknown as StockInternals;
    const [blobs, dumpedMetadata] = await Promise.all([self._dumpBlobs(threadId, checkpointNs, checkpoint.channel_values, newVersions), self._dumpMetadata(metadata)]);
    const values: unknown[] = [threadId, checkpointNs, checkpoint.id, parentId, self._dumpCheckpoint(checkpoint), dumpedMetadata];
    const upsertCheckpoint = `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata`;
    if (blobs.length === 0) await this.send(upsertCheckpoint, values);
    else {
      const tuples = blobs.map((b) => {
        const at = values.length;
        values.push(...b);
        return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6})`;
      });
      await this.send(
        `WITH step_blobs AS (INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) VALUES ${tuples.join(", ")}
           ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING)
         ${upsertCheckpoint}`,
        values,
      );
    }
    return { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpoint.id } };
  }

  /**
   * One statement on the pool. Every statement the saver sends is idempotent (an upsert of the same
   * rows), so when the connection it ran on turns out to be dead (the server or a proxy dropped an idle
   * connection during a long model call: "Connection terminated", "SSL error: bad length", 57P01) it is
   * sent once more, on a fresh connection, instead of failing the run.
   */
  private async send(sql: string, values: unknown[]): Promise<void> {
    // A named (prepared) statement: each connection parses and plans each shape once, not every step.
    const query = { name: statementName(sql), text: sql, values };
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
