// A run's webhook: when the run ends, its record is POSTed to the URL it gave (as the reference server
// does). Only to hosts WAYPOINT_WEBHOOK_HOSTS allows: a client must not make the server call into its
// network. Checked when the run is submitted and again when it is sent; a failed call is logged.
import type { RunRow } from "./queue.js";
import { config } from "../config.js";
import { log } from "../log.js";
import { WaypointError } from "../errors.js";

/** Refuses (invalid_input) a webhook URL that is not http(s) or whose host is not allowed. */
export function checkWebhook(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WaypointError("invalid_input", `webhook is not a URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new WaypointError("invalid_input", `webhook must be an http(s) URL, got ${u.protocol}`);
  const allowed = config().webhookHosts;
  if (!allowed.includes(u.hostname) && !allowed.includes(u.host)) {
    throw new WaypointError("invalid_input", `webhook host "${u.host}" is not allowed; allowed: ${allowed.join(", ") || "none (set WAYPOINT_WEBHOOK_HOSTS)"}`);
  }
  return u;
}

export async function sendWebhook(run: RunRow, r: { status: string; startedAt: Date; endedAt: Date; values: unknown; error: string | null }): Promise<void> {
  try {
    const url = checkWebhook(String(run.kwargs.webhook));
    const payload = {
      run_id: run.run_id,
      thread_id: run.thread_id,
      assistant_id: run.assistant_id,
      created_at: run.created_at,
      updated_at: new Date(),
      metadata: run.metadata,
      kwargs: run.kwargs,
      multitask_strategy: run.multitask_strategy,
      status: r.status,
      run_started_at: r.startedAt.toISOString(),
      run_ended_at: r.endedAt.toISOString(),
      webhook_sent_at: new Date().toISOString(),
      values: r.values,
      ...(r.error ? { error: r.error } : {}),
    };
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) log.warn({ runId: run.run_id, status: res.status }, "webhook answered with an error");
  } catch (e) {
    log.warn({ runId: run.run_id, err: (e as Error).message }, "webhook call failed");
  }
}
