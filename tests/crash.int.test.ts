// Crash tests: the CLI runs the onboarding agent in a child process that halts at a chosen point
// (WAYPOINT_HALT_AT, src/halt.ts) and is killed there with SIGKILL; `waypoint resume` (or a decision)
// finishes the thread. Every tool call must reach its world system exactly as often as the ledger
// allows (counted in world.requests, the systems' access log: the onboarding systems dedupe by key, so
// their own tables would look the same after a repeat), and no step finished before a kill may run
// again. They run on Waypoint's saver (the default), and one also on the stock PostgresSaver fallback.
//
// To see them bite, break a mechanism and run this file, then put it back:
//  - ledger replay off: in src/tools/executor.ts make a replayed call run again
//    (`if (begun.action === "replay" && false)`): the two mid-tool, the grouping-window and the
//    after-approval tests fail on the request counts (a second request with the same key);
//  - a new key on retry (`begun.row.attempts > 1 ? <key>-retry : <key>`): the mid-call test fails on
//    the request count, although the directory still holds one account (it also dedupes by email);
//  - per-step checkpoints off (`durability: "exit"` in src/runs/runner.ts): the before-the-interrupt
//    test fails (nothing was durable at the kill).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readTrace, Waypoint, type TraceEntry } from "../src/runs/index.js";
import { HIRE, worldCounts } from "./support/agents.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;
let traceDir: string;

beforeAll(async () => {
  db = await freshDatabase("crash");
  // Creates the schema once, so that children do not race on first setup; reads views in-process.
  wp = await Waypoint.open({ url: db.url, poolMax: 2 });
  traceDir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-trace-"));
});
afterAll(async () => {
  await wp.close();
  await db.drop();
  fs.rmSync(traceDir, { recursive: true, force: true });
});

function input(tag: string) {
  return JSON.stringify({ hire: { ...HIRE, email: `${tag}@acme.test` } });
}

async function threadIdFor(email: string): Promise<string> {
  const { rows } = await wp.pool.query<{ thread_id: string }>("SELECT thread_id FROM waypoint.threads WHERE input->'hire'->>'email' = $1", [email]);
  expect(rows).toHaveLength(1);
  return rows[0]!.thread_id;
}

async function ledger(threadId: string) {
  const { rows } = await wp.pool.query<{ tool: string; status: string; attempts: number }>("SELECT tool, status, attempts FROM waypoint.tool_calls WHERE thread_id = $1 ORDER BY started_at", [threadId]);
  return rows;
}

/**
 * How many requests each of the thread's tool calls sent to its world system (world.requests, by the
 * call's idempotency key), by tool. Checks on the way that no call went out more often than the ledger
 * counted attempts: a call that was replayed must not have gone out again.
 */
async function reached(threadId: string): Promise<Record<string, number>> {
  const { rows } = await wp.pool.query<{ tool: string; attempts: number; n: number }>(
    `SELECT c.tool, c.attempts, (SELECT count(*)::int FROM world.requests r WHERE r.idempotency_key = c.idempotency_key) AS n
       FROM waypoint.tool_calls c WHERE c.thread_id = $1 ORDER BY c.started_at`,
    [threadId],
  );
  expect(rows.filter((r) => r.n > r.attempts)).toEqual([]);
  return Object.fromEntries(rows.map((r) => [r.tool, r.n]));
}

const key = (e: TraceEntry) => `${e.namespace}/${e.node}@${e.step}`;

/** The step of the thread's latest committed checkpoint: every step up to it is durable. */
async function committedStep(threadId: string): Promise<number> {
  const { rows } = await wp.pool.query<{ s: number }>("SELECT max((metadata->>'step')::int) AS s FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = ''", [threadId]);
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

async function killWhen(child: CliChild, ready: Promise<void>): Promise<Killed> {
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

/** Start `args` with WAYPOINT_HALT_AT=`at`, and SIGKILL the child once it halted there. */
async function killAt(at: string, args: string[], env: NodeJS.ProcessEnv): Promise<Killed> {
  const child = startCli(args, { ...env, WAYPOINT_HALT_AT: at });
  return killWhen(child, child.waitForHalt(at.split("#")[0] as Parameters<CliChild["waitForHalt"]>[0]));
}

function traceEnv(name: string) {
  return childEnv({ DATABASE_URL: db.url, WAYPOINT_TRACE_FILE: path.join(traceDir, `${name}.jsonl`) });
}

/** What a killed thread looks like to a person: stopped, nothing pending, and what runs next. */
async function stoppedView(threadId: string) {
  const v = await wp.view(threadId);
  return { status: v.status, pending: v.pending.length, next: v.next };
}

const ALL_ONCE = { create_account: 1, grant_privileges: 1, send_welcome_email: 1 };

/**
 * Resume to the grant's review, approve it, and check the thread ends with every effect once in the
 * world, each call having gone out `requests` times (as many as its ledger attempts).
 */
async function finishOnboarding(threadId: string, email: string, env: NodeJS.ProcessEnv, requests: Record<string, number> = ALL_ONCE): Promise<void> {
  const resumed = await runCli(["resume", threadId], env);
  expect(resumed.stdout).toContain("is waiting for a decision");
  const decided = await runCli(["decide", threadId, "approve"], env);
  expect(decided.stdout).toContain("is done");
  expect(await worldCounts(wp.pool, email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  expect(await reached(threadId)).toEqual(requests);
  expect((await ledger(threadId)).map((l) => [l.tool, l.status, l.attempts])).toEqual(Object.entries(requests).map(([tool, n]) => [tool, "succeeded", n]));
}

test("killed before the interrupt (agent step in flight): threads lists it as stopped; resume re-runs only that step", async () => {
  const env = traceEnv("before-interrupt");
  const email = "kill-before@acme.test";
  // The second agent step: the create_account step before it is checkpointed (durability "sync").
  const killed = await killAt("agent.model#2", ["run", "onboarding", "--input", input("kill-before")], env);
  const threadId = await threadIdFor(email);
  const durable = await committedStep(threadId);
  expect(await stoppedView(threadId)).toEqual({ status: "error", pending: 0, next: ["agent"] });
  expect(await reached(threadId)).toEqual({ create_account: 1 });
  const listed = await runCli(["threads"], env);
  expect(listed.stdout).toMatch(new RegExp(`${threadId}\\s+onboarding\\s+error\\s+.*waypoint resume ${threadId}`));

  await finishOnboarding(threadId, email, env);
  const trace = readTrace(env.WAYPOINT_TRACE_FILE as string);
  // recall, agent, review and tools were durable before the kill; none of them ran again.
  expect(finishedBeforeKill(trace, killed, durable).size).toBeGreaterThanOrEqual(4);
  expect(rerunAfter(trace, killed, durable)).toEqual([]);
});

// On Waypoint's saver (the default) and on the stock PostgresSaver fallback (WAYPOINT_SAVER=stock).
test.each([
  ["waypoint", "kill-mid"],
  ["stock", "kill-mid-stock"],
])("killed mid-tool (effect done, step not yet written), %s saver: the step re-runs and the ledger replays it; the directory sees one request", async (saver, tag) => {
  const env: NodeJS.ProcessEnv = { ...traceEnv(`mid-tool-${saver}`), WAYPOINT_SAVER: saver };
  const email = `${tag}@acme.test`;
  const killed = await killAt("tools.after:create_account", ["run", "onboarding", "--input", input(tag)], env);
  const threadId = await threadIdFor(email);
  const durable = await committedStep(threadId);
  expect(await worldCounts(wp.pool, email)).toEqual({ accounts: 1, grants: 0, emails: 0 });
  expect(await ledger(threadId)).toEqual([{ tool: "create_account", status: "succeeded", attempts: 1 }]);
  expect(await reached(threadId)).toEqual({ create_account: 1 });
  expect(await stoppedView(threadId)).toEqual({ status: "error", pending: 0, next: ["tools"] });

  await finishOnboarding(threadId, email, env);
  const trace = readTrace(env.WAYPOINT_TRACE_FILE as string);
  expect(finishedBeforeKill(trace, killed, durable).size).toBeGreaterThanOrEqual(3);
  expect(rerunAfter(trace, killed, durable)).toEqual([]);
  // The branch taken: the tools step in flight ran again after the kill, and got its answer from the ledger.
  expect(trace.filter((e) => e.at > killed.at && e.node === "tools" && e.step === durable + 1)).toHaveLength(1);
});

test("killed inside the saver's write-grouping window: the step's writes die with its checkpoint, the step re-runs from the ledger", async () => {
  const env = traceEnv("grouped");
  const email = "kill-grouped@acme.test";
  // The create_account step's writes wait in WaypointSaver to go out with the step's checkpoint.
  const killed = await killAt("saver.grouped:tools#1", ["run", "onboarding", "--input", input("kill-grouped")], env);
  const threadId = await threadIdFor(email);
  const durable = await committedStep(threadId);
  expect(await ledger(threadId)).toEqual([{ tool: "create_account", status: "succeeded", attempts: 1 }]);
  expect(await reached(threadId)).toEqual({ create_account: 1 });
  // Neither the step's writes nor its checkpoint reached the database.
  const { rows } = await wp.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM checkpoint_writes WHERE thread_id = $1 AND task_path LIKE '%, tools'", [threadId]);
  expect(rows[0]?.n).toBe(0);
  expect(await stoppedView(threadId)).toEqual({ status: "error", pending: 0, next: ["tools"] });

  await finishOnboarding(threadId, email, env);
  const trace = readTrace(env.WAYPOINT_TRACE_FILE as string);
  expect(rerunAfter(trace, killed, durable)).toEqual([]);
  expect(trace.filter((e) => e.at > killed.at && e.node === "tools" && e.step === durable + 1)).toHaveLength(1);
});

test("killed right after an approval (before and after the graph took it), then mid-grant: the decision applies once, the grant goes out once", async () => {
  const env = traceEnv("after-approval");
  const email = "kill-approve@acme.test";
  const first = startCli(["run", "onboarding", "--input", input("kill-approve")], env);
  expect((await first.done).stdout).toContain("is waiting for a decision");
  const threadId = await threadIdFor(email);
  // The grant's review interrupted: its step is the one after the last committed checkpoint.
  const beforeReview = await committedStep(threadId);
  // A decision is recorded as the run that carries it (its kwargs hold the answer).
  const decisions = async () => Number((await wp.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.runs WHERE thread_id = $1 AND kind = 'decide'", [threadId])).rows[0]?.n);

  // 1. The decision is recorded; the process dies before the graph resumes with it.
  await killAt("decide.recorded", ["decide", threadId, "approve"], env);
  expect(await decisions()).toBe(1);
  expect(await committedStep(threadId)).toBe(beforeReview);
  // Not asked again: the recorded decision waits to be applied.
  expect(await stoppedView(threadId)).toEqual({ status: "error", pending: 0, next: ["review"] });

  // 2. Resume applies it: the review step is checkpointed with the approval; the process dies before the grant begins.
  const applied = await killAt("tools.before:grant_privileges", ["resume", threadId], env);
  expect(await committedStep(threadId)).toBe(beforeReview + 1);
  expect(await stoppedView(threadId)).toEqual({ status: "error", pending: 0, next: ["tools"] });
  expect(await reached(threadId)).toEqual({ create_account: 1 });
  expect(await worldCounts(wp.pool, email)).toEqual({ accounts: 1, grants: 0, emails: 0 });

  // 3. The grant goes out; the process dies before the step's writes exist.
  const granted = await killAt("tools.after:grant_privileges", ["resume", threadId], env);
  expect(await reached(threadId)).toEqual({ create_account: 1, grant_privileges: 1 });
  expect(await worldCounts(wp.pool, email)).toEqual({ accounts: 1, grants: 2, emails: 0 });
  expect(await stoppedView(threadId)).toEqual({ status: "error", pending: 0, next: ["tools"] });

  // 4. Resume replays the grant from the ledger and finishes.
  const last = startCli(["resume", threadId], env);
  expect((await last.done).stdout).toContain("is done");
  expect(await worldCounts(wp.pool, email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  expect(await reached(threadId)).toEqual(ALL_ONCE);
  expect((await ledger(threadId)).map((l) => [l.tool, l.status, l.attempts])).toEqual([
    ["create_account", "succeeded", 1],
    ["grant_privileges", "succeeded", 1],
    ["send_welcome_email", "succeeded", 1],
  ]);
  expect(await decisions()).toBe(1);
  const trace = readTrace(env.WAYPOINT_TRACE_FILE as string);
  const ranAt = (node: string, step: number) => trace.filter((e) => e.node === node && e.step === step).map((e) => e.pid);
  // The grant's review ran twice: to ask (the first run) and to apply the approval (resume 2), never after.
  expect(ranAt("review", beforeReview + 1)).toEqual([first.child.pid, applied.pid]);
  expect(rerunAfter(trace, applied, beforeReview + 1)).toEqual([]);
  // Its tools step started in resume 2 (halted before the call), ran the grant in resume 3, and replayed it in the last.
  expect(ranAt("tools", beforeReview + 2)).toEqual([applied.pid, granted.pid, last.child.pid]);
});

test("killed mid-call (the directory applied it, no reply recorded): the retry goes out with the same key and the directory dedupes it", async () => {
  const env = traceEnv("mid-call");
  const email = "kill-mid-call@acme.test";
  // The directory applies the request, then the process SIGKILLs itself before it hears the reply.
  const child = startCli(["run", "onboarding", "--input", input("kill-mid-call")], { ...env, WAYPOINT_FAULTS: "directory:crash_after_effect:1:1" });
  expect((await child.done).signal).toBe("SIGKILL");
  const threadId = await threadIdFor(email);
  expect(await ledger(threadId)).toEqual([{ tool: "create_account", status: "started", attempts: 1 }]);
  expect(await reached(threadId)).toEqual({ create_account: 1 });
  expect(await worldCounts(wp.pool, email)).toEqual({ accounts: 1, grants: 0, emails: 0 });

  // Outcome unknown, and the directory dedupes by key: the resume sends it again, with the same key.
  await finishOnboarding(threadId, email, env, { ...ALL_ONCE, create_account: 2 });
  const { rows } = await wp.pool.query<{ pid: number }>(
    "SELECT r.pid FROM world.requests r JOIN waypoint.tool_calls c ON c.idempotency_key = r.idempotency_key WHERE c.thread_id = $1 AND c.tool = 'create_account' ORDER BY r.id",
    [threadId],
  );
  // One request from the killed process, one from the resume.
  expect(rows).toHaveLength(2);
  expect(rows[0]?.pid).toBe(child.child.pid);
  expect(rows[1]?.pid).not.toBe(child.child.pid);
});
