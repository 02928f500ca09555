// Read paths on a long thread: one thread with 10,000 checkpoints (plus 200 short threads, so the
// tables are not one thread's), ANALYZEd. For each read the saver makes — getTuple (newest and by id),
// list with a limit, list with `before`, list with a metadata filter, and WaypointSaver's one-query
// getDeltaChannelHistory — the statements it sends are captured (by wrapping pool.query) and run
// again under EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON): no plan node may be a Seq Scan on checkpoints,
// checkpoint_blobs or checkpoint_writes, and the reads return the right checkpoints. The plans are
// printed for the record (rows and buffers, no timing; nothing here asserts on time).
//
// The thread is built with saver.put/putWrites directly (a graph loop takes ~100 s for 10,000 steps):
// each checkpoint has a counter channel (a real blob), a delta messages channel (the 'empty' sentinel,
// a DeltaSnapshot seed every 100 checkpoints as MessagesDeltaValue does by default) and one message
// write from a task, like one super-step of an agent.
//
// Two findings are recorded here rather than hidden:
//  - list() without checkpoint_ns (every namespace of a thread) cannot use the primary key
//    (thread_id, checkpoint_ns, checkpoint_id) for its ORDER BY checkpoint_id: Postgres reads all of
//    the thread's checkpoints and sorts them (here a Seq Scan, as the thread is 83% of the table).
//    LangGraph never reads that way (getStateHistory and replay always pass checkpoint_ns, "" by
//    default), so it is printed but not asserted.
//  - the channel_values subquery of PostgresSaver 1.0.5's SELECT_SQL joins jsonb_each_text(channel_versions)
//    to checkpoint_blobs; the planner estimates a thread's blobs from the average thread and hash-joins
//    ALL of the thread's blobs (20,000 rows, ~20,000 buffers) for every checkpoint it returns. Not a Seq
//    Scan, but linear in thread length per read. WaypointSaver rewrites it into a lateral primary-key
//    probe per channel; the test below holds every scan to a bounded number of rows per loop.
import { AIMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { BaseCheckpointSaver, DeltaSnapshot, isDeltaSnapshot, uuid6, type Checkpoint, type CheckpointTuple } from "@langchain/langgraph-checkpoint";
import type pg from "pg";
import { openPersistence, WaypointSaver, type Persistence } from "../src/persistence/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

const N = 10_000;
const SNAPSHOT_EVERY = 100;
const NOISE_THREADS = 200;
const NOISE_LENGTH = 10;
const THREAD = "long";
const TABLES = new Set(["checkpoints", "checkpoint_blobs", "checkpoint_writes"]);

let db: TestDatabase;
let persistence: Persistence;
let pool: pg.Pool;
/** Our own instance: persistence.saver is a stock PostgresSaver when WAYPOINT_SAVER=stock. */
let saver: WaypointSaver;
/** The long thread's checkpoint ids, oldest first. */
let ids: string[];

const cfg = (thread_id: string, checkpoint_id?: string): RunnableConfig => ({ configurable: { thread_id, checkpoint_ns: "", ...(checkpoint_id ? { checkpoint_id } : {}) } });
const messageId = (threadId: string, i: number) => `${threadId}-m${i}`;

/** Checkpoint i of a thread whose ids are `chain`, and its one message write. */
async function writeStep(threadId: string, chain: string[], i: number): Promise<void> {
  const seed = i % SNAPSHOT_EVERY === 0;
  const checkpoint: Checkpoint = {
    v: 4,
    id: chain[i]!,
    ts: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    channel_values: { counter: i, ...(seed ? { messages: new DeltaSnapshot([new AIMessage({ id: `${threadId}-seed${i}`, content: `seed ${i}` })]) } : {}) },
    channel_versions: { counter: i + 1, messages: i + 1 },
    versions_seen: { agent: { counter: i } },
  };
  const metadata = { source: i === 0 ? ("input" as const) : ("loop" as const), step: i - 1, parents: {} };
  const parent = cfg(threadId, i > 0 ? chain[i - 1] : undefined);
  const stored = await saver.put(parent, checkpoint, metadata, { counter: i + 1, messages: i + 1 });
  await saver.putWrites(stored, [["messages", [new AIMessage({ id: messageId(threadId, i), content: `step ${i}` })]]], `task-${i}`, `~__pregel_pull, agent`);
}

/** Run `jobs` with at most `width` in flight. */
async function inParallel(jobs: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

function newIds(n: number): string[] {
  const out = Array.from({ length: n }, () => uuid6(-1)).sort();
  expect(new Set(out).size).toBe(n);
  return out;
}

beforeAll(async () => {
  db = await freshDatabase("readpaths");
  persistence = await openPersistence({ url: db.url, poolMax: 8 });
  pool = persistence.db.pool;
  saver = new WaypointSaver(pool);
  const started = Date.now();
  ids = newIds(N);
  const jobs = ids.map((_, i) => () => writeStep(THREAD, ids, i));
  for (let t = 0; t < NOISE_THREADS; t++) {
    const chain = newIds(NOISE_LENGTH);
    for (let i = 0; i < NOISE_LENGTH; i++) jobs.push(() => writeStep(`noise-${t}`, chain, i));
  }
  await inParallel(jobs, 8);
  await pool.query("ANALYZE checkpoints, checkpoint_blobs, checkpoint_writes");
  const { rows } = await pool.query<{ relname: string; n: string }>(
    "SELECT relname, n_live_tup::text AS n FROM pg_stat_user_tables WHERE relname = ANY ($1) ORDER BY relname",
    [[...TABLES]],
  );
  console.log(`built ${N} + ${NOISE_THREADS}x${NOISE_LENGTH} checkpoints in ${Date.now() - started} ms; rows: ${rows.map((r) => `${r.relname}=${r.n}`).join(", ")}`);
}, 120_000);
afterAll(async () => {
  await persistence?.close();
  await db?.drop();
});

interface Captured {
  text: string;
  values: unknown[];
}

/** Every statement `fn` sends through the pool. */
async function capture<T>(fn: () => Promise<T>): Promise<{ result: T; statements: Captured[] }> {
  const statements: Captured[] = [];
  const original = pool.query;
  pool.query = function (this: pg.Pool, ...args: unknown[]) {
    const [q, v] = args as [string | { text: string; values?: unknown[] }, unknown[] | undefined];
    if (typeof q === "string") statements.push({ text: q, values: v ?? [] });
    else statements.push({ text: q.text, values: q.values ?? v ?? [] });
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof pool.query;
  try {
    return { result: await fn(), statements };
  } finally {
    pool.query = original;
  }
}

const all = async <T>(gen: AsyncGenerator<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
};
const idsOf = (tuples: CheckpointTuple[]) => tuples.map((t) => t.checkpoint.id);

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

interface Scan {
  node: string;
  rowsPerLoop: number;
  text: string;
}

/** EXPLAIN ANALYZE every captured statement; the scans of the checkpoint tables, printed per statement. */
async function explain(label: string, statements: Captured[]): Promise<Scan[]> {
  expect(statements.length).toBeGreaterThan(0);
  const scans: Scan[] = [];
  const lines: string[] = [];
  for (const s of statements) {
    const { rows } = await pool.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${s.text}`, s.values);
    const root = rows[0]!["QUERY PLAN"][0].Plan;
    const buffers = (root["Shared Hit Blocks"] ?? 0) + (root["Shared Read Blocks"] ?? 0);
    lines.push(`${s.text.replace(/\s+/g, " ").trim().slice(0, 70)}... -> ${buffers} buffers`);
    for (const n of nodes(root)) {
      const table = n["Relation Name"];
      if (!table || !TABLES.has(table)) continue;
      const text = `${n["Node Type"]} on ${table}${n["Index Name"] ? ` using ${n["Index Name"]}` : ""}: ${n["Actual Rows"]} rows x ${n["Actual Loops"]} loops`;
      scans.push({ node: n["Node Type"], rowsPerLoop: n["Actual Rows"] ?? 0, text });
      lines.push(`  ${text}`);
    }
  }
  console.log(`[${label}]\n${lines.join("\n")}`);
  return scans;
}

describe(`a thread with ${N} checkpoints`, () => {
  /** Reads to EXPLAIN; `asserted: false` ones are printed only (see the header). */
  const reads: { label: string; statements: Captured[]; asserted: boolean }[] = [];
  const record = (label: string, statements: Captured[], asserted = true) => reads.push({ label, statements, asserted });

  test("getTuple: the newest, and one by id", async () => {
    const latest = await capture(() => saver.getTuple(cfg(THREAD)));
    expect(latest.result?.checkpoint.id).toBe(ids[N - 1]);
    expect(latest.result?.parentConfig?.configurable?.checkpoint_id).toBe(ids[N - 2]);
    expect(latest.result?.checkpoint.channel_values.counter).toBe(N - 1);
    expect(latest.result?.pendingWrites?.map((w) => (w[2] as AIMessage[])[0]?.id)).toEqual([messageId(THREAD, N - 1)]);
    record("getTuple latest", latest.statements);

    const mid = await capture(() => saver.getTuple(cfg(THREAD, ids[5000])));
    expect(mid.result?.checkpoint.id).toBe(ids[5000]);
    expect(mid.result?.parentConfig?.configurable?.checkpoint_id).toBe(ids[4999]);
    expect(mid.result?.checkpoint.channel_values.counter).toBe(5000);
    expect(isDeltaSnapshot(mid.result?.checkpoint.channel_values.messages)).toBe(true);
    expect(mid.result?.metadata?.step).toBe(4999);
    record("getTuple by id", mid.statements);
  });

  test("list: limit returns the newest, before returns the older ones", async () => {
    const newest = await capture(() => all(saver.list(cfg(THREAD), { limit: 5 })));
    expect(idsOf(newest.result)).toEqual(ids.slice(N - 5).reverse());
    expect(newest.result.map((t) => t.checkpoint.channel_values.counter)).toEqual([N - 1, N - 2, N - 3, N - 4, N - 5]);
    record("list limit 5", newest.statements);

    const before = await capture(() => all(saver.list(cfg(THREAD), { before: cfg(THREAD, ids[5000]), limit: 10 })));
    expect(idsOf(before.result)).toEqual(ids.slice(4990, 5000).reverse());
    record("list before (limit 10)", before.statements);

    // `before` without a limit: every older checkpoint, newest first.
    const oldest = await capture(() => all(saver.list(cfg(THREAD), { before: cfg(THREAD, ids[25]) })));
    expect(idsOf(oldest.result)).toEqual(ids.slice(0, 25).reverse());
    record("list before (no limit)", oldest.statements);

    const filtered = await capture(() => all(saver.list(cfg(THREAD), { filter: { source: "loop" }, limit: 3 })));
    expect(idsOf(filtered.result)).toEqual(ids.slice(N - 3).reverse());
    record("list filter + limit 3", filtered.statements);

    // Every namespace of the thread (no checkpoint_ns): right answer, plan printed only (see header).
    const anyNs = await capture(() => all(saver.list({ configurable: { thread_id: THREAD } }, { limit: 5 })));
    expect(idsOf(anyNs.result)).toEqual(ids.slice(N - 5).reverse());
    record("list limit 5, no checkpoint_ns", anyNs.statements, false);

    // A thread that is not there, and a `before` past the first checkpoint.
    expect(await all(saver.list(cfg("no-such-thread"), { limit: 5 }))).toEqual([]);
    expect(await all(saver.list(cfg(THREAD), { before: cfg(THREAD, ids[0]) }))).toEqual([]);
  });

  test("getDeltaChannelHistory: one statement, seed and writes as the base walk finds them", async () => {
    const target = cfg(THREAD, ids[5050]);
    const mine = await capture(() => saver.getDeltaChannelHistory({ config: target, channels: ["messages"] }));
    expect(mine.statements).toHaveLength(1);
    const history = mine.result.messages!;
    // Walk from 5049 up to the snapshot at 5000 (the seed), whose own writes are included.
    expect(isDeltaSnapshot(history.seed)).toBe(true);
    expect(((history.seed as DeltaSnapshot).value as AIMessage[])[0]?.id).toBe(`${THREAD}-seed5000`);
    expect(history.writes.map((w) => (w[2] as AIMessage[])[0]?.id)).toEqual(Array.from({ length: 50 }, (_, k) => messageId(THREAD, 5000 + k)));
    expect(mine.result).toEqual(await BaseCheckpointSaver.prototype.getDeltaChannelHistory.call(saver, { config: target, channels: ["messages"] }));
    record("getDeltaChannelHistory", mine.statements);

    // The newest checkpoint (no id), two channels: 99 message writes back to the snapshot at 9900.
    const latest = await capture(() => saver.getDeltaChannelHistory({ config: cfg(THREAD), channels: ["messages", "counter"] }));
    expect(latest.statements).toHaveLength(1);
    expect(latest.result.messages!.writes).toHaveLength(N - 1 - 9900);
    record("getDeltaChannelHistory latest, 2 channels", latest.statements);
  });

  let plans: Promise<{ label: string; asserted: boolean; scans: Scan[] }[]> | undefined;
  /** EXPLAIN every recorded read once (printed), after the tests above recorded them. */
  const explained = () =>
    (plans ??= (async () => {
      expect(reads.filter((r) => r.asserted).map((r) => r.label)).toEqual([
        "getTuple latest",
        "getTuple by id",
        "list limit 5",
        "list before (limit 10)",
        "list before (no limit)",
        "list filter + limit 3",
        "getDeltaChannelHistory",
        "getDeltaChannelHistory latest, 2 channels",
      ]);
      const out = [];
      for (const r of reads) out.push({ label: r.label, asserted: r.asserted, scans: await explain(r.label, r.statements) });
      return out;
    })());

  test("no read plans a Seq Scan on the checkpoint tables", async () => {
    const found = (await explained())
      .filter((p) => p.asserted)
      .flatMap((p) => p.scans.filter((s) => s.node === "Seq Scan").map((s) => `${p.label}: ${s.text}`));
    expect(found).toEqual([]);
  });

  // Stock SELECT_SQL fails this (it reads all of the thread's blobs per returned checkpoint; see the header).
  test("every scan of the checkpoint tables reads a bounded number of rows per loop (not the whole thread)", async () => {
    const unbounded = (await explained())
      .filter((p) => p.asserted)
      .flatMap((p) => p.scans.filter((s) => s.rowsPerLoop > 1_000).map((s) => `${p.label}: ${s.text}`));
    expect(unbounded).toEqual([]);
  });
});
