// Thread state (PostgresSaver on the shared pool) and long-term memory (PostgresStore), set up once
// per database under an advisory lock together with the app migrations.
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import type pg from "pg";
import { log } from "../log.js";
import { applyMigrations, openDatabase, withAdvisoryLock, type Database, type OpenDatabaseOptions } from "../db/index.js";

export { copyThread } from "./threads.js";

export interface Persistence {
  db: Database;
  /** Checkpointer for every graph: one checkpoint per super-step. */
  saver: PostgresSaver;
  /** Cross-thread memory. Opens its own small pool (PostgresStore cannot take ours). */
  store: PostgresStore;
  close(): Promise<void>;
}

const SETUP_LOCK = "waypoint:setup";

/** Build saver and store on an open database and make sure every table exists. */
export async function createPersistence(db: Database): Promise<Persistence> {
  const saver = new PostgresSaver(db.pool);
  const store = new PostgresStore({ connectionOptions: { connectionString: db.url, max: 2 }, ensureTables: false });
  // The store's own pool has no 'error' listener: an idle connection the server drops (a restart, an
  // idle reaper) would crash the process. Its pool is not public; listen on it when it is there.
  const storePool = (store as unknown as { core?: { pool?: pg.Pool } }).core?.pool;
  storePool?.on("error", (err: Error) => log.warn({ error: err.message }, "idle memory-store connection failed; it will be replaced"));
  // Concurrent setup() of saver and store fails on duplicate keys: one process at a time.
  await withAdvisoryLock(db.pool, SETUP_LOCK, async (client) => {
    await saver.setup();
    await store.setup();
    await applyMigrations(client);
  });
  let closed = false;
  return {
    db,
    saver,
    store,
    async close() {
      if (closed) return;
      closed = true;
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
