// Runs agents on threads: start, resume after a crash, decide on a review, fork, delete. Every run
// streams with durability "sync", so each finished super-step is a committed checkpoint.
import { randomUUID } from "node:crypto";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, ToolMessage } from "@langchain/core/messages";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { Command, GraphRecursionError, isGraphDrained, type RunControl, type StateSnapshot } from "@langchain/langgraph";
import { AGENTS, type AgentDefinition, type CompiledAgent } from "../../graphs/index.js";
import type { AgentContext } from "../agents/index.js";
import { validateResponse, type Policy } from "../approvals/index.js";
import { config } from "../config.js";
import { isWaypointError, WaypointError } from "../errors.js";
import { haltPoint } from "../halt.js";
import { log } from "../log.js";
import { copyThread, openPersistence, type Persistence } from "../persistence/index.js";
import { describeZodError, ledgerRows, type RetryPolicy } from "../tools/index.js";
import type { LadderOptions } from "../models/index.js";
import { createWorld, type FaultPlan, type World } from "../world/index.js";
import {
  claimThread,
  getThreadRow,
  insertThreadRow,
  isFinished,
  listThreadRows,
  pendingReviews,
  recordDecision,
  recordedDecisions,
  releaseThread,
  viewOf,
  type ThreadRow,
  type ThreadStatus,
  type ThreadView,
} from "./threads.js";
import { effectivePolicy, parseRunPolicy, runStartFacts, saveThreadPolicy } from "./policies.js";
import { NodeTraceHandler } from "./trace.js";

/** Super-steps one run may take unless WaypointOptions.recursionLimit says otherwise. */
const DEFAULT_RECURSION_LIMIT = 100;

/** One line of progress while a run goes on. */
export interface ProgressEvent {
  /** Sub-agent path ("" for the agent itself). */
  namespace: string;
  node: string;
  /** What the step did, in words. */
  summary: string;
}

export interface RunOptions {
  /** Called after each finished super-step. */
  onProgress?: (e: ProgressEvent) => void;
  /**
   * Every stream chunk, in LangGraph's stream modes "updates", "values", "custom", "messages"
   * ([message, metadata] per message) and "debug";
   * `namespace` is the sub-agent path with task ids ([] for the agent itself).
   */
  onChunk?: (mode: "updates" | "values" | "custom" | "messages" | "debug", namespace: string[], data: unknown) => void | Promise<void>;
  /** LangChain callback handlers for the run (tracing, tests). */
  callbacks?: BaseCallbackHandler[];
  /** Stops the run at the next super-step boundary, checkpointed (drain, cancellation). */
  control?: RunControl;
  /** Stops the run at once, mid-step (fencing: this process may no longer own the thread). */
  signal?: AbortSignal;
  /** advance(): apply this update / goto when continuing. */
  command?: { update?: Record<string, unknown>; goto?: string | string[] } | null;
  /** advance(): continue from this earlier checkpoint (a branch on the same thread). */
  fromCheckpoint?: string | null;
  /**
   * Oversight policy for this run (JSON, checked against the agent's tools; merged over the agent's and
   * the configured one) and the thread's later runs. Unset: the thread keeps the policy it has.
   */
  policy?: unknown;
}

export interface WaypointOptions {
  /** Database to use instead of the configured one. */
  url?: string;
  /** Chat model for every agent (tests script one); default: from config. */
  model?: BaseChatModel;
  /** World adapters (tests wrap them); default: the real ones. */
  world?: World;
  /** Pool size. */
  poolMax?: number;
  /** Slow every step down by this many ms (demos and crash tests; see AgentContext.paceMs). */
  paceMs?: number;
  /** Faults the world adapters inject (default: WAYPOINT_FAULTS); ignored when `world` is given. */
  faults?: FaultPlan | null;
  /** Model to fail over to (null: none, even if configured). */
  fallbackModel?: BaseChatModel | null;
  /** Model-call retry settings (tests use tiny delays). */
  modelRetry?: LadderOptions;
  /** Tool-call backoff delays (tests use tiny ones). */
  toolRetry?: Partial<RetryPolicy>;
  /** Estimated conversation tokens kept in state before older messages are summarised (default: config). */
  summaryTokens?: number;
  /** Super-steps one run may take (default 100); the guard pauses the run for a human before it is reached. */
  recursionLimit?: number;
}

export interface HistoryEntry {
  checkpointId: string;
  parentId: string | undefined;
  step: number;
  source: string;
  createdAt: string | undefined;
  next: string[];
  /** What the step wrote (node -> summary). */
  writes: string[];
  interrupted: boolean;
}

function summariseUpdate(update: unknown): string {
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
  const other = Object.keys(update).filter((k) => k !== "messages");
  if (other.length) parts.push(`set ${other.join(", ")}`);
  return parts.join("; ");
}

export class Waypoint {
  private readonly compiled = new Map<string, CompiledAgent>();
  private readonly trace = config().traceFile ? new NodeTraceHandler(config().traceFile as string) : undefined;

  private constructor(
    readonly persistence: Persistence,
    private readonly context: AgentContext,
    private readonly recursionLimit: number,
  ) {}

  static async open(opts: WaypointOptions = {}): Promise<Waypoint> {
    const persistence = await openPersistence({ ...(opts.url ? { url: opts.url } : {}), ...(opts.poolMax ? { poolMax: opts.poolMax } : {}) });
    const pool = persistence.db.pool;
    const world = opts.world ?? createWorld(pool, opts.faults === undefined ? {} : { faults: opts.faults });
    const context: AgentContext = { pool, world };
    if (opts.model) context.model = opts.model;
    if (opts.paceMs) context.paceMs = opts.paceMs;
    if (opts.fallbackModel !== undefined) context.fallbackModel = opts.fallbackModel;
    if (opts.modelRetry) context.modelRetry = opts.modelRetry;
    if (opts.toolRetry) context.toolRetry = opts.toolRetry;
    if (opts.summaryTokens !== undefined) context.summaryTokens = opts.summaryTokens;
    return new Waypoint(persistence, context, opts.recursionLimit ?? DEFAULT_RECURSION_LIMIT);
  }

  get pool() {
    return this.persistence.db.pool;
  }

  async close(): Promise<void> {
    await this.persistence.close();
  }

  agent(name: string): AgentDefinition {
    const def = AGENTS[name];
    if (!def) throw new WaypointError("unknown_agent", `No agent named "${name}". Agents: ${Object.keys(AGENTS).join(", ")}.`, { details: { agent: name } });
    return def;
  }

  private graphFor(def: AgentDefinition): CompiledAgent {
    let g = this.compiled.get(def.name);
    if (!g) {
      g = def.compile({ checkpointer: this.persistence.saver, store: this.persistence.store });
      this.compiled.set(def.name, g);
    }
    return g;
  }

  private async snapshot(row: ThreadRow): Promise<StateSnapshot> {
    return this.graphFor(this.agent(row.agent)).getState({ configurable: { thread_id: row.thread_id } }, { subgraphs: true });
  }

  /** The view of a thread; `snapshot` when the caller has just read it (saves reading the checkpoint again). */
  private async viewRow(row: ThreadRow, snapshot?: StateSnapshot): Promise<ThreadView> {
    const [snap, decided, open] = await Promise.all([snapshot ?? this.snapshot(row), recordedDecisions(this.pool, row.thread_id), ledgerRows(this.pool, row.thread_id, { open: true })]);
    return viewOf(row, snap, new Set(decided.keys()), open);
  }

  async view(threadId: string): Promise<ThreadView> {
    return this.viewRow(await getThreadRow(this.pool, threadId));
  }

  async list(limit = 50): Promise<ThreadView[]> {
    const rows = await listThreadRows(this.pool, limit);
    return Promise.all(rows.map((r) => this.viewRow(r)));
  }

  /** Check a run's oversight policy against an agent's tools; returns the policy the run would get. */
  checkPolicy(agentName: string, raw: unknown): Policy {
    const def = this.agent(agentName);
    return effectivePolicy(def, parseRunPolicy(def, raw));
  }

  /** Check `input` (and a policy) against the agent and register a new thread for it (nothing runs yet). */
  async createThread(agentName: string, input: unknown, opts: { threadId?: string; policy?: unknown } = {}): Promise<{ threadId: string; def: AgentDefinition; input: unknown }> {
    const def = this.agent(agentName);
    const policy = opts.policy === undefined ? effectivePolicy(def) : this.checkPolicy(agentName, opts.policy);
    const parsed = def.inputSchema.safeParse(input);
    if (!parsed.success) {
      throw new WaypointError("invalid_input", `Invalid input for agent "${agentName}": ${describeZodError(parsed.error)}. Example: ${JSON.stringify(def.sampleInput)}`, {
        details: { agent: agentName },
      });
    }
    const threadId = opts.threadId ?? randomUUID();
    await insertThreadRow(this.pool, { threadId, agent: def.name, version: def.version, input: parsed.data, status: "error" });
    await saveThreadPolicy(this.pool, threadId, policy, opts.policy === undefined ? "default" : "run");
    return { threadId, def, input: parsed.data };
  }

  /** Start a new thread of `agentName` with `input` and run it until it finishes or waits. */
  async start(agentName: string, input: unknown, opts: RunOptions & { threadId?: string } = {}): Promise<ThreadView> {
    const created = await this.createThread(agentName, input, opts);
    const { policy: _stored, ...rest } = opts;
    return this.execute(created.threadId, created.input, rest);
  }

  /** Continue a thread that stopped (crash, error) from its last checkpoint. */
  async resume(threadId: string, opts: RunOptions = {}): Promise<ThreadView> {
    const view = await this.view(threadId);
    if (view.status === "interrupted") {
      throw new WaypointError("nothing_pending", `Thread ${threadId} is waiting for a decision, not stopped: use \`waypoint decide ${threadId} approve|edit|reject|respond\`.`, {
        details: { status: view.status },
      });
    }
    if (view.status === "done") throw new WaypointError("thread_finished", `Thread ${threadId} has finished; there is nothing to resume.`, { details: { status: view.status } });
    if (view.status === "running") throw new WaypointError("thread_busy", `Thread ${threadId} is running (${view.detail}).`);
    return this.advance(threadId, opts);
  }

  /**
   * Take a thread as far as it goes from where it is: start it from its recorded input when it has no
   * checkpoint, apply recorded decisions it has not used, or continue from its last checkpoint. A thread
   * that is done, or waits for a decision nobody gave, is left as it is. What workers run.
   */
  async advance(threadId: string, opts: RunOptions = {}): Promise<ThreadView> {
    const row = await getThreadRow(this.pool, threadId);
    // One read of the checkpoint decides it (workers call this for every run: keep it cheap).
    const [snapshot, decided] = await Promise.all([this.snapshot(row), recordedDecisions(this.pool, threadId)]);
    if (!snapshot.config.configurable?.checkpoint_id) return this.execute(threadId, row.input, opts);
    const open = new Set(pendingReviews(snapshot).map((p) => p.interruptId));
    const decisions = Object.fromEntries([...decided].filter(([id]) => open.has(id)));
    if (Object.keys(decisions).length) return this.execute(threadId, new Command({ resume: decisions }), opts);
    if (opts.command || opts.fromCheckpoint) {
      // A person asked for it: continue even from a finished or waiting state (what the API's command and checkpoint_id mean).
      return this.execute(threadId, opts.command ? new Command({ ...(opts.command.update ? { update: opts.command.update } : {}), ...(opts.command.goto ? { goto: opts.command.goto } : {}) }) : null, opts);
    }
    if (isFinished(snapshot) || open.size > 0) return this.viewRow(row, snapshot);
    return this.execute(threadId, null, opts);
  }

  /** Node names of an agent's graph (to check a `goto`). */
  nodeNames(agentName: string): string[] {
    const nodes = (this.graphFor(this.agent(agentName)) as unknown as { nodes: Record<string, unknown> }).nodes;
    return Object.keys(nodes).filter((n) => !n.startsWith("__"));
  }

  /**
   * Check a response against the pending review it answers and record it (nothing runs yet): a bad
   * decision changes nothing. Returns the interrupt it answers.
   */
  async recordDecision(threadId: string, response: unknown, opts: { interruptId?: string } = {}): Promise<string> {
    const view = await this.view(threadId);
    if (view.pending.length === 0) {
      throw new WaypointError("nothing_pending", `Thread ${threadId} has no decision pending (status: ${view.status}${view.detail ? `, ${view.detail}` : ""}).`, {
        details: { status: view.status },
      });
    }
    let target = view.pending[0];
    if (opts.interruptId) {
      target = view.pending.find((p) => p.interruptId === opts.interruptId);
      if (!target) throw new WaypointError("invalid_decision", `Thread ${threadId} has no pending interrupt "${opts.interruptId}". Pending: ${view.pending.map((p) => p.interruptId).join(", ")}.`);
    } else if (view.pending.length > 1) {
      throw new WaypointError("invalid_decision", `Thread ${threadId} has ${view.pending.length} pending reviews; say which with an interrupt id: ${view.pending.map((p) => p.interruptId).join(", ")}.`);
    }
    if (!target) throw new WaypointError("nothing_pending", `Thread ${threadId} has no decision pending.`);
    validateResponse(target.request, response, this.agent(view.agent).tools);
    await recordDecision(this.pool, threadId, target.interruptId, response);
    return target.interruptId;
  }

  /**
   * Answer the pending review of a thread and run on. The response is checked against the request and
   * the tools' schemas before anything is written: a bad decision changes nothing.
   */
  async decide(threadId: string, response: unknown, opts: RunOptions & { interruptId?: string } = {}): Promise<ThreadView> {
    const interruptId = await this.recordDecision(threadId, response, opts);
    await haltPoint("decide.recorded");
    return this.execute(threadId, new Command({ resume: { [interruptId]: response } }), opts);
  }

  /** Copy a thread as of one of its checkpoints into a new thread (the original is untouched). */
  async fork(threadId: string, checkpointId: string): Promise<ThreadView> {
    const row = await getThreadRow(this.pool, threadId);
    const { rowCount } = await this.pool.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, checkpointId]);
    if (!rowCount) {
      throw new WaypointError("unknown_checkpoint", `Thread ${threadId} has no checkpoint "${checkpointId}". See \`waypoint history ${threadId}\`.`, { details: { threadId, checkpointId } });
    }
    const newId = randomUUID();
    await insertThreadRow(this.pool, { threadId: newId, agent: row.agent, version: row.graph_version, input: row.input, forkedFrom: { threadId, checkpointId }, status: "error" });
    await copyThread(this.pool, threadId, newId, checkpointId);
    await releaseThread(this.pool, newId, "error", `forked from ${threadId} at ${checkpointId}; \`waypoint resume ${newId}\` continues it`);
    return this.view(newId);
  }

  /** Delete a thread's checkpoints and registry entry. World effects and the ledger stay (they happened). */
  async remove(threadId: string): Promise<void> {
    const row = await getThreadRow(this.pool, threadId);
    await claimThread(this.pool, row);
    await this.persistence.saver.deleteThread(threadId);
    await this.pool.query("DELETE FROM waypoint.threads WHERE thread_id = $1", [threadId]);
  }

  /** The thread's raw LangGraph state (for the API), subgraphs included. */
  async state(threadId: string): Promise<StateSnapshot> {
    return this.snapshot(await getThreadRow(this.pool, threadId));
  }

  /** The thread's state as of one checkpoint (for the API). */
  async stateAt(threadId: string, checkpointId: string): Promise<StateSnapshot> {
    const row = await getThreadRow(this.pool, threadId);
    const { rowCount } = await this.pool.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, checkpointId]);
    if (!rowCount) throw new WaypointError("unknown_checkpoint", `Thread ${threadId} has no checkpoint "${checkpointId}".`, { details: { threadId, checkpointId } });
    return this.graphFor(this.agent(row.agent)).getState({ configurable: { thread_id: threadId, checkpoint_id: checkpointId } });
  }

  /**
   * Write values into a thread's state as if `asNode` had returned them (a new checkpoint). Refused
   * while the thread runs.
   */
  async updateState(threadId: string, values: Record<string, unknown>, asNode?: string): Promise<string> {
    const row = await getThreadRow(this.pool, threadId);
    await claimThread(this.pool, row);
    try {
      const config = await this.graphFor(this.agent(row.agent)).updateState({ configurable: { thread_id: threadId } }, values, asNode);
      return String(config.configurable?.checkpoint_id ?? "");
    } catch (e) {
      throw new WaypointError("invalid_input", `Could not update the state of thread ${threadId}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    } finally {
      const snap = await this.snapshot(row);
      await releaseThread(this.pool, threadId, pendingReviews(snap).length ? "interrupted" : isFinished(snap) ? "done" : "error", null);
    }
  }

  /** The thread's raw checkpoints, newest first (for the API). */
  async stateHistory(threadId: string, opts: { limit?: number; before?: string } = {}): Promise<StateSnapshot[]> {
    const row = await getThreadRow(this.pool, threadId);
    const out: StateSnapshot[] = [];
    const options = { limit: opts.limit ?? 10, ...(opts.before ? { before: { configurable: { thread_id: threadId, checkpoint_id: opts.before } } } : {}) };
    for await (const snap of this.graphFor(this.agent(row.agent)).getStateHistory({ configurable: { thread_id: threadId } }, options)) out.push(snap);
    return out;
  }

  /** The compiled graph of an agent (for the API's graph drawing). */
  compiledGraph(agentName: string): CompiledAgent {
    return this.graphFor(this.agent(agentName));
  }

  async history(threadId: string, limit = 100): Promise<HistoryEntry[]> {
    const row = await getThreadRow(this.pool, threadId);
    const out: HistoryEntry[] = [];
    for await (const snap of this.graphFor(this.agent(row.agent)).getStateHistory({ configurable: { thread_id: threadId } }, { limit })) {
      const meta = (snap.metadata ?? {}) as { step?: number; source?: string };
      out.push({
        checkpointId: String(snap.config.configurable?.checkpoint_id ?? ""),
        parentId: snap.parentConfig?.configurable?.checkpoint_id as string | undefined,
        step: meta.step ?? -1,
        source: meta.source ?? "",
        createdAt: snap.createdAt,
        next: [...snap.next],
        writes: snap.tasks.filter((t) => t.result !== undefined).map((t) => `${t.name}: ${summariseUpdate(t.result) || "no change"}`),
        interrupted: snap.tasks.some((t) => t.interrupts.length > 0),
      });
    }
    return out;
  }

  private async execute(threadId: string, input: unknown, opts: RunOptions): Promise<ThreadView> {
    const row = await getThreadRow(this.pool, threadId);
    const def = this.agent(row.agent);
    if (row.graph_version !== def.version) {
      throw new WaypointError("version_mismatch", `Thread ${threadId} started on ${def.name} version ${row.graph_version}; this code has version ${def.version} and will not resume it.`);
    }
    const override = opts.policy === undefined ? undefined : this.checkPolicy(def.name, opts.policy);
    await claimThread(this.pool, row);
    let status: ThreadStatus = "error";
    let detail: string | null = null;
    let snap: StateSnapshot | undefined;
    try {
      if (override) await saveThreadPolicy(this.pool, threadId, override, "run");
      const facts = await runStartFacts(this.pool, threadId, def);
      const context: AgentContext = {
        ...this.context,
        policy: facts.policy,
        agent: def.name,
        run: { startedAt: Date.now(), startStep: facts.startStep, recursionLimit: this.recursionLimit },
      };
      const stream = await this.graphFor(def).stream(input, {
        configurable: { thread_id: threadId, ...(opts.fromCheckpoint ? { checkpoint_id: opts.fromCheckpoint } : {}) },
        context,
        recursionLimit: this.recursionLimit,
        durability: "sync",
        streamMode: opts.onChunk ? ["updates", "values", "custom", "messages", "debug"] : ["updates"],
        subgraphs: true,
        callbacks: [...(opts.callbacks ?? []), ...(this.trace ? [this.trace] : [])],
        ...(opts.control ? { control: opts.control } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      for await (const chunk of stream) {
        const [ns, mode, data] = chunk as [string[], "updates" | "values" | "custom" | "messages" | "debug", unknown];
        await opts.onChunk?.(mode, ns, data);
        if (mode !== "updates") continue;
        for (const [node, value] of Object.entries(data as Record<string, unknown>)) {
          if (node === "__interrupt__") continue;
          opts.onProgress?.({ namespace: ns.map((p) => p.split(":")[0]).join("|"), node, summary: summariseUpdate(value) || "no change" });
        }
      }
      snap = await this.snapshot(row);
      status = pendingReviews(snap).length > 0 ? "interrupted" : isFinished(snap) ? "done" : "error";
      detail = status === "error" ? `stopped before ${snap.next.join(", ")}` : null;
    } catch (e) {
      if (isGraphDrained(e)) {
        // Stopped on purpose at a super-step boundary (drain, cancel): checkpointed, nothing lost.
        detail = `paused between steps (${e.reason || "drain"}); it continues from its last checkpoint`;
        throw new WaypointError("drained", `Thread ${threadId} paused between steps: ${e.reason || "drain"}.`, { details: { reason: e.reason }, cause: e });
      }
      detail = e instanceof Error ? e.message : String(e);
      if (e instanceof GraphRecursionError) {
        // The guard pauses a run before this; a sub-agent's own loop can still reach it. Nothing is lost.
        detail = `the run took ${this.recursionLimit} steps without finishing (the recursion limit); it stopped at its last checkpoint`;
      }
      // A tool or model that kept failing is an expected stop (the message says what to do); anything else is a bug.
      if (isWaypointError(e) || opts.signal?.aborted) log.info({ threadId, reason: detail }, "run stopped");
      else log.error({ err: e, threadId }, "run failed");
      throw new WaypointError("run_failed", `Thread ${threadId} stopped with an error: ${detail}. Fix the cause, then \`waypoint resume ${threadId}\`.`, { cause: e });
    } finally {
      await releaseThread(this.pool, threadId, status, detail);
    }
    // The checkpoint read just above is the final one; only the registry row changed since.
    return this.viewRow(await getThreadRow(this.pool, threadId), snap);
  }
}
