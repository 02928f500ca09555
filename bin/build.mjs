// `npm run build` (run by npm install through "prepare"): src/ to dist/ as ESM JavaScript, one file per
// module, for projects that import "waypoint" (types come from src/ itself, see package.json "exports").
// The `waypoint` bin runs dist/ too (much faster to start than tsx compiling src/ each time); Jest
// runs src/ directly.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) files.push(p);
  }
};
walk(join(root, "src"));
rmSync(join(root, "dist"), { recursive: true, force: true });
await build({ entryPoints: files, outdir: join(root, "dist"), outbase: join(root, "src"), format: "esm", platform: "node", target: "node20", sourcemap: true, logLevel: "warning" });
mkdirSync(join(root, "dist/registry"), { recursive: true });
for (const hook of ["resolve-hook.mjs", "dist-hook.mjs"]) copyFileSync(join(root, "src/registry", hook), join(root, "dist/registry", hook));
// bin/waypoint.js runs dist/ only while this stamp is at least as new as every file in src/.
writeFileSync(join(root, "dist/.built"), `${new Date().toISOString()}\n`);
