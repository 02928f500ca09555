// The demo world the built-in agents act on (src/world): the one a test or an embedding puts in the run
// context (`context.world`), else one over the database Waypoint runs the thread on, else one over the
// configured database (LangGraph Studio, `langgraph dev`).
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type pg from "pg";
import { openDatabase } from "../src/db/index.js";
import { currentScope } from "../src/scope/index.js";
import { createWorld, type World } from "../src/world/index.js";

const byPool = new WeakMap<pg.Pool, World>();
let standalone: Promise<World> | undefined;

export async function demoWorld(config?: LangGraphRunnableConfig): Promise<World> {
  const given = (config?.context as { world?: World } | undefined)?.world;
  if (given) return given;
  const pool = currentScope()?.pool;
  if (pool) {
    let world = byPool.get(pool);
    if (!world) byPool.set(pool, (world = createWorld(pool)));
    return world;
  }
  standalone ??= openDatabase({ poolMax: 4 }).then((db) => createWorld(db.pool));
  return standalone;
}
