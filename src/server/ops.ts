// The reference server's storage interface (`Ops` of @langchain/langgraph-api) over Waypoint's Postgres:
// assistants, threads and their state, runs and their streams. The reference's routes (validation,
// status codes, CORS, auth, SSE framing) run unchanged on top; runs go to Waypoint's queue and are
// carried by Waypoint's workers, never by the reference's in-memory queue. Every method applies the
// auth handler's filters (an owner sees only its own threads and runs) as SQL.
import { handleAuthEvent } from "@langchain/langgraph-api/auth";
import type {
  Assistant,
  AssistantsRepo,
  AssistantVersion,
  Metadata,
  Ops,
  Run,
  RunKwargs as ApiRunKwargs,
  RunsRepo,
  RunsStreamRepo,
  Thread,
  ThreadsRepo,
  ThreadsStateRepo,
} from "@langchain/langgraph-api/storage";
import type { StateSnapshot } from "@langchain/langgraph";
import { getContext } from "hono/context-storage";
import { HTTPException } from "hono/http-exception";
import { v7 as uuid7 } from "@langchain/core/utils/uuid";
import { isWaypointError, WaypointError } from "../errors.js";
import type { Waypoint } from "../runs/index.js";
import { findRun, isUuid, listRuns, requestStop, submitRun, type NewRun, type RunRow } from "../runs/index.js";
import { prepareSubmission, type Submission } from "../runs/index.js";
import { findThreadRow, type ThreadRow } from "../runs/index.js";
import type { RunFeed } from "../runs/feed.js";
import { toJson } from "../runs/index.js";

type AuthContext = Parameters<typeof handleAuthEvent>[0];
type Filters = Awaited<ReturnType<typeof handleAuthEvent>>[0];

/** An auth handler's filters as one jsonb object a row's metadata must contain (`metadata @> $f`). */
export function filterJson(filters: Filters): Record<string, unknown> | undefined {
  if (!filters) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(filters)) {
    if (v && typeof v === "object") {
      if ("$eq" in v && v.$eq !== undefined) out[key] = v.$eq;
      else if ("$contains" in v && v.$contains !== undefined) out[key] = Array.isArray(v.$contains) ? v.$contains : [v.$contains];
    } else out[key] = v;
  }
  return out;
}

/**
 * LIMIT and OFFSET as Postgres takes them: the reference's schemas let through 2.6e203 or 1.5 (a 500 from
 * "bigint out of range"); refused with a 422 that names the field.
 */
function page(limit: unknown, offset: unknown): [number, number] {
  const check = (name: string, v: unknown, min: number, fallback: number) => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw new HTTPException(422, { message: `${name} must be a whole number from ${min} to ${Number.MAX_SAFE_INTEGER}, not ${String(v).slice(0, 40)}.` });
    return v;
  };
  return [Math.min(check("limit", limit, 0, 10), 1000), check("offset", offset, 0, 0)];
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const notFound = (message: string) => new HTTPException(404, { message });

/** A Waypoint error from deeper down as the HTTP error the reference would give (4xx, never a 500). */
function asHttp(e: unknown): never {
  if (isWaypointError(e)) {
    const status = e.code.startsWith("unknown_") ? 404 : e.code === "thread_busy" || e.code === "nothing_pending" || e.code === "thread_finished" ? 409 : e.code === "version_mismatch" ? 409 : 422;
    throw new HTTPException(status, { message: e.message, cause: e });
  }
  throw e;
}

function toRun(r: RunRow): Run {
  // Waypoint's own statuses in the API's words: a dead run failed, a cancelled one was interrupted.
  const status = r.status === "dead" ? "error" : r.status === "cancelled" ? "interrupted" : r.status;
  return {
    run_id: r.run_id,
    thread_id: r.thread_id,
    assistant_id: r.assistant_id ?? "",
    created_at: r.created_at,
    updated_at: r.updated_at,
    status,
    metadata: r.metadata ?? {},
    kwargs: r.kwargs as ApiRunKwargs,
    multitask_strategy: r.multitask_strategy,
  };
}

function toThread(t: ThreadRow): Thread {
  return {
    thread_id: t.thread_id,
    created_at: t.created_at,
    updated_at: t.updated_at,
    metadata: t.metadata ?? {},
    config: t.config ?? {},
    status: t.status,
    values: (t.values ?? undefined) as Record<string, unknown> | undefined,
    interrupts: t.interrupts ?? {},
  };
}

function toAssistant(a: Record<string, unknown>): Assistant {
  return a as unknown as Assistant;
}

/** A thread search's filters as SQL: only those given, each one a condition an index can serve. */
export function threadWhere(f: { ids?: string[] | undefined; metadata?: Metadata | undefined; values?: Record<string, unknown> | undefined; status?: string | undefined; owner?: Record<string, unknown> | undefined }): {
  sql: string;
  values: unknown[];
} {
  const conds: string[] = [];
  const values: unknown[] = [];
  const add = (cond: (n: string) => string, v: unknown) => {
    values.push(v);
    conds.push(cond(`$${values.length}`));
  };
  if (f.ids?.length) add((n) => `thread_id = ANY(${n}::text[])`, f.ids);
  if (f.metadata && Object.keys(f.metadata).length) add((n) => `metadata @> ${n}::jsonb`, JSON.stringify(f.metadata));
  if (f.values && Object.keys(f.values).length) add((n) => `"values" @> ${n}::jsonb`, JSON.stringify(f.values));
  if (f.status) add((n) => `status = ${n}`, f.status);
  if (f.owner && Object.keys(f.owner).length) add((n) => `metadata @> ${n}::jsonb`, JSON.stringify(f.owner));
  return { sql: conds.length ? `WHERE ${conds.join(" AND ")}` : "", values };
}

const ASSISTANT_SORT = new Set(["assistant_id", "created_at", "updated_at", "name", "graph_id"]);
const THREAD_SORT = new Set(["thread_id", "status", "created_at", "updated_at"]);

export class WaypointOps implements Ops {
  readonly assistants: AssistantsRepo;
  readonly threads: ThreadsRepo;
  readonly runs: RunsRepo;

  constructor(
    readonly wp: Waypoint,
    readonly feed: RunFeed,
  ) {
    this.assistants = new Assistants(wp);
    this.threads = new Threads(wp);
    this.runs = new Runs(wp, feed, this.threads);
  }

  /**
   * Refused, synchronously: the reference's POST /internal/truncate calls this without awaiting it, so
   * a rejected promise was never seen and the route answered 200 {"ok":true} for nothing done.
   */
  truncate(): Promise<void> {
    throw new HTTPException(403, { message: "Waypoint does not truncate its storage over HTTP (POST /internal/truncate is refused)." });
  }
}

class Assistants implements AssistantsRepo {
  constructor(private readonly wp: Waypoint) {}

  private get pool() {
    return this.wp.pool;
  }

  async *search(options: Parameters<AssistantsRepo["search"]>[0], auth: AuthContext): AsyncGenerator<{ assistant: Assistant; total: number }> {
    const [filters] = await handleAuthEvent(auth, "assistants:search", { graph_id: options.graph_id, metadata: options.metadata, limit: options.limit, offset: options.offset });
    const sortBy = options.sort_by && ASSISTANT_SORT.has(options.sort_by) ? options.sort_by : "created_at";
    const order = options.sort_order === "asc" ? "ASC" : "DESC";
    const { rows } = await this.pool.query(
      `SELECT * FROM waypoint.assistants
        WHERE ($1::text IS NULL OR graph_id = $1) AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%')
          AND ($3::jsonb IS NULL OR metadata @> $3) AND ($4::jsonb IS NULL OR metadata @> $4) AND graph_id = ANY($7)
        ORDER BY ${sortBy} ${order}, assistant_id LIMIT $5 OFFSET $6`,
      [options.graph_id ?? null, options.name ?? null, json(options.metadata), json(filterJson(filters)), ...page(options.limit, options.offset), this.wp.registry.ids],
    );
    for (const a of rows) yield { assistant: toAssistant(a), total: rows.length };
  }

  private async row(assistantId: string, filters: Filters): Promise<Record<string, unknown>> {
    if (!isUuid(assistantId)) throw notFound("Assistant not found");
    // An assistant of a graph this server does not load (another deployment's, on the same database) is not here.
    const { rows } = await this.pool.query("SELECT * FROM waypoint.assistants WHERE assistant_id = $1 AND ($2::jsonb IS NULL OR metadata @> $2) AND graph_id = ANY($3)", [
      assistantId,
      json(filterJson(filters)),
      this.wp.registry.ids,
    ]);
    if (!rows[0]) throw notFound("Assistant not found");
    return rows[0];
  }

  async get(assistantId: string, auth: AuthContext): Promise<Assistant> {
    const [filters] = await handleAuthEvent(auth, "assistants:read", { assistant_id: assistantId });
    return toAssistant(await this.row(assistantId, filters));
  }

  async put(assistantId: string, options: Parameters<AssistantsRepo["put"]>[1], auth: AuthContext): Promise<Assistant> {
    const [filters, mutable] = await handleAuthEvent(auth, "assistants:create", { assistant_id: assistantId, ...options });
    if (!isUuid(assistantId)) throw new HTTPException(422, { message: "assistant_id must be a UUID" });
    if (!this.wp.registry.has(options.graph_id)) throw notFound(`Graph "${options.graph_id}" not found`);
    const { rows: existing } = await this.pool.query("SELECT * FROM waypoint.assistants WHERE assistant_id = $1", [assistantId]);
    if (existing[0]) {
      const f = filterJson(filters);
      const matches = !f || Object.entries(f).every(([k, v]) => JSON.stringify((existing[0].metadata as Metadata)[k]) === JSON.stringify(v));
      if (!matches || options.if_exists === "raise") throw new HTTPException(409, { message: "Assistant already exists" });
      return toAssistant(existing[0]);
    }
    const metadata = (mutable as { metadata?: Metadata }).metadata ?? options.metadata ?? {};
    const { rows } = await this.pool.query(
      `WITH a AS (
         INSERT INTO waypoint.assistants (assistant_id, graph_id, name, description, config, context, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (assistant_id) DO NOTHING RETURNING *),
       v AS (INSERT INTO waypoint.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
             SELECT assistant_id, 1, graph_id, name, description, config, context, metadata FROM a)
       SELECT * FROM a`,
      [assistantId, options.graph_id, options.name || options.graph_id, options.description ?? null, json(options.config ?? {}), json(options.context ?? {}), json(metadata)],
    );
    if (!rows[0]) throw new HTTPException(409, { message: "Assistant already exists" });
    return toAssistant(rows[0]);
  }

  async patch(assistantId: string, options: Parameters<AssistantsRepo["patch"]>[1], auth: AuthContext): Promise<Assistant> {
    const [filters, mutable] = await handleAuthEvent(auth, "assistants:update", { assistant_id: assistantId, ...options });
    const current = await this.row(assistantId, filters);
    if (options.graph_id != null && !this.wp.registry.has(options.graph_id)) throw notFound(`Graph "${options.graph_id}" not found`);
    const metadata = (mutable as { metadata?: Metadata }).metadata ?? options.metadata;
    const { rows } = await this.pool.query(
      `WITH a AS (
         UPDATE waypoint.assistants SET graph_id = coalesce($2, graph_id), config = coalesce($3, config), context = coalesce($4, context),
                name = coalesce($5, name), description = coalesce($6, description), metadata = metadata || coalesce($7, '{}'::jsonb),
                version = (SELECT max(version) + 1 FROM waypoint.assistant_versions WHERE assistant_id = $1), updated_at = now()
          WHERE assistant_id = $1 RETURNING *),
       v AS (INSERT INTO waypoint.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
             SELECT assistant_id, version, graph_id, name, description, config, context, metadata FROM a)
       SELECT * FROM a`,
      [current.assistant_id, options.graph_id ?? null, json(options.config), json(options.context), options.name ?? null, options.description ?? null, json(metadata)],
    );
    return toAssistant(rows[0]);
  }

  async delete(assistantId: string, deleteThreads: boolean, auth: AuthContext): Promise<string[]> {
    const [filters] = await handleAuthEvent(auth, "assistants:delete", { assistant_id: assistantId });
    await this.row(assistantId, filters);
    if (deleteThreads) {
      const { rows } = await this.pool.query<{ thread_id: string }>("SELECT thread_id FROM waypoint.threads WHERE metadata->>'assistant_id' = $1", [assistantId]);
      for (const t of rows) await this.wp.deleteThread(t.thread_id).catch(asHttp);
    }
    await this.pool.query("DELETE FROM waypoint.assistants WHERE assistant_id = $1", [assistantId]);
    return [assistantId];
  }

  async count(options: Parameters<AssistantsRepo["count"]>[0], auth: AuthContext): Promise<number> {
    const [filters] = await handleAuthEvent(auth, "assistants:search", { graph_id: options.graph_id, metadata: options.metadata, limit: 0, offset: 0 });
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM waypoint.assistants WHERE ($1::text IS NULL OR graph_id = $1) AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%')
          AND ($3::jsonb IS NULL OR metadata @> $3) AND ($4::jsonb IS NULL OR metadata @> $4) AND graph_id = ANY($5)`,
      [options.graph_id ?? null, options.name ?? null, json(options.metadata), json(filterJson(filters)), this.wp.registry.ids],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async setLatest(assistantId: string, version: number, auth: AuthContext): Promise<Assistant> {
    const [filters] = await handleAuthEvent(auth, "assistants:update", { assistant_id: assistantId, version });
    await this.row(assistantId, filters);
    const { rows } = await this.pool.query(
      `UPDATE waypoint.assistants a SET config = v.config, context = v.context, metadata = v.metadata, version = v.version, name = v.name, graph_id = v.graph_id, updated_at = now()
         FROM waypoint.assistant_versions v WHERE a.assistant_id = $1 AND v.assistant_id = $1 AND v.version = $2 RETURNING a.*`,
      [assistantId, version],
    );
    if (!rows[0]) throw notFound("Assistant version not found");
    return toAssistant(rows[0]);
  }

  async getVersions(assistantId: string, options: { limit: number; offset: number; metadata?: Metadata }, auth: AuthContext): Promise<AssistantVersion[]> {
    const [filters] = await handleAuthEvent(auth, "assistants:read", { assistant_id: assistantId });
    if (!isUuid(assistantId)) return [];
    const { rows } = await this.pool.query(
      `SELECT v.* FROM waypoint.assistant_versions v WHERE v.assistant_id = $1 AND ($2::jsonb IS NULL OR v.metadata @> $2) AND ($3::jsonb IS NULL OR v.metadata @> $3)
        ORDER BY v.version DESC LIMIT $4 OFFSET $5`,
      [assistantId, json(options.metadata), json(filterJson(filters)), ...page(options.limit, options.offset)],
    );
    return rows as AssistantVersion[];
  }
}

class Threads implements ThreadsRepo {
  readonly state: ThreadsStateRepo;

  constructor(private readonly wp: Waypoint) {
    this.state = new ThreadState(wp, this);
  }

  private get pool() {
    return this.wp.pool;
  }

  async *search(options: Parameters<ThreadsRepo["search"]>[0], auth: AuthContext): AsyncGenerator<{ thread: Thread; total: number }> {
    const [filters] = await handleAuthEvent(auth, "threads:search", { metadata: options.metadata, ids: options.ids, status: options.status, values: options.values, limit: options.limit, offset: options.offset });
    const sortBy = options.sort_by && THREAD_SORT.has(options.sort_by) ? options.sort_by : "created_at";
    const order = options.sort_order === "asc" ? "ASC" : "DESC";
    // One page, by an index: thread rows carry what GET shows (status, values, interrupts), no view is built
    // per row. Only the filters given become SQL, so the planner sees each one (the GIN index on metadata,
    // the partial indexes by status) rather than `$n IS NULL OR ...` it cannot plan around.
    const where = threadWhere({ ids: options.ids, metadata: options.metadata, values: options.values, status: options.status, owner: filterJson(filters) });
    const { rows } = await this.pool.query<ThreadRow>(
      `SELECT * FROM waypoint.threads ${where.sql} ORDER BY ${sortBy} ${order}, thread_id ${order} LIMIT $${where.values.length + 1} OFFSET $${where.values.length + 2}`,
      [...where.values, ...page(options.limit, options.offset)],
    );
    for (const t of rows) yield { thread: toThread(t), total: rows.length };
  }

  /** The thread row, if it exists and the filters let this caller see it. */
  async visible(threadId: string, filters: Filters): Promise<ThreadRow | undefined> {
    const row = await findThreadRow(this.pool, threadId);
    const f = filterJson(filters);
    if (!row || (f && !Object.entries(f).every(([k, v]) => contains(row.metadata?.[k], v)))) return undefined;
    return row;
  }

  async get(threadId: string, auth: AuthContext): Promise<Thread> {
    const [filters] = await handleAuthEvent(auth, "threads:read", { thread_id: threadId });
    const row = await this.visible(threadId, filters);
    if (!row) throw notFound(`Thread with ID ${threadId} not found`);
    return toThread(row);
  }

  async put(threadId: string, options: { metadata?: Metadata; if_exists: "raise" | "do_nothing" }, auth: AuthContext): Promise<Thread> {
    const [filters, mutable] = await handleAuthEvent(auth, "threads:create", { thread_id: threadId, metadata: options.metadata, if_exists: options.if_exists });
    const metadata = (mutable as { metadata?: Metadata }).metadata ?? options.metadata ?? {};
    const { rows } = await this.pool.query<ThreadRow>(
      `INSERT INTO waypoint.threads (thread_id, status, metadata) VALUES ($1, 'idle', $2) ON CONFLICT (thread_id) DO NOTHING RETURNING *`,
      [threadId, json(metadata)],
    );
    if (rows[0]) {
      markCreated(threadId);
      return toThread(rows[0]);
    }
    const existing = await this.visible(threadId, filters);
    if (!existing || options.if_exists === "raise") throw new HTTPException(409, { message: "Thread already exists" });
    return toThread(existing);
  }

  async patch(threadId: string, options: { metadata?: Metadata }, auth: AuthContext): Promise<Thread> {
    const [filters, mutable] = await handleAuthEvent(auth, "threads:update", { thread_id: threadId, metadata: options.metadata });
    if (!(await this.visible(threadId, filters))) throw notFound("Thread not found");
    const metadata = (mutable as { metadata?: Metadata }).metadata ?? options.metadata ?? {};
    const { rows } = await this.pool.query<ThreadRow>("UPDATE waypoint.threads SET metadata = metadata || $2, updated_at = now() WHERE thread_id = $1 RETURNING *", [threadId, json(metadata)]);
    if (!rows[0]) throw notFound("Thread not found");
    return toThread(rows[0]);
  }

  async setStatus(): Promise<void> {
    // Waypoint's workers write a thread's status with each run's end (src/runs/queue.ts finishRun).
  }

  async delete(threadId: string, auth: AuthContext): Promise<string[]> {
    const [filters] = await handleAuthEvent(auth, "threads:delete", { thread_id: threadId });
    if (!(await this.visible(threadId, filters))) throw notFound(`Thread with ID ${threadId} not found`);
    await this.wp.deleteThread(threadId).catch(asHttp);
    return [threadId];
  }

  async copy(threadId: string, auth: AuthContext): Promise<Thread> {
    const [filters] = await handleAuthEvent(auth, "threads:read", { thread_id: threadId });
    const from = await this.visible(threadId, filters);
    if (!from) throw new HTTPException(409, { message: "Thread not found" });
    const newId = uuid7();
    const metadata = { ...from.metadata, thread_id: newId };
    await handleAuthEvent(auth, "threads:create", { thread_id: newId, metadata });
    const { rows } = await this.pool.query<{ id: string }>("SELECT checkpoint_id AS id FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1", [threadId]);
    if (rows[0]) await this.wp.fork(threadId, rows[0].id, { newThreadId: newId, metadata }).catch(asHttp);
    else await this.pool.query("INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, metadata) VALUES ($1, $2, $3, 'idle', $4)", [newId, from.graph_id, from.graph_version, json(metadata)]);
    const row = await findThreadRow(this.pool, newId);
    if (!row) throw new HTTPException(409, { message: "Thread not found" });
    return toThread(row);
  }

  async count(options: { metadata?: Metadata; values?: Record<string, unknown>; status?: Thread["status"] }, auth: AuthContext): Promise<number> {
    const [filters] = await handleAuthEvent(auth, "threads:search", { metadata: options.metadata, values: options.values, status: options.status, limit: 0, offset: 0 });
    const where = threadWhere({ metadata: options.metadata, values: options.values, status: options.status, owner: filterJson(filters) });
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM waypoint.threads ${where.sql}`, where.values);
    return Number(rows[0]?.n ?? 0);
  }
}

/** jsonb containment for one metadata value (a $contains filter is a list the value must contain). */
function contains(actual: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) return Array.isArray(actual) && wanted.every((w) => actual.some((a) => JSON.stringify(a) === JSON.stringify(w)));
  return JSON.stringify(actual) === JSON.stringify(wanted);
}

const EMPTY_STATE = { values: {}, next: [], config: {}, metadata: undefined, createdAt: undefined, parentConfig: undefined, tasks: [] } as unknown as StateSnapshot;

class ThreadState implements ThreadsStateRepo {
  constructor(
    private readonly wp: Waypoint,
    private readonly threads: Threads,
  ) {}

  private async thread(threadId: string | undefined, auth: AuthContext, event: "threads:read" | "threads:update"): Promise<ThreadRow> {
    const [filters] = await handleAuthEvent(auth, event, { thread_id: threadId });
    const row = threadId ? await this.threads.visible(threadId, filters) : undefined;
    if (!row) throw notFound(`Thread with ID ${threadId} not found`);
    return row;
  }

  async get(config: { configurable?: Record<string, unknown> }, options: { subgraphs?: boolean }, auth: AuthContext): Promise<StateSnapshot> {
    const row = await this.thread(config.configurable?.thread_id as string | undefined, auth, "threads:read");
    if (!row.graph_id) return EMPTY_STATE;
    const g = await this.wp.graph(row.graph_id, { configurable: { thread_id: row.thread_id } }).catch(asHttp);
    const state = await g.getState(config as never, { subgraphs: options.subgraphs ?? false });
    if (state.metadata && (state.metadata as Record<string, unknown>).checkpoint_ns === "") delete (state.metadata as Record<string, unknown>).checkpoint_ns;
    return state;
  }

  private async editable(config: { configurable?: Record<string, unknown> }, auth: AuthContext): Promise<ThreadRow> {
    const row = await this.thread(config.configurable?.thread_id as string | undefined, auth, "threads:update");
    const { rowCount } = await this.wp.pool.query("SELECT 1 FROM waypoint.runs WHERE thread_id = $1 AND status IN ('pending', 'running')", [row.thread_id]);
    if (rowCount) throw new HTTPException(409, { message: "Thread is busy" });
    if (!row.graph_id) throw new HTTPException(400, { message: `Thread ${row.thread_id} has no graph ID` });
    return row;
  }

  async post(config: { configurable?: Record<string, unknown> }, values: unknown, asNode: string | undefined, auth: AuthContext): Promise<{ checkpoint: Record<string, unknown> | undefined }> {
    const row = await this.editable(config, auth);
    const g = await this.wp.graph(row.graph_id as string).catch(asHttp);
    let next;
    try {
      next = await g.updateState({ configurable: { checkpoint_ns: "", ...config.configurable, thread_id: row.thread_id } }, values as Record<string, unknown>, asNode);
    } catch (e) {
      throw new HTTPException(422, { message: `Could not update the state of thread ${row.thread_id}: ${(e as Error).message}` });
    }
    await this.wp.refreshThread(row.thread_id);
    return { checkpoint: next.configurable };
  }

  async bulk(config: { configurable?: Record<string, unknown> }, supersteps: Parameters<ThreadsStateRepo["bulk"]>[1], auth: AuthContext): Promise<{ checkpoint: Record<string, unknown> | undefined }> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (!threadId) return { checkpoint: undefined };
    // All or nothing only holds for a thread this request made (undone by deleting it): on a thread
    // that was there before (if_exists: do_nothing), a superstep refused halfway would leave the first ones.
    if (inRequest() && createdInThisRequest() !== threadId) {
      const [filters] = await handleAuthEvent(auth, "threads:update", { thread_id: threadId });
      if (!(await this.threads.visible(threadId, filters))) throw notFound(`Thread with ID ${threadId} not found`);
      throw new HTTPException(409, { message: `Thread ${threadId} already exists; supersteps are applied only to the thread a POST /threads creates (all or nothing), not to an existing one.` });
    }
    try {
      return await this.applySupersteps(threadId, config, supersteps, auth);
    } catch (e) {
      // POST /threads with supersteps makes the thread, then applies them: refused supersteps leave no thread behind.
      if (createdInThisRequest() === threadId) await this.wp.deleteThread(threadId);
      throw e;
    }
  }

  private async applySupersteps(threadId: string, config: { configurable?: Record<string, unknown> }, supersteps: Parameters<ThreadsStateRepo["bulk"]>[1], auth: AuthContext): Promise<{ checkpoint: Record<string, unknown> | undefined }> {
    const row = await this.thread(threadId, auth, "threads:update");
    // A thread made with supersteps names its graph in its metadata (the SDK's graphId).
    const graphId = row.graph_id ?? (typeof row.metadata?.graph_id === "string" ? row.metadata.graph_id : undefined);
    if (!graphId) throw new HTTPException(400, { message: `Thread ${threadId} has no graph ID` });
    const lg = (() => {
      try {
        return this.wp.registry.get(graphId);
      } catch (e) {
        return asHttp(e);
      }
    })();
    const g = await this.wp.graph(graphId);
    // Checked before anything is written: an update as a node the graph does not have would fail halfway.
    const nodes = Object.keys((g as unknown as { nodes: Record<string, unknown> }).nodes ?? {});
    for (const [i, s] of supersteps.entries()) {
      for (const u of s.updates) {
        if (u.as_node !== undefined && !SPECIAL_AS_NODE.has(u.as_node) && !nodes.includes(u.as_node)) {
          throw new HTTPException(422, { message: `supersteps[${i}]: as_node ${JSON.stringify(u.as_node.slice(0, 100))} is not a node of the ${graphId} graph (its nodes: ${nodes.filter((n) => !n.startsWith("__")).join(", ")}; or __input__, __copy__).` });
        }
      }
    }
    const { toCommand } = await import("../runs/index.js");
    let next;
    try {
      next = await g.bulkUpdateState(
        { configurable: { checkpoint_ns: "", ...config.configurable, thread_id: threadId } },
        supersteps.map((s) => ({ updates: s.updates.map((u) => ({ values: u.command != null ? toCommand(u.command as never) : (u.values as Record<string, unknown>), asNode: u.as_node })) })),
      );
    } catch (e) {
      throw new HTTPException(422, { message: `Could not apply the supersteps to thread ${threadId}: ${(e as Error).message}` });
    }
    // The graph is the thread's once its supersteps are applied (not before: a refusal changes nothing).
    if (!row.graph_id) await this.wp.pool.query("UPDATE waypoint.threads SET graph_id = $2, graph_version = $3 WHERE thread_id = $1 AND graph_id IS NULL", [threadId, graphId, lg.version]);
    await this.wp.refreshThread(threadId);
    return { checkpoint: next.configurable };
  }

  async list(config: { configurable?: Record<string, unknown> }, options: { limit?: number; before?: string | { configurable?: Record<string, unknown> }; metadata?: Metadata }, auth: AuthContext): Promise<StateSnapshot[]> {
    const threadId = config.configurable?.thread_id as string | undefined;
    if (!threadId) return [];
    const [filters] = await handleAuthEvent(auth, "threads:read", { thread_id: threadId });
    const row = await this.threads.visible(threadId, filters);
    if (!row) throw notFound(`Thread with ID ${threadId} not found`);
    if (!row.graph_id) return [];
    const g = await this.wp.graph(row.graph_id, { configurable: { thread_id: threadId } }).catch(asHttp);
    const before = typeof options.before === "string" ? { configurable: { checkpoint_id: options.before } } : options.before;
    const out: StateSnapshot[] = [];
    // GET /threads/:id/history?limit=abc reaches here as NaN (the reference parseInt's it): a 422, not LIMIT NaN.
    if (options.limit != null && !Number.isSafeInteger(options.limit)) throw new HTTPException(422, { message: `limit must be a whole number from 1 to 1000, not ${String(options.limit)}.` });
    const limit = Math.min(Math.max(options.limit ?? 10, 1), 1000);
    for await (const s of g.getStateHistory(config as never, { limit, ...(before ? { before: before as never } : {}), ...(options.metadata ? { filter: options.metadata } : {}) })) out.push(s);
    return out;
  }
}

/** as_node values LangGraph's bulkUpdateState takes that are not nodes. */
const SPECIAL_AS_NODE = new Set(["__input__", "__copy__", "__end__"]);

type CreatedVars = { Variables: { waypointCreatedThread?: string } };

/** Remember, for the request being served, the thread it created (POST /threads, before its supersteps). */
function markCreated(threadId: string): void {
  try {
    getContext<CreatedVars>().set("waypointCreatedThread", threadId);
  } catch {
    // outside a request (tests driving Ops directly): nothing to undo later
  }
}

/** The runs a POST /runs/batch has checked so far (queued together once the batch is accepted); else undefined. */
function batchOfThisRequest(): NewRun[] | undefined {
  try {
    const c = getContext<{ Variables: { waypointBatch?: NewRun[] } }>();
    if (c.req.method !== "POST" || c.req.path !== "/runs/batch") return undefined;
    let batch = c.get("waypointBatch");
    if (!batch) c.set("waypointBatch", (batch = []));
    return batch;
  } catch {
    return undefined;
  }
}

function inRequest(): boolean {
  try {
    getContext();
    return true;
  } catch {
    return false;
  }
}

function createdInThisRequest(): string | undefined {
  try {
    return getContext<CreatedVars>().get("waypointCreatedThread");
  } catch {
    return undefined;
  }
}

/** The idempotency key of the request being served (the reference's routes do not pass headers on). */
function requestIdempotencyKey(): string | undefined {
  try {
    return getContext().req.header("idempotency-key") ?? undefined;
  } catch {
    return undefined;
  }
}

/** Thrown when a concurrent request created the run of this idempotency key first; the route answers with it. */
export class IdempotentReplay extends Error {
  constructor(readonly run: RunRow) {
    super(`run ${run.run_id} was created by an earlier request with this Idempotency-Key`);
  }
}

class Runs implements RunsRepo {
  readonly stream: RunsStreamRepo;

  constructor(
    private readonly wp: Waypoint,
    private readonly feed: RunFeed,
    private readonly threads: ThreadsRepo,
  ) {
    this.stream = new RunStream(wp, feed, this);
  }

  private get pool() {
    return this.wp.pool;
  }

  // eslint-disable-next-line require-yield
  async *next(): AsyncGenerator<{ run: Run; attempt: number; signal: AbortSignal }> {
    // Waypoint's workers claim runs from Postgres; the reference's in-memory queue never gets one.
  }

  async put(
    runId: string,
    assistantId: string,
    kwargs: ApiRunKwargs,
    options: {
      threadId?: string;
      userId?: string;
      status?: Run["status"];
      metadata?: Metadata;
      preventInsertInInflight?: boolean;
      multitaskStrategy?: Run["multitask_strategy"];
      ifNotExists?: "create" | "reject";
      afterSeconds?: number;
    },
    auth: AuthContext,
  ): Promise<Run[]> {
    const [filters, mutable] = await handleAuthEvent(auth, "threads:create_run", {
      thread_id: options.threadId,
      assistant_id: assistantId,
      run_id: runId,
      status: options.status ?? "pending",
      metadata: options.metadata ?? {},
      prevent_insert_if_inflight: options.preventInsertInInflight,
      multitask_strategy: options.multitaskStrategy ?? "reject",
      if_not_exists: options.ifNotExists ?? "reject",
      after_seconds: options.afterSeconds ?? 0,
      kwargs,
    } as never);
    const metadata = ((mutable as { metadata?: Metadata }).metadata ?? options.metadata ?? {}) as Record<string, unknown>;
    const ownerFilter = filterJson(filters);
    const stateless = options.threadId == null;
    const key = requestIdempotencyKey();
    const s: Submission = {
      threadId: options.threadId ?? undefined,
      assistant: assistantId,
      input: kwargs.input,
      command: kwargs.command as Submission["command"],
      config: kwargs.config as Submission["config"],
      context: kwargs.context,
      metadata,
      // An owner stamped by the auth handler belongs on a new thread too.
      threadMetadata: ownerFilter ? Object.fromEntries(Object.keys(ownerFilter).filter((k) => k in metadata).map((k) => [k, metadata[k]])) : undefined,
      streamMode: kwargs.stream_mode as string[] | undefined,
      subgraphs: kwargs.subgraphs,
      interruptBefore: kwargs.interrupt_before,
      interruptAfter: kwargs.interrupt_after,
      webhook: typeof kwargs.webhook === "string" ? kwargs.webhook : undefined,
      checkpoint: (kwargs.config?.configurable?.checkpoint_id ? { checkpoint_id: kwargs.config.configurable.checkpoint_id } : undefined) as Record<string, unknown> | undefined,
      afterSeconds: options.afterSeconds,
      temporary: stateless && kwargs.temporary === true,
      resumable: kwargs.resumable,
      strategy: options.multitaskStrategy ?? "reject",
      ifNotExists: stateless ? "create" : (options.ifNotExists ?? "reject"),
      idempotencyKey: key,
      idempotencyScope: auth?.user?.identity ?? "",
      ownerFilter,
    };
    if (s.config?.configurable?.checkpoint_id) delete s.config.configurable.checkpoint_id;
    let prepared;
    try {
      prepared = await prepareSubmission(this.wp, s);
    } catch (e) {
      if (isWaypointError(e, "unknown_thread")) throw notFound(`Thread with ID ${options.threadId} not found`);
      return asHttp(e);
    }
    prepared.runId = runId;
    // POST /runs/batch: every run is checked first, and all are queued in one transaction once the
    // whole batch was accepted (createExtras), so a batch refused for one bad run queues none.
    const batch = batchOfThisRequest();
    if (batch) {
      batch.push(prepared);
      const now = new Date();
      return [{ run_id: runId, thread_id: prepared.threadId, assistant_id: prepared.assistantId ?? "", created_at: now, updated_at: now, status: "pending", metadata: prepared.metadata ?? {}, kwargs: prepared.kwargs as ApiRunKwargs, multitask_strategy: prepared.strategy }];
    }
    const out = await submitRun(this.pool, prepared);
    switch (out.outcome) {
      case "created":
        return [toRun(out.run)];
      case "existing":
        throw new IdempotentReplay(out.run);
      case "busy": {
        // The reference route answers 422 "Thread is already running a task" when an inflight run comes back.
        const inflight = await Promise.all(out.runIds.map((id) => findRun(this.pool, id)));
        return inflight.filter((r): r is RunRow => r !== undefined).map(toRun);
      }
      case "graph_mismatch":
        throw new HTTPException(422, { message: `Thread ${prepared.threadId} runs the ${out.graphId} graph; runs on it use assistant ${out.graphId}.` });
      case "stale":
        throw new HTTPException(409, { message: `Thread ${prepared.threadId} moved on while the answer was checked; what it answered is no longer pending.` });
      case "no_thread":
      case "not_visible":
        throw notFound(`Thread with ID ${prepared.threadId} not found`);
    }
  }

  /** The run, if it exists, belongs to `threadId` (when given) and its thread is visible. */
  async visible(runId: string, threadId: string | undefined, auth: AuthContext, event: "threads:read" | "threads:delete" | "threads:update" = "threads:read"): Promise<RunRow | undefined> {
    const [filters] = await handleAuthEvent(auth, event, { thread_id: threadId, run_id: runId } as never);
    const run = await findRun(this.pool, runId);
    if (!run || (threadId != null && run.thread_id !== threadId)) return undefined;
    const f = filterJson(filters);
    if (f) {
      const t = await findThreadRow(this.pool, run.thread_id);
      // A stateless run's thread may be gone already; its run keeps the owner in its metadata.
      const meta = t?.metadata ?? run.metadata ?? {};
      if (!Object.entries(f).every(([k, v]) => contains(meta[k], v))) return undefined;
    }
    return run;
  }

  async get(runId: string, threadId: string | undefined, auth: AuthContext): Promise<Run | null> {
    const run = await this.visible(runId, threadId, auth);
    return run ? toRun(run) : null;
  }

  async delete(runId: string, threadId: string | undefined, auth: AuthContext): Promise<string | null> {
    const run = await this.visible(runId, threadId, auth, "threads:delete");
    if (!run) throw notFound("Run not found");
    if (run.status === "pending" || run.status === "running") throw new HTTPException(409, { message: `Run ${runId} is ${run.status}; cancel it first.` });
    await this.pool.query("DELETE FROM waypoint.runs WHERE run_id = $1", [runId]);
    return runId;
  }

  /** The run's last `values` event once it has ended ({ __error__ } when it failed), as the reference waits. */
  async wait(runId: string, threadId: string | undefined, auth: AuthContext): Promise<unknown> {
    let last: unknown = null;
    for await (const { event, data } of this.stream.join(runId, threadId, { ignore404: threadId == null, lastEventId: "-1" }, auth)) {
      if (event === "values") last = data;
      else if (event === "error") last = { __error__: data };
    }
    return last;
  }

  async join(runId: string, threadId: string, auth: AuthContext): Promise<unknown> {
    await this.threads.get(threadId, auth);
    const last = await this.wait(runId, threadId, auth);
    if (last != null) return last;
    return (await this.threads.get(threadId, auth)).values ?? null;
  }

  async setStatus(): Promise<void> {
    // Waypoint's workers record how runs end.
  }

  async cancel(threadId: string | undefined, runIds: string[], options: { action?: "interrupt" | "rollback" }, auth: AuthContext): Promise<void> {
    const runs = await Promise.all(runIds.map((id) => this.visible(id, threadId, auth, "threads:update")));
    if (runs.some((r) => r === undefined)) throw notFound("Run not found");
    for (const run of runs as RunRow[]) {
      if (run.status !== "pending" && run.status !== "running") continue;
      if (run.status === "pending" && options.action === "rollback") {
        await this.pool.query("DELETE FROM waypoint.runs WHERE run_id = $1 AND status = 'pending'", [run.run_id]);
        continue;
      }
      await requestStop(this.pool, run.run_id, options.action ?? "interrupt").catch(asHttp);
    }
  }

  async search(threadId: string, options: { limit?: number | null; offset?: number | null; status?: string | null; metadata?: Metadata | null }, auth: AuthContext): Promise<Run[]> {
    const [filters] = await handleAuthEvent(auth, "threads:search", { thread_id: threadId, metadata: options.metadata, status: options.status } as never);
    const thread = await (this.threads as Threads).visible(threadId, filters);
    if (!thread) return [];
    const limit = Number.isInteger(options.limit) && (options.limit as number) > 0 ? Math.min(options.limit as number, 1000) : 10;
    const offset = Number.isInteger(options.offset) && (options.offset as number) >= 0 ? (options.offset as number) : 0;
    const rows = await listRuns(this.pool, { threadId, ...(options.status ? { status: options.status as RunRow["status"] } : {}), ...(options.metadata ? { metadata: options.metadata } : {}), limit, offset });
    return rows.map(toRun);
  }
}

class RunStream implements RunsStreamRepo {
  constructor(
    private readonly wp: Waypoint,
    private readonly feed: RunFeed,
    private readonly runs: Runs,
  ) {}

  async *join(
    runId: string,
    threadId: string | undefined,
    options: { ignore404?: boolean; signal?: AbortSignal; cancelOnDisconnect?: boolean; lastEventId: string | undefined },
    auth: AuthContext,
  ): AsyncGenerator<{ id?: string; event: string; data: unknown }> {
    const run = await this.runs.visible(runId, threadId, auth);
    if (!run) {
      if (!options.ignore404) yield { event: "error", data: { error: "Error", message: "404: Run not found" } };
      return;
    }
    // Every event is kept, so a join without Last-Event-ID replays the run from its start.
    const after = Number(options.lastEventId);
    const afterSeq = Number.isInteger(after) && after > 0 ? after : 0;
    for await (const e of this.feed.follow(runId, afterSeq, options.signal)) {
      if ("missing" in e) return;
      if (e.event === "metadata" && afterSeq === 0 && e.seq !== 1) continue;
      yield { id: String(e.seq), event: e.event, data: e.data };
    }
    if (options.signal?.aborted && options.cancelOnDisconnect && threadId != null) {
      await requestStop(this.wp.pool, runId, "interrupt").catch(() => undefined);
    }
  }

  async publish(): Promise<void> {
    // Waypoint's workers record a run's events in Postgres (src/runs/events.ts).
  }
}

export { toRun, toThread, toJson, WaypointError };
