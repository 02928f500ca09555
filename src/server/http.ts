// Shared pieces of Waypoint's own routes: the request context (the reference server's variables), and
// reading a body: JSON, checked by a zod schema, a 422 naming what was wrong.
import type { Context } from "hono";
import type { z } from "zod";
import { WaypointError } from "../errors.js";
import { describeZodError } from "../tools/index.js";
import type { NewRun } from "../runs/queue.js";
import type { WaypointOps } from "./ops.js";

export type Env = { Variables: { LANGGRAPH_OPS: WaypointOps; waypointBatch?: NewRun[]; auth?: { user: { identity: string; permissions?: string[] }; scopes: string[] } | undefined } };

/** The JSON body, checked against `schema`; a bad one is a 422 naming each wrong field. */
export async function body<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  let raw: unknown = {};
  const text = await c.req.text();
  if (text.trim()) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new WaypointError("invalid_input", `The request body is not JSON: ${(e as Error).message}`);
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new WaypointError("invalid_input", `Invalid request body: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

