// `npm run demo`: a guided run of the onboarding agent in one process. It starts a thread, shows the
// review request, asks for a decision (approve / edit / reject / respond) and prints what the agent did
// in the world. Without a terminal it stops at the review and prints the command that continues it.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline/promises";
import { bold, dim, formatProgress, formatReview, formatWorld } from "../src/cli/format.js";
import { config } from "../src/config.js";
import { isWaypointError } from "../src/errors.js";
import { describeModel } from "../src/models/index.js";
import { Waypoint, type ThreadView } from "../src/runs/index.js";
import { createWorld } from "../src/world/index.js";
import { SAMPLE_INPUT } from "./onboarding/graph.js";

const LANGGRAPH_JSON = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "langgraph.json");

type Ask = (q: string) => Promise<string>;

async function askDecision(view: ThreadView, ask: Ask): Promise<unknown> {
  const pending = view.pending[0];
  const action = pending?.request?.actionRequests[0];
  for (;;) {
    const answer = (await ask(`\nDecision [approve/edit/reject/respond] (approve): `)).trim().toLowerCase() || "approve";
    if (answer === "approve") return { decisions: [{ type: "approve" }] };
    if (answer === "reject") {
      const message = (await ask("Reason given to the agent (optional): ")).trim();
      return { decisions: [{ type: "reject", ...(message ? { message } : {}) }] };
    }
    if (answer === "respond") {
      const message = (await ask("Result to give the agent instead of running the tool: ")).trim();
      if (message) return { decisions: [{ type: "respond", message }] };
      console.log("A respond decision needs a message.");
      continue;
    }
    if (answer === "edit" && action) {
      const raw = (await ask(`New arguments as JSON [${JSON.stringify(action.args)}]: `)).trim();
      try {
        return { decisions: [{ type: "edit", editedAction: { name: action.name, args: raw ? JSON.parse(raw) : action.args } }] };
      } catch (e) {
        console.log(`That is not JSON (${(e as Error).message}).`);
        continue;
      }
    }
    console.log(`"${answer}" is not a decision. Type approve, edit, reject or respond.`);
  }
}

async function runDemo(paceMs: number): Promise<void> {
  const cfg = config();
  console.log(bold("Waypoint demo: the onboarding agent"));
  console.log(dim(`model:    ${describeModel()}`));
  console.log(dim(`database: ${cfg.databaseUrl ? "DATABASE_URL" : `embedded Postgres in ${cfg.dataDir} (set DATABASE_URL to use your own)`}`));
  const wp = await Waypoint.open({ config: LANGGRAPH_JSON, ...(paceMs ? { paceMs } : {}) });
  try {
    const sample = SAMPLE_INPUT;
    // A fresh address per demo run, so each run creates its own rows.
    const email = sample.hire.email.replace("@", `+${randomBytes(3).toString("hex")}@`);
    const input = { hire: { ...sample.hire, email } };
    console.log(`\nOnboarding ${input.hire.email}...`);
    const started = Date.now();
    const onProgress = (e: Parameters<typeof formatProgress>[0]) => console.log(formatProgress(e, Date.now() - started));
    let view = await wp.start("onboarding", input, { onProgress });
    const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const rl = interactive ? createInterface({ input: process.stdin, output: process.stdout }) : undefined;
    try {
      while (view.status === "interrupted") {
        console.log("");
        for (const p of view.pending) console.log(formatReview(p, view.threadId));
        if (!rl) {
          console.log(`\nNo terminal to ask in, so the thread waits (at zero cost) in Postgres. Continue it with:\n  npm run waypoint -- decide ${view.threadId} approve`);
          return;
        }
        const response = await askDecision(view, (q) => rl.question(q));
        try {
          view = await wp.decide(view.threadId, response, { onProgress });
        } catch (e) {
          if (!isWaypointError(e, "invalid_decision")) throw e;
          console.log(`\n${e.message}\nThe thread is unchanged; try again.`);
        }
      }
    } finally {
      rl?.close();
    }
    console.log("");
    console.log(`Thread ${bold(view.threadId)}: ${view.status}${view.detail ? ` - ${view.detail}` : ""}`);
    const messages = (view.values.messages ?? []) as Array<{ content: unknown }>;
    const final = messages[messages.length - 1];
    if (final && typeof final.content === "string") console.log(final.content);
    console.log("");
    console.log(formatWorld(await createWorld(wp.pool).rowsFor(input.hire.email)));
    console.log(`\nSee it again: npm run waypoint -- show ${view.threadId}   (history: npm run waypoint -- history ${view.threadId})`);
  } finally {
    await wp.close();
  }
}

const pace = Number(process.argv.find((a) => a.startsWith("--pace="))?.slice(7) ?? 0);
await runDemo(Number.isFinite(pace) ? pace : 0);
