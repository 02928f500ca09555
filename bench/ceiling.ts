// The ceiling of one Postgres (issue 16, item 7): durable super-steps per second at saturation, and what
// bounds it. 1, 2, 3 and 4 load processes (each a Node process with WaypointSaver, durability "sync",
// running 10-step workflows with --inflight at once, as bench/steps.ts) write to one scratch database for
// --seconds each. Per row: steps/s in all, and where the time went:
// - CPU: the Postgres server's processes (all of them, /proc) and the load processes, ms per step and as
//   a share of the machine's cores over the window;
// - WAL: bytes and records per step, and WAL flushes (pg_stat_wal.wal_sync) per second;
// - waits: what Postgres backends of the database were doing when sampled every 20 ms (pg_stat_activity:
//   running on CPU, or waiting on a lock, an LWLock, I/O (WAL flush), the client).
// On a machine where Postgres shares its cores with the load, the row where steps/s stops rising while
// CPU is at 100% of the cores says the bound is CPU; a rising share of Lock/LWLock/IO waits would say
// locks or WAL.
// Run: npm run bench:ceiling [-- --processes 1,2,3,4 --seconds 10 --inflight 50]   (DATABASE_URL or embedded)
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { START, StateGraph, StateSchema } from "@langchain/langgraph";
import pg from "pg";
import { z } from "zod";
import { openDatabase } from "../src/db/index.js";
import { createPersistence } from "../src/persistence/index.js";
import { markdownTable, withScratchDatabase } from "./support.js";

const STEPS = 10;
const SELF = fileURLToPath(import.meta.url);

const { values: a } = parseArgs({
  options: {
    processes: { type: "string", default: "1,2,3,4" },
    seconds: { type: "string", default: "10" },
    inflight: { type: "string", default: "50" },
    child: { type: "string" },
    tag: { type: "string", default: "p" },
  },
});
const SECONDS = Number(a.seconds);
const INFLIGHT = Number(a.inflight);

// --- A load process: workflows until told to stop; prints its step count ----------------------------

const State = new StateSchema({ count: z.number().default(0), note: z.string().default("") });

function chain() {
  let g = new StateGraph(State) as unknown as StateGraph<typeof State>;
  for (let i = 0; i < STEPS; i++) {
    g = g.addNode(`step${i + 1}`, async (s: { count: number }) => ({ count: s.count + 1, note: `step ${i + 1} saw ${s.count}` })) as unknown as StateGraph<typeof State>;
  }
  g = g.addEdge(START, "step1" as never) as unknown as StateGraph<typeof State>;
  for (let i = 1; i < STEPS; i++) g = g.addEdge(`step${i}` as never, `step${i + 1}` as never) as unknown as StateGraph<typeof State>;
  return g;
}

async function child(url: string, tag: string): Promise<void> {
  const db = await openDatabase({ url, poolMax: 10 });
  const persistence = await createPersistence(db, { saver: "waypoint" });
  const graph = chain().compile({ checkpointer: persistence.saver });
  let steps = 0;
  let measuring = false;
  let stop = false;
  let seq = 0;
  const lane = async () => {
    while (!stop) {
      const out = (await graph.invoke({ count: 0, note: "" }, { configurable: { thread_id: `${tag}-${seq++}` }, durability: "sync" })) as { count: number };
      if (out.count !== STEPS) throw new Error(`a workflow ended with count ${out.count}`);
      if (measuring) steps += STEPS;
    }
  };
  const lanes = Array.from({ length: INFLIGHT }, lane);
  process.stdout.write("ready\n");
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  for await (const line of readLines(process.stdin)) {
    if (line === "go") {
      steps = 0;
      measuring = true;
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    } else if (line === "stop") {
      measuring = false;
      const cpu = process.cpuUsage(cpu0);
      const ms = performance.now() - t0;
      process.stdout.write(`${JSON.stringify({ steps, ms, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
      stop = true;
      break;
    }
  }
  await Promise.all(lanes);
  await persistence.close();
}

async function* readLines(stream: NodeJS.ReadableStream): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream) {
    buf += String(chunk);
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      yield buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
    }
  }
}

// --- The parent: rows of 1..N load processes ---------------------------------------------------------

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK = 100;

/** CPU ms of every process named `postgres` (the server and all its backends). */
function postgresCpuMs(): number {
  let ticks = 0;
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (name !== "postgres") continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return (ticks / TICK) * 1000;
}

interface Wal {
  bytes: number;
  records: number;
  syncs: number;
  commits: number;
}

async function walNow(c: pg.Client): Promise<Wal> {
  const { rows } = await c.query<{ bytes: string; records: string; syncs: string; commits: string }>(
    "SELECT w.wal_bytes AS bytes, w.wal_records AS records, w.wal_sync AS syncs, d.xact_commit AS commits FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = current_database()",
  );
  const r = rows[0]!;
  return { bytes: Number(r.bytes), records: Number(r.records), syncs: Number(r.syncs), commits: Number(r.commits) };
}

interface Row {
  processes: number;
  stepsPerSecond: number;
  pgCpuMsPerStep: number;
  nodeCpuMsPerStep: number;
  pgCores: number;
  nodeCores: number;
  walBytesPerStep: number;
  walRecordsPerStep: number;
  walSyncsPerSecond: number;
  commitsPerSecond: number;
  /** Share of sampled backends in each state. */
  waits: Record<string, number>;
  load: number;
}

function spawnLoad(url: string, tag: string): { child: ChildProcess; lines: string[]; ready: Promise<void> } {
  const child = spawn(process.execPath, ["--import", "tsx", SELF, "--child", url, "--inflight", String(INFLIGHT), "--tag", tag], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  const lines: string[] = [];
  let buf = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line === "ready") resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`load process exited with ${code} before it was ready`)));
  });
  return { child, lines, ready };
}

async function row(processes: number): Promise<Row> {
  return withScratchDatabase("ceiling", async (db) => {
    // Tables first, once, so the load processes do not race to create them.
    const setup = await openDatabase({ url: db.url, poolMax: 2 });
    await (await createPersistence(setup, { saver: "waypoint" })).close();
    const loads = Array.from({ length: processes }, (_, i) => spawnLoad(db.url, `p${i}`));
    const sampler = new pg.Client({ connectionString: db.url, application_name: "bench-ceiling-sampler" });
    await sampler.connect();
    try {
      await Promise.all(loads.map((l) => l.ready));
      // Warm-up: JIT, pools, prepared statements.
      await new Promise((r) => setTimeout(r, 2_000));
      const wal0 = await walNow(sampler);
      const pg0 = postgresCpuMs();
      const t0 = performance.now();
      for (const l of loads) l.child.stdin!.write("go\n");
      const waits = new Map<string, number>();
      let samples = 0;
      const end = Date.now() + SECONDS * 1000;
      while (Date.now() < end) {
        const { rows } = await sampler.query<{ state: string }>(
          `SELECT CASE WHEN state = 'active' AND wait_event_type IS NULL THEN 'on CPU'
                       WHEN state = 'active' THEN wait_event_type || ':' || wait_event
                       ELSE 'idle (waiting for the client)' END AS state
             FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        );
        for (const r of rows) waits.set(r.state, (waits.get(r.state) ?? 0) + 1);
        samples += rows.length;
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const l of loads) l.child.stdin!.write("stop\n");
      const wall = performance.now() - t0;
      const pgMs = postgresCpuMs() - pg0;
      const wal1 = await walNow(sampler);
      const results = await Promise.all(
        loads.map(
          (l) =>
            new Promise<{ steps: number; ms: number; cpuMs: number }>((resolve, reject) => {
              const check = () => {
                const line = l.lines.find((x) => x.startsWith("{"));
                if (line) resolve(JSON.parse(line) as { steps: number; ms: number; cpuMs: number });
                else if (l.child.exitCode !== null) reject(new Error("a load process exited without its count"));
                else setTimeout(check, 20);
              };
              check();
            }),
        ),
      );
      await Promise.all(loads.map((l) => new Promise((r) => (l.child.exitCode !== null ? r(null) : l.child.once("exit", r)))));
      const steps = results.reduce((s, r) => s + r.steps, 0);
      const seconds = results.reduce((s, r) => s + r.ms, 0) / results.length / 1000;
      const nodeMs = results.reduce((s, r) => s + r.cpuMs, 0);
      const cores = os.cpus().length;
      return {
        processes,
        stepsPerSecond: steps / seconds,
        pgCpuMsPerStep: pgMs / steps,
        nodeCpuMsPerStep: nodeMs / steps,
        pgCores: pgMs / wall / cores,
        nodeCores: nodeMs / 1000 / seconds / cores,
        walBytesPerStep: (wal1.bytes - wal0.bytes) / steps,
        walRecordsPerStep: (wal1.records - wal0.records) / steps,
        walSyncsPerSecond: (wal1.syncs - wal0.syncs) / (wall / 1000),
        commitsPerSecond: (wal1.commits - wal0.commits) / (wall / 1000),
        waits: Object.fromEntries([...waits].map(([k, v]) => [k, v / Math.max(1, samples)])),
        load: os.loadavg()[0] ?? NaN,
      };
    } finally {
      for (const l of loads) if (l.child.exitCode === null) l.child.kill("SIGKILL");
      await sampler.end().catch(() => undefined);
    }
  });
}

if (a.child) {
  await child(a.child, a.tag);
} else {
  const rows: Row[] = [];
  for (const n of a.processes.split(",").map(Number)) {
    console.error(`[ceiling] ${n} load process(es), ${SECONDS} s ...`);
    rows.push(await row(n));
  }
  const states = [...new Set(rows.flatMap((r) => Object.keys(r.waits)))].sort();
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  console.log(
    `\n### The ceiling of one Postgres: durable super-steps/s (WaypointSaver, "sync", 10-step workflows, ${INFLIGHT} in flight per load process, ${SECONDS} s per row, ${os.cpus().length} CPUs shared by Postgres and the load)\n`,
  );
  console.log(
    markdownTable(
      ["load processes", "steps/s", "Postgres CPU ms/step", "load CPU ms/step", "Postgres share of cores", "load share of cores", "WAL bytes/step", "WAL records/step", "WAL flushes/s", "commits/s", "load avg"],
      rows.map((r) => [
        String(r.processes),
        r.stepsPerSecond.toFixed(0),
        r.pgCpuMsPerStep.toFixed(3),
        r.nodeCpuMsPerStep.toFixed(3),
        pct(r.pgCores),
        pct(r.nodeCores),
        r.walBytesPerStep.toFixed(0),
        r.walRecordsPerStep.toFixed(1),
        r.walSyncsPerSecond.toFixed(0),
        r.commitsPerSecond.toFixed(0),
        r.load.toFixed(2),
      ]),
    ),
  );
  console.log("\nWhat the database's backends were doing (share of samples, every 20 ms):\n");
  console.log(markdownTable(["load processes", ...states], rows.map((r) => [String(r.processes), ...states.map((s) => pct(r.waits[s] ?? 0))])));
}
