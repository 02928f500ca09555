// The one pg pool a process shares between PostgresSaver, app tables and queries.
import pg from "pg";
import { config } from "../config.js";
import { log } from "../log.js";

export type Pool = pg.Pool;

export interface PoolOptions {
  /** postgres:// connection string. */
  url: string;
  /** Most connections this process holds. */
  max: number;
  /** application_name shown in pg_stat_activity. */
  applicationName?: string;
  /**
   * `url` goes through a transaction-mode pooler (default: DATABASE_POOL_MODE=transaction): statements
   * are sent unnamed (a named one is prepared on one server connection and the next transaction may
   * land on another) and no startup `options` are sent (PgBouncer refuses them).
   */
  transactionPooler?: boolean;
  /** The same database without the pooler, for what needs a session of its own (the SQL sandbox). */
  directUrl?: string;
  /** Longest a query waits for a free connection of the pool (ms; 0 = as long as it takes; default WAYPOINT_POOL_WAIT_MS). */
  waitMs?: number;
}

/** Longest a new connection may take to open (the server down or unreachable fails this fast). */
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * pg-pool uses one `connectionTimeoutMillis` both for opening a connection and for waiting in its queue
 * for a free one. A worker carrying thousands of runs queues thousands of statements on a small pool,
 * each waiting its turn for longer than any sane connect timeout: the connect timeout is set on each
 * client instead, and the pool's own (the queue wait) is `waitMs`.
 */
class TimedClient extends pg.Client {
  constructor(c: pg.ClientConfig = {}) {
    super({ ...c, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  }
}

const directUrls = new WeakMap<pg.Pool, string>();

/** The direct (not pooled) connection string a pool was made with, if it differs from its own. */
export function directUrlOf(pool: pg.Pool): string | undefined {
  return directUrls.get(pool);
}

/** Whether connections to the database go through a transaction-mode pooler (DATABASE_POOL_MODE). */
export function transactionPooled(): boolean {
  return config().poolMode === "transaction";
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
export function appConnection(url: string, transactionPooler = transactionPooled()): { connectionString: string; options?: string } {
  // Through a transaction-mode pooler the pin is a role setting instead (see pinSearchPath).
  if (transactionPooler) return { connectionString: url };
  const pin = `-c search_path=${APP_SEARCH_PATH}`;
  const m = /[?&]options=([^&#]*)/.exec(url);
  if (!m) return { connectionString: url, options: pin };
  const given = decodeURIComponent((m[1] ?? "").replace(/\+/g, " "));
  const rest = url.replace(/([?&])options=[^&#]*&?/, "$1").replace(/[?&](#|$)/, "$1");
  return { connectionString: rest, options: `${given} ${pin}`.trim() };
}

/**
 * Under a transaction-mode pooler, the same search_path pin as a setting of Waypoint's role in its
 * database (applied by Postgres at every login, whichever client the pooler serves on it).
 */
export async function pinSearchPath(client: pg.ClientBase): Promise<void> {
  await client.query(
    `DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I SET search_path = ${APP_SEARCH_PATH.split(",").join(", ")}', current_user, current_database()); END $$`,
  );
}

type QueryFn = (...args: unknown[]) => unknown;

/** Send every statement of this client unnamed (its text and values stay the same). */
function unnamedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as QueryFn;
  (client as unknown as { query: QueryFn }).query = (first: unknown, ...rest: unknown[]) => {
    if (first && typeof first === "object" && "name" in first && typeof (first as { submit?: unknown }).submit !== "function") {
      const { name: _name, ...unnamed } = first as Record<string, unknown>;
      return query(unnamed, ...rest);
    }
    return query(first, ...rest);
  };
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pooled = opts.transactionPooler ?? transactionPooled();
  const pool = new pg.Pool({
    ...appConnection(opts.url, pooled),
    max: opts.max,
    // Idle connections are closed by us well before a server or proxy reaper (often 60 s or more) can
    // drop them under us; TCP keepalive finds a silently dead one; no connection lives past an hour.
    idleTimeoutMillis: 10_000,
    Client: TimedClient,
    connectionTimeoutMillis: opts.waitMs ?? config().poolWaitMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    maxLifetimeSeconds: 3600,
    application_name: opts.applicationName ?? "waypoint",
  });
  if (pooled) pool.on("connect", unnamedStatements);
  if (opts.directUrl && opts.directUrl !== opts.url) directUrls.set(pool, opts.directUrl);
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
