// Crash tests for the concierge example (graphs/concierge/agent.ts: createAgent, three plain tool()s in
// durable(), humanInTheLoopMiddleware on rent_car), run through the real `waypoint` CLI in child
// processes that halt at a durable() halt point (WAYPOINT_HALT_AT, src/halt.ts) and are SIGKILLed
// there: before each tool runs (durable.started), after it returned but before its outcome is recorded
// (durable.returned), after the outcome is recorded but before the step is written (durable.recorded),
// and right after the rent_car approval is recorded (decide.recorded). `waypoint resume`, a decision or
// a `waypoint worker` finishes each thread. Every booking and rental must exist exactly as often as the
// ledger and the human allow (world.hotel_bookings / world.car_rentals by trip, world.requests for how
// often each system was asked), the rental whose outcome is unknown is put to a human ("did this
// happen?") and never repeated on a guess, every tool call has its ToolMessage, and every thread ends
// done. The last test runs the same agent without Waypoint (MemorySaver, plain invoke).
//
// To see them bite, break a mechanism and run this file, then put it back:
//  - ledger replay off: in src/langchain/durable.ts `if (begun.action === "replay" && false)`: the
//    durable.recorded tests fail (a second request, a second rental);
//  - doubt off: in src/tools/ledger.ts beginCall treat every row as repeatable: the rent_car
//    durable.returned tests fail (no question; two rentals without anyone choosing them).
import { randomUUID } from "node:crypto";
import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { Command, MemorySaver } from "@langchain/langgraph";
import { Waypoint, type ThreadView } from "../src/runs/index.js";
import { createWorld } from "../src/world/index.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;

beforeAll(async () => {
  db = await freshDatabase("concierge");
  // Creates the schema once, so that children do not race on first setup; reads views in-process.
  wp = await Waypoint.open({ url: db.url, poolMax: 3 });
});
afterAll(async () => {
  await wp.close();
  await db.drop();
});

const children: CliChild[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
    await c.done;
  }
});

const env = () => childEnv({ DATABASE_URL: db.url });

/** The user's message: the trip's facts in a json block (the offline planner fills tool arguments from it). */
function input(tripId: string) {
  const facts = { tripId, city: "Lisbon", guest: "Ada", driver: "Ada", checkIn: "2027-03-01", pickUpOn: "2027-03-01", nights: 3, days: 3 };
  return { messages: [{ role: "user", content: `Hotel and car in Lisbon, please.\n\`\`\`json\n${JSON.stringify(facts)}\n\`\`\`` }] };
}

function runArgs(threadId: string, tripId: string): string[] {
  return ["run", "concierge", "--thread", threadId, "--input", JSON.stringify(input(tripId))];
}

/** Start `args` with WAYPOINT_HALT_AT=`at` and SIGKILL the child once it halted there. */
async function killAt(at: string, args: string[]): Promise<void> {
  const child = startCli(args, { ...env(), WAYPOINT_HALT_AT: at });
  children.push(child);
  try {
    await child.waitForHalt(at.split("#")[0] as Parameters<CliChild["waitForHalt"]>[0]);
  } catch (e) {
    child.child.kill("SIGKILL");
    const r = await child.done;
    throw new Error(`${(e as Error).message}\nchild stdout:\n${r.stdout}\nchild stderr:\n${r.stderr}`);
  }
  child.child.kill("SIGKILL");
  expect((await child.done).signal).toBe("SIGKILL");
}

/** Run a CLI command to its end; it must exit 0 and print `expect_`. */
async function cli(args: string[], expected: string | RegExp): Promise<string> {
  const r = await runCli(args, env());
  if (r.code !== 0) throw new Error(`waypoint ${args.slice(0, 2).join(" ")} exited ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  expect(r.stdout).toMatch(expected);
  return r.stdout;
}

/** The world rows a trip left, and how often each system was asked since `since` (world.requests ids). */
async function world(tripId: string, since: number) {
  const n = async (sql: string, params: unknown[]) => Number((await wp.pool.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0);
  const requests = async (system: string) => n("SELECT count(*)::int AS n FROM world.requests WHERE system = $1 AND id > $2", [system, since]);
  return {
    bookings: await n("SELECT count(*)::int AS n FROM world.hotel_bookings WHERE trip_id = $1", [tripId]),
    rentals: await n("SELECT count(*)::int AS n FROM world.car_rentals WHERE trip_id = $1", [tripId]),
    searched: await requests("hotel_search"),
    bookRequests: await requests("hotels"),
    rentRequests: await requests("cars"),
  };
}

async function lastRequestId(): Promise<number> {
  return Number((await wp.pool.query<{ id: string | null }>("SELECT max(id) AS id FROM world.requests")).rows[0]?.id ?? 0);
}

async function ledger(threadId: string): Promise<Record<string, { status: string; attempts: number; resolution: string | null }>> {
  const { rows } = await wp.pool.query<{ tool: string; status: string; attempts: number; resolution: string | null }>(
    "SELECT tool, status, attempts, resolution FROM waypoint.tool_calls WHERE thread_id = $1 ORDER BY started_at",
    [threadId],
  );
  return Object.fromEntries(rows.map((r) => [r.tool, { status: r.status, attempts: r.attempts, resolution: r.resolution }]));
}

/** Tool calls of the conversation without a ToolMessage. */
function dangling(messages: unknown): string[] {
  const list = (Array.isArray(messages) ? messages : []) as BaseMessage[];
  const answered = new Set(list.filter((m) => ToolMessage.isInstance(m)).map((m) => (m as ToolMessage).tool_call_id));
  return list.flatMap((m) => (AIMessage.isInstance(m) ? (m.tool_calls ?? []) : [])).filter((c) => !c.id || !answered.has(c.id)).map((c) => `${c.name} ${c.id ?? ""}`);
}

/** The thread is done, nothing dangles, nothing is left open in the ledger, and the tools answered in order. */
async function expectFinished(threadId: string): Promise<ThreadView> {
  const v = await wp.view(threadId);
  expect({ status: v.status, pending: v.pending.length, next: v.next, open: v.openCalls.length }).toEqual({ status: "done", pending: 0, next: [], open: 0 });
  // As the API reports it: idle, no run left pending or running.
  const { rows } = await wp.pool.query<{ status: string; active: number }>(
    "SELECT status, (SELECT count(*)::int FROM waypoint.runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running')) AS active FROM waypoint.threads t WHERE thread_id = $1",
    [threadId],
  );
  expect(rows[0]).toEqual({ status: "idle", active: 0 });
  const messages = (v.values.messages ?? []) as BaseMessage[];
  expect(dangling(messages)).toEqual([]);
  expect(messages.filter((m) => ToolMessage.isInstance(m)).map((m) => (m as ToolMessage).name)).toEqual(["search_hotels", "book_hotel", "rent_car"]);
  expect(messages[messages.length - 1]?.text).toMatch(/^Finished\./);
  return v;
}

/** Run the thread up to rent_car's approval (the humanInTheLoopMiddleware interrupt). */
async function toApproval(threadId: string, tripId: string): Promise<void> {
  await cli(runArgs(threadId, tripId), "is waiting for a decision");
  const v = await wp.view(threadId);
  expect(v.status).toBe("interrupted");
  expect(v.pending).toHaveLength(1);
  expect(v.pending[0]?.request).toMatchObject({ actionRequests: [{ name: "rent_car" }], reviewConfigs: [{ allowedDecisions: ["approve", "edit", "reject"] }] });
}

type Tool = "search_hotels" | "book_hotel";
type Point = "durable.started" | "durable.returned" | "durable.recorded";

/**
 * What the world and the ledger must show for a kill at `point` in `tool`'s call, after the thread
 * finished: the tool's requests and its ledger attempts (a read and a deduping booking run again when
 * their outcome is not recorded; a recorded one is replayed and never sent again).
 */
const AFTER_KILL: Record<Point, { requests: number; attempts: number }> = {
  "durable.started": { requests: 1, attempts: 2 }, // the first attempt never reached the system
  "durable.returned": { requests: 2, attempts: 2 }, // sent again: the read is harmless, the hotel dedupes by key
  "durable.recorded": { requests: 1, attempts: 1 }, // replayed from the ledger
};

describe.each<[Tool]>([["search_hotels"], ["book_hotel"]])("killed in %s", (tool) => {
  test.each<[Point]>([["durable.started"], ["durable.returned"], ["durable.recorded"]])("at %s: resume finishes it, the call runs as the ledger allows, one booking, one rental", async (point) => {
    const threadId = randomUUID();
    const tripId = `trip-${tool}-${point}`;
    const since = await lastRequestId();
    await killAt(`${point}:${tool}`, runArgs(threadId, tripId));
    const stopped = await wp.view(threadId);
    expect(stopped.status).toBe("error");
    expect(stopped.openCalls.map((c) => c.tool)).toEqual(point === "durable.recorded" ? [] : [tool]);
    const before = await world(tripId, since);
    expect(tool === "search_hotels" ? before.searched : before.bookRequests).toBe(point === "durable.started" ? 0 : 1);
    expect(before.bookings).toBe(tool === "book_hotel" && point !== "durable.started" ? 1 : 0);

    await cli(["resume", threadId], "is waiting for a decision");
    await cli(["decide", threadId, "approve"], "is done");
    await expectFinished(threadId);
    const expected = AFTER_KILL[point];
    const after = await world(tripId, since);
    expect(after).toEqual({
      bookings: 1,
      rentals: 1,
      searched: tool === "search_hotels" ? expected.requests : 1,
      bookRequests: tool === "book_hotel" ? expected.requests : 1,
      rentRequests: 1,
    });
    const rows = await ledger(threadId);
    expect(rows[tool]).toMatchObject({ status: "succeeded", attempts: expected.attempts });
    expect(rows.rent_car).toMatchObject({ status: "succeeded", attempts: 1 });
    if (tool === "book_hotel") {
      // Every request for the booking carried the ledger's key: the hotel system saw one booking, asked once or twice.
      const { rows: keys } = await wp.pool.query<{ k: string }>("SELECT DISTINCT r.idempotency_key AS k FROM world.requests r WHERE r.system = 'hotels' AND r.id > $1", [since]);
      expect(keys).toHaveLength(1);
    }
  });
});

describe("killed in rent_car (no idempotency key; runs after the approval)", () => {
  test("at durable.recorded: the rental is replayed from the ledger, nobody is asked, one rental", async () => {
    const threadId = randomUUID();
    const tripId = "trip-rent-recorded";
    const since = await lastRequestId();
    await toApproval(threadId, tripId);
    await killAt("durable.recorded:rent_car", ["decide", threadId, "approve"]);
    expect((await world(tripId, since)).rentals).toBe(1);
    await cli(["resume", threadId], "is done");
    await expectFinished(threadId);
    expect(await world(tripId, since)).toEqual({ bookings: 1, rentals: 1, searched: 1, bookRequests: 1, rentRequests: 1 });
    expect((await ledger(threadId)).rent_car).toMatchObject({ status: "succeeded", attempts: 1, resolution: null });
  });

  test.each([
    ["confirm_done", 1],
    ["run_again", 2],
  ] as const)("at durable.returned (outcome unknown): the thread asks 'did this happen?'; %s gives %i rental(s)", async (answer, rentals) => {
    const threadId = randomUUID();
    const tripId = `trip-rent-returned-${answer}`;
    const since = await lastRequestId();
    await toApproval(threadId, tripId);
    await killAt("durable.returned:rent_car", ["decide", threadId, "approve"]);
    expect((await world(tripId, since)).rentals).toBe(1);
    expect((await ledger(threadId)).rent_car).toMatchObject({ status: "started", attempts: 1 });

    // The resume does not guess: it asks, and the car system is not called again.
    await cli(["resume", threadId], "is waiting for a decision");
    const asked = await wp.view(threadId);
    expect(asked.status).toBe("interrupted");
    expect(asked.pending).toHaveLength(1);
    expect(asked.pending[0]?.request).toMatchObject({
      kind: "in_doubt",
      actionRequests: [{ name: "rent_car", args: { tripId } }],
      reviewConfigs: [{ actionName: "rent_car", allowedDecisions: ["confirm_done", "run_again", "skip"] }],
    });
    expect(asked.pending[0]?.request?.actionRequests[0]?.description).toMatch(/^Did this happen\? Rent a car in Lisbon for Ada/);
    expect(await world(tripId, since)).toMatchObject({ rentals: 1, rentRequests: 1 });

    const { rows } = await wp.pool.query<{ rental_ref: string }>("SELECT rental_ref FROM world.car_rentals WHERE trip_id = $1", [tripId]);
    const args = answer === "confirm_done" ? ["confirm_done", "--message", `found ${rows[0]?.rental_ref ?? "?"}`] : ["run_again"];
    await cli(["decide", threadId, ...args], "is done");
    const done = await expectFinished(threadId);
    expect(await world(tripId, since)).toEqual({ bookings: 1, rentals, searched: 1, bookRequests: 1, rentRequests: rentals });
    expect((await ledger(threadId)).rent_car).toMatchObject({ status: "succeeded", attempts: rentals, resolution: answer });
    const rentResult = ((done.values.messages ?? []) as BaseMessage[]).find((m) => ToolMessage.isInstance(m) && m.name === "rent_car");
    expect(rentResult?.text).toMatch(answer === "confirm_done" ? new RegExp(`found ${rows[0]?.rental_ref ?? "?"}`) : /CAR-/);
  });

  test("at durable.started (nothing rented yet, but the ledger cannot know): asked; run_again rents one car", async () => {
    const threadId = randomUUID();
    const tripId = "trip-rent-started";
    const since = await lastRequestId();
    await toApproval(threadId, tripId);
    await killAt("durable.started:rent_car", ["decide", threadId, "approve"]);
    expect(await world(tripId, since)).toMatchObject({ rentals: 0, rentRequests: 0 });
    await cli(["resume", threadId], "is waiting for a decision");
    expect((await wp.view(threadId)).pending[0]?.request?.kind).toBe("in_doubt");
    await cli(["decide", threadId, "run_again"], "is done");
    await expectFinished(threadId);
    expect(await world(tripId, since)).toEqual({ bookings: 1, rentals: 1, searched: 1, bookRequests: 1, rentRequests: 1 });
  });
});

test("killed right after the rent_car approval is recorded (decide.recorded): a worker applies it once, one rental, not asked again", async () => {
  const threadId = randomUUID();
  const tripId = "trip-after-approval";
  const since = await lastRequestId();
  await toApproval(threadId, tripId);
  await killAt("decide.recorded", ["decide", threadId, "approve"]);
  const decisions = async () => Number((await wp.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.runs WHERE thread_id = $1 AND kind = 'decide'", [threadId])).rows[0]?.n);
  expect(await decisions()).toBe(1);
  expect((await world(tripId, since)).rentals).toBe(0);
  // The recorded decision waits to be applied: nobody is asked again.
  expect((await wp.view(threadId)).pending).toEqual([]);

  // A worker recovers the dead process's run and carries it to the end.
  const worker = startCli(["worker", "--concurrency", "1"], env());
  children.push(worker);
  const end = Date.now() + 60_000;
  for (;;) {
    const v = await wp.view(threadId);
    if (v.status === "done") break;
    if (Date.now() > end) throw new Error(`the worker did not finish the thread: ${v.status} ${v.detail ?? ""}\nworker stdout:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await expectFinished(threadId);
  expect(await world(tripId, since)).toEqual({ bookings: 1, rentals: 1, searched: 1, bookRequests: 1, rentRequests: 1 });
  expect(await decisions()).toBe(1);
  expect((await ledger(threadId)).rent_car).toMatchObject({ status: "succeeded", attempts: 1 });
});

test("without Waypoint (MemorySaver, plain invoke, no run scope) the same agent works unchanged: approve, one rental, nothing in the ledger", async () => {
  const { createConcierge } = await import("../graphs/concierge/agent.js");
  const agent = createConcierge({ checkpointer: new MemorySaver() });
  const tripId = "trip-plain";
  const since = await lastRequestId();
  const cfg = { configurable: { thread_id: "plain-concierge" }, context: { world: createWorld(wp.pool) } };
  const first = await agent.invoke({ messages: [new HumanMessage(input(tripId).messages[0]!.content)] }, cfg);
  const interrupts = (first as { __interrupt__?: Array<{ value: unknown }> }).__interrupt__ ?? [];
  expect(interrupts).toHaveLength(1);
  expect(interrupts[0]?.value).toMatchObject({ actionRequests: [{ name: "rent_car", args: { tripId } }], reviewConfigs: [{ actionName: "rent_car", allowedDecisions: ["approve", "edit", "reject"] }] });
  expect(await world(tripId, since)).toMatchObject({ bookings: 1, rentals: 0 });

  const out = await agent.invoke(new Command({ resume: { decisions: [{ type: "approve" }] } }), cfg);
  const messages = out.messages as BaseMessage[];
  expect(messages.filter((m) => ToolMessage.isInstance(m)).map((m) => `${(m as ToolMessage).name}:${(m as ToolMessage).status ?? "success"}`)).toEqual([
    "search_hotels:success",
    "book_hotel:success",
    "rent_car:success",
  ]);
  expect(dangling(messages)).toEqual([]);
  expect(messages[messages.length - 1]?.text).toMatch(/^Finished\./);
  expect(await world(tripId, since)).toEqual({ bookings: 1, rentals: 1, searched: 1, bookRequests: 1, rentRequests: 1 });
  // The tools ran directly: no ledger rows, no thread.
  expect((await wp.pool.query("SELECT count(*)::int AS n FROM waypoint.tool_calls WHERE thread_id = 'plain-concierge'")).rows[0].n).toBe(0);
});
