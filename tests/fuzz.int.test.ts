// Fuzzing every route of the agent server (fast-check, tests/support/fuzz.ts) with and without tokens:
// no 5xx, no hang, and a refused request changes nothing (row counts of every table, the watched
// threads' states). Each defect the fuzz found is pinned below as a small deterministic test.
import pg from "pg";
import { config } from "../src/config.js";
import { offlinePlannerModel } from "../src/models/index.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";
import { diff, formatReport, fuzz, makeReview, prepareWatched, Snapshotter, type FuzzTokens, type WatchedIds } from "./support/fuzz.js";

let db: TestDatabase;
let server: RunningServer;
let watched: WatchedIds;
let pool: pg.Pool;
const tokens: FuzzTokens = { owner: "tok-fuzz-owner", other: "tok-fuzz-other" };

beforeAll(async () => {
  db = await freshDatabase("fuzz");
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    auth: { required: true, tokens: new Map([[tokens.owner, "ann"], [tokens.other, "ben"]]) },
    worker: { url: db.url, model: offlinePlannerModel(), poolMax: 4, doctorMs: 0, pollMs: 100 },
  });
  watched = await prepareWatched(server.url, tokens);
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await server?.close();
  await db?.drop();
});

/** One request with the owner's token; status and parsed body. */
async function req(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${tokens.owner}`, "content-type": "application/json", ...headers }, ...(body === undefined ? {} : { body }) });
  return { status: res.status, text: await res.text() };
}

/** `fn`'s request is refused with a 4xx and leaves every table and watched thread as it was. */
async function refusedAndUnchanged(fn: () => Promise<{ status: number; text: string }>): Promise<{ status: number; text: string }> {
  const snap = new Snapshotter(pool, server.url, tokens);
  // Runs accepted by an earlier test may still be going: what they write is not this request's doing.
  for (let i = 0; i < 300 && (await snap.active()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  const before = await snap.take(watched);
  const out = await fn();
  const after = await snap.take(watched);
  expect(out.status).toBeGreaterThanOrEqual(400);
  expect(out.status).toBeLessThan(500);
  expect(diff(before, after)).toEqual([]);
  return out;
}


// Defect 1 (found by the fuzz): every cron route answered 500 "Not implemented" (the reference's stub).
test("crons: a search finds none, the other cron routes are a 404 that says crons are not scheduled here", async () => {
  const search = await req("POST", "/runs/crons/search", JSON.stringify({ limit: 10 }));
  expect(search.status).toBe(200);
  expect(JSON.parse(search.text)).toEqual([]);
  expect((await req("POST", "/runs/crons/search", JSON.stringify({ limit: "ten" }))).status).toBe(422);
  const cron = JSON.stringify({ thread_id: watched.idle[0], assistant_id: watched.assistantId, schedule: "* * * * *" });
  for (const [method, path] of [
    ["POST", "/runs/crons"],
    ["DELETE", "/runs/crons/00000000-0000-0000-0000-000000000000"],
    ["POST", `/threads/${watched.idle[0]}/runs/crons`],
  ] as const) {
    const out = await refusedAndUnchanged(() => req(method, path, method === "POST" ? cron : undefined));
    expect(out.status).toBe(404);
    expect(JSON.parse(out.text)).toMatchObject({ error: "not_supported", message: expect.stringMatching(/does not schedule crons/) });
  }
  // Without a token it is still a 401 first.
  expect((await fetch(`${server.url}/runs/crons`, { method: "POST", body: cron })).status).toBe(401);
});

// Defect 2 (found by the fuzz): POST /internal/truncate answered 200 {"ok":true} to any token. The
// reference calls Ops.truncate() without awaiting it, so Waypoint's refusal (a rejected promise) was never
// seen; the route also runs before the body limit.
test("POST /internal/truncate is refused with a 403 that says so, for every token, and truncates nothing", async () => {
  const out = await refusedAndUnchanged(() => req("POST", "/internal/truncate", JSON.stringify({ runs: true, threads: true, assistants: true, checkpointer: true, store: true })));
  expect(out.status).toBe(403);
  expect(out.text).toMatch(/does not truncate its storage over HTTP/);
  const other = await refusedAndUnchanged(() => req("POST", "/internal/truncate", "{}", { authorization: `Bearer ${tokens.other}` }));
  expect(other.status).toBe(403);
  // Refused before the body is read: a body past the limit gets the same answer.
  const huge = await refusedAndUnchanged(() => req("POST", "/internal/truncate", `{"runs":true,"pad":"${"x".repeat(config().api.maxBodyBytes + 10)}"}`));
  expect(huge.status).toBe(403);
});

// Defect 3 (found by the fuzz): a 413 kept the connection open while the server dropped the unread
// upload, so the client's next request on that socket failed with "other side closed".
test("a body past WAYPOINT_MAX_BODY_BYTES is a 413 naming the limit, with Connection: close; the next request works", async () => {
  const snap = new Snapshotter(pool, server.url, tokens);
  const before = await snap.take(watched);
  const res = await fetch(`${server.url}/threads`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokens.owner}`, "content-type": "application/json" },
    body: `{"metadata":{"pad":"${"x".repeat(config().api.maxBodyBytes)}"}}`,
  });
  expect(res.status).toBe(413);
  expect(res.headers.get("connection")).toBe("close");
  expect(await res.json()).toMatchObject({ error: "payload_too_large", message: expect.stringContaining("WAYPOINT_MAX_BODY_BYTES") });
  expect((await req("GET", `/threads/${watched.review}`)).status).toBe(200);
  expect(diff(before, await snap.take(watched))).toEqual([]);
});

// Defect 4 (found by the fuzz): a JSON string (or key) holding \u0000 or an unpaired surrogate reached
// Postgres, which cannot store it in jsonb or text: a 500 from inside the write.
test.each([
  ["POST", "/assistants", '{"graph_id":"onboarding","metadata":{"\\udfff\\ud800":{}},"if_exists":"do_nothing"}', /at metadata\.\\udfff\\ud800 \(the key\)/],
  ["POST", "/threads", '{"metadata":{"note":"a\\u0000b"}}', /at metadata\.note/],
  ["PUT", "/store/items", '{"namespace":["fuzz"],"key":"k","value":{"list":["ok","\\ud800"]}}', /at value\.list\[1\]/],
  ["PATCH", "/threads/:review", '{"metadata":{"x":"\\udc00"}}', /at metadata\.x/],
])("%s %s with a string Postgres cannot store is a 422 naming where it is", async (method, path, body, where) => {
  const out = await refusedAndUnchanged(() => req(method, path.replace(":review", watched.review), body));
  expect(out.status).toBe(422);
  expect(JSON.parse(out.text)).toMatchObject({ error: "invalid_input", message: expect.stringMatching(/Postgres cannot store/) });
  expect(JSON.parse(out.text).message).toMatch(where);
});

test("an escaped surrogate pair (an emoji) and an escaped backslash-u are stored as sent", async () => {
  const made = await req("POST", "/threads", '{"metadata":{"emoji":"\\ud83d\\ude00","literal":"\\\\u0000"}}');
  expect(made.status).toBe(200);
  expect(JSON.parse(made.text).metadata).toMatchObject({ emoji: "😀", literal: "\\u0000" });
});

// Defect 5 (found by the fuzz): POST /threads with supersteps made the thread, then refused the
// supersteps (an as_node the graph does not have, or no graph named) with a 4xx: the thread stayed.
test.each([
  ["an as_node the graph does not have", { metadata: { graph_id: "onboarding" }, supersteps: [{ updates: [{ as_node: "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}" }] }] }, 422, /as_node "\{6ba7b810.*" is not a node of the onboarding graph \(its nodes: .*agent/],
  ["a bad superstep after a good one", { metadata: { graph_id: "onboarding" }, supersteps: [{ updates: [{ as_node: "agent", values: { messages: [] } }] }, { updates: [{ as_node: "nowhere", values: {} }] }] }, 422, /supersteps\[1\]: as_node "nowhere"/],
  ["no graph named", { supersteps: [{ updates: [{ as_node: "agent", values: { messages: [] } }] }] }, 400, /has no graph ID/],
])("POST /threads with supersteps refused (%s) leaves no thread", async (_what, body, status, message) => {
  const threadId = "0190a0a0-0000-7000-8000-0000000000" + String(status).padStart(2, "0").slice(-2);
  const out = await refusedAndUnchanged(() => req("POST", "/threads", JSON.stringify({ thread_id: threadId, ...body })));
  expect(out.status).toBe(status);
  expect(out.text).toMatch(message);
  expect((await req("GET", `/threads/${threadId}`)).status).toBe(404);
});

test("POST /threads with good supersteps still makes the thread with its state", async () => {
  const out = await req("POST", "/threads", JSON.stringify({ metadata: { graph_id: "onboarding" }, supersteps: [{ updates: [{ as_node: "agent", values: { messages: [{ type: "human", content: "hello" }] } }] }] }));
  expect(out.status).toBe(200);
  const id = (JSON.parse(out.text) as { thread_id: string }).thread_id;
  const state = JSON.parse((await req("GET", `/threads/${id}/state`)).text) as { values: { messages: Array<{ content: string }> } };
  expect(state.values.messages.map((m) => m.content)).toEqual(["hello"]);
});

// Defect 6 (found while pinning defect 5): on a thread that already existed (if_exists: do_nothing), a
// superstep refused halfway left the ones before it applied (a checkpoint, its writes and blobs).
test("supersteps on an existing thread (if_exists: do_nothing) are a 409 that says so, and change nothing", async () => {
  const idle = watched.idle[1]; // the finished onboarding thread (it has a graph)
  const out = await refusedAndUnchanged(() =>
    req("POST", "/threads", JSON.stringify({ thread_id: idle, if_exists: "do_nothing", metadata: { graph_id: "onboarding" }, supersteps: [{ updates: [{ as_node: "agent", values: { messages: [{ type: "human", content: "one" }] } }] }, { updates: [{ as_node: "agent", values: { messages: 5 } }] }] })),
  );
  expect(out.status).toBe(409);
  expect(out.text).toMatch(/already exists; supersteps are applied only to the thread a POST \/threads creates/);
});

// Defect 7 (found by the fuzz): GET /store/items?key=a%00b was a 500 (Postgres cannot take a NUL in text).
test.each([
  ["/store/items?namespace=fuzz.a&key=a%00b", /query parameter "key" holds a NUL character/],
  ["/store/items?namespace=fu%00zz&key=k", /query parameter "namespace" holds a NUL/],
  ["/threads/:review/history?before=a%00b", /query parameter "before" holds a NUL/],
  ["/threads/a%00b/state", /path segment 2 holds a NUL/],
])("GET %s is a 422 naming the part with the NUL", async (path, message) => {
  const out = await refusedAndUnchanged(() => req("GET", path.replace(":review", watched.review)));
  expect(out.status).toBe(422);
  expect(JSON.parse(out.text)).toMatchObject({ error: "invalid_input", message: expect.stringMatching(message) });
});

// Defect 8 (found by the fuzz): POST /runs/batch created its runs one by one; when one was refused (422)
// the ones before it stayed queued, with their threads.
test("POST /runs/batch with one bad run is refused and queues none; a good batch queues all", async () => {
  const good = { assistant_id: "onboarding", input: { hire: { name: "Batch Lovelace", email: "batch@acme.test", department: "Engineering", manager: "grace.hopper@acme.test", privileges: ["wiki:read"] } } };
  const marked = { ...good, metadata: { batch: "defect-8" } };
  const out = await refusedAndUnchanged(async () => {
    const res = await req("POST", "/runs/batch", JSON.stringify([marked, marked, { assistant_id: "onboarding", input: [true, "x"] }]));
    // The reference answers at the first refusal while the other runs' submissions go on: wait for them.
    await new Promise((r) => setTimeout(r, 1000));
    return res;
  });
  expect(out.status).toBe(422);
  const { rows: left } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM waypoint.runs WHERE metadata @> '{"batch":"defect-8"}'`);
  expect(left[0]?.n).toBe(0);
  const ok = await req("POST", "/runs/batch", JSON.stringify([good, good]));
  expect(ok.status).toBe(200);
  const runs = JSON.parse(ok.text) as Array<{ run_id: string; status: string }>;
  expect(runs).toHaveLength(2);
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.runs WHERE run_id = ANY($1)", [runs.map((r) => r.run_id)]);
  expect(rows[0]?.n).toBe(2);
});

// Defect 9 (found by the fuzz): an offset of 2.6e203 (or 1.5) passed the reference's schema and reached
// Postgres's OFFSET: a 500 "bigint out of range".
test.each([
  ["/assistants/:assistant/versions", { limit: 10, offset: 2.6890504306297545e203 }, /offset must be a whole number/],
  ["/assistants/search", { limit: 10, offset: 1e20 }, /offset must be a whole number/],
  ["/threads/search", { limit: 10, offset: 1e20 }, /offset must be a whole number/],
  ["/assistants/:assistant/versions", { limit: 1.5 }, /limit must be a whole number|number|integer/],
])("POST %s with %j is a 4xx naming the field", async (path, body, message) => {
  const out = await refusedAndUnchanged(() => req("POST", path.replace(":assistant", watched.assistantId), JSON.stringify(body)));
  expect(out.text).toMatch(message);
});

// Defect 10 (found by the fuzz): GET /threads/:id/history?limit=[] (or abc) reached LIMIT as NaN: a 500.
test.each(["[]", "abc", "-"])("GET /threads/:id/history?limit=%s is a 422 naming limit", async (limit) => {
  const out = await refusedAndUnchanged(() => req("GET", `/threads/${watched.idle[1]}/history?limit=${encodeURIComponent(limit)}`));
  expect(out.status).toBe(422);
  expect(out.text).toMatch(/limit must be a whole number from 1 to 1000/);
});

test("GET /threads/:id/history?limit=2 still pages", async () => {
  const out = await req("GET", `/threads/${watched.idle[1]}/history?limit=2`);
  expect(out.status).toBe(200);
  expect(JSON.parse(out.text)).toHaveLength(2);
});

// Last: the fuzz may delete or answer the watched threads the tests above rely on (it remakes its own review).
test("fuzz: a few hundred requests over every route, no 5xx, no hang, refused requests change nothing", async () => {
  const report = await fuzz({
    baseUrl: server.url,
    tokens,
    databaseUrl: db.url,
    watched,
    cases: 400,
    seed: 20261202,
    timeoutMs: 10_000,
    maxBodyBytes: config().api.maxBodyBytes,
    remakeReview: () => makeReview(server.url, tokens.owner, `fuzz-remade-${Date.now()}`),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  expect(report.serverErrors).toEqual([]);
  expect(report.hangs).toEqual([]);
  expect(report.refusedChanges).toEqual([]);
  expect(report.unclear).toEqual([]);
  expect(report.clientErrors).toEqual([]);
  expect(report.hugeAccepted).toEqual([]);
  // The fuzz reached most routes and was mostly answered, not merely refused at the door.
  expect(Object.keys(report.byRoute).length).toBeGreaterThan(40);
  expect(Object.entries(report.byStatus).filter(([k]) => k.startsWith("2")).length).toBeGreaterThan(0);
}, 180_000);
