// Postgres crashes and comes back while two worker processes carry runs (issue 12, "What must be shown"):
// on a Postgres server this test starts itself (never the machine's shared one), stopped with SIGQUIT
// (immediate shutdown: every connection cut, open transactions lost, as in a crash) and started again.
// Every run ends, no effect happens twice (the world's rows, and its request log against the ledger's
// attempts), and nothing is left running or busy.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres, type EmbeddedServer } from "../src/db/embedded.js";
import { Waypoint } from "../src/runs/runner.js";
import { submit } from "../src/runs/submit.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freePort } from "./support/db.js";

const TRIPS = ["r-1", "r-2", "r-3", "r-4"];

let dir: string;
let server: EmbeddedServer;
let opts: { dataDir: string; port: number };
const workers: CliChild[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-pgrestart-"));
  fs.chmodSync(dir, 0o755);
  opts = { dataDir: path.join(dir, "pgdata"), port: await freePort() };
  server = await startEmbeddedPostgres(opts);
});
afterAll(async () => {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await w.done;
  }
  server.release();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined | false | null>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function trip(tripId: string) {
  return { trip: { tripId, traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } };
}

/** Stop the server as a crash would (SIGQUIT: immediate shutdown, no checkpoint), and wait until it is gone. */
async function crashPostgres(): Promise<void> {
  const pid = Number(fs.readFileSync(path.join(opts.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  process.kill(pid, "SIGQUIT");
  await until("the postmaster to exit", async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
}

test("Postgres crashes and restarts under two workers: every run ends, each effect once, nothing left running", async () => {
  expect((await runCli(["threads"], childEnv({ DATABASE_URL: server.appUrl }))).code).toBe(0);
  const local = await Waypoint.open({ url: server.appUrl, poolMax: 2 });
  const runIds: string[] = [];
  try {
    for (const t of TRIPS) runIds.push((await submit(local, { assistant: "travel", input: trip(t) })).run.run_id);
  } finally {
    await local.close();
  }
  for (let i = 0; i < 2; i++) workers.push(startCli(["--pace", "300", "worker", "--concurrency", "2"], childEnv({ DATABASE_URL: server.appUrl })));

  const watch = new pg.Pool({ connectionString: server.appUrl, max: 1 });
  watch.on("error", () => undefined);
  // Both workers carry runs and some effects have happened when Postgres goes down.
  const running = await until("both workers carrying runs, with bookings made", async () => {
    const { rows } = await watch.query<{ carriers: number; booked: number; running: string[] }>(
      `SELECT (SELECT count(DISTINCT worker_id)::int FROM waypoint.runs WHERE status = 'running') AS carriers,
              (SELECT count(*)::int FROM waypoint.tool_calls WHERE tool = 'book_flight') AS booked,
              (SELECT coalesce(array_agg(run_id::text), '{}') FROM waypoint.runs WHERE status = 'running') AS running`,
    );
    return rows[0] && rows[0].carriers === 2 && rows[0].booked >= 1 ? rows[0].running : undefined;
  });
  await watch.end();
  await crashPostgres();
  server.release();
  server = await startEmbeddedPostgres(opts);

  const after = new pg.Pool({ connectionString: server.appUrl, max: 1 });
  after.on("error", () => undefined);
  try {
    const q = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await after.query<R>(sql, params)).rows;
    const ended = await until(
      "every run to end after the restart",
      async () => {
        const rows = await q<{ run_id: string; status: string }>("SELECT run_id, status FROM waypoint.runs WHERE run_id = ANY($1)", [runIds]);
        return rows.length === runIds.length && rows.every((r) => !["pending", "running"].includes(r.status)) ? rows : undefined;
      },
      240_000,
    );
    expect(ended.map((r) => r.status)).toEqual(runIds.map(() => "success"));
    // The crash landed mid-run: each run that was running then was cut (its carrier's lock went with the server) and carried again.
    const cut = await q<{ run_id: string }>("SELECT run_id FROM waypoint.runs WHERE run_id = ANY($1) AND crashes >= 1 AND attempts >= 2", [running]);
    expect(cut.map((r) => r.run_id).sort()).toEqual([...running].sort());
    // The processes carrying them kept going across the restart (no worker died of it).
    for (const w of workers) expect(w.child.exitCode).toBeNull();

    for (const t of TRIPS) {
      const count = async (table: string) => Number((await q<{ n: number }>(`SELECT count(*)::int AS n FROM world.${table} WHERE trip_id = $1`, [t]))[0]?.n);
      expect({ t, flights: await count("flights"), hotels: await count("hotel_bookings"), cars: await count("car_rentals") }).toEqual({ t, flights: 1, hotels: 1, cars: 1 });
    }
    // Each call reached its system no more often than the ledger tried it (a replayed call never went out again).
    const calls = await q<{ tool: string; attempts: number; n: number }>(
      `SELECT c.tool, c.attempts, (SELECT count(*)::int FROM world.requests r WHERE r.idempotency_key = c.idempotency_key) AS n
         FROM waypoint.tool_calls c JOIN waypoint.runs x ON x.thread_id = c.thread_id WHERE x.run_id = ANY($1) AND c.idempotency_key IS NOT NULL`,
      [runIds],
    );
    expect(calls.filter((c) => c.tool.startsWith("book_")).length).toBeGreaterThanOrEqual(TRIPS.length);
    expect(calls.filter((c) => c.n > c.attempts)).toEqual([]);
    expect(await q("SELECT run_id FROM waypoint.runs WHERE status = 'running'")).toEqual([]);
    expect(await q("SELECT thread_id FROM waypoint.threads WHERE status = 'busy'")).toEqual([]);
  } finally {
    await after.end();
  }
});
