// Submitting work: validate it, record it, queue a run, return at once. Bad input changes nothing;
// an idempotency key returns the run it created the first time.
import { WaypointError } from "../errors.js";
import { DeadlinePolicySchema, type DeadlinePolicy } from "./deadlines.js";
import { activeRuns, enqueueRun, runByIdempotencyKey, MULTITASK_STRATEGIES, type MultitaskStrategy, type RunCommand, type RunKind, type RunRow } from "./queue.js";
import type { Waypoint } from "./runner.js";
import { saveThreadPolicy } from "./policies.js";
import { getThreadRow } from "./threads.js";

export interface Submission {
  /** Start a new thread of this agent with `input`. */
  agent?: string;
  input?: unknown;
  /** The thread to act on (a new one's id, for a start). */
  threadId?: string;
  /** Answer the thread's pending review with this response ({ decisions: [...] }). */
  decision?: unknown;
  interruptId?: string;
  /** Same key, same run: a retried submission does not start a second one. */
  idempotencyKey?: string;
  /** What to do when the thread already has an active run (default reject). */
  strategy?: MultitaskStrategy;
  /** Deadline for reviews this run stops at. */
  reviewDeadline?: DeadlinePolicy;
  /** A state update and/or the node(s) to go to, applied when the run starts (an existing thread). */
  command?: RunCommand;
  /** Continue from this earlier checkpoint of the thread (a branch), not the latest. */
  fromCheckpoint?: string;
  /** Oversight policy for this run and the thread's later runs (merged over the agent's and the configured one). */
  policy?: unknown;
}

function invalid(message: string): WaypointError {
  return new WaypointError("invalid_submission", message);
}

/** Queue a run: start a thread, answer its review, or resume it. Returns the run (and whether it is new). */
export async function submit(wp: Waypoint, s: Submission): Promise<{ run: RunRow; created: boolean }> {
  if (s.idempotencyKey !== undefined) {
    if (s.idempotencyKey.length === 0 || s.idempotencyKey.length > 200) throw invalid("The idempotency key must be 1-200 characters.");
    const existing = await runByIdempotencyKey(wp.pool, s.idempotencyKey);
    if (existing) return { run: existing, created: false };
  }
  const strategy = s.strategy ?? "reject";
  if (!MULTITASK_STRATEGIES.includes(strategy)) throw invalid(`Unknown multitask strategy "${String(strategy)}"; use one of ${MULTITASK_STRATEGIES.join(", ")}.`);
  if (s.reviewDeadline !== undefined && !DeadlinePolicySchema.safeParse(s.reviewDeadline).success) {
    throw invalid(`Invalid review deadline: expected { afterMs, action: "remind" | "escalate" | "reject", escalateTo?, message? }.`);
  }

  let kind: RunKind;
  let threadId: string;
  if (s.input !== undefined || s.agent !== undefined) {
    if (s.decision !== undefined) throw invalid("A submission either starts a thread (agent + input) or answers a review (decision), not both.");
    if (s.agent === undefined) throw invalid("Starting a thread needs the agent's name.");
    if (s.command !== undefined || s.fromCheckpoint !== undefined) throw invalid("A new thread starts from its input; command and checkpoint_id apply to a thread that has run.");
    if (s.threadId !== undefined && (await wp.pool.query("SELECT 1 FROM waypoint.threads WHERE thread_id = $1", [s.threadId])).rowCount) {
      throw invalid(`Thread ${s.threadId} exists already; submit a decision or a resume for it instead of a new input.`);
    }
    threadId = (await wp.createThread(s.agent, s.input, { ...(s.threadId ? { threadId: s.threadId } : {}), ...(s.policy !== undefined ? { policy: s.policy } : {}) })).threadId;
    kind = "start";
  } else {
    if (s.threadId === undefined) throw invalid("Say which thread: a decision or a resume needs a thread id.");
    const existing = await getThreadRow(wp.pool, s.threadId);
    threadId = existing.thread_id;
    if (strategy === "reject" && (await activeRuns(wp.pool, threadId)).length > 0) {
      throw new WaypointError("thread_busy", `Thread ${threadId} already has an active run; submit with multitask strategy enqueue, interrupt or rollback, or wait.`);
    }
    if (s.command?.goto !== undefined) {
      const nodes = wp.nodeNames(existing.agent);
      const wanted = Array.isArray(s.command.goto) ? s.command.goto : [s.command.goto];
      const unknown = wanted.filter((n) => !nodes.includes(n));
      if (unknown.length) throw invalid(`command.goto names no node of this agent: ${unknown.join(", ")}; nodes: ${nodes.join(", ")}.`);
    }
    if (s.fromCheckpoint !== undefined && !(await wp.pool.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, s.fromCheckpoint])).rowCount) {
      throw new WaypointError("unknown_checkpoint", `Thread ${threadId} has no checkpoint "${s.fromCheckpoint}".`);
    }
    // Checked here, stored just before the run is queued: a bad policy changes nothing.
    const policy = s.policy === undefined ? undefined : wp.checkPolicy(existing.agent, s.policy);
    if (s.decision !== undefined) {
      if (s.fromCheckpoint !== undefined) throw invalid("Answer a review on the thread's latest checkpoint, not with checkpoint_id.");
      await wp.recordDecision(threadId, s.decision, s.interruptId ? { interruptId: s.interruptId } : {});
      kind = "decide";
    } else kind = "resume";
    if (policy) await saveThreadPolicy(wp.pool, threadId, policy, "run");
  }
  const row = await getThreadRow(wp.pool, threadId);
  try {
    const run = await enqueueRun(wp.pool, {
      threadId,
      agent: row.agent,
      version: row.graph_version,
      kind,
      strategy,
      idempotencyKey: s.idempotencyKey,
      reviewDeadline: s.reviewDeadline,
      command: s.command,
      fromCheckpoint: s.fromCheckpoint,
    });
    return { run, created: true };
  } catch (e) {
    // Two submissions with one key at the same moment: the second returns the first's run.
    const existing = (e as { code?: string }).code === "23505" && s.idempotencyKey ? await runByIdempotencyKey(wp.pool, s.idempotencyKey) : undefined;
    if (existing) return { run: existing, created: false };
    throw e;
  }
}
