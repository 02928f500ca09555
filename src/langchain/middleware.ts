// LangChain v1 middleware (createAgent) and a StateGraph step that give an ordinary agent Waypoint's
// oversight and conversation repair:
//   - repairToolCalls(): before every model call, each tool call without a result gets one (its
//     outcome from the ledger, or an explicit "interrupted" error), so a provider never rejects the
//     conversation and the thread never wedges; repairToolCallsNode does the same as a graph node;
//   - waypointOversight({ policy }): the oversight engine Waypoint's own agents use (src/agents/oversee.ts)
//     after each model turn: guardrails, then per-tool auto / review / deny, permission scopes, and
//     audit log entries; questions are interrupt()s in the HITL shape.
import type { BaseMessage } from "@langchain/core/messages";
import { getConfig, interrupt, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { createMiddleware } from "langchain";
import { mergeOversight, mergePolicies, parsePolicy, EMPTY_OVERSIGHT, OversightValue, type Oversight, type OversightUpdate, type Policy } from "../approvals/index.js";
import { guardPass, policyPass, type OverseeContext } from "../agents/index.js";
import { log } from "../log.js";
import { currentScope } from "../scope/index.js";
import { graphNamespace, lastAIMessage, ledgerRows, repairToolCalls as repairConversation, unansweredToolCalls, type ToolInfo } from "../tools/index.js";
import { registeredDurableTools, toolInfo } from "./durable.js";

function configNow(): LangGraphRunnableConfig | undefined {
  try {
    return getConfig() as LangGraphRunnableConfig;
  } catch {
    return undefined;
  }
}

/**
 * The update that answers every dangling tool call of `messages` (undefined: none dangles). Inside a
 * Waypoint run the ledger says what became of each call; outside one, each gets an "interrupted" error.
 */
export async function repairDanglingToolCalls(messages: BaseMessage[], config?: LangGraphRunnableConfig): Promise<{ messages: BaseMessage[] } | undefined> {
  const first = repairConversation(messages);
  if (!first) return undefined;
  const scope = currentScope();
  if (!scope) return { messages: first.messages };
  const ns = graphNamespace((config ?? configNow())?.configurable?.checkpoint_ns as string | undefined);
  const rows = (await ledgerRows(scope.pool, scope.threadId)).filter((r) => r.checkpoint_ns === ns);
  const repaired = repairConversation(messages, new Map(rows.map((r) => [r.tool_call_id, r])));
  return repaired ? { messages: repaired.messages } : undefined;
}

/** For a StateGraph: add as a node before the model node (`.addNode("repair", repairToolCallsNode)`). */
export async function repairToolCallsNode(state: { messages: BaseMessage[] }, config: LangGraphRunnableConfig): Promise<{ messages: BaseMessage[] }> {
  return (await repairDanglingToolCalls(state.messages, config)) ?? { messages: [] };
}

/** For createAgent: `middleware: [repairToolCalls()]` (waypointOversight() includes it). */
export function repairToolCalls() {
  return createMiddleware({
    name: "WaypointRepairToolCalls",
    beforeModel: async (state) => repairDanglingToolCalls((state as { messages: BaseMessage[] }).messages),
  });
}

export interface OversightOptions {
  /**
   * The oversight policy (the same shape as WAYPOINT_POLICY_FILE): per-tool tiers and conditions,
   * scopes, guardrails. A thread's stored policy (the policy file, a run's `context.policy`) goes over it.
   */
  policy?: Policy | Record<string, unknown>;
  /**
   * The agent's tools, for their risk classes, scopes, descriptions and schemas. Default: every tool
   * made with durable() in this process. A tool known by neither is reviewed unless the policy says
   * otherwise.
   */
  tools?: ReadonlyArray<{ name: string; schema?: unknown }>;
  /** Middleware name (when an agent has two). */
  name?: string;
}

const warnedOutside = new Set<string>();

/**
 * Waypoint's oversight for a createAgent agent, after each model turn: guardrails (hard limits stop
 * the run; soft limits and loops ask a human), then the policy per call: deny (the model hears why),
 * a missing scope (a human grants it for the call or the run, or refuses), review (approve, edit,
 * reject, respond), auto. Every decision is audited in Waypoint's audit log.
 */
export function waypointOversight(options: OversightOptions = {}) {
  const base = parsePolicy(options.policy ?? {}, "waypointOversight({ policy })", options.tools);
  const name = options.name ?? "WaypointOversight";
  const infos = (): ToolInfo[] => {
    const given = options.tools?.map((t) => toolInfo(t));
    return given ?? registeredDurableTools().map((t) => toolInfo(t));
  };
  return createMiddleware({
    name,
    stateSchema: new StateSchema({ oversight: OversightValue }),
    beforeModel: async (state) => repairDanglingToolCalls((state as { messages: BaseMessage[] }).messages),
    afterModel: {
      canJumpTo: ["model", "end"],
      hook: async (state) => {
        const s = state as { messages: BaseMessage[]; oversight?: Oversight };
        const config = configNow();
        const scope = currentScope();
        if (!scope && !warnedOutside.has(name)) {
          warnedOutside.add(name);
          log.warn({ middleware: name }, "waypointOversight: not in a Waypoint run; the policy applies, nothing is audited");
        }
        const policy = scope?.policy ? mergePolicies(base, scope.policy as Policy) : base;
        // A tool oversight knows nothing about is treated as one that changes the world.
        const known = infos();
        const tools = (calls: Array<{ name: string }>) => [...known, ...calls.filter((c) => !known.some((k) => k.name === c.name)).map((c) => ({ name: c.name, risk: "mutate" as const }))];
        const where: OverseeContext = {
          pool: scope?.pool,
          threadId: scope?.threadId ?? String(config?.configurable?.thread_id ?? ""),
          agent: scope?.graphId,
          checkpointNs: graphNamespace(config?.configurable?.checkpoint_ns as string | undefined),
          run: scope?.run,
          step: config?.metadata?.langgraph_step as number | undefined,
        };
        let messages = s.messages;
        let oversight = s.oversight ?? EMPTY_OVERSIGHT;
        const out: BaseMessage[] = [];
        const updates: OversightUpdate[] = [];
        const apply = (u: { messages: BaseMessage[]; oversight: OversightUpdate }) => {
          out.push(...u.messages);
          // Same id replaces (an edited proposal), a new id appends: as the messages reducer will.
          for (const m of u.messages) {
            const at = m.id ? messages.findIndex((x) => x.id === m.id) : -1;
            messages = at >= 0 ? messages.map((x, i) => (i === at ? m : x)) : [...messages, m];
          }
          oversight = mergeOversight(oversight, u.oversight);
          updates.push(u.oversight);
        };
        const result = (jumpTo?: "model" | "end") => {
          const merged = updates.reduce<OversightUpdate>((acc, u) => ({ grants: [...(acc.grants ?? []), ...(u.grants ?? [])], acks: [...(acc.acks ?? []), ...(u.acks ?? [])], tokens: { ...acc.tokens, ...u.tokens }, ...(acc.stopped ?? u.stopped ? { stopped: acc.stopped ?? u.stopped } : {}) }), {});
          return { messages: out, oversight: merged, ...(jumpTo ? { jumpTo } : {}) };
        };
        // Guardrails, then the policy; a question answered comes back here and the turn is judged again,
        // in the same order on every re-run (so LangGraph's answers by position match their questions).
        for (let pass = 0; pass < 64; pass++) {
          const ai = lastAIMessage(messages);
          const calls = unansweredToolCalls(messages, ai);
          if (!ai || calls.length === 0) return out.length > 0 ? result("model") : undefined;
          const turn = { messages, oversight, ai, calls };
          const guard = await guardPass(turn, policy, tools(calls), where, interrupt);
          apply(guard.update);
          if (guard.kind === "stop") return result("end");
          if (guard.kind === "respond") return result("model");
          if (guard.kind === "again") continue;
          const decided = await policyPass(turn, policy, tools(calls), where, interrupt);
          apply(decided.update);
          if (decided.kind === "again") continue;
          return decided.run.length > 0 ? result() : result("model");
        }
        throw new Error("waypointOversight: the turn was judged 64 times without a decision");
      },
    },
  });
}
