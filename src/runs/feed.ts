// Following runs: one LISTEN connection per process wakes every follower of a run (an SSE client, a
// `runs.wait`, a CLI waiting for a worker) when the run records events or ends, whichever process
// carries it. A slow poll stays as the fallback (a NOTIFY lost with a reconnect).
import pg from "pg";
import { log } from "../log.js";
import { EVENTS_CHANNEL, readRunEvents, type RunEvent } from "./events.js";
import { findRun, type RunRow } from "./queue.js";

const POLL_MS = 1_000;

export class RunFeed {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    /** Milliseconds a follower waits for a NOTIFY before it reads again anyway. */
    private readonly pollMs = POLL_MS,
  ) {}

  private async ensure(): Promise<void> {
    if (this.client || this.closed) return;
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: "waypoint-feed" });
      const drop = () => {
        if (this.client === client) this.client = undefined;
        this.wakeAll(); // followers re-read, then wait on a new connection
      };
      client.on("error", (e) => {
        log.warn({ err: e.message }, "run feed connection failed; followers poll until it is back");
        drop();
      });
      client.on("end", drop);
      client.on("notification", (n) => this.wake(n.payload ?? ""));
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      this.client = client;
    })().finally(() => {
      this.connecting = undefined;
    });
    await this.connecting.catch((e: Error) => log.warn({ err: e.message }, "run feed cannot LISTEN; followers poll"));
  }

  private wake(runId: string): void {
    for (const w of this.waiters.get(runId) ?? []) w();
  }

  private wakeAll(): void {
    for (const set of this.waiters.values()) for (const w of set) w();
  }

  /**
   * Interest in a run's NOTIFYs from now on. A wake that comes while the follower is reading is kept,
   * so the next `next()` returns at once: registering only after a read would miss it and leave the
   * follower to the slow poll.
   */
  private subscribe(runId: string): { next(signal?: AbortSignal, ms?: number): Promise<void>; close(): void } {
    let woken = false;
    let resolveWait: (() => void) | undefined;
    const onWake = () => {
      woken = true;
      resolveWait?.();
    };
    let set = this.waiters.get(runId);
    if (!set) this.waiters.set(runId, (set = new Set()));
    set.add(onWake);
    return {
      next: async (signal, ms = this.pollMs) => {
        await this.ensure();
        if (!woken && !signal?.aborted) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              signal?.removeEventListener("abort", done);
              resolveWait = undefined;
              resolve();
            };
            const timer = setTimeout(done, ms);
            signal?.addEventListener("abort", done, { once: true });
            resolveWait = done;
          });
        }
        woken = false;
      },
      close: () => {
        resolveWait?.();
        set.delete(onWake);
        if (set.size === 0 && this.waiters.get(runId) === set) this.waiters.delete(runId);
      },
    };
  }

  /** Resolve on the run's next NOTIFY, after `ms`, or on abort. */
  async wait(runId: string, signal?: AbortSignal, ms = this.pollMs): Promise<void> {
    await this.ensure();
    const sub = this.subscribe(runId);
    try {
      await sub.next(signal, ms);
    } finally {
      sub.close();
    }
  }

  /**
   * The run's events after `afterSeq`, as they are recorded, until the run has ended and every event
   * is out (or `signal` aborts). Yields `{ missing: true }` (and ends) when there is no such run.
   */
  async *follow(runId: string, afterSeq: number, signal?: AbortSignal): AsyncGenerator<RunEvent | { missing: true }> {
    let seq = afterSeq;
    await this.ensure();
    const sub = this.subscribe(runId);
    try {
      for (;;) {
        if (signal?.aborted) return;
        // Read the status first: events recorded before the run ended are all in once it has.
        const run: RunRow | undefined = await findRun(this.pool, runId);
        if (!run) {
          yield { missing: true };
          return;
        }
        const ended = run.status !== "pending" && run.status !== "running";
        for (;;) {
          const batch = await readRunEvents(this.pool, runId, seq);
          for (const e of batch) {
            seq = e.seq;
            yield e;
          }
          if (batch.length < 500) break;
        }
        if (ended) return;
        await sub.next(signal);
      }
    } finally {
      sub.close();
    }
  }

  /** The run's row once it has ended (or when `signal` aborts: as it is then). */
  async ended(runId: string, signal?: AbortSignal): Promise<RunRow | undefined> {
    await this.ensure();
    const sub = this.subscribe(runId);
    try {
      for (;;) {
        const run = await findRun(this.pool, runId);
        if (!run || (run.status !== "pending" && run.status !== "running") || signal?.aborted) return run;
        await sub.next(signal);
      }
    } finally {
      sub.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
