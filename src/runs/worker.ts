// A worker: claims queued runs and carries them to their end. It holds one liveness lock (a session
// advisory lock on a dedicated connection, which also LISTENs for wake-ups and stop requests): when the
// process dies the lock vanishes and any other worker's reaper queues its runs again within a second.
// A worker that loses that connection stops its graphs at once (it may no longer own them). SIGTERM
// drains: stop claiming, stop each graph at its next super-step, hand the runs back, exit in time.
import os from "node:os";
import { randomUUID } from "node:crypto";
import { RunControl } from "@langchain/langgraph";
import pg from "pg";
import { AGENTS } from "../../graphs/index.js";
import { config } from "../config.js";
import { isWaypointError } from "../errors.js";
import { log } from "../log.js";
import { pruneAll } from "../persistence/index.js";
import { RunEventWriter } from "./events.js";
import { fireDueTimers, scheduleDeadlines, type DeadlinePolicy } from "./deadlines.js";
import { diagnose } from "./doctor.js";
import {
  claimRuns,
  finishRun,
  LOCK_CLASS,
  markStart,
  reapOrphans,
  requeueRun,
  rollBack,
  STOP_CHANNEL,
  WAKE_CHANNEL,
  type RunRow,
  type StopRequest,
  type WorkerIdentity,
} from "./queue.js";
import { Waypoint, type WaypointOptions } from "./runner.js";
import { submit } from "./submit.js";

export interface WorkerOptions extends WaypointOptions {
  /** Runs carried at once (default WAYPOINT_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** Longest a drain may take before the worker gives up waiting (default WAYPOINT_DRAIN_GRACE_MS). */
  graceMs?: number;
  /** Worker deaths a run survives before it is dead (default WAYPOINT_MAX_CRASHES). */
  maxCrashes?: number;
  /** Attempts of a run that keeps failing before it is dead (default WAYPOINT_RUN_MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** "agent@version" pairs this worker runs; default: every agent in this code at its version. */
  versions?: string[];
  /** Fallback poll when no NOTIFY arrives (ms). */
  pollMs?: number;
  /** How often this worker looks for runs whose worker died (ms). */
  reapMs?: number;
  /** How often it runs the doctor's repairs (ms; 0 = never). */
  doctorMs?: number;
  /** How often it prunes old checkpoints of every thread (ms; 0 = never; default WAYPOINT_RETENTION_INTERVAL_MS). */
  pruneMs?: number;
  /** Deadline to put on reviews a run stops at (durable timers), if any. */
  reviewDeadline?: DeadlinePolicy;
  /** Every notable thing the worker does, for logs and tests. */
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: "claimed"; run: RunRow }
  | { type: "finished"; runId: string; threadId: string; status: string; detail: string | null }
  | { type: "requeued"; runId: string; reason: string }
  | { type: "reaped"; runId: string; status: string }
  | { type: "step"; runId: string; node: string; at: number }
  | { type: "fenced"; reason: string }
  | { type: "drained"; handedBack: number };

interface Active {
  run: RunRow;
  control: RunControl;
  abort: AbortController;
  stop: StopRequest | undefined;
  done: Promise<void>;
}

/** A "messages" chunk is [message, metadata]; keep the metadata a client uses (node, step, thread). */
function messageTuple(data: unknown): unknown {
  const [message, metadata] = data as [unknown, Record<string, unknown> | undefined];
  const keep = ["langgraph_node", "langgraph_step", "langgraph_checkpoint_ns", "thread_id", "tags", "name"];
  return [message, Object.fromEntries(Object.entries(metadata ?? {}).filter(([k]) => keep.includes(k)))];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Worker {
  readonly id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly active = new Map<string, Active>();
  private client: pg.Client | undefined;
  private lock = 0;
  private stopping = false;
  private fenced = false;
  private wake: () => void = () => undefined;
  private timers: NodeJS.Timeout[] = [];
  private loopDone: Promise<void> = Promise.resolve();
  private pruning = false;
  private readonly settings: Required<Pick<WorkerOptions, "concurrency" | "graceMs" | "maxCrashes" | "maxAttempts" | "pollMs" | "reapMs" | "doctorMs" | "pruneMs">>;
  readonly versions: string[];

  private constructor(
    readonly wp: Waypoint,
    private readonly opts: WorkerOptions,
  ) {
    const c = config();
    this.settings = {
      concurrency: opts.concurrency ?? c.worker.concurrency,
      graceMs: opts.graceMs ?? c.worker.graceMs,
      maxCrashes: opts.maxCrashes ?? c.worker.maxCrashes,
      maxAttempts: opts.maxAttempts ?? c.worker.maxAttempts,
      pollMs: opts.pollMs ?? 1_000,
      reapMs: opts.reapMs ?? 250,
      doctorMs: opts.doctorMs ?? 30_000,
      pruneMs: opts.pruneMs ?? c.retention.intervalMs,
    };
    this.versions = opts.versions ?? Object.values(AGENTS).map((a) => `${a.name}@${a.version}`);
  }

  /** Open the database, take a liveness lock, and start claiming runs. */
  static async start(opts: WorkerOptions = {}): Promise<Worker> {
    const wp = await Waypoint.open(opts);
    const worker = new Worker(wp, opts);
    await worker.connect();
    await wp.pool.query("INSERT INTO waypoint.workers (worker_id, worker_lock, pid, host, versions, concurrency) VALUES ($1, $2, $3, $4, $5, $6)", [
      worker.id,
      worker.lock,
      process.pid,
      os.hostname(),
      worker.versions,
      worker.settings.concurrency,
    ]);
    worker.timers.push(setInterval(() => void worker.reap(), worker.settings.reapMs));
    worker.timers.push(setInterval(() => void worker.tick(), 1_000));
    if (worker.settings.doctorMs > 0) worker.timers.push(setInterval(() => void worker.checkup(), worker.settings.doctorMs));
    if (worker.settings.pruneMs > 0) worker.timers.push(setInterval(() => void worker.prune(), worker.settings.pruneMs));
    worker.loopDone = worker.loop();
    log.info({ worker: worker.id, versions: worker.versions, concurrency: worker.settings.concurrency }, "worker started");
    return worker;
  }

  get identity(): WorkerIdentity {
    return { workerId: this.id, lock: this.lock, versions: this.versions };
  }

  /** Runs this worker is carrying now. */
  get running(): string[] {
    return [...this.active.keys()];
  }

  private emit(e: WorkerEvent): void {
    this.opts.onEvent?.(e);
  }

  /** The dedicated connection: liveness lock + LISTEN. Losing it fences the worker. */
  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.wp.persistence.db.url, keepAlive: true });
    client.on("error", (e) => this.fence(`lock connection failed: ${e.message}`));
    client.on("end", () => this.fence("lock connection closed"));
    client.on("notification", (n) => this.onNotification(n.channel, n.payload ?? ""));
    await client.connect();
    const { rows } = await client.query<{ lock: string }>("SELECT nextval('waypoint.worker_lock_seq') AS lock");
    this.lock = Number(rows[0]?.lock);
    await client.query("SELECT pg_advisory_lock($1, $2)", [LOCK_CLASS, this.lock]);
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
    await client.query(`LISTEN ${STOP_CHANNEL}`);
    this.client = client;
    this.fenced = false;
  }

  /** Lost the lock: another worker may take these runs over now, so stop every graph at once. */
  private fence(reason: string): void {
    if (this.fenced || (this.stopping && !this.client)) return;
    this.fenced = true;
    this.client = undefined;
    for (const a of this.active.values()) a.abort.abort(new Error(`fenced: ${reason}`));
    log.warn({ worker: this.id, reason, runs: this.active.size }, "worker lost its liveness lock; stopped its runs");
    this.emit({ type: "fenced", reason });
    this.wake();
  }

  private onNotification(channel: string, payload: string): void {
    if (channel === WAKE_CHANNEL) this.wake();
    if (channel === STOP_CHANNEL) {
      const [runId, mode] = payload.split(":");
      const a = this.active.get(runId ?? "");
      if (a && (mode === "cancel" || mode === "interrupt" || mode === "rollback")) this.stopRun(a, mode);
    }
  }

  private stopRun(a: Active, mode: StopRequest): void {
    if (a.stop) return;
    a.stop = mode;
    a.control.requestDrain(mode);
  }

  /** Claim until full or the queue is empty, then wait for a NOTIFY, a finished run, or the poll. */
  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (this.fenced) {
        await this.reconnect();
        continue;
      }
      while (!this.stopping && !this.fenced && this.active.size < this.settings.concurrency) {
        let runs: RunRow[];
        try {
          // Claim in batches (up to 25) so a worker with room for many runs fills up quickly.
          runs = await claimRuns(this.wp.pool, this.identity, Math.min(25, this.settings.concurrency - this.active.size));
        } catch (e) {
          log.warn({ err: (e as Error).message }, "claiming runs failed; retrying");
          await sleep(200);
          break;
        }
        for (const run of runs) this.launch(run);
        if (runs.length === 0) break;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.settings.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private async reconnect(): Promise<void> {
    // Wait for our own graphs to stop before taking work again.
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
    for (let delay = 200; !this.stopping; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.connect();
        await this.wp.pool.query("UPDATE waypoint.workers SET worker_lock = $2 WHERE worker_id = $1", [this.id, this.lock]);
        log.info({ worker: this.id }, "worker reconnected");
        return;
      } catch (e) {
        log.warn({ err: (e as Error).message, retryInMs: delay }, "worker cannot reconnect yet");
        await sleep(delay);
      }
    }
  }

  private launch(run: RunRow): void {
    const a: Active = { run, control: new RunControl(), abort: new AbortController(), stop: undefined, done: Promise.resolve() };
    this.active.set(run.run_id, a);
    this.emit({ type: "claimed", run });
    a.done = this.carry(a)
      .catch((e) => log.error({ err: e, runId: run.run_id }, "worker failed to record a run's outcome"))
      .finally(() => {
        this.active.delete(run.run_id);
        this.wake();
      });
  }

  /** Run one claimed run to its end (or to a stop) and record the outcome. */
  private async carry(a: Active): Promise<void> {
    const { run } = a;
    const pool = this.wp.pool;
    try {
      if (run.stop_requested) this.stopRun(a, run.stop_requested);
      await markStart(pool, run);
      // Kept for clients that follow the run (SSE), written in batches; a failed write must not stop the run.
      const events = new RunEventWriter(pool, run.run_id);
      events.append("metadata", { run_id: run.run_id, attempt: run.attempts });
      let view;
      try {
        view = await this.wp.advance(run.thread_id, {
          control: a.control,
          signal: a.abort.signal,
          onProgress: (e) => this.emit({ type: "step", runId: run.run_id, node: e.node, at: Date.now() }),
          ...((await this.commandStillToApply(run)) ? { command: run.command, fromCheckpoint: run.from_checkpoint } : {}),
          onChunk: (mode, ns, data) => events.append(ns.length ? `${mode}|${ns.join("|")}` : mode, mode === "messages" ? messageTuple(data) : data),
        });
      } finally {
        await events.flush().catch((e: Error) => log.warn({ err: e.message, runId: run.run_id }, "could not record stream events"));
      }
      const status = view.status === "done" ? "success" : view.status === "interrupted" ? "interrupted" : "error";
      if (!a.abort.signal.aborted) await this.finish(a, status, view.detail);
      const deadline = run.review_deadline ?? this.opts.reviewDeadline;
      if (status === "interrupted" && deadline) await scheduleDeadlines(pool, view, deadline);
    } catch (e) {
      if (a.abort.signal.aborted) return; // Fenced: the reaper hands the run to whoever holds a lock.
      if (isWaypointError(e, "drained")) return this.afterStop(a);
      const reason = e instanceof Error ? e.message : String(e);
      if (run.attempts < this.settings.maxAttempts) {
        const delay = 1_000 * 2 ** (run.attempts - 1);
        await requeueRun(pool, run.run_id, this.id, `attempt ${run.attempts} failed: ${reason}; retrying in ${delay / 1000} s`, delay);
        this.emit({ type: "requeued", runId: run.run_id, reason });
      } else {
        await this.finish(a, "dead", `dead after ${run.attempts} attempts; last error: ${reason}. \`waypoint runs retry ${run.run_id}\` tries again`);
      }
    }
  }

  /**
   * A run's command / checkpoint is applied once: on a later attempt (its first worker died) only if the
   * thread has not moved since the run started (otherwise the first attempt already applied it).
   */
  private async commandStillToApply(run: RunRow): Promise<boolean> {
    if (!run.command && !run.from_checkpoint) return false;
    if (run.attempts <= 1) return true;
    const { rows } = await this.wp.pool.query<{ id: string }>(
      "SELECT checkpoint_id AS id FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1",
      [run.thread_id],
    );
    return (rows[0]?.id ?? null) === run.start_checkpoint;
  }

  private async finish(a: Active, status: "success" | "interrupted" | "error" | "cancelled" | "dead", detail: string | null): Promise<void> {
    const mine = await finishRun(this.wp.pool, a.run.run_id, this.id, status, detail);
    if (mine) this.emit({ type: "finished", runId: a.run.run_id, threadId: a.run.thread_id, status, detail });
  }

  /** The graph stopped at a step boundary: because of a cancel, a newer submission, or this worker's drain. */
  private async afterStop(a: Active): Promise<void> {
    const pool = this.wp.pool;
    if (a.stop === "cancel") return this.finish(a, "cancelled", "cancelled at a step boundary; the thread can be resumed");
    if (a.stop === "interrupt") return this.finish(a, "interrupted", "stopped at a step boundary for a newer submission on its thread");
    if (a.stop === "rollback") {
      await rollBack(pool, a.run);
      this.emit({ type: "finished", runId: a.run.run_id, threadId: a.run.thread_id, status: "rolled back", detail: null });
      return;
    }
    await requeueRun(pool, a.run.run_id, this.id, "handed back by a worker shutting down; continues from its last checkpoint");
    this.emit({ type: "requeued", runId: a.run.run_id, reason: "drain" });
  }

  private async reap(): Promise<void> {
    try {
      for (const r of await reapOrphans(this.wp.pool, this.settings.maxCrashes)) {
        log.warn({ runId: r.run_id, status: r.status }, "took back a run whose worker died");
        this.emit({ type: "reaped", runId: r.run_id, status: r.status });
      }
    } catch (e) {
      log.debug({ err: (e as Error).message }, "reaper pass failed");
    }
  }

  /** Once a second: stop requests missed while disconnected, and due review deadlines. */
  private async tick(): Promise<void> {
    try {
      if (this.active.size > 0) {
        const { rows } = await this.wp.pool.query<{ run_id: string; stop_requested: StopRequest }>(
          "SELECT run_id, stop_requested FROM waypoint.runs WHERE worker_id = $1 AND status = 'running' AND stop_requested IS NOT NULL",
          [this.id],
        );
        for (const r of rows) {
          const a = this.active.get(r.run_id);
          if (a) this.stopRun(a, r.stop_requested);
        }
      }
      await fireDueTimers(this.wp, async (threadId, interruptId, response) => (await submit(this.wp, { threadId, interruptId, decision: response, strategy: "enqueue" })).run);
    } catch (e) {
      log.debug({ err: (e as Error).message }, "worker tick failed");
    }
  }

  private async checkup(): Promise<void> {
    try {
      await diagnose(this.wp, { repair: true });
    } catch (e) {
      log.debug({ err: (e as Error).message }, "scheduled doctor pass failed");
    }
  }

  /**
   * Checkpoint retention (see src/persistence/retention.ts): safe next to running graphs, so it does not
   * wait for them. One pass at a time; a failed pass is logged and the next one tries again.
   */
  private async prune(): Promise<void> {
    if (this.pruning || this.stopping) return;
    this.pruning = true;
    try {
      const { totals } = await pruneAll(this.wp.pool, { keep: config().retention.keep });
      if (totals.checkpoints > 0) log.info({ worker: this.id, ...totals }, "pruned old checkpoints");
    } catch (e) {
      log.warn({ err: (e as Error).message }, "scheduled checkpoint pruning failed; the next pass retries");
    } finally {
      this.pruning = false;
    }
  }

  /**
   * Stop claiming, ask every running graph to stop at its next super-step, hand those runs back to the
   * queue, and close; runs still going when `graceMs` is up are stopped at once and handed back.
   */
  async drain(reason = "shutdown"): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake();
    const handedBack = this.active.size;
    for (const a of this.active.values()) a.control.requestDrain(reason);
    const all = Promise.allSettled([...this.active.values()].map((a) => a.done));
    const inTime = await Promise.race([all.then(() => true), sleep(this.settings.graceMs).then(() => false)]);
    if (!inTime) {
      for (const a of this.active.values()) {
        a.abort.abort(new Error("drain grace period over"));
        await requeueRun(this.wp.pool, a.run.run_id, this.id, "handed back when its worker's shutdown grace period ran out").catch(() => false);
      }
    }
    this.emit({ type: "drained", handedBack });
    await this.close();
  }

  /** Stop at once (no drain): what a crash looks like to the others, minus the lock staying around. */
  async close(): Promise<void> {
    this.stopping = true;
    this.wake();
    for (const a of this.active.values()) a.abort.abort(new Error("worker closed"));
    for (const t of this.timers) clearInterval(t);
    await this.loopDone;
    const client = this.client;
    this.client = undefined;
    await this.wp.pool.query("UPDATE waypoint.workers SET stopped_at = now() WHERE worker_id = $1", [this.id]).catch(() => undefined);
    await client?.end().catch(() => undefined);
    await this.wp.close();
    log.info({ worker: this.id }, "worker stopped");
  }
}
