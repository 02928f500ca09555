// Connections: many concurrent runs share one small pool (they wait for a connection, they never open
// more); idle connections dropped by the server during long model calls are replaced without failing a
// run; a dead connection under a checkpoint write is retried once on a new one.
import { AIMessage } from "@langchain/core/messages";
import pg from "pg";
import { isConnectionLost } from "../src/db/pool.js";
import { ScriptedChatModel } from "../src/models/index.js";
import { Waypoint } from "../src/runs/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let admin: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase("pool");
  admin = new pg.Pool({ connectionString: db.url, max: 1 });
  admin.on("error", () => undefined);
});
afterAll(async () => {
  await admin.end();
  await db.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Looks vendors up `turns` times, each model call taking `ms`, then answers. */
function slowModel(turns: number, ms: number, onCall?: (turn: number) => Promise<void>) {
  return new ScriptedChatModel({
    label: "slow-test-model",
    respond: async (messages) => {
      const turn = messages.filter((m) => AIMessage.isInstance(m)).length + 1;
      await onCall?.(turn);
      await sleep(ms);
      if (turn > turns) return new AIMessage({ id: `done-${turn}`, content: "Done." });
      return new AIMessage({ id: `ai-${turn}`, content: "", tool_calls: [{ id: `call-${turn}`, name: "list_vendors", args: { vendorId: "V-100" }, type: "tool_call" }] });
    },
  });
}

async function connectionsOf(application: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1", [application]);
  return Number(rows[0]?.n ?? 0);
}

test("200 concurrent runs on a pool of 4 never hold more than 4 connections, and all finish", async () => {
  const wp = await Waypoint.open({ url: db.url, model: slowModel(2, 50), poolMax: 4, fallbackModel: null });
  try {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await connectionsOf("waypoint"));
        await sleep(20);
      }
    })();
    const views = await Promise.all(Array.from({ length: 200 }, (_, i) => wp.start("ops", { request: { text: `look ${i}` } })));
    sampling = false;
    await sampler;
    expect(views.filter((v) => v.status === "done")).toHaveLength(200);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(4);
  } finally {
    await wp.close();
  }
});

test("idle connections the server drops during a long model call are replaced; the run finishes", async () => {
  let killed = 0;
  const model = slowModel(3, 300, async (turn) => {
    if (turn < 2) return;
    // While the model "thinks", an idle reaper (or a proxy) closes every idle connection of the app.
    await sleep(100);
    const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'waypoint' AND state = 'idle'");
    killed += rowCount ?? 0;
  });
  const wp = await Waypoint.open({ url: db.url, model, poolMax: 4, fallbackModel: null });
  try {
    const view = await wp.start("ops", { request: { text: "look up a vendor three times" } }, { policy: { guards: { maxRepeats: 10 } } });
    expect(killed).toBeGreaterThan(0);
    expect(view.status).toBe("done");
    const { rows } = await wp.pool.query("SELECT count(*) AS n FROM waypoint.tool_calls WHERE thread_id = $1 AND status = 'succeeded'", [view.threadId]);
    expect(Number(rows[0].n)).toBe(3);
  } finally {
    await wp.close();
  }
});

test("what counts as a lost connection (retried) and what does not (the statement's own error)", () => {
  const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
  expect(isConnectionLost(err("terminating connection due to administrator command", "57P01"))).toBe(true);
  expect(isConnectionLost(err("Connection terminated unexpectedly"))).toBe(true);
  expect(isConnectionLost(err("SSL error: bad length"))).toBe(true);
  expect(isConnectionLost(err("read ECONNRESET", "ECONNRESET"))).toBe(true);
  expect(isConnectionLost(err('duplicate key value violates unique constraint "x"', "23505"))).toBe(false);
  expect(isConnectionLost(err('relation "nope" does not exist', "42P01"))).toBe(false);
  expect(isConnectionLost("not an error")).toBe(false);
});

test("a checkpoint write whose connection dies under it is sent again once, and lands once", async () => {
  const { openPersistence, WaypointSaver } = await import("../src/persistence/index.js");
  const { StateGraph, StateSchema, START, END, MessagesDeltaValue } = await import("@langchain/langgraph");
  const persistence = await openPersistence({ url: db.url, poolMax: 2 });
  try {
    const pool = persistence.db.pool;
    const real = pool.query.bind(pool) as (...a: unknown[]) => Promise<unknown>;
    let failures = 0;
    const failed = new Set<string>();
    // The first two checkpoint statements die once each, as if the server had dropped the connection.
    (pool as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const first = args[0] as string | { text?: string } | undefined;
      const sql = typeof first === "string" ? first : (first?.text ?? "");
      if (failures < 2 && /INSERT INTO checkpoint/.test(sql) && !failed.has(sql)) {
        failed.add(sql);
        failures++;
        await real(...args); // it even reached the server: the retry must be harmless
        throw Object.assign(new Error("Connection terminated unexpectedly"), {});
      }
      return real(...args);
    };
    const saver = new WaypointSaver(pool);
    const State = new StateSchema({ messages: MessagesDeltaValue });
    const graph = new StateGraph(State)
      .addNode("say", () => ({ messages: [new AIMessage({ id: "hello", content: "hello" })] }))
      .addEdge(START, "say")
      .addEdge("say", END)
      .compile({ checkpointer: saver });
    const out = await graph.invoke({ messages: [] }, { configurable: { thread_id: "retry" }, durability: "sync" });
    expect(failures).toBe(2);
    expect(out.messages.map((m) => m.id)).toEqual(["hello"]);
    const { rows } = await admin.query("SELECT count(*) AS n FROM waypoint.transcript WHERE thread_id = 'retry' AND message_id = 'hello'");
    expect(Number(rows[0].n)).toBe(1);
  } finally {
    await persistence.close();
  }
});
