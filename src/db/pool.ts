// The one pg pool a process shares between PostgresSaver, app tables and queries.
import pg from "pg";
import { log } from "../log.js";

export type Pool = pg.Pool;

export interface PoolOptions {
  /** postgres:// connection string. */
  url: string;
  /** Most connections this process holds. */
  max: number;
  /** application_name shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * The search_path of every app connection, pg_temp last and named: unnamed, pg_temp is searched first for
 * tables, so a temporary table called `checkpoints` made on a connection would capture every unqualified
 * `SELECT ... FROM checkpoints` that later ran on it. No "$user" schema either: nothing Waypoint owns lives there.
 */
export const APP_SEARCH_PATH = "public,pg_catalog,pg_temp";

/**
 * Connection settings for an app connection to `url`: the search_path pinned at startup. An `options`
 * parameter in the URL would win over the pool's (node-postgres lets the URL override), so it is moved out
 * of the URL and kept, ahead of the pin.
 */
export function appConnection(url: string): { connectionString: string; options: string } {
  const pin = `-c search_path=${APP_SEARCH_PATH}`;
  const m = /[?&]options=([^&#]*)/.exec(url);
  if (!m) return { connectionString: url, options: pin };
  const given = decodeURIComponent((m[1] ?? "").replace(/\+/g, " "));
  const rest = url.replace(/([?&])options=[^&#]*&?/, "$1").replace(/[?&](#|$)/, "$1");
  return { connectionString: rest, options: `${given} ${pin}`.trim() };
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    ...appConnection(opts.url),
    max: opts.max,
    // Idle connections are closed by us well before a server or proxy reaper (often 60 s or more) can
    // drop them under us; TCP keepalive finds a silently dead one; no connection lives past an hour.
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 15_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    maxLifetimeSeconds: 3600,
    application_name: opts.applicationName ?? "waypoint",
  });
  // An idle client dropped by the server must not crash the process; the pool replaces it.
  pool.on("error", (err: Error & { code?: string }) => log.warn({ error: err.message, code: err.code }, "idle Postgres connection failed; it will be replaced"));
  return pool;
}

/** SQLSTATE classes and messages of a connection that died under a statement (not of the statement's own error). */
const LOST_CODES = new Set(["57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);
const LOST_MESSAGES = /Connection terminated|connection terminated unexpectedly|Client has encountered a connection error|SSL error|bad length|ECONNRESET|socket hang up/i;

/**
 * True when `e` says the connection was lost (server restart, an idle reaper, a proxy, a broken SSL
 * stream), as opposed to the statement failing. Only an idempotent statement may be sent again on it.
 */
export function isConnectionLost(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: string }).code;
  return (code !== undefined && LOST_CODES.has(code)) || LOST_MESSAGES.test(e.message);
}

/** Run `fn` while holding a session advisory lock, so that only one process does it at a time. */
export async function withAdvisoryLock<T>(pool: pg.Pool, key: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [key]);
    try {
      return await fn(client);
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key]);
    }
  } finally {
    client.release();
  }
}

/** Run `fn` in one transaction on one connection: committed when it returns, rolled back when it throws. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
