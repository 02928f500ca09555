// The review inbox: a page listing the threads that wait for a person, each with its context (what is
// done, artifacts, the proposed action and its arguments, what each decision does), its calls in doubt
// and its recent history, with the decisions it allows. Plain HTML + a little script, served by the
// same server: nothing to build. Decisions go through the ordinary runs API.
import type { Hono } from "hono";
import { AGENTS } from "../../graphs/index.js";
import type { Waypoint } from "../runs/runner.js";
import type { Env } from "./http.js";
import { INBOX_HTML } from "./inbox-page.js";
import { assistantIdFor } from "./shapes.js";

/** The page itself holds no data, so it is served without a token (the page asks for one). */
export function registerInboxPage(app: Hono<Env>): void {
  app.get("/inbox", (c) => c.html(INBOX_HTML));
}

/** The data the page shows, behind the same auth as the rest of the API. */
export function registerInbox(app: Hono<Env>, wp: Waypoint): void {
  /** Threads waiting for a decision (visible to this owner), newest first, with what the page shows. */
  app.get("/inbox/api/waiting", async (c) => {
    const owner = c.get("owner");
    const { rows } = await wp.pool.query<{ thread_id: string }>(
      `SELECT t.thread_id FROM waypoint.threads t LEFT JOIN waypoint.api_threads a USING (thread_id)
        WHERE t.status = 'interrupted' AND (a.owner IS NULL OR $1::text IS NULL OR a.owner = $1)
          AND NOT EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running'))
        ORDER BY t.updated_at DESC LIMIT 50`,
      [owner],
    );
    const out = [];
    for (const r of rows) {
      const view = await wp.view(r.thread_id);
      if (view.pending.length === 0) continue;
      const history = await wp.history(r.thread_id, 8);
      out.push({
        threadId: view.threadId,
        agent: view.agent,
        assistantId: assistantIdFor(view.agent),
        description: AGENTS[view.agent]?.description ?? "",
        updatedAt: view.updatedAt,
        pending: view.pending,
        openCalls: view.openCalls,
        history: history.map((h) => ({ step: h.step, createdAt: h.createdAt, writes: h.writes, interrupted: h.interrupted })),
      });
    }
    return c.json(out);
  });
}
