// waypointOversight(): Waypoint's oversight engine as LangChain v1 middleware on a createAgent agent,
// run by Waypoint. One model turn proposing four calls meets every tier: a denied call is answered
// with the reason, a missing permission scope is asked about, the calls to review are asked about
// together, the auto one just runs; every decision is in the audit log. The loop detector pauses a run
// that repeats itself. A run-dependent guardrail (the wall clock) asks the same question on the re-run
// after a person answered, so the answer lands on its question.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import path from "node:path";
import pg from "pg";
import { PROJECT_ROOT } from "../src/config.js";
import { Waypoint } from "../src/runs/runner.js";
import type { ThreadView } from "../src/runs/threads.js";
import { control, resetControl, type Behaviour } from "./fixtures/durable/agent.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

const CONFIG = path.join(PROJECT_ROOT, "tests/fixtures/durable/langgraph.json");

let db: TestDatabase;
let pool: pg.Pool;
let wp: Waypoint;

beforeAll(async () => {
  db = await freshDatabase("oversight_mw");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  wp = await Waypoint.open({ url: db.url, config: CONFIG, poolMax: 4, toolRetry: { initialDelayMs: 1, maxDelayMs: 2 } });
});
afterAll(async () => {
  await wp.close();
  await pool.end();
  await db.drop();
});
beforeEach(() => resetControl());

type Call = { name: string; item: string };
const input = (text: string) => ({ messages: [{ role: "user", content: text }] });

function script(...turns: Call[][]): void {
  control.reply = (messages: BaseMessage[]) => {
    const turn = messages.filter((m) => AIMessage.isInstance(m)).length;
    const calls = turns[turn];
    if (!calls) return new AIMessage({ id: `ai-${turn}`, content: "finished" });
    return new AIMessage({ id: `ai-${turn}`, content: "", tool_calls: calls.map((c, i) => ({ id: `call-${turn}-${i}-${c.name}`, name: c.name, args: { item: c.item }, type: "tool_call" as const })) });
  };
}

function results(view: ThreadView): Map<string, ToolMessage> {
  const messages = (view.values.messages ?? []) as BaseMessage[];
  return new Map(messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => [m.tool_call_id, m]));
}

async function audit(threadId: string): Promise<Array<{ subject: string; action: string; actor: string }>> {
  const { rows } = await pool.query("SELECT subject, action, actor FROM waypoint.audit WHERE thread_id = $1 ORDER BY id", [threadId]);
  return rows;
}

test("one turn, every tier: deny answered, the missing scope asked, the reviews asked together, auto runs; all audited", async () => {
  script([
    { name: "lookup", item: "stock" },
    { name: "ship", item: "order-1" },
    { name: "notify", item: "order-1" },
    { name: "charge", item: "order-1" },
  ]);
  const scope = await wp.start("overseen", input("sell it"));
  expect(scope.status).toBe("interrupted");
  const q1 = scope.pending[0];
  expect(q1?.request).toMatchObject({ kind: "scope", actionRequests: [{ name: "charge", toolCallId: "call-0-3-charge" }], reviewConfigs: [{ actionName: "charge", allowedDecisions: ["grant_once", "grant_for_run", "reject"] }] });
  expect(q1?.request?.actionRequests[0]?.description).toMatch(/Charge for order-1: needs "payments"/);
  expect(control.attempts).toEqual({}); // nothing ran before the questions

  const review = await wp.decide(scope.threadId, { decisions: [{ type: "grant_once" }] });
  expect(review.status).toBe("interrupted");
  const q2 = review.pending[0];
  expect(q2?.interruptId).not.toBe(q1?.interruptId);
  expect(q2?.request?.actionRequests.map((a) => a.name)).toEqual(["ship", "charge"]);
  expect(q2?.request?.reviewConfigs.find((c) => c.actionName === "ship")?.argsSchema).toMatchObject({ properties: { item: { type: "string" } } });

  const done = await wp.decide(scope.threadId, { decisions: [{ type: "edit", editedAction: { name: "ship", args: { item: "order-1b" } } }, { type: "reject", message: "not today" }] });
  expect(done.status).toBe("done");
  expect(control.attempts).toEqual({ lookup: 1, ship: 1 });
  const byCall = results(done);
  expect(byCall.get("call-0-2-notify")?.text).toMatch(/^Denied by policy: no notifications today/);
  expect(byCall.get("call-0-3-charge")?.text).toBe("Rejected by reviewer: not today");
  expect(byCall.get("call-0-1-ship")?.text).toBe("ship done #1 (order-1b)");
  expect(byCall.get("call-0-0-lookup")?.text).toBe("lookup done #1 (stock)");
  const entries = await audit(scope.threadId);
  expect(entries).toEqual(
    expect.arrayContaining([
      { subject: "call-0-2-notify", action: "deny", actor: "policy" },
      { subject: "call-0-3-charge", action: "scope_granted", actor: "reviewer" },
      { subject: "call-0-1-ship", action: "review", actor: "reviewer" },
      { subject: "call-0-3-charge", action: "review", actor: "reviewer" },
      { subject: "call-0-0-lookup", action: "auto", actor: "policy" },
    ]),
  );
  // Re-runs of the hook (one per answer) wrote each decision once.
  expect(entries.filter((e) => e.action === "deny")).toHaveLength(1);
});

test("a decision the request does not allow is refused at submission and changes nothing", async () => {
  script([{ name: "ship", item: "order-2" }]);
  const waiting = await wp.start("overseen", input("ship it"));
  const before = await wp.view(waiting.threadId);
  await expect(wp.decide(waiting.threadId, { decisions: [{ type: "grant_once" }] })).rejects.toThrow(/"grant_once" is not allowed here; allowed: approve, edit, reject, respond/);
  const after = await wp.view(waiting.threadId);
  expect(after.checkpointId).toBe(before.checkpointId);
  expect(after.pending[0]?.interruptId).toBe(before.pending[0]?.interruptId);
});

test("the loop detector pauses a run that proposes the same call again and again; 'continue' lets it go on", async () => {
  const same = [{ name: "lookup", item: "stock" }];
  script(same, same); // maxRepeats 2: the second proposal of the same call pauses
  const paused = await wp.start("overseen", input("look it up"));
  expect(paused.status).toBe("interrupted");
  expect(paused.pending[0]?.request).toMatchObject({ kind: "guard", actionRequests: [{ name: "guard:repeated_call" }] });
  expect(control.attempts.lookup).toBe(1);
  const done = await wp.decide(paused.threadId, { decisions: [{ type: "choose", option: "continue" }] });
  expect(done.status).toBe("done");
  expect(control.attempts.lookup).toBe(2);
  expect((await audit(paused.threadId)).some((e) => e.action === "guard_paused")).toBe(true);
});

test("a wall-clock pause is asked again on the re-run that carries the answer, so the answer lands on it and the review comes next", async () => {
  script([{ name: "lookup", item: "slowly" }], [{ name: "ship", item: "order-3" }]);
  control.plan.lookup = ["slow" as Behaviour];
  const paused = await wp.start("clocked", input("slow then ship"));
  expect(paused.pending[0]?.request).toMatchObject({ kind: "guard", actionRequests: [{ name: "guard:wall_clock" }] });
  // The resumed run is new (its clock starts again): judged afresh, the turn would not trip the guard.
  const review = await wp.decide(paused.threadId, { decisions: [{ type: "choose", option: "continue" }] });
  expect(review.status).toBe("interrupted");
  expect(review.pending[0]?.request?.actionRequests.map((a) => a.name)).toEqual(["ship"]);
  const done = await wp.decide(paused.threadId, { decisions: [{ type: "approve" }] });
  expect(done.status).toBe("done");
  expect(control.effects.ship).toBe(1);
});
