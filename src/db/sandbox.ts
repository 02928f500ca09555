// The SQL sandbox: SQL a model proposes runs here, on connections of its own that log in as
// waypoint_sql_read or waypoint_sql_write (migration 15), never on the app's pool and never by SET ROLE.
// Those roles own nothing, are members of nothing and can create nothing (no TEMP on the database, no
// CREATE on any schema), so there is no role to switch back to and no place to leave a function, a view
// or a temporary table for a later statement or for the app to run into. Each connection serves one call
// and is closed after it: nothing a statement did to its session (settings, cursors, advisory locks)
// outlives the call.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import pg from "pg";
import { WaypointError } from "../errors.js";
import { log } from "../log.js";
import { directUrlOf } from "./pool.js";

/** The role query_world logs in as: SELECT on the world tables. */
export const SQL_READ_ROLE = "waypoint_sql_read";
/** The role run_sql logs in as: DML on the world tables, the two ledgers (sql_changes, payments) read only. */
export const SQL_WRITE_ROLE = "waypoint_sql_write";
/** statement_timeout of sandbox statements (also set on the roles by migration 15), in ms. */
export const SANDBOX_STATEMENT_TIMEOUT_MS = 5_000;
/** lock_timeout of sandbox statements, in ms: a statement waiting on the app's rows gives up early. */
export const SANDBOX_LOCK_TIMEOUT_MS = 2_000;
/** A sandbox transaction left idle this long is ended by the server (the app crashed mid-call), in ms. */
export const SANDBOX_IDLE_IN_TRANSACTION_MS = 10_000;
/** CONNECTION LIMIT of each sandbox role, server-wide (migration 15). */
export const SANDBOX_CONNECTION_LIMIT = 10;
/** Sandbox connections per role one process opens at once; further calls wait their turn. */
const PER_PROCESS = 4;

export type SandboxKind = "read" | "write";

export interface SqlSandboxOptions {
  /** Roles to log in as; default waypoint_sql_read and waypoint_sql_write (tests use throwaway names). */
  roles?: { read: string; write: string } | undefined;
}

/**
 * A SCRAM-SHA-256 verifier for `password`, the form Postgres stores (RFC 5802 / 7677). The role's password
 * is sent to the server in this form, so the plain password never appears in a statement or a server log.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** What an administrator runs when Waypoint's database user may not create the role itself. */
function createRoleSql(role: string, kind: SandboxKind): string {
  return (
    `CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT ${SANDBOX_CONNECTION_LIMIT}; ` +
    `ALTER ROLE ${role} SET statement_timeout = '5s'; ALTER ROLE ${role} SET lock_timeout = '2s'; ALTER ROLE ${role} SET idle_in_transaction_session_timeout = '10s'; ` +
    `ALTER ROLE ${role} SET search_path = world${kind === "read" ? `; ALTER ROLE ${role} SET default_transaction_read_only = on` : ""}`
  );
}

function unavailable(message: string, cause?: unknown): WaypointError {
  return new WaypointError("sql_sandbox_unavailable", `SQL tools are unavailable: ${message}`, cause === undefined ? {} : { cause });
}

const sqlState = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
};

/** At most `n` at once; the rest wait in order. */
class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly n: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

// Query parameters of the app's URL that say how to reach the server (kept); every other one (user,
// password, options, application_name, timeouts) is the app's session, not the sandbox's (dropped).
const TRANSPORT_PARAMS = new Set(["host", "port", "ssl", "sslmode", "sslcert", "sslkey", "sslrootcert", "sslnegotiation", "uselibpqcompat", "db", "encoding", "client_encoding"]);

/**
 * The app's connection string with the sandbox's login in it. node-postgres reads `user` and `password`
 * query parameters ahead of the URL's user info, so they go there, and the app's user info goes.
 */
function sandboxUrl(appUrl: string, role: string, password: string | undefined): string {
  let url: URL;
  let dummyHost = false;
  try {
    url = new URL(appUrl);
  } catch {
    // node-postgres accepts a URL with an empty host ("postgres://u@/db?host=/run/postgresql") the same way.
    try {
      url = new URL(appUrl.replace("@/", "@___DUMMY___/"));
      dummyHost = true;
    } catch (cause) {
      throw unavailable("the database connection string is not a postgres:// URL, so the sandbox's login cannot be derived from it", cause);
    }
  }
  url.username = "";
  url.password = "";
  for (const key of [...url.searchParams.keys()]) if (!TRANSPORT_PARAMS.has(key)) url.searchParams.delete(key);
  url.searchParams.set("user", role);
  if (password !== undefined) url.searchParams.set("password", password);
  const s = url.toString();
  return dummyHost ? s.replace("___DUMMY___", "") : s;
}

interface RoleRow {
  rolname: string;
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
  can_connect: boolean;
  temp: boolean;
  create_db: boolean;
  create_in: string[];
  member_of: string[];
  owns: number;
  large_objects: boolean;
  db: string;
}

/** Everything about a role that would let a statement create, own or borrow something: none may hold. */
function problemsOf(r: RoleRow): string[] {
  const p: string[] = [];
  if (r.rolsuper) p.push("is a superuser");
  if (!r.rolcanlogin) p.push("cannot log in (it needs LOGIN)");
  if (!r.can_connect) p.push(`may not connect to database ${r.db}`);
  if (r.temp) p.push(`may create temporary tables in database ${r.db} (REVOKE TEMP ON DATABASE ${r.db} FROM PUBLIC, and from the role)`);
  if (r.create_db) p.push(`may create schemas in database ${r.db}`);
  if (r.create_in.length) p.push(`may create objects in schema ${r.create_in.join(", ")}`);
  if (r.member_of.length) p.push(`is a member of ${r.member_of.join(", ")}`);
  if (r.owns > 0) p.push(`owns ${r.owns} object(s) (an administrator runs DROP OWNED BY ${r.rolname} in each database)`);
  if (r.rolinherit) p.push("inherits the privileges of roles granted to it (it must be NOINHERIT)");
  for (const [flag, name] of [
    [r.rolcreaterole, "CREATEROLE"],
    [r.rolcreatedb, "CREATEDB"],
    [r.rolreplication, "REPLICATION"],
    [r.rolbypassrls, "BYPASSRLS"],
  ] as const) {
    if (flag) p.push(`has ${name}`);
  }
  if (r.rolconnlimit < 0 || r.rolconnlimit > 100) p.push(`has no small connection limit (ALTER ROLE ${r.rolname} CONNECTION LIMIT ${SANDBOX_CONNECTION_LIMIT})`);
  return p;
}

/**
 * Connections for model SQL, derived from an app pool: the same server and database, logged in as the
 * sandbox roles with their own passwords. One per app pool (`sqlSandboxFor`), or built with other roles.
 */
export class SqlSandbox {
  private readonly roles: Record<SandboxKind, string>;
  private readonly gates: Record<SandboxKind, Gate> = { read: new Gate(PER_PROCESS), write: new Gate(PER_PROCESS) };
  private readonly checked = new Map<SandboxKind, Promise<void>>();
  private readonly passwords = new Map<string, string | undefined>();

  constructor(
    private readonly app: pg.Pool,
    opts: SqlSandboxOptions = {},
  ) {
    this.roles = opts.roles ?? { read: SQL_READ_ROLE, write: SQL_WRITE_ROLE };
  }

  /** The role `kind` logs in as. */
  roleOf(kind: SandboxKind): string {
    return this.roles[kind];
  }

  /**
   * Run `fn` on a new sandbox connection of `kind`, closed afterwards whatever happened. Throws a
   * WaypointError `sql_sandbox_unavailable` when the role is missing or could create or borrow anything,
   * and `sql_sandbox_busy` when the server refuses another connection for it.
   */
  async use<T>(kind: SandboxKind, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    await this.check(kind);
    return this.gates[kind].run(async () => {
      const client = await this.connect(kind);
      try {
        return await fn(client);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  /** The role is as migration 15 made it; checked once per process (again after a failure). */
  private check(kind: SandboxKind): Promise<void> {
    let p = this.checked.get(kind);
    if (!p) {
      p = this.inspect(this.roles[kind], kind);
      this.checked.set(kind, p);
      p.catch(() => this.checked.delete(kind));
    }
    return p;
  }

  private async inspect(role: string, kind: SandboxKind): Promise<void> {
    const { rows } = await this.app.query<RoleRow>(
      `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolconnlimit,
              current_database() AS db,
              has_database_privilege(r.oid, current_database(), 'CONNECT') AS can_connect,
              has_database_privilege(r.oid, current_database(), 'TEMP') AS temp,
              has_database_privilege(r.oid, current_database(), 'CREATE') AS create_db,
              ARRAY(SELECT n.nspname::text FROM pg_namespace n WHERE has_schema_privilege(r.oid, n.oid, 'CREATE') ORDER BY 1) AS create_in,
              ARRAY(SELECT m.roleid::regrole::text FROM pg_auth_members m WHERE m.member = r.oid ORDER BY 1) AS member_of,
              (SELECT count(*)::int FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid AND d.deptype = 'o') AS owns,
              has_function_privilege(r.oid, 'lo_from_bytea(oid, bytea)', 'EXECUTE') AS large_objects
         FROM pg_roles r WHERE r.rolname = $1`,
      [role],
    );
    const row = rows[0];
    if (!row) {
      throw unavailable(
        `the database role ${role} does not exist, and Waypoint's database user could not create it (creating roles needs CREATEROLE). ` +
          `An administrator creates it: ${createRoleSql(role, kind)}; then grants it the world privileges as migration 15 does (README, "Database roles").`,
      );
    }
    const problems = problemsOf(row);
    if (problems.length) throw unavailable(`the database role ${role} ${problems.join("; ")}. Model SQL runs only as a role that owns nothing and can create nothing.`);
    if (row.large_objects) {
      // Revoking it takes a superuser (the functions belong to the bootstrap user); the app may not be one.
      log.warn({ role }, "the SQL sandbox role may create large objects (lo_create, lo_from_bytea); a superuser can stop it: REVOKE EXECUTE ON FUNCTION lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea) FROM PUBLIC");
    }
  }

  /** The role's password: cached, else the one stored for this database, else a new one. */
  private async passwordOf(role: string): Promise<string | undefined> {
    if (this.passwords.has(role)) return this.passwords.get(role);
    const { rows } = await this.app.query<{ password: string }>("SELECT password FROM waypoint.sql_sandbox_credentials WHERE role_name = $1", [role]);
    const stored = rows[0]?.password;
    if (stored !== undefined) {
      this.passwords.set(role, stored);
      return stored;
    }
    return this.rekey(role);
  }

  /**
   * Give `role` a new random password, set on the role as a SCRAM verifier and kept in
   * waypoint.sql_sandbox_credentials (only the app can read that schema). With `stale`, only when the stored
   * password is still that one: another process of this database may have changed it meanwhile, and then
   * its password is the one to use. Roles are server-wide and each database keeps its own copy, so two
   * Waypoint databases on one server take turns: each re-keys when its copy stops working.
   * Returns undefined when Waypoint's user may not change the role's password and none is stored: then the
   * server's own rules (trust, or a password an administrator stored here) decide whether it may log in.
   */
  async rekey(role: string, stale?: string): Promise<string | undefined> {
    const client = await this.app.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`waypoint:sql_sandbox_password:${role}`]);
      const { rows } = await client.query<{ password: string }>("SELECT password FROM waypoint.sql_sandbox_credentials WHERE role_name = $1", [role]);
      const current = rows[0]?.password;
      if (stale !== undefined && current !== undefined && current !== stale) {
        await client.query("COMMIT");
        this.passwords.set(role, current);
        return current;
      }
      const password = randomBytes(32).toString("base64url");
      await client.query("SAVEPOINT set_password");
      try {
        await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${client.escapeLiteral(scramVerifier(password))}`);
      } catch (e) {
        if (sqlState(e) !== "42501") throw e;
        await client.query("ROLLBACK TO SAVEPOINT set_password");
        await client.query("COMMIT");
        log.warn({ role, error: (e as Error).message }, "cannot set the SQL sandbox role's password; logging in with the stored one, if any");
        this.passwords.set(role, current);
        return current;
      }
      await client.query(
        `INSERT INTO waypoint.sql_sandbox_credentials (role_name, password) VALUES ($1, $2)
         ON CONFLICT (role_name) DO UPDATE SET password = EXCLUDED.password, set_at = now()`,
        [role, password],
      );
      await client.query("COMMIT");
      this.passwords.set(role, password);
      return password;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  private config(kind: SandboxKind, role: string, password: string | undefined): pg.ClientConfig {
    const session = [
      `-c statement_timeout=${SANDBOX_STATEMENT_TIMEOUT_MS}`,
      `-c lock_timeout=${SANDBOX_LOCK_TIMEOUT_MS}`,
      `-c idle_in_transaction_session_timeout=${SANDBOX_IDLE_IN_TRANSACTION_MS}`,
      "-c search_path=world",
      ...(kind === "read" ? ["-c default_transaction_read_only=on"] : []),
    ].join(" ");
    const common: pg.ClientConfig = {
      options: session,
      application_name: `waypoint-sql-${kind}`,
      connectionTimeoutMillis: 10_000,
      // A backstop for a server that stops answering; the server's own statement_timeout comes first.
      query_timeout: SANDBOX_STATEMENT_TIMEOUT_MS + 10_000,
    };
    const o = this.app.options;
    // Its own session (settings at startup, closed after one statement): never through a transaction-mode pooler.
    const direct = directUrlOf(this.app) ?? o.connectionString;
    if (direct) return { ...common, connectionString: sandboxUrl(direct, role, password) };
    return {
      ...common,
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.database !== undefined ? { database: o.database } : {}),
      ...(o.ssl !== undefined ? { ssl: o.ssl } : {}),
      user: role,
      ...(password !== undefined ? { password } : {}),
    };
  }

  private async connect(kind: SandboxKind): Promise<pg.Client> {
    const role = this.roles[kind];
    let password = await this.passwordOf(role);
    for (let attempt = 1; ; attempt++) {
      const client = new pg.Client(this.config(kind, role, password));
      // The server may end a sandbox session (its idle timeout); that must not crash the process.
      client.on("error", (err: Error) => log.debug({ error: err.message, role }, "SQL sandbox connection ended"));
      try {
        await client.connect();
        return client;
      } catch (e) {
        await client.end().catch(() => undefined);
        const code = sqlState(e);
        if (code === "28P01" && attempt < 3) {
          password = await this.rekey(role, password);
          continue;
        }
        if (code === "53300") {
          throw new WaypointError("sql_sandbox_busy", `the SQL sandbox role ${role} is at its connection limit (${SANDBOX_CONNECTION_LIMIT} on this server); try again shortly`, { cause: e });
        }
        if (code === "28P01" || code === "28000" || (password === undefined && /password/i.test((e as Error).message))) {
          throw unavailable(
            `cannot log in as ${role}: ${(e as Error).message}. Waypoint sets that role's password itself when its database user may (CREATEROLE); ` +
              `otherwise an administrator sets one (ALTER ROLE ${role} PASSWORD '...') and stores it for Waypoint: ` +
              `INSERT INTO waypoint.sql_sandbox_credentials (role_name, password) VALUES ('${role}', '...') ON CONFLICT (role_name) DO UPDATE SET password = EXCLUDED.password`,
            e,
          );
        }
        throw e;
      }
    }
  }
}

const byPool = new WeakMap<pg.Pool, SqlSandbox>();

/** The sandbox of an app pool (one per pool, so its checks and passwords are shared by every world on it). */
export function sqlSandboxFor(pool: pg.Pool): SqlSandbox {
  let s = byPool.get(pool);
  if (!s) {
    s = new SqlSandbox(pool);
    byPool.set(pool, s);
  }
  return s;
}
