// Threads: the waypoint.threads rows (what the API lists and searches, kept by the worker at every
// run's end) and the readable view of one thread for a person (CLI, inbox): its status in words, what
// it waits for (every pending interrupt, HITL-shaped or not), its calls in doubt.
import type { StateSnapshot } from "@langchain/langgraph";
import type pg from "pg";
import type { BaseMessage } from "@langchain/core/messages";
import { contextFromConversation, normalizeHITLRequest, type HITLRequest } from "../approvals/index.js";
import { WaypointError } from "../errors.js";
import type { LedgerRow } from "../tools/index.js";
import { isUuid, LOCK_CLASS, type RunRow, type ThreadStatus } from "./queue.js";

export interface ThreadRow {
  thread_id: string;
  /** The graph it runs and the version it pinned (null until its first run). */
  graph_id: string | null;
  graph_version: string | null;
  status: ThreadStatus;
  status_detail: string | null;
  /** The first input it was given. */
  input: unknown;
  forked_from: { threadId: string; checkpointId: string } | null;
  metadata: Record<string, unknown>;
  config: Record<string, unknown>;
  values: unknown;
  /** Pending interrupts by task id, as the LangGraph API keys them. */
  interrupts: Record<string, Array<{ id?: string; value?: unknown }>>;
  /** The same interrupts as a view shows them, written with `interrupts` (null where not known: read the checkpoint). */
  pending?: PendingInterrupt[] | null;
  created_at: Date;
  updated_at: Date;
}

/** What a thread waits for: an interrupt raised by any node (a sub-agent's included). */
export interface PendingInterrupt {
  /** Interrupt id: a resume answers exactly this interrupt. */
  interruptId: string;
  /** Where it was raised: "" for the graph itself, e.g. "provisioning" for a subgraph. */
  namespace: string;
  /** Node that raised it. */
  node: string;
  /** The interrupt's value, as the graph gave it. */
  value: unknown;
  /** The value read as a HITL request (either spelling), when it is one: answered with decisions. */
  request?: HITLRequest | undefined;
}

export interface Notice {
  kind: "reminder" | "escalation";
  /** The interrupt it is about. */
  interruptId: string;
  message: string;
  /** Escalations: the reviewer group it went to. */
  group?: string | undefined;
  at: Date;
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

/** running: a process carries it; queued: a run waits for a worker; new: never ran. */
export type ThreadViewStatus = "new" | "queued" | "running" | "interrupted" | "done" | "error";

export interface ThreadView {
  threadId: string;
  graphId: string | null;
  graphVersion: string | null;
  status: ThreadViewStatus;
  /** Why it is in that status, in words (error message, who runs it, what it waits for). */
  detail: string | null;
  /** Nodes that run next when the thread continues. */
  next: string[];
  /** Latest checkpoint id of the thread. */
  checkpointId: string | undefined;
  values: Record<string, unknown>;
  pending: PendingInterrupt[];
  /** Tool calls without a settled outcome (killed mid-call, failed, in doubt), and what a resume does with each. */
  openCalls: OpenCall[];
  /** What happened to its pending requests while they waited: reminders and escalations after a review deadline. */
  notices: Notice[];
  /** The run that owns the thread's future now, if any. */
  activeRun: Pick<RunRow, "run_id" | "status" | "worker_id" | "detail" | "graph_version"> | undefined;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  forkedFrom: ThreadRow["forked_from"];
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

export async function findThreadRow(pool: pg.Pool, threadId: string): Promise<ThreadRow | undefined> {
  if (threadId.length === 0 || threadId.length > 200 || threadId.includes("\u0000")) return undefined;
  return (await pool.query<ThreadRow>("SELECT * FROM waypoint.threads WHERE thread_id = $1", [threadId])).rows[0];
}

export async function getThreadRow(pool: pg.Pool, threadId: string): Promise<ThreadRow> {
  const row = await findThreadRow(pool, threadId);
  if (!row) throw new WaypointError("unknown_thread", `No thread with id "${threadId}". List threads with \`waypoint threads\`.`, { details: { threadId } });
  return row;
}

/** A thread row with the run that owns its future now (if any) and whether that run's carrier lives. */
export type ListedThreadRow = ThreadRow & { active_run: RunRow | null; active_alive: boolean | null };

/**
 * Newest first, one page (an index scan on created_at), each row with its active run and that run's
 * liveness in the same query: what `waypoint threads` shows, without reading a checkpoint.
 */
export async function listThreadRows(pool: pg.Pool, opts: { limit?: number; offset?: number; owner?: string | undefined } = {}): Promise<ListedThreadRow[]> {
  const { rows } = await pool.query<ListedThreadRow>(
    `SELECT t.*, to_jsonb(a) - 'kwargs' AS active_run,
            CASE WHEN a.status = 'running' THEN EXISTS (
              SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $4 AND l.objid = a.worker_lock AND l.objsubid = 2
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) END AS active_alive
       FROM (SELECT * FROM waypoint.threads WHERE ($3::text IS NULL OR metadata->>'owner' = $3) ORDER BY created_at DESC, thread_id DESC LIMIT $1 OFFSET $2) t
       LEFT JOIN LATERAL (SELECT r.* FROM waypoint.runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running')
                          ORDER BY (r.status = 'running') DESC, r.created_at LIMIT 1) a ON true
      ORDER BY t.created_at DESC, t.thread_id DESC`,
    [opts.limit ?? 50, opts.offset ?? 0, opts.owner ?? null, LOCK_CLASS],
  );
  return rows;
}

/** Pending interrupts as a thread row keeps them (no checkpoint read: node and namespace are not known here). */
export function pendingOfRow(row: Pick<ThreadRow, "interrupts">): PendingInterrupt[] {
  return Object.entries(row.interrupts ?? {}).flatMap(([task, list]) =>
    list.map((i) => ({ interruptId: i.id ?? "", namespace: "", node: task, value: i.value, request: normalizeHITLRequest(i.value) })),
  );
}

/**
 * A thread's list entry from its row and active run alone (what `waypoint threads` prints: status and
 * detail). Values, pending interrupts and open calls are the row's, as the API shows them; next and the
 * checkpoint id are left empty (\`waypoint show\` reads the checkpoint).
 */
/**
 * What a thread's active run makes of it: its carrier died (SIGKILL, a lost machine: a worker's reaper
 * queues it again within a second), it runs, or it waits in the queue; undefined with no active run.
 * `during` names the calls the dead carrier was in the middle of, when known.
 */
function activeRunStatus(row: ThreadRow, active: RunRow | undefined, alive: boolean, during = ""): { status: ThreadViewStatus; detail: string } | undefined {
  if (!active) return undefined;
  if (active.status === "running" && !alive) {
    return { status: "error", detail: `the process carrying run ${active.run_id} (${active.worker_id ?? "?"}) died${during}; a worker takes it over, or \`waypoint resume ${row.thread_id}\` continues it here from the last checkpoint` };
  }
  if (active.status === "running") return { status: "running", detail: `run ${active.run_id} carried by ${active.worker_id ?? "?"}` };
  return { status: "queued", detail: `run ${active.run_id} waits for a worker with ${row.graph_id}@${active.graph_version}${active.detail ? ` (${active.detail})` : ""}` };
}

const activeRunOf = (r: RunRow): ThreadView["activeRun"] => ({ run_id: r.run_id, status: r.status, worker_id: r.worker_id, detail: r.detail, graph_version: r.graph_version });

export function listView(row: ThreadRow, active: RunRow | undefined, activeAlive = true): ThreadView {
  const pending = pendingOfRow(row);
  const values = (row.values ?? {}) as Record<string, unknown>;
  let status: ThreadViewStatus;
  let detail = row.status_detail;
  const byRun = activeRunStatus(row, active, activeAlive);
  if (byRun) ({ status, detail } = byRun);
  else if (row.status === "error") {
    status = "error";
    detail = `${row.status_detail ?? "it stopped with an error"}; \`waypoint resume ${row.thread_id}\` continues`;
  } else if (row.status === "busy") {
    status = "error";
    detail = `marked busy, but no run is queued or running; \`waypoint doctor --repair\` recomputes its status, \`waypoint resume ${row.thread_id}\` continues`;
  } else if (row.status === "interrupted" || pending.length > 0) {
    status = "interrupted";
    detail = `waits for ${pending.map((p) => (p.request ? `a decision on ${p.request.actionRequests.map((a) => a.name).join(", ")}` : "an answer to an interrupt")).join("; ") || "an answer"}`;
  } else if (!row.graph_id || row.values == null) {
    status = "new";
    detail = "no run yet";
  } else {
    status = "done";
    const stopped = (values as { oversight?: { stopped?: { guard: string; reason: string } } }).oversight?.stopped;
    detail = stopped ? `stopped by a guardrail (${stopped.guard}): ${stopped.reason}` : null;
  }
  return {
    threadId: row.thread_id,
    graphId: row.graph_id,
    graphVersion: row.graph_version,
    status,
    detail,
    next: [],
    checkpointId: undefined,
    values,
    pending,
    openCalls: [],
    notices: [],
    activeRun: active ? activeRunOf(active) : undefined,
    metadata: row.metadata ?? {},
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    forkedFrom: row.forked_from,
  };
}

/**
 * Interrupts waiting for an answer, found in the thread's tasks (sub-agent interrupts included, each
 * reported once, named by the sub-agent that raised it).
 */
export function pendingInterrupts(snapshot: StateSnapshot): PendingInterrupt[] {
  const out: PendingInterrupt[] = [];
  const seen = new Set<string>();
  for (const task of snapshot.tasks) {
    for (const intr of task.interrupts) {
      const id = intr.id ?? "";
      if (seen.has(id)) continue;
      seen.add(id);
      const child = task.state && "tasks" in task.state ? (task.state as StateSnapshot) : undefined;
      // An interrupt raised inside a sub-agent is reported by its parent task too; name the sub-agent.
      const origin = child ? innermost(child, id) : undefined;
      out.push({ interruptId: id, namespace: origin?.ns ?? "", node: origin?.node ?? task.name, value: intr.value, request: withContext(normalizeHITLRequest(intr.value), intr.value, child ?? snapshot) });
    }
  }
  return out;
}

/**
 * A HITL request that came without Waypoint's context (humanInTheLoopMiddleware's, a graph's own) gets
 * one read off the conversation of the graph that asked, so a reviewer sees what is done already.
 */
function withContext(request: HITLRequest | undefined, value: unknown, snap: StateSnapshot): HITLRequest | undefined {
  if (!request || (value && typeof value === "object" && "context" in value)) return request;
  const messages = (snap.values as { messages?: unknown } | undefined)?.messages;
  return { ...request, context: contextFromConversation(Array.isArray(messages) ? (messages as BaseMessage[]) : [], request) };
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

/** Pending interrupts keyed by the task that raised them, as GET /threads/:id shows them. */
export function interruptsByTask(snapshot: StateSnapshot): Record<string, Array<{ id?: string; value?: unknown }>> {
  const out: Record<string, Array<{ id?: string; value?: unknown }>> = {};
  for (const task of snapshot.tasks) if (task.interrupts.length) out[task.id] = task.interrupts.map((i) => ({ id: i.id, value: i.value }));
  return out;
}

/** Interrupt ids in a thread row's `interrupts` (what a decision may answer). */
export function interruptIdsOf(row: Pick<ThreadRow, "interrupts">): string[] {
  return Object.values(row.interrupts ?? {}).flatMap((list) => list.map((i) => i.id ?? "")).filter(Boolean);
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

/** Combine the row, the checkpoint and the active run into what a person needs to know. */
export function viewOf(row: ThreadRow, snapshot: StateSnapshot | undefined, active: RunRow | undefined, open: LedgerRow[] = [], activeAlive = true): ThreadView {
  // An interrupt the active run answers (its command.resume, keyed by interrupt id) waits for nobody.
  const resume = active?.kwargs?.command?.resume;
  const answered = new Set(resume && typeof resume === "object" && !Array.isArray(resume) ? Object.keys(resume) : []);
  const pending = snapshot ? pendingInterrupts(snapshot).filter((p) => !answered.has(p.interruptId)) : [];
  const next = snapshot ? [...snapshot.next] : [];
  const hasCheckpoint = Boolean(snapshot?.config.configurable?.checkpoint_id);
  let status: ThreadViewStatus;
  let detail = row.status_detail;
  const calls = open.filter((r) => r.status === "started");
  const byRun = activeRunStatus(row, active, activeAlive, calls.length ? ` in the middle of ${calls.map((r) => `${r.tool} (${r.tool_call_id})`).join(", ")}` : "");
  if (byRun) ({ status, detail } = byRun);
  else if (!hasCheckpoint || !snapshot) {
    status = row.status === "error" ? "error" : "new";
    detail = row.status === "error" ? `${row.status_detail ?? "it stopped before its first step"}; \`waypoint resume ${row.thread_id}\` starts it` : "no run yet";
  } else if (pending.length > 0) {
    status = "interrupted";
    detail = `waits for ${pending.map((p) => (p.request ? `a decision on ${p.request.actionRequests.map((a) => a.name).join(", ")}` : `an answer to ${p.node}'s interrupt`)).join("; ")}`;
  } else if (isFinished(snapshot)) {
    status = "done";
    const stopped = (snapshot.values as { oversight?: { stopped?: { guard: string; reason: string } } } | undefined)?.oversight?.stopped;
    detail = stopped ? `stopped by a guardrail (${stopped.guard}): ${stopped.reason}` : null;
  } else {
    status = "error";
    const errs = taskErrors(snapshot);
    const started = open.filter((r) => r.status === "started");
    if (next.length === 0) {
      // LangGraph leaves a task that finished (its writes are saved) out of `next`: the process died after
      // the step's writes and before the checkpoint that follows them. Resuming applies them and goes on.
      detail = `the process stopped after ${snapshot.tasks.map((t) => t.name).join(", ")} finished and before its checkpoint was written; \`waypoint resume ${row.thread_id}\` continues`;
    } else if (errs.length) detail = `${errs.join("; ")}; \`waypoint resume ${row.thread_id}\` retries`;
    else if (started.length) {
      detail = `${row.status_detail ? `${row.status_detail}; ` : ""}it stopped in the middle of ${started.map((r) => `${r.tool} (${r.tool_call_id})`).join(", ")}; \`waypoint resume ${row.thread_id}\` continues (see the calls without a settled outcome)`;
    } else detail = `${row.status_detail ? `${row.status_detail}; ` : ""}stopped before ${next.join(", ")}; \`waypoint resume ${row.thread_id}\` continues`;
  }
  return {
    threadId: row.thread_id,
    graphId: row.graph_id,
    graphVersion: row.graph_version,
    status,
    detail,
    next,
    checkpointId: snapshot?.config.configurable?.checkpoint_id as string | undefined,
    values: (snapshot?.values ?? {}) as Record<string, unknown>,
    pending,
    openCalls: open.map((r) => describeOpenCall(r, status === "running")),
    notices: [],
    activeRun: active ? activeRunOf(active) : undefined,
    metadata: row.metadata ?? {},
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    forkedFrom: row.forked_from,
  };
}

export { isUuid };

/**
 * The pending interrupts a thread row keeps, when they can stand for a view's: written with the row's
 * interrupts (the same ids), so no checkpoint needs reading. Undefined when the row does not know them.
 */
export function usablePending(row: ThreadRow): PendingInterrupt[] | undefined {
  if (!Array.isArray(row.pending)) return undefined;
  const ids = interruptIdsOf(row).sort();
  const have = row.pending.map((p) => p.interruptId).sort();
  return ids.length === have.length && ids.every((id, i) => id === have[i]) ? row.pending : undefined;
}

/** Reminders and escalations about the interrupts of several threads, in one query: by thread, oldest first, at most 20 each. */
export async function noticesOfMany(pool: pg.Pool, interruptIds: Map<string, string[]>): Promise<Map<string, Notice[]>> {
  const out = new Map<string, Notice[]>();
  const threads = [...interruptIds.entries()].filter(([, ids]) => ids.length > 0);
  if (threads.length === 0) return out;
  const { rows } = await pool.query<{ thread_id: string; kind: Notice["kind"]; message: string; data: { interruptId: string; group?: string }; created_at: Date }>(
    `SELECT e.thread_id, e.kind, e.message, e.data, e.created_at
       FROM unnest($1::text[], $2::text[]) AS w(thread_id, interrupt_id)
       JOIN waypoint.events e ON e.thread_id = w.thread_id AND e.kind IN ('reminder', 'escalation') AND e.data->>'interruptId' = w.interrupt_id
      ORDER BY e.created_at, e.id`,
    [threads.flatMap(([t, ids]) => ids.map(() => t)), threads.flatMap(([, ids]) => ids)],
  );
  for (const r of rows) {
    const list = out.get(r.thread_id) ?? [];
    if (list.length >= 20) continue;
    list.push({ kind: r.kind, interruptId: r.data.interruptId, message: r.message, ...(r.data.group ? { group: r.data.group } : {}), at: r.created_at });
    out.set(r.thread_id, list);
  }
  return out;
}

/** Reminders and escalations about these interrupts (review deadlines that passed), oldest first. */
export async function noticesFor(pool: pg.Pool, threadId: string, interruptIds: string[]): Promise<Notice[]> {
  return (await noticesOfMany(pool, new Map([[threadId, interruptIds]]))).get(threadId) ?? [];
}
