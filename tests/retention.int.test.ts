// Checkpoint retention against real Postgres: after pruning (keep 2, then keep 1) every thread has the
// state it had, its history is the kept checkpoints with the values they had, and threads waiting at an
// interrupt (in the agent or in a sub-agent) or stopped mid-way finish exactly like an unpruned copy on
// MemorySaver. A dry run deletes nothing; pruning a thread while it runs does not disturb it; the
// transcript, the ledger and runs' start points are kept; `waypoint prune` and `waypoint transcript`.
import { randomUUID } from "node:crypto";
import { AIMessage, HumanMessage, type BaseMessage } from "@langchain/core/messages";
import { Command as CliCommand } from "commander";
import { Command, DeltaValue, END, MemorySaver, MessagesDeltaValue, START, StateGraph, StateSchema, interrupt, messagesDeltaReducer, type StateSnapshot } from "@langchain/langgraph";
import pg from "pg";
import { z } from "zod";
import { registerPersistenceCommands } from "../src/cli/persistence.js";
import { checkpointsToKeep } from "../src/persistence/retention.js";
import { copyThread, openPersistence, pruneAll, pruneThread, readTranscript, type Persistence } from "../src/persistence/index.js";
import { withTransaction } from "../src/db/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let persistence: Persistence;
let pool: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase("retention");
  persistence = await openPersistence({ url: db.url, poolMax: 6 });
  pool = persistence.db.pool;
});
afterAll(async () => {
  await persistence.close();
  await db.drop();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Snapshots every 3 message updates, so a prune meets checkpoints whose messages only replay can rebuild.
const Messages3 = new DeltaValue(MessagesDeltaValue.valueSchema, { inputSchema: MessagesDeltaValue.inputSchema, reducer: messagesDeltaReducer, snapshotFrequency: 3 });
const State = new StateSchema({
  messages: Messages3,
  n: z.number().default(0),
  target: z.number().default(0),
  askAt: z.number().default(-1),
  subAt: z.number().default(-1),
  delayMs: z.number().default(0),
});
type S = typeof State.State;

/** A sub-agent that adds a message, then asks a person. */
const sub = new StateGraph(State)
  .addNode("s1", (s: S) => ({ messages: [new AIMessage({ id: `s${s.n}-1`, content: `sub step at ${s.n}` })] }))
  .addNode("s2", (s: S) => ({ messages: [new HumanMessage({ id: `s${s.n}-2`, content: String(interrupt({ subAskAt: s.n })) })] }))
  .addEdge(START, "s1")
  .addEdge("s1", "s2")
  .addEdge("s2", END)
  .compile();

/** Counts to `target`, one message per step; asks a person at `askAt`; runs the sub-agent at `subAt`. */
function build() {
  return new StateGraph(State)
    .addNode("work", async (s: S) => {
      if (s.delayMs) await sleep(s.delayMs);
      return { messages: [new AIMessage({ id: `m${s.n}`, content: `step ${s.n} ${"x".repeat(40)}` })], n: s.n + 1 };
    })
    .addNode("ask", (s: S) => ({ messages: [new HumanMessage({ id: `a${s.n}`, content: String(interrupt({ askAt: s.n })) })] }))
    .addNode("sub", sub)
    .addEdge(START, "work")
    .addConditionalEdges("work", (s: S) => (s.n === s.askAt ? "ask" : s.n === s.subAt ? "sub" : s.n >= s.target ? END : "work"), ["ask", "sub", "work", END])
    .addEdge("ask", "work")
    .addEdge("sub", "work");
}
type Graph = ReturnType<ReturnType<typeof build>["compile"]>;

interface Spec {
  id: string;
  kind: "done" | "waiting" | "waiting-sub" | "mid-way";
  input: Partial<S>;
}

const specs: Spec[] = [];
for (let i = 0; i < 3; i++) {
  specs.push({ id: `done-${i}`, kind: "done", input: { target: 10 + i } });
  specs.push({ id: `waiting-${i}`, kind: "waiting", input: { target: 14, askAt: 6 + i } });
  specs.push({ id: `waiting-sub-${i}`, kind: "waiting-sub", input: { target: 12, subAt: 5 + i } });
  specs.push({ id: `mid-way-${i}`, kind: "mid-way", input: { target: 30 } });
}

const cfg = (threadId: string) => ({ configurable: { thread_id: threadId } });
const run = (threadId: string, recursionLimit = 200) => ({ ...cfg(threadId), durability: "sync" as const, recursionLimit });

/** Bring a thread to where its kind stops: finished, at an interrupt, or cut off by the recursion limit. */
async function start(graph: Graph, spec: Spec): Promise<void> {
  const input = { ...spec.input, messages: [new HumanMessage({ id: `u-${spec.id}`, content: "go" })] };
  if (spec.kind !== "mid-way") {
    await graph.invoke(input, run(spec.id));
    return;
  }
  await expect(graph.invoke(input, run(spec.id, 12))).rejects.toThrow(/Recursion limit/);
}

/** Carry a thread on to its end. */
async function finish(graph: Graph, spec: Spec): Promise<void> {
  if (spec.kind === "waiting" || spec.kind === "waiting-sub") await graph.invoke(new Command({ resume: `answer for ${spec.id}` }), run(spec.id));
  else if (spec.kind === "mid-way") await graph.invoke(null, run(spec.id));
}

const shape = (m: BaseMessage) => ({ type: m.getType(), id: m.id, content: m.content });
function view(s: StateSnapshot): unknown {
  const v = s.values as Partial<S>;
  return {
    values: { n: v.n, messages: (v.messages ?? []).map(shape) },
    next: s.next,
    interrupts: s.tasks.flatMap((t) => t.interrupts.map((i) => i.value)),
    subgraphs: s.tasks.filter((t) => t.state && "values" in t.state).map((t) => view(t.state as StateSnapshot)),
  };
}

async function stateOf(graph: Graph, threadId: string): Promise<unknown> {
  return view(await graph.getState(cfg(threadId), { subgraphs: true }));
}

/** History, newest first, keyed by step (unique per thread in these graphs). */
async function historyOf(graph: Graph, threadId: string): Promise<Map<number, unknown>> {
  const out = new Map<number, unknown>();
  for await (const s of graph.getStateHistory(cfg(threadId))) {
    const step = s.metadata?.step ?? NaN;
    expect(out.has(step)).toBe(false);
    out.set(step, view(s));
  }
  return out;
}

async function rowCounts(): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM checkpoints) AS checkpoints, (SELECT count(*) FROM checkpoint_writes) AS writes,
            (SELECT count(*) FROM checkpoint_blobs) AS blobs, (SELECT count(*) FROM waypoint.transcript) AS transcript,
            (SELECT count(*) FROM waypoint.tool_calls) AS tool_calls`,
  );
  return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
}

async function rootCheckpoints(threadId: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>("SELECT checkpoint_id AS id FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id", [threadId]);
  return rows.map((r) => r.id);
}

describe("pruning many threads", () => {
  const graph = () => build().compile({ checkpointer: persistence.saver });
  const memory = new MemorySaver();
  const reference = build().compile({ checkpointer: memory });
  let pinnedStart = "";

  beforeAll(async () => {
    for (const spec of specs) {
      await start(graph(), spec);
      await start(reference, spec);
    }
    // A ledger row and a pending run whose start point is old: prunes keep both.
    await pool.query(
      `INSERT INTO waypoint.tool_calls (thread_id, checkpoint_ns, tool_call_id, tool, risk, args, idempotency_key, status)
       VALUES ('done-0', '', 'call-1', 'noop', 'compute', '{}', 'k', 'succeeded')`,
    );
    pinnedStart = (await rootCheckpoints("done-1"))[3]!;
    await pool.query("INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status) VALUES ('done-1', 'test', '1', 'idle')");
    await pool.query("INSERT INTO waypoint.runs (run_id, thread_id, graph_id, graph_version, kind, status, start_checkpoint) VALUES ($1, 'done-1', 'test', '1', 'resume', 'pending', $2)", [
      randomUUID(),
      pinnedStart,
    ]);
  });

  test("the threads are where they should be, and match MemorySaver", async () => {
    for (const spec of specs) {
      const s = await graph().getState(cfg(spec.id));
      expect(s.next.length > 0).toBe(spec.kind !== "done");
      expect(await stateOf(graph(), spec.id)).toEqual(await stateOf(reference, spec.id));
    }
  });

  test("a dry run counts and deletes nothing", async () => {
    const before = await rowCounts();
    const result = await pruneAll(pool, { keep: 2, dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.totals.threads).toBe(specs.length);
    expect(result.totals.checkpoints).toBeGreaterThan(50);
    expect(result.totals.writes).toBeGreaterThan(50);
    expect(result.totals.blobs).toBeGreaterThan(50);
    expect(await rowCounts()).toEqual(before);
  });

  for (const keep of [2, 1]) {
    test(`keep=${keep}: same state, history is the kept checkpoints with their values, ledger and transcript untouched`, async () => {
      const states = new Map<string, unknown>();
      for (const spec of specs) states.set(spec.id, await stateOf(graph(), spec.id));
      const references = new Map<string, Map<number, unknown>>();
      for (const spec of specs) references.set(spec.id, await historyOf(reference, spec.id));
      const before = await rowCounts();

      const dry = await pruneAll(pool, { keep, dryRun: true });
      const result = await pruneAll(pool, { keep });
      expect(result.totals).toEqual(dry.totals);
      expect(result.totals.skipped).toBe(0);
      const after = await rowCounts();
      expect(after.checkpoints).toBe(before.checkpoints! - result.totals.checkpoints);
      expect(after.writes).toBe(before.writes! - result.totals.writes);
      expect(after.blobs).toBe(before.blobs! - result.totals.blobs);
      expect(after.transcript).toBe(before.transcript);
      expect(after.tool_calls).toBe(1);
      expect(result.totals.checkpoints).toBeGreaterThan(0);

      for (const spec of specs) {
        expect(await stateOf(graph(), spec.id)).toEqual(states.get(spec.id));
        const history = await historyOf(graph(), spec.id);
        expect(history.size).toBe((await rootCheckpoints(spec.id)).length);
        const ref = references.get(spec.id)!;
        expect(history.size).toBeLessThan(ref.size);
        for (const [step, snapshot] of history) expect(snapshot).toEqual(ref.get(step));
      }
      // Delta channels keep their history back to a snapshot, but not much more: snapshots come every 3 updates.
      for (const t of result.threads.filter((x) => x.threadId.startsWith("done-") && x.threadId !== "done-1")) expect(t.kept).toBeLessThanOrEqual(keep + 4);
      // The pending run's start point stays (a rollback goes back to it).
      expect(await rootCheckpoints("done-1")).toContain(pinnedStart);
      // A second pass finds nothing more.
      expect((await pruneAll(pool, { keep })).totals.checkpoints).toBe(0);
    });
  }

  test("after pruning, every thread finishes exactly like its unpruned copy", async () => {
    for (const spec of specs) {
      await finish(graph(), spec);
      await finish(reference, spec);
      const mine = await stateOf(graph(), spec.id);
      expect(mine).toEqual(await stateOf(reference, spec.id));
      expect((mine as { next: string[] }).next).toEqual([]);
      const messages = (mine as { values: { messages: { id: string }[] } }).values.messages.map((m) => m.id);
      expect(messages[0]).toBe(`u-${spec.id}`);
      if (spec.kind === "waiting") expect(messages).toContain(`a${spec.input.askAt}`);
      if (spec.kind === "waiting-sub") expect(messages).toContain(`s${spec.input.subAt}-2`);
    }
    // The transcript still has every message, from before any prune.
    const transcript = await readTranscript(pool, "waiting-0");
    expect(transcript.map((r) => r.message_id)).toEqual(expect.arrayContaining(["u-waiting-0", "m0", "m1", "a6", "m13"]));
  });

  test("without the rule a prune would lose state: keeping only the newest checkpoint breaks replay", async () => {
    const at = (await rootCheckpoints("done-2")).at(-1)!;
    await withTransaction(pool, (c) => copyThread(c, "done-2", "naive", at));
    const newest = (await rootCheckpoints("naive")).at(-1)!;
    await pool.query("DELETE FROM checkpoint_writes WHERE thread_id = 'naive' AND checkpoint_id <> $1", [newest]);
    await pool.query("DELETE FROM checkpoints WHERE thread_id = 'naive' AND checkpoint_id <> $1", [newest]);
    const full = (await stateOf(graph(), "done-2")) as { values: { messages: unknown[] } };
    const naive = (await stateOf(graph(), "naive")) as { values: { messages: unknown[] } };
    expect(naive.values.messages.length).toBeLessThan(full.values.messages.length);
  });
});

describe("pruning a running thread", () => {
  test("a graph pruned again and again while it runs finishes as if nothing happened", async () => {
    const input = { target: 40, delayMs: 10, messages: [new HumanMessage({ id: "u-live", content: "go" })] };
    const reference = build().compile({ checkpointer: new MemorySaver() });
    await reference.invoke({ ...input, delayMs: 0 }, run("live"));

    let done = false;
    const running = build()
      .compile({ checkpointer: persistence.saver })
      .invoke(input, run("live"))
      .finally(() => {
        done = true;
      });
    let deleted = 0;
    let passes = 0;
    while (!done) {
      deleted += (await pruneThread(pool, "live", { keep: 1 })).checkpoints;
      passes++;
      await sleep(3);
    }
    await running;
    expect(passes).toBeGreaterThan(10);
    expect(deleted).toBeGreaterThan(10);
    const graph = build().compile({ checkpointer: persistence.saver });
    expect(await stateOf(graph, "live")).toEqual(await stateOf(reference, "live"));
    const history = await historyOf(graph, "live");
    const ref = await historyOf(reference, "live");
    for (const [step, snapshot] of history) expect(snapshot).toEqual(ref.get(step));
  });

  test("two prunes of one thread at once: one works, the other skips it", async () => {
    await build().compile({ checkpointer: persistence.saver }).invoke({ target: 20, messages: [new HumanMessage({ id: "u-twice", content: "go" })] }, run("twice"));
    const results = await Promise.all([pruneThread(pool, "twice", { keep: 1 }), pruneThread(pool, "twice", { keep: 1 }), pruneThread(pool, "twice", { keep: 1 })]);
    const worked = results.filter((r) => !r.skipped);
    expect(worked.length).toBeGreaterThanOrEqual(1);
    expect(results.reduce((n, r) => n + r.checkpoints, 0)).toBe(worked[0]!.checkpoints);
    // A prune that starts while another holds the thread skips it; one that got in between the other's
    // steps sees the thread change under it (a serialization failure) and leaves it to the next pass.
    const reasons = ["another prune of this thread is running", "the thread changed during the prune; the next pass retries"];
    expect(results.filter((r) => r.skipped).every((r) => reasons.includes(r.skipped!))).toBe(true);
  });

  test("keep must be a whole number of at least 1", async () => {
    await expect(pruneThread(pool, "twice", { keep: 0 })).rejects.toThrow(/at least 1/);
    await expect(pruneAll(pool, { keep: 1.5 })).rejects.toThrow(/at least 1/);
  });
});

describe("checkpointsToKeep", () => {
  // c0 <- c1 <- ... <- c9; messages has a value at version 3 (c3) and 7 (c7); "x" is not a delta channel.
  const chain = Array.from({ length: 10 }, (_, i) => ({ id: `c${i}`, parent: i === 0 ? null : `c${i - 1}`, versions: { messages: i, x: 1 } as Record<string, number> }));
  const hasValue = (ch: string, v: string) => ch === "messages" && (v === "3" || v === "7");
  const keepOf = (keep: number, pinned: string[] = []) =>
    [...checkpointsToKeep({ checkpoints: chain, keep, pinned: new Set(pinned), deltaChannels: new Set(["messages"]), hasValue })].sort();

  test("the newest, back to the nearest value of each delta channel", () => {
    expect(keepOf(1)).toEqual(["c7", "c8", "c9"]);
    expect(keepOf(3)).toEqual(["c7", "c8", "c9"]);
    expect(keepOf(4)).toEqual(["c3", "c4", "c5", "c6", "c7", "c8", "c9"]);
    expect(keepOf(1, ["c2", "missing"])).toEqual(["c0", "c1", "c2", "c7", "c8", "c9"]);
  });
});

describe("waypoint prune / transcript", () => {
  async function cli(args: string[]): Promise<string> {
    const program = new CliCommand().option("--json").exitOverride().configureOutput({ writeErr: () => undefined });
    registerPersistenceCommands(program, async (_opts, fn) => fn({ pool }));
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(" "));
    try {
      await program.parseAsync(["node", "waypoint", ...args]);
    } finally {
      console.log = log;
    }
    return lines.join("\n");
  }

  test("prune --dry-run --json, prune --thread, transcript", async () => {
    await build().compile({ checkpointer: persistence.saver }).invoke({ target: 12, messages: [new HumanMessage({ id: "u-cli", content: "go" })] }, run("cli"));
    const before = await rootCheckpoints("cli");
    const dry = JSON.parse(await cli(["prune", "--keep", "1", "--thread", "cli", "--dry-run", "--json"])) as { dryRun: boolean; totals: { checkpoints: number } };
    expect(dry.dryRun).toBe(true);
    expect(dry.totals.checkpoints).toBeGreaterThan(5);
    expect(await rootCheckpoints("cli")).toEqual(before);

    const text = await cli(["prune", "--keep", "1", "--thread", "cli"]);
    expect(text).toMatch(new RegExp(`^Deleted ${dry.totals.checkpoints} checkpoints`));
    expect((await rootCheckpoints("cli")).length).toBe(before.length - dry.totals.checkpoints);

    await expect(cli(["prune", "--thread", "no-such-thread"])).rejects.toThrow(/no checkpoints/);
    await expect(cli(["prune", "--keep", "0"])).rejects.toThrow(/positive whole number/);

    const transcript = await cli(["transcript", "cli"]);
    expect(transcript.split("\n")).toHaveLength(13);
    expect(transcript).toMatch(/human: go/);
    expect(transcript).toMatch(/ai: step 11/);
    const rows = JSON.parse(await cli(["transcript", "cli", "--json"])) as { message_id: string }[];
    expect(rows.map((r) => r.message_id)).toEqual(["u-cli", ...Array.from({ length: 12 }, (_, i) => `m${i}`)]);
  });
});
