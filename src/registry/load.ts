// Loading the graphs a langgraph.json lists, as `langgraph dev` accepts them: a compiled graph, an
// uncompiled StateGraph (compiled here), or a function of the run config returning either (called per
// run). A LangChain v1 `createAgent` agent is unwrapped to the compiled graph inside it. Each graph
// gets a version threads pin: the one it declares (describeGraph, or a module export VERSION), or one
// derived from its structure (nodes, edges, channels), so a changed graph never resumes old threads.
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { LangGraphRunnableConfig, Pregel } from "@langchain/langgraph";
import { loadTypeScript } from "./modules.js";
import { graphInfoOf, type GraphInfo } from "./info.js";
import { splitSpec, type ProjectConfig } from "./project.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyGraph = Pregel<any, any, any, any, any>;

export type GraphKind = "compiled" | "builder" | "factory";

export interface LoadedGraph {
  /** The id in langgraph.json (the graph_id of the API). */
  id: string;
  /** Absolute path of its module, and the export it comes from. */
  file: string;
  exportName: string;
  kind: GraphKind;
  /** The version its threads pin: declared by the graph, or derived from its structure ("s-<hash>"). */
  version: string;
  versionSource: "declared" | "derived";
  description: string | undefined;
  info: GraphInfo;
  /**
   * A graph object of the caller's own (a copy: the checkpointer and store the caller attaches never
   * leak into another user of the module's export). A factory is called with the run's config.
   */
  instance(config?: LangGraphRunnableConfig): Promise<AnyGraph>;
}

export interface GraphLoadFailure {
  id: string;
  spec: string;
  reason: string;
}

type Factory = (config: LangGraphRunnableConfig, runtime?: unknown) => unknown;

const isBuilder = (g: unknown): g is { compile(): unknown } => typeof g === "object" && g !== null && typeof (g as { compile?: unknown }).compile === "function";
const isCompiled = (g: unknown): g is AnyGraph =>
  typeof g === "object" && g !== null && typeof (g as { stream?: unknown }).stream === "function" && typeof (g as { getState?: unknown }).getState === "function" && "nodes" in g;

/** A builder compiled, an agent wrapper unwrapped; anything else is not a graph. */
function toCompiled(value: unknown, what: string): AnyGraph {
  const g = isBuilder(value) && !isCompiled(value) ? value.compile() : value;
  // createAgent returns a ReactAgent that wraps the compiled graph in `.graph`.
  const inner = (g as { graph?: unknown } | null)?.graph;
  if (isCompiled(inner)) return inner;
  if (isCompiled(g)) return g;
  throw new Error(`${what} is not a LangGraph graph (expected a compiled graph, a StateGraph, or a function returning one; got ${value === null ? "null" : typeof value})`);
}

/** A copy that shares nodes and channels but owns its checkpointer, store and config. */
function copyOf(g: AnyGraph): AnyGraph {
  return g.withConfig({}) as AnyGraph;
}

/** Hash of what makes old checkpoints (in)compatible: node names, edges and state channels. */
export async function structureVersion(g: AnyGraph): Promise<string> {
  const drawable = (await g.getGraphAsync({})).toJSON() as { nodes: Array<{ id: string }>; edges: Array<{ source: string; target: string; conditional?: boolean }> };
  const shape = {
    nodes: drawable.nodes.map((n) => n.id).sort(),
    edges: drawable.edges.map((e) => `${e.source}>${e.target}${e.conditional ? "?" : ""}`).sort(),
    channels: Object.keys(g.channels ?? {}).sort(),
  };
  return `s-${createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 12)}`;
}

async function loadOne(id: string, spec: { path: string; description?: string | undefined }, cwd: string): Promise<LoadedGraph> {
  const { file, exportName } = splitSpec(spec.path, cwd);
  await loadTypeScript(file);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  if (!(exportName in mod)) {
    const exports = Object.keys(mod).filter((k) => k !== "__esModule");
    throw new Error(`${file} has no export "${exportName}" (exports: ${exports.join(", ") || "none"})`);
  }
  const exported = await mod[exportName];
  const moduleVersion = typeof mod.VERSION === "string" || typeof mod.VERSION === "number" ? String(mod.VERSION) : undefined;
  let kind: GraphKind;
  let sample: AnyGraph;
  let instance: (config?: LangGraphRunnableConfig) => Promise<AnyGraph>;
  if (typeof exported === "function" && !isCompiled(exported)) {
    kind = "factory";
    const factory = exported as Factory;
    instance = async (config = {}) => copyOf(toCompiled(await factory(config, { accessContext: "threads.create_run" }), `${exportName}() in ${file}`));
    sample = await instance({ configurable: {} });
  } else {
    const compiled = toCompiled(exported, `Export "${exportName}" of ${file}`);
    kind = isCompiled(exported) || isCompiled((exported as { graph?: unknown }).graph) ? "compiled" : "builder";
    sample = compiled;
    instance = async () => copyOf(compiled);
  }
  const info: GraphInfo = { ...graphInfoOf(exported), ...graphInfoOf(sample) };
  const declared = info.version ?? moduleVersion;
  return {
    id,
    file,
    exportName,
    kind,
    version: declared ?? (await structureVersion(sample)),
    versionSource: declared ? "declared" : "derived",
    description: spec.description ?? info.description,
    info,
    instance,
  };
}

/**
 * Load every graph of a project. One that fails (missing file, a throwing import, not a graph) is
 * reported by id with the reason; the others still load.
 */
export async function loadGraphs(project: ProjectConfig): Promise<{ graphs: Map<string, LoadedGraph>; failures: GraphLoadFailure[] }> {
  const graphs = new Map<string, LoadedGraph>();
  const failures: GraphLoadFailure[] = [];
  // One at a time: graph modules often share imports, and their top-level code may not be re-entrant.
  for (const [id, spec] of Object.entries(project.graphs)) {
    try {
      graphs.set(id, await loadOne(id, spec, project.cwd));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const reason = err.code === "ERR_MODULE_NOT_FOUND" || err.code === "ENOENT" ? err.message.split("\n")[0] ?? String(e) : err instanceof Error ? err.message : String(e);
      failures.push({ id, spec: spec.path, reason });
    }
  }
  return { graphs, failures };
}
