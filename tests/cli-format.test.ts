// Pure pieces of the CLI's output: the decide lines a request allows, and progress lines that leave out
// createAgent's routing writes.
import { decideLines } from "../src/cli/format.js";
import { onlyRouting, summariseUpdate } from "../src/runs/execute.js";
import type { HITLRequest } from "../src/approvals/index.js";

const context = { done: [], artifacts: [], nextStep: "", decisionOutcomes: {} };

function request(kind: HITLRequest["kind"], allowed: HITLRequest["reviewConfigs"][number]["allowedDecisions"], options?: HITLRequest["reviewConfigs"][number]["options"]): HITLRequest {
  return {
    ...(kind ? { kind } : {}),
    actionRequests: [{ name: "rent_car", args: { days: 3 }, description: "Rent a car", toolCallId: "c1" }],
    reviewConfigs: [{ actionName: "rent_car", allowedDecisions: allowed, ...(options ? { options } : {}) }],
    context,
  };
}

const verbs = (lines: string[]) => lines.map((l) => l.split(" ")[3]);

test("decide lines offer exactly the decisions a request allows, in its order", () => {
  expect(verbs(decideLines(request(undefined, ["approve", "edit", "reject"]), "t"))).toEqual(["approve", "edit", "reject"]);
  expect(verbs(decideLines(request(undefined, ["approve", "reject"]), "t"))).toEqual(["approve", "reject"]);
  expect(verbs(decideLines(request(undefined, ["approve", "edit", "reject", "respond"]), "t"))).toEqual(["approve", "edit", "reject", "respond"]);
  expect(verbs(decideLines(request("in_doubt", ["confirm_done", "run_again", "skip"]), "t"))).toEqual(["confirm_done", "run_again", "skip"]);
  expect(verbs(decideLines(request("scope", ["grant_once", "grant_for_run", "reject"]), "t"))).toEqual(["grant_once", "grant_for_run", "reject"]);
  const guard = decideLines(request("guard", ["choose", "respond"], [{ id: "continue", description: "go on" }, { id: "stop", description: "stop" }]), "t");
  expect(guard).toEqual(["waypoint decide t choose --option continue", "waypoint decide t choose --option stop", 'waypoint decide t respond --message "guidance for the agent"']);
  expect(decideLines(request(undefined, ["edit"]), "t")).toEqual([`waypoint decide t edit --args '{"days":3}'`]);
});

test("progress: createAgent's jumpTo routing is not news; real updates are summarised without it", () => {
  expect(onlyRouting({ jumpTo: "tools" })).toBe(true);
  expect(onlyRouting({ jumpTo: undefined })).toBe(true);
  expect(onlyRouting({})).toBe(false);
  expect(onlyRouting(null)).toBe(false);
  expect(onlyRouting({ jumpTo: "tools", plan: [1] })).toBe(false);
  expect(summariseUpdate({ jumpTo: "tools", plan: [1] })).toBe("set plan");
});
