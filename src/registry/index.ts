// The graph registry: the graphs of one langgraph.json, loaded at start. The runtime knows no agent:
// everything it runs comes from here.
import { applyProjectEnv } from "../config.js";
import { WaypointError } from "../errors.js";
import { loadGraphs, type GraphLoadFailure, type LoadedGraph } from "./load.js";
import { pinLangGraphFor } from "./modules.js";
import { readProjectConfig, type ProjectConfig } from "./project.js";

export { describeGraph, graphInfoOf, GRAPH_INFO, type GraphInfo } from "./info.js";
export { structureVersion, type AnyGraph, type GraphKind, type GraphLoadFailure, type LoadedGraph } from "./load.js";
export { readProjectConfig, splitSpec, type ProjectConfig } from "./project.js";

export class Registry {
  private constructor(
    readonly project: ProjectConfig,
    readonly graphs: ReadonlyMap<string, LoadedGraph>,
    readonly failures: readonly GraphLoadFailure[],
  ) {}

  /**
   * Read a langgraph.json and load its graphs (a graph that fails is listed in `failures`). With
   * `graphs: false`, only the project (its env applied): for what reads Waypoint's tables and runs no
   * graph (`waypoint threads`, `sql`), which then starts without importing every graph module.
   */
  static async load(configPath: string, opts: { graphs?: boolean } = {}): Promise<Registry> {
    const project = readProjectConfig(configPath);
    applyProjectEnv(project.env, project.cwd);
    if (opts.graphs === false) return new Registry(project, new Map(), []);
    pinLangGraphFor(project.cwd);
    const { graphs, failures } = await loadGraphs(project);
    return new Registry(project, graphs, failures);
  }

  /** A registry over graphs already in hand (tests, embedding). */
  static of(project: ProjectConfig, graphs: LoadedGraph[], failures: GraphLoadFailure[] = []): Registry {
    return new Registry(project, new Map(graphs.map((g) => [g.id, g])), failures);
  }

  get ids(): string[] {
    return [...this.graphs.keys()];
  }

  /** "id@version" of every graph: what a worker serving this registry can run. */
  get versions(): string[] {
    return [...this.graphs.values()].map((g) => `${g.id}@${g.version}`);
  }

  has(id: string): boolean {
    return this.graphs.has(id);
  }

  get(id: string): LoadedGraph {
    const g = this.graphs.get(id);
    if (g) return g;
    const failed = this.failures.find((f) => f.id === id);
    if (failed) throw new WaypointError("unknown_agent", `Graph "${id}" failed to load: ${failed.reason}`, { details: { graph: id } });
    throw new WaypointError("unknown_agent", `No graph named "${id}" in ${this.project.configPath}. Graphs: ${this.ids.join(", ") || "none"}.`, { details: { graph: id } });
  }
}
