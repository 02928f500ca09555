// Token streaming through the official SDK: a model that streams its reply word by word (Waypoint's
// ScriptedChatModel with chunked replies, in tests/fixtures/streaming) run by Waypoint's worker, its
// chunks recorded in Postgres and read back by the server's SSE, next to `langgraph dev` serving the
// same fixture. Tokens must arrive as several events while the run is still going, in order, joining
// to the whole reply; a stream rejoined with Last-Event-ID continues where it left off. And the offline
// planner (the model with no OPENAI_API_KEY) streams its summary in a few chunks.
import path from "node:path";
import type { Client } from "@langchain/langgraph-sdk";
import type pg from "pg";
import { PROJECT_ROOT } from "../src/config.js";
import { RunEventWriter } from "../src/runs/events.js";
import { RunFeed } from "../src/runs/feed.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { replyTo } from "./fixtures/streaming/talk.js";
import { eventShape, normalise, startReference, type Target } from "./support/compat.js";
import { freePort, freshDatabase, type TestDatabase } from "./support/db.js";

const CONFIG = path.join(PROJECT_ROOT, "tests", "fixtures", "streaming", "langgraph.json");

let db: TestDatabase;
let waypoint: RunningServer;
const targets: Target[] = [];

beforeAll(async () => {
  db = await freshDatabase("streaming");
  const [reference] = await Promise.all([
    freePort().then((port) => startReference(port, CONFIG)),
    (async () => {
      waypoint = await startServer({
        host: "127.0.0.1",
        port: 0,
        auth: { required: false, tokens: new Map() },
        waypoint: { url: db.url, config: CONFIG, poolMax: 6 },
        worker: { doctorMs: 0, pollMs: 200 },
      });
    })(),
  ]);
  const { Client } = await import("@langchain/langgraph-sdk");
  targets.push({ name: "waypoint", url: waypoint.url, client: new Client({ apiUrl: waypoint.url }), close: () => waypoint.close() }, reference);
}, 120_000);

afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await db?.drop();
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });
type Part = { id?: string; event: string; data: unknown };
type Msg = { type: string; content: unknown; id?: string; tool_call_chunks?: Array<{ name?: string; args?: string }> };

/**
 * Read a run's stream; at the first event `probe` picks, ask the server whether the run is still going
 * (so "tokens arrive before the run ends" is a fact the server states, not a timing guess).
 */
async function read(c: Client, threadId: string, stream: AsyncIterable<Part>, probe: (p: Part) => boolean): Promise<{ parts: Part[]; statusAtProbe: string | undefined }> {
  const parts: Part[] = [];
  let runId: string | undefined;
  let statusAtProbe: string | undefined;
  for await (const p of stream) {
    parts.push(p);
    if (p.event === "metadata") runId = (p.data as { run_id: string }).run_id;
    if (statusAtProbe === undefined && probe(p) && runId) statusAtProbe = (await c.runs.get(threadId, runId)).status;
  }
  return { parts, statusAtProbe };
}

const contentOf = (m: Msg | undefined) => (typeof m?.content === "string" ? m.content : JSON.stringify(m?.content));

test.each(["waypoint", "reference"] as const)("stream_mode messages on %s: the reply grows over several messages/partial events before the run ends", async (name) => {
  const t = targets.find((x) => x.name === name)!;
  const thread = await t.client.threads.create();
  const { parts, statusAtProbe } = await read(t.client, thread.thread_id, t.client.runs.stream(thread.thread_id, "talk", { input: user("hello there"), streamMode: ["messages"] }), (p) => p.event === "messages/partial");
  const partial = parts.filter((p) => p.event === "messages/partial").map((p) => contentOf((p.data as Msg[])[0]));
  const full = replyTo("hello there");
  expect(statusAtProbe).toBe("running");
  expect(partial.length).toBeGreaterThanOrEqual(5);
  // Each partial is the message so far: a longer prefix of the reply than the one before.
  for (const [i, text] of partial.entries()) {
    expect(full.startsWith(text)).toBe(true);
    if (i > 0) expect(text.length).toBeGreaterThan(partial[i - 1]!.length);
  }
  expect(partial.at(-1)).toBe(full);
  const complete = parts.filter((p) => p.event === "messages/complete").flatMap((p) => p.data as Msg[]);
  expect(complete.filter((m) => m.type === "ai").map(contentOf)).toEqual([full]);
}, 60_000);

test.each(["waypoint", "reference"] as const)("stream_mode messages-tuple on %s: one event per token, in order, joining to the reply", async (name) => {
  const t = targets.find((x) => x.name === name)!;
  const thread = await t.client.threads.create();
  const { parts, statusAtProbe } = await read(t.client, thread.thread_id, t.client.runs.stream(thread.thread_id, "talk", { input: user("tokens please"), streamMode: ["messages-tuple"] }), (p) => p.event === "messages");
  const tuples = parts.filter((p) => p.event === "messages").map((p) => p.data as [Msg, { langgraph_node?: string }]);
  expect(statusAtProbe).toBe("running");
  expect(tuples.length).toBeGreaterThanOrEqual(5);
  expect(tuples.every(([, meta]) => meta.langgraph_node === "model_request")).toBe(true);
  expect(new Set(tuples.map(([m]) => m.id)).size).toBe(1);
  expect(tuples.map(([m]) => contentOf(m)).join("")).toBe(replyTo("tokens please"));
}, 60_000);

/** What a client sees of one scenario, without ids and times: compared between the two servers. */
async function observe(c: Client): Promise<unknown> {
  const thread = await c.threads.create();
  const partialRun = [];
  for await (const p of c.runs.stream(thread.thread_id, "talk", { input: user("same shape"), streamMode: ["messages"] })) partialRun.push(p as Part);
  const tupleRun = [];
  for await (const p of c.runs.stream(thread.thread_id, "talk", { input: user("note: buy milk"), streamMode: ["messages-tuple", "updates"] })) tupleRun.push(p as Part);
  const interrupts = Object.values((await c.threads.get(thread.thread_id)).interrupts).flat();
  const resumed = [];
  for await (const p of c.runs.stream(thread.thread_id, "talk", { command: { resume: { decisions: [{ type: "approve" }] } }, streamMode: ["messages-tuple"] })) resumed.push(p as Part);
  const tokens = (ps: Part[]) => ps.filter((p) => p.event === "messages").map((p) => {
    const [m, meta] = p.data as [Msg, { langgraph_node?: string }];
    return `${meta.langgraph_node}:${m.type}:${contentOf(m)}${m.tool_call_chunks?.length ? ` ${m.tool_call_chunks.map((tc) => `${tc.name}${tc.args}`).join(",")}` : ""}`;
  });
  return {
    messages: { shape: eventShape(partialRun), partial: partialRun.filter((p) => p.event === "messages/partial").map((p) => contentOf((p.data as Msg[])[0])), metadata: partialRun.filter((p) => p.event === "messages/metadata").map((p) => Object.values(p.data as Record<string, { metadata: { langgraph_node?: string } }>).map((v) => v.metadata.langgraph_node)) },
    toolTurn: { shape: eventShape(tupleRun), tokens: tokens(tupleRun), interrupts: interrupts.length },
    resumed: { shape: eventShape(resumed), tokens: tokens(resumed) },
  };
}

test("the same scenarios give the same events on Waypoint and on langgraph dev", async () => {
  const seen: Record<string, unknown> = {};
  for (const t of targets) seen[t.name] = normalise(await observe(t.client));
  expect(seen.waypoint).toEqual(seen.reference);
}, 90_000);

test("a stream rejoined with Last-Event-ID continues after the event it names, tokens and all", async () => {
  const c = targets.find((x) => x.name === "waypoint")!.client;
  const thread = await c.threads.create();
  const run = await c.runs.create(thread.thread_id, "talk", { input: user("rejoin me later"), streamMode: ["messages"], streamResumable: true });
  const first: Part[] = [];
  const stop = new AbortController();
  try {
    for await (const p of c.runs.joinStream(thread.thread_id, run.run_id, { signal: stop.signal })) {
      first.push(p as Part);
      if (first.filter((x) => x.event === "messages/partial").length === 3) break;
    }
  } finally {
    stop.abort();
  }
  const lastId = first.at(-1)?.id;
  expect(lastId).toBeDefined();
  // The run goes on without a reader; the rejoin gets the rest, none of what was read again.
  const rest: Part[] = [];
  for await (const p of c.runs.joinStream(thread.thread_id, run.run_id, { lastEventId: lastId })) rest.push(p as Part);
  const all: Part[] = [];
  for await (const p of c.runs.joinStream(thread.thread_id, run.run_id, { lastEventId: "0" })) all.push(p as Part);
  expect([...first, ...rest].map((p) => p.id)).toEqual(all.map((p) => p.id));
  const partial = rest.filter((p) => p.event === "messages/partial").map((p) => contentOf((p.data as Msg[])[0]));
  expect(partial.length).toBeGreaterThan(0);
  expect(partial.at(-1)).toBe(replyTo("rejoin me later"));
  expect(rest.some((p) => p.event === "messages/complete")).toBe(true);
}, 60_000);

test("the offline planner (no OPENAI_API_KEY) streams its summary in a few chunks through Waypoint's server", async () => {
  const offlineDb = await freshDatabase("streaming_offline");
  const { offlinePlannerModel } = await import("../src/models/index.js");
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    auth: { required: false, tokens: new Map() },
    worker: { url: offlineDb.url, model: offlinePlannerModel(), poolMax: 4, doctorMs: 0, pollMs: 200 },
  });
  try {
    const { Client } = await import("@langchain/langgraph-sdk");
    const c = new Client({ apiUrl: server.url });
    const thread = await c.threads.create();
    const trip = { tripId: "trip-stream-1", traveller: "Stream Traveller", origin: "London", destination: "Lisbon", departOn: "2026-12-01", nights: 2, carDays: 2 };
    const parts: Part[] = [];
    for await (const p of c.runs.stream(thread.thread_id, "travel", { input: { trip }, streamMode: ["messages-tuple", "values"] })) parts.push(p as Part);
    const last = ((parts.filter((p) => p.event === "values").at(-1)?.data as { messages?: Msg[] } | undefined)?.messages ?? []).filter((m) => m.type === "ai").at(-1);
    expect(contentOf(last)).toMatch(/^Finished\./);
    const tokens = parts.filter((p) => p.event === "messages").map((p) => (p.data as [Msg])[0]).filter((m) => m.id === last?.id);
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(tokens.length).toBeLessThanOrEqual(4);
    expect(tokens.map(contentOf).join("")).toBe(contentOf(last));
  } finally {
    await server.close();
    await offlineDb.drop();
  }
}, 90_000);

test("a follower woken while it reads does not miss the wake: an event recorded during its read comes at once, not at the next poll", async () => {
  const c = targets.find((x) => x.name === "waypoint")!.client;
  const thread = await c.threads.create();
  // A run that waits in the queue for an hour: nothing but this test writes its events.
  const run = await c.runs.create(thread.thread_id, "talk", { input: user("later"), afterSeconds: 3600 });
  const pool = waypoint.waypoint.pool;
  const writer = new RunEventWriter(pool, run.run_id);
  let reads = 0;
  // The event is recorded (and its NOTIFY delivered) after the follower's first read of events took
  // its rows and before it waits: the moment a follower that subscribed only to wait would miss.
  const racing = new Proxy(pool, {
    get(target, key, receiver) {
      if (key !== "query") return Reflect.get(target, key, receiver);
      return async (q: { name?: string }, ...rest: unknown[]) => {
        const result = await (target.query as (...a: unknown[]) => Promise<unknown>).call(target, q, ...rest);
        if (q?.name === "waypoint_read_run_events" && ++reads === 1) {
          writer.append("custom", { during: "read" });
          await writer.flush();
          await new Promise((r) => setTimeout(r, 300));
        }
        return result;
      };
    },
  }) as pg.Pool;
  // A poll so slow that only the NOTIFY can bring the event within the test's time.
  const feed = new RunFeed(racing, waypoint.waypoint.persistence.db.directUrl, 600_000);
  const stop = new AbortController();
  try {
    for await (const e of feed.follow(run.run_id, 0, stop.signal)) {
      expect(e).toMatchObject({ event: "custom", data: { during: "read" } });
      break;
    }
  } finally {
    stop.abort();
    await feed.close();
    await c.runs.cancel(thread.thread_id, run.run_id);
  }
  expect(reads).toBe(2);
}, 30_000);
