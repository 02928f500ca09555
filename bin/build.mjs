// `npm run build` (run by npm install through "prepare"): src/ to dist/ as ESM JavaScript, one file per
// module, for projects that import "waypoint" (types come from src/ itself, see package.json "exports").
// Inside this repository tsx and Jest run src/ directly; nothing here needs dist/.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
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
copyFileSync(join(root, "src/registry/resolve-hook.mjs"), join(root, "dist/registry/resolve-hook.mjs"));
