// The nodes and edges of a tool-using agent loop: agent -> review -> tools -> agent. Graphs wire them
// explicitly in their graph.ts, so each agent's shape is readable in one place.
import { SystemMessage, type BaseMessage } from "@langchain/core/messages";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { closeDanglingToolCalls, executeToolCalls, lastAIMessage, unansweredToolCalls, type DurableTool } from "../tools/index.js";
import { resolveContext } from "./context.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AgentNodeOptions<S> {
  tools: DurableTool[];
  /** System prompt, built from the current state. */
  systemPrompt: (state: S) => string;
}

/** Calls the model with the tools bound. Dangling tool calls are answered first (never sent dangling). */
export function createAgentNode<S extends { messages: BaseMessage[] }>(opts: AgentNodeOptions<S>) {
  return async function agent(state: S, config: LangGraphRunnableConfig): Promise<{ messages: BaseMessage[] }> {
    const { model, paceMs } = await resolveContext(config);
    if (paceMs > 0) await sleep(paceMs);
    const closers = closeDanglingToolCalls(state.messages);
    if (!model.bindTools) throw new Error(`the chat model ${model.getName()} cannot call tools`);
    const bound = model.bindTools(opts.tools.map((t) => t.definition));
    const reply = await bound.invoke([new SystemMessage(opts.systemPrompt(state)), ...state.messages, ...closers], config);
    return { messages: [...closers, reply] };
  };
}

/** Runs the unanswered tool calls of the last AIMessage through the side-effect ledger. */
export function createToolsNode(tools: DurableTool[]) {
  return async function tools_(state: { messages: BaseMessage[] }, config: LangGraphRunnableConfig): Promise<{ messages: BaseMessage[] }> {
    const ctx = await resolveContext(config);
    const calls = unansweredToolCalls(state.messages, lastAIMessage(state.messages));
    const messages = await executeToolCalls(calls, tools, ctx);
    if (ctx.paceMs > 0) await sleep(ctx.paceMs);
    return { messages };
  };
}

/** After the agent: to review when it asked for tools, else the loop is over. */
export function routeAfterAgent<T extends string, E extends string>(reviewNode: T, end: E) {
  return (state: { messages: BaseMessage[] }): T | E => (unansweredToolCalls(state.messages, lastAIMessage(state.messages)).length > 0 ? reviewNode : end);
}

/** After review: run what is still unanswered, or go straight back to the agent (all rejected/answered). */
export function routeAfterReview<T extends string, A extends string>(toolsNode: T, agentNode: A) {
  return (state: { messages: BaseMessage[] }): T | A => (unansweredToolCalls(state.messages, lastAIMessage(state.messages)).length > 0 ? toolsNode : agentNode);
}
