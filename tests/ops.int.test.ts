// The ops agent end to end under its built-in oversight policy: the sample request with the offline
// planner (scopes granted, an external email reviewed), every tier on payments (auto, review, deny),
// the spend limit as a hard stop, and destructive SQL sent to review. Exactly once by counting rows.
import { AIMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { OPS_SAMPLE_INPUT } from "../graphs/ops/state.js";
import { listAudit } from "../src/approvals/index.js";
import { offlinePlannerModel, ScriptedChatModel } from "../src/models/index.js";
import { Waypoint, type ThreadView } from "../src/runs/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
const open: Waypoint[] = [];

beforeAll(async () => {
  db = await freshDatabase("ops");
});
// Each test's Waypoint (and its connections) goes away with the test: the suite stays well under the
// server's connection limit however many tests it has.
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});
afterAll(async () => {
  await db.drop();
});

async function waypoint(model: ScriptedChatModel) {
  const wp = await Waypoint.open({ url: db.url, model, poolMax: 4, fallbackModel: null, modelRetry: { maxAttempts: 1 } });
  open.push(wp);
  return wp;
}

const count = async (wp: Waypoint, sql: string, args: unknown[] = []) => Number((await wp.pool.query<{ n: string }>(sql, args)).rows[0]?.n ?? 0);

/** A model that plays `turns` in order, each a list of [tool, args], then says it is done. */
function plays(turns: Array<Array<[string, Record<string, unknown>]>>) {
  let turn = 0;
  const seen: BaseMessage[][] = [];
  const model = new ScriptedChatModel({
    label: "ops-test-model",
    respond: (messages) => {
      seen.push(messages);
      const calls = turns[turn];
      turn += 1;
      if (!calls) return new AIMessage({ id: `ai-${turn}`, content: "Done." });
      return new AIMessage({ id: `ai-${turn}`, content: "", tool_calls: calls.map(([name, args], i) => ({ id: `call-${turn}-${i}-${name}`, name, args, type: "tool_call" as const })) });
    },
  });
  return { model, seen };
}

describe("ops agent", () => {
  test("the sample request: reads run on their own, writing and paying ask for their scopes, the external email for review", async () => {
    const wp = await waypoint(offlinePlannerModel());
    let view: ThreadView = await wp.start("ops", OPS_SAMPLE_INPUT);
    const asked: string[] = [];
    while (view.status === "interrupted") {
      const req = view.pending[0]!.request!;
      asked.push(`${req.kind ?? "review"}:${req.actionRequests.map((a) => a.name).join(",")}`);
      const decision = req.kind === "scope" ? { type: "grant_for_run" } : { type: "approve" };
      view = await wp.decide(view.threadId, { decisions: req.actionRequests.map(() => decision) });
    }
    expect(view.status).toBe("done");
    expect(asked).toEqual(["scope:run_sql", "scope:make_payment", "review:send_email"]);
    expect(await count(wp, "SELECT count(*) AS n FROM world.payments WHERE invoice_id = 'INV-1003'")).toBe(1);
    expect(await count(wp, "SELECT count(*) AS n FROM world.sql_changes")).toBe(1);
    expect(await count(wp, "SELECT count(*) AS n FROM world.outbox WHERE recipient = 'ap@northwind.example'")).toBe(1);
    expect((await wp.pool.query("SELECT email FROM world.vendors WHERE vendor_id = 'V-200'")).rows[0].email).toBe("ap@northwind.example");
    const audit = await listAudit(wp.pool, { threadId: view.threadId, limit: 100 });
    expect(audit.filter((e) => e.action === "auto").map((e) => e.tool).sort()).toEqual(["list_invoices", "list_vendors", "make_payment", "query_world", "run_sql"]);
    expect(audit.filter((e) => e.action === "scope_granted").map((e) => e.tool).sort()).toEqual(["make_payment", "run_sql"]);
  });

  test("payments exercise every tier: small auto, over 1,000 reviewed, over 10,000 denied", async () => {
    const { model, seen } = plays([
      [
        ["make_payment", { invoiceId: "INV-1001", amount: 42.5, currency: "EUR", memo: "facilities" }],
        ["make_payment", { invoiceId: "INV-1004", amount: 2450, currency: "EUR", memo: "cloud" }],
        ["make_payment", { invoiceId: "INV-1006", amount: 11980, currency: "EUR", memo: "consulting" }],
      ],
    ]);
    const wp = await waypoint(model);
    const view = await wp.start("ops", { request: { text: "pay the open invoices" } }, { policy: { scopes: ["db:read", "payments"] } });
    // The denial is answered at once; the large payment waits for a human.
    expect(view.status).toBe("interrupted");
    expect(view.pending[0]!.request!.actionRequests.map((a) => a.args.invoiceId)).toEqual(["INV-1004"]);
    expect(view.pending[0]!.request!.actionRequests[0]!.description).toContain("payments over 1,000 need a second pair of eyes (amount 2450 > 1000)");
    const done = await wp.decide(view.threadId, { decisions: [{ type: "approve" }] });
    expect(done.status).toBe("done");
    expect((await wp.pool.query("SELECT invoice_id FROM world.payments WHERE invoice_id IN ('INV-1001', 'INV-1004', 'INV-1006') ORDER BY invoice_id")).rows.map((r) => r.invoice_id)).toEqual(["INV-1001", "INV-1004"]);
    const denied = seen.at(-1)!.find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.tool_call_id === "call-1-2-make_payment");
    expect(String(denied?.content)).toContain("Denied by policy: payments over 10,000 need the finance system (amount 11980 > 10000)");
    const audit = await listAudit(wp.pool, { threadId: view.threadId });
    expect(audit.map((e) => `${e.action}:${e.args?.invoiceId}`).sort()).toEqual(["auto:INV-1001", "deny:INV-1006", "review:INV-1004"]);
  });

  test("the spend limit is a hard stop: the call that would pass it never runs", async () => {
    const { model } = plays([
      [["make_payment", { invoiceId: "INV-1002", amount: 380, currency: "EUR", memo: "it" }]],
      [["make_payment", { invoiceId: "INV-1009", amount: 95, currency: "EUR", memo: "umbrella" }]],
    ]);
    const wp = await waypoint(model);
    const view = await wp.start("ops", { request: { text: "pay" } }, { policy: { scopes: ["db:read", "payments"], guards: { spendLimit: { limit: 400, arg: "amount", tools: ["make_payment"] } } } });
    expect(view.status).toBe("done");
    expect(view.detail).toBe("stopped by a guardrail (spend_limit): spending 95 more would bring this run's total to 475, over its limit of 400 (already spent 380)");
    expect((await wp.pool.query("SELECT invoice_id FROM world.payments WHERE invoice_id IN ('INV-1002', 'INV-1009')")).rows.map((r) => r.invoice_id)).toEqual(["INV-1002"]);
  });

  test("destructive SQL goes to review; permission changes are denied; a reject reaches the model", async () => {
    const { model, seen } = plays([
      [
        ["run_sql", { sql: "DELETE FROM invoices WHERE status = 'paid'", confidence: 0.95 }],
        ["run_sql", { sql: "GRANT SELECT ON payments TO public", confidence: 0.95 }],
      ],
    ]);
    const wp = await waypoint(model);
    const view = await wp.start("ops", { request: { text: "clean up" } }, { policy: { scopes: ["db:read", "db:write"] } });
    expect(view.pending[0]!.request!.actionRequests.map((a) => a.args.sql)).toEqual(["DELETE FROM invoices WHERE status = 'paid'"]);
    const done = await wp.decide(view.threadId, { decisions: [{ type: "reject", message: "we keep paid invoices for seven years" }] });
    expect(done.status).toBe("done");
    expect(await count(wp, "SELECT count(*) AS n FROM world.invoices WHERE status = 'paid'")).toBeGreaterThan(0);
    const answers = seen.at(-1)!.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => String(m.content));
    expect(answers).toEqual(expect.arrayContaining([expect.stringContaining("Denied by policy: permissions are not changed"), expect.stringContaining("we keep paid invoices for seven years")]));
  });
});
