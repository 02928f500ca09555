// LangGraph wraps a run's store in an AsyncBatchedStore whose loop fires a timer every millisecond while
// the run lives (issue 16, item 5: 10,000 runs waiting on their models kept the event loop busy with
// nothing else). Waypoint's store makes that wrapper schedule a flush only when there is something to
// send. These tests count the timers a waiting run costs, before and after, and check the batching and
// start/stop behaviour the graphs rely on.
import { jest } from "@jest/globals";
import { AsyncBatchedStore } from "@langchain/langgraph-checkpoint";
import { Annotation, InMemoryStore, StateGraph, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { WaypointStore } from "../src/memory/index.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const State = Annotation.Root({ n: Annotation<number>() });

/** A graph whose one node reads the store once and then waits `waitMs` (a model call, say). */
function waiting(store: InMemoryStore, waitMs: number) {
  return new StateGraph(State)
    .addNode("wait", async (s, config: LangGraphRunnableConfig) => {
      await config.store!.get(["runs"], String(s.n));
      await sleep(waitMs);
      return { n: s.n + 1 };
    })
    .addEdge("__start__", "wait")
    .compile({ store });
}

/** setTimeout calls made while `runs` graphs wait 300 ms each, per run. */
async function timersPerRun(runs: number): Promise<number> {
  const graph = waiting(new InMemoryStore(), 300);
  const spy = jest.spyOn(globalThis, "setTimeout");
  try {
    await Promise.all(Array.from({ length: runs }, (_, n) => graph.invoke({ n })));
    return spy.mock.calls.length / runs;
  } finally {
    spy.mockRestore();
  }
}

const MARK = Symbol.for("waypoint.quietBatchedStore");

describe("the store wrapper LangGraph puts around each run", () => {
  // Order matters: the first test measures LangGraph's own wrapper, the second installs Waypoint's.
  test("as LangGraph ships it, a run waiting 300 ms fires a timer every turn of the loop", async () => {
    expect((AsyncBatchedStore.prototype as unknown as Record<symbol, unknown>)[MARK]).toBeUndefined();
    // About one per millisecond; well over 20 even on a loaded machine.
    expect(await timersPerRun(50)).toBeGreaterThan(20);
  });

  test("a WaypointStore makes it quiet: a waiting run costs its own timers, not one per millisecond", async () => {
    new WaypointStore({ semantic: false } as unknown as ConstructorParameters<typeof WaypointStore>[0]);
    expect((AsyncBatchedStore.prototype as unknown as Record<symbol, unknown>)[MARK]).toBe(true);
    // The node's own sleep, the store's one flush, and LangGraph's few.
    expect(await timersPerRun(50)).toBeLessThan(6);
  });

  test("calls made in the same turn still go as one batch, and results come back to each caller", async () => {
    const store = new InMemoryStore();
    await store.put(["a"], "x", { v: 1 });
    await store.put(["a"], "y", { v: 2 });
    const batch = jest.spyOn(store, "batch");
    const graph = new StateGraph(State)
      .addNode("read", async (s, config: LangGraphRunnableConfig) => {
        const [x, y, none] = await Promise.all([config.store!.get(["a"], "x"), config.store!.get(["a"], "y"), config.store!.get(["a"], "z")]);
        await config.store!.put(["a"], "w", { v: 3 });
        const w = await config.store!.get(["a"], "w");
        return { n: (x!.value.v as number) * 100 + (y!.value.v as number) * 10 + (none === null ? 0 : 9) + (w!.value.v as number) * 1000 };
      })
      .addEdge("__start__", "read")
      .compile({ store });
    expect(await graph.invoke({ n: 0 })).toEqual({ n: 3120 });
    // The three gets in one batch, then the put, then the get.
    expect(batch.mock.calls.map((c) => c[0].length)).toEqual([3, 1, 1]);
  });

  test("a failing batch rejects every call in it, and the store goes on serving", async () => {
    const store = new InMemoryStore();
    const real = store.batch.bind(store);
    let fail = true;
    jest.spyOn(store, "batch").mockImplementation(async (ops) => {
      if (fail) {
        fail = false;
        throw new Error("backend down");
      }
      return real(ops);
    });
    const graph = new StateGraph(State)
      .addNode("read", async (_s, config: LangGraphRunnableConfig) => {
        const first = await Promise.allSettled([config.store!.get(["a"], "x"), config.store!.get(["a"], "y")]);
        expect(first.map((r) => r.status)).toEqual(["rejected", "rejected"]);
        expect((first[0] as PromiseRejectedResult).reason.message).toBe("backend down");
        await config.store!.put(["a"], "x", { v: 7 });
        return { n: (await config.store!.get(["a"], "x"))!.value.v as number };
      })
      .addEdge("__start__", "read")
      .compile({ store });
    expect(await graph.invoke({ n: 0 })).toEqual({ n: 7 });
  });

  test("stopped, it keeps calls queued until started again; stop waits for the flush in progress", async () => {
    const inner = new InMemoryStore();
    await inner.put(["a"], "x", { v: 1 });
    const wrapped = new AsyncBatchedStore(inner);
    let got: unknown = "pending";
    void wrapped.get(["a"], "x").then((item) => (got = item?.value));
    await sleep(20);
    expect(got).toBe("pending");
    wrapped.start();
    await sleep(20);
    expect(got).toEqual({ v: 1 });
    // A call queued just before stop() is still answered: stop waits for it.
    const late = wrapped.get(["a"], "x");
    await wrapped.stop();
    await expect(late).resolves.toMatchObject({ value: { v: 1 } });
  });
});
