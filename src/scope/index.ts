// The run scope: what Waypoint's pieces (the ledger, the review node, the audit log, artifacts) read
// while Waypoint executes a run, without the graph passing anything: Waypoint's database, the thread
// and run, the thread's oversight policy, the run's limits. Carried by AsyncLocalStorage around the
// graph's stream, so any node or tool of any graph sees it; outside a Waypoint run there is none.
// The storage lives on a global symbol, so a graph that loads another copy of this module shares it.
import { AsyncLocalStorage } from "node:async_hooks";
import type pg from "pg";

export interface RunScope {
  /** Waypoint's own database: the ledger, the audit log, artifacts, policies. */
  pool: pg.Pool;
  threadId: string;
  /** Absent when a CLI command runs a graph outside a queued run (never, today). */
  runId?: string | undefined;
  /** The graph id (langgraph.json) the thread runs. */
  graphId: string;
  /**
   * The thread's oversight policy as stored for it (WAYPOINT_POLICY_FILE and run overrides; a review node
   * merges its own built-in policy under it). Typed by src/approvals.
   */
  policy?: unknown;
  /** When the run started, the super-step it started from, and its recursion limit. */
  run: { startedAt: number; startStep: number; recursionLimit: number };
  /** Milliseconds Waypoint's agent nodes wait per step, and durable() tools in each crash window of a call (demos and crash tests); 0 normally. */
  paceMs: number;
  /** Tool backoff scaling (tests and chaos runs use short delays); see src/tools/policy.ts. */
  toolRetry?: Record<string, number> | undefined;
  /**
   * Ends the run now, in an error state with `error`'s message, resumable: what a tool wrapped by
   * durable() does when its system kept failing (an agent's tool node would otherwise hand the error
   * to the model as a result). Set by Waypoint's executor.
   */
  stop?: ((error: Error) => void) | undefined;
  /** Tool outputs above this many bytes become artifacts (default: config). */
  artifactBytes?: number | undefined;
}

const KEY = Symbol.for("waypoint.run.scope");
const holder = globalThis as { [KEY]?: AsyncLocalStorage<RunScope> };
const storage: AsyncLocalStorage<RunScope> = (holder[KEY] ??= new AsyncLocalStorage<RunScope>());

/** Run `fn` (a graph's stream, to its end) inside a run scope. */
export function withRunScope<T>(scope: RunScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope of the run executing now, if Waypoint is executing one. */
export function currentScope(): RunScope | undefined {
  return storage.getStore();
}
