// Waypoint through PgBouncer in transaction mode (DATABASE_POOL_MODE=transaction): the pool's statements
// go through the pooler, liveness locks and LISTEN over DATABASE_DIRECT_URL. Runs submitted and carried
// by worker processes, a review and its decision, and the HTTP server's stream.
import { Client } from "@langchain/langgraph-sdk";
import { LOCK_CLASS } from "../src/runs/queue.js";
import { Waypoint } from "../src/runs/runner.js";
import { HIRE } from "./support/agents.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freePort, freshDatabase, type TestDatabase } from "./support/db.js";
import { pgbouncerBinary, startPgBouncer, type PgBouncer } from "./support/pgbouncer.js";

const installed = pgbouncerBinary() !== undefined;
if (!installed) console.warn("tests/pgbouncer.int.test.ts: skipped, the pgbouncer binary is not installed (Debian: apt-get install -y pgbouncer)");
const describeIf = installed ? describe : describe.skip;

describeIf("through PgBouncer in transaction mode", () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  let wp: Waypoint;
  let env: NodeJS.ProcessEnv;
  const children: CliChild[] = [];

  beforeAll(async () => {
    db = await freshDatabase("pgbouncer");
    bouncer = await startPgBouncer({ poolSize: 6 });
    env = childEnv({ DATABASE_URL: bouncer.through(db.url), DATABASE_DIRECT_URL: db.url, DATABASE_POOL_MODE: "transaction", WAYPOINT_POOL_MAX: "4" });
    const setup = await runCli(["threads"], env);
    expect({ code: setup.code, stderr: setup.stderr }).toEqual({ code: 0, stderr: "" });
    wp = await Waypoint.open({ url: db.url, poolMax: 2 });
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGTERM");
      const killer = setTimeout(() => c.child.kill("SIGKILL"), 40_000);
      await c.done;
      clearTimeout(killer);
    }
  });
  afterAll(async () => {
    await wp?.close();
    await bouncer?.stop();
    await db?.drop();
  });

  /** Transactions PgBouncer carried for the test database so far. */
  async function pooledTransactions(): Promise<number> {
    const dbName = new URL(db.url).pathname.slice(1);
    const rows = await bouncer.admin<{ database: string; total_xact_count: string }>("SHOW STATS");
    return Number(rows.find((r) => r.database === dbName)?.total_xact_count ?? 0);
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; pgbouncer log:\n${bouncer.log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const trip = (tripId: string) => ({ trip: { tripId, traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } });
  const count = async (sql: string, arg: string) => Number((await wp.pool.query<{ n: string }>(sql, [arg])).rows[0]?.n ?? 0);

  test("the pool's connections cannot skip the mode: session-mode settings through the pooler are refused", async () => {
    // Without DATABASE_POOL_MODE=transaction Waypoint sends its search_path pin as a startup option,
    // which PgBouncer refuses, so a misconfigured deployment fails at once rather than at random.
    const r = await runCli(["threads"], { ...env, DATABASE_POOL_MODE: "session" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unsupported startup parameter: options/);
  });

  test("CLI: runs submitted through the pooler, carried by two worker processes to the end; a review and its decision", async () => {
    const before = await pooledTransactions();
    const worker = startCli(["--pace", "50", "worker", "--processes", "2", "--concurrency", "3"], env);
    children.push(worker);
    await until("two worker processes", async () => (worker.output().match(/ready as /g) ?? []).length >= 2);

    const trips = ["b-cli-1", "b-cli-2", "b-cli-3", "b-cli-4"];
    const runIds: string[] = [];
    for (const t of trips) {
      const r = await runCli(["--json", "submit", "travel", "--input", JSON.stringify(trip(t))], env);
      expect(r.code).toBe(0);
      runIds.push((JSON.parse(r.stdout) as { run_id: string }).run_id);
    }
    const hire = { hire: { ...HIRE, email: "bouncer-cli@acme.test" } };
    const sub = await runCli(["--json", "submit", "onboarding", "--input", JSON.stringify(hire)], env);
    expect(sub.code).toBe(0);
    const review = JSON.parse(sub.stdout) as { run_id: string; thread_id: string };

    const statuses = await until("every travel run to succeed", async () => {
      const { rows } = await wp.pool.query<{ status: string }>("SELECT status FROM waypoint.runs WHERE run_id = ANY($1)", [runIds]);
      return rows.length === trips.length && rows.every((r) => r.status === "success") ? rows : undefined;
    });
    expect(statuses).toHaveLength(4);
    for (const t of trips) {
      for (const table of ["flights", "hotel_bookings", "car_rentals"]) expect(await count(`SELECT count(*) AS n FROM world.${table} WHERE trip_id = $1`, t)).toBe(1);
    }

    // The onboarding run stops at its review; the decision, queued through the pooler, finishes it.
    await until("the review", async () => {
      const r = await runCli(["--json", "show", review.thread_id], env);
      return r.code === 0 && (JSON.parse(r.stdout) as { status: string }).status === "interrupted";
    });
    expect(await count("SELECT count(*) AS n FROM world.grants WHERE email = $1", hire.hire.email)).toBe(0);
    const decided = await runCli(["enqueue", review.thread_id, "--decisions", JSON.stringify([{ type: "approve" }])], env);
    expect(decided.code).toBe(0);
    await until("the onboarding thread to finish", async () => {
      const r = await runCli(["--json", "show", review.thread_id], env);
      return r.code === 0 && (JSON.parse(r.stdout) as { status: string }).status === "done";
    });
    expect(await count("SELECT count(*) AS n FROM world.grants WHERE email = $1", hire.hire.email)).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM world.directory WHERE email = $1", hire.hire.email)).toBe(1);

    // Both worker processes hold their liveness locks (over DATABASE_DIRECT_URL), as the reaper expects.
    const { rows: locks } = await wp.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM waypoint.workers w JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid = $1 AND l.objid = w.worker_lock AND l.objsubid = 2
        WHERE w.stopped_at IS NULL`,
      [LOCK_CLASS],
    );
    expect(Number(locks[0]?.n)).toBe(2);
    // And the rest went through PgBouncer.
    expect((await pooledTransactions()) - before).toBeGreaterThan(50);
  });

  test("HTTP server (serve --processes 2): a streamed run, a review answered over the API", async () => {
    const port = await freePort();
    const serve = startCli(["--pace", "20", "serve", "--port", String(port), "--processes", "2"], { ...env, WAYPOINT_API_AUTH: "off" });
    children.push(serve);
    await serve.waitFor("ready as ", 90_000);
    await serve.waitFor("Waypoint is running", 90_000);
    const client = new Client({ apiUrl: `http://127.0.0.1:${port}` });

    const thread = await client.threads.create();
    const events: Array<{ event: string; data: unknown }> = [];
    for await (const part of client.runs.stream(thread.thread_id, "travel", { input: trip("b-http-stream"), streamMode: ["values", "updates"] })) {
      events.push(part as { event: string; data: unknown });
    }
    expect(events[0]?.event).toBe("metadata");
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(["metadata", "values", "updates"]));
    const last = events.filter((e) => e.event === "values").at(-1)?.data as { messages: Array<{ type: string }> };
    expect(last.messages.at(-1)?.type).toBe("ai");
    expect(await count("SELECT count(*) AS n FROM world.flights WHERE trip_id = $1", "b-http-stream")).toBe(1);

    const other = await client.threads.create();
    const email = "bouncer-http@acme.test";
    const waited = (await client.runs.wait(other.thread_id, "onboarding", { input: { hire: { ...HIRE, email } } })) as Record<string, unknown>;
    expect(waited.__interrupt__).toEqual([expect.objectContaining({ value: expect.objectContaining({ actionRequests: [expect.objectContaining({ name: "grant_privileges" })] }) })]);
    const done = (await client.runs.wait(other.thread_id, "onboarding", { command: { resume: { decisions: [{ type: "approve" }] } } })) as { messages: Array<{ type: string }> };
    expect(done.messages.at(-1)?.type).toBe("ai");
    expect((await client.threads.get(other.thread_id)).status).toBe("idle");
    expect(await count("SELECT count(*) AS n FROM world.directory WHERE email = $1", email)).toBe(1);

    // SIGTERM drains the server and its forked worker; the supervisor exits when both are done.
    serve.child.kill("SIGTERM");
    const exit = await serve.done;
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain("every worker process has exited");
  });
});
