// The agent server, driven only through the official @langchain/langgraph-sdk Client: assistants,
// threads, state and history, runs to an interrupt and resumed with a decision, background runs
// joined, cancellation, bad bodies, and auth (unknown tokens, other owners' threads).
import { Client } from "@langchain/langgraph-sdk";
import { offlinePlannerModel } from "../src/models/index.js";
import { assistantIdFor, startServer, type RunningServer } from "../src/server/index.js";
import { HIRE } from "./support/agents.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let server: RunningServer;
let alice: Client;
let bob: Client;

/** (Re)start the server on the test database, and the two owners' clients. */
async function boot(worker: { paceMs?: number } = {}): Promise<void> {
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    auth: { required: true, tokens: new Map([["tok-alice", "alice"], ["tok-bob", "bob"]]) },
    worker: { url: db.url, model: offlinePlannerModel(), poolMax: 4, doctorMs: 0, pollMs: 200, ...worker },
  });
  alice = new Client({ apiUrl: server.url, apiKey: "tok-alice" });
  bob = new Client({ apiUrl: server.url, apiKey: "tok-bob" });
}

beforeAll(async () => {
  db = await freshDatabase("server");
  await boot();
});
afterAll(async () => {
  await server.close();
  await db.drop();
});

const hire = (tag: string) => ({ hire: { ...HIRE, email: `${tag}@acme.test` } });

test("assistants: one per agent, with the reference server's deterministic ids", async () => {
  const found = await alice.assistants.search({ graphId: "onboarding" });
  expect(found).toHaveLength(1);
  expect(found[0]).toMatchObject({ graph_id: "onboarding", assistant_id: assistantIdFor("onboarding") });
  // uuid5("onboarding", 6ba7b821-...): what `langgraph dev` would assign.
  expect(assistantIdFor("onboarding")).toMatch(/^[0-9a-f-]{36}$/);
  const byId = await alice.assistants.get(assistantIdFor("travel"));
  expect(byId.graph_id).toBe("travel");
  const graph = await alice.assistants.getGraph("onboarding");
  expect(graph.nodes.map((n) => n.id)).toEqual(expect.arrayContaining(["agent", "review", "tools", "doubt"]));
  expect(Object.keys(await alice.assistants.getSubgraphs("hr"))).toEqual(["provisioning"]);
  expect(await alice.assistants.getSubgraphs("onboarding")).toEqual({});
  const schemas = await alice.assistants.getSchemas("onboarding");
  expect(JSON.stringify(schemas.input_schema)).toContain("hire");
  await expect(alice.assistants.get("nobody")).rejects.toThrow(/404.*Assistant not found/);
});

test("a thread runs to its review (wait), shows the interrupt, and a decision finishes it", async () => {
  const thread = await alice.threads.create({ metadata: { team: "people-ops" } });
  expect(thread.status).toBe("idle");
  const waited = (await alice.runs.wait(thread.thread_id, "onboarding", { input: hire("api-1") })) as Record<string, unknown>;
  expect(waited.__interrupt__).toEqual([expect.objectContaining({ value: expect.objectContaining({ actionRequests: [expect.objectContaining({ name: "grant_privileges" })] }) })]);

  const got = await alice.threads.get(thread.thread_id);
  expect(got.status).toBe("interrupted");
  expect(got.metadata).toMatchObject({ team: "people-ops", graph_id: "onboarding" });
  const interrupt = Object.values(got.interrupts).flat()[0] as { id: string };
  const state = await alice.threads.getState(thread.thread_id);
  expect(state.next).toEqual(["review"]);
  expect(state.tasks[0]?.interrupts[0]?.id).toBe(interrupt.id);

  // A malformed decision is refused (422) and changes nothing.
  await expect(alice.runs.wait(thread.thread_id, "onboarding", { command: { resume: { decisions: [{ type: "maybe" }] } } })).rejects.toThrow(/decision type must be one of/);
  expect((await alice.threads.getState(thread.thread_id)).checkpoint.checkpoint_id).toBe(state.checkpoint.checkpoint_id);

  const done = (await alice.runs.wait(thread.thread_id, "onboarding", { command: { resume: { [interrupt.id]: { decisions: [{ type: "approve" }] } } } })) as { messages: Array<{ type: string }> };
  expect(done.messages.at(-1)?.type).toBe("ai");
  expect((await alice.threads.get(thread.thread_id)).status).toBe("idle");
  const history = await alice.threads.getHistory(thread.thread_id, { limit: 3 });
  expect(history).toHaveLength(3);
  expect(history[0]?.checkpoint.checkpoint_id).toBe((await alice.threads.getState(thread.thread_id)).checkpoint.checkpoint_id);
  const runs = await alice.runs.list(thread.thread_id);
  // As the reference server reports runs: one that stopped at an interrupt succeeded (its thread is interrupted).
  expect(runs.map((r) => r.status)).toEqual(["success", "success"]);
});

test.each([
  ["edit", { type: "edit", editedAction: { name: "grant_privileges", args: { email: "api-edit@acme.test", privileges: ["wiki:read"] } } }, "api-edit"],
  ["respond", { type: "respond", message: "IT grants these on day one" }, "api-respond"],
])("resume with %s", async (_type, decision, tag) => {
  const thread = await alice.threads.create();
  await alice.runs.wait(thread.thread_id, "onboarding", { input: hire(tag) });
  const done = (await alice.runs.wait(thread.thread_id, "onboarding", { command: { resume: { decisions: [decision] } } })) as { messages: Array<{ type: string; name?: string; content: string }> };
  const grant = done.messages.find((m) => m.type === "tool" && m.name === "grant_privileges");
  if (_type === "edit") expect(JSON.parse(grant?.content ?? "{}")).toMatchObject({ granted: ["wiki:read"] });
  else expect(grant?.content).toBe("IT grants these on day one");
  expect((await alice.threads.get(thread.thread_id)).status).toBe("idle");
});

test("a background run returns at once; join waits for it", async () => {
  const thread = await alice.threads.create();
  const run = await alice.runs.create(thread.thread_id, "travel", {
    input: { trip: { tripId: "api-trip", traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } },
  });
  expect(["pending", "running"]).toContain(run.status);
  // Queued or running, the thread is busy (never "error" while a run will carry it).
  const during = await alice.threads.get(thread.thread_id);
  expect(["busy", "idle"]).toContain(during.status);
  const values = (await alice.runs.join(thread.thread_id, run.run_id)) as { messages: unknown[] };
  expect(values.messages.length).toBeGreaterThan(5);
  expect((await alice.runs.get(thread.thread_id, run.run_id)).status).toBe("success");
});

test("stream: metadata, then values and updates as the run goes; rejoin from the last event seen", async () => {
  const thread = await alice.threads.create();
  const events: Array<{ event: string; data: unknown }> = [];
  for await (const part of alice.runs.stream(thread.thread_id, "travel", {
    input: { trip: { tripId: "api-stream", traveller: "Ada", origin: "London", destination: "Lisbon", departOn: "2026-12-01", nights: 2, carDays: 2 } },
    streamMode: ["values", "updates"],
  })) {
    events.push(part as { event: string; data: unknown });
  }
  expect(events[0]?.event).toBe("metadata");
  const runId = (events[0]?.data as { run_id: string }).run_id;
  const kinds = new Set(events.map((e) => e.event));
  expect(kinds).toEqual(new Set(["metadata", "values", "updates"]));
  const updates = events.filter((e) => e.event === "updates").map((e) => Object.keys(e.data as object)[0]);
  expect(updates).toEqual(expect.arrayContaining(["agent", "tools"]));
  const last = events.filter((e) => e.event === "values").at(-1)?.data as { messages: Array<{ type: string }> };
  expect(last.messages.at(-1)?.type).toBe("ai");
  // A client that saw everything up to event 3 gets the rest (and only the rest) when it rejoins.
  const rejoined: string[] = [];
  for await (const part of alice.runs.joinStream(thread.thread_id, runId, { lastEventId: "3" })) rejoined.push((part as { event: string }).event);
  expect(rejoined).toEqual(events.slice(3).map((e) => e.event));
  await expect(async () => {
    for await (const _ of alice.runs.stream(thread.thread_id, "travel", { input: null, streamMode: ["telepathy" as never] })) void _;
  }).rejects.toThrow(/400.*telepathy/);
  // messages-tuple: each model message with the node that produced it.
  const other = await alice.threads.create();
  const tuples: unknown[] = [];
  for await (const part of alice.runs.stream(other.thread_id, "onboarding", { input: hire("api-messages"), streamMode: ["messages-tuple"] })) {
    if ((part as { event: string }).event === "messages") tuples.push((part as { data: unknown }).data);
  }
  // Messages a node writes (the task, from "recall") and the model's replies (from "agent").
  expect(tuples).toContainEqual([expect.objectContaining({ type: "human", id: "task" }), expect.objectContaining({ langgraph_node: "recall" })]);
  expect(tuples).toContainEqual([expect.objectContaining({ type: expect.stringMatching(/^(ai|AIMessageChunk)$/) }), expect.objectContaining({ langgraph_node: "agent" })]);
  // "messages" (complete events; partial ones for a model that streams) and "debug" (LangGraph's task and checkpoint events).
  const joined: string[] = [];
  const debugTypes = new Set<string>();
  const third = await alice.threads.create();
  for await (const part of alice.runs.stream(third.thread_id, "onboarding", { input: hire("api-messages-2"), streamMode: ["messages", "debug"] })) {
    const p = part as { event: string; data: { type?: string } };
    joined.push(p.event);
    if (p.event === "debug" && p.data.type) debugTypes.add(p.data.type);
  }
  expect(joined).toEqual(expect.arrayContaining(["messages/complete", "debug"]));
  // A rejoin (the SDK's joinStream) replays the run's own events after the one given.
  const replayed: string[] = [];
  for await (const part of alice.runs.joinStream(third.thread_id, (await alice.runs.list(third.thread_id))[0]!.run_id, { lastEventId: "0" })) replayed.push((part as { event: string }).event);
  expect(replayed).toEqual(joined);
  expect([...debugTypes]).toEqual(expect.arrayContaining(["checkpoint", "task", "task_result"]));
});

test("state at a checkpoint, a state update as a node, and a copy of the thread", async () => {
  const thread = await alice.threads.create();
  await alice.runs.wait(thread.thread_id, "onboarding", { input: hire("api-state") });
  const history = await alice.threads.getHistory(thread.thread_id, { limit: 10 });
  const older = history[2]!;
  const atOlder = await alice.threads.getState(thread.thread_id, older.checkpoint.checkpoint_id!);
  expect(atOlder.checkpoint.checkpoint_id).toBe(older.checkpoint.checkpoint_id);
  expect(atOlder.next).toEqual(older.next);
  await expect(alice.threads.getState(thread.thread_id, "no-such-checkpoint")).rejects.toThrow(/400.*Invalid uuid/);

  const copy = await alice.threads.copy(thread.thread_id);
  expect(copy.thread_id).not.toBe(thread.thread_id);
  const copied = await alice.threads.getState(copy.thread_id);
  expect((copied.values as { hire: unknown }).hire).toEqual(((await alice.threads.getState(thread.thread_id)).values as { hire: unknown }).hire);

  const updated = await alice.threads.updateState(thread.thread_id, { values: { preferences: { welcomeTone: "casual" } }, asNode: "recall" });
  expect(updated.configurable?.checkpoint_id).not.toBe(history[0]!.checkpoint.checkpoint_id);
  expect(((await alice.threads.getState(thread.thread_id)).values as { preferences: unknown }).preferences).toEqual({ welcomeTone: "casual" });
  await expect(alice.threads.updateState(thread.thread_id, { values: { nope: 1 }, asNode: "nowhere" })).rejects.toThrow(/422/);
});

test("command.update / goto, and checkpoint_id: continue from an earlier checkpoint on the same thread", async () => {
  const thread = await alice.threads.create();
  await alice.runs.wait(thread.thread_id, "onboarding", { input: hire("api-branch") });
  const waiting = await alice.threads.getState(thread.thread_id);
  const interrupt = Object.values((await alice.threads.get(thread.thread_id)).interrupts).flat()[0] as { id: string };
  await alice.runs.wait(thread.thread_id, "onboarding", { command: { resume: { [interrupt.id]: { decisions: [{ type: "approve" }] } } } });
  expect((await alice.threads.get(thread.thread_id)).status).toBe("idle");

  // Back to the review: a run from the checkpoint that waited for it puts the thread there again.
  await alice.runs.wait(thread.thread_id, "onboarding", { checkpointId: waiting.checkpoint.checkpoint_id!, input: null } as never);
  const again = await alice.threads.getState(thread.thread_id);
  expect(again.next).toEqual(["review"]);
  expect(again.parent_checkpoint?.checkpoint_id).toBe(waiting.checkpoint.checkpoint_id);

  // goto + update: send the agent back to "recall" with a remembered tone.
  const before = ((await alice.threads.getState(thread.thread_id)).values as { messages: unknown[] }).messages.length;
  await alice.runs.wait(thread.thread_id, "onboarding", { command: { update: { preferences: { welcomeTone: "casual" } }, goto: "agent" } });
  const after = (await alice.threads.getState(thread.thread_id)).values as { messages: unknown[]; preferences: unknown };
  expect(after.preferences).toEqual({ welcomeTone: "casual" });
  expect(after.messages.length).toBeGreaterThanOrEqual(before);
  await expect(alice.runs.create(thread.thread_id, "onboarding", { command: { goto: "nowhere" } })).rejects.toThrow(/422.*command.goto names no node of onboarding: nowhere/);
  await expect(alice.runs.create(thread.thread_id, "onboarding", { checkpointId: "no-such-checkpoint", input: null } as never)).rejects.toThrow(/404.*no checkpoint/);
});

test("the server restarts between steps: threads, interrupts and runs are all in Postgres", async () => {
  const thread = await alice.threads.create({ metadata: { restart: "yes" } });
  await alice.runs.wait(thread.thread_id, "onboarding", { input: hire("api-restart") });
  const interrupt = Object.values((await alice.threads.get(thread.thread_id)).interrupts).flat()[0] as { id: string };
  await server.close();
  await boot();
  const after = await alice.threads.get(thread.thread_id);
  expect(after.status).toBe("interrupted");
  expect(after.metadata).toMatchObject({ restart: "yes" });
  await alice.runs.wait(thread.thread_id, "onboarding", { command: { resume: { [interrupt.id]: { decisions: [{ type: "reject", message: "not today" }] } } } });
  expect((await alice.threads.get(thread.thread_id)).status).toBe("idle");
  expect((await alice.runs.list(thread.thread_id)).map((r) => r.status)).toEqual(["success", "success"]);
});

test("stateless runs, and deleting a finished run", async () => {
  const values = (await alice.runs.wait(null, "travel", {
    input: { trip: { tripId: "api-stateless", traveller: "Ada", origin: "London", destination: "Berlin", departOn: "2026-12-01", nights: 2, carDays: 2 } },
  })) as { messages: Array<{ type: string }> };
  expect(values.messages.at(-1)?.type).toBe("ai");
  const events: string[] = [];
  for await (const part of alice.runs.stream(null, "onboarding", { input: hire("api-stateless"), streamMode: "updates" })) events.push((part as { event: string }).event);
  expect(events[0]).toBe("metadata");
  expect(events).toContain("updates");
  const thread = await alice.threads.create();
  const run = await alice.runs.create(thread.thread_id, "travel", {
    input: { trip: { tripId: "api-delete", traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } },
  });
  await alice.runs.join(thread.thread_id, run.run_id);
  await alice.runs.delete(thread.thread_id, run.run_id);
  await expect(alice.runs.get(thread.thread_id, run.run_id)).rejects.toThrow(/404/);
});

test("one Idempotency-Key header, one run", async () => {
  const thread = await alice.threads.create();
  const post = () =>
    fetch(`${server.url}/threads/${thread.thread_id}/runs`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "tok-alice", "Idempotency-Key": `idem-${thread.thread_id}` },
      body: JSON.stringify({ assistant_id: "onboarding", input: hire("api-idem") }),
    }).then((r) => r.json() as Promise<{ run_id: string }>);
  const a = await post();
  const b = await post();
  expect(b.run_id).toBe(a.run_id);
  expect(await alice.runs.list(thread.thread_id)).toHaveLength(1);
});

test("bad requests name the problem and change nothing", async () => {
  const thread = await alice.threads.create();
  await expect(alice.runs.create(thread.thread_id, "onboarding", { input: { hire: { name: "x" } } })).rejects.toThrow(/422.*Invalid input for onboarding: hire\.email/);
  await expect(alice.runs.create(thread.thread_id, "nobody", { input: {} })).rejects.toThrow(/404.*No assistant found for .nobody/);
  await expect(alice.threads.get("00000000-0000-0000-0000-000000000000")).rejects.toThrow(/404.*Thread with ID 00000000-0000-0000-0000-000000000000 not found/);
  const started = await alice.threads.create();
  await alice.runs.wait(started.thread_id, "onboarding", { input: hire("api-wrong-assistant") });
  await expect(alice.runs.create(started.thread_id, "travel", { input: null })).rejects.toThrow(/422.*runs the onboarding graph, not travel/);
  expect(await alice.runs.list(thread.thread_id)).toEqual([]);
  await expect(alice.threads.create({ threadId: thread.thread_id })).rejects.toThrow(/already exists/);
  expect((await alice.threads.create({ threadId: thread.thread_id, ifExists: "do_nothing" })).thread_id).toBe(thread.thread_id);
});

test("store: put, get, search, namespaces, delete; u1 never matches u10; owners apart", async () => {
  await alice.store.putItem(["users", "u1", "prefs"], "tone", { tone: "formal" });
  await alice.store.putItem(["users", "u10", "prefs"], "tone", { tone: "casual" });
  await alice.store.putItem(["users", "user_2", "prefs"], "tone", { tone: "warm" });
  expect(await alice.store.getItem(["users", "u1", "prefs"], "tone")).toMatchObject({ namespace: ["users", "u1", "prefs"], key: "tone", value: { tone: "formal" } });
  const u1 = await alice.store.searchItems(["users", "u1"]);
  expect(u1.items.map((i) => i.value)).toEqual([{ tone: "formal" }]);
  const all = await alice.store.searchItems(["users"], { filter: { tone: "warm" } });
  expect(all.items.map((i) => i.namespace)).toEqual([["users", "user_2", "prefs"]]);
  const spaces = await alice.store.listNamespaces({ prefix: ["users"], maxDepth: 2 });
  expect(spaces.namespaces).toEqual(expect.arrayContaining([["users", "u1"], ["users", "u10"], ["users", "user_2"]]));
  // Bob's store is his own.
  expect(await bob.store.getItem(["users", "u1", "prefs"], "tone")).toBeNull();
  expect((await bob.store.searchItems(["users"])).items).toEqual([]);
  await alice.store.deleteItem(["users", "u1", "prefs"], "tone");
  expect(await alice.store.getItem(["users", "u1", "prefs"], "tone")).toBeNull();
});

test("auth: no token or an unknown one is refused; one owner cannot see another's threads", async () => {
  const anonymous = new Client({ apiUrl: server.url, apiKey: null });
  await expect(anonymous.threads.search()).rejects.toThrow(/401|Missing or unknown bearer token/);
  await expect(new Client({ apiUrl: server.url, apiKey: "nope" }).assistants.search()).rejects.toThrow(/401|unknown bearer token/);
  const mine = await alice.threads.create({ metadata: { secret: true } });
  await expect(bob.threads.get(mine.thread_id)).rejects.toThrow(/404.*not found/);
  await expect(bob.runs.create(mine.thread_id, "onboarding", { input: hire("api-bob") })).rejects.toThrow(/404.*not found/);
  expect((await bob.threads.search({ metadata: { secret: true } })).map((t) => t.thread_id)).not.toContain(mine.thread_id);
  expect((await alice.threads.search({ metadata: { secret: true } })).map((t) => t.thread_id)).toContain(mine.thread_id);
  const ok = await fetch(`${server.url}/ok`);
  expect(ok.status).toBe(200);
});

test("cancel stops a running run; the thread can be continued; multitask strategies", async () => {
  await server.close();
  await boot({ paceMs: 200 });
  const thread = await alice.threads.create();
  const run = await alice.runs.create(thread.thread_id, "travel", {
    input: { trip: { tripId: "api-cancel", traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } },
  });
  for (let i = 0; (await alice.runs.get(thread.thread_id, run.run_id)).status !== "running"; i++) {
    if (i > 200) throw new Error("run never started");
    await new Promise((r) => setTimeout(r, 25));
  }
  await alice.runs.cancel(thread.thread_id, run.run_id, true);
  const cancelled = await alice.runs.get(thread.thread_id, run.run_id);
  expect(cancelled.status).toBe("interrupted");
  const detail = (await (await fetch(`${server.url}/waypoint/runs/${run.run_id}`, { headers: { authorization: "Bearer tok-alice" } })).json()) as { waypoint: { detail: string } };
  expect(detail.waypoint.detail).toMatch(/stopped at a step boundary/);
  const values = (await alice.runs.wait(thread.thread_id, "travel", { input: null })) as { messages: unknown[] };
  expect(values.messages.length).toBeGreaterThan(5);
  expect((await alice.threads.get(thread.thread_id)).status).toBe("idle");

  // Multitask strategies on a busy thread.
  const busy = async (tripId: string) => {
    const t = await alice.threads.create();
    const r = await alice.runs.create(t.thread_id, "travel", {
      input: { trip: { tripId, traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } },
    });
    for (let i = 0; (await alice.runs.get(t.thread_id, r.run_id)).status !== "running"; i++) {
      if (i > 200) throw new Error("run never started");
      await new Promise((res) => setTimeout(res, 25));
    }
    return { t, r };
  };
  const rej = await busy("api-mt-reject");
  await expect(alice.runs.create(rej.t.thread_id, "travel", { input: null, multitaskStrategy: "reject" })).rejects.toThrow(/422.*already running a task/);
  const enq = await busy("api-mt-enqueue");
  const second = await alice.runs.create(enq.t.thread_id, "travel", { input: null, multitaskStrategy: "enqueue" });
  await alice.runs.join(enq.t.thread_id, second.run_id);
  expect((await alice.runs.get(enq.t.thread_id, enq.r.run_id)).status).toBe("success");
  const int = await busy("api-mt-interrupt");
  const third = await alice.runs.create(int.t.thread_id, "travel", { input: null, multitaskStrategy: "interrupt" });
  await alice.runs.join(int.t.thread_id, third.run_id);
  expect((await alice.runs.get(int.t.thread_id, int.r.run_id)).status).toBe("interrupted");
  expect((await alice.runs.get(int.t.thread_id, third.run_id)).status).toBe("success");
  const rb = await busy("api-mt-rollback");
  // The rolled-back run's checkpoints are gone (it was the thread's first run): the new one brings the input again.
  const fourth = await alice.runs.create(rb.t.thread_id, "travel", {
    input: { trip: { tripId: "api-mt-rollback", traveller: "Ada", origin: "London", destination: "Oslo", departOn: "2026-12-01", nights: 2, carDays: 2 } },
    multitaskStrategy: "rollback",
  });
  await alice.runs.join(rb.t.thread_id, fourth.run_id);
  await expect(alice.runs.get(rb.t.thread_id, rb.r.run_id)).rejects.toThrow(/404/);
  expect((await alice.runs.get(rb.t.thread_id, fourth.run_id)).status).toBe("success");
});

test("oversight through the API: a run's context.policy is checked and applied; the audit log is per owner", async () => {
  const bad = await alice.threads.create();
  await expect(alice.runs.wait(bad.thread_id, "onboarding", { input: hire("api-policy-bad"), context: { policy: { tools: { grant_privileges: { tier: "never" } } } } as never })).rejects.toThrow(
    /422.*Invalid oversight policy \(run policy\): tools\.grant_privileges\.tier/,
  );
  expect((await alice.runs.list(bad.thread_id)).length).toBe(0);

  const thread = await alice.threads.create();
  const done = (await alice.runs.wait(thread.thread_id, "onboarding", { input: hire("api-policy"), context: { policy: { tools: { grant_privileges: { tier: "auto" } } } } as never })) as Record<string, unknown>;
  expect(done.__interrupt__).toBeUndefined();
  expect((await alice.threads.get(thread.thread_id)).status).toBe("idle");

  const call = async (who: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: body === undefined ? "GET" : "POST", headers: { authorization: `Bearer ${who}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, json: (await res.json()) as any };
  };
  const mine = await call("tok-alice", "/audit/search", { thread_id: thread.thread_id });
  expect(mine.status).toBe(200);
  expect(mine.json.map((e: { tool: string; action: string }) => `${e.action}:${e.tool}`).sort()).toEqual(["auto:create_account", "auto:grant_privileges", "auto:send_welcome_email"]);
  const id = mine.json[0].id as number;
  expect((await call("tok-bob", "/audit/search", { thread_id: thread.thread_id })).json).toEqual([]);
  expect((await call("tok-bob", `/audit/${id}`)).status).toBe(404);
  expect((await call("tok-alice", `/audit/${id}/flag`, { reason: "check this" })).json.flagged).toEqual(expect.objectContaining({ by: "alice", reason: "check this" }));
  expect((await call("tok-alice", `/audit/${id}/comments`, { body: "looked, fine" })).json.comments).toEqual([expect.objectContaining({ author: "alice", body: "looked, fine" })]);
  expect((await call("tok-alice", "/audit/search", { flagged: true })).json.map((e: { id: number }) => e.id)).toEqual([id]);
  const badBody = await call("tok-alice", "/audit/search", { flagged: "yes" });
  expect(badBody.status).toBe(422);
  expect(JSON.stringify(badBody.json)).toContain("flagged");
});
