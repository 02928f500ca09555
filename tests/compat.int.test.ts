// The same SDK scenarios against the reference server (`langgraph dev`, @langchain/langgraph-cli pinned)
// and Waypoint, both serving tests/fixtures/project/langgraph.json: three graphs not shaped for Waypoint
// (a createAgent chat agent with humanInTheLoopMiddleware, a StateGraph with plain interrupts and an
// interrupting subgraph, a StateGraph with Send fan-out and a retry policy). What each server answered
// is normalised (ids, times) and compared; a difference is a failure unless it is one Waypoint makes
// on purpose (listed below, and in the README). The table of results is printed at the end.
// Before anything reads the configuration: runs here may call webhooks on loopback.
import "./support/allow-loopback-webhooks.js";
import http from "node:http";
import type { Client } from "@langchain/langgraph-sdk";
import { startServer, type RunningServer } from "../src/server/index.js";
import { collect, eventShape, failure, FIXTURE_CONFIG, normalise, startReference, type Target } from "./support/compat.js";
import { freePort, freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let waypoint: RunningServer;
const targets: Target[] = [];
let hookServer: http.Server;
let hookUrl = "";
const hooks: Array<{ path: string; body: Record<string, unknown> }> = [];

beforeAll(async () => {
  db = await freshDatabase("compat");
  const [reference] = await Promise.all([
    freePort().then(startReference),
    (async () => {
      waypoint = await startServer({
        host: "127.0.0.1",
        port: 0,
        auth: { required: false, tokens: new Map() },
        waypoint: { url: db.url, config: FIXTURE_CONFIG, poolMax: 6 },
        worker: { doctorMs: 0, pollMs: 200 },
      });
    })(),
  ]);
  const { Client } = await import("@langchain/langgraph-sdk");
  targets.push(reference, { name: "waypoint", url: waypoint.url, client: new Client({ apiUrl: waypoint.url }), close: () => waypoint.close() });
  hookServer = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      hooks.push({ path: req.url ?? "", body: JSON.parse(body || "{}") as Record<string, unknown> });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}`;
}, 120_000);

const results: Array<{ scenario: string; graph: string; reference: string; waypoint: string; compared: string }> = [];

afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await new Promise((r) => hookServer.close(r));
  await db.drop();
  const w = (k: keyof (typeof results)[number]) => Math.max(k.length, ...results.map((r) => r[k].length));
  const line = (r: Record<string, string>) => (["scenario", "graph", "reference", "waypoint", "compared"] as const).map((k) => (r[k] ?? "").padEnd(w(k))).join(" | ");
  console.log(["", line({ scenario: "scenario", graph: "graph", reference: "reference", waypoint: "waypoint", compared: "compared" }), ...results.map(line)].join("\n"));
});

/** Differences Waypoint makes on purpose: it refuses what the reference would apply, or tells more. */
const ON_PURPOSE: Record<string, string> = {
  "chat: stream debug, tasks and checkpoints": "Waypoint sends the checkpoint events of the debug and checkpoints modes; the reference (1.5.1 with @langchain/langgraph 1.7) drops them",
  "runs: list, after_seconds, cancel a queued run, if_not_exists": "a run on a thread that does not exist: Waypoint answers 404 Thread not found, the reference 422 Thread is already running a task",
  "runs: a failed run's wait and join carry __error__": "__error__.message is the error's message; the reference JSON-encodes the whole error into it",
  "threads: search by values": "a thread that never ran has no values, so a values filter does not match it; the reference matches every such thread",
  "errors: command.resume on a thread that waits for nothing": "Waypoint refuses (409 nothing_pending); the reference queues a run that fails or does nothing",
  "interrupts: a plain resume value while two interrupts wait": "Waypoint refuses a value that would answer both; answer each by id",
};

/**
 * Scenarios where the reference's answer depends on timing, so only Waypoint's is pinned: what
 * Waypoint must give, and why the reference may differ.
 */
const REFERENCE_VARIES: Record<string, { waypoint: unknown[]; why: string }> = {
  "multitask: enqueue runs after the busy run; interrupt stops it": {
    // The replaced run stops at its next step boundary: before its slow step (nothing of it kept) or,
    // when that step had begun, after it (its result kept, checkpointed), never in the middle of it.
    waypoint: [false, true].map((slowKept) => ({
      after: slowKept ? { items: ["i2"], results: ["I2", "SLOW1500"], summary: "2 done: I2, SLOW1500" } : { items: ["i2"], results: ["I2"], summary: "1 done: I2" },
      interrupted: "interrupted",
      joined: { items: ["e2"], results: ["E2", "SLOW600"], summary: "2 done: E2, SLOW600" },
      statuses: ["success", "success"],
    })),
    why: "a run replaced by a newer one (interrupt) ends at its next step boundary, checkpointed, as interrupted; the reference aborts it mid-step, which gives the same result or not depending on where the step was",
  },
  "runs: a resumable stream rejoined from the start": {
    waypoint: [["metadata", "values x3"]],
    why: "Waypoint keeps a run's events in Postgres, so a rejoin after the run ended always replays them; the reference replays them only while its in-memory queue is still held, and answers none after",
  },
};

type Scenario = { name: string; graph: string; run: (c: Client, t: Target) => Promise<unknown> };

function scenario(name: string, graph: string, run: Scenario["run"]): void {
  test(name, async () => {
    const seen: Record<string, unknown> = {};
    const status: Record<string, string> = {};
    for (const t of targets) {
      try {
        seen[t.name] = normalise(await run(t.client, t));
        status[t.name] = "passed";
      } catch (e) {
        seen[t.name] = { threw: (e as Error).message };
        status[t.name] = `failed: ${(e as Error).message.slice(0, 60)}`;
      }
    }
    const same = JSON.stringify(seen.reference) === JSON.stringify(seen.waypoint);
    const purpose = ON_PURPOSE[name];
    const varies = REFERENCE_VARIES[name];
    results.push({ scenario: name, graph, reference: status.reference ?? "-", waypoint: status.waypoint ?? "-", compared: same ? "same" : purpose ? `differs on purpose: ${purpose}` : varies ? `differs this time: ${varies.why}` : "DIFFERENT" });
    expect(status.waypoint).toBe("passed");
    if (varies) expect(varies.waypoint).toContainEqual(seen.waypoint);
    else if (!purpose) expect(seen.waypoint).toEqual(seen.reference);
    else expect(seen.waypoint).not.toEqual(seen.reference);
  }, 90_000);
}

const user = (content: string) => ({ messages: [{ role: "user", content }] });
type Msg = { type: string; content: unknown; name?: string; tool_calls?: Array<{ name: string; args: unknown }> };
const lines = (v: unknown) => ((v as { messages?: Msg[] }).messages ?? []).map((m) => `${m.type}${m.name ? `(${m.name})` : ""}: ${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}${m.tool_calls?.length ? ` -> ${m.tool_calls.map((t) => `${t.name}${JSON.stringify(t.args)}`).join(", ")}` : ""}`);
const firstInterrupt = async (c: Client, threadId: string) => Object.values((await c.threads.get(threadId)).interrupts).flat()[0] as { id: string; value: unknown };

// --- chat: createAgent with plain tools and humanInTheLoopMiddleware -------------------------------

scenario("chat: a run per input on one thread", "chat", async (c) => {
  const t = await c.threads.create();
  const a = await c.runs.wait(t.thread_id, "chat", { input: user("hello") });
  const b = await c.runs.wait(t.thread_id, "chat", { input: user("what is the weather in Oslo") });
  const thread = await c.threads.get(t.thread_id);
  return { first: lines(a), second: lines(b), status: thread.status, metadata: thread.metadata, runs: (await c.runs.list(t.thread_id)).map((r) => r.status) };
});

scenario("chat: humanInTheLoopMiddleware interrupt, then approve", "chat", async (c) => {
  const t = await c.threads.create();
  const waited = await c.runs.wait(t.thread_id, "chat", { input: user("note: buy milk") });
  const thread = await c.threads.get(t.thread_id);
  const intr = await firstInterrupt(c, t.thread_id);
  const state = await c.threads.getState(t.thread_id);
  const done = await c.runs.wait(t.thread_id, "chat", { command: { resume: { [intr.id]: { decisions: [{ type: "approve" }] } } } });
  return { waited, status: thread.status, interrupts: thread.interrupts, next: state.next, done: lines(done), after: (await c.threads.get(t.thread_id)).status };
});

scenario("chat: humanInTheLoopMiddleware edit and reject", "chat", async (c) => {
  const t = await c.threads.create();
  await c.runs.wait(t.thread_id, "chat", { input: user("note: buy milk") });
  const edited = await c.runs.wait(t.thread_id, "chat", { command: { resume: { decisions: [{ type: "edit", editedAction: { name: "save_note", args: { text: "buy oat milk" } } }] } } });
  await c.runs.wait(t.thread_id, "chat", { input: user("note: call mum") });
  const rejected = await c.runs.wait(t.thread_id, "chat", { command: { resume: { decisions: [{ type: "reject", message: "not now" }] } } });
  return { edited: lines(edited).slice(-2), rejected: lines(rejected).slice(-2) };
});

scenario("chat: stream values, updates and messages-tuple", "chat", async (c) => {
  const t = await c.threads.create();
  const events = await collect(c.runs.stream(t.thread_id, "chat", { input: user("what is the weather in Lisbon"), streamMode: ["values", "updates", "messages-tuple"] }));
  const tuples = events.filter((e) => e.event === "messages").map((e) => (e.data as [{ content: unknown; type: string }, { langgraph_node?: string }]));
  return { shape: eventShape(events), tokens: tuples.map(([m, meta]) => `${meta.langgraph_node}:${m.type}:${String(m.content)}`), last: lines(events.filter((e) => e.event === "values").at(-1)?.data) };
});

scenario("chat: stream messages (partial, metadata, complete)", "chat", async (c) => {
  const events = await collect(c.runs.stream(null, "chat", { input: user("hello there my friend"), streamMode: ["messages"] }));
  const partial = events.filter((e) => e.event === "messages/partial").map((e) => String((e.data as Array<{ content: unknown }>)[0]?.content));
  return { shape: eventShape(events), partial };
});

scenario("chat: stream events", "chat", async (c) => {
  const events = await collect(c.runs.stream(null, "chat", { input: user("hello"), streamMode: ["events"] }));
  const kinds = [...new Set(events.filter((e) => e.event === "events").map((e) => (e.data as { event: string }).event))].sort();
  return { first: events[0]?.event, kinds };
});

scenario("chat: stream debug, tasks and checkpoints", "chat", async (c) => {
  const events = await collect(c.runs.stream(null, "chat", { input: user("hello"), streamMode: ["debug", "tasks", "checkpoints"] }));
  const debug = events.filter((e) => e.event === "debug").map((e) => (e.data as { type: string }).type);
  const checkpoints = events.filter((e) => e.event === "checkpoints").map((e) => (e.data as { next: string[] }).next);
  const tasks = events.filter((e) => e.event === "tasks").map((e) => `${(e.data as { name: string }).name}${"result" in (e.data as object) ? " done" : ""}`);
  const withCheckpoint = events.filter((e) => e.event === "debug" && (e.data as { type: string }).type === "checkpoint").every((e) => "checkpoint" in (e.data as { payload: object }).payload && "parent_checkpoint" in (e.data as { payload: object }).payload);
  return { shape: eventShape(events), debug, checkpoints, tasks, withCheckpoint };
});

// --- interrupts: plain interrupt() in a node and in a subgraph ------------------------------------

scenario("interrupts: a plain interrupt, a resume value, the subgraph's interrupt, a resume by id", "interrupts", async (c) => {
  const t = await c.threads.create();
  const first = await c.runs.wait(t.thread_id, "interrupts", { input: { topic: "sea" } });
  const asked = await c.threads.get(t.thread_id);
  const second = await c.runs.wait(t.thread_id, "interrupts", { command: { resume: "Lisbon" } });
  const sub = await c.threads.getState(t.thread_id, undefined, { subgraphs: true });
  const intr = await firstInterrupt(c, t.thread_id);
  const third = await c.runs.wait(t.thread_id, "interrupts", { command: { resume: { [intr.id]: { ok: true } } } });
  const history = await c.threads.getHistory(t.thread_id, { limit: 20 });
  return {
    first,
    asked: { status: asked.status, interrupts: asked.interrupts },
    second,
    sub: { next: sub.next, tasks: sub.tasks.map((x) => ({ name: x.name, interrupts: x.interrupts, nested: x.state ? (x.state as { next: string[] }).next : null })) },
    third,
    history: history.map((h) => `${(h.metadata as { step?: number } | undefined)?.step}:${h.next.join(",")}`),
  };
});

scenario("interrupts: command.update and goto", "interrupts", async (c) => {
  const t = await c.threads.create();
  await c.runs.wait(t.thread_id, "interrupts", { input: { topic: "hills" } });
  const jumped = await c.runs.wait(t.thread_id, "interrupts", { command: { update: { city: "Porto" }, goto: "finish" } });
  return { jumped, status: (await c.threads.get(t.thread_id)).status };
});

scenario("interrupts: interrupt_before and interrupt_after", "interrupts", async (c) => {
  const t = await c.threads.create();
  const before = await c.runs.wait(t.thread_id, "interrupts", { input: { topic: "lakes" }, interruptBefore: ["ask"] });
  const state = await c.threads.getState(t.thread_id);
  const thread = await c.threads.get(t.thread_id);
  const t2 = await c.threads.create();
  const after = await c.runs.wait(t2.thread_id, "interrupts", { input: { topic: "caves" }, interruptAfter: ["plan"] });
  return { before, next: state.next, status: thread.status, after, next2: (await c.threads.getState(t2.thread_id)).next };
});

scenario("interrupts: state at a checkpoint, update as a node, copy", "interrupts", async (c) => {
  const t = await c.threads.create();
  await c.runs.wait(t.thread_id, "interrupts", { input: { topic: "rivers" } });
  const history = await c.threads.getHistory(t.thread_id, { limit: 10 });
  const older = history.at(-1)!;
  const at = await c.threads.getState(t.thread_id, older.checkpoint.checkpoint_id!);
  const updated = await c.threads.updateState(t.thread_id, { values: { city: "Faro" }, asNode: "ask" });
  const after = await c.threads.getState(t.thread_id);
  const copy = await c.threads.copy(t.thread_id);
  const copied = await c.threads.getState(copy.thread_id);
  return { at: { values: at.values, next: at.next }, updated: Object.keys(updated).sort(), after: { values: after.values, next: after.next }, copied: { values: copied.values, next: copied.next }, copyMeta: copy.metadata };
});

scenario("interrupts: a plain resume value while two interrupts wait", "interrupts", async (c) => {
  // Two threads' worth of interrupts cannot be pending on one thread here; the subgraph's and the
  // node's interrupts come one after the other. So: resume a thread waiting at one interrupt with a map
  // naming an interrupt id it does not have.
  const t = await c.threads.create();
  await c.runs.wait(t.thread_id, "interrupts", { input: { topic: "dunes" } });
  const wrong = await failure(c.runs.wait(t.thread_id, "interrupts", { command: { resume: { "00000000000000000000000000000000": "x", "11111111111111111111111111111111": "y" } } }));
  return { wrong, state: (await c.threads.getState(t.thread_id)).next };
});

// --- fanout: custom state, Send, a retry policy; an uncompiled builder -----------------------------

scenario("fanout: Send fan-out with a node that fails once and is retried", "fanout", async (c) => {
  const t = await c.threads.create();
  const done = await c.runs.wait(t.thread_id, "fanout", { input: { items: ["a", "flaky:b", "c"] } });
  const events = await collect(c.runs.stream(null, "fanout", { input: { items: ["x", "y"] }, streamMode: ["updates"] }));
  return { done, updates: events.filter((e) => e.event === "updates").map((e) => Object.keys(e.data as object)[0]).sort() };
});

scenario("fanout: stateless wait and a background run joined", "fanout", async (c) => {
  const waited = await c.runs.wait(null, "fanout", { input: { items: ["p", "q"] } });
  const t = await c.threads.create({ metadata: { purpose: "join" } });
  const run = await c.runs.create(t.thread_id, "fanout", { input: { items: ["r"] }, metadata: { tag: "bg" } });
  const joined = await c.runs.join(t.thread_id, run.run_id);
  const got = await c.runs.get(t.thread_id, run.run_id);
  return { waited, joined, run: { status: got.status, metadata: got.metadata, multitask: got.multitask_strategy } };
});

// --- assistants, threads, runs, errors --------------------------------------------------------------

scenario("assistants: create, get, patch, versions, latest, search, count, delete", "chat", async (c) => {
  const a = await c.assistants.create({ graphId: "chat", name: "helper", config: { configurable: { tone: "dry" } }, metadata: { team: "x" } });
  const patched = await c.assistants.update(a.assistant_id, { metadata: { team: "y" }, name: "helper 2" });
  const versions = await c.assistants.getVersions(a.assistant_id);
  const latest = await c.assistants.setLatest(a.assistant_id, 1);
  const found = await c.assistants.search({ graphId: "chat", metadata: { team: "x" } });
  const count = await c.assistants.count({ graphId: "chat" });
  const system = await c.assistants.search({ graphId: "fanout" });
  await c.assistants.delete(a.assistant_id);
  const gone = await failure(c.assistants.get(a.assistant_id));
  return {
    created: { name: a.name, version: a.version, metadata: a.metadata, config: a.config },
    patched: { name: patched.name, version: patched.version, metadata: patched.metadata },
    versions: versions.map((v) => v.version),
    latest: { version: latest.version, name: latest.name },
    found: found.map((f) => f.name),
    count,
    system: system.map((s) => ({ name: s.name, metadata: s.metadata, id: s.assistant_id })),
    gone,
  };
});

scenario("assistants: graph, schemas and subgraphs of every graph", "interrupts", async (c) => {
  const out: Record<string, unknown> = {};
  for (const g of ["chat", "interrupts", "fanout"]) {
    const graph = (await c.assistants.getGraph(g)) as { nodes: Array<{ id: string }>; edges: unknown[] };
    out[g] = { nodes: graph.nodes.map((n) => n.id).sort(), edges: graph.edges.length, subgraphs: Object.keys(await c.assistants.getSubgraphs(g)).sort() };
  }
  return out;
});

scenario("threads: search by metadata, status, ids; sort; select; limit and offset", "fanout", async (c) => {
  const tag = `search-${Math.random().toString(36).slice(2, 8)}`;
  const made = [];
  for (const i of [1, 2, 3]) {
    const t = await c.threads.create({ metadata: { tag, i } });
    if (i !== 2) await c.runs.wait(t.thread_id, "fanout", { input: { items: [`i${i}`] } });
    made.push(t.thread_id);
  }
  const byTag = await c.threads.search({ metadata: { tag }, sortBy: "created_at", sortOrder: "asc" });
  const byGraph = await c.threads.search({ metadata: { tag, graph_id: "fanout" } });
  const idle = await c.threads.search({ metadata: { tag }, status: "idle", sortOrder: "asc", sortBy: "created_at" });
  const page = await c.threads.search({ metadata: { tag }, limit: 1, offset: 1, sortBy: "created_at", sortOrder: "asc" });
  const selected = await c.threads.search({ ids: made, select: ["thread_id", "status"], sortBy: "created_at", sortOrder: "asc" });
  const count = await c.threads.count({ metadata: { tag } });
  return {
    byTag: byTag.map((t) => ({ i: t.metadata?.i, status: t.status, graph: t.metadata?.graph_id ?? null })),
    byGraph: byGraph.map((t) => t.metadata?.i).sort(),
    idle: idle.map((t) => t.metadata?.i),
    page: page.map((t) => t.metadata?.i),
    selected: selected.map((t) => Object.keys(t).sort()),
    count,
  };
});

scenario("threads: create with if_exists, patch metadata, delete", "chat", async (c) => {
  const t = await c.threads.create({ metadata: { a: 1 } });
  const again = await failure(c.threads.create({ threadId: t.thread_id }));
  const same = await c.threads.create({ threadId: t.thread_id, ifExists: "do_nothing" });
  const patched = await c.threads.update(t.thread_id, { metadata: { b: 2 } });
  await c.threads.delete(t.thread_id);
  const gone = await failure(c.threads.get(t.thread_id));
  return { again, same: same.metadata, patched: patched.metadata, gone };
});

scenario("runs: list, after_seconds, cancel a queued run, if_not_exists", "fanout", async (c) => {
  const t = await c.threads.create();
  await c.runs.wait(t.thread_id, "fanout", { input: { items: ["m"] } });
  const later = await c.runs.create(t.thread_id, "fanout", { input: { items: ["n"] }, afterSeconds: 30 });
  await c.runs.cancel(t.thread_id, later.run_id);
  const cancelled = await c.runs.get(t.thread_id, later.run_id);
  const listed = await c.runs.list(t.thread_id);
  const fresh = "00000000-0000-4000-8000-" + Math.random().toString(16).slice(2, 14).padEnd(12, "0");
  const created = await c.runs.wait(fresh, "fanout", { input: { items: ["o"] }, ifNotExists: "create" });
  const missing = await failure(c.runs.wait("00000000-0000-4000-8000-000000000001", "fanout", { input: { items: ["z"] } }));
  return { later: later.status, cancelled: cancelled.status, listed: listed.map((r) => r.status).sort(), created, missing };
});

scenario("runs: a webhook when the run ends", "fanout", async (c, t) => {
  const before = hooks.length;
  // On a thread: the reference sends a stateless run's webhook without its values (Waypoint sends them).
  const thread = await c.threads.create();
  await c.runs.wait(thread.thread_id, "fanout", { input: { items: ["w"] }, webhook: `${hookUrl}/${t.name}` });
  for (let i = 0; i < 100 && hooks.length === before; i++) await new Promise((r) => setTimeout(r, 50));
  const hook = hooks.at(-1);
  return { path: hook?.path.replace(`/${t.name}`, "/<target>"), status: hook?.body.status, values: hook?.body.values, keys: Object.keys(hook?.body ?? {}).filter((k) => ["run_id", "thread_id", "status", "values"].includes(k)).sort() };
});

scenario("errors: unknown assistant, bad ids, a busy thread", "fanout", async (c) => {
  const t = await c.threads.create();
  const unknownAssistant = await failure(c.runs.create(t.thread_id, "nobody", { input: {} }));
  const badThread = await failure(c.threads.get("not-a-uuid"));
  const missingThread = await failure(c.threads.get("00000000-0000-4000-8000-00000000abcd"));
  const run = await c.runs.create(t.thread_id, "fanout", { input: { items: ["slow800"] } });
  const busy = await failure(c.runs.create(t.thread_id, "fanout", { input: { items: ["e"] }, multitaskStrategy: "reject" }));
  await c.runs.join(t.thread_id, run.run_id);
  return { unknownAssistant, badThread: badThread.failed && badThread.status, missingThread, busy };
});

scenario("errors: command.resume on a thread that waits for nothing", "fanout", async (c) => {
  const t = await c.threads.create();
  await c.runs.wait(t.thread_id, "fanout", { input: { items: ["d"] } });
  return failure(c.runs.wait(t.thread_id, "fanout", { command: { resume: "anything" } }));
});

scenario("runs: a failed run's wait and join carry __error__", "fanout", async (c) => {
  const t = await c.threads.create();
  const waited = (await c.runs.wait(t.thread_id, "fanout", { input: { items: ["ok", "fail:x"] }, raiseError: false })) as { __error__?: { error: string; message: string } };
  const run = await c.runs.create(t.thread_id, "fanout", { input: { items: ["fail:y"] } });
  const joined = (await c.runs.join(t.thread_id, run.run_id)) as { __error__?: { error: string } };
  const got = await c.runs.get(t.thread_id, run.run_id);
  return { waited: waited.__error__, joined: joined.__error__?.error, status: got.status, thread: (await c.threads.get(t.thread_id)).status };
});

scenario("runs: Content-Location on create, wait and stream", "fanout", async (_c, t) => {
  const thread = (await (await fetch(`${t.url}/threads`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).json()) as { thread_id: string };
  const out: Record<string, string | null> = {};
  for (const [what, path] of [
    ["create", `/threads/${thread.thread_id}/runs`],
    ["wait", `/threads/${thread.thread_id}/runs/wait`],
    ["stream", `/threads/${thread.thread_id}/runs/stream`],
    ["stateless wait", "/runs/wait"],
  ] as const) {
    const res = await fetch(`${t.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ assistant_id: "fanout", input: { items: ["l"] }, multitask_strategy: "enqueue" }) });
    await res.text();
    out[what] = res.headers.get("content-location")?.replace(/[0-9a-f-]{36}/g, "<id>") ?? null;
  }
  return out;
});

scenario("threads: created with supersteps", "interrupts", async (c) => {
  const t = await c.threads.create({
    graphId: "interrupts",
    supersteps: [{ updates: [{ values: { topic: "marsh", log: ["seeded"] }, asNode: "plan" }] }, { updates: [{ values: { city: "Delft" }, asNode: "ask" }] }],
  });
  const state = await c.threads.getState(t.thread_id);
  return { values: state.values, next: state.next, status: (await c.threads.get(t.thread_id)).status };
});

scenario("threads: search by values", "interrupts", async (c) => {
  const t = await c.threads.create();
  await c.runs.wait(t.thread_id, "interrupts", { input: { topic: "fens" } });
  await c.runs.wait(t.thread_id, "interrupts", { command: { resume: "Ghent" } });
  const never = await c.threads.create({ metadata: { never: "ran" } });
  const found = await c.threads.search({ values: { city: "Ghent" }, limit: 100 });
  return { found: found.some((f) => f.thread_id === t.thread_id), neverRanMatches: found.some((f) => f.thread_id === never.thread_id) };
});

scenario("multitask: enqueue runs after the busy run; interrupt stops it", "fanout", async (c) => {
  const t = await c.threads.create();
  const first = await c.runs.create(t.thread_id, "fanout", { input: { items: ["slow600"] } });
  const second = await c.runs.create(t.thread_id, "fanout", { input: { items: ["e2"] }, multitaskStrategy: "enqueue" });
  const joined = await c.runs.join(t.thread_id, second.run_id);
  const statuses = [(await c.runs.get(t.thread_id, first.run_id)).status, (await c.runs.get(t.thread_id, second.run_id)).status];
  const t2 = await c.threads.create();
  const busy = await c.runs.create(t2.thread_id, "fanout", { input: { items: ["slow1500"] } });
  for (let i = 0; i < 100 && (await c.runs.get(t2.thread_id, busy.run_id)).status !== "running"; i++) await new Promise((r) => setTimeout(r, 20));
  const replacing = await c.runs.create(t2.thread_id, "fanout", { input: { items: ["i2"] }, multitaskStrategy: "interrupt" });
  const after = await c.runs.join(t2.thread_id, replacing.run_id);
  return { joined, statuses, interrupted: (await c.runs.get(t2.thread_id, busy.run_id)).status, after };
});

scenario("runs: a resumable stream rejoined from the start", "chat", async (c) => {
  const t = await c.threads.create();
  const run = await c.runs.create(t.thread_id, "chat", { input: user("hello again"), streamMode: ["values"], streamResumable: true });
  await c.runs.join(t.thread_id, run.run_id);
  const events = await collect(c.runs.joinStream(t.thread_id, run.run_id, { lastEventId: "-1" }));
  return eventShape(events);
});
