// A Node module resolution hook for compiled Waypoint (dist/, which bin/waypoint.js runs): a graph file
// in TypeScript that imports Waypoint's own sources (../../src/..., or "waypoint", which tsconfig maps
// to src/index.ts) gets the compiled module Waypoint is running instead, so that the graph and the
// runtime share one copy of every module (the run scope, the tool registry, the configuration).
// Plain JavaScript: Node loads hooks before any TypeScript loader can help.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

let src;
let dist;

export async function initialize(data) {
  src = data?.src;
  dist = data?.dist;
}

export async function resolve(specifier, context, nextResolve) {
  const found = await nextResolve(specifier, context);
  if (!src || !dist || !found.url.startsWith(src)) return found;
  const compiled = dist + found.url.slice(src.length).replace(/\.(m?)ts$/, ".$1js");
  return existsSync(fileURLToPath(compiled)) ? { ...found, url: compiled, format: "module" } : found;
}
