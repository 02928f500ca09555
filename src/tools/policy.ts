// The failure ladder for tool calls: how often a call is tried, how long one attempt may take, and what
// a failure means for each risk class. Retries, backoff with jitter and timeouts come from cockatiel.
import { ExponentialBackoff, handleWhen, retry, TaskCancelledError, timeout, TimeoutStrategy, wrap, type IBackoff, type IBackoffFactory, type IRetryBackoffContext } from "cockatiel";
import type { DurableTool } from "./durable-tool.js";

/** What the failure ladder reads of a tool: a DurableTool, or the options given to durable(). */
export type ToolPolicy = Pick<DurableTool, "risk"> & Partial<Pick<DurableTool, "dedupesByKey" | "retry" | "timeoutMs">>;

export interface RetryPolicy {
  /** Attempts in one go, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Per risk class. A mutate tool whose system cannot dedupe by key is retried only after its system said
 * the request was not applied (a 429); any other failure of it goes to a human (see runWithPolicy).
 */
export const DEFAULT_RETRY: Record<"read" | "compute" | "mutate", RetryPolicy> = {
  read: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 5_000 },
  compute: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 5_000 },
  mutate: { maxAttempts: 4, initialDelayMs: 250, maxDelayMs: 10_000 },
};
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Whether a retry of `tool` after an unknown outcome is safe: true unless it mutates a system that cannot dedupe. */
export function canRepeat(tool: Pick<ToolPolicy, "risk" | "dedupesByKey">): boolean {
  return tool.risk !== "mutate" || tool.dedupesByKey === true;
}

/** The tool's retry policy: its risk class's defaults, its own overrides, then the run's delay overrides. */
export function retryPolicyOf(tool: ToolPolicy, scale?: Partial<RetryPolicy>): RetryPolicy {
  const merged = { ...DEFAULT_RETRY[tool.risk], ...tool.retry };
  return { ...merged, ...(scale?.initialDelayMs !== undefined ? { initialDelayMs: scale.initialDelayMs } : {}), ...(scale?.maxDelayMs !== undefined ? { maxDelayMs: scale.maxDelayMs } : {}) };
}

/** How one failed attempt is read. */
export interface FailureReading {
  /** The system said the request was not applied (429, a refusal): retrying cannot double it. */
  notApplied: boolean;
  /** Trying again may help (rate limit, server error, timeout, lost reply). A refusal is final. */
  transient: boolean;
  retryAfterMs?: number;
  message: string;
}

type Loose = Record<string, unknown>;
const asObject = (v: unknown): Loose | undefined => (typeof v === "object" && v !== null ? (v as Loose) : undefined);
const asNumber = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined);
const asBoolean = (v: unknown): boolean | undefined => (typeof v === "boolean" ? v : undefined);

/** A Retry-After header (seconds, or an HTTP date) in milliseconds, from a Headers object or a plain record. */
function retryAfterOf(headers: unknown): number | undefined {
  const h = asObject(headers);
  if (!h) return undefined;
  const raw = typeof h.get === "function" ? (h.get as (k: string) => unknown).call(h, "retry-after") : (h["retry-after"] ?? h["Retry-After"]);
  if (typeof raw !== "string" && typeof raw !== "number") return undefined;
  const seconds = asNumber(raw);
  if (seconds !== undefined) return seconds * 1000;
  const at = Date.parse(String(raw));
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * How a failed attempt is read, from what the error says about itself (duck typed, so any client's
 * errors work): an HTTP status (`status`, `statusCode`, `response.status`), `effectMayHaveHappened`,
 * `retryAfterMs` or a Retry-After header, directly or under `info` (the demo world's errors). A 429 was
 * not applied and may be retried; another 4xx is a refusal, final; a 5xx or an error that says nothing
 * (a driver error, a bug half-way) may have taken effect: its outcome is unknown.
 */
export function readFailure(e: unknown, timeoutMs: number): FailureReading {
  if (e instanceof TaskCancelledError) return { notApplied: false, transient: true, message: `no reply within ${timeoutMs} ms (timed out)` };
  const o = asObject(e) ?? {};
  const info = asObject(o.info) ?? {};
  const response = asObject(o.response) ?? {};
  const status = asNumber(o.status) ?? asNumber(o.statusCode) ?? asNumber(response.status) ?? asNumber(info.status);
  const mayHave = asBoolean(o.effectMayHaveHappened) ?? asBoolean(info.effectMayHaveHappened);
  const retryAfterMs = asNumber(o.retryAfterMs) ?? asNumber(info.retryAfterMs) ?? retryAfterOf(o.headers) ?? retryAfterOf(response.headers);
  const message = e instanceof Error ? e.message : String(e);
  const after = retryAfterMs !== undefined ? { retryAfterMs } : {};
  const refused = o.failure === "rejected" || (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429);
  if (refused) return { notApplied: mayHave !== true, transient: false, ...after, message };
  if (status === 429) return { notApplied: mayHave !== true, transient: true, ...after, message };
  return { notApplied: mayHave === false, transient: true, ...after, message };
}

/** Exponential backoff with jitter that waits at least what a 429's Retry-After asked for. */
class RetryAfterBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  constructor(
    private readonly inner: IBackoffFactory<unknown>,
    private readonly timeoutMs: number,
    private readonly onDelay?: (ms: number, reading: FailureReading) => void,
  ) {}

  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const inner = this.inner.next(context);
    const reading = "error" in context.result ? readFailure(context.result.error, this.timeoutMs) : undefined;
    const duration = Math.max(inner.duration, reading?.retryAfterMs ?? 0);
    if (reading) this.onDelay?.(duration, reading);
    return { duration, next: (c) => new RetryAfterBackoff(inner, this.timeoutMs, this.onDelay).next(c) };
  }
}

export interface AttemptLog {
  attempts: number;
  /** Every failed attempt, in order. */
  failures: FailureReading[];
  /** Delays waited between attempts (ms). */
  delays: number[];
}

/**
 * Run `attempt` under the tool's retry policy and timeout. Retries only what is safe to repeat: a
 * refusal is never retried, and a mutate tool without a deduping system is retried only after the
 * system said the request was not applied (a 429). Throws the last error when attempts run out.
 */
export async function runWithPolicy<T>(
  tool: ToolPolicy,
  attempt: (signal: AbortSignal) => Promise<T>,
  opts: { scale?: Partial<RetryPolicy> | undefined; log: AttemptLog; signal?: AbortSignal | undefined },
): Promise<T> {
  const policy = retryPolicyOf(tool, opts.scale);
  const timeoutMs = tool.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const repeatable = canRepeat(tool);
  const shouldRetry = (e: Error) => {
    const r = readFailure(e, timeoutMs);
    return r.transient && (repeatable || r.notApplied);
  };
  const backoff = new RetryAfterBackoff(new ExponentialBackoff({ initialDelay: Math.max(1, policy.initialDelayMs), maxDelay: Math.max(1, policy.maxDelayMs) }), timeoutMs, (ms) =>
    opts.log.delays.push(ms),
  );
  // cockatiel's maxAttempts counts retries after the first call.
  const retrying = retry(handleWhen(shouldRetry), { maxAttempts: policy.maxAttempts - 1, backoff });
  const limited = timeout(timeoutMs, TimeoutStrategy.Aggressive);
  // The run's signal (a fenced worker stops its graphs) cancels the attempt and any backoff wait too.
  return wrap(retrying, limited).execute(async ({ signal }) => {
    opts.log.attempts++;
    try {
      return await attempt(signal);
    } catch (e) {
      opts.log.failures.push(readFailure(e, timeoutMs));
      throw e;
    }
  }, opts.signal ?? new AbortController().signal);
}
