// `npm start` with no DATABASE_URL: Waypoint brings up embedded Postgres in its data folder, runs the
// demo to the review, and stops the server when it exits; a SIGKILLed run's orphaned server is adopted
// by the next command instead of breaking it.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { childEnv, runCli, startCli } from "./support/cli.js";
import { freePort } from "./support/db.js";

let dir: string;
let env: NodeJS.ProcessEnv;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "waypoint-embedded-"));
  fs.chmodSync(dir, 0o755);
  const port = String(await freePort());
  env = childEnv({ DATABASE_URL: undefined, WAYPOINT_DATA_DIR: path.join(dir, "pgdata"), WAYPOINT_PG_PORT: port });
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const SAMPLE = JSON.stringify({ hire: { name: "Ada Lovelace", email: "ada.embedded@acme.test", department: "Engineering", manager: "grace@acme.test", privileges: ["github:write"] } });

test("without DATABASE_URL: embedded Postgres comes up, the thread stops at the review, the server stops on exit", async () => {
  const r = await runCli(["run", "onboarding", "--input", SAMPLE], env);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("database: embedded Postgres in");
  expect(r.stdout).toContain("model: waypoint-offline-planner");
  expect(r.stdout).toContain("Review requested");
  expect(r.stdout).toMatch(/waypoint decide [0-9a-f-]{36} approve/);
  expect(fs.existsSync(path.join(dir, "pgdata", "PG_VERSION"))).toBe(true);
  expect(await portOpen(Number(env.WAYPOINT_PG_PORT))).toBe(false);

  // The thread waited in the embedded database; deciding on it later (a new process) finishes it.
  const threadId = /decide ([0-9a-f-]{36}) approve/.exec(r.stdout)?.[1] as string;
  const decided = await runCli(["decide", threadId, "approve"], env);
  expect(decided.code).toBe(0);
  expect(decided.stdout).toContain("is done");
  expect(await portOpen(Number(env.WAYPOINT_PG_PORT))).toBe(false);
});

test("a SIGKILLed process leaves the server running; the next command adopts it and stops it", async () => {
  const child = startCli(["--pace", "2000", "run", "onboarding", "--input", SAMPLE.replace("ada.embedded", "ada.killed")], env);
  await child.waitFor("agent: proposes create_account");
  child.child.kill("SIGKILL");
  await child.done;
  // The orphan still holds the port and postmaster.pid.
  expect(await portOpen(Number(env.WAYPOINT_PG_PORT))).toBe(true);
  expect(fs.existsSync(path.join(dir, "pgdata", "postmaster.pid"))).toBe(true);

  const listed = await runCli(["threads"], env);
  expect(listed.code).toBe(0);
  expect(listed.stdout).toMatch(/onboarding\s+error\s+.*died.*waypoint resume/);
  expect(await portOpen(Number(env.WAYPOINT_PG_PORT))).toBe(false);
  expect(fs.existsSync(path.join(dir, "pgdata", "postmaster.pid"))).toBe(false);
});
