// The model-call failure ladder: retries, Retry-After, the circuit breaker, failover, error classification.
// Scripted models throw errors shaped like the OpenAI SDK's (an Error with status and headers); delays are tiny.
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { WaypointError } from "../src/errors.js";
import { classifyModelError, invokeWithLadder, resetBreakers, type LadderOptions, type ToolDefinition } from "../src/models/ladder.js";
import { ScriptedChatModel } from "../src/models/scripted.js";

const tools: ToolDefinition[] = [{ type: "function", function: { name: "lookup", description: "Look a thing up", parameters: { type: "object", properties: {} } } }];
const messages = [new HumanMessage("hello")];
const fast: LadderOptions = { initialDelayMs: 1, maxDelayMs: 20, halfOpenAfterMs: 60_000 };

function httpError(status: number, headers: Record<string, string> | Headers = {}): Error {
  return Object.assign(new Error(`${status} status code (no body)`), { status, headers });
}

/** A model that plays `script` step by step (the last step repeats): an Error is thrown, a string is the reply. */
function scripted(label: string, script: Array<Error | string>) {
  let calls = 0;
  const seenTools: string[][] = [];
  const model = new ScriptedChatModel({
    label,
    respond: (_messages, bound) => {
      seenTools.push(bound.map((t) => t.name));
      const step = script[Math.min(calls, script.length - 1)];
      calls++;
      if (step instanceof Error) throw step;
      return new AIMessage(step ?? "");
    },
  });
  return { model, calls: () => calls, seenTools };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

beforeEach(() => resetBreakers());

describe("invokeWithLadder: retries", () => {
  test("succeeds after two 500s: exactly 3 invocations, tools bound, two retries reported", async () => {
    const primary = scripted("primary", [httpError(500), httpError(500), "ok"]);
    const retries: Array<{ attempt: number; delayMs: number; reason: string }> = [];
    const reply = await invokeWithLadder({ primary: primary.model, tools, messages, options: { ...fast, maxAttempts: 3, onRetry: (e) => retries.push(e) } });
    expect(reply.content).toBe("ok");
    expect(primary.calls()).toBe(3);
    expect(primary.seenTools[0]).toEqual(["lookup"]);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retries.every((r) => r.delayMs >= 0 && r.delayMs <= 20 && r.reason.startsWith("HTTP 500"))).toBe(true);
  });

  test("a 429 with retry-after-ms is honoured, even above maxDelayMs", async () => {
    const primary = scripted("primary", [httpError(429, { "retry-after-ms": "30" }), "ok"]);
    const delays: number[] = [];
    const reply = await invokeWithLadder({ primary: primary.model, tools, messages, options: { ...fast, onRetry: (e) => delays.push(e.delayMs) } });
    expect(reply.content).toBe("ok");
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(30);
  });

  test("a 400 is thrown at once, unchanged, without trying the fallback", async () => {
    const bad = httpError(400);
    const primary = scripted("primary", [bad]);
    const fallback = scripted("fallback", ["ok"]);
    const err = await failure(invokeWithLadder({ primary: primary.model, fallback: fallback.model, tools, messages, options: fast }));
    expect(err).toBe(bad);
    expect(primary.calls()).toBe(1);
    expect(fallback.calls()).toBe(0);
  });

  test("a programming error (TypeError) is thrown at once, unchanged", async () => {
    const bug = new TypeError("cannot read properties of undefined");
    const primary = scripted("primary", [bug]);
    expect(await failure(invokeWithLadder({ primary: primary.model, tools, messages, options: fast }))).toBe(bug);
    expect(primary.calls()).toBe(1);
  });

  test("exhausted retries end in model_unavailable naming the model, the attempts and the last error", async () => {
    const primary = scripted("primary-model", [httpError(503)]);
    const err = await failure(invokeWithLadder({ primary: primary.model, tools, messages, options: { ...fast, maxAttempts: 3 } }));
    expect(primary.calls()).toBe(3);
    expect(err).toBeInstanceOf(WaypointError);
    const we = err as WaypointError;
    expect(we.code).toBe("model_unavailable");
    expect(we.message).toMatch(/primary-model/);
    expect(we.message).toMatch(/3 attempts/);
    expect(we.message).toMatch(/HTTP 503/);
    expect(we.details).toEqual({ model: "primary-model", attempts: 3, status: 503, fallback: null });
  });

  test("maxAttempts 1 means a single invocation", async () => {
    const primary = scripted("primary", [httpError(500)]);
    const err = await failure(invokeWithLadder({ primary: primary.model, tools, messages, options: { ...fast, maxAttempts: 1 } }));
    expect(primary.calls()).toBe(1);
    expect((err as WaypointError).message).toMatch(/1 attempt;/);
  });

  test("a Retry-After beyond five minutes is not waited out", async () => {
    const primary = scripted("primary", [httpError(429, { "retry-after": "600" })]);
    const err = await failure(invokeWithLadder({ primary: primary.model, tools, messages, options: fast }));
    expect(primary.calls()).toBe(1);
    expect((err as WaypointError).code).toBe("model_unavailable");
    expect((err as WaypointError).message).toMatch(/asked to wait 600 s/);
  });

  test("the RunnableConfig reaches the model (LangGraph callbacks ride on it)", async () => {
    const primary = scripted("primary", ["ok"]);
    let started = 0;
    await invokeWithLadder({ primary: primary.model, tools, messages, config: { callbacks: [{ handleChatModelStart: () => void started++ }] }, options: fast });
    expect(started).toBe(1);
  });

  test("a model without bindTools is refused clearly", async () => {
    const primary = scripted("primary", ["ok"]);
    Object.assign(primary.model, { bindTools: undefined });
    expect(String(await failure(invokeWithLadder({ primary: primary.model, tools, messages, options: fast })))).toMatch(/cannot bind tools/);
  });
});

describe("invokeWithLadder: breaker and fallback", () => {
  test("exhausted retries fail over to the fallback", async () => {
    const primary = scripted("primary", [httpError(502)]);
    const fallback = scripted("fallback", ["from fallback"]);
    const reply = await invokeWithLadder({ primary: primary.model, fallback: fallback.model, tools, messages, options: { ...fast, maxAttempts: 2 } });
    expect(reply.content).toBe("from fallback");
    expect(primary.calls()).toBe(2);
    expect(fallback.calls()).toBe(1);
  });

  test("the breaker opens after the threshold and the next call goes straight to the fallback", async () => {
    const primary = scripted("primary", [httpError(503)]);
    const fallback = scripted("fallback", ["from fallback"]);
    const options = { ...fast, maxAttempts: 2, breakerThreshold: 2 };
    for (let i = 0; i < 2; i++) await invokeWithLadder({ primary: primary.model, fallback: fallback.model, tools, messages, options });
    expect(primary.calls()).toBe(4); // Two calls of two attempts: each whole call counts once against the breaker.
    const reply = await invokeWithLadder({ primary: primary.model, fallback: fallback.model, tools, messages, options });
    expect(reply.content).toBe("from fallback");
    expect(primary.calls()).toBe(4);
    expect(fallback.calls()).toBe(3);
  });

  test("an open breaker with no fallback is model_unavailable with 0 attempts", async () => {
    const primary = scripted("primary", [httpError(500)]);
    const options = { ...fast, maxAttempts: 1, breakerThreshold: 1 };
    await failure(invokeWithLadder({ primary: primary.model, tools, messages, options }));
    const err = (await failure(invokeWithLadder({ primary: primary.model, tools, messages, options }))) as WaypointError;
    expect(primary.calls()).toBe(1);
    expect(err.code).toBe("model_unavailable");
    expect(err.message).toMatch(/circuit breaker is open.*HTTP 500/);
    expect(err.details).toMatchObject({ model: "primary", attempts: 0 });
  });

  test("when the fallback fails too, the error names both models", async () => {
    const primary = scripted("primary", [httpError(500)]);
    const fallback = scripted("fallback", [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })]);
    const err = (await failure(invokeWithLadder({ primary: primary.model, fallback: fallback.model, tools, messages, options: { ...fast, maxAttempts: 2 } }))) as WaypointError;
    expect(err.code).toBe("model_unavailable");
    expect(err.message).toMatch(/primary.*2 attempts.*HTTP 500.*Fallback fallback.*2 attempts.*ECONNRESET/);
    expect(err.details).toMatchObject({ model: "primary", attempts: 2, status: 500, fallback: "fallback", fallbackAttempts: 2 });
  });
});

describe("classifyModelError", () => {
  test("statuses: 408/409/429/5xx retry, other 4xx do not", () => {
    for (const s of [408, 409, 429, 500, 503]) expect(classifyModelError(httpError(s)).retryable).toBe(true);
    for (const s of [400, 401, 403, 404, 422]) expect(classifyModelError(httpError(s))).toMatchObject({ retryable: false, status: s });
  });

  test("Retry-After from a Headers instance (seconds)", () => {
    expect(classifyModelError(httpError(429, new Headers({ "retry-after": "2" })))).toMatchObject({ retryable: true, status: 429, retryAfterMs: 2000 });
  });

  test("Retry-After from a plain object, any case; retry-after-ms wins", () => {
    expect(classifyModelError(httpError(429, { "Retry-After": "3" })).retryAfterMs).toBe(3000);
    expect(classifyModelError(httpError(429, { "retry-after": "3", "retry-after-ms": "250" })).retryAfterMs).toBe(250);
  });

  test("Retry-After as an HTTP date", () => {
    const at = new Date(Date.now() + 10_000).toUTCString(); // Whole seconds: up to 1 s earlier than asked.
    const ms = classifyModelError(httpError(503, { "retry-after": at })).retryAfterMs ?? -1;
    expect(ms).toBeGreaterThan(8_000);
    expect(ms).toBeLessThanOrEqual(10_000);
    expect(classifyModelError(httpError(503, { "retry-after": new Date(0).toUTCString() })).retryAfterMs).toBe(0);
  });

  test("status and headers on err.response; LangChain's MODEL_RATE_LIMIT", () => {
    expect(classifyModelError({ message: "x", response: { status: 503, headers: { "retry-after": "1" } } })).toMatchObject({ retryable: true, status: 503, retryAfterMs: 1000 });
    expect(classifyModelError(Object.assign(new Error("rate limited"), { lc_error_code: "MODEL_RATE_LIMIT" }))).toMatchObject({ retryable: true, status: 429 });
  });

  test("network codes and connection/timeouts retry; programming errors and user aborts do not", () => {
    for (const code of ["ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EPIPE", "EAI_AGAIN"]) expect(classifyModelError(Object.assign(new Error("net"), { code })).retryable).toBe(true);
    expect(classifyModelError(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })).retryable).toBe(true);
    for (const name of ["APIConnectionError", "APIConnectionTimeoutError", "TimeoutError"]) expect(classifyModelError(Object.assign(new Error("x"), { name })).retryable).toBe(true);
    expect(classifyModelError(Object.assign(new Error("Request timed out."), { name: "AbortError" })).retryable).toBe(true);
    expect(classifyModelError(Object.assign(new Error("This operation was aborted"), { name: "AbortError" })).retryable).toBe(false);
    expect(classifyModelError(new TypeError("x is not a function"))).toMatchObject({ retryable: false, reason: "TypeError: x is not a function" });
    expect(classifyModelError("a string").retryable).toBe(false);
  });
});
