// How the output of a LangChain tool wrapped by durable() is kept in the ledger, and given back on
// replay exactly as the tool gave it the first time: a ToolMessage (content, artifact, status), a
// Command (a state update, e.g. a hand-off), or a plain value (a tool invoked without a tool call).
import { load } from "@langchain/core/load";
import { ToolMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { Command, isCommand } from "@langchain/langgraph";

/** The marker key of a recorded output (a DurableTool's results are plain objects without it). */
export const RECORDED = "__waypoint_output";

type Recorded =
  | { [RECORDED]: "message"; content: unknown; artifact?: unknown; status?: "success" | "error"; name?: string }
  | { [RECORDED]: "command"; command: { update?: unknown; goto?: unknown; graph?: string } }
  | { [RECORDED]: "value"; value: unknown };

const json = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

export function isRecordedOutput(result: unknown): boolean {
  return typeof result === "object" && result !== null && RECORDED in result;
}

/** The ledger record of a tool's output. Anything that is not JSON (a function, a cycle) fails here, before it is recorded. */
export function recordOutput(output: unknown): Record<string, unknown> {
  if (ToolMessage.isInstance(output)) {
    const m = output as ToolMessage;
    return { [RECORDED]: "message", content: json(m.content), ...(m.artifact !== undefined ? { artifact: json(m.artifact) } : {}), ...(m.status ? { status: m.status } : {}), ...(m.name ? { name: m.name } : {}) };
  }
  if (isCommand(output)) {
    const c = output as Command;
    return { [RECORDED]: "command", command: { ...(c.update !== undefined ? { update: json(c.update) } : {}), ...(c.goto !== undefined ? { goto: json(c.goto) } : {}), ...(c.graph ? { graph: c.graph } : {}) } };
  }
  return { [RECORDED]: "value", value: json(output) ?? null };
}

/** The output a record stands for, for the same tool call. Messages inside a Command come back as messages. */
export async function replayOutput(record: Record<string, unknown>, call: ToolCall | undefined): Promise<unknown> {
  const r = record as Recorded;
  if (r[RECORDED] === "command") {
    const revived = (v: unknown) => (v === undefined ? undefined : load(JSON.stringify(v)));
    const update = await revived(r.command.update);
    const goto = r.command.goto;
    return new Command({ ...(update !== undefined ? { update: update as Record<string, unknown> } : {}), ...(goto !== undefined ? { goto: goto as string } : {}), ...(r.command.graph ? { graph: r.command.graph } : {}) });
  }
  if (r[RECORDED] === "message" || call?.id) return recordedMessage(record, call);
  return r[RECORDED] === "value" ? r.value : record;
}

/** A ToolMessage for `call` from a record (what a dangling call is closed with, and a replay's answer). */
export function recordedMessage(record: Record<string, unknown>, call: Pick<ToolCall, "id" | "name"> | undefined, note?: string): ToolMessage {
  const r = record as Recorded;
  let content: unknown;
  let extra: { artifact?: unknown; status?: "success" | "error"; name?: string } = {};
  if (r[RECORDED] === "message") {
    content = r.content;
    extra = { ...(r.artifact !== undefined ? { artifact: r.artifact } : {}), ...(r.status ? { status: r.status } : {}), ...(r.name ? { name: r.name } : {}) };
  } else if (r[RECORDED] === "value") content = typeof r.value === "string" ? r.value : JSON.stringify(r.value);
  else if (r[RECORDED] === "command") content = "The call returned a state update (recorded).";
  else content = JSON.stringify(record);
  if (note && typeof content === "string") content = `${content}\n(${note})`;
  return new ToolMessage({
    tool_call_id: call?.id ?? "",
    name: extra.name ?? call?.name,
    content: content as string,
    status: extra.status ?? "success",
    ...(extra.artifact !== undefined ? { artifact: extra.artifact } : {}),
  });
}
