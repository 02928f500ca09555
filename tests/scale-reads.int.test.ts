// Reads that cost one page: thread search, run lists, the inbox list, `waypoint threads` and the doctor
// send as many statements (and build as many views) for a page over 500 threads as over 50, and the
// search returns what filtering and sorting every thread would (checked against an in-memory oracle
// over all rows, the way the reference server's in-memory storage answers).
import { Client } from "@langchain/langgraph-sdk";
import { countStatements } from "../bench/support.js";
import { diagnose } from "../src/runs/doctor.js";
import { Waypoint } from "../src/runs/index.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import type { ThreadRow } from "../src/runs/threads.js";
import { FIXTURE_CONFIG } from "./support/compat.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let server: RunningServer;
let client: Client;
let template: string;
const statements = countStatements();
/** The seeded thread number n (thread ids are UUIDs, as the API's search accepts them). */
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

beforeAll(async () => {
  db = await freshDatabase("scale_reads");
  // A real thread that waits at "ask" (its checkpoints are cloned for the seeded waiting threads).
  const wp = await Waypoint.open({ url: db.url, config: FIXTURE_CONFIG, poolMax: 2 });
  template = (await wp.start("interrupts", { topic: "template" })).threadId;
  await wp.close();
  // No worker in the server: nothing but the request under test sends statements while it is counted.
  server = await startServer({ host: "127.0.0.1", port: 0, auth: { required: false, tokens: new Map() }, waypoint: { url: db.url, config: FIXTURE_CONFIG, poolMax: 4 }, worker: false });
  client = new Client({ apiUrl: server.url });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

/** Seed threads id(1) .. id(total) (idempotent): every 10th waits (cloned from the template), every 7th is gold, every 13th has an error. */
async function seed(total: number): Promise<void> {
  const pool = server.waypoint.pool;
  await pool.query(
    `INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, metadata, "values", interrupts, pending, created_at, updated_at)
     SELECT '00000000-0000-4000-8000-' || lpad(g::text, 12, '0'), s.graph_id, s.graph_version,
            CASE WHEN g % 10 = 0 THEN 'interrupted' WHEN g % 13 = 0 THEN 'error' ELSE 'idle' END,
            jsonb_build_object('owner', 'u' || (g % 3), 'tier', CASE WHEN g % 7 = 0 THEN 'gold' ELSE 'basic' END),
            CASE WHEN g % 10 = 0 THEN s."values" ELSE jsonb_build_object('topic', 'topic ' || (g % 4), 'n', g) END,
            CASE WHEN g % 10 = 0 THEN s.interrupts ELSE '{}'::jsonb END,
            CASE WHEN g % 10 = 0 THEN s.pending ELSE '[]'::jsonb END,
            -- pairs of threads share a created_at, so the thread_id tie-break is exercised
            timestamptz '2026-01-01' + make_interval(secs => g / 2), timestamptz '2026-02-01' - make_interval(secs => g)
       FROM generate_series(1, $1::int) g, waypoint.threads s WHERE s.thread_id = $2
     ON CONFLICT (thread_id) DO NOTHING`,
    [total, template],
  );
  const { rows: tables } = await pool.query<{ table_schema: string; table_name: string }>(
    `SELECT c.table_schema, c.table_name FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
      WHERE c.column_name = 'thread_id' AND t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('waypoint', 'pg_catalog', 'information_schema')`,
  );
  for (const { table_schema, table_name } of tables) {
    const { rows: cols } = await pool.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position",
      [table_schema, table_name],
    );
    const list = cols.map((c) => `"${c.column_name}"`).join(", ");
    const select = cols.map((c) => (c.column_name === "thread_id" ? "w.thread_id" : `x."${c.column_name}"`)).join(", ");
    await pool.query(
      `INSERT INTO "${table_schema}"."${table_name}" (${list})
       SELECT ${select} FROM "${table_schema}"."${table_name}" x JOIN waypoint.threads w ON w.status = 'interrupted' AND w.thread_id LIKE '00000000-0000-4000-8000-%'
        WHERE x.thread_id = $1 AND NOT EXISTS (SELECT 1 FROM "${table_schema}"."${table_name}" y WHERE y.thread_id = w.thread_id)`,
      [template],
    );
  }
  await pool.query("ANALYZE waypoint.threads");
}

/** Statements sent while `fn` runs (a warm-up call first, so one-off work such as graph loading is not counted). */
async function cost(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const before = statements();
  await fn();
  return statements() - before;
}

/** Calls of a Waypoint method while `fn` runs. */
async function calls(method: "viewRow" | "historyOfRow" | "graph", fn: () => Promise<unknown>): Promise<number> {
  const wp = server.waypoint as unknown as Record<string, (...a: unknown[]) => unknown>;
  const original = wp[method]!;
  let n = 0;
  wp[method] = function (this: unknown, ...a: unknown[]) {
    n++;
    return original.apply(this, a);
  };
  try {
    await fn();
  } finally {
    wp[method] = original;
  }
  return n;
}

async function sequentially<T>(fns: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  for (const fn of fns) out.push(await fn());
  return out;
}

const searches = (limit: number) => [
  () => client.threads.search({ limit }),
  () => client.threads.search({ limit, status: "interrupted" }),
  () => client.threads.search({ limit, metadata: { tier: "gold" }, sortBy: "updated_at", sortOrder: "asc" }),
  () => client.threads.search({ limit, values: { topic: "topic 1" }, sortBy: "thread_id" }),
  () => client.threads.count({ metadata: { owner: "u1" } }),
];
const inbox = (limit: number) => async () => {
  const r = await fetch(`${server.url}/inbox/api/waiting?limit=${limit}`);
  expect(r.status).toBe(200);
  return (await r.json()) as Array<{ threadId: string; pending: Array<{ interruptId: string; node: string }>; openCalls: unknown[]; notices: unknown[] }>;
};
const historyOf = async (threadId: string) => {
  const r = await fetch(`${server.url}/inbox/api/threads/${threadId}/history`);
  expect(r.status).toBe(200);
  return (await r.json()) as Array<{ step: number; writes: string[]; interrupted: boolean }>;
};

it("a page costs the same statements and views over 500 threads as over 50", async () => {
  await seed(50);
  const small = {
    search: await sequentially(searches(1).map((s) => () => cost(s))),
    inbox: await cost(inbox(1)),
    inboxPage: await cost(inbox(20)),
    inboxViews: await calls("viewRow", inbox(20)),
    inboxHistories: await calls("historyOfRow", inbox(20)),
    searchGraphs: await calls("graph", searches(1)[0]!),
    runs: await cost(() => client.runs.list(template, { limit: 1 })),
    list: await cost(() => server.waypoint.list({ limit: 1 })),
    listGraphs: await calls("graph", () => server.waypoint.list({ limit: 5 })),
    doctor: await cost(() => diagnose(server.waypoint, { repair: false })),
  };
  await seed(500);
  const large = {
    search: await sequentially(searches(1).map((s) => () => cost(s))),
    inbox: await cost(inbox(1)),
    inboxPage: await cost(inbox(20)),
    inboxViews: await calls("viewRow", inbox(20)),
    inboxHistories: await calls("historyOfRow", inbox(20)),
    searchGraphs: await calls("graph", searches(1)[0]!),
    runs: await cost(() => client.runs.list(template, { limit: 1 })),
    list: await cost(() => server.waypoint.list({ limit: 1 })),
    listGraphs: await calls("graph", () => server.waypoint.list({ limit: 5 })),
    doctor: await cost(() => diagnose(server.waypoint, { repair: false })),
  };
  expect(large).toEqual(small);
  // One statement per search (no view, no checkpoint read); the inbox: its page, then the open calls and
  // the notices of all its cards, whatever the page's size, and no view or history built for any card.
  expect(small.search).toEqual([1, 1, 1, 1, 1]);
  expect(small.searchGraphs).toBe(0);
  expect(small.inbox).toBe(3);
  expect(small.inboxPage).toBe(3);
  expect(small.inboxViews).toBe(0);
  expect(small.inboxHistories).toBe(0);
  expect(small.list).toBe(1);
  expect(small.listGraphs).toBe(0);
  // The inbox's one card is a real waiting thread with its interrupt; its history is read when asked for.
  const [card] = await inbox(1)();
  expect(card?.pending).toHaveLength(1);
  expect((await historyOf(card!.threadId)).length).toBeGreaterThan(0);
}, 120_000);

it("an inbox card from the row is the card the full view makes, and a row that does not keep its pending interrupts gets the full view", async () => {
  await seed(50);
  const full = async (threadId: string) => {
    const v = await server.waypoint.view(threadId);
    return { threadId, pending: v.pending, openCalls: v.openCalls, notices: v.notices };
  };
  const fromRows = (await inbox(5)()).map((c) => ({ threadId: c.threadId, pending: c.pending, openCalls: c.openCalls, notices: c.notices }));
  expect(fromRows).toHaveLength(5);
  expect(JSON.parse(JSON.stringify(fromRows))).toEqual(JSON.parse(JSON.stringify(await Promise.all(fromRows.map((c) => full(c.threadId))))));
  // Rows written before the column (pending null) or whose interrupts changed without it: the checkpoint decides.
  const [first, second] = fromRows;
  await server.waypoint.pool.query("UPDATE waypoint.threads SET pending = NULL WHERE thread_id = $1", [first!.threadId]);
  await server.waypoint.pool.query(`UPDATE waypoint.threads SET pending = '[{"interruptId": "stale", "namespace": "", "node": "x", "value": 1}]' WHERE thread_id = $1`, [second!.threadId]);
  expect(await calls("viewRow", inbox(5))).toBe(2);
  const again = (await inbox(5)()).map((c) => ({ threadId: c.threadId, pending: c.pending, openCalls: c.openCalls, notices: c.notices }));
  expect(JSON.parse(JSON.stringify(again))).toEqual(JSON.parse(JSON.stringify(fromRows)));
  // The history route: the card's steps, and a 404 for a thread that is not there.
  expect((await historyOf(first!.threadId)).some((h) => h.interrupted)).toBe(true);
  expect((await fetch(`${server.url}/inbox/api/threads/no-such-thread/history`)).status).toBe(404);
}, 120_000);

it("search returns what filtering and sorting every thread returns, page by page", async () => {
  await seed(500);
  const { rows: all } = await server.waypoint.pool.query<ThreadRow>("SELECT * FROM waypoint.threads");
  const containsAll = (have: unknown, want: Record<string, unknown>) =>
    Object.entries(want).every(([k, v]) => JSON.stringify((have as Record<string, unknown> | null)?.[k]) === JSON.stringify(v));
  type Q = { status?: ThreadRow["status"]; metadata?: Record<string, unknown>; values?: Record<string, unknown>; ids?: string[]; sortBy?: "created_at" | "updated_at" | "thread_id" | "status"; sortOrder?: "asc" | "desc"; limit: number; offset?: number };
  const expected = (q: Q) => {
    const key = q.sortBy ?? "created_at";
    const dir = q.sortOrder === "asc" ? 1 : -1;
    const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
    const value = (t: ThreadRow) => (key === "created_at" || key === "updated_at" ? new Date(t[key]).getTime() : t[key]);
    return all
      .filter((t) => (!q.status || t.status === q.status) && (!q.metadata || containsAll(t.metadata, q.metadata)) && (!q.values || containsAll(t.values, q.values)) && (!q.ids || q.ids.includes(t.thread_id)))
      .sort((a, b) => dir * (cmp(value(a), value(b)) || cmp(a.thread_id, b.thread_id)))
      .slice(q.offset ?? 0, (q.offset ?? 0) + q.limit)
      .map((t) => t.thread_id);
  };
  const ids = all.filter((_, i) => i % 9 === 0).map((t) => t.thread_id);
  const queries: Q[] = [
    { limit: 20 },
    { limit: 20, offset: 40 },
    { limit: 7, sortOrder: "asc" },
    { limit: 15, sortBy: "updated_at", sortOrder: "asc", offset: 3 },
    { limit: 25, sortBy: "thread_id", sortOrder: "desc" },
    { limit: 30, sortBy: "status", sortOrder: "asc" },
    { limit: 30, sortBy: "status", sortOrder: "desc", offset: 45 },
    { limit: 10, status: "interrupted" },
    { limit: 10, status: "error", sortBy: "updated_at" },
    { limit: 50, metadata: { tier: "gold" } },
    { limit: 50, metadata: { tier: "gold", owner: "u2" }, sortOrder: "asc" },
    { limit: 50, values: { topic: "topic 3" }, sortBy: "thread_id", sortOrder: "asc" },
    { limit: 50, values: { topic: "topic 3" }, metadata: { owner: "u0" }, status: "idle" },
    { limit: 100, ids },
    { limit: 5, ids, status: "interrupted", sortBy: "updated_at" },
    { limit: 20, metadata: { tier: "none" } },
  ];
  for (const q of queries) {
    const got = await client.threads.search(q);
    expect({ q, ids: got.map((t) => t.thread_id) }).toEqual({ q, ids: expected(q) });
  }
  // The rows come back as GET /threads/:id shows them.
  const [first] = await client.threads.search({ limit: 1, ids: [template] });
  expect(first).toEqual(await client.threads.get(template));
  expect(await client.threads.count({ metadata: { owner: "u1" } })).toBe(all.filter((t) => containsAll(t.metadata, { owner: "u1" })).length);
  expect(await client.threads.count({ status: "interrupted" })).toBe(all.filter((t) => t.status === "interrupted").length);
}, 120_000);

it("the inbox page shows only threads nothing answers yet, newest first; waypoint threads says what each thread is doing", async () => {
  await seed(500);
  const pool = server.waypoint.pool;
  // A waiting thread with a queued run (its answer) is not a card; nor is a thread of a graph this server does not run.
  await pool.query(
    `INSERT INTO waypoint.runs (run_id, thread_id, graph_id, graph_version, kind, status) SELECT gen_random_uuid(), thread_id, graph_id, graph_version, 'decide', 'pending' FROM waypoint.threads WHERE thread_id = $1`, [id(500)],
  );
  await pool.query("UPDATE waypoint.threads SET updated_at = now() WHERE thread_id = ANY($1)", [[id(500), id(490)]]);
  const { rows: waiting } = await pool.query<{ thread_id: string }>(
    `SELECT thread_id FROM waypoint.threads t WHERE status = 'interrupted' AND thread_id <> $1 ORDER BY updated_at DESC, thread_id DESC LIMIT 12`,
    [id(500)],
  );
  const cards = await inbox(12)();
  expect(cards.map((c) => c.threadId)).toEqual(waiting.map((w) => w.thread_id));
  expect(cards[0]?.threadId).toBe(id(490));
  const page2 = (await (await fetch(`${server.url}/inbox/api/waiting?limit=5&offset=5`)).json()) as Array<{ threadId: string }>;
  expect(page2.map((c) => c.threadId)).toEqual(waiting.slice(5, 10).map((w) => w.thread_id));

  // waypoint threads: newest first, each with the status a person reads.
  await pool.query("INSERT INTO waypoint.threads (thread_id, status, created_at) VALUES ($1, 'idle', now() + interval '1 day')", [id(9999)]);
  const listed = await server.waypoint.list({ limit: 600 });
  const status = Object.fromEntries(listed.map((v) => [v.threadId, v.status]));
  expect(listed[0]?.threadId).toBe(id(9999));
  expect(status).toMatchObject({ [id(9999)]: "new", [id(500)]: "queued", [id(490)]: "interrupted", [id(13)]: "error", [id(1)]: "done", [template]: "interrupted" });
  // It agrees with the full view of each kind of thread.
  for (const t of [id(500), id(490), template]) expect(status[t]).toBe((await server.waypoint.view(t)).status);
  const { rows: order } = await pool.query<{ thread_id: string }>("SELECT thread_id FROM waypoint.threads ORDER BY created_at DESC, thread_id DESC LIMIT 600");
  expect(listed.map((v) => v.threadId)).toEqual(order.map((r) => r.thread_id));
}, 120_000);
