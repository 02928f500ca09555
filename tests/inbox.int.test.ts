// The review inbox in a real browser (Chromium through playwright-core): it lists the onboarding thread
// waiting for approval with its context; the reviewer edits the arguments, approves, and sees the thread
// complete. Screenshots go to test-artifacts/.
import fs from "node:fs";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { chromium, type Browser } from "playwright-core";
import { PROJECT_ROOT } from "../src/config.js";
import { offlinePlannerModel } from "../src/models/index.js";
import { startServer, type RunningServer } from "../src/server/index.js";
import { HIRE } from "./support/agents.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.join(PROJECT_ROOT, "test-artifacts");

let db: TestDatabase;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`The browser test needs Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does it).`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  db = await freshDatabase("inbox");
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    auth: { required: true, tokens: new Map([["tok-reviewer", "people-ops"]]) },
    worker: { url: db.url, model: offlinePlannerModel(), poolMax: 4, doctorMs: 0, pollMs: 200 },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await db?.drop();
});

test("a reviewer edits the proposed grant in the inbox, approves it, and the thread completes", async () => {
  const client = new Client({ apiUrl: server.url, apiKey: "tok-reviewer" });
  const thread = await client.threads.create();
  const email = "inbox@acme.test";
  await client.runs.wait(thread.thread_id, "onboarding", { input: { hire: { ...HIRE, email } } });

  const page = await browser.newPage();
  await page.goto(`${server.url}/inbox?token=tok-reviewer`);
  const card = page.locator(`.card[data-thread="${thread.thread_id}"]`);
  await card.waitFor();
  const text = await card.innerText();
  expect(text).toContain("review requested");
  expect(text).toMatch(/create_account: \{"accountRef":"acct-/); // what is done
  expect(text).toContain("account acct-"); // artifacts
  expect(text).toContain(`Grant github:write, prod-db:read to ${email}`); // the proposed action
  expect(text).toMatch(/approve: The action runs as proposed/); // what each decision does
  await page.screenshot({ path: path.join(ARTIFACTS, "inbox-1-waiting.png"), fullPage: true });

  await card.getByRole("button", { name: "Edit" }).click();
  const privileges = card.locator('input[data-arg="privileges"]');
  await privileges.fill('["github:read"]');
  await page.screenshot({ path: path.join(ARTIFACTS, "inbox-2-editing.png"), fullPage: true });
  await card.getByRole("button", { name: "Approve with these arguments" }).click();
  await card.locator(".status.ok").waitFor({ timeout: 30_000 });
  expect(await card.locator(".thread-status").innerText()).toBe("done");
  await page.screenshot({ path: path.join(ARTIFACTS, "inbox-3-done.png"), fullPage: true });

  const state = (await client.threads.getState(thread.thread_id)).values as { messages: Array<{ type: string; name?: string; content: string }> };
  const grant = state.messages.find((m) => m.type === "tool" && m.name === "grant_privileges");
  expect(JSON.parse(grant?.content ?? "{}")).toMatchObject({ granted: ["github:read"] });
  expect((await client.threads.get(thread.thread_id)).status).toBe("idle");

  // A bad edit is refused with the reason shown, and the thread keeps waiting.
  const second = await client.threads.create();
  await client.runs.wait(second.thread_id, "onboarding", { input: { hire: { ...HIRE, email: "inbox-2@acme.test" } } });
  await page.getByRole("button", { name: "Refresh" }).click();
  const card2 = page.locator(`.card[data-thread="${second.thread_id}"]`);
  await card2.waitFor();
  await card2.getByRole("button", { name: "Edit" }).click();
  await card2.locator('input[data-arg="email"]').fill("not-an-email");
  await card2.getByRole("button", { name: "Approve with these arguments" }).click();
  await card2.locator(".status.err").waitFor();
  expect(await card2.locator(".status.err").innerText()).toMatch(/edited arguments for grant_privileges are invalid: email/);
  expect((await client.threads.get(second.thread_id)).status).toBe("interrupted");
  await page.close();
});

test("a permission request: the reviewer grants the scope for the rest of the run in the inbox", async () => {
  const client = new Client({ apiUrl: server.url, apiKey: "tok-reviewer" });
  const thread = await client.threads.create();
  const email = "inbox-scope@acme.test";
  const policy = { tools: { grant_privileges: { tier: "auto", scopes: ["iam:write"] } } };
  await client.runs.wait(thread.thread_id, "onboarding", { input: { hire: { ...HIRE, email } }, context: { policy } } as never);

  const page = await browser.newPage();
  await page.goto(`${server.url}/inbox?token=tok-reviewer`);
  const card = page.locator(`.card[data-thread="${thread.thread_id}"]`);
  await card.waitFor();
  const text = await card.innerText();
  expect(text).toContain("permission needed");
  expect(text).toContain('needs "iam:write", which this run does not hold');
  expect(text).toMatch(/grant_for_run: The scope is granted for this call and every later call/);
  await page.screenshot({ path: path.join(ARTIFACTS, "inbox-4-permission.png"), fullPage: true });

  await card.getByRole("button", { name: "Grant for the rest of the run" }).click();
  await card.locator(".status.ok").waitFor();
  expect(await card.locator(".thread-status").innerText()).toBe("done");
  const state = await client.threads.getState(thread.thread_id);
  expect((state.values as { oversight: { grants: Array<{ scope: string; for: string }> } }).oversight.grants).toEqual([expect.objectContaining({ scope: "iam:write", for: "run" })]);
  await page.close();
});
