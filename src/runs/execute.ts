// Executing one run: the graph from the registry with Waypoint's checkpointer and store, the run's input
// (or command) once, `durability: "sync"` so each finished super-step is a committed checkpoint, the
// stream turned into the API's events, and the thread's state read at the end. A run taken over after
// its carrier died continues from the last checkpoint: its input or command is applied only if the
// thread has not moved since the run started (the first attempt would have applied it otherwise).
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { AIMessage, ToolMessage } from "@langchain/core/messages";
import { Command, GraphRecursionError, isGraphDrained, Send, type RunControl, type StateSnapshot, type StreamMode } from "@langchain/langgraph";
import type { Persistence } from "../persistence/index.js";
import { isConnectionLost } from "../db/index.js";
import { isWaypointError, WaypointError } from "../errors.js";
import { log } from "../log.js";
import type { AnyGraph, LoadedGraph, Registry } from "../registry/index.js";
import { withRunScope } from "../scope/index.js";
import { toJson, type RunEventWriter } from "./events.js";
import { runStartFacts } from "./policies.js";
import { type RunKwargs, type RunRow, type ThreadOutcome } from "./queue.js";
import { libraryModes, StreamTranslator } from "./stream.js";
import { interruptsByTask, pendingInterrupts, type PendingInterrupt } from "./threads.js";

/** LangGraph's own default when neither the run nor the graph sets one. */
const LANGGRAPH_RECURSION_LIMIT = 25;

/** One line of progress while a run goes on. */
export interface ProgressEvent {
  /** Sub-agent path ("" for the graph itself). */
  namespace: string;
  node: string;
  /** What the step did, in words. */
  summary: string;
}

export interface ExecutorOptions {
  /** Objects merged into every run's LangGraph context (tests put a scripted model or a world there). */
  context?: Record<string, unknown> | undefined;
  /** Milliseconds Waypoint's agent nodes wait per step (demos, crash tests). */
  paceMs?: number | undefined;
  /** Tool backoff scaling for Waypoint's tools (tests). */
  toolRetry?: Record<string, number> | undefined;
  /** Recursion limit for runs that set none (before the graph's own default). */
  recursionLimit?: number | undefined;
  /** LangChain callback handlers for every run (the node trace, tests). */
  callbacks?: BaseCallbackHandler[] | undefined;
}

export interface RunExecution {
  run: RunRow;
  /** Stops the run at the next super-step boundary, checkpointed (drain, cancellation). */
  control: RunControl;
  /** Stops the run at once, mid-step (fencing: this process may no longer own the thread). */
  signal: AbortSignal;
  /** Where the run's stream events go (SSE followers read them); none for a run nobody follows. */
  events?: RunEventWriter | undefined;
  onProgress?: ((e: ProgressEvent) => void) | undefined;
}

export interface ExecutionResult {
  /** As the LangGraph API reports runs: a run that stopped at an interrupt succeeded (its thread is interrupted). */
  status: "success" | "error";
  /** What happened, in words, for a run that did not succeed. */
  detail: string | null;
  thread: ThreadOutcome;
  snapshot: StateSnapshot | undefined;
}

/**
 * State keys that route a graph rather than hold anything a person reads: createAgent's middleware
 * writes `jumpTo` after every model call ("HumanInTheLoopMiddleware.after_model: set jumpTo").
 */
const CONTROL_KEYS = new Set(["jumpTo"]);

/** An update that only routes (control keys alone): nothing to tell a person. */
export function onlyRouting(update: unknown): boolean {
  if (!update || typeof update !== "object") return false;
  const keys = Object.keys(update);
  return keys.length > 0 && keys.every((k) => CONTROL_KEYS.has(k));
}

export function summariseUpdate(update: unknown): string {
  if (!update || typeof update !== "object") return "";
  const parts: string[] = [];
  const messages = (update as { messages?: unknown }).messages;
  for (const m of Array.isArray(messages) ? messages : []) {
    if (AIMessage.isInstance(m)) {
      if (m.tool_calls?.length) parts.push(`proposes ${m.tool_calls.map((tc) => `${tc.name}(${JSON.stringify(tc.args)})`).join(", ")}`);
      else if (typeof m.content === "string" && m.content) parts.push(`says: ${m.content.split("\n")[0]}`);
    } else if (ToolMessage.isInstance(m)) {
      const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
      parts.push(`${m.name ?? "tool"} ${m.status === "error" ? "failed" : "->"} ${text.length > 120 ? `${text.slice(0, 117)}...` : text}`);
    }
  }
  const other = Object.keys(update).filter((k) => k !== "messages" && !CONTROL_KEYS.has(k));
  if (other.length) parts.push(`set ${other.join(", ")}`);
  return parts.join("; ");
}

/** The API's command as LangGraph's: goto as node names or Sends, update, resume (a value or a map by interrupt id). */
export function toCommand(command: NonNullable<RunKwargs["command"]>): Command {
  const goto = command.goto == null ? undefined : Array.isArray(command.goto) ? command.goto : [command.goto];
  return new Command({
    ...(goto ? { goto: goto.map((g) => (typeof g === "string" ? g : new Send(String((g as { node: unknown }).node), (g as { input?: unknown }).input))) } : {}),
    ...(command.update !== undefined ? { update: command.update as Record<string, unknown> } : {}),
    ...(command.resume !== undefined ? { resume: command.resume } : {}),
  });
}

/** The graph object a run executes: its own copy, with Waypoint's checkpointer and store. */
export async function graphFor(lg: LoadedGraph, persistence: Persistence, config?: Parameters<LoadedGraph["instance"]>[0]): Promise<AnyGraph> {
  const g = await lg.instance(config);
  g.checkpointer = persistence.saver;
  g.store = persistence.store;
  return g;
}

/**
 * The thread as the API shows it after a run: values, interrupts by task, and a status; and its pending
 * interrupts as a view names them (from a snapshot with its subgraphs), for the inbox's cards.
 */
export function threadOutcome(snap: StateSnapshot | undefined, error: string | null): ThreadOutcome {
  const values = toJson(snap?.values ?? {});
  const interrupts = snap ? (toJson(interruptsByTask(snap)) as ThreadOutcome["interrupts"]) : {};
  const pending = snap ? (toJson(pendingInterrupts(snap)) as PendingInterrupt[]) : [];
  if (error) return { status: "error", detail: error, values, interrupts, pending };
  return { status: snap && snap.next.length > 0 ? "interrupted" : "idle", detail: null, values, interrupts, pending };
}

export class Executor {
  constructor(
    readonly registry: Registry,
    readonly persistence: Persistence,
    readonly options: ExecutorOptions = {},
  ) {}

  /**
   * Carry a claimed run until its graph finishes, waits, fails or is stopped. Throws WaypointError
   * "drained" when it stopped at a step boundary on request, and rethrows what says this process may no
   * longer carry it (fenced, the database connection lost): the run goes back to the queue.
   */
  async execute(x: RunExecution): Promise<ExecutionResult> {
    const { run } = x;
    const lg = this.registry.get(run.graph_id);
    if (lg.version !== run.graph_version) {
      throw new WaypointError("version_mismatch", `Thread ${run.thread_id} runs ${run.graph_id} version ${run.graph_version}; this code has version ${lg.version} and will not run it.`);
    }
    const pool = this.persistence.db.pool;
    const kwargs = run.kwargs ?? {};
    const facts = await runStartFacts(pool, this.registry, run);
    // A later attempt applies the run's input or command only if an earlier one never got to it: the
    // thread has not moved since the run's start was marked (on its first attempt).
    const fresh = (facts.head ?? "") === facts.startCheckpoint;
    const input = !fresh ? null : kwargs.command ? toCommand(kwargs.command) : (kwargs.input ?? null);
    const checkpoint = fresh ? (kwargs.checkpoint_id ?? (kwargs.checkpoint?.checkpoint_id as string | undefined)) : undefined;
    const configurable: Record<string, unknown> = {
      ...kwargs.config?.configurable,
      ...(fresh ? kwargs.checkpoint : {}),
      thread_id: run.thread_id,
      run_id: run.run_id,
      graph_id: run.graph_id,
      ...(run.assistant_id ? { assistant_id: run.assistant_id } : {}),
      ...(checkpoint ? { checkpoint_id: checkpoint } : {}),
    };
    if (!checkpoint) delete configurable.checkpoint_id;
    const graph = await graphFor(lg, this.persistence, { configurable });
    const recursionLimit = kwargs.config?.recursion_limit ?? this.options.recursionLimit ?? (graph.config as { recursionLimit?: number } | undefined)?.recursionLimit ?? LANGGRAPH_RECURSION_LIMIT;
    const modes = kwargs.stream_mode?.length ? kwargs.stream_mode : ["values"];
    // A tool can end the run on purpose (see RunScope.stop): the graph is aborted where it stands, so
    // nothing of the step is written, and the run ends in error with the tool's reason.
    const stopper = new AbortController();
    let stopped: Error | undefined;
    const translator = new StreamTranslator(modes, kwargs.subgraphs === true, (event, data) => x.events?.append(event, data));
    const options = {
      configurable,
      context: { ...(typeof kwargs.context === "object" && kwargs.context !== null ? (kwargs.context as Record<string, unknown>) : {}), ...this.options.context },
      ...(kwargs.config?.tags ? { tags: kwargs.config.tags } : {}),
      metadata: { ...kwargs.config?.metadata, run_attempt: run.attempts },
      recursionLimit,
      ...(kwargs.interrupt_before ? { interruptBefore: kwargs.interrupt_before } : {}),
      ...(kwargs.interrupt_after ? { interruptAfter: kwargs.interrupt_after } : {}),
      durability: "sync" as const,
      streamMode: libraryModes(modes, x.onProgress !== undefined) as StreamMode[],
      subgraphs: true,
      control: x.control,
      signal: AbortSignal.any([x.signal, stopper.signal]),
      callbacks: this.options.callbacks ?? [],
    };
    x.events?.append("metadata", { run_id: run.run_id, attempt: run.attempts });
    const scope = {
      pool,
      threadId: run.thread_id,
      runId: run.run_id,
      graphId: run.graph_id,
      policy: facts.policy,
      run: { startedAt: Date.now(), startStep: facts.startStep, recursionLimit },
      paceMs: this.options.paceMs ?? 0,
      toolRetry: this.options.toolRetry,
      stop: (e: Error) => {
        stopped ??= e;
        stopper.abort(e);
      },
    };
    const onChunk = (ns: string[], mode: string, data: unknown) => {
      translator.chunk(ns, mode, data);
      if (mode !== "updates" || !x.onProgress) return;
      for (const [node, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
        if (node === "__interrupt__" || onlyRouting(value)) continue;
        x.onProgress({ namespace: ns.map((p) => p.split(":")[0]).join("|"), node, summary: summariseUpdate(value) || "no change" });
      }
    };
    let error: string | null = null;
    try {
      await withRunScope(scope, async () => {
        if (modes.includes("events")) {
          const events = graph.streamEvents(input, { ...options, version: "v2", runId: run.run_id } as unknown as Parameters<AnyGraph["streamEvents"]>[1]);
          for await (const ev of events) {
            const e = ev as { event: string; run_id?: string; tags?: string[]; data?: { chunk?: unknown } };
            if (e.event === "on_chain_stream" && e.run_id === run.run_id && Array.isArray(e.data?.chunk)) {
              const [ns, mode, data] = e.data.chunk as [string[], string, unknown];
              onChunk(ns, mode, data);
            } else translator.event(e);
          }
        } else {
          for await (const chunk of await graph.stream(input, options)) {
            const [ns, mode, data] = chunk as unknown as [string[], string, unknown];
            onChunk(ns, mode, data);
          }
        }
      });
    } catch (e) {
      if (isGraphDrained(e)) {
        // Stopped on purpose at a super-step boundary (drain, cancel): checkpointed, nothing lost.
        throw new WaypointError("drained", `Thread ${run.thread_id} paused between steps: ${e.reason || "drain"}.`, { details: { reason: e.reason }, cause: e });
      }
      if (x.signal.aborted || (isConnectionLost(e) && !stopped)) throw e;
      error = stopped ? stopped.message : e instanceof Error ? e.message : String(e);
      if (e instanceof GraphRecursionError) {
        error = `the run took ${recursionLimit} steps without finishing (the recursion limit); it stopped at its last checkpoint`;
      }
      // A tool or model that kept failing is an expected stop (the message says what to do); anything else may be a bug.
      if (stopped || isWaypointError(e)) log.info({ threadId: run.thread_id, runId: run.run_id, reason: error }, "run stopped");
      else log.warn({ err: e, threadId: run.thread_id, runId: run.run_id }, "run failed");
      x.events?.append("error", { error: e instanceof Error ? e.name : "Error", message: error });
    }
    // Subgraphs included: the pending interrupts kept on the thread row name the sub-agent that asked.
    const snapshot = await graph.getState({ configurable: { thread_id: run.thread_id } }, { subgraphs: true }).catch((e: unknown) => {
      if (error) return undefined;
      throw e;
    });
    const thread = threadOutcome(snapshot, error);
    return { status: error ? "error" : "success", detail: error, thread, snapshot };
  }
}
