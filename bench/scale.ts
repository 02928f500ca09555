// Benchmark for issue 16 (reads that cost one page, submissions in milliseconds): (a) runs created
// through the API (POST /threads/:id/runs), Waypoint vs `langgraph dev` (the pinned
// @langchain/langgraph-cli), one client at a time and 50 concurrent clients; (b) thread search (limit 20)
// and the inbox list at 1k / 10k / 100k threads, seeded in bulk with SQL (most finished, 3% waiting for
// an answer with real checkpoints cloned from a thread that asked), and a doctor pass; (c) the first SSE
// event's latency after the worker wrote it (its run_events row's time to the client's read).
// (d) runs in flight at once with 1 s model calls (bench/saturation.ts), 1 and N worker processes, direct and
// through PgBouncer.
// Usage: npm run bench:scale [-- --sequential 200 --concurrent 500 --clients 50 --sizes 1000,10000,100000 --samples 50 --sse 30
//        --saturation-runs 1000,10000 --saturation-processes 1,2] (--saturation-runs 0 leaves (d) out)
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Client } from "@langchain/langgraph-sdk";
import { PROJECT_ROOT } from "../src/config.js";
import { diagnose } from "../src/runs/doctor.js";
import { Worker } from "../src/runs/index.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { freePort } from "../tests/support/db.js";
import { FIXTURE_CONFIG, startReference, type Target } from "../tests/support/compat.js";
import { saturation, saturationTable } from "./saturation.js";
import { markdownTable, summarise, withScratchDatabase, type Summary } from "./support.js";

const { values: args } = parseArgs({
  options: {
    sequential: { type: "string", default: "200" },
    concurrent: { type: "string", default: "500" },
    clients: { type: "string", default: "50" },
    sizes: { type: "string", default: "1000,10000,100000" },
    samples: { type: "string", default: "50" },
    sse: { type: "string", default: "30" },
    // (d) runs in flight with 1 s model calls (bench/saturation.ts); "0" leaves the section out.
    "saturation-runs": { type: "string", default: "1000,10000" },
    "saturation-processes": { type: "string", default: "1,2" },
  },
});
const SEQUENTIAL = Number(args.sequential);
const CONCURRENT = Number(args.concurrent);
const CLIENTS = Number(args.clients);
const SIZES = args.sizes.split(",").map(Number);
const SAMPLES = Number(args.samples);
const SSE = Number(args.sse);
const SATURATION_RUNS = args["saturation-runs"].split(",").map(Number).filter((n) => n > 0);
const SATURATION_PROCESSES = args["saturation-processes"].split(",").map(Number).filter((n) => n > 0);
/** Share of seeded threads that wait for an answer. */
const WAITING = 0.03;
const GRAPH = "interrupts";

const ms = (x: number) => `${x.toFixed(1)} ms`;
const table = markdownTable;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// (a) Submissions: threads are made first (not timed); each sample is one POST /threads/:id/runs.
async function submissions(client: Client, n: number, clients: number): Promise<{ latency: Summary; perSecond: number }> {
  const threads: string[] = [];
  for (let i = 0; i < n; i++) threads.push((await client.threads.create()).thread_id);
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < n; i = next++) latencies.push(await timed(() => client.runs.create(threads[i]!, GRAPH, { input: { topic: `bench ${i}` } })));
    }),
  );
  const wall = performance.now() - t0;
  return { latency: summarise(latencies), perSecond: (n / wall) * 1000 };
}

async function drain(server: RunningServer): Promise<void> {
  // Let the worker finish what (a) queued before the reads are measured on a quiet machine.
  for (let i = 0; i < 600; i++) {
    const { rows } = await server.waypoint.pool.query<{ n: string }>("SELECT count(*) AS n FROM waypoint.runs WHERE status IN ('pending', 'running')");
    if (Number(rows[0]?.n) === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Seed threads until there are `total`: finished ones (a run each), and WAITING of them cloned from a real interrupted thread. */
async function seed(server: RunningServer, template: string, total: number): Promise<void> {
  const pool = server.waypoint.pool;
  const { rows: have } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM waypoint.threads WHERE thread_id LIKE 'seed-%'");
  const from = Number(have[0]?.n ?? 0) + 1;
  if (from > total) return;
  const { rows: t } = await pool.query<{ graph_version: string; metadata: Record<string, unknown> }>("SELECT graph_version, metadata FROM waypoint.threads WHERE thread_id = $1", [template]);
  const version = t[0]!.graph_version;
  const assistant = (t[0]!.metadata as { assistant_id?: string }).assistant_id ?? null;
  const every = Math.round(1 / WAITING);
  // Finished threads look like what a run leaves: values, metadata with an owner and a tier, one successful run.
  await pool.query(
    `INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, metadata, config, "values", interrupts, input, created_at, updated_at)
     SELECT 'seed-' || lpad(g::text, 7, '0'), $3, $4, CASE WHEN g % $5 = 0 THEN 'interrupted' WHEN g % 997 = 0 THEN 'error' ELSE 'idle' END,
            jsonb_build_object('graph_id', $3::text, 'assistant_id', $6::text, 'owner', 'user-' || (g % 50), 'tier', CASE WHEN g % 10 = 0 THEN 'gold' ELSE 'basic' END),
            '{}'::jsonb,
            jsonb_build_object('topic', 'topic ' || g, 'city', 'Paris', 'confirmed', true, 'log', jsonb_build_array('planning topic ' || g, 'city: Paris', 'confirmed: true', 'booked Paris')),
            '{}'::jsonb, jsonb_build_object('topic', 'topic ' || g),
            now() - make_interval(secs => ($2 - g) * 0.5), now() - make_interval(secs => ($2 - g) * 0.5)
       FROM generate_series($1::int, $2::int) g`,
    [from, total, GRAPH, version, every, assistant],
  );
  await pool.query(
    `INSERT INTO waypoint.runs (run_id, thread_id, graph_id, graph_version, assistant_id, kind, status, kwargs, metadata, attempts, created_at, started_at, finished_at, updated_at)
     SELECT gen_random_uuid(), t.thread_id, t.graph_id, t.graph_version, $3::uuid, 'start', CASE WHEN t.status = 'interrupted' THEN 'interrupted' WHEN t.status = 'error' THEN 'error' ELSE 'success' END,
            jsonb_build_object('input', t.input, 'stream_mode', jsonb_build_array('values')), t.metadata, 1, t.created_at, t.created_at, t.created_at, t.created_at
       FROM waypoint.threads t WHERE t.thread_id BETWEEN 'seed-' || lpad($1::text, 7, '0') AND 'seed-' || lpad($2::text, 7, '0')`,
    [from, total, assistant],
  );
  // Waiting threads: the template's interrupts and every checkpoint row of it, under each new id.
  await pool.query(
    `UPDATE waypoint.threads t SET interrupts = s.interrupts, pending = s.pending, "values" = s."values", input = s.input FROM waypoint.threads s
      WHERE s.thread_id = $3 AND t.status = 'interrupted' AND t.thread_id BETWEEN 'seed-' || lpad($1::text, 7, '0') AND 'seed-' || lpad($2::text, 7, '0')`,
    [from, total, template],
  );
  const { rows: tables } = await pool.query<{ table_schema: string; table_name: string }>(
    `SELECT c.table_schema, c.table_name FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
      WHERE c.column_name = 'thread_id' AND t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('waypoint', 'pg_catalog', 'information_schema')`,
  );
  for (const { table_schema, table_name } of tables) {
    const { rows: cols } = await pool.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position",
      [table_schema, table_name],
    );
    const list = cols.map((c) => `"${c.column_name}"`).join(", ");
    const select = cols.map((c) => (c.column_name === "thread_id" ? "w.thread_id" : `x."${c.column_name}"`)).join(", ");
    await pool.query(
      `INSERT INTO "${table_schema}"."${table_name}" (${list})
       SELECT ${select} FROM "${table_schema}"."${table_name}" x
         JOIN waypoint.threads w ON w.status = 'interrupted' AND w.thread_id BETWEEN 'seed-' || lpad($1::text, 7, '0') AND 'seed-' || lpad($2::text, 7, '0')
        WHERE x.thread_id = $3`,
      [from, total, template],
    );
  }
  await pool.query("ANALYZE waypoint.threads; ANALYZE waypoint.runs");
}

interface ReadRow {
  size: number;
  waiting: number;
  cells: Array<[string, Summary]>;
  doctor: Summary;
}

async function reads(server: RunningServer, client: Client, size: number): Promise<ReadRow> {
  const queries: Array<[string, () => Promise<unknown>]> = [
    ["search limit 20", () => client.threads.search({ limit: 20 })],
    ["search limit 20 status=interrupted", () => client.threads.search({ limit: 20, status: "interrupted" })],
    ["search limit 20 metadata owner", () => client.threads.search({ limit: 20, metadata: { owner: "user-7" } })],
    ["search limit 20 offset 1000 by updated_at", () => client.threads.search({ limit: 20, offset: 1000, sortBy: "updated_at", sortOrder: "asc" })],
    ...[50, 10].map((limit): [string, () => Promise<unknown>] => [
      `inbox list (${limit} cards${limit === 50 ? ", the default" : ""})`,
      async () => {
        const r = await fetch(`${server.url}/inbox/api/waiting?limit=${limit}`);
        if (!r.ok) throw new Error(`inbox: ${r.status}`);
        const cards = (await r.json()) as unknown[];
        if (cards.length !== limit) throw new Error(`inbox: ${cards.length} cards, not ${limit}; the seeded waiting threads are not seen`);
      },
    ]),
  ];
  const cells: Array<[string, Summary]> = [];
  for (const [name, fn] of queries) {
    for (let i = 0; i < 3; i++) await fn();
    const xs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) xs.push(await timed(fn));
    cells.push([name, summarise(xs)]);
  }
  const doctor: number[] = [];
  for (let i = 0; i < Math.max(5, Math.floor(SAMPLES / 5)); i++) doctor.push(await timed(() => diagnose(server.waypoint, { repair: false })));
  const { rows } = await server.waypoint.pool.query<{ n: string }>("SELECT count(*) AS n FROM waypoint.threads WHERE status = 'interrupted'");
  return { size, waiting: Number(rows[0]?.n), cells, doctor: summarise(doctor) };
}

/** From the run_events row of the first event (its commit time by Postgres' clock) to the client's read of it. */
async function firstEvent(server: RunningServer, n: number): Promise<{ latency: Summary; toFirst: Summary }> {
  const lat: number[] = [];
  const toFirst: number[] = [];
  const client = new Client({ apiUrl: server.url });
  for (let i = 0; i < n + 3; i++) {
    const thread = await client.threads.create();
    const t0 = performance.now();
    const r = await fetch(`${server.url}/threads/${thread.thread_id}/runs/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: GRAPH, input: { topic: `sse ${i}` }, stream_mode: ["values"] }),
    });
    const reader = r.body!.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let got: { id: string; at: number; wall: number } | undefined;
    while (!got) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      const m = /(?:^|\n)id: *(\d+)\n/.exec(buf);
      if (m && buf.includes("\n\n", m.index)) got = { id: m[1]!, at: Date.now(), wall: performance.now() - t0 };
    }
    await reader.cancel().catch(() => undefined);
    const runId = r.headers.get("content-location")?.split("/").pop();
    if (!got || !runId) throw new Error("sse: no event with an id");
    const { rows } = await server.waypoint.pool.query<{ at: string }>("SELECT extract(epoch FROM created_at) * 1000 AS at FROM waypoint.run_events WHERE run_id = $1 AND seq = $2", [runId, Number(got.id)]);
    if (i >= 3) {
      lat.push(got.at - Number(rows[0]!.at));
      toFirst.push(got.wall);
    }
  }
  return { latency: summarise(lat), toFirst: summarise(toFirst) };
}

/** `waypoint serve --no-worker` on the fixture project in a child process, auth off on loopback. */
async function serveNoWorker(url: string): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, WAYPOINT_API_AUTH: "off", LOG_LEVEL: "warn" };
  delete env.NODE_OPTIONS;
  const child: ChildProcess = spawn(process.execPath, [path.join(PROJECT_ROOT, "bin", "waypoint.js"), "--config", FIXTURE_CONFIG, "serve", "--no-worker", "--host", "127.0.0.1", "--port", String(port)], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`${base}/ok`).then((r) => r.ok, () => false);
    if (up) break;
    if (child.exitCode !== null || i > 600) throw new Error(`waypoint serve did not start:\n${output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: base,
    async close() {
      child.kill("SIGTERM");
      for (let i = 0; i < 50 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

async function main(): Promise<void> {
  await withScratchDatabase("bench_scale", async (db) => {
    const started = performance.now();
    const [waypoint, reference]: [RunningServer, Target] = await Promise.all([
      startServer({ host: "127.0.0.1", port: 0, auth: { required: false, tokens: new Map() }, waypoint: { url: db.url, config: FIXTURE_CONFIG, poolMax: 10 }, worker: false }),
      freePort().then((port) => startReference(port, FIXTURE_CONFIG)),
    ]);
    // The worker of this process, on the server's Waypoint: stopped while the API alone is measured.
    const startWorker = () => Worker.start({ waypoint: waypoint.waypoint, doctorMs: 0 });
    let worker = await startWorker();
    const out: string[] = [];
    try {
      const wp = new Client({ apiUrl: waypoint.url });
      // The same database through `waypoint serve --no-worker` in a child process (the worker stays in this
      // one): what run creation costs when no run is carried on the API's event loop.
      const apiOnly = await serveNoWorker(db.url);
      const api = new Client({ apiUrl: apiOnly.url });
      // (a) submissions, each server in turn (never two at the same time). Each is warmed first with the
      // same 400 runs (100 one at a time, 300 from the concurrent clients): a server's first few hundred
      // requests run code the JIT has not optimised yet (measured: 130 runs/s and 6.8 ms p50 over the
      // first 200 against 160-200 runs/s and 4.6-5.8 ms after), which is not the server's steady state.
      for (const target of [wp, reference.client, api]) {
        await submissions(target, 100, 1);
        await submissions(target, 300, CLIENTS);
        await drain(waypoint);
      }
      const rows: string[][] = [];
      for (const [label, n, c] of [
        ["sequential", SEQUENTIAL, 1],
        [`${CLIENTS} concurrent clients`, CONCURRENT, CLIENTS],
      ] as const) {
        await submissions(wp, 10, 1);
        await submissions(reference.client, 10, 1);
        await submissions(api, 10, 1);
        const a = await submissions(wp, n, c);
        await drain(waypoint);
        const o = await submissions(api, n, c);
        await drain(waypoint);
        // The API's own cost: no worker anywhere while the runs are created (workers on other hosts), then drained.
        await worker.close();
        const q = await submissions(api, n, c);
        worker = await startWorker();
        await drain(waypoint);
        const b = await submissions(reference.client, n, c);
        rows.push([`${label} (${n} runs)`, "API + worker in one process", a.perSecond.toFixed(0), ms(a.latency.median), ms(a.latency.p95), b.perSecond.toFixed(0), ms(b.latency.median), ms(b.latency.p95), `${(a.perSecond / b.perSecond).toFixed(2)}x`]);
        rows.push([`${label} (${n} runs)`, "serve --no-worker (worker in another process)", o.perSecond.toFixed(0), ms(o.latency.median), ms(o.latency.p95), "", "", "", `${(o.perSecond / b.perSecond).toFixed(2)}x`]);
        rows.push([`${label} (${n} runs)`, "serve --no-worker, runs queued (workers on other hosts)", q.perSecond.toFixed(0), ms(q.latency.median), ms(q.latency.p95), "", "", "", `${(q.perSecond / b.perSecond).toFixed(2)}x`]);
      }
      out.push(`(a) Runs created through POST /threads/:id/runs (graph "${GRAPH}" of tests/fixtures/project; threads made beforehand, a worker running unless said), database: ${db.kind}\n`);
      out.push(table(["clients", "Waypoint set-up", "Waypoint runs/s", "Waypoint p50", "Waypoint p95", "langgraph dev runs/s", "langgraph dev p50", "langgraph dev p95", "runs/s ratio"], rows));
      await reference.close();
      await apiOnly.close();
      await drain(waypoint);

      // (b) reads at growing sizes; the template is a real thread waiting at "ask".
      const template = (await wp.threads.create()).thread_id;
      await wp.runs.wait(template, GRAPH, { input: { topic: "template" } });
      const readRows: string[][] = [];
      for (const size of SIZES) {
        const t0 = performance.now();
        await seed(waypoint, template, size);
        const seeded = performance.now() - t0;
        const r = await reads(waypoint, wp, size);
        for (const [name, s] of r.cells) readRows.push([String(size), String(r.waiting), name, ms(s.median), ms(s.p95)]);
        readRows.push([String(size), String(r.waiting), `doctor pass (seeded in ${(seeded / 1000).toFixed(1)} s)`, ms(r.doctor.median), ms(r.doctor.p95)]);
      }
      out.push(`\n(b) Reads through the API at each size (seeded threads plus those of (a); ${SAMPLES} samples each, one at a time)\n`);
      out.push(table(["threads", "waiting", "read", "p50", "p95"], readRows));

      // (c) first SSE event.
      const sse = await firstEvent(waypoint, SSE);
      out.push(`\n(c) First SSE event of POST /threads/:id/runs/stream (${SSE} runs, one at a time)\n`);
      out.push(
        table(
          ["measure", "p50", "p95"],
          [
            ["run_events row written -> event read by the client", ms(sse.latency.median), ms(sse.latency.p95)],
            ["request sent -> first event read", ms(sse.toFirst.median), ms(sse.toFirst.p95)],
          ],
        ),
      );
      if (SATURATION_RUNS.length) {
        // (d) every run with 1 s model calls, on `waypoint worker --processes N` children, direct and
        // through PgBouncer, 20 Postgres connections in all (its own scratch databases).
        const sat = await saturation({ runs: SATURATION_RUNS, processes: SATURATION_PROCESSES, via: ["direct", "pgbouncer"] });
        out.push(`\n(d) Runs in flight at once with 1 s model calls (bench/saturation.ts; 20 Postgres connections in all)\n`);
        out.push(saturationTable(sat));
      }
      out.push(`\nTotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
      console.log(out.join("\n"));
    } finally {
      await reference.close().catch(() => undefined);
      await worker.drain("bench over");
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
