// Shared by the bench scripts: a scratch database on the configured server, summary statistics, and
// counters of SQL statements and commits.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { openDatabase, type Database } from "../src/db/index.js";
import { dropDatabase } from "../tests/support/db.js";

export interface Scratch {
  /** Connection string of the scratch database. */
  url: string;
  name: string;
  /** "external" (DATABASE_URL) or "embedded". */
  kind: "external" | "embedded";
}

/** Create a database on the configured server (DATABASE_URL or embedded), run `fn` in it, drop it. */
export async function withScratchDatabase<T>(label: string, fn: (db: Scratch) => Promise<T>): Promise<T> {
  const server = await openDatabase({ poolMax: 2 });
  const name = `wp_${label}_${randomBytes(4).toString("hex")}`;
  // Embedded Postgres: Waypoint's login may not create databases; its superuser makes one Waypoint owns.
  const admin = server.adminUrl ? new pg.Pool({ connectionString: server.adminUrl, max: 1 }) : server.pool;
  const { rows } = await server.pool.query<{ me: string }>("SELECT current_user AS me");
  await admin.query(`CREATE DATABASE ${name} OWNER "${rows[0]!.me}"`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  try {
    return await fn({ url: url.toString(), name, kind: server.kind });
  } finally {
    // After the sessions of the pools just closed are gone (tests/support/db.ts): FORCE at once reaches them.
    await dropDatabase(admin, name);
    if (admin !== server.pool) await admin.end();
    await server.close();
  }
}

export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of sorted values (p95 of 20 samples is the 19th smallest). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)] ?? NaN;
}

export function summarise(xs: number[]): Summary {
  const sorted = [...xs].sort((a, b) => a - b);
  return { n: sorted.length, median: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN };
}

let statements = 0;
let counting = false;

/**
 * Count every statement sent through any pg client in this process from now on; returns a reader of
 * the running total (take a difference around what you measure).
 */
export function countStatements(): () => number {
  if (!counting) {
    counting = true;
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function counted(this: pg.Client, ...args: unknown[]) {
      statements++;
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof pg.Client.prototype.query;
  }
  return () => statements;
}

// Commits and the statement mix: a wrapper that follows each client in and out of BEGIN..COMMIT. A
// statement outside an explicit transaction that writes is a transaction of its own: one commit.

/** What the process has sent so far: statements, commits, summed statement latency and the mix. */
export interface SqlTally {
  statements: number;
  commits: number;
  /** Sum of statement latencies (send to result), ms. */
  sqlMs: number;
  /** Statements by kind ("BEGIN", "INSERT checkpoint_blobs (in tx)", ...): how many, and their summed latency in ms. */
  kinds: Map<string, { n: number; ms: number }>;
}

const tally: SqlTally = { statements: 0, commits: 0, sqlMs: 0, kinds: new Map() };
const inTransaction = new WeakMap<pg.Client, boolean>();
let tallying = false;

function statementText(q: unknown): string {
  if (typeof q === "string") return q;
  if (q && typeof q === "object" && typeof (q as { text?: unknown }).text === "string") return (q as { text: string }).text;
  return "";
}

/** First keyword of a statement, comments and whitespace skipped. */
function keyword(sql: string): string {
  const s = sql.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, "");
  return (/^[A-Za-z]+/.exec(s)?.[0] ?? "").toUpperCase();
}

const WRITES = /\b(INSERT|UPDATE|DELETE|MERGE)\b/i;

/** Tables a statement inserts into, "+"-joined. */
function targets(sql: string): string {
  return [...sql.matchAll(/INSERT\s+INTO\s+([\w."]+)/gi)].map((m) => m[1]!.replace(/"/g, "")).join("+");
}

/** Follow the client in and out of transactions, count commits; returns the statement's kind. */
function classify(client: pg.Client, sql: string): string {
  const kw = keyword(sql);
  const inTx = inTransaction.get(client) ?? false;
  if (kw === "BEGIN" || (kw === "START" && /^\s*START\s+TRANSACTION/i.test(sql))) {
    inTransaction.set(client, true);
    return "BEGIN";
  }
  if (kw === "COMMIT" || kw === "END") {
    inTransaction.set(client, false);
    tally.commits++;
    return "COMMIT";
  }
  if (kw === "ROLLBACK" || kw === "ABORT") {
    inTransaction.set(client, false);
    return "ROLLBACK";
  }
  const writes = ["INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE"].includes(kw) || (kw === "WITH" && WRITES.test(sql));
  const into = targets(sql);
  const label = into ? `${kw === "WITH" ? "WITH " : ""}INSERT ${into}` : kw || "?";
  if (writes && !inTx) {
    tally.commits++;
    return `${label} (autocommit)`;
  }
  return writes ? `${label} (in tx)` : label;
}

/**
 * Count statements, commits and their latency for every pg client in this process from now on (the
 * statements also reach countStatements()); returns a reader of the running totals (a copy).
 */
export function sqlTally(): () => SqlTally {
  if (!tallying) {
    tallying = true;
    const query = pg.Client.prototype.query as (...a: unknown[]) => unknown;
    pg.Client.prototype.query = function classified(this: pg.Client, ...args: unknown[]) {
      tally.statements++;
      const kind = classify(this, statementText(args[0]));
      const entry = tally.kinds.get(kind) ?? { n: 0, ms: 0 };
      tally.kinds.set(kind, entry);
      entry.n++;
      const t0 = performance.now();
      const done = () => {
        const ms = performance.now() - t0;
        tally.sqlMs += ms;
        entry.ms += ms;
      };
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === "function") {
        args[last] = function timed(this: unknown, ...a: unknown[]) {
          done();
          return (callback as (...x: unknown[]) => unknown).apply(this, a);
        };
      }
      const result = query.apply(this, args);
      if (typeof callback !== "function" && result && typeof (result as Promise<unknown>).then === "function") (result as Promise<unknown>).then(done, done);
      return result;
    } as typeof pg.Client.prototype.query;
  }
  return () => ({ ...tally, kinds: new Map([...tally.kinds].map(([k, v]) => [k, { ...v }])) });
}

/**
 * Database.close() resolves before the pool's connections have finished closing; dropping the scratch
 * database WITH (FORCE) right after would terminate them mid-close (57P01 warnings on stderr).
 */
export async function closeFully(db: Database, close: () => Promise<void> = () => db.close()): Promise<void> {
  const open = db.pool.totalCount;
  let removed = 0;
  const gone = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    db.pool.on("remove", () => {
      if (++removed >= open) resolve();
    });
  });
  await close();
  await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 2000))]);
}

/** Median of a sample (the upper middle for an even count). */
export const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
/** The value at fraction `p` of a sorted sample (floor rank). */
export const pctOf = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

/** One variant of a per-call bench: milliseconds and SQL statements of each call. */
export interface CallRow {
  variant: string;
  ms: number[];
  sql: number[];
}

/** Time `calls` sequential calls of `once` (after 20 warm-up calls), counting statements with `statements`. */
export async function measureCalls(variant: string, calls: number, statements: () => number, once: (i: number) => Promise<unknown>): Promise<CallRow> {
  const row: CallRow = { variant, ms: [], sql: [] };
  for (let i = -20; i < calls; i++) {
    const before = statements();
    const t0 = performance.now();
    await once(i);
    if (i < 0) continue; // warm-up
    row.ms.push(performance.now() - t0);
    row.sql.push(statements() - before);
  }
  return row;
}

/** The markdown table of per-call rows: median, p10, p90 and SQL round trips per call. */
export function callTable(rows: CallRow[]): string {
  return [
    "| variant | ms/call median | p10 | p90 | SQL round trips/call |",
    "|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.variant} | ${medianOf(r.ms).toFixed(3)} | ${pctOf(r.ms, 0.1).toFixed(3)} | ${pctOf(r.ms, 0.9).toFixed(3)} | ${medianOf(r.sql)} |`),
  ].join("\n");
}

/** A markdown table, columns padded to their widest cell. */
export function markdownTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), line(widths.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n");
}

/** A positive whole-number flag (`--name 50`), or the fallback when absent. */
export function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}
