// The model-call failure ladder: retries with jittered exponential backoff (honouring Retry-After),
// a circuit breaker per model, failover to a fallback model, and finally a model_unavailable error.
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  decorrelatedJitterGenerator,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IBackoffFactory,
  type IRetryBackoffContext,
} from "cockatiel";
import { WaypointError } from "../errors.js";
import { log } from "../log.js";

export interface LadderOptions {
  /** Attempts per model (first try included). Default 5. */
  maxAttempts?: number;
  /** First backoff delay in ms; default 500. Max delay default 30_000. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Consecutive failed *calls* (after their retries) that open the primary's breaker; default 3. */
  breakerThreshold?: number;
  /** How long the breaker stays open before one trial call; default 30_000. */
  halfOpenAfterMs?: number;
  /** Called before each retry with the delay chosen (tests assert on it; logs use it). `attempt` is the one that just failed (1-based). */
  onRetry?: (e: { model: string; attempt: number; delayMs: number; reason: string }) => void;
}

/** A tool in OpenAI function format, as bindTools accepts it. */
export interface ToolDefinition { type: "function"; function: { name: string; description: string; parameters: Record<string, unknown> } }

/** A Retry-After longer than this is not waited out: the model counts as unavailable. */
const RETRY_AFTER_CEILING_MS = 5 * 60_000;
const RETRYABLE_STATUS = new Set([408, 409, 429]);
const RETRYABLE_CODES = new Set(["ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EPIPE", "EAI_AGAIN"]);
const RETRYABLE_NAMES = new Set(["APIConnectionError", "APIConnectionTimeoutError", "TimeoutError"]);

type ErrorShape = { status?: unknown; code?: unknown; name?: unknown; message?: unknown; lc_error_code?: unknown; headers?: unknown; cause?: { code?: unknown; name?: unknown }; response?: { status?: unknown; headers?: unknown } };

function header(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const hit = Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return typeof hit === "string" || typeof hit === "number" ? String(hit) : Array.isArray(hit) ? String(hit[0]) : undefined;
}

function retryAfterMs(headers: unknown): number | undefined {
  const ms = Number.parseFloat(header(headers, "retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = header(headers, "retry-after")?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw); // An HTTP date.
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** How a model error should be treated: retryable (and after how long, from Retry-After / retry-after-ms headers) or not. */
export function classifyModelError(err: unknown): { retryable: boolean; status?: number; retryAfterMs?: number; reason: string } {
  const e = (err && typeof err === "object" ? err : {}) as ErrorShape;
  const raw = e.status ?? e.response?.status;
  const status = typeof raw === "number" ? raw : e.lc_error_code === "MODEL_RATE_LIMIT" ? 429 : undefined;
  const code = typeof e.code === "string" ? e.code : typeof e.cause?.code === "string" ? e.cause.code : undefined;
  const name = typeof e.name === "string" ? e.name : "Error";
  const message = typeof e.message === "string" ? e.message : String(err);
  const after = retryAfterMs(e.headers ?? e.response?.headers);
  const timedOutAbort = name === "AbortError" && (/time(d)?\s*out/i.test(message) || e.cause?.name === "TimeoutError");
  // A network code wins over the name: Node's fetch reports a refused connection as TypeError("fetch failed").
  const retryable =
    status !== undefined ? RETRYABLE_STATUS.has(status) || status >= 500 : (code !== undefined && RETRYABLE_CODES.has(code)) || RETRYABLE_NAMES.has(name) || timedOutAbort;
  const reason = `${status !== undefined ? `HTTP ${status}` : code ?? name}: ${message}`.slice(0, 300);
  return { retryable, ...(status !== undefined ? { status } : {}), ...(after !== undefined ? { retryAfterMs: after } : {}), reason };
}

/** Jittered exponential backoff, stretched to the provider's Retry-After when the failed attempt carried one. */
function honouringRetryAfter(inner: IBackoffFactory<unknown>): IBackoffFactory<IRetryBackoffContext<unknown>> {
  return {
    next(context) {
      const jittered = inner.next(context);
      const asked = "error" in context.result ? classifyModelError(context.result.error).retryAfterMs : undefined;
      return { duration: asked === undefined ? jittered.duration : Math.max(asked, jittered.duration), next: honouringRetryAfter(jittered).next };
    },
  };
}

const breakers = new Map<string, CircuitBreakerPolicy>();

/** For tests: forget every breaker's state. */
export function resetBreakers(): void {
  breakers.clear();
}

// _llmType() is in the key too: every ScriptedChatModel has the same getName() and no `model`.
function breakerFor(model: BaseChatModel, opts: LadderOptions): CircuitBreakerPolicy {
  const key = `${model.getName()}:${model._llmType()}:${JSON.stringify((model as { model?: unknown }).model ?? "")}`;
  let b = breakers.get(key);
  if (!b) {
    // Settings come from the first call that meets this model; only errors worth retrying count against it.
    b = circuitBreaker(handleWhen((e) => classifyModelError(e).retryable), { breaker: new ConsecutiveBreaker(opts.breakerThreshold ?? 3), halfOpenAfter: opts.halfOpenAfterMs ?? 30_000 });
    breakers.set(key, b);
  }
  return b;
}

function modelName(model: BaseChatModel): string {
  const id = (model as { model?: unknown }).model;
  return typeof id === "string" && id ? id : model._llmType();
}

/** A model that could not answer (breaker open, retries spent, or told to wait too long); other errors pass as they are. */
class ModelDown {
  constructor(readonly model: string, readonly attempts: number, readonly status: number | undefined, readonly why: string, readonly cause: unknown) {}
}

async function climb(model: BaseChatModel, args: Parameters<typeof invokeWithLadder>[0]): Promise<AIMessage> {
  const opts = args.options ?? {};
  const name = modelName(model);
  if (typeof model.bindTools !== "function") throw new Error(`Model ${name} cannot bind tools (it has no bindTools method)`);
  const bound = model.bindTools(args.tools);
  const maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? 5));
  const waitable = (e: Error) => { const c = classifyModelError(e); return c.retryable && (c.retryAfterMs ?? 0) <= RETRY_AFTER_CEILING_MS; };
  // cockatiel's maxAttempts counts *retries* after the first call (and is unbounded when left out).
  const backoff = new ExponentialBackoff({ generator: decorrelatedJitterGenerator, initialDelay: opts.initialDelayMs ?? 500, maxDelay: opts.maxDelayMs ?? 30_000 });
  const policy = retry(handleWhen(waitable), { maxAttempts: maxAttempts - 1, backoff: honouringRetryAfter(backoff) });
  policy.onRetry((r) => {
    const reason = "error" in r ? classifyModelError(r.error).reason : "unexpected result";
    log.info({ model: name, attempt: r.attempt, delayMs: Math.round(r.delay), reason }, "model call failed; retrying");
    opts.onRetry?.({ model: name, attempt: r.attempt, delayMs: r.delay, reason });
  });
  const breaker = breakerFor(model, opts);
  const signal = args.config?.signal;
  let attempts = 0;
  try {
    // Breaker around retry: a whole retried call counts once against the breaker.
    return await breaker.execute(() => policy.execute(() => { attempts++; return bound.invoke(args.messages, args.config); }, signal), signal);
  } catch (e) {
    if (signal?.aborted) throw e; // Cancelled by the caller: no failover.
    if (e instanceof BrokenCircuitError) {
      const last = breaker.lastFailure;
      const lastReason = last && "error" in last ? `; last error: ${classifyModelError(last.error).reason}` : "";
      throw new ModelDown(name, 0, undefined, `its circuit breaker is open after repeated failures${lastReason}`, e);
    }
    const c = classifyModelError(e);
    if (!c.retryable) throw e;
    const plural = `${attempts} attempt${attempts === 1 ? "" : "s"}`;
    const why = (c.retryAfterMs ?? 0) > RETRY_AFTER_CEILING_MS ? `the provider asked to wait ${Math.ceil((c.retryAfterMs ?? 0) / 1000)} s (${c.reason})` : `last error: ${c.reason}`;
    throw new ModelDown(name, attempts, c.status, `failed after ${plural}; ${why}`, e);
  }
}

/** Invoke `primary` (tools bound) through retry + breaker; on an open breaker or exhausted retries, try `fallback` (same ladder) when given. */
export async function invokeWithLadder(args: { primary: BaseChatModel; fallback?: BaseChatModel; tools: ToolDefinition[]; messages: BaseMessage[]; config?: RunnableConfig; options?: LadderOptions }): Promise<AIMessage> {
  let down: ModelDown;
  try {
    return await climb(args.primary, args);
  } catch (e) {
    if (!(e instanceof ModelDown)) throw e;
    down = e;
  }
  const fallbackName = args.fallback ? modelName(args.fallback) : null;
  const details = { model: down.model, attempts: down.attempts, status: down.status, fallback: fallbackName };
  if (!args.fallback) throw new WaypointError("model_unavailable", `Model ${down.model} is unavailable: ${down.why}`, { details, cause: down.cause });
  log.warn({ model: down.model, fallback: fallbackName, reason: down.why }, `model ${down.model} unavailable; failing over to ${fallbackName}`);
  try {
    return await climb(args.fallback, args);
  } catch (e) {
    if (!(e instanceof ModelDown)) throw e;
    throw new WaypointError("model_unavailable", `Model ${down.model} is unavailable: ${down.why}. Fallback ${e.model} is unavailable too: ${e.why}`, {
      details: { ...details, fallbackAttempts: e.attempts, fallbackStatus: e.status },
      cause: e.cause,
    });
  }
}
