// Benchmark: Waypoint's agent server against the reference server (`langgraph dev`, the pinned
// @langchain/langgraph-cli), with one client script (the official @langchain/langgraph-sdk Client) and
// the same graph on both: `travel`, which needs no human review and, with no OPENAI_API_KEY, runs the
// deterministic offline planner. Measures:
//  1. Runs created per second through the API: N sequential `runs.create` on fresh threads (first call
//     to last response), then how long until all N have finished; and the rate of `runs.wait` (end to end).
//  2. Time to first SSE event: M sequential `runs.stream(..., { streamMode: ["values"] })`, from the call
//     to the first event (`metadata`) and to the first `values` event.
// Both servers use one scratch database (created here, dropped at the end): Waypoint keeps threads,
// runs and checkpoints there; under `langgraph dev` the graphs' nodes open it themselves (DATABASE_URL)
// for the tools' ledger and world tables, while threads and checkpoints stay in the dev server's memory.
// Prints one markdown table side by side. Sample counts are flags; the defaults are the full run.
// Usage: npm run bench:server [-- --creates 200 --waits 50 --streams 50 --port 2134]
//        (DATABASE_URL, or embedded Postgres when unset)
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import type pg from "pg";
import { config, PROJECT_ROOT } from "../src/config.js";
import { openDatabase } from "../src/db/index.js";
import { summarise, withScratchDatabase, type Summary } from "./support.js";
import { startServer } from "../src/server/index.js";

const { values: args } = parseArgs({
  options: {
    creates: { type: "string", default: "200" },
    waits: { type: "string", default: "50" },
    streams: { type: "string", default: "50" },
    warmup: { type: "string", default: "3" },
    port: { type: "string", default: "2134" },
  },
});
/** Sequential `runs.create` calls measured. */
const CREATES = Number(args.creates);
/** Sequential `runs.wait` calls measured. */
const WAITS = Number(args.waits);
/** Sequential `runs.stream` calls measured. */
const STREAMS = Number(args.streams);
/** `runs.wait` calls per server before measuring (graph loading, pools, JIT); not counted. */
const WARMUP = Number(args.warmup);
/** Port for `langgraph dev` (2024, its default, is taken on shared machines). */
const DEV_PORT = Number(args.port);
/** How long `langgraph dev` may take to answer GET /ok. */
const DEV_START_TIMEOUT_MS = 120_000;
/** How long a run may take to finish before the benchmark gives up on it. */
const RUN_TIMEOUT_MS = 120_000;

const GRAPH = "travel";
const LANGGRAPH_API_DIR = path.join(PROJECT_ROOT, ".langgraph_api");

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Statistics and output


function printTable(headers: string[], rows: string[][]): void {
  console.log(`| ${headers.join(" | ")} |`);
  console.log(`|${headers.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}x` : "n/a");
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

// ---------------------------------------------------------------------------------------------------
// The client script (the same for both servers)

/** A travel trip with a unique tripId (every booking in the world carries it). */
function tripInput(label: string) {
  const tripId = `bench-${label}-${randomBytes(4).toString("hex")}`;
  return { trip: { tripId, traveller: "Bench Traveller", origin: "London", destination: "Lisbon", departOn: "2026-12-01", nights: 2, carDays: 2 } };
}

/** A finished travel run booked the flight, the hotel and the car (tool results without errors). */
function tripCompleted(values: unknown): boolean {
  const messages = (values as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) return false;
  const booked = new Set(
    messages
      .filter((m): m is { type: string; name?: string; status?: string } => typeof m === "object" && m !== null && (m as { type?: unknown }).type === "tool")
      .filter((m) => m.status !== "error")
      .map((m) => m.name),
  );
  return ["book_flight", "book_hotel", "rent_car"].every((t) => booked.has(t));
}

async function freshThread(client: Client): Promise<string> {
  return (await client.threads.create()).thread_id;
}

interface CreateResult {
  /** Runs created per second: N / (first call to last response). */
  createRate: number;
  /** Latency of one `runs.create`. */
  createLatency: Summary;
  /** Runs finished per second: N / (first call to the last run's end, seen by joining them in order). */
  finishRate: number;
  /** Runs whose final values show a completed trip. */
  completed: number;
}

/** N sequential `runs.create` on fresh threads (created beforehand, not timed), then join them all. */
async function measureCreates(client: Client, n: number): Promise<CreateResult> {
  const threads: string[] = [];
  for (let i = 0; i < n; i++) threads.push(await freshThread(client));
  const latencies: number[] = [];
  const runs: Array<{ threadId: string; runId: string }> = [];
  const t0 = performance.now();
  for (const threadId of threads) {
    const t = performance.now();
    const run = await client.runs.create(threadId, GRAPH, { input: tripInput("create") });
    latencies.push(performance.now() - t);
    runs.push({ threadId, runId: run.run_id });
  }
  const created = performance.now() - t0;
  for (const r of runs) await runEnd(client, r.threadId, r.runId);
  const finished = performance.now() - t0;
  let completed = 0;
  for (const r of runs) if (tripCompleted((await client.threads.getState(r.threadId)).values)) completed++;
  return { createRate: (n * 1000) / created, createLatency: summarise(latencies), finishRate: (n * 1000) / finished, completed };
}

/**
 * Wait for a run to end by polling its status every 20 ms. Not `runs.join`: langgraph dev's join (like
 * its wait and stream) only returns after a 500 ms idle timeout once the run is over, which would
 * measure that timeout rather than how fast runs finish.
 */
async function runEnd(client: Client, threadId: string, runId: string): Promise<string> {
  const deadline = performance.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const { status } = await client.runs.get(threadId, runId);
    if (status !== "pending" && status !== "running") return status;
    if (performance.now() > deadline) throw new Error(`run ${runId} still ${status} after ${RUN_TIMEOUT_MS} ms`);
    await sleep(20);
  }
}

interface WaitResult {
  /** Runs per second, end to end: N / (first call to last response). */
  rate: number;
  latency: Summary;
  completed: number;
}

/** N sequential `runs.wait` on fresh threads (thread creation included in the time: it is one more call on both). */
async function measureWaits(client: Client, n: number): Promise<WaitResult> {
  const latencies: number[] = [];
  let completed = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const threadId = await freshThread(client);
    const t = performance.now();
    const values = await client.runs.wait(threadId, GRAPH, { input: tripInput("wait"), signal: AbortSignal.timeout(RUN_TIMEOUT_MS) });
    latencies.push(performance.now() - t);
    if (tripCompleted(values)) completed++;
  }
  return { rate: (n * 1000) / (performance.now() - t0), latency: summarise(latencies), completed };
}

interface StreamSample {
  firstEventMs: number;
  firstEventName: string;
  firstValuesMs: number;
  endMs: number;
  completed: boolean;
}

/** One `runs.stream` on a fresh thread, read to its end: when the first event and the first `values` came. */
async function timeStream(client: Client): Promise<StreamSample> {
  const threadId = await freshThread(client);
  let firstEventMs = NaN;
  let firstEventName = "";
  let firstValuesMs = NaN;
  let last: unknown;
  let failed = false;
  const t0 = performance.now();
  const stream = client.runs.stream(threadId, GRAPH, { input: tripInput("stream"), streamMode: ["values"], signal: AbortSignal.timeout(RUN_TIMEOUT_MS) });
  for await (const chunk of stream) {
    const t = performance.now() - t0;
    if (!firstEventName) {
      firstEventMs = t;
      firstEventName = chunk.event;
    }
    if (chunk.event === "values") {
      if (Number.isNaN(firstValuesMs)) firstValuesMs = t;
      last = chunk.data;
    }
    if (chunk.event === "error") failed = true;
  }
  return { firstEventMs, firstEventName, firstValuesMs, endMs: performance.now() - t0, completed: !failed && tripCompleted(last) };
}

interface StreamResult {
  firstEvent: Summary;
  firstValues: Summary;
  end: Summary;
  /** Names of the first event, with counts ("metadata x50"). */
  firstEventNames: string;
  completed: number;
}

async function measureStreams(client: Client, n: number): Promise<StreamResult> {
  const samples: StreamSample[] = [];
  for (let i = 0; i < n; i++) samples.push(await timeStream(client));
  const names = new Map<string, number>();
  for (const s of samples) names.set(s.firstEventName, (names.get(s.firstEventName) ?? 0) + 1);
  return {
    firstEvent: summarise(samples.map((s) => s.firstEventMs)),
    firstValues: summarise(samples.map((s) => s.firstValuesMs)),
    end: summarise(samples.map((s) => s.endMs)),
    firstEventNames: [...names].map(([name, count]) => `${name} x${count}`).join(", "),
    completed: samples.filter((s) => s.completed).length,
  };
}

interface ServerResult {
  creates: CreateResult;
  waits: WaitResult;
  streams: StreamResult;
  /** Wall time of this server's whole client script (warm-up included). */
  totalMs: number;
}

/** The whole client script against one server: warm-up, creates, waits, streams. */
async function runClientScript(apiUrl: string, label: string): Promise<ServerResult> {
  const client = new Client({ apiUrl, apiKey: null });
  const t0 = performance.now();
  for (let i = 0; i < WARMUP; i++) {
    const values = await client.runs.wait(await freshThread(client), GRAPH, { input: tripInput("warmup"), signal: AbortSignal.timeout(RUN_TIMEOUT_MS) });
    if (!tripCompleted(values)) throw new Error(`${label}: a warm-up travel run did not complete the trip: ${JSON.stringify(values).slice(0, 500)}`);
  }
  console.error(`[${label}] warm-up done; ${CREATES} creates...`);
  const creates = await measureCreates(client, CREATES);
  console.error(`[${label}] ${WAITS} waits...`);
  const waits = await measureWaits(client, WAITS);
  console.error(`[${label}] ${STREAMS} streams...`);
  const streams = await measureStreams(client, STREAMS);
  return { creates, waits, streams, totalMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------------
// What each server leaves behind

interface TableStat {
  table: string;
  rows: number;
  bytes: number;
}

/** Row counts and total size (table, indexes, TOAST) of some tables in the scratch database. */
async function tableStats(pool: pg.Pool, tables: string[]): Promise<TableStat[]> {
  const out: TableStat[] = [];
  for (const table of tables) {
    const { rows } = await pool.query<{ rows: string; bytes: string }>(`SELECT (SELECT count(*) FROM ${table}) AS rows, pg_total_relation_size($1::regclass) AS bytes`, [table]);
    out.push({ table, rows: Number(rows[0]?.rows ?? 0), bytes: Number(rows[0]?.bytes ?? 0) });
  }
  return out;
}

const RUN_TABLES = ["checkpoints", "checkpoint_blobs", "checkpoint_writes", "waypoint.runs", "waypoint.run_events", "waypoint.threads", "waypoint.api_threads"];
const TOOL_TABLES = ["waypoint.tool_calls"];

interface SavedFile {
  name: string;
  bytes: number;
  /** Whether it parses as JSON (a save cut short leaves a truncated file). */
  valid: boolean;
}

function parsesAsJson(file: string): boolean {
  try {
    JSON.parse(fs.readFileSync(file, "utf-8"));
    return true;
  } catch {
    return false;
  }
}

/** Files `langgraph dev` wrote under .langgraph_api/: name, size, and whether they are whole. */
function langgraphApiFiles(): SavedFile[] {
  if (!fs.existsSync(LANGGRAPH_API_DIR)) return [];
  return fs.readdirSync(LANGGRAPH_API_DIR).map((name) => {
    const file = path.join(LANGGRAPH_API_DIR, name);
    return { name, bytes: fs.statSync(file).size, valid: parsesAsJson(file) };
  });
}

// ---------------------------------------------------------------------------------------------------
// The two servers

/** (a) Waypoint's server in this process, with its worker, on the scratch database, without auth. */
async function benchWaypoint(dbUrl: string): Promise<ServerResult> {
  const server = await startServer({ host: "127.0.0.1", port: 0, auth: { required: false, tokens: new Map() }, worker: { url: dbUrl } });
  try {
    return await runClientScript(server.url, "waypoint");
  } finally {
    await server.close();
  }
}

interface DevServer {
  child: ChildProcess;
  url: string;
  /** Everything it printed (stdout and stderr), for errors. */
  output(): string;
  exited: Promise<void>;
}

/** (b) `npx @langchain/langgraph-cli dev` as a child in its own process group, in the project root. */
function spawnLanggraphDev(dbUrl: string): DevServer {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: dbUrl, BROWSER: "none", LANGGRAPH_CLI_NO_ANALYTICS: "1" };
  // --no-reload: its default `tsx watch` would restart the server mid-run whenever a source file changes.
  const cliArgs = ["@langchain/langgraph-cli", "dev", "--port", String(DEV_PORT), "--host", "127.0.0.1", "--no-browser", "--no-reload"];
  const child = spawn("npx", cliArgs, { cwd: PROJECT_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, url: `http://127.0.0.1:${DEV_PORT}`, output: () => output, exited };
}

/** Poll GET /ok until it answers 200; fails early if the child exits. */
async function waitUntilReady(dev: DevServer, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let gone = false;
  void dev.exited.then(() => (gone = true));
  while (performance.now() - t0 < timeoutMs) {
    if (gone) throw new Error(`langgraph dev exited before answering /ok:\n${dev.output()}`);
    const ok = await fetch(`${dev.url}/ok`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ok) return performance.now() - t0;
    await sleep(250);
  }
  throw new Error(`langgraph dev did not answer ${dev.url}/ok within ${timeoutMs} ms:\n${dev.output()}`);
}

/** Send a signal to the child's whole process group (npx, the CLI, the API server and its loader). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Whether any process of the child's group is still alive. */
function groupAlive(child: ChildProcess): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGINT the group, as Ctrl-C in a terminal would (the API server saves .langgraph_api on exit), then
 * SIGKILL whatever is left after 15 s. Not SIGTERM: a group-wide SIGTERM cuts that save short and leaves
 * truncated, unparseable JSON files behind (seen with @langchain/langgraph-cli 1.5.1).
 */
async function stopLanggraphDev(dev: DevServer): Promise<void> {
  signalGroup(dev.child, "SIGINT");
  const deadline = performance.now() + 15_000;
  while (groupAlive(dev.child) && performance.now() < deadline) await sleep(100);
  // Only a live group: once it is gone, its id may be reused by someone else's processes.
  if (groupAlive(dev.child)) signalGroup(dev.child, "SIGKILL");
  await dev.exited;
}

interface DevFiles {
  /** .langgraph_api/ 4 s after the last request (its saves are debounced by 3 s). */
  running: SavedFile[];
  /** .langgraph_api/ after the server was stopped (SIGINT). */
  stopped: SavedFile[];
}

async function benchLanggraphDev(dbUrl: string): Promise<{ result: ServerResult; startupMs: number; files: DevFiles }> {
  // Something else answering on the port would be measured instead of the dev server.
  const taken = await fetch(`http://127.0.0.1:${DEV_PORT}/ok`, { signal: AbortSignal.timeout(2_000) }).then(() => true, () => false);
  if (taken) throw new Error(`Port ${DEV_PORT} is in use already; pick another with --port.`);
  const dev = spawnLanggraphDev(dbUrl);
  // If this script dies, do not leave the dev server running.
  const killOnExit = () => signalGroup(dev.child, "SIGKILL");
  process.once("exit", killOnExit);
  let startupMs: number;
  let result: ServerResult;
  let running: DevFiles["running"];
  try {
    startupMs = await waitUntilReady(dev, DEV_START_TIMEOUT_MS);
    console.error(`[langgraph dev] ready after ${(startupMs / 1000).toFixed(1)} s`);
    result = await runClientScript(dev.url, "langgraph dev");
    await sleep(4_000);
    running = langgraphApiFiles();
  } finally {
    await stopLanggraphDev(dev);
    process.removeListener("exit", killOnExit);
  }
  return { result, startupMs, files: { running, stopped: langgraphApiFiles() } };
}

// ---------------------------------------------------------------------------------------------------
// Report

function printReport(wp: ServerResult, dev: ServerResult): void {
  const rows: string[][] = [];
  /** One row: the two values, and Waypoint / langgraph dev. */
  const row = (metric: string, a: number, b: number, digits = 1) => rows.push([metric, fmt(a, digits), fmt(b, digits), ratio(a, b)]);
  row(`runs.create per second (${CREATES} sequential, fresh threads)`, wp.creates.createRate, dev.creates.createRate);
  row("runs.create latency median (ms)", wp.creates.createLatency.median, dev.creates.createLatency.median);
  row("runs.create latency p95 (ms)", wp.creates.createLatency.p95, dev.creates.createLatency.p95);
  row(`runs finished per second (those ${CREATES}, first create to last run's end, status polled)`, wp.creates.finishRate, dev.creates.finishRate);
  row(`runs.wait per second (${WAITS} sequential, end to end)`, wp.waits.rate, dev.waits.rate);
  row("runs.wait latency median (ms)", wp.waits.latency.median, dev.waits.latency.median);
  row("runs.wait latency p95 (ms)", wp.waits.latency.p95, dev.waits.latency.p95);
  row(`runs.stream: first event median (ms, ${STREAMS} runs)`, wp.streams.firstEvent.median, dev.streams.firstEvent.median);
  row("runs.stream: first event p95 (ms)", wp.streams.firstEvent.p95, dev.streams.firstEvent.p95);
  row("runs.stream: first values event median (ms)", wp.streams.firstValues.median, dev.streams.firstValues.median);
  row("runs.stream: first values event p95 (ms)", wp.streams.firstValues.p95, dev.streams.firstValues.p95);
  row("runs.stream: stream end median (ms)", wp.streams.end.median, dev.streams.end.median);
  rows.push(["first SSE event", wp.streams.firstEventNames, dev.streams.firstEventNames, ""]);
  const done = (r: ServerResult) => `${r.creates.completed}/${CREATES}, ${r.waits.completed}/${WAITS}, ${r.streams.completed}/${STREAMS}`;
  rows.push(["trips completed (creates, waits, streams)", done(wp), done(dev), ""]);
  row("client script wall time (s, warm-up included)", wp.totalMs / 1000, dev.totalMs / 1000);
  printTable(["metric", "Waypoint", "langgraph dev", "ratio (Waypoint / dev)"], rows);
}

async function main(): Promise<void> {
  if (config().openai.apiKey) throw new Error("Unset OPENAI_API_KEY: this benchmark compares the servers on the offline planner model (hundreds of runs).");
  const wall = performance.now();
  const hadLanggraphApi = fs.existsSync(LANGGRAPH_API_DIR);
  if (hadLanggraphApi) console.error(`${LANGGRAPH_API_DIR} exists already: langgraph dev will load it and add this benchmark's threads to it (it is kept).`);
  await withScratchDatabase("bench_server", async (db) => {
    const dbUrl = db.url;
    let scratch: Awaited<ReturnType<typeof openDatabase>> | undefined;
    try {
      const wp = await benchWaypoint(dbUrl);
      scratch = await openDatabase({ url: dbUrl, poolMax: 2 });
      const wpTables = await tableStats(scratch.pool, RUN_TABLES);
      const toolCallsAfterWp = (await tableStats(scratch.pool, TOOL_TABLES))[0]?.rows ?? 0;

      const dev = await benchLanggraphDev(dbUrl);
      const toolCallsAfterDev = (await tableStats(scratch.pool, TOOL_TABLES))[0]?.rows ?? 0;

      const runsPerServer = WARMUP + CREATES + WAITS + STREAMS;
      console.log(`\nAgent server benchmark: graph "${GRAPH}" (offline planner model), one client script (@langchain/langgraph-sdk Client), ${runsPerServer} runs per server, ${os.cpus().length} CPUs, Postgres ${db.kind}\n`);
      printReport(wp, dev.result);
      const wpBytes = wpTables.reduce((s, t) => s + t.bytes, 0);
      const devBytes = dev.files.running.reduce((s, f) => s + f.bytes, 0);
      const listFiles = (files: DevFiles["running"]) => files.map((f) => `${f.name} ${kib(f.bytes)}${f.valid ? "" : " (**not valid JSON**)"}`).join(", ") || "none";
      console.log("\nNotes:");
      console.log(`- Waypoint (in this process, worker concurrency ${config().worker.concurrency}): every thread, run, stream event and checkpoint is in Postgres; runs stream with durability "sync" (each super-step is committed before the next starts). After its ${runsPerServer} runs: ${wpTables.map((t) => `${t.table} ${t.rows} rows`).join(", ")}; ${kib(wpBytes)} in those tables.`);
      console.log(`- langgraph dev (child process, --no-reload, 10 jobs per worker; ready ${(dev.startupMs / 1000).toFixed(1)} s after spawn): threads, runs and checkpoints live in memory and are saved as JSON files in .langgraph_api/ (each save rewrites a whole file, 3 s after a change, and on exit). 4 s after the last request: ${listFiles(dev.files.running)}; ${kib(devBytes)} in all. After it stopped (SIGINT): ${listFiles(dev.files.stopped)}.`);
      console.log(`- Both: the travel tools' ledger (waypoint.tool_calls) and world bookings are in Postgres either way: ${toolCallsAfterWp} ledger rows after Waypoint, ${toolCallsAfterDev - toolCallsAfterWp} more from langgraph dev.`);
      console.log('- langgraph dev\'s runs.wait, runs.join and the end of its streams come up to 500 ms after the run is over: its stream reader (langgraph-api storage/ops.mjs) waits on `queue.get({ timeout: 500 })` for a "done" control message that nothing publishes, then checks the run\'s status. The first-event times and the runs finished per second (polled with runs.get) do not include that wait.');
      console.log("- The client runs in the same Node process as Waypoint's server (they share one event loop); langgraph dev runs in its own processes. Runs are sequential, except the created ones, which run in the background while later ones are created.");
      console.log(`\nWall time: ${((performance.now() - wall) / 1000).toFixed(1)} s`);
    } finally {
      await scratch?.close();
      if (!hadLanggraphApi) fs.rmSync(LANGGRAPH_API_DIR, { recursive: true, force: true });
    }
  });
}

await main();
