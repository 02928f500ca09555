// A fresh database per test file on the test server, dropped at the end (see dropDatabase).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { loadConfig } from "../../src/config.js";

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export function testServerUrl(): string {
  const url = loadConfig().testDatabaseUrl;
  if (!url) throw new Error("TEST_DATABASE_URL is not set: tests/support/global-setup.ts should have set it");
  return url;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function freshDatabase(label: string): Promise<TestDatabase> {
  const name = `wp_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: withDatabase(testServerUrl(), "postgres") });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(testServerUrl(), name),
    async drop() {
      const c = new pg.Client({ connectionString: withDatabase(testServerUrl(), "postgres") });
      await c.connect();
      try {
        await dropDatabase(c, name);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Drops database `name` through `admin` (a session on another database). pg's pool.end() resolves once
 * each client has sent its Terminate, before the server has closed those sessions; dropping WITH (FORCE)
 * at once terminates them (57P01), and an ending client, still listened to by its pool, reports that as
 * the pool's error: unhandled in a test, it fails whichever test Jest is on. So this waits (up to 1 s)
 * for the sessions to go, then forces what is left.
 */
export async function dropDatabase(admin: pg.Client | pg.Pool, name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [name]);
    if (rows[0]?.n === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/**
 * A TCP port nothing listens on, below Linux's ephemeral range (32768+), where outgoing connections
 * take their local ports: a port picked there can be taken by a client between the check and the use.
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free TCP port found in 20000-32000");
}

/** A pool on `url` that counts the statements sent through it (pool.query calls). */
export function countedPool(url: string, max = 4): { pool: pg.Pool; statements: () => number } {
  const pool = new pg.Pool({ connectionString: url, max });
  let n = 0;
  const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  pool.query = ((...a: unknown[]) => {
    n++;
    return query(...a);
  }) as typeof pool.query;
  return { pool, statements: () => n };
}
