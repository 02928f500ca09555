// What a reviewer sees about proposed tool calls: the HITL request (LangChain v1 shape plus context:
// what is done, which artifacts exist, the next step, what each decision leads to). The node that asks
// is in src/agents/review.ts.
import { ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { ToolInfo } from "../tools/index.js";
import { DECISION_TYPES, type ActionRequest, type HITLRequest, type ReviewContext } from "./hitl.js";

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

/** What a call would do, in words: the tool's own description of these arguments, or name(args). */
export function describeCall(call: ToolCall, tool: ToolInfo | undefined): string {
  const parsed = tool?.schema?.safeParse(call.args);
  if (tool?.describe && (parsed === undefined || parsed.success)) return tool.describe(parsed?.success ? parsed.data : call.args);
  return `${call.name}(${JSON.stringify(call.args)})`;
}

/** `reasons[i]`, when given, says why call i needs review (the policy rule that asked for it). */
export function buildReviewRequest(messages: BaseMessage[], calls: ToolCall[], tools: ToolInfo[], reasons: string[] = []): HITLRequest {
  const actionRequests: ActionRequest[] = calls.map((c, i) => ({
    name: c.name,
    args: c.args,
    description: `${describeCall(c, tools.find((t) => t.name === c.name))}${reasons[i] ? ` (review: ${reasons[i]})` : ""}`,
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
      nextStep: calls.map((c) => describeCall(c, tools.find((t) => t.name === c.name))).join("; "),
      decisionOutcomes: { ...REVIEW_OUTCOMES },
    },
  };
}

const REVIEW_OUTCOMES = {
  approve: "The action runs as proposed, then the agent continues.",
  edit: "The action runs with your arguments instead (checked against the tool's schema), then the agent continues.",
  reject: "The action does not run; your message goes back to the agent as the reason, and it continues without it.",
  respond: "The action does not run; your message is given to the agent as the action's result.",
} as const;

/**
 * The context of a request made without one (humanInTheLoopMiddleware's, any graph's HITL-shaped
 * interrupt): what is done, read off the conversation's tool results, the proposed step, and what each
 * decision the request allows leads to.
 */
export function contextFromConversation(messages: BaseMessage[], request: Pick<HITLRequest, "actionRequests" | "reviewConfigs">): ReviewContext {
  const allowed = new Set(request.reviewConfigs.flatMap((c) => c.allowedDecisions));
  const outcomes: ReviewContext["decisionOutcomes"] = {};
  for (const [k, v] of Object.entries(REVIEW_OUTCOMES)) if (allowed.has(k as keyof typeof REVIEW_OUTCOMES)) outcomes[k as keyof typeof REVIEW_OUTCOMES] = v;
  return {
    ...progressOf(messages),
    nextStep: request.actionRequests.map((a) => a.description || `${a.name}(${JSON.stringify(a.args)})`).join("; "),
    decisionOutcomes: outcomes,
  };
}
