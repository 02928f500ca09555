// A worker: claims queued runs of the graph versions it serves and carries them to their end (see
// carrier.ts for liveness and fencing). Every worker also reaps: it puts back in the queue the runs of
// carriers that died. SIGTERM drains: stop claiming, stop each graph at its next super-step, hand the
// runs back, exit as soon as that is done (or when the grace period is up).
import { config } from "../config.js";
import { log } from "../log.js";
import { pruneAll } from "../persistence/index.js";
import { Carrier } from "./carrier.js";
import { fireDueTimers, type DeadlinePolicy } from "./deadlines.js";
import { diagnose } from "./doctor.js";
import { reapOrphans, type RunRow, type StopRequest, type WorkerIdentity } from "./queue.js";
import { Waypoint, type WaypointOptions } from "./runner.js";

export interface WorkerOptions extends WaypointOptions {
  /** Runs carried at once (default WAYPOINT_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** Longest a drain may take before the worker gives up waiting (default WAYPOINT_DRAIN_GRACE_MS). */
  graceMs?: number;
  /** Carrier deaths a run survives before it is dead (default WAYPOINT_MAX_CRASHES). */
  maxCrashes?: number;
  /** Attempts of a run that keeps failing outside its graph before it is dead (default WAYPOINT_RUN_MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** "graph@version" pairs this worker runs; default: every loaded graph at its version. */
  versions?: string[];
  /** Fallback poll when no NOTIFY arrives (ms). */
  pollMs?: number;
  /** How often this worker looks for runs whose carrier died (ms). */
  reapMs?: number;
  /** How often it runs the doctor's repairs (ms; 0 = never). */
  doctorMs?: number;
  /** How often it prunes old checkpoints of every thread (ms; 0 = never; default WAYPOINT_RETENTION_INTERVAL_MS). */
  pruneMs?: number;
  /** Deadline to put on reviews a run stops at (durable timers), if any. */
  reviewDeadline?: DeadlinePolicy;
  /** Every notable thing the worker does, for logs and tests. */
  onEvent?: (e: WorkerEvent) => void;
  /** A Waypoint already open (the server's); the worker then does not close it. */
  waypoint?: Waypoint;
}

export type WorkerEvent =
  | { type: "claimed"; run: RunRow }
  | { type: "finished"; runId: string; threadId: string; status: string; detail: string | null }
  | { type: "requeued"; runId: string; reason: string }
  | { type: "reaped"; runId: string; status: string }
  | { type: "step"; runId: string; node: string; at: number }
  | { type: "fenced"; reason: string }
  | { type: "drained"; handedBack: number };

/** Most runs one claim takes (one UPDATE ... RETURNING; 1,000 rows take a few tens of ms). */
const CLAIM_BATCH = 1_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Worker {
  private carrier!: Carrier;
  private stopping = false;
  /** A wake-up that came while the loop was not waiting (claiming): the next wait returns at once. */
  private woken = false;
  private wake: () => void = () => {
    this.woken = true;
  };
  private timers: NodeJS.Timeout[] = [];
  private loopDone: Promise<void> = Promise.resolve();
  private pruning = false;
  /** A reaper pass or a tick is in progress: under load the next one waits for it instead of queueing behind it in the pool. */
  private reaping = false;
  private ticking = false;
  private ownsWaypoint = true;
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
    this.versions = opts.versions ?? wp.registry.versions;
  }

  /** Open the database (unless given one), take a liveness lock, and start claiming runs. */
  static async start(opts: WorkerOptions = {}): Promise<Worker> {
    const wp = opts.waypoint ?? (await Waypoint.open(opts));
    const worker = new Worker(wp, opts);
    worker.ownsWaypoint = opts.waypoint === undefined;
    worker.carrier = await Carrier.connect(wp, {
      onWake: () => worker.wake(),
      onFenced: (reason) => {
        worker.emit({ type: "fenced", reason });
        worker.wake();
      },
      onFinished: (e) => worker.emit({ type: "finished", ...e }),
      onRequeued: (e) => worker.emit({ type: "requeued", ...e }),
    });
    await wp.pool.query("INSERT INTO waypoint.workers (worker_id, worker_lock, pid, host, versions, concurrency) VALUES ($1, $2, $3, $4, $5, $6)", [
      worker.id,
      worker.carrier.lock,
      process.pid,
      worker.id.split(":")[0],
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

  get id(): string {
    return this.carrier.id;
  }

  get identity(): WorkerIdentity {
    return { workerId: this.id, lock: this.carrier.lock, versions: this.versions };
  }

  /** Runs this worker is carrying now. */
  get running(): string[] {
    return this.carrier.running;
  }

  private emit(e: WorkerEvent): void {
    this.opts.onEvent?.(e);
  }

  /** Claim until full or the queue is empty, then wait for a NOTIFY, a finished run, or the poll. */
  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (this.carrier.isFenced) {
        await this.reconnect();
        continue;
      }
      while (!this.stopping && !this.carrier.isFenced && this.carrier.size < this.settings.concurrency) {
        let runs: RunRow[];
        try {
          // Claim in batches (up to CLAIM_BATCH) on the lock connection, so a worker with room for
          // thousands of runs fills up in a few round trips while the runs it has go on.
          runs = await this.carrier.claim(this.identity, Math.min(CLAIM_BATCH, this.settings.concurrency - this.carrier.size));
        } catch (e) {
          log.warn({ err: (e as Error).message }, "claiming runs failed; retrying");
          await sleep(200);
          break;
        }
        for (const run of runs) this.launch(run);
        if (runs.length === 0) break;
      }
      // A NOTIFY, a finished run or a drain that came during the claim above is not lost to a full poll.
      if (this.woken || this.stopping) {
        this.woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.settings.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.woken = false;
      this.wake = () => {
        this.woken = true;
      };
    }
  }

  private async reconnect(): Promise<void> {
    // Wait for our own graphs to stop before taking work again.
    await this.carrier.settled();
    for (let delay = 200; !this.stopping; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.carrier.connect();
        await this.wp.pool.query("UPDATE waypoint.workers SET worker_lock = $2 WHERE worker_id = $1", [this.id, this.carrier.lock]);
        log.info({ worker: this.id }, "worker reconnected");
        return;
      } catch (e) {
        log.warn({ err: (e as Error).message, retryInMs: delay }, "worker cannot reconnect yet");
        await sleep(delay);
      }
    }
  }

  private launch(run: RunRow): void {
    this.emit({ type: "claimed", run });
    void this.carrier
      .carry(run, {
        onProgress: (e) => this.emit({ type: "step", runId: run.run_id, node: e.node, at: Date.now() }),
        reviewDeadline: this.opts.reviewDeadline,
        maxAttempts: this.settings.maxAttempts,
      })
      .finally(() => this.wake());
  }

  /** Ask a run this worker carries to stop at its next super-step. */
  stopRun(runId: string, mode: StopRequest): void {
    this.carrier.stopRun(runId, mode);
  }

  private async reap(): Promise<void> {
    if (this.reaping) return;
    this.reaping = true;
    try {
      for (const r of await reapOrphans(this.wp.pool, this.settings.maxCrashes)) {
        log.warn({ runId: r.run_id, status: r.status }, "took back a run whose carrier died");
        this.emit({ type: "reaped", runId: r.run_id, status: r.status });
      }
    } catch (e) {
      log.debug({ err: (e as Error).message }, "reaper pass failed");
    } finally {
      this.reaping = false;
    }
  }

  /** Once a second: stop requests missed while disconnected, and due review deadlines. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (this.carrier.size > 0) {
        const { rows } = await this.wp.pool.query<{ run_id: string; stop_requested: StopRequest }>(
          "SELECT run_id, stop_requested FROM waypoint.runs WHERE worker_id = $1 AND status = 'running' AND stop_requested IS NOT NULL",
          [this.id],
        );
        for (const r of rows) this.carrier.stopRun(r.run_id, r.stop_requested);
      }
      await fireDueTimers(this.wp, async (threadId, interruptId, response) => (await this.wp.submit({ threadId, command: { resume: { [interruptId]: response } }, strategy: "enqueue" })).run);
    } catch (e) {
      log.debug({ err: (e as Error).message }, "worker tick failed");
    } finally {
      this.ticking = false;
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
    const handedBack = this.carrier.size;
    this.carrier.drainAll(reason);
    // The grace timer is cleared as soon as the runs are handed back: a pending timer would keep the
    // process alive for the rest of the grace period after an idle drain.
    let grace: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([this.carrier.settled().then(() => true), new Promise<boolean>((r) => (grace = setTimeout(() => r(false), this.settings.graceMs)))]);
    clearTimeout(grace);
    if (!inTime) {
      const late = this.carrier.abortAll("drain grace period over");
      await this.carrier.handBack(late, "handed back when its worker's shutdown grace period ran out");
    }
    this.emit({ type: "drained", handedBack });
    await this.close();
  }

  /** Stop at once (no drain): what a crash looks like to the others, minus the lock staying around. */
  async close(): Promise<void> {
    this.stopping = true;
    this.wake();
    this.carrier.abortAll("worker closed");
    for (const t of this.timers) clearInterval(t);
    await this.loopDone;
    await this.carrier.settled();
    await this.wp.pool.query("UPDATE waypoint.workers SET stopped_at = now() WHERE worker_id = $1", [this.id]).catch(() => undefined);
    await this.carrier.close();
    if (this.ownsWaypoint) await this.wp.close();
    log.info({ worker: this.id }, "worker stopped");
  }
}
