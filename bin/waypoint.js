#!/usr/bin/env node
// `waypoint` (npx waypoint, npm run waypoint, npm start): the compiled CLI in dist/ (built by `npm
// install` through "prepare", or `npm run build`) when it is at least as new as every file in src/;
// otherwise the TypeScript sources through tsx, so an edit in src/ is never run stale.
import { existsSync, readdirSync, statSync } from "node:fs";

const root = new URL("..", import.meta.url);
const newest = (dir) => {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = new URL(e.name + (e.isDirectory() ? "/" : ""), dir);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
};
const stamp = new URL("dist/.built", root);
if (existsSync(stamp) && statSync(stamp).mtimeMs >= newest(new URL("src/", root))) {
  await import(new URL("dist/cli/main.js", root).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("src/cli/main.ts", root).href);
}
