// Where a project's graph files resolve their imports: from their own project, except LangGraph's
// packages, which are pinned to Waypoint's copy (see resolve-hook.mjs). Registered once per process,
// before the first graph module of a project outside Waypoint's own folder is imported.
import { register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../config.js";
import { log } from "../log.js";

let registered = false;
let typescript = false;

/**
 * Compiled Waypoint (dist/) loads a project's TypeScript graph files through tsx, registered on the
 * first one, with a hook that hands a graph importing Waypoint's sources the compiled modules running.
 * Waypoint run from its sources (tsx, Jest) already loads TypeScript: nothing to do.
 */
export async function loadTypeScript(file: string): Promise<void> {
  if (typescript || !/\.[cm]?tsx?$/.test(file) || !import.meta.url.endsWith(".js")) return;
  typescript = true;
  const { register: tsx } = await import("tsx/esm/api");
  tsx();
  const root = pathToFileURL(path.resolve(PROJECT_ROOT) + path.sep).href;
  register(new URL("./dist-hook.mjs", import.meta.url).href, { data: { src: `${root}src/`, dist: `${root}dist/` } });
}

/** Pin LangGraph's packages for graph files that live outside Waypoint's own folder. */
export function pinLangGraphFor(projectDir: string): void {
  const root = path.resolve(PROJECT_ROOT);
  if (registered || path.resolve(projectDir).startsWith(root + path.sep) || path.resolve(projectDir) === root) return;
  registered = true;
  // Resolved as if imported by a file at Waypoint's root: its node_modules, its versions.
  const parentURL = pathToFileURL(path.join(root, "package.json")).href;
  try {
    register(new URL("./resolve-hook.mjs", import.meta.url).href, { data: { parentURL: pathToFileURL(root + path.sep).href, at: parentURL } });
  } catch (e) {
    // A host that forbids loader hooks (Jest's module sandbox): the project's own copies are used.
    log.warn({ err: (e as Error).message }, "could not pin @langchain/langgraph for another project's graphs");
  }
}
