// langgraph.json `auth.path`: an Auth handler of @langchain/langgraph-sdk/auth, applied by the reference
// server's own middleware and by Waypoint's storage exactly as the reference applies it (authenticate,
// then the resource filters on every read and the values it stamps on every write). And `http.cors`.
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { PROJECT_ROOT } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let server: RunningServer;
const as = (user: string | undefined) => new Client({ apiUrl: server.url, defaultHeaders: user ? { "x-user": user } : {} });

beforeAll(async () => {
  db = await freshDatabase("auth");
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    waypoint: { url: db.url, config: path.join(PROJECT_ROOT, "tests", "fixtures", "project-auth", "langgraph.json"), poolMax: 4 },
    worker: { doctorMs: 0, pollMs: 200 },
  });
});
afterAll(async () => {
  await server.close();
  await db.drop();
});

test("the project's handler authenticates every request; owners see only their own threads and runs", async () => {
  await expect(as(undefined).threads.search()).rejects.toThrow(/401.*Say who you are/);
  const ann = as("ann");
  const ben = as("ben");
  const t = await ann.threads.create({ metadata: { topic: "x" } });
  expect(t.metadata).toMatchObject({ topic: "x", user: "ann" });
  const done = (await ann.runs.wait(t.thread_id, "fanout", { input: { items: ["a"] } })) as { summary: string };
  expect(done.summary).toBe("1 done: A");
  await expect(ben.threads.get(t.thread_id)).rejects.toThrow(/404/);
  await expect(ben.runs.wait(t.thread_id, "fanout", { input: { items: ["b"] } })).rejects.toThrow(/404/);
  await expect(ben.threads.getState(t.thread_id)).rejects.toThrow(/404/);
  expect(await ben.threads.search()).toEqual([]);
  expect((await ann.threads.search()).map((x) => x.thread_id)).toEqual([t.thread_id]);
  const [run] = await ann.runs.list(t.thread_id);
  await expect(ben.runs.list(t.thread_id)).rejects.toThrow(/404/);
  await expect(ben.runs.get(t.thread_id, run!.run_id)).rejects.toThrow(/404/);
  // A patch cannot hand the thread to someone else: the handler stamps its caller.
  const patched = await ann.threads.update(t.thread_id, { metadata: { user: "ben" } });
  expect(patched.metadata).toMatchObject({ user: "ann" });
  // The handler's admin sees everyone's.
  expect((await as("root").threads.search()).map((x) => x.thread_id)).toContain(t.thread_id);
});

test("http.cors from langgraph.json: an allowed origin gets a preflight answer, another none", async () => {
  const preflight = (origin: string) =>
    fetch(`${server.url}/threads/search`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-user" } });
  const ok = await preflight("http://allowed.test");
  expect(ok.status).toBeLessThan(300);
  expect(ok.headers.get("access-control-allow-origin")).toBe("http://allowed.test");
  const other = await preflight("http://evil.test");
  expect(other.headers.get("access-control-allow-origin")).not.toBe("http://evil.test");
});
