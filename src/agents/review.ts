// The review node: every model turn's tool calls pass here before they run. In order:
//   1. hard guardrails (forbidden tool, spend limit) stop the run at once, with the reason;
//   2. soft guardrails and the loop detector pause it for a human, with the numbers;
//   3. the oversight policy decides each call: deny (the model is told why), a missing permission
//      scope (a human grants it for the call or the run, or refuses), review (a human approves, edits,
//      rejects or answers), or auto (it runs; the decision is audited).
// Each pass asks at most one question (one interrupt()), then comes back to this node for the next, so
// every question gets its own interrupt id. Nothing is written before interrupt(): LangGraph re-runs a
// node from its first line on resume. Audit rows are written after, idempotently.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { Command, END, interrupt, type LangGraphRunnableConfig } from "@langchain/langgraph";
import {
  buildReviewRequest,
  confidenceOf,
  describeCall,
  evaluateCall,
  guardLimits,
  mergePolicies,
  progressOf,
  recordAudit,
  validateResponse,
  SCOPE_DECISION_TYPES,
  EMPTY_OVERSIGHT,
  type AuditInput,
  type HITLRequest,
  type Oversight,
  type OversightUpdate,
  type Policy,
  type ScopeGrant,
  type Verdict,
} from "../approvals/index.js";
import { checkHardLimits, checkSoftLimits, type GuardTrip } from "../guards/index.js";
import { lastAIMessage, ledgerRows, toolResultMessage, unansweredToolCalls, type DurableTool } from "../tools/index.js";
import { resolveContext, type ResolvedContext } from "./context.js";

export interface ReviewNodeOptions {
  /** Every tool the agent has (edited args are validated against these schemas). */
  tools: DurableTool[];
  /** The agent's built-in policy, used when the run carries none (LangGraph Studio, plain LangGraph). */
  policy: Policy;
  /** Node names to go on to: the tools node, and the agent when nothing is left to run. */
  next?: { tools: string; agent: string };
}

/** Where a review node can go: declare as `ends` when adding it to a graph. */
export function reviewEnds(next: { tools: string; agent: string } = { tools: "tools", agent: "agent" }, self = "review"): string[] {
  return [next.tools, next.agent, self, END];
}

type ReviewState = { messages: BaseMessage[]; oversight?: Oversight };

/** Scopes the run holds for `call`: the policy's, those granted for the run, and those granted for this call. */
function heldScopes(policy: Policy, oversight: Oversight, call: ToolCall): Set<string> {
  const held = new Set(policy.scopes ?? []);
  for (const g of oversight.grants) if (g.for === "run" || g.toolCallId === call.id) held.add(g.scope);
  return held;
}

async function amountSpent(ctx: ResolvedContext, policy: Policy): Promise<number> {
  const spend = guardLimits(policy).spendLimit;
  if (!spend) return 0;
  const tools = new Set(spend.tools);
  const rows = await ledgerRows(ctx.pool, ctx.threadId);
  return rows.filter((r) => r.status === "succeeded" && tools.has(r.tool)).reduce((sum, r) => sum + (typeof r.args[spend.arg] === "number" ? (r.args[spend.arg] as number) : 0), 0);
}

function guardRequest(trip: GuardTrip, ai: AIMessage, calls: ToolCall[], tools: DurableTool[], messages: BaseMessage[]): HITLRequest {
  const proposed = calls.map((c) => describeCall(c, tools.find((t) => t.name === c.name))).join("; ");
  const name = `guard:${trip.guard}`;
  return {
    kind: "guard",
    actionRequests: [{ name, args: trip.details, description: `Paused: ${trip.reason}. The model wants next: ${proposed}`, toolCallId: ai.id ?? "" }],
    reviewConfigs: [
      {
        actionName: name,
        allowedDecisions: ["choose", "respond"],
        options: [
          { id: "continue", description: "Let the run go on (the budget starts again from here; the pattern is forgiven)." },
          { id: "stop", description: "End the run here: the proposed calls do not run." },
        ],
      },
    ],
    context: {
      ...progressOf(messages),
      nextStep: proposed,
      decisionOutcomes: {
        choose: "continue: the run goes on from here; stop: the run ends without the proposed calls.",
        respond: "The proposed calls do not run; your message goes to the agent, which continues with it.",
      },
    },
  };
}

function scopeRequest(pending: Array<{ call: ToolCall; verdict: Verdict }>, tools: DurableTool[], messages: BaseMessage[]): HITLRequest {
  const names = [...new Set(pending.map((p) => p.call.name))];
  return {
    kind: "scope",
    actionRequests: pending.map(({ call, verdict }) => ({
      name: call.name,
      args: call.args,
      description: `${describeCall(call, tools.find((t) => t.name === call.name))}: needs ${verdict.missingScopes.map((s) => `"${s}"`).join(", ")}, which this run does not hold`,
      toolCallId: call.id ?? "",
    })),
    reviewConfigs: names.map((n) => ({ actionName: n, allowedDecisions: [...SCOPE_DECISION_TYPES] })),
    context: {
      ...progressOf(messages),
      nextStep: pending.map((p) => describeCall(p.call, tools.find((t) => t.name === p.call.name))).join("; "),
      decisionOutcomes: {
        grant_once: "The scope is granted for this call only; the call then goes through the rest of the policy (it may still need review).",
        grant_for_run: "The scope is granted for this call and every later call of this run.",
        reject: "The scope is refused: the call does not run, and the agent is told to find another way.",
      },
    },
  };
}

function stopUpdate(trip: GuardTrip, ai: AIMessage, calls: ToolCall[], by: string): { messages: BaseMessage[]; oversight: OversightUpdate } {
  return {
    messages: [
      ...calls.map((c) => toolResultMessage(c, `Not run: the run was stopped (${trip.reason}).`, "error")),
      new AIMessage({ id: `stopped-${ai.id ?? "run"}`, content: `Stopped by ${by}: ${trip.reason}.` }),
    ],
    oversight: { stopped: { guard: trip.guard, reason: trip.reason, at: new Date().toISOString() } },
  };
}

export function createReviewNode(opts: ReviewNodeOptions) {
  const next = opts.next ?? { tools: "tools", agent: "agent" };
  const byName = new Map(opts.tools.map((t) => [t.name, t]));

  return async function review(state: ReviewState, config: LangGraphRunnableConfig): Promise<Command> {
    const ctx = await resolveContext(config);
    // The thread's stored policy (configured file, run overrides) goes over the graph's built-in one.
    const policy = ctx.policy ? mergePolicies(opts.policy, ctx.policy) : opts.policy;
    const oversight = state.oversight ?? EMPTY_OVERSIGHT;
    const ai = lastAIMessage(state.messages);
    const calls = unansweredToolCalls(state.messages, ai);
    if (!ai || calls.length === 0) return new Command({ goto: next.agent });
    const audit = (e: Omit<AuditInput, "threadId" | "agent" | "checkpointNs">): AuditInput => ({ threadId: ctx.threadId, agent: ctx.agent, checkpointNs: ctx.checkpointNs, ...e });
    const tokens: OversightUpdate = ai.id && ai.usage_metadata?.total_tokens !== undefined ? { tokens: { [ai.id]: ai.usage_metadata.total_tokens } } : {};
    // The token count of this turn, when the model reported one (no empty update otherwise).
    const counted = Object.keys(tokens).length > 0 ? { oversight: tokens } : {};
    const limits = guardLimits(policy);

    // 1. Hard limits.
    const guardInput = {
      messages: state.messages,
      ai,
      calls,
      limits,
      oversight,
      spent: await amountSpent(ctx, policy),
      ...(ctx.run ? { runElapsedMs: Date.now() - ctx.run.startedAt, recursionLimit: ctx.run.recursionLimit } : {}),
      // The recursion limit counts the steps of the graph being run; a sub-agent's own steps restart with it.
      ...(ctx.run && ctx.checkpointNs === "" ? { stepsInRun: Number(config.metadata?.langgraph_step ?? 0) - ctx.run.startStep } : {}),
    };
    const hard = checkHardLimits(guardInput);
    if (hard) {
      await recordAudit(ctx.pool, [audit({ subject: `${ai.id}:${hard.guard}`, action: "guard_stopped", actor: "guard", rule: `guards.${hard.guard}`, reason: hard.reason, details: hard.details })]);
      const update = stopUpdate(hard, ai, calls, "a hard limit");
      return new Command({ update: { ...update, oversight: { ...update.oversight, ...tokens } }, goto: END });
    }

    // 2. Soft limits and loops: one question, then back here.
    const soft = checkSoftLimits(guardInput);
    if (soft) {
      const request = guardRequest(soft, ai, calls, opts.tools, state.messages);
      const [decision] = validateResponse(request, interrupt(request), opts.tools);
      const chose = decision?.type === "choose" ? decision.option : decision?.type;
      await recordAudit(ctx.pool, [
        audit({ subject: `${ai.id}:${soft.guard}`, action: "guard_paused", actor: "reviewer", rule: `guards.${soft.guard}`, reason: soft.reason, details: { ...soft.details, decision: chose } }),
      ]);
      const ack = { acks: [{ guard: soft.guard, mark: soft.mark, at: new Date().toISOString() }], ...tokens };
      if (decision?.type === "choose" && decision.option === "stop") {
        const update = stopUpdate(soft, ai, calls, "a reviewer");
        return new Command({ update: { ...update, oversight: { ...update.oversight, ...ack } }, goto: END });
      }
      if (decision?.type === "respond") {
        const answers = calls.map((c) => toolResultMessage(c, `Not run: a reviewer paused the run (${soft.reason}) and says: ${decision.message}`, "error"));
        return new Command({ update: { messages: answers, oversight: ack }, goto: next.agent });
      }
      return new Command({ update: { oversight: ack }, goto: "review" });
    }

    // 3. The policy, call by call.
    const verdicts = calls.map((call) => ({ call, verdict: evaluateCall(policy, call, byName.get(call.name), heldScopes(policy, oversight, call), confidenceOf(call, { ...ai.additional_kwargs, ...ai.response_metadata })) }));
    const denied = verdicts.filter((v) => v.verdict.tier === "deny");
    if (denied.length > 0) {
      await recordAudit(
        ctx.pool,
        denied.map(({ call, verdict }) => audit({ subject: call.id ?? "", tool: call.name, args: call.args, action: "deny", actor: "policy", rule: verdict.rule, reason: verdict.reason })),
      );
      const answers = denied.map(({ call, verdict }) => toolResultMessage(call, `Denied by policy: ${verdict.reason}. This call will not run; do not retry it. Find another way, or tell the user what is needed.`, "error"));
      return new Command({ update: { messages: answers, ...counted }, goto: "review" });
    }

    const needScopes = verdicts.filter((v) => v.verdict.missingScopes.length > 0);
    if (needScopes.length > 0) {
      const request = scopeRequest(needScopes, opts.tools, state.messages);
      const decisions = validateResponse(request, interrupt(request), opts.tools);
      const at = new Date().toISOString();
      const grants: ScopeGrant[] = [];
      const answers: ToolMessage[] = [];
      const entries: AuditInput[] = [];
      decisions.forEach((d, i) => {
        const { call, verdict } = needScopes[i] as (typeof needScopes)[number];
        const scopes = verdict.missingScopes;
        if (d.type === "grant_once" || d.type === "grant_for_run") {
          const span = d.type === "grant_once" ? "call" : "run";
          for (const scope of scopes) grants.push({ scope, for: span, toolCallId: call.id ?? "", at });
          entries.push(audit({ subject: call.id ?? "", tool: call.name, args: call.args, action: "scope_granted", actor: "reviewer", reason: `granted ${scopes.join(", ")} for the ${span}`, details: { scopes, for: span } }));
        } else {
          const why = d.type === "reject" && d.message ? `: ${d.message}` : "";
          answers.push(toolResultMessage(call, `Permission refused: ${call.name} needs ${scopes.join(", ")}, and a reviewer refused to grant it${why}. Do not call it again; find another way, or tell the user what is missing.`, "error"));
          entries.push(audit({ subject: call.id ?? "", tool: call.name, args: call.args, action: "scope_refused", actor: "reviewer", reason: `refused ${scopes.join(", ")}${why}`, details: { scopes } }));
        }
      });
      await recordAudit(ctx.pool, entries);
      return new Command({ update: { messages: answers, oversight: { grants, ...tokens } }, goto: "review" });
    }

    const reviewed = verdicts.filter((v) => v.verdict.tier === "review");
    const out: BaseMessage[] = [];
    const entries: AuditInput[] = [];
    if (reviewed.length > 0) {
      const request = buildReviewRequest(
        state.messages,
        reviewed.map((r) => r.call),
        opts.tools,
        reviewed.map((r) => r.verdict.reason),
      );
      const decisions = validateResponse(request, interrupt(request), opts.tools);
      const edited = new Map<string, Record<string, unknown>>();
      decisions.forEach((d, i) => {
        const { call, verdict } = reviewed[i] as (typeof reviewed)[number];
        entries.push(audit({ subject: call.id ?? "", tool: call.name, args: call.args, action: "review", actor: "reviewer", rule: verdict.rule, reason: verdict.reason, details: { decision: d } }));
        if (d.type === "edit") edited.set(call.id ?? "", d.editedAction.args);
        if (d.type === "reject") out.push(toolResultMessage(call, `Rejected by reviewer${d.message ? `: ${d.message}` : "."}`, "error"));
        if (d.type === "respond") out.push(toolResultMessage(call, d.message, "success"));
      });
      if (edited.size > 0) {
        // Same id: the messages reducer replaces the proposal with the edited call.
        out.unshift(
          new AIMessage({
            id: ai.id,
            content: ai.content,
            tool_calls: (ai.tool_calls ?? []).map((tc) => (edited.has(tc.id ?? "") ? { ...tc, args: edited.get(tc.id ?? "") ?? tc.args } : tc)),
          }),
        );
      }
    }
    for (const { call, verdict } of verdicts.filter((v) => v.verdict.tier === "auto")) {
      entries.push(audit({ subject: call.id ?? "", tool: call.name, args: call.args, action: "auto", actor: "policy", rule: verdict.rule, reason: verdict.reason }));
    }
    await recordAudit(ctx.pool, entries);
    const answered = new Set(out.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
    const remaining = calls.filter((c) => !answered.has(c.id ?? ""));
    return new Command({ update: { messages: out, ...counted }, goto: remaining.length > 0 ? next.tools : next.agent });
  };
}

/** After a sub-agent: go on unless a guardrail stopped the run inside it. */
export function routeUnlessStopped<N extends string, E extends string>(nextNode: N, end: E) {
  return (state: { oversight?: Oversight }): N | E => (state.oversight?.stopped ? end : nextNode);
}
