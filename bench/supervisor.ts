// Benchmark: the run supervisor (queue + workers) under crashes and load, on a scratch database.
//  1. Recovery time: two `waypoint worker` CLI children; SIGKILL the one carrying a travel run and time
//     until that run's next node starts on the other one (seen in the WAYPOINT_TRACE_FILE node trace).
//  2. Decision-to-resume latency: an in-process worker; from the approval of an onboarding thread
//     waiting at its review to the next node starting (a LangChain callback) and to the first step.
//  3. Concurrency: 1,000 onboarding runs in flight on one in-process worker with a scripted model that
//     takes 1 s per reply; total time, errors, and the peak number of Postgres connections.
// Prints markdown tables. A missed target is marked in the table, never turned into an exit code.
// Usage: npm run bench:supervisor [-- --kills 20 --decisions 30 --runs 1000]
//        (DATABASE_URL, or embedded Postgres when unset; a scratch database is created and dropped)
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { registerConfigureHook, setContextVariable } from "@langchain/core/context";
import type { Serialized } from "@langchain/core/load/serializable";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChainValues } from "@langchain/core/utils/types";
import pg from "pg";
import { offlinePlannerModel, ScriptedChatModel } from "../src/models/index.js";
import type { RunStatus } from "../src/runs/queue.js";
import { Waypoint } from "../src/runs/runner.js";
import { submit } from "../src/runs/submit.js";
import { nodeStartOf, readTrace, type TraceEntry } from "../src/runs/trace.js";
import { Worker, type WorkerEvent } from "../src/runs/worker.js";
import { HIRE, onboardingScript, say } from "../tests/support/agents.js";
import { childEnv, startCli, type CliChild } from "../tests/support/cli.js";
import { summarise, withScratchDatabase } from "./support.js";

/** Sample counts; the defaults are the full run (smaller ones are for trying the script out). */
const { values: args } = parseArgs({ options: { kills: { type: "string", default: "20" }, decisions: { type: "string", default: "30" }, runs: { type: "string", default: "1000" } } });
/** Recovery: SIGKILLs measured, and the CLI's --pace (ms each agent / tools step waits). */
const KILLS = Number(args.kills);
const PACE_MS = 200;
/** Decision latency: measured approvals, after a few warm-up ones. */
const DECISIONS = Number(args.decisions);
const DECISION_WARMUP = 3;
/** Concurrency: runs in flight on one worker, the scripted model's delay, and the worker's pool size. */
const CONCURRENT_RUNS = Number(args.runs);
const MODEL_DELAY_MS = 1_000;
const POOL_MAX = 10;

const TERMINAL: RunStatus[] = ["success", "interrupted", "error", "cancelled", "dead"];
const APPROVE = { decisions: [{ type: "approve" }] };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Output

function printTable(headers: string[], rows: string[][]): void {
  console.log(`| ${headers.join(" | ")} |`);
  console.log(`|${headers.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const verdict = (ok: boolean) => (ok ? "met" : "**MISSED**");

/** Wait until `probe` returns a value, polling; throws after `timeoutMs`. */
async function poll<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function runStatus(pool: pg.Pool, runId: string): Promise<RunStatus | undefined> {
  const { rows } = await pool.query<{ status: RunStatus }>("SELECT status FROM waypoint.runs WHERE run_id = $1", [runId]);
  return rows[0]?.status;
}

/** Wait for a run to reach a terminal status; returns it. */
function runEnd(pool: pg.Pool, runId: string, timeoutMs: number): Promise<RunStatus> {
  return poll(`run ${runId} to end`, async () => {
    const s = await runStatus(pool, runId);
    return s && TERMINAL.includes(s) ? s : undefined;
  }, timeoutMs, 25);
}

// ---------------------------------------------------------------------------------------------------
// 1. Recovery time after SIGKILL

interface RecoverySample {
  /** SIGKILL to the first node of the run starting on the other worker (trace timestamp). */
  ms: number;
  /** SIGKILL to the run being claimed again (runs.started_at). */
  reclaimMs: number;
  killedIn: string;
  resumedWith: string;
  finalStatus: RunStatus;
}

/** Start `waypoint worker` in a child and wait for its banner (it holds its liveness lock by then). */
async function startCliWorker(url: string, traceFile: string): Promise<CliChild> {
  const cli = startCli(["--pace", String(PACE_MS), "worker", "--concurrency", "1"], childEnv({ DATABASE_URL: url, WAYPOINT_TRACE_FILE: traceFile }));
  await cli.waitFor("drains it", 60_000);
  return cli;
}

/** The pid of the worker process that is running `runId`. */
function pidRunning(pool: pg.Pool, runId: string): Promise<number> {
  return poll(`run ${runId} to be running`, async () => {
    const { rows } = await pool.query<{ pid: number }>(
      "SELECT w.pid FROM waypoint.runs r JOIN waypoint.workers w ON w.worker_id = r.worker_id WHERE r.run_id = $1 AND r.status = 'running'",
      [runId],
    );
    return rows[0]?.pid;
  }, 30_000, 5);
}

/** Trace lines of one thread's nodes run by one process, oldest first (not LangGraph's __start__ input step). */
function traceOf(file: string, threadId: string, pid: number): TraceEntry[] {
  return readTrace(file).filter((e) => e.threadId === threadId && e.pid === pid && e.node !== "__start__");
}

/** One sample: submit a travel run, SIGKILL its worker after a few node starts, time the takeover. */
async function recoverOnce(wp: Waypoint, workers: CliChild[], traceFile: string, i: number): Promise<{ sample: RecoverySample; victim: CliChild }> {
  const { run } = await submit(wp, {
    assistant: "travel",
    input: { trip: { tripId: `bench-${i}-${randomBytes(3).toString("hex")}`, traveller: "Ada Lovelace", origin: "London", destination: "Lisbon", departOn: "2026-12-01", nights: 3, carDays: 2 } },
  });
  const pid = await pidRunning(wp.pool, run.run_id);
  const victim = workers.find((w) => w.child.pid === pid);
  const survivor = workers.find((w) => w.child.pid !== pid);
  if (!victim || !survivor?.child.pid) throw new Error(`run ${run.run_id} is on pid ${pid}, which is not one of this bench's workers`);

  // Let it make a step or two: kill once its 2nd, 3rd or 4th node (start, agent, tools, agent) started, at a varying point in the step.
  const nodesBeforeKill = 2 + (i % 3);
  const seen = await poll("node starts before the kill", () => {
    const lines = traceOf(traceFile, run.thread_id, pid);
    return lines.length >= nodesBeforeKill ? lines : undefined;
  }, 30_000, 5);
  await sleep(Math.floor(Math.random() * (PACE_MS / 2)));
  const killedAt = Date.now();
  process.kill(pid, "SIGKILL");

  const survivorPid = survivor.child.pid;
  const resumed = await poll("the run's next node on the other worker", () => traceOf(traceFile, run.thread_id, survivorPid)[0], 30_000, 5);
  const finalStatus = await runEnd(wp.pool, run.run_id, 120_000);
  const { rows } = await wp.pool.query<{ started_at: Date }>("SELECT started_at FROM waypoint.runs WHERE run_id = $1", [run.run_id]);
  const last = traceOf(traceFile, run.thread_id, pid).at(-1) ?? seen.at(-1);
  return {
    victim,
    sample: {
      ms: Date.parse(resumed.at) - killedAt,
      reclaimMs: (rows[0]?.started_at.getTime() ?? NaN) - killedAt,
      killedIn: last?.node ?? "?",
      resumedWith: resumed.node,
      finalStatus,
    },
  };
}

/** Stop a CLI worker: SIGTERM (drain), SIGKILL if it is still there after 15 s. */
async function stopCliWorker(w: CliChild): Promise<void> {
  if (exited(w)) return;
  w.child.kill("SIGTERM");
  const killer = setTimeout(() => w.child.kill("SIGKILL"), 15_000);
  await w.done;
  clearTimeout(killer);
}

const exited = (w: CliChild) => w.child.exitCode !== null || w.child.signalCode !== null;

/** The live workers, topped up to two with new ones. */
async function twoWorkers(workers: CliChild[], url: string, traceFile: string): Promise<CliChild[]> {
  const live = workers.filter((w) => !exited(w));
  const added = await Promise.all(Array.from({ length: Math.max(0, 2 - live.length) }, () => startCliWorker(url, traceFile)));
  return [...live, ...added];
}

async function benchRecovery(url: string): Promise<RecoverySample[]> {
  const traceFile = path.join(os.tmpdir(), `waypoint-bench-trace-${process.pid}-${randomBytes(3).toString("hex")}.jsonl`);
  const wp = await Waypoint.open({ url, poolMax: 2 }); // submissions and queries only; also creates the schema
  let workers: CliChild[] = [];
  const samples: RecoverySample[] = [];
  try {
    for (let i = 0; samples.length < KILLS; i++) {
      if (i >= KILLS + 5) throw new Error(`too many failed recovery samples (${i - samples.length})`);
      // A replacement for the killed worker is started here, once the run is over, so that its start-up
      // does not compete with the recovery being measured.
      workers = await twoWorkers(workers, url, traceFile);
      try {
        const { sample, victim } = await recoverOnce(wp, workers, traceFile, i);
        samples.push(sample);
        await victim.done;
      } catch (e) {
        console.error(`recovery sample ${i} failed: ${(e as Error).message}`);
      }
      process.stderr.write(`\rrecovery: ${samples.length}/${KILLS} kills`);
    }
    process.stderr.write("\n");
  } finally {
    await Promise.all(workers.map(stopCliWorker));
    await wp.close();
    fs.rmSync(traceFile, { force: true });
  }
  return samples;
}

function printRecovery(samples: RecoverySample[]): void {
  const s = summarise(samples.map((x) => x.ms));
  const r = summarise(samples.map((x) => x.reclaimMs));
  const statuses = countBy(samples.map((x) => x.finalStatus));
  const killedIn = countBy(samples.map((x) => x.killedIn));
  const resumedWith = countBy(samples.map((x) => x.resumedWith));
  console.log(`\n### 1. Recovery time: SIGKILL of a worker -> the run's next node starts on the other worker\n`);
  console.log(`Two \`waypoint worker --concurrency 1\` CLI children (\`--pace ${PACE_MS}\`), travel agent (offline planner); ${s.n} kills, a replacement worker started after each.`);
  console.log(`Kill time: parent's clock just before SIGKILL; resume time: the node-trace line's timestamp (ms resolution) from the surviving worker.\n`);
  printTable(
    ["measure", "n", "median ms", "p95 ms", "min ms", "max ms", "target", "result"],
    [
      ["SIGKILL -> next node starts on the other worker", String(s.n), ms(s.median), ms(s.p95), ms(s.min), ms(s.max), "median < 1000, p95 < 2000", verdict(s.median < 1000 && s.p95 < 2000)],
      ["SIGKILL -> run claimed again (runs.started_at)", String(r.n), ms(r.median), ms(r.p95), ms(r.min), ms(r.max), "", ""],
    ],
  );
  console.log(`\nKilled during: ${fmtCounts(killedIn)}. First node on the survivor: ${fmtCounts(resumedWith)}. Runs ended: ${fmtCounts(statuses)}.`);
}

function countBy(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

const fmtCounts = (m: Map<string, number>) => [...m].map(([k, n]) => `${k} ${n}`).join(", ");

// ---------------------------------------------------------------------------------------------------
// 2. Decision-to-resume latency

/** When each watched thread's first node started (performance.now()), and which node it was. */
const nodeStarts = new Map<string, { at: number; node: string } | undefined>();

/**
 * Notes the first node start of each watched thread. Worker cannot take callbacks, so it is added to
 * every run in this process through LangChain's configure hook; it awaits (runs in line) so the time
 * is taken when the node starts, not when the background callback queue gets to it.
 */
class NodeStartRecorder extends BaseCallbackHandler {
  name = "bench-node-start";

  constructor() {
    super({ _awaitHandler: true });
  }

  override handleChainStart(
    _chain: Serialized,
    _inputs: ChainValues,
    _runId: string,
    _parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    _runType?: string,
    runName?: string,
  ): void {
    const at = performance.now();
    const start = nodeStartOf(metadata, runName);
    if (start && nodeStarts.has(start.threadId) && nodeStarts.get(start.threadId) === undefined) nodeStarts.set(start.threadId, { at, node: start.node });
  }
}

const RECORDER_VAR = "waypoint_bench_node_starts";

interface DecisionSample {
  submitted: number;
  claimed: number;
  nodeStarted: number;
  firstStep: number;
  node: string;
}

/** Every worker event, timestamped on arrival, for the samples to wait on. */
class EventLog {
  readonly events: Array<{ e: WorkerEvent; at: number }> = [];
  readonly onEvent = (e: WorkerEvent) => void this.events.push({ e, at: performance.now() });

  find(pred: (e: WorkerEvent) => boolean): { e: WorkerEvent; at: number } | undefined {
    return this.events.find((x) => pred(x.e));
  }
}

const runIdOf = (e: WorkerEvent): string | undefined => (e.type === "claimed" ? e.run.run_id : "runId" in e ? e.runId : undefined);

/** Onboarding threads, each run by `worker` until it waits at its review. */
async function threadsAtReview(wp: Waypoint, log: EventLog, n: number): Promise<string[]> {
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => submit(wp, { assistant: "onboarding", input: { hire: { ...HIRE, email: `decide-${i}-${randomBytes(3).toString("hex")}@acme.test` } } })));
  const ids = new Set(runs.map((r) => r.run.run_id));
  await poll("onboarding threads to reach their review", () => (log.events.filter((x) => x.e.type === "finished" && ids.has(x.e.runId)).length === n ? true : undefined), 120_000, 25);
  const bad = log.events.filter((x) => x.e.type === "finished" && ids.has(x.e.runId) && x.e.status !== "interrupted");
  if (bad.length) throw new Error(`${bad.length} onboarding runs did not stop at their review`);
  return runs.map((r) => r.run.thread_id);
}

/** One approval, timed from the submit() call to the claim, the first node start, and the first step. */
async function decideOnce(wp: Waypoint, log: EventLog, threadId: string): Promise<DecisionSample> {
  nodeStarts.set(threadId, undefined);
  const t0 = performance.now();
  const { run } = await submit(wp, { threadId, command: { resume: APPROVE } });
  const submitted = performance.now() - t0;
  const mine = (type: WorkerEvent["type"]) => log.find((e) => e.type === type && runIdOf(e) === run.run_id);
  const step = await poll("the first step after the decision", () => mine("step"), 30_000, 1);
  const claimed = mine("claimed");
  const start = nodeStarts.get(threadId);
  await poll("the run to finish", () => mine("finished"), 30_000, 5); // one at a time: the worker is idle before the next
  nodeStarts.delete(threadId);
  return { submitted, claimed: (claimed?.at ?? NaN) - t0, nodeStarted: (start?.at ?? NaN) - t0, firstStep: step.at - t0, node: start?.node ?? "?" };
}

async function benchDecisions(url: string): Promise<DecisionSample[]> {
  registerConfigureHook({ contextVar: RECORDER_VAR });
  setContextVariable(RECORDER_VAR, new NodeStartRecorder());
  const log = new EventLog();
  const worker = await Worker.start({ url, model: offlinePlannerModel(), onEvent: log.onEvent });
  const wp = await Waypoint.open({ url, poolMax: 4 }); // the "API" side that submits decisions
  try {
    const threads = await threadsAtReview(wp, log, DECISIONS + DECISION_WARMUP);
    const samples: DecisionSample[] = [];
    for (const [i, threadId] of threads.entries()) {
      const s = await decideOnce(wp, log, threadId);
      if (i >= DECISION_WARMUP) samples.push(s);
      await sleep(20);
    }
    return samples;
  } finally {
    setContextVariable(RECORDER_VAR, undefined); // the concurrency run goes without it
    await wp.close();
    await worker.close();
  }
}

function printDecisions(samples: DecisionSample[]): void {
  const row = (label: string, xs: number[], target = "", ok?: boolean) => {
    const s = summarise(xs);
    return [label, String(s.n), ms(s.median), ms(s.p95), ms(s.min), ms(s.max), target, ok === undefined ? "" : verdict(ok)];
  };
  const node = summarise(samples.map((s) => s.nodeStarted));
  console.log(`\n### 2. Decision-to-resume latency: submit(approve) -> next node starts on an in-process worker\n`);
  console.log(`Onboarding threads waiting at their review; \`Worker.start({ model: offlinePlannerModel() })\` in this process, one decision at a time, ${samples.length} samples after ${DECISION_WARMUP} warm-up ones.`);
  console.log(`Worker takes no callbacks: the node start comes from a BaseCallbackHandler (handleChainStart) added to every run through @langchain/core's registerConfigureHook. Times from the start of the submit() call (performance.now()).\n`);
  printTable(
    ["from submit() called to", "n", "median ms", "p95 ms", "min ms", "max ms", "target", "result"],
    [
      row("submit() returned (decision recorded, run queued)", samples.map((s) => s.submitted)),
      row("worker claimed the run (\"claimed\" event)", samples.map((s) => s.claimed)),
      row(`next node started (handleChainStart; node: ${fmtCounts(countBy(samples.map((s) => s.node)))})`, samples.map((s) => s.nodeStarted), "median < 50", node.median < 50),
      row("that step finished (first \"step\" event)", samples.map((s) => s.firstStep)),
    ],
  );
}

// ---------------------------------------------------------------------------------------------------
// 3. Concurrency: 1,000 runs in flight on one worker

/** The hire an onboarding conversation is about (the system prompt's facts block has the email). */
function hireOf(messages: BaseMessage[]): typeof HIRE {
  for (const m of messages) {
    const text = typeof m.content === "string" ? m.content : "";
    const email = /"email":\s*"([^"]+)"/.exec(text)?.[1];
    if (email) return { ...HIRE, email };
  }
  return HIRE;
}

/** A model that takes MODEL_DELAY_MS per reply, then answers with the onboarding script's next turn. */
function slowOnboardingModel(): ScriptedChatModel {
  return new ScriptedChatModel({
    label: "bench-slow-onboarding",
    respond: async (messages) => {
      await sleep(MODEL_DELAY_MS);
      const turn = messages.filter((m) => AIMessage.isInstance(m)).length;
      return onboardingScript(hireOf(messages))[turn] ?? say(turn + 1, "Onboarding finished.");
    },
  });
}

/** Submit `n` onboarding runs, `parallel` at a time. */
async function submitMany(wp: Waypoint, n: number, parallel: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, n - i) }, (_, j) =>
      submit(wp, { assistant: "onboarding", input: { hire: { ...HIRE, email: `load-${i + j}-${randomBytes(3).toString("hex")}@acme.test` } } }),
    );
    for (const { run } of await Promise.all(batch)) ids.push(run.run_id);
  }
  return ids;
}

/** Samples the database's connection count (and the worker's runs in flight) every 100 ms. */
class Sampler {
  peakConnections = 0;
  /** The same, counting client backends only (not autovacuum workers, which also show the database). */
  peakClients = 0;
  peakInFlight = 0;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly client: pg.Client,
    private readonly inFlight: () => number,
  ) {}

  async count(): Promise<{ all: number; clients: number }> {
    const { rows } = await this.client.query<{ n: string; clients: string }>(
      "SELECT count(*) AS n, count(*) FILTER (WHERE backend_type = 'client backend') AS clients FROM pg_stat_activity WHERE datname = current_database()",
    );
    return { all: Number(rows[0]?.n ?? 0), clients: Number(rows[0]?.clients ?? 0) };
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), 100);
  }

  private async tick(): Promise<void> {
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight());
    if (this.busy) return; // a slow sample: skip rather than pile up queries
    this.busy = true;
    try {
      const n = await this.count();
      this.peakConnections = Math.max(this.peakConnections, n.all);
      this.peakClients = Math.max(this.peakClients, n.clients);
      this.samples++;
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

interface ConcurrencyResult {
  runs: number;
  totalMs: number;
  allClaimedMs: number;
  completed: number;
  errors: number;
  errorDetails: string[];
  finalStatuses: Map<string, number>;
  peakConnections: number;
  peakClients: number;
  baselineConnections: number;
  peakInFlight: number;
  samples: number;
  /** CPU this process (the worker) used during the run, in % of one core. */
  cpuPercent: number;
}

/** Count the worker's outcomes: complete (interrupted / success) or an error of any kind. */
class Outcomes {
  completed = 0;
  claimed = 0;
  /** Runs whose worker recorded an end, whatever it was. */
  finished = 0;
  readonly errors: string[] = [];
  allClaimedAt = NaN;

  constructor(private readonly total: number) {}

  readonly onEvent = (e: WorkerEvent) => {
    if (e.type === "claimed" && ++this.claimed === this.total) this.allClaimedAt = performance.now();
    if (e.type === "finished") {
      this.finished++;
      if (e.status === "interrupted" || e.status === "success") this.completed++;
      else this.errors.push(`${e.runId}: ${e.status} ${e.detail ?? ""}`);
    }
    if (e.type === "requeued") this.errors.push(`${e.runId}: requeued (${e.reason})`);
    if (e.type === "reaped" || e.type === "fenced") this.errors.push(`${e.type}: ${JSON.stringify(e)}`);
  };
}

async function benchConcurrency(url: string): Promise<ConcurrencyResult> {
  const wp = await Waypoint.open({ url, poolMax: 4 });
  const runIds = await submitMany(wp, CONCURRENT_RUNS, 20);
  await wp.close(); // from here on, the only connections are the worker's and the sampler's
  const observer = new pg.Client({ connectionString: url, application_name: "bench-sampler" });
  await observer.connect();
  const outcomes = new Outcomes(CONCURRENT_RUNS);
  let worker: Worker | undefined;
  const sampler = new Sampler(observer, () => worker?.running.length ?? 0);
  try {
    const baselineConnections = (await sampler.count()).all;
    sampler.start();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    worker = await Worker.start({ url, concurrency: CONCURRENT_RUNS, poolMax: POOL_MAX, model: slowOnboardingModel(), onEvent: outcomes.onEvent });
    const ended = await poll("every run to end", () => (outcomes.finished >= CONCURRENT_RUNS ? true : undefined), 600_000, 20).catch((e: Error) => {
      outcomes.errors.push(`gave up: ${e.message}`);
      return false;
    });
    const totalMs = ended ? performance.now() - t0 : NaN;
    const cpu = process.cpuUsage(cpu0);
    sampler.stop();
    const { rows } = await observer.query<{ status: string; n: string }>("SELECT status, count(*) AS n FROM waypoint.runs WHERE run_id = ANY($1) GROUP BY status", [runIds]);
    return {
      runs: CONCURRENT_RUNS,
      totalMs,
      allClaimedMs: outcomes.allClaimedAt - t0,
      completed: outcomes.completed,
      errors: outcomes.errors.length,
      errorDetails: outcomes.errors.slice(0, 5),
      finalStatuses: new Map(rows.map((r) => [r.status, Number(r.n)])),
      peakConnections: sampler.peakConnections,
      peakClients: sampler.peakClients,
      baselineConnections,
      peakInFlight: sampler.peakInFlight,
      samples: sampler.samples,
      cpuPercent: ((cpu.user + cpu.system) / 1_000 / (performance.now() - t0)) * 100,
    };
  } finally {
    sampler.stop();
    await worker?.close();
    await observer.end();
  }
}

function printConcurrency(r: ConcurrencyResult): void {
  console.log(`\n### 3. Concurrency: ${r.runs.toLocaleString("en-US")} runs in flight on one worker process\n`);
  console.log(`\`Worker.start({ concurrency: ${r.runs}, poolMax: ${POOL_MAX} })\` in this process; onboarding agent with a scripted model that waits ${MODEL_DELAY_MS} ms per reply (2 replies per run before the review).`);
  console.log(`A run is complete at \`interrupted\` (its review) or \`success\`. Runs were queued before the worker started; time runs from Worker.start().`);
  console.log(`Connections: \`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()\` every 100 ms (${r.samples} samples) from a separate connection, which the count includes; ${r.baselineConnections} before the worker started.`);
  console.log(`The worker's share at most: pool ${POOL_MAX} + PostgresStore's own pool 2 + the liveness-lock connection 1.\n`);
  printTable(
    ["measure", "value", "target", "result"],
    [
      ["total time (worker start -> every run complete)", `${(r.totalMs / 1000).toFixed(2)} s`, "", ""],
      ["time until all runs were claimed", `${(r.allClaimedMs / 1000).toFixed(2)} s`, "", ""],
      ["peak runs in flight on the worker (Worker.running, every 100 ms)", String(r.peakInFlight), String(r.runs), verdict(r.peakInFlight >= r.runs)],
      ["CPU used by this process (the worker) during the run", `${r.cpuPercent.toFixed(0)}% of one core`, "", ""],
      ["runs completed", `${r.completed} / ${r.runs}`, String(r.runs), verdict(r.completed === r.runs)],
      ["errors (failed, requeued, reaped, fenced)", String(r.errors), "0", verdict(r.errors === 0)],
      ["final run statuses (runs table)", fmtCounts(r.finalStatuses), "", ""],
      [`peak Postgres connections to the database (pool max ${POOL_MAX})`, String(r.peakConnections), "<= 20", verdict(r.peakConnections <= 20)],
      ["  of which client connections (backend_type = 'client backend')", String(r.peakClients), "", ""],
    ],
  );
  if (r.peakInFlight < r.runs) {
    console.log(`\nAt most ${r.peakInFlight} of the ${r.runs} runs were in flight at once: the worker claims runs in batches of up to 25, on the same event loop (one core) and pool as the graphs it runs, and took ${(r.allClaimedMs / 1000).toFixed(1)} s to claim them all, while earlier runs were already finishing.`);
  }
  if (r.errorDetails.length) console.log(`\nFirst errors:\n${r.errorDetails.map((e) => `- ${e}`).join("\n")}`);
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  await withScratchDatabase("bench_supervisor", async (db) => {
    console.log(`\nRun supervisor benchmark, Postgres ${db.kind}, scratch database ${db.name}, ${os.cpus().length} CPUs`);
    printRecovery(await benchRecovery(db.url));
    printDecisions(await benchDecisions(db.url));
    printConcurrency(await benchConcurrency(db.url));
    console.log(`\nWall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
}

await main();
