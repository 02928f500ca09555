// WaypointSaver against real Postgres: its one-query getDeltaChannelHistory returns exactly what
// BaseCheckpointSaver's ancestor walk returns, for every checkpoint of threads that use every kind of
// messages write (parallel nodes in one super-step, RemoveMessage, REMOVE_ALL_MESSAGES, Overwrite, an
// edit of a message, interrupts, a subgraph); state equals a run on MemorySaver; a stock PostgresSaver
// reads what it writes; every message lands in the transcript.
import { AIMessage, HumanMessage, RemoveMessage, type BaseMessage } from "@langchain/core/messages";
import {
  BaseCheckpointSaver,
  Command,
  DeltaValue,
  END,
  MemorySaver,
  MessagesDeltaValue,
  Overwrite,
  REMOVE_ALL_MESSAGES,
  START,
  StateGraph,
  StateSchema,
  interrupt,
  messagesDeltaReducer,
  type StateSnapshot,
} from "@langchain/langgraph";
import type { RunnableConfig } from "@langchain/core/runnables";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import pg from "pg";
import { z } from "zod";
import { openPersistence, readTranscript, transcriptMessages, WaypointSaver, type Persistence } from "../src/persistence/index.js";
import { transcriptEntries } from "../src/persistence/transcript.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let persistence: Persistence;
let pool: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase("saver");
  persistence = await openPersistence({ url: db.url, poolMax: 4 });
  pool = persistence.db.pool;
});
afterAll(async () => {
  await persistence.close();
  await db.drop();
});

// Messages as a delta channel that snapshots every 3 updates, so threads cross several snapshots.
const Messages3 = new DeltaValue(MessagesDeltaValue.valueSchema, { inputSchema: MessagesDeltaValue.inputSchema, reducer: messagesDeltaReducer, snapshotFrequency: 3 });
const State = new StateSchema({ messages: Messages3, turn: z.number().default(0) });
type S = typeof State.State;

const ai = (id: string, content = id) => new AIMessage({ id, content });

/** A sub-agent: two steps, the second asks a person on turn 3. */
function subgraph() {
  return new StateGraph(State)
    .addNode("s1", (s: S) => ({ messages: [ai(`${s.turn}-s1`)] }))
    .addNode("s2", (s: S) => {
      const answer = s.turn === 3 ? String(interrupt({ question: "sub-agent asks" })) : "auto";
      return { messages: [ai(`${s.turn}-s2`, `s2 ${answer}`)] };
    })
    .addEdge(START, "s1")
    .addEdge("s1", "s2")
    .addEdge("s2", END)
    .compile();
}

/**
 * Each turn: three nodes append in one super-step, `join` does the turn's special write, the sub-agent
 * runs, `review` asks a person on turn 2.
 */
function build() {
  return new StateGraph(State)
    .addNode("a", (s: S) => ({ messages: [ai(`${s.turn}-a`)] }))
    .addNode("b", (s: S) => ({ messages: [ai(`${s.turn}-b`)] }))
    .addNode("c", (s: S) => ({ messages: [ai(`${s.turn}-c1`), ai(`${s.turn}-c2`)] }))
    .addNode("join", (s: S) => {
      const mine = ai(`${s.turn}-join`);
      if (s.turn === 2) return { messages: [new RemoveMessage({ id: "1-b" }), mine] };
      if (s.turn === 3) return { messages: [ai("1-a", "1-a edited"), mine] };
      if (s.turn === 4) return { messages: new Overwrite([...s.messages.slice(-3), mine]) };
      if (s.turn === 5) return { messages: [new RemoveMessage({ id: REMOVE_ALL_MESSAGES }), mine] };
      return { messages: [mine] };
    })
    .addNode("sub", subgraph())
    .addNode("review", (s: S) => {
      if (s.turn !== 2) return {};
      const v = interrupt({ question: "ok?" });
      return { messages: [new HumanMessage({ id: `${s.turn}-reply`, content: String(v) })] };
    })
    .addEdge(START, "a")
    .addEdge(START, "b")
    .addEdge(START, "c")
    .addEdge(["a", "b", "c"], "join")
    .addEdge("join", "sub")
    .addEdge("sub", "review")
    .addEdge("review", END);
}

type Graph = ReturnType<ReturnType<typeof build>["compile"]>;

/** Six turns, answering every interrupt; the same inputs on any checkpointer. */
async function drive(graph: Graph, threadId: string): Promise<void> {
  const config = { configurable: { thread_id: threadId }, durability: "sync" as const };
  for (let turn = 1; turn <= 6; turn++) {
    await graph.invoke({ messages: [new HumanMessage({ id: `u${turn}`, content: `turn ${turn}` })], turn }, config);
    for (let i = 0; i < 3 && (await graph.getState(config)).next.length > 0; i++) await graph.invoke(new Command({ resume: `yes ${turn}` }), config);
  }
}

const shape = (m: BaseMessage) => ({ type: m.getType(), id: m.id, content: m.content });
const values = (s: StateSnapshot) => {
  const v = s.values as S;
  return { turn: v.turn, messages: (v.messages ?? []).map(shape) };
};

/** Every checkpoint of a thread, every namespace. */
async function allCheckpoints(saver: BaseCheckpointSaver, threadId: string): Promise<RunnableConfig[]> {
  const out: RunnableConfig[] = [];
  for await (const t of saver.list({ configurable: { thread_id: threadId } })) out.push(t.config);
  return out;
}

describe("getDeltaChannelHistory", () => {
  test("equals the base ancestor walk for every checkpoint, in one query", async () => {
    const saver = persistence.saver;
    await drive(build().compile({ checkpointer: saver }), "equiv");
    const configs = await allCheckpoints(saver, "equiv");
    const namespaces = new Set(configs.map((c) => c.configurable?.checkpoint_ns as string));
    expect(configs.length).toBeGreaterThan(40);
    expect([...namespaces].some((ns) => ns.startsWith("sub:"))).toBe(true);

    let seeded = 0;
    let queries = 0;
    const query = pool.query.bind(pool);
    const counting = ((...args: Parameters<typeof pool.query>) => {
      queries++;
      return (query as (...a: unknown[]) => unknown)(...args);
    }) as typeof pool.query;
    for (const config of configs) {
      const channels = ["messages", "turn", "no-such-channel"];
      pool.query = counting;
      queries = 0;
      const mine = await saver.getDeltaChannelHistory({ config, channels });
      pool.query = query;
      expect(queries).toBe(1);
      const base = await BaseCheckpointSaver.prototype.getDeltaChannelHistory.call(saver, { config, channels });
      expect(mine).toEqual(base);
      // `seed` is there exactly when the walk found a value; `toEqual` would not tell a missing key from undefined.
      for (const ch of channels) expect(Object.hasOwn(mine[ch]!, "seed")).toBe(Object.hasOwn(base[ch]!, "seed"));
      if (Object.hasOwn(mine.messages!, "seed")) seeded++;
    }
    expect(seeded).toBeGreaterThan(10);
    // The newest checkpoint of the thread (no checkpoint_id) and an unknown one.
    const latest = { configurable: { thread_id: "equiv", checkpoint_ns: "" } };
    expect(await saver.getDeltaChannelHistory({ config: latest, channels: ["messages"] })).toEqual(
      await BaseCheckpointSaver.prototype.getDeltaChannelHistory.call(saver, { config: latest, channels: ["messages"] }),
    );
    const unknown = { configurable: { thread_id: "equiv", checkpoint_ns: "", checkpoint_id: "nope" } };
    expect(await saver.getDeltaChannelHistory({ config: unknown, channels: ["messages"] })).toEqual({ messages: { writes: [] } });
    expect(await saver.getDeltaChannelHistory({ config: latest, channels: [] })).toEqual({});
  });

  test("state at every checkpoint equals a run on MemorySaver, parallel writes in live order", async () => {
    const memory = new MemorySaver();
    const onPg = build().compile({ checkpointer: persistence.saver });
    const inMemory = build().compile({ checkpointer: memory });
    await drive(onPg, "vs-memory");
    await drive(inMemory, "vs-memory");
    const config = { configurable: { thread_id: "vs-memory" } };

    const final = values(await onPg.getState(config));
    expect(final).toEqual(values(await inMemory.getState(config)));
    expect(final.messages.map((m) => m.id)).toEqual(["5-join", "5-s1", "5-s2", "u6", "6-a", "6-b", "6-c1", "6-c2", "6-join", "6-s1", "6-s2"]);

    const history = async (g: Graph) => {
      const out: ReturnType<typeof values>[] = [];
      for await (const s of g.getStateHistory(config)) out.push(values(s));
      return out;
    };
    const pgHistory = await history(onPg);
    expect(pgHistory).toEqual(await history(inMemory));
    // Turn 1's parallel writes, as the live run applied them (task path order), not in task id order.
    const turn1 = pgHistory.findLast((h) => h.messages.some((m) => m.id === "1-join"))!;
    expect(turn1.messages.map((m) => m.id)).toEqual(["u1", "1-a", "1-b", "1-c1", "1-c2", "1-join"]);
  });

  test("a sub-agent's interrupt and its state match MemorySaver while it waits", async () => {
    const memory = new MemorySaver();
    const onPg = build().compile({ checkpointer: persistence.saver });
    const inMemory = build().compile({ checkpointer: memory });
    const config = { configurable: { thread_id: "sub-waits" }, durability: "sync" as const };
    for (const g of [onPg, inMemory]) {
      for (let turn = 1; turn <= 3; turn++) {
        await g.invoke({ messages: [new HumanMessage({ id: `u${turn}`, content: `turn ${turn}` })], turn }, config);
        if (turn === 2) await g.invoke(new Command({ resume: "fine" }), config);
      }
    }
    const a = await onPg.getState(config, { subgraphs: true });
    const b = await inMemory.getState(config, { subgraphs: true });
    expect(a.next).toEqual(["sub"]);
    expect(values(a)).toEqual(values(b));
    const subA = a.tasks[0]?.state as StateSnapshot;
    const subB = b.tasks[0]?.state as StateSnapshot;
    expect(subA.next).toEqual(["s2"]);
    expect(values(subA)).toEqual(values(subB));
    expect(a.tasks[0]?.interrupts[0]?.value).toEqual({ question: "sub-agent asks" });
  });
});

describe("compatibility with a stock PostgresSaver", () => {
  test("reads what WaypointSaver wrote; only the order of one super-step's parallel writes can differ", async () => {
    const stock = new PostgresSaver(pool);
    const stockGraph = build().compile({ checkpointer: stock });
    const ours = build().compile({ checkpointer: persistence.saver });
    await drive(ours, "compat");
    const config = { configurable: { thread_id: "compat" } };
    const mine = values(await ours.getState(config));
    const theirs = values(await stockGraph.getState(config));
    const byId = (ms: { id?: string | undefined }[]) => ms.map((m) => m.id).sort();
    expect(byId(theirs.messages)).toEqual(byId(mine.messages));
    expect(theirs.turn).toBe(mine.turn);
    // And the stock saver can carry the thread on.
    await stockGraph.invoke({ messages: [new HumanMessage({ id: "u7", content: "turn 7" })], turn: 7 }, { ...config, durability: "sync" });
    expect((await ours.getState(config)).values.messages.some((m: BaseMessage) => m.id === "7-join")).toBe(true);
  });

  test("setup() is idempotent and adds task_path only once", async () => {
    const again = new WaypointSaver(pool);
    await again.setup();
    const { rows } = await pool.query("SELECT column_default FROM information_schema.columns WHERE table_name = 'checkpoint_writes' AND column_name = 'task_path'");
    expect(rows).toHaveLength(1);
  });
});

describe("transcript", () => {
  test("every message once per content, edits as a second row, removals not at all, sub-agent under its name", async () => {
    await drive(build().compile({ checkpointer: persistence.saver }), "transcript");
    const rows = await readTranscript(pool, "transcript");
    const seqs = rows.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    const root = rows.filter((r) => r.checkpoint_ns === "");
    const ids = root.map((r) => r.message_id);
    // Every message the agent ever had, including those removed, overwritten or cleared later.
    for (let turn = 1; turn <= 6; turn++) {
      for (const id of [`u${turn}`, `${turn}-a`, `${turn}-b`, `${turn}-c1`, `${turn}-c2`, `${turn}-join`, `${turn}-s1`, `${turn}-s2`]) expect(ids).toContain(id);
    }
    expect(ids).toContain("2-reply");
    // No removal markers.
    expect(root.every((r) => r.type !== "remove")).toBe(true);
    // 1-a was edited on turn 3: two rows, two contents.
    const edits = root.filter((r) => r.message_id === "1-a");
    expect(edits.map((r) => transcriptMessages([r])[0]?.content)).toEqual(["1-a", "1-a edited"]);
    // Nothing else twice in one namespace.
    const keys = root.map((r) => `${r.message_id}/${r.content_hash}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(root.filter((r) => r.message_id !== "1-a").length).toBe(new Set(ids).size - 1);
    // The sub-agent's own writes are recorded under its name, without the task id.
    const sub = rows.filter((r) => r.checkpoint_ns !== "");
    expect(new Set(sub.map((r) => r.checkpoint_ns))).toEqual(new Set(["sub"]));
    expect(sub.map((r) => r.message_id)).toContain("3-s2");
    // Rebuilt messages keep their class and fields.
    const reply = transcriptMessages(root.filter((r) => r.message_id === "2-reply"))[0];
    expect(reply?.getType()).toBe("human");
    expect(reply?.content).toBe("yes 2");

    // Paging.
    const first = await readTranscript(pool, "transcript", { limit: 5 });
    const rest = await readTranscript(pool, "transcript", { afterSeq: first[4]!.seq });
    expect([...first, ...rest].map((r) => r.seq)).toEqual(seqs);
  });

  test("tool messages keep their call id and name; LangGraph gives id-less messages an id; a message without one is skipped", async () => {
    const S2 = new StateSchema({ messages: MessagesDeltaValue });
    const g = new StateGraph(S2)
      .addNode("n", () => ({ messages: [new AIMessage({ id: "t-ai", content: "", tool_calls: [{ id: "call-1", name: "lookup", args: {} }] }), { role: "tool", content: "42", tool_call_id: "call-1", id: "t-tool", name: "lookup" }] }))
      .addNode("anon", () => ({ messages: [new AIMessage("no id given")] }))
      .addEdge(START, "n")
      .addEdge("n", "anon")
      .addEdge("anon", END)
      .compile({ checkpointer: persistence.saver });
    await g.invoke({ messages: [] }, { configurable: { thread_id: "tools" }, durability: "sync" });
    const rows = await readTranscript(pool, "tools");
    expect(rows.map((r) => [r.message_id, r.type, r.name, r.tool_call_id])).toEqual([
      ["t-ai", "ai", null, null],
      ["t-tool", "tool", "lookup", "call-1"],
      [expect.stringMatching(/^[0-9a-f-]{36}$/), "ai", null, null],
    ]);
    const state = (await g.getState({ configurable: { thread_id: "tools" } })).values.messages as BaseMessage[];
    expect(rows[2]?.message_id).toBe(state[2]?.id);

    const { entries, withoutId } = transcriptEntries({
      threadId: "x",
      checkpointNs: "agent:1f0-task|sub:2a1-task",
      taskId: "t",
      writes: [["messages", [{ role: "user", content: "no id" }, ai("with-id"), new RemoveMessage({ id: "with-id" })]], ["other", ai("elsewhere")]],
      channels: new Set(["messages"]),
    });
    expect(withoutId).toBe(1);
    expect(entries.map((e) => [e.messageId, e.checkpointNs])).toEqual([["with-id", "agent|sub"]]);
  });
});
