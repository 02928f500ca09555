// The full fuzz of the agent server (tests/support/fuzz.ts) against `waypoint serve` as a child
// process on a scratch database: requests by status code, 5xx, hangs, state changes caused by refused
// requests, and the server's peak RSS with the body limit in place. Exits 1 when any of those must-be-0
// figures is not 0.
//
// Usage: npm run fuzz [-- --cases 5000 --seed 1 --max-body-bytes 2097152 --timeout-ms 15000
//                        --database postgres://postgres@127.0.0.1:5432/postgres]
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { PROJECT_ROOT } from "../src/config.js";
import { freePort } from "../tests/support/db.js";
import { formatReport, fuzz, makeReview, prepareWatched, type FuzzTokens } from "../tests/support/fuzz.js";

const { values: args } = parseArgs({
  options: {
    cases: { type: "string", default: "5000" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    "max-body-bytes": { type: "string", default: String(2 * 1024 * 1024) },
    "timeout-ms": { type: "string", default: "15000" },
    database: { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
  },
});
const cases = Number(args.cases);
const seed = Number(args.seed);
const maxBodyBytes = Number(args["max-body-bytes"]);
if (!Number.isInteger(cases) || cases < 1) throw new Error(`--cases must be a positive integer, not ${args.cases}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, not ${args.seed}`);
if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1024) throw new Error(`--max-body-bytes must be an integer of at least 1024, not ${args["max-body-bytes"]}`);

const tokens: FuzzTokens = { owner: `tok-${randomBytes(8).toString("hex")}`, other: `tok-${randomBytes(8).toString("hex")}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: args.database });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** `waypoint serve` (with its worker) as a child: node with tsx's loader, one process, so its pid is the server's. */
function spawnServer(dbUrl: string, port: number): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: dbUrl,
    WAYPOINT_API_TOKENS: `ann:${tokens.owner},ben:${tokens.other}`,
    WAYPOINT_MAX_BODY_BYTES: String(maxBodyBytes),
    WAYPOINT_DRAIN_GRACE_MS: "2000",
    LOG_LEVEL: "fatal",
  };
  const child = spawn(process.execPath, ["--import", "tsx", path.join("src", "cli", "main.ts"), "serve", "--host", "127.0.0.1", "--port", String(port)], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function main(): Promise<number> {
  const name = `wp_fuzz_${randomBytes(4).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const dbUrl = withDatabase(args.database, name);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = spawnServer(dbUrl, port);
  let gone = false;
  void server.exited.then(() => (gone = true));
  try {
    const t0 = Date.now();
    for (;;) {
      if (gone) throw new Error(`the server exited before answering /ok:\n${server.output()}`);
      if (await fetch(`${baseUrl}/ok`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)) break;
      if (Date.now() - t0 > 120_000) throw new Error(`the server did not answer /ok within 120 s:\n${server.output()}`);
      await sleep(250);
    }
    const watched = await prepareWatched(baseUrl, tokens);
    console.log(`server pid ${server.child.pid} on ${baseUrl}, database ${name}, WAYPOINT_MAX_BODY_BYTES=${maxBodyBytes}, ${cases} cases, seed ${seed}`);
    const report = await fuzz({
      baseUrl,
      tokens,
      databaseUrl: dbUrl,
      watched,
      cases,
      seed,
      timeoutMs: Number(args["timeout-ms"]),
      maxBodyBytes,
      ...(server.child.pid !== undefined ? { serverPid: server.child.pid } : {}),
      remakeReview: () => makeReview(baseUrl, tokens.owner, `fuzz-remade-${Date.now()}`),
      progress: (line) => console.log(`  ${line}`),
    });
    if (gone) throw new Error(`the server died during the fuzz:\n${server.output()}`);
    console.log("");
    console.log(formatReport(report));
    console.log("");
    console.log("by route (status: requests):");
    for (const [route, byStatus] of Object.entries(report.byRoute).sort(([a], [b]) => a.localeCompare(b))) {
      console.log(`  ${route.padEnd(48)}${Object.entries(byStatus).map(([s, n]) => `${s}: ${n}`).join(", ")}`);
    }
    return report.serverErrors.length + report.hangs.length + report.refusedChanges.length + report.hugeAccepted.length === 0 ? 0 : 1;
  } finally {
    if (!gone) {
      server.child.kill("SIGTERM");
      const killed = await Promise.race([server.exited.then(() => true), sleep(30_000).then(() => false)]);
      if (!killed) server.child.kill("SIGKILL");
      await server.exited;
    }
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

process.exitCode = await main();
