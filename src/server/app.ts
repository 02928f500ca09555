// The agent server's routes: the LangGraph API (assistants, threads, runs) on Waypoint's Postgres,
// behind bearer-token auth. Runs go through the run supervisor's queue; a worker carries them.
import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { AGENTS, type AgentDefinition } from "../../graphs/index.js";
import { AUDIT_ACTIONS, commentAudit, flagAudit, listAudit } from "../approvals/index.js";
import { isWaypointError } from "../errors.js";
import { log } from "../log.js";
import { activeRuns, getRun, listRuns, MULTITASK_STRATEGIES, requestStop, runByIdempotencyKey, type RunRow } from "../runs/queue.js";
import type { Waypoint } from "../runs/runner.js";
import { submit, type Submission } from "../runs/submit.js";
import { readRunEvents } from "../runs/events.js";
import { body, fail, STATUS, type Env } from "./http.js";
import { registerInbox, registerInboxPage } from "./inbox.js";
import { registerStoreRoutes } from "./store.js";
import { assistantIdFor, assistantOf, runOf, threadOf, threadStateOf, toJson } from "./shapes.js";

export interface ServerAuth {
  /** token -> owner; empty with `required: false` means no auth (loopback only). */
  tokens: Map<string, string>;
  required: boolean;
}

const Metadata = z.record(z.string(), z.unknown());
const ThreadCreate = z.object({ thread_id: z.uuid().optional(), metadata: Metadata.optional(), if_exists: z.enum(["raise", "do_nothing"]).optional() }).loose();
const ThreadSearch = z
  .object({ metadata: Metadata.optional(), status: z.enum(["idle", "busy", "interrupted", "error"]).optional(), limit: z.number().int().min(1).max(1000).optional(), offset: z.number().int().min(0).optional() })
  .loose();
const RunCreate = z
  .object({
    assistant_id: z.string().min(1),
    input: z.unknown().optional(),
    command: z.object({ resume: z.unknown().optional(), update: z.unknown().optional(), goto: z.unknown().optional() }).optional(),
    multitask_strategy: z.enum(MULTITASK_STRATEGIES).optional(),
    if_not_exists: z.enum(["reject", "create"]).optional(),
    metadata: Metadata.optional(),
    stream_mode: z.union([z.string(), z.array(z.string())]).optional(),
    checkpoint_id: z.string().optional(),
    stream_subgraphs: z.boolean().optional(),
    /** Run context; Waypoint reads `context.policy`: the oversight policy for this run and the thread's later ones. */
    context: z.object({ policy: z.unknown().optional() }).loose().optional(),
  })
  .loose();

/** Stream modes a client can ask for; "messages" and "messages-tuple" are both served from the recorded messages. */
const STREAM_MODES = ["values", "updates", "custom", "messages", "messages-tuple", "debug"];

function agentFor(assistantId: string): AgentDefinition {
  const def = Object.values(AGENTS).find((a) => a.name === assistantId || assistantIdFor(a.name) === assistantId);
  if (!def) fail("unknown_agent", `No assistant "${assistantId}". Assistants: ${Object.values(AGENTS).map((a) => `${a.name} (${assistantIdFor(a.name)})`).join(", ")}.`);
  return def;
}

interface ApiThreadRow {
  thread_id: string;
  owner: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export function createApp(wp: Waypoint, auth: ServerAuth): Hono<Env> {
  const app = new Hono<Env>();
  const pool = wp.pool;

  app.onError((e, c) => {
    if (isWaypointError(e)) return c.json({ error: e.code, message: e.message, detail: e.message }, STATUS[e.code] ?? 500);
    log.error({ err: e }, "server error");
    return c.json({ error: "internal", message: e.message, detail: e.message }, 500);
  });

  app.get("/ok", (c) => c.json({ ok: true }));
  registerInboxPage(app);

  app.use("*", async (c, next) => {
    if (!auth.required) {
      c.set("owner", null);
      return next();
    }
    const header = c.req.header("authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : (c.req.header("x-api-key") ?? "");
    const owner = auth.tokens.get(token);
    if (!owner) return c.json({ error: "unauthorized", message: "Missing or unknown bearer token (Authorization: Bearer <token>).", detail: "unauthorized" }, 401);
    c.set("owner", owner);
    return next();
  });

  app.get("/info", (c) => c.json({ version: "waypoint", flags: { assistants: true, crons: false, langsmith: false }, metadata: { agents: Object.keys(AGENTS) } }));

  // Assistants: one per agent, with the reference server's deterministic ids.
  app.post("/assistants/search", async (c) => {
    const q = await body(c, z.object({ graph_id: z.string().optional(), limit: z.number().int().min(1).optional(), offset: z.number().int().min(0).optional() }).loose());
    const all = Object.values(AGENTS)
      .filter((a) => !q.graph_id || a.name === q.graph_id)
      .map(assistantOf);
    return c.json(all.slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? 10)));
  });
  app.get("/assistants/:id", (c) => c.json(assistantOf(agentFor(c.req.param("id")))));
  app.get("/assistants/:id/schemas", (c) => {
    const def = agentFor(c.req.param("id"));
    const input = z.toJSONSchema(def.inputSchema) as Record<string, unknown>;
    return c.json({ graph_id: def.name, input_schema: input, output_schema: null, state_schema: input, config_schema: null, context_schema: null });
  });
  app.get("/assistants/:id/graph", async (c) => {
    const def = agentFor(c.req.param("id"));
    return c.json((await wp.compiledGraph(def.name).getGraphAsync()).toJSON());
  });
  app.get("/assistants/:id/subgraphs", async (c) => {
    const def = agentFor(c.req.param("id"));
    const out: Record<string, unknown> = {};
    // Sub-agents share their parent's state schema in Waypoint's graphs.
    const schema = z.toJSONSchema(def.inputSchema) as Record<string, unknown>;
    for await (const [namespace] of wp.compiledGraph(def.name).getSubgraphsAsync(undefined, c.req.query("recurse") === "true")) {
      out[namespace] = { graph_id: namespace, input_schema: schema, output_schema: null, state_schema: schema, config_schema: null, context_schema: null };
    }
    return c.json(out);
  });

  // Threads. One created through the API belongs to the token's owner; others' are invisible.
  const apiRow = async (threadId: string) => (await pool.query<ApiThreadRow>("SELECT * FROM waypoint.api_threads WHERE thread_id = $1", [threadId])).rows[0];
  const registered = async (threadId: string) => (await pool.query<{ created_at: Date; updated_at: Date }>("SELECT created_at, updated_at FROM waypoint.threads WHERE thread_id = $1", [threadId])).rows[0];

  async function visibleThread(c: Context<Env>, threadId: string): Promise<{ api: ApiThreadRow | undefined; reg: { created_at: Date; updated_at: Date } | undefined }> {
    const [api, reg] = await Promise.all([apiRow(threadId), registered(threadId)]);
    const owner = c.get("owner");
    if ((!api && !reg) || (api?.owner && owner && api.owner !== owner)) fail("unknown_thread", `No thread with id "${threadId}".`);
    return { api, reg };
  }

  async function threadJson(threadId: string, found: Awaited<ReturnType<typeof visibleThread>>) {
    const view = found.reg ? await wp.view(threadId) : undefined;
    // A queued run counts: the thread has work in progress (the reference server says "busy" too).
    const busy = (await activeRuns(pool, threadId)).length > 0;
    const created = found.api?.created_at ?? found.reg?.created_at ?? new Date();
    const updated = found.reg?.updated_at ?? found.api?.updated_at ?? created;
    return threadOf({ threadId, createdAt: created, updatedAt: updated, metadata: found.api?.metadata ?? {}, view, busy });
  }

  app.post("/threads", async (c) => {
    const b = await body(c, ThreadCreate);
    const threadId = b.thread_id ?? randomUUID();
    const existing = await Promise.all([apiRow(threadId), registered(threadId)]);
    if (existing[0] || existing[1]) {
      if (b.if_exists !== "do_nothing") fail("thread_busy", `Thread ${threadId} already exists (pass if_exists: "do_nothing" to get it instead).`);
      return c.json(await threadJson(threadId, await visibleThread(c, threadId)));
    }
    await pool.query("INSERT INTO waypoint.api_threads (thread_id, owner, metadata) VALUES ($1, $2, $3)", [threadId, c.get("owner"), JSON.stringify(b.metadata ?? {})]);
    return c.json(await threadJson(threadId, await visibleThread(c, threadId)));
  });

  app.get("/threads/:id", async (c) => {
    const id = c.req.param("id");
    return c.json(await threadJson(id, await visibleThread(c, id)));
  });

  app.patch("/threads/:id", async (c) => {
    const id = c.req.param("id");
    const b = await body(c, z.object({ metadata: Metadata }).loose());
    await visibleThread(c, id);
    await pool.query(
      `INSERT INTO waypoint.api_threads (thread_id, owner, metadata) VALUES ($1, $2, $3)
       ON CONFLICT (thread_id) DO UPDATE SET metadata = waypoint.api_threads.metadata || EXCLUDED.metadata, updated_at = now()`,
      [id, c.get("owner"), JSON.stringify(b.metadata)],
    );
    return c.json(await threadJson(id, await visibleThread(c, id)));
  });

  app.delete("/threads/:id", async (c) => {
    const id = c.req.param("id");
    const found = await visibleThread(c, id);
    if (found.reg) await wp.remove(id);
    await pool.query("DELETE FROM waypoint.api_threads WHERE thread_id = $1", [id]);
    return c.body(null, 204);
  });

  app.post("/threads/search", async (c) => {
    const q = await body(c, ThreadSearch);
    const { rows } = await pool.query<{ thread_id: string }>(
      `SELECT thread_id FROM (
         SELECT a.thread_id, a.created_at FROM waypoint.api_threads a WHERE (a.owner IS NULL OR $1::text IS NULL OR a.owner = $1) AND a.metadata @> $2::jsonb
         UNION
         SELECT t.thread_id, t.created_at FROM waypoint.threads t
          WHERE $2::jsonb = '{}'::jsonb AND NOT EXISTS (SELECT 1 FROM waypoint.api_threads a WHERE a.thread_id = t.thread_id)) x
       ORDER BY created_at DESC`,
      [c.get("owner"), JSON.stringify(q.metadata ?? {})],
    );
    const out: unknown[] = [];
    for (const r of rows) {
      const t = await threadJson(r.thread_id, await visibleThread(c, r.thread_id));
      if (!q.status || t.status === q.status) out.push(t);
    }
    return c.json(out.slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? 10)));
  });

  const emptyState = { values: {}, next: [], checkpoint: null, metadata: {}, created_at: null, parent_checkpoint: null, tasks: [] };

  app.get("/threads/:id/state", async (c) => {
    const id = c.req.param("id");
    const found = await visibleThread(c, id);
    return c.json(found.reg ? threadStateOf(await wp.state(id)) : emptyState);
  });

  app.get("/threads/:id/state/:checkpoint_id", async (c) => {
    const id = c.req.param("id");
    const found = await visibleThread(c, id);
    if (!found.reg) fail("unknown_checkpoint", `Thread ${id} has no checkpoints yet.`);
    return c.json(threadStateOf(await wp.stateAt(id, c.req.param("checkpoint_id"))));
  });

  app.post("/threads/:id/state", async (c) => {
    const id = c.req.param("id");
    const b = await body(c, z.object({ values: z.record(z.string(), z.unknown()), as_node: z.string().optional() }).loose());
    const found = await visibleThread(c, id);
    if (!found.reg) fail("invalid_input", `Thread ${id} has not started; run it before updating its state.`);
    if ((await activeRuns(pool, id)).length) fail("thread_busy", `Thread ${id} has an active run; update its state when it ends.`);
    const checkpointId = await wp.updateState(id, b.values, b.as_node);
    const checkpoint = { thread_id: id, checkpoint_ns: "", checkpoint_id: checkpointId };
    return c.json({ checkpoint: { ...checkpoint, checkpoint_map: null }, configurable: checkpoint });
  });

  app.post("/threads/:id/copy", async (c) => {
    const id = c.req.param("id");
    const found = await visibleThread(c, id);
    let copyId: string;
    if (found.reg) {
      const head = (await wp.state(id)).config.configurable?.checkpoint_id as string | undefined;
      if (!head) fail("invalid_input", `Thread ${id} has no checkpoint to copy yet.`);
      copyId = (await wp.fork(id, head)).threadId;
    } else copyId = randomUUID();
    await pool.query("INSERT INTO waypoint.api_threads (thread_id, owner, metadata) VALUES ($1, $2, $3)", [copyId, c.get("owner"), JSON.stringify(found.api?.metadata ?? {})]);
    return c.json(await threadJson(copyId, await visibleThread(c, copyId)));
  });

  app.post("/threads/:id/history", async (c) => {
    const id = c.req.param("id");
    const q = await body(c, z.object({ limit: z.number().int().min(1).max(1000).optional(), before: z.object({ configurable: z.object({ checkpoint_id: z.string() }).loose() }).loose().optional() }).loose());
    const found = await visibleThread(c, id);
    if (!found.reg) return c.json([]);
    const snaps = await wp.stateHistory(id, { ...(q.limit ? { limit: q.limit } : {}), ...(q.before ? { before: q.before.configurable.checkpoint_id } : {}) });
    return c.json(snaps.map(threadStateOf));
  });

  // Audit log (a Waypoint extension): what the policy and reviewers decided; flag and comment.
  const AuditQuery = z
    .object({
      thread_id: z.string().optional(),
      action: z.enum(AUDIT_ACTIONS).optional(),
      flagged: z.boolean().optional(),
      before_id: z.number().int().positive().optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .strict();
  async function visibleEntry(c: Context<Env>, id: number) {
    const owner = c.get("owner");
    const [entry] = await listAudit(pool, { id, limit: 1, ...(owner ? { visibleTo: owner } : {}) });
    if (!entry) fail("unknown_audit_entry", `No audit entry ${id}.`);
    return entry;
  }
  const entryId = (raw: string) => {
    const id = Number(raw);
    if (!Number.isInteger(id) || id <= 0) fail("invalid_input", `"${raw}" is not an audit entry id (a positive number).`);
    return id;
  };
  app.post("/audit/search", async (c) => {
    const q = await body(c, AuditQuery);
    const owner = c.get("owner");
    return c.json(
      await listAudit(pool, {
        ...(q.thread_id ? { threadId: q.thread_id } : {}),
        ...(q.action ? { action: q.action } : {}),
        ...(q.flagged !== undefined ? { flagged: q.flagged } : {}),
        ...(q.before_id ? { beforeId: q.before_id } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
        ...(owner ? { visibleTo: owner } : {}),
      }),
    );
  });
  app.get("/audit/:id", async (c) => c.json(await visibleEntry(c, entryId(c.req.param("id")))));
  app.post("/audit/:id/flag", async (c) => {
    const id = entryId(c.req.param("id"));
    const b = await body(c, z.object({ reason: z.string().min(1).nullable().describe("Why it needs attention; null clears the flag") }).strict());
    await visibleEntry(c, id);
    return c.json(await flagAudit(pool, id, c.get("owner") ?? "api", b.reason));
  });
  app.post("/audit/:id/comments", async (c) => {
    const id = entryId(c.req.param("id"));
    const b = await body(c, z.object({ body: z.string().min(1) }).strict());
    await visibleEntry(c, id);
    return c.json(await commentAudit(pool, id, c.get("owner") ?? "api", b.body));
  });

  // Runs.
  async function createRun(c: Context<Env>, threadId: string, b: z.infer<typeof RunCreate>): Promise<RunRow> {
    // A retried request with the same Idempotency-Key gets the run the first one created.
    const key = c.req.header("idempotency-key");
    const earlier = key ? await runByIdempotencyKey(pool, key) : undefined;
    if (earlier && earlier.thread_id === threadId) {
      await visibleThread(c, threadId);
      return earlier;
    }
    let found = await visibleThread(c, threadId).catch((e: unknown) => {
      if (isWaypointError(e, "unknown_thread") && b.if_not_exists === "create") return undefined;
      throw e;
    });
    if (!found) {
      await pool.query("INSERT INTO waypoint.api_threads (thread_id, owner) VALUES ($1, $2) ON CONFLICT DO NOTHING", [threadId, c.get("owner")]);
      found = await visibleThread(c, threadId);
    }
    const def = agentFor(b.assistant_id);
    if (found.reg) {
      const { rows } = await pool.query<{ agent: string }>("SELECT agent FROM waypoint.threads WHERE thread_id = $1", [threadId]);
      if (rows[0] && rows[0].agent !== def.name) fail("invalid_input", `Thread ${threadId} runs the ${rows[0].agent} agent, not ${def.name}; use assistant ${rows[0].agent} (${assistantIdFor(rows[0].agent)}).`);
    }
    const update = b.command?.update;
    if (update !== undefined && (typeof update !== "object" || update === null || Array.isArray(update))) fail("invalid_input", "command.update must be an object of state values.");
    const goto = b.command?.goto;
    if (goto !== undefined && typeof goto !== "string" && !(Array.isArray(goto) && goto.every((g) => typeof g === "string"))) {
      fail("invalid_input", "command.goto must be a node name or a list of node names.");
    }
    const command = update !== undefined || goto !== undefined ? { ...(update ? { update: update as Record<string, unknown> } : {}), ...(goto ? { goto: goto as string | string[] } : {}) } : undefined;
    const common: Partial<Submission> = {
      threadId,
      ...(b.multitask_strategy ? { strategy: b.multitask_strategy } : {}),
      ...(key ? { idempotencyKey: key } : {}),
      ...(command ? { command } : {}),
      ...(b.checkpoint_id ? { fromCheckpoint: b.checkpoint_id } : {}),
      ...(b.context?.policy !== undefined ? { policy: b.context.policy } : {}),
    };
    let s: Submission;
    if (b.command?.resume !== undefined && command) fail("invalid_input", "Send command.resume on its own: a decision, then (in another run) any update or goto.");
    if (b.command?.resume !== undefined) {
      // A map keyed by interrupt id answers that interrupt; anything else answers the only pending one.
      const resume = b.command.resume as Record<string, unknown>;
      const view = found.reg ? await wp.view(threadId) : undefined;
      const ids = new Set(view?.pending.map((p) => p.interruptId) ?? []);
      const keys = resume && typeof resume === "object" && !Array.isArray(resume) ? Object.keys(resume) : [];
      if (keys.length > 0 && keys.every((k) => ids.has(k))) {
        if (keys.length > 1) fail("invalid_decision", "Answer one interrupt per run: command.resume has several interrupt ids.");
        s = { ...common, decision: resume[keys[0] as string], interruptId: keys[0] as string };
      } else s = { ...common, decision: b.command.resume };
    } else if (!found.reg) {
      s = { ...common, agent: def.name, input: b.input ?? {} };
    } else {
      if (b.input !== undefined && b.input !== null) fail("invalid_input", `Thread ${threadId} has started already; Waypoint threads take their input once. Send input: null to continue it, or command.resume to answer its review.`);
      s = common;
    }
    const { run } = await submit(wp, s);
    return run;
  }

  async function joinRun(runId: string, timeoutMs = 10 * 60_000): Promise<RunRow> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await getRun(pool, runId);
      if (r.status !== "pending" && r.status !== "running") return r;
      if (Date.now() > end) return r;
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  async function finalValues(threadId: string): Promise<unknown> {
    const view = await wp.view(threadId);
    const values = toJson(view.values) as Record<string, unknown>;
    if (view.pending.length) values.__interrupt__ = view.pending.map((p) => ({ id: p.interruptId, value: toJson(p.request) }));
    return values;
  }

  app.post("/threads/:id/runs", async (c) => c.json(runOf(await createRun(c, c.req.param("id"), await body(c, RunCreate)))));
  app.post("/threads/:id/runs/wait", async (c) => {
    const run = await joinRun((await createRun(c, c.req.param("id"), await body(c, RunCreate))).run_id);
    return c.json(await finalValues(run.thread_id));
  });

  /**
   * Follow a run as Server-Sent Events from its recorded stream (any worker may be carrying it):
   * `metadata` first, then the chosen modes, then the end. `afterSeq` resumes after a disconnect.
   */
  function followRun(c: Context<Env>, runId: string, opts: { modes: string[]; subgraphs: boolean; afterSeq: number }) {
    const unknown = opts.modes.filter((m) => !STREAM_MODES.includes(m));
    if (unknown.length) fail("invalid_input", `stream_mode ${unknown.join(", ")} is not available; Waypoint streams ${STREAM_MODES.join(", ")} .`);
    return streamSSE(c, async (stream) => {
      let seq = opts.afterSeq;
      const announced = new Set<string>();
      for (;;) {
        const run = await getRun(pool, runId);
        const ended = run.status !== "pending" && run.status !== "running";
        for (const e of await readRunEvents(pool, runId, seq)) {
          seq = e.seq;
          const [mode = "", ...ns] = e.event.split("|");
          if (ns.length > 0 && !opts.subgraphs) continue;
          const suffix = ns.length ? `|${ns.join("|")}` : "";
          if (mode === "messages") {
            // Recorded as [message, metadata]: "messages-tuple" sends it as is; "messages" as metadata + complete events.
            const [message, metadata] = e.data as [{ id?: string }, unknown];
            if (opts.modes.includes("messages-tuple")) await stream.writeSSE({ event: `messages${suffix}`, data: JSON.stringify(e.data), id: String(e.seq) });
            if (opts.modes.includes("messages")) {
              const id = message.id ?? `msg-${e.seq}`;
              if (!announced.has(id)) {
                announced.add(id);
                await stream.writeSSE({ event: `messages/metadata${suffix}`, data: JSON.stringify({ [id]: { metadata } }), id: String(e.seq) });
              }
              await stream.writeSSE({ event: `messages/complete${suffix}`, data: JSON.stringify([message]), id: String(e.seq) });
            }
            continue;
          }
          if (mode !== "metadata" && !opts.modes.includes(mode)) continue;
          await stream.writeSSE({ event: e.event, data: JSON.stringify(e.data), id: String(e.seq) });
        }
        if (ended) {
          if (run.status === "error" || run.status === "dead") await stream.writeSSE({ event: "error", data: JSON.stringify({ error: run.status, message: run.detail ?? "the run failed" }) });
          return;
        }
        if (stream.aborted) return;
        await stream.sleep(50);
      }
    });
  }

  const modesOf = (raw: string | string[] | undefined) => (raw === undefined ? ["values"] : Array.isArray(raw) ? raw : [raw]);

  app.post("/threads/:id/runs/stream", async (c) => {
    const b = await body(c, RunCreate);
    const run = await createRun(c, c.req.param("id"), b);
    return followRun(c, run.run_id, { modes: modesOf(b.stream_mode), subgraphs: b.stream_subgraphs === true, afterSeq: 0 });
  });
  app.get("/threads/:id/runs", async (c) => {
    const id = c.req.param("id");
    await visibleThread(c, id);
    return c.json((await listRuns(pool, { threadId: id, limit: Number(c.req.query("limit") ?? 10) })).map(runOf));
  });
  const runOn = async (c: Context<Env>) => {
    await visibleThread(c, c.req.param("id") as string);
    const run = await getRun(pool, c.req.param("run_id") as string);
    if (run.thread_id !== c.req.param("id")) fail("unknown_run", `Thread ${c.req.param("id")} has no run ${run.run_id}.`);
    return run;
  };
  app.get("/threads/:id/runs/:run_id", async (c) => c.json(runOf(await runOn(c))));
  app.get("/threads/:id/runs/:run_id/join", async (c) => {
    const run = await joinRun((await runOn(c)).run_id);
    return c.json(await finalValues(run.thread_id));
  });
  app.delete("/threads/:id/runs/:run_id", async (c) => {
    const run = await runOn(c);
    if (run.status === "pending" || run.status === "running") fail("thread_busy", `Run ${run.run_id} is ${run.status}; cancel it first.`);
    await pool.query("DELETE FROM waypoint.runs WHERE run_id = $1", [run.run_id]);
    return c.body(null, 204);
  });

  // Stateless runs: a thread of their own, created for the run (kept, so its result can be read later).
  const statelessThread = async (c: Context<Env>) => {
    const id = randomUUID();
    await pool.query("INSERT INTO waypoint.api_threads (thread_id, owner, metadata) VALUES ($1, $2, $3)", [id, c.get("owner"), JSON.stringify({ stateless: true })]);
    return id;
  };
  app.post("/runs", async (c) => c.json(runOf(await createRun(c, await statelessThread(c), await body(c, RunCreate)))));
  app.post("/runs/wait", async (c) => {
    const b = await body(c, RunCreate);
    const run = await joinRun((await createRun(c, await statelessThread(c), b)).run_id);
    return c.json(await finalValues(run.thread_id));
  });
  app.post("/runs/stream", async (c) => {
    const b = await body(c, RunCreate);
    const run = await createRun(c, await statelessThread(c), b);
    return followRun(c, run.run_id, { modes: modesOf(b.stream_mode), subgraphs: b.stream_subgraphs === true, afterSeq: 0 });
  });

  app.get("/threads/:id/runs/:run_id/stream", async (c) => {
    const run = await runOn(c);
    const last = Number(c.req.header("last-event-id") ?? 0);
    // The SDK sends stream_mode=["a","b"] (JSON); plain repeated parameters work too.
    const modes = (c.req.queries("stream_mode") ?? []).flatMap((m) => {
      if (!m.startsWith("[")) return [m];
      try {
        return (JSON.parse(m) as unknown[]).map(String);
      } catch {
        return fail("invalid_input", `stream_mode is not a JSON list: ${m}`);
      }
    });
    return followRun(c, run.run_id, { modes: modes.length ? modes : STREAM_MODES, subgraphs: c.req.query("stream_subgraphs") === "true", afterSeq: Number.isFinite(last) ? last : 0 });
  });
  app.post("/threads/:id/runs/:run_id/cancel", async (c) => {
    const run = await runOn(c);
    const action = c.req.query("action") === "rollback" ? "rollback" : "cancel";
    await requestStop(pool, run.run_id, action);
    if (c.req.query("wait") === "true" || c.req.query("wait") === "1") await joinRun(run.run_id);
    return c.body(null, 204);
  });

  registerStoreRoutes(app, wp.persistence.store);
  registerInbox(app, wp);

  app.notFound((c) => c.json({ error: "not_found", message: `No route ${c.req.method} ${c.req.path}.`, detail: "not found" }, 404));
  return app;
}
