// What a durable step costs, side by side: a 10-step workflow (10 small plain functions in a chain, each
// updating a counter and a short string) as a LangGraph graph with no checkpointer, with stock
// PostgresSaver and with WaypointSaver (both durability "sync", each step committed before the next
// starts), and as a DBOS Transact workflow of 10 registered steps. Each Postgres variant runs in its own
// scratch database on the same server; workflows run one after another, then with --inflight at once.
// Statements and write transactions are counted at pg.Client.prototype.query (DBOS uses the same pg).
// Run: npm run bench:steps [-- --workflows 1000 --inflight 50]   (DATABASE_URL or embedded Postgres)
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { DBOS } from "@dbos-inc/dbos-sdk";
import { START, StateGraph, StateSchema } from "@langchain/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { z } from "zod";
import { config } from "../src/config.js";
import { openDatabase } from "../src/db/index.js";
import { createPersistence } from "../src/persistence/index.js";
import { closeFully, sqlTally, withScratchDatabase, type SqlTally, intArg } from "./support.js";

const arg = intArg;

const WORKFLOWS = arg("workflows", 1000);
const INFLIGHT = arg("inflight", 50);
const STEPS = 10;
/** Workflows run before each measured phase (JIT, pools, server caches). */
const WARMUP = Math.min(100, WORKFLOWS);
/** Pool size of every Postgres variant, DBOS's included: WAYPOINT_POOL_MAX (default 10), as Waypoint's own pool. */
const POOL_MAX = config().poolMax;

// --- The workload: the same 10 plain functions for every variant -----------------------------------

interface Step {
  count: number;
  note: string;
}

const steps = Array.from({ length: STEPS }, (_, i) => (s: Step): Step => ({ count: s.count + 1, note: `step ${i + 1} saw ${s.count}` }));

const State = new StateSchema({
  count: z.number().default(0),
  note: z.string().default(""),
});

function chain() {
  let g = new StateGraph(State) as unknown as StateGraph<typeof State>;
  for (let i = 0; i < STEPS; i++) g = g.addNode(`step${i + 1}`, async (s: Step) => steps[i]!(s)) as unknown as StateGraph<typeof State>;
  g = g.addEdge(START, "step1" as never) as unknown as StateGraph<typeof State>;
  for (let i = 1; i < STEPS; i++) g = g.addEdge(`step${i}` as never, `step${i + 1}` as never) as unknown as StateGraph<typeof State>;
  return g;
}

/** One workflow of the variant; resolves with its final state. */
type Runner = (id: string) => Promise<Step>;

function langgraph(saver: BaseCheckpointSaver | undefined): Runner {
  const graph = chain().compile(saver ? { checkpointer: saver } : {});
  return async (id) => (await graph.invoke({ count: 0, note: "" }, { configurable: { thread_id: id }, durability: "sync" })) as Step;
}

// --- Measuring ---------------------------------------------------------------------------------------

const tally = sqlTally();

interface Phase {
  /** Wall time per step, ms. */
  ms: number;
  statements: number;
  commits: number;
  /** CPU time of this Node process per step, ms. */
  cpu: number;
}

interface Result {
  name: string;
  sequential: Phase;
  concurrent: Phase;
}

let seq = 0;

/** `n` workflows, `inflight` at a time; each must end with count = STEPS. */
async function runMany(run: Runner, label: string, n: number, inflight: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      const out = await run(`${label}-${seq++}`);
      if (out.count !== STEPS) throw new Error(`${label}: a workflow ended with count ${out.count}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, lane));
}

async function phase(run: Runner, label: string, inflight: number): Promise<Phase> {
  await runMany(run, label, WARMUP, inflight);
  const before: SqlTally = tally();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runMany(run, label, WORKFLOWS, inflight);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const after = tally();
  const n = WORKFLOWS * STEPS;
  return { ms: wall / n, statements: (after.statements - before.statements) / n, commits: (after.commits - before.commits) / n, cpu: (cpu.user + cpu.system) / 1000 / n };
}

async function measure(name: string, run: Runner): Promise<Result> {
  const label = name.replace(/\W+/g, "_").slice(0, 20);
  const sequential = await phase(run, label, 1);
  const concurrent = await phase(run, label, INFLIGHT);
  return { name, sequential, concurrent };
}

let serverKind = "?";

async function stock(): Promise<Result> {
  return withScratchDatabase("bench_steps_stock", async (scratch) => {
    serverKind = scratch.kind;
    const db = await openDatabase({ url: scratch.url, poolMax: POOL_MAX });
    try {
      const saver = new PostgresSaver(db.pool);
      await saver.setup();
      return await measure('stock PostgresSaver ("sync")', langgraph(saver));
    } finally {
      await closeFully(db);
    }
  });
}

async function waypoint(): Promise<Result> {
  return withScratchDatabase("bench_steps_waypoint", async (scratch) => {
    // As Waypoint builds it: createPersistence on a pool of WAYPOINT_POOL_MAX, its saver for the graph.
    const db = await openDatabase({ url: scratch.url, poolMax: POOL_MAX });
    const persistence = await createPersistence(db, { saver: "waypoint" });
    try {
      return await measure('WaypointSaver ("sync")', langgraph(persistence.saver));
    } finally {
      await closeFully(db, () => persistence.close());
    }
  });
}

async function dbos(): Promise<Result> {
  return withScratchDatabase("bench_steps_dbos", async (scratch) => {
    // Local only: no Conductor key, no OTLP export (DBOS 5 has no admin server).
    DBOS.setConfig({ name: "waypoint-bench-steps", systemDatabaseUrl: scratch.url, systemDatabasePoolSize: POOL_MAX, logLevel: "error", enableOTLP: false });
    const registered = steps.map((f, i) => DBOS.registerStep(async (s: Step) => f(s), { name: `step${i + 1}` }));
    const workflow = DBOS.registerWorkflow(
      async (input: Step) => {
        let s = input;
        for (const step of registered) s = await step(s);
        return s;
      },
      { name: "tenSteps" },
    );
    await DBOS.launch();
    try {
      return await measure("DBOS Transact (steps)", (id) => DBOS.withNextWorkflowID(id, () => workflow({ count: 0, note: "" })));
    } finally {
      await DBOS.shutdown({ deregister: true });
    }
  });
}

async function main(): Promise<void> {
  const bare = await measure("bare LangGraph (no checkpointer)", langgraph(undefined));
  const results = [bare, await stock(), await waypoint(), await dbos()];
  const ref = results[3]!;

  console.log(`\nCost of one durable step: a workflow of ${STEPS} small plain functions in a chain (a counter and a short string), ${WORKFLOWS} workflows per phase after ${WARMUP} for warm-up.`);
  console.log(
    `Postgres ${serverKind}, pool of ${POOL_MAX} per variant, each Postgres variant in its own scratch database. ms/step: wall time / (workflows x ${STEPS}); overhead: over bare LangGraph; ` +
      `statements and write transactions (commits: a COMMIT, or a writing statement outside BEGIN..COMMIT) counted at pg.Client.prototype.query in this process; ` +
      `Node CPU: process.cpuUsage() of this process / steps. Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(", ")}.\n`,
  );
  console.log("| variant | workflows at once | ms/step | overhead ms/step | vs DBOS | SQL statements/step | write transactions/step | Node CPU ms/step |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const mode of ["sequential", "concurrent"] as const) {
    for (const r of results) {
      const p = r[mode];
      const over = r === bare ? "-" : `+${(p.ms - bare[mode].ms).toFixed(3)}`;
      console.log(`| ${r.name} | ${mode === "sequential" ? 1 : INFLIGHT} | ${p.ms.toFixed(3)} | ${over} | ${(p.ms / ref[mode].ms).toFixed(2)}x | ${p.statements.toFixed(2)} | ${p.commits.toFixed(2)} | ${p.cpu.toFixed(3)} |`);
    }
  }
  const ours = results[2]!.concurrent;
  const ratio = ours.ms / ref.concurrent.ms;
  console.log(`\nTarget: WaypointSaver within 1.1x of DBOS ms/step with ${INFLIGHT} in flight: ${ratio.toFixed(2)}x, ${ratio <= 1.1 ? "met" : "NOT met"}.`);
}

await main();
