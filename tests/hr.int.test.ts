// The nested HR agent: the provisioning sub-agent's review surfaces on the parent thread, and one
// resume on the parent completes both.
import { Waypoint } from "../src/runs/index.js";
import { HIRE, recordingModel, say, toolCall, worldCounts } from "./support/agents.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint | undefined;

beforeAll(async () => {
  db = await freshDatabase("hr");
});
afterAll(async () => {
  await wp?.close();
  await db.drop();
});

test("sub-agent interrupt surfaces on the parent; one resume restores parent and child", async () => {
  const h = { ...HIRE, email: "nested@acme.test" };
  const rec = recordingModel([
    // provisioning sub-agent
    toolCall(1, "create_account", { email: h.email, name: h.name, department: h.department }),
    toolCall(2, "grant_privileges", { email: h.email, privileges: h.privileges }),
    say(3, "Provisioned."),
    // HR agent itself
    toolCall(4, "send_welcome_email", { email: h.email, name: h.name, tone: "casual" }),
    say(5, "Welcome sent."),
  ]);
  wp = await Waypoint.open({ url: db.url, model: rec.model, poolMax: 4 });
  const paused = await wp.start("hr", { hire: h });

  expect(paused.status).toBe("interrupted");
  expect(paused.next).toEqual(["provisioning"]);
  expect(paused.pending).toHaveLength(1);
  expect(paused.pending[0]).toEqual(expect.objectContaining({ namespace: "provisioning", node: "review" }));
  expect(paused.pending[0]!.request!.actionRequests[0]!.name).toBe("grant_privileges");
  expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 0, emails: 0 });

  const done = await wp.decide(paused.threadId, { decisions: [{ type: "approve" }] });
  expect(done.status).toBe("done");
  expect(done.next).toEqual([]);
  expect(rec.calls).toHaveLength(5);
  expect(await worldCounts(wp.pool, h.email)).toEqual({ accounts: 1, grants: 2, emails: 1 });
  // The sub-agent's work is in the parent's state.
  const toolNames = (done.values.messages as Array<{ name?: string; getType(): string }>).filter((m) => m.getType() === "tool").map((m) => m.name);
  expect(toolNames).toEqual(["create_account", "grant_privileges", "send_welcome_email"]);
});
