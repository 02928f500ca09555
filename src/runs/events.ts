// What a run streamed (LangGraph stream chunks), kept in Postgres so that a client on any server
// process can follow a run a worker carries, and rejoin after a disconnect from the event it last saw.
import { BaseMessage } from "@langchain/core/messages";
import type pg from "pg";
import { log } from "../log.js";
import { Grouper, type NamedQuery } from "../persistence/index.js";

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

/** One run's batch of events, to go in a group statement with other runs'. */
interface EventBatch {
  runId: string;
  events: Array<{ event: string; data: unknown }>;
}

// Each run's events continue its highest seq (computed in the statement, so a run taken over from a
// dead carrier continues where that one stopped); followers on any server process are woken by one
// NOTIFY per run, sent at commit with the rows. One statement for every run whose events are ready in
// the same turn: a NOTIFY-bearing commit holds Postgres's notify queue lock through its WAL flush, so
// 10,000 runs each committing their own events would queue behind one another.
const EVENTS_SQL = `WITH b AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[]) AS t(run_id, k, event, data)),
     base AS (SELECT r.run_id, coalesce((SELECT max(e.seq) FROM waypoint.run_events e WHERE e.run_id = r.run_id), 0) AS m
                FROM (SELECT DISTINCT run_id FROM b) r),
     ins AS (INSERT INTO waypoint.run_events (run_id, seq, event, data)
             SELECT b.run_id, base.m + b.k, b.event, b.data FROM b JOIN base USING (run_id) RETURNING run_id)
SELECT pg_notify($5, run_id::text) FROM (SELECT DISTINCT run_id FROM ins) x`;

function eventsStatement(batches: readonly EventBatch[]): NamedQuery {
  const runs: string[] = [];
  const ks: number[] = [];
  const names: string[] = [];
  const datas: string[] = [];
  for (const b of batches) {
    b.events.forEach((e, i) => {
      runs.push(b.runId);
      ks.push(i + 1);
      names.push(e.event);
      datas.push(JSON.stringify(e.data));
    });
  }
  return { name: "waypoint_run_events_group", text: EVENTS_SQL, values: [runs, ks, names, datas, EVENTS_CHANNEL] };
}

/** One event group per pool (every run a process carries writes through its pool). */
const groups = new WeakMap<pg.Pool, Grouper<EventBatch>>();

function groupFor(pool: pg.Pool): Grouper<EventBatch> {
  let g = groups.get(pool);
  if (!g) {
    g = new Grouper<EventBatch>(
      async (q) => {
        await pool.query(q);
      },
      { maxInFlight: 2, maxMembers: 500, onSplit: (members, error) => log.warn({ members, error: (error as Error).message }, "run events: a group statement failed; sending its runs one by one") },
      eventsStatement,
      // A run's batches go one after the other (each continues the seq the previous one committed).
      (b) => b.runId,
    );
    groups.set(pool, g);
  }
  return g;
}

/**
 * Buffers one run's events and writes them in batches: a write starts as soon as the events of the
 * moment are in (after `lingerMs`), and what arrives while a write is in flight goes in the next one.
 * A model's token reaches followers one round trip after it is made, and a run that streams many
 * chunks at once still costs one round trip per batch, not one per chunk.
 */
export class RunEventWriter {
  private buffer: Array<{ event: string; data: unknown }> = [];
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
    await groupFor(this.pool).commit({ runId: this.runId, events: batch });
  }
}
