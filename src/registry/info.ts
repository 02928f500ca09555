// What a graph may tell Waypoint about itself, attached to the graph object (never required): the
// version threads pin, a description and an example input for the CLI, its tools and built-in oversight
// policy (so a run's policy can be checked against them). A symbol from the global registry, so a graph
// built against another copy of this module is still understood.
import type { z } from "zod";

export const GRAPH_INFO = Symbol.for("waypoint.graph.info");

export interface GraphInfo {
  /** Bump it when a change makes threads started on the old code unsafe to resume on the new one. */
  version?: string;
  /** What the graph does, for `waypoint agents` and the assistant's description. */
  description?: string;
  /** An input that works (CLI help, `waypoint agents`, the demo). */
  sampleInput?: Record<string, unknown>;
  /** Checks `waypoint run <graph> --input` before a thread is created. */
  inputSchema?: z.ZodType;
  /** The tools the graph's model can call (a run's oversight policy may only name these). */
  tools?: ReadonlyArray<{ name: string }>;
}

/** Attach Waypoint facts to a graph (compiled, a builder, or a factory); returns the same object. */
export function describeGraph<G extends object>(graph: G, info: GraphInfo): G {
  Object.defineProperty(graph, GRAPH_INFO, { value: info, enumerable: false, configurable: true });
  return graph;
}

export function graphInfoOf(graph: unknown): GraphInfo | undefined {
  if ((typeof graph !== "object" && typeof graph !== "function") || graph === null) return undefined;
  return (graph as { [GRAPH_INFO]?: GraphInfo })[GRAPH_INFO];
}
