// Which oversight policy a thread runs under: the agent's built-in policy, then WAYPOINT_POLICY_FILE,
// then the override of the run that last carried one, merged in that order. The result is stored per
// thread (waypoint.thread_policies) so a run resumed after a crash, or by another worker, uses the
// same policy. A bad policy is refused before anything runs.
import type pg from "pg";
import { AGENTS, type AgentDefinition } from "../../graphs/index.js";
import { loadPolicyFile, mergePolicies, parsePolicy, type Policy } from "../approvals/index.js";
import { config } from "../config.js";

/**
 * WAYPOINT_POLICY_FILE, validated against every agent's tools (it applies to all agents). Read at each
 * use (a new thread, or a run with an override), so an edited file applies to the next run.
 */
export function configuredPolicy(): Policy | undefined {
  const path = config().policyFile;
  if (!path) return undefined;
  return loadPolicyFile(path, Object.values(AGENTS).flatMap((a) => a.tools));
}

/** Check a per-run override against the agent's tools; throws `invalid_policy` naming the field. */
export function parseRunPolicy(def: AgentDefinition, raw: unknown, source = "run policy"): Policy {
  return parsePolicy(raw, source, def.tools);
}

/** The policy a new run of `def` gets with this override (validated; nothing is stored). */
export function effectivePolicy(def: AgentDefinition, override?: Policy): Policy {
  return mergePolicies(def.policy, configuredPolicy(), override);
}

/** Store the thread's policy (a new thread, or a run that carries an override). */
export async function saveThreadPolicy(pool: pg.Pool, threadId: string, policy: Policy, source: string): Promise<void> {
  await pool.query(
    `INSERT INTO waypoint.thread_policies (thread_id, policy, source) VALUES ($1, $2, $3)
     ON CONFLICT (thread_id) DO UPDATE SET policy = EXCLUDED.policy, source = EXCLUDED.source, updated_at = now()`,
    [threadId, JSON.stringify(policy), source],
  );
}

/**
 * What a run needs to start: the thread's policy (computed and stored when the thread has none yet)
 * and the super-step its last checkpoint is at (the guard counts steps from there). One query.
 */
export async function runStartFacts(pool: pg.Pool, threadId: string, def: AgentDefinition): Promise<{ policy: Policy; startStep: number }> {
  const { rows } = await pool.query<{ policy: Policy | null; step: number | null }>(
    `SELECT (SELECT policy FROM waypoint.thread_policies WHERE thread_id = $1) AS policy,
            (SELECT (metadata->>'step')::int FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1) AS step`,
    [threadId],
  );
  const row = rows[0];
  let policy = row?.policy ?? null;
  if (!policy) {
    policy = effectivePolicy(def);
    await saveThreadPolicy(pool, threadId, policy, "default");
  }
  return { policy, startStep: row?.step ?? -1 };
}
