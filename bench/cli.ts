// Start-up time of the `waypoint` CLI: `waypoint threads` and `waypoint --help`, each run 10 times as a
// fresh process, through the compiled bin (dist/, what `npx waypoint` and `npm run waypoint` run) and
// through tsx compiling src/ at start (what every call cost before the bin shipped JavaScript).
// Run: npm run bench:cli   (DATABASE_URL or embedded Postgres; works in a scratch database)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { PROJECT_ROOT } from "../src/config.js";
import { summarise, withScratchDatabase } from "./support.js";

const RUNS = 10;
const BIN = path.join(PROJECT_ROOT, "bin", "waypoint.js");
const TSX = path.join(PROJECT_ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const MAIN = path.join(PROJECT_ROOT, "src", "cli", "main.ts");

if (!existsSync(path.join(PROJECT_ROOT, "dist", ".built"))) {
  console.error("dist/ is not built: run `npm run build` first (npm install does it)");
  process.exit(2);
}

function time(args: string[], env: NodeJS.ProcessEnv): number[] {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    out.push(performance.now() - t);
  }
  return out;
}

await withScratchDatabase("cli", async (db) => {
  const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "silent" };
  spawnSync(process.execPath, [BIN, "threads"], { env }); // migrations, once
  const rows: Array<[string, string, number[]]> = [];
  for (const cmd of [["threads"], ["--help"]]) {
    rows.push([`waypoint ${cmd.join(" ")}`, "tsx src/ (before)", time([TSX, MAIN, ...cmd], env)]);
    rows.push([`waypoint ${cmd.join(" ")}`, "bin -> dist/ (now)", time([BIN, ...cmd], env)]);
  }
  console.log(`\nCLI start-up, ${RUNS} fresh processes each (ms, wall clock, including Node's own start)\n`);
  console.log("command          | how                | median | p95    | min    | vs before");
  console.log("-----------------|--------------------|--------|--------|--------|----------");
  for (let i = 0; i < rows.length; i++) {
    const [cmd, how, xs] = rows[i]!;
    const s = summarise(xs);
    const before = summarise(rows[i - (i % 2)]![2]).median;
    console.log(`${cmd.padEnd(16)} | ${how.padEnd(18)} | ${s.median.toFixed(0).padStart(6)} | ${s.p95.toFixed(0).padStart(6)} | ${s.min.toFixed(0).padStart(6)} | ${(s.median / before).toFixed(2)}x`);
  }
});
