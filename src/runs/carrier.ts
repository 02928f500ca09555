// A carrier: a process that carries runs (a worker, or a CLI command running a thread in the
// foreground). It holds one liveness lock (a session advisory lock on a dedicated connection, which also
// LISTENs for wake-ups and stop requests): when the process dies the lock vanishes and any worker's
// reaper queues its runs again within a second. A carrier that loses that connection stops its graphs at
// once (fencing: it may no longer own them); the ledger makes any overlap harmless.
import { randomUUID } from "node:crypto";
import { RunControl } from "@langchain/langgraph";
import pg from "pg";
import { config } from "../config.js";
import { isWaypointError } from "../errors.js";
import { log } from "../log.js";
import { scheduleDeadlines, type DeadlinePolicy } from "./deadlines.js";
import { RunEventWriter, toJson } from "./events.js";
import type { ProgressEvent } from "./execute.js";
import { claimRuns, finishRun, LOCK_CLASS, requeueRun, rollBack, STOP_CHANNEL, WAKE_CHANNEL, type RunRow, type RunStatus, type StopRequest, type WorkerIdentity } from "./queue.js";
import type { Waypoint } from "./runner.js";
import { sendWebhook } from "./webhook.js";

export interface CarrierEvents {
  /** A run ended (finished, stopped, handed back, fenced). */
  onFinished?(e: { runId: string; threadId: string; status: string; detail: string | null }): void;
  onRequeued?(e: { runId: string; reason: string }): void;
  onFenced?(reason: string): void;
  /** A NOTIFY on the wake channel. */
  onWake?(): void;
}

export interface CarryOptions {
  onProgress?: ((e: ProgressEvent) => void) | undefined;
  /** Deadline to put on reviews the run stops at. */
  reviewDeadline?: DeadlinePolicy | undefined;
  /** Attempts before a run that keeps failing on infrastructure errors is dead. */
  maxAttempts?: number | undefined;
}

/** How carrying a run ended, from this process's point of view. */
export interface CarryResult {
  status: RunStatus | "requeued" | "rolled back" | "fenced";
  detail: string | null;
}

interface Active {
  run: RunRow;
  control: RunControl;
  abort: AbortController;
  stop: StopRequest | undefined;
  done: Promise<CarryResult>;
}

export class Carrier {
  /** host:pid:random, unique across machines and restarts; the host is WAYPOINT_WORKER_HOST or the hostname. */
  readonly id = `${config().workerHost}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly active = new Map<string, Active>();
  private client: pg.Client | undefined;
  private lockId = 0;
  private fenced = false;
  private closing = false;

  private constructor(
    readonly wp: Waypoint,
    private readonly events: CarrierEvents,
  ) {}

  /** Take a liveness lock on a dedicated connection (and LISTEN for wake-ups and stop requests). */
  static async connect(wp: Waypoint, events: CarrierEvents = {}): Promise<Carrier> {
    const c = new Carrier(wp, events);
    await c.connect();
    return c;
  }

  get lock(): number {
    return this.lockId;
  }

  get isFenced(): boolean {
    return this.fenced;
  }

  /** Runs this process carries now. */
  get running(): string[] {
    return [...this.active.keys()];
  }

  get size(): number {
    return this.active.size;
  }

  async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.wp.persistence.db.directUrl, keepAlive: true, application_name: "waypoint-liveness" });
    client.on("error", (e) => this.fence(`lock connection failed: ${e.message}`));
    client.on("end", () => this.fence("lock connection closed"));
    client.on("notification", (n) => this.onNotification(n.channel, n.payload ?? ""));
    await client.connect();
    const { rows } = await client.query<{ lock: string }>("SELECT nextval('waypoint.worker_lock_seq') AS lock");
    this.lockId = Number(rows[0]?.lock);
    await client.query("SELECT pg_advisory_lock($1, $2)", [LOCK_CLASS, this.lockId]);
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
    await client.query(`LISTEN ${STOP_CHANNEL}`);
    this.client = client;
    this.fenced = false;
  }

  /**
   * Claim up to `limit` runs over the lock connection: it is otherwise idle (LISTEN only), so a claim
   * never waits in the pool's queue behind the queries of the runs this process already carries, and it
   * costs no connection of its own. Without the connection (fenced) nothing is claimed.
   */
  async claim(worker: WorkerIdentity, limit: number): Promise<RunRow[]> {
    const client = this.client;
    if (!client || this.fenced) return [];
    return claimRuns(client, worker, limit);
  }

  /** Lost the lock: another worker may take these runs over now, so stop every graph at once. */
  private fence(reason: string): void {
    if (this.fenced || this.closing) return;
    this.fenced = true;
    this.client = undefined;
    for (const a of this.active.values()) a.abort.abort(new Error(`fenced: ${reason}`));
    log.warn({ carrier: this.id, reason, runs: this.active.size }, "lost the liveness lock; stopped this process's runs");
    this.events.onFenced?.(reason);
  }

  private onNotification(channel: string, payload: string): void {
    if (channel === WAKE_CHANNEL) this.events.onWake?.();
    if (channel === STOP_CHANNEL) {
      const [runId, mode] = payload.split(":");
      const a = this.active.get(runId ?? "");
      if (a && (mode === "cancel" || mode === "interrupt" || mode === "rollback")) this.stopRun(a.run.run_id, mode);
    }
  }

  /** Ask a run this process carries to stop at its next super-step. */
  stopRun(runId: string, mode: StopRequest): void {
    const a = this.active.get(runId);
    if (!a || a.stop) return;
    a.stop = mode;
    a.control.requestDrain(mode);
  }

  /** Ask every run to stop at its next super-step (a drain). */
  drainAll(reason: string): void {
    for (const a of this.active.values()) a.control.requestDrain(reason);
  }

  /** Stop every run at once (a drain's grace period ran out, or the process is closing). */
  abortAll(reason: string): Active[] {
    const all = [...this.active.values()];
    for (const a of all) a.abort.abort(new Error(reason));
    return all;
  }

  /** Wait for every run this process carries to end. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  /** Carry a run this process claimed, to its end or to a stop; resolves once its outcome is recorded. */
  carry(run: RunRow, opts: CarryOptions = {}): Promise<CarryResult> {
    const a: Active = { run, control: new RunControl(), abort: new AbortController(), stop: undefined, done: Promise.resolve({ status: "running", detail: null }) };
    this.active.set(run.run_id, a);
    if (run.stop_requested) this.stopRun(run.run_id, run.stop_requested);
    a.done = this.carryOne(a, opts)
      .catch((e: unknown): CarryResult => {
        log.error({ err: e, runId: run.run_id }, "could not record a run's outcome");
        return { status: "error", detail: e instanceof Error ? e.message : String(e) };
      })
      .finally(() => this.active.delete(run.run_id));
    return a.done;
  }

  private async carryOne(a: Active, opts: CarryOptions): Promise<CarryResult> {
    const { run } = a;
    const pool = this.wp.pool;
    const events = new RunEventWriter(pool, run.run_id);
    const startedAt = new Date();
    let result;
    try {
      result = await this.wp.executor.execute({ run, control: a.control, signal: a.abort.signal, events, onProgress: opts.onProgress });
    } catch (e) {
      await events.flush().catch(() => undefined);
      if (a.abort.signal.aborted) return { status: "fenced", detail: String(a.abort.signal.reason ?? "") }; // the reaper hands the run on
      if (isWaypointError(e, "drained")) return this.afterStop(a);
      const reason = e instanceof Error ? e.message : String(e);
      if (isWaypointError(e, "version_mismatch")) return this.finish(a, "error", reason);
      // The database went away under the run (or something else outside the graph failed): try again later.
      const max = opts.maxAttempts ?? 3;
      if (run.attempts < max) {
        const delay = 1_000 * 2 ** (run.attempts - 1);
        const detail = `attempt ${run.attempts} failed: ${reason.replace(/\.$/, "")}; retrying in ${delay / 1000} s`;
        await requeueRun(pool, run.run_id, this.id, detail, delay);
        this.events.onRequeued?.({ runId: run.run_id, reason });
        return { status: "requeued", detail };
      }
      return this.finish(a, "dead", `dead after ${run.attempts} attempts; last error: ${reason.replace(/\.$/, "")}; \`waypoint runs retry ${run.run_id}\` tries again`);
    }
    await events.flush().catch((e: Error) => log.warn({ err: e.message, runId: run.run_id }, "could not record stream events"));
    if (a.abort.signal.aborted) return { status: "fenced", detail: null };
    const outcome = await this.finish(a, result.status, result.detail, result.thread);
    if (result.thread.status === "interrupted" && result.snapshot) {
      const deadline = run.review_deadline ?? opts.reviewDeadline;
      if (deadline) await scheduleDeadlines(pool, run.thread_id, result.snapshot, deadline);
    }
    if (run.kwargs.temporary) await this.wp.deleteThread(run.thread_id).catch((e: Error) => log.warn({ err: e.message, threadId: run.thread_id }, "could not delete a stateless run's thread"));
    if (run.kwargs.webhook) void sendWebhook(run, { status: result.status, startedAt, endedAt: new Date(), values: result.thread.values, error: result.detail });
    return outcome;
  }

  private async finish(a: Active, status: Exclude<RunStatus, "pending" | "running">, detail: string | null, thread?: Parameters<typeof finishRun>[5]): Promise<CarryResult> {
    const mine = await finishRun(this.wp.pool, a.run.run_id, this.id, status, detail, thread);
    if (mine) this.events.onFinished?.({ runId: a.run.run_id, threadId: a.run.thread_id, status, detail });
    return { status, detail };
  }

  /** The graph stopped at a step boundary: because of a cancel, a newer submission, or this process's drain. */
  private async afterStop(a: Active): Promise<CarryResult> {
    const pool = this.wp.pool;
    const stopped = async (status: "cancelled" | "interrupted", detail: string) => {
      const snap = await this.wp.snapshotOf(a.run.thread_id).catch(() => undefined);
      // As the reference server leaves a cancelled run's thread: idle (its state stays resumable).
      return this.finish(a, status, detail, { status: "idle", detail, values: snap ? toJson(snap.values) : null, interrupts: {}, pending: [] });
    };
    if (a.stop === "cancel") return stopped("cancelled", "cancelled at a step boundary; the thread can be resumed");
    if (a.stop === "interrupt") return stopped("interrupted", "stopped at a step boundary (cancelled, or a newer submission on its thread)");
    if (a.stop === "rollback") {
      await rollBack(pool, a.run);
      this.events.onFinished?.({ runId: a.run.run_id, threadId: a.run.thread_id, status: "rolled back", detail: null });
      return { status: "rolled back", detail: null };
    }
    const detail = "handed back by a process shutting down; continues from its last checkpoint";
    await requeueRun(pool, a.run.run_id, this.id, detail);
    this.events.onRequeued?.({ runId: a.run.run_id, reason: "drain" });
    return { status: "requeued", detail };
  }

  /** Hand runs still here back to the queue (a drain that ran out of time). */
  async handBack(runs: Array<{ run: RunRow }>, detail: string): Promise<void> {
    for (const a of runs) await requeueRun(this.wp.pool, a.run.run_id, this.id, detail).catch(() => false);
  }

  /** Release the lock connection (runs must have ended or been handed back). */
  async close(): Promise<void> {
    this.closing = true;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
