// The oversight engine: what happens to a model turn's tool calls before they run. One engine for
// Waypoint's review node (review.ts) and for LangChain agents (waypointOversight, src/langchain):
//   1. guardPass: hard guardrails (forbidden tool, spend limit) stop the run at once, with the reason;
//      soft guardrails and the loop detector pause it for a human, with the numbers;
//   2. policyPass: the oversight policy decides each call: deny (the model is told why), a missing
//      permission scope (a human grants it for the call or the run, or refuses), review (a human
//      approves, edits, rejects or answers), or auto (it runs; the decision is audited).
// Each pass asks at most one question, through `ask` (interrupt()). Nothing is written before it:
// LangGraph re-runs a node from its first line on resume. Audit rows are written after, idempotently.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import type pg from "pg";
import {
  buildReviewRequest,
  confidenceOf,
  describeCall,
  evaluateCall,
  guardLimits,
  progressOf,
  recordAudit,
  validateResponse,
  withBothSpellings,
  SCOPE_DECISION_TYPES,
  type AuditInput,
  type HITLRequest,
  type Oversight,
  type OversightUpdate,
  type Policy,
  type ScopeGrant,
  type Verdict,
} from "../approvals/index.js";
import { checkHardLimits, checkSoftLimits, type GuardTrip } from "../guards/index.js";
import { ledgerRows, toolResultMessage, type ToolInfo } from "../tools/index.js";

/** Where the calls are judged: Waypoint's database, the thread, and the run's limits. */
export interface OverseeContext {
  /** Absent outside a Waypoint run (plain LangGraph): nothing is audited, spend limits see nothing spent. */
  pool: pg.Pool | undefined;
  threadId: string;
  agent: string | undefined;
  /** Namespace of the graph the calls run in (audit rows and the ledger are keyed by it). */
  checkpointNs: string;
  run: { startedAt: number; startStep: number; recursionLimit: number } | undefined;
  /** The super-step the judging node runs in (langgraph_step), for the recursion-limit guard. */
  step: number | undefined;
}

/** The model turn being judged. */
export interface Turn {
  messages: BaseMessage[];
  oversight: Oversight;
  ai: AIMessage;
  /** Its tool calls that have no answer yet. */
  calls: ToolCall[];
}

/** Asks a human: interrupt(request). */
export type Ask = (request: HITLRequest) => unknown;

export interface TurnUpdate {
  messages: BaseMessage[];
  oversight: OversightUpdate;
}

export type GuardOutcome =
  /** No guardrail tripped: the policy decides next. */
  | { kind: "pass"; update: TurnUpdate }
  /** The run ends here (a hard limit, or a reviewer chose "stop"). */
  | { kind: "stop"; update: TurnUpdate }
  /** A reviewer answered instead: the calls do not run, the model continues with the answer. */
  | { kind: "respond"; update: TurnUpdate }
  /** A reviewer let the run go on: judge the turn again (no guard trips twice for the same mark). */
  | { kind: "again"; update: TurnUpdate };

export type PolicyOutcome =
  /** Some calls were answered (denied, scopes settled): judge the rest again. */
  | { kind: "again"; update: TurnUpdate }
  /** Every remaining call is decided: `run` holds the ones to run now (edited ones with their new args). */
  | { kind: "done"; update: TurnUpdate; run: ToolCall[] };

/** Scopes the run holds for `call`: the policy's, those granted for the run, and those granted for this call. */
function heldScopes(policy: Policy, oversight: Oversight, call: ToolCall): Set<string> {
  const held = new Set(policy.scopes ?? []);
  for (const g of oversight.grants) if (g.for === "run" || g.toolCallId === call.id) held.add(g.scope);
  return held;
}

async function amountSpent(ctx: OverseeContext, policy: Policy): Promise<number> {
  const spend = guardLimits(policy).spendLimit;
  if (!spend || !ctx.pool) return 0;
  const tools = new Set(spend.tools);
  const rows = await ledgerRows(ctx.pool, ctx.threadId);
  return rows.filter((r) => r.status === "succeeded" && tools.has(r.tool)).reduce((sum, r) => sum + (typeof r.args[spend.arg] === "number" ? (r.args[spend.arg] as number) : 0), 0);
}

function guardRequest(trip: GuardTrip, ai: AIMessage, calls: ToolCall[], tools: ToolInfo[], messages: BaseMessage[]): HITLRequest {
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

function scopeRequest(pending: Array<{ call: ToolCall; verdict: Verdict }>, tools: ToolInfo[], messages: BaseMessage[]): HITLRequest {
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

function stopUpdate(trip: GuardTrip, ai: AIMessage, calls: ToolCall[], by: string): TurnUpdate {
  return {
    messages: [
      ...calls.map((c) => toolResultMessage(c, `Not run: the run was stopped (${trip.reason}).`, "error")),
      new AIMessage({ id: `stopped-${ai.id ?? "run"}`, content: `Stopped by ${by}: ${trip.reason}.` }),
    ],
    oversight: { stopped: { guard: trip.guard, reason: trip.reason, at: new Date().toISOString() } },
  };
}

/** The turn's token count, when the model reported one (no empty update otherwise). */
function tokensOf(ai: AIMessage): OversightUpdate {
  return ai.id && ai.usage_metadata?.total_tokens !== undefined ? { tokens: { [ai.id]: ai.usage_metadata.total_tokens } } : {};
}

async function audit_(ctx: OverseeContext, entries: AuditInput[]): Promise<void> {
  if (ctx.pool && entries.length > 0) await recordAudit(ctx.pool, entries);
}

/**
 * The soft-guard verdict on this turn as first judged (a trip, or none), so a re-run asks the same
 * question: the wall clock and the steps since the run started change when a resumed run re-judges it.
 * `pass` tells apart the verdicts after each acknowledged pause. One round trip.
 */
async function frozenSoftCheck(ctx: OverseeContext, turn: string, pass: number, now: GuardTrip | null): Promise<GuardTrip | null> {
  if (!ctx.pool) return now;
  const { rows } = await ctx.pool.query<{ trip: GuardTrip | null }>(
    `WITH ins AS (
       INSERT INTO waypoint.guard_checks (thread_id, checkpoint_ns, turn, pass, trip) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING RETURNING trip)
     SELECT trip FROM ins UNION ALL
     SELECT trip FROM waypoint.guard_checks WHERE thread_id = $1 AND checkpoint_ns = $2 AND turn = $3 AND pass = $4 AND NOT EXISTS (SELECT 1 FROM ins)`,
    [ctx.threadId, ctx.checkpointNs, turn, pass, now ? JSON.stringify(now) : null],
  );
  return rows.length > 0 ? (rows[0]?.trip ?? null) : now;
}

function auditOf(ctx: OverseeContext) {
  return (e: Omit<AuditInput, "threadId" | "agent" | "checkpointNs">): AuditInput => ({ threadId: ctx.threadId, agent: ctx.agent, checkpointNs: ctx.checkpointNs, ...e });
}

/** Guardrails: a hard limit stops the run; a soft limit or a loop asks a human (one question). */
export async function guardPass(turn: Turn, policy: Policy, tools: ToolInfo[], ctx: OverseeContext, ask: Ask): Promise<GuardOutcome> {
  const { ai, calls, messages, oversight } = turn;
  const audit = auditOf(ctx);
  const tokens = tokensOf(ai);
  const guardInput = {
    messages,
    ai,
    calls,
    limits: guardLimits(policy),
    oversight,
    spent: await amountSpent(ctx, policy),
    ...(ctx.run ? { runElapsedMs: Date.now() - ctx.run.startedAt, recursionLimit: ctx.run.recursionLimit } : {}),
    // The recursion limit counts the steps of the graph being run; a sub-agent's own steps restart with it.
    ...(ctx.run && ctx.checkpointNs === "" && ctx.step !== undefined ? { stepsInRun: ctx.step - ctx.run.startStep } : {}),
  };
  const hard = checkHardLimits(guardInput);
  if (hard) {
    await audit_(ctx, [audit({ subject: `${ai.id}:${hard.guard}`, action: "guard_stopped", actor: "guard", rule: `guards.${hard.guard}`, reason: hard.reason, details: hard.details })]);
    const update = stopUpdate(hard, ai, calls, "a hard limit");
    return { kind: "stop", update: { ...update, oversight: { ...update.oversight, ...tokens } } };
  }
  const soft = await frozenSoftCheck(ctx, ai.id ?? "", oversight.acks.length, checkSoftLimits(guardInput));
  if (!soft) return { kind: "pass", update: { messages: [], oversight: {} } };
  const request = guardRequest(soft, ai, calls, tools, messages);
  const [decision] = validateResponse(request, ask(withBothSpellings(request)), tools);
  const chose = decision?.type === "choose" ? decision.option : decision?.type;
  await audit_(ctx, [
    audit({ subject: `${ai.id}:${soft.guard}`, action: "guard_paused", actor: "reviewer", rule: `guards.${soft.guard}`, reason: soft.reason, details: { ...soft.details, decision: chose } }),
  ]);
  const ack = { acks: [{ guard: soft.guard, mark: soft.mark, at: new Date().toISOString() }], ...tokens };
  if (decision?.type === "choose" && decision.option === "stop") {
    const update = stopUpdate(soft, ai, calls, "a reviewer");
    return { kind: "stop", update: { ...update, oversight: { ...update.oversight, ...ack } } };
  }
  if (decision?.type === "respond") {
    const answers = calls.map((c) => toolResultMessage(c, `Not run: a reviewer paused the run (${soft.reason}) and says: ${decision.message}`, "error"));
    return { kind: "respond", update: { messages: answers, oversight: ack } };
  }
  return { kind: "again", update: { messages: [], oversight: ack } };
}

/** The policy, call by call: denials first, then missing scopes (one question), then review (one question). */
export async function policyPass(turn: Turn, policy: Policy, tools: ToolInfo[], ctx: OverseeContext, ask: Ask): Promise<PolicyOutcome> {
  const { ai, calls, messages, oversight } = turn;
  const audit = auditOf(ctx);
  const tokens = tokensOf(ai);
  const byName = new Map(tools.map((t) => [t.name, t]));
  const verdicts = calls.map((call) => ({ call, verdict: evaluateCall(policy, call, byName.get(call.name), heldScopes(policy, oversight, call), confidenceOf(call, { ...ai.additional_kwargs, ...ai.response_metadata })) }));

  const denied = verdicts.filter((v) => v.verdict.tier === "deny");
  if (denied.length > 0) {
    await audit_(
      ctx,
      denied.map(({ call, verdict }) => audit({ subject: call.id ?? "", tool: call.name, args: call.args, action: "deny", actor: "policy", rule: verdict.rule, reason: verdict.reason })),
    );
    const answers = denied.map(({ call, verdict }) => toolResultMessage(call, `Denied by policy: ${verdict.reason}. This call will not run; do not retry it. Find another way, or tell the user what is needed.`, "error"));
    return { kind: "again", update: { messages: answers, oversight: tokens } };
  }

  const needScopes = verdicts.filter((v) => v.verdict.missingScopes.length > 0);
  if (needScopes.length > 0) {
    const request = scopeRequest(needScopes, tools, messages);
    const decisions = validateResponse(request, ask(withBothSpellings(request)), tools);
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
    await audit_(ctx, entries);
    return { kind: "again", update: { messages: answers, oversight: { grants, ...tokens } } };
  }

  const reviewed = verdicts.filter((v) => v.verdict.tier === "review");
  const out: BaseMessage[] = [];
  const entries: AuditInput[] = [];
  const edited = new Map<string, Record<string, unknown>>();
  if (reviewed.length > 0) {
    const request = buildReviewRequest(
      messages,
      reviewed.map((r) => r.call),
      tools,
      reviewed.map((r) => r.verdict.reason),
    );
    const decisions = validateResponse(request, ask(withBothSpellings(request)), tools);
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
  await audit_(ctx, entries);
  const answered = new Set(out.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
  const run = calls.filter((c) => !answered.has(c.id ?? "")).map((c) => (edited.has(c.id ?? "") ? { ...c, args: edited.get(c.id ?? "") ?? c.args } : c));
  return { kind: "done", update: { messages: out, oversight: tokens }, run };
}
