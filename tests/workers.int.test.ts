// Worker processes under real failure: SIGKILL of the worker running a run (another worker finishes
// it), SIGTERM in the middle of a run (drained at a step boundary, finished elsewhere, no step lost or
// repeated), a run that kills its worker every time (dead after N), and Postgres restarting mid-run.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../src/db/embedded.js";
import { getRun, type RunRow } from "../src/runs/queue.js";
import { Waypoint } from "../src/runs/runner.js";
import { submit } from "../src/runs/submit.js";
import { readTrace } from "../src/runs/trace.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freePort, freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;
let traceDir: string;
const children: CliChild[] = [];

beforeAll(async () => {
  db = await freshDatabase("workers");
  expect((await runCli(["threads"], childEnv({ DATABASE_URL: db.url }))).code).toBe(0);
  wp = await Waypoint.open({ url: db.url, poolMax: 3 });
  traceDir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-workers-"));
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
    await c.done;
  }
});
afterAll(async () => {
  await wp.close();
  await db.drop();
  fs.rmSync(traceDir, { recursive: true, force: true });
});

function startWorker(env: Record<string, string>, pace = "300", url = db.url): CliChild {
  const c = startCli(["--pace", pace, "worker", "--concurrency", "2"], childEnv({ DATABASE_URL: url, ...env }));
  children.push(c);
  return c;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function trip(tripId: string) {
  return { trip: { tripId, traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } };
}

async function tripRows(pool: pg.Pool, tripId: string) {
  const q = async (t: string) => Number((await pool.query(`SELECT count(*)::int AS n FROM world.${t} WHERE trip_id = $1`, [tripId])).rows[0].n);
  return { flights: await q("flights"), hotels: await q("hotel_bookings"), cars: await q("car_rentals") };
}

/** The pid of the worker process holding a run. */
async function holderPid(pool: pg.Pool, runId: string): Promise<number | undefined> {
  const { rows } = await pool.query<{ pid: number }>("SELECT w.pid FROM waypoint.runs r JOIN waypoint.workers w USING (worker_id) WHERE r.run_id = $1 AND r.status = 'running'", [runId]);
  return rows[0]?.pid;
}

async function ended(runId: string, timeoutMs = 90_000): Promise<RunRow> {
  return until(`run ${runId} to end`, async () => {
    const r = await getRun(wp.pool, runId).catch(() => undefined);
    return r && !["pending", "running"].includes(r.status) ? r : undefined;
  }, timeoutMs);
}

test("SIGKILL of the worker running a run: the other worker finishes it, every effect once", async () => {
  const trace = path.join(traceDir, "kill.jsonl");
  const a = startWorker({ WAYPOINT_TRACE_FILE: trace });
  const b = startWorker({ WAYPOINT_TRACE_FILE: trace });
  await Promise.all([a.waitFor("SIGTERM or Ctrl-C drains it"), b.waitFor("SIGTERM or Ctrl-C drains it")]);
  const { run } = await submit(wp, { assistant: "travel", input: trip("w-kill") });
  const pid = await until("a worker to hold the run", () => holderPid(wp.pool, run.run_id));
  await until("a step on that worker", async () => readTrace(trace).some((e) => e.threadId === run.thread_id && e.pid === pid && e.node === "tools"));
  const victim = [a, b].find((c) => c.child.pid === pid) as CliChild;
  victim.child.kill("SIGKILL");
  const done = await ended(run.run_id);
  expect(done.status).toBe("success");
  expect(done.crashes).toBe(1);
  expect(await tripRows(wp.pool, "w-kill")).toEqual({ flights: 1, hotels: 1, cars: 1 });
  const finisher = readTrace(trace).filter((e) => e.threadId === run.thread_id && e.pid !== pid);
  expect(finisher.length).toBeGreaterThan(0);
});

test("SIGTERM mid-run: the worker drains and exits; another finishes the run; no step lost or repeated", async () => {
  const trace = path.join(traceDir, "drain.jsonl");
  const a = startWorker({ WAYPOINT_TRACE_FILE: trace }, "600");
  await a.waitFor("SIGTERM or Ctrl-C drains it");
  const { run } = await submit(wp, { assistant: "travel", input: trip("w-drain") });
  const pid = await until("worker A to hold the run", () => holderPid(wp.pool, run.run_id));
  await until("a step", async () => readTrace(trace).some((e) => e.threadId === run.thread_id && e.node === "tools"));
  a.child.kill("SIGTERM");
  const exit = await a.done;
  expect(exit.code).toBe(0);
  expect(exit.stdout).toMatch(/draining[\s\S]*handed back to the queue \(drain\)[\s\S]*drained: handed back 1 run/);
  expect((await getRun(wp.pool, run.run_id)).status).toBe("pending");
  const b = startWorker({ WAYPOINT_TRACE_FILE: trace }, "50");
  await b.waitFor("SIGTERM or Ctrl-C drains it");
  const done = await ended(run.run_id);
  expect(done.status).toBe("success");
  expect(done.crashes).toBe(0);
  expect(await tripRows(wp.pool, "w-drain")).toEqual({ flights: 1, hotels: 1, cars: 1 });
  // Every super-step ran exactly once, across both workers.
  const steps = readTrace(trace).filter((e) => e.threadId === run.thread_id && !e.namespace.includes("|"));
  const keys = steps.map((e) => `${e.node}@${e.step}`);
  expect(new Set(keys).size).toBe(keys.length);
  expect(new Set(steps.map((e) => e.pid))).toEqual(new Set([pid, b.child.pid]));
});

test("a run that kills its worker every time ends dead after N attempts, with the reason", async () => {
  // The flight system crashes the process right after each booking: every worker that runs it dies.
  const env = { WAYPOINT_FAULTS: "flights:crash_after_effect:1", WAYPOINT_MAX_CRASHES: "3" };
  const { run } = await submit(wp, { assistant: "travel", input: trip("w-dead") });
  // Each new worker first takes back the run its predecessor died with, then claims it and dies too;
  // after the third death the reaper of the next worker marks it dead instead.
  let deaths = 0;
  while ((await getRun(wp.pool, run.run_id)).status !== "dead") {
    if (deaths > 5) throw new Error(`not dead after ${deaths} worker deaths`);
    const w = startWorker(env, "20");
    const outcome = await Promise.race([w.done.then(() => "died" as const), until("the run to be dead", async () => (await getRun(wp.pool, run.run_id)).status === "dead", 90_000)]);
    if (outcome === "died") {
      expect((await w.done).signal).toBe("SIGKILL");
      deaths++;
    }
  }
  expect(deaths).toBe(3);
  const dead = await getRun(wp.pool, run.run_id);
  expect(dead.crashes).toBe(3);
  expect(dead.detail).toMatch(/dead: the process carrying it died 3 times \(3 allowed\); waypoint runs retry brings it back/);
  expect(await tripRows(wp.pool, "w-dead")).toMatchObject({ flights: 1 });
});

test("Postgres restarts mid-run: the worker reconnects and the run ends", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-restart-"));
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const opts = { dataDir: path.join(dir, "pgdata"), port };
  let server = await startEmbeddedPostgres(opts);
  try {
    expect((await runCli(["threads"], childEnv({ DATABASE_URL: server.url }))).code).toBe(0);
    const local = await Waypoint.open({ url: server.url, poolMax: 2 });
    const { run } = await submit(local, { assistant: "travel", input: trip("w-restart") });
    await local.close();
    const w = startWorker({}, "400", server.url);
    const pool = new pg.Pool({ connectionString: server.url, max: 1 });
    pool.on("error", () => undefined);
    await until("a step", async () => (await pool.query("SELECT 1 FROM waypoint.tool_calls WHERE tool = 'book_flight'")).rowCount);
    await pool.end();
    server.release(); // stops the server (this test is its only registered user)
    server = await startEmbeddedPostgres(opts);
    const after = new pg.Pool({ connectionString: server.url, max: 1 });
    after.on("error", () => undefined);
    try {
      const done = await until(
        "the run to succeed after the restart",
        async () => {
          const { rows } = await after.query<{ status: string }>("SELECT status FROM waypoint.runs WHERE run_id = $1", [run.run_id]);
          return rows[0]?.status === "success" ? rows[0] : undefined;
        },
        120_000,
      );
      expect(done.status).toBe("success");
      expect(await tripRows(after, "w-restart")).toEqual({ flights: 1, hotels: 1, cars: 1 });
    } finally {
      await after.end();
      w.child.kill("SIGKILL");
      await w.done;
    }
  } finally {
    server.release();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
