// Runs an AIMessage's tool calls through the ledger (in parallel) and keeps the conversation well
// formed: every tool call gets exactly one ToolMessage.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type pg from "pg";
import type { World } from "../world/index.js";
import { describeZodError, type DurableTool } from "./durable-tool.js";
import { runThroughLedger } from "./ledger.js";

export interface ExecuteContext {
  pool: pg.Pool;
  world: World;
  threadId: string;
  /** Stable namespace (see stableNamespace). */
  checkpointNs: string;
}

/** The last AIMessage of the conversation, if the conversation ends with one's turn. */
export function lastAIMessage(messages: BaseMessage[]): AIMessage | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && AIMessage.isInstance(m)) return m;
  }
  return undefined;
}

/** Tool calls of `ai` that have no ToolMessage yet in `messages`. */
export function unansweredToolCalls(messages: BaseMessage[], ai: AIMessage | undefined): ToolCall[] {
  if (!ai) return [];
  const answered = new Set(messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
  return (ai.tool_calls ?? []).filter((tc) => tc.id !== undefined && !answered.has(tc.id));
}

export function toolResultMessage(call: ToolCall, content: string, status: "success" | "error"): ToolMessage {
  return new ToolMessage({ id: `tool-${call.id}`, tool_call_id: call.id ?? "", name: call.name, content, status });
}

async function runOne(call: ToolCall, tools: Map<string, DurableTool>, ctx: ExecuteContext): Promise<ToolMessage> {
  const tool = tools.get(call.name);
  if (!tool) return toolResultMessage(call, `Error: there is no tool named "${call.name}". Tools: ${[...tools.keys()].join(", ")}.`, "error");
  const parsed = tool.schema.safeParse(call.args);
  if (!parsed.success) return toolResultMessage(call, `Error: invalid arguments for ${call.name}: ${describeZodError(parsed.error)}`, "error");
  const outcome = await runThroughLedger(
    ctx.pool,
    { threadId: ctx.threadId, checkpointNs: ctx.checkpointNs, toolCallId: call.id ?? "" },
    { tool: tool.name, risk: tool.risk, args: parsed.data },
    (idempotencyKey) => tool.run(parsed.data, { idempotencyKey, world: ctx.world, threadId: ctx.threadId }),
  );
  return outcome.ok ? toolResultMessage(call, JSON.stringify(outcome.result), "success") : toolResultMessage(call, `Error: ${outcome.error}`, "error");
}

/** Execute the given calls in parallel, each exactly once per tool call id. */
export async function executeToolCalls(calls: ToolCall[], tools: DurableTool[], ctx: ExecuteContext): Promise<ToolMessage[]> {
  const byName = new Map(tools.map((t) => [t.name, t]));
  return Promise.all(calls.map((c) => runOne(c, byName, ctx)));
}

/**
 * ToolMessages for every tool call in the conversation that has none, so that a model is never called
 * with a dangling tool call (providers reject that and the thread would be stuck).
 */
export function closeDanglingToolCalls(messages: BaseMessage[]): ToolMessage[] {
  const answered = new Set(messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
  const out: ToolMessage[] = [];
  for (const m of messages) {
    if (!AIMessage.isInstance(m)) continue;
    for (const tc of m.tool_calls ?? []) {
      if (tc.id && !answered.has(tc.id)) out.push(toolResultMessage(tc, "Error: this tool call was interrupted before it produced a result; it did not run.", "error"));
    }
  }
  return out;
}
