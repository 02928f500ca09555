// Guardrails checked before a model turn's tool calls go anywhere. Hard limits (a forbidden tool, a
// spend limit) stop the run at once with the reason. Soft limits (token budget, wall-clock budget,
// turns without progress) and the loop detector (the same call again and again, an A-B-A-B pattern)
// pause it for a human with the numbers; so does a run about to hit LangGraph's recursion limit.
// Pure functions over the conversation: the review node (src/approvals) acts on what they return.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { GuardLimits } from "../approvals/policy.js";
import type { Oversight } from "../approvals/oversight-state.js";

export type GuardName = "forbidden_tool" | "spend_limit" | "token_budget" | "wall_clock" | "no_progress" | "repeated_call" | "alternation" | "recursion_limit";

export interface GuardTrip {
  guard: GuardName;
  /** In words, with the numbers. */
  reason: string;
  details: Record<string, unknown>;
  /** For a pause: what to remember when a human says "continue" (see GuardAck.mark). */
  mark: number | string;
}

export interface GuardInput {
  messages: BaseMessage[];
  /** The model turn being judged, and its calls not answered yet. */
  ai: AIMessage;
  calls: ToolCall[];
  limits: GuardLimits;
  oversight: Oversight;
  /** Amount already spent by this thread's succeeded calls of the spend-limited tools. */
  spent?: number;
  /** Milliseconds since the current run started (unknown outside Waypoint's runner). */
  runElapsedMs?: number | undefined;
  /** Super-steps taken in the current run, and the run's recursion limit. */
  stepsInRun?: number | undefined;
  recursionLimit?: number | undefined;
  now?: Date;
}

/** Steps one agent loop takes (agent, review, tools, doubt, and a re-review): pause this far from the limit. */
const RECURSION_MARGIN = 6;

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

/** One call, as the loop detector compares it: tool and arguments (not the call id). */
export function callSignature(call: Pick<ToolCall, "name" | "args">): string {
  const { confidence: _ignored, ...args } = call.args ?? {};
  return `${call.name}(${stable(args)})`;
}

function amountOf(call: ToolCall, arg: string): number {
  const v = call.args?.[arg];
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** Hard limits: a trip stops the run. */
export function checkHardLimits(input: GuardInput): GuardTrip | null {
  const { calls, limits } = input;
  const forbidden = new Set(limits.forbiddenTools ?? []);
  const bad = calls.find((c) => forbidden.has(c.name));
  if (bad) {
    return { guard: "forbidden_tool", reason: `the model called ${bad.name}, which this run may never use`, details: { tool: bad.name, args: bad.args }, mark: 0 };
  }
  const spend = limits.spendLimit;
  if (spend) {
    const spendTools = new Set(spend.tools);
    const proposed = calls.filter((c) => spendTools.has(c.name)).reduce((sum, c) => sum + amountOf(c, spend.arg), 0);
    const spent = input.spent ?? 0;
    if (proposed > 0 && spent + proposed > spend.limit) {
      return {
        guard: "spend_limit",
        reason: `spending ${proposed} more would bring this run's total to ${spent + proposed}, over its limit of ${spend.limit} (already spent ${spent})`,
        details: { spent, proposed, limit: spend.limit },
        mark: 0,
      };
    }
  }
  return null;
}

function lastAck(oversight: Oversight, guard: GuardName) {
  return [...oversight.acks].reverse().find((a) => a.guard === guard);
}

/** Model turns with tool calls, oldest first, after the turn a human last acknowledged for `guard`. */
function turnsSince(messages: BaseMessage[], ai: AIMessage, oversight: Oversight, guard: GuardName): AIMessage[] {
  const turns = messages.filter((m): m is AIMessage => AIMessage.isInstance(m) && (m.tool_calls?.length ?? 0) > 0);
  if (!turns.some((t) => t.id === ai.id)) turns.push(ai);
  const mark = lastAck(oversight, guard)?.mark;
  const at = typeof mark === "string" ? turns.findIndex((t) => t.id === mark) : -1;
  return at >= 0 ? turns.slice(at + 1) : turns;
}

/** Soft limits and loop detection: a trip pauses the run for a human. Checked in order; the first wins. */
export function checkSoftLimits(input: GuardInput): GuardTrip | null {
  const { messages, ai, limits, oversight } = input;
  const turnMark = ai.id ?? "";

  if (input.stepsInRun !== undefined && input.recursionLimit !== undefined && input.stepsInRun + RECURSION_MARGIN >= input.recursionLimit) {
    return {
      guard: "recursion_limit",
      reason: `this run has taken ${input.stepsInRun} steps and its limit is ${input.recursionLimit}; continuing starts a new run with a fresh limit`,
      details: { steps: input.stepsInRun, limit: input.recursionLimit },
      mark: turnMark,
    };
  }

  if (limits.tokenBudget) {
    const used = Object.values(oversight.tokens).reduce((a, b) => a + b, 0) + (ai.id && oversight.tokens[ai.id] === undefined ? (ai.usage_metadata?.total_tokens ?? 0) : 0);
    const since = Number(lastAck(oversight, "token_budget")?.mark ?? 0);
    if (used - since >= limits.tokenBudget) {
      return { guard: "token_budget", reason: `the model has used ${used} tokens; the budget is ${limits.tokenBudget}${since ? ` more after ${since}` : ""}`, details: { used, budget: limits.tokenBudget, since }, mark: used };
    }
  }

  if (limits.wallClockMs && input.runElapsedMs !== undefined) {
    const ack = lastAck(oversight, "wall_clock");
    const elapsed = ack ? Math.min(input.runElapsedMs, (input.now ?? new Date()).getTime() - new Date(ack.at).getTime()) : input.runElapsedMs;
    if (elapsed >= limits.wallClockMs) {
      return { guard: "wall_clock", reason: `this run has been going for ${Math.round(elapsed / 1000)} s; the budget is ${Math.round(limits.wallClockMs / 1000)} s`, details: { elapsedMs: elapsed, budgetMs: limits.wallClockMs }, mark: turnMark };
    }
  }

  if (limits.maxRepeats) {
    const turns = turnsSince(messages, ai, oversight, "repeated_call");
    const counts = new Map<string, number>();
    for (const t of turns) for (const c of t.tool_calls ?? []) counts.set(callSignature(c), (counts.get(callSignature(c)) ?? 0) + 1);
    for (const c of input.calls) {
      const n = counts.get(callSignature(c)) ?? 0;
      if (n >= limits.maxRepeats) {
        return { guard: "repeated_call", reason: `the model has proposed ${callSignature(c)} ${n} times`, details: { pattern: [callSignature(c)], times: n }, mark: turnMark };
      }
    }
  }

  if (limits.detectAlternation) {
    const sigs = turnsSince(messages, ai, oversight, "alternation").map((t) => (t.tool_calls ?? []).map(callSignature).sort().join(" + "));
    const [a, b, c, d] = sigs.slice(-4);
    if (sigs.length >= 4 && a === c && b === d && a !== b) {
      return { guard: "alternation", reason: `the model is alternating between two proposals: ${a} / ${b} / ${a} / ${b}`, details: { pattern: [a, b, a, b] }, mark: turnMark };
    }
  }

  if (limits.maxStepsWithoutProgress) {
    const turns = turnsSince(messages, ai, oversight, "no_progress");
    const results = new Map<string, ToolMessage>();
    for (const m of messages) if (ToolMessage.isInstance(m)) results.set(m.tool_call_id, m);
    const seen = new Set<string>();
    let stale = 0;
    for (const t of turns) {
      const answers = (t.tool_calls ?? []).map((c) => results.get(c.id ?? "")).filter((m): m is ToolMessage => m !== undefined);
      if (answers.length === 0) continue; // the turn being judged: no results yet
      const fresh = answers.filter((m) => m.status !== "error" && !seen.has(String(m.content)));
      for (const m of answers) seen.add(String(m.content));
      stale = fresh.length > 0 ? 0 : stale + 1;
    }
    if (stale >= limits.maxStepsWithoutProgress) {
      return {
        guard: "no_progress",
        reason: `the last ${stale} model turns produced no new successful tool result`,
        details: { turns: stale, limit: limits.maxStepsWithoutProgress, pattern: turns.slice(-stale - 1).map((t) => (t.tool_calls ?? []).map(callSignature).join(" + ")) },
        mark: turnMark,
      };
    }
  }
  return null;
}
