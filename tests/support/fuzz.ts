// Property-based fuzzing of every HTTP route of Waypoint's agent server (fast-check): the route table,
// the arbitraries (hostile ids, strings, bodies, content types, tokens, bad decisions), a snapshot of
// what a request could change (row counts of every table, watched threads' states), and the runner.
// Used by tests/fuzz.int.test.ts (a few hundred cases) and bench/fuzz.ts (`npm run fuzz -- --cases N`).
import { readFileSync } from "node:fs";
import fc from "fast-check";
import pg from "pg";

// ---------------------------------------------------------------------------------------------------
// What the fuzz knows about the server under test

/** Bearer tokens the server accepts. */
export interface FuzzTokens {
  /** Owns the watched threads. */
  owner: string;
  /** Another owner: must never see or change the owner's threads. */
  other: string;
}

/** Ids that exist on the server (set up by `prepareWatched`), used next to unknown and malformed ones. */
export interface WatchedIds {
  /** Owner's threads that are idle (one new, one with a finished run). */
  idle: string[];
  /** Owner's thread waiting at its review (onboarding, interrupted). */
  review: string;
  /** The review's pending interrupt id. */
  interruptId: string;
  /** The other owner's thread. */
  foreign: string;
  /** A run on one of the owner's threads (ended) and its thread. */
  run: { runId: string; threadId: string };
  /** A checkpoint of the review thread. */
  checkpointId: string;
  /** The onboarding assistant. */
  assistantId: string;
  /** An audit entry id visible to the owner (or a made-up one when there is none). */
  auditId: string;
}

export interface FuzzOptions {
  baseUrl: string;
  tokens: FuzzTokens;
  /** The server's database: row counts before and after each refused request. */
  databaseUrl: string;
  watched: WatchedIds;
  /** How many requests. */
  cases: number;
  seed: number;
  /** A request without a status (or a non-streaming body not finished) after this long is a hang. */
  timeoutMs?: number;
  /** The server's WAYPOINT_MAX_BODY_BYTES (bodies around and past it are generated). */
  maxBodyBytes: number;
  /** The server's process id, when it is a child process (its peak RSS is read from /proc). */
  serverPid?: number;
  /** Makes a new review thread when the watched one was answered by an accepted request. */
  remakeReview?: () => Promise<{ review: string; interruptId: string; checkpointId: string }>;
  /** Progress lines (every 10% of the cases). */
  progress?: (line: string) => void;
}

export interface CaseResult {
  index: number;
  label: string;
  method: string;
  path: string;
  status: number | "hang" | "client_error";
  ms: number;
  detail?: string;
}

export interface FuzzReport {
  cases: number;
  byStatus: Record<string, number>;
  /** Route template -> status -> count. */
  byRoute: Record<string, Record<string, number>>;
  /** Kind of body (near-valid, bad-decision, deep-10000, huge, ...) -> status -> count. */
  byKind: Record<string, Record<string, number>>;
  /** Bad decisions the server accepted (2xx): each must have been no whole valid answer, see badResume. */
  acceptedDecisions: CaseResult[];
  /** Bodies past the limit answered with something other than a refusal (2xx or 3xx). */
  hugeAccepted: CaseResult[];
  serverErrors: CaseResult[];
  hangs: CaseResult[];
  /** Refused (4xx) requests after which a row count or a watched thread's state differed. */
  refusedChanges: Array<CaseResult & { changes: string[] }>;
  /** 4xx answers whose body names nothing (no message). */
  unclear: CaseResult[];
  /** Streams that stayed open at the timeout on subscription routes (by design, not hangs). */
  openStreams: number;
  clientErrors: CaseResult[];
  /** Uploads past the body limit that the server cut off (closed the connection) before the client read its 413. */
  closedUploads: number;
  /** How often the watched review thread had to be made again (an accepted decision answered it). */
  reviewsRemade: number;
  peakRssMb: number;
  /** Whose RSS: the server child's (VmHWM) or this process's, which holds the server and the fuzz. */
  rssOf: "server" | "this process";
  wallMs: number;
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries

/** Strings a careless or hostile client sends where an id, a name or a value is expected. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "%00",
  "\u0000",
  "a\u0000b",
  "../../../../etc/passwd",
  "..%2F..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e%2f",
  "..\\..\\windows\\win.ini",
  "%",
  "%zz",
  "%E0%A4%A",
  "\uD800",
  "\uDFFF\uD800",
  "💥🏳️‍🌈",
  "\u202Egnp.exe",
  "ＡＢＣ",
  "null",
  "undefined",
  "true",
  "-1",
  "0",
  "1e20",
  "NaN",
  "Infinity",
  "' OR 1=1 --",
  "\"; DROP TABLE waypoint.runs; --",
  "$(id)",
  "<script>alert(1)</script>",
  "{{7*7}}",
  "\r\nX-Injected: 1",
  "00000000-0000-0000-0000-000000000000",
  "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
  "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
  "6ba7b810-9dad-11d1-80b4-00c04fd430c8-",
  "x".repeat(300),
  "x".repeat(10_000),
  "é".repeat(3000),
];

export const hostileString = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  );

/** JSON values of the wrong type for almost any field. */
export const wrongValue = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e20, -1e308, Number.MAX_SAFE_INTEGER + 2, [], {}, [[]], [null], { "": null }, "1", "true"),
    hostileString(),
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(hostileString(), { maxLength: 4 }),
    fc.dictionary(hostileString(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  );

/** An object: the route's near-valid template with one to three fields replaced, removed or added. */
function mutated(template: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(template);
  const field = fc.oneof(keys.length ? fc.constantFrom(...keys) : fc.constant("x"), hostileString(), fc.constantFrom("__proto__", "constructor", "metadata", "config", "owner"));
  const edit = fc.record({ field, op: fc.constantFrom("set", "set", "delete"), value: wrongValue() });
  return fc.array(edit, { minLength: 0, maxLength: 3 }).map((edits) => {
    const o: Record<string, unknown> = structuredClone(template);
    for (const e of edits) {
      if (e.op === "delete") delete o[e.field];
      else Object.defineProperty(o, e.field, { value: e.value, enumerable: true, writable: true, configurable: true });
    }
    return o;
  });
}

/** A body as sent: its bytes (or a stream of them) and the content type. */
export interface BodySpec {
  kind: string;
  text?: string;
  /** Sent as a chunked stream of this many bytes (no Content-Length: the limit must hold anyway). */
  streamBytes?: number;
  contentType?: string | undefined;
}

const CONTENT_TYPES = [
  "application/json",
  "application/json",
  "application/json",
  undefined,
  "text/plain",
  "text/plain;charset=utf-8",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=zzz",
  "application/xml",
  "application/json; charset=utf-16",
  "application/octet-stream",
  "image/png",
  "application/jsonx",
  "*/*",
];

function deepText(depth: number, kind: "array" | "object" | "mixed"): string {
  if (kind === "array") return "[".repeat(depth) + "]".repeat(depth);
  if (kind === "object") return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  return '{"a":['.repeat(depth) + "]}".repeat(depth);
}

/** Bodies for a route whose near-valid shape is `template` (undefined: the route takes no body). */
export function bodyArb(template: Record<string, unknown> | unknown[] | undefined, maxBodyBytes: number, variants?: fc.Arbitrary<unknown>): fc.Arbitrary<BodySpec> {
  const json = (v: unknown) => {
    try {
      return JSON.stringify(v) ?? "null";
    } catch {
      return "null";
    }
  };
  const good = template === undefined ? fc.constant<unknown>({}) : Array.isArray(template) ? fc.array(mutated((template[0] ?? {}) as Record<string, unknown>), { maxLength: 3 }) : mutated(template);
  const ct = fc.constantFrom(...CONTENT_TYPES);
  return fc.oneof(
    { weight: variants ? 8 : 0, arbitrary: (variants ?? fc.constant({})).map((v) => ({ kind: "nested-hostile", text: json(v), contentType: "application/json" })) },
    { weight: 12, arbitrary: fc.record({ v: good, contentType: fc.constant("application/json") }).map(({ v, contentType }) => ({ kind: "near-valid", text: json(v), contentType })) },
    { weight: 3, arbitrary: fc.record({ v: good, contentType: ct }).map(({ v, contentType }) => ({ kind: "content-type", text: json(v), contentType })) },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ kind: "random-json", text: json(v), contentType: "application/json" })) },
    {
      weight: 3,
      arbitrary: fc
        .oneof(fc.constantFrom("{", "[", '{"a":', '{"a":1,}', "nul", "{'a':1}", '{"a":1}{"b":2}', "\u0000", "\uFEFF{}", '"\\ud800"', '{"a":"\\u0000"}', "1e99999", "-", ""), fc.string({ maxLength: 60 }))
        .map((text) => ({ kind: "malformed-json", text, contentType: "application/json" })),
    },
    { weight: 2, arbitrary: fc.record({ depth: fc.constantFrom(65, 200, 10_000, 100_000), shape: fc.constantFrom("array" as const, "object" as const, "mixed" as const) }).map(({ depth, shape }) => ({ kind: `deep-${depth}`, text: deepText(depth, shape), contentType: "application/json" })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(maxBodyBytes + 1, maxBodyBytes * 2, maxBodyBytes * 5).map((n) => ({ kind: "huge", text: `{"metadata":{"pad":"${"x".repeat(Math.max(0, n - 23))}"}}`, contentType: "application/json" })),
    },
    { weight: 1, arbitrary: fc.constantFrom(maxBodyBytes + 1, maxBodyBytes * 4).map((n) => ({ kind: "huge-chunked", streamBytes: n, contentType: "application/json" })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(Math.floor(maxBodyBytes * 0.9)).map((n) => ({ kind: "large-under-limit", text: `{"metadata":{"pad":"${"y".repeat(Math.max(0, n - 24))}"}}`, contentType: "application/json" })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: "empty", text: "", contentType: "application/json" }) },
    { weight: 1, arbitrary: fc.constant({ kind: "none" }) },
  );
}

/** Decisions a careless reviewer or client sends to a thread waiting at its review: never a whole valid one. */
export function badResume(interruptId: string): fc.Arbitrary<unknown> {
  const badDecision = fc.oneof(
    fc.constantFrom(
      { type: "maybe" },
      { type: "" },
      { type: null },
      { type: "APPROVE" },
      { type: "edit" },
      { type: "edit", editedAction: null },
      { type: "edit", editedAction: { name: "no_such_tool", args: {} } },
      { type: "edit", editedAction: { name: "grant_privileges", args: "all" } },
      { type: "edit", editedAction: { name: "grant_privileges", args: { email: 5, privileges: "root" } } },
      { type: "respond" },
      { type: "respond", message: 42 },
      { type: "reject", message: { a: 1 } },
      { decision: "approve" },
      "approve",
      null,
      42,
    ),
    wrongValue(),
  );
  return fc.oneof(
    fc.record({ decisions: fc.array(badDecision, { minLength: 1, maxLength: 3 }) }),
    fc.constantFrom({ decisions: [] }, { decisions: "approve" }, { decisions: null }, { decisions: {} }, { decisions: [{ type: "approve" }, { type: "approve" }, { type: "approve" }] }),
    fc.record({ id: hostileString() }).map(({ id }) => ({ [id]: { decisions: [{ type: "approve" }] } })),
    fc.constant({ "00000000-0000-0000-0000-000000000000": { decisions: [{ type: "approve" }] } }),
    fc.record({ d: badDecision }).map(({ d }) => ({ [interruptId]: { decisions: [d] } })),
    fc.record({ d: badDecision }).map(({ d }) => ({ [interruptId]: d })),
    wrongValue(),
  );
}

// ---------------------------------------------------------------------------------------------------
// Routes

type Param = "thread" | "run" | "assistant" | "checkpoint" | "cron" | "audit" | "namespace";

export interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";
  /** Path with :thread, :run, :assistant, :checkpoint, :cron, :audit, :namespace placeholders. */
  path: string;
  /** A near-valid body (mutated by the fuzz); omitted for routes without one. */
  body?: (w: WatchedIds) => Record<string, unknown> | unknown[];
  /** Query parameters the route reads (each gets good, wrong and hostile values). */
  query?: string[];
  /** Long-lived by design (a subscription): open at the timeout is not a hang. */
  subscription?: boolean;
  /** Resumes: the body carries a bad decision for the review thread. */
  resume?: boolean;
  /** Hand-made bodies with hostile values deeper than the top level (nested config, commands, supersteps). */
  variants?: (w: WatchedIds) => fc.Arbitrary<unknown>;
}

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

/** Run bodies whose nested fields (config, command, checkpoint, schedule, stream options) are hostile. */
function runVariants(w: WatchedIds): fc.Arbitrary<unknown> {
  return fc
    .record({
      assistant_id: fc.oneof(fc.constantFrom("onboarding", "travel", "hr", w.assistantId, "00000000-0000-0000-0000-000000000000"), hostileString()),
      input: opt(fc.oneof(fc.constant(null), fc.constant({ hire: null }), fc.record({ hire: fc.record({ email: hostileString(), name: hostileString() }) }), wrongValue())),
      after_seconds: opt(fc.constantFrom(1e20, -5, 0.5, 1e308, 86_400 * 365 * 10_000, Number.MIN_VALUE)),
      checkpoint_id: opt(hostileString()),
      checkpoint: opt(fc.record({ checkpoint_id: opt(hostileString()), checkpoint_ns: opt(hostileString()), checkpoint_map: opt(wrongValue()) })),
      config: opt(fc.record({ configurable: opt(fc.record({ thread_id: opt(hostileString()), checkpoint_id: opt(hostileString()), checkpoint_ns: opt(hostileString()) })), recursion_limit: opt(fc.constantFrom(-1, 0, 1e9, 1.5)), tags: opt(wrongValue()) })),
      command: opt(fc.record({ goto: opt(fc.oneof(hostileString(), fc.array(hostileString(), { maxLength: 3 }), fc.record({ node: hostileString(), input: opt(wrongValue()) }))), update: opt(fc.oneof(wrongValue(), fc.array(fc.tuple(hostileString(), wrongValue()), { maxLength: 2 }))), resume: opt(wrongValue()) })),
      interrupt_before: opt(fc.oneof(fc.constant("*"), fc.array(hostileString(), { maxLength: 3 }))),
      interrupt_after: opt(fc.oneof(fc.constant("*"), fc.array(hostileString(), { maxLength: 3 }))),
      stream_mode: opt(fc.oneof(fc.constantFrom("values", "events", "debug", "custom", "tools", "checkpoints", "tasks"), fc.array(fc.constantFrom("values", "messages", "updates", "events", "debug"), { maxLength: 4 }))),
      stream_subgraphs: opt(fc.boolean()),
      stream_resumable: opt(fc.boolean()),
      webhook: opt(fc.oneof(hostileString(), fc.constantFrom("http://127.0.0.1:1/hook", "file:///etc/passwd", "javascript:alert(1)", "http://[::1]:1/"))),
      metadata: opt(fc.dictionary(hostileString(), wrongValue(), { maxKeys: 3 })),
      context: opt(wrongValue()),
      if_not_exists: opt(fc.constantFrom("create", "reject")),
      on_completion: opt(fc.constantFrom("delete", "keep")),
      on_disconnect: opt(fc.constantFrom("cancel", "continue")),
      multitask_strategy: opt(fc.constantFrom("reject", "enqueue", "interrupt", "rollback")),
      feedback_keys: opt(fc.array(hostileString(), { maxLength: 2 })),
    })
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

/** Thread bodies with supersteps (state written at creation) and hostile ids. */
function threadVariants(w: WatchedIds): fc.Arbitrary<unknown> {
  return fc
    .record({
      thread_id: opt(fc.oneof(fc.constantFrom(w.review, w.foreign, ...w.idle), fc.uuid(), hostileString())),
      if_exists: opt(fc.constantFrom("raise", "do_nothing")),
      metadata: opt(fc.oneof(fc.constant({ graph_id: "onboarding" }), fc.dictionary(hostileString(), wrongValue(), { maxKeys: 3 }))),
      supersteps: opt(
        fc.array(fc.record({ updates: fc.array(fc.record({ values: opt(wrongValue()), command: opt(fc.record({ goto: opt(hostileString()), resume: opt(wrongValue()) })), as_node: fc.oneof(fc.constantFrom("agent", "review", "__start__", "tools"), hostileString()) }), { maxLength: 2 }) }), { maxLength: 2 }),
      ),
    })
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

/** State updates with hostile nodes, values and checkpoints. */
function stateVariants(w: WatchedIds): fc.Arbitrary<unknown> {
  return fc
    .record({
      values: opt(fc.oneof(fc.constant({ messages: [{ type: "human", content: "hi" }] }), fc.constant({ messages: [{ type: "alien" }] }), wrongValue())),
      as_node: opt(fc.oneof(fc.constantFrom("agent", "review", "tools", "__start__", "__end__"), hostileString())),
      checkpoint_id: opt(fc.oneof(fc.constant(w.checkpointId), hostileString())),
      checkpoint: opt(fc.record({ checkpoint_id: opt(fc.oneof(fc.constant(w.checkpointId), hostileString())), checkpoint_ns: opt(hostileString()) })),
      limit: opt(fc.constantFrom(-1, 0, 1e20, 1.5, 1001)),
      before: opt(fc.oneof(fc.constant(w.checkpointId), hostileString())),
    })
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

const runBody = (_w: WatchedIds): Record<string, unknown> => ({ assistant_id: "onboarding", input: null, metadata: { k: "v" }, stream_mode: ["values"], multitask_strategy: "reject" });

/**
 * Every route the server exposes: the reference server's (assistants, threads, runs, crons, store,
 * meta, the thread protocol, /internal/truncate) and Waypoint's extras (inbox, audit, /waypoint/runs).
 */
export const ROUTES: readonly Route[] = [
  // meta and Waypoint's pages
  { method: "GET", path: "/ok" },
  { method: "GET", path: "/info" },
  { method: "GET", path: "/inbox", query: ["token"] },
  { method: "GET", path: "/favicon.ico" },
  { method: "GET", path: "/inbox/api/waiting", query: ["limit", "offset"] },
  { method: "GET", path: "/inbox/api/threads/:thread/history", query: ["limit"] },
  { method: "POST", path: "/internal/truncate", body: () => ({ runs: true, threads: true, assistants: true, checkpointer: true, store: true }) },
  // assistants
  { method: "POST", path: "/assistants", body: () => ({ graph_id: "onboarding", name: "n", metadata: {}, if_exists: "do_nothing", config: { configurable: {} } }) },
  { method: "POST", path: "/assistants/search", body: () => ({ graph_id: "onboarding", metadata: {}, limit: 10, offset: 0, sort_by: "created_at", sort_order: "asc" }) },
  { method: "POST", path: "/assistants/count", body: () => ({ graph_id: "onboarding", metadata: {} }) },
  { method: "GET", path: "/assistants/:assistant" },
  { method: "DELETE", path: "/assistants/:assistant", query: ["delete_threads"] },
  { method: "PATCH", path: "/assistants/:assistant", body: () => ({ metadata: { k: "v" }, name: "renamed" }) },
  { method: "GET", path: "/assistants/:assistant/graph", query: ["xray"] },
  { method: "GET", path: "/assistants/:assistant/schemas" },
  { method: "GET", path: "/assistants/:assistant/subgraphs", query: ["recurse"] },
  { method: "GET", path: "/assistants/:assistant/subgraphs/:namespace", query: ["recurse"] },
  { method: "POST", path: "/assistants/:assistant/latest", body: () => ({ version: 1 }) },
  { method: "POST", path: "/assistants/:assistant/versions", body: () => ({ limit: 10, offset: 0, metadata: {} }) },
  // threads
  { method: "POST", path: "/threads", body: () => ({ metadata: { k: "v" }, if_exists: "raise" }), variants: threadVariants },
  { method: "POST", path: "/threads/search", body: () => ({ metadata: {}, status: "idle", limit: 10, offset: 0, sort_by: "created_at", sort_order: "desc" }) },
  { method: "POST", path: "/threads/count", body: () => ({ metadata: {}, status: "idle" }) },
  { method: "GET", path: "/threads/:thread" },
  { method: "PATCH", path: "/threads/:thread", body: () => ({ metadata: { k: "v" } }) },
  { method: "DELETE", path: "/threads/:thread" },
  { method: "POST", path: "/threads/:thread/copy" },
  { method: "GET", path: "/threads/:thread/state", query: ["subgraphs"] },
  { method: "POST", path: "/threads/:thread/state", body: () => ({ values: { messages: [] }, as_node: "agent" }), variants: stateVariants },
  { method: "GET", path: "/threads/:thread/state/:checkpoint", query: ["subgraphs"] },
  { method: "POST", path: "/threads/:thread/state/checkpoint", body: (w) => ({ checkpoint: { checkpoint_id: w.checkpointId }, subgraphs: false }), variants: stateVariants },
  { method: "GET", path: "/threads/:thread/history", query: ["limit", "before"] },
  { method: "POST", path: "/threads/:thread/history", body: (w) => ({ limit: 5, before: w.checkpointId, metadata: {} }), variants: stateVariants },
  // runs
  { method: "GET", path: "/threads/:thread/runs", query: ["limit", "offset", "status"] },
  { method: "POST", path: "/threads/:thread/runs", body: runBody, resume: true, variants: runVariants },
  { method: "POST", path: "/threads/:thread/runs/wait", body: runBody, resume: true, variants: runVariants },
  { method: "POST", path: "/threads/:thread/runs/stream", body: runBody, resume: true, variants: runVariants },
  { method: "GET", path: "/threads/:thread/runs/:run" },
  { method: "DELETE", path: "/threads/:thread/runs/:run" },
  { method: "GET", path: "/threads/:thread/runs/:run/join" },
  { method: "GET", path: "/threads/:thread/runs/:run/stream", query: ["cancel_on_disconnect"] },
  { method: "POST", path: "/threads/:thread/runs/:run/cancel", query: ["wait", "action"] },
  { method: "POST", path: "/runs", body: runBody, variants: runVariants },
  { method: "POST", path: "/runs/wait", body: runBody, variants: runVariants },
  { method: "POST", path: "/runs/stream", body: runBody, variants: runVariants },
  { method: "POST", path: "/runs/batch", body: (w) => [runBody(w)], variants: (w) => fc.array(runVariants(w), { minLength: 1, maxLength: 3 }) },
  { method: "GET", path: "/runs/:run/stream", query: ["cancel_on_disconnect"] },
  { method: "POST", path: "/runs/crons", body: (w) => ({ thread_id: w.idle[0], assistant_id: w.assistantId, schedule: "* * * * *" }) },
  { method: "POST", path: "/runs/crons/search", body: () => ({ limit: 10 }) },
  { method: "DELETE", path: "/runs/crons/:cron" },
  { method: "POST", path: "/threads/:thread/runs/crons", body: (w) => ({ thread_id: w.idle[0], assistant_id: w.assistantId, schedule: "* * * * *" }) },
  { method: "GET", path: "/waypoint/runs/:run" },
  // the thread protocol (SSE over HTTP, and a WebSocket upgrade that a plain GET does not make)
  { method: "GET", path: "/threads/:thread/stream/events", subscription: true },
  { method: "POST", path: "/threads/:thread/stream/events", body: () => ({ channels: ["values"], since: 0 }), subscription: true },
  { method: "POST", path: "/threads/:thread/commands", body: () => ({ id: 1, method: "run.input", params: {} }) },
  // store
  { method: "PUT", path: "/store/items", body: () => ({ namespace: ["fuzz"], key: "k", value: { a: 1 } }) },
  { method: "GET", path: "/store/items", query: ["namespace", "key"] },
  { method: "DELETE", path: "/store/items", body: () => ({ namespace: ["fuzz"], key: "k" }) },
  { method: "POST", path: "/store/items/search", body: () => ({ namespace_prefix: ["fuzz"], limit: 10, offset: 0 }) },
  { method: "POST", path: "/store/namespaces", body: () => ({ prefix: ["fuzz"], limit: 10, offset: 0 }) },
  // audit
  { method: "POST", path: "/audit/search", body: (w) => ({ thread_id: w.review, limit: 10 }) },
  { method: "GET", path: "/audit/:audit" },
  { method: "POST", path: "/audit/:audit/flag", body: () => ({ reason: "look" }) },
  { method: "POST", path: "/audit/:audit/comments", body: () => ({ body: "a comment" }) },
  // no such route, and known paths with a method they do not take
  { method: "GET", path: "/nope/:thread" },
  { method: "PUT", path: "/threads" },
  { method: "PATCH", path: "/runs" },
  { method: "DELETE", path: "/store/namespaces" },
  { method: "HEAD", path: "/threads/:thread" },
  { method: "OPTIONS", path: "/threads/:thread/runs" },
];

function idArb(param: Param, w: WatchedIds): fc.Arbitrary<{ value: string; raw: boolean }> {
  const known: Record<Param, string[]> = {
    thread: [w.review, ...w.idle, w.foreign, w.run.threadId],
    run: [w.run.runId],
    assistant: [w.assistantId, "onboarding", "travel"],
    checkpoint: [w.checkpointId],
    cron: [],
    audit: [w.auditId],
    namespace: ["provisioning"],
  };
  const real = known[param];
  return fc.oneof(
    { weight: real.length ? 6 : 0, arbitrary: real.length ? fc.constantFrom(...real).map((value) => ({ value, raw: false })) : fc.constant({ value: "x", raw: false }) },
    { weight: 2, arbitrary: fc.uuid().map((value) => ({ value, raw: false })) },
    { weight: 3, arbitrary: hostileString().map((value) => ({ value, raw: false })) },
    // Raw: whatever percent-sequences the string holds reach the router undecoded by the client.
    { weight: 1, arbitrary: fc.constantFrom("%00", "%", "%zz", "%E0%A4%A", "..%2F..%2Fetc", "%2e%2e", "a%00b", "%C0%AE%C0%AE").map((value) => ({ value, raw: true })) },
  );
}

function queryValueArb(name: string, w: WatchedIds): fc.Arbitrary<string> {
  const good: Record<string, string[]> = {
    limit: ["1", "10"],
    offset: ["0", "5"],
    status: ["success", "pending", "idle"],
    before: [w.checkpointId],
    subgraphs: ["true", "false"],
    xray: ["true", "1", "false"],
    recurse: ["true", "false"],
    cancel_on_disconnect: ["true", "false"],
    wait: ["true", "false", "1", "0"],
    action: ["interrupt", "rollback"],
    delete_threads: ["true", "false"],
    namespace: ["fuzz", "fuzz.a"],
    key: ["k"],
    token: ["x"],
  };
  return fc.oneof(
    fc.constantFrom(...(Object.hasOwn(good, name) ? (good[name] as string[]) : ["x"])),
    fc.constantFrom("abc", "-1", "1e20", "0", "NaN", "1.5", "", "true", "99999999999999999999", "[]", "{}", "-0", " 1"),
    hostileString(),
  );
}

/** One request, as generated. */
export interface FuzzCase {
  route: Route;
  token: { kind: string; headers: Record<string, string> };
  params: Partial<Record<Param, { value: string; raw: boolean }>>;
  query: Array<[string, string]>;
  body: BodySpec | undefined;
  headers: Record<string, string>;
}

function tokenArb(tokens: FuzzTokens): fc.Arbitrary<FuzzCase["token"]> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant({ kind: "owner", headers: { authorization: `Bearer ${tokens.owner}` } }) },
    { weight: 1, arbitrary: fc.constant({ kind: "owner x-api-key", headers: { "x-api-key": tokens.owner } }) },
    { weight: 3, arbitrary: fc.constant({ kind: "other owner", headers: { authorization: `Bearer ${tokens.other}` } }) },
    { weight: 2, arbitrary: fc.constant({ kind: "none", headers: {} }) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          "Bearer nope",
          "Bearer ",
          "Bearer",
          `Basic ${Buffer.from("a:b").toString("base64")}`,
          `bearer ${tokens.owner} extra`,
          `Bearer ${tokens.owner}x`,
          `Bearer ${"t".repeat(5000)}`,
          `Bearer ${tokens.owner.slice(0, -1)}`,
        )
        .map((authorization) => ({ kind: "bad token", headers: { authorization } })),
    },
  );
}

/** The arbitrary of whole requests over every route. */
export function caseArb(tokens: FuzzTokens, w: WatchedIds, maxBodyBytes: number): fc.Arbitrary<FuzzCase> {
  // Routes that take a decision are picked more often: bad decisions on a waiting thread are a main hazard.
  const route = fc.oneof(...ROUTES.map((r) => ({ weight: r.resume ? 5 : 1, arbitrary: fc.constant(r) })));
  return route.chain((route) => {
    const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1] as Param);
    const params = fc.record(Object.fromEntries(names.map((n) => [n, idArb(n, w)])) as Record<Param, fc.Arbitrary<{ value: string; raw: boolean }>>) as fc.Arbitrary<FuzzCase["params"]>;
    const query = route.query ? fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...route.query) }, { weight: 1, arbitrary: hostileString() }), fc.constant("")), { maxLength: 3 }) : fc.constant([] as Array<[string, string]>);
    const queryWithValues = query.chain((pairs) => (pairs.length === 0 ? fc.constant(pairs) : fc.tuple(...pairs.map(([k]) => queryValueArb(k, w).map((v) => [k, v] as [string, string])))));
    const baseBody = route.body ? bodyArb(route.body(w), maxBodyBytes, route.variants?.(w)) : fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: bodyArb(undefined, maxBodyBytes) });
    // Decisions for the review: runs on the thread that waits, with a command that cannot be a whole valid answer.
    const resumeBody: fc.Arbitrary<BodySpec | undefined> = route.resume
      ? fc.record({ resume: badResume(w.interruptId), strategy: fc.constantFrom(undefined, "reject", "enqueue", "interrupt", "rollback", "sideways") }).map(({ resume, strategy }) => ({
          kind: "bad-decision",
          text: JSON.stringify({ assistant_id: "onboarding", command: { resume }, ...(strategy ? { multitask_strategy: strategy } : {}) }) ?? "null",
          contentType: "application/json",
        }))
      : fc.constant(undefined);
    const extraHeaders = fc.oneof(
      { weight: 8, arbitrary: fc.constant({}) },
      { weight: 1, arbitrary: hostileString().map((k) => ({ "idempotency-key": k })) },
      { weight: 1, arbitrary: fc.constantFrom("-1", "abc", "999999999999", "0").map((id) => ({ "last-event-id": id })) },
    );
    return fc
      .record({ token: tokenArb(tokens), params, query: queryWithValues, body: baseBody, resumeBody, useResume: fc.boolean(), headers: extraHeaders })
      .map(({ token, params, query, body: generated, resumeBody, useResume, headers }) => {
        // fetch sends no body with GET or HEAD: say so in the tables rather than count a body never sent.
        const body = route.method === "GET" || route.method === "HEAD" ? undefined : generated;
        // A bad decision goes to the thread that waits at its review.
        if (resumeBody && useResume) return { route, token, params: { ...params, thread: { value: w.review, raw: false } }, query, body: resumeBody, headers: sanitizeHeaders(headers) };
        return { route, token, params, query, body, headers: sanitizeHeaders(headers) };
      });
  });
}

/** Header values fetch can send at all (no control characters): what the server can be sent. */
function sanitizeHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    // eslint-disable-next-line no-control-regex
    out[k] = v.replace(/[\u0000-\u001f\u007f]/g, "").replace(/[^\u0020-\u00ff]/g, "?");
  }
  return out;
}

function encodeSegment(p: { value: string; raw: boolean }): string {
  if (p.raw) return p.value;
  try {
    return encodeURIComponent(p.value);
  } catch {
    return p.value.replace(/[\uD800-\uDFFF]/g, "%ED%A0%80");
  }
}

function urlOf(baseUrl: string, c: FuzzCase): string {
  const path = c.route.path.replace(/:(\w+)/g, (_, n: Param) => encodeSegment(c.params[n] ?? { value: "x", raw: false }));
  const qs = c.query.map(([k, v]) => `${encodeSegment({ value: k, raw: false })}=${encodeSegment({ value: v, raw: false })}`).join("&");
  return `${baseUrl}${path}${qs ? `?${qs}` : ""}`;
}

function labelOf(c: FuzzCase): string {
  const ids = Object.entries(c.params)
    .map(([k, v]) => `${k}=${JSON.stringify(v!.value.slice(0, 40))}${v!.raw ? "(raw)" : ""}`)
    .join(" ");
  const body = c.body ? `${c.body.kind}${c.body.contentType !== "application/json" ? ` [${c.body.contentType ?? "no content-type"}]` : ""}: ${(c.body.text ?? `<${c.body.streamBytes} bytes chunked>`).slice(0, 160)}` : "no body";
  const q = c.query.length ? ` ?${c.query.map(([k, v]) => `${k}=${JSON.stringify(v.slice(0, 30))}`).join("&")}` : "";
  return `${c.route.method} ${c.route.path}${q} (${c.token.kind}) ${ids} ${body}`;
}

// ---------------------------------------------------------------------------------------------------
// Snapshot: what a refused request must not change

export interface Snapshot {
  counts: Map<string, number>;
  threads: Map<string, string>;
  runs: Map<string, string>;
}

export class Snapshotter {
  private countSql: string | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly baseUrl: string,
    private readonly tokens: FuzzTokens,
  ) {}

  /** Every table of the database (waypoint.*, the checkpoint tables, the store, world.*). */
  private async sql(): Promise<string> {
    if (this.countSql) return this.countSql;
    const { rows } = await this.pool.query<{ s: string; t: string }>(
      "SELECT schemaname AS s, tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    );
    const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
    this.countSql = rows.map((r) => `SELECT '${r.s}.${r.t}' AS t, count(*)::int AS n FROM ${q(r.s)}.${q(r.t)}`).join(" UNION ALL ");
    return this.countSql;
  }

  async take(watched: WatchedIds): Promise<Snapshot> {
    // Counts and runs from one snapshot of the database: a stateless run's thread deleted by the worker in
    // between would otherwise show as a change in the counts that the runs do not explain.
    const client = await this.pool.connect();
    let counts: Array<{ t: string; n: number }>;
    let runs: Array<{ run_id: string; status: string }>;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      counts = (await client.query<{ t: string; n: number }>(await this.sql())).rows;
      runs = (await client.query<{ run_id: string; status: string }>("SELECT run_id, status FROM waypoint.runs")).rows;
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
    const threads = new Map<string, string>();
    const own = [watched.review, ...watched.idle];
    const reads = [...own.map((id) => [id, this.tokens.owner] as const), [watched.foreign, this.tokens.other] as const];
    await Promise.all(
      reads.map(async ([id, token]) => {
        threads.set(id, await getText(`${this.baseUrl}/threads/${id}`, token));
      }),
    );
    return { counts: new Map(counts.map((r) => [r.t, r.n])), threads, runs: new Map(runs.map((r) => [r.run_id, r.status])) };
  }

  /** Runs that are running or due: the worker is (or is about to be) changing things. */
  async active(): Promise<number> {
    // A stateless run's thread goes a moment after the run ends (on_completion "delete"): still active till then.
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM waypoint.runs r WHERE r.status = 'running' OR (r.status = 'pending' AND r.available_at <= now() + interval '2 seconds')
          OR (r.kwargs->>'temporary' = 'true' AND EXISTS (SELECT 1 FROM waypoint.threads t WHERE t.thread_id = r.thread_id))`,
    );
    return rows[0]?.n ?? 0;
  }
}

/** GET with one retry: a keep-alive socket the server closed after a refused upload is not the server's state. */
async function getText(url: string, token: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      return `${res.status} ${await res.text()}`;
    } catch (e) {
      if (attempt >= 2) throw e;
      await sleep(100);
    }
  }
}

export function diff(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const [t, n] of b.counts) if (a.counts.get(t) !== n) out.push(`${t}: ${a.counts.get(t) ?? "absent"} -> ${n} rows`);
  for (const [id, s] of b.threads) if (a.threads.get(id) !== s) out.push(`GET /threads/${id}: ${(a.threads.get(id) ?? "").slice(0, 200)} -> ${s.slice(0, 200)}`);
  for (const [id, s] of b.runs) if (a.runs.get(id) !== s) out.push(`run ${id}: ${a.runs.get(id) ?? "absent"} -> ${s}`);
  for (const id of a.runs.keys()) if (!b.runs.has(id)) out.push(`run ${id}: deleted`);
  return out;
}

/** Background work (runs that are due, running, or whose status moved): a difference might be theirs. */
function runsMoved(a: Snapshot, b: Snapshot): boolean {
  for (const [id, s] of a.runs) if (s === "pending" || s === "running" || b.runs.get(id) !== s) return true;
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Sending one request

interface Outcome {
  status: number | "hang" | "client_error";
  text: string;
  ms: number;
  openStream: boolean;
  detail?: string;
}

function chunkedBody(bytes: number): ReadableStream<Uint8Array> {
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  let sent = 0;
  let first = true;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) {
        controller.close();
        return;
      }
      if (first) {
        first = false;
        const head = new TextEncoder().encode('{"metadata":{"pad":"');
        sent += head.length;
        controller.enqueue(head);
        return;
      }
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

async function send(baseUrl: string, c: FuzzCase, timeoutMs: number): Promise<Outcome> {
  const started = Date.now();
  const ctl = new AbortController();
  let timer = setTimeout(() => ctl.abort(), timeoutMs);
  const headers: Record<string, string> = { ...c.token.headers, ...c.headers };
  if (c.body?.contentType) headers["content-type"] = c.body.contentType;
  const init: RequestInit & { duplex?: "half" } = { method: c.route.method, headers, signal: ctl.signal };
  if (c.body && c.route.method !== "GET" && c.route.method !== "HEAD") {
    if (c.body.streamBytes) {
      init.body = chunkedBody(c.body.streamBytes);
      init.duplex = "half";
    } else if (c.body.text !== undefined) init.body = c.body.text;
  }
  let status: number | undefined;
  let sse = false;
  try {
    const res = await fetch(urlOf(baseUrl, c), init);
    status = res.status;
    sse = (res.headers.get("content-type") ?? "").includes("text/event-stream");
    if (sse && c.route.subscription) {
      // A subscription that answered is working as designed: listen a moment, then hang up.
      clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(), 1_000);
    }
    const text = await res.text();
    return { status, text, ms: Date.now() - started, openStream: false };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (ctl.signal.aborted) {
      if (status !== undefined && sse && c.route.subscription) return { status, text: "", ms: Date.now() - started, openStream: true };
      return { status: "hang", text: "", ms: Date.now() - started, openStream: false, detail: status === undefined ? "no status" : `status ${status}, body never ended` };
    }
    // The server closing the connection on a body past the limit is an answer too (after its 413).
    if (status !== undefined) return { status, text: "", ms: Date.now() - started, openStream: false };
    return { status: "client_error", text: "", ms: Date.now() - started, openStream: false, detail: `${err.message}${err.cause ? `: ${err.cause.code ?? ""} ${err.cause.message ?? ""}` : ""}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Peak resident set size in MB: of the child (from /proc) or of this process (sampled). */
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return process.memoryUsage.rss() / 1048576;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return hwm ? Number(hwm) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------------
// The runner

/**
 * Send `cases` generated requests one at a time. Before each, the server settles (no run due or
 * running); a refused (4xx) request is bracketed by snapshots, and any difference is reported (after a
 * replay, when a background run could explain it).
 */
export async function fuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 3 });
  const snap = new Snapshotter(pool, opts.baseUrl, opts.tokens);
  const watched: WatchedIds = structuredClone(opts.watched);
  const report: FuzzReport = {
    cases: opts.cases,
    byStatus: {},
    byRoute: {},
    byKind: {},
    acceptedDecisions: [],
    hugeAccepted: [],
    serverErrors: [],
    hangs: [],
    refusedChanges: [],
    unclear: [],
    openStreams: 0,
    clientErrors: [],
    closedUploads: 0,
    reviewsRemade: 0,
    peakRssMb: 0,
    rssOf: opts.serverPid === undefined ? "this process" : "server",
    wallMs: 0,
  };
  const started = Date.now();
  let peakInProcess = rssMb(opts.serverPid);
  const sampler = opts.serverPid === undefined ? setInterval(() => (peakInProcess = Math.max(peakInProcess, rssMb(undefined))), 50) : undefined;
  try {
    // Generated in batches, so that a remade review thread is what later cases aim their decisions at.
    const batch = 25;
    let index = 0;
    for (let from = 0; from < opts.cases; from += batch) {
      const n = Math.min(batch, opts.cases - from);
      const cases = fc.sample(caseArb(opts.tokens, watched, opts.maxBodyBytes), { numRuns: n, seed: opts.seed + from });
      for (const c of cases) {
        await settle(snap);
        await keepReview(opts, snap, watched, report);
        const before = await snap.take(watched);
        let out = await send(opts.baseUrl, c, timeoutMs);
        const label = labelOf(c);
        const result = (o: Outcome): CaseResult => ({ index, label, method: c.route.method, path: urlOf("", c).slice(0, 300), status: o.status, ms: o.ms, ...(o.detail ? { detail: o.detail } : {}) });
        if (typeof out.status === "number" && out.status >= 400 && out.status < 500) {
          let after = await snap.take(watched);
          let changes = diff(before, after);
          if (changes.length && runsMoved(before, after)) {
            // A background run may have moved on in between: settle and send the same request again.
            await settle(snap);
            const again = await snap.take(watched);
            const replay = await send(opts.baseUrl, c, timeoutMs);
            after = await snap.take(watched);
            changes = typeof replay.status === "number" && replay.status >= 400 && replay.status < 500 && !runsMoved(again, after) ? diff(again, after) : [];
            out = replay.status === "hang" ? replay : out;
          }
          if (changes.length) report.refusedChanges.push({ ...result(out), changes });
          // A refusal says what was wrong: a message (JSON) or at least some text.
          // (431 and 414 come from Node's HTTP parser before any route runs: their status line is the message.)
          if (out.text.trim().length === 0 && out.status !== 431 && out.status !== 414 && c.route.method !== "HEAD") report.unclear.push({ ...result(out), detail: "empty body" });
        }
        const key = String(out.status);
        report.byStatus[key] = (report.byStatus[key] ?? 0) + 1;
        const routeKey = `${c.route.method} ${c.route.path}`;
        const r = (report.byRoute[routeKey] ??= {});
        r[key] = (r[key] ?? 0) + 1;
        const kind = c.body?.kind ?? "no body";
        const k = (report.byKind[kind] ??= {});
        k[key] = (k[key] ?? 0) + 1;
        if (kind === "bad-decision" && typeof out.status === "number" && out.status < 300) report.acceptedDecisions.push({ ...result(out), detail: out.text.slice(0, 300) });
        // (A CORS preflight answers without reading any body: nothing was accepted.)
        if (kind.startsWith("huge") && c.route.method !== "OPTIONS" && typeof out.status === "number" && out.status < 400) report.hugeAccepted.push({ ...result(out), detail: out.text.slice(0, 200) });
        if (out.openStream) report.openStreams++;
        if (out.status === "hang") report.hangs.push({ ...result(out), detail: `${out.detail}` });
        else if (out.status === "client_error" && c.body?.kind.startsWith("huge") && /EPIPE|ECONNRESET|other side closed|UND_ERR_SOCKET/.test(out.detail ?? "")) report.closedUploads++;
        else if (out.status === "client_error") report.clientErrors.push(result(out));
        else if (out.status >= 500) report.serverErrors.push({ ...result(out), detail: out.text.slice(0, 300) });
        index++;
        if (opts.progress && index % Math.max(1, Math.floor(opts.cases / 10)) === 0) opts.progress(`${index}/${opts.cases} cases, ${Math.round((Date.now() - started) / 1000)} s`);
      }
    }
  } finally {
    if (sampler) clearInterval(sampler);
    await pool.end();
  }
  report.peakRssMb = Math.round(opts.serverPid === undefined ? peakInProcess : rssMb(opts.serverPid));
  report.wallMs = Date.now() - started;
  return report;
}

/** Wait (a while) until no run is running or due: what a worker does must not land inside a bracket. */
async function settle(snap: Snapshotter, maxMs = 30_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    if ((await snap.active()) === 0) return;
    await sleep(50);
  }
}

/** When an accepted request answered (or deleted) the watched review, make a new one to aim at. */
async function keepReview(opts: FuzzOptions, snap: Snapshotter, w: WatchedIds, report: FuzzReport): Promise<void> {
  if (!opts.remakeReview) return;
  const got = await getText(`${opts.baseUrl}/threads/${w.review}`, opts.tokens.owner);
  const t = got.startsWith("200 ") ? (JSON.parse(got.slice(4)) as { status?: string }) : undefined;
  if (t?.status === "interrupted") return;
  const made = await opts.remakeReview();
  Object.assign(w, made);
  report.reviewsRemade++;
  await settle(snap);
}

// ---------------------------------------------------------------------------------------------------
// Setting up the watched threads over HTTP (the same in-process and against a child server)

const HIRE = { name: "Fuzz Lovelace", department: "Engineering", manager: "grace.hopper@acme.test", privileges: ["github:write", "prod-db:read"] };

async function call<T>(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** A new onboarding thread of the owner, run to its review (interrupted, waiting for a decision). */
export async function makeReview(baseUrl: string, token: string, tag: string): Promise<{ review: string; interruptId: string; checkpointId: string }> {
  const t = await call<{ thread_id: string }>(baseUrl, token, "POST", "/threads", { metadata: { fuzz: "review" } });
  await call(baseUrl, token, "POST", `/threads/${t.thread_id}/runs/wait`, { assistant_id: "onboarding", input: { hire: { ...HIRE, email: `${tag}@acme.test` } } });
  const got = await call<{ status: string; interrupts: Record<string, Array<{ id: string }>> }>(baseUrl, token, "GET", `/threads/${t.thread_id}`);
  const interruptId = Object.values(got.interrupts).flat()[0]?.id;
  if (got.status !== "interrupted" || !interruptId) throw new Error(`the review thread is ${got.status}, not waiting at its review`);
  const state = await call<{ checkpoint: { checkpoint_id: string } }>(baseUrl, token, "GET", `/threads/${t.thread_id}/state`);
  return { review: t.thread_id, interruptId, checkpointId: state.checkpoint.checkpoint_id };
}

/** The watched threads: an idle new one, an idle finished one (with a run), one at its review, the other owner's. */
export async function prepareWatched(baseUrl: string, tokens: FuzzTokens): Promise<WatchedIds> {
  const idleNew = await call<{ thread_id: string }>(baseUrl, tokens.owner, "POST", "/threads", { metadata: { fuzz: "idle" } });
  const finished = await makeReview(baseUrl, tokens.owner, "fuzz-finished");
  await call(baseUrl, tokens.owner, "POST", `/threads/${finished.review}/runs/wait`, { assistant_id: "onboarding", command: { resume: { [finished.interruptId]: { decisions: [{ type: "approve" }] } } } });
  const runs = await call<Array<{ run_id: string }>>(baseUrl, tokens.owner, "GET", `/threads/${finished.review}/runs`);
  const review = await makeReview(baseUrl, tokens.owner, "fuzz-review");
  const foreign = await call<{ thread_id: string }>(baseUrl, tokens.other, "POST", "/threads", { metadata: { fuzz: "foreign" } });
  const audit = await call<Array<{ id: number }>>(baseUrl, tokens.owner, "POST", "/audit/search", { limit: 1 });
  const assistants = await call<Array<{ assistant_id: string }>>(baseUrl, tokens.owner, "POST", "/assistants/search", { graph_id: "onboarding" });
  return {
    idle: [idleNew.thread_id, finished.review],
    ...review,
    foreign: foreign.thread_id,
    run: { runId: runs[0]?.run_id ?? "00000000-0000-0000-0000-000000000000", threadId: finished.review },
    assistantId: assistants[0]?.assistant_id ?? "onboarding",
    auditId: String(audit[0]?.id ?? 1),
  };
}

// ---------------------------------------------------------------------------------------------------
// The summary table

export function formatReport(r: FuzzReport): string {
  const lines: string[] = [];
  const pad = (s: string, n: number) => s.padEnd(n);
  lines.push(`fuzz: ${r.cases} requests in ${(r.wallMs / 1000).toFixed(1)} s`);
  lines.push("");
  lines.push(`${pad("status", 14)}requests`);
  for (const [k, v] of Object.entries(r.byStatus).sort(([a], [b]) => a.localeCompare(b))) lines.push(`${pad(k, 14)}${v}`);
  lines.push("");
  lines.push(`${pad("5xx", 48)}${r.serverErrors.length}`);
  lines.push(`${pad("hangs", 48)}${r.hangs.length}`);
  lines.push(`${pad("state changes caused by refused requests", 48)}${r.refusedChanges.length}`);
  lines.push(`${pad("4xx without a message", 48)}${r.unclear.length}`);
  lines.push(`${pad("subscriptions open at the timeout", 48)}${r.openStreams}`);
  lines.push(`${pad("uploads past the limit cut off by the server", 48)}${r.closedUploads}`);
  lines.push(`${pad("other client-side errors", 48)}${r.clientErrors.length}`);
  lines.push(`${pad("review threads remade", 48)}${r.reviewsRemade}`);
  lines.push(`${pad("routes exercised", 48)}${Object.keys(r.byRoute).length} of ${ROUTES.length}`);
  lines.push(`${pad(r.rssOf === "server" ? "peak server RSS (MB)" : "peak RSS of this process (server and fuzz, MB)", 48)}${r.peakRssMb}`);
  lines.push("", "by kind of body (status: requests):");
  for (const [kind, byStatus] of Object.entries(r.byKind).sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${kind.padEnd(20)}${Object.entries(byStatus).map(([s, n]) => `${s}: ${n}`).join(", ")}`);
  const show = (title: string, xs: Array<CaseResult & { changes?: string[] }>) => {
    if (!xs.length) return;
    lines.push("", `${title}:`);
    for (const x of xs.slice(0, 20)) lines.push(`  #${x.index} ${x.status} ${x.label}${x.detail ? `\n      ${x.detail}` : ""}${x.changes ? `\n      ${x.changes.join("\n      ")}` : ""}`);
    if (xs.length > 20) lines.push(`  ... and ${xs.length - 20} more`);
  };
  show("5xx", r.serverErrors);
  show("hangs", r.hangs);
  show("changed by refused requests", r.refusedChanges);
  show("4xx without a message", r.unclear);
  show("client-side errors", r.clientErrors);
  show("bad decisions accepted", r.acceptedDecisions);
  show("bodies past the limit accepted", r.hugeAccepted);
  return lines.join("\n");
}
