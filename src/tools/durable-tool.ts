// durableTool(): how every agent tool is declared: a zod schema, a risk class, and the function that
// acts on the world. Calls run through the side-effect ledger (ledger.ts), never directly.
import { z } from "zod";
import type { World } from "../world/index.js";

/** read: no side effect; compute: pure work; mutate: changes the outside world. */
export type Risk = "read" | "compute" | "mutate";

export interface ToolRunContext {
  /** Stable across retries and crashes: derived from (thread, namespace, tool call id). */
  idempotencyKey: string;
  /** The outside world adapters. */
  world: World;
  /** Thread the call belongs to. */
  threadId: string;
}

export type ToolArgsSchema = z.ZodObject<z.ZodRawShape>;

export interface DurableToolOptions<S extends ToolArgsSchema> {
  /** Name the model calls the tool by (snake_case). */
  name: string;
  /** What the tool does, for the model and for reviewers. */
  description: string;
  /** Arguments; every field carries `.describe()`. Edited args from a reviewer are checked against it too. */
  schema: S;
  /** Decides retries and what happens to a call whose outcome is unknown after a crash. */
  risk: Risk;
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
export function describeZodError(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(arguments)"}: ${i.message}`).join("; ");
}
