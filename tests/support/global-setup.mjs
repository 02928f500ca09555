// Jest global setup: the test suite's Postgres server. TEST_DATABASE_URL when set (CI points it at the
// machine's server); otherwise an embedded Postgres in a temp folder, stopped in global-teardown.
// Plain ESM (Jest loads global setup outside its transform); the TypeScript modules come in via tsx.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { tsImport } from "tsx/esm/api";

export default async function globalSetup() {
  const { loadConfig } = await tsImport("../../src/config.ts", import.meta.url);
  if (loadConfig().testDatabaseUrl) return;
  const { startEmbeddedPostgres } = await tsImport("../../src/db/embedded.ts", import.meta.url);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-test-pg-"));
  // The postgres system user (when running as root) must be able to enter the folder.
  fs.chmodSync(dir, 0o755);
  const port = 55000 + (process.pid % 5000);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, "pgdata"), port });
  process.env.TEST_DATABASE_URL = server.url;
  globalThis.__waypointEmbedded = { server, dir };
}
