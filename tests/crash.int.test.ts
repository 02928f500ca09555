// Crash tests: the CLI runs the onboarding agent in a child process that is killed with SIGKILL at
// several points; `waypoint resume` (or a decision) finishes the thread. Every world side effect must
// exist exactly once, and no step finished before the kill may run again. They run on Waypoint's
// saver (the default: a step's checkpoint in one statement, a task's writes in one), and one also on
// the stock PostgresSaver fallback.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { readTrace, type TraceEntry } from "../src/runs/index.js";
import { HIRE, worldCounts } from "./support/agents.js";
import { childEnv, runCli, startCli } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let pool: pg.Pool;
let traceDir: string;

beforeAll(async () => {
  db = await freshDatabase("crash");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  traceDir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-trace-"));
  // Create the schema once, so that children do not race on first setup.
  const r = await runCli(["threads"], childEnv({ DATABASE_URL: db.url }));
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
  fs.rmSync(traceDir, { recursive: true, force: true });
});

const PACE = "1500";

function input(tag: string) {
  return JSON.stringify({ hire: { ...HIRE, email: `${tag}@acme.test` } });
}

async function threadIdFor(email: string): Promise<string> {
  const { rows } = await pool.query<{ thread_id: string }>("SELECT thread_id FROM waypoint.threads WHERE input->'hire'->>'email' = $1", [email]);
  expect(rows).toHaveLength(1);
  return rows[0]!.thread_id;
}

async function waitForLedger(threadId: string, tool: string, status: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { rowCount } = await pool.query("SELECT 1 FROM waypoint.tool_calls WHERE thread_id = $1 AND tool = $2 AND status = $3", [threadId, tool, status]);
    if (rowCount) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`ledger never showed ${tool} ${status}`);
}

async function ledger(threadId: string) {
  const { rows } = await pool.query<{ tool: string; status: string; attempts: number }>("SELECT tool, status, attempts FROM waypoint.tool_calls WHERE thread_id = $1 ORDER BY started_at", [threadId]);
  return rows;
}

const key = (e: TraceEntry) => `${e.namespace}/${e.node}@${e.step}`;

/** The step of the thread's latest committed checkpoint: every step up to it is durable. */
async function committedStep(threadId: string): Promise<number> {
  const { rows } = await pool.query<{ s: number }>("SELECT max((metadata->>'step')::int) AS s FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = ''", [threadId]);
  return rows[0]?.s ?? -1;
}

/** Steps the killed process ran whose checkpoint was committed before it died. */
function finishedBeforeKill(trace: TraceEntry[], killed: Killed, upToStep: number): Set<string> {
  return new Set(trace.filter((e) => e.pid === killed.pid && e.step <= upToStep).map(key));
}

/** Node executions after the kill that repeat a step finished (and committed) before it. */
function rerunAfter(trace: TraceEntry[], killed: Killed, upToStep: number): TraceEntry[] {
  const before = finishedBeforeKill(trace, killed, upToStep);
  return trace.filter((e) => e.at > killed.at && before.has(key(e)));
}

interface Killed {
  pid: number;
  /** When the kill was sent: trace entries after it come from later processes. */
  at: string;
}

async function killWhen(child: ReturnType<typeof startCli>, ready: Promise<void>): Promise<Killed> {
  try {
    await ready;
  } catch (e) {
    child.child.kill("SIGKILL");
    const r = await child.done;
    throw new Error(`${(e as Error).message}\nchild stdout:\n${r.stdout}\nchild stderr:\n${r.stderr}`);
  }
  const pid = child.child.pid as number;
  const at = new Date().toISOString();
  child.child.kill("SIGKILL");
  const r = await child.done;
  expect(r.signal).toBe("SIGKILL");
  return { pid, at };
}

function traceEnv(name: string) {
  return childEnv({ DATABASE_URL: db.url, WAYPOINT_TRACE_FILE: path.join(traceDir, `${name}.jsonl`) });
}

test("killed before the interrupt (agent step in flight): resume re-runs only that step", async () => {
  const env = traceEnv("before-interrupt");
  const email = "kill-before@acme.test";
  const child = startCli(["--pace", PACE, "run", "onboarding", "--input", input("kill-before")], env);
  // "tools: create_account" is printed once that step's checkpoint is committed; the agent step is next.
  const killed = await killWhen(child, child.waitFor("tools: create_account"));
  const threadId = await threadIdFor(email);
  const durable = await committedStep(threadId);

  const resumed = await runCli(["resume", threadId], env);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout).toContain("is waiting for a decision");
  const decided = await runCli(["decide", threadId, "approve"], env);
  expect(decided.code).toBe(0);
  expect(decided.stdout).toContain("is done");

  expect(await worldCounts(pool, email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  expect((await ledger(threadId)).map((l) => [l.tool, l.status, l.attempts])).toEqual([
    ["create_account", "succeeded", 1],
    ["grant_privileges", "succeeded", 1],
    ["send_welcome_email", "succeeded", 1],
  ]);
  const trace = readTrace(env.WAYPOINT_TRACE_FILE as string);
  // recall, agent and review at least were durable before the kill; none of them ran again.
  expect(finishedBeforeKill(trace, killed, durable).size).toBeGreaterThanOrEqual(3);
  expect(rerunAfter(trace, killed, durable)).toEqual([]);
});

// On Waypoint's saver (the default) and on the stock PostgresSaver fallback (WAYPOINT_SAVER=stock).
test.each([
  ["waypoint", "kill-mid"],
  ["stock", "kill-mid-stock"],
])("killed mid-tool (effect done, step not yet checkpointed), %s saver: the ledger replays, no second account", async (saver, tag) => {
  const env: NodeJS.ProcessEnv = { ...traceEnv(`mid-tool-${saver}`), WAYPOINT_SAVER: saver };
  const email = `${tag}@acme.test`;
  const child = startCli(["--pace", PACE, "run", "onboarding", "--input", input(tag)], env);
  await child.waitFor("agent: proposes create_account");
  const threadId = await threadIdFor(email);
  const killed = await killWhen(child, waitForLedger(threadId, "create_account", "succeeded"));
  const durable = await committedStep(threadId);
  expect(await worldCounts(pool, email)).toEqual({ accounts: 1, grants: 0, emails: 0 });

  const resumed = await runCli(["resume", threadId], env);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout).toContain("is waiting for a decision");
  expect((await runCli(["decide", threadId, "approve"], env)).code).toBe(0);

  expect(await worldCounts(pool, email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  // The tool ran once; the re-run tools step got the recorded result from the ledger.
  expect((await ledger(threadId))[0]).toEqual({ tool: "create_account", status: "succeeded", attempts: 1 });
  const trace = readTrace(env.WAYPOINT_TRACE_FILE as string);
  expect(finishedBeforeKill(trace, killed, durable).size).toBeGreaterThanOrEqual(3);
  expect(rerunAfter(trace, killed, durable)).toEqual([]);
});

test("killed right after an approval, and again mid-grant: resume finishes with one grant per privilege", async () => {
  const env = traceEnv("after-approval");
  const email = "kill-approve@acme.test";
  const paused = await runCli(["run", "onboarding", "--input", input("kill-approve")], env);
  expect(paused.stdout).toContain("is waiting for a decision");
  const threadId = await threadIdFor(email);

  // The decision is accepted and the review step checkpointed; the process dies before the grant runs.
  const decide = startCli(["--pace", PACE, "decide", threadId, "approve"], env);
  const killed1 = await killWhen(decide, decide.waitFor("review: "));
  const durable1 = await committedStep(threadId);
  // The decision is recorded: the thread is not asking for it again.
  const stopped = JSON.parse((await runCli(["show", threadId, "--json"], env)).stdout) as { status: string; pending: unknown[]; values?: unknown };
  delete stopped.values;
  expect(stopped).toEqual(expect.objectContaining({ status: "error", pending: [] }));

  // Resume dies too, right after the grant took effect.
  const resume1 = startCli(["--pace", PACE, "resume", threadId], env);
  const killed2 = await killWhen(resume1, waitForLedger(threadId, "grant_privileges", "succeeded"));
  const durable2 = await committedStep(threadId);
  expect(await worldCounts(pool, email)).toEqual({ accounts: 1, grants: 2, emails: 0 });

  const resumed = await runCli(["resume", threadId], env);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout).toContain("is done");
  expect(await worldCounts(pool, email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  const l = await ledger(threadId);
  // The first kill lands as the tools step begins: on a loaded machine the grant may already have
  // started (then the resume runs it again with the same key, attempt 2, and the world dedupes it).
  expect(l.map((r) => [r.tool, r.status])).toEqual([
    ["create_account", "succeeded"],
    ["grant_privileges", "succeeded"],
    ["send_welcome_email", "succeeded"],
  ]);
  expect(l.map((r) => r.attempts)).toEqual([1, expect.any(Number), 1]);
  expect(l[1]!.attempts).toBeLessThanOrEqual(2);
  const trace = readTrace(env.WAYPOINT_TRACE_FILE as string);
  expect(rerunAfter(trace, killed1, durable1)).toEqual([]);
  expect(rerunAfter(trace, killed2, durable2)).toEqual([]);
});

test("threads lists a killed run as stopped with the command to resume it", async () => {
  const env = traceEnv("list");
  const child = startCli(["--pace", PACE, "run", "onboarding", "--input", input("kill-list")], env);
  await killWhen(child, child.waitFor("tools: create_account"));
  const threadId = await threadIdFor("kill-list@acme.test");
  const listed = await runCli(["threads"], env);
  expect(listed.stdout).toMatch(new RegExp(`${threadId}\\s+onboarding\\s+error\\s+.*waypoint resume ${threadId}`));
  const shown = await runCli(["show", threadId, "--json"], env);
  const v = JSON.parse(shown.stdout);
  delete v.values;
  // The kill lands just after "tools" printed: before the step's writes were saved (next: tools), after
  // its writes and before its checkpoint (next is empty: LangGraph leaves out a task whose writes are
  // saved; resume applies them), or after the checkpoint (next: agent).
  expect(v).toEqual(expect.objectContaining({ status: "error", pending: [] }));
  expect([["agent"], ["tools"], []]).toContainEqual(v.next);
});
