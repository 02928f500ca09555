// Chaos benchmark: many onboarding, travel and concierge (createAgent) threads through the real CLI, with world faults injected
// and child processes SIGKILLed at random moments, then SQL proves every side effect exists exactly
// once, no tool call dangles and every thread finished. Exits 1 when an invariant is violated.
// Usage: npm run chaos [-- --runs 200 --kills 100 --concurrency 4 --seed 1 --pace 40]
//        (DATABASE_URL, or embedded Postgres when unset; a scratch database is created and dropped)
import { parseArgs } from "node:util";
import { withScratchDatabase } from "./support.js";
import { chaosViolations, formatChaosReport, runChaos } from "../tests/support/chaos.js";
import { childEnv, runCli } from "../tests/support/cli.js";

/** Command-line options, with the defaults of the full run. */
function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "200" },
      kills: { type: "string", default: "100" },
      concurrency: { type: "string", default: "4" },
      seed: { type: "string", default: "1" },
      pace: { type: "string", default: "40" },
      faults: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  const int = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got "${raw}"`);
    return n;
  };
  return {
    runs: int("runs", values.runs),
    kills: int("kills", values.kills),
    concurrency: Math.max(1, int("concurrency", values.concurrency)),
    seed: int("seed", values.seed),
    pace: int("pace", values.pace),
    faults: values.faults,
    quiet: values.quiet,
  };
}

async function main(): Promise<number> {
  const o = options();
  return withScratchDatabase("chaos", async ({ url, name }) => {
    // Create the schema once, so the children do not all race on first setup.
    const setup = await runCli(["threads"], childEnv({ DATABASE_URL: url }));
    if (setup.code !== 0) throw new Error(`schema setup failed (exit ${setup.code}):\n${setup.stderr}`);
    console.log(`Chaos: ${o.runs} runs, at least ${o.kills} SIGKILLs, ${o.concurrency} children at once, pace ${o.pace} ms, seed ${o.seed}, database ${name}`);
    const report = await runChaos({
      databaseUrl: url,
      runs: o.runs,
      minKills: o.kills,
      concurrency: o.concurrency,
      paceMs: o.pace,
      seed: o.seed,
      ...(o.faults ? { faults: o.faults } : {}),
      onEvent: (line) => {
        if (!o.quiet && line.startsWith("thread ")) console.log(line);
      },
    });
    console.log(`\n${formatChaosReport(report)}\n`);
    const violations = chaosViolations(report, { minKills: o.kills });
    console.log(violations.length ? `FAILED: ${violations.join("; ")}` : "All invariants held: every side effect exactly once, nothing dangling, every thread finished.");
    return violations.length ? 1 : 0;
  });
}

process.exitCode = await main();
