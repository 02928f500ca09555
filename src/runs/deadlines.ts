// Approval deadlines: a review can carry a deadline; a durable timer (a row with `available_at`, so it
// survives restarts) fires when it passes and applies the policy: remind (an event and a log line),
// escalate (an event naming the reviewer group it goes to), or reject (a decision, applied by a run).
import type pg from "pg";
import { z } from "zod";
import { withTransaction } from "../db/index.js";
import { log } from "../log.js";
import type { StateSnapshot } from "@langchain/langgraph";
import type { Waypoint } from "./runner.js";
import { pendingInterrupts } from "./threads.js";

export const DeadlinePolicySchema = z
  .object({
    afterMs: z.number().int().positive().describe("How long a review may wait"),
    action: z.enum(["remind", "escalate", "reject"]).describe("What happens when it has waited that long"),
    escalateTo: z.string().min(1).optional().describe("Reviewer group for escalate"),
    message: z.string().min(1).optional().describe("Reject: the reason given to the agent"),
  })
  .strict();
export type DeadlinePolicy = z.infer<typeof DeadlinePolicySchema>;

/** A timer per pending review of the thread (once: a repeated schedule changes nothing). */
export async function scheduleDeadlines(pool: pg.Pool, threadId: string, snapshot: StateSnapshot, policy: DeadlinePolicy): Promise<void> {
  for (const p of pendingInterrupts(snapshot)) {
    if (!p.request) continue; // only a review has a decision a deadline can take
    await pool.query(
      `INSERT INTO waypoint.timers (thread_id, interrupt_id, action, payload, available_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5 / 1000.0)) ON CONFLICT (thread_id, interrupt_id, action) DO NOTHING`,
      [threadId, p.interruptId, policy.action, JSON.stringify(policy), policy.afterMs],
    );
  }
}

interface TimerRow {
  timer_id: string;
  thread_id: string;
  interrupt_id: string;
  action: DeadlinePolicy["action"];
  payload: DeadlinePolicy;
}

/** Queues a run that applies a decision (submit() with a decision). */
export type DecisionSubmitter = (threadId: string, interruptId: string, response: unknown) => Promise<{ run_id: string }>;

/** Fire every due timer once (SKIP LOCKED: several workers share the work). Returns how many fired. */
export async function fireDueTimers(wp: Waypoint, decide: DecisionSubmitter): Promise<number> {
  // Workers call this every second: one cheap read when nothing is due, a transaction only when something is.
  const { rowCount } = await wp.pool.query("SELECT 1 FROM waypoint.timers WHERE fired_at IS NULL AND available_at <= now() LIMIT 1");
  if (!rowCount) return 0;
  return withTransaction(wp.pool, async (client) => {
    const { rows } = await client.query<TimerRow>(
      "SELECT timer_id, thread_id, interrupt_id, action, payload FROM waypoint.timers WHERE fired_at IS NULL AND available_at <= now() ORDER BY available_at LIMIT 20 FOR UPDATE SKIP LOCKED",
    );
    for (const t of rows) {
      const outcome = await apply(wp, client, t, decide).catch((e: unknown) => `failed: ${e instanceof Error ? e.message : String(e)}`);
      await client.query("UPDATE waypoint.timers SET fired_at = now(), outcome = $2 WHERE timer_id = $1", [t.timer_id, outcome]);
    }
    return rows.length;
  });
}

async function apply(wp: Waypoint, client: pg.PoolClient, t: TimerRow, decide: DecisionSubmitter): Promise<string> {
  const view = await wp.view(t.thread_id);
  const pending = view.pending.find((p) => p.interruptId === t.interrupt_id);
  if (!pending?.request) return "moot: the review was already answered";
  const request = pending.request;
  const event = async (kind: string, message: string, data: Record<string, unknown> = {}) =>
    client.query("INSERT INTO waypoint.events (thread_id, kind, message, data) VALUES ($1, $2, $3, $4)", [t.thread_id, kind, message, JSON.stringify({ interruptId: t.interrupt_id, ...data })]);
  const what = request.actionRequests.map((a) => a.description).join("; ");
  if (t.action === "remind") {
    await event("reminder", `Review still waiting after its deadline: ${what}`);
    log.warn({ threadId: t.thread_id, interruptId: t.interrupt_id }, "review deadline passed: reminder");
    return "reminded";
  }
  if (t.action === "escalate") {
    const group = t.payload.escalateTo ?? "escalation";
    await event("escalation", `Review escalated to ${group} after its deadline: ${what}`, { group });
    log.warn({ threadId: t.thread_id, group }, "review deadline passed: escalated");
    return `escalated to ${group}`;
  }
  // reject: a decision like any other, recorded and applied by a run. A choice has no "reject": it stops.
  const message = t.payload.message ?? "No decision before the deadline; rejected automatically.";
  const kind = request.kind ?? "review";
  const one = kind === "in_doubt" ? { type: "skip", message } : kind === "choice" ? { type: "choose", option: "stop" } : { type: "reject", message };
  const run = await decide(t.thread_id, t.interrupt_id, { decisions: request.actionRequests.map(() => one) });
  await event("deadline_reject", `Rejected after its deadline (run ${run.run_id}): ${what}`);
  return `rejected by run ${run.run_id}`;
}
