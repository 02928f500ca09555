// WaypointSaver's group commit against real Postgres: checkpoints of several threads that are ready at
// the same moment go in one statement, each is committed (visible on another connection) when its put()
// resolves, a graph step starts only after the step before it is committed (durability "sync"), and a
// member whose rows fail does not fail or lose the others.
import { START, StateGraph, StateSchema } from "@langchain/langgraph";
import { emptyCheckpoint, uuid6, type Checkpoint, type CheckpointMetadata } from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import pg from "pg";
import { z } from "zod";
import { openPersistence, WaypointSaver, type Persistence } from "../src/persistence/index.js";
import { countedPool as countedPoolOn, freshDatabase, type TestDatabase } from "./support/db.js";

const countedPool = (max = 4) => countedPoolOn(db.url, max);

let db: TestDatabase;
let persistence: Persistence;
/** Another pool: what it reads is committed. */
let reader: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase("saver_group");
  persistence = await openPersistence({ url: db.url, poolMax: 2 });
  reader = new pg.Pool({ connectionString: db.url, max: 4 });
});
afterAll(async () => {
  await reader.end();
  await persistence.close();
  await db.drop();
});


const committed = async (threadId: string, checkpointId: string) =>
  (await reader.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, checkpointId])).rowCount === 1;

function checkpointOf(): Checkpoint {
  return { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { n: 1 }, channel_versions: { n: 1 } };
}

const meta = (extra: Record<string, unknown> = {}) => ({ source: "input", step: -1, parents: {}, ...extra }) as CheckpointMetadata;
const cfg = (threadId: string, checkpointId?: string): RunnableConfig => ({ configurable: { thread_id: threadId, checkpoint_ns: "", ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } });

test("checkpoints of 20 threads put at once go in one statement, each committed when its put resolves", async () => {
  const { pool, statements } = countedPool();
  const saver = new WaypointSaver(pool);
  try {
    const threads = Array.from({ length: 20 }, (_, i) => `group-${i}`);
    const before = statements();
    const seen = await Promise.all(
      threads.map(async (t) => {
        const cp = checkpointOf();
        await saver.put(cfg(t), cp, meta(), { n: 1 });
        // Right when put() resolves, another connection sees the row: the group was committed.
        return committed(t, cp.id);
      }),
    );
    expect(seen).toEqual(threads.map(() => true));
    expect(statements() - before).toBe(1);

    // The writes a task left for the next checkpoint go in that checkpoint's group statement.
    const parents = await Promise.all(threads.map(async (t) => ({ t, id: (await saver.put(cfg(t), checkpointOf(), meta(), { n: 1 })).configurable!.checkpoint_id as string })));
    for (const { t, id } of parents) await saver.putWrites(cfg(t, id), [["n", 2]], `task-${t}`, "~__pregel_pull, step");
    const mid = statements();
    await Promise.all(parents.map(({ t, id }) => saver.put(cfg(t, id), checkpointOf(), meta({ source: "loop", step: 0 }), { n: 2 })));
    expect(statements() - mid).toBe(1);
    const { rows } = await reader.query<{ n: number }>("SELECT count(*)::int AS n FROM checkpoint_writes WHERE thread_id LIKE 'group-%' AND task_path = '~__pregel_pull, step'");
    expect(rows[0]?.n).toBe(20);
  } finally {
    await saver.flushPending();
    await pool.end();
  }
});

test("a member whose rows fail fails alone: the others of its group are committed, its own writes are kept for the next try", async () => {
  const { pool, statements } = countedPool();
  const saver = new WaypointSaver(pool);
  try {
    const threads = Array.from({ length: 10 }, (_, i) => `split-${i}`);
    // The parent checkpoints, and a task's writes waiting for each one's successor.
    const parents = await Promise.all(threads.map(async (t) => ({ t, id: (await saver.put(cfg(t), checkpointOf(), meta(), { n: 1 })).configurable!.checkpoint_id as string })));
    for (const { t, id } of parents) await saver.putWrites(cfg(t, id), [["n", 2]], `task-${t}`, "~__pregel_pull, step");
    const before = statements();
    // jsonb refuses \u0000: split-3's checkpoint metadata cannot be stored, and fails the group statement.
    const outcomes = await Promise.allSettled(
      parents.map(async ({ t, id }) => {
        const cp = checkpointOf();
        await saver.put(cfg(t, id), cp, meta({ source: "loop", step: 0, ...(t === "split-3" ? { note: "bad\u0000byte" } : {}) }), { n: 2 });
        return committed(t, cp.id);
      }),
    );
    expect(outcomes.map((o) => o.status)).toEqual(threads.map((t) => (t === "split-3" ? "rejected" : "fulfilled")));
    expect(outcomes.filter((o) => o.status === "fulfilled").map((o) => (o as PromiseFulfilledResult<boolean>).value)).toEqual(threads.slice(1).map(() => true));
    // The group, then each member on its own.
    expect(statements() - before).toBe(1 + threads.length);
    const writes = async () =>
      (await reader.query<{ thread_id: string }>("SELECT thread_id FROM checkpoint_writes WHERE thread_id LIKE 'split-%' ORDER BY thread_id")).rows.map((r) => r.thread_id);
    expect(await writes()).toEqual(threads.filter((t) => t !== "split-3"));
    // split-3's writes were not lost with its checkpoint: a read sends them first.
    await saver.getTuple(cfg("split-3"));
    expect(await writes()).toEqual(threads);
  } finally {
    await saver.flushPending();
    await pool.end();
  }
});

test('durability "sync" with 30 threads at once: each step starts after the step before it is committed, in fewer commits than steps', async () => {
  const { pool, statements } = countedPool(10);
  const saver = new WaypointSaver(pool);
  const State = new StateSchema({ count: z.number().default(0), thread: z.string().default("") });
  type S = typeof State.State;
  const late: string[] = [];
  const STEPS = 5;
  // Before node k runs, the input checkpoint and one per finished step (START's included) are committed.
  const node = (k: number) => async (s: S) => {
    const { rows } = await reader.query<{ n: number }>("SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = $1", [s.thread]);
    if (rows[0]?.n !== k + 1) late.push(`${s.thread} step ${k}: ${rows[0]?.n} checkpoints committed`);
    return { count: s.count + 1 };
  };
  let g = new StateGraph(State) as unknown as StateGraph<typeof State>;
  for (let k = 1; k <= STEPS; k++) g = g.addNode(`n${k}`, node(k)) as unknown as StateGraph<typeof State>;
  g = g.addEdge(START, "n1" as never) as unknown as StateGraph<typeof State>;
  for (let k = 1; k < STEPS; k++) g = g.addEdge(`n${k}` as never, `n${k + 1}` as never) as unknown as StateGraph<typeof State>;
  const graph = g.compile({ checkpointer: saver });
  try {
    const before = statements();
    const threads = Array.from({ length: 30 }, (_, i) => `sync-${i}`);
    const outs = await Promise.all(threads.map((t) => graph.invoke({ thread: t }, { configurable: { thread_id: t }, durability: "sync" })));
    expect(outs.map((o) => o.count)).toEqual(threads.map(() => STEPS));
    expect(late).toEqual([]);
    // Per thread: one read, and STEPS + 2 checkpoints; grouped across threads, far fewer statements.
    expect(statements() - before).toBeLessThan(threads.length * (STEPS + 3));
    const { rows } = await reader.query<{ n: number }>("SELECT count(*)::int AS n FROM checkpoints WHERE thread_id LIKE 'sync-%'");
    expect(rows[0]?.n).toBe(threads.length * (STEPS + 2));
  } finally {
    await saver.flushPending();
    await pool.end();
  }
});
