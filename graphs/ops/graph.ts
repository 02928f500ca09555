// Ops agent: answers requests about the demo world with read tools, and proposes SQL changes, payments
// and emails, every one of which passes the oversight policy (auto, review, deny, missing scopes) and
// the guardrails (spend limit, token budget, loops) in the review node before it runs.
import { HumanMessage } from "@langchain/core/messages";
import { END, START, StateGraph } from "@langchain/langgraph";
import { AGENT_RECURSION_LIMIT, createAgentNode, createDoubtNode, createReviewNode, createToolsNode, reviewEnds, routeAfterAgent, routeAfterTools } from "../../src/agents/index.js";
import { systemPrompt, taskMessage } from "./prompts.js";
import { describeGraph } from "../../src/registry/index.js";
import { OPS_SAMPLE_INPUT, OpsInput, OpsState, type OpsStateValue } from "./state.js";
import { OPS_POLICY, OPS_TOOLS } from "./tools.js";

export const VERSION = "1";

/** Put the operator's request in the conversation (once). */
function start(state: OpsStateValue) {
  return { messages: state.messages.length === 0 ? [new HumanMessage({ id: "task", content: taskMessage(state.request) })] : [] };
}

export const builder = new StateGraph(OpsState)
  .addNode("start", start)
  .addNode("agent", createAgentNode<OpsStateValue>({ tools: OPS_TOOLS, systemPrompt: (s) => systemPrompt(s.request) }))
  .addNode("review", createReviewNode({ tools: OPS_TOOLS, policy: OPS_POLICY }), { ends: reviewEnds() })
  .addNode("tools", createToolsNode(OPS_TOOLS))
  .addNode("doubt", createDoubtNode(OPS_TOOLS))
  .addEdge(START, "start")
  .addEdge("start", "agent")
  .addConditionalEdges("agent", routeAfterAgent("review", END), ["review", END])
  .addConditionalEdges("tools", routeAfterTools("doubt", "agent"), ["doubt", "agent"])
  .addEdge("doubt", "tools");

export const graph = describeGraph(builder.compile({ name: "ops" }).withConfig({ recursionLimit: AGENT_RECURSION_LIMIT }), {
  version: VERSION,
  description: "Answers questions about the demo world's vendors and invoices; proposes SQL changes, payments and emails, each through the oversight policy (some run, some need a review or a permission, some are refused).",
  sampleInput: OPS_SAMPLE_INPUT,
  inputSchema: OpsInput,
  tools: OPS_TOOLS,
});
