// Submission atomicity by fault injection (issue 12, item 5): a real `waypoint submit` / `enqueue` child
// is stopped at every boundary of its submission (the halt points around its transaction, and inside
// waypoint.submit_run by a table lock the test holds, so the function waits between two of its writes),
// then SIGKILLed or its Postgres connection terminated. (The halt points are the explicit transaction a
// submission runs in when one is armed; unarmed, a submission is the one statement the locks stop.) Afterwards the submission is wholly there or
// wholly absent (thread, run, policy and decision rows), and the doctor adds nothing.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { offlinePlannerModel } from "../src/models/index.js";
import { diagnose } from "../src/runs/doctor.js";
import { Waypoint } from "../src/runs/runner.js";
import { HIRE } from "./support/agents.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;
let observer: pg.Client;

beforeAll(async () => {
  db = await freshDatabase("atomicity");
  expect((await runCli(["threads"], childEnv({ DATABASE_URL: db.url }))).code).toBe(0);
  wp = await Waypoint.open({ url: db.url, poolMax: 3, model: offlinePlannerModel() });
  observer = new pg.Client({ connectionString: db.url });
  await observer.connect();
});
afterAll(async () => {
  await observer.end();
  await wp.close();
  await db.drop();
});

const POLICY = { guards: { maxStepsWithoutProgress: 50, maxRepeats: 50 } };

async function until<T>(what: string, probe: () => Promise<T | undefined | false | null>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const n = async (sql: string, params: unknown[]) => Number((await observer.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]?.n);

/** What a submission on `threadId` may have left. */
async function rows(threadId: string) {
  const t = await observer.query<{ status: string }>("SELECT status FROM waypoint.threads WHERE thread_id = $1", [threadId]);
  return {
    thread: t.rows[0]?.status ?? null,
    runs: await n("waypoint.runs WHERE thread_id = $1", [threadId]),
    decisions: await n("waypoint.runs WHERE thread_id = $1 AND kind = 'decide'", [threadId]),
    policies: await n("waypoint.thread_policies WHERE thread_id = $1", [threadId]),
  };
}

/** Backends of this database (the observer's aside) started since `since`, with their state. */
async function backendsSince(since: Date): Promise<Array<{ pid: number; state: string }>> {
  const { rows: r } = await observer.query<{ pid: number; state: string }>(
    "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_start >= $1",
    [since],
  );
  return r;
}

/** Backends of this database (the observer's aside) inside a transaction: an unfinished submission. */
async function openTransactions(): Promise<number> {
  return n("pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL", []);
}

type Stop =
  | { halt: "submit.begun" | "submit.written" | "submit.committed" }
  /** Hold this table in SHARE mode: submit_run waits at its first write to it, with its earlier writes done. */
  | { lock: "waypoint.threads" | "waypoint.runs" | "waypoint.thread_policies"; wrote: string[] };
type Fault = "sigkill" | "terminate";

interface Submission {
  threadId: string;
  args: string[];
  kind: "start" | "decide";
  /** Rows when the submission is absent, and when it is whole. */
  absent: Awaited<ReturnType<typeof rows>>;
  present: Awaited<ReturnType<typeof rows>>;
}

async function newThread(): Promise<Submission> {
  const threadId = randomUUID();
  return {
    threadId,
    kind: "start",
    args: ["submit", "onboarding", "--thread", threadId, "--policy", JSON.stringify(POLICY), "--input", JSON.stringify({ hire: { ...HIRE, email: `${threadId}@acme.test` } })],
    absent: { thread: null, runs: 0, decisions: 0, policies: 0 },
    present: { thread: "busy", runs: 1, decisions: 0, policies: 1 },
  };
}

/** A thread waiting at its review; the submission answers it. */
async function decision(): Promise<Submission> {
  const view = await wp.start("onboarding", { hire: { ...HIRE, email: `${randomUUID()}@acme.test` } });
  expect(view.status).toBe("interrupted");
  const absent = await rows(view.threadId);
  expect(absent).toMatchObject({ thread: "interrupted", decisions: 0 });
  return {
    threadId: view.threadId,
    kind: "decide",
    args: ["enqueue", view.threadId, "--decisions", JSON.stringify([{ type: "approve" }])],
    absent,
    present: { ...absent, thread: "busy", runs: absent.runs + 1, decisions: 1 },
  };
}

/** Run the submission, stop it at `stop`, apply `fault`; returns what it left and whether the child reported success. */
async function inject(s: Submission, stop: Stop, fault: Fault): Promise<{ left: Awaited<ReturnType<typeof rows>>; reported: "ok" | "failed" | "killed" }> {
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  let child: CliChild | undefined;
  try {
    if ("lock" in stop) {
      await locker.query("BEGIN");
      await locker.query(`LOCK TABLE ${stop.lock} IN SHARE MODE`);
    }
    const since = (await observer.query<{ now: Date }>("SELECT now()")).rows[0]?.now as Date;
    child = startCli(["--json", ...s.args], childEnv({ DATABASE_URL: db.url, ...("halt" in stop ? { WAYPOINT_HALT_AT: `${stop.halt}:${s.kind}` } : {}) }));
    let target: number[];
    if ("halt" in stop) {
      await child.waitForHalt(stop.halt);
      if (stop.halt === "submit.written") {
        // The doctor, run while the submission is in flight, sees nothing of it and touches nothing.
        const found = await diagnose(wp, { repair: true });
        expect(found.filter((f) => f.threadId === s.threadId)).toEqual([]);
      }
      // The child's connections are the ones opened since it started (the doctor above may open the test's own: they are not in a transaction).
      const mine = await backendsSince(since);
      const inTx = mine.filter((x) => x.state === "idle in transaction").map((x) => x.pid);
      target = stop.halt === "submit.committed" ? mine.map((x) => x.pid) : inTx;
      expect(inTx.length).toBe(stop.halt === "submit.committed" ? 0 : 1);
    } else {
      const lock = stop.lock;
      const pid = await until(`submit_run to wait on ${lock}`, async () => {
        const { rows: r } = await observer.query<{ pid: number }>(
          `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE NOT l.granted AND l.relation = $1::regclass AND a.query LIKE '%waypoint.submit_run%'`,
          [lock],
        );
        return r[0]?.pid;
      });
      // It waits inside submit_run, with its earlier writes made (uncommitted): it holds their tables' write locks.
      const { rows: held } = await observer.query<{ rel: string }>(
        "SELECT relation::regclass::text AS rel FROM pg_locks WHERE pid = $1 AND granted AND mode = 'RowExclusiveLock' AND relation = ANY($2::regclass[])",
        [pid, ["waypoint.threads", "waypoint.runs", "waypoint.thread_policies"]],
      );
      expect(held.map((h) => h.rel.replace(/^(waypoint\.)?/, "waypoint.")).sort()).toEqual([...stop.wrote].sort());
      target = [pid];
    }
    if (fault === "sigkill") {
      child.child.kill("SIGKILL");
      await child.done;
    } else {
      await observer.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [target]);
    }
    if ("lock" in stop) await locker.query("ROLLBACK");
    // A child waiting on Postgres hears of the fault and reports; one halted in JS never does.
    let reported: "ok" | "failed" | "killed" = "killed";
    if (fault === "terminate" && "lock" in stop) {
      const exit = await child.done;
      reported = exit.code === 0 ? "ok" : "failed";
    } else if (child.child.exitCode === null && child.child.signalCode === null) {
      child.child.kill("SIGKILL");
      await child.done;
    }
    // Its backends are gone (a killed client's open transaction is rolled back when Postgres sees it go).
    await until("the child's transaction to end", async () => (await openTransactions()) === 0);
    return { left: await rows(s.threadId), reported };
  } finally {
    if (child && child.child.exitCode === null && child.child.signalCode === null) child.child.kill("SIGKILL");
    await child?.done;
    await locker.end();
  }
}

const BOUNDARIES: Record<"start" | "decide", Array<{ stop: Stop; whole: boolean }>> = {
  start: [
    { stop: { halt: "submit.begun" }, whole: false },
    { stop: { lock: "waypoint.threads", wrote: [] }, whole: false }, // at the thread's INSERT
    { stop: { lock: "waypoint.runs", wrote: ["waypoint.threads"] }, whole: false }, // thread written, at the run's INSERT
    { stop: { lock: "waypoint.thread_policies", wrote: ["waypoint.threads", "waypoint.runs"] }, whole: false }, // thread and run written, at the policy's INSERT
    { stop: { halt: "submit.written" }, whole: false },
    { stop: { halt: "submit.committed" }, whole: true },
  ],
  decide: [
    { stop: { halt: "submit.begun" }, whole: false },
    { stop: { lock: "waypoint.runs", wrote: [] }, whole: false }, // thread locked, at the decision run's INSERT
    { stop: { lock: "waypoint.threads", wrote: ["waypoint.runs"] }, whole: false }, // decision run written, at the thread's UPDATE
    { stop: { halt: "submit.written" }, whole: false },
    { stop: { halt: "submit.committed" }, whole: true },
  ],
};

const label = (stop: Stop) => ("halt" in stop ? stop.halt : `waiting on ${stop.lock}`);

describe.each(["start", "decide"] as const)("a %s submission", (kind) => {
  test.each(BOUNDARIES[kind].flatMap((b) => (["sigkill", "terminate"] as const).map((fault) => [label(b.stop), fault, b] as const)))(
    "stopped at %s, then %s: whole or absent, and the doctor adds nothing",
    async (_label, fault, b) => {
      const s = kind === "start" ? await newThread() : await decision();
      const { left, reported } = await inject(s, b.stop, fault);
      // Inside waypoint.submit_run (a table lock holds it between two writes) the submission is one
      // statement, its own transaction: killing the client does not stop it (Postgres notices a dead client
      // only when it sends the result), so it completes, whole, once the lock is let go; a terminated
      // connection rolls it back. Either way nothing is half there.
      const whole = "lock" in b.stop ? fault === "sigkill" : b.whole;
      expect(left).toEqual(whole ? s.present : s.absent);
      // A submission that reported failure left nothing.
      if (reported === "failed") expect(left).toEqual(s.absent);
      if (reported === "ok") expect(left).toEqual(s.present);
      await diagnose(wp, { repair: true });
      expect(await rows(s.threadId)).toEqual(left);
    },
  );
});

test("control: an undisturbed submission is whole (so the counts above can tell whole from absent)", async () => {
  for (const s of [await newThread(), await decision()]) {
    const r = await runCli(s.args, childEnv({ DATABASE_URL: db.url }));
    expect(r.code).toBe(0);
    expect(await rows(s.threadId)).toEqual(s.present);
  }
});
