// The storage commands of `waypoint`: prune (checkpoint retention), transcript (every message a thread
// had), and sql (a person's read-only look at the database Waypoint uses, embedded Postgres included).
import { Command, InvalidArgumentError } from "commander";
import type { BaseMessage } from "@langchain/core/messages";
import type pg from "pg";
import { config } from "../config.js";
import { WaypointError } from "../errors.js";
import { pruneAll, readTranscript, transcriptMessages, type PruneResult, type TranscriptRow } from "../persistence/index.js";
import { bold, dim } from "./format.js";

interface GlobalOpts {
  json?: boolean;
}

/** Opens Waypoint (program.ts's withWaypoint); these commands need its pool only. */
type WithPool = <T>(opts: GlobalOpts, fn: (wp: { pool: pg.Pool }) => Promise<T>) => Promise<T>;

function positiveInt(label: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${label} must be a positive whole number, got "${raw}"`);
    return n;
  };
}

export function formatPrune(r: PruneResult): string {
  const verb = r.dryRun ? "Would delete" : "Deleted";
  const t = r.totals;
  if (t.threads === 0) return `Nothing to prune: no thread has more than ${r.keep} checkpoint${r.keep === 1 ? "" : "s"} in a namespace.`;
  const lines = [
    `${r.dryRun ? "Dry run. " : ""}${verb} ${t.checkpoints} checkpoints, ${t.writes} writes and ${t.blobs} blobs in ${t.threads} thread${t.threads === 1 ? "" : "s"}, keeping the newest ${r.keep} per thread; ${t.kept} checkpoints left.`,
  ];
  for (const th of r.threads) {
    if (th.skipped) lines.push(`  ${th.threadId}  ${dim(`skipped: ${th.skipped}`)}`);
    else
      lines.push(
        `  ${th.threadId}  -${th.checkpoints} checkpoints, -${th.writes} writes, -${th.blobs} blobs; ${th.kept} left${
          th.keptForReplay ? dim(` (${th.keptForReplay} older ones kept: delta-channel history, open interrupts, run start points)`) : ""
        }`,
      );
  }
  return lines.join("\n");
}

function contentText(m: BaseMessage): string {
  const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
  const calls = "tool_calls" in m && Array.isArray(m.tool_calls) && m.tool_calls.length ? ` -> ${m.tool_calls.map((c: { name: string }) => c.name).join(", ")}` : "";
  const flat = text.replace(/\s+/g, " ").trim();
  return (flat.length > 200 ? `${flat.slice(0, 200)}...` : flat) + calls;
}

/**
 * For people: each message once. A sub-agent that shares the `messages` key records the messages it was
 * given too; a message seen before with the same content is left out, an edit is shown as one.
 */
export function formatTranscript(rows: TranscriptRow[]): string {
  if (rows.length === 0) return "No messages recorded for this thread.";
  const seen = new Map<string, string>();
  const lines: string[] = [];
  for (const row of rows) {
    const previous = seen.get(row.message_id);
    if (previous === row.content_hash) continue;
    seen.set(row.message_id, row.content_hash);
    const [m] = transcriptMessages([row]);
    if (!m) continue;
    const who = `${row.type}${row.name ? ` ${row.name}` : ""}`;
    const where = row.checkpoint_ns ? ` [${row.checkpoint_ns}]` : "";
    lines.push(`${dim(`#${row.seq} ${row.created_at.toISOString().replace("T", " ").slice(0, 19)}`)} ${bold(who)}${where}${previous ? dim(" (edited)") : ""}: ${contentText(m)}`);
  }
  return lines.join("\n");
}

/** Rows as an aligned text table (values as JSON when they are not text), for people. */
export function formatRows(fields: string[], rows: Array<Record<string, unknown>>): string {
  const cell = (v: unknown) => (v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v));
  const cells = rows.map((r) => fields.map((f) => cell(r[f]).replace(/\s+/g, " ")));
  const width = fields.map((f, i) => Math.min(60, Math.max(f.length, ...cells.map((c) => c[i]!.length))));
  const line = (cs: string[]) => cs.map((c, i) => (c.length > width[i]! ? `${c.slice(0, width[i]! - 3)}...` : c.padEnd(width[i]!))).join(" | ").trimEnd();
  return [line(fields), width.map((w) => "-".repeat(w)).join("-+-"), ...cells.map(line), dim(`(${rows.length} row${rows.length === 1 ? "" : "s"})`)].join("\n");
}

export function registerPersistenceCommands(program: Command, open: WithPool): void {
  const g = () => program.opts<GlobalOpts>();

  program
    .command("sql <query>")
    .description("run a read-only SQL query on Waypoint's database (DATABASE_URL or embedded Postgres), e.g. \"SELECT * FROM world.grants\"")
    .action(async (query: string) => {
      await open(g(), async ({ pool }) => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN READ ONLY");
          await client.query("SET LOCAL statement_timeout = '10s'");
          let result: pg.QueryResult<Record<string, unknown>>;
          try {
            // One statement only (the extended protocol): "...; COMMIT; DELETE ..." cannot leave the read-only transaction.
            result = await client.query<Record<string, unknown>>({ text: query, queryMode: "extended" } as pg.QueryConfig);
          } catch (e) {
            // Postgres refused the query (syntax, unknown table, a write in a read-only transaction): bad input.
            throw new WaypointError("invalid_input", `Postgres refused the query: ${(e as Error).message}`);
          }
          const fields = (result.fields ?? []).map((f) => f.name);
          console.log(g().json ? JSON.stringify(result.rows, null, 2) : fields.length ? formatRows(fields, result.rows) : dim(`(${result.command ?? "done"})`));
        } finally {
          await client.query("ROLLBACK").catch(() => undefined);
          client.release();
        }
      });
    });

  program
    .command("prune")
    .description("delete old checkpoints; every thread stays resumable with the same state (transcript and ledger are kept)")
    .option("--keep <n>", "newest checkpoints kept per thread and namespace (default WAYPOINT_RETENTION_KEEP)", positiveInt("--keep"))
    .option("--thread <id>", "prune this thread only")
    .option("--dry-run", "count what would be deleted; delete nothing")
    .action(async (o: { keep?: number; thread?: string; dryRun?: boolean }) => {
      await open(g(), async ({ pool }) => {
        const result = await pruneAll(pool, { keep: o.keep ?? config().retention.keep, dryRun: o.dryRun === true, ...(o.thread ? { threadIds: [o.thread] } : {}) });
        const only = result.threads[0];
        if (o.thread && only && !only.skipped && only.kept + only.checkpoints === 0) {
          throw new WaypointError("unknown_thread", `Thread "${o.thread}" has no checkpoints. List threads with \`waypoint threads\`.`, { details: { threadId: o.thread } });
        }
        console.log(g().json ? JSON.stringify(result, null, 2) : formatPrune(result));
      });
    });

  program
    .command("transcript <thread>")
    .description("every message the thread ever had, in order, including those summarised or pruned away")
    .action(async (thread: string) => {
      await open(g(), async ({ pool }) => {
        const rows = await readTranscript(pool, thread);
        console.log(g().json ? JSON.stringify(rows, null, 2) : formatTranscript(rows));
      });
    });
}
