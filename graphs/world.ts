// The demo world the built-in agents act on (src/world): the one a test or an embedding puts in the run
// context (`context.world`), else one over the database Waypoint runs the thread on (with the fault plan
// in `context.faults`, or WAYPOINT_FAULTS), else one over the configured database (LangGraph Studio,
// `langgraph dev`).
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type pg from "pg";
import { openDatabase } from "../src/db/index.js";
import { currentScope } from "../src/scope/index.js";
import { createWorld, type FaultPlan, type World } from "../src/world/index.js";

interface DemoContext {
  world?: World;
  /** A fault plan for the world this process builds (null: none, even if WAYPOINT_FAULTS is set). */
  faults?: FaultPlan | null;
}

const DEFAULT = Symbol("configured faults");
const byPool = new WeakMap<pg.Pool, Map<FaultPlan | null | typeof DEFAULT, World>>();
let standalone: Promise<World> | undefined;

export async function demoWorld(config?: LangGraphRunnableConfig): Promise<World> {
  const ctx = (config?.context ?? {}) as DemoContext;
  if (ctx.world) return ctx.world;
  const pool = currentScope()?.pool;
  if (pool) {
    let worlds = byPool.get(pool);
    if (!worlds) byPool.set(pool, (worlds = new Map()));
    // One world per fault plan and pool, so a plan's `times` count across the runs of a process.
    const key = ctx.faults === undefined ? DEFAULT : ctx.faults;
    let world = worlds.get(key);
    if (!world) worlds.set(key, (world = createWorld(pool, ctx.faults === undefined ? {} : { faults: ctx.faults })));
    return world;
  }
  standalone ??= openDatabase({ poolMax: 4 }).then((db) => createWorld(db.pool));
  return standalone;
}
