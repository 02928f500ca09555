// Overhead of durable() per tool call: a plain LangChain tool() in LangGraph's ToolNode, bare and
// wrapped by durable() inside a Waypoint run scope, measured in the same run: milliseconds and SQL
// round trips, for a no-op tool (durable()'s own cost), a real world write (book a hotel, deduping by
// key), and a replay of a recorded call.
// Run: npm run bench:durable   (DATABASE_URL or embedded Postgres; works in a scratch database)
import { AIMessage } from "@langchain/core/messages";
import { ToolNode } from "@langchain/langgraph/prebuilt";
import { tool } from "langchain";
import { z } from "zod";
import { openDatabase } from "../src/db/index.js";
import { createPersistence } from "../src/persistence/index.js";
import { durable, idempotencyKey } from "../src/index.js";
import { withRunScope } from "../src/scope/index.js";
import { createWorld } from "../src/world/index.js";
import { callTable, measureCalls, medianOf, countStatements, withScratchDatabase, type CallRow } from "./support.js";

const CALLS = 400;
const statements = countStatements();

const median = medianOf;
const measure = (variant: string, once: (i: number) => Promise<unknown>) => measureCalls(variant, CALLS, statements, once);

async function main() {
  await withScratchDatabase("bench_durable", async (scratch) => {
    const db = await openDatabase({ url: scratch.url, poolMax: 4 });
    const persistence = await createPersistence(db); // the schema
    const world = createWorld(db.pool, { faults: null });
    const noop = tool(async ({ n }) => `n=${n}`, { name: "noop", description: "does nothing", schema: z.object({ n: z.number() }) });
    const book = tool(
      async ({ n }, config) => {
        const b = await world.bookHotel({ tripId: `bench-${n}`, hotelId: "lis-alfama", guest: "Bench", checkIn: "2027-01-01", nights: 1 }, idempotencyKey(config));
        return JSON.stringify({ hotelRef: b.bookingRef });
      },
      { name: "book_hotel", description: "book", schema: z.object({ n: z.number() }) },
    );
    const bareNode = new ToolNode([noop, book]);
    const durableNode = new ToolNode([durable(noop, { risk: "compute" }), durable(book, { risk: "mutate", dedupesByKey: true })]);
    const turn = (name: string, id: string, n: number) => ({ messages: [new AIMessage({ content: "", tool_calls: [{ id, name, args: { n }, type: "tool_call" as const }] })] });
    const threadId = "bench-durable";
    const scope = { pool: db.pool, threadId, graphId: "bench", run: { startedAt: Date.now(), startStep: 0, recursionLimit: 100 }, paceMs: 0 };
    const inScope = <T>(fn: () => Promise<T>) => withRunScope(scope, fn);
    const cfg = (i: number) => ({ configurable: { thread_id: threadId, checkpoint_ns: `tools:${i}` } });
    try {
      const rows: CallRow[] = [];
      rows.push(await measure("no-op tool() in ToolNode, bare", (i) => bareNode.invoke(turn("noop", `b${i}`, i), cfg(i))));
      rows.push(await measure("no-op tool() in ToolNode, durable()", (i) => inScope(() => durableNode.invoke(turn("noop", `d${i}`, i), cfg(i)))));
      rows.push(await measure("no-op, durable() replay of a recorded call", (i) => inScope(() => durableNode.invoke(turn("noop", `d${Math.abs(i)}`, i), cfg(i)))));
      rows.push(await measure("book_hotel (world write) in ToolNode, bare", (i) => bareNode.invoke(turn("book_hotel", `hb${i}`, 10_000 + i), { configurable: { thread_id: "bare", checkpoint_ns: `tools:${i}` } })));
      rows.push(await measure("book_hotel (world write) in ToolNode, durable()", (i) => inScope(() => durableNode.invoke(turn("book_hotel", `hd${i}`, 20_000 + i), cfg(i)))));

      console.log(`\ndurable() overhead, ${CALLS} sequential calls per variant (after 20 warm-up calls), Postgres ${db.kind}\n`);
      console.log(callTable(rows));
      const by = (name: string) => rows.find((r) => r.variant === name) as CallRow;
      const over = (bare: string, wrapped: string) => `+${(median(by(wrapped).ms) - median(by(bare).ms)).toFixed(3)} ms (x${(median(by(wrapped).ms) / median(by(bare).ms)).toFixed(2)}), +${median(by(wrapped).sql) - median(by(bare).sql)} round trips`;
      console.log(
        `\ndurable() overhead per call: no-op ${over("no-op tool() in ToolNode, bare", "no-op tool() in ToolNode, durable()")}; world write ${over("book_hotel (world write) in ToolNode, bare", "book_hotel (world write) in ToolNode, durable()")}`,
      );
    } finally {
      await persistence.close();
    }
  });
}

await main();
