// What a run streamed (LangGraph stream chunks), kept in Postgres so that a client on any server
// process can follow a run a worker carries, and rejoin after a disconnect from the event it last saw.
import { BaseMessage } from "@langchain/core/messages";
import type pg from "pg";
import { log } from "../log.js";

/** NOTIFY channel: a run recorded new stream events (payload: the run id). */
export const EVENTS_CHANNEL = "waypoint_run_events";

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

export async function readRunEvents(pool: pg.Pool, runId: string, afterSeq: number, limit = 500): Promise<RunEvent[]> {
  const { rows } = await pool.query<RunEvent>({
    name: "waypoint_read_run_events",
    text: "SELECT seq, event, data FROM waypoint.run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    values: [runId, afterSeq, limit],
  });
  return rows;
}

/**
 * Buffers one run's events and writes them in batches: a write starts as soon as the events of the
 * moment are in (after `lingerMs`), and what arrives while a write is in flight goes in the next one.
 * A model's token reaches followers one round trip after it is made, and a run that streams many
 * chunks at once still costs one round trip per batch, not one per chunk.
 */
export class RunEventWriter {
  private buffer: Array<{ event: string; data: unknown }> = [];
  private seq: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly runId: string,
    private readonly lingerMs = 0,
  ) {}

  append(event: string, data: unknown): void {
    this.buffer.push({ event, data: toJson(data) });
    this.schedule();
  }

  /** Start a write soon, unless one is due or in flight (its end starts the next). */
  private schedule(): void {
    if (this.timer || this.inFlight > 0 || this.buffer.length === 0) return;
    this.timer = setTimeout(() => void this.flush().catch((e: Error) => log.warn({ err: e.message, runId: this.runId }, "could not record stream events")), this.lingerMs);
  }

  /** Write what is buffered (in order with earlier batches). Errors are reported, never thrown at the run. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    this.inFlight++;
    // A failed batch must not block the ones after it.
    this.writing = this.writing
      .catch(() => undefined)
      .then(() => this.write(batch))
      .finally(() => {
        this.inFlight--;
        this.schedule();
      });
    return this.writing;
  }

  private async write(batch: Array<{ event: string; data: unknown }>): Promise<void> {
    if (batch.length === 0) return;
    if (this.seq === undefined) {
      const { rows } = await this.pool.query<{ seq: number | null }>("SELECT max(seq) AS seq FROM waypoint.run_events WHERE run_id = $1", [this.runId]);
      this.seq = rows[0]?.seq ?? 0;
    }
    const first = this.seq + 1;
    this.seq += batch.length;
    // Followers on any server process are woken by the NOTIFY (sent at commit, with the rows).
    await this.pool.query({
      name: "waypoint_run_events",
      text: `WITH ins AS (
               INSERT INTO waypoint.run_events (run_id, seq, event, data)
               SELECT $1, $2 + i - 1, e, d FROM unnest($3::text[], $4::jsonb[]) WITH ORDINALITY AS t(e, d, i) RETURNING 1)
             SELECT pg_notify($5, $1::text) FROM (SELECT 1 FROM ins LIMIT 1) x`,
      values: [this.runId, first, batch.map((b) => b.event), batch.map((b) => JSON.stringify(b.data)), EVENTS_CHANNEL],
    });
  }
}
