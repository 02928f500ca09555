// The store routes of the LangGraph API over Waypoint's memory store. Each owner gets its own space, a
// view of the store under ["api", <owner>]: one token never sees another's items. Label encoding and
// exact namespace matching live in the store (src/memory/store.ts), not here.
import type { Item } from "@langchain/langgraph";
import type { Context, Hono } from "hono";
import { WaypointError } from "../errors.js";
import { z } from "zod";
import type { WaypointStore } from "../memory/index.js";
import { body, type Env } from "./http.js";

// The API writes namespaces as "a.b.c" in query strings, so its labels cannot hold periods (the store could).
const Label = z.string().min(1).max(200).refine((l) => !l.includes("."), "namespace labels cannot contain periods");
const Namespace = z.array(Label).min(1).max(20);

/** The caller's own space of the store: one owner never sees another's items. */
function spaceOf(c: Context<Env>): WaypointStore {
  const store = c.var.LANGGRAPH_OPS.wp.persistence.store;
  return store.within(["api", c.var.auth?.user.identity ?? "anonymous"]);
}



function itemJson(item: Item) {
  return { namespace: item.namespace, key: item.key, value: item.value, created_at: item.createdAt, updated_at: item.updatedAt };
}

export function registerStoreRoutes(app: Hono<Env>): void {
  app.put("/store/items", async (c) => {
    const b = await body(c, z.object({ namespace: Namespace, key: z.string().min(1).max(1000), value: z.record(z.string(), z.unknown()) }).loose());
    await spaceOf(c).put(b.namespace, b.key, b.value);
    return c.body(null, 204);
  });

  app.get("/store/items", async (c) => {
    const ns = (c.req.query("namespace") ?? "").split(".").filter(Boolean);
    const key = c.req.query("key");
    if (ns.length === 0 || !key) throw new WaypointError("invalid_input", "GET /store/items needs ?namespace=a.b&key=k.");
    const checked = Namespace.safeParse(ns);
    if (!checked.success || key.length > 1000) throw new WaypointError("invalid_input", "Invalid namespace (labels of 1-200 characters without periods, at most 20) or key (at most 1000 characters).");
    const item = await spaceOf(c).get(ns, key);
    // The SDK reads a missing item as a null body.
    return c.json(item ? itemJson(item) : null);
  });

  app.delete("/store/items", async (c) => {
    const b = await body(c, z.object({ namespace: Namespace, key: z.string().min(1).max(1000) }).loose());
    await spaceOf(c).delete(b.namespace, b.key);
    return c.body(null, 204);
  });

  app.post("/store/items/search", async (c) => {
    const b = await body(
      c,
      z
        .object({
          namespace_prefix: z.array(Label).default([]),
          filter: z.record(z.string(), z.unknown()).optional(),
          limit: z.number().int().min(1).max(1000).default(10),
          offset: z.number().int().min(0).default(0),
          query: z.string().max(10_000).optional(),
        })
        .loose(),
    );
    // `query` is a semantic search when the store has embeddings and pgvector, else a text match.
    const items = await spaceOf(c).search(b.namespace_prefix, {
      ...(b.filter ? { filter: b.filter } : {}),
      ...(b.query ? { query: b.query } : {}),
      limit: b.limit,
      offset: b.offset,
    });
    return c.json({ items: items.map(itemJson) });
  });

  app.post("/store/namespaces", async (c) => {
    const b = await body(
      c,
      z
        .object({
          prefix: z.array(Label).optional(),
          suffix: z.array(Label).optional(),
          max_depth: z.number().int().min(1).optional(),
          limit: z.number().int().min(1).max(1000).default(100),
          offset: z.number().int().min(0).default(0),
        })
        .loose(),
    );
    const namespaces = await spaceOf(c).listNamespaces({
      ...(b.prefix ? { prefix: b.prefix } : {}),
      ...(b.suffix ? { suffix: b.suffix } : {}),
      ...(b.max_depth ? { maxDepth: b.max_depth } : {}),
      limit: b.limit,
      offset: b.offset,
    });
    return c.json({ namespaces });
  });
}
