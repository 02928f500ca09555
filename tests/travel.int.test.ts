// The travel agent against real Postgres: the happy path, a hotel that keeps failing (the partial
// picture and each branch: retry, another hotel, cancel the flight, stop), a car rental in doubt (each
// answer), and SIGKILLs in the middle of a tool call, read back through `waypoint show`.
import { randomUUID } from "node:crypto";
import { ToolMessage } from "@langchain/core/messages";
import pg from "pg";
import { offlinePlannerModel } from "../src/models/index.js";
import { Waypoint, type ThreadView } from "../src/runs/index.js";
import { parseFaults } from "../src/world/index.js";
import { childEnv, runCli, startCli } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let pool: pg.Pool;
const open: Waypoint[] = [];

beforeAll(async () => {
  db = await freshDatabase("travel");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await Promise.all(open.map((w) => w.close()));
  await pool.end();
  await db.drop();
});

const FAST = { initialDelayMs: 1, maxDelayMs: 5 };

function trip(tripId: string, destination = "Lisbon") {
  return { tripId, traveller: "Ada Lovelace", origin: "London", destination, departOn: "2026-12-01", nights: 3, carDays: 2 };
}

async function waypoint(faults?: string) {
  const wp = await Waypoint.open({ url: db.url, model: offlinePlannerModel(), poolMax: 3, context: faults ? { faults: parseFaults(faults) } : {}, toolRetry: FAST });
  open.push(wp);
  return wp;
}

async function counts(tripId: string) {
  const q = async (sql: string) => Number((await pool.query<{ n: string }>(sql, [tripId])).rows[0]?.n ?? 0);
  return {
    flights: await q("SELECT count(*) AS n FROM world.flights WHERE trip_id = $1 AND status = 'booked'"),
    cancelled: await q("SELECT count(*) AS n FROM world.flight_cancellations c JOIN world.flights f USING (booking_ref) WHERE f.trip_id = $1"),
    hotels: await q("SELECT count(*) AS n FROM world.hotel_bookings WHERE trip_id = $1"),
    cars: await q("SELECT count(*) AS n FROM world.car_rentals WHERE trip_id = $1"),
  };
}

function lastText(v: ThreadView): string {
  const messages = (v.values.messages ?? []) as Array<{ content: unknown }>;
  return String(messages[messages.length - 1]?.content ?? "");
}

test("books a flight, then a hotel, then a car, each once", async () => {
  const wp = await waypoint();
  const done = await wp.start("travel", { trip: trip("happy") });
  expect(done.status).toBe("done");
  expect(await counts("happy")).toEqual({ flights: 1, cancelled: 0, hotels: 1, cars: 1 });
  expect(done.openCalls).toEqual([]);
});

describe("a hotel that keeps failing", () => {
  async function stuckAtHotel(tripId: string, failures = 4) {
    const wp = await waypoint(`hotels:server_error:1:${failures}`);
    const view = await wp.start("travel", { trip: trip(tripId) });
    return { wp, view };
  }

  test("stops with the partial picture and the ways forward", async () => {
    const { view } = await stuckAtHotel("picture");
    expect(view.status).toBe("interrupted");
    const req = view.pending[0]!.request!;
    expect(req.kind).toBe("choice");
    expect(req.context.done.map((d) => [d.step, d.outcome])).toEqual([
      ["search_hotels", "done"],
      ["book_flight", "done"],
      ["book_hotel", "failed"],
    ]);
    expect(req.context.artifacts).toEqual([expect.objectContaining({ kind: "flight", ref: expect.stringMatching(/^FL-/) })]);
    expect(req.context.notStarted).toEqual(["rent_car"]);
    expect(req.actionRequests[0]!.description).toContain("hotels: 500 Internal Server Error (after 4 attempts)");
    expect(req.reviewConfigs[0]!.options!.map((o) => o.id)).toEqual(["retry_hotel", "other_hotel", "cancel_flight", "stop"]);
    expect(await counts("picture")).toEqual({ flights: 1, cancelled: 0, hotels: 0, cars: 0 });
  });

  test("retry the hotel: the same request and key, booked once, then the car", async () => {
    const { wp, view } = await stuckAtHotel("retry");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "choose", option: "retry_hotel" }] });
    expect(done.status).toBe("done");
    expect(await counts("retry")).toEqual({ flights: 1, cancelled: 0, hotels: 1, cars: 1 });
    const ledger = await pool.query("SELECT attempts, status FROM waypoint.tool_calls WHERE thread_id = $1 AND tool = 'book_hotel'", [view.threadId]);
    expect(ledger.rows).toEqual([{ attempts: 5, status: "succeeded" }]);
  });

  test("pick another hotel: a new booking for that hotel", async () => {
    const { wp, view } = await stuckAtHotel("other");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "choose", option: "other_hotel", args: { hotelId: "lis-baixa" } }] });
    expect(done.status).toBe("done");
    const { rows } = await pool.query("SELECT hotel_id FROM world.hotel_bookings WHERE trip_id = 'other'");
    expect(rows).toEqual([{ hotel_id: "lis-baixa" }]);
    expect(await counts("other")).toMatchObject({ flights: 1, cars: 1 });
  });

  test("cancel the flight: compensated exactly once, even when resumed again", async () => {
    const { wp, view } = await stuckAtHotel("cancel");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "choose", option: "cancel_flight" }] });
    expect(done.status).toBe("done");
    expect(lastText(done)).toMatch(/cancelled by a reviewer; nothing stays booked[\s\S]*cancelled, EUR 180 refunded[\s\S]*hotel: not booked \(hotels: 500[\s\S]*car: not started/);
    expect(await counts("cancel")).toEqual({ flights: 0, cancelled: 1, hotels: 0, cars: 0 });
    await expect(wp.resume(view.threadId)).rejects.toMatchObject({ code: "thread_finished" });
    expect(await counts("cancel")).toEqual({ flights: 0, cancelled: 1, hotels: 0, cars: 0 });
  });

  test("stop here: the flight stays, the summary says what is not done", async () => {
    const { wp, view } = await stuckAtHotel("stop");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "choose", option: "stop" }] });
    expect(done.status).toBe("done");
    expect(lastText(done)).toMatch(/stopped by a reviewer after the hotel failed[\s\S]*flight FL-\w+: booked[\s\S]*car: not started/);
    expect(await counts("stop")).toEqual({ flights: 1, cancelled: 0, hotels: 0, cars: 0 });
  });

  test.each([
    ["an unknown option", { decisions: [{ type: "choose", option: "teleport" }] }, /no option "teleport"; options: retry_hotel, other_hotel, cancel_flight, stop/],
    ["another hotel with bad arguments", { decisions: [{ type: "choose", option: "other_hotel", args: { nights: 0 } }] }, /arguments for option "other_hotel" are invalid: nights/],
    ["a review decision", { decisions: [{ type: "approve" }] }, /"approve" is not allowed here; allowed: choose/],
  ])("%s is refused and changes nothing", async (_label, response, message) => {
    const { wp, view } = await stuckAtHotel(`bad-${_label.replace(/\W/g, "")}`);
    await expect(wp.decide(view.threadId, response)).rejects.toMatchObject({ code: "invalid_decision", message: expect.stringMatching(message) });
    expect((await wp.view(view.threadId)).checkpointId).toBe(view.checkpointId);
  });
});

describe("a car rental in doubt (its system cannot dedupe)", () => {
  test("a lost reply pauses for a human; confirm_done records it without renting again", async () => {
    const wp = await waypoint("cars:reply_lost:1:1");
    const view = await wp.start("travel", { trip: trip("car-confirm", "Oslo") });
    expect(view.status).toBe("interrupted");
    const req = view.pending[0]!.request!;
    expect(req.kind).toBe("in_doubt");
    expect(req.actionRequests[0]!.description).toMatch(/^Did this happen\? Rent a car in Oslo .*connection reset before the reply arrived/);
    expect(req.reviewConfigs[0]!.allowedDecisions).toEqual(["confirm_done", "run_again", "skip"]);
    expect(view.openCalls).toEqual([expect.objectContaining({ tool: "rent_car", status: "in_doubt" })]);
    const { rows } = await pool.query<{ rental_ref: string }>("SELECT rental_ref FROM world.car_rentals WHERE trip_id = 'car-confirm'");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "confirm_done", message: `found ${rows[0]!.rental_ref}` }] });
    expect(done.status).toBe("done");
    expect(await counts("car-confirm")).toMatchObject({ cars: 1 });
  });

  test("a 500 before the effect: run_again rents it once", async () => {
    const wp = await waypoint("cars:server_error:1:1");
    const view = await wp.start("travel", { trip: trip("car-again", "Oslo") });
    expect(view.pending[0]!.request!.kind).toBe("in_doubt");
    expect(await counts("car-again")).toMatchObject({ cars: 0 });
    const done = await wp.decide(view.threadId, { decisions: [{ type: "run_again" }] });
    expect(done.status).toBe("done");
    expect(await counts("car-again")).toMatchObject({ cars: 1 });
  });

  test("skip: not run again, and the agent is told", async () => {
    const wp = await waypoint("cars:timeout:1:1,hang_ms=5");
    const view = await wp.start("travel", { trip: trip("car-skip", "Oslo") });
    const done = await wp.decide(view.threadId, { decisions: [{ type: "skip", message: "will rent at the airport" }] });
    expect(done.status).toBe("done");
    expect(await counts("car-skip")).toMatchObject({ cars: 0 });
    const answer = ((done.values.messages ?? []) as unknown[]).find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.name === "rent_car");
    expect(answer).toMatchObject({ status: "error", content: expect.stringContaining("Skipped by a reviewer: will rent at the airport") });
  });
});

describe("SIGKILL in the middle of a tool call", () => {
  let url: string;
  beforeAll(async () => {
    url = db.url;
    expect((await runCli(["threads"], childEnv({ DATABASE_URL: url }))).code).toBe(0);
  });

  /** Run a trip in a child and SIGKILL it while `tool` hangs in the fault injector (its system's timeout fault). */
  async function killDuring(tripId: string, tool: string, faults: string, destination: string): Promise<string> {
    // The API names threads by UUID; the trip keeps its readable id.
    const threadId = randomUUID();
    const child = startCli(["run", "travel", "--thread", threadId, "--input", JSON.stringify({ trip: trip(tripId, destination) })], childEnv({ DATABASE_URL: url, WAYPOINT_FAULTS: faults }));
    for (let i = 0; ; i++) {
      const { rowCount } = await pool.query(
        `SELECT 1 FROM waypoint.tool_calls c JOIN world.faults f ON f.idempotency_key IS NOT DISTINCT FROM (CASE WHEN c.dedupes THEN c.idempotency_key END) AND f.kind = 'timeout'
          WHERE c.thread_id = $1 AND c.tool = $2 AND c.status = 'started'`,
        [threadId, tool],
      );
      if (rowCount) break;
      if (i > 600) throw new Error(`${tool} never started; output:\n${child.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.child.kill("SIGKILL");
    expect((await child.done).signal).toBe("SIGKILL");
    return threadId;
  }

  test("killed mid-rental: `waypoint show` names the call in doubt; resuming asks, run_again rents once", async () => {
    // The car system hangs (longer than the kill takes), so the process dies with the call in flight.
    const id = await killDuring("kill-car", "rent_car", "cars:timeout:1:1,hang_ms=60000", "Oslo");
    const shown = await runCli(["show", id], childEnv({ DATABASE_URL: url }));
    expect(shown.stdout).toMatch(/died in the middle of rent_car/);
    expect(shown.stdout).toMatch(/Tool calls without a settled outcome:\n\s+\? rent_car \(call_3_[0-9a-f]{8}_rent_car/);
    expect(shown.stdout).toMatch(/in doubt: the process stopped during attempt 1 and its system cannot dedupe; resuming asks a human whether it happened/);
    const resumed = await runCli(["resume", id], childEnv({ DATABASE_URL: url }));
    expect(resumed.stdout).toMatch(/Did this happen\? A tool call is in doubt[\s\S]*the process stopped during attempt 1/);
    const decided = await runCli(["decide", id, "run_again"], childEnv({ DATABASE_URL: url }));
    expect(decided.stdout).toContain(`Thread ${id} is done.`);
    expect(await counts("kill-car")).toEqual({ flights: 1, cancelled: 0, hotels: 1, cars: 1 });
  });

  test("killed mid-hotel-booking: the system dedupes, so resuming re-runs it with the same key, once", async () => {
    const id = await killDuring("kill-hotel", "book_hotel", "hotels:reply_lost:1:1,hotels:timeout:1:1,hang_ms=60000", "Berlin");
    // The first attempt's effect happened (its reply was lost); the second hung and the process died.
    expect(await counts("kill-hotel")).toMatchObject({ hotels: 1 });
    const shown = await runCli(["show", id], childEnv({ DATABASE_URL: url }));
    expect(shown.stdout).toMatch(/book_hotel[\s\S]*resuming runs it again with the same idempotency key, which its system dedupes/);
    const resumed = await runCli(["resume", id], childEnv({ DATABASE_URL: url }));
    expect(resumed.stdout).toContain(`Thread ${id} is done.`);
    expect(await counts("kill-hotel")).toEqual({ flights: 1, cancelled: 0, hotels: 1, cars: 1 });
  });
});
