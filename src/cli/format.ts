// Readable terminal output for threads, reviews, history and world rows.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { ALL_DECISION_TYPES, responseSchemaOf, type DecisionType } from "../approvals/index.js";
import type { HistoryEntry, PendingInterrupt, ProgressEvent, ThreadView } from "../runs/index.js";
import type { WorldRows } from "../world/index.js";

const useColor = process.stdout.isTTY === true;
const paint = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint("1");
export const dim = paint("2");
export const green = paint("32");
export const yellow = paint("33");
export const red = paint("31");
const cyan = paint("36");

export function statusLabel(status: ThreadView["status"]): string {
  return { new: dim, queued: cyan, running: cyan, interrupted: yellow, done: green, error: red }[status](status);
}

export function formatProgress(e: ProgressEvent, elapsedMs: number): string {
  const where = e.namespace ? `${e.namespace} > ${e.node}` : e.node;
  return `  ${dim(`${(elapsedMs / 1000).toFixed(1).padStart(5)}s`)} ${bold(where)}: ${e.summary}`;
}

const TITLES = {
  review: "Review requested",
  in_doubt: "Did this happen? A tool call is in doubt",
  choice: "A decision is needed",
  scope: "Permission needed: the run lacks a scope",
  guard: "Paused by a guardrail",
} as const;

/** An interrupt that is not a review: its value, and how to answer it. */
function formatPlainInterrupt(p: PendingInterrupt, threadId: string): string {
  const shown = JSON.stringify(p.value, null, 2) ?? "null";
  const schema = responseSchemaOf(p.value);
  return [
    bold(`Interrupt from ${p.namespace ? `"${p.namespace}" > ` : ""}${p.node} (interrupt ${p.interruptId})`),
    ...shown.split("\n").map((l) => `  ${l}`),
    ...(schema ? [`  ${dim("the answer is checked against its response_schema (above)")}`] : []),
    "  Answer with:",
    `    waypoint resume ${threadId} --value '<json>'${p.interruptId ? `   (several waiting: add --interrupt ${p.interruptId})` : ""}`,
  ].join("\n");
}

export function formatReview(p: PendingInterrupt, threadId: string): string {
  const { request } = p;
  if (!request) return formatPlainInterrupt(p, threadId);
  const kind = request.kind ?? "review";
  const lines: string[] = [];
  lines.push(bold(`${TITLES[kind]}${p.namespace ? ` by sub-agent "${p.namespace}"` : ""} (interrupt ${p.interruptId})`));
  const ctx = request.context;
  if (ctx.done.length) {
    lines.push("  Done so far:");
    for (const d of ctx.done) lines.push(`    ${d.outcome === "done" ? green("✓") : red("✗")} ${d.step}: ${d.summary}`);
  } else lines.push("  Done so far: nothing yet");
  if (ctx.notStarted?.length) lines.push(`  Not started: ${ctx.notStarted.join(", ")}`);
  if (ctx.artifacts.length) lines.push(`  Artifacts: ${ctx.artifacts.map((a) => `${a.kind} ${a.ref}`).join(", ")}`);
  lines.push(kind === "review" || kind === "scope" ? "  Proposed next step:" : kind === "in_doubt" ? "  In doubt:" : "  The problem:");
  request.actionRequests.forEach((a, i) => {
    lines.push(`    ${i + 1}. ${bold(a.description)}`);
    lines.push(`       ${dim(`${a.name} ${JSON.stringify(a.args)}`)}`);
  });
  const options = request.reviewConfigs.flatMap((c) => c.options ?? []);
  if (options.length) {
    lines.push("  Options:");
    for (const o of options) lines.push(`    ${o.id.padEnd(14)} ${o.description}`);
  } else {
    lines.push("  What each decision does:");
    const allowed = new Set<string>(allowedDecisions(request));
    for (const [k, v] of Object.entries(ctx.decisionOutcomes)) if (allowed.has(k)) lines.push(`    ${k.padEnd(12)} ${v}`);
  }
  lines.push("  Decide with:");
  for (const l of decideLines(request, threadId)) lines.push(`    ${l}`);
  return lines.join("\n");
}

/** The decisions a request allows (for any of its actions), in the request's own order. */
export function allowedDecisions(request: NonNullable<PendingInterrupt["request"]>): DecisionType[] {
  const known = new Set<string>(ALL_DECISION_TYPES);
  return [...new Set(request.reviewConfigs.flatMap((c) => c.allowedDecisions))].filter((d) => known.has(d));
}

/** One `waypoint decide` command per decision the request allows, and none it does not. */
export function decideLines(request: NonNullable<PendingInterrupt["request"]>, threadId: string): string[] {
  const kind = request.kind ?? "review";
  const first = request.actionRequests[0];
  const options = request.reviewConfigs.flatMap((c) => c.options ?? []);
  const cmd = `waypoint decide ${threadId}`;
  const how: Record<DecisionType, string[]> = {
    approve: [`${cmd} approve`],
    edit: first ? [`${cmd} edit --args '${JSON.stringify(first.args)}'`] : [],
    reject: [`${cmd} reject --message "why not"`],
    respond: [`${cmd} respond --message "${kind === "guard" ? "guidance for the agent" : "what to tell the agent instead"}"`],
    confirm_done: [`${cmd} confirm_done --message "what you found, e.g. the reference"`],
    run_again: [`${cmd} run_again`],
    skip: [`${cmd} skip --message "why"`],
    grant_once: [`${cmd} grant_once`],
    grant_for_run: [`${cmd} grant_for_run`],
    choose: options.map((o) => `${cmd} choose --option ${o.id}${o.tool ? ` --args '${JSON.stringify(o.exampleArgs ?? o.baseArgs ?? {})}'` : ""}`),
  };
  return allowedDecisions(request).flatMap((d) => how[d]);
}

export function formatOpenCalls(calls: ThreadView["openCalls"]): string {
  const lines = [bold("Tool calls without a settled outcome:")];
  for (const c of calls) lines.push(`  ${yellow("?")} ${c.tool} ${dim(`(${c.toolCallId}${c.namespace ? ` in ${c.namespace}` : ""}, started ${c.startedAt.toISOString()})`)}`, `      ${c.explanation}`);
  return lines.join("\n");
}

function messageLine(m: BaseMessage): string {
  const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
  if (AIMessage.isInstance(m)) {
    if (m.tool_calls?.length) return `agent  -> ${m.tool_calls.map((tc) => `${tc.name}(${JSON.stringify(tc.args)})`).join(", ")}`;
    return `agent  : ${text.replace(/\n/g, "\n         ")}`;
  }
  if (ToolMessage.isInstance(m)) return `${m.status === "error" ? red("tool ✗") : green("tool ✓")} ${m.name ?? ""}: ${text}`;
  return `${m.getType().padEnd(6)} : ${text}`;
}

export function formatThread(v: ThreadView): string {
  const lines: string[] = [];
  lines.push(`${bold("Thread")} ${v.threadId}`);
  lines.push(`  graph     ${v.graphId ?? "-"}${v.graphVersion ? ` (version ${v.graphVersion})` : ""}`);
  lines.push(`  status    ${statusLabel(v.status)}${v.detail ? ` - ${v.detail}` : ""}`);
  if (v.next.length) lines.push(`  next      ${v.next.join(", ")}`);
  lines.push(`  checkpoint ${v.checkpointId ?? "-"}`);
  if (v.forkedFrom) lines.push(`  forked from ${v.forkedFrom.threadId} at ${v.forkedFrom.checkpointId}`);
  lines.push(`  updated   ${v.updatedAt.toISOString()}`);
  const messages = (v.values.messages ?? []) as BaseMessage[];
  if (messages.length) {
    lines.push("  Conversation:");
    for (const m of messages) lines.push(`    ${messageLine(m)}`);
  }
  if (v.openCalls.length) lines.push("", formatOpenCalls(v.openCalls));
  for (const n of v.notices ?? []) lines.push("", `  ${n.kind === "escalation" ? `Escalated to ${n.group ?? "?"}` : "Reminder"} at ${n.at.toISOString().replace("T", " ").slice(0, 19)}: ${n.message}`);
  for (const p of v.pending) lines.push("", formatReview(p, v.threadId));
  return lines.join("\n");
}

export function formatThreadList(views: ThreadView[]): string {
  if (views.length === 0) return "No threads yet. Start one with `waypoint run onboarding --input '<json>'` (or `npm start`).";
  const rows = views.map((v) => [v.threadId, v.graphId ?? "-", statusLabel(v.status), v.updatedAt.toISOString().replace("T", " ").slice(0, 19), v.detail ?? ""]);
  const header = ["THREAD", "GRAPH", "STATUS", "UPDATED", "DETAIL"];
  const width = (i: number) => Math.max(header[i]?.length ?? 0, ...rows.map((r) => stripAnsi(r[i] ?? "").length));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(width(i) - stripAnsi(c).length))).join("  ");
  return [bold(fmt(header)), ...rows.map(fmt)].join("\n");
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}

export function formatHistory(entries: HistoryEntry[]): string {
  return entries
    .map((e) => {
      const head = `${dim(e.createdAt ?? "")} step ${String(e.step).padStart(3)} ${e.checkpointId} ${e.source}${e.interrupted ? yellow(" [waiting for review]") : ""}`;
      const next = e.next.length ? `\n      next: ${e.next.join(", ")}` : "";
      const writes = e.writes.map((w) => `\n      wrote ${w}`).join("");
      return head + next + writes;
    })
    .join("\n");
}

export function formatWorld(rows: WorldRows): string {
  const lines = ["World rows for this hire:"];
  for (const a of rows.accounts) lines.push(`  world.directory  ${a.account_ref}  ${a.email}  ${a.name}  ${a.department}`);
  for (const g of rows.grants) lines.push(`  world.grants     ${g.email}  ${g.privilege}`);
  for (const e of rows.emails) lines.push(`  world.outbox     ${e.message_ref}  to ${e.recipient}  "${e.subject}"`);
  if (lines.length === 1) lines.push("  (none)");
  return lines.join("\n");
}
