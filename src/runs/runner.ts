// Waypoint: the graphs of a langgraph.json on Postgres. Every run is a row in the runs queue carried by a
// worker or, for a CLI command in the foreground, by the CLI process itself (same liveness lock, so a
// killed CLI's run is taken over like a dead worker's). Views, history, forks and deletes of threads.
import { randomUUID } from "node:crypto";
import path from "node:path";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { LangGraphRunnableConfig, StateSnapshot } from "@langchain/langgraph";
import { config } from "../config.js";
import { withTransaction } from "../db/index.js";
import { WaypointError } from "../errors.js";
import { haltPoint } from "../halt.js";
import { copyThread, openPersistence, type Persistence } from "../persistence/index.js";
import { Registry, type AnyGraph } from "../registry/index.js";
import { ledgerRows, openLedgerRowsOf } from "../tools/index.js";
import { registerSystemAssistants } from "./assistants.js";
import { Carrier } from "./carrier.js";
import { Executor, graphFor, summariseUpdate, threadOutcome, type ProgressEvent } from "./execute.js";
import { activeRuns, claimRun, getRun, liveRuns, reapOrphans, retryRun, submitRun, type RunRow } from "./queue.js";
import { outcomeOrThrow, prepareSubmission, submit, type Submission } from "./submit.js";
import { describeOpenCall, findThreadRow, getThreadRow, listThreadRows, listView, noticesFor, noticesOfMany, usablePending, viewOf, type ThreadRow, type ThreadView } from "./threads.js";
import { NodeTraceHandler } from "./trace.js";

export interface WaypointOptions {
  /** Database to use instead of the configured one. */
  url?: string;
  /** Pool size. */
  poolMax?: number;
  /** The langgraph.json whose graphs this process serves (default ./langgraph.json). */
  config?: string;
  /** Graphs already loaded (instead of reading `config`). */
  registry?: Registry;
  /** Objects merged into every run's LangGraph context (tests: a scripted model, a world). */
  context?: Record<string, unknown>;
  /** Shortcuts into `context` for Waypoint's agent nodes (see src/agents/context.ts) and the demo world (graphs/world.ts). */
  model?: BaseChatModel;
  world?: unknown;
  fallbackModel?: BaseChatModel | null;
  modelRetry?: import("../models/index.js").LadderOptions;
  summaryTokens?: number;
  /** Tool-call backoff delays (tests use tiny ones). */
  toolRetry?: Partial<import("../tools/index.js").RetryPolicy>;
  /** Slow every step of Waypoint's agent nodes down by this many ms (demos and crash tests). */
  paceMs?: number;
  /** Recursion limit of runs that set none (before the graph's own default). */
  recursionLimit?: number;
  /** LangChain callback handlers for every run (tests). */
  callbacks?: BaseCallbackHandler[];
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

/** The langgraph.json a process serves when none is named: the one in the working directory. */
export function defaultConfigPath(): string {
  return path.resolve(process.cwd(), "langgraph.json");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Waypoint {
  private carrierP: Promise<Carrier> | undefined;

  private constructor(
    readonly persistence: Persistence,
    readonly registry: Registry,
    readonly executor: Executor,
  ) {}

  static async open(opts: WaypointOptions = {}): Promise<Waypoint> {
    const registry = opts.registry ?? (await Registry.load(opts.config ?? defaultConfigPath()));
    const persistence = await openPersistence({ ...(opts.url ? { url: opts.url } : {}), ...(opts.poolMax ? { poolMax: opts.poolMax } : {}) });
    const context: Record<string, unknown> = { ...opts.context };
    if (opts.model) context.model = opts.model;
    if (opts.world) context.world = opts.world;
    if (opts.fallbackModel !== undefined) context.fallbackModel = opts.fallbackModel;
    if (opts.modelRetry) context.modelRetry = opts.modelRetry;
    if (opts.toolRetry) context.toolRetry = opts.toolRetry;
    if (opts.summaryTokens !== undefined) context.summaryTokens = opts.summaryTokens;
    const trace = config().traceFile ? new NodeTraceHandler(config().traceFile as string) : undefined;
    const executor = new Executor(registry, persistence, {
      context,
      paceMs: opts.paceMs,
      toolRetry: opts.toolRetry as Record<string, number> | undefined,
      recursionLimit: opts.recursionLimit,
      callbacks: [...(opts.callbacks ?? []), ...(trace ? [trace] : [])],
    });
    const wp = new Waypoint(persistence, registry, executor);
    await registerSystemAssistants(persistence.db.pool, [...registry.graphs.values()].map((g) => ({ id: g.id, description: g.description })));
    return wp;
  }

  get pool() {
    return this.persistence.db.pool;
  }

  async close(): Promise<void> {
    const carrier = await this.carrierP?.catch(() => undefined);
    await carrier?.close();
    await this.persistence.close();
  }

  /** This process's carrier, for runs a CLI command carries in the foreground. */
  private carrier(): Promise<Carrier> {
    this.carrierP ??= Carrier.connect(this);
    return this.carrierP;
  }

  /** A graph object with Waypoint's checkpointer and store (a factory graph built for `config`). */
  async graph(graphId: string, cfg?: LangGraphRunnableConfig): Promise<AnyGraph> {
    return graphFor(this.registry.get(graphId), this.persistence, cfg);
  }

  async nodeNames(graphId: string): Promise<string[]> {
    const g = await this.registry.get(graphId).instance();
    return Object.keys(g.nodes).filter((n) => !n.startsWith("__"));
  }

  /** Check and queue a run (a worker carries it). */
  submit(s: Submission) {
    return submit(this, s);
  }

  /**
   * Submit a run and carry it in this process (printing progress), then show the thread. A run queued
   * behind another run of the thread is carried once it is its turn; one a worker took is followed.
   */
  async run(s: Submission, opts: { onProgress?: (e: ProgressEvent) => void } = {}): Promise<ThreadView> {
    const carrier = await this.carrier();
    const prepared = await prepareSubmission(this, { ...s, claimFor: { workerId: carrier.id, lock: carrier.lock } });
    const lg = this.registry.get(prepared.graphId);
    const row = await findThreadRow(this.pool, prepared.threadId);
    if (row?.graph_version && row.graph_version !== lg.version) {
      throw new WaypointError("version_mismatch", `Thread ${prepared.threadId} started on ${prepared.graphId} version ${row.graph_version}; this code has version ${lg.version} and will not resume it.`);
    }
    const { run, claimed } = outcomeOrThrow(await submitRun(this.pool, prepared), prepared.threadId);
    if (run.kind === "decide") await haltPoint("decide.recorded");
    return this.carryOrFollow(carrier, run, claimed ? run : undefined, opts);
  }

  private async carryOrFollow(carrier: Carrier, run: RunRow, claimed: RunRow | undefined, opts: { onProgress?: (e: ProgressEvent) => void }): Promise<ThreadView> {
    let mine = claimed;
    for (;;) {
      if (mine) {
        const result = await carrier.carry(mine, { onProgress: opts.onProgress, maxAttempts: config().worker.maxAttempts });
        if (result.status === "requeued" && result.detail?.startsWith("attempt")) {
          throw new WaypointError("run_failed", `Thread ${run.thread_id} stopped with an error: ${result.detail}. A worker retries it, or \`waypoint resume ${run.thread_id}\`.`);
        }
        break;
      }
      const now = await getRun(this.pool, run.run_id);
      if (now.status === "pending") {
        mine = await claimRun(this.pool, run.run_id, { workerId: carrier.id, lock: carrier.lock });
        if (!mine) await sleep(200);
        continue;
      }
      if (now.status === "running") {
        await sleep(200); // another process carries it: follow until it ends
        continue;
      }
      break;
    }
    const done = await getRun(this.pool, run.run_id);
    const view = await this.view(run.thread_id);
    if (done.status === "error" || done.status === "dead") {
      throw new WaypointError("run_failed", `Thread ${run.thread_id} stopped with an error: ${done.detail ?? view.detail ?? "unknown"}. Fix the cause, then \`waypoint resume ${run.thread_id}\`.`, {
        details: { view },
      });
    }
    return view;
  }

  /** Start a new thread of `graph` with `input` and run it here until it finishes or waits. */
  start(graph: string, input: unknown, opts: { threadId?: string; policy?: unknown; owner?: string; onProgress?: (e: ProgressEvent) => void } = {}): Promise<ThreadView> {
    return this.run(
      { assistant: graph, input, ...(opts.threadId ? { threadId: opts.threadId } : {}), ...(opts.policy !== undefined ? { policy: opts.policy } : {}), ...(opts.owner ? { threadMetadata: { owner: opts.owner } } : {}) },
      opts,
    );
  }

  /** Carry a run that is already queued (claim it when it is its turn), or follow it when another process has it. */
  private async carryExisting(runId: string, opts: { onProgress?: (e: ProgressEvent) => void }): Promise<ThreadView> {
    const carrier = await this.carrier();
    return this.carryOrFollow(carrier, await getRun(this.pool, runId), undefined, opts);
  }

  /** Continue a thread that stopped (crash, error, fork) from its last checkpoint, in this process. */
  async resume(threadId: string, opts: { onProgress?: (e: ProgressEvent) => void; value?: unknown } = {}): Promise<ThreadView> {
    const view = await this.view(threadId);
    if (opts.value !== undefined) {
      if (view.pending.length === 0) throw new WaypointError("nothing_pending", `Thread ${threadId} waits for no answer (${view.status}); \`waypoint resume ${threadId}\` without --value continues it.`);
      return this.run({ threadId, command: { resume: opts.value } }, opts);
    }
    if (view.status === "interrupted") {
      const hitl = view.pending.some((p) => p.request);
      throw new WaypointError(
        "nothing_pending",
        `Thread ${threadId} is waiting for an answer, not stopped: ${hitl ? `use \`waypoint decide ${threadId} <decision>\`` : `use \`waypoint resume ${threadId} --value <json>\``} (see \`waypoint show ${threadId}\`).`,
        { details: { status: view.status } },
      );
    }
    if (view.status === "done") throw new WaypointError("thread_finished", `Thread ${threadId} has finished; there is nothing to resume.`, { details: { status: view.status } });
    if (view.status === "running") throw new WaypointError("thread_busy", `Thread ${threadId} is running (${view.detail}).`);
    // A run of the thread is already recorded (queued, or its carrier died): carry that one here.
    if (view.activeRun) {
      const runId = view.activeRun.run_id;
      if (view.activeRun.status === "running") {
        await reapOrphans(this.pool, config().worker.maxCrashes);
        // A person resuming is the retry a run that died too often waits for.
        if ((await getRun(this.pool, runId)).status === "dead") await retryRun(this.pool, runId);
      }
      return this.carryExisting(runId, opts);
    }
    return this.run({ threadId }, opts);
  }

  /** Answer the thread's pending interrupt (one id, or the only one) and run on, in this process. */
  async decide(threadId: string, response: unknown, opts: { interruptId?: string; onProgress?: (e: ProgressEvent) => void } = {}): Promise<ThreadView> {
    return this.run({ threadId, command: { resume: opts.interruptId ? { [opts.interruptId]: response } : response } }, opts);
  }

  /** The thread's state, subgraphs included unless asked otherwise (throws unknown_thread). */
  async snapshotOf(threadId: string, opts: { subgraphs?: boolean; checkpointId?: string } = {}): Promise<StateSnapshot> {
    const row = await getThreadRow(this.pool, threadId);
    return this.snapshotOfRow(row, opts);
  }

  private async snapshotOfRow(row: ThreadRow, opts: { subgraphs?: boolean; checkpointId?: string } = {}): Promise<StateSnapshot> {
    if (!row.graph_id) return { values: {}, next: [], config: {}, tasks: [] } as unknown as StateSnapshot;
    const g = await this.graph(row.graph_id, { configurable: { thread_id: row.thread_id } });
    return g.getState({ configurable: { thread_id: row.thread_id, ...(opts.checkpointId ? { checkpoint_id: opts.checkpointId } : {}) } }, { subgraphs: opts.subgraphs ?? true });
  }

  /** The view of a thread row already read (a page of the inbox reads its rows in one query). */
  async viewRow(row: ThreadRow): Promise<ThreadView> {
    const [snap, active, open] = await Promise.all([
      row.graph_id && this.registry.has(row.graph_id) ? this.snapshotOfRow(row) : Promise.resolve(undefined),
      activeRuns(this.pool, row.thread_id),
      ledgerRows(this.pool, row.thread_id, { open: true }),
    ]);
    const current = active.find((r) => r.status === "running") ?? active[0];
    const alive = current?.status === "running" ? (await liveRuns(this.pool, [current.run_id])).has(current.run_id) : true;
    const view = viewOf(row, snap, current, open, alive);
    if (view.pending.length) view.notices = await noticesFor(this.pool, row.thread_id, view.pending.map((p) => p.interruptId));
    return view;
  }

  /**
   * Views of threads that wait for an answer and that no run is about to answer (the inbox's page):
   * pending interrupts from each row, open calls and notices for the whole page in two queries, so no
   * checkpoint is read. A row that does not keep its pending interrupts gets the full view.
   */
  async waitingViews(rows: ThreadRow[]): Promise<ThreadView[]> {
    const known = rows.flatMap((row) => {
      const pending = usablePending(row);
      return pending ? [{ row, pending }] : [];
    });
    const ids = known.map((k) => k.row.thread_id);
    const [open, notices, others] = await Promise.all([
      openLedgerRowsOf(this.pool, ids),
      noticesOfMany(this.pool, new Map(known.map((k) => [k.row.thread_id, k.pending.map((p) => p.interruptId)]))),
      Promise.all(rows.filter((r) => !ids.includes(r.thread_id)).map((r) => this.viewRow(r))),
    ]);
    const byId = new Map<string, ThreadView>(others.map((v) => [v.threadId, v]));
    for (const { row, pending } of known) {
      const view = listView(row, undefined);
      view.pending = pending;
      view.openCalls = (open.get(row.thread_id) ?? []).map((r) => describeOpenCall(r, false));
      view.notices = notices.get(row.thread_id) ?? [];
      byId.set(row.thread_id, view);
    }
    return rows.map((r) => byId.get(r.thread_id)!);
  }

  async view(threadId: string): Promise<ThreadView> {
    return this.viewRow(await getThreadRow(this.pool, threadId));
  }

  /**
   * One page of threads, newest first, as `waypoint threads` lists them: status and detail from the thread
   * rows and their active runs in one query (no checkpoint is read; `waypoint show` builds the full view).
   */
  async list(opts: { limit?: number; offset?: number } = {}): Promise<ThreadView[]> {
    return (await listThreadRows(this.pool, opts)).map((r) => listView(r, r.active_run ?? undefined, r.active_alive ?? true));
  }

  /** Copy a thread as of one of its checkpoints into a new thread (the original is untouched). */
  async fork(threadId: string, checkpointId: string, opts: { metadata?: Record<string, unknown>; newThreadId?: string } = {}): Promise<ThreadView> {
    const row = await getThreadRow(this.pool, threadId);
    const newId = opts.newThreadId ?? randomUUID();
    await withTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, checkpointId]);
      if (!rowCount) throw new WaypointError("unknown_checkpoint", `Thread ${threadId} has no checkpoint "${checkpointId}". See \`waypoint history ${threadId}\`.`, { details: { threadId, checkpointId } });
      await client.query(
        `INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, status_detail, input, forked_from, metadata, config, "values", interrupts)
         VALUES ($1, $2, $3, 'idle', $4, $5, $6, $7, $8, $9, '{}')`,
        [
          newId,
          row.graph_id,
          row.graph_version,
          `forked from ${threadId} at ${checkpointId}`,
          JSON.stringify(row.input ?? null),
          JSON.stringify({ threadId, checkpointId }),
          JSON.stringify({ ...row.metadata, ...opts.metadata }),
          JSON.stringify(row.config ?? {}),
          JSON.stringify(row.values ?? null),
        ],
      );
      await copyThread(client, threadId, newId, checkpointId);
    });
    await this.refreshThread(newId);
    return this.view(newId);
  }

  /**
   * Read a thread row's values and interrupts again from its checkpoint (after a state edit or a copy).
   * Its status is a run's to set, as the reference server keeps it; only a busy thread that no run owns
   * (what the doctor finds) gets one from its checkpoint.
   */
  async refreshThread(threadId: string): Promise<void> {
    const snap = await this.snapshotOf(threadId);
    const out = threadOutcome(snap, null);
    await this.pool.query(
      `UPDATE waypoint.threads SET "values" = $2, interrupts = $3, pending = $5, updated_at = now(),
              status = CASE WHEN EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = $1 AND r.status IN ('pending', 'running')) THEN 'busy'
                            WHEN status = 'busy' THEN $4 ELSE status END
        WHERE thread_id = $1`,
      [threadId, JSON.stringify(out.values), JSON.stringify(out.interrupts), out.status, out.pending ? JSON.stringify(out.pending) : null],
    );
  }

  /** Delete a thread: its checkpoints, runs and row. World effects and the ledger stay (they happened). */
  async deleteThread(threadId: string): Promise<void> {
    const active = await activeRuns(this.pool, threadId);
    if (active.some((r) => r.status === "running")) throw new WaypointError("thread_busy", `Thread ${threadId} has a running run (${active[0]?.run_id}); cancel it first.`);
    await this.persistence.saver.deleteThread(threadId);
    // Runs on the thread that carried an Idempotency-Key stay answerable (migration 22): a retry with the
    // key gets the run back, not a second run. One statement, so the thread is gone and its keys spent together.
    await this.pool.query(
      `WITH spent AS (
         INSERT INTO waypoint.spent_keys (scope, idempotency_key, run_id, run, "values")
         SELECT coalesce(r.idempotency_scope, ''), r.idempotency_key, r.run_id, to_jsonb(r), t."values"
           FROM waypoint.runs r JOIN waypoint.threads t USING (thread_id)
          WHERE r.thread_id = $1 AND r.idempotency_key IS NOT NULL
         ON CONFLICT DO NOTHING)
       DELETE FROM waypoint.threads WHERE thread_id = $1`,
      [threadId],
    );
  }

  async history(threadId: string, limit = 100): Promise<HistoryEntry[]> {
    return this.historyOfRow(await getThreadRow(this.pool, threadId), limit);
  }

  /** The history of a thread row already read. */
  async historyOfRow(row: ThreadRow, limit = 100): Promise<HistoryEntry[]> {
    const threadId = row.thread_id;
    const out: HistoryEntry[] = [];
    if (!row.graph_id) return out;
    const g = await this.graph(row.graph_id, { configurable: { thread_id: threadId } });
    for await (const snap of g.getStateHistory({ configurable: { thread_id: threadId } }, { limit })) {
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
}
