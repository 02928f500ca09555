// The `waypoint` bin as a user runs it (npx waypoint, npm run waypoint, npm start): compiled dist/ while
// it is at least as new as src/, the sources through tsx otherwise; and a TypeScript graph that imports
// Waypoint (the concierge, whose tools are durable()) run by the compiled CLI shares its modules: its
// tool calls reach the ledger of the run, and a human approval finishes it with one effect each.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { PROJECT_ROOT } from "../src/config.js";
import { childEnv } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

const BIN = path.join(PROJECT_ROOT, "bin", "waypoint.js");
const STAMP = path.join(PROJECT_ROOT, "dist", ".built");
let db: TestDatabase;
let pool: pg.Pool;

const waypoint = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: PROJECT_ROOT, env: childEnv({ DATABASE_URL: db.url }), encoding: "utf8", timeout: 120_000 });

beforeAll(async () => {
  // What `npm install` does through "prepare"; here so that the test runs what the sources say now.
  const built = spawnSync(process.execPath, [path.join(PROJECT_ROOT, "bin", "build.mjs")], { cwd: PROJECT_ROOT, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`npm run build failed: ${built.stderr}`);
  db = await freshDatabase("bin");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
}, 120_000);

afterAll(async () => {
  await pool.end();
  await db.drop();
});

test("the bin runs dist/ when it is current, and the sources when src/ is newer", () => {
  expect(waypoint(["--version"]).stdout.trim()).toMatch(/^waypoint \d+\.\d+\.\d+ \(compiled\)$/);
  const before = fs.statSync(STAMP);
  const past = new Date(Date.now() - 365 * 24 * 3600_000);
  fs.utimesSync(STAMP, past, past); // as if a file in src/ had been edited after the build
  try {
    expect(waypoint(["--version"]).stdout.trim()).toMatch(/\(sources\)$/);
  } finally {
    fs.utimesSync(STAMP, before.atime, before.mtime);
  }
  expect(waypoint(["--version"]).stdout.trim()).toMatch(/\(compiled\)$/);
}, 60_000);

test("compiled Waypoint hands a TypeScript graph that imports its sources the compiled modules it runs", () => {
  const dir = path.join(PROJECT_ROOT, "tests", ".tmp");
  fs.mkdirSync(dir, { recursive: true });
  const script = path.join(dir, `hook-${process.pid}.mjs`);
  const url = (p: string) => JSON.stringify(new URL(`file://${path.join(PROJECT_ROOT, p)}`).href);
  fs.writeFileSync(
    script,
    [
      `const { loadTypeScript } = await import(${url("dist/registry/modules.js")});`,
      `await loadTypeScript(${JSON.stringify(path.join(PROJECT_ROOT, "graphs/concierge/agent.ts"))});`,
      `const fromSources = await import(${url("src/index.ts")});`,
      `const compiled = await import(${url("dist/index.js")});`,
      `console.log(JSON.stringify({ same: fromSources === compiled }));`,
    ].join("\n"),
  );
  try {
    const r = spawnSync(process.execPath, [script], { cwd: PROJECT_ROOT, env: childEnv({}), encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ same: true });
  } finally {
    fs.rmSync(script, { force: true });
  }
}, 60_000);

test("the compiled CLI runs a TypeScript graph whose durable() tools share its run scope", async () => {
  const listed = waypoint(["--json", "agents"]);
  expect(listed.status).toBe(0);
  const concierge = (JSON.parse(listed.stdout) as { graphs: Array<{ name: string; exampleInput?: unknown }> }).graphs.find((g) => g.name === "concierge");
  expect(concierge?.exampleInput).toBeDefined();
  const input = JSON.stringify(concierge!.exampleInput);
  const run = waypoint(["run", "concierge", "--input", input]);
  expect(run.stdout).toMatch(/is waiting for a decision/);
  const threadId = /Thread ([0-9a-f-]{36}) is waiting/.exec(run.stdout)?.[1];
  expect(threadId).toBeDefined();
  // The hotel search and booking went through the ledger of this thread: the graph's "waypoint" import
  // is the compiled module the CLI runs, not a second copy that sees no run.
  const calls = await pool.query<{ tool: string; status: string }>("SELECT tool, status FROM waypoint.tool_calls WHERE thread_id = $1 ORDER BY tool", [threadId]);
  expect(calls.rows.map((r) => r.tool)).toEqual(["book_hotel", "search_hotels"]);
  const decided = waypoint(["decide", threadId!, "approve"]);
  expect(decided.status).toBe(0);
  const rentals = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM world.car_rentals");
  const bookings = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM world.hotel_bookings");
  expect([bookings.rows[0]!.n, rentals.rows[0]!.n]).toEqual([1, 1]);
}, 240_000);

test("every example `waypoint agents` prints pastes into a shell as one valid JSON argument", () => {
  const listed = waypoint(["agents"]);
  expect(listed.status).toBe(0);
  const examples = listed.stdout.split("\n").filter((l) => l.trim().startsWith("example: ")).map((l) => l.trim().slice("example: ".length));
  expect(examples.length).toBeGreaterThanOrEqual(5);
  for (const line of examples) {
    // `waypoint` stands in as a shell function that prints the argument after --input, as the shell split it.
    const r = spawnSync("bash", ["-c", `waypoint() { printf '%s' "$4"; }; ${line}`], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(() => JSON.parse(r.stdout)).not.toThrow();
  }
}, 60_000);
