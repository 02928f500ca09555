// Runs an AIMessage's tool calls through the ledger (in parallel) and keeps the conversation well
// formed: every tool call gets exactly one ToolMessage, except a call in doubt, which waits for a human.
import { AIMessage, RemoveMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { REMOVE_ALL_MESSAGES } from "@langchain/langgraph";
import type { ToolCall } from "@langchain/core/messages/tool";
import type pg from "pg";
import { config } from "../config.js";
import { WaypointError } from "../errors.js";
import { haltArmed, haltPoint } from "../halt.js";
import { log } from "../log.js";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { externaliseResult } from "./artifacts.js";
import { describeZodError, type DurableTool } from "./durable-tool.js";
import { isRecordedOutput, recordedMessage } from "./recorded.js";
import { argsHash, beginCall, cachedResult, markInDoubt, recordFailure, recordSuccess, type LedgerKey, type LedgerRow } from "./ledger.js";
import { canRepeat, readFailure, runWithPolicy, type AttemptLog, type RetryPolicy, DEFAULT_TIMEOUT_MS } from "./policy.js";

export interface ExecuteContext {
  pool: pg.Pool;
  /** The tools node's config, handed to each tool (see ToolRunContext.config). */
  config: LangGraphRunnableConfig;
  threadId: string;
  /** Stable namespace (see stableNamespace). */
  checkpointNs: string;
  /** Overrides backoff delays (tests and chaos runs use short ones). */
  toolRetry?: Partial<RetryPolicy> | undefined;
  /** The run's abort signal: a stopped run cancels its tool calls too. */
  signal?: AbortSignal | undefined;
  /**
   * Results whose JSON is longer than this many bytes are stored once as artifacts and answered with a
   * reference (see artifacts.ts); default config().artifactBytes. Tests set a small one.
   */
  artifactBytes?: number | undefined;
}

export interface ExecuteResult {
  /** One per call that has an answer now. */
  messages: ToolMessage[];
  /** Calls whose outcome is unknown and unsafe to repeat: left unanswered for the doubt node. */
  inDoubt: LedgerRow[];
}

/** The last AIMessage of the conversation, if the conversation ends with one's turn. */
export function lastAIMessage(messages: BaseMessage[]): AIMessage | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && AIMessage.isInstance(m)) return m;
  }
  return undefined;
}

/** Tool calls of `ai` that have no ToolMessage yet in `messages`. */
export function unansweredToolCalls(messages: BaseMessage[], ai: AIMessage | undefined): ToolCall[] {
  if (!ai) return [];
  const answered = new Set(messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
  return (ai.tool_calls ?? []).filter((tc) => tc.id !== undefined && !answered.has(tc.id));
}

export function toolResultMessage(call: ToolCall, content: string, status: "success" | "error"): ToolMessage {
  return new ToolMessage({ id: `tool-${call.id}`, tool_call_id: call.id ?? "", name: call.name, content, status });
}

/** The ToolMessage a settled ledger row stands for. */
export function messageFromLedger(call: ToolCall, row: LedgerRow): ToolMessage {
  if (row.status === "succeeded" && row.result && isRecordedOutput(row.result)) {
    const m = recordedMessage(row.result, call);
    m.id = `tool-${call.id}`;
    return m;
  }
  if (row.status === "succeeded" && row.result) return toolResultMessage(call, JSON.stringify(row.result), "success");
  return toolResultMessage(call, `Error: ${row.error ?? "the call failed"}`, "error");
}

/** Raised (after every parallel call settled) when a tool's system kept failing: the run stops, resumable. */
export class ToolFailedError extends WaypointError {
  constructor(tool: string, attempts: number, reason: string) {
    super("tool_failed", `${tool} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${reason}`, { details: { tool, attempts } });
  }
}

type Outcome = { kind: "answer"; message: ToolMessage } | { kind: "doubt"; row: LedgerRow } | { kind: "stop"; error: ToolFailedError };

async function runOne(call: ToolCall, tools: Map<string, DurableTool>, ctx: ExecuteContext): Promise<Outcome> {
  const answer = (content: string, status: "success" | "error"): Outcome => ({ kind: "answer", message: toolResultMessage(call, content, status) });
  const tool = tools.get(call.name);
  if (!tool) return answer(`Error: there is no tool named "${call.name}". Tools: ${[...tools.keys()].join(", ")}.`, "error");
  const parsed = tool.schema.safeParse(call.args);
  if (!parsed.success) return answer(`Error: invalid arguments for ${call.name}: ${describeZodError(parsed.error)}`, "error");
  const args = parsed.data as Record<string, unknown>;

  const key: LedgerKey = { threadId: ctx.threadId, checkpointNs: ctx.checkpointNs, toolCallId: call.id ?? "" };
  const begun = await beginCall(ctx.pool, key, { tool: tool.name, risk: tool.risk, args, dedupes: tool.risk !== "mutate" || tool.dedupesByKey === true });
  if (begun.action === "replay") return { kind: "answer", message: messageFromLedger(call, begun.row) };
  if (begun.action === "doubt") return { kind: "doubt", row: begun.row };

  const attempts: AttemptLog = { attempts: 0, failures: [], delays: [] };
  const idempotencyKey = begun.row.idempotency_key;
  try {
    const output = await runWithPolicy(tool, (signal) => tool.run(parsed.data, { idempotencyKey, config: ctx.config, threadId: ctx.threadId, signal, pool: ctx.pool }), {
      scale: ctx.toolRetry,
      signal: ctx.signal,
      log: attempts,
    });
    // A large output is stored once as an artifact; the ledger (so every replay), the read cache and the
    // ToolMessage (so every checkpoint) hold only its reference.
    const { result, json } = await externaliseResult(ctx.pool, output, {
      threshold: ctx.artifactBytes ?? config().artifactBytes,
      threadId: ctx.threadId,
      toolCallId: key.toolCallId,
      tool: tool.name,
    });
    await recordSuccess(ctx.pool, key, result, { extraAttempts: attempts.attempts - 1, ...(tool.risk === "read" ? { cacheHash: argsHash(args) } : {}) });
    return answer(json, "success");
  } catch (e) {
    // The run was stopped (its worker was fenced): record nothing. The row stays "started", which is
    // exactly what the next owner must see: a call whose outcome is unknown.
    if (ctx.signal?.aborted) throw e;
    const reading = readFailure(e, tool.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const extraAttempts = Math.max(0, attempts.attempts - 1);
    const tries = attempts.attempts;
    log.info({ tool: tool.name, toolCallId: call.id, attempts: tries, reason: reading.message }, "tool call failed");
    if (!reading.transient) {
      // The system refused (a 4xx): nothing happened and repeating will not help. The model hears why.
      await recordFailure(ctx.pool, key, reading.message, { final: true, doubt: null, extraAttempts });
      return answer(`Error: ${reading.message}`, "error");
    }
    if (!canRepeat(tool) && !reading.notApplied) {
      // It may have happened and its system cannot dedupe: never guess, ask.
      return { kind: "doubt", row: await markInDoubt(ctx.pool, key, `attempt ${begun.row.attempts + extraAttempts} failed with "${reading.message}"`, extraAttempts) };
    }
    if (tool.risk === "read") {
      const cached = await cachedResult(ctx.pool, tool.name, argsHash(args));
      if (cached) {
        const stale = { ...cached.result, stale: true, cachedAt: cached.fetchedAt.toISOString(), staleBecause: reading.message };
        await recordSuccess(ctx.pool, key, stale, { extraAttempts, fromCache: true });
        return answer(JSON.stringify(stale), "success");
      }
    }
    const summary = `${reading.message} (after ${tries} attempt${tries === 1 ? "" : "s"})`;
    const doubt = reading.notApplied ? null : reading.message;
    if (tool.onExhausted === "report") {
      await recordFailure(ctx.pool, key, summary, { final: true, doubt, extraAttempts });
      return answer(`Error: ${summary}`, "error");
    }
    await recordFailure(ctx.pool, key, summary, { final: false, doubt, extraAttempts });
    return { kind: "stop", error: new ToolFailedError(tool.name, tries, `${reading.message}. The run stopped here; resuming the thread tries ${tool.name} again`) };
  }
}

/**
 * Execute the given calls in parallel, each at most once per tool call id. Calls in doubt are returned
 * unanswered. When a call's system kept failing, the others still finish (and are recorded), then a
 * ToolFailedError stops the run; resuming replays the finished calls from the ledger.
 */
export async function executeToolCalls(calls: ToolCall[], tools: DurableTool[], ctx: ExecuteContext): Promise<ExecuteResult> {
  const byName = new Map(tools.map((t) => [t.name, t]));
  const names = haltArmed() ? calls.map((c) => c.name).join("+") : "";
  if (names) await haltPoint("tools.before", names);
  const outcomes = await Promise.all(calls.map((c) => runOne(c, byName, ctx)));
  if (names) await haltPoint("tools.after", names);
  const stop = outcomes.find((o): o is Extract<Outcome, { kind: "stop" }> => o.kind === "stop");
  if (stop) throw stop.error;
  return {
    messages: outcomes.flatMap((o) => (o.kind === "answer" ? [o.message] : [])),
    inDoubt: outcomes.flatMap((o) => (o.kind === "doubt" ? [o.row] : [])),
  };
}

/**
 * ToolMessages for every tool call in the conversation that has none, so that a model is never called
 * with a dangling tool call (providers reject that and the thread would be stuck). A call the ledger
 * has an outcome for gets that outcome; any other gets an explicit "interrupted" error.
 */
export function closeDanglingToolCalls(messages: BaseMessage[], ledger: Map<string, LedgerRow> = new Map()): ToolMessage[] {
  const answered = new Set(messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
  const out: ToolMessage[] = [];
  for (const m of messages) {
    if (!AIMessage.isInstance(m)) continue;
    for (const tc of m.tool_calls ?? []) {
      if (!tc.id || answered.has(tc.id)) continue;
      const row = ledger.get(tc.id);
      if (row && (row.status === "succeeded" || row.status === "skipped" || row.status === "failed")) out.push(messageFromLedger(tc, row));
      else if (row) out.push(toolResultMessage(tc, "Error: this tool call was interrupted; whether it took effect is unknown (see the thread's ledger).", "error"));
      else out.push(toolResultMessage(tc, "Error: this tool call was interrupted before it started; it did not run.", "error"));
    }
  }
  return out;
}

/**
 * The state update that gives every dangling tool call its answer (see closeDanglingToolCalls), each
 * right after the tool messages of its own AIMessage, as providers require. When the conversation
 * went on after a dangling call (a new human message), the answers cannot simply be appended: the
 * update rewrites the list in order (REMOVE_ALL_MESSAGES, then every message). Undefined: nothing dangles.
 */
export function repairToolCalls(messages: BaseMessage[], ledger: Map<string, LedgerRow> = new Map()): { messages: BaseMessage[]; conversation: BaseMessage[] } | undefined {
  const closers = closeDanglingToolCalls(messages, ledger);
  if (closers.length === 0) return undefined;
  const byCall = new Map(closers.map((c) => [c.tool_call_id, c]));
  const ordered: BaseMessage[] = [];
  let pending: ToolMessage[] = [];
  const flush = () => {
    ordered.push(...pending);
    pending = [];
  };
  for (const m of messages) {
    if (pending.length > 0 && !ToolMessage.isInstance(m)) flush();
    ordered.push(m);
    if (AIMessage.isInstance(m)) pending = (m.tool_calls ?? []).flatMap((tc) => (tc.id && byCall.has(tc.id) ? [byCall.get(tc.id) as ToolMessage] : []));
  }
  const appended = pending.length === closers.length;
  flush();
  if (appended) return { messages: closers, conversation: ordered };
  return { messages: [new RemoveMessage({ id: REMOVE_ALL_MESSAGES }), ...ordered], conversation: ordered };
}
