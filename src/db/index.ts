// Entry to the database: DATABASE_URL when set, embedded Postgres otherwise, behind one shared pool.
import type pg from "pg";
import { config } from "../config.js";
import { WaypointError } from "../errors.js";
import { log } from "../log.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "./embedded.js";
import { createPool } from "./pool.js";

export { APP_SEARCH_PATH, createPool, directUrlOf, isConnectionLost, pinSearchPath, transactionPooled, withAdvisoryLock, withTransaction, type Pool } from "./pool.js";
export { SQL_READ_ROLE, SQL_WRITE_ROLE, SqlSandbox, sqlSandboxFor, type SandboxKind, type SqlSandboxOptions } from "./sandbox.js";
export { applyMigrations } from "./setup.js";
export { startEmbeddedPostgres } from "./embedded.js";

export interface Database {
  /** The shared pool (saver, app tables, queries). */
  pool: pg.Pool;
  /** Connection string in use (PostgresStore opens its own small pool from it). */
  url: string;
  /**
   * A connection string that reaches Postgres itself, not a transaction-mode pooler: for what must stay
   * on one session (liveness locks, LISTEN). DATABASE_DIRECT_URL, or `url`.
   */
  directUrl: string;
  /** "external" for DATABASE_URL, "embedded" for the bundled server. */
  kind: "external" | "embedded";
  /** The embedded server's superuser on its `postgres` database (benches make scratch databases with it); unset for DATABASE_URL. */
  adminUrl?: string | undefined;
  /** Close the pool and release the embedded server (stopped when no other process uses it). */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Use this server instead of the configured one. */
  url?: string;
  /** Pool size; defaults to WAYPOINT_POOL_MAX. */
  poolMax?: number;
}

export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  const cfg = config();
  const url = opts.url ?? cfg.databaseUrl;
  let embedded: EmbeddedServer | undefined;
  let connString: string;
  if (url) {
    connString = url;
  } else {
    embedded = await startEmbeddedPostgres({ dataDir: cfg.dataDir, port: cfg.embeddedPort });
    // Waypoint's own non-superuser login, not the server's superuser (see embedded.ts).
    connString = embedded.appUrl;
  }
  const directUrl = url && cfg.directDatabaseUrl ? cfg.directDatabaseUrl : connString;
  const pool = createPool({ url: connString, max: opts.poolMax ?? cfg.poolMax, directUrl });
  try {
    const c = await pool.connect();
    c.release();
  } catch (cause) {
    await pool.end().catch(() => undefined);
    embedded?.release();
    throw new WaypointError("db_unavailable", `Cannot connect to Postgres at ${redact(connString)}: ${(cause as Error).message}`, { cause });
  }
  log.info({ db: redact(connString), kind: embedded ? "embedded" : "external" }, "database ready");
  let closed = false;
  return {
    pool,
    url: connString,
    directUrl,
    kind: embedded ? "embedded" : "external",
    adminUrl: embedded?.url,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
      embedded?.release();
    },
  };
}

/** A connection string with its password hidden, for logs and errors. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
export { appConnection } from "./pool.js";
export { SANDBOX_STATEMENT_TIMEOUT_MS } from "./sandbox.js";
