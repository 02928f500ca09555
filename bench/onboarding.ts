// Benchmark: the onboarding agent with a scripted model, plain LangGraph (no checkpointer) against
// Waypoint (PostgresSaver, durability "sync"), same graph, same run. Prints ms and SQL round trips per
// super-step, then the bytes one complete onboarding thread (with its approval) leaves in Postgres.
// Usage: npm run bench [-- --runs 30]    (DATABASE_URL, or embedded Postgres when unset)
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { AIMessage } from "@langchain/core/messages";
import { builder } from "../graphs/onboarding/graph.js";
import { openDatabase } from "../src/db/index.js";
import { countStatements, withScratchDatabase } from "./support.js";
import { ScriptedChatModel } from "../src/models/index.js";
import { createPersistence } from "../src/persistence/index.js";
import { Waypoint } from "../src/runs/index.js";
import { createWorld } from "../src/world/index.js";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;

// Every SQL statement any pool sends, counted at the client.
const statements = countStatements();

/** A run without the risky grant (plain LangGraph cannot interrupt without a checkpointer). */
function script(email: string, withGrant: boolean): ScriptedChatModel {
  const turns = [
    { name: "create_account", args: { email, name: "Bench Hire", department: "Ops" } },
    ...(withGrant ? [{ name: "grant_privileges", args: { email, privileges: ["vpn", "wiki"] } }] : []),
    { name: "send_welcome_email", args: { email, name: "Bench Hire", tone: "warm" } },
  ];
  let i = 0;
  return new ScriptedChatModel({
    label: "bench-script",
    respond: () => {
      const t = turns[i];
      const n = i++;
      return t ? new AIMessage({ id: `b-${n}`, content: "", tool_calls: [{ id: `call-${n}`, name: t.name, args: t.args, type: "tool_call" }] }) : new AIMessage({ id: `b-${n}`, content: "done" });
    },
  });
}

function hire(email: string) {
  return { hire: { name: "Bench Hire", email, department: "Ops", manager: "boss@acme.test", privileges: ["vpn", "wiki"] } };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

async function main() {
  await withScratchDatabase("bench", async (scratch) => {
    const db = await openDatabase({ url: scratch.url, poolMax: 4 });
    const persistence = await createPersistence(db);
    const world = createWorld(db.pool);
    try {
      const plain = builder.compile();
      const durable = builder.compile({ checkpointer: persistence.saver, store: persistence.store });
      const results: Record<string, { msPerStep: number[]; sqlPerStep: number[]; steps: number }> = {};
      for (const [variant, graph] of [
        ["plain LangGraph (no checkpointer)", plain],
        ["Waypoint (PostgresSaver, sync)", durable],
      ] as const) {
        const r = { msPerStep: [] as number[], sqlPerStep: [] as number[], steps: 0 };
        for (let run = -3; run < RUNS; run++) {
          const email = `bench-${randomBytes(4).toString("hex")}@acme.test`;
          const context = { model: script(email, false), pool: db.pool, world };
          const before = statements();
          const t0 = performance.now();
          let steps = 0;
          for await (const _ of await graph.stream(hire(email), { configurable: { thread_id: email }, context, durability: "sync", streamMode: "updates" })) steps++;
          const ms = performance.now() - t0;
          if (run < 0) continue; // warm-up
          r.steps = steps;
          r.msPerStep.push(ms / steps);
          r.sqlPerStep.push((statements() - before) / steps);
        }
        results[variant] = r;
      }

      console.log(`\nOnboarding agent, scripted model, ${RUNS} runs per variant (after 3 warm-up runs), Postgres ${db.kind}`);
      console.log("Same graph and tools in both; the tools' world writes and ledger rows are in both counts.\n");
      console.log("| variant | super-steps/run | ms/super-step median | p90 | SQL statements/super-step | runs/s |");
      console.log("|---|---|---|---|---|---|");
      for (const [name, r] of Object.entries(results)) {
        const m = median(r.msPerStep);
        console.log(`| ${name} | ${r.steps} | ${m.toFixed(2)} | ${pct(r.msPerStep, 0.9).toFixed(2)} | ${median(r.sqlPerStep).toFixed(1)} | ${(1000 / (m * r.steps)).toFixed(0)} |`);
      }
      const [a, b] = Object.values(results);
      if (a && b) console.log(`\nWaypoint / plain: ${(median(b.msPerStep) / median(a.msPerStep)).toFixed(1)}x time per super-step, +${(median(b.sqlPerStep) - median(a.sqlPerStep)).toFixed(1)} statements per super-step`);

      // A complete onboarding through Waypoint's runner: pause at review, approve, finish.
      const email = `bench-full-${randomBytes(4).toString("hex")}@acme.test`;
      const wp = await Waypoint.open({ url: scratch.url, model: script(email, true), poolMax: 2 });
      const paused = await wp.start("onboarding", hire(email));
      const done = await wp.decide(paused.threadId, { decisions: [{ type: "approve" }] });
      await wp.close();
      const sizes = await db.pool.query<{ t: string; rows: string; bytes: string }>(
        `SELECT 'checkpoints' AS t, count(*) AS rows, coalesce(sum(pg_column_size(c.*)), 0) AS bytes FROM checkpoints c WHERE thread_id = $1
         UNION ALL SELECT 'checkpoint_blobs', count(*), coalesce(sum(pg_column_size(b.*)), 0) FROM checkpoint_blobs b WHERE thread_id = $1
         UNION ALL SELECT 'checkpoint_writes', count(*), coalesce(sum(pg_column_size(w.*)), 0) FROM checkpoint_writes w WHERE thread_id = $1
         UNION ALL SELECT 'waypoint.tool_calls (ledger)', count(*), coalesce(sum(pg_column_size(l.*)), 0) FROM waypoint.tool_calls l WHERE thread_id = $1
         UNION ALL SELECT 'waypoint.threads + decisions', (SELECT count(*) FROM waypoint.threads WHERE thread_id = $1) + (SELECT count(*) FROM waypoint.decisions WHERE thread_id = $1),
           coalesce((SELECT sum(pg_column_size(t.*)) FROM waypoint.threads t WHERE thread_id = $1), 0) + coalesce((SELECT sum(pg_column_size(d.*)) FROM waypoint.decisions d WHERE thread_id = $1), 0)`,
        [done.threadId],
      );
      const { rows: cps } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM checkpoints WHERE thread_id = $1", [done.threadId]);
      console.log(`\nOne complete onboarding thread (status ${done.status}, ${cps[0]?.n} checkpoints, one approval), bytes stored (pg_column_size of rows):\n`);
      console.log("| table | rows | bytes |");
      console.log("|---|---|---|");
      let total = 0;
      for (const s of sizes.rows) {
        total += Number(s.bytes);
        console.log(`| ${s.t} | ${s.rows} | ${Number(s.bytes).toLocaleString("en-US")} |`);
      }
      console.log(`| total | | ${total.toLocaleString("en-US")} |`);
    } finally {
      await persistence.close();
    }
  });
}

await main();
