// A private PgBouncer in transaction mode on a free 127.0.0.1 port, in front of the test Postgres
// (trust auth, every database: `* =`), for tests that run Waypoint through a pooler.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort, testServerUrl } from "./db.js";

export interface PgBouncer {
  /** Its version, e.g. "1.18.0". */
  version: string;
  port: number;
  /** `url` (a database on the test server) rewritten to go through this PgBouncer. */
  through(url: string): string;
  /** Rows of an admin console command (SHOW POOLS, SHOW STATS, ...). */
  admin<T extends Record<string, unknown>>(command: string): Promise<T[]>;
  /** Its log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** The pgbouncer binary, or undefined when it is not installed (the tests that need it skip, saying so). */
export function pgbouncerBinary(): string | undefined {
  for (const p of ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"]) if (fs.existsSync(p)) return p;
  const which = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" });
  const found = which.stdout.trim();
  return which.status === 0 && found ? found : undefined;
}

/** In front of the test server, or of `serverUrl`'s server (host and port; every database on it). */
export async function startPgBouncer(opts: { poolSize?: number; serverUrl?: string } = {}): Promise<PgBouncer> {
  const bin = pgbouncerBinary();
  if (!bin) throw new Error("pgbouncer is not installed (Debian: apt-get install -y pgbouncer)");
  const version = /PgBouncer (\d+\.\d+\.\d+)/.exec(spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout)?.[1] ?? "unknown";
  const server = new URL(opts.serverUrl ?? testServerUrl());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-pgbouncer-"));
  // PgBouncer will not run as root: it switches to `user`, who must be able to write its log here.
  const asRoot = process.getuid?.() === 0;
  fs.chmodSync(dir, 0o777);
  const port = await freePort();
  const user = decodeURIComponent(server.username || "postgres");
  fs.writeFileSync(path.join(dir, "userlist.txt"), `"${user}" ""\n`);
  const ini = [
    "[databases]",
    `* = host=${server.hostname} port=${server.port || "5432"}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = trust",
    `auth_file = ${path.join(dir, "userlist.txt")}`,
    `admin_users = ${user}`,
    "pool_mode = transaction",
    `default_pool_size = ${opts.poolSize ?? 10}`,
    "max_client_conn = 500",
    // What node-postgres sends at startup besides user/database/application_name.
    "ignore_startup_parameters = extra_float_digits",
    `logfile = ${path.join(dir, "pgbouncer.log")}`,
    ...(asRoot ? ["user = postgres"] : []),
  ].join("\n");
  const iniFile = path.join(dir, "pgbouncer.ini");
  fs.writeFileSync(iniFile, `${ini}\n`);
  fs.chmodSync(iniFile, 0o644);
  const child: ChildProcess = spawn(bin, [iniFile], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const logText = () => {
    try {
      return fs.readFileSync(path.join(dir, "pgbouncer.log"), "utf8") + stderr;
    } catch {
      return stderr;
    }
  };
  const through = (url: string) => {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(port);
    return u.toString();
  };
  const admin = async <T extends Record<string, unknown>>(command: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: through(`postgres://${user}@127.0.0.1/pgbouncer`) });
    await c.connect();
    try {
      return (await c.query<T>(command)).rows;
    } finally {
      await c.end();
    }
  };
  // Ready when its admin console answers.
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      await admin("SHOW VERSION");
      break;
    } catch (e) {
      if (child.exitCode !== null || Date.now() > end) {
        child.kill("SIGKILL");
        throw new Error(`pgbouncer did not start: ${(e as Error).message}\n${logText()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    version,
    port,
    through,
    admin,
    log: logText,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
