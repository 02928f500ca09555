// Applies the app migrations once per database, serialised by a Postgres advisory lock.
import type pg from "pg";
import { log } from "../log.js";
import { MIGRATIONS } from "./migrations.js";

/** Apply pending app migrations on a client that already holds the setup advisory lock. */
export async function applyMigrations(client: pg.PoolClient): Promise<void> {
  await client.query("CREATE SCHEMA IF NOT EXISTS waypoint");
  await client.query(
    "CREATE TABLE IF NOT EXISTS waypoint.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
  );
  const { rows } = await client.query<{ version: number }>("SELECT version FROM waypoint.migrations");
  const applied = new Set(rows.map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    try {
      await client.query("BEGIN");
      await client.query(m.sql);
      await client.query("INSERT INTO waypoint.migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      await client.query("COMMIT");
      log.info({ version: m.version, name: m.name }, "migration applied");
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    }
  }
}
