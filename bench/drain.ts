// Benchmark: how long an idle process takes to exit after it is told to stop (issue 12, item 9: a drain
// exits as soon as its runs are handed back, not when the grace period ends). Three ways in:
//  - `waypoint worker`, SIGTERM to the process;
//  - `waypoint start` (what `npm start` runs: server + worker), SIGTERM to the process;
//  - `npm start` itself, SIGINT to its process group (what Ctrl-C in a terminal does).
// Each on a scratch database with nothing to run, median of N samples. Prints a markdown table.
// Usage: npm run bench:drain [-- --samples 5]   (DATABASE_URL, or embedded Postgres when unset)
import { spawn, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import { config, PROJECT_ROOT } from "../src/config.js";
import { childEnv, runCli } from "../tests/support/cli.js";
import { summarise, withScratchDatabase } from "./support.js";

const { values: args } = parseArgs({ options: { samples: { type: "string", default: "5" } } });
const SAMPLES = Number(args.samples);
/** How long a process may take to get ready, or to exit, before the sample counts as hung. */
const LIMIT_MS = 120_000;

interface Way {
  name: string;
  signal: NodeJS.Signals;
  /** What the process prints once it is up and its signal handlers are in place. */
  ready: string;
  spawn(env: NodeJS.ProcessEnv): ChildProcess;
  /** The signal goes to the child's whole process group (it leads one), as a terminal's Ctrl-C does. */
  group: boolean;
}

const cli = (command: string) => (env: NodeJS.ProcessEnv) =>
  spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", command], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });

const WAYS: Way[] = [
  { name: "`waypoint worker` (idle)", signal: "SIGTERM", ready: "SIGTERM or Ctrl-C drains it", spawn: cli("worker"), group: false },
  { name: "`waypoint start` (server + worker, idle)", signal: "SIGTERM", ready: "Ctrl-C or SIGTERM stops it", spawn: cli("start"), group: false },
  {
    name: "`npm start` (Ctrl-C: SIGINT to the group)",
    signal: "SIGINT",
    ready: "Ctrl-C or SIGTERM stops it",
    spawn: (env) => spawn("npm", ["start", "--silent"], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true }),
    group: true,
  },
];

function signal(way: Way, child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (way.group) process.kill(-(child.pid as number), sig);
    else child.kill(sig);
  } catch {
    // already gone
  }
}

/** One sample: start, wait until ready, signal, time until the process (npm: and everything under it) is gone. */
async function sample(way: Way, env: NodeJS.ProcessEnv): Promise<number> {
  const child = way.spawn(env);
  let out = "";
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, sig) => resolve({ code, signal: sig })));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${way.name} not ready after ${LIMIT_MS} ms:\n${out}`)), LIMIT_MS);
      const check = (d: Buffer) => {
        out += d.toString();
        if (out.includes(way.ready)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", check);
      child.stderr?.on("data", check);
      void closed.then(() => reject(new Error(`${way.name} exited before it was ready:\n${out}`)));
    });
    const t0 = performance.now();
    signal(way, child, way.signal);
    const exited = await Promise.race([closed, new Promise<false>((r) => setTimeout(() => r(false), LIMIT_MS))]);
    const ms = performance.now() - t0;
    if (!exited) throw new Error(`${way.name} did not exit within ${LIMIT_MS} ms of ${way.signal}`);
    // Killed by the signal (no handler ran) is not a drain: it would time nothing worth knowing. npm
    // itself re-raises the signal once its child is done; the child's drain is what the pipes wait for.
    if (exited.code !== 0 && !(way.group && exited.signal === way.signal)) throw new Error(`${way.name} ended with ${exited.code ?? exited.signal} after ${way.signal}, not a drained exit 0:\n${out}`);
    return ms;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      signal(way, child, "SIGKILL");
    }
  }
}

await withScratchDatabase("drain", async (db) => {
  const env = childEnv({ DATABASE_URL: db.url, WAYPOINT_API_PORT: "0" });
  // Migrate, and give `start` a thread so it submits no sample run (the processes stay idle).
  const setup = await runCli(["threads"], env);
  if (setup.code !== 0) throw new Error(`setup failed:\n${setup.stderr}`);
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await pool.query("INSERT INTO waypoint.threads (thread_id, status) VALUES ('bench-drain-idle', 'idle')");
  await pool.end();

  const grace = config().worker.graceMs;
  const rows: string[] = [];
  for (const way of WAYS) {
    const times: number[] = [];
    for (let i = 0; i < SAMPLES; i++) times.push(await sample(way, env));
    const s = summarise(times);
    rows.push(`| ${way.name} | ${way.signal} | ${s.n} | ${(s.median / 1000).toFixed(2)} | ${(s.min / 1000).toFixed(2)} | ${(s.max / 1000).toFixed(2)} | ${s.max < grace ? "yes" : "**no**"} |`);
  }
  console.log(`\nSignal to exit, idle processes (${db.kind} Postgres; drain grace period ${grace / 1000} s, WAYPOINT_DRAIN_GRACE_MS)\n`);
  console.log("| process | signal | n | median s | min s | max s | exits before the grace period ends |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
});
