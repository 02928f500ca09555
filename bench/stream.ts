// Benchmark: time to first token through POST /threads/:id/runs/stream, Waypoint against the reference
// server (`langgraph dev`, the pinned @langchain/langgraph-cli), with the official SDK Client on both and
// the same graph: `quick` of tests/fixtures/streaming, a createAgent whose scripted model streams its
// reply word by word with no wait between words (so what is measured is the servers' path: queue,
// worker, stream events, SSE; on Waypoint through Postgres and LISTEN/NOTIFY). Each sample is one run
// on a fresh thread (created beforehand, not timed): from the call to the first token event, and to
// the end of the stream. Prints a table with the ratio Waypoint / langgraph dev.
// Usage: npm run bench:stream [-- --runs 30 --warmup 3]   (DATABASE_URL, or embedded Postgres when unset)
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import { PROJECT_ROOT } from "../src/config.js";
import { startServer } from "../src/server/index.js";
import { freePort } from "../tests/support/db.js";
import { startReference } from "../tests/support/compat.js";
import { summarise, withScratchDatabase, type Summary } from "./support.js";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    warmup: { type: "string", default: "3" },
  },
});
/** Measured runs per server and stream mode. */
const RUNS = Number(args.runs);
/** Runs per server and mode before measuring (graph loading, pools, JIT); not counted. */
const WARMUP = Number(args.warmup);
const CONFIG = path.join(PROJECT_ROOT, "tests", "fixtures", "streaming", "langgraph.json");
const GRAPH = "quick";

type Mode = "messages-tuple" | "messages";
/** The event that carries a token in each mode. */
const TOKEN_EVENT: Record<Mode, string> = { "messages-tuple": "messages", messages: "messages/partial" };

interface Sample {
  firstToken: number;
  end: number;
  tokens: number;
}

async function sample(client: Client, mode: Mode): Promise<Sample> {
  const thread = await client.threads.create();
  const t0 = performance.now();
  let firstToken = NaN;
  let tokens = 0;
  for await (const part of client.runs.stream(thread.thread_id, GRAPH, { input: { messages: [{ role: "user", content: `time me ${tokens}` }] }, streamMode: [mode] })) {
    if (part.event !== TOKEN_EVENT[mode]) continue;
    const [message] = part.data as [{ type?: string; content?: unknown }];
    if (message?.type !== "ai" && message?.type !== "AIMessageChunk") continue;
    tokens++;
    if (Number.isNaN(firstToken)) firstToken = performance.now() - t0;
  }
  const end = performance.now() - t0;
  if (tokens < 2) throw new Error(`${mode}: only ${tokens} token events; the model did not stream`);
  return { firstToken, end, tokens };
}

type Cell = { firstToken: Summary; end: Summary; tokens: number };

/**
 * Every (server, mode) cell gets RUNS samples, taken round-robin (one of each in turn), so a slow
 * moment of a shared machine falls on all cells alike rather than on whichever ran then.
 */
async function measure(clients: Record<"waypoint" | "reference", Client>, modes: readonly Mode[]): Promise<Map<string, Cell>> {
  const keys = modes.flatMap((mode) => (["waypoint", "reference"] as const).map((server) => ({ server, mode, key: `${server} ${mode}` })));
  for (let i = 0; i < WARMUP; i++) for (const k of keys) await sample(clients[k.server], k.mode);
  const samples = new Map<string, Sample[]>(keys.map((k) => [k.key, []]));
  for (let i = 0; i < RUNS; i++) for (const k of keys) samples.get(k.key)!.push(await sample(clients[k.server], k.mode));
  return new Map(
    [...samples].map(([key, xs]) => [key, { firstToken: summarise(xs.map((s) => s.firstToken)), end: summarise(xs.map((s) => s.end)), tokens: xs[0]?.tokens ?? 0 }]),
  );
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main(): Promise<void> {
  await withScratchDatabase("bench_stream", async (db) => {
    const [waypoint, reference] = await Promise.all([
      startServer({ host: "127.0.0.1", port: 0, auth: { required: false, tokens: new Map() }, waypoint: { url: db.url, config: CONFIG, poolMax: 6 }, worker: { doctorMs: 0, pollMs: 200 } }),
      freePort().then((port) => startReference(port, CONFIG)),
    ]);
    try {
      const clients = { waypoint: new Client({ apiUrl: waypoint.url }), reference: reference.client };
      const rows: string[][] = [];
      const modes = ["messages-tuple", "messages"] as const;
      // One run at a time, so the two servers never compete for the machine's cores.
      const cells = await measure(clients, modes);
      for (const mode of modes) {
        const w = cells.get(`waypoint ${mode}`)!;
        const r = cells.get(`reference ${mode}`)!;
        for (const [what, a, b] of [
          ["first token", w.firstToken, r.firstToken],
          ["stream end", w.end, r.end],
        ] as const) {
          rows.push([`${what} (${mode}, ${w.tokens} tokens)`, ms(a.median), ms(a.p95), ms(b.median), ms(b.p95), `${(a.median / b.median).toFixed(2)}x`]);
        }
      }
      const head = ["measure", "Waypoint median", "Waypoint p95", "langgraph dev median", "langgraph dev p95", "ratio (median)"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
      console.log(`\nTime to first token through /threads/:id/runs/stream, graph "${GRAPH}" (tests/fixtures/streaming), ${RUNS} runs per cell after ${WARMUP} warm-up, one run at a time, cells taken in turn, database: ${db.kind}\n`);
      console.log([line(head), line(widths.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n"));
    } finally {
      await reference.close();
      await waypoint.close();
    }
  });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
