// What a run streamed (LangGraph stream chunks), kept in Postgres so that a client on any server
// process can follow a run a worker carries, and rejoin after a disconnect from the event it last saw.
import { BaseMessage } from "@langchain/core/messages";
import type pg from "pg";

export interface RunEvent {
  seq: number;
  /** Stream mode, with the sub-agent path after "|" for subgraph chunks ("updates|provisioning:<task>"). */
  event: string;
  data: unknown;
}

/** Plain JSON for values: LangChain messages as `{ type, content, ... }` dicts, like the reference server. */
export function toJson(value: unknown): unknown {
  if (value instanceof BaseMessage) {
    const { data } = value.toDict();
    return { ...(data as unknown as Record<string, unknown>), type: value.getType() };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

/** Append one event to a run's stream. A run's events are written one at a time, in order. */
export async function appendRunEvent(pool: pg.Pool, runId: string, event: string, data: unknown): Promise<void> {
  await pool.query(
    `INSERT INTO waypoint.run_events (run_id, seq, event, data)
     VALUES ($1, COALESCE((SELECT max(seq) FROM waypoint.run_events WHERE run_id = $1), 0) + 1, $2, $3)`,
    [runId, event, JSON.stringify(toJson(data))],
  );
}

export async function readRunEvents(pool: pg.Pool, runId: string, afterSeq: number): Promise<RunEvent[]> {
  const { rows } = await pool.query<RunEvent>("SELECT seq, event, data FROM waypoint.run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq", [runId, afterSeq]);
  return rows;
}
