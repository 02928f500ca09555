// Assistants (waypoint.assistants): a graph with its own config, context and metadata, versioned. Every
// loaded graph has a system assistant whose id `langgraph dev` would give it (uuid5 of the graph id),
// registered at start; clients create more. An assistant id or a graph id names one.
import { v5 as uuid5 } from "@langchain/core/utils/uuid";
import type pg from "pg";
import { WaypointError } from "../errors.js";
import { isUuid } from "./queue.js";

/** The namespace the reference server derives assistant ids from: uuid5(graph_id, NAMESPACE_GRAPH). */
const NAMESPACE_GRAPH = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";

export function assistantIdFor(graphId: string): string {
  return uuid5(graphId, NAMESPACE_GRAPH);
}

export interface AssistantRow {
  assistant_id: string;
  graph_id: string;
  name: string;
  description: string | null;
  config: { configurable?: Record<string, unknown>; tags?: string[]; recursion_limit?: number; [k: string]: unknown };
  context: unknown;
  metadata: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** An assistant by id, or a graph id (its system assistant), or undefined. */
export async function findAssistant(pool: pg.Pool, idOrGraph: string, knownGraphs: ReadonlySet<string>): Promise<AssistantRow | undefined> {
  const id = knownGraphs.has(idOrGraph) ? assistantIdFor(idOrGraph) : idOrGraph;
  if (!isUuid(id)) return undefined;
  return (await pool.query<AssistantRow>({ name: "waypoint_find_assistant", text: "SELECT * FROM waypoint.assistants WHERE assistant_id = $1", values: [id] })).rows[0];
}

export async function getAssistant(pool: pg.Pool, idOrGraph: string, knownGraphs: ReadonlySet<string>): Promise<AssistantRow> {
  const a = await findAssistant(pool, idOrGraph, knownGraphs);
  if (!a) throw unknownAssistant(idOrGraph);
  return a;
}

/** The error for an assistant (or graph) id that names none. */
export function unknownAssistant(idOrGraph: string): WaypointError {
  return new WaypointError("unknown_agent", `No assistant found for "${idOrGraph}". Make sure the assistant ID is for a valid assistant or a valid graph ID.`, {
    details: { assistant: idOrGraph },
  });
}

/** Register each graph's system assistant (once; an existing one is left as its users changed it). */
export async function registerSystemAssistants(pool: pg.Pool, graphs: Array<{ id: string; description?: string | undefined }>): Promise<void> {
  for (const g of graphs) {
    await pool.query(
      `WITH a AS (
         INSERT INTO waypoint.assistants (assistant_id, graph_id, name, description, metadata) VALUES ($1, $2, $2, $3, '{"created_by": "system"}')
         ON CONFLICT (assistant_id) DO NOTHING RETURNING *)
       INSERT INTO waypoint.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
       SELECT assistant_id, 1, graph_id, name, description, config, context, metadata FROM a`,
      [assistantIdFor(g.id), g.id, g.description ?? null],
    );
  }
}
