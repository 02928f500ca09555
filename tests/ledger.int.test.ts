// The side-effect ledger and the tool failure ladder against real Postgres: replay, intent without
// result per risk class, parallel calls, dangling calls, retries with Retry-After, the read cache,
// fail-fast for mutate tools without a deduping system, and exhausted retries stopping the run.
import { AIMessage, ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import pg from "pg";
import { z } from "zod";
import { ScriptedChatModel } from "../src/models/index.js";
import { openPersistence, type Persistence } from "../src/persistence/index.js";
import { Waypoint } from "../src/runs/index.js";
import {
  closeDanglingToolCalls,
  durableTool,
  executeToolCalls,
  idempotencyKeyFor,
  ledgerRows,
  ToolFailedError,
  type DurableTool,
  type ExecuteContext,
  type LedgerRow,
} from "../src/tools/index.js";
import { runWithPolicy } from "../src/tools/policy.js";
import { createWorld, FaultInjector, parseFaults, WorldError, type FaultPlan } from "../src/world/index.js";
import { demoWorld } from "../graphs/world.js";
import { HIRE, onboardingScript, recordingModel, say, worldCounts } from "./support/agents.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let persistence: Persistence;
let pool: pg.Pool;
const open: Waypoint[] = [];

beforeAll(async () => {
  db = await freshDatabase("ledger");
  persistence = await openPersistence({ url: db.url, poolMax: 4 });
  pool = persistence.db.pool;
});
afterAll(async () => {
  await Promise.all(open.map((w) => w.close()));
  await persistence.close();
  await db.drop();
});

const FAST = { initialDelayMs: 1, maxDelayMs: 5 };

function ctx(threadId: string, faults?: FaultPlan): ExecuteContext {
  return { pool, config: { context: { world: createWorld(pool, { faults: faults ?? null }) } }, threadId, checkpointNs: "", toolRetry: FAST };
}

function call(id: string, name: string, args: Record<string, unknown>): ToolCall {
  return { id, name, args, type: "tool_call" };
}

/** A tool that counts its runs and can be told to fail. */
function countingTool(name: string, risk: "read" | "compute" | "mutate", opts: { dedupes?: boolean; fail?: () => Error | undefined } = {}) {
  const runs: string[] = [];
  const tool = durableTool({
    name,
    description: `test tool ${name}`,
    risk,
    ...(opts.dedupes !== undefined ? { dedupesByKey: opts.dedupes } : {}),
    schema: z.object({ n: z.number().describe("a number") }),
    async run(args, { idempotencyKey }) {
      runs.push(idempotencyKey);
      const err = opts.fail?.();
      if (err) throw err;
      return { doubled: args.n * 2 };
    },
  });
  return { tool: tool as unknown as DurableTool, runs };
}

async function row(threadId: string, toolCallId: string): Promise<LedgerRow> {
  const rows = await ledgerRows(pool, threadId);
  const hit = rows.find((r) => r.tool_call_id === toolCallId);
  if (!hit) throw new Error(`no ledger row for ${toolCallId}`);
  return hit;
}

/** What a process killed mid-call leaves behind: an intent with no outcome. */
async function leaveStartedIntent(threadId: string, c: ToolCall, tool: DurableTool) {
  await pool.query(
    `INSERT INTO waypoint.tool_calls (thread_id, checkpoint_ns, tool_call_id, tool, risk, args, idempotency_key, status, dedupes)
     VALUES ($1, '', $2, $3, $4, $5, $6, 'started', $7)`,
    [threadId, c.id, tool.name, tool.risk, JSON.stringify(c.args), idempotencyKeyFor({ threadId, checkpointNs: "", toolCallId: c.id ?? "" }), tool.risk !== "mutate" || tool.dedupesByKey === true],
  );
}

describe("ledger: exactly once per tool call id", () => {
  test("a recorded result is replayed without running the tool; the key is stable", async () => {
    const { tool, runs } = countingTool("double", "mutate", { dedupes: true });
    const c = call("c1", "double", { n: 21 });
    const first = await executeToolCalls([c], [tool], ctx("replay"));
    const second = await executeToolCalls([c], [tool], ctx("replay"));
    expect(runs).toHaveLength(1);
    expect(first.messages[0]?.content).toBe('{"doubled":42}');
    expect(second.messages[0]?.content).toBe('{"doubled":42}');
    expect(runs[0]).toBe(idempotencyKeyFor({ threadId: "replay", checkpointNs: "", toolCallId: "c1" }));
    expect((await row("replay", "c1")).attempts).toBe(1);
  });

  test.each([
    ["read", undefined],
    ["compute", undefined],
    ["mutate", true],
  ] as const)("intent without result: a %s tool (dedupes: %s) runs again with the same key", async (risk, dedupes) => {
    const thread = `again-${risk}`;
    const { tool, runs } = countingTool(`t_${risk}`, risk, dedupes === undefined ? {} : { dedupes });
    const c = call("c1", tool.name, { n: 1 });
    await leaveStartedIntent(thread, c, tool);
    const out = await executeToolCalls([c], [tool], ctx(thread));
    expect(out.messages).toHaveLength(1);
    expect(out.inDoubt).toHaveLength(0);
    expect(runs).toEqual([idempotencyKeyFor({ threadId: thread, checkpointNs: "", toolCallId: "c1" })]);
    expect(await row(thread, "c1")).toMatchObject({ status: "succeeded", attempts: 2 });
  });

  test("intent without result: a mutate tool whose system cannot dedupe is not run; it waits for a human", async () => {
    const { tool, runs } = countingTool("legacy", "mutate", { dedupes: false });
    const c = call("c1", "legacy", { n: 1 });
    await leaveStartedIntent("doubt", c, tool);
    const out = await executeToolCalls([c], [tool], ctx("doubt"));
    expect(runs).toHaveLength(0);
    expect(out.messages).toHaveLength(0);
    expect(out.inDoubt.map((r) => r.tool_call_id)).toEqual(["c1"]);
    expect(await row("doubt", "c1")).toMatchObject({ status: "in_doubt", doubt: expect.stringContaining("the process stopped during attempt 1") });
    // Still in doubt on every later pass until a human answers.
    expect((await executeToolCalls([c], [tool], ctx("doubt"))).inDoubt).toHaveLength(1);
    expect(runs).toHaveLength(0);
  });

  test("parallel calls run in parallel, each through the ledger", async () => {
    let arrived = 0;
    let release: () => void = () => undefined;
    const barrier = new Promise<void>((r) => (release = r));
    const tool = durableTool({
      name: "meet",
      description: "waits until both calls are in flight",
      risk: "compute",
      schema: z.object({ who: z.string().describe("caller") }),
      async run(args) {
        if (++arrived === 2) release();
        await barrier; // Deadlocks (and the test times out) if calls ran one after the other.
        return { met: args.who };
      },
    });
    const out = await executeToolCalls([call("a", "meet", { who: "a" }), call("b", "meet", { who: "b" })], [tool as unknown as DurableTool], ctx("parallel"));
    expect(out.messages.map((m) => m.content)).toEqual(['{"met":"a"}', '{"met":"b"}']);
    expect((await ledgerRows(pool, "parallel")).map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
  });

  test("unknown tools and invalid arguments are answered with an error naming the problem, and nothing runs", async () => {
    const { tool, runs } = countingTool("double2", "compute");
    const out = await executeToolCalls([call("x", "nope", {}), call("y", "double2", { n: "three" })], [tool], ctx("bad-args"));
    expect(out.messages[0]?.content).toMatch(/no tool named "nope"/);
    expect(out.messages[1]?.content).toMatch(/invalid arguments for double2: n: /);
    expect(runs).toHaveLength(0);
    expect(await ledgerRows(pool, "bad-args")).toHaveLength(0);
  });
});

describe("no dangling tool calls", () => {
  test("a dangling call gets its ledger outcome, or an explicit interrupted error", async () => {
    const { tool } = countingTool("d", "compute");
    await executeToolCalls([call("done1", "d", { n: 2 })], [tool], ctx("dangling"));
    await leaveStartedIntent("dangling", call("half", "d", { n: 3 }), tool);
    const ai = new AIMessage({ id: "ai", content: "", tool_calls: [call("done1", "d", { n: 2 }), call("half", "d", { n: 3 }), call("never", "d", { n: 4 })] });
    const rows = await ledgerRows(pool, "dangling");
    const closers = closeDanglingToolCalls([ai], new Map(rows.map((r) => [r.tool_call_id, r])));
    expect(closers.map((m) => [m.tool_call_id, m.status])).toEqual([
      ["done1", "success"],
      ["half", "error"],
      ["never", "error"],
    ]);
    expect(closers[0]?.content).toBe('{"doubled":4}');
    expect(closers[1]?.content).toMatch(/whether it took effect is unknown/);
    expect(closers[2]?.content).toMatch(/did not run/);
  });

  test("rejecting one of two parallel reviewed calls runs the other and leaves none unanswered", async () => {
    const h = { ...HIRE, email: "parallel@acme.test" };
    const both = new AIMessage({
      id: "ai-2",
      content: "",
      tool_calls: [
        call("g1", "grant_privileges", { email: h.email, privileges: ["github:write"] }),
        call("g2", "grant_privileges", { email: h.email, privileges: ["prod-db:admin"] }),
      ],
    });
    const script = onboardingScript(h);
    const rec = recordingModel([script[0]!, both, script[2]!, say(4, "done")]);
    const wp = await Waypoint.open({ url: db.url, model: rec.model, poolMax: 3, fallbackModel: null });
    open.push(wp);
    const paused = await wp.start("onboarding", { hire: h });
    expect(paused.pending[0]?.request!.actionRequests).toHaveLength(2);
    const done = await wp.decide(paused.threadId, { decisions: [{ type: "approve" }, { type: "reject", message: "no admin" }] });
    expect(done.status).toBe("done");
    const { rows } = await pool.query("SELECT privilege FROM world.grants WHERE email = $1", [h.email]);
    expect(rows.map((r) => r.privilege)).toEqual(["github:write"]);
    // The model's next prompt had an answer for both calls.
    const answers = rec.calls[2]!.filter((m): m is ToolMessage => ToolMessage.isInstance(m) && (m.tool_call_id === "g1" || m.tool_call_id === "g2"));
    expect(answers.map((m) => [m.tool_call_id, m.status]).sort()).toEqual([
      ["g1", "success"],
      ["g2", "error"],
    ]);
  });
});

describe("failure ladder for tools", () => {
  test("a 429 is retried after at least its Retry-After, then succeeds", async () => {
    const log = { attempts: 0, failures: [] as never[], delays: [] as number[] };
    let n = 0;
    const { tool } = countingTool("limited", "mutate", { dedupes: false });
    const result = await runWithPolicy(
      tool,
      async () => {
        if (++n < 3) throw new WorldError("cars", "rate_limited", "429", { status: 429, retryAfterMs: 40, effectMayHaveHappened: false });
        return { ok: true };
      },
      { scale: FAST, log },
    );
    expect(result).toEqual({ ok: true });
    expect(log.attempts).toBe(3);
    expect(log.delays).toHaveLength(2);
    for (const d of log.delays) expect(d).toBeGreaterThanOrEqual(40);
  });

  test("a mutate tool without a deduping system fails fast on an unknown outcome: one attempt, then a human", async () => {
    const { tool, runs } = countingTool("legacy500", "mutate", { dedupes: false, fail: () => new WorldError("cars", "server_error", "cars: 500", { status: 500, effectMayHaveHappened: true }) });
    const out = await executeToolCalls([call("c1", "legacy500", { n: 1 })], [tool], ctx("fail-fast"));
    expect(runs).toHaveLength(1);
    expect(out.inDoubt).toHaveLength(1);
    expect(await row("fail-fast", "c1")).toMatchObject({ status: "in_doubt", doubt: expect.stringContaining("cars: 500") });
  });

  test("a mutate tool with a deduping system retries with the same key after a lost reply: one effect", async () => {
    const faults = new FaultInjector(parseFaults("email:reply_lost:1:2"));
    const c: ExecuteContext = { ...ctx("lost-reply"), config: { context: { world: createWorld(pool, { faults }) } } };
    const send = durableTool({
      name: "send",
      description: "send an email",
      risk: "mutate",
      dedupesByKey: true,
      schema: z.object({ to: z.string().describe("to") }),
      run: async (a, { config, idempotencyKey }) => ({ ...(await (await demoWorld(config)).sendEmail({ to: a.to, subject: "s", body: "b" }, idempotencyKey)) }),
    });
    const out = await executeToolCalls([call("m1", "send", { to: "lost@acme.test" })], [send as unknown as DurableTool], c);
    expect(out.messages[0]?.status).toBe("success");
    expect((await pool.query("SELECT count(*)::int AS n FROM world.outbox WHERE recipient = 'lost@acme.test'")).rows[0].n).toBe(1);
    expect(await row("lost-reply", "m1")).toMatchObject({ status: "succeeded", attempts: 3 });
  });

  test("a tool that hangs is cut off by its timeout and retried", async () => {
    let n = 0;
    const slow = durableTool({
      name: "slow",
      description: "hangs the first time",
      risk: "read",
      timeoutMs: 50,
      schema: z.object({ q: z.string().describe("query") }),
      run: (_a, { signal }) =>
        ++n === 1 ? new Promise<Record<string, unknown>>((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")))) : Promise.resolve({ answer: 42 }),
    });
    const out = await executeToolCalls([call("s1", "slow", { q: "x" })], [slow as unknown as DurableTool], ctx("timeout"));
    expect(out.messages[0]?.content).toBe('{"answer":42}');
    expect(n).toBe(2);
  });

  test("a read tool falls back to its last cached result when its system is down", async () => {
    const search = (await import("../graphs/travel/tools.js")).searchHotels as unknown as DurableTool;
    const fresh = await executeToolCalls([call("s1", "search_hotels", { destination: "Lisbon" })], [search], ctx("cache"));
    expect(JSON.parse(String(fresh.messages[0]?.content))).toMatchObject({ hotelId: "lis-alfama" });
    const down = await executeToolCalls([call("s2", "search_hotels", { destination: "Lisbon" })], [search], ctx("cache", parseFaults("hotel_search:server_error:1")));
    const stale = JSON.parse(String(down.messages[0]?.content));
    expect(stale).toMatchObject({ hotelId: "lis-alfama", stale: true, staleBecause: expect.stringContaining("500") });
    expect(await row("cache", "s2")).toMatchObject({ status: "succeeded", from_cache: true, attempts: 5 });
    // With no cache for those arguments, the run stops with the reason instead.
    await expect(executeToolCalls([call("s3", "search_hotels", { destination: "Oslo" })], [search], ctx("cache", parseFaults("hotel_search:server_error:1")))).rejects.toBeInstanceOf(
      ToolFailedError,
    );
  });

  test("a refusal (4xx) is not retried: the model hears why", async () => {
    const grant = (await import("../graphs/onboarding/tools.js")).grantPrivileges as unknown as DurableTool;
    const out = await executeToolCalls([call("g", "grant_privileges", { email: "nobody@acme.test", privileges: ["x"] })], [grant], ctx("refusal"));
    expect(out.messages[0]).toMatchObject({ status: "error", content: expect.stringContaining("404 no directory account for nobody@acme.test") });
    expect(await row("refusal", "g")).toMatchObject({ status: "failed", final: true, attempts: 1 });
  });
});

describe("exhausted retries end the run in an error state, resumable later", () => {
  test("the email system keeps failing: error with the reason; resumed later, the email goes out once", async () => {
    const h = { ...HIRE, email: "exhausted@acme.test" };
    const script = onboardingScript(h);
    const model = recordingModel([...script]).model;
    const wp = await Waypoint.open({ url: db.url, model, poolMax: 3, context: { faults: parseFaults("email:server_error:1:4") }, toolRetry: FAST, fallbackModel: null });
    open.push(wp);
    const paused = await wp.start("onboarding", { hire: h });
    await expect(wp.decide(paused.threadId, { decisions: [{ type: "approve" }] })).rejects.toMatchObject({ code: "run_failed", message: expect.stringContaining("send_welcome_email failed after 4 attempts") });
    const stopped = await wp.view(paused.threadId);
    expect(stopped.status).toBe("error");
    expect(stopped.detail).toContain("send_welcome_email failed after 4 attempts: email: 500 Internal Server Error");
    expect(stopped.openCalls).toEqual([expect.objectContaining({ tool: "send_welcome_email", status: "failed", explanation: expect.stringContaining("resuming tries it again") })]);
    expect(await worldCounts(pool, h.email)).toEqual({ accounts: 1, grants: 2, emails: 0 });
    const done = await wp.resume(paused.threadId);
    expect(done.status).toBe("done");
    expect(await worldCounts(pool, h.email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
    expect(done.openCalls).toEqual([]);
  });

  test("the model keeps failing: error with the reason, no tool runs twice after the resume", async () => {
    const h = { ...HIRE, email: "model-down@acme.test" };
    const script = onboardingScript(h);
    let failures = 3;
    let turn = 0;
    const flaky = new ScriptedChatModel({
      label: "flaky",
      respond: () => {
        if (turn === 1 && failures-- > 0) throw Object.assign(new Error("upstream overloaded"), { status: 503 });
        return script[turn++]!;
      },
    });
    const wp = await Waypoint.open({ url: db.url, model: flaky, poolMax: 3, modelRetry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2, breakerThreshold: 100 }, fallbackModel: null });
    open.push(wp);
    await expect(wp.start("onboarding", { hire: h })).rejects.toMatchObject({ code: "run_failed", message: expect.stringContaining("failed after 2 attempts") });
    const stopped = await wp.view((await pool.query("SELECT thread_id FROM waypoint.threads WHERE input->'hire'->>'email' = $1", [h.email])).rows[0].thread_id);
    expect(stopped.status).toBe("error");
    expect(stopped.detail).toMatch(/HTTP 503: upstream overloaded/);
    // One more failure left (retried within the resume), then it answers: the run goes on from the agent step.
    const paused = await wp.resume(stopped.threadId);
    expect(paused.status).toBe("interrupted");
    expect((await ledgerRows(pool, stopped.threadId)).map((r) => [r.tool, r.attempts])).toEqual([["create_account", 1]]);
  });

  test("with a fallback model configured, an unavailable primary fails over and the run goes on", async () => {
    const h = { ...HIRE, email: "failover@acme.test" };
    const down = new ScriptedChatModel({
      label: "down",
      respond: () => {
        throw Object.assign(new Error("primary down"), { status: 500 });
      },
    });
    const backup = recordingModel(onboardingScript(h));
    const wp = await Waypoint.open({ url: db.url, model: down, fallbackModel: backup.model, poolMax: 3, modelRetry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 } });
    open.push(wp);
    const paused = await wp.start("onboarding", { hire: h });
    expect(paused.status).toBe("interrupted");
    expect(backup.calls.length).toBe(2);
  });
});

describe("fault injection", () => {
  test("the WAYPOINT_FAULTS syntax: rules, options, and clear errors", () => {
    expect(parseFaults("hotels:server_error:1, email:rate_limit:0.2:3, *:crash_after_effect:0.01, retry_after_ms=500, hang_ms=20")).toEqual({
      rules: [
        { system: "hotels", kind: "server_error", probability: 1 },
        { system: "email", kind: "rate_limit", probability: 0.2, times: 3 },
        { system: "*", kind: "crash_after_effect", probability: 0.01 },
      ],
      retryAfterMs: 500,
      hangMs: 20,
    });
    expect(() => parseFaults("hotel:server_error")).toThrow(/"hotel:server_error": system must be one of directory, grants, email/);
    expect(() => parseFaults("hotels:meltdown")).toThrow(/kind must be one of rate_limit, server_error, timeout, reply_lost, crash_after_effect/);
    expect(() => parseFaults("hotels:timeout:2")).toThrow(/probability must be between 0 and 1/);
  });

  test("each fault kind answers like a real API, and is logged in world.faults", async () => {
    const world = createWorld(pool, { faults: parseFaults("flights:rate_limit:1:1,flights:server_error:1:1,flights:timeout:1:1,flights:reply_lost:1:1,retry_after_ms=70,hang_ms=10") });
    const trip = { tripId: "faults-1", traveller: "F", origin: "A", destination: "Oslo", departOn: "2026-12-01" };
    await expect(world.bookFlight(trip, "k-faults")).rejects.toMatchObject({ failure: "rate_limited", info: { status: 429, retryAfterMs: 70, effectMayHaveHappened: false } });
    await expect(world.bookFlight(trip, "k-faults")).rejects.toMatchObject({ failure: "server_error", info: { status: 500, effectMayHaveHappened: true } });
    await expect(world.bookFlight(trip, "k-faults")).rejects.toMatchObject({ failure: "timeout" });
    expect((await world.rowsForTrip("faults-1")).flights).toHaveLength(0);
    await expect(world.bookFlight(trip, "k-faults")).rejects.toMatchObject({ failure: "reply_lost" });
    expect((await world.rowsForTrip("faults-1")).flights).toHaveLength(1); // The effect happened; the reply did not.
    const again = await world.bookFlight(trip, "k-faults");
    expect((await world.rowsForTrip("faults-1")).flights).toEqual([expect.objectContaining({ booking_ref: again.bookingRef })]);
    const { rows } = await pool.query("SELECT kind FROM world.faults WHERE idempotency_key = 'k-faults' ORDER BY id");
    expect(rows.map((r) => r.kind)).toEqual(["rate_limit", "server_error", "timeout", "reply_lost"]);
  });

  test("world.requests logs every request that reached a system, before its faults and its dedupe", async () => {
    const world = createWorld(pool, { faults: parseFaults("email:rate_limit:1:1,retry_after_ms=1") });
    const mail = { to: "log@acme.test", subject: "Hi", body: "Hello" };
    await expect(world.sendEmail(mail, "k-log")).rejects.toMatchObject({ failure: "rate_limited" });
    await world.sendEmail(mail, "k-log");
    await world.sendEmail(mail, "k-log");
    await world.searchHotels({ city: "Oslo" });
    // The outbox deduped the repeat (one message); the log saw all three requests.
    expect((await world.rowsFor("log@acme.test")).emails).toHaveLength(1);
    const { rows } = await pool.query<{ system: string; operation: string; pid: number }>("SELECT system, operation, pid FROM world.requests WHERE idempotency_key = 'k-log' ORDER BY id");
    expect(rows).toEqual(Array.from({ length: 3 }, () => ({ system: "email", operation: "sendEmail", pid: process.pid })));
    const reads = await pool.query("SELECT 1 FROM world.requests WHERE operation = 'searchHotels' AND idempotency_key IS NULL");
    expect(reads.rowCount).toBeGreaterThanOrEqual(1);
  });
});

