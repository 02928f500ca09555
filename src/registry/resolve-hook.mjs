// A Node module resolution hook (registered by src/registry/modules.ts before a project's graphs load):
// a graph file of another project resolves its own packages from its own node_modules, except
// LangGraph's, which resolve to the copy Waypoint runs with, so that the graph, its checkpointer and
// Waypoint's runtime share one @langchain/langgraph (its classes, its run context, its RunControl).
// Plain JavaScript: Node loads hooks before any TypeScript loader can help.
const PINNED = [/^@langchain\/langgraph(\/.*)?$/, /^@langchain\/langgraph-checkpoint(\/.*)?$/, /^@langchain\/core(\/.*)?$/];

let waypointURL;

let resolveFrom;

export async function initialize(data) {
  // Files under waypointURL are Waypoint's own; pinned packages resolve as if `resolveFrom` imported them.
  waypointURL = data?.parentURL;
  resolveFrom = data?.at;
}

export async function resolve(specifier, context, nextResolve) {
  if (waypointURL && context.parentURL && !context.parentURL.startsWith(waypointURL) && PINNED.some((p) => p.test(specifier))) {
    try {
      return await nextResolve(specifier, { ...context, parentURL: resolveFrom });
    } catch {
      // Waypoint does not have it (a sub-path it lacks): the project's own copy, as written.
    }
  }
  return nextResolve(specifier, context);
}
