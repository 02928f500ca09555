// Onboarding agent: recall the manager's preferences, then create the account, grant privileges (after
// the oversight policy: review) and send the welcome email. `builder` is compiled by Waypoint with Postgres; `graph` is
// the compiled form LangGraph Studio loads (Studio brings its own checkpointer).
import { HumanMessage } from "@langchain/core/messages";
import { END, START, StateGraph, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { AGENT_RECURSION_LIMIT, createAgentNode, createDoubtNode, createReviewNode, createToolsNode, reviewEnds, routeAfterAgent, routeAfterTools } from "../../src/agents/index.js";
import { recallPreferences, rememberPreference } from "../../src/memory/index.js";
import { describeGraph } from "../../src/registry/index.js";
import { systemPrompt, taskMessage } from "./prompts.js";
import { OnboardingInput, OnboardingState, type NewHire, type OnboardingStateValue } from "./state.js";
import { ONBOARDING_POLICY, ONBOARDING_TOOLS } from "./tools.js";

export const VERSION = "3";

type RecallState = { hire: NewHire; messages: unknown[] };

/** Load the manager's remembered preferences (and remember a newly stated one). Idempotent. */
export async function recall(state: RecallState, config: LangGraphRunnableConfig) {
  const store = config.store;
  let preferences: Record<string, string> = {};
  if (store) {
    if (state.hire.welcomeTone) await rememberPreference(store, state.hire.manager, "welcomeTone", state.hire.welcomeTone);
    preferences = await recallPreferences(store, state.hire.manager);
  }
  return { preferences, messages: state.messages.length === 0 ? [new HumanMessage({ id: "task", content: taskMessage(state.hire) })] : [] };
}

export const builder = new StateGraph(OnboardingState)
  .addNode("recall", recall)
  .addNode("agent", createAgentNode<OnboardingStateValue>({ tools: ONBOARDING_TOOLS, systemPrompt: (s) => systemPrompt(s.hire, s.preferences ?? {}) }))
  .addNode("review", createReviewNode({ tools: ONBOARDING_TOOLS, policy: ONBOARDING_POLICY }), { ends: reviewEnds() })
  .addNode("tools", createToolsNode(ONBOARDING_TOOLS))
  .addNode("doubt", createDoubtNode(ONBOARDING_TOOLS))
  .addEdge(START, "recall")
  .addEdge("recall", "agent")
  .addConditionalEdges("agent", routeAfterAgent("review", END), ["review", END])
  .addConditionalEdges("tools", routeAfterTools("doubt", "agent"), ["doubt", "agent"])
  .addEdge("doubt", "tools");

/** An input that works, for `waypoint agents`, help texts and the demo. */
export const SAMPLE_INPUT = {
  hire: {
    name: "Ada Lovelace",
    email: "ada.lovelace@acme.test",
    department: "Engineering",
    manager: "grace.hopper@acme.test",
    privileges: ["github:write", "prod-db:read"],
  },
};

export const graph = describeGraph(builder.compile({ name: "onboarding" }).withConfig({ recursionLimit: AGENT_RECURSION_LIMIT }), {
  version: VERSION,
  description: "Creates a directory account, grants privileges (after human review) and sends a welcome email.",
  sampleInput: SAMPLE_INPUT,
  inputSchema: OnboardingInput,
  tools: ONBOARDING_TOOLS,
});
