// Chaos test, small: onboarding, travel and concierge (createAgent + durable() tools) threads through the real CLI with world faults injected and
// child processes SIGKILLed at random moments (tests/support/chaos.ts drives them like a person would).
// Every side effect must exist exactly once, no tool call may dangle, every thread must finish.
// The full version is `npm run chaos` (200 runs, 100 kills).
import { formatChaosReport, INTENTS_PER_THREAD, runChaos, threadsPerAgent, type ChaosReport } from "./support/chaos.js";
import { childEnv, runCli } from "./support/cli.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

const RUNS = 10;
const MIN_KILLS = 6;

let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase("chaos");
  // Create the schema once, so that children do not race on first setup.
  const r = await runCli(["threads"], childEnv({ DATABASE_URL: db.url }));
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await db.drop();
});

test(
  `${RUNS} threads, at least ${MIN_KILLS} SIGKILLs and injected faults: every side effect exactly once`,
  async () => {
    const report: ChaosReport = await runChaos({ databaseUrl: db.url, runs: RUNS, minKills: MIN_KILLS, concurrency: 3, seed: 42 });
    console.log(formatChaosReport(report));

    expect(report.killsSent).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(report.completed).toBe(RUNS);
    // Onboarding: account, welcome email, two grants; travel: flight, hotel, car; concierge: hotel, car.
    const perAgent = threadsPerAgent(RUNS);
    expect(perAgent.concierge).toBeGreaterThan(0);
    expect(report.intents.checked).toBe(Object.entries(perAgent).reduce((n, [agent, threads]) => n + threads * INTENTS_PER_THREAD[agent as keyof typeof perAgent], 0));
    expect(report.byAgent.concierge).toMatchObject({ runs: perAgent.concierge, completed: perAgent.concierge, intents: perAgent.concierge * 2, violations: 0 });
    expect(report.intents.violations).toEqual([]);
    expect([report.intents.min, report.intents.max]).toEqual([1, 1]);
    expect(report.dangling).toEqual([]);
    expect(report.falseDone).toEqual([]);
    expect(report.unresumable).toEqual([]);
    expect(report.ledger.open).toEqual([]);
  },
  15 * 60_000,
);
