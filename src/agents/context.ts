// What Waypoint's agent nodes need at run time: the model (LangGraph run context; tests script one) and
// Waypoint's database, thread and policy (the run scope Waypoint's executor sets). Without either
// (LangGraph Studio, `langgraph dev`, a notebook) nodes fall back to the configured defaults.
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type pg from "pg";
import { config as appConfig } from "../config.js";
import { createChatModel, createFallbackModel, ScriptedChatModel } from "../models/index.js";
import { openPersistence } from "../persistence/index.js";
import type { LadderOptions } from "../models/ladder.js";
import type { Policy } from "../approvals/policy.js";
import { currentScope } from "../scope/index.js";
import { graphNamespace, type RetryPolicy } from "../tools/index.js";

export interface AgentContext {
  /** Chat model for agent nodes; default: createChatModel(). */
  model?: BaseChatModel;
  /** Model to fail over to when the primary's circuit breaker opens; default: createFallbackModel(). */
  fallbackModel?: BaseChatModel | null;
  /** Model-call retry settings (tests use tiny delays). */
  modelRetry?: LadderOptions;
  /** Tool-call backoff delays (tests and chaos runs use short ones). */
  toolRetry?: Partial<RetryPolicy>;
  /**
   * Milliseconds each agent step waits before calling the model, and each tools step waits after its
   * effects and before its checkpoint. Slows a run down so a person (or a crash test) can kill it
   * mid-step; 0 in normal runs.
   */
  paceMs?: number;
  /** Estimated tokens of conversation above which older messages are summarised (default config().summaryTokens; 0: never). */
  summaryTokens?: number;
  /** Model that writes summaries; null: an extractive summary (default: the agent's model, extractive for scripted models). */
  summaryModel?: BaseChatModel | null;
}

export interface ResolvedContext {
  model: BaseChatModel;
  fallbackModel: BaseChatModel | undefined;
  modelRetry: LadderOptions;
  toolRetry: Partial<RetryPolicy> | undefined;
  pool: pg.Pool;
  paceMs: number;
  summaryTokens: number;
  summaryModel: BaseChatModel | undefined;
  /** The thread's stored policy (file and run overrides); a review node merges its built-in one under it. */
  policy: Policy | undefined;
  agent: string | undefined;
  run: { startedAt: number; startStep: number; recursionLimit: number } | undefined;
  threadId: string;
  /** Namespace of the graph the node runs in, without task ids ("" for the agent itself). */
  checkpointNs: string;
}

let fallbackPool: Promise<pg.Pool> | undefined;

function defaultPool(): Promise<pg.Pool> {
  // Opened once per process, only when a graph runs without Waypoint's runner (e.g. in Studio).
  fallbackPool ??= openPersistence().then((p) => p.db.pool);
  return fallbackPool;
}

export async function resolveContext(config: LangGraphRunnableConfig): Promise<ResolvedContext> {
  const ctx = (config.context ?? {}) as AgentContext;
  const scope = currentScope();
  const pool = scope?.pool ?? (await defaultPool());
  const threadId = String(config.configurable?.thread_id ?? "");
  const model = ctx.model ?? createChatModel();
  return {
    model,
    fallbackModel: ctx.fallbackModel === null ? undefined : (ctx.fallbackModel ?? createFallbackModel()),
    modelRetry: { maxAttempts: appConfig().modelMaxAttempts, ...ctx.modelRetry },
    toolRetry: ctx.toolRetry ?? (scope?.toolRetry as Partial<RetryPolicy> | undefined),
    pool,
    paceMs: ctx.paceMs ?? scope?.paceMs ?? 0,
    summaryTokens: ctx.summaryTokens ?? appConfig().summaryTokens,
    // A scripted model (the offline planner, tests) cannot write prose summaries: extractive instead.
    summaryModel: ctx.summaryModel === null ? undefined : (ctx.summaryModel ?? (model instanceof ScriptedChatModel ? undefined : model)),
    policy: scope?.policy as Policy | undefined,
    agent: scope?.graphId,
    run: scope?.run,
    threadId,
    checkpointNs: graphNamespace(config.configurable?.checkpoint_ns as string | undefined),
  };
}
