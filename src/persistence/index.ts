// Thread state (WaypointSaver, a PostgresSaver, on the shared pool) and long-term memory (WaypointStore over PostgresStore), set up once
// per database under an advisory lock together with the app migrations.
import { createWaypointStore, type WaypointStore } from "../memory/index.js";
import { applyMigrations, createPool, openDatabase, pinSearchPath, transactionPooled, withAdvisoryLock, type Database, type OpenDatabaseOptions } from "../db/index.js";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { config } from "../config.js";
import { log } from "../log.js";
import { WaypointSaver } from "./saver.js";

export { copyThread } from "./threads.js";
export { Grouper, type GroupCommitOptions, type NamedQuery } from "./group.js";
export { WaypointSaver, type WaypointSaverOptions } from "./saver.js";
export { pruneAll, pruneThread, type PruneOptions, type PruneResult, type ThreadPruneResult } from "./retention.js";
export { appendTranscript, readTranscript, transcriptMessages, type TranscriptEntry, type TranscriptRow } from "./transcript.js";

export interface Persistence {
  db: Database;
  /**
   * Checkpointer for every graph: one checkpoint per super-step (PostgresSaver tables). WaypointSaver by
   * default (batched writes, one-query delta history, transcript); a stock PostgresSaver with
   * WAYPOINT_SAVER=stock.
   */
  saver: PostgresSaver;
  /** Cross-thread memory: PostgresStore behind exact namespaces and safe labels (see memory/store.ts). */
  store: WaypointStore;
  close(): Promise<void>;
}

const SETUP_LOCK = "waypoint:setup";

/** Build saver and store on an open database and make sure every table exists. */
export async function createPersistence(db: Database, opts: { saver?: "waypoint" | "stock" } = {}): Promise<Persistence> {
  const waypointSaver = new WaypointSaver(db.pool);
  // Stock: LangGraph's own saver on the same tables (a fallback; no transcript, and one super-step's
  // parallel message writes may come back in task-id order). Its tables are set up the same way.
  const saver = (opts.saver ?? config().saver) === "stock" ? new PostgresSaver(db.pool) : waypointSaver;
  const store = await createWaypointStore({ pool: db.pool, url: db.url });
  // Concurrent setup() of saver and store fails on duplicate keys: one process at a time. The lock is a
  // session lock, so behind a transaction-mode pooler it (and the migrations) go over the direct URL.
  const pooled = transactionPooled();
  const lockPool = pooled ? createPool({ url: db.directUrl, max: 1, transactionPooler: false, applicationName: "waypoint-setup" }) : db.pool;
  try {
    await withAdvisoryLock(lockPool, SETUP_LOCK, async (client) => {
      await waypointSaver.setup();
      await store.setup();
      await applyMigrations(client);
      if (pooled) await pinSearchPath(client);
    });
  } finally {
    if (lockPool !== db.pool) await lockPool.end();
  }
  let closed = false;
  return {
    db,
    saver,
    store,
    async close() {
      if (closed) return;
      closed = true;
      // Writes still grouped in memory (a step that never reached its checkpoint) go out before the pool closes.
      await waypointSaver.flushPending().catch((e: unknown) => log.warn({ error: (e as Error).message }, "could not write buffered checkpoint writes before closing"));
      await store.stop();
      await db.close();
    },
  };
}

/** Open the configured database (or `opts.url`) and its persistence in one call. */
export async function openPersistence(opts: OpenDatabaseOptions = {}): Promise<Persistence> {
  const db = await openDatabase(opts);
  try {
    return await createPersistence(db);
  } catch (e) {
    await db.close();
    throw e;
  }
}
