// Conversation compaction (pure): the token estimate, which messages a compaction drops (never half a
// tool exchange; the task and earlier summaries stay), the summary text, and the state update as both
// LangGraph messages reducers apply it.
import { AIMessage, HumanMessage, SystemMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { messagesDeltaReducer, messagesStateReducer } from "@langchain/langgraph";
import { compactionUpdate, estimateTokens, isSummaryMessage, planCompaction, summariseMessages, type CompactionPlan } from "../src/memory/summarise.js";
import { ScriptedChatModel } from "../src/models/index.js";

const task = () => new HumanMessage({ id: "task", content: "Onboard Ada Lovelace (ada@acme.test)." });
const ai = (id: string, text: string) => new AIMessage({ id, content: text });
const calls = (id: string, ...names: string[]) =>
  new AIMessage({ id, content: "", tool_calls: names.map((n, i) => ({ id: `${id}-call-${i}`, name: n, args: { n: i, pad: "x".repeat(40) }, type: "tool_call" as const })) });
const answer = (ai: AIMessage, i: number, text = "ok") => {
  const tc = ai.tool_calls![i]!;
  return new ToolMessage({ id: `tool-${tc.id}`, tool_call_id: tc.id!, name: tc.name, content: text });
};
const ids = (ms: BaseMessage[]) => ms.map((m) => m.id);

/** A long conversation: task, then rounds of (call, answers, remark). */
function conversation(rounds: number, parallel = 1, tag = ""): BaseMessage[] {
  const out: BaseMessage[] = [task()];
  for (let r = 1; r <= rounds; r++) {
    const c = calls(`ai-${r}${tag}`, ...Array.from({ length: parallel }, (_, i) => `tool_${i}`));
    out.push(c);
    for (let i = 0; i < parallel; i++) out.push(answer(c, i, `result ${r}.${i} `.padEnd(200, "-")));
    out.push(ai(`note-${r}${tag}`, `Round ${r} done.`));
  }
  return out;
}

/** Invariants every plan must hold, whatever the conversation. */
function checkPlan(messages: BaseMessage[], plan: CompactionPlan) {
  // keep and remove partition the conversation, each in order.
  const keepIds = new Set(ids(plan.keep));
  expect(ids(messages.filter((m) => keepIds.has(m.id)))).toEqual(ids(plan.keep));
  expect(ids(messages.filter((m) => !keepIds.has(m.id)))).toEqual(ids(plan.remove));
  // The task stays.
  const firstHuman = messages.find((m) => HumanMessage.isInstance(m) && !isSummaryMessage(m));
  if (firstHuman) expect(keepIds.has(firstHuman.id)).toBe(true);
  // No kept answer without its call, no kept call without the answers the conversation has.
  const askedBy = new Map<string, string>();
  for (const m of messages) if (AIMessage.isInstance(m)) for (const tc of m.tool_calls ?? []) askedBy.set(tc.id!, m.id!);
  const answered = new Map<string, string>();
  for (const m of messages) if (ToolMessage.isInstance(m)) answered.set(m.tool_call_id, m.id!);
  for (const m of plan.keep) {
    if (ToolMessage.isInstance(m) && askedBy.has(m.tool_call_id)) expect(keepIds.has(askedBy.get(m.tool_call_id))).toBe(true);
    if (AIMessage.isInstance(m)) for (const tc of m.tool_calls ?? []) if (answered.has(tc.id!)) expect(keepIds.has(answered.get(tc.id!))).toBe(true);
  }
}

describe("estimateTokens", () => {
  test("is characters / 4 plus 4 tokens of framing per message, tool calls included", () => {
    expect(estimateTokens([])).toBe(0);
    expect(estimateTokens([new HumanMessage("x".repeat(400))])).toBe(100 + 4);
    const c = new AIMessage({ content: "", tool_calls: [{ id: "1", name: "abcd", args: { a: 1 }, type: "tool_call" }] }); // 4 + 7 chars
    expect(estimateTokens([c])).toBe(Math.ceil(11 / 4) + 4);
    expect(estimateTokens([new HumanMessage({ content: [{ type: "text", text: "y".repeat(80) }] })])).toBe(20 + 4);
  });
});

describe("planCompaction", () => {
  test("null while the conversation fits, and always with maxTokens 0 (never)", () => {
    const m = conversation(3);
    expect(planCompaction(m, { maxTokens: estimateTokens(m), keepRecent: 2 })).toBeNull();
    expect(planCompaction(m, { maxTokens: 0, keepRecent: 2 })).toBeNull();
  });

  test("keeps the task and the recent tail, drops the rest in order", () => {
    const m = conversation(5);
    const plan = planCompaction(m, { maxTokens: 100, keepRecent: 3 })!;
    // The last three are (call 5, answer 5, note 5): a whole round.
    expect(ids(plan.keep)).toEqual(["task", "ai-5", "tool-ai-5-call-0", "note-5"]);
    expect(ids(plan.remove)).toEqual(ids(m.slice(1, m.length - 3)));
    checkPlan(m, plan);
  });

  test("an edge between a call and its answers keeps the whole exchange", () => {
    const m = conversation(4, 3); // rounds of: call (3 tool calls), 3 answers, note
    // keepRecent 3 lands on the last two answers and the note: the call and its first answer come too.
    const plan = planCompaction(m, { maxTokens: 100, keepRecent: 3 })!;
    expect(ids(plan.keep)).toEqual(["task", "ai-4", "tool-ai-4-call-0", "tool-ai-4-call-1", "tool-ai-4-call-2", "note-4"]);
    checkPlan(m, plan);
  });

  test("an answer that arrived late (a closed dangling call) keeps its early call", () => {
    const early = calls("ai-early", "create_account");
    const m: BaseMessage[] = [task(), early, ai("n1", "a".repeat(2000)), ai("n2", "b".repeat(2000)), answer(early, 0, "interrupted"), ai("last", "done")];
    const plan = planCompaction(m, { maxTokens: 50, keepRecent: 2 })!;
    expect(ids(plan.keep)).toEqual(["task", "ai-early", `tool-ai-early-call-0`, "last"]);
    expect(ids(plan.remove)).toEqual(["n1", "n2"]);
    checkPlan(m, plan);
  });

  test("an earlier summary is folded into the new one; the task is the first human message that is not a summary", async () => {
    const earlier = new HumanMessage({ id: "summary-1", content: "Summary of the conversation so far (9 messages removed ...):\n- account acct-7 created" });
    const m = [conversation(4)[0]!, earlier, ...conversation(4).slice(1)];
    const plan = planCompaction(m, { maxTokens: 100, keepRecent: 3 })!;
    expect(ids(plan.keep)[0]).toBe("task");
    expect(ids(plan.remove)).toContain("summary-1");
    checkPlan(m, plan);
    const text = await summariseMessages(plan.remove);
    expect(text).toContain("- account acct-7 created");
    expect(text).not.toContain("Summary of the conversation so far");
  });

  test("an extractive summary stays under maxChars, dropping its oldest lines", async () => {
    const m = conversation(12, 2);
    const plan = planCompaction(m, { maxTokens: 100, keepRecent: 2 })!;
    const text = await summariseMessages(plan.remove, { maxChars: 600 });
    expect(text.length).toBeLessThanOrEqual(600 + 80);
    expect(text.split("\n")[0]).toMatch(/older lines omitted here; the transcript has them/);
  });

  test("null when nothing can go (the tail covers everything)", () => {
    const m = conversation(2);
    expect(planCompaction(m, { maxTokens: 10, keepRecent: m.length })).toBeNull();
  });

  test("holds its invariants on many random conversations", () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let run = 0; run < 300; run++) {
      const m: BaseMessage[] = [];
      if (rand(4) === 0) m.push(new SystemMessage({ id: `sys-${run}`, content: "s" }));
      if (rand(3) === 0) m.push(new HumanMessage({ id: "summary-1", content: "old summary" }));
      m.push(task());
      const open: Array<{ ai: AIMessage; i: number }> = [];
      for (let k = 0; k < 5 + rand(30); k++) {
        const kind = rand(4);
        if (kind === 0) {
          const c = calls(`ai-${run}-${k}`, ...Array.from({ length: 1 + rand(3) }, (_, i) => `t${i}`));
          m.push(c);
          c.tool_calls!.forEach((_, i) => open.push({ ai: c, i }));
        } else if (kind === 1 && open.length > 0) {
          // Answers may come late and out of order.
          const [o] = open.splice(rand(open.length), 1);
          m.push(answer(o!.ai, o!.i, "r".repeat(rand(300))));
        } else if (kind === 2) m.push(new HumanMessage({ id: `h-${run}-${k}`, content: "more" }));
        else m.push(ai(`say-${run}-${k}`, "z".repeat(rand(500))));
      }
      const plan = planCompaction(m, { maxTokens: 20, keepRecent: rand(8) });
      if (plan) {
        checkPlan(m, plan);
        expect(plan.remove.length).toBeGreaterThan(0);
      }
    }
  });
});

describe("summariseMessages", () => {
  test("without a model: one line per message (type, tool name, first 200 characters)", async () => {
    const c = calls("ai-1", "create_account");
    const text = await summariseMessages([c, answer(c, 0, `{"accountRef":"acct-7"} ${"x".repeat(500)}`), ai("n", "Account created.")]);
    const lines = text.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^- ai calls create_account\(\{"n":0,/);
    expect(lines[1]).toMatch(/^- tool create_account: \{"accountRef":"acct-7"\} x+…$/);
    expect(lines[1]!.length).toBeLessThan(260);
    expect(lines[2]).toBe("- ai: Account created.");
  });

  test("with a model: asks for a concise summary of the messages and returns its text", async () => {
    const prompts: BaseMessage[][] = [];
    const model = new ScriptedChatModel({
      label: "summariser",
      respond: (messages) => {
        prompts.push(messages);
        return new AIMessage("Account acct-7 created for ada@acme.test; privileges not granted yet.");
      },
    });
    const c = calls("ai-1", "create_account");
    const text = await summariseMessages([task(), c, answer(c, 0, '{"accountRef":"acct-7"}')], { model });
    expect(text).toBe("Account acct-7 created for ada@acme.test; privileges not granted yet.");
    expect(prompts).toHaveLength(1);
    const [system, human] = prompts[0]!;
    expect(system!.content).toMatch(/ids, references/);
    expect(system!.content).toMatch(/done .* not done/);
    expect(human!.content).toContain("acct-7");
    expect(human!.content).toContain("ada@acme.test");
  });
});

describe("compactionUpdate", () => {
  test.each([
    ["messagesStateReducer", (old: BaseMessage[], update: BaseMessage[]) => messagesStateReducer(old, update)],
    ["messagesDeltaReducer", (old: BaseMessage[], update: BaseMessage[]) => messagesDeltaReducer(old, [update])],
  ])("%s turns the old list plus the update into exactly [task, summary, ...rest of keep]", async (_name, reduce) => {
    const m = conversation(6, 2);
    const plan = planCompaction(m, { maxTokens: 100, keepRecent: 4 })!;
    const update = compactionUpdate(plan, await summariseMessages(plan.remove));
    const after = reduce(m, update);
    expect(ids(after)).toEqual(["task", "summary-1", ...ids(plan.keep).slice(1)]);
    expect([after[0], ...after.slice(2)]).toEqual(plan.keep);
    const summary = after[1]!;
    expect(HumanMessage.isInstance(summary)).toBe(true);
    expect(summary.content as string).toMatch(new RegExp(`^Summary of the conversation so far \\(${plan.remove.length} messages removed from state; the full transcript is kept\\):\\n- ai calls`));

    // A second compaction folds the first summary in and numbers the new one after it.
    const longer = [...after, ...conversation(6, 2, "-b").slice(1)];
    const plan2 = planCompaction(longer, { maxTokens: 100, keepRecent: 2 })!;
    const after2 = reduce(longer, compactionUpdate(plan2, "second"));
    expect(ids(after2).slice(0, 2)).toEqual(["task", "summary-2"]);
    expect(ids(after2)).not.toContain("summary-1");
    expect(estimateTokens(after2)).toBeLessThan(estimateTokens(longer));
  });
});

describe("the offline planner after a compaction", () => {
  test("does not call again a tool whose result only the summary still holds", async () => {
    const { planNextStep } = await import("../src/models/offline.js");
    const tools = [
      { name: "list_vendors", description: "", parameters: { type: "object", properties: {} } },
      { name: "list_invoices", description: "", parameters: { type: "object", properties: {} } },
    ];
    const task = new HumanMessage({ id: "task", content: "go" });
    const first = planNextStep([task], tools);
    expect(first.tool_calls?.[0]?.name).toBe("list_vendors");
    const done = [task, first, new ToolMessage({ id: "t1", tool_call_id: first.tool_calls![0]!.id!, name: "list_vendors", content: '{"count":6}' })];
    const plan = planCompaction(done, { maxTokens: 1, keepRecent: 0 })!;
    const compacted = messagesStateReducer(done, compactionUpdate(plan, await summariseMessages(plan.remove)));
    expect(ids(compacted)).toEqual(["task", "summary-1"]);
    const next = planNextStep(compacted, tools);
    expect(next.tool_calls?.[0]?.name).toBe("list_invoices");
    expect(next.tool_calls?.[0]?.id).not.toBe(first.tool_calls?.[0]?.id);
  });
});
