// The run supervisor in one process against real Postgres: submissions (idempotency keys, bad input),
// multitask strategies, cancellation, version pinning, review deadlines, and the doctor's repairs.
// Crashes of whole worker processes are in workers.int.test.ts.
import { formatThread } from "../src/cli/format.js";
import { randomUUID } from "node:crypto";
import { offlinePlannerModel } from "../src/models/index.js";
import { diagnose } from "../src/runs/doctor.js";
import { getRun, listRuns, requestStop, retryRun, type RunRow, type RunStatus } from "../src/runs/queue.js";
import { Waypoint } from "../src/runs/runner.js";
import { submit } from "../src/runs/submit.js";
import { Worker, type WorkerOptions } from "../src/runs/worker.js";
import { HIRE } from "./support/agents.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;
const workers: Worker[] = [];

beforeAll(async () => {
  db = await freshDatabase("supervisor");
  wp = await Waypoint.open({ url: db.url, model: offlinePlannerModel(), poolMax: 4 });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});
afterAll(async () => {
  await wp.close();
  await db.drop();
});

async function worker(opts: WorkerOptions = {}): Promise<Worker> {
  const w = await Worker.start({ url: db.url, model: offlinePlannerModel(), poolMax: 4, toolRetry: { initialDelayMs: 1, maxDelayMs: 5 }, doctorMs: 0, pollMs: 200, ...opts });
  workers.push(w);
  return w;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const settled: RunStatus[] = ["success", "interrupted", "error", "cancelled", "dead"];
async function runEnds(runId: string): Promise<RunRow> {
  return until(`run ${runId} to end`, async () => {
    const r = await getRun(wp.pool, runId);
    return settled.includes(r.status) ? r : undefined;
  });
}

function trip(tripId: string) {
  return { trip: { tripId, traveller: "Ada", origin: "London", destination: "Lisbon", departOn: "2026-12-01", nights: 2, carDays: 2 } };
}

async function tripRows(tripId: string) {
  const q = async (t: string) => Number((await wp.pool.query(`SELECT count(*)::int AS n FROM world.${t} WHERE trip_id = $1`, [tripId])).rows[0].n);
  return { flights: await q("flights"), hotels: await q("hotel_bookings"), cars: await q("car_rentals") };
}

describe("submissions", () => {
  test("a submission returns a pending run at once; a worker carries it to the end", async () => {
    const { run, created } = await submit(wp, { assistant: "travel", input: trip("sub-1") });
    expect(created).toBe(true);
    expect(run.status).toBe("pending");
    await worker();
    expect((await runEnds(run.run_id)).status).toBe("success");
    expect(await tripRows("sub-1")).toEqual({ flights: 1, hotels: 1, cars: 1 });
  });

  test("one idempotency key, one run, even when submitted twice at once", async () => {
    const [a, b] = await Promise.all([
      submit(wp, { assistant: "travel", input: trip("idem-1"), idempotencyKey: "key-idem-1" }),
      submit(wp, { assistant: "travel", input: trip("idem-1b"), idempotencyKey: "key-idem-1" }).catch((e: Error) => e),
    ]);
    const again = await submit(wp, { assistant: "travel", input: trip("idem-1"), idempotencyKey: "key-idem-1" });
    expect(again.created).toBe(false);
    expect(again.run.run_id).toBe(a.run.run_id);
    if (!(b instanceof Error)) expect(b.run.run_id).toBe(a.run.run_id);
    expect((await wp.pool.query("SELECT count(*)::int AS n FROM waypoint.runs WHERE idempotency_key = 'key-idem-1'")).rows[0].n).toBe(1);
  });

  test.each([
    ["an unknown graph", { assistant: "nobody", input: {} }, /No assistant found for "nobody"/],
    ["input that fails the graph's schema", { assistant: "travel", input: { trip: { tripId: "trip-x" } } }, /Invalid input for travel: trip\.traveller/],
    ["no graph and no thread", { input: {} }, /Say which assistant/],
    ["an unknown thread", { threadId: "00000000-0000-4000-8000-000000000000" }, /No thread with id "00000000-0000-4000-8000-000000000000"/],
    ["a decision for a thread that waits for none", { threadId: "__done__", command: { resume: { decisions: [{ type: "approve" }] } } }, /waits for no answer/],
    ["an unknown strategy", { assistant: "travel", input: trip("bad-strategy"), strategy: "shove" }, /Unknown multitask strategy "shove"/],
  ])("%s is refused clearly and queues nothing", async (_label, s, message) => {
    const sub = { ...(s as Record<string, unknown>) };
    if (sub.threadId === "__done__") {
      const done = await wp.start("travel", trip("done-thread"));
      sub.threadId = done.threadId;
    }
    const before = (await wp.pool.query("SELECT count(*)::int AS n FROM waypoint.runs")).rows[0].n;
    const threadsBefore = (await wp.pool.query("SELECT count(*)::int AS n FROM waypoint.threads")).rows[0].n;
    await expect(submit(wp, sub as never)).rejects.toMatchObject({ message: expect.stringMatching(message) });
    expect((await wp.pool.query("SELECT count(*)::int AS n FROM waypoint.runs")).rows[0].n).toBe(before);
    expect((await wp.pool.query("SELECT count(*)::int AS n FROM waypoint.threads")).rows[0].n).toBe(threadsBefore);
  });

  test("a decision is a new run on the same thread, and wakes a worker", async () => {
    await worker();
    const { run } = await submit(wp, { assistant: "onboarding", input: { hire: { ...HIRE, email: "decide-run@acme.test" } } });
    // As the API reports it: the run succeeded, its thread waits for the review.
    expect((await runEnds(run.run_id)).status).toBe("success");
    expect((await wp.view(run.thread_id)).status).toBe("interrupted");
    const decided = await submit(wp, { threadId: run.thread_id, command: { resume: { decisions: [{ type: "approve" }] } } });
    expect(decided.run.kind).toBe("decide");
    expect((await runEnds(decided.run.run_id)).status).toBe("success");
    expect((await wp.view(run.thread_id)).status).toBe("done");
  });
});

describe("multitask strategies on a busy thread", () => {
  async function busyThread(tripId: string) {
    await worker({ paceMs: 150 });
    const first = await submit(wp, { assistant: "travel", input: trip(tripId) });
    await until("the first run to be running with a checkpoint", async () => (await getRun(wp.pool, first.run.run_id)).status === "running" && (await wp.view(first.run.thread_id)).checkpointId !== undefined);
    return first.run;
  }

  test("reject: refused with thread_busy; the running run goes on", async () => {
    const first = await busyThread("mt-reject");
    await expect(submit(wp, { threadId: first.thread_id, strategy: "reject" })).rejects.toMatchObject({ code: "thread_busy" });
    expect((await runEnds(first.run_id)).status).toBe("success");
  });

  test("enqueue: runs after the current one", async () => {
    const first = await busyThread("mt-enqueue");
    const second = await submit(wp, { threadId: first.thread_id, strategy: "enqueue" });
    expect(second.run.status).toBe("pending");
    const [a, b] = [await runEnds(first.run_id), await runEnds(second.run.run_id)];
    expect([a.status, b.status]).toEqual(["success", "success"]);
    expect((b.started_at as Date).getTime()).toBeGreaterThanOrEqual((a.finished_at as Date).getTime());
    expect(await tripRows("mt-enqueue")).toEqual({ flights: 1, hotels: 1, cars: 1 });
  });

  test("interrupt: the current run stops at its next step (interrupted), the new one carries on", async () => {
    const first = await busyThread("mt-interrupt");
    const second = await submit(wp, { threadId: first.thread_id, strategy: "interrupt" });
    expect((await runEnds(first.run_id)).status).toBe("interrupted");
    expect((await runEnds(second.run.run_id)).status).toBe("success");
    expect(await tripRows("mt-interrupt")).toEqual({ flights: 1, hotels: 1, cars: 1 });
  });

  test("rollback: the current run stops, is deleted with the checkpoints it made, then the new one runs", async () => {
    const first = await busyThread("mt-rollback");
    // The rolled-back run was the thread's first: its checkpoints go, so the new run brings the input again.
    const second = await submit(wp, { threadId: first.thread_id, input: trip("mt-rollback"), strategy: "rollback" });
    await until("the first run to be gone", async () => (await wp.pool.query("SELECT 1 FROM waypoint.runs WHERE run_id = $1", [first.run_id])).rowCount === 0);
    expect((await runEnds(second.run.run_id)).status).toBe("success");
    // The side effects the rolled-back run made stay, and are not repeated (the ledger replays them).
    expect(await tripRows("mt-rollback")).toEqual({ flights: 1, hotels: 1, cars: 1 });
    const events = await wp.pool.query("SELECT kind FROM waypoint.events WHERE run_id = $1", [first.run_id]);
    expect(events.rows).toEqual([{ kind: "rollback" }]);
  });
});

describe("cancel and retry", () => {
  test("cancel stops at the next step boundary; the thread stays resumable", async () => {
    await worker({ paceMs: 150 });
    const { run } = await submit(wp, { assistant: "travel", input: trip("cancel-1") });
    await until("running", async () => (await getRun(wp.pool, run.run_id)).status === "running");
    await requestStop(wp.pool, run.run_id, "cancel");
    const ended = await runEnds(run.run_id);
    expect(ended.status).toBe("cancelled");
    // Work is left (the next step), and nothing will do it until someone asks.
    const stopped = await wp.view(run.thread_id);
    expect(stopped.status).toBe("error");
    expect(stopped.next.length).toBeGreaterThan(0);
    const again = await submit(wp, { threadId: run.thread_id });
    expect((await runEnds(again.run.run_id)).status).toBe("success");
    expect(await tripRows("cancel-1")).toEqual({ flights: 1, hotels: 1, cars: 1 });
    await expect(requestStop(wp.pool, run.run_id, "cancel")).rejects.toMatchObject({ code: "invalid_submission", message: expect.stringContaining("is cancelled") });
  });

  test("a queued run is cancelled at once, and can be retried", async () => {
    const { run } = await submit(wp, { assistant: "travel", input: trip("cancel-queued") });
    expect((await requestStop(wp.pool, run.run_id, "cancel")).status).toBe("cancelled");
    const back = await retryRun(wp.pool, run.run_id);
    expect(back.status).toBe("pending");
    await worker();
    expect((await runEnds(run.run_id)).status).toBe("success");
  });
});

describe("version pinning", () => {
  test("a worker that only has another version leaves the thread alone; the doctor lists it", async () => {
    const { run } = await submit(wp, { assistant: "travel", input: trip("version-1") });
    await worker({ versions: ["travel@999"] });
    await new Promise((r) => setTimeout(r, 600));
    expect((await getRun(wp.pool, run.run_id)).status).toBe("pending");
    const findings = await diagnose(wp, { repair: false });
    expect(findings).toContainEqual(expect.objectContaining({ kind: "no_worker_for_version", runId: run.run_id, problem: expect.stringContaining(`travel@${wp.registry.get("travel").version}`) }));
    await worker();
    expect((await runEnds(run.run_id)).status).toBe("success");
  });
});

describe("review deadlines (durable timers)", () => {
  test("reject: when the deadline passes, the review is rejected by a run", async () => {
    await worker();
    const { run } = await submit(wp, { assistant: "onboarding", input: { hire: { ...HIRE, email: "deadline@acme.test" } }, reviewDeadline: { afterMs: 300, action: "reject", message: "nobody answered in time" } });
    expect((await runEnds(run.run_id)).status).toBe("success");
    await until("the thread to be done", async () => (await wp.view(run.thread_id)).status === "done", 20_000);
    expect((await wp.pool.query("SELECT count(*)::int AS n FROM world.grants WHERE email = 'deadline@acme.test'")).rows[0].n).toBe(0);
    const timers = await wp.pool.query("SELECT action, outcome FROM waypoint.timers WHERE thread_id = $1", [run.thread_id]);
    expect(timers.rows).toEqual([{ action: "reject", outcome: expect.stringMatching(/^rejected by run /) }]);
  });

  test("remind: an event, and the review still waits", async () => {
    await worker();
    const { run } = await submit(wp, { assistant: "onboarding", input: { hire: { ...HIRE, email: "remind@acme.test" } }, reviewDeadline: { afterMs: 200, action: "remind" } });
    await runEnds(run.run_id);
    const ev = await until("a reminder", async () => (await wp.pool.query("SELECT message FROM waypoint.events WHERE thread_id = $1 AND kind = 'reminder'", [run.thread_id])).rows[0]);
    expect(ev.message).toMatch(/Review still waiting after its deadline: Grant/);
    const view = await wp.view(run.thread_id);
    expect(view.status).toBe("interrupted");
    // What `waypoint show` and the inbox say about it.
    expect(view.notices).toEqual([expect.objectContaining({ kind: "reminder", interruptId: view.pending[0]!.interruptId, message: ev.message })]);
    expect(formatThread(view)).toMatch(/Reminder at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: Review still waiting after its deadline: Grant/);
  });

  test("escalate: show and the inbox say to whom, and when", async () => {
    await worker();
    const { run } = await submit(wp, { assistant: "onboarding", input: { hire: { ...HIRE, email: "escalate@acme.test" } }, reviewDeadline: { afterMs: 200, action: "escalate", escalateTo: "it-leads" } });
    await runEnds(run.run_id);
    await until("an escalation", async () => (await wp.pool.query("SELECT 1 FROM waypoint.events WHERE thread_id = $1 AND kind = 'escalation'", [run.thread_id])).rows[0]);
    const view = await wp.view(run.thread_id);
    expect(view.notices).toEqual([expect.objectContaining({ kind: "escalation", group: "it-leads" })]);
    expect(formatThread(view)).toMatch(/Escalated to it-leads at \d{4}-[\d: -]+: Review escalated to it-leads after its deadline/);
  });
});

describe("the doctor", () => {
  test("finds and repairs what a crash can leave; reports what needs a person; a worker then finishes the orphaned run", async () => {
    const version = wp.registry.get("travel").version;
    const newThread = async (tripId: string, status: string) => {
      const id: string = randomUUID();
      await wp.pool.query("INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, metadata, input) VALUES ($1, 'travel', $2, $3, '{\"graph_id\": \"travel\"}', $4)", [id, version, status, JSON.stringify(trip(tripId))]);
      return id;
    };
    // (a) A run marked running by a carrier that holds no lock (it died between a step and the status update).
    const a = await newThread("doc-a", "busy");
    const runA = (await wp.pool.query<RunRow>(
      `INSERT INTO waypoint.runs (run_id, thread_id, graph_id, graph_version, kind, status, worker_id, worker_lock, attempts, kwargs)
       VALUES (gen_random_uuid(), $1, 'travel', $2, 'start', 'running', 'ghost', 987654, 1, $3) RETURNING *`,
      [a, version, JSON.stringify({ input: trip("doc-a"), stream_mode: ["values"] })],
    )).rows[0]!;
    // (b) A thread marked busy that no run owns.
    const b = await newThread("doc-b", "busy");
    await wp.pool.query("UPDATE waypoint.threads SET updated_at = now() - interval '1 minute' WHERE thread_id = $1", [b]);
    // (c) A thread that stopped with an error.
    const c = await newThread("doc-c", "error");

    const ours = new Set([a, b, c]);
    const seen = (await diagnose(wp, { repair: false })).filter((f) => ours.has(f.threadId));
    expect(seen.map((f) => [f.kind, f.threadId]).sort()).toEqual(
      [
        ["orphaned_run", a],
        ["stale_status", b],
        ["needs_a_person", c],
      ].sort(),
    );
    expect(await getRun(wp.pool, runA.run_id)).toMatchObject({ status: "running" }); // looking changes nothing

    const repaired = (await diagnose(wp, { repair: true })).filter((f) => ours.has(f.threadId));
    expect(repaired.map((f) => f.kind).sort()).toEqual(["needs_a_person", "orphaned_run", "stale_status"]);
    expect((await wp.pool.query("SELECT status FROM waypoint.threads WHERE thread_id = $1", [b])).rows[0].status).toBe("idle");
    // Only the error thread is left for a person.
    expect((await diagnose(wp, { repair: false })).filter((f) => ours.has(f.threadId)).map((f) => f.kind)).toEqual(["needs_a_person"]);
    await worker();
    expect((await runEnds(runA.run_id)).status).toBe("success");
    expect(await tripRows("doc-a")).toEqual({ flights: 1, hotels: 1, cars: 1 });
    expect((await wp.view(a)).status).toBe("done");
  });
});
