// langgraph.json: the file `langgraph dev` and Studio read, and the one Waypoint serves graphs from.
// The keys `langgraph dev` understands are validated here; unknown keys are kept (the reference
// server has more, e.g. `ui`), a wrong type is refused naming the key.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { WaypointError } from "../errors.js";

const GraphSpec = z.union([
  z.string().min(1).describe('"./path/to/file.ts:exportName" (the export defaults to `default`)'),
  z.object({ path: z.string().min(1), description: z.string().optional() }).loose(),
]);

const Cors = z
  .object({
    allow_origins: z.array(z.string()).optional(),
    allow_methods: z.array(z.string()).optional(),
    allow_headers: z.array(z.string()).optional(),
    allow_credentials: z.boolean().optional(),
    allow_origin_regex: z.string().optional(),
    expose_headers: z.array(z.string()).optional(),
    max_age: z.number().optional(),
  })
  .strict();

const ProjectSchema = z
  .object({
    graphs: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "graph ids are 1-64 letters, digits, '_', '.' or '-'"), GraphSpec),
    env: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
    auth: z.object({ path: z.string().optional(), disable_studio_auth: z.boolean().optional() }).loose().optional(),
    http: z.object({ cors: Cors.optional(), app: z.string().optional() }).loose().optional(),
    node_version: z.string().optional(),
    dependencies: z.array(z.string()).optional(),
  })
  .loose();

export interface ProjectConfig {
  /** Absolute path of the langgraph.json. */
  configPath: string;
  /** Its folder: graph, env and auth paths are relative to it, and its modules resolve from it. */
  cwd: string;
  /** graph id -> "./file.ts:export". */
  graphs: Record<string, { path: string; description?: string | undefined }>;
  env?: string | Record<string, string> | undefined;
  auth?: { path?: string | undefined; disable_studio_auth?: boolean | undefined } | undefined;
  http?: { cors?: z.infer<typeof Cors> | undefined; app?: string | undefined } | undefined;
  nodeVersion?: string | undefined;
  dependencies?: string[] | undefined;
}

/** Read and check a langgraph.json; a missing file or a bad key is a `config_invalid` error naming it. */
export function readProjectConfig(configPath: string): ProjectConfig {
  const abs = path.resolve(configPath);
  let text: string;
  try {
    text = fs.readFileSync(abs, "utf8");
  } catch (e) {
    throw new WaypointError("config_invalid", `Cannot read ${abs}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}. Waypoint serves the graphs listed in a langgraph.json (--config <path>).`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new WaypointError("config_invalid", `${abs} is not JSON: ${(e as Error).message}`);
  }
  const parsed = ProjectSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
    throw new WaypointError("config_invalid", `${abs} is not a valid langgraph.json: ${lines.join("; ")}`);
  }
  const p = parsed.data;
  const graphs = Object.fromEntries(Object.entries(p.graphs).map(([id, spec]) => [id, typeof spec === "string" ? { path: spec } : { path: spec.path, description: spec.description }]));
  return {
    configPath: abs,
    cwd: path.dirname(abs),
    graphs,
    env: p.env,
    auth: p.auth,
    http: p.http,
    nodeVersion: p.node_version,
    dependencies: p.dependencies,
  };
}

/** "./file.ts:export" -> the absolute file and the export name ("default" when none is given). */
export function splitSpec(spec: string, cwd: string): { file: string; exportName: string } {
  const at = spec.lastIndexOf(":");
  // A colon that is part of a Windows drive ("C:\...") is not an export separator.
  const hasExport = at > 1 && !/[\\/]/.test(spec.slice(at + 1));
  const file = hasExport ? spec.slice(0, at) : spec;
  return { file: path.resolve(cwd, file), exportName: hasExport ? spec.slice(at + 1) : "default" };
}
