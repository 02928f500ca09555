// The ops agent's world against real Postgres: migration 14 (tables, seed, role creation that tolerates
// races and a user without CREATEROLE) and its successor 15 (the SQL sandbox's roles; their escapes are
// tried in sql-sandbox.int.test.ts), the adapters (reads, queryWorld and runSql confined to the world
// tables, makePayment and its refusals, dedupe by key), and
// the ops tools: the built-in policy validates and decides as intended, and the sample input drives the
// offline planner through every tool.
import { AIMessage, HumanMessage, SystemMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { OpsInput, OPS_SAMPLE_INPUT } from "../graphs/ops/state.js";
import { systemPrompt, taskMessage } from "../graphs/ops/prompts.js";
import { OPS_POLICY, OPS_TOOLS } from "../graphs/ops/tools.js";
import { evaluateCall, parsePolicy } from "../src/approvals/policy.js";
import { applyMigrations } from "../src/db/index.js";
import { MIGRATIONS } from "../src/db/migrations.js";
import { planNextStep } from "../src/models/offline.js";
import { openPersistence, type Persistence } from "../src/persistence/index.js";
import { executeToolCalls } from "../src/tools/index.js";
import { createWorld, parseFaults, QUERY_ROW_LIMIT, SQL_READ_ROLE, SQL_WRITE_ROLE, WorldError, type World } from "../src/world/index.js";

/** Migration 14's NOLOGIN role (SET LOCAL ROLE), superseded by migration 15's sandbox logins. */
const WORLD_ROLE = "waypoint_world";
import { freshDatabase, testServerUrl, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let persistence: Persistence;
let pool: pg.Pool;
let world: World;
/** Cluster-wide roles this file creates; dropped at the end. */
const roles: string[] = [];
const extraDbs: TestDatabase[] = [];

beforeAll(async () => {
  db = await freshDatabase("ops_world");
  persistence = await openPersistence({ url: db.url, poolMax: 6 });
  pool = persistence.db.pool;
  world = createWorld(pool, { faults: null });
});
afterAll(async () => {
  await persistence.close();
  await db.drop();
  await Promise.all(extraDbs.map((d) => d.drop()));
  const admin = new pg.Client({ connectionString: testServerUrl() });
  await admin.connect();
  try {
    for (const r of roles) await admin.query(`DROP ROLE IF EXISTS ${r}`);
  } finally {
    await admin.end();
  }
});

function urlAs(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = "";
  return u.toString();
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT (${sql})::int AS n`, params);
  return rows[0]?.n ?? -1;
}

/** The call was refused 4xx-style (nothing applied, not retried), with a message matching `text`. */
async function refused(p: Promise<unknown>, status: number, text: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(WorldError);
  expect(e).toMatchObject({ failure: "rejected", info: { status, effectMayHaveHappened: false } });
  expect((e as Error).message).toMatch(text);
}

describe("migration 14", () => {
  test("seeds vendors inside and outside acme.test and open invoices from ~40 to ~12,000 EUR", async () => {
    const vendors = await world.ops.listVendors();
    expect(vendors.some((v) => v.email.endsWith("@acme.test"))).toBe(true);
    expect(vendors.some((v) => !v.email.endsWith("@acme.test"))).toBe(true);
    const open = await world.ops.listInvoices({ status: "open" });
    const amounts = open.map((i) => i.amount);
    expect(Math.min(...amounts)).toBeLessThan(50);
    expect(Math.max(...amounts)).toBeGreaterThan(11_000);
    expect(open.every((i) => i.currency === "EUR")).toBe(true);
  });

  test("the waypoint_world role still exists (roles are server-wide) but, superseded by migration 15, holds nothing here", async () => {
    const { rows } = await pool.query<{ rolcanlogin: boolean; rolsuper: boolean }>("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = $1", [WORLD_ROLE]);
    expect(rows).toEqual([{ rolcanlogin: false, rolsuper: false }]);
    const can = async (table: string, privilege: string) =>
      (await pool.query<{ ok: boolean }>("SELECT has_table_privilege($1, $2, $3) AS ok", [WORLD_ROLE, table, privilege])).rows[0]?.ok;
    for (const p of ["SELECT", "INSERT", "UPDATE", "DELETE"]) expect([p, await can("world.invoices", p)]).toEqual([p, false]);
    expect((await pool.query<{ ok: boolean }>("SELECT has_schema_privilege($1, 'world', 'USAGE') AS ok", [WORLD_ROLE])).rows[0]?.ok).toBe(false);
    // Nor the systems' request log, which tests count executions with: SQL may read it, never write it.
    for (const p of ["INSERT", "UPDATE", "DELETE", "TRUNCATE"]) for (const role of [SQL_READ_ROLE, SQL_WRITE_ROLE]) expect([role, p, (await pool.query<{ ok: boolean }>("SELECT has_table_privilege($1, 'world.requests', $2) AS ok", [role, p])).rows[0]?.ok]).toEqual([role, p, false]);
  });

  test("world tables created later (by the migrating user) are granted to the sandbox roles through the default privileges", async () => {
    await pool.query("CREATE TABLE world.later_table (id bigserial PRIMARY KEY, note text)");
    try {
      const can = async (role: string, privilege: string) => (await pool.query<{ ok: boolean }>("SELECT has_table_privilege($1, 'world.later_table', $2) AS ok", [role, privilege])).rows[0]?.ok;
      expect(await can(SQL_WRITE_ROLE, "UPDATE")).toBe(true);
      expect(await can(SQL_READ_ROLE, "SELECT")).toBe(true);
      expect(await can(SQL_READ_ROLE, "UPDATE")).toBe(false);
      expect(await can(WORLD_ROLE, "SELECT")).toBe(false);
      expect((await pool.query<{ ok: boolean }>("SELECT has_sequence_privilege($1, 'world.later_table_id_seq', 'USAGE') AS ok", [SQL_WRITE_ROLE])).rows[0]?.ok).toBe(true);
    } finally {
      await pool.query("DROP TABLE world.later_table");
    }
  });

  test("the role block survives a concurrent creation and a user without CREATEROLE (probed with a throwaway role name)", async () => {
    const block = /DO \$role\$[\s\S]*?\$role\$;/.exec(MIGRATIONS.find((m) => m.version === 14)?.sql ?? "")?.[0];
    expect(block).toBeDefined();
    const probe = `wp_probe_role_${randomBytes(4).toString("hex")}`;
    roles.push(probe);
    const sql = (block ?? "").replaceAll(WORLD_ROLE, probe);
    const a = new pg.Client({ connectionString: db.url });
    const b = new pg.Client({ connectionString: db.url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const bPid = (await b.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      await a.query("BEGIN");
      await b.query("BEGIN");
      await a.query(sql);
      // b does not see a's uncommitted role, so it creates one too and waits on a: a's commit turns that
      // into a unique_violation, which the block swallows.
      const second = b.query(sql);
      let waiting = false;
      for (let i = 0; i < 100 && !waiting; i++) {
        waiting = (await count("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [bPid])) === 1;
        if (!waiting) await new Promise((r) => setTimeout(r, 20));
      }
      expect(waiting).toBe(true);
      await a.query("COMMIT");
      await second;
      await b.query("COMMIT");
      // Once it exists: duplicate_object is not even reached, the block just passes.
      await a.query(sql);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
    expect(await count("SELECT count(*) FROM pg_roles WHERE rolname = $1", [probe])).toBe(1);

    // A user without CREATEROLE: a NOTICE, no error, no role.
    const weak = `wp_probe_login_${randomBytes(4).toString("hex")}`;
    roles.push(weak);
    await pool.query(`CREATE ROLE ${weak} LOGIN NOCREATEROLE`);
    const missing = `wp_probe_role_${randomBytes(4).toString("hex")}`;
    const c = new pg.Client({ connectionString: urlAs(db.url, weak) });
    const notices: string[] = [];
    c.on("notice", (n) => notices.push(n.message ?? ""));
    await c.connect();
    try {
      await c.query((block ?? "").replaceAll(WORLD_ROLE, missing));
    } finally {
      await c.end();
    }
    expect(notices.join("\n")).toMatch(new RegExp(`${missing} role not created \\(${weak} lacks CREATEROLE\\)`));
    expect(await count("SELECT count(*) FROM pg_roles WHERE rolname = $1", [missing])).toBe(0);
  });

  test("migrations run at the same time in several databases (the role is cluster-wide)", async () => {
    const dbs = await Promise.all([freshDatabase("ops_par"), freshDatabase("ops_par")]);
    extraDbs.push(...dbs);
    await Promise.all(
      dbs.map(async (d) => {
        const c = new pg.Client({ connectionString: d.url });
        await c.connect();
        try {
          await applyMigrations(c as unknown as pg.PoolClient);
          const { rows } = await c.query<{ ok: boolean }>("SELECT has_table_privilege($1, 'world.invoices', 'UPDATE') AS ok", [SQL_WRITE_ROLE]);
          expect(rows[0]?.ok).toBe(true);
        } finally {
          await c.end();
        }
      }),
    );
  });
});

describe("reads", () => {
  test("listVendors filters by status and text; lookupVendor refuses an unknown id with a 404", async () => {
    expect((await world.ops.listVendors({ status: "suspended" })).map((v) => v.vendorId)).toEqual(["V-203"]);
    expect((await world.ops.listVendors({ search: "NORTHWIND" })).map((v) => v.name)).toEqual(["Northwind Traders"]);
    expect(await world.ops.lookupVendor("V-201")).toEqual({ vendorId: "V-201", name: "Globex Cloud", email: "invoices@globex.example", country: "US", status: "active" });
    await refused(world.ops.lookupVendor("V-999"), 404, /no vendor "V-999"/);
  });

  test("listInvoices combines its filters", async () => {
    const big = await world.ops.listInvoices({ minAmount: 5000, status: "open" });
    expect(big.map((i) => i.invoiceId)).toEqual(["INV-1005", "INV-1006"]);
    const northwind = await world.ops.listInvoices({ vendorId: "V-200" });
    expect(northwind).toEqual([
      { invoiceId: "INV-1008", vendorId: "V-200", vendorName: "Northwind Traders", amount: 640, currency: "EUR", dueOn: "2026-10-31", status: "paid" },
      { invoiceId: "INV-1003", vendorId: "V-200", vendorName: "Northwind Traders", amount: 860, currency: "EUR", dueOn: "2026-12-01", status: "open" },
    ]);
    expect(await world.ops.listInvoices({ dueBefore: "2026-11-01" })).toHaveLength(1);
  });
});

describe("queryWorld", () => {
  test("runs a read as waypoint_sql_read with search_path = world: numbers as numbers, dates as text", async () => {
    const r = await world.ops.queryWorld("SELECT invoice_id, amount, due_on, current_user AS role, count(*) OVER () AS n FROM invoices WHERE invoice_id = 'INV-1001';");
    expect(r).toEqual({
      columns: ["invoice_id", "amount", "due_on", "role", "n"],
      rows: [{ invoice_id: "INV-1001", amount: 42.5, due_on: "2026-12-15", role: SQL_READ_ROLE, n: 1 }],
      rowCount: 1,
      truncated: false,
    });
  });

  test(`returns at most ${QUERY_ROW_LIMIT} rows and says it truncated`, async () => {
    const r = await world.ops.queryWorld("SELECT g FROM generate_series(1, 500) AS g");
    expect(r.rowCount).toBe(QUERY_ROW_LIMIT);
    expect(r.rows[QUERY_ROW_LIMIT - 1]).toEqual({ g: QUERY_ROW_LIMIT });
    expect(r.truncated).toBe(true);
  });

  test("refuses writes: by kind, a data-changing WITH, and anything the read-only transaction stops", async () => {
    await refused(world.ops.queryWorld("DELETE FROM vendors"), 400, /query_world runs SELECT, WITH, TABLE, VALUES statements only; got DELETE; changes go through run_sql/);
    await refused(world.ops.queryWorld("WITH gone AS (DELETE FROM vendors RETURNING vendor_id) SELECT * FROM gone"), 400, /data-modifying/);
    await refused(world.ops.queryWorld("SELECT nextval('invoices_nonexistent_seq')"), 400, /does not exist/);
    await refused(world.ops.queryWorld("SELECT nextval('payments_id_seq')"), 403, /permission denied for sequence payments_id_seq|read-only transaction/);
    await refused(world.ops.queryWorld("SELECT * FROM invoices FOR UPDATE"), 403, /read-only transaction/);
    expect(await count("SELECT count(*) FROM world.vendors")).toBe(6);
  });

  test("refuses more than one statement", async () => {
    await refused(world.ops.queryWorld("SELECT 1; SELECT 2"), 400, /exactly one statement per call/);
    await refused(world.ops.queryWorld("SELECT 1; DELETE FROM vendors"), 400, /exactly one statement per call/);
    expect(await count("SELECT count(*) FROM world.vendors")).toBe(6);
  });

  test("cannot read Waypoint's own tables or the checkpoints: permission errors", async () => {
    await refused(world.ops.queryWorld("SELECT * FROM waypoint.threads"), 403, /permission denied for schema waypoint/);
    await refused(world.ops.queryWorld("SELECT count(*) FROM public.checkpoints"), 403, /permission denied for table checkpoints/);
  });

  test("what used to be refused by its text runs on the sandbox login and reaches nothing: set_config('role'), query_to_xml, Unicode-escaped names", async () => {
    const r = await world.ops.queryWorld("SELECT set_config('role', 'none', true) AS r, current_user AS c");
    expect(r.rows).toEqual([{ r: "none", c: SQL_READ_ROLE }]);
    await refused(world.ops.queryWorld("SELECT query_to_xml('SELECT * FROM waypoint.migrations', true, false, '')"), 403, /permission denied for schema waypoint/);
    expect((await world.ops.queryWorld(`SELECT U&"set\\005fconfig"('role', 'none', true) AS r, current_user AS c`)).rows).toEqual([{ r: "none", c: SQL_READ_ROLE }]);
  });
});

describe("runSql", () => {
  const amountOf = async (invoiceId: string) => Number((await pool.query<{ a: string }>("SELECT amount AS a FROM world.invoices WHERE invoice_id = $1", [invoiceId])).rows[0]?.a);

  test("runs one statement as waypoint_sql_write, records it, and the same key returns the first result without running again", async () => {
    const before = await amountOf("INV-1002");
    const sql = "UPDATE invoices SET amount = amount + 1 WHERE invoice_id = 'INV-1002'";
    const first = await world.ops.runSql(sql, "k-sql-1");
    expect(first).toEqual({ changeRef: expect.stringMatching(/^SQL-[0-9A-F]{12}$/), command: "UPDATE", rowsAffected: 1 });
    const again = await world.ops.runSql(sql, "k-sql-1");
    expect(again).toEqual(first);
    expect(await amountOf("INV-1002")).toBe(before + 1);
    expect(await count("SELECT count(*) FROM world.sql_changes WHERE idempotency_key = 'k-sql-1'")).toBe(1);
    const { rows } = await pool.query("SELECT statement, command, rows_affected FROM world.sql_changes WHERE idempotency_key = 'k-sql-1'");
    expect(rows).toEqual([{ statement: sql, command: "UPDATE", rows_affected: 1 }]);
  });

  test("the same key at the same time runs once", async () => {
    const before = await amountOf("INV-1002");
    const sql = "UPDATE invoices SET amount = amount + 1 WHERE invoice_id = 'INV-1002'";
    const [a, b, c] = await Promise.all([world.ops.runSql(sql, "k-sql-par"), world.ops.runSql(sql, "k-sql-par"), world.ops.runSql(sql, "k-sql-par")]);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(await amountOf("INV-1002")).toBe(before + 1);
    expect(await count("SELECT count(*) FROM world.sql_changes WHERE idempotency_key = 'k-sql-par'")).toBe(1);
  });

  test("a reply lost after the change: repeating with the key does not apply it twice", async () => {
    const faulty = createWorld(pool, { faults: parseFaults("sql_write:reply_lost:1:1") });
    const before = await amountOf("INV-1002");
    const sql = "UPDATE invoices SET amount = amount + 1 WHERE invoice_id = 'INV-1002'";
    await expect(faulty.ops.runSql(sql, "k-sql-lost")).rejects.toMatchObject({ failure: "reply_lost" });
    const again = await faulty.ops.runSql(sql, "k-sql-lost");
    expect(again.rowsAffected).toBe(1);
    expect(await amountOf("INV-1002")).toBe(before + 1);
  });

  test("refuses more than one statement, and reads; nothing is applied or recorded", async () => {
    const before = await amountOf("INV-1002");
    await refused(world.ops.runSql("UPDATE invoices SET amount = 1 WHERE invoice_id = 'INV-1002'; UPDATE invoices SET amount = 2 WHERE invoice_id = 'INV-1002'", "k-sql-multi"), 400, /exactly one statement per call/);
    await refused(world.ops.runSql("SELECT * FROM invoices", "k-sql-select"), 400, /got SELECT; reads go through query_world/);
    expect(await amountOf("INV-1002")).toBe(before);
    expect(await count("SELECT count(*) FROM world.sql_changes WHERE idempotency_key IN ('k-sql-multi', 'k-sql-select')")).toBe(0);
  });

  test("cannot touch Waypoint's tables, the schema, the two ledgers (change log, payments), or its own role", async () => {
    await refused(world.ops.runSql("DELETE FROM waypoint.threads", "k-sql-wp1"), 403, /permission denied for schema waypoint/);
    await refused(world.ops.runSql("UPDATE waypoint.migrations SET name = 'x'", "k-sql-wp2"), 403, /permission denied for schema waypoint/);
    await refused(world.ops.runSql("DELETE FROM public.checkpoints", "k-sql-wp3"), 403, /permission denied for table checkpoints/);
    await refused(world.ops.runSql("DROP TABLE vendors", "k-sql-drop"), 403, /must be owner of table vendors/);
    await refused(world.ops.runSql("TRUNCATE payments", "k-sql-trunc"), 403, /permission denied for table payments/);
    await refused(world.ops.runSql("DELETE FROM sql_changes", "k-sql-log"), 403, /permission denied for table sql_changes/);
    await refused(world.ops.runSql("INSERT INTO payments (payment_ref, idempotency_key, invoice_id, vendor_id, amount, currency) VALUES ('PAY-X', 'k-x', 'INV-1005', 'V-202', 7200, 'EUR')", "k-sql-pay"), 403, /permission denied for table payments/);
    await refused(world.ops.runSql("CREATE TEMP TABLE t (x int)", "k-sql-temp"), 403, /permission denied to create temporary tables/);
    expect(await count("SELECT count(*) FROM waypoint.migrations")).toBe(MIGRATIONS.length);
    expect(await count("SELECT count(*) FROM world.vendors")).toBe(6);
    expect(await count("SELECT count(*) FROM world.sql_changes WHERE idempotency_key LIKE 'k-sql-wp%' OR idempotency_key IN ('k-sql-drop', 'k-sql-trunc', 'k-sql-log', 'k-sql-pay', 'k-sql-temp')")).toBe(0);
    expect(await count("SELECT count(*) FROM world.payments WHERE invoice_id = 'INV-1005'")).toBe(0);
  });

  test("constraint violations are refusals (409), not unknown outcomes", async () => {
    await refused(world.ops.runSql("INSERT INTO vendors (vendor_id, name, email, country) VALUES ('V-100', 'Dup', 'dup@acme.test', 'DE')", "k-sql-dup"), 409, /duplicate key/);
  });
});

describe("makePayment", () => {
  const paymentsFor = (invoiceId: string) => count("SELECT count(*) FROM world.payments WHERE invoice_id = $1", [invoiceId]);

  test("pays an open invoice once per key, marks it paid, and refuses a second payment under another key", async () => {
    const input = { invoiceId: "INV-1001", amount: 42.5, currency: "EUR", memo: "Facilities, December" };
    const [first, concurrent] = await Promise.all([world.ops.makePayment(input, "k-pay-1"), world.ops.makePayment(input, "k-pay-1")]);
    expect(first).toEqual({ paymentRef: expect.stringMatching(/^PAY-[0-9A-F]{12}$/), invoiceId: "INV-1001", vendorId: "V-100", amount: 42.5, currency: "EUR", memo: "Facilities, December", paidAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(concurrent).toEqual(first);
    expect(await world.ops.makePayment(input, "k-pay-1")).toEqual(first);
    expect(await paymentsFor("INV-1001")).toBe(1);
    expect((await world.ops.listInvoices({ vendorId: "V-100" }))[0]?.status).toBe("paid");
    await refused(world.ops.makePayment(input, "k-pay-2"), 409, new RegExp(`INV-1001 is already paid \\(payment ${first.paymentRef}\\)`));
    expect(await paymentsFor("INV-1001")).toBe(1);
  });

  test("a reply lost after the payment: repeating with the key pays once", async () => {
    const faulty = createWorld(pool, { faults: parseFaults("payments:reply_lost:1:1") });
    // The runSql tests above changed its amount; pay what it is now.
    const amount = (await world.ops.listInvoices({ vendorId: "V-101" }))[0]?.amount ?? 0;
    const input = { invoiceId: "INV-1002", amount, currency: "EUR", memo: "IT services" };
    await expect(faulty.ops.makePayment(input, "k-pay-lost")).rejects.toMatchObject({ failure: "reply_lost" });
    const again = await faulty.ops.makePayment(input, "k-pay-lost");
    expect(again.invoiceId).toBe("INV-1002");
    expect(await paymentsFor("INV-1002")).toBe(1);
  });

  test("refuses unknown, disputed and blocked invoices, and an amount or currency other than the invoice's", async () => {
    await refused(world.ops.makePayment({ invoiceId: "INV-0000", amount: 10, currency: "EUR", memo: "m" }, "k-pay-404"), 404, /no invoice "INV-0000"/);
    await refused(world.ops.makePayment({ invoiceId: "INV-1004", amount: 2450.01, currency: "EUR", memo: "m" }, "k-pay-amt"), 422, /amount 2450.01 does not match invoice INV-1004 \(2450.00 EUR\)/);
    await refused(world.ops.makePayment({ invoiceId: "INV-1004", amount: 2450, currency: "USD", memo: "m" }, "k-pay-cur"), 422, /in EUR, not USD/);
    await refused(world.ops.makePayment({ invoiceId: "INV-1007", amount: 1575, currency: "EUR", memo: "m" }, "k-pay-disp"), 409, /disputed/);
    await refused(world.ops.makePayment({ invoiceId: "INV-1009", amount: 95, currency: "EUR", memo: "m" }, "k-pay-susp"), 409, /vendor V-203 is suspended/);
    expect(await count("SELECT count(*) FROM world.payments WHERE invoice_id IN ('INV-0000', 'INV-1004', 'INV-1007', 'INV-1009')")).toBe(0);
    expect((await world.ops.listInvoices({ vendorId: "V-201" }))[0]?.status).toBe("open");
  });
});

describe("SQL tools without the role", () => {
  test("an app user that can read nothing of Waypoint's (not even the sandbox's password) gets a clear refusal, not a driver error", async () => {
    const outsider = `wp_probe_login_${randomBytes(4).toString("hex")}`;
    roles.push(outsider);
    await pool.query(`CREATE ROLE ${outsider} LOGIN`);
    // The systems log every request that reaches them (world.requests) with the caller's connection.
    await pool.query(`GRANT USAGE ON SCHEMA world TO ${outsider}; GRANT INSERT ON world.requests TO ${outsider}; GRANT USAGE ON SEQUENCE world.requests_id_seq TO ${outsider}`);
    const other = new pg.Pool({ connectionString: urlAs(db.url, outsider), max: 2 });
    try {
      const w = createWorld(other, { faults: null });
      const e = await w.ops.queryWorld("SELECT 1").then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(e?.message).toMatch(/permission denied for schema waypoint/);
      expect(await count("SELECT count(*) FROM world.sql_changes WHERE idempotency_key = 'k-outsider'")).toBe(0);
    } finally {
      await other.end();
    }
  });
});

describe("ops tools and OPS_POLICY", () => {
  const call = (name: string, args: Record<string, unknown>): ToolCall => ({ id: `c-${name}`, name, args, type: "tool_call" });
  const byName = new Map(OPS_TOOLS.map((t) => [t.name, t]));
  const held = new Set(OPS_POLICY.scopes ?? []);
  const verdict = (name: string, args: Record<string, unknown>) => {
    const c = call(name, args);
    return evaluateCall(OPS_POLICY, c, byName.get(name), held, typeof args.confidence === "number" ? args.confidence : undefined);
  };

  test("the built-in policy validates against the schema and the tools", () => {
    expect(parsePolicy(OPS_POLICY, "ops built-in", OPS_TOOLS)).toEqual(OPS_POLICY);
  });

  test("every tool argument is described", () => {
    for (const t of OPS_TOOLS) {
      const props = (t.jsonSchema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [name, p] of Object.entries(props)) expect([t.name, name, typeof p.description]).toEqual([t.name, name, "string"]);
    }
  });

  test("decides as intended: reads auto, thresholds, destructive SQL, permissions, confidence, outside mail, missing scopes", () => {
    expect(verdict("query_world", { query: "SELECT 1" })).toMatchObject({ tier: "auto", missingScopes: [] });
    expect(verdict("run_sql", { sql: "UPDATE vendors SET email = 'x@acme.test'", confidence: 0.9 })).toMatchObject({ tier: "auto", missingScopes: ["db:write"] });
    expect(verdict("run_sql", { sql: "delete from invoices where invoice_id = 'INV-1'", confidence: 0.9 })).toMatchObject({ tier: "review" });
    expect(verdict("run_sql", { sql: "GRANT SELECT ON invoices TO public", confidence: 0.99 })).toMatchObject({ tier: "deny" });
    expect(verdict("run_sql", { sql: "create  role boss", confidence: 0.99 })).toMatchObject({ tier: "deny" });
    expect(verdict("run_sql", { sql: "UPDATE vendors SET status = 'active'", confidence: 0.3 })).toMatchObject({ tier: "review" });
    expect(verdict("run_sql", { sql: "UPDATE vendors SET status = 'active'" })).toMatchObject({ tier: "review" }); // Unknown confidence counts as low.
    expect(verdict("make_payment", { invoiceId: "INV-1003", amount: 860, currency: "EUR", memo: "m" })).toMatchObject({ tier: "auto", missingScopes: ["payments"] });
    expect(verdict("make_payment", { invoiceId: "INV-1004", amount: 2450, currency: "EUR", memo: "m" })).toMatchObject({ tier: "review" });
    const big = verdict("make_payment", { invoiceId: "INV-1006", amount: 11980, currency: "EUR", memo: "m" });
    expect(big).toMatchObject({ tier: "deny", missingScopes: [] });
    expect(big.reason).toMatch(/payments over 10,000 need the finance system/);
    expect(verdict("send_email", { to: "facilities@acme.test", subject: "s", body: "b" })).toMatchObject({ tier: "auto" });
    expect(verdict("send_email", { to: "ap@northwind.example", subject: "s", body: "b" })).toMatchObject({ tier: "review" });
  });

  test("the sample input drives the offline planner through every tool in order, reads first, each change once", async () => {
    const input = OpsInput.parse(OPS_SAMPLE_INPUT);
    const specs = OPS_TOOLS.map((t) => ({ name: t.definition.function.name, description: t.definition.function.description, parameters: t.definition.function.parameters }));
    const messages: BaseMessage[] = [new HumanMessage({ id: "task", content: taskMessage(input.request) })];
    const system = new SystemMessage(systemPrompt(input.request));
    const calls: ToolCall[] = [];
    for (let turn = 0; turn < 10; turn++) {
      const reply = planNextStep([system, ...messages], specs);
      messages.push(reply);
      if (!reply.tool_calls?.length) break;
      calls.push(...reply.tool_calls);
      const { messages: answers } = await executeToolCalls(reply.tool_calls, OPS_TOOLS, { pool, config: { context: { world } }, threadId: "ops-sample", checkpointNs: "", toolRetry: { initialDelayMs: 1, maxDelayMs: 5 } });
      messages.push(...answers);
    }
    expect(calls.map((c) => c.name)).toEqual(["list_vendors", "list_invoices", "query_world", "run_sql", "make_payment", "send_email"]);
    const errors = messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m) && m.status === "error");
    expect(errors.map((m) => m.content)).toEqual([]);
    const last = messages[messages.length - 1];
    expect(AIMessage.isInstance(last) && String(last.content)).toMatch(/^Finished\./);
    // What the policy would say about each proposal in a real run: reads auto; the SQL change and the
    // payment each need a scope granted; the remittance note leaves the company, so it is reviewed.
    expect(calls.map((c) => {
      const v = evaluateCall(OPS_POLICY, c, byName.get(c.name), held, typeof c.args.confidence === "number" ? c.args.confidence : undefined);
      return `${c.name}:${v.tier}${v.missingScopes.length ? `+${v.missingScopes.join(",")}` : ""}`;
    })).toEqual(["list_vendors:auto", "list_invoices:auto", "query_world:auto", "run_sql:auto+db:write", "make_payment:auto+payments", "send_email:review"]);
    expect((await world.ops.lookupVendor("V-200")).email).toBe("ap@northwind.example");
    expect(await count("SELECT count(*) FROM world.payments WHERE invoice_id = 'INV-1003'")).toBe(1);
    expect(await count("SELECT count(*) FROM world.outbox WHERE recipient = 'ap@northwind.example'")).toBe(1);
  });
});
