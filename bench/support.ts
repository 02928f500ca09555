// Shared by the bench scripts: a scratch database on the configured server, summary statistics, and a
// counter of SQL statements.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { openDatabase } from "../src/db/index.js";

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
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
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
