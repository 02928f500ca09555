// The CLI on a createAgent thread with humanInTheLoopMiddleware (the concierge example), in a child
// process: the progress lines carry no middleware routing noise ("set jumpTo"), the review lists the
// tool calls already done (read off the thread's messages: the middleware's request has no context),
// and `decide` offers and accepts only the decisions the pending request allows (no `respond`). A plain
// interrupt is answered with `resume --value`, checked against its response_schema.
import { randomUUID } from "node:crypto";
import path from "node:path";
import { PROJECT_ROOT } from "../src/config.js";
import { Waypoint } from "../src/runs/index.js";
import { childEnv, runCli } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let wp: Waypoint;

beforeAll(async () => {
  db = await freshDatabase("cli_decide");
  wp = await Waypoint.open({ url: db.url, poolMax: 2 });
});
afterAll(async () => {
  await wp.close();
  await db.drop();
});

const env = () => childEnv({ DATABASE_URL: db.url });

function input(tripId: string) {
  const facts = { tripId, city: "Lisbon", guest: "Ada", driver: "Ada", checkIn: "2027-03-01", pickUpOn: "2027-03-01", nights: 3, days: 3 };
  return JSON.stringify({ messages: [{ role: "user", content: `Hotel and car.\n\`\`\`json\n${JSON.stringify(facts)}\n\`\`\`` }] });
}

test("a humanInTheLoopMiddleware review in the CLI: no jumpTo noise, what is done so far, and only the allowed decisions", async () => {
  const threadId = randomUUID();
  const run = await runCli(["run", "concierge", "--thread", threadId, "--input", input("cli-trip")], env());
  expect(run.code).toBe(0);
  expect(run.stdout).toContain("is waiting for a decision");
  expect(run.stdout).not.toMatch(/jumpTo/);
  expect(run.stdout).toMatch(/model_request: proposes search_hotels/);
  expect(run.stdout).toMatch(/tools: book_hotel -> \{"hotelRef":"HT-/);
  // Done so far: the two tool calls that finished, not "nothing yet".
  expect(run.stdout).not.toContain("Done so far: nothing yet");
  expect(run.stdout).toMatch(/Done so far:\n\s+✓ search_hotels: \{"hotelId":"lis-alfama"[^\n]*\n\s+✓ book_hotel: \{"hotelRef":"HT-/);
  expect(run.stdout).toMatch(/Artifacts: hotel HT-/);
  // The decisions it allows, each with what it does and how to give it; respond is not one of them.
  const decideWith = run.stdout.slice(run.stdout.indexOf("Decide with:"));
  expect(decideWith.match(/waypoint decide \S+ (\w+)/g)?.map((l) => l.split(" ").pop())).toEqual(["approve", "edit", "reject"]);
  expect(run.stdout).toMatch(/approve\s+The action runs as proposed/);
  expect(run.stdout).not.toMatch(/respond/);

  const show = await runCli(["show", threadId], env());
  expect(show.stdout).toMatch(/Done so far:\n\s+✓ search_hotels/);
  expect(show.stdout).not.toMatch(/respond/);

  // A decision it does not allow is refused here, naming the allowed ones, and nothing is recorded.
  const decisions = async () => Number((await wp.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.runs WHERE thread_id = $1 AND kind = 'decide'", [threadId])).rows[0]?.n);
  for (const wrong of ["respond", "confirm_done", "approval"]) {
    const refused = await runCli(["decide", threadId, wrong, "--message", "x"], env());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`${wrong === "approval" ? 'Unknown decision "approval"' : `"${wrong}" is not allowed`} for the pending request on rent_car .*; it allows: approve, edit, reject\\. Decide with:`));
    expect(refused.stderr).toContain(`waypoint decide ${threadId} approve`);
    expect(refused.stderr).not.toMatch(/decide \S+ (respond|confirm_done|run_again|skip|grant_once|choose)/);
  }
  expect(await decisions()).toBe(0);
  expect((await wp.view(threadId)).status).toBe("interrupted");

  const approved = await runCli(["decide", threadId, "approve"], env());
  expect(approved.code).toBe(0);
  expect(approved.stdout).toContain("is done");
  expect(approved.stdout).not.toMatch(/jumpTo/);
  expect(approved.stdout).toMatch(/tools: rent_car -> \{"rentalRef":"CAR-/);
  expect(await decisions()).toBe(1);
});

test("a plain interrupt with a response_schema in the CLI: shown with its schema, `decide` points to --value, a wrong answer is refused naming the problem", async () => {
  const config = path.join(PROJECT_ROOT, "tests/fixtures/inbox/langgraph.json");
  const threadId = randomUUID();
  const run = await runCli(["--config", config, "run", "questions", "--thread", threadId, "--input", '{"trip":"Oslo"}'], env());
  expect(run.code).toBe(0);
  expect(run.stdout).toContain("is waiting for an answer");
  expect(run.stdout).toContain('"response_schema"');
  expect(run.stdout).toContain("the answer is checked against its response_schema");
  expect(run.stdout).toContain(`waypoint resume ${threadId} --value '<json>'`);

  const decided = await runCli(["--config", config, "decide", threadId, "approve"], env());
  expect(decided.code).toBe(2);
  expect(decided.stderr).toMatch(/not a review .*waypoint resume .* --value <json>/);

  const runs = async () => Number((await wp.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM waypoint.runs WHERE thread_id = $1", [threadId])).rows[0]?.n);
  const before = await runs();
  const wrong = await runCli(["--config", config, "resume", threadId, "--value", '{"seats":12,"window":"yes"}'], env());
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/does not match its response_schema: seats: .*window: /);
  expect(await runs()).toBe(before);

  const right = await runCli(["--config", config, "resume", threadId, "--value", '{"seats":1,"window":false}'], env());
  expect(right.code).toBe(0);
  expect(right.stdout).toMatch(/Interrupt from ask_note[\s\S]*Anything else for the driver\?/);
});
