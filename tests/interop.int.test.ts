// Interop between WaypointSaver and a stock PostgresSaver (checkpoint-postgres 1.0.5) on the same
// tables: a thread started by one and stopped at an interrupt is read (getTuple, list, getState) and
// resumed to completion by the other, in both directions, and ends with the values a MemorySaver run
// ends with.
//
// Message order: the graph has two parallel nodes that each append a message in one super-step.
// LangGraph applies such writes in task path order. WaypointSaver stores the path
// (checkpoint_writes.task_path) and reads writes back in (task_path, task_id, idx) order; stock
// 1.0.5 drops the path and reads them in (task_id, idx) order, and task ids are random. So whenever a
// delta channel (MessagesDeltaValue) is rebuilt from writes by the stock saver, or from rows the stock
// saver wrote (task_path ''), the two parallel messages can come back in either order (see the header
// of src/persistence/saver.ts). The checks below therefore compare message order with that pair
// treated as a set (`ordered`: both ids replaced by one token) plus the full messages by id
// (`byId`); only where WaypointSaver wrote the parallel rows and reads them back is the exact live
// order asserted.
import { AIMessage, HumanMessage, type BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { Command, END, MemorySaver, MessagesDeltaValue, START, StateGraph, StateSchema, interrupt, type BaseCheckpointSaver, type CheckpointTuple, type StateSnapshot } from "@langchain/langgraph";
import { WRITES_IDX_MAP } from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type pg from "pg";
import { z } from "zod";
import { openPersistence, readTranscript, WaypointSaver, type Persistence } from "../src/persistence/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let persistence: Persistence;
let pool: pg.Pool;
/** Our own instance: persistence.saver is a stock PostgresSaver when WAYPOINT_SAVER=stock. */
let waypoint: WaypointSaver;

beforeAll(async () => {
  db = await freshDatabase("interop");
  persistence = await openPersistence({ url: db.url, poolMax: 4 });
  pool = persistence.db.pool;
  waypoint = new WaypointSaver(pool);
});
afterAll(async () => {
  await persistence.close();
  await db.drop();
});

const State = new StateSchema({ messages: MessagesDeltaValue, decision: z.string().default("") });
type S = typeof State.State;

const ai = (id: string, content = id) => new AIMessage({ id, content });
const QUESTION = { question: "ship it?" };

/** A sub-agent with its own checkpoints (namespace "sub:<task id>"), two steps. */
function subgraph() {
  return new StateGraph(State)
    .addNode("s1", () => ({ messages: [ai("s1")] }))
    .addNode("s2", (s: S) => ({ messages: [ai("s2", `s2 saw ${s.messages.length}`)] }))
    .addEdge(START, "s1")
    .addEdge("s1", "s2")
    .addEdge("s2", END)
    .compile();
}

/** START -> a, b (parallel) -> join -> sub -> review (interrupt) -> finish. */
function build() {
  return new StateGraph(State)
    .addNode("a", () => ({ messages: [ai("a")] }))
    .addNode("b", () => ({ messages: [ai("b")] }))
    .addNode("join", (s: S) => ({ messages: [ai("join", `join saw ${s.messages.length}`)] }))
    .addNode("sub", subgraph())
    .addNode("review", () => {
      const answer = String(interrupt(QUESTION));
      return { messages: [new HumanMessage({ id: "reply", content: answer })], decision: answer };
    })
    .addNode("finish", (s: S) => ({ messages: [ai("done", `done after ${s.messages.length}: ${s.decision}`)] }))
    .addEdge(START, "a")
    .addEdge(START, "b")
    .addEdge(["a", "b"], "join")
    .addEdge("join", "sub")
    .addEdge("sub", "review")
    .addEdge("review", "finish")
    .addEdge("finish", END);
}
const withSaver = (saver: BaseCheckpointSaver) => build().compile({ checkpointer: saver });

const INPUT = { messages: [new HumanMessage({ id: "u1", content: "go" })] };
const PARALLEL = new Set(["a", "b"]);
const shape = (m: BaseMessage) => ({ type: m.getType(), id: m.id, content: m.content });
const messagesOf = (s: StateSnapshot) => ((s.values as S).messages ?? []) as BaseMessage[];
/** Message order with the parallel pair as one token (its order is not preserved by stock reads). */
const ordered = (s: StateSnapshot) => messagesOf(s).map((m) => (PARALLEL.has(m.id ?? "") ? "{a|b}" : m.id));
/** Every message, by id. */
const byId = (s: StateSnapshot) => messagesOf(s).map(shape).sort((x, y) => String(x.id).localeCompare(String(y.id)));
const exact = (s: StateSnapshot) => ({ decision: (s.values as S).decision, messages: messagesOf(s).map(shape) });

/**
 * A tuple with its pending writes in stock order, (task_id, idx). WaypointSaver returns them in
 * (task_path, task_id, idx) order. Within one task they differ only when the task's writes came from
 * both savers: stock stores '' as the path, so on a thread it started, the review task's interrupt
 * (stock, path '') sorts before its resume (WaypointSaver, real path) although its idx (-3) is after
 * the resume's (-4). The idx is not in the tuple: special writes have WRITES_IDX_MAP's fixed negative
 * idx, and a task's ordinary writes (idx 0..n, one putWrites call) come in idx order from both savers,
 * so a stable sort by (task id, special idx or 0) restores (task_id, idx).
 */
function normalised(t: CheckpointTuple | undefined) {
  if (!t) return t;
  const idx = (channel: string) => (WRITES_IDX_MAP as Record<string, number>)[channel] ?? 0;
  const writes = [...(t.pendingWrites ?? [])].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : idx(x[1]) - idx(y[1])));
  return { ...t, pendingWrites: writes };
}

async function listAll(saver: BaseCheckpointSaver, threadId: string) {
  const out: ReturnType<typeof normalised>[] = [];
  for await (const t of saver.list({ configurable: { thread_id: threadId } })) out.push(normalised(t));
  return out;
}

/** The reader sees exactly what the writer sees at the raw checkpoint level. */
async function expectSameRawView(writer: BaseCheckpointSaver, reader: BaseCheckpointSaver, threadId: string) {
  const latest: RunnableConfig = { configurable: { thread_id: threadId, checkpoint_ns: "" } };
  const mine = normalised(await writer.getTuple(latest));
  const theirs = normalised(await reader.getTuple(latest));
  expect(theirs).toBeDefined();
  expect(theirs).toEqual(mine);
  // The interrupt is a pending write of the review task on the newest checkpoint.
  expect(theirs!.pendingWrites.some(([, channel, value]) => channel === "__interrupt__" && JSON.stringify(value).includes("ship it?"))).toBe(true);
  // By id too.
  const byIdConfig = theirs!.config;
  expect(normalised(await reader.getTuple(byIdConfig))).toEqual(normalised(await writer.getTuple(byIdConfig)));

  const a = await listAll(writer, threadId);
  const b = await listAll(reader, threadId);
  expect(b.length).toBeGreaterThan(5);
  expect(b).toEqual(a);
  // The sub-agent's checkpoints are there, under its own namespace.
  expect(b.some((t) => String(t!.config.configurable?.checkpoint_ns).startsWith("sub:"))).toBe(true);
}

/** Waiting at the review interrupt, with the values the MemorySaver run has at the same point. */
function expectWaiting(s: StateSnapshot, reference: StateSnapshot) {
  expect(s.next).toEqual(["review"]);
  const review = s.tasks.find((t) => t.name === "review");
  expect(review?.interrupts.map((i) => i.value)).toEqual([QUESTION]);
  expect(ordered(s)).toEqual(ordered(reference));
  expect(byId(s)).toEqual(byId(reference));
  expect((s.values as S).decision).toBe("");
}

/** The MemorySaver reference: same input, same answer. */
async function referenceRun(threadId: string) {
  const mem = withSaver(new MemorySaver());
  const config = { configurable: { thread_id: threadId }, durability: "sync" as const };
  await mem.invoke(INPUT, config);
  const waiting = await mem.getState(config);
  await mem.invoke(new Command({ resume: "yes" }), config);
  const done = await mem.getState(config);
  expect(done.next).toEqual([]);
  expect(ordered(done)).toEqual(["u1", "{a|b}", "{a|b}", "join", "s1", "s2", "reply", "done"]);
  return { waiting, done };
}

describe("WaypointSaver and a stock PostgresSaver share threads", () => {
  test("started on WaypointSaver, read and finished by stock", async () => {
    const threadId = "waypoint-then-stock";
    const config = { configurable: { thread_id: threadId }, durability: "sync" as const };
    const ref = await referenceRun(threadId);
    const ours = withSaver(waypoint);
    const stock = new PostgresSaver(pool);
    const theirs = withSaver(stock);

    const first = await ours.invoke(INPUT, config);
    expect((first as { __interrupt__?: unknown[] }).__interrupt__).toHaveLength(1);
    // WaypointSaver wrote the parallel rows with their task path: its own read is the live order.
    expect(exact(await ours.getState(config))).toEqual(exact(ref.waiting));

    await expectSameRawView(waypoint, stock, threadId);
    expectWaiting(await theirs.getState(config), ref.waiting);

    await theirs.invoke(new Command({ resume: "yes" }), config);
    const done = await theirs.getState(config);
    expect(done.next).toEqual([]);
    expect(ordered(done)).toEqual(ordered(ref.done));
    expect(byId(done)).toEqual(byId(ref.done));
    expect((done.values as S).decision).toBe("yes");
    // Read back through WaypointSaver: the parallel rows still carry WaypointSaver's task paths and no
    // snapshot was written (MessagesDeltaValue snapshots every 100 updates), so the order is exact.
    expect(exact(await ours.getState(config))).toEqual(exact(ref.done));
    // The transcript holds what WaypointSaver wrote; messages written while stock ran are not in it
    // (stock knows nothing of waypoint.transcript).
    const transcribed = (await readTranscript(pool, threadId)).map((r) => r.message_id);
    expect(transcribed).toEqual(expect.arrayContaining(["a", "b", "join", "s1", "s2"]));
  });

  test("started on stock, read and finished by WaypointSaver", async () => {
    const threadId = "stock-then-waypoint";
    const config = { configurable: { thread_id: threadId }, durability: "sync" as const };
    const ref = await referenceRun(threadId);
    const ours = withSaver(waypoint);
    const stock = new PostgresSaver(pool);
    const theirs = withSaver(stock);

    const first = await theirs.invoke(INPUT, config);
    expect((first as { __interrupt__?: unknown[] }).__interrupt__).toHaveLength(1);
    // Stock rows have task_path '' (the column default): WaypointSaver reads them as stock does.
    const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM checkpoint_writes WHERE thread_id = $1 AND task_path <> ''", [threadId]);
    expect(Number(rows[0]!.n)).toBe(0);

    await expectSameRawView(stock, waypoint, threadId);
    expectWaiting(await ours.getState(config), ref.waiting);
    expectWaiting(await theirs.getState(config), ref.waiting);

    await ours.invoke(new Command({ resume: "yes" }), config);
    for (const reader of [ours, theirs]) {
      const done = await reader.getState(config);
      expect(done.next).toEqual([]);
      expect(ordered(done)).toEqual(ordered(ref.done));
      expect(byId(done)).toEqual(byId(ref.done));
      expect((done.values as S).decision).toBe("yes");
    }
    // Both ways agree on the raw checkpoints after the resume, too.
    const latest = { configurable: { thread_id: threadId, checkpoint_ns: "" } };
    expect(normalised(await waypoint.getTuple(latest))).toEqual(normalised(await stock.getTuple(latest)));
    expect(await listAll(waypoint, threadId)).toEqual(await listAll(stock, threadId));
  });
});
