// Pure helpers: memory label encoding, the offline planner, configuration parsing, ledger keys.
import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { ConfigError, loadConfig } from "../src/config.js";
import { decodeLabel, encodeLabel, userNamespace } from "../src/memory/index.js";
import { planNextStep } from "../src/models/index.js";
import { graphNamespace, idempotencyKeyFor, stableNamespace } from "../src/tools/index.js";
import { ONBOARDING_TOOLS } from "../graphs/onboarding/tools.js";

const specs = ONBOARDING_TOOLS.map((t) => ({ name: t.name, description: t.description, parameters: t.jsonSchema }));

describe("memory namespaces", () => {
  test.each(["m.lee@acme.test", "user_1", "a:b", "50%", "back\\slash", "ünï"])("%s round-trips and is a safe label", (raw) => {
    const label = encodeLabel(raw);
    expect(label).toMatch(/^[A-Za-z0-9@+~-]+$/);
    expect(decodeLabel(label)).toBe(raw);
  });
  test("u1 and u10 cannot collide; empty ids are refused", () => {
    expect(userNamespace("u1", "preferences")).not.toEqual(userNamespace("u10", "preferences"));
    expect(() => encodeLabel("")).toThrow(/cannot be empty/);
  });
});

describe("offline planner", () => {
  const facts = new HumanMessage('Onboard.\n```json\n{"email":"a@acme.test","name":"A","department":"Ops","privileges":["vpn"],"tone":"formal"}\n```');
  test("calls the bound tools in order with arguments from the facts", () => {
    const first = planNextStep([facts], specs);
    expect(first.tool_calls?.[0]).toEqual(expect.objectContaining({ name: "create_account", args: { email: "a@acme.test", name: "A", department: "Ops" } }));
    const answered = new ToolMessage({ tool_call_id: first.tool_calls?.[0]?.id ?? "", name: "create_account", content: '{"accountRef":"acct-1"}' });
    const second = planNextStep([facts, first, answered], specs);
    expect(second.tool_calls?.[0]).toEqual(expect.objectContaining({ name: "grant_privileges", args: { email: "a@acme.test", privileges: ["vpn"] } }));
  });
  test("summarises when every tool has an answer, reporting refusals", () => {
    const msgs: BaseMessage[] = [facts];
    for (const t of specs) {
      const ai = new AIMessage({ content: "", tool_calls: [{ id: `c-${t.name}`, name: t.name, args: {}, type: "tool_call" }] });
      msgs.push(ai, new ToolMessage({ tool_call_id: `c-${t.name}`, name: t.name, content: t.name === "grant_privileges" ? "Rejected by reviewer: no" : "{}", status: t.name === "grant_privileges" ? "error" : "success" }));
    }
    const last = planNextStep(msgs, specs);
    expect(last.tool_calls ?? []).toEqual([]);
    expect(last.content).toContain("grant_privileges: not done (Rejected by reviewer: no)");
  });
  test("never invents a missing required argument", () => {
    const reply = planNextStep([new HumanMessage("no facts")], specs);
    expect(reply.tool_calls ?? []).toEqual([]);
    expect(reply.content).toContain('required argument "email"');
  });
});

describe("configuration", () => {
  test("defaults", () => {
    const c = loadConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.embeddedPort).toBe(54329);
    expect(c.openai.model).toBe("gpt-4o-mini");
  });
  test("bad values are named", () => {
    expect(() => loadConfig({ WAYPOINT_PG_PORT: "nope", LOG_LEVEL: "loud" })).toThrow(ConfigError);
    expect(() => loadConfig({ WAYPOINT_PG_PORT: "nope" })).toThrow(/WAYPOINT_PG_PORT/);
  });
  test("a halt point (crash tests) is off unless set, and names a point, a detail and an occurrence", () => {
    expect(loadConfig({}).haltAt).toBeUndefined();
    expect(loadConfig({ WAYPOINT_HALT_AT: "saver.grouped" }).haltAt).toEqual({ point: "saver.grouped", occurrence: 1 });
    expect(loadConfig({ WAYPOINT_HALT_AT: "tools.after:create_account+send_welcome_email#2" }).haltAt).toEqual({ point: "tools.after:create_account+send_welcome_email", occurrence: 2 });
    expect(() => loadConfig({ WAYPOINT_HALT_AT: "tools.after#0" })).toThrow(/WAYPOINT_HALT_AT/);
    expect(() => loadConfig({ WAYPOINT_HALT_AT: "tools" })).toThrow(/WAYPOINT_HALT_AT/);
  });
});

describe("ledger keys", () => {
  test("the idempotency key is stable and distinct per call; namespaces drop task ids", () => {
    const k = { threadId: "t", checkpointNs: "", toolCallId: "c1" };
    expect(idempotencyKeyFor(k)).toBe(idempotencyKeyFor({ ...k }));
    expect(idempotencyKeyFor(k)).not.toBe(idempotencyKeyFor({ ...k, toolCallId: "c2" }));
    expect(stableNamespace("provisioning:1234|inner:5678")).toBe("provisioning|inner");
    expect(graphNamespace("tools:5678")).toBe("");
    expect(graphNamespace("provisioning:1234|tools:5678")).toBe("provisioning");
  });
});
