// The agents Waypoint runs: name -> graph builder, version, tools and input schema. langgraph.json lists
// the same graphs for Studio.
import type { BaseStore, BaseCheckpointSaver } from "@langchain/langgraph";
import type { z } from "zod";
import type { Policy } from "../src/approvals/policy.js";
import type { DurableTool } from "../src/tools/index.js";
import * as hr from "./hr/graph.js";
import { HR_POLICY, HR_TOOLS } from "./hr/tools.js";
import * as onboarding from "./onboarding/graph.js";
import { OnboardingInput } from "./onboarding/state.js";
import { ONBOARDING_POLICY, ONBOARDING_TOOLS } from "./onboarding/tools.js";
import * as ops from "./ops/graph.js";
import { OPS_SAMPLE_INPUT, OpsInput } from "./ops/state.js";
import { OPS_POLICY, OPS_TOOLS } from "./ops/tools.js";
import * as travel from "./travel/graph.js";
import { TravelInput } from "./travel/state.js";
import { TRAVEL_POLICY, TRAVEL_TOOLS } from "./travel/tools.js";

/** The slice of a compiled graph Waypoint's runner uses. */
export interface CompiledAgent {
  stream(input: unknown, options: Record<string, unknown>): Promise<AsyncIterable<unknown>>;
  getState(config: { configurable: Record<string, unknown> }, options?: { subgraphs?: boolean }): Promise<import("@langchain/langgraph").StateSnapshot>;
  getStateHistory(config: { configurable: Record<string, unknown> }, options?: { limit?: number; before?: { configurable: Record<string, unknown> } }): AsyncIterableIterator<import("@langchain/langgraph").StateSnapshot>;
  getGraphAsync(config?: Record<string, unknown>): Promise<{ toJSON(): unknown }>;
  getSubgraphsAsync(namespace?: string, recurse?: boolean): AsyncGenerator<[string, unknown]>;
  updateState(config: { configurable: Record<string, unknown> }, values: Record<string, unknown>, asNode?: string): Promise<{ configurable?: Record<string, unknown> }>;
}

export interface AgentDefinition {
  /** Name used by the CLI and the API (the graph id in langgraph.json). */
  name: string;
  /** Bumped when a change makes old threads unsafe to resume on the new code. */
  version: string;
  description: string;
  /** Validates `waypoint run <agent> --input`. */
  inputSchema: z.ZodType;
  /** An input that works, for `--input` examples and the demo. */
  sampleInput: Record<string, unknown>;
  /** Every tool the agent (and its sub-agents) can call, for decision validation. */
  tools: DurableTool[];
  /** Built-in oversight policy (WAYPOINT_POLICY_FILE and a run's own policy are merged over it). */
  policy: Policy;
  compile(opts: { checkpointer: BaseCheckpointSaver; store: BaseStore }): CompiledAgent;
}

const SAMPLE = {
  hire: {
    name: "Ada Lovelace",
    email: "ada.lovelace@acme.test",
    department: "Engineering",
    manager: "grace.hopper@acme.test",
    privileges: ["github:write", "prod-db:read"],
  },
};

export const AGENTS: Record<string, AgentDefinition> = {
  onboarding: {
    name: "onboarding",
    version: onboarding.VERSION,
    description: "Creates a directory account, grants privileges (after human review) and sends a welcome email.",
    inputSchema: OnboardingInput,
    sampleInput: SAMPLE,
    tools: ONBOARDING_TOOLS,
    policy: ONBOARDING_POLICY,
    compile: (opts) => onboarding.builder.compile(opts) as unknown as CompiledAgent,
  },
  hr: {
    name: "hr",
    version: hr.VERSION,
    description: "HR agent that delegates account + privileges to a provisioning sub-agent (a subgraph), then sends the welcome email.",
    inputSchema: OnboardingInput,
    sampleInput: SAMPLE,
    tools: HR_TOOLS,
    policy: HR_POLICY,
    compile: (opts) => hr.builder.compile(opts) as unknown as CompiledAgent,
  },
  travel: {
    name: "travel",
    version: travel.VERSION,
    description: "Books a flight, a hotel and a car. A failing hotel stops with the partial picture and the ways forward; a car rental in doubt asks a human.",
    inputSchema: TravelInput,
    sampleInput: {
      trip: { tripId: "trip-lis-001", traveller: "Ada Lovelace", origin: "London", destination: "Lisbon", departOn: "2026-12-01", nights: 3, carDays: 2 },
    },
    tools: TRAVEL_TOOLS,
    policy: TRAVEL_POLICY,
    compile: (opts) => travel.builder.compile(opts) as unknown as CompiledAgent,
  },
  ops: {
    name: "ops",
    version: ops.VERSION,
    description: "Answers questions about the demo world's vendors and invoices; proposes SQL changes, payments and emails, each through the oversight policy (some run, some need a review or a permission, some are refused).",
    inputSchema: OpsInput,
    sampleInput: OPS_SAMPLE_INPUT,
    tools: OPS_TOOLS,
    policy: OPS_POLICY,
    compile: (opts) => ops.builder.compile(opts) as unknown as CompiledAgent,
  },
};
