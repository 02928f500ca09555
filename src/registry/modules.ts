// Where a project's graph files resolve their imports: from their own project, except LangGraph's
// packages, which are pinned to Waypoint's copy (see resolve-hook.mjs). Registered once per process,
// before the first graph module of a project outside Waypoint's own folder is imported.
import { register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../config.js";
import { log } from "../log.js";

let registered = false;

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
