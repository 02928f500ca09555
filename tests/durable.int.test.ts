// durable(): Waypoint's ledger around plain LangChain tools, in a createAgent and in a StateGraph's
// ToolNode, run by Waypoint: a recorded result is replayed and never re-run; the tool's idempotency key
// is stable; a non-deduping call whose outcome is unknown asks "did this happen?" and never guesses (also
// when it asks twice, and when two such calls share a task); a refusal is final; a system that keeps
// failing stops the run instead of handing the model an error; a tool that interrupts itself is not in
// doubt; a Command result replays as a Command. Outside a Waypoint run the tool runs directly.
import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { Command, MemorySaver } from "@langchain/langgraph";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import path from "node:path";
import pg from "pg";
import { PROJECT_ROOT } from "../src/config.js";
import { ledgerRows } from "../src/tools/index.js";
import { Waypoint } from "../src/runs/runner.js";
import type { ThreadView } from "../src/runs/threads.js";
import { ScriptedChatModel } from "../src/models/index.js";
import { control, resetControl, tools, type Behaviour } from "./fixtures/durable/agent.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

const CONFIG = path.join(PROJECT_ROOT, "tests/fixtures/durable/langgraph.json");

let db: TestDatabase;
let pool: pg.Pool;
let wp: Waypoint;

beforeAll(async () => {
  db = await freshDatabase("durable");
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

/** The model: the first turn makes `calls` (all in one AIMessage), the next one sums up the results. */
function script(...turns: Call[][]): void {
  control.reply = (messages: BaseMessage[]) => {
    const turn = messages.filter((m) => AIMessage.isInstance(m)).length;
    const calls = turns[turn];
    if (!calls) return new AIMessage({ id: `ai-${turn}`, content: `done: ${messages.filter((m) => ToolMessage.isInstance(m)).map((m) => m.text).join(" | ")}` });
    return new AIMessage({ id: `ai-${turn}`, content: "", tool_calls: calls.map((c, i) => ({ id: `call-${turn}-${i}-${c.name}`, name: c.name, args: { item: c.item }, type: "tool_call" as const })) });
  };
}

function plan(tool: string, ...behaviours: Behaviour[]): void {
  control.plan[tool] = behaviours;
}

const input = (text: string) => ({ messages: [{ role: "user", content: text }] });

function toolMessages(view: ThreadView): ToolMessage[] {
  return ((view.values.messages ?? []) as BaseMessage[]).filter((m) => ToolMessage.isInstance(m)) as ToolMessage[];
}

function dangling(view: ThreadView): string[] {
  const messages = (view.values.messages ?? []) as BaseMessage[];
  const answered = new Set(messages.filter((m) => ToolMessage.isInstance(m)).map((m) => (m as ToolMessage).tool_call_id));
  return messages.flatMap((m) => (AIMessage.isInstance(m) ? (m.tool_calls ?? []).map((c) => c.id ?? "") : [])).filter((id) => !answered.has(id));
}

test("a recorded result is replayed, never re-run; the idempotency key is the ledger's and the same on every attempt", async () => {
  script([{ name: "ship", item: "book" }]);
  plan("ship", "down", "ok"); // one 503 before any effect: retried with the same key
  const view = await wp.start("shop", input("ship the book"));
  expect(view.status).toBe("done");
  expect(control.effects.ship).toBe(1);
  expect(control.attempts.ship).toBe(2);
  const [row] = (await ledgerRows(pool, view.threadId)).filter((r) => r.tool === "ship");
  expect(row).toMatchObject({ status: "succeeded", attempts: 2, checkpoint_ns: "" });
  expect(control.keys.ship).toEqual([row?.idempotency_key, row?.idempotency_key]);

  // The same thread forked back to the model's proposal: the tools step runs again, the ledger answers.
  const history = await wp.history(view.threadId);
  const proposal = history.find((h) => h.next.includes("tools"));
  expect(proposal).toBeDefined();
  const fork = await wp.fork(view.threadId, proposal?.checkpointId ?? "");
  expect(fork.threadId).not.toBe(view.threadId);
  const again = await wp.resume(view.threadId, {}).catch((e: Error) => e);
  expect(again).toBeInstanceOf(Error); // finished: nothing to resume
  expect(control.effects.ship).toBe(1);
});

test("a non-deduping call whose outcome is unknown asks 'did this happen?' (HITL shape), and each answer does what it says", async () => {
  for (const [answer, effects, text] of [
    ["confirm_done", 1, /confirmedByReviewer|paid at the desk/],
    ["run_again", 2, /charge done #2/],
    ["skip", 1, /Skipped by a reviewer/],
  ] as const) {
    resetControl();
    script([{ name: "charge", item: "order-7" }]);
    plan("charge", "lost"); // the charge went through, the reply was lost
    const waiting = await wp.start("shop", input("charge it"));
    expect(waiting.status).toBe("interrupted");
    expect(control.effects.charge).toBe(1);
    expect(control.attempts.charge).toBe(1); // never repeated on a guess
    const [pending] = waiting.pending;
    expect(pending?.request).toMatchObject({ kind: "in_doubt", actionRequests: [{ name: "charge", toolCallId: "call-0-0-charge" }], reviewConfigs: [{ actionName: "charge", allowedDecisions: ["confirm_done", "run_again", "skip"] }] });
    expect(pending?.value).toMatchObject({ review_configs: [{ action_name: "charge", allowed_decisions: ["confirm_done", "run_again", "skip"] }] }); // both spellings
    expect(pending?.request?.actionRequests[0]?.description).toMatch(/^Did this happen\? Charge for order-7/);
    const decision = answer === "confirm_done" ? { type: answer, message: "paid at the desk" } : { type: answer };
    const done = await wp.decide(waiting.threadId, { decisions: [decision] });
    expect(done.status).toBe("done");
    expect(control.effects.charge).toBe(effects);
    expect(toolMessages(done).map((m) => m.text).join("\n")).toMatch(text);
    expect(dangling(done)).toEqual([]);
  }
});

test("asked twice about one call (attempt 2 is in doubt too), each answer applies to its own attempt", async () => {
  script([{ name: "charge", item: "order-8" }]);
  plan("charge", "lost", "lost");
  const first = await wp.start("shop", input("charge it"));
  const q1 = first.pending[0];
  expect(q1?.request?.kind).toBe("in_doubt");
  const second = await wp.decide(first.threadId, { decisions: [{ type: "run_again" }] });
  expect(second.status).toBe("interrupted");
  const q2 = second.pending[0];
  expect(q2?.interruptId).not.toBe(q1?.interruptId);
  expect(control.effects.charge).toBe(2);
  const done = await wp.decide(first.threadId, { decisions: [{ type: "confirm_done" }] });
  expect(done.status).toBe("done");
  expect(control.effects.charge).toBe(2);
  expect(control.attempts.charge).toBe(2);
  const [row] = await ledgerRows(pool, first.threadId);
  expect(row).toMatchObject({ status: "succeeded", attempts: 2, resolution: "confirm_done", doubt_answers: 2 });
});

test("two calls in doubt in one ToolNode task are asked about one at a time, in the order the model made them", async () => {
  script([
    { name: "charge", item: "first" },
    { name: "charge", item: "second" },
    { name: "lookup", item: "stock" },
  ]);
  plan("charge", "lost", "lost");
  const first = await wp.start("toolnode", input("charge both"));
  expect(first.status).toBe("interrupted");
  expect(first.pending).toHaveLength(1);
  expect(first.pending[0]?.request?.actionRequests[0]).toMatchObject({ toolCallId: "call-0-0-charge", args: { item: "first" } });
  const second = await wp.decide(first.threadId, { decisions: [{ type: "confirm_done", message: "first went through" }] });
  expect(second.status).toBe("interrupted");
  expect(second.pending[0]?.request?.actionRequests[0]).toMatchObject({ toolCallId: "call-0-1-charge", args: { item: "second" } });
  const done = await wp.decide(first.threadId, { decisions: [{ type: "skip", message: "refunded it" }] });
  expect(done.status).toBe("done");
  expect(control.effects.charge).toBe(2);
  expect(control.attempts.charge).toBe(2);
  expect(control.attempts.lookup).toBe(1);
  const byId = new Map(toolMessages(done).map((m) => [m.tool_call_id, m.text]));
  expect(byId.get("call-0-0-charge")).toMatch(/first went through/);
  expect(byId.get("call-0-1-charge")).toMatch(/Skipped by a reviewer: refunded it/);
  expect(dangling(done)).toEqual([]);
});

test("a refusal (4xx) is final: the model hears why, nothing is retried or asked", async () => {
  script([{ name: "charge", item: "order-9" }]);
  plan("charge", "refused");
  const view = await wp.start("shop", input("charge it"));
  expect(view.status).toBe("done");
  expect(control.attempts.charge).toBe(1);
  expect(toolMessages(view)[0]).toMatchObject({ status: "error" });
  expect(toolMessages(view)[0]?.text).toMatch(/400 Bad Request \(card declined\)/);
});

test("a 429 says it was not applied: a non-deduping call is retried, not asked about", async () => {
  script([{ name: "charge", item: "order-10" }]);
  plan("charge", "limited", "ok");
  const view = await wp.start("shop", input("charge it"));
  expect(view.status).toBe("done");
  expect(control.attempts.charge).toBe(2);
  expect(control.effects.charge).toBe(1);
});

test("a system that keeps failing stops the run (the model is not handed the error); resuming tries it again, once", async () => {
  script([{ name: "ship", item: "crate" }]);
  plan("ship", "down", "down", "down");
  const stopped = await wp.start("shop", input("ship the crate")).catch((e: Error) => e);
  expect(stopped).toBeInstanceOf(Error);
  expect((stopped as Error).message).toMatch(/ship failed after 3 attempts: ship: 503 Service Unavailable/);
  const view = await wp.view(await threadOf(stopped as Error));
  expect(view.status).toBe("error");
  expect(toolMessages(view)).toEqual([]); // no error result reached the conversation
  expect(control.attempts.ship).toBe(3);
  const done = await wp.resume(view.threadId);
  expect(done.status).toBe("done");
  expect(control.attempts.ship).toBe(4);
  expect(control.effects.ship).toBe(1);
  expect(toolMessages(done)[0]?.text).toMatch(/ship done #1/);
});

async function threadOf(e: Error): Promise<string> {
  const id = /Thread ([0-9a-f-]{36})/.exec(e.message)?.[1];
  if (!id) throw e;
  return id;
}

test("a tool that interrupts itself is paused, not in doubt: answered, it runs from its first line, once", async () => {
  script([{ name: "ask", item: "shirt" }]);
  const waiting = await wp.start("shop", input("order a shirt"));
  expect(waiting.status).toBe("interrupted");
  expect(waiting.pending[0]?.value).toEqual({ question: "Which size of shirt?" });
  expect(waiting.pending[0]?.request).toBeUndefined();
  expect((await ledgerRows(pool, waiting.threadId))[0]).toMatchObject({ status: "rerun" });
  const done = await wp.resume(waiting.threadId, { value: "M" });
  expect(done.status).toBe("done");
  expect(control.effects.ask).toBe(1);
  expect(toolMessages(done)[0]?.text).toMatch(/size M/);
  expect((await ledgerRows(pool, waiting.threadId))[0]).toMatchObject({ status: "succeeded" });
});

test("a Command result (a message plus a state update) is recorded and replays as a Command", async () => {
  script([{ name: "notify", item: "parcel" }]);
  const view = await wp.start("shop", input("tell them"));
  expect(view.status).toBe("done");
  const [row] = await ledgerRows(pool, view.threadId);
  expect(row?.result).toMatchObject({ __waypoint_output: "command" });
  expect(toolMessages(view)[0]?.text).toBe("notified about parcel");
});

test("outside a Waypoint run (MemorySaver, plain invoke) the same tools run directly, in createReactAgent too", async () => {
  script([{ name: "ship", item: "lamp" }], [{ name: "lookup", item: "lamp" }]);
  const model = new ScriptedChatModel({ label: "plain", respond: (m) => control.reply(m) });
  const agent = createReactAgent({ llm: model, tools, checkpointSaver: new MemorySaver() });
  const out = await agent.invoke({ messages: [new HumanMessage("ship a lamp")] }, { configurable: { thread_id: "plain-1" } });
  const results = (out.messages as BaseMessage[]).filter((m) => ToolMessage.isInstance(m)).map((m) => m.text);
  expect(results).toEqual(["ship done #1 (lamp)", "lookup done #1 (lamp)"]);
  // The key a tool reads outside Waypoint is still derived from the call: stable for a retry of it.
  expect(control.keys.ship?.[0]).toMatch(/^[0-9a-f]{32}$/);
  expect(await pool.query("SELECT count(*)::int AS n FROM waypoint.tool_calls WHERE thread_id = 'plain-1'").then((r) => r.rows[0].n)).toBe(0);
});

test("a dangling tool call gets its answer before the next model call, next to its own call (ToolNode graph)", async () => {
  // A tools step that died with its call started: the thread errors; a new message arrives anyway.
  script([{ name: "ship", item: "vase" }]);
  plan("ship", "down", "down", "down");
  const stopped = await wp.start("toolnode", input("ship a vase")).catch((e: Error) => e);
  const threadId = await threadOf(stopped as Error);
  let seen: BaseMessage[] = [];
  control.reply = (messages) => {
    seen = messages;
    return new AIMessage({ id: "ai-after", content: "sorry about the vase" });
  };
  const view = await wp.run({ threadId, input: { messages: [{ role: "user", content: "any news?" }] } });
  expect(view.status).toBe("done");
  const kinds = seen.map((m) => m.getType());
  expect(kinds).toEqual(["human", "ai", "tool", "human"]);
  expect(seen[2]?.text).toMatch(/Error: ship: 503 Service Unavailable \(after 3 attempts\)/);
  expect(dangling(view)).toEqual([]);
});

test("a tool with a JSON schema (as MCP adapters make them) wraps the same way: recorded once, replayed", async () => {
  const { DynamicStructuredTool } = await import("@langchain/core/tools");
  const { ToolNode } = await import("@langchain/langgraph/prebuilt");
  const { durable } = await import("../src/index.js");
  const { withRunScope } = await import("../src/scope/index.js");
  const { testScope } = await import("./support/agents.js");
  let runs = 0;
  const mcp = new DynamicStructuredTool({
    name: "mcp_create_ticket",
    description: "Create a ticket (an MCP server's tool).",
    schema: { type: "object" as const, properties: { title: { type: "string" as const } }, required: ["title"] },
    func: async (a: Record<string, unknown>) => `ticket #${++runs}: ${String(a.title)}`,
  });
  const node = new ToolNode([durable(mcp, { risk: "mutate", dedupesByKey: true })]);
  const turn = { messages: [new AIMessage({ content: "", tool_calls: [{ id: "mcp-1", name: "mcp_create_ticket", args: { title: "printer" }, type: "tool_call" as const }] })] };
  const cfg = { configurable: { thread_id: "mcp-thread", checkpoint_ns: "tools:abc" } };
  const scope = testScope(pool, "mcp-thread");
  const first = (await withRunScope(scope, () => node.invoke(turn, cfg))) as { messages: ToolMessage[] };
  const again = (await withRunScope(scope, () => node.invoke(turn, cfg))) as { messages: ToolMessage[] };
  expect(first.messages[0]?.text).toBe("ticket #1: printer");
  expect(again.messages[0]?.text).toBe("ticket #1: printer");
  expect(runs).toBe(1);
  const bad = (await withRunScope(scope, () => node.invoke({ messages: [new AIMessage({ content: "", tool_calls: [{ id: "mcp-2", name: "mcp_create_ticket", args: {}, type: "tool_call" as const }] })] }, cfg))) as { messages: ToolMessage[] };
  expect(bad.messages[0]?.status).toBe("error"); // invalid args never reach the ledger
  expect((await ledgerRows(pool, "mcp-thread")).map((r) => r.tool_call_id)).toEqual(["mcp-1"]);
});
