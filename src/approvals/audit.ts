// The audit log: what the oversight policy decided on its own (auto, deny), and what reviewers decided
// (reviews, scope grants and refusals, guard pauses), one row per decision. Reviewers list it, flag
// entries and comment on them after the fact (`waypoint audit`, GET /audit). Writes are idempotent: a
// node that re-runs after a crash writes the same row again and nothing changes.
import type pg from "pg";
import { WaypointError } from "../errors.js";

export const AUDIT_ACTIONS = ["auto", "deny", "review", "scope_granted", "scope_refused", "guard_paused", "guard_stopped"] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditInput {
  threadId: string;
  agent?: string | undefined;
  checkpointNs: string;
  /** The tool call id, or for a guard event the model turn it judged. */
  subject: string;
  tool?: string | undefined;
  args?: Record<string, unknown> | undefined;
  action: AuditAction;
  /** The policy rule that decided (e.g. "tools.make_payment.when.0"). */
  rule?: string | undefined;
  reason?: string | undefined;
  /** "policy", "guard", or "reviewer". */
  actor: "policy" | "guard" | "reviewer";
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  id: number;
  at: Date;
  threadId: string;
  agent: string | null;
  checkpointNs: string;
  subject: string;
  tool: string | null;
  args: Record<string, unknown> | null;
  action: AuditAction;
  rule: string | null;
  reason: string | null;
  actor: string;
  details: Record<string, unknown>;
  flagged: { at: Date; by: string; reason: string } | null;
  comments: Array<{ id: number; at: Date; author: string; body: string }>;
}

/** Write entries (one statement); an entry already written is left as it is. */
export async function recordAudit(pool: pg.Pool, entries: AuditInput[]): Promise<void> {
  if (entries.length === 0) return;
  const cols = 11;
  const values: unknown[] = [];
  const rows = entries.map((e, i) => {
    values.push(e.threadId, e.agent ?? null, e.checkpointNs, e.subject, e.tool ?? null, e.args === undefined ? null : JSON.stringify(e.args), e.action, e.rule ?? null, e.reason ?? null, e.actor, JSON.stringify(e.details ?? {}));
    return `(${Array.from({ length: cols }, (_, k) => `$${i * cols + k + 1}`).join(", ")})`;
  });
  await pool.query(
    `INSERT INTO waypoint.audit (thread_id, agent, checkpoint_ns, subject, tool, args, action, rule, reason, actor, details)
     VALUES ${rows.join(", ")} ON CONFLICT (thread_id, checkpoint_ns, subject, action) DO NOTHING`,
    values,
  );
}

interface AuditRow {
  id: string;
  at: Date;
  thread_id: string;
  agent: string | null;
  checkpoint_ns: string;
  subject: string;
  tool: string | null;
  args: Record<string, unknown> | null;
  action: AuditAction;
  rule: string | null;
  reason: string | null;
  actor: string;
  details: Record<string, unknown>;
  flagged_at: Date | null;
  flagged_by: string | null;
  flag_reason: string | null;
  comments: Array<{ id: number; at: string; author: string; body: string }>;
}

function entryOf(r: AuditRow): AuditEntry {
  return {
    id: Number(r.id),
    at: r.at,
    threadId: r.thread_id,
    agent: r.agent,
    checkpointNs: r.checkpoint_ns,
    subject: r.subject,
    tool: r.tool,
    args: r.args,
    action: r.action,
    rule: r.rule,
    reason: r.reason,
    actor: r.actor,
    details: r.details,
    flagged: r.flagged_at ? { at: r.flagged_at, by: r.flagged_by ?? "", reason: r.flag_reason ?? "" } : null,
    comments: r.comments.map((c) => ({ ...c, at: new Date(c.at) })),
  };
}

const SELECT = `
  SELECT a.*, COALESCE((SELECT json_agg(json_build_object('id', c.id, 'at', c.at, 'author', c.author, 'body', c.body) ORDER BY c.id)
                        FROM waypoint.audit_comments c WHERE c.audit_id = a.id), '[]') AS comments
  FROM waypoint.audit a`;

export interface AuditFilter {
  threadId?: string;
  action?: AuditAction;
  flagged?: boolean;
  /** Entries with an id below this one (paging, newest first). */
  beforeId?: number;
  /** Only entries of threads whose metadata contains this (an API caller's auth filter, e.g. { owner }). */
  visibleTo?: Record<string, unknown>;
  id?: number;
  limit?: number;
}

/** Entries, newest first. */
export async function listAudit(pool: pg.Pool, f: AuditFilter = {}): Promise<AuditEntry[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    values.push(v);
    where.push(sql.replace("?", `$${values.length}`));
  };
  if (f.threadId) add("a.thread_id = ?", f.threadId);
  if (f.action) add("a.action = ?", f.action);
  if (f.beforeId) add("a.id < ?", f.beforeId);
  if (f.id) add("a.id = ?", f.id);
  if (f.visibleTo) add("EXISTS (SELECT 1 FROM waypoint.threads t WHERE t.thread_id = a.thread_id AND t.metadata @> ?::jsonb)", JSON.stringify(f.visibleTo));
  if (f.flagged === true) where.push("a.flagged_at IS NOT NULL");
  if (f.flagged === false) where.push("a.flagged_at IS NULL");
  values.push(Math.min(Math.max(f.limit ?? 50, 1), 1000));
  const { rows } = await pool.query<AuditRow>(`${SELECT} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY a.id DESC LIMIT $${values.length}`, values);
  return rows.map(entryOf);
}

export async function getAuditEntry(pool: pg.Pool, id: number): Promise<AuditEntry> {
  const { rows } = await pool.query<AuditRow>(`${SELECT} WHERE a.id = $1`, [id]);
  const row = rows[0];
  if (!row) throw new WaypointError("unknown_audit_entry", `No audit entry ${id}. List them with \`waypoint audit\`.`, { details: { id } });
  return entryOf(row);
}

/** Flag an entry for attention (or clear the flag with `reason: null`). */
export async function flagAudit(pool: pg.Pool, id: number, by: string, reason: string | null): Promise<AuditEntry> {
  const { rowCount } = await pool.query(
    reason === null
      ? "UPDATE waypoint.audit SET flagged_at = NULL, flagged_by = NULL, flag_reason = NULL WHERE id = $1"
      : "UPDATE waypoint.audit SET flagged_at = now(), flagged_by = $2, flag_reason = $3 WHERE id = $1",
    reason === null ? [id] : [id, by, reason],
  );
  if (!rowCount) throw new WaypointError("unknown_audit_entry", `No audit entry ${id}. List them with \`waypoint audit\`.`, { details: { id } });
  return getAuditEntry(pool, id);
}

export async function commentAudit(pool: pg.Pool, id: number, author: string, body: string): Promise<AuditEntry> {
  if (!body.trim()) throw new WaypointError("invalid_input", "A comment needs some text.");
  try {
    await pool.query("INSERT INTO waypoint.audit_comments (audit_id, author, body) VALUES ($1, $2, $3)", [id, author, body]);
  } catch (e) {
    if ((e as { code?: string }).code === "23503") throw new WaypointError("unknown_audit_entry", `No audit entry ${id}. List them with \`waypoint audit\`.`, { details: { id } });
    throw e;
  }
  return getAuditEntry(pool, id);
}
