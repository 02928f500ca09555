// LangGraph's checkpointer conformance suite (@langchain/langgraph-checkpoint-validation 1.1.1) run
// under Jest against WaypointSaver, and the same suite against a stock PostgresSaver as the reference:
// a test that fails on both is stock behaviour, one that fails only on WaypointSaver is ours.
//
// The package's CLI is broken in 1.1.1, so its `validate()` (the default spec: put, putWrites,
// getTuple, list, deleteThread) and the opt-in `deltaChannelHistoryTests` (WaypointSaver overrides
// getDeltaChannelHistory, so it matters here) are called directly: they register describe/it blocks
// through the test framework's globals, written for vitest.
//
// Several specs assume an empty saver (list with no thread_id returns every stored checkpoint; the
// "pending sends" tests reuse thread "thread-1"; deleteThread uses threads "1" and "2"), so each saver
// has its own database and destroyCheckpointer empties the checkpoint tables (and the transcript).
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { deltaChannelHistoryTests, validate, type CheckpointSaverTestInitializer } from "@langchain/langgraph-checkpoint-validation";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { openPersistence, WaypointSaver, type Persistence } from "../src/persistence/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

// Jest lacks vitest's `expect.soft` (an assertion that records a failure and lets the test go on);
// the list spec's "should migrate pending sends" uses it. A plain (hard) expect is stricter, which is
// fine for a conformance check.
const softless = expect as unknown as { soft?: typeof expect };
softless.soft ??= expect;

const CHECKPOINT_TABLES = "checkpoint_writes, checkpoint_blobs, checkpoints";

/** An initializer over one database: a new saver per spec, the tables emptied after each. */
function initializer<T extends BaseCheckpointSaver>(opts: {
  name: string;
  open(): Promise<{ pool: pg.Pool; close(): Promise<void> }>;
  saver(pool: pg.Pool): T;
  truncate: string;
}): CheckpointSaverTestInitializer<T> {
  let opened: { pool: pg.Pool; close(): Promise<void> } | undefined;
  return {
    checkpointerName: opts.name,
    beforeAllTimeout: 60_000,
    async beforeAll() {
      opened = await opts.open();
    },
    async afterAll() {
      await opened?.close();
    },
    createCheckpointer() {
      if (!opened) throw new Error("conformance: beforeAll did not open the database");
      return opts.saver(opened.pool);
    },
    async destroyCheckpointer() {
      await opened?.pool.query(`TRUNCATE ${opts.truncate}`);
    },
  };
}

describe("WaypointSaver", () => {
  let db: TestDatabase;
  let persistence: Persistence;
  const init = initializer({
    name: "WaypointSaver",
    async open() {
      db = await freshDatabase("conformance_waypoint");
      // The real wiring: saver.setup() (task_path column) and the app migrations (waypoint.transcript).
      persistence = await openPersistence({ url: db.url, poolMax: 4 });
      return {
        pool: persistence.db.pool,
        async close() {
          await persistence.close();
          await db.drop();
        },
      };
    },
    saver: (pool) => new WaypointSaver(pool),
    truncate: `${CHECKPOINT_TABLES}, waypoint.transcript`,
  });
  validate(init);
  deltaChannelHistoryTests(init);
});

describe("stock PostgresSaver (reference)", () => {
  let db: TestDatabase;
  const init = initializer({
    name: "PostgresSaver",
    async open() {
      db = await freshDatabase("conformance_stock");
      const pool = new pg.Pool({ connectionString: db.url, max: 4 });
      await new PostgresSaver(pool).setup();
      return {
        pool,
        async close() {
          await pool.end();
          await db.drop();
        },
      };
    },
    saver: (pool) => new PostgresSaver(pool),
    truncate: CHECKPOINT_TABLES,
  });
  validate(init);
  deltaChannelHistoryTests(init);
});
