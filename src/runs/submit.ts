// Submitting a run: everything is checked first (the graph, the input, the command against what the
// thread waits for, a decision against its review, the policy, the webhook, the checkpoint), then the
// thread, the run and the policy are written in one transaction (waypoint.submit_run). Bad input changes
// nothing; a submission that reports failure left nothing; an idempotency key returns the run it made.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { z } from "zod";
import { normalizeHITLRequest, validateAnswer, validateResponse, type DurableToolLike, type Policy } from "../approvals/index.js";
import { WaypointError } from "../errors.js";
import { describeZodError } from "../tools/index.js";
import { assistantIdFor, findAssistant, unknownAssistant, type AssistantRow } from "./assistants.js";
import { DeadlinePolicySchema, type DeadlinePolicy } from "./deadlines.js";
import { parseRunPolicy, threadPolicy } from "./policies.js";
import { MULTITASK_STRATEGIES, submitRun, type MultitaskStrategy, type NewRun, type RunKind, type RunKwargs, type SubmitOutcome } from "./queue.js";
import type { Waypoint } from "./runner.js";
import { STREAM_MODES } from "./stream.js";
import { interruptIdsOf, isUuid, type ThreadRow } from "./threads.js";
import { checkWebhook } from "./webhook.js";

export interface Submission {
  /** The thread; a new id starts a new thread (with createThread). Unset: a new thread with a new id. */
  threadId?: string | undefined;
  /** The assistant (or graph id) to run; unset for an existing thread: the graph it runs. */
  assistant?: string | undefined;
  input?: unknown;
  command?: { resume?: unknown; update?: unknown; goto?: unknown } | undefined;
  config?: { configurable?: Record<string, unknown>; tags?: string[]; recursion_limit?: number; [k: string]: unknown } | undefined;
  context?: unknown;
  /** Run metadata (a new thread gets it too, as the reference server does). */
  metadata?: Record<string, unknown> | undefined;
  /** Metadata the thread gets (its owner). */
  threadMetadata?: Record<string, unknown> | undefined;
  streamMode?: string[] | undefined;
  subgraphs?: boolean | undefined;
  interruptBefore?: "*" | string[] | undefined;
  interruptAfter?: "*" | string[] | undefined;
  webhook?: string | undefined;
  /** Continue from this earlier checkpoint (a branch); `checkpoint` is the same as a payload. */
  checkpointId?: string | undefined;
  checkpoint?: Record<string, unknown> | undefined;
  afterSeconds?: number | undefined;
  /** A stateless run: its thread goes away when it ends. */
  temporary?: boolean | undefined;
  resumable?: boolean | undefined;
  strategy?: MultitaskStrategy | undefined;
  /** A missing thread: create it (default for a new id) or refuse. */
  ifNotExists?: "create" | "reject" | undefined;
  idempotencyKey?: string | undefined;
  /** Whose key it is ('' for the CLI and auth-off); one owner's key never finds another's run. */
  idempotencyScope?: string | undefined;
  /** The thread must carry this metadata (an owner's filter), else it is not visible. */
  ownerFilter?: Record<string, unknown> | undefined;
  reviewDeadline?: DeadlinePolicy | undefined;
  /** Oversight policy for this run and the thread's later runs (JSON; checked against the graph's tools). */
  policy?: unknown;
  /** The caller carries the run itself when it can (a CLI command). */
  claimFor?: { workerId: string; lock: number } | undefined;
}

const Config = z
  .object({
    configurable: z.record(z.string(), z.unknown()).optional(),
    tags: z.array(z.string().max(200)).max(100).optional(),
    recursion_limit: z.number().int().min(1).max(100_000).optional(),
  })
  .loose();

function invalid(message: string, details: Record<string, unknown> = {}): WaypointError {
  return new WaypointError("invalid_input", message, { details });
}

function merged(a: AssistantRow | undefined, thread: ThreadRow | undefined, run: Submission["config"]) {
  const configurable = { ...a?.config?.configurable, ...((thread?.config as { configurable?: Record<string, unknown> } | undefined)?.configurable ?? {}), ...run?.configurable };
  return { ...a?.config, ...thread?.config, ...run, configurable };
}

/** A resume answer keyed by interrupt id, checked against what the thread waits for. */
function checkResume(thread: ThreadRow | undefined, resume: unknown, busy: boolean, tools: ReadonlyArray<{ name: string }> | undefined): { resume: unknown; interruptIds: string[] | undefined } {
  if (busy) return { resume, interruptIds: undefined }; // it answers what the thread will wait for after the active run
  const pending = thread ? Object.values(thread.interrupts ?? {}).flat() : [];
  const ids = pending.map((p) => p.id ?? "").filter(Boolean);
  if (ids.length === 0) {
    throw new WaypointError("nothing_pending", `Thread ${thread?.thread_id ?? "(new)"} waits for no answer (status: ${thread?.status ?? "new"}); command.resume needs a pending interrupt.`, {
      details: { status: thread?.status },
    });
  }
  const keys = resume && typeof resume === "object" && !Array.isArray(resume) ? Object.keys(resume) : [];
  let answers: Record<string, unknown>;
  if (keys.length > 0 && keys.every((k) => ids.includes(k))) answers = resume as Record<string, unknown>;
  else if (ids.length === 1) answers = { [ids[0] as string]: resume };
  else {
    // LangGraph would resume every pending interrupt with the same value; a person meant one of them.
    throw new WaypointError("invalid_decision", `Thread ${thread?.thread_id} waits on ${ids.length} interrupts; answer them by id: command.resume = { "<interrupt id>": value } (pending: ${ids.join(", ")}).`);
  }
  for (const [id, answer] of Object.entries(answers)) {
    const value = pending.find((p) => p.id === id)?.value;
    const request = normalizeHITLRequest(value);
    // A review is checked against its allowed decisions and argument schemas before anything is written.
    if (request) answers[id] = { decisions: validateResponse(request, answer, (tools ?? []) as DurableToolLike[]) };
    // Any other interrupt is answered with a JSON value, checked against its response_schema when it has one.
    else validateAnswer(value, answer, `interrupt ${id}`);
  }
  return { resume: answers, interruptIds: Object.keys(answers) };
}

/** A thread row and an assistant (by id, or a graph's system assistant) read in one statement; either may be absent. */
async function readThreadAndAssistant(pool: pg.Pool, threadId: string | undefined, assistant: string | undefined, known: ReadonlySet<string>): Promise<{ thread?: ThreadRow; assistant?: AssistantRow }> {
  const tid = threadId !== undefined && threadId.length > 0 && threadId.length <= 200 && !threadId.includes("\u0000") ? threadId : null;
  const aid = assistant === undefined ? null : known.has(assistant) ? assistantIdFor(assistant) : isUuid(assistant) ? assistant : null;
  if (tid === null && aid === null) return {};
  const { rows } = await pool.query<{ thread: Record<string, unknown> | null; assistant: Record<string, unknown> | null }>({
    name: "waypoint_thread_and_assistant",
    text: `SELECT (SELECT to_jsonb(t) FROM waypoint.threads t WHERE t.thread_id = $1) AS thread,
                  (SELECT to_jsonb(a) FROM waypoint.assistants a WHERE a.assistant_id = $2::uuid) AS assistant`,
    values: [tid, aid],
  });
  // to_jsonb writes timestamps as text; the rows elsewhere carry Dates.
  const dated = <T>(r: Record<string, unknown> | null | undefined): T | undefined =>
    r ? ({ ...r, created_at: new Date(r.created_at as string), updated_at: new Date(r.updated_at as string) } as T) : undefined;
  const out: { thread?: ThreadRow; assistant?: AssistantRow } = {};
  const t = dated<ThreadRow>(rows[0]?.thread);
  const a = dated<AssistantRow>(rows[0]?.assistant);
  if (t) out.thread = t;
  if (a) out.assistant = a;
  return out;
}

/** Everything a submission is checked for, and the run it becomes (nothing is written here). */
export async function prepareSubmission(wp: Waypoint, s: Submission): Promise<NewRun> {
  if (s.idempotencyKey !== undefined && (s.idempotencyKey.length === 0 || s.idempotencyKey.length > 200)) throw invalid("The idempotency key must be 1-200 characters.");
  const strategy = s.strategy ?? "reject";
  if (!MULTITASK_STRATEGIES.includes(strategy)) throw invalid(`Unknown multitask strategy "${String(strategy)}"; use one of ${MULTITASK_STRATEGIES.join(", ")}.`);
  if (s.reviewDeadline !== undefined && !DeadlinePolicySchema.safeParse(s.reviewDeadline).success) {
    throw invalid(`Invalid review deadline: expected { afterMs, action: "remind" | "escalate" | "reject", escalateTo?, message? }.`);
  }
  if (s.threadId !== undefined && (s.threadId.length === 0 || s.threadId.length > 200 || s.threadId.includes("\u0000"))) throw invalid("A thread id is 1-200 characters.");
  const threadId = s.threadId ?? randomUUID();
  const known = new Set(wp.registry.ids);
  // The thread and a named assistant in one statement (one connection, one round trip).
  const read = await readThreadAndAssistant(wp.pool, s.threadId, s.assistant, known);
  const thread = read.thread;
  const named = s.assistant === undefined ? undefined : read.assistant ? { a: read.assistant } : { e: unknownAssistant(s.assistant) };
  if (thread && s.ownerFilter && !Object.entries(s.ownerFilter).every(([k, v]) => JSON.stringify(thread.metadata?.[k]) === JSON.stringify(v))) {
    throw new WaypointError("unknown_thread", `No thread with id "${threadId}". List threads with \`waypoint threads\`.`, { details: { threadId } });
  }
  // A command answers or steers a thread that exists; only input (for a named graph) may start one.
  if (!thread && s.threadId !== undefined && (s.ifNotExists === "reject" || s.command !== undefined || s.assistant === undefined)) {
    throw new WaypointError("unknown_thread", `No thread with id "${threadId}". List threads with \`waypoint threads\`.`, { details: { threadId } });
  }

  // An unknown assistant is reported after the thread checks above, as before.
  if (named && "e" in named) throw named.e;
  const assistant = named ? named.a : thread?.graph_id ? await findAssistant(wp.pool, thread.graph_id, known) : undefined;
  const graphId = assistant?.graph_id ?? thread?.graph_id;
  if (!graphId) throw invalid("Say which assistant (or graph) to run: the thread has not run yet.");
  if (thread?.graph_id && thread.graph_id !== graphId) {
    throw new WaypointError("invalid_input", `Thread ${threadId} runs the ${thread.graph_id} graph, not ${graphId}; runs on it use assistant ${thread.graph_id}.`, { details: { graph: thread.graph_id } });
  }
  const lg = wp.registry.get(graphId);

  const config = s.config === undefined ? undefined : Config.safeParse(s.config);
  if (config && !config.success) throw invalid(`Invalid config: ${describeZodError(config.error)}`);
  const modes = s.streamMode ?? [];
  const unknown = modes.filter((m) => !(STREAM_MODES as readonly string[]).includes(m));
  if (unknown.length) throw invalid(`stream_mode ${unknown.join(", ")} is not available; Waypoint streams ${STREAM_MODES.join(", ")}.`);
  if (s.afterSeconds !== undefined && !(Number.isFinite(s.afterSeconds) && s.afterSeconds >= 0 && s.afterSeconds <= 31_536_000)) throw invalid("after_seconds must be between 0 and 31536000.");
  if (s.webhook !== undefined) checkWebhook(s.webhook);

  const busy = thread?.status === "busy";
  let kind: RunKind = "resume";
  let command: RunKwargs["command"];
  let interruptIds: string[] | undefined;
  if (s.command) {
    const { resume, update, goto } = s.command;
    if (update !== undefined && (typeof update !== "object" || update === null)) throw invalid("command.update must be an object of state values (or a list of [key, value] pairs).");
    if (goto !== undefined) {
      const targets = Array.isArray(goto) ? goto : [goto];
      const names = targets.map((g) => (typeof g === "string" ? g : g && typeof g === "object" && typeof (g as { node?: unknown }).node === "string" ? String((g as { node: string }).node) : undefined));
      if (names.some((n) => n === undefined)) throw invalid("command.goto must be a node name, a Send ({ node, input }), or a list of them.");
      const nodes = await wp.nodeNames(graphId);
      const missing = names.filter((n) => !nodes.includes(n as string));
      if (missing.length) throw invalid(`command.goto names no node of ${graphId}: ${missing.join(", ")}; nodes: ${nodes.join(", ")}.`);
    }
    command = { ...(update !== undefined ? { update } : {}), ...(goto !== undefined ? { goto } : {}) };
    if (resume !== undefined) {
      const checked = checkResume(thread, resume, busy, lg.info.tools);
      command.resume = checked.resume;
      interruptIds = checked.interruptIds;
      kind = "decide";
    }
  } else if (s.input !== undefined && s.input !== null) {
    kind = "start";
    if (lg.info.inputSchema) {
      const parsed = lg.info.inputSchema.safeParse(s.input);
      if (!parsed.success) throw invalid(`Invalid input for ${graphId}: ${describeZodError(parsed.error)}.${lg.info.sampleInput ? ` Example: ${JSON.stringify(lg.info.sampleInput)}` : ""}`, { graph: graphId });
    }
  }
  const checkpointId = s.checkpointId ?? (typeof s.checkpoint?.checkpoint_id === "string" ? s.checkpoint.checkpoint_id : undefined);
  if (checkpointId !== undefined) {
    const { rowCount } = await wp.pool.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, checkpointId]);
    if (!rowCount) throw new WaypointError("unknown_checkpoint", `Thread ${threadId} has no checkpoint "${checkpointId}".`, { details: { threadId, checkpointId } });
  }

  // The policy: context.policy (Waypoint's) or an explicit one, checked against the graph's tools.
  const rawPolicy = s.policy ?? (lg.info.tools && s.context && typeof s.context === "object" ? (s.context as { policy?: unknown }).policy : undefined);
  let policy: { policy: Policy; source: string } | undefined;
  if (rawPolicy !== undefined) {
    const p = threadPolicy(wp.registry, parseRunPolicy(lg, rawPolicy));
    if (p) policy = { policy: p, source: "run" };
  } else if (!thread) {
    const p = threadPolicy(wp.registry);
    if (p) policy = { policy: p, source: "default" };
  }

  const assistantId = assistant?.assistant_id;
  const runConfig = merged(assistant, thread, config?.data);
  const context =
    assistant?.context !== undefined && assistant.context !== null && typeof assistant.context === "object" && !Array.isArray(assistant.context)
      ? { ...(assistant.context as Record<string, unknown>), ...(s.context && typeof s.context === "object" ? (s.context as Record<string, unknown>) : {}) }
      : s.context;
  const kwargs: RunKwargs = {
    ...(s.input !== undefined ? { input: s.input } : {}),
    ...(command ? { command } : {}),
    config: runConfig,
    ...(context !== undefined ? { context } : {}),
    stream_mode: modes.length ? modes : ["values"],
    ...(s.interruptBefore ? { interrupt_before: s.interruptBefore } : {}),
    ...(s.interruptAfter ? { interrupt_after: s.interruptAfter } : {}),
    ...(s.subgraphs ? { subgraphs: true } : {}),
    ...(checkpointId ? { checkpoint_id: checkpointId } : {}),
    ...(s.checkpoint ? { checkpoint: s.checkpoint } : {}),
    ...(s.webhook ? { webhook: s.webhook } : {}),
    ...(s.temporary ? { temporary: true } : {}),
    ...(s.resumable ? { resumable: true } : {}),
  };
  return {
    runId: randomUUID(),
    threadId,
    graphId,
    graphVersion: lg.version,
    assistantId,
    kind,
    kwargs,
    // As the reference server merges them: the assistant's, the thread's (with the graph it now runs), the run's own.
    metadata: { ...assistant?.metadata, ...thread?.metadata, graph_id: graphId, ...(assistantId ? { assistant_id: assistantId } : {}), ...s.metadata },
    threadMetadata: { ...(thread ? {} : s.metadata), ...s.threadMetadata, graph_id: graphId, ...(assistantId ? { assistant_id: assistantId } : {}) },
    ...(thread ? {} : { threadConfig: runConfig }),
    input: s.input ?? undefined,
    strategy,
    createThread: thread === undefined && s.ifNotExists !== "reject",
    ownerFilter: s.ownerFilter,
    idempotencyScope: s.idempotencyScope,
    idempotencyKey: s.idempotencyKey,
    afterSeconds: s.afterSeconds,
    reviewDeadline: s.reviewDeadline,
    policy,
    expectInterrupts: interruptIds,
    claimFor: s.claimFor,
  };
}

/** Check and submit; an outcome other than a run (busy, not visible, ...) is the error a person gets. */
export async function submit(wp: Waypoint, s: Submission): Promise<{ run: import("./queue.js").RunRow; created: boolean; claimed: boolean }> {
  const prepared = await prepareSubmission(wp, s);
  const out = await submitRun(wp.pool, prepared);
  return outcomeOrThrow(out, prepared.threadId);
}

export function outcomeOrThrow(out: SubmitOutcome, threadId: string): { run: import("./queue.js").RunRow; created: boolean; claimed: boolean } {
  switch (out.outcome) {
    case "created":
      return { run: out.run, created: true, claimed: out.claimed };
    case "existing":
      return { run: out.run, created: false, claimed: false };
    case "busy":
      throw new WaypointError("thread_busy", `Thread ${threadId} already has an active run (${out.runIds.join(", ")}); submit with multitask strategy enqueue, interrupt or rollback, or wait.`, {
        details: { runs: out.runIds },
      });
    case "graph_mismatch":
      throw new WaypointError("invalid_input", `Thread ${threadId} runs the ${out.graphId} graph.`);
    case "stale":
      throw new WaypointError("nothing_pending", `Thread ${threadId} moved on while the answer was checked: what it answered is no longer pending. Look again (\`waypoint show ${threadId}\`).`);
    case "no_thread":
    case "not_visible":
      throw new WaypointError("unknown_thread", `Thread with ID ${threadId} not found`, { details: { threadId } });
  }
}
