// Issue 12 ("Hardening"), one test per hole: idempotency keys scoped to their owner on every run route,
// ownerless threads (CLI, submit()) out of reach of owner tokens, request limits and validation, the
// inbox favicon, a refused decision that leaves nothing behind, and an idle worker that drains at once.
import http from "node:http";
import path from "node:path";
import { config, PROJECT_ROOT } from "../src/config.js";
import { offlinePlannerModel } from "../src/models/index.js";
import { Waypoint } from "../src/runs/runner.js";
import { submit } from "../src/runs/submit.js";
import { Worker } from "../src/runs/worker.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { HIRE } from "./support/agents.js";
import { childEnv, runCli, startCli } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

const FIXTURE = path.join(PROJECT_ROOT, "tests", "fixtures", "project", "langgraph.json");
const TOKENS = { alice: "tok-alice", bob: "tok-bob", admin: "tok-admin" } as const;
type Who = keyof typeof TOKENS | "nobody";

let db: TestDatabase;
let server: RunningServer;

beforeAll(async () => {
  db = await freshDatabase("hardening");
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    auth: { required: true, tokens: new Map([[TOKENS.alice, "alice"], [TOKENS.bob, "bob"]]), admins: new Map([[TOKENS.admin, "root"]]) },
    waypoint: { url: db.url, config: FIXTURE, poolMax: 4 },
    worker: { doctorMs: 0, pollMs: 200 },
  });
});
afterAll(async () => {
  await server.close();
  await db.drop();
});

interface Reply {
  status: number;
  text: string;
  json: unknown;
  location?: string | undefined;
}

async function call(who: Who, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: {
      ...(who === "nobody" ? {} : { authorization: `Bearer ${TOKENS[who]}` }),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, location: res.headers.get("content-location") ?? undefined };
}

const count = async (table: string, where = "true", params: unknown[] = []) =>
  Number((await server.waypoint.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params)).rows[0]?.n);

/** The run ids a stream's metadata events name, and the text of its values. */
function streamed(text: string): { runIds: string[]; text: string } {
  const runIds = [...text.matchAll(/"run_id"\s*:\s*"([0-9a-f-]{36})"/g)].map((m) => m[1] as string);
  return { runIds: [...new Set(runIds)], text };
}

/** The promise's value, or "hung" when it takes longer than `ms` (the timer is cleared, so nothing lingers). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "hung"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const fan = (item: string) => ({ assistant_id: "fanout", input: { items: [item] } });
/** A stateless run whose thread and run rows stay after it ends (the default deletes them), to count them. */
const kept = (item: string) => ({ ...fan(item), on_completion: "keep" });

describe("item 3: an Idempotency-Key belongs to its owner", () => {
  test("stateless /runs, /runs/wait, /runs/stream: the same key from two owners makes two runs, neither sees the other's", async () => {
    // /runs
    const a = await call("alice", "POST", "/runs", kept("alice-1"), { "idempotency-key": "k-runs" });
    expect(a.status).toBe(200);
    const b = await call("bob", "POST", "/runs", kept("bob-1"), { "idempotency-key": "k-runs" });
    expect(b.status).toBe(200);
    const aRun = (a.json as { run_id: string }).run_id;
    const bRun = (b.json as { run_id: string }).run_id;
    expect(bRun).not.toBe(aRun);
    // Within one owner the key still replays.
    const again = await call("bob", "POST", "/runs", kept("bob-1"), { "idempotency-key": "k-runs" });
    expect((again.json as { run_id: string }).run_id).toBe(bRun);
    expect((await call("bob", "GET", `/waypoint/runs/${aRun}`)).status).toBe(404);
    expect((await call("alice", "GET", `/waypoint/runs/${aRun}`)).status).toBe(200);

    // /runs/wait
    const aw = await call("alice", "POST", "/runs/wait", kept("alice-2"), { "idempotency-key": "k-wait" });
    expect(aw.status).toBe(200);
    expect(aw.json).toMatchObject({ summary: "1 done: ALICE-2" });
    const bw = await call("bob", "POST", "/runs/wait", kept("bob-2"), { "idempotency-key": "k-wait" });
    expect(bw.status).toBe(200);
    expect(bw.json).toMatchObject({ summary: "1 done: BOB-2" });
    expect(bw.text).not.toContain("ALICE");

    // /runs/stream
    const as = await call("alice", "POST", "/runs/stream", kept("alice-3"), { "idempotency-key": "k-stream" });
    expect(as.status).toBe(200);
    expect(as.text).toContain("ALICE-3");
    const bs = await call("bob", "POST", "/runs/stream", kept("bob-3"), { "idempotency-key": "k-stream" });
    expect(bs.status).toBe(200);
    expect(bs.text).toContain("BOB-3");
    expect(bs.text).not.toContain("ALICE");
    const [aIds, bIds] = [streamed(as.text).runIds, streamed(bs.text).runIds];
    expect(aIds).toHaveLength(1);
    expect(bIds).toHaveLength(1);
    expect(bIds[0]).not.toBe(aIds[0]);

    // Each key made exactly one run per owner.
    for (const key of ["k-runs", "k-wait", "k-stream"]) {
      const { rows } = await server.waypoint.pool.query<{ scope: string }>("SELECT idempotency_scope AS scope FROM waypoint.runs WHERE idempotency_key = $1 ORDER BY 1", [key]);
      expect(rows.map((r) => r.scope)).toEqual(["alice", "bob"]);
    }
  });

  test("/threads/:id/runs, /wait, /stream: the same key on each owner's own thread makes each owner's own run", async () => {
    const ta = (await call("alice", "POST", "/threads", {})).json as { thread_id: string };
    const tb = (await call("bob", "POST", "/threads", {})).json as { thread_id: string };
    for (const [suffix, key] of [["", "kt-runs"], ["/wait", "kt-wait"], ["/stream", "kt-stream"]] as const) {
      const a = await call("alice", "POST", `/threads/${ta.thread_id}/runs${suffix}`, fan(`alice${suffix}`), { "idempotency-key": key });
      expect({ status: a.status, text: a.status === 200 ? "" : a.text }).toEqual({ status: 200, text: "" });
      // The background run ends before the next one on the same thread (which would otherwise be refused as busy).
      if (suffix === "") expect((await call("alice", "GET", `/threads/${ta.thread_id}/runs/${(a.json as { run_id: string }).run_id}/join`)).status).toBe(200);
      // Bob replaying alice's key against alice's thread reaches nothing of hers.
      const peek = await call("bob", "POST", `/threads/${ta.thread_id}/runs${suffix}`, fan("peek"), { "idempotency-key": key });
      expect(peek.status).toBe(404);
      expect(peek.text).not.toContain("ALICE");
      const b = await call("bob", "POST", `/threads/${tb.thread_id}/runs${suffix}`, fan(`bob${suffix}`), { "idempotency-key": key });
      // Without scoping, bob got alice's run (or a 422 "used for a run on another thread").
      expect(b.status).toBe(200);
      expect(b.text).not.toContain("ALICE");
      if (suffix !== "") expect(b.text).toContain(`BOB${suffix.toUpperCase()}`);
      const { rows } = await server.waypoint.pool.query<{ scope: string; thread_id: string }>(
        "SELECT idempotency_scope AS scope, thread_id FROM waypoint.runs WHERE idempotency_key = $1 ORDER BY 1",
        [key],
      );
      expect(rows).toEqual([
        { scope: "alice", thread_id: ta.thread_id },
        { scope: "bob", thread_id: tb.thread_id },
      ]);
    }
    // Nothing of alice's thread reached bob: its runs and state stay hers.
    const listed = await call("bob", "GET", `/threads/${ta.thread_id}/runs`);
    expect(listed.status).toBe(404);
    expect(listed.text).not.toContain("run_id");
    expect((await call("bob", "GET", `/threads/${ta.thread_id}/state`)).status).toBe(404);
  });
});

describe("an Idempotency-Key outlives a stateless run's thread (on_completion=delete)", () => {
  const gone = async (key: string) => {
    for (let i = 0; i < 200 && (await count("waypoint.runs", "idempotency_key = $1", [key])) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await count("waypoint.runs", "idempotency_key = $1", [key])).toBe(0);
  };
  const runIdOf = (r: Reply) => /\/runs\/([0-9a-f-]{36})/.exec(r.location ?? "")?.[1] ?? (r.json as { run_id?: string } | undefined)?.run_id;

  test("/runs, /runs/wait, /runs/stream: a retry after the thread is deleted gets the same run and its output, not a second run", async () => {
    for (const [suffix, key] of [["", "kd-runs"], ["/wait", "kd-wait"], ["/stream", "kd-stream"]] as const) {
      const first = await call("alice", "POST", `/runs${suffix}`, fan(`alice-del${suffix}`), { "idempotency-key": key });
      expect(first.status).toBe(200);
      const runId = suffix === "/stream" ? streamed(first.text).runIds[0] : runIdOf(first);
      expect(runId).toMatch(/^[0-9a-f-]{36}$/);
      await gone(key);
      // The retry: before, the key's run had gone with its thread, and the retry ran the graph again.
      const retry = await call("alice", "POST", `/runs${suffix}`, fan(`alice-del${suffix}`), { "idempotency-key": key });
      expect(retry.status).toBe(200);
      if (suffix === "/stream") {
        expect(streamed(retry.text).runIds).toEqual([runId]);
        expect(retry.text).toContain("1 done: ALICE-DEL/STREAM");
      } else {
        expect(runIdOf(retry)).toBe(runId);
      }
      if (suffix === "/wait") expect(retry.json).toEqual(first.json);
      if (suffix === "") expect(retry.json).toMatchObject({ run_id: runId, status: "success" });
      // No second run was made: none with the key now, one spent key, and nothing new is queued.
      await gone(key);
      expect(await count("waypoint.spent_keys", "idempotency_key = $1", [key])).toBe(1);
      // The key is alice's: bob's same key is a run of his own.
      const bob = await call("bob", "POST", `/runs${suffix}`, kept(`bob-del${suffix}`), { "idempotency-key": key });
      expect(bob.status).toBe(200);
      expect(bob.text).not.toContain("ALICE");
      if (suffix !== "/stream") expect(runIdOf(bob)).not.toBe(runId);
    }
  });
});

describe("item 4: ownerless threads belong to admins", () => {
  const routes = (id: string): Array<[string, string, unknown?]> => [
    ["GET", `/threads/${id}`],
    ["PATCH", `/threads/${id}`, { metadata: { owner: "alice", taken: true } }],
    ["GET", `/threads/${id}/state`],
    ["POST", `/threads/${id}/state`, { values: { items: ["x"] } }],
    ["POST", `/threads/${id}/history`, {}],
    ["GET", `/inbox/api/threads/${id}/history`],
    ["POST", `/threads/${id}/copy`, {}],
    ["POST", `/threads/${id}/runs`, fan("takeover")],
    ["POST", `/threads/${id}/runs/wait`, fan("takeover")],
    ["POST", `/threads/${id}/runs/stream`, fan("takeover")],
    ["DELETE", `/threads/${id}`],
  ];

  test("a thread from the CLI (no --owner) or submit() is refused to owner tokens on every route, and an admin token reaches it", async () => {
    const cli = await runCli(["--config", FIXTURE, "--json", "run", "fanout", "--input", JSON.stringify({ items: ["cli"] })], childEnv({ DATABASE_URL: db.url }));
    expect(cli.code).toBe(0);
    const cliThread = (JSON.parse(cli.stdout) as { threadId: string }).threadId;
    const { run } = await submit(server.waypoint, { assistant: "fanout", input: { items: ["api"] } });
    for (const id of [cliThread, run.thread_id]) {
      const before = await server.waypoint.pool.query("SELECT metadata, status FROM waypoint.threads WHERE thread_id = $1", [id]);
      expect(before.rows[0]?.metadata.owner).toBeUndefined();
      const runsBefore = await count("waypoint.runs", "thread_id = $1", [id]);
      for (const who of ["alice", "bob"] as const) {
        for (const [method, route, body] of routes(id)) {
          const r = await call(who, method, route, body);
          if (r.status < 400 || r.status >= 500) throw new Error(`${who} ${method} ${route} answered ${r.status}: ${r.text.slice(0, 300)}`);
        }
        const listed = await call(who, "GET", `/threads/${id}/runs`);
        expect(listed.status).toBe(404);
        expect(listed.text).not.toContain("run_id");
        const found = (await call(who, "POST", "/threads/search", { limit: 100 })).json as Array<{ thread_id: string }>;
        expect(found.map((t) => t.thread_id)).not.toContain(id);
      }
      // Nothing changed: no owner stamped, no run added, still there.
      const after = await server.waypoint.pool.query("SELECT metadata, status FROM waypoint.threads WHERE thread_id = $1", [id]);
      expect(after.rows[0]).toEqual(before.rows[0]);
      expect(await count("waypoint.runs", "thread_id = $1", [id])).toBe(runsBefore);
    }

    // The admin token sees, changes, runs and deletes them.
    const id = cliThread;
    expect((await call("admin", "GET", `/threads/${id}`)).status).toBe(200);
    const patched = await call("admin", "PATCH", `/threads/${id}`, { metadata: { note: "looked at" } });
    expect(patched.status).toBe(200);
    expect((patched.json as { metadata: Record<string, unknown> }).metadata).toMatchObject({ note: "looked at" });
    expect((patched.json as { metadata: Record<string, unknown> }).metadata.owner).toBeUndefined();
    const waited = await call("admin", "POST", `/threads/${id}/runs/wait`, fan("admin"));
    expect(waited.status).toBe(200);
    expect(waited.json).toMatchObject({ summary: "2 done: ADMIN, CLI" });
    expect((await call("admin", "DELETE", `/threads/${id}`)).status).toBeLessThan(300);
    expect(await count("waypoint.threads", "thread_id = $1", [id])).toBe(0);
    expect((await call("admin", "POST", "/threads/search", { limit: 100 })).text).toContain(run.thread_id);
  });

  test("an owner's PATCH cannot hand its thread to another owner; the CLI's --owner makes an owned thread", async () => {
    const mine = (await call("alice", "POST", "/threads", { metadata: { owner: "bob" } })).json as { thread_id: string; metadata: Record<string, unknown> };
    expect(mine.metadata.owner).toBe("alice");
    const patched = await call("alice", "PATCH", `/threads/${mine.thread_id}`, { metadata: { owner: "bob" } });
    expect(patched.status).toBe(200);
    expect((patched.json as { metadata: Record<string, unknown> }).metadata.owner).toBe("alice");
    expect((await call("bob", "GET", `/threads/${mine.thread_id}`)).status).toBe(404);

    const cli = await runCli(["--config", FIXTURE, "--json", "run", "fanout", "--owner", "bob", "--input", JSON.stringify({ items: ["owned"] })], childEnv({ DATABASE_URL: db.url }));
    expect(cli.code).toBe(0);
    const id = (JSON.parse(cli.stdout) as { threadId: string }).threadId;
    const got = await call("bob", "GET", `/threads/${id}`);
    expect(got.status).toBe(200);
    expect((got.json as { metadata: Record<string, unknown> }).metadata.owner).toBe("bob");
    expect((await call("alice", "GET", `/threads/${id}`)).status).toBe(404);
    expect((await call("bob", "POST", `/threads/${id}/runs/wait`, fan("again"))).json).toMatchObject({ summary: "2 done: AGAIN, OWNED" });
  });
});

describe("item 6: request limits and validation", () => {
  /** Send a body of `total` bytes in 64 KiB chunks, stopping when the answer comes; resolves with the status and bytes sent. */
  function stream(total: number, declareLength: boolean): Promise<{ status: number; sent: number }> {
    const u = new URL(`${server.url}/threads/search`);
    return new Promise((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: "POST",
          headers: { authorization: `Bearer ${TOKENS.alice}`, "content-type": "application/json", ...(declareLength ? { "content-length": String(total) } : {}) },
        },
        (res) => {
          answered = true;
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, sent }));
        },
      );
      req.on("error", (e) => (answered ? undefined : reject(e)));
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!answered && sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", () => setTimeout(pump, 1));
        }
        if (!answered) req.end();
      };
      pump();
    });
  }

  test("a body over the limit is refused with 413 before it is read to its end", async () => {
    const limit = config().api.maxBodyBytes;
    // Declared too long: refused on the header, with a fraction of the 200 MB sent.
    const declared = await stream(200 * 1024 * 1024, true);
    expect(declared.status).toBe(413);
    expect(declared.sent).toBeLessThan(64 * 1024 * 1024);
    // Chunked, no length: refused once the limit is passed, long before the 200 MB end.
    const chunked = await stream(200 * 1024 * 1024, false);
    expect(chunked.status).toBe(413);
    expect(chunked.sent).toBeLessThan(64 * 1024 * 1024);
    // Under the limit is served.
    const small = await call("alice", "POST", "/threads/search", " ".repeat(limit / 2) + "{}");
    expect(small.status).toBe(200);
  });

  test("JSON nested 10,000 deep, a NUL in a thread id and bad limits are 4xx; refused stateless runs leave no thread", async () => {
    const deep = "[".repeat(10_000) + "]".repeat(10_000);
    for (const route of ["/threads", "/runs", "/runs/wait", "/threads/search", "/store/items/search"]) {
      const r = await call("alice", "POST", route, `{"assistant_id":"fanout","input":{"items":["x"]},"metadata":{"deep":${deep}},"filter":{"deep":${deep}}}`);
      expect({ route, status: r.status >= 400 && r.status < 500 }).toEqual({ route, status: true });
    }

    const t = (await call("alice", "POST", "/threads", {})).json as { thread_id: string };
    for (const [method, route, body] of [
      ["GET", "/threads/a%00b"],
      ["PATCH", "/threads/a%00b", { metadata: {} }],
      ["DELETE", "/threads/a%00b"],
      ["GET", "/threads/a%00b/state"],
      ["GET", "/threads/a%00b/runs"],
      ["POST", "/threads/a%00b/runs", fan("nul")],
      ["POST", "/threads/a%00b/runs/wait", fan("nul")],
      ["GET", `/threads/${t.thread_id}/runs?limit=abc`],
      ["GET", `/threads/${t.thread_id}/runs?limit=-1`],
      ["GET", `/threads/${t.thread_id}/runs?limit=1e20`],
      ["GET", `/threads/${t.thread_id}/runs?offset=-5`],
    ] as Array<[string, string, unknown?]>) {
      const r = await call("alice", method, route, body);
      expect({ method, route, ok: r.status >= 400 && r.status < 500 }).toEqual({ method, route, ok: true });
    }

    const threads = await count("waypoint.threads");
    const runs = await count("waypoint.runs");
    for (const route of ["/runs", "/runs/wait", "/runs/stream"]) {
      for (const body of [
        { assistant_id: "fanout", input: { items: ["x"] }, webhook: "not a url" },
        { assistant_id: "fanout", input: { items: ["x"] }, after_seconds: -1 },
        { assistant_id: "fanout", input: { items: ["x"] }, multitask_strategy: "explode" },
        { assistant_id: "no-such-graph", input: { items: ["x"] } },
        { assistant_id: "fanout", input: { items: ["x"] }, config: { recursion_limit: -3 } },
        { assistant_id: "fanout", input: { items: ["x"] }, stream_mode: ["nonsense"] },
        { assistant_id: "fanout", command: { resume: "yes" } },
      ]) {
        const r = await call("alice", "POST", route, body);
        // A stream may open with 200 and report the error inside; what counts is that nothing was left behind.
        if (route !== "/runs/stream") expect({ route, body, ok: r.status >= 400 && r.status < 500 }).toEqual({ route, body, ok: true });
        else expect(r.status).toBeLessThan(500);
      }
    }
    expect(await count("waypoint.threads")).toBe(threads);
    expect(await count("waypoint.runs")).toBe(runs);
  });
});

test("item 7: /favicon.ico answers 204 without a token (the inbox page loads it before it has one)", async () => {
  const r = await call("nobody", "GET", "/favicon.ico");
  expect(r.status).toBe(204);
  // The routes with data still want a token.
  expect((await call("nobody", "POST", "/threads/search", {})).status).toBe(401);
});

describe("item 8: a refused decision leaves nothing behind", () => {
  let wp: Waypoint;
  beforeAll(async () => {
    wp = await Waypoint.open({ url: db.url, poolMax: 3, model: offlinePlannerModel() });
  });
  afterAll(async () => wp.close());

  async function footprint(threadId: string) {
    const { rows } = await wp.pool.query<{ status: string; detail: string | null }>("SELECT status, status_detail AS detail FROM waypoint.threads WHERE thread_id = $1", [threadId]);
    return {
      thread: rows[0],
      runs: await count("waypoint.runs", "thread_id = $1", [threadId]),
      active: await count("waypoint.runs", "thread_id = $1 AND status IN ('pending', 'running')", [threadId]),
      grants: Number((await wp.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM world.grants")).rows[0]?.n),
      checkpoints: await count("checkpoints", "thread_id = $1", [threadId]),
    };
  }

  test("decide on a thread pinned to a version this code does not have: refused, no run, no grant, still waiting; a later resume grants nothing", async () => {
    const view = await wp.start("onboarding", { hire: { ...HIRE, email: "refused@acme.test" } });
    expect(view.status).toBe("interrupted");
    const threadId = view.threadId;
    await wp.pool.query("UPDATE waypoint.threads SET graph_version = 'v-old' WHERE thread_id = $1", [threadId]);
    const before = await footprint(threadId);

    const refused = await runCli(["decide", threadId, "approve"], childEnv({ DATABASE_URL: db.url }));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/version v-old; this code has version .* will not resume it/);
    expect(await footprint(threadId)).toEqual(before);
    const after = await wp.view(threadId);
    expect(after.status).toBe("interrupted");
    expect(after.pending).toHaveLength(1);
    expect(JSON.stringify(after)).not.toMatch(/decision was recorded/);

    // Code of the thread's own version comes back: `resume` finds nothing decided and grants nothing.
    await wp.pool.query("UPDATE waypoint.threads SET graph_version = $2 WHERE thread_id = $1", [threadId, wp.registry.get("onboarding").version]);
    const resumed = await runCli(["resume", threadId], childEnv({ DATABASE_URL: db.url }));
    expect(resumed.code).not.toBe(0);
    expect(resumed.stderr + resumed.stdout).toMatch(/waiting for an answer/);
    expect(await footprint(threadId)).toEqual(before);
  });

  test("disallowed or malformed decisions (CLI and API) are refused and change nothing", async () => {
    const view = await wp.start("onboarding", { hire: { ...HIRE, email: "malformed@acme.test" } });
    expect(view.status).toBe("interrupted");
    const threadId = view.threadId;
    const before = await footprint(threadId);
    for (const args of [
      ["decide", threadId, "approve", "--decisions", '[{"type":"maybe"}]'],
      ["decide", threadId, "approve", "--decisions", '[{"type":"approve"},{"type":"approve"}]'],
      ["decide", threadId, "edit", "--args", '{"email": 42}'],
      ["decide", threadId, "grant_once"],
      ["decide", threadId, "respond"],
    ]) {
      const r = await runCli(args, childEnv({ DATABASE_URL: db.url }));
      expect({ args, code: r.code === 0 ? 0 : "refused" }).toEqual({ args, code: "refused" });
      expect(await footprint(threadId)).toEqual(before);
    }
    // The thread is made ownerless by wp.start: the admin token answers it over the API.
    for (const resume of [{ decisions: [{ type: "maybe" }] }, { decisions: [] }, { decisions: [{ type: "edit", editedAction: { name: "grant_privileges", args: { email: 1 } } }] }, { "not-an-interrupt": { decisions: [{ type: "approve" }] } }]) {
      const r = await call("admin", "POST", `/threads/${threadId}/runs`, { assistant_id: "onboarding", command: { resume } });
      expect({ resume, status: r.status >= 400 && r.status < 500 }).toEqual({ resume, status: true });
      expect(await footprint(threadId)).toEqual(before);
    }
    expect((await wp.view(threadId)).status).toBe("interrupted");
  });
});

test("item 9: an idle worker given SIGTERM exits promptly, well inside a long grace period", async () => {
  const w = startCli(["worker"], childEnv({ DATABASE_URL: db.url, WAYPOINT_DRAIN_GRACE_MS: "120000", LOG_LEVEL: "silent" }));
  try {
    await w.waitFor("SIGTERM or Ctrl-C drains it");
    const t0 = Date.now();
    w.child.kill("SIGTERM");
    const exit = await within(w.done, 30_000);
    expect(exit).not.toBe("hung");
    expect(exit).toMatchObject({ code: 0 });
    expect((exit as { stdout: string }).stdout).toMatch(/drained: handed back 0 run/);
    expect(Date.now() - t0).toBeLessThan(30_000); // a quarter of the grace period, generous for a loaded machine
  } finally {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await w.done;
  }
});

test("item 9: a drain that lands while the worker is claiming does not wait out a poll interval", async () => {
  // Worker.start leaves the loop in its first claim; the drain's wake-up used to be lost there, and the
  // loop then slept a whole poll interval (here ten minutes) before it saw it was stopping.
  const worker = await Worker.start({ url: db.url, config: FIXTURE, poolMax: 2, pollMs: 600_000, doctorMs: 0, pruneMs: 0 });
  const drained = worker.drain("test");
  const outcome = await within(drained.then(() => "drained"), 30_000);
  expect(outcome).toBe("drained");
});

test("item 9: `waypoint start` signalled while it is still starting drains and exits 0 (not the default kill)", async () => {
  const s = startCli(["--config", FIXTURE, "start"], childEnv({ DATABASE_URL: db.url, WAYPOINT_API_PORT: "0", WAYPOINT_API_TOKENS: "ops:tok-ops" }));
  try {
    // The first line of a server that is up; the lines after it (and the signal handlers, before the fix) come later.
    await s.waitFor("Waypoint is running");
    s.child.kill("SIGTERM");
    const exit = await within(s.done, 60_000);
    expect(exit).not.toBe("hung");
    expect(exit).toMatchObject({ code: 0, signal: null });
  } finally {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    await s.done;
  }
});
