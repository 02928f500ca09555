// The offline planner: a deterministic stand-in for an LLM, used when OPENAI_API_KEY is unset.
// It calls each bound tool once, in the order bound, filling arguments from the facts in the prompt
// (```json blocks) and earlier tool results; then it writes a summary. It never invents a value: a
// required argument it cannot find ends the plan with a message naming it.
import { createHash } from "node:crypto";
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { ScriptedChatModel, splitText, type ToolSpec } from "./scripted.js";

export const OFFLINE_MODEL_NAME = "waypoint-offline-planner";

function jsonBlocks(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const m of text.matchAll(/```json\s*([\s\S]*?)```/g)) {
    try {
      const v: unknown = JSON.parse(m[1] ?? "");
      if (v && typeof v === "object" && !Array.isArray(v)) out.push(v as Record<string, unknown>);
    } catch {
      // Not JSON: prose that happens to use a json fence; ignore it.
    }
  }
  return out;
}


function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Plan the next step for the conversation with the bound tools. */
export function planNextStep(messages: BaseMessage[], tools: ToolSpec[]): AIMessage {
  const toolResults = messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m));
  const calledTools = new Map<string, ToolMessage>();
  for (const ai of messages) {
    if (!AIMessage.isInstance(ai)) continue;
    for (const tc of ai.tool_calls ?? []) {
      const answer = toolResults.find((t) => t.tool_call_id === tc.id);
      if (answer) calledTools.set(tc.name, answer);
    }
  }
  // Calls a summary replaced in state are still done: an extractive summary lists their results as
  // "- tool <name>: <result>" lines (src/memory/summarise.ts).
  for (const m of messages) {
    if (m.getType() !== "human" || !String(m.id ?? "").startsWith("summary-")) continue;
    for (const line of m.text.matchAll(/^- tool (\S+)( \(error\))?: (.*)$/gm)) {
      const [, name = "", failed, result = ""] = line;
      if (!calledTools.has(name)) calledTools.set(name, new ToolMessage({ tool_call_id: "summarised", name, content: result, status: failed ? "error" : "success" }));
    }
  }
  const facts: Record<string, unknown> = {};
  for (const t of toolResults) if (t.status !== "error") Object.assign(facts, parseJson(t.text));
  for (const m of messages) if (m.getType() === "system" || m.getType() === "human") for (const b of jsonBlocks(m.text)) Object.assign(facts, b);

  const turn = messages.filter((m) => AIMessage.isInstance(m)).length;
  // Ids must never repeat in a thread (the ledger is keyed by tool call id, and the messages reducer
  // replaces a message with the same id), also after summarisation removed older turns: the turn number
  // plus a digest of the conversation so far keeps them unique and still deterministic.
  const digest = createHash("sha256").update(messages.map((m) => m.id ?? m.text).join("\n")).digest("hex").slice(0, 8);
  for (const tool of tools) {
    if (calledTools.has(tool.name)) continue;
    const props = (tool.parameters.properties ?? {}) as Record<string, unknown>;
    const required = new Set((tool.parameters.required ?? []) as string[]);
    const args: Record<string, unknown> = {};
    for (const key of Object.keys(props)) {
      if (facts[key] !== undefined) args[key] = facts[key];
      else if (required.has(key)) {
        return new AIMessage({ id: `offline-${turn}-${digest}`, content: `I cannot call ${tool.name}: I do not know its required argument "${key}".` });
      }
    }
    return new AIMessage({ id: `offline-${turn}-${digest}`, content: "", tool_calls: [{ id: `call_${turn}_${digest}_${tool.name}`, name: tool.name, args, type: "tool_call" }] });
  }
  const lines = [...calledTools].map(([name, result]) => (result.status === "error" ? `- ${name}: not done (${result.text})` : `- ${name}: done ${result.text}`));
  return new AIMessage({ id: `offline-${turn}-${digest}`, content: lines.length ? `Finished.\n${lines.join("\n")}` : "Nothing to do." });
}

/** A reply's text in up to four pieces of whole words: enough for a chat UI to show it arriving. */
export function offlineChunks(text: string): string[] {
  const words = splitText(text, "words");
  const size = Math.ceil(words.length / Math.min(4, Math.max(1, words.length)));
  const out: string[] = [];
  for (let i = 0; i < words.length; i += size) out.push(words.slice(i, i + size).join(""));
  return out;
}

export function offlinePlannerModel(): ScriptedChatModel {
  // Its text streams in a few chunks, so streaming shows in a chat UI with no API key.
  return new ScriptedChatModel({ label: OFFLINE_MODEL_NAME, respond: planNextStep, chunks: offlineChunks });
}
