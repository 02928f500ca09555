// The only module that reads process.env: every setting Waypoint honours, parsed and validated once.
// Each variable here is listed in .env.example and in the README's configuration table.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** Folder of the project (where package.json lives); the embedded database lives under it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

const EnvSchema = z.object({
  DATABASE_URL: z.preprocess(emptyToUndefined, z.url({ message: "DATABASE_URL must be a postgres:// URL" }).optional()),
  DATABASE_DIRECT_URL: z.preprocess(emptyToUndefined, z.url({ message: "DATABASE_DIRECT_URL must be a postgres:// URL" }).optional()),
  DATABASE_POOL_MODE: z.preprocess(emptyToUndefined, z.enum(["session", "transaction"]).default("session")),
  TEST_DATABASE_URL: z.preprocess(emptyToUndefined, z.url({ message: "TEST_DATABASE_URL must be a postgres:// URL" }).optional()),
  WAYPOINT_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default(path.join(PROJECT_ROOT, ".waypoint", "pgdata"))),
  WAYPOINT_PG_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1024).max(65535).default(54329)),
  WAYPOINT_POOL_MAX: z.preprocess(emptyToUndefined, z.coerce.number().int().min(2).max(500).default(10)),
  WAYPOINT_POOL_WAIT_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(3_600_000).default(0)),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: z.preprocess(emptyToUndefined, z.url({ message: "OPENAI_BASE_URL must be a URL" }).optional()),
  OPENAI_MODEL: z.preprocess(emptyToUndefined, z.string().default("gpt-4o-mini")),
  OPENAI_FALLBACK_MODEL: optionalString,
  WAYPOINT_MODEL_MAX_ATTEMPTS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(20).default(5)),
  WAYPOINT_FAULTS: optionalString,
  WAYPOINT_PROCESSES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(256).optional()),
  WAYPOINT_WORKER_HOST: z.preprocess(emptyToUndefined, z.string().regex(/^[^:\s]+$/, { message: "WAYPOINT_WORKER_HOST must be a name without spaces or colons" }).optional()),
  WAYPOINT_WORKER_CONCURRENCY: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(10_000).default(10)),
  WAYPOINT_DRAIN_GRACE_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(600_000).default(25_000)),
  WAYPOINT_MAX_CRASHES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(100).default(3)),
  WAYPOINT_RUN_MAX_ATTEMPTS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(100).default(3)),
  WAYPOINT_API_HOST: z.preprocess(emptyToUndefined, z.string().default("127.0.0.1")),
  WAYPOINT_API_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(8123)),
  WAYPOINT_API_TOKENS: optionalString,
  WAYPOINT_API_AUTH: z.preprocess(emptyToUndefined, z.enum(["on", "off"]).default("on")),
  WAYPOINT_API_ADMIN_TOKENS: optionalString,
  WAYPOINT_MAX_BODY_BYTES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1024).max(1_073_741_824).default(2_097_152)),
  WAYPOINT_CORS_ORIGINS: optionalString,
  WAYPOINT_TRACE_FILE: optionalString,
  WAYPOINT_HALT_AT: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[a-z]+\.[a-z]+(:[\w+.-]+)?(#[1-9]\d*)?$/, { message: "WAYPOINT_HALT_AT must be <point>[:<detail>][#<n>], e.g. tools.after:create_account#1" })
      .optional(),
  ),
  WAYPOINT_POLICY_FILE: optionalString,
  WAYPOINT_SAVER: z.preprocess(emptyToUndefined, z.enum(["waypoint", "stock"]).default("waypoint")),
  WAYPOINT_RETENTION_KEEP: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(1_000_000).default(50)),
  WAYPOINT_RETENTION_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(86_400_000).default(300_000)),
  WAYPOINT_ARTIFACT_BYTES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1024).max(1_073_741_824).default(262_144)),
  WAYPOINT_WEBHOOK_HOSTS: optionalString,
  WAYPOINT_SUMMARY_TOKENS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(10_000_000).default(8000)),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("warn"),
  ),
});

export type Config = {
  /** External Postgres to use; unset means Waypoint starts embedded Postgres. */
  databaseUrl: string | undefined;
  /** The same server without a transaction-mode pooler in between (liveness locks, LISTEN); unset: databaseUrl. */
  directDatabaseUrl: string | undefined;
  /**
   * What DATABASE_URL reaches: "session" (Postgres itself, or a session-mode pooler) or "transaction"
   * (a transaction-mode pooler such as PgBouncer): then no named prepared statements, no startup
   * `options`, and what needs one session (setup lock, migrations, SQL sandbox) uses directDatabaseUrl.
   */
  poolMode: "session" | "transaction";
  /** Postgres for the test suite; unset means the tests start embedded Postgres in a temp folder. */
  testDatabaseUrl: string | undefined;
  /** Data folder of the embedded Postgres (git-ignored). */
  dataDir: string;
  /** Port of the embedded Postgres. */
  embeddedPort: number;
  /** Size of the one shared pg pool. */
  poolMax: number;
  /**
   * Longest a statement waits for a free connection of the pool (ms; 0: as long as it takes). Opening a
   * connection times out on its own (15 s). A worker carrying thousands of runs on a small pool queues
   * their statements: a limit here fails runs that are only waiting their turn.
   */
  poolWaitMs: number;
  /** OpenAI settings; no key means the offline planner model runs. */
  openai: { apiKey: string | undefined; baseUrl: string | undefined; model: string; fallbackModel: string | undefined };
  /** Attempts per model call (first try included) before the run stops in an error state. */
  modelMaxAttempts: number;
  /** Workers: runs at once, SIGTERM grace period, worker deaths and failed attempts a run survives. */
  worker: { concurrency: number; graceMs: number; maxCrashes: number; maxAttempts: number };
  /** Worker processes `waypoint worker` / `serve` / `start` run (default: the number of cores). */
  processes: number;
  /** The host part of every worker id this process makes (default: the machine's hostname). */
  workerHost: string;
  /** Fault injection in the world adapters (tests, chaos, demos): see src/world/faults.ts for the syntax. */
  faults: string | undefined;
  /** Agent server: where it listens, bearer tokens ("owner:token,..."), and whether auth is on. */
  api: {
    host: string;
    port: number;
    /** token -> owner. */
    tokens: Map<string, string>;
    /** token -> name: these see and may change every thread, ownerless ones included. */
    adminTokens: Map<string, string>;
    auth: "on" | "off";
    /** Largest request body accepted (413 beyond, refused before it is buffered). */
    maxBodyBytes: number;
    /** Browser origins allowed (CORS), over langgraph.json's http.cors; unset: langgraph.json's, else any. */
    corsOrigins: string[] | undefined;
  };
  /** When set, every node execution is appended to this JSONL file (debugging, crash tests). */
  traceFile: string | undefined;
  /**
   * Crash tests only: the process halts at this point (the n-th time it is reached) and waits to be
   * killed; see src/halt.ts. Unset in every real deployment.
   */
  haltAt: { point: string; occurrence: number } | undefined;
  /** Checkpointer: "waypoint" (WaypointSaver, the default) or "stock" (LangGraph's PostgresSaver, a fallback). */
  saver: "waypoint" | "stock";
  /** Oversight policy file (JSON) applied to every agent's runs, over each agent's built-in policy. */
  policyFile: string | undefined;
  /** Checkpoint retention: checkpoints kept per thread, and how often workers prune (0: never). */
  retention: { keep: number; intervalMs: number };
  /** Tool outputs larger than this many bytes are stored once as artifacts, referenced from state. */
  artifactBytes: number;
  /** Estimated tokens of conversation in state above which older messages are summarised (0: never). */
  summaryTokens: number;
  /** Hosts (host or host:port) a run's webhook may call; empty: webhooks are refused. */
  webhookHosts: string[];
  /** pino level for logs on stderr. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parse an environment (process.env by default); throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration in the environment:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    directDatabaseUrl: e.DATABASE_DIRECT_URL,
    poolMode: e.DATABASE_POOL_MODE,
    testDatabaseUrl: e.TEST_DATABASE_URL,
    dataDir: path.resolve(e.WAYPOINT_DATA_DIR),
    embeddedPort: e.WAYPOINT_PG_PORT,
    poolMax: e.WAYPOINT_POOL_MAX,
    poolWaitMs: e.WAYPOINT_POOL_WAIT_MS,
    openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL, fallbackModel: e.OPENAI_FALLBACK_MODEL },
    modelMaxAttempts: e.WAYPOINT_MODEL_MAX_ATTEMPTS,
    faults: e.WAYPOINT_FAULTS,
    worker: {
      concurrency: e.WAYPOINT_WORKER_CONCURRENCY,
      graceMs: e.WAYPOINT_DRAIN_GRACE_MS,
      maxCrashes: e.WAYPOINT_MAX_CRASHES,
      maxAttempts: e.WAYPOINT_RUN_MAX_ATTEMPTS,
    },
    processes: e.WAYPOINT_PROCESSES ?? os.availableParallelism(),
    workerHost: e.WAYPOINT_WORKER_HOST ?? os.hostname(),
    api: {
      host: e.WAYPOINT_API_HOST,
      port: e.WAYPOINT_API_PORT,
      tokens: parseTokens(e.WAYPOINT_API_TOKENS, "WAYPOINT_API_TOKENS"),
      adminTokens: parseTokens(e.WAYPOINT_API_ADMIN_TOKENS, "WAYPOINT_API_ADMIN_TOKENS"),
      auth: e.WAYPOINT_API_AUTH,
      maxBodyBytes: e.WAYPOINT_MAX_BODY_BYTES,
      corsOrigins: e.WAYPOINT_CORS_ORIGINS ? e.WAYPOINT_CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean) : undefined,
    },
    traceFile: e.WAYPOINT_TRACE_FILE,
    haltAt: parseHaltAt(e.WAYPOINT_HALT_AT),
    saver: e.WAYPOINT_SAVER,
    policyFile: e.WAYPOINT_POLICY_FILE,
    retention: { keep: e.WAYPOINT_RETENTION_KEEP, intervalMs: e.WAYPOINT_RETENTION_INTERVAL_MS },
    artifactBytes: e.WAYPOINT_ARTIFACT_BYTES,
    summaryTokens: e.WAYPOINT_SUMMARY_TOKENS,
    webhookHosts: (e.WAYPOINT_WEBHOOK_HOSTS ?? "").split(",").map((h) => h.trim()).filter(Boolean),
    logLevel: e.LOG_LEVEL,
  };
}

/** "tools.after:create_account#2" -> that point, its 2nd occurrence (default the 1st). */
function parseHaltAt(raw: string | undefined): Config["haltAt"] {
  if (raw === undefined) return undefined;
  const [point = "", n] = raw.split("#");
  return { point, occurrence: n === undefined ? 1 : Number(n) };
}

/** "alice:tok1,bob:tok2" -> token -> owner. */
function parseTokens(raw: string | undefined, variable: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of (raw ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf(":");
    if (at <= 0 || at === pair.length - 1) throw new ConfigError(`Invalid configuration in the environment:\n  ${variable}: "${pair.slice(0, at > 0 ? at : 0)}:***" is not name:token`);
    out.set(pair.slice(at + 1), pair.slice(0, at));
  }
  return out;
}

let cached: Config | undefined;

/** The process-wide configuration, parsed on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

/**
 * The reference server (@langchain/langgraph-api) logs with winston at the level in LOG_LEVEL, read once
 * when it is first imported. Give it a level winston knows and keep it to errors unless Waypoint's own
 * level asks for more (its request lines would otherwise fill a terminal).
 */
export function prepareReferenceServerEnv(): void {
  const level = config().logLevel;
  process.env.LOG_LEVEL = level === "info" ? "info" : level === "debug" || level === "trace" ? "debug" : "error";
}

/**
 * A project's `env` from its langgraph.json (a .env file relative to the project, or an object), as
 * `langgraph dev` gives it to the graphs: variables already set in the environment win. The
 * configuration is read again afterwards, so Waypoint's own variables there apply too.
 */
export function applyProjectEnv(env: string | Record<string, string> | undefined, projectDir: string): void {
  if (env === undefined) return;
  let vars: Record<string, string>;
  if (typeof env === "string") {
    const file = path.resolve(projectDir, env);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // `langgraph dev` runs without the file too
      throw new ConfigError(`Cannot read the env file ${file} named in langgraph.json: ${(e as Error).message}`);
    }
    vars = parseEnv(text);
  } else vars = env;
  for (const [k, v] of Object.entries(vars)) if (process.env[k] === undefined) process.env[k] = v;
  cached = undefined;
}

/** KEY=value lines (# comments, optional quotes, `export ` prefixes), as .env files write them. */
function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, "");
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, "");
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}
