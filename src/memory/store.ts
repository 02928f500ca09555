// WaypointStore: the long-term memory store every Waypoint graph and the API get. It wraps PostgresStore
// (checkpoint-postgres 1.0.5) and keeps its quirks inside: any label works (each is encoded into the
// characters PostgresStore accepts), namespaces are exact ("u1" never matches "u10", "a:b" is not
// ["a","b"]), items come back with the caller's namespace, and search without pgvector still answers.
import type { SearchItem } from "@langchain/langgraph-checkpoint";
import { BaseStore, type GetOperation, type Item, type ListNamespacesOperation, type Operation, type OperationResults, type PutOperation, type SearchOperation } from "@langchain/langgraph";
import { PostgresStore, type IndexConfig as PostgresIndexConfig } from "@langchain/langgraph-checkpoint-postgres/store";
import type pg from "pg";
import { appConnection } from "../db/index.js";
import { WaypointError } from "../errors.js";
import { log } from "../log.js";
import { quietBatchedStores } from "./batched.js";

// ---------------------------------------------------------------------------------------------------
// Label encoding. The one place it lives: the memory helpers, the API routes and the store all rely on
// it, and it is the same encoding src/memory wrote by hand before this wrapper existed, so rows written
// then are found now.

/** A label PostgresStore accepts keeps [A-Za-z0-9@+-]; every other byte of its UTF-8 is written ~hex. */
const SAFE = /[A-Za-z0-9@+-]/;

/** Encode one label (reversible, injective). Throws for an empty label. */
export function encodeLabel(raw: string): string {
  if (raw === "") throw new Error("a memory namespace label cannot be empty");
  return [...Buffer.from(raw, "utf8")]
    .map((b) => {
      const ch = String.fromCharCode(b);
      return SAFE.test(ch) ? ch : `~${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

export function decodeLabel(label: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i++) {
    if (label[i] === "~") {
      bytes.push(parseInt(label.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(label.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}

function describeNamespace(ns: readonly unknown[]): string {
  return JSON.stringify(ns);
}

/** Refuse a namespace with a label that is not a non-empty string, naming the label. */
export function checkLabels(ns: readonly string[]): void {
  ns.forEach((label, i) => {
    if (typeof label !== "string") {
      throw new WaypointError("invalid_input", `Namespace ${describeNamespace(ns)} has a label that is not a string at position ${i + 1} (${typeof label}); labels are non-empty strings.`, {
        details: { namespace: ns, position: i + 1 },
      });
    }
    if (label === "") {
      throw new WaypointError("invalid_input", `Namespace ${describeNamespace(ns)} has an empty label at position ${i + 1}; labels are non-empty strings (any characters).`, {
        details: { namespace: ns, position: i + 1 },
      });
    }
  });
}

/** PostgresStore reserves the root label "langgraph": ours is written "~6canggraph" (decoding gives it back). */
const RESERVED_ROOT = "langgraph";
const ESCAPED_ROOT = "~6canggraph";

/** Encode one label found at `position` (0-based) of a whole namespace. */
function encodeAt(label: string, position: number): string {
  const encoded = encodeLabel(label);
  return position === 0 && encoded === RESERVED_ROOT ? ESCAPED_ROOT : encoded;
}

/** Encode a whole namespace (from its root), checking each label: a clear error names a bad one. */
export function encodeNamespace(ns: readonly string[]): string[] {
  checkLabels(ns);
  return ns.map(encodeAt);
}

export function decodeNamespace(labels: readonly string[]): string[] {
  return labels.map(decodeLabel);
}

// ---------------------------------------------------------------------------------------------------
// Filters, as PostgresStore's filter works: a plain value compares the top-level field's text (so
// { n: 5 } matches 5 and "5"), an object of $-operators compares with them, any other object or an
// array matches by JSON. Differences, all where PostgresStore errs: an unknown operator is refused
// (PostgresStore ignores it), $in: [] matches nothing and $nin: [] everything (PostgresStore drops
// them), null matches a JSON null, and $gt & co. skip values that are not numbers instead of failing.

const OPERATORS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"] as const;
const NUMERIC = "'^\\s*-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?\\s*$'";

class SqlParams {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function scalarText(v: unknown): string {
  return typeof v === "string" ? v : String(v);
}

function filterConditions(filter: Record<string, unknown>, p: SqlParams): string[] {
  const out: string[] = [];
  for (const [field, want] of Object.entries(filter)) {
    // The field name as a typed parameter (Postgres cannot infer a type for `value ->> $1` or
    // `value ? $1`), added only where it is used: an unused parameter has no type either.
    let param: string | undefined;
    const k = () => (param ??= `${p.add(field)}::text`);
    if (want === null) {
      out.push(`value -> ${k()} = 'null'::jsonb`);
    } else if (Array.isArray(want)) {
      out.push(`value -> ${k()} = ${p.add(JSON.stringify(want))}::jsonb`);
    } else if (typeof want === "object") {
      const entries = Object.entries(want as Record<string, unknown>);
      if (!entries.some(([op]) => op.startsWith("$"))) {
        out.push(`value @> ${p.add(JSON.stringify({ [field]: want }))}::jsonb`);
        continue;
      }
      for (const [op, arg] of entries) out.push(operatorCondition(field, k(), op, arg, p));
    } else {
      out.push(`value ->> ${k()} = ${p.add(scalarText(want))}::text`);
    }
  }
  return out;
}

function operatorCondition(field: string, k: string, op: string, arg: unknown, p: SqlParams): string {
  const numeric = `(CASE WHEN value ->> ${k} ~ ${NUMERIC} THEN (value ->> ${k})::numeric END)`;
  const list = (): string[] => {
    if (!Array.isArray(arg)) throw new WaypointError("invalid_input", `Filter ${field}: ${op} takes an array of values.`, { details: { field, operator: op } });
    return arg.map((v) => scalarText(v));
  };
  switch (op) {
    case "$eq":
      return arg === null ? `value -> ${k} = 'null'::jsonb` : `value ->> ${k} = ${p.add(scalarText(arg))}::text`;
    case "$ne":
      return arg === null ? `value -> ${k} <> 'null'::jsonb` : `value ->> ${k} <> ${p.add(scalarText(arg))}::text`;
    case "$gt":
      return `${numeric} > ${p.add(Number(arg))}::numeric`;
    case "$gte":
      return `${numeric} >= ${p.add(Number(arg))}::numeric`;
    case "$lt":
      return `${numeric} < ${p.add(Number(arg))}::numeric`;
    case "$lte":
      return `${numeric} <= ${p.add(Number(arg))}::numeric`;
    case "$in":
      return `value ->> ${k} = ANY(${p.add(list())}::text[])`;
    case "$nin":
      return `(value ->> ${k} IS NULL OR NOT (value ->> ${k} = ANY(${p.add(list())}::text[])))`;
    case "$exists":
      return arg ? `value ? ${k}` : `NOT (value ? ${k})`;
    default:
      throw new WaypointError("invalid_input", `Filter ${field}: unknown operator "${op}". Accepted: ${OPERATORS.join(", ")}, or a plain value.`, {
        details: { field, operator: op, accepted: OPERATORS },
      });
  }
}

/** Case-insensitive substring match over the value's strings, numbers and booleans (not its keys). */
function textMatchCondition(query: string, p: SqlParams): string {
  return `EXISTS (SELECT 1 FROM jsonb_path_query(value, 'strict $.**') AS leaf(v)
                   WHERE jsonb_typeof(leaf.v) IN ('string', 'number', 'boolean') AND strpos(lower(leaf.v #>> '{}'), lower(${p.add(query)}::text)) > 0)`;
}

/** The namespace itself or anything under it (exact: encoded labels hold no ':', '%', '_' or '\'). */
function underCondition(encoded: string[], p: SqlParams): string | undefined {
  if (encoded.length === 0) return undefined;
  const path = encoded.join(":");
  return `(namespace_path = ${p.add(path)} OR namespace_path LIKE ${p.add(`${path}:%`)})`;
}

// ---------------------------------------------------------------------------------------------------

/** What every view of one store shares. */
interface Backend {
  inner: PostgresStore;
  pool: pg.Pool;
  /** Quoted table name, e.g. "public".store. */
  table: string;
  semantic: boolean;
}

export interface WaypointStoreOptions {
  /** Pool on Waypoint's database: namespace-exact search and listing run on it. */
  pool: pg.Pool;
  /** Connection string of the same database, for PostgresStore (it always opens its own pool). */
  url: string;
  /** Size of PostgresStore's own pool (it serves get/put/delete); default 2. */
  innerPoolMax?: number;
  /** Schema of the store tables; default "public" (PostgresStore's default). */
  schema?: string;
  /**
   * Embeddings for semantic search. Used only when pgvector is available on the server; otherwise the
   * store logs it once and `query` is a plain text match.
   */
  index?: PostgresIndexConfig;
  /** Run PostgresStore's migrations on first use; default false (Waypoint runs setup() under a lock). */
  ensureTables?: boolean;
}

/** Whether pgvector is installed or can be (CREATE EXTENSION needs it among the available ones). */
export async function pgvectorAvailable(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ ok: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') OR EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS ok",
  );
  return rows[0]?.ok === true;
}

/** Build the store on an open database. Call setup() once (Persistence does, under its lock). */
export async function createWaypointStore(opts: WaypointStoreOptions): Promise<WaypointStore> {
  let semantic = false;
  if (opts.index) {
    semantic = await pgvectorAvailable(opts.pool);
    if (!semantic) log.warn("memory store: embeddings were configured but this Postgres has no pgvector; search queries are plain text matches");
  }
  const schema = opts.schema ?? "public";
  const inner = new PostgresStore({
    // The same pinned search_path as the app's pool (db/pool.ts), so no session object can shadow its tables.
    connectionOptions: { ...appConnection(opts.url), max: opts.innerPoolMax ?? 2 },
    schema,
    ensureTables: opts.ensureTables ?? false,
    ...(semantic && opts.index ? { index: opts.index } : {}),
  });
  // The store's own pool has no 'error' listener: an idle connection the server drops (a restart, an
  // idle reaper) would crash the process. Its pool is not public; listen on it when it is there.
  const innerPool = (inner as unknown as { core?: { pool?: pg.Pool } }).core?.pool;
  innerPool?.on("error", (err: Error) => log.warn({ error: err.message }, "idle memory-store connection failed; it will be replaced"));
  return new WaypointStore({ inner, pool: opts.pool, table: `"${schema.replace(/"/g, '""')}".store`, semantic });
}

type ItemRow = { namespace_path: string; key: string; value: Record<string, unknown>; created_at: Date; updated_at: Date };

/**
 * Long-term memory with exact namespaces and any labels. `within(root)` gives a view whose namespaces
 * are relative to `root` (the API gives each owner one): nothing outside it is visible through it.
 * Search results come most recently updated first; expired items (PostgresStore TTL) are never listed.
 */
export class WaypointStore extends BaseStore {
  /** True when `query` is a semantic (vector) search; false: a case-insensitive text match. */
  readonly semantic: boolean;
  /** Labels every namespace of this view lives under (empty for the store itself). */
  readonly root: readonly string[];
  private readonly backend: Backend;
  private readonly encodedRoot: string[];

  /** Use createWaypointStore() (or within()) rather than this constructor. */
  constructor(backend: Backend, root: readonly string[] = []) {
    super();
    // The wrapper LangGraph puts around this store for each run must not spin while the run waits.
    quietBatchedStores();
    this.backend = backend;
    this.semantic = backend.semantic;
    this.root = [...root];
    this.encodedRoot = encodeNamespace(root);
  }

  /** The stored labels of a namespace given relative to this view (errors name the caller's labels). */
  private encodeRelative(relative: readonly string[]): string[] {
    checkLabels(relative);
    return [...this.encodedRoot, ...relative.map((l, i) => encodeAt(l, this.encodedRoot.length + i))];
  }

  /** A view of the namespaces under `root` (root labels are plain labels, like any other). */
  within(root: string[]): WaypointStore {
    return new WaypointStore(this.backend, [...this.root, ...root]);
  }

  /** Create the tables (PostgresStore's migrations). Run once per database, under Waypoint's setup lock. */
  async setup(): Promise<void> {
    await this.backend.inner.setup();
  }

  override start(): void {}

  /** Close PostgresStore's pool. Only the store itself does; a view leaves it open. */
  override async stop(): Promise<void> {
    if (this.root.length === 0) await this.backend.inner.stop();
  }

  // The convenience methods go straight to batch(): BaseStore's own checks refuse '.' and ':' in
  // labels, which this store accepts.
  override async get(namespace: string[], key: string): Promise<Item | null> {
    return (await this.batch([{ namespace, key }] as [GetOperation]))[0];
  }

  override async search(namespacePrefix: string[], options: { filter?: Record<string, unknown>; limit?: number; offset?: number; query?: string } = {}): Promise<SearchItem[]> {
    return (await this.batch([{ namespacePrefix, filter: options.filter, limit: options.limit ?? 10, offset: options.offset ?? 0, query: options.query }] as [SearchOperation]))[0];
  }

  override async put(namespace: string[], key: string, value: Record<string, unknown>, index?: false | string[]): Promise<void> {
    await this.batch([{ namespace, key, value, ...(index !== undefined ? { index } : {}) }] as [PutOperation]);
  }

  override async delete(namespace: string[], key: string): Promise<void> {
    await this.batch([{ namespace, key, value: null }] as [PutOperation]);
  }

  override async listNamespaces(options: { prefix?: string[]; suffix?: string[]; maxDepth?: number; limit?: number; offset?: number } = {}): Promise<string[][]> {
    const matchConditions = [
      ...(options.prefix ? [{ matchType: "prefix" as const, path: options.prefix }] : []),
      ...(options.suffix ? [{ matchType: "suffix" as const, path: options.suffix }] : []),
    ];
    return (await this.batch([{ matchConditions, ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}), limit: options.limit ?? 100, offset: options.offset ?? 0 }] as [ListNamespacesOperation]))[0];
  }

  /**
   * Runs the operations in order: gets, puts and deletes through PostgresStore (consecutive ones in one
   * batch), searches and namespace listings with exact SQL of our own.
   */
  override async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: unknown[] = new Array(operations.length);
    let i = 0;
    while (i < operations.length) {
      const op = operations[i] as Operation;
      if ("namespacePrefix" in op) {
        results[i] = await this.runSearch(op);
        i++;
      } else if ("key" in op) {
        // A run of consecutive get/put/delete operations: one PostgresStore batch.
        const start = i;
        const group: Operation[] = [];
        while (i < operations.length && "key" in (operations[i] as Operation)) {
          const item = operations[i] as Extract<Operation, { key: string }>;
          group.push({ ...item, namespace: this.encodeRelative(this.checkItemNamespace(item.namespace, item.key)) });
          i++;
        }
        const got = await this.backend.inner.batch(group);
        got.forEach((r, j) => {
          const asked = operations[start + j] as Extract<Operation, { key: string }>;
          // Items come back in the caller's own namespace (PostgresStore would give the encoded one).
          results[start + j] = r && typeof r === "object" && "key" in r ? { ...(r as Item), namespace: [...asked.namespace] } : r;
        });
      } else {
        results[i] = await this.runListNamespaces(op as ListNamespacesOperation);
        i++;
      }
    }
    return results as OperationResults<Op>;
  }

  private checkItemNamespace(namespace: string[], key: string): string[] {
    if (!Array.isArray(namespace) || namespace.length === 0) {
      throw new WaypointError("invalid_input", "An item's namespace needs at least one label, e.g. [\"users\", \"u1\"].", { details: { namespace } });
    }
    if (typeof key !== "string") throw new WaypointError("invalid_input", `An item's key must be a string (got ${typeof key}).`, { details: { namespace, key } });
    return namespace;
  }

  private decodeRelative(path: string): string[] {
    return decodeNamespace(path.split(":").slice(this.encodedRoot.length));
  }

  private async runSearch(op: SearchOperation): Promise<SearchItem[]> {
    const prefix = this.encodeRelative(op.namespacePrefix ?? []);
    const limit = Math.max(0, op.limit ?? 10);
    const offset = Math.max(0, op.offset ?? 0);
    if (op.query && this.semantic && prefix.length > 0) return this.semanticSearch(prefix, op.query, op.filter, limit, offset);
    const p = new SqlParams();
    const where = ["(expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)"];
    const under = underCondition(prefix, p);
    if (under) where.push(under);
    if (op.filter && Object.keys(op.filter).length > 0) where.push(...filterConditions(op.filter, p));
    if (op.query) where.push(textMatchCondition(op.query, p));
    const { rows } = await this.backend.pool.query<ItemRow>(
      `SELECT namespace_path, key, value, created_at, updated_at FROM ${this.backend.table}
        WHERE ${where.join(" AND ")}
        ORDER BY updated_at DESC, namespace_path, key LIMIT ${p.add(limit)} OFFSET ${p.add(offset)}`,
      p.values,
    );
    return rows.map((r) => ({ namespace: this.decodeRelative(r.namespace_path), key: r.key, value: r.value, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  /**
   * Vector search through PostgresStore, whose prefix match is a LIKE without a separator: fetch pages
   * and keep only items truly under the prefix until the page asked for is full. (Not exercised on
   * this project's test server, which has no pgvector.)
   */
  private async semanticSearch(prefix: string[], query: string, filter: Record<string, unknown> | undefined, limit: number, offset: number): Promise<SearchItem[]> {
    const wanted = offset + limit;
    const page = Math.max(50, wanted * 2);
    const path = prefix.join(":");
    const found: SearchItem[] = [];
    for (let innerOffset = 0; found.length < wanted; innerOffset += page) {
      const got = await this.backend.inner.search(prefix, { query, ...(filter ? { filter: filter as never } : {}), limit: page, offset: innerOffset });
      for (const item of got) {
        const itemPath = item.namespace.join(":");
        if (itemPath === path || itemPath.startsWith(`${path}:`)) found.push({ ...item, namespace: decodeNamespace(item.namespace.slice(this.encodedRoot.length)) });
      }
      if (got.length < page) break;
    }
    return found.slice(offset, wanted);
  }

  /**
   * Namespaces (relative to this view), exactly: a prefix or suffix matches whole labels, "*" stands
   * for any one label there (as BaseStore documents), and maxDepth truncates deeper namespaces to
   * that many labels, listing each result once.
   */
  private async runListNamespaces(op: ListNamespacesOperation): Promise<string[][]> {
    const p = new SqlParams();
    const R = this.encodedRoot.length;
    const where = ["(expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)", `cardinality(parts) > ${R}`];
    const literalHead = [...this.encodedRoot];
    let headOpen = true;
    for (const cond of op.matchConditions ?? []) {
      const labels = cond.path;
      checkLabels(labels);
      const n = labels.length;
      where.push(`cardinality(parts) >= ${R + n}`);
      labels.forEach((label, i) => {
        if (label === "*") {
          if (cond.matchType === "prefix") headOpen = false;
          return;
        }
        if (cond.matchType === "prefix") {
          const encoded = encodeAt(label, R + i);
          where.push(`parts[${R + i + 1}] = ${p.add(encoded)}`);
          if (headOpen && literalHead.length === R + i) literalHead.push(encoded);
          return;
        }
        // A suffix label's position depends on the namespace's length; only "langgraph" cares (see encodeAt).
        const at = `cardinality(parts) - ${n - i - 1}`;
        const plain = encodeLabel(label);
        where.push(plain === RESERVED_ROOT ? `parts[${at}] = (CASE WHEN ${at} = 1 THEN '${ESCAPED_ROOT}' ELSE '${RESERVED_ROOT}' END)` : `parts[${at}] = ${p.add(plain)}`);
      });
    }
    const under = underCondition(literalHead, p);
    if (under) where.push(under);
    const depth = op.maxDepth !== undefined ? Math.max(1, Math.floor(op.maxDepth)) : undefined;
    const ns = depth !== undefined ? `parts[1:${R + depth}]` : "parts";
    const { rows } = await this.backend.pool.query<{ ns: string[] }>(
      `SELECT DISTINCT ${ns} AS ns FROM (SELECT namespace_path, expires_at, string_to_array(namespace_path, ':') AS parts FROM ${this.backend.table}) s
        WHERE ${where.join(" AND ")}
        ORDER BY ns LIMIT ${p.add(Math.max(0, op.limit ?? 100))} OFFSET ${p.add(Math.max(0, op.offset ?? 0))}`,
      p.values,
    );
    return rows.map((r) => decodeNamespace(r.ns.slice(R)));
  }
}

/** The store under LangGraph's per-run AsyncBatchedStore wrapper (config.store inside a node), if any. */
export function unwrapStore(store: BaseStore): BaseStore {
  const wrapped = store as unknown as { lg_name?: string; store?: BaseStore };
  return wrapped.lg_name === "AsyncBatchedStore" && wrapped.store ? wrapped.store : store;
}

/** The WaypointStore behind `store` (even when LangGraph wrapped it for a run), or undefined. */
export function asWaypointStore(store: BaseStore): WaypointStore | undefined {
  const inner = unwrapStore(store);
  return inner instanceof WaypointStore ? inner : undefined;
}
