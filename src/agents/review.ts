// The review node: every model turn's tool calls pass here before they run, through the oversight
// engine (oversee.ts): guardrails first, then the policy. Each pass asks at most one question (one
// interrupt()), then comes back to this node for the next, so every question gets its own interrupt id
// and the pass that asked is checkpointed before the next is judged.
import { Command, END, interrupt, type LangGraphRunnableConfig } from "@langchain/langgraph";
import type { BaseMessage } from "@langchain/core/messages";
import { mergePolicies, EMPTY_OVERSIGHT, type Oversight, type Policy } from "../approvals/index.js";
import { lastAIMessage, unansweredToolCalls, type DurableTool } from "../tools/index.js";
import { resolveContext } from "./context.js";
import { guardPass, policyPass, type OverseeContext } from "./oversee.js";

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

export function createReviewNode(opts: ReviewNodeOptions) {
  const next = opts.next ?? { tools: "tools", agent: "agent" };

  return async function review(state: ReviewState, config: LangGraphRunnableConfig): Promise<Command> {
    const ctx = await resolveContext(config);
    // The thread's stored policy (configured file, run overrides) goes over the graph's built-in one.
    const policy = ctx.policy ? mergePolicies(opts.policy, ctx.policy) : opts.policy;
    const oversight = state.oversight ?? EMPTY_OVERSIGHT;
    const ai = lastAIMessage(state.messages);
    const calls = unansweredToolCalls(state.messages, ai);
    if (!ai || calls.length === 0) return new Command({ goto: next.agent });
    const where: OverseeContext = { pool: ctx.pool, threadId: ctx.threadId, agent: ctx.agent, checkpointNs: ctx.checkpointNs, run: ctx.run, step: config.metadata?.langgraph_step as number | undefined };
    const turn = { messages: state.messages, oversight, ai, calls };
    const counted = (o: Record<string, unknown>) => (Object.keys(o).length > 0 ? { oversight: o } : {});

    const guard = await guardPass(turn, policy, opts.tools, where, interrupt);
    if (guard.kind === "stop") return new Command({ update: { ...guard.update }, goto: END });
    if (guard.kind === "respond") return new Command({ update: { ...guard.update }, goto: next.agent });
    if (guard.kind === "again") return new Command({ update: { oversight: guard.update.oversight }, goto: "review" });

    const decided = await policyPass(turn, policy, opts.tools, where, interrupt);
    const update = { messages: decided.update.messages, ...counted(decided.update.oversight) };
    if (decided.kind === "again") return new Command({ update, goto: "review" });
    return new Command({ update, goto: decided.run.length > 0 ? next.tools : next.agent });
  };
}

/** After a sub-agent: go on unless a guardrail stopped the run inside it. */
export function routeUnlessStopped<N extends string, E extends string>(nextNode: N, end: E) {
  return (state: { oversight?: Oversight }): N | E => (state.oversight?.stopped ? end : nextNode);
}
