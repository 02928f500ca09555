// Storage and read latency of thread state. (a) Bytes after 50-300 steps that each append one ~750-byte
// AIMessage: LangGraph's MessagesValue on a stock PostgresSaver (the whole list rewritten every step)
// against Waypoint's default, MessagesDeltaValue on WaypointSaver (deltas plus a snapshot every 100
// updates), also pruned to 50 checkpoints after each batch. (b) getState latency on one thread with
// 10,000 checkpoints, before and after pruneThread(keep=50), with WaypointSaver's one-query
// getDeltaChannelHistory and with stock PostgresSaver's ancestor walk.
// Run: npm run bench:storage   (DATABASE_URL or embedded Postgres; works in scratch databases)
import { performance } from "node:perf_hooks";
import { AIMessage, HumanMessage, RemoveMessage } from "@langchain/core/messages";
import { END, MessagesDeltaValue, MessagesValue, START, StateGraph, StateSchema } from "@langchain/langgraph";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { z } from "zod";
import { openDatabase, type Database } from "../src/db/index.js";
import { compactionUpdate, planCompaction, summariseMessages } from "../src/memory/summarise.js";
import { createPersistence, pruneThread } from "../src/persistence/index.js";
import { countStatements, summarise, withScratchDatabase } from "./support.js";

const SIZES = [50, 100, 200, 300];
const LONG_THREAD = 10_000;
const READS = 50;
const PRUNE_KEEP = 50;
/** The agent node's default summarisation threshold (WAYPOINT_SUMMARY_TOKENS). */
const SUMMARY_TOKENS = 8000;

// Every statement sent through any pg client in this process is counted.
const statements = countStatements();

/** ~750 bytes of prose-like text that differs per step (a seeded generator: the same on every run). */
function text(n: number): string {
  const words = (
    "the a to of and for in on with from by at as is was be are were has had not this that it its booking flight hotel Lisbon Porto " +
    "Madrid traveller policy limit approved rejected budget fare seat room night check availability confirmed pending request manager " +
    "receipt invoice refund change date time morning evening airport transfer loyalty number tool call result error retry search option " +
    "price total euro per cheaper earlier later direct connection baggage meal window aisle invoice cost centre project code approval"
  ).split(" ");
  // mulberry32
  let seed = (n + 1) * 0x9e3779b1;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let s = `Step ${n}: `;
  while (s.length < 750) s += `${words[Math.floor(rand() * words.length)]}${rand() < 0.08 ? `. ${Math.floor(rand() * 1000)}` : ""} `;
  return s.slice(0, 750);
}

type Field = typeof MessagesValue | typeof MessagesDeltaValue;

/**
 * One node that appends a message per step until `target`; with `window`, it also removes the oldest
 * message beyond that many (what summarisation does to a long conversation, roughly).
 */
function appender(messages: Field, window = 0, summaryTokens = 0) {
  const State = new StateSchema({ messages, n: z.number().default(0), target: z.number().default(0) });
  type S = typeof State.State;
  return new StateGraph(State)
    .addNode("step", async (s: S) => {
      const add = new AIMessage({ id: `m${s.n}`, content: text(s.n) });
      // What the agent node does past WAYPOINT_SUMMARY_TOKENS: older messages leave state for a summary.
      const plan = summaryTokens > 0 ? planCompaction(s.messages, { maxTokens: summaryTokens, keepRecent: 12 }) : null;
      if (plan) return { messages: [...compactionUpdate(plan, await summariseMessages(plan.remove, { maxChars: summaryTokens })), add], n: s.n + 1 };
      const drop = window > 0 && s.messages.length >= window ? [new RemoveMessage({ id: s.messages[0]!.id! })] : [];
      return { messages: [...drop, add], n: s.n + 1 };
    })
    .addEdge(START, "step")
    .addConditionalEdges("step", (s: S) => (s.n >= s.target ? END : "step"), ["step", END]);
}

interface Sizes {
  checkpoints: number;
  raw: number;
  /** Raw bytes of message-list values stored whole (every blob for MessagesValue; snapshots for the delta channel). */
  snapshots: number;
  disk: number;
  transcriptRaw: number | null;
  transcriptDisk: number | null;
}

async function sizes(pool: pg.Pool, withTranscript: boolean): Promise<Sizes> {
  const { rows } = await pool.query<Record<string, string | null>>(
    `SELECT (SELECT count(*) FROM checkpoints) AS checkpoints,
            (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs)
          + (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_writes)
          + (SELECT coalesce(sum(octet_length(checkpoint::text)), 0) FROM checkpoints) AS raw,
            (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs WHERE channel = 'messages' AND type <> 'empty') AS snapshots,
            pg_total_relation_size('checkpoints') + pg_total_relation_size('checkpoint_blobs') + pg_total_relation_size('checkpoint_writes') AS disk,
            ${withTranscript ? "(SELECT coalesce(sum(octet_length(message::text)), 0) FROM waypoint.transcript)" : "NULL"} AS transcript_raw,
            ${withTranscript ? "pg_total_relation_size('waypoint.transcript')" : "NULL"} AS transcript_disk`,
  );
  const r = rows[0] ?? {};
  const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return { checkpoints: Number(r.checkpoints), raw: Number(r.raw), snapshots: Number(r.snapshots), disk: Number(r.disk), transcriptRaw: num(r.transcript_raw), transcriptDisk: num(r.transcript_disk) };
}

const mb = (bytes: number | null) => (bytes === null ? "-" : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

interface Variant {
  name: string;
  field: Field;
  waypoint: boolean;
  prune: boolean;
  /** Summarise past this many estimated tokens, as the agent node does (0: never). */
  summaryTokens?: number;
}

/** Grow one thread through SIZES in a scratch database, measuring after each batch. */
async function grow(v: Variant): Promise<Map<number, Sizes>> {
  return withScratchDatabase("bench_storage", async (scratch) => {
    const db: Database = await openDatabase({ url: scratch.url, poolMax: 4 });
    const persistence = v.waypoint ? await createPersistence(db) : undefined;
    const out = new Map<number, Sizes>();
    try {
      let saver: BaseCheckpointSaver;
      if (persistence) saver = persistence.saver;
      else {
        const stock = new PostgresSaver(db.pool);
        await stock.setup();
        saver = stock;
      }
      const graph = appender(v.field, 0, v.summaryTokens ?? 0).compile({ checkpointer: saver });
      const config = { configurable: { thread_id: "t" }, durability: "sync" as const, recursionLimit: 1_000 };
      let first = true;
      for (const target of SIZES) {
        await graph.invoke(first ? { messages: [new HumanMessage({ id: "u", content: "Book the Lisbon trip." })], target } : { target }, config);
        first = false;
        if (v.prune) {
          await pruneThread(db.pool, "t", { keep: PRUNE_KEEP });
          await db.pool.query("VACUUM checkpoints, checkpoint_blobs, checkpoint_writes");
        }
        out.set(target, await sizes(db.pool, v.waypoint));
      }
    } finally {
      // Closes the memory store's own pool too.
      await (persistence ?? db).close();
    }
    return out;
  });
}

async function storageTable(): Promise<void> {
  const variants: Variant[] = [
    { name: "MessagesValue + stock PostgresSaver", field: MessagesValue, waypoint: false, prune: false },
    { name: "Waypoint default: MessagesDeltaValue + WaypointSaver", field: MessagesDeltaValue, waypoint: true, prune: false },
    { name: `same, pruned to ${PRUNE_KEEP} after each batch`, field: MessagesDeltaValue, waypoint: true, prune: true },
    { name: `same, summarised past ${SUMMARY_TOKENS} tokens (the agent node's default)`, field: MessagesDeltaValue, waypoint: true, prune: false, summaryTokens: SUMMARY_TOKENS },
  ];
  const results = new Map<string, Map<number, Sizes>>();
  for (const v of variants) results.set(v.name, await grow(v));
  const stock = results.get(variants[0]!.name)!;

  console.log(`\n(a) Checkpoint storage of one thread, each step appending one ~750-byte AIMessage (durability "sync")\n`);
  console.log("raw = bytes of checkpoint blobs + write blobs + checkpoint jsonb; on disk = pg_total_relation_size of the three tables (TOAST, indexes).");
  console.log("x = times smaller than the stock row. The transcript holds every message once, outside checkpoints.\n");
  console.log("| steps | variant | checkpoints | raw | x raw | on disk | x disk | transcript raw / on disk |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const n of SIZES) {
    const base = stock.get(n)!;
    for (const v of variants) {
      const s = results.get(v.name)!.get(n)!;
      const transcript = s.transcriptRaw === null ? "-" : `${mb(s.transcriptRaw)} / ${mb(s.transcriptDisk)}`;
      console.log(
        `| ${n} | ${v.name} | ${s.checkpoints} | ${mb(s.raw)} | ${(base.raw / s.raw).toFixed(1)} | ${mb(s.disk)} | ${(base.disk / s.disk).toFixed(1)} | ${transcript} |`,
      );
    }
  }
  console.log("\nGrowth per step (raw bytes added per appended message, between the sizes above):\n");
  console.log(`| variant | ${SIZES.slice(1).map((n, i) => `${SIZES[i]}->${n}`).join(" | ")} |`);
  console.log(`|---|${SIZES.slice(1).map(() => "---").join("|")}|`);
  for (const v of variants) {
    const r = results.get(v.name)!;
    console.log(`| ${v.name} | ${SIZES.slice(1).map((n, i) => mb((r.get(n)!.raw - r.get(SIZES[i]!)!.raw) / (n - SIZES[i]!))).join(" | ")} |`);
  }
  const wp = results.get(variants[1]!.name)!;
  const split = SIZES.map((n) => `${n}: ${mb(wp.get(n)!.raw - wp.get(n)!.snapshots)} + ${mb(wp.get(n)!.snapshots)}`).join(", ");
  console.log(`\nWaypoint default, raw = deltas and checkpoints + snapshots of the whole list (one per 100 updates): ${split}.`);
  console.log("The first part grows linearly; each snapshot holds every message so far, so snapshots add up to n^2/100 messages until a prune deletes the old ones.");
}

interface Latency {
  label: string;
  ms: number[];
  sql: number[];
}

async function readLatency(label: string, read: () => Promise<unknown>): Promise<Latency> {
  const out: Latency = { label, ms: [], sql: [] };
  for (let i = -5; i < READS; i++) {
    const before = statements();
    const t0 = performance.now();
    await read();
    if (i < 0) continue;
    out.ms.push(performance.now() - t0);
    out.sql.push(statements() - before);
  }
  return out;
}

async function latencyTable(): Promise<void> {
  await withScratchDatabase("bench_storage_long", async (scratch) => {
    const persistence = await createPersistence(await openDatabase({ url: scratch.url, poolMax: 4 }));
    const { db, saver } = persistence;
    try {
      const stock = new PostgresSaver(db.pool);
      // The conversation is kept to 50 messages (older ones removed), as summarisation would keep it.
      const builder = appender(MessagesDeltaValue, 50);
      const ours = builder.compile({ checkpointer: saver });
      const theirs = builder.compile({ checkpointer: stock });
      const config = { configurable: { thread_id: "long" } };
      const t0 = performance.now();
      // Stop mid-way between two snapshots (every 100 updates), so a read replays ~50 writes.
      const steps = LONG_THREAD - 2 - 50;
      await ours.invoke({ messages: [new HumanMessage({ id: "u", content: "Keep going." })], target: steps }, { ...config, durability: "sync", recursionLimit: LONG_THREAD + 10 });
      const buildS = (performance.now() - t0) / 1000;
      const count = async () => Number((await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM checkpoints WHERE thread_id = 'long'")).rows[0]?.n);
      const replay = (await saver.getDeltaChannelHistory({ config: { configurable: { thread_id: "long", checkpoint_ns: "" } }, channels: ["messages"] })).messages?.writes.length;

      const rows: { when: string; checkpoints: number; results: Latency[] }[] = [];
      const measure = async (when: string) => {
        // Statistics as autovacuum would have them. Without any (a fresh table), the planner picks join
        // filters over the whole thread for PostgresSaver's blob join: stock getState took ~630 ms here.
        await db.pool.query("ANALYZE checkpoints, checkpoint_blobs, checkpoint_writes");
        const results = [
          await readLatency("WaypointSaver (one-query history)", () => ours.getState(config)),
          await readLatency("stock PostgresSaver (getTuple per ancestor)", () => theirs.getState(config)),
        ];
        rows.push({ when, checkpoints: await count(), results });
      };
      await measure("before pruning");
      const p0 = performance.now();
      const pruned = await pruneThread(db.pool, "long", { keep: PRUNE_KEEP });
      const pruneMs = performance.now() - p0;
      await measure(`after pruneThread(keep=${PRUNE_KEEP})`);

      console.log(`\n(b) getState on one thread of ${rows[0]?.checkpoints.toLocaleString("en")} checkpoints (built in ${buildS.toFixed(0)} s), ${READS} reads each after 5 warm-up reads; the newest checkpoint replays ${replay} message writes since its snapshot; statistics fresh (ANALYZE)\n`);
      console.log(`| thread | checkpoints | saver | getState ms median | p95 | SQL round trips |`);
      console.log("|---|---|---|---|---|---|");
      for (const r of rows) {
        for (const l of r.results) {
          const s = summarise(l.ms);
          console.log(`| ${r.when} | ${r.checkpoints} | ${l.label} | ${s.median.toFixed(2)} | ${s.p95.toFixed(2)} | ${summarise(l.sql).median} |`);
        }
      }
      console.log(
        `\npruneThread(keep=${PRUNE_KEEP}) took ${pruneMs.toFixed(0)} ms: deleted ${pruned.checkpoints} checkpoints, ${pruned.writes} writes, ${pruned.blobs} blobs; kept ${pruned.kept} (${pruned.keptForReplay} of them for delta replay).`,
      );
      // Both savers rebuild the same state.
      const a = (await ours.getState(config)).values.messages.length;
      const b = (await theirs.getState(config)).values.messages.length;
      if (a !== b) throw new Error(`savers disagree: ${a} vs ${b} messages`);
    } finally {
      await persistence.close();
    }
  });
}

async function main() {
  await storageTable();
  await latencyTable();
}

await main();
