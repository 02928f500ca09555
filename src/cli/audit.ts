// `waypoint audit`: what the oversight policy decided on its own and what reviewers decided, newest
// first; flag an entry for attention and comment on it after the fact.
import os from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { AUDIT_ACTIONS, commentAudit, flagAudit, getAuditEntry, listAudit, type AuditAction, type AuditEntry } from "../approvals/index.js";
import type { Waypoint } from "../runs/runner.js";
import { bold, dim, red, yellow } from "./format.js";

type WithWaypoint = <T>(opts: { json?: boolean }, fn: (wp: Waypoint) => Promise<T>) => Promise<T>;

function entryId(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected an audit entry id (a positive number), got "${raw}"`);
  return n;
}

function reviewerName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return "cli";
  }
}

export function formatAuditEntry(e: AuditEntry, full = false): string {
  const action = e.action === "deny" || e.action === "guard_stopped" || e.action === "scope_refused" ? red(e.action) : e.action === "auto" ? e.action : yellow(e.action);
  const flag = e.flagged ? red(` [flagged by ${e.flagged.by}: ${e.flagged.reason}]`) : "";
  const what = e.tool ? `${e.tool} ${dim(JSON.stringify(e.args ?? {}))}` : e.subject;
  const lines = [`${bold(`#${e.id}`)} ${dim(e.at.toISOString())} ${action} ${what}${flag}`, `    thread ${e.threadId}${e.agent ? ` (${e.agent})` : ""} by ${e.actor}${e.rule ? `, rule ${e.rule}` : ""}${e.reason ? `: ${e.reason}` : ""}`];
  if (full) {
    if (Object.keys(e.details).length) lines.push(`    details: ${JSON.stringify(e.details)}`);
    for (const c of e.comments) lines.push(`    ${dim(c.at.toISOString())} ${bold(c.author)}: ${c.body}`);
  } else if (e.comments.length) lines.push(dim(`    ${e.comments.length} comment${e.comments.length === 1 ? "" : "s"}`));
  return lines.join("\n");
}

export function registerAuditCommands(program: Command, withWaypoint: WithWaypoint): void {
  const g = () => program.opts<{ json?: boolean }>();
  const audit = program.command("audit").description("the audit log: autonomous and reviewed decisions; flag and comment on entries");
  audit
    .command("list", { isDefault: true })
    .description("entries, newest first")
    .option("--thread <id>", "only this thread")
    .addOption(new Option("--action <action>", "only this kind of decision").choices([...AUDIT_ACTIONS]))
    .option("--flagged", "only flagged entries")
    .option("--limit <n>", "how many", (v) => entryId(v), 50)
    .action(async (o: { thread?: string; action?: AuditAction; flagged?: boolean; limit: number }) => {
      await withWaypoint(g(), async (wp) => {
        const entries = await listAudit(wp.pool, { ...(o.thread ? { threadId: o.thread } : {}), ...(o.action ? { action: o.action } : {}), ...(o.flagged ? { flagged: true } : {}), limit: o.limit });
        if (g().json) console.log(JSON.stringify(entries, null, 2));
        else console.log(entries.length ? entries.map((e) => formatAuditEntry(e)).join("\n") : "No audit entries.");
      });
    });
  audit
    .command("show <id>")
    .description("one entry with its details and comments")
    .action(async (id: string) => {
      await withWaypoint(g(), async (wp) => {
        const e = await getAuditEntry(wp.pool, entryId(id));
        console.log(g().json ? JSON.stringify(e, null, 2) : formatAuditEntry(e, true));
      });
    });
  audit
    .command("flag <id>")
    .description("flag an entry for attention (or --clear the flag)")
    .option("--reason <text>", "why it needs attention")
    .option("--clear", "remove the flag")
    .option("--by <name>", "who flags (default: your user name)")
    .action(async (id: string, o: { reason?: string; clear?: boolean; by?: string }) => {
      if (!o.clear && !o.reason) throw new InvalidArgumentError("say why with --reason <text> (or --clear to remove a flag)");
      await withWaypoint(g(), async (wp) => {
        const e = await flagAudit(wp.pool, entryId(id), o.by ?? reviewerName(), o.clear ? null : (o.reason ?? ""));
        console.log(g().json ? JSON.stringify(e, null, 2) : formatAuditEntry(e, true));
      });
    });
  audit
    .command("comment <id> <text>")
    .description("add a comment to an entry")
    .option("--by <name>", "author (default: your user name)")
    .action(async (id: string, text: string, o: { by?: string }) => {
      await withWaypoint(g(), async (wp) => {
        const e = await commentAudit(wp.pool, entryId(id), o.by ?? reviewerName(), text);
        console.log(g().json ? JSON.stringify(e, null, 2) : formatAuditEntry(e, true));
      });
    });
}
