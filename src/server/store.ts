// The store routes of the LangGraph API over PostgresStore (long-term memory). Each owner gets its own
// space: namespaces are stored under ["api", <owner>] with safe labels, so one token never sees
// another's items, and PostgresStore's quirks (refused characters, "u1" matching "u10") stay inside.
import type { BaseStore, Item } from "@langchain/langgraph";
import type { Hono } from "hono";
import { z } from "zod";
import { decodeLabel, encodeLabel } from "../memory/index.js";
import { body, fail, type Env } from "./http.js";

const Label = z.string().min(1).refine((l) => !l.includes("."), "namespace labels cannot contain periods");
const Namespace = z.array(Label).min(1);

function inner(owner: string | null, ns: string[]): string[] {
  return ["api", encodeLabel(owner ?? "anonymous"), ...ns.map(encodeLabel)];
}

function outer(ns: string[]): string[] {
  return ns.slice(2).map(decodeLabel);
}

function itemJson(item: Item) {
  return { namespace: outer(item.namespace), key: item.key, value: item.value, created_at: item.createdAt, updated_at: item.updatedAt };
}

/** PostgresStore matches prefixes with LIKE and no separator: keep only true prefix matches. */
function startsWith(ns: string[], prefix: string[]): boolean {
  return prefix.every((p, i) => ns[i] === p);
}

export function registerStoreRoutes(app: Hono<Env>, store: BaseStore): void {
  app.put("/store/items", async (c) => {
    const b = await body(c, z.object({ namespace: Namespace, key: z.string().min(1), value: z.record(z.string(), z.unknown()) }).loose());
    await store.put(inner(c.get("owner"), b.namespace), b.key, b.value);
    return c.body(null, 204);
  });

  app.get("/store/items", async (c) => {
    const ns = (c.req.query("namespace") ?? "").split(".").filter(Boolean);
    const key = c.req.query("key");
    if (ns.length === 0 || !key) fail("invalid_input", "GET /store/items needs ?namespace=a.b&key=k.");
    const item = await store.get(inner(c.get("owner"), ns), key);
    // The SDK reads a missing item as a null body.
    return c.json(item ? itemJson(item) : null);
  });

  app.delete("/store/items", async (c) => {
    const b = await body(c, z.object({ namespace: Namespace, key: z.string().min(1) }).loose());
    await store.delete(inner(c.get("owner"), b.namespace), b.key);
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
          query: z.string().optional(),
        })
        .loose(),
    );
    if (b.query) fail("invalid_input", "Semantic search (query) needs pgvector, which this Postgres does not have; search by namespace and filter.");
    const found = await store.search(inner(c.get("owner"), b.namespace_prefix), { ...(b.filter ? { filter: b.filter } : {}), limit: b.limit + b.offset + 100 });
    const items = found.filter((i) => startsWith(outer(i.namespace), b.namespace_prefix)).slice(b.offset, b.offset + b.limit);
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
    const all = await store.listNamespaces({ prefix: inner(c.get("owner"), b.prefix ?? []), limit: 10_000 });
    const mine = all
      .map(outer)
      .filter((ns) => startsWith(ns, b.prefix ?? []) && (!b.suffix || b.suffix.every((s, i) => ns[ns.length - b.suffix!.length + i] === s)))
      .map((ns) => (b.max_depth ? ns.slice(0, b.max_depth) : ns));
    const unique = [...new Map(mine.map((ns) => [JSON.stringify(ns), ns])).values()];
    return c.json({ namespaces: unique.slice(b.offset, b.offset + b.limit) });
  });
}
