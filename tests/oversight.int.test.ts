// The oversight policy and the guardrails, on the onboarding agent with scripted models that misbehave:
// each tier (auto, review, deny), each condition (amount, sensitive target, external domain, low
// confidence), permission scopes granted and refused mid-run, hard and soft limits, the loop detector
// and the recursion limit. The audit log is checked after each.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { TRAVEL_TOOLS } from "../graphs/travel/tools.js";
import { listAudit, loadPolicyFile, type AuditEntry } from "../src/approvals/index.js";
import { isWaypointError } from "../src/errors.js";
import { ScriptedChatModel } from "../src/models/index.js";
import { Waypoint } from "../src/runs/index.js";
import { HIRE, onboardingScript, recordingModel, say, toolCall, worldCounts } from "./support/agents.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
const open: Waypoint[] = [];

async function waypoint(model: ScriptedChatModel, extra: Partial<Parameters<typeof Waypoint.open>[0]> = {}) {
  const wp = await Waypoint.open({ url: db.url, model, poolMax: 4, fallbackModel: null, modelRetry: { maxAttempts: 1 }, ...extra });
  open.push(wp);
  return wp;
}

beforeAll(async () => {
  db = await freshDatabase("oversight");
});
// Each test's Waypoint (and its connections) goes away with the test: the suite stays well under the
// server's connection limit however many tests it has.
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});
afterAll(async () => {
  await db.drop();
});

const hire = (tag: string) => ({ ...HIRE, email: `${tag}@acme.test` });
const actions = (entries: AuditEntry[]) => entries.map((e) => `${e.action}:${e.tool ?? e.subject.split(":").pop()}`).sort();

/** A model that decides its next reply from the conversation (what the tools answered). */
function reactive(fn: (messages: BaseMessage[], turn: number) => AIMessage) {
  let turn = 0;
  return new ScriptedChatModel({ label: "reactive-test-model", respond: (messages) => fn(messages, ++turn) });
}

const lastTool = (messages: BaseMessage[]) => [...messages].reverse().find((m): m is ToolMessage => ToolMessage.isInstance(m));

describe("policy tiers", () => {
  test("auto calls run on their own and every one is in the audit log with its rule", async () => {
    const h = hire("tier-auto");
    const wp = await waypoint(recordingModel(onboardingScript(h)).model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { grant_privileges: { tier: "auto" } } } });
    expect(view.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
    const audit = await listAudit(wp.pool, { threadId: view.threadId });
    expect(actions(audit)).toEqual(["auto:create_account", "auto:grant_privileges", "auto:send_welcome_email"]);
    expect(audit.find((e) => e.tool === "grant_privileges")).toEqual(expect.objectContaining({ actor: "policy", rule: "tools.grant_privileges.tier", args: { email: h.email, privileges: h.privileges } }));
  });

  test("deny blocks the call and tells the model why; nothing happens in the world", async () => {
    const h = hire("tier-deny");
    const rec = recordingModel(onboardingScript(h));
    const wp = await waypoint(rec.model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { grant_privileges: { tier: "deny", reason: "grants are frozen this week" } } } });
    expect(view.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 1 });
    const told = rec.calls[2]!.find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.name === "grant_privileges");
    expect(told?.status).toBe("error");
    expect(String(told?.content)).toContain("Denied by policy: grants are frozen this week");
    const denied = await listAudit(wp.pool, { threadId: view.threadId, action: "deny" });
    expect(denied).toEqual([expect.objectContaining({ tool: "grant_privileges", rule: "tools.grant_privileges.tier", reason: "grants are frozen this week" })]);
  });

  test("review: the built-in policy pauses grants; the reviewer's decision is audited", async () => {
    const h = hire("tier-review");
    const wp = await waypoint(recordingModel(onboardingScript(h)).model);
    const view = await wp.start("onboarding", { hire: h });
    expect(view.status).toBe("interrupted");
    expect(view.pending[0]!.request!.actionRequests[0]!.description).toContain("review: privileges change what the hire can reach");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "approve" }] });
    expect(done.status).toBe("done");
    const reviewed = await listAudit(wp.pool, { threadId: view.threadId, action: "review" });
    expect(reviewed).toEqual([expect.objectContaining({ tool: "grant_privileges", actor: "reviewer", details: { decision: { type: "approve" } } })]);
  });

  test("conditions escalate: a sensitive target goes to review, an external domain too", async () => {
    const h = hire("cond-admin");
    const script = onboardingScript(h);
    script[1] = toolCall(2, "grant_privileges", { email: h.email, privileges: ["prod-db:admin"] });
    const wp = await waypoint(recordingModel(script).model);
    const policy = { tools: { grant_privileges: { tier: "auto" as const, when: [{ arg: "privileges", matches: "admin", then: "review" as const, reason: "admin rights" }] } } };
    const view = await wp.start("onboarding", { hire: h }, { policy });
    expect(view.status).toBe("interrupted");
    expect(view.pending[0]!.request!.actionRequests[0]!.description).toContain('admin rights (privileges contains "admin")');

    const ext = { ...HIRE, email: "someone@gmail.com" };
    const wp2 = await waypoint(recordingModel(onboardingScript(ext)).model);
    const v2 = await wp2.start("onboarding", { hire: ext }, { policy: { tools: { grant_privileges: { tier: "auto" } } } });
    expect(v2.status).toBe("interrupted");
    expect(v2.pending[0]!.request!.actionRequests).toEqual([expect.objectContaining({ name: "send_welcome_email" })]);
    expect(v2.pending[0]!.request!.actionRequests[0]!.description).toContain("gmail.com (outside acme.test)");
  });

  test("a listed value (oneOf) can deny a call outright", async () => {
    const h = hire("cond-oneof");
    const wp = await waypoint(recordingModel(onboardingScript(h)).model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { create_account: { tier: "auto", when: [{ arg: "department", oneOf: ["Engineering"], then: "deny", reason: "engineering accounts come from IT" }] } } } });
    const denied = await listAudit(wp.pool, { threadId: view.threadId, action: "deny" });
    expect(denied[0]).toEqual(expect.objectContaining({ tool: "create_account", reason: 'engineering accounts come from IT (department is "Engineering")' }));
  });

  test("low model confidence sends an auto call to review", async () => {
    const h = hire("cond-confidence");
    const script = onboardingScript(h);
    script[0] = new AIMessage({ id: "ai-1", content: "", tool_calls: script[0]!.tool_calls!, response_metadata: { confidence: 0.4 } });
    const wp = await waypoint(recordingModel(script).model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { create_account: { tier: "auto", when: [{ confidenceBelow: 0.7, then: "review" }] } } } });
    expect(view.status).toBe("interrupted");
    expect(view.pending[0]!.request!.actionRequests[0]).toEqual(expect.objectContaining({ name: "create_account" }));
    expect(view.pending[0]!.request!.actionRequests[0]!.description).toContain("model confidence 0.4 < 0.7");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 0, grants: 0, emails: 0 });
  });
});

describe("a policy with an error", () => {
  test("names the field, and the run does not start", async () => {
    const wp = await waypoint(recordingModel([]).model);
    const before = Number((await wp.pool.query("SELECT count(*) AS n FROM waypoint.threads")).rows[0].n);
    const attempts: Array<[unknown, string]> = [
      [{ tools: { grant_privileges: { tier: "sometimes" } } }, "tools.grant_privileges.tier"],
      [{ tools: { grant_privilegs: { tier: "auto" } } }, 'tools.grant_privilegs: no tool named "grant_privilegs"'],
      [{ tools: { send_welcome_email: { tier: "auto", when: [{ arg: "email", above: "ten", then: "review" }] } } }, "tools.send_welcome_email.when.0.above"],
      [{ tools: { send_welcome_email: { tier: "auto", when: [{ matches: "x", then: "review" }] } } }, "tools.send_welcome_email.when.0.arg"],
      [{ tools: { send_welcome_email: { tier: "auto", when: [{ arg: "email", matches: "(", then: "review" }] } } }, "tools.send_welcome_email.when.0.matches: not a valid regular expression"],
      [{ guards: { tokenBudget: -5 } }, "guards.tokenBudget"],
      [{ colour: "red" }, "colour"],
    ];
    for (const [policy, field] of attempts) {
      const err = await wp.start("onboarding", { hire: hire("bad-policy") }, { policy }).catch((e: unknown) => e);
      expect(isWaypointError(err, "invalid_policy")).toBe(true);
      expect((err as Error).message).toContain(field);
    }
    expect(Number((await wp.pool.query("SELECT count(*) AS n FROM waypoint.threads")).rows[0].n)).toBe(before);
    expect(await worldCounts(wp.pool, "bad-policy@acme.test")).toEqual({ accounts: 0, grants: 0, emails: 0 });
  });

  test("a policy file: a bad one is refused with its path and the field; a good one parses", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wp-policy-"));
    const file = path.join(dir, "policy.json");
    fs.writeFileSync(file, JSON.stringify({ tools: { book_hotel: { tier: "auto", scopes: [""] } } }));
    expect(() => loadPolicyFile(file, TRAVEL_TOOLS)).toThrow(`Invalid oversight policy (${file}): tools.book_hotel.scopes.0: scope cannot be empty`);
    fs.writeFileSync(file, "{ not json");
    expect(() => loadPolicyFile(file, TRAVEL_TOOLS)).toThrow(/not valid JSON/);
    fs.writeFileSync(file, JSON.stringify({ tools: { book_hotel: { tier: "review" } }, scopes: ["travel:book"] }));
    expect(loadPolicyFile(file, TRAVEL_TOOLS)).toEqual({ tools: { book_hotel: { tier: "review" } }, scopes: ["travel:book"] });
  });
});

describe("permission scopes", () => {
  const scoped = { tools: { grant_privileges: { tier: "auto" as const, scopes: ["iam:write"] } } };

  test("a scope granted for the run is used for the rest of the run; both grants are audited", async () => {
    const h = hire("scope-grant");
    const script = [
      toolCall(1, "create_account", { email: h.email, name: h.name, department: h.department }),
      toolCall(2, "grant_privileges", { email: h.email, privileges: ["github:write"] }),
      toolCall(3, "grant_privileges", { email: h.email, privileges: ["wiki:read"] }),
      say(4, "Done."),
    ];
    const wp = await waypoint(recordingModel(script).model);
    const view = await wp.start("onboarding", { hire: h }, { policy: scoped });
    expect(view.status).toBe("interrupted");
    const req = view.pending[0]!.request!;
    expect(req.kind).toBe("scope");
    expect(req.actionRequests[0]!.description).toContain('needs "iam:write"');
    expect(req.reviewConfigs[0]!.allowedDecisions).toEqual(["grant_once", "grant_for_run", "reject"]);
    // A decision of the wrong kind is refused and changes nothing.
    await expect(wp.decide(view.threadId, { decisions: [{ type: "approve" }] })).rejects.toThrow(/"approve" is not allowed here; allowed: grant_once, grant_for_run, reject/);
    const done = await wp.decide(view.threadId, { decisions: [{ type: "grant_for_run" }] });
    // The second grant needed the same scope and did not ask again.
    expect(done.status).toBe("done");
    const { rows } = await wp.pool.query("SELECT privilege FROM world.grants WHERE email = $1 ORDER BY id", [h.email]);
    expect(rows.map((r) => r.privilege)).toEqual(["github:write", "wiki:read"]);
    expect(done.values.oversight).toEqual(expect.objectContaining({ grants: [expect.objectContaining({ scope: "iam:write", for: "run", toolCallId: "call-2-grant_privileges" })] }));
    expect(actions(await listAudit(wp.pool, { threadId: view.threadId }))).toEqual([
      "auto:create_account",
      "auto:grant_privileges",
      "auto:grant_privileges",
      "scope_granted:grant_privileges",
    ]);
  });

  test("a scope granted once covers only that call", async () => {
    const h = hire("scope-once");
    const script = [toolCall(1, "grant_privileges", { email: h.email, privileges: ["a:b"] }), toolCall(2, "grant_privileges", { email: h.email, privileges: ["c:d"] }), say(3, "Done.")];
    const wp = await waypoint(recordingModel(script).model);
    await wp.pool.query("INSERT INTO world.directory (account_ref, email, name, department, idempotency_key) VALUES ('acct-once', $1, 'X', 'Y', 'k-once')", [h.email]);
    const view = await wp.start("onboarding", { hire: h }, { policy: scoped });
    const again = await wp.decide(view.threadId, { decisions: [{ type: "grant_once" }] });
    expect(again.status).toBe("interrupted");
    expect(again.pending[0]!.request!.kind).toBe("scope");
    expect(again.pending[0]!.request!.actionRequests[0]!.toolCallId).toBe("call-2-grant_privileges");
  });

  test("a refused scope leads the model to a different plan, and the refusal is audited", async () => {
    const h = hire("scope-refuse");
    const model = reactive((messages, turn) => {
      if (turn === 1) return toolCall(1, "create_account", { email: h.email, name: h.name, department: h.department });
      if (turn === 2) return toolCall(2, "grant_privileges", { email: h.email, privileges: ["prod-db:read"] });
      const last = lastTool(messages);
      if (turn === 3 && last?.status === "error" && String(last.content).includes("Permission refused")) {
        // Plan B: no grant; tell the hire to ask for access through a ticket.
        return toolCall(3, "send_welcome_email", { email: h.email, name: h.name, tone: "formal" });
      }
      return say(turn, turn === 4 ? "Account created and welcomed; access must be requested by ticket." : "unexpected");
    });
    const wp = await waypoint(model);
    const view = await wp.start("onboarding", { hire: h }, { policy: scoped });
    const done = await wp.decide(view.threadId, { decisions: [{ type: "reject", message: "IAM changes go through a ticket" }] });
    expect(done.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 1 });
    const refused = await listAudit(wp.pool, { threadId: view.threadId, action: "scope_refused" });
    expect(refused).toEqual([expect.objectContaining({ tool: "grant_privileges", actor: "reviewer", reason: "refused iam:write: IAM changes go through a ticket" })]);
  });
});

describe("guardrails", () => {
  test("hard limit: a forbidden tool stops the run at once with the reason", async () => {
    const h = hire("hard-forbidden");
    const wp = await waypoint(recordingModel(onboardingScript(h)).model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { guards: { forbiddenTools: ["grant_privileges"] } } });
    expect(view.status).toBe("done");
    expect(view.detail).toBe("stopped by a guardrail (forbidden_tool): the model called grant_privileges, which this run may never use");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 0 });
    expect(await listAudit(wp.pool, { threadId: view.threadId, action: "guard_stopped" })).toEqual([expect.objectContaining({ actor: "guard", rule: "guards.forbidden_tool" })]);
    // Nothing dangles: the stopped call has its answer.
    const msgs = view.values.messages as BaseMessage[];
    expect(msgs.filter((m) => ToolMessage.isInstance(m) && m.tool_call_id === "call-2-grant_privileges")).toHaveLength(1);
  });

  test("soft limit: a token budget pauses the run with the numbers; continue goes on", async () => {
    const h = hire("soft-tokens");
    const script = onboardingScript(h).map((m, i) => new AIMessage({ id: m.id, content: m.content, tool_calls: m.tool_calls ?? [], usage_metadata: { input_tokens: 400 + i, output_tokens: 100 - i, total_tokens: 500 } }));
    const wp = await waypoint(recordingModel(script).model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { grant_privileges: { tier: "auto" } }, guards: { tokenBudget: 1200 } } });
    expect(view.status).toBe("interrupted");
    const req = view.pending[0]!.request!;
    expect(req.kind).toBe("guard");
    // Three turns of 500 tokens: the third (the welcome email) crosses the budget.
    expect(req.actionRequests[0]).toEqual(expect.objectContaining({ name: "guard:token_budget", args: { used: 1500, budget: 1200, since: 0 } }));
    expect(req.context.nextStep).toContain("welcome email");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "choose", option: "continue" }] });
    expect(done.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
    expect(await listAudit(wp.pool, { threadId: view.threadId, action: "guard_paused" })).toEqual([expect.objectContaining({ details: expect.objectContaining({ decision: "continue", used: 1500 }) })]);
  });

  test("soft limit: a wall-clock budget pauses a slow run; continue restarts the clock", async () => {
    const h = hire("soft-clock");
    // Each step waits 60 ms (pace), the budget is 50 ms: the first review already sees it spent.
    const wp = await waypoint(recordingModel(onboardingScript(h)).model, { paceMs: 60 });
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { grant_privileges: { tier: "auto" } }, guards: { wallClockMs: 50 } } });
    expect(view.status).toBe("interrupted");
    expect(view.pending[0]!.request!.actionRequests[0]).toEqual(expect.objectContaining({ name: "guard:wall_clock", args: expect.objectContaining({ budgetMs: 50 }) }));
    let v = await wp.decide(view.threadId, { decisions: [{ type: "choose", option: "continue" }] });
    while (v.status === "interrupted") v = await wp.decide(v.threadId, { decisions: [{ type: "choose", option: "continue" }] });
    expect(v.status).toBe("done");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  });

  test("loop: the same call proposed again and again pauses for review with the pattern; stop ends it", async () => {
    const h = hire("loop-same");
    const model = reactive((_m, turn) => toolCall(turn, "create_account", { email: h.email, name: h.name, department: h.department }));
    const wp = await waypoint(model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { guards: { maxRepeats: 3 } } });
    expect(view.status).toBe("interrupted");
    const act = view.pending[0]!.request!.actionRequests[0]!;
    expect(act.name).toBe("guard:repeated_call");
    expect(act.description).toContain(`create_account({"department":"Engineering","email":"${h.email}","name":"Ada Lovelace"}) 3 times`);
    const done = await wp.decide(view.threadId, { decisions: [{ type: "choose", option: "stop" }] });
    expect(done.status).toBe("done");
    expect(done.detail).toContain("stopped by a guardrail (repeated_call)");
    expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 0 });
  });

  test("loop: an A-B-A-B pattern pauses; respond sends guidance to the model", async () => {
    const h = hire("loop-abab");
    const a = { email: h.email, name: h.name, department: "Sales" };
    const b = { email: h.email, name: h.name, department: "Marketing" };
    let guided = false;
    const model = reactive((messages, turn) => {
      const last = lastTool(messages);
      if (last && String(last.content).includes("pick Sales")) guided = true;
      if (guided) return say(turn, "OK, Sales it is.");
      return toolCall(turn, "create_account", turn % 2 ? a : b);
    });
    const wp = await waypoint(model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { guards: { maxRepeats: 10, maxStepsWithoutProgress: 10 } } });
    expect(view.pending[0]!.request!.actionRequests[0]!.name).toBe("guard:alternation");
    expect(view.pending[0]!.request!.actionRequests[0]!.args.pattern).toHaveLength(4);
    const done = await wp.decide(view.threadId, { decisions: [{ type: "respond", message: "pick Sales and stop" }] });
    expect(done.status).toBe("done");
    expect(guided).toBe(true);
  });

  test("no progress: turns without a new successful result pause the run", async () => {
    const h = hire("loop-noprogress");
    // The grant fails every time (no account), with different arguments each time.
    const model = reactive((_m, turn) => toolCall(turn, "grant_privileges", { email: h.email, privileges: [`p${turn}:read`] }));
    const wp = await waypoint(model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { grant_privileges: { tier: "auto" } }, guards: { maxStepsWithoutProgress: 3, maxRepeats: 10 } } });
    expect(view.status).toBe("interrupted");
    expect(view.pending[0]!.request!.actionRequests[0]).toEqual(expect.objectContaining({ name: "guard:no_progress", args: expect.objectContaining({ turns: 3, limit: 3 }) }));
  });

  test("the recursion limit pauses for review instead of crashing the thread; continue starts a fresh run", async () => {
    const h = hire("recursion");
    let n = 0;
    const model = reactive((_m, turn) => (turn <= 8 ? toolCall(turn, "grant_privileges", { email: h.email, privileges: [`p${(n += 1)}:read`] }) : say(turn, "enough")));
    const wp = await waypoint(model, { recursionLimit: 14 });
    await wp.pool.query("INSERT INTO world.directory (account_ref, email, name, department, idempotency_key) VALUES ('acct-rec', $1, 'X', 'Y', 'k-rec')", [h.email]);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { grant_privileges: { tier: "auto" } }, guards: { maxRepeats: 50, maxStepsWithoutProgress: 50 } } });
    expect(view.status).toBe("interrupted");
    expect(view.pending[0]!.request!.actionRequests[0]).toEqual(expect.objectContaining({ name: "guard:recursion_limit", args: expect.objectContaining({ limit: 14 }) }));
    let v = view;
    while (v.status === "interrupted") v = await wp.decide(v.threadId, { decisions: [{ type: "choose", option: "continue" }] });
    expect(v.status).toBe("done");
    expect(Number((await wp.pool.query("SELECT count(*) AS n FROM world.grants WHERE email = $1", [h.email])).rows[0].n)).toBe(8);
  });
});

describe("audit log", () => {
  test("entries can be flagged and commented on after the fact", async () => {
    const { flagAudit, commentAudit, getAuditEntry } = await import("../src/approvals/index.js");
    const h = hire("audit-flag");
    const wp = await waypoint(recordingModel(onboardingScript(h)).model);
    const view = await wp.start("onboarding", { hire: h }, { policy: { tools: { grant_privileges: { tier: "auto" } } } });
    const [entry] = await listAudit(wp.pool, { threadId: view.threadId, action: "auto", limit: 1 });
    await flagAudit(wp.pool, entry!.id, "auditor", "prod access without review");
    await commentAudit(wp.pool, entry!.id, "lead", "fine: ticket OPS-12");
    const e = await getAuditEntry(wp.pool, entry!.id);
    expect(e.flagged).toEqual(expect.objectContaining({ by: "auditor", reason: "prod access without review" }));
    expect(e.comments).toEqual([expect.objectContaining({ author: "lead", body: "fine: ticket OPS-12" })]);
    expect((await listAudit(wp.pool, { flagged: true })).map((x) => x.id)).toEqual([entry!.id]);
    await expect(flagAudit(wp.pool, 999999, "x", "y")).rejects.toThrow(/No audit entry 999999/);
    await expect(commentAudit(wp.pool, 999999, "x", "y")).rejects.toThrow(/No audit entry 999999/);
  });
});
