// The thread registry (waypoint.threads) and the readable view of a thread: status, pending reviews,
// state, history. Status comes from the checkpoint (what LangGraph will do next) plus the registry
// (who is running it), so a thread whose process died is reported as such, not as "running".
import os from "node:os";
import type { StateSnapshot } from "@langchain/langgraph";
import type pg from "pg";
import { isHITLRequest, type HITLRequest } from "../approvals/index.js";
import { WaypointError } from "../errors.js";
import type { LedgerRow } from "../tools/index.js";

export type ThreadStatus = "running" | "interrupted" | "done" | "error";

export interface PendingReview {
  /** Interrupt id: decisions resume exactly this interrupt. */
  interruptId: string;
  /** Where it was raised: "" for the agent itself, e.g. "provisioning" for a sub-agent. */
  namespace: string;
  /** Node that raised it. */
  node: string;
  request: HITLRequest;
}

export interface OpenCall {
  tool: string;
  toolCallId: string;
  /** Sub-agent path ("" for the agent itself). */
  namespace: string;
  args: Record<string, unknown>;
  status: LedgerRow["status"];
  attempts: number;
  startedAt: Date;
  /** What is known and what happens next, in words. */
  explanation: string;
}

/** Describe an unsettled ledger row for a person: what happened and what resuming does. */
export function describeOpenCall(row: LedgerRow, threadRunning: boolean): OpenCall {
  const repeatable = row.risk !== "mutate" || row.dedupes;
  let explanation: string;
  if (row.status === "in_doubt") explanation = `in doubt: ${row.doubt ?? "outcome unknown"}; its system cannot dedupe, so a human must say whether it happened`;
  else if (row.status === "rerun") explanation = "a reviewer said it did not happen; it runs once more when the thread continues";
  else if (row.status === "started" && threadRunning) explanation = `running (attempt ${row.attempts})`;
  else if (row.status === "started") {
    explanation = repeatable
      ? `in doubt: the process stopped during attempt ${row.attempts}; resuming runs it again with the same idempotency key, which its system dedupes, so it cannot happen twice`
      : `in doubt: the process stopped during attempt ${row.attempts} and its system cannot dedupe; resuming asks a human whether it happened`;
  } else {
    explanation = `failed after ${row.attempts} attempt${row.attempts === 1 ? "" : "s"}: ${row.error ?? "unknown error"}; ${
      repeatable || row.doubt === null ? "resuming tries it again" : "resuming asks a human whether it happened"
    }`;
  }
  return { tool: row.tool, toolCallId: row.tool_call_id, namespace: row.checkpoint_ns, args: row.args, status: row.status, attempts: row.attempts, startedAt: row.started_at, explanation };
}

export interface ThreadRow {
  thread_id: string;
  agent: string;
  graph_version: string;
  status: ThreadStatus;
  status_detail: string | null;
  runner_pid: number | null;
  runner_host: string | null;
  input: unknown;
  forked_from: { threadId: string; checkpointId: string } | null;
  created_at: Date;
  updated_at: Date;
}

export interface ThreadView {
  threadId: string;
  agent: string;
  graphVersion: string;
  status: ThreadStatus;
  /** Why it is in that status, in words (error message, who runs it, what it waits for). */
  detail: string | null;
  /** Nodes that run next when the thread continues. */
  next: string[];
  /** Latest checkpoint id of the thread. */
  checkpointId: string | undefined;
  /** Current state values. */
  values: Record<string, unknown>;
  pending: PendingReview[];
  /** Tool calls without a settled outcome (killed mid-call, failed, in doubt), and what a resume does with each. */
  openCalls: OpenCall[];
  createdAt: Date;
  updatedAt: Date;
  forkedFrom: ThreadRow["forked_from"];
}

export function runnerAlive(row: Pick<ThreadRow, "runner_pid" | "runner_host">): boolean {
  if (row.runner_pid === null) return false;
  // Another machine's process cannot be probed from here; until runs have leases, trust the registry.
  if (row.runner_host !== os.hostname()) return true;
  try {
    process.kill(row.runner_pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function getThreadRow(pool: pg.Pool, threadId: string): Promise<ThreadRow> {
  const { rows } = await pool.query<ThreadRow>("SELECT * FROM waypoint.threads WHERE thread_id = $1", [threadId]);
  const row = rows[0];
  if (!row) throw new WaypointError("unknown_thread", `No thread with id "${threadId}". List threads with \`waypoint threads\`.`, { details: { threadId } });
  return row;
}

export async function listThreadRows(pool: pg.Pool, limit = 50): Promise<ThreadRow[]> {
  const { rows } = await pool.query<ThreadRow>("SELECT * FROM waypoint.threads ORDER BY created_at DESC LIMIT $1", [limit]);
  return rows;
}

export async function insertThreadRow(
  pool: pg.Pool,
  row: { threadId: string; agent: string; version: string; input: unknown; forkedFrom?: ThreadRow["forked_from"]; status?: ThreadStatus },
): Promise<void> {
  await pool.query(
    `INSERT INTO waypoint.threads (thread_id, agent, graph_version, status, input, forked_from) VALUES ($1, $2, $3, $4, $5, $6)`,
    [row.threadId, row.agent, row.version, row.status ?? "running", JSON.stringify(row.input ?? null), row.forkedFrom ? JSON.stringify(row.forkedFrom) : null],
  );
}

/**
 * Mark the thread as run by this process. Refuses (thread_busy) when another live process runs it.
 * The conditional UPDATE makes two processes racing for one thread end with one winner.
 */
export async function claimThread(pool: pg.Pool, row: ThreadRow): Promise<void> {
  if (row.status === "running" && runnerAlive(row) && row.runner_pid !== process.pid) {
    throw new WaypointError("thread_busy", `Thread ${row.thread_id} is being run by process ${row.runner_pid} on ${row.runner_host}; wait for it to stop.`, {
      details: { pid: row.runner_pid, host: row.runner_host },
    });
  }
  const { rowCount } = await pool.query(
    `UPDATE waypoint.threads SET status = 'running', status_detail = NULL, runner_pid = $2, runner_host = $3, updated_at = now()
      WHERE thread_id = $1 AND runner_pid IS NOT DISTINCT FROM $4`,
    [row.thread_id, process.pid, os.hostname(), row.runner_pid],
  );
  if (rowCount === 0) throw new WaypointError("thread_busy", `Thread ${row.thread_id} was claimed by another process just now; try again.`);
}

export async function releaseThread(pool: pg.Pool, threadId: string, status: ThreadStatus, detail: string | null): Promise<void> {
  await pool.query(
    `UPDATE waypoint.threads SET status = $2, status_detail = $3, runner_pid = NULL, runner_host = NULL, updated_at = now()
      WHERE thread_id = $1 AND runner_pid = $4`,
    [threadId, status, detail, process.pid],
  );
}

/** Decisions recorded for a thread's interrupts (interrupt id -> response), oldest first. */
export async function recordedDecisions(pool: pg.Pool, threadId: string): Promise<Map<string, unknown>> {
  const { rows } = await pool.query<{ interrupt_id: string; response: unknown }>(
    "SELECT interrupt_id, response FROM waypoint.decisions WHERE thread_id = $1 ORDER BY decided_at",
    [threadId],
  );
  return new Map(rows.map((r) => [r.interrupt_id, r.response]));
}

/**
 * Record a decision before it is applied, so that a process that dies right after accepting it does not
 * lose it: `resume` applies it. A later decision on the same interrupt replaces an unapplied one.
 */
export async function recordDecision(pool: pg.Pool, threadId: string, interruptId: string, response: unknown): Promise<void> {
  await pool.query(
    `INSERT INTO waypoint.decisions (thread_id, interrupt_id, response) VALUES ($1, $2, $3)
     ON CONFLICT (thread_id, interrupt_id) DO UPDATE SET response = EXCLUDED.response, decided_at = now()`,
    [threadId, interruptId, JSON.stringify(response)],
  );
}

/**
 * Interrupts waiting for a decision, found in the thread's tasks (sub-agent interrupts included).
 * An interrupt in `decided` already has a decision recorded (the process died before acting on it), so
 * it is not pending any more: resuming the thread applies the recorded decision.
 */
export function pendingReviews(snapshot: StateSnapshot, decided: ReadonlySet<string> = new Set()): PendingReview[] {
  const out: PendingReview[] = [];
  const seen = new Set<string>();
  const visit = (snap: StateSnapshot, ns: string) => {
    for (const task of snap.tasks) {
      for (const intr of task.interrupts) {
        const id = intr.id ?? "";
        if (seen.has(id) || decided.has(id) || !isHITLRequest(intr.value)) continue;
        seen.add(id);
        const child = task.state && "tasks" in task.state ? (task.state as StateSnapshot) : undefined;
        // An interrupt raised inside a sub-agent is reported by its parent task too; name the sub-agent.
        const origin = child ? innermost(child, id) : undefined;
        out.push({ interruptId: id, namespace: origin?.ns ? (ns ? `${ns}|${origin.ns}` : origin.ns) : ns, node: origin?.node ?? task.name, request: intr.value });
      }
    }
  };
  visit(snapshot, "");
  return out;
}

function innermost(snap: StateSnapshot, interruptId: string, prefix = ""): { ns: string; node: string } | undefined {
  const ns = (snap.config.configurable?.checkpoint_ns as string | undefined)?.split("|").map((p) => p.split(":")[0]).join("|") ?? prefix;
  for (const task of snap.tasks) {
    if (!task.interrupts.some((i) => i.id === interruptId)) continue;
    const child = task.state && "tasks" in task.state ? (task.state as StateSnapshot) : undefined;
    return (child && innermost(child, interruptId, ns)) ?? { ns, node: task.name };
  }
  return undefined;
}

export function taskErrors(snapshot: StateSnapshot): string[] {
  const errs: string[] = [];
  for (const t of snapshot.tasks) {
    if (t.error) errs.push(`${t.name}: ${t.error instanceof Error ? t.error.message : typeof t.error === "object" ? JSON.stringify(t.error) : String(t.error)}`);
  }
  return errs;
}

/**
 * Nothing left to run. Not just `next` being empty: LangGraph leaves out of `next` a task whose writes
 * were saved when the checkpoint after them was not (the process died in between); that thread is not done.
 */
export function isFinished(snapshot: StateSnapshot): boolean {
  return snapshot.next.length === 0 && snapshot.tasks.length === 0;
}

/** Combine the registry row and the checkpoint into what a person needs to know. */
export function viewOf(row: ThreadRow, snapshot: StateSnapshot, decided: ReadonlySet<string> = new Set(), open: LedgerRow[] = []): ThreadView {
  const pending = pendingReviews(snapshot, decided);
  const next = [...snapshot.next];
  let status: ThreadStatus;
  let detail = row.status_detail;
  if (row.status === "running" && runnerAlive(row)) {
    status = "running";
    detail = `run by process ${row.runner_pid} on ${row.runner_host}`;
  } else if (!snapshot.config.configurable?.checkpoint_id) {
    status = "error";
    detail = `${row.status_detail ?? "did not start"}; \`waypoint resume ${row.thread_id}\` starts it`;
  } else if (pending.length > 0) {
    status = "interrupted";
    detail = `waits for a decision on ${pending.map((p) => p.request.actionRequests.map((a) => a.name).join(", ")).join("; ")}`;
  } else if (isFinished(snapshot)) {
    status = "done";
    const stopped = (snapshot.values as { oversight?: { stopped?: { guard: string; reason: string } } } | undefined)?.oversight?.stopped;
    detail = stopped ? `stopped by a guardrail (${stopped.guard}): ${stopped.reason}` : null;
  } else {
    status = "error";
    const errs = taskErrors(snapshot);
    if (snapshot.tasks.some((t) => t.interrupts.some((i) => decided.has(i.id ?? "")))) {
      detail = `a decision was recorded but the process stopped before acting on it; \`waypoint resume ${row.thread_id}\` applies it`;
    } else if (next.length === 0) {
      // LangGraph leaves a task that finished (its writes are saved) out of `next`: the process died after
      // the step's writes and before the checkpoint that follows them. Resuming applies them and goes on.
      detail = `the process stopped after ${snapshot.tasks.map((t) => t.name).join(", ")} finished and before its checkpoint was written; \`waypoint resume ${row.thread_id}\` continues`;
    } else if (row.status === "running" && open.some((r) => r.status === "started")) {
      const calls = open.filter((r) => r.status === "started").map((r) => `${r.tool} (${r.tool_call_id})`);
      detail = `the process running it (pid ${row.runner_pid}) stopped in the middle of ${calls.join(", ")}; \`waypoint resume ${row.thread_id}\` continues (see the calls in doubt below)`;
    } else if (row.status === "running") detail = `the process running it (pid ${row.runner_pid}) stopped before it finished; \`waypoint resume ${row.thread_id}\` continues from the last checkpoint`;
    else if (errs.length) detail = `${errs.join("; ")}; \`waypoint resume ${row.thread_id}\` retries`;
    else detail ??= `stopped before ${next.join(", ")}; \`waypoint resume ${row.thread_id}\` continues`;
  }
  return {
    threadId: row.thread_id,
    agent: row.agent,
    graphVersion: row.graph_version,
    status,
    detail,
    next,
    checkpointId: snapshot.config.configurable?.checkpoint_id as string | undefined,
    values: (snapshot.values ?? {}) as Record<string, unknown>,
    pending,
    openCalls: open.map((r) => describeOpenCall(r, status === "running")),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    forkedFrom: row.forked_from,
  };
}
