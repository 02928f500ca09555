// Overhead of the side-effect ledger per tool call, against calling the same tool bare: milliseconds
// and SQL round trips, for a no-op tool (the ledger's own cost), a real world write (send an email),
// a replay of a recorded call, and a read tool (whose result also refreshes its cache).
// Run: npm run bench:ledger   (DATABASE_URL or embedded Postgres; works in a scratch database)
import { z } from "zod";
import { searchHotels } from "../graphs/travel/tools.js";
import { sendWelcomeEmail } from "../graphs/onboarding/tools.js";
import { openDatabase } from "../src/db/index.js";
import { callTable, measureCalls, medianOf, countStatements, withScratchDatabase, type CallRow } from "./support.js";
import { createPersistence } from "../src/persistence/index.js";
import { durableTool, executeToolCalls, type DurableTool } from "../src/tools/index.js";
import { createWorld } from "../src/world/index.js";

const CALLS = 400;

// Every statement sent through any pg client in this process is counted.
const statements = countStatements();

const noop = durableTool({
  name: "noop",
  description: "does nothing",
  risk: "compute",
  schema: z.object({ n: z.number().describe("any number") }),
  run: async (a) => ({ n: a.n }),
}) as unknown as DurableTool;

const median = medianOf;
const measure = (variant: string, once: (i: number) => Promise<unknown>) => measureCalls(variant, CALLS, statements, once);

async function main() {
  await withScratchDatabase("bench_ledger", async (scratch) => {
    const db = await openDatabase({ url: scratch.url, poolMax: 4 });
    const persistence = await createPersistence(db);
    const world = createWorld(db.pool, { faults: null });
    const config = { context: { world } };
    const ctx = (threadId: string) => ({ pool: db.pool, config, threadId, checkpointNs: "" });
    const signal = new AbortController().signal;
    const runCtx = (key: string) => ({ idempotencyKey: key, config, threadId: "bare", signal });
    const email = (i: number) => ({ email: `bench-${i}@acme.test`, name: "Bench", tone: "warm" as const });
    try {
      const rows: CallRow[] = [];
      rows.push(await measure("no-op tool, bare", (i) => noop.run({ n: i }, runCtx(`k${i}`))));
      rows.push(await measure("no-op tool, through the ledger", (i) => executeToolCalls([{ id: `c${i}`, name: "noop", args: { n: i }, type: "tool_call" }], [noop], ctx("noop"))));
      rows.push(await measure("no-op tool, replay of a recorded call", (i) => executeToolCalls([{ id: `c${Math.abs(i)}`, name: "noop", args: { n: i }, type: "tool_call" }], [noop], ctx("noop"))));
      rows.push(await measure("send_welcome_email, bare", (i) => sendWelcomeEmail.run(email(i), runCtx(`bare-${i}`))));
      rows.push(
        await measure("send_welcome_email, through the ledger", (i) =>
          executeToolCalls([{ id: `e${i}`, name: sendWelcomeEmail.name, args: email(100_000 + i), type: "tool_call" }], [sendWelcomeEmail as unknown as DurableTool], ctx("email")),
        ),
      );
      rows.push(await measure("search_hotels (read), bare", () => searchHotels.run({ destination: "Lisbon" }, runCtx("-"))));
      rows.push(
        await measure("search_hotels (read), ledger + cache refresh", (i) =>
          executeToolCalls([{ id: `s${i}`, name: searchHotels.name, args: { destination: "Lisbon" }, type: "tool_call" }], [searchHotels as unknown as DurableTool], ctx("search")),
        ),
      );

      console.log(`\nSide-effect ledger overhead, ${CALLS} sequential calls per variant (after 20 warm-up calls), Postgres ${db.kind}\n`);
      console.log(callTable(rows));
      const by = (name: string) => rows.find((r) => r.variant === name) as CallRow;
      const over = (bare: string, ledger: string) => `+${(median(by(ledger).ms) - median(by(bare).ms)).toFixed(3)} ms, +${median(by(ledger).sql) - median(by(bare).sql)} round trips`;
      console.log(`\nLedger overhead per call: no-op ${over("no-op tool, bare", "no-op tool, through the ledger")}; email ${over("send_welcome_email, bare", "send_welcome_email, through the ledger")}; read ${over("search_hotels (read), bare", "search_hotels (read), ledger + cache refresh")}`);
    } finally {
      await persistence.close();
    }
  });
}

await main();
