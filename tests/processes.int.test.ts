// Worker processes under a supervisor (`worker --processes N`): SIGKILL of one child (its runs are taken
// back, every effect once, a replacement starts), no run carried by two processes at once, and two
// process trees standing for two hosts over one Postgres with distinct worker ids.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { getRun, type RunRow } from "../src/runs/queue.js";
import { Waypoint } from "../src/runs/runner.js";
import { submit } from "../src/runs/submit.js";
import { readTrace, type TraceEntry } from "../src/runs/trace.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;
let traceDir: string;
const trees: CliChild[] = [];

beforeAll(async () => {
  db = await freshDatabase("processes");
  expect((await runCli(["threads"], childEnv({ DATABASE_URL: db.url }))).code).toBe(0);
  wp = await Waypoint.open({ url: db.url, poolMax: 3 });
  traceDir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-processes-"));
});
afterEach(async () => {
  // SIGTERM each supervisor (forwarded: every child drains), then make sure no child of ours is left.
  const pids = (await wp.pool.query<{ pid: number }>("SELECT pid FROM waypoint.workers")).rows.map((r) => r.pid);
  for (const t of trees.splice(0)) {
    if (t.child.exitCode === null && t.child.signalCode === null) t.child.kill("SIGTERM");
    const killer = setTimeout(() => t.child.kill("SIGKILL"), 40_000);
    await t.done;
    clearTimeout(killer);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});
afterAll(async () => {
  await wp.close();
  await db.drop();
  fs.rmSync(traceDir, { recursive: true, force: true });
});

/** A `waypoint worker --processes n` supervisor (its own process tree). */
function startTree(processes: number, env: Record<string, string>, opts: { pace?: string; concurrency?: string } = {}): CliChild {
  const c = startCli(["--pace", opts.pace ?? "300", "worker", "--processes", String(processes), "--concurrency", opts.concurrency ?? "2"], childEnv({ DATABASE_URL: db.url, ...env }));
  trees.push(c);
  return c;
}

const readyCount = (c: CliChild) => (c.output().match(/ready as /g) ?? []).length;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
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

async function tripRows(tripId: string) {
  const q = async (t: string) => Number((await wp.pool.query(`SELECT count(*)::int AS n FROM world.${t} WHERE trip_id = $1`, [tripId])).rows[0].n);
  return { flights: await q("flights"), hotels: await q("hotel_bookings"), cars: await q("car_rentals") };
}

async function ended(runId: string): Promise<RunRow> {
  return until(`run ${runId} to end`, async () => {
    const r = await getRun(wp.pool, runId).catch(() => undefined);
    return r && !["pending", "running"].includes(r.status) ? r : undefined;
  });
}

/** Live worker processes: pid, id and host, from waypoint.workers. */
async function liveWorkers(pool: pg.Pool): Promise<Array<{ pid: number; worker_id: string; host: string }>> {
  const { rows } = await pool.query<{ pid: number; worker_id: string; host: string }>("SELECT pid, worker_id, host FROM waypoint.workers WHERE stopped_at IS NULL ORDER BY started_at");
  return rows.filter((r) => {
    try {
      process.kill(r.pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * A thread's node executions by process, in order: a run is carried by one process at a time when the
 * sequence of pids never goes back to one it left (A A B B, never A B A), and the process it left is dead.
 */
function carriers(trace: TraceEntry[], threadId: string): number[] {
  const seq: number[] = [];
  for (const e of trace.filter((x) => x.threadId === threadId)) if (seq[seq.length - 1] !== e.pid) seq.push(e.pid);
  return seq;
}

test("SIGKILL of one of three worker processes: every run completes, every effect once, a replacement starts, no run carried by two at once", async () => {
  const trace = path.join(traceDir, "kill.jsonl");
  const tree = startTree(3, { WAYPOINT_TRACE_FILE: trace });
  await until("three worker processes", async () => readyCount(tree) >= 3);
  const trips = ["p-kill-1", "p-kill-2", "p-kill-3", "p-kill-4", "p-kill-5", "p-kill-6"];
  const runs = await Promise.all(trips.map(async (t) => (await submit(wp, { assistant: "travel", input: trip(t) })).run));

  // The victim: a child carrying a run that has already booked something (a step in the middle).
  const victim = await until("a child carrying a run mid-way", async () => {
    const { rows } = await wp.pool.query<{ pid: number; thread_id: string }>(
      "SELECT w.pid, r.thread_id FROM waypoint.runs r JOIN waypoint.workers w USING (worker_id) WHERE r.run_id = ANY($1) AND r.status = 'running'",
      [runs.map((r) => r.run_id)],
    );
    return rows.find((r) => readTrace(trace).some((e) => e.threadId === r.thread_id && e.pid === r.pid && e.node === "tools"));
  });
  const before = (await liveWorkers(wp.pool)).map((w) => w.pid);
  expect(before).toHaveLength(3);
  expect(before).toContain(victim.pid);
  process.kill(victim.pid, "SIGKILL");

  const done = await Promise.all(runs.map((r) => ended(r.run_id)));
  expect(done.map((r) => r.status)).toEqual(trips.map(() => "success"));
  // The killed process's runs were taken back (a worker death each), the others never died.
  expect(done.reduce((n, r) => n + r.crashes, 0)).toBeGreaterThanOrEqual(1);
  for (const t of trips) expect(await tripRows(t)).toEqual({ flights: 1, hotels: 1, cars: 1 });

  // The supervisor saw the death and started a replacement, which registered as a new worker.
  await tree.waitFor(new RegExp(`worker process ${victim.pid} \\(#\\d\\) exited \\(SIGKILL\\); starting a replacement`));
  await until("a replacement worker process", async () => readyCount(tree) >= 4);
  const after = await until("three live worker processes again", async () => {
    const live = await liveWorkers(wp.pool);
    return live.length === 3 ? live : undefined;
  });
  expect(after.map((w) => w.pid)).not.toContain(victim.pid);
  expect(new Set(after.map((w) => w.worker_id)).size).toBe(3);

  // No run was carried by two processes at once: each thread's executions move from one pid to another
  // at most once per worker death, never back, and only away from the killed process.
  const all = readTrace(trace);
  for (const r of done) {
    const seq = carriers(all, r.thread_id);
    expect(new Set(seq).size).toBe(seq.length);
    expect(seq.length).toBeLessThanOrEqual(r.crashes + 1);
    if (r.crashes === 0) expect(seq).toHaveLength(1);
    if (seq.length > 1) expect(seq.slice(0, -1)).toEqual([victim.pid]);
  }
  // The victim's thread re-ran at most the step it died in: no (node, step) of the top graph ran in
  // two surviving processes.
  const top = all.filter((e) => e.threadId === victim.thread_id && !e.namespace.includes("|") && e.pid !== victim.pid);
  const keys = top.map((e) => `${e.node}@${e.step}`);
  expect(new Set(keys).size).toBe(keys.length);
});

test("two process trees standing for two hosts share one Postgres, with distinct worker ids", async () => {
  const trace = path.join(traceDir, "hosts.jsonl");
  const a = startTree(2, { WAYPOINT_WORKER_HOST: "host-a", WAYPOINT_TRACE_FILE: trace }, { concurrency: "1" });
  const b = startTree(2, { WAYPOINT_WORKER_HOST: "host-b", WAYPOINT_TRACE_FILE: trace }, { concurrency: "1" });
  await until("four worker processes", async () => readyCount(a) >= 2 && readyCount(b) >= 2);
  const live = await liveWorkers(wp.pool);
  expect(live).toHaveLength(4);
  expect(new Set(live.map((w) => w.worker_id)).size).toBe(4);
  expect(live.map((w) => w.host).sort()).toEqual(["host-a", "host-a", "host-b", "host-b"]);
  for (const w of live) expect(w.worker_id).toMatch(new RegExp(`^${w.host}:${w.pid}:[0-9a-f]{8}$`));
  // Each tree's children are its own (the supervisor's output names them).
  for (const [tree, host] of [[a, "host-a"], [b, "host-b"]] as const) {
    for (const w of live.filter((x) => x.host === host)) expect(tree.output()).toContain(`ready as ${w.worker_id}`);
  }

  // With room for one run per process, the first four runs land on four processes: both hosts carry.
  const trips = ["p-host-1", "p-host-2", "p-host-3", "p-host-4", "p-host-5", "p-host-6"];
  const runs = await Promise.all(trips.map(async (t) => (await submit(wp, { assistant: "travel", input: trip(t) })).run));
  const done = await Promise.all(runs.map((r) => ended(r.run_id)));
  expect(done.map((r) => r.status)).toEqual(trips.map(() => "success"));
  for (const t of trips) expect(await tripRows(t)).toEqual({ flights: 1, hotels: 1, cars: 1 });
  const hostOf = new Map(live.map((w) => [w.pid, w.host]));
  const all = readTrace(trace);
  const hosts = new Set(runs.flatMap((r) => carriers(all, r.thread_id).map((pid) => hostOf.get(pid))));
  expect(hosts).toEqual(new Set(["host-a", "host-b"]));
  // Nobody died, so each run was carried by exactly one process.
  for (const r of done) expect(carriers(all, r.thread_id)).toHaveLength(1);

  // SIGTERM to one tree drains only its own children; the other host keeps working.
  a.child.kill("SIGTERM");
  const exit = await a.done;
  expect(exit.code).toBe(0);
  expect(exit.stdout).toContain("every worker process has exited");
  const left = await liveWorkers(wp.pool);
  expect(left.map((w) => w.host).sort()).toEqual(["host-b", "host-b"]);
  const { run } = await submit(wp, { assistant: "travel", input: trip("p-host-7") });
  expect((await ended(run.run_id)).status).toBe("success");
});

test("a supervisor that is SIGKILLed leaves no worker behind: its children drain and exit", async () => {
  const tree = startTree(2, {});
  await until("two worker processes", async () => readyCount(tree) >= 2);
  const pids = (await liveWorkers(wp.pool)).map((w) => w.pid);
  expect(pids).toHaveLength(2);
  tree.child.kill("SIGKILL");
  await tree.done;
  await until("both children to exit", async () => (await liveWorkers(wp.pool)).length === 0, 60_000);
  const { rows } = await wp.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.workers WHERE pid = ANY($1) AND stopped_at IS NOT NULL", [pids]);
  expect(rows[0]?.n).toBe(2); // each drained (and recorded its stop), none was simply cut off
});
