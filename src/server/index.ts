// Starts the agent server (LangGraph API on Waypoint's Postgres) and, by default, a worker in the same
// process to carry the runs it queues.
import { serve, type ServerType } from "@hono/node-server";
import { config } from "../config.js";
import { WaypointError } from "../errors.js";
import { Worker, type WorkerOptions } from "../runs/worker.js";
import { createApp, type ServerAuth } from "./app.js";

export { createApp, type ServerAuth } from "./app.js";
export { assistantIdFor } from "./shapes.js";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Auth from config: tokens required unless auth is off on a loopback address. */
export function authFromConfig(host: string): ServerAuth {
  const { api } = config();
  if (api.auth === "off") {
    if (!LOOPBACK.has(host)) throw new WaypointError("config_invalid", `WAYPOINT_API_AUTH=off is only allowed on a loopback address; the server would listen on ${host}.`);
    return { tokens: api.tokens, required: false };
  }
  if (api.tokens.size === 0) {
    throw new WaypointError("config_invalid", "The agent server needs WAYPOINT_API_TOKENS (owner:token,...), or WAYPOINT_API_AUTH=off to run without auth on 127.0.0.1.");
  }
  return { tokens: api.tokens, required: true };
}

export interface RunningServer {
  url: string;
  worker: Worker;
  close(): Promise<void>;
}

export async function startServer(opts: { host?: string; port?: number; auth?: ServerAuth; worker?: WorkerOptions } = {}): Promise<RunningServer> {
  const host = opts.host ?? config().api.host;
  const auth = opts.auth ?? authFromConfig(host);
  const worker = await Worker.start(opts.worker ?? {});
  const app = createApp(worker.wp, auth);
  let server: ServerType | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, hostname: host, port: opts.port ?? config().api.port }, (info) => resolve(info.port));
    server.once("error", reject);
  });
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    worker,
    async close() {
      await new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        // Idle keep-alive connections (the SDK's fetch keeps them) would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await worker.drain("server shutdown");
    },
  };
}
