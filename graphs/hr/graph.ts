// HR agent (nested): recall preferences, delegate account + privileges to the provisioning sub-agent
// (a subgraph whose review interrupt surfaces on this thread), then send the welcome email itself.
import { END, START, StateGraph } from "@langchain/langgraph";
import { createAgentNode, createDoubtNode, createToolsNode, routeAfterAgent, routeAfterReview, routeAfterTools } from "../../src/agents/index.js";
import { createReviewNode } from "../../src/approvals/index.js";
import { recall } from "../onboarding/graph.js";
import { hrPrompt, provisioningPrompt } from "./prompts.js";
import { HrState, type HrStateValue } from "./state.js";
import { HR_OWN_TOOLS, PROVISIONING_TOOLS, REVIEWED_TOOLS } from "./tools.js";

export const VERSION = "2";

/** The provisioning sub-agent, compiled without a checkpointer: it uses its parent's. */
export const provisioning = new StateGraph(HrState)
  .addNode("agent", createAgentNode<HrStateValue>({ tools: PROVISIONING_TOOLS, systemPrompt: (s) => provisioningPrompt(s.hire, s.preferences ?? {}) }))
  .addNode("review", createReviewNode({ tools: PROVISIONING_TOOLS, reviewed: REVIEWED_TOOLS }))
  .addNode("tools", createToolsNode(PROVISIONING_TOOLS))
  .addNode("doubt", createDoubtNode(PROVISIONING_TOOLS))
  .addEdge(START, "agent")
  .addConditionalEdges("agent", routeAfterAgent("review", END), ["review", END])
  .addConditionalEdges("review", routeAfterReview("tools", "agent"), ["tools", "agent"])
  .addConditionalEdges("tools", routeAfterTools("doubt", "agent"), ["doubt", "agent"])
  .addEdge("doubt", "tools")
  .compile({ name: "provisioning" });

export const builder = new StateGraph(HrState)
  .addNode("recall", recall)
  .addNode("provisioning", provisioning)
  .addNode("agent", createAgentNode<HrStateValue>({ tools: HR_OWN_TOOLS, systemPrompt: (s) => hrPrompt(s.hire, s.preferences ?? {}) }))
  .addNode("tools", createToolsNode(HR_OWN_TOOLS))
  .addNode("doubt", createDoubtNode(HR_OWN_TOOLS))
  .addEdge(START, "recall")
  .addEdge("recall", "provisioning")
  .addEdge("provisioning", "agent")
  .addConditionalEdges("agent", routeAfterAgent("tools", END), ["tools", END])
  .addConditionalEdges("tools", routeAfterTools("doubt", "agent"), ["doubt", "agent"])
  .addEdge("doubt", "tools");

export const graph = builder.compile();
graph.name = "hr";
