// The onboarding agent against real Postgres: each review decision, bad decisions, and memory.
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { ToolMessage } from "@langchain/core/messages";
import { offlinePlannerModel } from "../src/models/index.js";
import { Waypoint } from "../src/runs/index.js";
import { HIRE, onboardingScript, recordingModel, worldCounts } from "./support/agents.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
const open: Waypoint[] = [];

async function waypointWith(model: BaseChatModel | undefined) {
  const wp = await Waypoint.open({ url: db.url, ...(model ? { model } : {}), poolMax: 4 });
  open.push(wp);
  return wp;
}

beforeAll(async () => {
  db = await freshDatabase("onboarding");
});
// Each test's Waypoint (and its connections) goes away with the test.
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});
afterAll(async () => {
  await db.drop();
});

function hire(tag: string) {
  return { ...HIRE, email: `${tag}@acme.test` };
}

async function pausedAtReview(tag: string) {
  const h = hire(tag);
  const rec = recordingModel(onboardingScript(h));
  const wp = await waypointWith(rec.model);
  const view = await wp.start("onboarding", { hire: h });
  return { wp, rec, h, view };
}

describe("onboarding agent: review decisions", () => {
  test("pauses before granting privileges with a HITL request and its context", async () => {
    const { wp, h, view } = await pausedAtReview("pause");
    expect(view.status).toBe("interrupted");
    expect(view.pending).toHaveLength(1);
    const req = view.pending[0]!.request!;
    expect(req.actionRequests).toEqual([expect.objectContaining({ name: "grant_privileges", args: { email: h.email, privileges: h.privileges } })]);
    expect(req.reviewConfigs[0]).toEqual(expect.objectContaining({ actionName: "grant_privileges", allowedDecisions: ["approve", "edit", "reject", "respond"] }));
    expect(req.context.done).toEqual([expect.objectContaining({ step: "create_account", outcome: "done" })]);
    expect(req.context.artifacts).toEqual([expect.objectContaining({ kind: "account" })]);
    expect(req.context.nextStep).toContain("Grant github:write, prod-db:read");
    expect(Object.keys(req.context.decisionOutcomes).sort()).toEqual(["approve", "edit", "reject", "respond"]);
    // The account exists; nothing risky happened yet.
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 0 });
  });

  test("approve: privileges granted as proposed, email sent, thread done", async () => {
    const { wp, h, view } = await pausedAtReview("approve");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "approve" }] });
    expect(done.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  });

  test("edit: the edited arguments run instead", async () => {
    const { wp, h, view } = await pausedAtReview("edit");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "edit", editedAction: { name: "grant_privileges", args: { email: h.email, privileges: ["wiki:read"] } } }] });
    expect(done.status).toBe("done");
    const { rows } = await wp.pool.query("SELECT privilege FROM world.grants WHERE email = $1", [h.email]);
    expect(rows.map((r) => r.privilege)).toEqual(["wiki:read"]);
  });

  test("reject: nothing granted, the reason reaches the model as a tool error", async () => {
    const { wp, rec, h, view } = await pausedAtReview("reject");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "reject", message: "prod access needs a ticket" }] });
    expect(done.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 1 });
    const seen = rec.calls[2]!.filter((m): m is ToolMessage => ToolMessage.isInstance(m) && m.name === "grant_privileges");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.status).toBe("error");
    expect(seen[0]!.content).toContain("prod access needs a ticket");
  });

  test("respond: the tool does not run, the message is its result", async () => {
    const { wp, rec, h, view } = await pausedAtReview("respond");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "respond", message: "IT grants these on day one; skip" }] });
    expect(done.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 1 });
    const seen = rec.calls[2]!.find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.name === "grant_privileges");
    expect(seen?.status).toBe("success");
    expect(seen?.content).toBe("IT grants these on day one; skip");
  });
});

describe("onboarding agent: bad decisions change nothing", () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ["wrong count", { decisions: [{ type: "approve" }, { type: "approve" }] }, /Expected 1 decision .* got 2/],
    ["no decisions key", { approve: true }, /Malformed decision/],
    ["unknown type", { decisions: [{ type: "maybe" }] }, /decision type must be one of approve, edit, reject, respond/],
    ["edit that fails the schema", { decisions: [{ type: "edit", editedAction: { name: "grant_privileges", args: { email: "not-an-email", privileges: [] } } }] }, /email: .*privileges: /],
    ["edit that changes the tool", { decisions: [{ type: "edit", editedAction: { name: "send_welcome_email", args: {} } }] }, /must keep the tool "grant_privileges"/],
    ["respond without a message", { decisions: [{ type: "respond" }] }, /message/],
  ];

  test.each(bad)("%s", async (_label, response, message) => {
    const { wp, h, view } = await pausedAtReview(`bad-${_label.replace(/\W/g, "")}`);
    const before = await wp.history(view.threadId);
    await expect(wp.decide(view.threadId, response)).rejects.toMatchObject({ code: "invalid_decision", message: expect.stringMatching(message) });
    const after = await wp.view(view.threadId);
    expect(after.status).toBe("interrupted");
    expect(after.checkpointId).toBe(view.checkpointId);
    expect(await wp.history(view.threadId)).toHaveLength(before.length);
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 0 });
    // And the thread still takes a good decision afterwards.
    expect((await wp.decide(view.threadId, { decisions: [{ type: "approve" }] })).status).toBe("done");
  });

  test("unknown thread", async () => {
    const wp = await waypointWith(undefined);
    await expect(wp.decide("no-such-thread", { decisions: [{ type: "approve" }] })).rejects.toMatchObject({ code: "unknown_thread", message: expect.stringContaining('No thread with id "no-such-thread"') });
  });

  test("decision or resume on a finished thread", async () => {
    const { wp, view } = await pausedAtReview("finished");
    await wp.decide(view.threadId, { decisions: [{ type: "approve" }] });
    const done = await wp.view(view.threadId);
    await expect(wp.decide(view.threadId, { decisions: [{ type: "approve" }] })).rejects.toMatchObject({ code: "nothing_pending" });
    await expect(wp.resume(view.threadId)).rejects.toMatchObject({ code: "thread_finished" });
    expect((await wp.view(view.threadId)).checkpointId).toBe(done.checkpointId);
  });

  test("resume of a thread that waits for a decision is refused", async () => {
    const { wp, view } = await pausedAtReview("resume-waiting");
    await expect(wp.resume(view.threadId)).rejects.toMatchObject({ code: "nothing_pending", message: expect.stringContaining("waypoint decide") });
    expect((await wp.view(view.threadId)).checkpointId).toBe(view.checkpointId);
  });

  test("invalid input to start names the field", async () => {
    const wp = await waypointWith(undefined);
    await expect(wp.start("onboarding", { hire: { ...HIRE, email: "nope" } })).rejects.toMatchObject({ code: "invalid_input", message: expect.stringContaining("hire.email") });
    await expect(wp.start("nobody", {})).rejects.toMatchObject({ code: "unknown_agent" });
  });
});

describe("onboarding agent: memory across threads", () => {
  test("a manager's welcome tone stated in thread A is used in thread B", async () => {
    const wp = await waypointWith(offlinePlannerModel());
    const manager = "m.lee@acme.test";
    const a = await wp.start("onboarding", { hire: { ...hire("mem-a"), manager, welcomeTone: "formal" } });
    await wp.decide(a.threadId, { decisions: [{ type: "approve" }] });
    // Thread B says nothing about tone.
    const b = await wp.start("onboarding", { hire: { ...hire("mem-b"), manager } });
    expect(b.threadId).not.toBe(a.threadId);
    const done = await wp.decide(b.threadId, { decisions: [{ type: "approve" }] });
    expect(done.values.preferences).toEqual({ welcomeTone: "formal" });
    const { rows } = await wp.pool.query("SELECT subject, body FROM world.outbox WHERE recipient = $1", ["mem-b@acme.test"]);
    expect(rows).toHaveLength(1);
    expect(rows[0].body).toContain("Dear Ada Lovelace");
    // A different manager's hires keep the default tone.
    const c = await wp.start("onboarding", { hire: { ...hire("mem-c"), manager: "other@acme.test" } });
    await wp.decide(c.threadId, { decisions: [{ type: "approve" }] });
    const other = await wp.pool.query("SELECT subject FROM world.outbox WHERE recipient = $1", ["mem-c@acme.test"]);
    expect(other.rows[0].subject).toBe("Welcome aboard, Ada Lovelace!");
  });
});
