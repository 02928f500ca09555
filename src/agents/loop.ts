// The nodes and edges of a tool-using agent loop: agent -> review -> tools (-> doubt -> tools) -> agent
// (the review node is in review.ts).
// Graphs wire them explicitly in their graph.ts, so each agent's shape is readable in one place.
import { SystemMessage, type BaseMessage } from "@langchain/core/messages";
import { interrupt, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { buildDoubtRequest, validateResponse, withBothSpellings } from "../approvals/index.js";
import { invokeWithLadder } from "../models/index.js";
import { executeToolCalls, repairToolCalls, lastAIMessage, ledgerRows, resolveDoubt, unansweredToolCalls, type DurableTool, type Resolution } from "../tools/index.js";
import { compactionUpdate, planCompaction, summariseMessages } from "../memory/index.js";
import { haltPoint } from "../halt.js";
import { resolveContext } from "./context.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Messages a summarisation leaves in state as they are (more when a tool exchange straddles the edge). */
const KEEP_RECENT_MESSAGES = 12;

export interface AgentNodeOptions<S> {
  /** Tools the model may call. */
  tools: DurableTool[];
  /** System prompt, built from the current state. */
  systemPrompt: (state: S) => string;
}

/**
 * Calls the model with the tools bound, through the failure ladder (retries with backoff, Retry-After,
 * fail-over). Dangling tool calls are answered first, from the ledger when it knows their outcome.
 */
export function createAgentNode<S extends { messages: BaseMessage[] }>(opts: AgentNodeOptions<S>) {
  return async function agent(state: S, config: LangGraphRunnableConfig): Promise<{ messages: BaseMessage[] }> {
    const ctx = await resolveContext(config);
    if (ctx.paceMs > 0) await sleep(ctx.paceMs);
    await haltPoint("agent.model");
    let repaired = repairToolCalls(state.messages);
    if (repaired) {
      const rows = (await ledgerRows(ctx.pool, ctx.threadId)).filter((r) => r.checkpoint_ns === ctx.checkpointNs);
      repaired = repairToolCalls(state.messages, new Map(rows.map((r) => [r.tool_call_id, r])));
    }
    // Bounded state: past the token threshold, older messages are replaced in state by a summary (the
    // transcript table, the ledger and the audit log keep every original). An extractive summary is
    // capped at as many characters as the threshold has tokens (about a quarter of it), so compactions
    // stay rare and each one stays small.
    const conversation = repaired?.conversation ?? state.messages;
    const plan = planCompaction(conversation, { maxTokens: ctx.summaryTokens, keepRecent: KEEP_RECENT_MESSAGES });
    const compacted = plan ? compactionUpdate(plan, await summariseMessages(plan.remove, { model: ctx.summaryModel, maxChars: ctx.summaryTokens })) : undefined;
    const reply = await invokeWithLadder({
      primary: ctx.model,
      ...(ctx.fallbackModel ? { fallback: ctx.fallbackModel } : {}),
      tools: opts.tools.map((t) => t.definition),
      messages: [new SystemMessage(opts.systemPrompt(state)), ...(compacted ? compacted.slice(1) : conversation)],
      config,
      options: ctx.modelRetry,
    });
    return { messages: compacted ? [...compacted, reply] : [...(repaired?.messages ?? []), reply] };
  };
}

/** Runs the unanswered tool calls of the last AIMessage through the side-effect ledger. */
export function createToolsNode(tools: DurableTool[]) {
  return async function tools_(state: { messages: BaseMessage[] }, config: LangGraphRunnableConfig): Promise<{ messages: BaseMessage[] }> {
    const ctx = await resolveContext(config);
    const calls = unansweredToolCalls(state.messages, lastAIMessage(state.messages));
    const { messages } = await executeToolCalls(calls, tools, { ...ctx, config, signal: config.signal });
    if (ctx.paceMs > 0) await sleep(ctx.paceMs);
    return { messages };
  };
}

/**
 * Asks a human about calls the ledger holds in doubt ("did this happen?") and records the answer in
 * the ledger; the tools node then replays, skips or re-runs each one. Nothing happens before
 * interrupt() but reads, so re-running this node from its first line is harmless.
 */
export function createDoubtNode(tools: DurableTool[]) {
  return async function doubt(state: { messages: BaseMessage[] }, config: LangGraphRunnableConfig): Promise<Record<string, never>> {
    const ctx = await resolveContext(config);
    const open = new Set(unansweredToolCalls(state.messages, lastAIMessage(state.messages)).map((c) => c.id));
    const rows = (await ledgerRows(ctx.pool, ctx.threadId, { open: true })).filter((r) => r.checkpoint_ns === ctx.checkpointNs && r.status === "in_doubt" && open.has(r.tool_call_id));
    if (rows.length === 0) return {};
    const request = buildDoubtRequest(state.messages, rows, tools);
    const decisions = validateResponse(request, interrupt(withBothSpellings(request)), tools);
    for (const [i, row] of rows.entries()) {
      const key = { threadId: ctx.threadId, checkpointNs: ctx.checkpointNs, toolCallId: row.tool_call_id };
      await resolveDoubt(ctx.pool, key, row.attempts, decisions[i] as Resolution);
    }
    return {};
  };
}

/** After the agent: to review when it asked for tools, else the loop is over. */
export function routeAfterAgent<T extends string, E extends string>(reviewNode: T, end: E) {
  return (state: { messages: BaseMessage[] }): T | E => (unansweredToolCalls(state.messages, lastAIMessage(state.messages)).length > 0 ? reviewNode : end);
}

/** After tools: a call left unanswered is in doubt, so a human settles it; otherwise back to the agent. */
export function routeAfterTools<D extends string, A extends string>(doubtNode: D, agentNode: A) {
  return (state: { messages: BaseMessage[] }): D | A => (unansweredToolCalls(state.messages, lastAIMessage(state.messages)).length > 0 ? doubtNode : agentNode);
}
