// The house rules of src/, checked on the sources: the runtime knows no agent (nothing in src/ imports
// graphs/), process.env is read in src/config.ts alone, one concern per folder with one entry file (a
// folder is used from outside through its index.ts), and the folders of src/ import each other without
// a cycle (value imports; `import type` is erased and may go either way).
import fs from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../src/config.js";

const SRC = path.join(PROJECT_ROOT, "src");

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|mjs)$/.test(e.name) ? [p] : [];
  });
}

/** Relative value imports of a file (static, re-exports and dynamic), resolved to paths. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?"(\.[^"]+)"/gm)) if (!m[1]) found.push(m[2]!);
  for (const m of text.matchAll(/import\("(\.[^"]+)"\)/g)) found.push(m[1]!);
  return found.map((spec) => path.resolve(path.dirname(file), spec));
}

const folderOf = (file: string) => path.relative(SRC, file).split(path.sep)[0]!.replace(/\.(ts|js|mjs)$/, "");

test("nothing in src/ imports graphs/ (graphs are data the registry loads)", () => {
  const offenders = sources(SRC).flatMap((f) => imports(f).filter((t) => !path.relative(PROJECT_ROOT, t).startsWith("src")).map((t) => `${path.relative(PROJECT_ROOT, f)} -> ${path.relative(PROJECT_ROOT, t)}`));
  expect(offenders).toEqual([]);
});

test("process.env is read in src/config.ts only", () => {
  const offenders = sources(SRC)
    .filter((f) => f !== path.join(SRC, "config.ts"))
    .filter((f) => /process\.env\b/.test(fs.readFileSync(f, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "")))
    .map((f) => path.relative(PROJECT_ROOT, f));
  expect(offenders).toEqual([]);
});

test("a folder of src/ is used from outside through its entry file (index.ts) only", () => {
  const offenders = sources(SRC).flatMap((f) =>
    imports(f)
      .filter((t) => folderOf(t) !== folderOf(f) && fs.existsSync(path.join(SRC, folderOf(t))) && fs.statSync(path.join(SRC, folderOf(t))).isDirectory())
      .filter((t) => path.basename(t) !== "index.js")
      .map((t) => `${path.relative(PROJECT_ROOT, f)} -> ${path.relative(PROJECT_ROOT, t)}`),
  );
  expect(offenders).toEqual([]);
});

test("the folders of src/ import each other without a cycle", () => {
  const edges = new Map<string, Set<string>>();
  for (const f of sources(SRC)) {
    const from = folderOf(f);
    for (const t of imports(f)) {
      const to = folderOf(t);
      if (to !== from) (edges.get(from) ?? edges.set(from, new Set()).get(from)!).add(to);
    }
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (n: string, trail: string[]) => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "open") {
      cycles.push([...trail.slice(trail.indexOf(n)), n].join(" -> "));
      return;
    }
    state.set(n, "open");
    for (const m of edges.get(n) ?? []) visit(m, [...trail, n]);
    state.set(n, "done");
  };
  for (const n of edges.keys()) visit(n, []);
  expect(cycles).toEqual([]);
  expect(edges.size).toBeGreaterThan(5); // the scan found the imports
});
