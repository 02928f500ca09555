// Which oversight policy a thread runs under. The graph's review node brings its built-in policy; over
// it go WAYPOINT_POLICY_FILE and the override of the run that last carried one, merged in that order and
// stored per thread (waypoint.thread_policies) so a run resumed after a crash, or by another worker,
// uses the same policy. A bad policy is refused before anything is written.
import type pg from "pg";
import { loadPolicyFile, mergePolicies, parsePolicy, type Policy } from "../approvals/index.js";
import { config } from "../config.js";
import type { LoadedGraph, Registry } from "../registry/index.js";

/** Every tool any loaded graph declares (a policy file applies to all graphs). */
function allTools(registry: Registry): Array<{ name: string }> | undefined {
  const graphs = [...registry.graphs.values()];
  if (graphs.some((g) => !g.info.tools)) return undefined;
  return graphs.flatMap((g) => [...(g.info.tools ?? [])]);
}

/**
 * WAYPOINT_POLICY_FILE, validated (its tool names against every loaded graph's tools when they all
 * declare theirs). Read at each use (a new thread, or a run with an override), so an edited file applies
 * to the next run.
 */
export function configuredPolicy(registry: Registry): Policy | undefined {
  const path = config().policyFile;
  if (!path) return undefined;
  return loadPolicyFile(path, allTools(registry));
}

/** Check a per-run override against the graph's tools; throws `invalid_policy` naming the field. */
export function parseRunPolicy(graph: LoadedGraph, raw: unknown, source = "run policy"): Policy {
  return parsePolicy(raw, source, graph.info.tools);
}

/** What a thread stores: the configured policy with this run's override over it. */
export function threadPolicy(registry: Registry, override?: Policy): Policy | undefined {
  const file = configuredPolicy(registry);
  if (!file && !override) return undefined;
  return mergePolicies(file, override);
}

/**
 * What a run needs to start, in one statement: the thread's stored policy (or the configured one, when
 * the thread stores none), the super-step its last checkpoint is at (the guard counts steps from there)
 * and that checkpoint (the head); and the checkpoint the run started from, marked once on its first
 * attempt (what a rollback goes back to, and how a later attempt knows whether its input was taken; ''
 * stands for "the thread had none").
 */
export async function runStartFacts(
  pool: pg.Pool,
  registry: Registry,
  run: { run_id: string; thread_id: string },
): Promise<{ policy: Policy | undefined; startStep: number; head: string | null; startCheckpoint: string }> {
  const { rows } = await pool.query<{ policy: Policy | null; step: number | null; head: string | null; start_checkpoint: string | null }>({
    name: "waypoint_run_start_facts",
    text: `WITH h AS (SELECT (metadata->>'step')::int AS step, checkpoint_id AS head FROM checkpoints
                       WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1),
                mark AS (UPDATE waypoint.runs SET start_checkpoint = COALESCE(start_checkpoint, (SELECT head FROM h), '')
                          WHERE run_id = $2 RETURNING start_checkpoint)
           SELECT (SELECT policy FROM waypoint.thread_policies WHERE thread_id = $1) AS policy, h.step, h.head,
                  (SELECT start_checkpoint FROM mark) AS start_checkpoint
             FROM (SELECT 1) one LEFT JOIN h ON true`,
    values: [run.thread_id, run.run_id],
  });
  const row = rows[0];
  return { policy: row?.policy ?? configuredPolicy(registry), startStep: row?.step ?? -1, head: row?.head ?? null, startCheckpoint: row?.start_checkpoint ?? "" };
}
