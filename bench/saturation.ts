// Saturation benchmark (issue 16, item 5): many runs in flight at once on real `waypoint worker
// --processes N` CLI children, each run an agent with two model calls of --delay ms (default 1 s) around a
// tool step (bench/fixtures/saturation), with at most 20 Postgres connections in all, directly or through
// a PgBouncer in transaction mode.
//
// Per combination (runs x processes x via), in a scratch database of its own:
// - the runs are submitted through the queue's own submit path (waypoint.submit_run_row), due in an hour,
//   timed apart; once the worker processes are up and their idle RSS is read, one UPDATE makes them all
//   due and one NOTIFY wakes the workers;
// - time: first claim (min started_at) -> last completed (max finished_at), from the runs table;
// - peak in flight: `count(*) WHERE status = 'running'` every 100 ms on a separate connection;
// - peak connections: client backends of the scratch database in pg_stat_activity, the sampler's own
//   excluded (through PgBouncer these are its server connections plus each process's direct one);
// - RSS: VmRSS of the worker processes (the CLI's process tree, its supervisor excluded when N > 1),
//   summed, every 200 ms; memory per waiting run = (peak RSS - idle RSS) / peak in flight.
//
// Usage: npm run bench:saturation [-- --runs 1000,10000 --processes 1,2 --via direct,pgbouncer --delay 1000]
// (needs DATABASE_URL or TEST_DATABASE_URL to a Postgres on 127.0.0.1; pgbouncer at /usr/sbin/pgbouncer).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { WAKE_CHANNEL } from "../src/runs/queue.js";
import { Waypoint } from "../src/runs/runner.js";
import { submit } from "../src/runs/submit.js";
import { childEnv, startCli, type CliChild } from "../tests/support/cli.js";
import { startPgBouncer, type PgBouncer } from "../tests/support/pgbouncer.js";
import { withScratchDatabase, markdownTable } from "./support.js";

export const SATURATION_CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "saturation", "langgraph.json");
const GRAPH = "saturation";

export type Via = "direct" | "pgbouncer";

export interface SaturationOptions {
  /** Run counts to try (default [1000, 10000]). */
  runs?: number[];
  /** Worker process counts (default [1, 2]). */
  processes?: number[];
  via?: Via[];
  /** Milliseconds per model call (default 1000). */
  delayMs?: number;
  /** Postgres connections allowed in all (default 20): pools are sized from it. */
  connections?: number;
  /** Longest one combination may take once its runs are released (default 30 min). */
  timeoutMs?: number;
  /** Write a V8 CPU profile of each worker process into this folder (node --cpu-prof). */
  cpuProfDir?: string | undefined;
  /** Progress lines (default: stderr). */
  say?: (line: string) => void;
}

export interface SaturationRow {
  runs: number;
  processes: number;
  via: Via;
  /** Submitting every run (not part of `ms`). */
  submitMs: number;
  /** First claim -> last completed. */
  ms: number;
  /** First claim -> last claim (the last start of a run: retries count). */
  claimedMs: number;
  completed: number;
  /** Runs that ended other than success, by status. */
  failed: Record<string, number>;
  peakInFlight: number;
  peakConnections: number;
  /** Sum over the worker processes, MB. */
  idleRssMb: number;
  peakRssMb: number;
  /** (peak - idle) / peak in flight, KB. */
  kbPerRun: number;
  /** Pool sizes given: per process, and PgBouncer's server pool (pgbouncer only). */
  poolMax: number;
  bouncerPool: number | undefined;
  /** 1-minute load average at the end of the combination. */
  load: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Pids of `root` and all its descendants (from /proc/<pid>/stat's ppid). */
function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(d), ppid);
    } catch {
      // gone
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The worker processes of a CLI tree: the CLI itself with one process, its descendants with more. */
function workerPids(root: number, processes: number): number[] {
  const pids = processTree(root);
  return processes > 1 ? pids.slice(1) : pids;
}

const rssOf = (pids: number[]) => pids.reduce((n, p) => n + rssKb(p), 0);

/** Sizes pools so that `processes` workers stay within `budget` connections in all. */
export function poolPlan(budget: number, processes: number, via: Via): { poolMax: number; bouncerPool: number | undefined } {
  // Each process: its pool, and one direct connection (liveness lock, LISTEN and claims). Through
  // PgBouncer the pools (the app's and PostgresStore's) share its server connections, so what is left
  // after the direct ones is PgBouncer's.
  if (via === "pgbouncer") {
    const bouncerPool = budget - processes;
    return { poolMax: Math.max(2, Math.min(bouncerPool, 20)), bouncerPool };
  }
  // Direct: each process also has PostgresStore's own pool (up to 2; it always opens one).
  return { poolMax: Math.max(2, Math.floor(budget / processes) - 3), bouncerPool: undefined };
}

async function one(runs: number, processes: number, via: Via, o: Required<Pick<SaturationOptions, "delayMs" | "connections" | "timeoutMs" | "say">> & Pick<SaturationOptions, "cpuProfDir">): Promise<SaturationRow> {
  return withScratchDatabase("saturation", async (db) => {
    const say = (line: string) => o.say(`[${runs} runs, ${processes} process(es), ${via}] ${line}`);
    // Schema and the runs: the submit path, due in an hour (made due at once when the workers are up).
    const wp = await Waypoint.open({ url: db.url, config: SATURATION_CONFIG, poolMax: 8 });
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < runs; i = next++) await submit(wp, { assistant: GRAPH, input: { messages: [{ role: "user", content: `What time is it? (${i})` }] }, afterSeconds: 3600 });
      }),
    );
    const submitMs = performance.now() - t0;
    await wp.close();
    say(`submitted in ${(submitMs / 1000).toFixed(1)} s`);

    const plan = poolPlan(o.connections, processes, via);
    let bouncer: PgBouncer | undefined;
    let tree: CliChild | undefined;
    const sampler = new pg.Client({ connectionString: db.url, application_name: "bench-saturation-sampler" });
    await sampler.connect();
    const killTree = () => {
      if (!tree?.child.pid) return;
      for (const p of processTree(tree.child.pid).reverse()) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // gone
        }
      }
    };
    process.once("exit", killTree);
    let timer: NodeJS.Timeout | undefined;
    try {
      if (via === "pgbouncer") bouncer = await startPgBouncer({ poolSize: plan.bouncerPool ?? 10, serverUrl: db.url });
      const env = childEnv({
        DATABASE_URL: bouncer ? bouncer.through(db.url) : db.url,
        DATABASE_DIRECT_URL: bouncer ? db.url : undefined,
        DATABASE_POOL_MODE: bouncer ? "transaction" : undefined,
        WAYPOINT_POOL_MAX: String(plan.poolMax),
        WAYPOINT_PROCESSES: String(processes),
        WAYPOINT_WORKER_CONCURRENCY: String(Math.min(10_000, Math.ceil(runs / processes))),
        WAYPOINT_RETENTION_INTERVAL_MS: "0",
        BENCH_MODEL_DELAY_MS: String(o.delayMs),
        LOG_LEVEL: "warn",
      });
      // Connections are counted from before the workers start (their setup included).
      let peakInFlight = 0;
      let peakConnections = 0;
      let peakRss = 0;
      let measuring = false;
      let workers: number[] = [];
      let busy = false;
      let done = 0;
      const sample = async () => {
        if (busy) return;
        busy = true;
        try {
          const { rows } = await sampler.query<{ running: number; done: number; conns: number }>(
            `SELECT count(*) FILTER (WHERE status = 'running')::int AS running, count(*) FILTER (WHERE status NOT IN ('pending', 'running'))::int AS done,
                    (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()) AS conns
               FROM waypoint.runs`,
          );
          const r = rows[0]!;
          peakInFlight = Math.max(peakInFlight, r.running);
          peakConnections = Math.max(peakConnections, r.conns);
          done = r.done;
          if (measuring) peakRss = Math.max(peakRss, rssOf(workers));
        } finally {
          busy = false;
        }
      };
      timer = setInterval(() => void sample().catch(() => undefined), 100);
      tree = startCli(["--json", "--config", SATURATION_CONFIG, "worker", "--processes", String(processes)], env, o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : []);
      const ready = () => (tree!.output().match(/ready as /g) ?? []).length;
      const deadline = Date.now() + 60_000;
      // A single process prints nothing until a run comes; it is up when its worker row is there.
      for (;;) {
        const { rows } = await sampler.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.workers WHERE stopped_at IS NULL");
        if ((rows[0]?.n ?? 0) >= processes && (processes === 1 || ready() >= processes)) break;
        if (tree.child.exitCode !== null || Date.now() > deadline) throw new Error(`worker processes did not start:\n${tree.output()}`);
        await sleep(100);
      }
      await sleep(1_000);
      workers = workerPids(tree.child.pid!, processes);
      const idleRss = rssOf(workers);
      peakRss = idleRss;
      measuring = true;
      say(`${processes} worker process(es) up, ${(idleRss / 1024).toFixed(0)} MB; releasing the runs`);

      await sampler.query(`WITH r AS (UPDATE waypoint.runs SET available_at = now() WHERE status = 'pending' RETURNING 1) SELECT pg_notify($1, '') FROM r LIMIT 1`, [WAKE_CHANNEL]);
      const end = Date.now() + o.timeoutMs;
      let lastSay = Date.now();
      while (done < runs && Date.now() < end && tree.child.exitCode === null) {
        await sleep(100);
        if (Date.now() - lastSay > 10_000) {
          lastSay = Date.now();
          say(`${done} / ${runs} ended, peak in flight ${peakInFlight}, peak connections ${peakConnections}`);
        }
      }
      clearInterval(timer);
      await sample();
      const { rows: st } = await sampler.query<{ status: string; n: number }>("SELECT status, count(*)::int AS n FROM waypoint.runs GROUP BY status");
      const { rows: span } = await sampler.query<{ ms: number; claimed: number }>(
        "SELECT extract(epoch FROM max(finished_at) - min(started_at)) * 1000 AS ms, extract(epoch FROM max(started_at) - min(started_at)) * 1000 AS claimed FROM waypoint.runs",
      );
      const failed = Object.fromEntries(st.filter((r) => r.status !== "success").map((r) => [r.status, r.n]));
      const row: SaturationRow = {
        runs,
        processes,
        via,
        submitMs,
        ms: done >= runs ? Number(span[0]?.ms ?? NaN) : NaN,
        claimedMs: Number(span[0]?.claimed ?? NaN),
        completed: st.find((r) => r.status === "success")?.n ?? 0,
        failed,
        peakInFlight,
        peakConnections,
        idleRssMb: idleRss / 1024,
        peakRssMb: peakRss / 1024,
        kbPerRun: peakInFlight > 0 ? (peakRss - idleRss) / peakInFlight : NaN,
        poolMax: plan.poolMax,
        bouncerPool: plan.bouncerPool,
        load: os.loadavg()[0] ?? NaN,
      };
      say(`done: ${row.completed} completed in ${(row.ms / 1000).toFixed(1)} s, peak in flight ${peakInFlight}, peak connections ${peakConnections}`);
      return row;
    } finally {
      clearInterval(timer);
      if (tree && tree.child.exitCode === null && tree.child.signalCode === null) {
        tree.child.kill("SIGTERM");
        const killer = setTimeout(killTree, 30_000);
        await tree.done;
        clearTimeout(killer);
      }
      killTree();
      process.removeListener("exit", killTree);
      await sampler.end().catch(() => undefined);
      await bouncer?.stop();
    }
  });
}

/** Every combination of runs x processes x via, one after the other. */
export async function saturation(opts: SaturationOptions = {}): Promise<SaturationRow[]> {
  const o = {
    delayMs: opts.delayMs ?? 1000,
    connections: opts.connections ?? 20,
    timeoutMs: opts.timeoutMs ?? 1_800_000,
    say: opts.say ?? ((line: string) => console.error(line)),
    cpuProfDir: opts.cpuProfDir,
  };
  const rows: SaturationRow[] = [];
  for (const runs of opts.runs ?? [1000, 10_000]) for (const processes of opts.processes ?? [1, 2]) for (const via of opts.via ?? ["direct", "pgbouncer"]) rows.push(await one(runs, processes, via, o));
  return rows;
}

/** The rows as head + cells, for a table() printer. */
export function saturationCells(rows: SaturationRow[]): { head: string[]; rows: string[][] } {
  return {
    head: ["runs", "processes", "via", "pools", "time", "all claimed", "completed", "peak in flight", "peak connections", "idle RSS", "peak RSS", "per waiting run", "submit", "load"],
    rows: rows.map((r) => [
      r.runs.toLocaleString("en-US"),
      String(r.processes),
      r.via,
      r.bouncerPool !== undefined ? `${r.poolMax}/process, PgBouncer ${r.bouncerPool}` : `${r.poolMax}/process`,
      Number.isFinite(r.ms) ? `${(r.ms / 1000).toFixed(1)} s` : "did not finish",
      `${(r.claimedMs / 1000).toFixed(1)} s`,
      `${r.completed.toLocaleString("en-US")}${Object.keys(r.failed).length ? ` (${Object.entries(r.failed).map(([s, n]) => `${n} ${s}`).join(", ")})` : ""}`,
      r.peakInFlight.toLocaleString("en-US"),
      String(r.peakConnections),
      `${r.idleRssMb.toFixed(0)} MB`,
      `${r.peakRssMb.toFixed(0)} MB`,
      `${r.kbPerRun.toFixed(0)} KB`,
      `${(r.submitMs / 1000).toFixed(1)} s`,
      r.load.toFixed(2),
    ]),
  };
}

export function saturationTable(rows: SaturationRow[]): string {
  const { head, rows: cells } = saturationCells(rows);
  return markdownTable(head, cells);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: a } = parseArgs({
    options: {
      runs: { type: "string", default: "1000,10000" },
      processes: { type: "string", default: "1,2" },
      via: { type: "string", default: "direct,pgbouncer" },
      delay: { type: "string", default: "1000" },
      connections: { type: "string", default: "20" },
      "cpu-prof": { type: "string" },
    },
  });
  const rows = await saturation({
    runs: a.runs.split(",").map(Number),
    processes: a.processes.split(",").map(Number),
    via: a.via.split(",") as Via[],
    delayMs: Number(a.delay),
    connections: Number(a.connections),
    cpuProfDir: a["cpu-prof"],
  });
  console.log(`\n### Saturation: runs in flight at once with ${a.delay} ms model calls (${os.cpus().length} CPUs)\n`);
  console.log(`Agent: bench/fixtures/saturation (2 model calls of ${a.delay} ms around a tool step, 3 checkpoints); \`waypoint worker --processes N\`; at most ${a.connections} Postgres connections in all.\n`);
  console.log(saturationTable(rows));
}
