// The review node: pauses risky tool calls for a human with interrupt(), then applies the decisions.
// It has no side effects before interrupt(): LangGraph re-runs it from its first line on resume.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { interrupt } from "@langchain/langgraph";
import { lastAIMessage, toolResultMessage, unansweredToolCalls, type DurableTool } from "../tools/index.js";
import { DECISION_TYPES, validateResponse, type ActionRequest, type HITLRequest, type ReviewContext } from "./hitl.js";

export interface ReviewNodeOptions {
  /** Every tool the agent has (edited args are validated against these schemas). */
  tools: DurableTool[];
  /** Names of tools whose calls a human reviews before they run. */
  reviewed: string[];
}

function summarise(result: string): string {
  return result.length > 160 ? `${result.slice(0, 157)}...` : result;
}

/** What is done and which artifacts exist, read off the conversation's tool results. */
export function progressOf(messages: BaseMessage[]): Pick<ReviewContext, "done" | "artifacts"> {
  const done: ReviewContext["done"] = [];
  const artifacts: ReviewContext["artifacts"] = [];
  for (const m of messages) {
    if (!ToolMessage.isInstance(m)) continue;
    const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
    const step = m.name ?? "tool";
    done.push({ step, outcome: m.status === "error" ? "failed" : "done", summary: summarise(text) });
    if (m.status === "error") continue;
    try {
      const result = JSON.parse(text) as Record<string, unknown>;
      for (const [k, v] of Object.entries(result)) if (k.endsWith("Ref") && typeof v === "string") artifacts.push({ kind: k.slice(0, -3), ref: v, from: step });
    } catch {
      // A plain-text result (e.g. a reviewer's "respond" message) has no artifacts.
    }
  }
  return { done, artifacts };
}

function describeCall(call: ToolCall, tool: DurableTool | undefined): string {
  const parsed = tool?.schema.safeParse(call.args);
  if (tool?.describe && parsed?.success) return tool.describe(parsed.data);
  return `${call.name}(${JSON.stringify(call.args)})`;
}

export function buildReviewRequest(messages: BaseMessage[], calls: ToolCall[], tools: DurableTool[]): HITLRequest {
  const actionRequests: ActionRequest[] = calls.map((c) => ({
    name: c.name,
    args: c.args,
    description: describeCall(c, tools.find((t) => t.name === c.name)),
    toolCallId: c.id ?? "",
  }));
  const names = [...new Set(calls.map((c) => c.name))];
  return {
    actionRequests,
    reviewConfigs: names.map((name) => ({
      actionName: name,
      allowedDecisions: [...DECISION_TYPES],
      ...(tools.find((t) => t.name === name) ? { argsSchema: tools.find((t) => t.name === name)?.jsonSchema } : {}),
    })),
    context: {
      ...progressOf(messages),
      nextStep: actionRequests.map((a) => a.description).join("; "),
      decisionOutcomes: {
        approve: "The action runs as proposed, then the agent continues.",
        edit: "The action runs with your arguments instead (checked against the tool's schema), then the agent continues.",
        reject: "The action does not run; your message goes back to the agent as the reason, and it continues without it.",
        respond: "The action does not run; your message is given to the agent as the action's result.",
      },
    },
  };
}

export function createReviewNode(opts: ReviewNodeOptions) {
  const reviewed = new Set(opts.reviewed);
  return function review(state: { messages: BaseMessage[] }): { messages?: BaseMessage[] } {
    const ai = lastAIMessage(state.messages);
    const calls = unansweredToolCalls(state.messages, ai).filter((c) => reviewed.has(c.name));
    if (!ai || calls.length === 0) return {};
    const request = buildReviewRequest(state.messages, calls, opts.tools);
    // Waypoint validates decisions before resuming; this second check covers raw LangGraph clients.
    const decisions = validateResponse(request, interrupt(request), opts.tools);

    const edited = new Map<string, Record<string, unknown>>();
    const answers: ToolMessage[] = [];
    decisions.forEach((d, i) => {
      const call = calls[i] as ToolCall;
      if (d.type === "edit") edited.set(call.id ?? "", d.editedAction.args);
      if (d.type === "reject") answers.push(toolResultMessage(call, `Rejected by reviewer${d.message ? `: ${d.message}` : "."}`, "error"));
      if (d.type === "respond") answers.push(toolResultMessage(call, d.message, "success"));
    });
    const out: BaseMessage[] = [];
    if (edited.size > 0) {
      // Same id: the messages reducer replaces the proposal with the edited call.
      out.push(
        new AIMessage({
          id: ai.id,
          content: ai.content,
          tool_calls: (ai.tool_calls ?? []).map((tc) => (edited.has(tc.id ?? "") ? { ...tc, args: edited.get(tc.id ?? "") ?? tc.args } : tc)),
        }),
      );
    }
    return { messages: [...out, ...answers] };
  };
}
