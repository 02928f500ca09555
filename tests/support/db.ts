// A fresh database per test file on the test server, dropped WITH (FORCE) at the end.
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
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
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
