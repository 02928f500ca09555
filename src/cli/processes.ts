// Worker processes: `worker --processes N` (and `serve` / `start`) fork the CLI's own `worker` command N
// times, restart one that dies (with backoff), and forward SIGTERM / SIGINT so that each drains.
// Each child is an ordinary worker: its own worker id, liveness lock and pool, so a dead one's runs are
// taken back by the others' reapers exactly as for separate machines.
import { fork, type ChildProcess } from "node:child_process";
import { dim } from "./format.js";

/** What a child worker process tells its supervisor over the IPC channel. */
export type ChildMessage = { type: "ready"; workerId: string };

export interface SupervisorOptions {
  /** Worker processes to keep running. */
  count: number;
  /** Arguments of each child (after the CLI's entry script): global options and `worker ...`. */
  args: string[];
  /** First restart delay after a child dies; doubled per quick death, up to `maxBackoffMs`. */
  backoffMs?: number;
  /** Longest restart delay. */
  maxBackoffMs?: number;
  /** A child that lived this long before dying is restarted after `backoffMs` again. */
  stableMs?: number;
  /** Status lines (default: stdout with a time stamp). */
  say?: (line: string) => void;
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  startedAt: number;
  delay: number;
  restart: NodeJS.Timeout | undefined;
}

const stamp = () => dim(new Date().toISOString().slice(11, 23));

/** Send a worker child's "ready" line to its supervisor (a no-op outside a supervised child). */
export function tellSupervisor(msg: ChildMessage): void {
  if (process.send && process.connected) process.send(msg);
}

/**
 * A supervised child stops (drains) when its supervisor goes away without a signal (SIGKILLed), so no
 * worker outlives the tree it was started in.
 */
export function onSupervisorGone(stop: () => void): void {
  if (process.send) process.once("disconnect", stop);
}

/** A drained child lets go of its IPC channel, which would otherwise keep it alive. */
export function leaveSupervisor(): void {
  if (process.send && process.connected) process.disconnect();
}

export class ProcessSupervisor {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private allExited: () => void = () => undefined;
  readonly exited: Promise<void>;
  private readonly say: (line: string) => void;

  constructor(private readonly opts: SupervisorOptions) {
    this.say = opts.say ?? ((line) => console.log(`${stamp()} ${line}`));
    this.exited = new Promise<void>((r) => (this.allExited = r));
  }

  /** Child pids now alive. */
  get pids(): number[] {
    return this.slots.flatMap((s) => (s.child?.pid !== undefined && s.child.exitCode === null && s.child.signalCode === null ? [s.child.pid] : []));
  }

  start(): void {
    for (let i = 0; i < this.opts.count; i++) {
      const slot: Slot = { index: i, child: undefined, startedAt: 0, delay: this.opts.backoffMs ?? 250, restart: undefined };
      this.slots.push(slot);
      this.spawn(slot);
    }
  }

  private spawn(slot: Slot): void {
    slot.restart = undefined;
    // process.argv[1] is the CLI's entry (bin/waypoint.js, or src/cli/main.ts under tsx); execArgv carries
    // the loader it needs, so the child runs exactly the code the supervisor runs.
    const child = fork(process.argv[1] ?? "", this.opts.args, { execArgv: process.execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    slot.child = child;
    slot.startedAt = Date.now();
    child.on("message", (m: ChildMessage) => {
      if (m?.type === "ready") this.say(`worker process ${child.pid} (#${slot.index + 1}) ready as ${m.workerId}`);
    });
    child.on("exit", (code, signal) => this.onExit(slot, child, code, signal));
  }

  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    if (this.stopping) {
      if (this.slots.every((s) => s.child === undefined)) this.allExited();
      return;
    }
    const max = this.opts.maxBackoffMs ?? 10_000;
    // A child that ran for a while died of something new: restart promptly. One that keeps dying at
    // start (a bad setting, the database down) is restarted ever more slowly.
    if (Date.now() - slot.startedAt >= (this.opts.stableMs ?? 30_000)) slot.delay = this.opts.backoffMs ?? 250;
    const delay = slot.delay;
    slot.delay = Math.min(delay * 2, max);
    this.say(`worker process ${child.pid} (#${slot.index + 1}) exited (${signal ?? `code ${code}`}); starting a replacement in ${delay} ms`);
    slot.restart = setTimeout(() => this.spawn(slot), delay);
  }

  /** Forward `signal` to every child (each drains) and resolve when all have exited. */
  stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      for (const s of this.slots) {
        clearTimeout(s.restart);
        s.restart = undefined;
        s.child?.kill(signal);
      }
      if (this.slots.every((s) => s.child === undefined)) this.allExited();
    }
    return this.exited;
  }
}

/**
 * The arguments a supervised child gets: the global options this process was started with (those
 * before the command), then `worker --processes 1` and the worker options given.
 */
export function childWorkerArgs(global: { pace?: number | undefined; json?: boolean | undefined; config?: string | undefined }, worker: { concurrency?: number | undefined; graceMs?: number | undefined }): string[] {
  return [
    ...(global.json ? ["--json"] : []),
    ...(global.config ? ["--config", global.config] : []),
    ...(global.pace ? ["--pace", String(global.pace)] : []),
    "worker",
    "--processes",
    "1",
    ...(worker.concurrency ? ["--concurrency", String(worker.concurrency)] : []),
    ...(worker.graceMs !== undefined ? ["--grace-ms", String(worker.graceMs)] : []),
  ];
}
