// durableTool(): how every agent tool is declared: a zod schema, a risk class, and the function that
// acts on the world. Calls run through the side-effect ledger (ledger.ts), never directly.
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type pg from "pg";
import { z } from "zod";

/** read: no side effect; compute: pure work; mutate: changes the outside world. */
export type Risk = "read" | "compute" | "mutate";

export interface ToolRunContext {
  /** Stable across retries and crashes: derived from (thread, namespace, tool call id). */
  idempotencyKey: string;
  /**
   * The config of the node that runs the call (LangGraph run context, store, configurable): a tool that
   * needs a client or a database gets it from its own factory, which may read this.
   */
  config: LangGraphRunnableConfig;
  /** Thread the call belongs to. */
  threadId: string;
  /** Aborted when the attempt times out; pass it to anything that can hang. */
  signal: AbortSignal;
  /** Waypoint's own database (set by the executor), for tools that read Waypoint data such as read_artifact. */
  pool?: pg.Pool | undefined;
}

export type ToolArgsSchema = z.ZodObject<z.ZodRawShape>;

/**
 * What oversight, review requests and decision validation read of a tool: a DurableTool has all of it;
 * a LangChain tool wrapped by durable() has what its options and schema give; a tool Waypoint knows
 * only by name has just the name.
 */
export interface ToolInfo {
  name: string;
  risk?: Risk | undefined;
  dedupesByKey?: boolean | undefined;
  scopes?: string[] | undefined;
  /** Checks (and may transform) arguments; any zod schema has it. */
  schema?: { safeParse(value: unknown): { success: true; data: unknown } | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } } } | undefined;
  jsonSchema?: Record<string, unknown> | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  describe?: ((args: any) => string) | undefined;
}

export interface DurableToolOptions<S extends ToolArgsSchema> {
  /** Name the model calls the tool by (snake_case). */
  name: string;
  /** What the tool does, for the model and for reviewers. */
  description: string;
  /** Arguments; every field carries `.describe()`. Edited args from a reviewer are checked against it too. */
  schema: S;
  /** Decides retries and what happens to a call whose outcome is unknown after a crash. */
  risk: Risk;
  /**
   * mutate only: the outside system dedupes by the idempotency key, so repeating a call with the same key
   * cannot do it twice. Without it, a call whose outcome is unknown (crash, timeout, lost reply) is never
   * repeated automatically: the run pauses and asks a human whether it happened.
   */
  dedupesByKey?: boolean;
  /** Overrides the risk class's retry policy (see DEFAULT_RETRY in policy.ts). */
  retry?: Partial<{ maxAttempts: number; initialDelayMs: number; maxDelayMs: number }>;
  /** Milliseconds one attempt may take (default 10 s). */
  timeoutMs?: number;
  /**
   * When retries run out on a system that keeps failing: "stop" (default) ends the run in an error
   * state with the reason, resumable later; "report" hands the model (or the graph) an error result.
   */
  onExhausted?: "stop" | "report";
  /**
   * Permission scopes a call needs (e.g. "payments", "db:write"). A run that lacks one pauses and asks a
   * human to grant it (for the call or for the rest of the run) or to refuse; see the oversight policy.
   */
  scopes?: string[];
  /** Does the work. Must pass `ctx.idempotencyKey` to any system it changes. */
  run(args: z.infer<S>, ctx: ToolRunContext): Promise<Record<string, unknown>>;
  /** One line for a reviewer: what a call with these arguments would do. */
  describe?(args: z.infer<S>): string;
}

export interface DurableTool<S extends ToolArgsSchema = ToolArgsSchema> extends DurableToolOptions<S> {
  /** OpenAI-style function definition, for `model.bindTools()`. */
  definition: { type: "function"; function: { name: string; description: string; parameters: Record<string, unknown> } };
  /** JSON schema of the arguments (for review forms and the HITL request). */
  jsonSchema: Record<string, unknown>;
}

export function durableTool<S extends ToolArgsSchema>(opts: DurableToolOptions<S>): DurableTool<S> {
  const { $schema: _ignored, ...jsonSchema } = z.toJSONSchema(opts.schema) as Record<string, unknown>;
  return {
    ...opts,
    jsonSchema,
    definition: { type: "function", function: { name: opts.name, description: opts.description, parameters: jsonSchema } },
  };
}

/** Describe a zod failure as one line per wrong field, naming the field and what was expected. */
export function describeZodError(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((i) => `${i.path.length ? i.path.map(String).join(".") : "(arguments)"}: ${i.message}`).join("; ");
}
