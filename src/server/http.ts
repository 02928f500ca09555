// Shared pieces of the agent server's routes: the request context, error replies, body parsing.
import type { Context } from "hono";
import type { z } from "zod";
import { WaypointError, type WaypointErrorCode } from "../errors.js";
import { describeZodError } from "../tools/index.js";

/** Per-request context: the owner the bearer token belongs to (null when auth is off). */
export type Env = { Variables: { owner: string | null } };

/** HTTP status for each error a request can cause (anything else is a 500). */
export const STATUS: Partial<Record<WaypointErrorCode, 404 | 409 | 422>> = {
  unknown_thread: 404,
  unknown_run: 404,
  unknown_agent: 404,
  unknown_checkpoint: 404,
  invalid_input: 422,
  invalid_decision: 422,
  invalid_submission: 422,
  invalid_policy: 422,
  unknown_audit_entry: 404,
  thread_busy: 409,
  nothing_pending: 409,
  thread_finished: 409,
};

export function fail(code: WaypointErrorCode, message: string): never {
  throw new WaypointError(code, message);
}

/** The JSON body, checked against `schema`; a bad one is a 422 naming each wrong field. */
export async function body<T extends z.ZodType>(c: Context<Env>, schema: T): Promise<z.infer<T>> {
  let raw: unknown = {};
  const text = await c.req.text();
  if (text.trim()) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      fail("invalid_input", `The request body is not JSON: ${(e as Error).message}`);
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) fail("invalid_input", `Invalid request body: ${describeZodError(parsed.error)}`);
  return parsed.data;
}
