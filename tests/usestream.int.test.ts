// A real client library in a real browser: a chat page built with useStream of
// @langchain/langgraph-sdk/react (tests/fixtures/streaming/page, bundled here with esbuild's JS API),
// served from an origin of its own (http://page.test:<port>, mapped to 127.0.0.1) and driven in
// Chromium through playwright-core, against Waypoint (bearer token required) and against
// `langgraph dev`, both serving tests/fixtures/streaming (its langgraph.json allows the page's origin
// in http.cors). The page sends a message and shows the reply growing token by token, shows the
// agent's review of save_note, approves it, sees the run finish, and after a reload shows the thread
// again (its id kept in the URL); reloaded while a reply streams, it rejoins the run and the reply
// finishes. Screenshots go to test-artifacts/.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import * as esbuild from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { PROJECT_ROOT } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { replyTo } from "./fixtures/streaming/talk.js";
import { startReference, type Target } from "./support/compat.js";
import { freePort, freshDatabase, type TestDatabase } from "./support/db.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.join(PROJECT_ROOT, "test-artifacts");
const FIXTURE = path.join(PROJECT_ROOT, "tests", "fixtures", "streaming");
const CONFIG = path.join(FIXTURE, "langgraph.json");
const TOKEN = "tok-browser";
/** The page's host: Chromium resolves it to 127.0.0.1, and langgraph.json's http.cors allows it. */
const PAGE_HOST = "page.test";

let db: TestDatabase;
let waypoint: RunningServer;
let reference: Target;
let pages: http.Server;
let pagePort = 0;
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`The browser test needs Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does it).`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const bundle = await esbuild.build({
    entryPoints: [path.join(FIXTURE, "page", "app.tsx")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    minify: true,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0]!.contents;
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>Talk</title></head><body><div id="root"></div><script type="module" src="/app.js"></script></body></html>';
  pages = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://page");
    if (url.pathname === "/app.js") res.writeHead(200, { "content-type": "text/javascript" }).end(js);
    else if (url.pathname === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => pages.listen(0, "127.0.0.1", r));
  pagePort = (pages.address() as { port: number }).port;
  db = await freshDatabase("usestream");
  [reference, waypoint] = await Promise.all([
    freePort().then((port) => startReference(port, CONFIG)),
    startServer({
      host: "127.0.0.1",
      port: 0,
      auth: { required: true, tokens: new Map([[TOKEN, "ann"]]) },
      waypoint: { url: db.url, config: CONFIG, poolMax: 6 },
      worker: { doctorMs: 0, pollMs: 200 },
    }),
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", `--host-resolver-rules=MAP ${PAGE_HOST} 127.0.0.1`] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await reference?.close();
  await waypoint?.close();
  await new Promise((r) => pages?.close(r));
  await db?.drop();
});

/** What the page records after each render (window.frames_seen): the last AI message's text, and whether a run was going. */
type Frame = { ai: string; loading: boolean };
const framesOf = () => (globalThis as unknown as { frames_seen: Frame[] }).frames_seen;

const pageOrigin = () => `http://${PAGE_HOST}:${pagePort}`;

test("a page on another origin reaches Waypoint's API with a bearer token: preflight answered, request allowed; a token is still required, other origins are refused", async () => {
  const preflight = await fetch(`${waypoint.url}/threads/search`, {
    method: "OPTIONS",
    headers: { origin: pageOrigin(), "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
  });
  expect(preflight.status).toBeLessThan(300);
  expect(preflight.headers.get("access-control-allow-origin")).toBe(pageOrigin());
  expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");

  const page = await browser.newPage();
  await page.goto(`${pageOrigin()}/`);
  const call = (url: string, token: string | null) =>
    page.evaluate(
      async ([u, t]) => {
        try {
          const r = await fetch(u!, { method: "POST", headers: { "content-type": "application/json", ...(t ? { authorization: `Bearer ${t}` } : {}) }, body: JSON.stringify({ limit: 5 }) });
          return { status: r.status, body: await r.text() };
        } catch (e) {
          return { blocked: String(e) };
        }
      },
      [url, token] as const,
    );
  // A JSON body with an Authorization header is not a simple request: Chromium sends it only after a preflight it accepts.
  const ok = await call(`${waypoint.url}/threads/search`, TOKEN);
  expect(ok).toMatchObject({ status: 200 });
  expect(Array.isArray(JSON.parse((ok as { body: string }).body))).toBe(true);
  expect(await call(`${waypoint.url}/threads/search`, null)).toMatchObject({ status: 401 });
  await page.close();

  // The same request from an origin langgraph.json does not list is blocked by the browser.
  const other = await browser.newPage();
  await other.goto(`http://127.0.0.1:${pagePort}/`);
  const blocked = await other.evaluate(async (u) => {
    try {
      await fetch(u, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer tok-browser" }, body: "{}" });
      return "allowed";
    } catch {
      return "blocked";
    }
  }, `${waypoint.url}/threads/search`);
  expect(blocked).toBe("blocked");
  await other.close();
});

async function aiTexts(page: Page): Promise<string[]> {
  return page.locator("#messages li.ai").evaluateAll((els) => els.map((e) => (e.textContent ?? "").replace(/^ai: /, "")));
}

test.each(["waypoint", "reference"] as const)("useStream on %s: tokens arrive, the review is approved from the page, the run finishes, a reload shows the thread, a reload mid-run rejoins it", async (name) => {
  const apiUrl = name === "waypoint" ? waypoint.url : reference.url;
  const shot = (step: string) => page.screenshot({ path: path.join(ARTIFACTS, `usestream-${name}-${step}.png`), fullPage: true });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${pageOrigin()}/?api=${encodeURIComponent(apiUrl)}&token=${TOKEN}`);
  await page.locator("#input").waitFor();

  // 1. A message; the reply grows over several renders while the run goes on.
  const full = replyTo("hello browser");
  await page.locator("#input").fill("hello browser");
  await page.locator("#send").click();
  await page.waitForFunction(() => (globalThis as unknown as { frames_seen: Frame[] }).frames_seen.some((f) => f.loading && f.ai.length > 0));
  await shot("1-streaming");
  await page.locator("#messages li.ai", { hasText: full }).waitFor({ timeout: 30_000 });
  await page.locator("#status", { hasText: "idle" }).waitFor();
  const frames = await page.evaluate(framesOf);
  const growing = [...new Set(frames.filter((f) => f.loading && f.ai.length > 0).map((f) => f.ai))];
  expect(growing.length).toBeGreaterThanOrEqual(3);
  for (const [i, text] of growing.entries()) {
    expect(full.startsWith(text)).toBe(true);
    if (i > 0) expect(text.length).toBeGreaterThan(growing[i - 1]!.length);
  }
  expect(growing.some((t) => t.length < full.length)).toBe(true);
  await shot("2-replied");

  // 2. A note: the agent asks for review; the page shows the proposed call and approves it.
  await page.locator("#input").fill("note: buy milk");
  await page.locator("#send").click();
  const review = page.locator("#review");
  await review.waitFor({ timeout: 30_000 });
  expect(await review.locator(".action").innerText()).toBe('save_note {"text":"buy milk"}');
  await shot("3-review");
  await review.locator("#approve").click();
  const done = "Done. Saved note: buy milk. Anything else?";
  await page.locator("#messages li.ai", { hasText: done }).waitFor({ timeout: 30_000 });
  await page.locator("#status", { hasText: "idle" }).waitFor();
  expect(await review.count()).toBe(0);
  await shot("4-approved");

  // 3. The thread is in the URL; a reload shows the conversation again, from the server.
  const threadId = new URL(page.url()).searchParams.get("thread");
  expect(threadId).toMatch(/^[0-9a-f-]{36}$/);
  await page.reload();
  await page.locator("#messages li.ai", { hasText: done }).waitFor({ timeout: 30_000 });
  expect(await page.locator("#thread").innerText()).toBe(threadId);
  expect(await aiTexts(page)).toEqual([full, "", done]);
  expect(await page.locator("#messages li.tool").innerText()).toBe("tool: Saved note: buy milk");
  expect(await page.locator("#review").count()).toBe(0);
  await shot("5-reloaded");

  // 4. A reload while a reply streams: the page rejoins the run's stream and the reply finishes.
  const again = replyTo("reload me");
  await page.locator("#input").fill("reload me");
  await page.locator("#send").click();
  await page.waitForFunction((full) => (globalThis as unknown as { frames_seen: Frame[] }).frames_seen.some((f) => f.loading && f.ai.length > 0 && f.ai !== full), done);
  await page.reload();
  await page.locator("#messages li.ai", { hasText: again }).waitFor({ timeout: 30_000 });
  await page.locator("#status", { hasText: "idle" }).waitFor();
  const rejoined = await page.evaluate(framesOf);
  // Frames of the rejoined stream: the new reply, still partial, while the run was going.
  expect(rejoined.some((f) => f.loading && f.ai.length > 0 && again.startsWith(f.ai))).toBe(true);
  expect(await aiTexts(page)).toEqual([full, "", done, again]);
  await shot("6-rejoined");
  expect(errors).toEqual([]);
  await page.close();
}, 120_000);
