// Graphs not shaped for Waypoint keep Waypoint's guarantees: a worker SIGKILLed mid-run is replaced and
// nothing that finished runs again; a server SIGKILLed and restarted serves the same threads, interrupts
// and all; a thread pinned to a graph's (derived) version is never resumed by a changed graph. And
// `waypoint serve --config` serves another project's graphs with that project's own modules, reporting a
// graph that fails to load by id while the others serve.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import pg from "pg";
import { PROJECT_ROOT } from "../src/config.js";
import { Registry } from "../src/registry/index.js";
import { getRun } from "../src/runs/queue.js";
import { Waypoint } from "../src/runs/runner.js";
import { readTrace } from "../src/runs/trace.js";
import { FIXTURE_CONFIG, spawnLanggraphDev } from "./support/compat.js";
import { childEnv, runCli, startCli, type CliChild } from "./support/cli.js";
import { freePort, freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let pool: pg.Pool;
let wp: Waypoint;
let dir: string;
const children: CliChild[] = [];

beforeAll(async () => {
  db = await freshDatabase("foreign");
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-foreign-"));
  // The schema once, so that children do not race on first setup; runs are submitted from here (no worker).
  wp = await Waypoint.open({ url: db.url, config: FIXTURE_CONFIG, poolMax: 3 });
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.child.exitCode === null) c.child.kill("SIGKILL");
});
afterAll(async () => {
  await wp.close();
  await pool.end();
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function spawnCli(args: string[], env: Record<string, string | undefined> = {}): CliChild {
  const c = startCli(args, childEnv({ DATABASE_URL: db.url, ...env }));
  children.push(c);
  return c;
}

async function serve(config: string, port: number): Promise<CliChild> {
  const c = spawnCli(["--config", config, "serve", "--host", "127.0.0.1", "--port", String(port)], { WAYPOINT_API_AUTH: "off" });
  await c.waitFor("Waypoint is running", 60_000);
  return c;
}

test("a worker SIGKILLed mid-run (a Send fan-out, one branch slow): another finishes it, and no branch that finished runs again", async () => {
  const trace = path.join(dir, "fanout-trace.jsonl");
  const first = spawnCli(["--config", FIXTURE_CONFIG, "worker"], { WAYPOINT_TRACE_FILE: trace });
  await first.waitFor("Worker ");
  const { run } = await wp.submit({ assistant: "fanout", input: { items: ["a", "b", "slow4000"] } });
  // Two branches finished (their writes are saved with the step still open), the slow one is running.
  await until("two finished branches", async () => {
    const { rows } = await pool.query<{ n: number }>("SELECT count(DISTINCT task_id)::int AS n FROM checkpoint_writes WHERE thread_id = $1 AND channel = 'results'", [run.thread_id]);
    return (rows[0]?.n ?? 0) >= 2;
  });
  first.child.kill("SIGKILL");
  await first.done;
  const second = spawnCli(["--config", FIXTURE_CONFIG, "worker"], { WAYPOINT_TRACE_FILE: trace });
  await until("the run to end", async () => ["success", "error", "dead"].includes((await getRun(pool, run.run_id)).status));
  expect(await getRun(pool, run.run_id)).toMatchObject({ status: "success", crashes: 1 });
  const state = await wp.snapshotOf(run.thread_id);
  expect(state.values).toMatchObject({ results: ["A", "B", "SLOW4000"], summary: "3 done: A, B, SLOW4000" });
  const starts = readTrace(trace).filter((e) => e.threadId === run.thread_id);
  const by = (pid: number | undefined, node: string) => starts.filter((e) => e.pid === pid && e.node === node).length;
  expect([by(first.child.pid, "split"), by(first.child.pid, "work")]).toEqual([1, 3]);
  // Only the branch that was running when its worker died runs again; split and join run once in all.
  expect([by(second.child.pid, "split"), by(second.child.pid, "work"), by(second.child.pid, "join")]).toEqual([0, 1, 1]);
  second.child.kill("SIGTERM");
  await second.done;
});

test("a server SIGKILLed and started again serves the same threads: a chat waiting for its review, a plain interrupt", async () => {
  const port = await freePort();
  let server = await serve(FIXTURE_CONFIG, port);
  const client = new Client({ apiUrl: `http://127.0.0.1:${port}` });
  const chat = await client.threads.create({ metadata: { who: "restart" } });
  await client.runs.wait(chat.thread_id, "chat", { input: { messages: [{ role: "user", content: "note: water the plants" }] } });
  const asked = await client.threads.create();
  await client.runs.wait(asked.thread_id, "interrupts", { input: { topic: "woods" } });
  server.child.kill("SIGKILL");
  await server.done;
  server = await serve(FIXTURE_CONFIG, port);
  const waiting = await client.threads.get(chat.thread_id);
  expect(waiting).toMatchObject({ status: "interrupted", metadata: { who: "restart", graph_id: "chat" } });
  const done = (await client.runs.wait(chat.thread_id, "chat", { command: { resume: { decisions: [{ type: "approve" }] } } })) as { messages: Array<{ content: string }> };
  expect(done.messages.at(-1)?.content).toBe("Here you go: Saved note: water the plants");
  expect((await client.threads.get(asked.thread_id)).status).toBe("interrupted");
  const answered = (await client.runs.wait(asked.thread_id, "interrupts", { command: { resume: "Bergen" } })) as { __interrupt__?: Array<{ value: { question: string } }> };
  expect(answered.__interrupt__?.[0]?.value.question).toBe("Book a trip to Bergen about woods?");
  expect((await client.threads.search({ metadata: { who: "restart" } })).map((t) => t.thread_id)).toEqual([chat.thread_id]);
  server.child.kill("SIGTERM");
  await server.done;
});

test("version pinning: a thread started on a graph is never resumed by a changed graph (a version derived from its structure)", async () => {
  // A second project whose "interrupts" graph has one more node: a different derived version.
  const v2 = path.join(PROJECT_ROOT, "tests", "fixtures", "project-v2");
  const [one, two] = await Promise.all([Registry.load(FIXTURE_CONFIG), Registry.load(path.join(v2, "langgraph.json"))]);
  const [v1version, v2version] = [one.get("interrupts").version, two.get("interrupts").version];
  expect(v1version).toMatch(/^s-[0-9a-f]{12}$/);
  expect(v2version).not.toBe(v1version);

  const { run } = await wp.submit({ assistant: "interrupts", input: { topic: "peaks" } });
  const oldWorker = spawnCli(["--config", FIXTURE_CONFIG, "worker"]);
  await until("the thread to wait", async () => (await getRun(pool, run.run_id)).status === "success");
  oldWorker.child.kill("SIGTERM");
  await oldWorker.done;
  // The changed code refuses to resume it in the foreground, and writes nothing.
  const runsBefore = (await pool.query("SELECT count(*)::int AS n FROM waypoint.runs WHERE thread_id = $1", [run.thread_id])).rows[0].n;
  const refused = await runCli(["--config", path.join(v2, "langgraph.json"), "resume", run.thread_id, "--value", '"Oslo"'], childEnv({ DATABASE_URL: db.url }));
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(new RegExp(`started on interrupts version ${v1version}; this code has version ${v2version}`));
  expect((await pool.query("SELECT count(*)::int AS n FROM waypoint.runs WHERE thread_id = $1", [run.thread_id])).rows[0].n).toBe(runsBefore);
  // Queued for a worker (the API accepts it): a worker on the changed code leaves it alone, the thread says what it waits for.
  const { run: answer } = await wp.submit({ threadId: run.thread_id, command: { resume: "Oslo" } });
  const newWorker = spawnCli(["--config", path.join(v2, "langgraph.json"), "worker"]);
  await newWorker.waitFor("Worker ");
  await new Promise((r) => setTimeout(r, 1500));
  expect((await getRun(pool, answer.run_id)).status).toBe("pending");
  expect((await wp.view(run.thread_id)).detail).toContain(`waits for a worker with interrupts@${v1version}`);
  const matching = spawnCli(["--config", FIXTURE_CONFIG, "worker"]);
  await until("the answer to be applied", async () => (await getRun(pool, answer.run_id)).status === "success");
  expect((await wp.snapshotOf(run.thread_id)).values).toMatchObject({ city: "Oslo" });
  for (const w of [newWorker, matching]) w.child.kill("SIGTERM");
  await Promise.all([newWorker.done, matching.done]);
});

test("serve --config <another project>: its graphs, with its own node_modules; a graph that fails to load is named, the others serve", async () => {
  const project = path.join(dir, "elsewhere");
  fs.mkdirSync(path.join(project, "node_modules", "greeting"), { recursive: true });
  fs.writeFileSync(path.join(project, "node_modules", "greeting", "package.json"), JSON.stringify({ name: "greeting", version: "1.0.0", type: "module", main: "index.js" }));
  fs.writeFileSync(path.join(project, "node_modules", "greeting", "index.js"), "export const greet = (name) => `Hello from elsewhere, ${name}!`;\n");
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "elsewhere", type: "module" }));
  fs.writeFileSync(
    path.join(project, "hello.ts"),
    [
      'import { Annotation, START, StateGraph } from "@langchain/langgraph";',
      'import { greet } from "greeting";',
      "const State = Annotation.Root({ name: Annotation<string>(), greeting: Annotation<string>() });",
      'export const graph = new StateGraph(State).addNode("hello", (s: { name: string }) => ({ greeting: greet(s.name) })).addEdge(START, "hello").compile();',
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(project, "langgraph.json"), JSON.stringify({ graphs: { hello: "./hello.ts:graph", broken: "./missing.ts:graph" }, env: { ELSEWHERE: "1" } }));
  const port = await freePort();
  const server = await serve(path.join(project, "langgraph.json"), port);
  expect(server.output()).toMatch(/graph broken failed to load: .*missing\.ts/);
  const client = new Client({ apiUrl: `http://127.0.0.1:${port}` });
  expect((await client.assistants.search()).map((a) => a.graph_id)).toEqual(["hello"]);
  const out = (await client.runs.wait(null, "hello", { input: { name: "Ada" } })) as { greeting: string };
  expect(out.greeting).toBe("Hello from elsewhere, Ada!");
  server.child.kill("SIGTERM");
  await server.done;
});

test("npm run studio: langgraph dev still loads this project's langgraph.json", async () => {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...childEnv({ DATABASE_URL: db.url }), LANGSMITH_TRACING: "false" };
  // Killed with its process group: its server runs in a grandchild (left running after CI when only the CLI was killed).
  const dev = spawnLanggraphDev(["--port", String(port), "--host", "127.0.0.1", "--no-browser", "--no-reload"], { cwd: PROJECT_ROOT, env, stdio: "ignore" });
  try {
    const graphs = await until(
      "langgraph dev to list the graphs",
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/assistants/search`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
        return r.ok ? ((await r.json()) as Array<{ graph_id: string }>).map((a) => a.graph_id).sort() : undefined;
      },
      90_000,
    );
    expect(graphs).toEqual(["concierge", "hr", "onboarding", "ops", "travel"]);
  } finally {
    await dev.kill();
  }
  // Nothing of it is left serving the port (its server is a grandchild of the CLI).
  const after = await fetch(`http://127.0.0.1:${port}/ok`).then(() => "still serving", () => "gone");
  expect(after).toBe("gone");
});

test("the CLI for any graph: run, show, resume --value for a plain interrupt, decide for a HITL one, history, fork", async () => {
  const cli = (args: string[]) => runCli(["--config", FIXTURE_CONFIG, ...args], childEnv({ DATABASE_URL: db.url }));
  const started = await cli(["run", "interrupts", "--input", '{"topic":"bays"}']);
  expect(started.code).toBe(0);
  expect(started.stdout).toMatch(/is waiting for an answer/);
  expect(started.stdout).toMatch(/Interrupt from ask \(interrupt [0-9a-f]{32}\)\n\s+"Which city\?"/);
  const threadId = /Thread ([0-9a-f-]{36}) is waiting/.exec(started.stdout)?.[1] as string;
  expect(started.stdout).toContain(`waypoint resume ${threadId} --value '<json>'`);
  // decide is for reviews; a plain interrupt says how to answer it instead.
  const wrong = await cli(["decide", threadId, "approve"]);
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/not a review .*waypoint resume .* --value <json>/);
  const answered = await cli(["resume", threadId, "--value", '"Cadiz"']);
  expect(answered.stdout).toMatch(/Interrupt from "confirm" > check[\s\S]*Book a trip to Cadiz about bays\?/);
  const bad = await cli(["resume", threadId, "--value", "{not json"]);
  expect(bad.code).toBe(2);
  const shown = await cli(["show", threadId]);
  expect(shown.stdout).toMatch(/graph\s+interrupts \(version s-[0-9a-f]{12}\)/);
  const done = await cli(["resume", threadId, "--value", '{"ok":true}']);
  expect(done.stdout).toContain(`Thread ${threadId} is done.`);
  const history = await cli(["--json", "history", threadId]);
  const entries = JSON.parse(history.stdout) as Array<{ checkpointId: string; next: string[] }>;
  const atAsk = entries.find((e) => e.next.includes("ask"))!;
  const forked = await cli(["fork", threadId, "--checkpoint", atAsk.checkpointId]);
  const copy = /into ([0-9a-f-]{36})/.exec(forked.stdout)?.[1] as string;
  const resumed = await cli(["resume", copy]);
  expect(resumed.stdout).toMatch(/Interrupt from ask[\s\S]*"Which city\?"/);

  // A HITL-shaped interrupt (humanInTheLoopMiddleware) is answered with decide.
  const chat = await cli(["run", "chat", "--input", '{"messages":[{"role":"user","content":"note: feed the cat"}]}']);
  const chatId = /Thread ([0-9a-f-]{36}) is waiting for a decision/.exec(chat.stdout)?.[1] as string;
  expect(chat.stdout).toMatch(/Review requested[\s\S]*save_note/);
  const approved = await cli(["decide", chatId, "approve"]);
  expect(approved.stdout).toContain("Here you go: Saved note: feed the cat");
});
