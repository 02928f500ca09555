// Bounded state on a real agent: past the token threshold older messages really leave state (a summary
// takes their place), while the transcript table still holds every message; the thread stays
// resumable; a 5 MB tool output is stored once, not once per checkpoint.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { readTranscript } from "../src/persistence/index.js";
import { ScriptedChatModel } from "../src/models/index.js";
import { Waypoint } from "../src/runs/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;

/** Ten turns of invoice lookups (a different filter each time), then a final answer. */
function lookups(turns: number) {
  let turn = 0;
  const prompts: BaseMessage[][] = [];
  const model = new ScriptedChatModel({
    label: "bounded-test-model",
    respond: (messages) => {
      prompts.push(messages);
      turn += 1;
      if (turn > turns) return new AIMessage({ id: `ai-final-${turn}`, content: "All invoices listed." });
      return new AIMessage({ id: `ai-${turn}`, content: `Looking at invoices of at least ${turn * 10} EUR.`, tool_calls: [{ id: `call-${turn}`, name: "list_invoices", args: { minAmount: turn * 10 }, type: "tool_call" }] });
    },
  });
  return { model, prompts };
}

beforeAll(async () => {
  db = await freshDatabase("bounded");
});
afterAll(async () => {
  await wp?.close();
  await db.drop();
});

test("summarisation replaces old messages in state; the transcript keeps every one; the model sees the summary", async () => {
  const { model, prompts } = lookups(10);
  wp = await Waypoint.open({ url: db.url, model, poolMax: 4, fallbackModel: null, summaryTokens: 1500 });
  const view = await wp.start("ops", { request: { text: "list the invoices, in ten looks" } }, { policy: { guards: { maxStepsWithoutProgress: 50, maxRepeats: 50 } } });
  expect(view.status).toBe("done");

  const state = view.values.messages as BaseMessage[];
  const ids = state.map((m) => m.id);
  // The task and a summary stay; old turns are gone from state.
  expect(ids[0]).toBe("task");
  expect(ids.some((id) => id?.startsWith("summary-"))).toBe(true);
  expect(ids).not.toContain("ai-1");
  expect(state.length).toBeLessThan(1 + 10 * 2 + 1);
  // No tool exchange was split by the summary.
  const answered = new Set(state.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
  for (const m of state) if (AIMessage.isInstance(m)) for (const c of m.tool_calls ?? []) expect(answered.has(c.id!)).toBe(true);

  // The transcript has every message the thread ever had: the task, 11 model turns, 10 tool results.
  const transcript = await readTranscript(wp.pool, view.threadId, { limit: 1000 });
  const tIds = new Set(transcript.map((r) => r.message_id));
  for (let i = 1; i <= 10; i++) {
    expect(tIds.has(`ai-${i}`)).toBe(true);
    expect(tIds.has(`tool-call-${i}`)).toBe(true);
  }
  expect(tIds.has("task")).toBe(true);
  expect(tIds.has("ai-final-11")).toBe(true);

  // The model was given the summary instead of the removed turns.
  const last = prompts.at(-1)!;
  expect(last.some((m) => String(m.content).startsWith("Summary of the conversation so far"))).toBe(true);
  expect(last.some((m) => m.id === "ai-1")).toBe(false);

  // History and resume still work on the compacted thread.
  const history = await wp.history(view.threadId, 500);
  expect(history.length).toBeGreaterThan(20);
  await expect(wp.resume(view.threadId)).rejects.toThrow(/has finished/);
});

test("a 5 MB tool output is stored once, not once per checkpoint", async () => {
  const big = "x".repeat(5 * 1024 * 1024);
  // query_world returns rows; make one row carry 5 MB through a real query.
  const model = new ScriptedChatModel({
    label: "big-output-model",
    respond: (messages) => {
      const turns = messages.filter((m) => AIMessage.isInstance(m)).length;
      if (turns === 0) return new AIMessage({ id: "big-1", content: "", tool_calls: [{ id: "big-call", name: "query_world", args: { query: `SELECT repeat('x', ${big.length}) AS blob` }, type: "tool_call" }] });
      if (turns <= 5) return new AIMessage({ id: `small-${turns}`, content: "", tool_calls: [{ id: `small-call-${turns}`, name: "list_vendors", args: { vendorId: "V-100" }, type: "tool_call" }] });
      return new AIMessage({ id: "big-done", content: "Done." });
    },
  });
  const wp2 = await Waypoint.open({ url: db.url, model, poolMax: 4, fallbackModel: null });
  try {
    const view = await wp2.start("ops", { request: { text: "big" } }, { policy: { guards: { maxStepsWithoutProgress: 50, maxRepeats: 50 } } });
    expect(view.status).toBe("done");
    const bytes = await wp2.pool.query<{ checkpoints: string; artifacts: string; n: string }>(
      `SELECT (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs WHERE thread_id = $1)
            + (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_writes WHERE thread_id = $1)
            + (SELECT coalesce(sum(octet_length(checkpoint::text)), 0) FROM checkpoints WHERE thread_id = $1) AS checkpoints,
              (SELECT coalesce(sum(bytes), 0) FROM waypoint.artifacts WHERE thread_id = $1) AS artifacts,
              (SELECT count(*) FROM waypoint.artifacts WHERE thread_id = $1) AS n`,
      [view.threadId],
    );
    const row = bytes.rows[0]!;
    expect(Number(row.n)).toBe(1);
    expect(Number(row.artifacts)).toBeGreaterThan(5 * 1024 * 1024);
    // Every checkpoint of the thread together holds far less than one copy of the output.
    expect(Number(row.checkpoints)).toBeLessThan(512 * 1024);
    const ledger = await wp2.pool.query("SELECT octet_length(result::text) AS n FROM waypoint.tool_calls WHERE thread_id = $1 AND tool_call_id = 'big-call'", [view.threadId]);
    expect(Number(ledger.rows[0].n)).toBeLessThan(10_000);
  } finally {
    await wp2.close();
  }
});
