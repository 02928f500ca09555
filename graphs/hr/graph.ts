// HR agent (nested): recall preferences, delegate account + privileges to the provisioning sub-agent
// (a subgraph whose review interrupt surfaces on this thread), then send the welcome email itself.
import { END, START, StateGraph } from "@langchain/langgraph";
import { AGENT_RECURSION_LIMIT, createAgentNode, createDoubtNode, createReviewNode, createToolsNode, reviewEnds, routeAfterAgent, routeAfterTools, routeUnlessStopped } from "../../src/agents/index.js";
import { describeGraph } from "../../src/registry/index.js";
import { recall, SAMPLE_INPUT } from "../onboarding/graph.js";
import { OnboardingInput } from "../onboarding/state.js";
import { hrPrompt, provisioningPrompt } from "./prompts.js";
import { HrState, type HrStateValue } from "./state.js";
import { HR_OWN_TOOLS, HR_POLICY, HR_TOOLS, PROVISIONING_TOOLS } from "./tools.js";

export const VERSION = "3";

/** The provisioning sub-agent, compiled without a checkpointer: it uses its parent's. */
export const provisioning = new StateGraph(HrState)
  .addNode("agent", createAgentNode<HrStateValue>({ tools: PROVISIONING_TOOLS, systemPrompt: (s) => provisioningPrompt(s.hire, s.preferences ?? {}) }))
  .addNode("review", createReviewNode({ tools: PROVISIONING_TOOLS, policy: HR_POLICY }), { ends: reviewEnds() })
  .addNode("tools", createToolsNode(PROVISIONING_TOOLS))
  .addNode("doubt", createDoubtNode(PROVISIONING_TOOLS))
  .addEdge(START, "agent")
  .addConditionalEdges("agent", routeAfterAgent("review", END), ["review", END])
  .addConditionalEdges("tools", routeAfterTools("doubt", "agent"), ["doubt", "agent"])
  .addEdge("doubt", "tools")
  .compile({ name: "provisioning" });

export const builder = new StateGraph(HrState)
  .addNode("recall", recall)
  .addNode("provisioning", provisioning)
  .addNode("agent", createAgentNode<HrStateValue>({ tools: HR_OWN_TOOLS, systemPrompt: (s) => hrPrompt(s.hire, s.preferences ?? {}) }))
  .addNode("review", createReviewNode({ tools: HR_TOOLS, policy: HR_POLICY }), { ends: reviewEnds() })
  .addNode("tools", createToolsNode(HR_OWN_TOOLS))
  .addNode("doubt", createDoubtNode(HR_OWN_TOOLS))
  .addEdge(START, "recall")
  .addEdge("recall", "provisioning")
  .addConditionalEdges("provisioning", routeUnlessStopped("agent", END), ["agent", END])
  .addConditionalEdges("agent", routeAfterAgent("review", END), ["review", END])
  .addConditionalEdges("tools", routeAfterTools("doubt", "agent"), ["doubt", "agent"])
  .addEdge("doubt", "tools");

export const graph = describeGraph(builder.compile({ name: "hr" }).withConfig({ recursionLimit: AGENT_RECURSION_LIMIT }), {
  version: VERSION,
  description: "HR agent that delegates account + privileges to a provisioning sub-agent (a subgraph), then sends the welcome email.",
  sampleInput: SAMPLE_INPUT,
  inputSchema: OnboardingInput,
  tools: HR_TOOLS,
});
