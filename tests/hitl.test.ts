// Decision validation against a HITL request and the tool's schema (pure logic).
import { buildReviewRequest, validateResponse } from "../src/approvals/index.js";
import { ONBOARDING_TOOLS } from "../graphs/onboarding/tools.js";

const request = buildReviewRequest([], [{ id: "c1", name: "grant_privileges", args: { email: "a@acme.test", privileges: ["vpn"] }, type: "tool_call" }], ONBOARDING_TOOLS);

test("a request names the action, its allowed decisions and its argument schema", () => {
  expect(request.actionRequests).toEqual([{ name: "grant_privileges", args: { email: "a@acme.test", privileges: ["vpn"] }, description: "Grant vpn to a@acme.test", toolCallId: "c1" }]);
  expect(request.reviewConfigs[0]?.allowedDecisions).toEqual(["approve", "edit", "reject", "respond"]);
  expect(request.reviewConfigs[0]?.argsSchema).toEqual(expect.objectContaining({ required: ["email", "privileges"] }));
  expect(request.context.nextStep).toBe("Grant vpn to a@acme.test");
});

test("each decision type is accepted in its valid form", () => {
  expect(validateResponse(request, { decisions: [{ type: "approve" }] }, ONBOARDING_TOOLS)).toEqual([{ type: "approve" }]);
  expect(validateResponse(request, { decisions: [{ type: "reject" }] }, ONBOARDING_TOOLS)).toEqual([{ type: "reject" }]);
  expect(validateResponse(request, { decisions: [{ type: "respond", message: "no" }] }, ONBOARDING_TOOLS)).toEqual([{ type: "respond", message: "no" }]);
  const edit = { type: "edit", editedAction: { name: "grant_privileges", args: { email: "b@acme.test", privileges: ["wiki"] } } };
  expect(validateResponse(request, { decisions: [edit] }, ONBOARDING_TOOLS)).toEqual([edit]);
});

test.each([
  [{ decisions: [] }, /Expected 1 decision/],
  [{ decisions: [{ type: "approve", extra: 1 }] }, /Malformed decision/],
  [[{ type: "approve" }], /Malformed decision/],
  [{ decisions: [{ type: "edit", editedAction: { name: "grant_privileges", args: { email: "b@acme.test" } } }] }, /privileges: /],
  [{ decisions: [{ type: "respond", message: "" }] }, /message/],
])("refuses %j", (response, message) => {
  expect(() => validateResponse(request, response, ONBOARDING_TOOLS)).toThrow(message);
});

test("a decision type the review does not allow is refused", () => {
  const strict = { ...request, reviewConfigs: [{ actionName: "grant_privileges", allowedDecisions: ["approve" as const, "reject" as const] }] };
  expect(() => validateResponse(strict, { decisions: [{ type: "respond", message: "x" }] }, ONBOARDING_TOOLS)).toThrow(/"respond" is not allowed here; allowed: approve, reject/);
});
