// The README's "make an existing createAgent agent durable" example, run as written: its code block is
// extracted, given stand-ins for the three outside systems and a scripted model in place of the model
// string, and driven outside Waypoint (MemorySaver, plain invoke), where the wrapped tools run directly
// and humanInTheLoopMiddleware pauses before the invoice.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { AIMessage } from "@langchain/core/messages";
import { MemorySaver, Command } from "@langchain/langgraph";
import { PROJECT_ROOT } from "../src/config.js";

function exampleBlock(): string {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
  const section = readme.split("\n## Your own agent")[1];
  if (!section) throw new Error("README: no section 'Your own agent'");
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README: no ts block in 'Your own agent'");
  return block;
}

test("the README's durable() example runs as written", async () => {
  const code = exampleBlock();
  expect(code).toContain('model: "openai:gpt-4o-mini"');
  expect(code.split("\n").filter((l) => l.trim()).length).toBeLessThanOrEqual(32);
  const calls: string[] = [];
  (globalThis as Record<string, unknown>).__readme = { calls };
  const preamble = [
    'import { ScriptedChatModel } from "../../src/models/index.js";',
    'import { AIMessage as __AI } from "@langchain/core/messages";',
    "const __t = (globalThis as any).__readme;",
    'const billing = { send: async (a: unknown, o: { idempotencyKey: string }) => { __t.calls.push(`billing ${JSON.stringify(a)} ${o.idempotencyKey}`); return "invoice sent"; } };',
    'const crm = { find: async (c: string) => { __t.calls.push(`crm ${c}`); return JSON.stringify({ customer: c, phone: "+4799" }); } };',
    'const sms = { send: async (to: string, text: string) => { __t.calls.push(`sms ${to} ${text}`); return "sent"; } };',
    "let __turn = 0;",
    "const __script = (globalThis as any).__readme.script as __AI[];",
    'const __model = new ScriptedChatModel({ label: "readme", respond: () => __script[__turn++] ?? new __AI("done") });',
  ].join("\n");
  const dir = path.join(PROJECT_ROOT, "tests", ".tmp");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `readme-example-${process.pid}.ts`);
  fs.writeFileSync(file, `${preamble}\n${code.replace('model: "openai:gpt-4o-mini"', "model: __model")}`);
  (globalThis as Record<string, unknown>).__readme = {
    calls,
    script: [
      new AIMessage({ id: "m1", content: "", tool_calls: [{ id: "c1", name: "lookup", args: { customer: "Ada" }, type: "tool_call" }] }),
      new AIMessage({ id: "m2", content: "", tool_calls: [{ id: "c2", name: "send_invoice", args: { customer: "Ada", amount: 120 }, type: "tool_call" }] }),
      new AIMessage({ id: "m3", content: "Invoice sent." }),
    ],
  };
  try {
    const mod = (await import(pathToFileURL(file).href)) as { agent: { graph: unknown } & Record<string, never> };
    const { createAgent } = await import("langchain");
    expect(mod.agent).toBeDefined();
    // The same agent on a checkpointer of its own: what "still runs unchanged with MemorySaver" means.
    const agent = (mod.agent as unknown as ReturnType<typeof createAgent>) as unknown as { graph: { withConfig: unknown }; invoke: (i: unknown, c: unknown) => Promise<Record<string, unknown>> };
    const graph = (agent as unknown as { graph: { checkpointer?: unknown } }).graph;
    graph.checkpointer = new MemorySaver();
    const cfg = { configurable: { thread_id: "readme" } };
    const first = await agent.invoke({ messages: [{ role: "user", content: "Invoice Ada 120" }] }, cfg);
    expect(calls).toEqual(["crm Ada"]);
    expect(first.__interrupt__).toBeDefined(); // humanInTheLoopMiddleware waits before send_invoice
    const done = await agent.invoke(new Command({ resume: { decisions: [{ type: "approve" }] } }), cfg);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatch(/^billing \{"customer":"Ada","amount":120\} \S+$/);
    const last = (done.messages as Array<{ text: string }>).at(-1);
    expect(last?.text).toBe("Invoice sent.");
  } finally {
    fs.rmSync(file, { force: true });
  }
});
