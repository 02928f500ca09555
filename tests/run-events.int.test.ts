// Run stream events are written for every run a process carries through one group statement (one
// commit and one NOTIFY per run in it), against real Postgres: many runs' events in one statement, seq
// numbers that continue a run's earlier events (a run taken over from a dead carrier), a run whose
// events Postgres refuses fails alone, and every follower is woken by its own run's NOTIFY.
import pg from "pg";
import { openPersistence, type Persistence } from "../src/persistence/index.js";
import { EVENTS_CHANNEL, readRunEvents, RunEventWriter } from "../src/runs/events.js";
import { countedPool as countedPoolOn, freshDatabase, type TestDatabase } from "./support/db.js";

const countedPool = (max = 4) => countedPoolOn(db.url, max);

let db: TestDatabase;
let persistence: Persistence;

beforeAll(async () => {
  db = await freshDatabase("run_events");
  persistence = await openPersistence({ url: db.url, poolMax: 4 });
});
afterAll(async () => {
  await persistence.close();
  await db.drop();
});

const uuid = () => crypto.randomUUID();


test("the events of 50 runs ready at the same moment go in one statement, each run's in order from seq 1", async () => {
  const { pool, statements } = countedPool();
  try {
    const runs = Array.from({ length: 50 }, () => uuid());
    const writers = runs.map((r) => new RunEventWriter(pool, r));
    writers.forEach((w, i) => {
      w.append("metadata", { run_id: runs[i] });
      w.append("values", { n: i });
      w.append("end", null);
    });
    await Promise.all(writers.map((w) => w.flush()));
    expect(statements()).toBe(1);
    for (const [i, r] of runs.entries()) {
      expect(await readRunEvents(persistence.db.pool, r, 0)).toEqual([
        { seq: 1, event: "metadata", data: { run_id: r } },
        { seq: 2, event: "values", data: { n: i } },
        { seq: 3, event: "end", data: null },
      ]);
    }
  } finally {
    await pool.end();
  }
});

test("a run's events continue after the ones already recorded for it (another carrier's)", async () => {
  const run = uuid();
  const first = new RunEventWriter(persistence.db.pool, run);
  first.append("values", { step: 1 });
  first.append("values", { step: 2 });
  await first.flush();
  // A new writer for the same run, as a worker that took the run over makes.
  const second = new RunEventWriter(persistence.db.pool, run);
  second.append("values", { step: 3 });
  await second.flush();
  second.append("end", null);
  await second.flush();
  expect((await readRunEvents(persistence.db.pool, run, 0)).map((e) => [e.seq, e.data])).toEqual([
    [1, { step: 1 }],
    [2, { step: 2 }],
    [3, { step: 3 }],
    [4, null],
  ]);
});

test("a run whose events Postgres refuses loses only its own batch; the others in its statement are committed", async () => {
  const runs = Array.from({ length: 10 }, () => uuid());
  const writers = runs.map((r) => new RunEventWriter(persistence.db.pool, r));
  // jsonb refuses \u0000: that run's batch fails, the statement is sent again per run.
  writers.forEach((w, i) => w.append("values", i === 4 ? { text: "nul \u0000 here" } : { n: i }));
  const settled = await Promise.allSettled(writers.map((w) => w.flush()));
  expect(settled.map((s) => s.status)).toEqual(runs.map((_, i) => (i === 4 ? "rejected" : "fulfilled")));
  for (const [i, r] of runs.entries()) {
    const events = await readRunEvents(persistence.db.pool, r, 0);
    expect(events).toEqual(i === 4 ? [] : [{ seq: 1, event: "values", data: { n: i } }]);
  }
  // The refused run goes on writing: its next batch starts at seq 1 (nothing of it was committed).
  writers[4]!.append("end", null);
  await writers[4]!.flush();
  expect(await readRunEvents(persistence.db.pool, runs[4]!, 0)).toEqual([{ seq: 1, event: "end", data: null }]);
});

test("every run in a group statement wakes its own followers (one NOTIFY per run, at commit)", async () => {
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  try {
    const heard: string[] = [];
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
    const runs = Array.from({ length: 20 }, () => uuid());
    const writers = runs.map((r) => new RunEventWriter(persistence.db.pool, r));
    writers.forEach((w) => {
      w.append("values", { a: 1 });
      w.append("values", { a: 2 });
    });
    await Promise.all(writers.map((w) => w.flush()));
    for (let i = 0; i < 100 && heard.length < runs.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect([...heard].sort()).toEqual([...runs].sort());
  } finally {
    await listener.end();
  }
});
