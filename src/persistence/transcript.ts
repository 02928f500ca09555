// The transcript (waypoint.transcript): every message a thread's `messages` channel was ever given,
// append-only. Checkpoints hold the working state, which summarisation shortens and retention prunes;
// the transcript keeps what was said, for people and audits. WaypointSaver.putWrites fills it.
import { createHash } from "node:crypto";
import { coerceMessageLikeToMessage, mapStoredMessagesToChatMessages, RemoveMessage, type BaseMessage, type BaseMessageLike, type StoredMessage } from "@langchain/core/messages";
import type { PendingWrite } from "@langchain/langgraph-checkpoint";
import type pg from "pg";
import { stableNamespace } from "../tools/index.js";

/** One message to record. */
export interface TranscriptEntry {
  threadId: string;
  /** Graph namespace without task ids: "" for the agent, "provisioning" for a sub-agent. */
  checkpointNs: string;
  messageId: string;
  /** `message.getType()`: "human", "ai", "tool", "system", ... */
  type: string;
  name: string | null;
  toolCallId: string | null;
  /** The message's serialisable form (`toDict()`): `mapStoredMessagesToChatMessages` rebuilds it. */
  message: StoredMessage;
  /** sha256 of `message` as stored: a later edit of the same message id gets its own row. */
  contentHash: string;
  /** LangGraph task that wrote it. */
  taskId: string | null;
}

/** A stored transcript row. */
export interface TranscriptRow {
  seq: number;
  thread_id: string;
  checkpoint_ns: string;
  message_id: string;
  type: string;
  name: string | null;
  tool_call_id: string | null;
  message: StoredMessage;
  content_hash: string;
  task_id: string | null;
  created_at: Date;
}

/** Anything that runs a query: the pool, or a client inside a transaction. */
type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/**
 * The value an `Overwrite` carries, in each form LangGraph accepts (the class, its wire form, and the
 * discriminator form); LangGraph's own helper for this is internal, so it is repeated here.
 */
function overwritten(value: unknown): [true, unknown] | [false, undefined] {
  if (typeof value !== "object" || value === null) return [false, undefined];
  if ("__overwrite__" in value) return [true, (value as { __overwrite__: unknown }).__overwrite__];
  const rec = value as { type?: unknown; value?: unknown };
  if (rec.type === "__overwrite__" && "value" in rec) return [true, rec.value];
  return [false, undefined];
}

/**
 * Messages in one write to a messages channel: a message, a list, or an Overwrite of a list. Removals are
 * not messages (the transcript keeps what was said); anything that is not a message is skipped.
 */
export function messagesInWrite(value: unknown): BaseMessage[] {
  const [isOverwrite, inner] = overwritten(value);
  const v = isOverwrite ? inner : value;
  const items: unknown[] = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  const out: BaseMessage[] = [];
  for (const item of items) {
    let message: BaseMessage;
    try {
      message = coerceMessageLikeToMessage(item as BaseMessageLike);
    } catch {
      continue;
    }
    if (RemoveMessage.isInstance(message)) continue;
    out.push(message);
  }
  return out;
}

// jsonb cannot hold \u0000; drop it from strings (the checkpoint's metadata does the same).
const withoutNul = (_key: string, v: unknown) => (typeof v === "string" && v.includes("\0") ? v.replace(/\0/g, "") : v);

/** One entry for a message, or undefined when it has no id (the reducer cannot address it either). */
export function transcriptEntry(message: BaseMessage, at: { threadId: string; checkpointNs: string; taskId: string | null }): TranscriptEntry | undefined {
  if (!message.id) return undefined;
  const json = JSON.stringify(message.toDict(), withoutNul);
  const stored = JSON.parse(json) as StoredMessage;
  const toolCallId = (message as { tool_call_id?: unknown }).tool_call_id;
  return {
    threadId: at.threadId,
    checkpointNs: at.checkpointNs,
    messageId: message.id,
    type: message.getType(),
    name: message.name ?? null,
    toolCallId: typeof toolCallId === "string" ? toolCallId : null,
    message: stored,
    contentHash: createHash("sha256").update(json).digest("hex"),
    taskId: at.taskId,
  };
}

/**
 * Entries for every message in `writes` that goes to one of `channels`. `checkpointNs` is the saver's
 * (the graph's own namespace, "sub:task-id" for a subgraph); task ids are stripped from it so that the
 * rows of a sub-agent are found under one name. Returns the entries and how many messages had no id.
 */
export function transcriptEntries(opts: {
  threadId: string;
  checkpointNs: string | undefined;
  taskId: string | null;
  writes: PendingWrite[];
  channels: ReadonlySet<string>;
}): { entries: TranscriptEntry[]; withoutId: number } {
  const at = { threadId: opts.threadId, checkpointNs: stableNamespace(opts.checkpointNs), taskId: opts.taskId };
  const entries: TranscriptEntry[] = [];
  let withoutId = 0;
  for (const [channel, value] of opts.writes) {
    if (!opts.channels.has(channel)) continue;
    for (const message of messagesInWrite(value)) {
      const entry = transcriptEntry(message, at);
      if (entry) entries.push(entry);
      else withoutId++;
    }
  }
  return { entries, withoutId };
}

/**
 * Append entries in one statement. A message already recorded with the same content (a task that ran
 * again, the same message written twice) is skipped. Returns the number of rows added.
 */
export async function appendTranscript(db: Queryable, entries: readonly TranscriptEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const { sql, values } = transcriptInsert(entries);
  const { rowCount } = await db.query(sql, values);
  return rowCount ?? 0;
}

/**
 * The INSERT appendTranscript sends, with its parameters numbered from `$${firstParam}` (so a caller
 * can put it in one statement with others, as the saver does with a step's writes).
 */
export function transcriptInsert(entries: readonly TranscriptEntry[], firstParam = 1): { sql: string; values: unknown[] } {
  const cols = 9;
  const values: unknown[] = [];
  const tuples = entries.map((e, i) => {
    values.push(e.threadId, e.checkpointNs, e.messageId, e.type, e.name, e.toolCallId, JSON.stringify(e.message), e.contentHash, e.taskId);
    const b = firstParam - 1 + i * cols;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}::jsonb, $${b + 8}, $${b + 9})`;
  });
  return {
    sql: `INSERT INTO waypoint.transcript (thread_id, checkpoint_ns, message_id, type, name, tool_call_id, message, content_hash, task_id)
     VALUES ${tuples.join(", ")}
     ON CONFLICT (thread_id, checkpoint_ns, message_id, content_hash) DO NOTHING`,
    values,
  };
}

export interface ReadTranscriptOptions {
  /** Only rows after this sequence number (to page on, or to follow a thread). */
  afterSeq?: number;
  /** At most this many rows (default: all). */
  limit?: number;
}

/** A thread's transcript in the order it was written (sub-agents included). */
export async function readTranscript(db: Queryable, threadId: string, opts: ReadTranscriptOptions = {}): Promise<TranscriptRow[]> {
  const { rows } = await db.query<Omit<TranscriptRow, "seq"> & { seq: string }>(
    `SELECT * FROM waypoint.transcript WHERE thread_id = $1 AND seq > $2 ORDER BY seq ${opts.limit !== undefined ? "LIMIT $3" : ""}`,
    opts.limit !== undefined ? [threadId, opts.afterSeq ?? 0, opts.limit] : [threadId, opts.afterSeq ?? 0],
  );
  // bigserial comes back as a string; a transcript will not reach 2^53 rows.
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}

/** Rebuild the messages of transcript rows. */
export function transcriptMessages(rows: readonly TranscriptRow[]): BaseMessage[] {
  return mapStoredMessagesToChatMessages(rows.map((r) => r.message));
}
