// Checkpointer overhead of one agent-like super-step, side by side: no checkpointer, MemorySaver, stock
// PostgresSaver and WaypointSaver (both durability "sync"), on the same graph: MessagesDeltaValue plus
// two small channels, one node per super-step appending one ~500-byte AIMessage, looping via a
// conditional edge. Reports ms per super-step on one thread, SQL round trips and commits per super-step
// (counted at pg.Client.prototype.query, BEGIN/COMMIT included), and super-steps/s with 100 threads at
// once on one pool of WAYPOINT_POOL_MAX connections; then the targets for WaypointSaver.
// Run: npm run bench:saver [-- --steps 200 --runs 5 --threads 100 --thread-steps 50]
//      (DATABASE_URL or embedded Postgres; each Postgres variant in its own scratch database)
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { END, MemorySaver, MessagesDeltaValue, START, StateGraph, StateSchema } from "@langchain/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type pg from "pg";
import { z } from "zod";
import { config } from "../src/config.js";
import { openDatabase, type Database } from "../src/db/index.js";
import { createPersistence, WaypointSaver } from "../src/persistence/index.js";
import { closeFully, sqlTally, summarise, withScratchDatabase, type SqlTally, intArg } from "./support.js";

const arg = intArg;

/** Super-steps per thread for the single-thread timing, and how many such threads run one after another. */
const STEPS = arg("steps", 200);
const RUNS = arg("runs", 5);
/** Threads run at once, and super-steps each, for the throughput column. */
const THREADS = arg("threads", 100);
const THREAD_STEPS = arg("thread-steps", 50);
/** Pool size of the Postgres variants: WAYPOINT_POOL_MAX (default 10), as Waypoint's own pool. */
const POOL_MAX = config().poolMax;

/** Targets for WaypointSaver (from the issue). */
const TARGET_ROUND_TRIPS = 4;
const TARGET_MS = 1.5;
const TARGET_SPEEDUP = 1.5;

// --- SQL accounting ---------------------------------------------------------------------------------
// Round trips, commits and the statement mix: support.ts's tally at pg.Client.prototype.query (BEGIN and
// COMMIT are round trips; a statement outside an explicit transaction that writes is a commit of its own).

const tally = sqlTally();

type Counters = SqlTally;

const read = (): Counters => tally();

function since(before: Counters): Counters {
  const now = read();
  const kinds = new Map<string, { n: number; ms: number }>();
  for (const [k, v] of now.kinds) {
    const b = before.kinds.get(k) ?? { n: 0, ms: 0 };
    if (v.n > b.n) kinds.set(k, { n: v.n - b.n, ms: v.ms - b.ms });
  }
  return { statements: now.statements - before.statements, commits: now.commits - before.commits, sqlMs: now.sqlMs - before.sqlMs, kinds };
}

// --- The workload -----------------------------------------------------------------------------------

/** ~500 bytes of prose-like text that differs per step. */
function text(n: number): string {
  const words = "the traveller asked for a direct flight to Lisbon on Tuesday morning with a window seat and a hotel near the office within the policy limit of the cost centre so I checked availability fares and loyalty numbers".split(" ");
  let s = `Step ${n}: `;
  for (let i = n; s.length < 500; i = (i * 31 + 7) % 9973) s += `${words[i % words.length]} `;
  return s.slice(0, 500);
}

const State = new StateSchema({
  messages: MessagesDeltaValue,
  n: z.number().default(0),
  target: z.number().default(0),
  status: z.string().default(""),
});
type S = typeof State.State;

const builder = new StateGraph(State)
  .addNode("agent", async (s: S) => ({
    messages: [new AIMessage({ id: `m${s.n}`, content: text(s.n) })],
    n: s.n + 1,
    status: s.n + 1 >= s.target ? "done" : "working",
  }))
  .addEdge(START, "agent")
  .addConditionalEdges("agent", (s: S) => (s.n >= s.target ? END : "agent"), ["agent", END]);

type Graph = ReturnType<typeof builder.compile>;

let threadSeq = 0;

/** One thread of `steps` super-steps (node executions); checks the final state. */
async function thread(graph: Graph, label: string, steps: number): Promise<void> {
  const id = `${label}-${threadSeq++}`;
  const out = await graph.invoke(
    { messages: [new HumanMessage({ id: "u", content: "Book the Lisbon trip." })], target: steps },
    { configurable: { thread_id: id }, durability: "sync", recursionLimit: steps * 2 + 10 },
  );
  if (out.n !== steps || out.messages.length !== steps + 1) throw new Error(`${label}: thread ended with n=${out.n}, ${out.messages.length} messages`);
}

interface Result {
  name: string;
  msPerStep: number[];
  roundTrips: number;
  commits: number;
  sqlMs: number;
  /** Per super-step: statements of each kind and their latency. */
  kinds: Map<string, { n: number; ms: number }>;
  stepsPerSecond: number;
  /** CPU time of this Node process per super-step in the concurrent phase, ms. */
  nodeCpuMs: number;
}

async function measure(name: string, saver: BaseCheckpointSaver | undefined): Promise<Result> {
  const graph = builder.compile(saver ? { checkpointer: saver } : {});
  const label = name.replace(/\W+/g, "_");
  // Warm-up: JIT, the pool's connections, the server's caches.
  await thread(graph, label, 50);
  await Promise.all(Array.from({ length: Math.min(THREADS, 20) }, () => thread(graph, label, 5)));

  const msPerStep: number[] = [];
  const before = read();
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await thread(graph, label, STEPS);
    msPerStep.push((performance.now() - t0) / STEPS);
  }
  const sql = since(before);
  const steps = RUNS * STEPS;
  const kinds = new Map([...sql.kinds].map(([k, v]) => [k, { n: v.n / steps, ms: v.ms / steps }] as const));

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: THREADS }, () => thread(graph, label, THREAD_STEPS)));
  const stepsPerSecond = (THREADS * THREAD_STEPS) / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  const nodeCpuMs = (cpu.user + cpu.system) / 1000 / (THREADS * THREAD_STEPS);

  return { name, msPerStep, roundTrips: sql.statements / steps, commits: sql.commits / steps, sqlMs: sql.sqlMs / steps, kinds, stepsPerSecond, nodeCpuMs };
}

let serverKind = "?";

/** A scratch database, a pool of POOL_MAX on it, and `make` building the saver once its tables exist. */
async function onPostgres(label: string, make: (db: Database, url: string) => Promise<BaseCheckpointSaver>, name: string): Promise<Result> {
  return withScratchDatabase(label, async (scratch) => {
    serverKind = scratch.kind;
    const db = await openDatabase({ url: scratch.url, poolMax: POOL_MAX });
    try {
      const result = await measure(name, await make(db, scratch.url));
      floor ??= await roundTripFloor(db.pool);
      return result;
    } finally {
      await closeFully(db);
    }
  });
}

/** Latency floor of this server: median of one `SELECT 1`, and of one autocommit single-row INSERT (a WAL flush). */
let floor: { select: number; insert: number } | undefined;

async function roundTripFloor(pool: pg.Pool): Promise<{ select: number; insert: number }> {
  const client = await pool.connect();
  try {
    await client.query("CREATE TABLE bench_probe (n int)");
    const time = async (sql: string, values: unknown[]) => {
      const ms: number[] = [];
      for (let i = 0; i < 300; i++) {
        const t0 = performance.now();
        await client.query(sql, values);
        ms.push(performance.now() - t0);
      }
      return summarise(ms.slice(50)).median;
    };
    return { select: await time("SELECT 1", []), insert: await time("INSERT INTO bench_probe (n) VALUES ($1)", [1]) };
  } finally {
    client.release();
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  results.push(await measure("no checkpointer", undefined));
  results.push(await measure("MemorySaver", new MemorySaver()));
  results.push(
    await onPostgres(
      "bench_saver_stock",
      async (db) => {
        const saver = new PostgresSaver(db.pool);
        await saver.setup();
        return saver;
      },
      'stock PostgresSaver (durability "sync")',
    ),
  );
  results.push(
    await onPostgres(
      "bench_saver_waypoint",
      async (db, url) => {
        // Saver tables, task_path and the waypoint schema (transcript) via createPersistence, on a
        // separate pool closed again: the memory store's pool and sweeper stay out of the counts.
        const setup = await createPersistence(await openDatabase({ url, poolMax: 2 }));
        await setup.close();
        return new WaypointSaver(db.pool);
      },
      'Waypoint saver (durability "sync")',
    ),
  );

  console.log(`\nCheckpointer cost per super-step: one node appending one ~500-byte AIMessage to a MessagesDeltaValue channel and updating two small channels, looping via a conditional edge.`);
  console.log(
    `Postgres ${serverKind}, pool of ${POOL_MAX} (WAYPOINT_POOL_MAX). ms/super-step: ${RUNS} threads of ${STEPS} super-steps one after another (median, min-max of the threads). ` +
      `Round trips and commits: per super-step over those threads (BEGIN/COMMIT are round trips; an autocommit write is a commit; per-thread reads and the input checkpoint included). ` +
      `Throughput: ${THREADS} threads of ${THREAD_STEPS} super-steps at once. Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(", ")}.\n`,
  );
  console.log(`| variant | ms/super-step (median, min-max) | SQL round trips/step | commits/step | steps/s with ${THREADS} threads |`);
  console.log("|---|---|---|---|---|");
  for (const r of results) {
    const s = summarise(r.msPerStep);
    console.log(`| ${r.name} | ${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)}) | ${r.roundTrips.toFixed(2)} | ${r.commits.toFixed(2)} | ${r.stepsPerSecond.toFixed(0)} |`);
  }

  const stock = results[2]!;
  const ours = results[3]!;
  const ms = (r: Result) => summarise(r.msPerStep).median;
  console.log(`\nWhere a super-step's time goes on one thread: statements per super-step by kind, with their latency (send to result) per super-step:`);
  for (const r of [stock, ours]) {
    const mix = [...r.kinds].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => `${v.n.toFixed(2)} ${k} ${v.ms.toFixed(2)} ms`).join("; ");
    console.log(`- ${r.name}: ${mix}. In all ${r.sqlMs.toFixed(2)} ms of ${ms(r).toFixed(2)} ms/step waiting on SQL, ${(ms(r) - r.sqlMs).toFixed(2)} ms in Node`);
  }
  if (floor) console.log(`- this server's floor, one connection: SELECT 1 ${floor.select.toFixed(2)} ms, an autocommit one-row INSERT (WAL flush) ${floor.insert.toFixed(2)} ms (median)`);
  const base = results[1]!;
  console.log(`- MemorySaver, no SQL: ${ms(base).toFixed(2)} ms/step (the graph itself plus serialising each checkpoint in memory); no checkpointer: ${ms(results[0]!).toFixed(2)} ms/step`);

  console.log(
    `- Node CPU per super-step with ${THREADS} threads at once (this process; Postgres shares the machine when local): ${results.map((r) => `${r.name} ${r.nodeCpuMs.toFixed(2)} ms`).join(", ")}`,
  );

  const speedup = ours.stepsPerSecond / stock.stepsPerSecond;
  const msRatio = ms(ours) / ms(stock);
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  const change = `${Math.abs(1 - msRatio) * 100 < 0.5 ? "same" : `${(Math.abs(1 - msRatio) * 100).toFixed(0)}% ${msRatio < 1 ? "less" : "more"}`} time per step`;
  console.log(`\nWaypoint / stock: ${speedup.toFixed(2)}x steps/s with ${THREADS} threads, ${msRatio.toFixed(2)}x ms/super-step (${change})`);
  console.log(`\nTargets for the Waypoint saver:`);
  console.log(`- at most ${TARGET_ROUND_TRIPS} SQL round trips per super-step: ${ours.roundTrips.toFixed(2)}, ${met(ours.roundTrips <= TARGET_ROUND_TRIPS)}`);
  console.log(`- at most ${TARGET_MS} ms per super-step (median): ${ms(ours).toFixed(2)} ms, ${met(ms(ours) <= TARGET_MS)}`);
  console.log(`- at least ${TARGET_SPEEDUP}x stock's steps/s with ${THREADS} threads: ${speedup.toFixed(2)}x, ${met(speedup >= TARGET_SPEEDUP)}`);
}

await main();
