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
