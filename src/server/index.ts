// The agent server: the reference LangGraph API server (@langchain/langgraph-api's startServer: every
// route, CORS, auth handlers, Studio's needs) over Waypoint's Postgres (WaypointOps), with Waypoint's
// extras in front, and (by default) a worker in the same process to carry the runs it queues.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { config, PROJECT_ROOT, prepareReferenceServerEnv } from "../config.js";
import { WaypointError } from "../errors.js";
import { RunFeed } from "../runs/index.js";
import { Waypoint, Worker, type WaypointOptions, type WorkerOptions } from "../runs/index.js";
import { useTokens } from "./auth.js";
import { WaypointOps } from "./ops.js";

export { assistantIdFor } from "../runs/index.js";
export { WaypointOps } from "./ops.js";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const here = path.dirname(fileURLToPath(import.meta.url));
/** Files the reference server imports by path (the same module instances as ours: same URL). */
const ext = path.extname(fileURLToPath(import.meta.url));
const AUTH_MODULE = path.join(here, `auth${ext}`);
const EXTRAS_MODULE = path.join(here, `http-app${ext}`);

export interface ServerAuth {
  /** token -> owner; empty with `required: false` means no auth (loopback only). */
  tokens: Map<string, string>;
  /** token -> name of tokens that see every thread (ownerless ones included). */
  admins?: Map<string, string>;
  required: boolean;
}

/** Auth from config: tokens required unless auth is off on a loopback address. */
export function authFromConfig(host: string): ServerAuth {
  const { api } = config();
  if (api.auth === "off") {
    if (!LOOPBACK.has(host)) throw new WaypointError("config_invalid", `WAYPOINT_API_AUTH=off is only allowed on a loopback address; the server would listen on ${host}.`);
    return { tokens: api.tokens, admins: api.adminTokens, required: false };
  }
  if (api.tokens.size === 0 && api.adminTokens.size === 0) {
    throw new WaypointError("config_invalid", "The agent server needs WAYPOINT_API_TOKENS (owner:token,...), or WAYPOINT_API_AUTH=off to run without auth on 127.0.0.1.");
  }
  return { tokens: api.tokens, admins: api.adminTokens, required: true };
}

export interface RunningServer {
  url: string;
  waypoint: Waypoint;
  /** The worker in this process (absent with `worker: false`). */
  worker: Worker | undefined;
  close(): Promise<void>;
}

export interface ServerOptions {
  host?: string;
  port?: number;
  /** Default: from config. Ignored when the project's langgraph.json names an `auth.path` handler. */
  auth?: ServerAuth;
  /** What to open (database, langgraph.json, test models); shared with the worker. */
  waypoint?: WaypointOptions;
  /** The worker in the same process (its options), or false for none (`serve --no-worker`). */
  worker?: WorkerOptions | false;
}

/**
 * The reference server's winston logger formats every message (colours, and an inspect of its meta to
 * any depth) before its transport drops those below the level: at least two per request ("Created run"
 * and the request line), formatted and thrown away under WAYPOINT_LOG_LEVEL=warn. The levels below the
 * one set become no-ops on that logger (the one the reference registers for its SDK).
 */
function quietReferenceLogger(): void {
  const logger = (globalThis as Record<symbol, unknown>)[Symbol.for("langgraph.api.sdk-logger")] as
    | { level: string; levels: Record<string, number> } & Record<string, unknown>
    | undefined;
  const limit = logger?.levels?.[logger.level];
  if (!logger || limit === undefined) return;
  for (const [name, rank] of Object.entries(logger.levels)) {
    if (rank > limit) logger[name] = function (this: unknown) {
      return this;
    };
  }
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? config().api.host;
  const wp = await Waypoint.open({ ...(opts.worker || {}), ...opts.waypoint });
  const feed = new RunFeed(wp.pool, wp.persistence.db.directUrl);
  try {
    const project = wp.registry.project;
    let authPath: string;
    if (project.auth?.path) authPath = path.isAbsolute(project.auth.path) ? project.auth.path : path.resolve(project.cwd, project.auth.path);
    else {
      const a = opts.auth ?? authFromConfig(host);
      useTokens(a.tokens, a.admins ?? new Map());
      authPath = `${AUTH_MODULE}:${a.required ? "auth" : "open"}`;
    }
    const cors = config().api.corsOrigins ? { ...project.http?.cors, allow_origins: config().api.corsOrigins } : project.http?.cors;
    prepareReferenceServerEnv();
    const { startServer: startReference } = await import("@langchain/langgraph-api/server");
    const reference = await startReference(
      {
        port: opts.port ?? config().api.port,
        host,
        // The reference keeps a few files of its own (an unused in-memory checkpointer) here, not in the project.
        cwd: path.join(PROJECT_ROOT, ".waypoint", "langgraph-api"),
        nWorkers: 0,
        graphs: Object.fromEntries([...wp.registry.graphs.values()].map((g) => [g.id, `${g.file}:${g.exportName}`])),
        // Studio's unauthenticated "x-auth-scheme: langsmith" bypass stays off: it would let anyone in.
        auth: { path: authPath, disable_studio_auth: true },
        http: {
          app: `${EXTRAS_MODULE}:app`,
          disable_assistants: false,
          disable_threads: false,
          disable_runs: false,
          disable_store: false,
          disable_meta: false,
          ...(cors ? { cors } : {}),
        },
      },
      { ops: new WaypointOps(wp, feed) },
    );
    quietReferenceLogger();
    const worker = opts.worker === false ? undefined : await Worker.start({ ...(opts.worker ?? {}), waypoint: wp });
    const [h, p] = [reference.host.slice(0, reference.host.lastIndexOf(":")), reference.host.slice(reference.host.lastIndexOf(":") + 1)];
    return {
      url: `http://${h.includes(":") ? `[${h}]` : h}:${p}`,
      waypoint: wp,
      worker,
      async close() {
        await reference.cleanup();
        await worker?.drain("server shutdown");
        await feed.close();
        await wp.close();
      },
    };
  } catch (e) {
    await feed.close();
    await wp.close();
    throw e;
  }
}
