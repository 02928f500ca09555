// What Waypoint adds in front of the reference server's routes (mounted as its `http.app`, after CORS
// and auth, before every route): request limits, the Idempotency-Key replay, 4xx for what a client
// sent wrong, the store over Waypoint's per-owner PostgresStore, the audit log and the review inbox.
import { handleAuthEvent } from "@langchain/langgraph-api/auth";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { AUDIT_ACTIONS, commentAudit, flagAudit, listAudit } from "../approvals/index.js";
import { config } from "../config.js";
import { isWaypointError, WaypointError, type WaypointErrorCode } from "../errors.js";
import { log } from "../log.js";
import { findRun, isUuid, submitRun, type RunRow } from "../runs/index.js";
import type { ThreadRow } from "../runs/threads.js";
import { filterJson, IdempotentReplay, toRun, type WaypointOps } from "./ops.js";
import { INBOX_HTML } from "./inbox-page.js";
import { body, type Env } from "./http.js";
import { registerStoreRoutes } from "./store.js";
import { assistantIdFor } from "../runs/index.js";


/** Deeper JSON than this is refused before anything parses it into objects. */
export const MAX_JSON_DEPTH = 64;

/** The largest page of runs a listing returns. */
const MAX_PAGE = 1000;

/** HTTP status for each error a client can cause. */
const STATUS: Partial<Record<WaypointErrorCode, 400 | 404 | 409 | 413 | 422>> = {
  unknown_thread: 404,
  unknown_run: 404,
  unknown_agent: 404,
  unknown_checkpoint: 404,
  unknown_audit_entry: 404,
  invalid_input: 422,
  invalid_decision: 422,
  invalid_submission: 422,
  invalid_policy: 422,
  thread_busy: 409,
  nothing_pending: 409,
  thread_finished: 409,
  version_mismatch: 409,
};

/** How deep a JSON text nests (strings skipped), or Infinity once it passes `max`. */
export function jsonDepth(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // a backslash escapes the next character
      else if (ch === 34) inString = false;
      continue;
    }
    if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > max) return Infinity;
    } else if (ch === 125 || ch === 93) depth--;
  }
  return deepest;
}

// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where a JSON text holds a key or string Postgres cannot store ("body", "metadata.x", "input[2]"), if anywhere. */
export function unstorableString(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // not JSON: the route says so
  }
  // The depth is bounded (MAX_JSON_DEPTH) before this runs, so the walk is too.
  const walk = (v: unknown, at: string): string | undefined => {
    if (typeof v === "string") return UNSTORABLE.test(v) ? at : undefined;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = walk(v[i], `${at}[${i}]`);
        if (found) return found;
      }
      return undefined;
    }
    if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        const here = at === "body" ? JSON.stringify(k).slice(1, -1) : `${at}.${JSON.stringify(k).slice(1, -1)}`;
        if (UNSTORABLE.test(k)) return `${here} (the key)`;
        const found = walk(x, here);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(value, "body");
}

/** Which part of a URL decodes to a NUL character ("path segment 3", "query parameter \"key\""), if any. */
export function nulInUrl(raw: string): string | undefined {
  if (!raw.includes("%00") && !raw.includes("\u0000")) return undefined;
  const url = new URL(raw);
  const segments = url.pathname.split("/");
  for (let i = 0; i < segments.length; i++) {
    let seg: string;
    try {
      seg = decodeURIComponent(segments[i] ?? "");
    } catch {
      continue; // malformed percent-encoding: the route refuses it
    }
    if (seg.includes("\u0000")) return `path segment ${i}`;
  }
  for (const [k, v] of url.searchParams) {
    if (k.includes("\u0000") || v.includes("\u0000")) return `query parameter ${JSON.stringify(k.replace(/\u0000/g, "%00").slice(0, 60))}`;
  }
  return undefined;
}

function fail(c: Context<Env>, status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422, error: string, message: string) {
  return c.json({ error, message, detail: message }, status);
}

/** The caller's auth filter for threads, as the reference's auth handler gives it (undefined: sees everything). */
export async function threadFilter(c: Context<Env>): Promise<Record<string, unknown> | undefined> {
  const [filters] = await handleAuthEvent(c.var.auth as never, "threads:search", {});
  return filterJson(filters);
}

/** The owner a token names (null with auth off): its store space, its name on audit flags and comments. */
export function ownerOf(c: Context<Env>): string | null {
  return c.var.auth?.user.identity ?? null;
}

/** A whole-number query parameter within [min, max]; absent or unreadable: the default. */
function pageParam(raw: string | undefined, fallback: number, min: number, max: number): number {
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) ? Math.min(Math.max(n, min), max) : fallback;
}

const RUN_CREATE = /^\/(?:threads\/([^/]+)\/)?runs(?:\/(wait|stream))?$/;

export function createExtras(): Hono<Env> {
  const app = new Hono<Env>();

  // 1. Limits, before anything reads the body: its size (413, never buffered past the limit), its
  //    nesting (a 10,000-deep array must not reach a recursive parser or validator).
  app.use("*", async (c, next) => {
    // A NUL (%00) in a path segment or a query parameter reaches no query: Postgres cannot take it in text.
    const nul = nulInUrl(c.req.url);
    if (nul) return fail(c, 422, "invalid_input", `The ${nul} holds a NUL character (%00), which no id, key or filter can contain.`);
    if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS") return next();
    return bodyLimit({
      maxSize: config().api.maxBodyBytes,
      // Connection: close, so that a client does not send its next request on a socket whose unread
      // upload the server is about to drop (it would see "other side closed").
      onError: (cc) => {
        cc.header("Connection", "close");
        return fail(cc as Context<Env>, 413, "payload_too_large", `The request body is larger than ${config().api.maxBodyBytes} bytes (WAYPOINT_MAX_BODY_BYTES).`);
      },
    })(c, async () => {
      const type = c.req.header("content-type") ?? "";
      const text = await c.req.text();
      const jsonish = text.length > 0 && (type.includes("json") || type === "" || type.startsWith("text/plain"));
      if (jsonish && jsonDepth(text) === Infinity) {
        c.res = fail(c, 422, "invalid_input", `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
        return;
      }
      // Postgres cannot store a NUL character or an unpaired surrogate in text or jsonb (a 500 from
      // deep inside a write): refused here, naming where it is. Only "\u" escapes can make them.
      if (jsonish && text.includes("\\u")) {
        const where = unstorableString(text);
        if (where !== undefined) {
          c.res = fail(c, 422, "invalid_input", `The request body holds a string Postgres cannot store (a \\u0000 character or an unpaired UTF-16 surrogate) at ${where}; remove it or encode the data another way.`);
          return;
        }
      }
      await next();
    });
  });

  // 1b. Paging of a thread's runs: the reference coerces `limit`/`offset` to any number (-1, 1e20, 0.5
  //     pass), so they are checked here as the whole numbers they must be.
  app.use("/threads/:thread_id/runs", async (c, next) => {
    if (c.req.method !== "GET") return next();
    for (const [name, min, max] of [["limit", 1, MAX_PAGE], ["offset", 0, Number.MAX_SAFE_INTEGER]] as const) {
      const raw = c.req.query(name);
      if (raw === undefined || raw === "") continue;
      const n = Number(raw);
      if (!/^\d{1,16}$/.test(raw) || n < min || n > max) return fail(c, 422, "invalid_input", `${name} must be a whole number from ${min} to ${max}; got "${raw.slice(0, 40)}".`);
    }
    return next();
  });

  // 2. What a client sent wrong is a 4xx naming it; Waypoint's own errors keep their code.
  app.use("*", async (c, next) => {
    await next();
    const e = c.error;
    if (!e || e instanceof HTTPException) return;
    if (e instanceof IdempotentReplay) {
      c.res = await replay(c, e.run);
      return;
    }
    if (isWaypointError(e)) {
      const status = STATUS[e.code];
      if (status) {
        c.res = fail(c, status, e.code, e.message);
        return;
      }
    }
    log.error({ err: e, path: c.req.path }, "server error");
  });

  // 3. A retried submission with the same Idempotency-Key gets the run the key made (the owner's own key).
  app.use("*", async (c, next) => {
    if (c.req.method !== "POST") return next();
    const m = RUN_CREATE.exec(c.req.path);
    const key = c.req.header("idempotency-key");
    if (!m || key === undefined) return next();
    if (key.length === 0 || key.length > 200) return fail(c, 422, "invalid_input", "The Idempotency-Key header must be 1-200 characters.");
    // The key's run, or (its thread deleted since) the run it made, kept as a spent key: one snapshot.
    const { rows } = await c.var.LANGGRAPH_OPS.wp.pool.query<RunRow>(
      `SELECT * FROM waypoint.runs WHERE coalesce(idempotency_scope, '') = $1 AND idempotency_key = $2
       UNION ALL
       SELECT (jsonb_populate_record(NULL::waypoint.runs, k.run)).* FROM waypoint.spent_keys k WHERE k.scope = $1 AND k.idempotency_key = $2
       LIMIT 1`,
      [ownerOf(c) ?? "", key],
    );
    const earlier = rows[0];
    if (!earlier) return next();
    if (m[1] !== undefined && earlier.thread_id !== m[1]) {
      return fail(c, 422, "invalid_input", `The Idempotency-Key was used for a run on another thread (${earlier.thread_id}); use a new key.`);
    }
    return replay(c, earlier);
  });

  // 4. POST /runs/batch is all or nothing: the reference creates its runs one by one, so one refused run
  //    left the others queued. Waypoint's Ops only check them (ops.ts); they are queued here, together.
  app.use("/runs/batch", async (c, next) => {
    await next();
    const batch = c.get("waypointBatch");
    if (c.req.method !== "POST" || !batch?.length || c.res.status >= 300) return;
    const client = await c.var.LANGGRAPH_OPS.wp.pool.connect();
    try {
      await client.query("BEGIN");
      for (const [i, run] of batch.entries()) {
        // Given this client, submitRun writes inside this transaction.
        const out = await submitRun(client, run);
        if (out.outcome !== "created") {
          await client.query("ROLLBACK");
          c.res = fail(c, 409, "batch_refused", `Run ${i + 1} of the batch (on thread ${run.threadId}) could not be queued (${out.outcome}); none of the batch was queued.`);
          return;
        }
      }
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  });

  async function replay(c: Context<Env>, run: RunRow): Promise<Response> {
    const ops = c.var.LANGGRAPH_OPS;
    const kind = RUN_CREATE.exec(c.req.path)?.[2];
    const stateful = c.req.path.startsWith("/threads/");
    c.header("Content-Location", stateful ? `/threads/${run.thread_id}/runs/${run.run_id}` : `/runs/${run.run_id}`);
    // A run whose thread was deleted (a stateless run's on_completion=delete): what it left is its row
    // and the thread's last values, and the retry gets those; it is not run again.
    const { rows: spent } = await ops.wp.pool.query<{ values: unknown }>(
      `SELECT k."values" FROM waypoint.spent_keys k WHERE k.run_id = $1 AND NOT EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.run_id = k.run_id)`,
      [run.run_id],
    );
    if (spent[0]) {
      const values = spent[0].values ?? null;
      if (kind === "wait") return c.json(values);
      if (kind === "stream") {
        return streamSSE(c, async (stream) => {
          await stream.writeSSE({ event: "metadata", data: JSON.stringify({ run_id: run.run_id, attempt: run.attempts }) });
          if (values !== null) await stream.writeSSE({ event: "values", data: JSON.stringify(values) });
        });
      }
      return c.json(toRun(run));
    }
    if (kind === "wait") return c.json((await ops.runs.wait(run.run_id, stateful ? run.thread_id : undefined, c.var.auth as never)) ?? null);
    if (kind === "stream") {
      return streamSSE(c, async (stream) => {
        for await (const e of ops.runs.stream.join(run.run_id, stateful ? run.thread_id : undefined, { lastEventId: "-1", ignore404: true }, c.var.auth as never)) {
          await stream.writeSSE({ ...(e.id ? { id: e.id } : {}), event: e.event, data: JSON.stringify(e.data) });
        }
      });
    }
    return c.json(toRun(run));
  }

  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/inbox", (c) => c.html(INBOX_HTML));

  // The inbox's data: threads visible to the caller that wait for an answer, one page, newest first
  // (?limit=1..200, default 50, ?offset). The page is chosen in SQL (a partial index on interrupted
  // threads; none with a run that will answer it; only graphs this server runs), and its cards come from
  // the rows (each keeps its pending interrupts) with open calls and notices read for the whole page at
  // once: no checkpoint is read. A card's history is what the page fetches when it is opened.
  app.get("/inbox/api/waiting", async (c) => {
    const wp = c.var.LANGGRAPH_OPS.wp;
    const filter = await threadFilter(c);
    const limit = pageParam(c.req.query("limit"), 50, 1, 200);
    const offset = pageParam(c.req.query("offset"), 0, 0, 1_000_000);
    const { rows } = await wp.pool.query<ThreadRow>(
      `SELECT * FROM waypoint.threads t
        WHERE t.status = 'interrupted' AND t.graph_id = ANY($2::text[]) AND ($1::jsonb IS NULL OR t.metadata @> $1)
          AND NOT EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running'))
        ORDER BY t.updated_at DESC, t.thread_id DESC LIMIT $3 OFFSET $4`,
      [filter ? JSON.stringify(filter) : null, wp.registry.ids, limit, offset],
    );
    const views = await wp.waitingViews(rows);
    return c.json(
      views
        .filter((view) => view.pending.length > 0 && !view.activeRun && view.graphId)
        .map((view) => ({
          threadId: view.threadId,
          agent: view.graphId,
          assistantId: assistantIdFor(view.graphId!),
          description: wp.registry.graphs.get(view.graphId!)?.description ?? "",
          updatedAt: view.updatedAt,
          pending: view.pending,
          openCalls: view.openCalls,
          notices: view.notices,
        })),
    );
  });

  // A card's history (its last checkpoints: step, what each node wrote), for a thread the caller sees.
  app.get("/inbox/api/threads/:threadId/history", async (c) => {
    const wp = c.var.LANGGRAPH_OPS.wp;
    const filter = await threadFilter(c);
    const limit = pageParam(c.req.query("limit"), 8, 1, 100);
    const { rows } = await wp.pool.query<ThreadRow>("SELECT * FROM waypoint.threads t WHERE t.thread_id = $1 AND ($2::jsonb IS NULL OR t.metadata @> $2)", [
      c.req.param("threadId"),
      filter ? JSON.stringify(filter) : null,
    ]);
    const row = rows[0];
    if (!row || !row.graph_id || !wp.registry.has(row.graph_id)) return fail(c, 404, "unknown_thread", `Thread ${c.req.param("threadId").slice(0, 200)} not found.`);
    const history = await wp.historyOfRow(row, limit);
    return c.json(history.map((h) => ({ step: h.step, createdAt: h.createdAt, writes: h.writes, interrupted: h.interrupted })));
  });

  // Audit log (a Waypoint extension): what the policy and reviewers decided; flag and comment.
  const AuditQuery = z
    .object({
      thread_id: z.string().max(200).optional(),
      action: z.enum(AUDIT_ACTIONS).optional(),
      flagged: z.boolean().optional(),
      before_id: z.number().int().positive().optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .strict();
  const entryId = (raw: string) => {
    const id = Number(raw);
    if (!/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(id) || id <= 0) throw new WaypointError("invalid_input", `"${raw.slice(0, 40)}" is not an audit entry id (a positive number).`);
    return id;
  };
  async function visibleEntry(c: Context<Env>, id: number) {
    const filter = await threadFilter(c);
    const [entry] = await listAudit(c.var.LANGGRAPH_OPS.wp.pool, { id, limit: 1, ...(filter ? { visibleTo: filter } : {}) });
    if (!entry) throw new WaypointError("unknown_audit_entry", `No audit entry ${id}.`);
    return entry;
  }
  app.post("/audit/search", async (c) => {
    const q = await body(c, AuditQuery);
    const filter = await threadFilter(c);
    return c.json(
      await listAudit(c.var.LANGGRAPH_OPS.wp.pool, {
        ...(q.thread_id ? { threadId: q.thread_id } : {}),
        ...(q.action ? { action: q.action } : {}),
        ...(q.flagged !== undefined ? { flagged: q.flagged } : {}),
        ...(q.before_id ? { beforeId: q.before_id } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
        ...(filter ? { visibleTo: filter } : {}),
      }),
    );
  });
  app.get("/audit/:id", async (c) => c.json(await visibleEntry(c, entryId(c.req.param("id")))));
  app.post("/audit/:id/flag", async (c) => {
    const id = entryId(c.req.param("id"));
    const b = await body(c, z.object({ reason: z.string().min(1).max(2000).nullable().describe("Why it needs attention; null clears the flag") }).strict());
    await visibleEntry(c, id);
    return c.json(await flagAudit(c.var.LANGGRAPH_OPS.wp.pool, id, ownerOf(c) ?? "api", b.reason));
  });
  app.post("/audit/:id/comments", async (c) => {
    const id = entryId(c.req.param("id"));
    const b = await body(c, z.object({ body: z.string().min(1).max(10_000) }).strict());
    await visibleEntry(c, id);
    return c.json(await commentAudit(c.var.LANGGRAPH_OPS.wp.pool, id, ownerOf(c) ?? "api", b.body));
  });

  registerStoreRoutes(app);

  // Crons: the reference's routes answer every call with a 500 "Not implemented". Waypoint has no cron
  // scheduler either, so a search finds none and the rest are a 404 that says so (not a server error).
  const CronSearch = z
    .object({ assistant_id: z.string().max(200).optional(), thread_id: z.string().max(200).optional(), limit: z.number().int().min(1).max(1000).optional(), offset: z.number().int().min(0).optional() })
    .loose();
  const noCrons = (c: Context<Env>) => fail(c, 404, "not_supported", "Waypoint's server does not schedule crons (POST /runs/crons and its siblings); queue runs with POST /threads/{thread_id}/runs or `waypoint submit` instead.");
  app.post("/runs/crons/search", async (c) => {
    await body(c, CronSearch);
    return c.json([]);
  });
  app.post("/runs/crons", noCrons);
  app.delete("/runs/crons/:cron_id", noCrons);
  app.post("/threads/:thread_id/runs/crons", noCrons);

  // Run and thread ids of Waypoint's extra routes are checked like the reference checks its own.
  app.get("/waypoint/runs/:run_id", async (c) => {
    const id = c.req.param("run_id");
    if (!isUuid(id)) throw new WaypointError("invalid_input", "run_id must be a UUID");
    const run = await findRun(c.var.LANGGRAPH_OPS.wp.pool, id);
    const visible = run ? await c.var.LANGGRAPH_OPS.runs.get(id, undefined, c.var.auth as never) : null;
    if (!run || !visible) throw new WaypointError("unknown_run", `No run with id "${id}".`);
    return c.json({ ...toRun(run), waypoint: { status: run.status, detail: run.detail, attempts: run.attempts, crashes: run.crashes, worker_id: run.worker_id } });
  });

  return app;
}
