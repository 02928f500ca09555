// durable(tool, options): Waypoint's side-effect ledger and failure ladder around any LangChain tool
// (`tool()`, a StructuredTool, an MCP adapter's tools), as a tool that works unchanged in ToolNode,
// createReactAgent and createAgent. Inside a Waypoint run every call goes through the ledger, keyed
// by (thread, graph namespace, tool call id): a recorded outcome is replayed, a call is repeated only
// when that is safe, and a non-deduping mutation whose outcome is unknown pauses with "did this
// happen?" (interrupt(), HITL shape) instead of guessing. Outside a Waypoint run (a notebook, plain
// LangGraph, `langgraph dev`) the tool runs directly, with one warning per tool.
import type { CallbackManagerForToolRun } from "@langchain/core/callbacks/manager";
import type { ToolCall } from "@langchain/core/messages/tool";
import type { BaseMessage } from "@langchain/core/messages";
import { patchConfig } from "@langchain/core/runnables";
import { StructuredTool, type StructuredToolInterface, type ToolRunnableConfig } from "@langchain/core/tools";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { interrupt, isGraphInterrupt } from "@langchain/langgraph";
import { buildDoubtRequest, validateResponse, withBothSpellings, type HITLRequest } from "../approvals/index.js";
import { haltPoint } from "../halt.js";
import { log } from "../log.js";
import { currentScope, type RunScope } from "../scope/index.js";
import {
  abandonCall,
  argsHash,
  beginCall,
  cachedResult,
  canRepeat,
  DEFAULT_TIMEOUT_MS,
  graphNamespace,
  idempotencyKeyFor,
  markInDoubt,
  readFailure,
  recordFailure,
  recordOutput,
  recordSuccess,
  replayOutput,
  recordedMessage,
  resolveDoubt,
  runWithPolicy,
  ToolFailedError,
  type AttemptLog,
  type LedgerKey,
  type LedgerRow,
  type Resolution,
  type Risk,
  type RetryPolicy,
  type ToolInfo,
} from "../tools/index.js";

/** What durable() needs to know about a tool: the same options durableTool() takes, minus the function. */
export interface DurableOptions {
  /** read: no side effect; compute: pure work; mutate: changes the outside world. */
  risk: Risk;
  /**
   * mutate only: the outside system dedupes by the idempotency key (read it with idempotencyKey(config)
   * and pass it on), so repeating a call cannot do it twice. Without it, a call whose outcome is unknown
   * is never repeated automatically: the run pauses and asks a human whether it happened.
   */
  dedupesByKey?: boolean;
  /** Overrides the risk class's retry policy (attempts in one go, backoff). */
  retry?: Partial<RetryPolicy>;
  /** Milliseconds one attempt may take (default 10 s); the tool's config.signal is aborted then. */
  timeoutMs?: number;
  /**
   * When retries run out on a system that keeps failing: "stop" (default) ends the run in an error
   * state with the reason, resumable; "report" hands the model an error result.
   */
  onExhausted?: "stop" | "report";
  /** Permission scopes a call needs (checked by waypointOversight). */
  scopes?: string[];
  /** One line for a reviewer: what a call with these arguments would do. */
  describe?(args: Record<string, unknown>): string;
}

/** Where idempotencyKey() finds the key durable() hands the wrapped tool. */
export const IDEMPOTENCY_KEY = "waypoint_idempotency_key";

const DURABLE = Symbol.for("waypoint.durable");

type AnyTool = StructuredToolInterface;
type LooseConfig = ToolRunnableConfig & { toolCall?: ToolCall; toolCallId?: string; state?: unknown };

/**
 * The idempotency key of the tool call being run, for the tool to pass to any system it changes. The
 * same for every attempt of one tool call, across retries, crashes and resumes: derived from (thread,
 * graph namespace, tool call id). Pass the config your tool function receives as its second argument.
 */
export function idempotencyKey(config: { configurable?: Record<string, unknown>; toolCall?: { id?: string | undefined } } | undefined): string {
  const given = config?.configurable?.[IDEMPOTENCY_KEY];
  if (typeof given === "string") return given;
  const id = config?.toolCall?.id ?? (config as LooseConfig | undefined)?.toolCallId;
  if (!id) {
    throw new Error("idempotencyKey(config): this call has no tool call id. Pass the config your tool receives (its second argument), and call the tool with a tool call (ToolNode and agents do).");
  }
  return idempotencyKeyFor({
    threadId: String(config?.configurable?.thread_id ?? ""),
    checkpointNs: graphNamespace(config?.configurable?.checkpoint_ns as string | undefined),
    toolCallId: id,
  });
}

const warned = new Set<string>();
function warnOnce(tool: string, why: string): void {
  if (warned.has(`${tool}\u0000${why}`)) return;
  warned.add(`${tool}\u0000${why}`);
  log.warn({ tool }, `durable(${tool}): ${why}; the call runs directly, without the ledger`);
}

/** A never-settling promise: the run is being aborted, and nothing this task returns may be written. */
const forever = () => new Promise<never>(() => {});

/** The tool durable() returns: the wrapped tool's name, description and schema; calls go through the ledger. */
export class DurableLangChainTool<T extends AnyTool = AnyTool> extends StructuredTool {
  static override lc_name(): string {
    return "DurableLangChainTool";
  }

  readonly [DURABLE] = true;
  override name: string;
  description: string;
  // The wrapped tool's own schema (zod or JSON schema): the model sees the same tool.
  schema: T["schema"];
  override returnDirect: boolean;
  readonly inner: T;
  readonly options: DurableOptions;

  constructor(inner: T, options: DurableOptions) {
    const metadata = (inner as { metadata?: Record<string, unknown> }).metadata;
    super({ ...(metadata ? { metadata } : {}), verboseParsingErrors: (inner as { verboseParsingErrors?: boolean }).verboseParsingErrors ?? false });
    if (!["read", "compute", "mutate"].includes(options?.risk)) throw new TypeError(`durable(${inner.name}): options.risk must be "read", "compute" or "mutate"`);
    this.inner = inner;
    this.options = options;
    this.name = inner.name;
    this.description = inner.description;
    this.schema = inner.schema;
    this.returnDirect = inner.returnDirect ?? false;
  }

  /** What oversight and review requests read of this tool. */
  info(): ToolInfo {
    return toolInfo(this);
  }

  protected async _call(args: unknown, runManager?: CallbackManagerForToolRun, parentConfig?: ToolRunnableConfig): Promise<unknown> {
    const config = (parentConfig ?? {}) as LooseConfig;
    const call = config.toolCall;
    // The tool sees the arguments as sent (its own schema parses them once, with its own transforms).
    const raw = (call?.args ?? args) as Record<string, unknown>;
    const child = patchConfig(config, { callbacks: runManager?.getChild() }) as LooseConfig;
    const scope = currentScope();
    const input = (a: Record<string, unknown>) => (call ? { ...call, args: a, type: "tool_call" as const } : a);
    if (!scope || !call?.id) {
      warnOnce(this.name, scope ? "it was invoked without a tool call id" : "there is no Waypoint run (no thread to record it in)");
      return this.inner.invoke(input(raw), child);
    }
    return new LedgerCall(this, scope, call as ToolCall & { id: string }, raw, child, config).run(input);
  }
}

/**
 * The durable() calls of one task execution. ToolNode runs all of an AIMessage's calls in one task (a
 * createAgent runs each in its own), and LangGraph matches a task's interrupt() answers by position, so
 * questions must come in an order that is the same on every execution: a call in doubt waits until every
 * other call of the task has settled or is in doubt too, then the calls in doubt ask one after another in
 * the order the model made them. `asked` counts this execution's interrupt() calls.
 */
class TaskCalls {
  asked = 0;
  private readonly calls = new Map<string, { index: number; waiting: boolean; settled: boolean; wake: () => void }>();
  private changed: Array<() => void> = [];

  join(id: string, index: number): void {
    this.calls.set(id, { index, waiting: false, settled: false, wake: () => undefined });
  }

  settle(id: string): void {
    const c = this.calls.get(id);
    if (c) c.settled = true;
    this.notify();
  }

  /** Resolves when `id` may ask: every other call settled or in doubt, and no call in doubt before it. */
  async turn(id: string): Promise<void> {
    const me = this.calls.get(id);
    if (!me) return;
    me.waiting = true;
    this.notify();
    for (;;) {
      const others = [...this.calls.entries()].filter(([k]) => k !== id).map(([, v]) => v);
      const ready = others.every((c) => c.settled || c.waiting) && !others.some((c) => c.waiting && !c.settled && c.index < me.index);
      if (ready) return;
      await new Promise<void>((r) => this.changed.push(r));
    }
  }

  done(id: string): void {
    const c = this.calls.get(id);
    if (c) c.waiting = false;
    this.settle(id);
  }

  /** After an answer was applied, the call goes on (and may settle or doubt again). */
  resumed(id: string): void {
    const c = this.calls.get(id);
    if (c) c.waiting = false;
    this.notify();
  }

  private notify(): void {
    const waiters = this.changed;
    this.changed = [];
    for (const w of waiters) w();
  }
}

const taskCalls = new WeakMap<object, TaskCalls>();

function callsOf(config: LooseConfig): TaskCalls {
  const scratchpad = config.configurable?.__pregel_scratchpad as object | undefined;
  if (!scratchpad || typeof scratchpad !== "object") return new TaskCalls();
  let calls = taskCalls.get(scratchpad);
  if (!calls) taskCalls.set(scratchpad, (calls = new TaskCalls()));
  return calls;
}

/** The position of `id` among the tool calls of the task's AIMessage (the order the model made them). */
function positionOf(config: LooseConfig, id: string): number {
  const state = config.state as { messages?: BaseMessage[] } | undefined;
  const messages = Array.isArray(state?.messages) ? state.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const calls = (messages[i] as { tool_calls?: Array<{ id?: string }> }).tool_calls;
    const at = calls?.findIndex((c) => c.id === id) ?? -1;
    if (at >= 0) return at;
  }
  return Number.MAX_SAFE_INTEGER;
}

/** One call of a durable() tool inside a Waypoint run. */
class LedgerCall {
  private readonly key: LedgerKey;
  /** The task this execution is (its interrupt() answers are matched by position within it). */
  private readonly task: string;
  private readonly siblings: TaskCalls;

  constructor(
    private readonly tool: DurableLangChainTool,
    private readonly scope: RunScope,
    private readonly call: ToolCall & { id: string },
    private readonly args: Record<string, unknown>,
    private readonly child: LooseConfig,
    private readonly config: LooseConfig,
  ) {
    const ns = config.configurable?.checkpoint_ns as string | undefined;
    this.key = { threadId: scope.threadId, checkpointNs: graphNamespace(ns), toolCallId: call.id };
    this.task = String(ns ?? "");
    this.siblings = callsOf(config);
  }

  private get pool() {
    return this.scope.pool;
  }

  async run(input: (a: Record<string, unknown>) => unknown): Promise<unknown> {
    this.siblings.join(this.call.id, positionOf(this.config, this.call.id));
    try {
      return await this.loop(input);
    } finally {
      this.siblings.done(this.call.id);
    }
  }

  private async loop(input: (a: Record<string, unknown>) => unknown): Promise<unknown> {
    const o = this.tool.options;
    for (;;) {
      const begun = await beginCall(this.pool, this.key, { tool: this.tool.name, risk: o.risk, args: this.args, dedupes: canRepeat(o) });
      if (begun.action === "replay") return this.replay(begun.row);
      if (begun.action === "doubt") {
        await this.askAboutDoubt(begun.row);
        continue;
      }
      const outcome = await this.attempt(begun.row, input);
      if (outcome === "doubt") continue;
      return outcome.value;
    }
  }

  private async replay(row: LedgerRow): Promise<unknown> {
    if (row.status === "succeeded" && row.result) return replayOutput(row.result, this.call);
    // Failed for good, or skipped by a human: the error the model was (or is now) given.
    return recordedMessage({ __waypoint_output: "message", content: `Error: ${row.error ?? "the call failed"}`, status: "error", name: this.tool.name }, this.call);
  }

  /**
   * "Did this happen?" (interrupt() in the HITL shape: confirm_done / run_again / skip), then the answer
   * applied to the ledger. LangGraph gives a re-run task its earlier answers by position: the ones the
   * ledger has applied already (counted per task) are taken and passed over, so an answer meant for
   * attempt 1, or for another call of the task, is never applied here.
   */
  private async askAboutDoubt(row: LedgerRow): Promise<void> {
    await this.siblings.turn(this.call.id);
    const request = this.doubtRequest(row);
    const { rows } = await this.pool.query<{ applied: number }>(
      "SELECT coalesce(sum(doubt_answers), 0)::int AS applied FROM waypoint.tool_calls WHERE thread_id = $1 AND doubt_task = $2",
      [this.scope.threadId, this.task],
    );
    const applied = rows[0]?.applied ?? 0;
    while (this.siblings.asked < applied) {
      this.siblings.asked++;
      interrupt(request);
    }
    this.siblings.asked++;
    const answer = interrupt(request);
    const [decision] = validateResponse(request, answer, [this.tool.info()]);
    await resolveDoubt(this.pool, this.key, row.attempts, decision as Resolution, this.task);
    this.siblings.resumed(this.call.id);
  }

  private doubtRequest(row: LedgerRow): HITLRequest {
    const state = this.config.state as { messages?: BaseMessage[] } | undefined;
    const messages = Array.isArray(state?.messages) ? state.messages : [];
    return withBothSpellings(buildDoubtRequest(messages, [row], [this.tool.info()]));
  }

  private async attempt(row: LedgerRow, input: (a: Record<string, unknown>) => unknown): Promise<{ value: unknown } | "doubt"> {
    const o = this.tool.options;
    const log_: AttemptLog = { attempts: 0, failures: [], delays: [] };
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const configurable = { ...this.child.configurable, [IDEMPOTENCY_KEY]: row.idempotency_key };
    let paused: unknown;
    await this.pace();
    await haltPoint("durable.started", this.tool.name);
    try {
      const output = await runWithPolicy(
        o,
        async (signal) => {
          try {
            return await this.tool.inner.invoke(input(this.args), { ...this.child, configurable, signal });
          } catch (e) {
            // The tool paused the run itself (interrupt() inside it): not a failure, and not retried.
            if (!isGraphInterrupt(e)) throw e;
            paused = e;
            return undefined;
          }
        },
        { scale: this.scope.toolRetry as Partial<RetryPolicy> | undefined, signal: this.config.signal, log: log_ },
      );
      if (paused) {
        // LangGraph runs the tool again from its first line on resume: the row goes back to "run it".
        await abandonCall(this.pool, this.key, row.attempts);
        throw paused;
      }
      const record = recordOutput(output);
      await haltPoint("durable.returned", this.tool.name);
      await this.pace();
      await recordSuccess(this.pool, this.key, record, { extraAttempts: log_.attempts - 1, ...(o.risk === "read" ? { cacheHash: argsHash(this.args) } : {}) });
      await haltPoint("durable.recorded", this.tool.name);
      await this.pace();
      return { value: output };
    } catch (e) {
      if (paused) throw e;
      // The run was stopped: record nothing. The row stays "started", which is what the next owner must see.
      if (this.config.signal?.aborted) throw e;
      const reading = readFailure(e, timeoutMs);
      const extraAttempts = Math.max(0, log_.attempts - 1);
      const tries = log_.attempts;
      log.info({ tool: this.tool.name, toolCallId: this.call.id, attempts: tries, reason: reading.message }, "tool call failed");
      if (!reading.transient) {
        // Refused (a 4xx): nothing happened and repeating will not help. The model hears why.
        await recordFailure(this.pool, this.key, reading.message, { final: true, doubt: null, extraAttempts });
        return { value: this.errorMessage(reading.message) };
      }
      if (!canRepeat(o) && !reading.notApplied) {
        await markInDoubt(this.pool, this.key, `attempt ${row.attempts + extraAttempts} failed with "${reading.message}"`, extraAttempts);
        return "doubt";
      }
      if (o.risk === "read") {
        const cached = await cachedResult(this.pool, this.tool.name, argsHash(this.args));
        if (cached) {
          await recordSuccess(this.pool, this.key, cached.result, { extraAttempts, fromCache: true });
          return { value: recordedMessage(cached.result, this.call, `stale: the last result, from ${cached.fetchedAt.toISOString()}; now ${reading.message}`) };
        }
      }
      const summary = `${reading.message} (after ${tries} attempt${tries === 1 ? "" : "s"})`;
      const doubt = reading.notApplied ? null : reading.message;
      if (o.onExhausted === "report") {
        await recordFailure(this.pool, this.key, summary, { final: true, doubt, extraAttempts });
        return { value: this.errorMessage(summary) };
      }
      await recordFailure(this.pool, this.key, summary, { final: false, doubt, extraAttempts });
      const error = new ToolFailedError(this.tool.name, tries, `${reading.message}. The run stopped here; resuming the thread tries ${this.tool.name} again`);
      if (!this.scope.stop) throw error;
      // An agent's tool node would hand a thrown error to the model; the run is ended instead, and this
      // task never returns, so nothing of the step is written.
      this.scope.stop(error);
      return forever();
    }
  }

  /**
   * `--pace`: wait in each window a crash can fall into (intent recorded, effect done but not recorded,
   * outcome recorded but the step not written), so a chaos run's kills land inside a tool call too.
   */
  private async pace(): Promise<void> {
    const ms = this.scope.paceMs;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  private errorMessage(message: string): unknown {
    return recordedMessage({ __waypoint_output: "message", content: `Error: ${message}`, status: "error", name: this.tool.name }, this.call);
  }
}

/**
 * Wrap a LangChain tool so that, in a Waypoint run, every call goes through the side-effect ledger.
 * The result is a tool with the same name, description and schema, for ToolNode, createReactAgent and
 * createAgent alike.
 */
export function durable<T extends AnyTool>(tool: T, options: DurableOptions): DurableLangChainTool<T> {
  if (isDurable(tool)) throw new TypeError(`durable(${tool.name}): the tool is already durable`);
  const wrapped = new DurableLangChainTool(tool, options);
  registry.set(tool.name, wrapped);
  return wrapped;
}

/** Every tool made with durable() in this process, the latest per name (waypointOversight's default tools). */
const registry = new Map<string, DurableLangChainTool>();
export function registeredDurableTools(): DurableLangChainTool[] {
  return [...registry.values()];
}

export function isDurable(tool: unknown): tool is DurableLangChainTool {
  return typeof tool === "object" && tool !== null && (tool as { [DURABLE]?: boolean })[DURABLE] === true;
}

const schemas = new WeakMap<object, Record<string, unknown> | undefined>();

/** What oversight reads of any tool: durable() options when it has them, its schema either way. */
export function toolInfo(tool: { name: string; schema?: unknown; description?: string }): ToolInfo {
  const opts = isDurable(tool) ? tool.options : undefined;
  let jsonSchema = schemas.get(tool);
  if (!schemas.has(tool)) {
    try {
      const converted = tool.schema ? (toJsonSchema(tool.schema as Parameters<typeof toJsonSchema>[0]) as Record<string, unknown>) : undefined;
      if (converted) delete converted.$schema;
      jsonSchema = converted;
    } catch {
      jsonSchema = undefined;
    }
    schemas.set(tool, jsonSchema);
  }
  const schema = tool.schema as ToolInfo["schema"] | undefined;
  return {
    name: tool.name,
    ...(opts ? { risk: opts.risk, dedupesByKey: opts.dedupesByKey, scopes: opts.scopes, describe: opts.describe } : {}),
    ...(schema && typeof (schema as { safeParse?: unknown }).safeParse === "function" ? { schema } : {}),
    ...(jsonSchema ? { jsonSchema } : {}),
  };
}

export { DEFAULT_TIMEOUT_MS };
