// The README's worked examples, run exactly as the README prints them: the commands are taken from the
// ```sh blocks of its "Worked example" sections, in order, and run with bash in this project against a
// fresh database. What the test fills in is only what the README leaves to the reader: <thread>, <run>
// and <pid> from what the previous commands printed. The README's conventions, read here:
//   - `# kill it mid-way`: started, and SIGKILLed (with its process group) once it has printed a step;
//   - `# terminal N`: started in the background for the rest of its section, then stopped (SIGTERM);
//   - a line `# any one of these:` starts alternatives: each one runs on its own, the first on the
//     state the commands before it left, each next one after those commands ran again (the commands
//     before it in its block, or the previous block's when it has none).
// What each command must print is checked below, one expectation per command, so that a change to the
// README's commands fails here until the checks say what the new commands do.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { PROJECT_ROOT } from "../src/config.js";
import { childEnv } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

interface Line {
  cmd: string;
  comment: string;
}
interface Block {
  section: string;
  before: Line[];
  alternatives: Line[];
}

/** The ```sh blocks of the README's worked examples, in order. */
function workedExamples(): Block[] {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
  const blocks: Block[] = [];
  for (const part of readme.split(/^## /m).slice(1)) {
    const title = part.slice(0, part.indexOf("\n"));
    if (!title.startsWith("Worked example: ")) continue;
    for (const m of part.matchAll(/```sh\n([\s\S]*?)```/g)) {
      const block: Block = { section: title.slice("Worked example: ".length), before: [], alternatives: [] };
      let into = block.before;
      for (const raw of m[1]!.split("\n")) {
        const line = raw.trim();
        if (!line) continue;
        if (line === "# any one of these:") {
          into = block.alternatives;
          continue;
        }
        const c = /^(.*?)\s{2,}#\s?(.*)$/.exec(line);
        into.push({ cmd: c ? c[1]! : line, comment: c ? c[2]! : "" });
      }
      blocks.push(block);
    }
  }
  return blocks;
}

interface Result {
  code: number | null;
  out: string;
}

const ANSI = /\x1b\[[0-9;]*m/g;
let db: TestDatabase;
let pool: pg.Pool;
const state: { thread?: string; run?: string; pid?: string } = {};
const background: ChildProcess[] = [];

function fill(cmd: string): string {
  return cmd.replace(/<(thread|run|pid)>/g, (_, k: keyof typeof state) => {
    const v = state[k];
    if (!v) throw new Error(`README command needs <${k}> but no earlier command printed one: ${cmd}`);
    return v;
  });
}

function start(cmd: string): { child: ChildProcess; output: () => string; done: Promise<Result> } {
  const child = spawn("bash", ["-c", fill(cmd)], { cwd: PROJECT_ROOT, env: childEnv({ DATABASE_URL: db.url }), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString().replace(ANSI, "")));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString().replace(ANSI, "")));
  const done = new Promise<Result>((resolve) => child.on("close", (code) => resolve({ code, out })));
  return { child, output: () => out, done };
}

async function until(what: string, check: () => boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Remember the ids a command printed, for the <placeholders> of the next ones. */
function remember(out: string): void {
  const thread = [...out.matchAll(/[Tt]hread ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/g)].at(-1)?.[1];
  if (thread) state.thread = thread;
  const run = /(?:^|\s)run ([0-9a-f]{8}-[0-9a-f-]{27})/.exec(out)?.[1] ?? /^Run ([0-9a-f-]{36})/m.exec(out)?.[1];
  if (run) state.run = run;
  const pid = /held by [^\s:]+:(\d+):/.exec(out)?.[1];
  if (pid) state.pid = pid;
}

async function runLine(line: Line): Promise<Result> {
  if (/^terminal \d+$/.test(line.comment)) {
    const p = start(line.cmd);
    background.push(p.child);
    await until(`${line.cmd} to start`, () => /Worker \S+ runs/.test(p.output()));
    return { code: 0, out: p.output() };
  }
  if (line.comment === "kill it mid-way") {
    const p = start(line.cmd);
    await until(`${line.cmd} to print a step`, () => /^\s+\d+\.\ds /m.test(p.output()));
    process.kill(-p.child.pid!, "SIGKILL");
    const r = await p.done;
    remember(r.out);
    return r;
  }
  const r = await start(line.cmd).done;
  remember(r.out);
  return r;
}

type Check = (r: Result, line: Line) => Promise<void> | void;
const ok =
  (...patterns: RegExp[]): Check =>
  (r, line) => {
    if (r.code !== 0) throw new Error(`\`${line.cmd}\` exited ${r.code}:\n${r.out}`);
    for (const p of patterns) if (!p.test(r.out)) throw new Error(`\`${line.cmd}\` did not print ${p}:\n${r.out}`);
  };
/** A command to run again (polling) until its output matches, as a person would. */
const eventually =
  (pattern: RegExp): Check =>
  async (r, line) => {
    let last = r;
    const t0 = Date.now();
    while (last.code !== 0 || !pattern.test(last.out)) {
      if (Date.now() - t0 > 120_000) throw new Error(`\`${line.cmd}\` never printed ${pattern}:\n${last.out}`);
      await new Promise((res) => setTimeout(res, 250));
      last = await runLine(line);
    }
  };
const count = async (sql: string, params: unknown[] = []) => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]!.n;

/** One expectation per README command (alternatives: one per alternative), section by section. */
const EXPECT: Record<string, Check[][]> = {
  "pause, kill, resume": [
    [ok(/onboarding/, /example: waypoint run onboarding/), ok(/is waiting for a decision/, /create_account/)],
    [
      (r) => expect(r.code).not.toBe(0), // killed
      (r) => expect(r.out).toContain(state.thread!),
      ok(),
      ok(/done/i),
      async (r, line) => {
        ok(/github:write/, /prod-db:read/, /\(2 rows\)/)(r, line);
        expect(await count("world.grants WHERE email = 'ada@acme.test'")).toBe(2);
      },
    ],
  ],
  "workers that die": [
    [
      ok(),
      ok(),
      ok(/Queued run/),
      eventually(/held by /),
      ok(),
      eventually(/status\s+success[\s\S]*worker deaths: 1/),
      async (r, line) => {
        ok(/\(1 row\)/)(r, line);
        expect(await count("world.flights WHERE trip_id = 'trip-9'")).toBe(1);
      },
    ],
  ],
  "a trip that goes wrong": [
    [ok(/book_hotel/, /after 4 attempts/, /retry_hotel/)],
    [ok(/is done/, /rent_car/), ok(/ber-spree/), ok(), ok()],
    [ok(/Did this happen/), ok(/rental_ref/), ok(/is done/), ok(/is done/), ok(/is done/)],
  ],
  "an ops request under the oversight policy": [[ok(/db:write/), ok(/payments/), ok(/northwind\.example/), ok(/is done/), ok(/scope_granted[\s\S]*scope_granted/, /review/)]],
};

beforeAll(async () => {
  db = await freshDatabase("readme");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});

afterAll(async () => {
  for (const c of background) if (c.exitCode === null) process.kill(-c.pid!, "SIGKILL");
  await pool.end();
  await db.drop();
});

const blocks = workedExamples();

test("the README has the worked examples this test knows how to check", () => {
  const sections = [...new Set(blocks.map((b) => b.section))];
  expect(sections).toEqual(Object.keys(EXPECT));
  for (const s of sections) {
    const mine = blocks.filter((b) => b.section === s);
    expect(mine.map((b) => b.before.length + b.alternatives.length)).toEqual(EXPECT[s]!.map((checks) => checks.length));
  }
});

for (const section of Object.keys(EXPECT)) {
  test(`README, worked example: ${section}`, async () => {
    const mine = blocks.filter((b) => b.section === section);
    try {
    for (const [i, block] of mine.entries()) {
      const checks = EXPECT[section]![i]!;
      for (const [j, line] of block.before.entries()) await checks[j]!(await runLine(line), line);
      for (const [k, alt] of block.alternatives.entries()) {
        if (k > 0) for (const line of block.before.length ? block.before : (mine[i - 1]?.before ?? [])) await runLine(line);
        // The second block of the trip: how many cars each answer leaves (the reply was lost, the car rented).
        const cars = section === "a trip that goes wrong" && i === 2 ? await count("world.car_rentals WHERE trip_id = 'trip-2'") : undefined;
        await checks[block.before.length + k]!(await runLine(alt), alt);
        if (cars !== undefined) expect(await count("world.car_rentals WHERE trip_id = 'trip-2'")).toBe(alt.cmd.includes("run_again") ? cars + 1 : cars);
      }
    }
    } finally {
      // The section's background workers drain (SIGTERM) and exit.
      for (const c of background.splice(0)) {
        if (c.exitCode !== null || c.signalCode !== null) continue;
        const exited = new Promise((r) => c.once("close", r));
        try {
          process.kill(-c.pid!, "SIGTERM");
        } catch {
          continue; // already gone
        }
        await exited;
      }
    }
  }, 600_000);
}
