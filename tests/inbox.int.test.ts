// The review inbox in a real browser (Chromium through playwright-core): it lists the onboarding thread
// waiting for approval with its context; the reviewer edits the arguments, approves, and sees the thread
// complete. It shows any interrupt: a humanInTheLoopMiddleware request (the concierge example) with the
// decisions it allows and no others, and a plain interrupt({...}) as JSON, answered with JSON checked
// against its response_schema. Screenshots go to test-artifacts/.
import fs from "node:fs";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import pg from "pg";
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
  // tests/fixtures/inbox: the onboarding agent, the concierge example (createAgent + humanInTheLoopMiddleware)
  // and a StateGraph with plain interrupt()s (one server per process: the reference server's registry is global).
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    auth: { required: true, tokens: new Map([["tok-reviewer", "people-ops"]]) },
    waypoint: { config: path.join(PROJECT_ROOT, "tests/fixtures/inbox/langgraph.json") },
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
  // The history is read when it is opened: the steps so far, the last one waiting for an answer.
  await card.locator("details summary").click();
  await card.locator("details li", { hasText: "waiting for an answer" }).waitFor();
  expect(await card.locator("details").innerText()).toMatch(/step \d+: /);
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

describe("any interrupt, from graphs not written for Waypoint", () => {
  let pool: pg.Pool;
  const client = () => new Client({ apiUrl: server.url, apiKey: "tok-reviewer" });

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
  });

  const runsOf = async (threadId: string) => Number((await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.runs WHERE thread_id = $1", [threadId])).rows[0]?.n);

  test("a humanInTheLoopMiddleware interrupt (concierge rent_car): shown with what is done and its allowed decisions only; approved, the car is rented once", async () => {
    const thread = await client().threads.create();
    const tripId = "inbox-trip-1";
    const facts = { tripId, city: "Lisbon", guest: "Ada", driver: "Ada", checkIn: "2027-03-01", pickUpOn: "2027-03-01", nights: 3, days: 3 };
    await client().runs.wait(thread.thread_id, "concierge", { input: { messages: [{ role: "user", content: `Hotel and car.\n\`\`\`json\n${JSON.stringify(facts)}\n\`\`\`` }] } });
    expect((await client().threads.get(thread.thread_id)).status).toBe("interrupted");

    const page = await browser.newPage();
    await page.goto(`${server.url}/inbox?token=tok-reviewer`);
    const card = page.locator(`.card[data-thread="${thread.thread_id}"]`);
    await card.waitFor();
    const text = await card.innerText();
    expect(text).toContain("concierge: review requested");
    // What is done, read off the conversation (the middleware's request carries no context).
    expect(text).toMatch(/search_hotels: \{"hotelId":"lis-alfama"/);
    expect(text).toMatch(/book_hotel: \{"hotelRef":"HT-/);
    expect(text).toContain("Artifacts: hotel HT-");
    expect(text).toContain("Tool execution requires approval");
    expect(text).toContain(`"tripId": "${tripId}"`);
    expect(text).toMatch(/approve: The action runs as proposed/);
    expect(text).not.toMatch(/respond:/);
    // The decisions the middleware allows (approve, edit, reject), and no other.
    expect(await card.getAttribute("data-allowed")).toBe("approve,edit,reject");
    expect(await card.locator(".buttons button").allInnerTexts()).toEqual(["Approve", "Edit", "Reject"]);
    await page.screenshot({ path: path.join(ARTIFACTS, "inbox-5-hitl-middleware.png"), fullPage: true });

    // A decision it does not allow is refused by the server (422, naming the allowed ones); nothing is recorded.
    const before = await runsOf(thread.thread_id);
    const interruptId = await card.getAttribute("data-interrupt");
    const refused = await fetch(`${server.url}/threads/${thread.thread_id}/runs/wait`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer tok-reviewer" },
      body: JSON.stringify({ assistant_id: "concierge", command: { resume: { [interruptId ?? ""]: { decisions: [{ type: "respond", message: "no car" }] } } } }),
    });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toMatch(/"respond" is not allowed here; allowed: approve, edit, reject/);
    expect(await runsOf(thread.thread_id)).toBe(before);

    await card.getByRole("button", { name: "Approve" }).click();
    await card.locator(".status.ok").waitFor({ timeout: 30_000 });
    expect(await card.locator(".thread-status").innerText()).toBe("done");
    await page.screenshot({ path: path.join(ARTIFACTS, "inbox-6-hitl-middleware-done.png"), fullPage: true });
    const rentals = await pool.query("SELECT rental_ref FROM world.car_rentals WHERE trip_id = $1", [tripId]);
    expect(rentals.rowCount).toBe(1);
    const state = (await client().threads.getState(thread.thread_id)).values as { messages: Array<{ type: string; name?: string; content: string }> };
    expect(state.messages.filter((m) => m.type === "tool").map((m) => m.name)).toEqual(["search_hotels", "book_hotel", "rent_car"]);
    expect((await client().threads.get(thread.thread_id)).status).toBe("idle");
    await page.close();
  });

  test("a plain interrupt({...}) is shown as JSON and answered with JSON; an answer against its response_schema is refused (422, nothing recorded)", async () => {
    const thread = await client().threads.create();
    await client().runs.wait(thread.thread_id, "questions", { input: { trip: "Lisbon in March" } });
    expect((await client().threads.get(thread.thread_id)).status).toBe("interrupted");

    const page = await browser.newPage();
    await page.goto(`${server.url}/inbox?token=tok-reviewer`);
    const card = page.locator(`.card.plain[data-thread="${thread.thread_id}"]`);
    await card.waitFor();
    const text = await card.innerText();
    expect(text).toContain("questions: an answer is needed");
    expect(text).toContain('"question": "How many seats for Lisbon in March, and is the window seat wanted?"');
    expect(text).toContain("The answer is checked against its response_schema");
    // No decision buttons: a plain interrupt is not a review.
    expect(await card.locator(".buttons button").count()).toBe(0);

    // Not JSON: the page says so and sends nothing.
    const before = await runsOf(thread.thread_id);
    const answer = card.locator("textarea[data-answer]");
    await answer.fill("two seats");
    await card.getByRole("button", { name: "Send answer" }).click();
    await card.locator(".status.err").waitFor();
    expect(await card.locator(".status.err").innerText()).toMatch(/not JSON/);

    // JSON that breaks the schema: the server refuses it, naming the problem; nothing is recorded.
    await answer.fill('{"seats": 0}');
    await card.getByRole("button", { name: "Send answer" }).click();
    await card.locator(".status.err").filter({ hasText: "response_schema" }).waitFor();
    const refusal = await card.locator(".status.err").innerText();
    expect(refusal).toMatch(/does not match its response_schema/);
    expect(refusal).toMatch(/seats/);
    expect(refusal).toMatch(/window/);
    await page.screenshot({ path: path.join(ARTIFACTS, "inbox-7-plain-refused.png"), fullPage: true });
    expect(await runsOf(thread.thread_id)).toBe(before);
    expect((await client().threads.get(thread.thread_id)).status).toBe("interrupted");
    const direct = await fetch(`${server.url}/threads/${thread.thread_id}/runs/wait`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer tok-reviewer" },
      body: JSON.stringify({ assistant_id: "questions", command: { resume: { seats: "two", window: true } } }),
    });
    expect(direct.status).toBe(422);
    expect(await direct.text()).toMatch(/does not match its response_schema: seats/);
    expect(await runsOf(thread.thread_id)).toBe(before);

    await answer.fill('{"seats": 2, "window": true}');
    await card.getByRole("button", { name: "Send answer" }).click();
    await card.locator(".status.ok").waitFor({ timeout: 30_000 });
    expect(await card.locator(".thread-status").innerText()).toBe("interrupted"); // the next question

    // The next question has no schema: any JSON value answers it.
    await page.getByRole("button", { name: "Refresh" }).click();
    const next = page.locator(`.card.plain[data-thread="${thread.thread_id}"]`);
    await next.filter({ hasText: "Anything else for the driver?" }).waitFor();
    expect(await next.innerText()).not.toContain("response_schema");
    await next.locator("textarea[data-answer]").fill('"a child seat, please"');
    await page.screenshot({ path: path.join(ARTIFACTS, "inbox-8-plain-answer.png"), fullPage: true });
    await next.getByRole("button", { name: "Send answer" }).click();
    await next.locator(".status.ok").waitFor({ timeout: 30_000 });
    expect(await next.locator(".thread-status").innerText()).toBe("done");
    expect((await client().threads.getState(thread.thread_id)).values).toMatchObject({ trip: "Lisbon in March", seats: 2, note: "a child seat, please" });
    await page.close();
  });
});

test("the token leaves the address bar at the first load and the page keeps working; the favicon is no 401", async () => {
  const client = new Client({ apiUrl: server.url, apiKey: "tok-reviewer" });
  const thread = await client.threads.create();
  await client.runs.wait(thread.thread_id, "onboarding", { input: { hire: { ...HIRE, email: "token-url@acme.test" } } });
  const context = await browser.newContext();
  const page = await context.newPage();
  const favicons: number[] = [];
  page.on("response", (r) => {
    if (new URL(r.url()).pathname === "/favicon.ico") favicons.push(r.status());
  });
  await page.goto(`${server.url}/inbox?token=tok-reviewer`);
  await page.locator(`.card[data-thread="${thread.thread_id}"]`).waitFor();
  expect(page.url()).toBe(`${server.url}/inbox`); // not in the history, a bookmark or a screenshot
  await page.reload();
  await page.locator(`.card[data-thread="${thread.thread_id}"]`).waitFor(); // the token stayed in this browser only
  const direct = await fetch(`${server.url}/favicon.ico`);
  expect(direct.status).toBe(204);
  expect(favicons.every((s) => s !== 401)).toBe(true);
  await context.close();
});
