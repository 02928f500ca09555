// The ops agent's SQL cannot leave its sandbox (issue 12, items 1 and 2). Model SQL runs on its own
// connections, logged in as waypoint_sql_read / waypoint_sql_write: roles that own nothing, are members of
// nothing and can create nothing (no TEMP, no CREATE on any schema), so there is no role to switch back to
// and nowhere to leave a function or a table behind. Each escape is tried through the tools (on an app
// pool of ONE connection, where the old SET LOCAL ROLE design let objects left by one call meet the next)
// and, where the tools' kind check would stop it first, raw on a sandbox login with no checks at all. The
// effect is checked in the database: waypoint.runs unchanged, no file written, no object left, current_user
// the sandbox role. The app pool's search_path is pinned, so a pg_temp table cannot capture its queries.
// Embedded Postgres runs Waypoint as a non-superuser that owns its database; the sandbox works under it.
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../src/db/embedded.js";
import { MIGRATIONS } from "../src/db/migrations.js";
import { createPool } from "../src/db/pool.js";
import { scramVerifier, SqlSandbox, SQL_READ_ROLE, SQL_WRITE_ROLE } from "../src/db/sandbox.js";
import { openPersistence, type Persistence } from "../src/persistence/index.js";
import { createWorld, WorldError, type World } from "../src/world/index.js";
import { freePort, freshDatabase, testServerUrl, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let persistence: Persistence;
/** The app's pool (a superuser on the test server): also used here to look at what happened. */
let pool: pg.Pool;
let world: World;
/** An app pool of one connection, and a world on it: every tool call of the old design met the last one's session. */
let single: pg.Pool;
let lone: World;
/** The app's own database user (postgres on the test server): what an escape would become. */
let appUser: string;
const roles: string[] = [];

beforeAll(async () => {
  db = await freshDatabase("sql_sandbox");
  persistence = await openPersistence({ url: db.url, poolMax: 4 });
  pool = persistence.db.pool;
  world = createWorld(pool, { faults: null });
  single = createPool({ url: db.url, max: 1 });
  lone = createWorld(single, { faults: null });
  appUser = (await pool.query<{ u: string }>("SELECT current_user AS u")).rows[0]?.u ?? "";
  // A thread and a run, so that a rewrite of waypoint.runs would show.
  await pool.query("INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status) VALUES ('t-sandbox', 'ops', '1', 'idle')");
  await pool.query("INSERT INTO waypoint.runs (run_id, thread_id, graph_id, graph_version, kind, status) VALUES ($1, 't-sandbox', 'ops', '1', 'start', 'success')", [randomUUID()]);
});
afterAll(async () => {
  await single.end();
  await persistence.close();
  await db.drop();
  const admin = new pg.Client({ connectionString: testServerUrl() });
  await admin.connect();
  try {
    for (const r of roles) await admin.query(`DROP ROLE IF EXISTS ${r}`);
  } finally {
    await admin.end();
  }
});

/** What an escape would change: Waypoint's rows, the ledgers, objects anywhere in this database. */
async function effects(): Promise<Record<string, unknown>> {
  const { rows } = await pool.query(`SELECT
      (SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r.run_id), '')) FROM waypoint.runs r) AS runs,
      (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.thread_id), '')) FROM waypoint.threads t) AS threads,
      (SELECT count(*)::int FROM public.checkpoints) AS checkpoints,
      (SELECT count(*)::int FROM waypoint.migrations) AS migrations,
      (SELECT count(*)::int FROM world.payments) AS payments,
      (SELECT count(*)::int FROM world.sql_changes) AS sql_changes,
      (SELECT count(*)::int FROM pg_largeobject_metadata) AS large_objects,
      (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'pg\\_temp\\_%') AS temp_relations,
      (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')) AS functions,
      (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'world', 'waypoint')) AS relations,
      (SELECT count(*)::int FROM pg_extension) AS extensions,
      (SELECT count(*)::int FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid WHERE d.deptype = 'o' AND r.rolname IN ('${SQL_READ_ROLE}', '${SQL_WRITE_ROLE}')) AS sandbox_owns`);
  return rows[0] as Record<string, unknown>;
}

/** A file on the database server's machine, looked at by the server itself (the test user is a superuser). */
async function serverFileExists(path: string): Promise<boolean> {
  const { rows } = await pool.query<{ found: boolean }>("SELECT (pg_stat_file($1, true)).size IS NOT NULL AS found", [path]);
  return rows[0]?.found === true;
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => ({ value }),
    (err: unknown) => err,
  );
}

/** The call was refused 4xx-style (nothing applied, not retried), with a message matching `text`. */
async function refused(p: Promise<unknown>, status: number, text: RegExp): Promise<void> {
  const e = await outcome(p);
  expect(e).toBeInstanceOf(WorldError);
  expect(e).toMatchObject({ failure: "rejected", info: { status, effectMayHaveHappened: false } });
  expect((e as Error).message).toMatch(text);
}

/** A raw statement on a sandbox login, without the tools' checks (simple protocol: several statements allowed). */
async function raw(kind: "read" | "write", sql: string): Promise<pg.QueryResult | pg.QueryResult[] | Error> {
  const sandbox = new SqlSandbox(pool);
  return sandbox.use(kind, (c) => c.query(sql) as Promise<pg.QueryResult | pg.QueryResult[]>).catch((e: unknown) => e as Error);
}

function rawRefused(r: pg.QueryResult | pg.QueryResult[] | Error, text: RegExp): void {
  expect(r).toBeInstanceOf(Error);
  expect((r as Error).message).toMatch(text);
}

/** The old design's way to a schema of one's own: a temp table (its check missed comments), then its schema's name. */
async function tempSchemaOf(w: World, key: string): Promise<{ created: unknown; schema: string }> {
  const created = await outcome(w.ops.runSql("CREATE/**/TEMP TABLE wp_foothold (x int)", key));
  const found = await outcome(w.ops.queryWorld("SELECT nspname AS schema FROM pg_namespace WHERE oid = pg_my_temp_schema()"));
  const schema = (found as { value?: { rows: Array<{ schema?: string }> } }).value?.rows[0]?.schema ?? "pg_temp";
  return { created, schema };
}

describe("model SQL runs on its own login", () => {
  test("query_world and run_sql log in as their sandbox roles: session_user and current_user are the sandbox's", async () => {
    const r = await world.ops.queryWorld("SELECT session_user AS s, current_user AS c");
    expect(r.rows).toEqual([{ s: SQL_READ_ROLE, c: SQL_READ_ROLE }]);
    await world.ops.runSql("INSERT INTO vendors (vendor_id, name, email, country) VALUES ('V-900', session_user || '/' || current_user, 'who@acme.test', 'DE')", "k-who");
    const { rows } = await pool.query("SELECT name FROM world.vendors WHERE vendor_id = 'V-900'");
    expect(rows).toEqual([{ name: `${SQL_WRITE_ROLE}/${SQL_WRITE_ROLE}` }]);
  });
});

describe("escapes tried through the tools and raw on the sandbox login", () => {
  test("the reported escape: a function in the session's temp schema that runs RESET ROLE is never created, so never runs", async () => {
    const before = await effects();
    const marker = `/tmp/waypoint-escape-${randomBytes(6).toString("hex")}`;
    const { created, schema } = await tempSchemaOf(lone, "k-esc-1");
    const fn = await outcome(
      lone.ops.runSql(
        `CREATE FUNCTION ${schema}.wp_escape() RETURNS text LANGUAGE plpgsql AS $$
         DECLARE me text := current_user;
         BEGIN
           RESET ROLE;
           EXECUTE format('COPY (SELECT current_user) TO %L', '${marker}');
           UPDATE waypoint.runs SET detail = 'rewritten by model SQL';
           EXECUTE format('SET ROLE %I', me);
           RETURN session_user;
         END $$`,
        "k-esc-2",
      ),
    );
    const viaRead = await outcome(lone.ops.queryWorld(`SELECT ${schema}.wp_escape() AS who`));
    const viaWrite = await outcome(lone.ops.runSql(`UPDATE vendors SET name = name WHERE vendor_id = 'V-100' AND ${schema}.wp_escape() IS NOT NULL`, "k-esc-3"));

    for (const step of [created, fn, viaRead, viaWrite]) expect(step).toBeInstanceOf(WorldError);
    expect((created as Error).message).toMatch(/permission denied to create temporary tables/);
    expect((fn as Error).message).toMatch(/permission denied/);
    expect(await serverFileExists(marker)).toBe(false);
    expect(await effects()).toEqual(before);
    expect((await pool.query("SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'wp_escape'")).rows[0]).toEqual({ n: 0 });
    // Raw, with no checks in the way: the login has no temp schema to write to either.
    rawRefused(await raw("write", "CREATE FUNCTION pg_temp.wp_escape() RETURNS text LANGUAGE sql AS 'SELECT 1::text'"), /permission denied to create temporary tables/);
    expect(await effects()).toEqual(before);
  });

  test("SET ROLE, RESET ROLE and set_config('role') land on the sandbox login itself: there is no other role to reach", async () => {
    const before = await effects();
    const r = await world.ops.queryWorld("WITH s AS MATERIALIZED (SELECT set_config('role', 'none', true) AS r) SELECT r, current_user AS c, session_user AS su FROM s");
    expect(r.rows).toEqual([{ r: "none", c: SQL_READ_ROLE, su: SQL_READ_ROLE }]);
    await refused(world.ops.queryWorld(`SELECT set_config('role', '${appUser}', true)`), 403, new RegExp(`permission denied to set role "${appUser}"`));
    // set_config then a privileged read in the same statement: still the sandbox's rights.
    await refused(world.ops.queryWorld("SELECT set_config('role', 'none', true), pg_read_file('/etc/hostname')"), 403, /permission denied for function pg_read_file/);
    await world.ops.runSql("UPDATE vendors SET name = current_user WHERE vendor_id = 'V-900' AND set_config('role', 'none', true) IS NOT NULL", "k-role-2");
    expect((await pool.query("SELECT name FROM world.vendors WHERE vendor_id = 'V-900'")).rows).toEqual([{ name: SQL_WRITE_ROLE }]);

    rawRefused(await raw("read", `SET ROLE ${appUser}`), new RegExp(`permission denied to set role "${appUser}"`));
    rawRefused(await raw("read", `SET SESSION AUTHORIZATION ${appUser}`), /permission denied to set session authorization/);
    const reset = await raw("write", "RESET ROLE; SET ROLE NONE; SELECT current_user AS c, session_user AS s");
    expect(reset).not.toBeInstanceOf(Error);
    expect((reset as pg.QueryResult[]).at(-1)?.rows).toEqual([{ c: SQL_WRITE_ROLE, s: SQL_WRITE_ROLE }]);
    expect({ ...(await effects()), sql_changes: before.sql_changes }).toEqual(before);
  });

  test("one statement per call: the extended protocol refuses a second one, on the sandbox's own login", async () => {
    const before = await effects();
    await refused(world.ops.runSql("UPDATE invoices SET amount = 1 WHERE invoice_id = 'INV-1001'; RESET ROLE; UPDATE waypoint.runs SET detail = 'x'", "k-multi-1"), 400, /exactly one statement per call/);
    await refused(world.ops.queryWorld("SELECT 1; SELECT pg_read_file('/etc/hostname')"), 400, /exactly one statement per call/);
    expect((await pool.query("SELECT amount::float8 AS a FROM world.invoices WHERE invoice_id = 'INV-1001'")).rows).toEqual([{ a: 42.5 }]);
    expect(await effects()).toEqual(before);
    // And the statement that did run was the sandbox's: nothing here ran on the app's connection.
    expect((await world.ops.queryWorld("SELECT session_user AS s")).rows).toEqual([{ s: SQL_READ_ROLE }]);
  });

  test("comments and spellings the old text check missed (CREATE/**/TEMP TABLE, CREATE OR REPLACE TEMP VIEW) create nothing", async () => {
    const before = await effects();
    await refused(lone.ops.runSql("CREATE/**/TEMP TABLE wp_t (x int)", "k-cmt-1"), 403, /permission denied to create temporary tables/);
    await refused(lone.ops.runSql("CREATE OR REPLACE TEMP VIEW wp_v AS SELECT 1 AS x", "k-cmt-2"), 403, /permission denied to create temporary tables/);
    await refused(lone.ops.runSql("CREATE /* a */ TEMPORARY /* b */ SEQUENCE wp_s", "k-cmt-3"), 403, /permission denied to create temporary tables/);
    await refused(lone.ops.runSql("CREATE TABLE world.wp_t (x int)", "k-cmt-4"), 403, /permission denied for schema world/);
    await refused(lone.ops.runSql("CREATE TABLE public.wp_t (x int)", "k-cmt-5"), 403, /permission denied for schema public/);
    await refused(lone.ops.queryWorld("SELECT * FROM wp_t"), 400, /relation "wp_t" does not exist/);
    rawRefused(await raw("write", "CREATE SCHEMA wp_mine"), /permission denied for database/);
    rawRefused(await raw("write", "CREATE TEMP VIEW wp_v AS SELECT 1 AS x"), /permission denied to create temporary tables/);
    expect(await effects()).toEqual(before);
    expect((await pool.query("SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('wp_t', 'wp_v', 'wp_s')")).rows[0]).toEqual({ n: 0 });
  });

  test("COPY ... TO PROGRAM, COPY to and from server files: refused on the sandbox login, no file written", async () => {
    const before = await effects();
    const marker = `/tmp/waypoint-copy-${randomBytes(6).toString("hex")}`;
    // The tools take no COPY at all (their kind check); raw, the login itself may not.
    await refused(world.ops.runSql(`COPY (SELECT 1) TO PROGRAM 'touch ${marker}'`, "k-copy-1"), 400, /got COPY/);
    rawRefused(await raw("write", `COPY (SELECT 1) TO PROGRAM 'touch ${marker}'`), /permission denied to COPY to or from an external program|must be superuser or have privileges of the pg_execute_server_program role/);
    rawRefused(await raw("write", `COPY (SELECT 1) TO '${marker}'`), /permission denied to COPY to a file|must be superuser or have privileges of the pg_write_server_files role/);
    rawRefused(await raw("write", "COPY vendors FROM '/etc/hostname'"), /permission denied to COPY from a file|must be superuser or have privileges of the pg_read_server_files role/);
    rawRefused(await raw("write", `DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch ${marker}'''; END $$`), /permission denied to COPY to or from an external program|pg_execute_server_program/);
    expect(await serverFileExists(marker)).toBe(false);
    expect(await effects()).toEqual(before);
  });

  test("dblink: the extension cannot be created and does not exist; nothing is connected or changed", async () => {
    const before = await effects();
    const made = await outcome(world.ops.runSql("CREATE EXTENSION dblink", "k-dblink-1"));
    expect(made).toBeInstanceOf(Error);
    expect((made as Error).message).toMatch(/permission denied to create extension|permission denied for database|is not available|could not open extension control file/);
    await refused(world.ops.queryWorld(`SELECT * FROM dblink('dbname=postgres user=${appUser}', 'SELECT 1') AS t(x int)`), 400, /function dblink\(unknown, unknown\) does not exist/);
    rawRefused(await raw("write", "CREATE EXTENSION IF NOT EXISTS dblink"), /permission denied|not available|could not open/);
    expect((await pool.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'dblink'")).rows[0]).toEqual({ n: 0 });
    expect(await effects()).toEqual(before);
  });

  test("lo_import, pg_read_file and large objects: refused; no large object appears", async () => {
    const before = await effects();
    await refused(world.ops.queryWorld("SELECT pg_read_file('/etc/hostname') AS f"), 403, /permission denied for function pg_read_file/);
    await refused(world.ops.queryWorld("SELECT pg_ls_dir('.') AS f"), 403, /permission denied for function pg_ls_dir/);
    await refused(world.ops.runSql("UPDATE vendors SET name = name WHERE vendor_id = 'V-100' AND lo_import('/etc/hostname') > 0", "k-lo-1"), 403, /permission denied for function lo_import/);
    // A large object would be something the sandbox owns, outliving the call.
    await refused(world.ops.runSql("UPDATE vendors SET name = name WHERE vendor_id = 'V-100' AND lo_from_bytea(0, 'x') > 0", "k-lo-2"), 403, /permission denied for function lo_from_bytea/);
    rawRefused(await raw("write", "SELECT lo_create(0)"), /permission denied for function lo_create/);
    expect(await effects()).toEqual(before);
  });

  test("SECURITY DEFINER: the sandbox can create no function, and the ledger's definer function refuses a call without its ticket", async () => {
    const before = await effects();
    const { schema } = await tempSchemaOf(lone, "k-def-1");
    await refused(lone.ops.runSql(`CREATE FUNCTION ${schema}.wp_definer() RETURNS text LANGUAGE sql SECURITY DEFINER AS $$ SELECT current_user::text $$`, "k-def-2"), 403, /permission denied/);
    await refused(lone.ops.runSql(`CREATE FUNCTION ${schema}.wp_setrole() RETURNS text LANGUAGE sql SET role = ${appUser} AS $$ SELECT current_user::text $$`, "k-def-3"), 403, /permission denied/);
    await refused(lone.ops.queryWorld(`SELECT ${schema}.wp_setrole() AS who`), 400, /does not exist/);
    await refused(lone.ops.runSql("CREATE FUNCTION world.wp_definer() RETURNS text LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1::text $$", "k-def-4"), 403, /permission denied for schema world/);
    // The one definer function the write role may call records a change only with the ticket the app issued for it.
    await refused(
      world.ops.runSql("UPDATE vendors SET name = name WHERE vendor_id = 'V-100' AND world.record_sql_change('k-forged', 'guessed', 'SQL-FORGED', 'forged', 'UPDATE', 1) IS NULL", "k-def-5"),
      403,
      /no ticket matches/,
    );
    await refused(world.ops.queryWorld("SELECT world.record_sql_change('k-forged', 'guessed', 'SQL-FORGED', 'forged', 'UPDATE', 1)"), 403, /permission denied for function record_sql_change/);
    expect((await pool.query("SELECT count(*)::int AS n FROM world.sql_changes WHERE idempotency_key = 'k-forged' OR change_ref = 'SQL-FORGED'")).rows[0]).toEqual({ n: 0 });
    expect((await pool.query("SELECT count(*)::int AS n FROM pg_proc WHERE proname IN ('wp_definer', 'wp_setrole')")).rows[0]).toEqual({ n: 0 });
    expect(await effects()).toEqual(before);
  });

  test("writes to waypoint.*, public.checkpoints and the two ledgers are refused and change nothing", async () => {
    const before = await effects();
    await refused(world.ops.runSql("UPDATE waypoint.runs SET detail = 'x'", "k-wp-1"), 403, /permission denied for schema waypoint/);
    await refused(world.ops.runSql("INSERT INTO waypoint.migrations (version, name) VALUES (999, 'x')", "k-wp-2"), 403, /permission denied for schema waypoint/);
    await refused(world.ops.runSql("DELETE FROM public.checkpoints", "k-wp-3"), 403, /permission denied for table checkpoints/);
    await refused(world.ops.runSql("UPDATE world.sql_changes SET statement = 'x'", "k-wp-4"), 403, /permission denied for table sql_changes/);
    await refused(world.ops.runSql("INSERT INTO world.payments (payment_ref, idempotency_key, invoice_id, vendor_id, amount, currency) VALUES ('PAY-X', 'k-x', 'INV-1005', 'V-202', 7200, 'EUR')", "k-wp-5"), 403, /permission denied for table payments/);
    await refused(world.ops.runSql("DELETE FROM waypoint.sql_sandbox_credentials", "k-wp-6"), 403, /permission denied for schema waypoint/);
    rawRefused(await raw("write", "SELECT * FROM waypoint.sql_sandbox_credentials"), /permission denied for schema waypoint/);
    expect(await effects()).toEqual(before);
    // The refusals came from the sandbox login: a write it may do lands with its name on it.
    await world.ops.runSql("UPDATE vendors SET name = session_user WHERE vendor_id = 'V-900'", "k-wp-7");
    expect((await pool.query("SELECT name FROM world.vendors WHERE vendor_id = 'V-900'")).rows).toEqual([{ name: SQL_WRITE_ROLE }]);
  });

  test("a statement cannot lift its own time limit: set_config('statement_timeout', '0') and a sleep is cancelled", async () => {
    await refused(world.ops.queryWorld("SELECT set_config('statement_timeout', '0', false), pg_sleep(30)"), 408, /ran longer than/);
  });
});

describe("no session-created object captures the app's queries (item 2)", () => {
  test("a temp table named checkpoints made through run_sql does not exist, and the app's next query on that connection reads the real table", async () => {
    const real = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM public.checkpoints")).rows[0]?.n;
    await refused(lone.ops.runSql("CREATE/**/TEMP TABLE checkpoints AS SELECT 'captured'::text AS thread_id, 1 AS n", "k-cap-1"), 403, /permission denied to create temporary tables/);
    const seen = await single.query<{ n: number; captured: number }>("SELECT count(*)::int AS n, count(*) FILTER (WHERE thread_id = 'captured')::int AS captured FROM checkpoints");
    expect(seen.rows).toEqual([{ n: real, captured: 0 }]);
  });

  test("the app pool pins search_path with pg_temp last: a pg_temp checkpoints table on an app connection does not capture unqualified queries", async () => {
    const app = createPool({ url: db.url, max: 1 });
    try {
      expect((await app.query("SHOW search_path")).rows).toEqual([{ search_path: "public,pg_catalog,pg_temp" }]);
      await app.query("CREATE TEMP TABLE checkpoints (thread_id text, checkpoint_ns text, checkpoint_id text)");
      await app.query("INSERT INTO pg_temp.checkpoints VALUES ('captured', '', 'c1')");
      const seen = await app.query("SELECT thread_id FROM checkpoints WHERE thread_id = 'captured' AND checkpoint_ns = ''");
      expect(seen.rows).toEqual([]);
      const where = await app.query<{ schema: string }>("SELECT 'checkpoints'::regclass::text AS schema");
      expect(where.rows).toEqual([{ schema: "checkpoints" }]);
      expect((await app.query("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'checkpoints'::regclass")).rows).toEqual([{ nspname: "public" }]);
    } finally {
      await app.end();
    }
  });
});

describe("the sandbox roles (migration 15)", () => {
  const attrs = async (role: string) =>
    (
      await pool.query(
        `SELECT r.rolcanlogin, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolconnlimit,
                has_database_privilege(r.oid, current_database(), 'TEMP') AS temp,
                has_database_privilege(r.oid, current_database(), 'CREATE') AS create_in_db,
                (SELECT coalesce(array_agg(n.nspname::text ORDER BY n.nspname), '{}') FROM pg_namespace n WHERE has_schema_privilege(r.oid, n.oid, 'CREATE')) AS create_in,
                (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = r.oid) AS member_of,
                (SELECT count(*)::int FROM pg_shdepend d WHERE d.refobjid = r.oid AND d.deptype = 'o') AS owns,
                (SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setrole = r.oid AND s.setdatabase = 0) AS settings
           FROM pg_roles r WHERE r.rolname = $1`,
        [role],
      )
    ).rows[0];

  test("log in, own nothing, are members of nothing, create nothing anywhere, and carry their timeouts", async () => {
    for (const role of [SQL_READ_ROLE, SQL_WRITE_ROLE]) {
      expect(await attrs(role)).toEqual({
        rolcanlogin: true,
        rolsuper: false,
        rolinherit: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
        rolconnlimit: 10,
        temp: false,
        create_in_db: false,
        create_in: [],
        member_of: 0,
        owns: 0,
        settings: expect.arrayContaining(["statement_timeout=5s", "lock_timeout=2s", "idle_in_transaction_session_timeout=10s", "search_path=world"]),
      });
    }
    // PUBLIC no longer has TEMP on the app's database (it has by default on every database).
    const pub = await pool.query("SELECT count(*)::int AS n FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database() AND a.grantee = 0 AND a.privilege_type = 'TEMPORARY'");
    expect(pub.rows[0]).toEqual({ n: 0 });
    // The superseded NOLOGIN role of migration 14 holds nothing here any more.
    const old = await pool.query("SELECT count(*)::int AS n FROM information_schema.role_table_grants WHERE grantee = 'waypoint_world' AND table_catalog = current_database()");
    expect(old.rows[0]).toEqual({ n: 0 });
  });

  test("hold only the world privileges their tool needs", async () => {
    const can = async (role: string, table: string, privilege: string) => (await pool.query<{ ok: boolean }>("SELECT has_table_privilege($1, $2, $3) AS ok", [role, table, privilege])).rows[0]?.ok;
    expect(await can(SQL_READ_ROLE, "world.invoices", "SELECT")).toBe(true);
    expect(await can(SQL_READ_ROLE, "world.sql_changes", "SELECT")).toBe(true);
    for (const p of ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"]) expect([p, await can(SQL_READ_ROLE, "world.invoices", p)]).toEqual([p, false]);
    for (const p of ["SELECT", "INSERT", "UPDATE", "DELETE"]) expect([p, await can(SQL_WRITE_ROLE, "world.invoices", p)]).toEqual([p, true]);
    for (const p of ["TRUNCATE", "TRIGGER", "REFERENCES"]) expect([p, await can(SQL_WRITE_ROLE, "world.invoices", p)]).toEqual([p, false]);
    for (const ledger of ["world.sql_changes", "world.payments"]) {
      expect(await can(SQL_WRITE_ROLE, ledger, "SELECT")).toBe(true);
      for (const p of ["INSERT", "UPDATE", "DELETE"]) expect([ledger, p, await can(SQL_WRITE_ROLE, ledger, p)]).toEqual([ledger, p, false]);
    }
    for (const role of [SQL_READ_ROLE, SQL_WRITE_ROLE]) {
      expect(await can(role, "public.checkpoints", "SELECT")).toBe(false);
      expect((await pool.query<{ ok: boolean }>("SELECT has_schema_privilege($1, 'waypoint', 'USAGE') AS ok", [role])).rows[0]?.ok).toBe(false);
    }
    const exec = async (role: string) => (await pool.query<{ ok: boolean }>("SELECT has_function_privilege($1, 'world.record_sql_change(text, text, text, text, text, integer)', 'EXECUTE') AS ok", [role])).rows[0]?.ok;
    expect(await exec(SQL_WRITE_ROLE)).toBe(true);
    expect(await exec(SQL_READ_ROLE)).toBe(false);
  });

  test("the role block survives a concurrent creation in another database and a user without CREATEROLE (probed with throwaway names)", async () => {
    const block = /DO \$sandbox_roles\$[\s\S]*?\$sandbox_roles\$;/.exec(MIGRATIONS.find((m) => m.version === 15)?.sql ?? "")?.[0];
    expect(block).toBeDefined();
    const tag = randomBytes(4).toString("hex");
    const probeR = `wp_probe_r_${tag}`;
    const probeW = `wp_probe_w_${tag}`;
    roles.push(probeR, probeW);
    const sql = (block ?? "").replaceAll(SQL_READ_ROLE, probeR).replaceAll(SQL_WRITE_ROLE, probeW);
    const other = await freshDatabase("sql_sandbox_other");
    const a = new pg.Client({ connectionString: db.url });
    const b = new pg.Client({ connectionString: other.url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const bPid = (await b.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      await a.query("BEGIN");
      await b.query("BEGIN");
      await a.query(sql);
      // b (another database: roles are cluster-wide) does not see a's uncommitted roles, creates them too and waits on a.
      const second = b.query(sql);
      let waiting = false;
      for (let i = 0; i < 100 && !waiting; i++) {
        waiting = (await pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [bPid])).rowCount === 1;
        if (!waiting) await new Promise((r) => setTimeout(r, 20));
      }
      expect(waiting).toBe(true);
      await a.query("COMMIT");
      await second;
      await b.query("COMMIT");
      await a.query(sql);
    } finally {
      await Promise.all([a.end(), b.end()]);
      await other.drop();
    }
    expect(await attrs(probeR)).toMatchObject({ rolcanlogin: true, rolinherit: false, rolconnlimit: 10, settings: expect.arrayContaining(["statement_timeout=5s"]) });

    // A user without CREATEROLE: a NOTICE naming what an administrator must create, no error, no role.
    const weak = `wp_probe_login_${tag}`;
    roles.push(weak);
    await pool.query(`CREATE ROLE ${weak} LOGIN NOCREATEROLE`);
    const missing = `wp_probe_m_${tag}`;
    const u = new URL(db.url);
    u.username = weak;
    const c = new pg.Client({ connectionString: u.toString() });
    const notices: string[] = [];
    c.on("notice", (n) => notices.push(n.message ?? ""));
    await c.connect();
    try {
      await c.query((block ?? "").replaceAll(SQL_READ_ROLE, missing).replaceAll(SQL_WRITE_ROLE, `${missing}_w`));
    } finally {
      await c.end();
    }
    expect(notices.join("\n")).toMatch(new RegExp(`role ${missing} not created \\(${weak} lacks CREATEROLE\\)`));
    expect((await pool.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE $1", [`${missing}%`])).rows[0]).toEqual({ n: 0 });
  });
});

describe("the sandbox's password and its refusals", () => {
  test("the SCRAM verifier Waypoint sends is the one Postgres itself computes for the password", async () => {
    const probe = `wp_probe_pw_${randomBytes(4).toString("hex")}`;
    roles.push(probe);
    await pool.query("SET password_encryption = 'scram-sha-256'");
    await pool.query(`CREATE ROLE ${probe} LOGIN PASSWORD 'pencil'`);
    await pool.query("RESET password_encryption");
    const stored = (await pool.query<{ p: string }>("SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1", [probe])).rows[0]?.p ?? "";
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored);
    expect(m).not.toBeNull();
    expect(scramVerifier("pencil", Buffer.from(m?.[2] ?? "", "base64"), Number(m?.[1]))).toBe(stored);
  });

  test("each sandbox role has a random password that only the app can read, set on the role as a SCRAM verifier", async () => {
    const sandbox = new SqlSandbox(pool);
    await sandbox.use("read", (c) => c.query("SELECT 1"));
    const rows = (await pool.query<{ role_name: string; password: string }>("SELECT role_name, password FROM waypoint.sql_sandbox_credentials ORDER BY role_name")).rows;
    expect(rows.map((r) => r.role_name)).toEqual([SQL_READ_ROLE, SQL_WRITE_ROLE].sort());
    for (const r of rows) expect(r.password).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect((await pool.query<{ ok: boolean }>("SELECT has_table_privilege($1, 'waypoint.sql_sandbox_credentials', 'SELECT') AS ok", [SQL_WRITE_ROLE])).rows[0]?.ok).toBe(false);
    // The role is shared by every database on the server, and other test files re-key it at their start: a
    // mismatch is re-keyed and looked at again.
    let matches = false;
    for (let i = 0; i < 5 && !matches; i++) {
      await sandbox.rekey(SQL_READ_ROLE);
      const [{ password } = { password: "" }] = (await pool.query<{ password: string }>("SELECT password FROM waypoint.sql_sandbox_credentials WHERE role_name = $1", [SQL_READ_ROLE])).rows;
      const verifier = (await pool.query<{ p: string }>("SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1", [SQL_READ_ROLE])).rows[0]?.p ?? "";
      const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(verifier);
      matches = m !== null && scramVerifier(password, Buffer.from(m[2] ?? "", "base64"), Number(m[1])) === verifier;
    }
    expect(matches).toBe(true);
  });

  test("roles that do not exist (an app without CREATEROLE): the tools refuse, naming the role an administrator must create", async () => {
    const tag = randomBytes(4).toString("hex");
    const sqlSandbox = new SqlSandbox(pool, { roles: { read: `wp_probe_nr_${tag}`, write: `wp_probe_nw_${tag}` } });
    const w = createWorld(pool, { faults: null, sqlSandbox });
    await refused(w.ops.queryWorld("SELECT 1"), 503, new RegExp(`SQL tools are unavailable: the database role wp_probe_nr_${tag} does not exist.*CREATE ROLE wp_probe_nr_${tag} LOGIN`));
    await refused(w.ops.runSql("UPDATE invoices SET amount = amount WHERE false", "k-norole"), 503, new RegExp(`CREATE ROLE wp_probe_nw_${tag} LOGIN`));
    expect((await pool.query("SELECT count(*)::int AS n FROM world.sql_changes WHERE idempotency_key = 'k-norole'")).rows[0]).toEqual({ n: 0 });
  });

  test("a role that could create things (TEMP granted, a member of another role) is refused before any SQL runs on it", async () => {
    const tag = randomBytes(4).toString("hex");
    const bad = `wp_probe_bad_${tag}`;
    const group = `wp_probe_grp_${tag}`;
    roles.push(bad, group);
    await pool.query(`CREATE ROLE ${group} NOLOGIN`);
    await pool.query(`CREATE ROLE ${bad} LOGIN INHERIT IN ROLE ${group}`);
    const dbName = new URL(db.url).pathname.slice(1);
    await pool.query(`GRANT TEMP ON DATABASE ${dbName} TO ${bad}`);
    try {
      const w = createWorld(pool, { faults: null, sqlSandbox: new SqlSandbox(pool, { roles: { read: bad, write: bad } }) });
      await refused(w.ops.queryWorld("SELECT 1"), 503, new RegExp(`role ${bad} .*may create temporary tables.*is a member of ${group}.*inherits`));
    } finally {
      await pool.query(`REVOKE TEMP ON DATABASE ${dbName} FROM ${bad}`);
    }
  });
});

describe("the app itself without superuser (embedded Postgres)", () => {
  test("Waypoint logs in as 'waypoint', owner of its database, no superuser; migrations and the sandbox work under it; older data folders keep their database", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-approle-"));
    fs.chmodSync(dir, 0o755);
    const opts = { dataDir: path.join(dir, "pgdata"), port: await freePort() };
    const server = await startEmbeddedPostgres(opts);
    try {
      expect(server.appUrl).toBe(`postgres://waypoint@127.0.0.1:${opts.port}/waypoint`);
      const p = await openPersistence({ url: server.appUrl, poolMax: 3 });
      try {
        const app = p.db.pool;
        const me = await app.query(
          "SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba) AS db_owner FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()",
        );
        expect(me.rows).toEqual([{ rolname: "waypoint", rolsuper: false, rolcreatedb: false, rolcreaterole: true, db_owner: "waypoint" }]);
        await expect(app.query("SELECT pg_read_file('/etc/hostname')")).rejects.toThrow(/permission denied for function pg_read_file/);
        const w = createWorld(app, { faults: null });
        expect((await w.ops.queryWorld("SELECT session_user AS s, count(*)::int AS n FROM invoices")).rows).toEqual([{ s: SQL_READ_ROLE, n: 9 }]);
        expect(await w.ops.runSql("UPDATE vendors SET name = session_user WHERE vendor_id = 'V-100'", "k-embedded")).toMatchObject({ command: "UPDATE", rowsAffected: 1 });
        expect((await app.query("SELECT v.name, (SELECT count(*)::int FROM world.sql_changes WHERE idempotency_key = 'k-embedded') AS logged FROM world.vendors v WHERE vendor_id = 'V-100'")).rows).toEqual([{ name: SQL_WRITE_ROLE, logged: 1 }]);
        await refused(w.ops.runSql("CREATE/**/TEMP TABLE checkpoints (x int)", "k-embedded-temp"), 403, /permission denied to create temporary tables/);
        await refused(w.ops.runSql("UPDATE vendors SET name = name WHERE lo_from_bytea(0, 'x') > 0", "k-embedded-lo"), 403, /permission denied for function lo_from_bytea/);
        // The app made the sandbox roles, so it may set their passwords (Postgres 16+: CREATEROLE reaches only those).
        expect((await app.query("SELECT count(*)::int AS n FROM waypoint.sql_sandbox_credentials")).rows).toEqual([{ n: 2 }]);
      } finally {
        await p.close();
      }
      // An older Waypoint's data in the postgres database: that one stays in use, as before.
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      try {
        await admin.query("CREATE SCHEMA waypoint; CREATE TABLE waypoint.migrations (version integer PRIMARY KEY, name text NOT NULL)");
      } finally {
        await admin.end();
      }
      const again = await startEmbeddedPostgres(opts);
      expect(again.appUrl).toBe(server.url);
    } finally {
      server.release();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
