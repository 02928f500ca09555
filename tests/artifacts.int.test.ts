// Artifacts against real Postgres: a 5 MB tool output is stored once in waypoint.artifacts and only a
// small reference reaches the ledger, the ToolMessage and the checkpoints; read_artifact pages through
// it; outputs under the threshold are untouched.
import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { END, MessagesDeltaValue, START, StateGraph, StateSchema } from "@langchain/langgraph";
import type pg from "pg";
import { z } from "zod";
import type { AgentContext } from "../src/agents/context.js";
import { createAgentNode, createDoubtNode, createToolsNode, routeAfterAgent, routeAfterTools } from "../src/agents/index.js";
import { ScriptedChatModel } from "../src/models/index.js";
import { openPersistence, type Persistence } from "../src/persistence/index.js";
import {
  durableTool,
  executeToolCalls,
  isArtifactRef,
  ledgerRows,
  readArtifact,
  readArtifactTool,
  type ArtifactRef,
  type DurableTool,
  type ExecuteContext,
} from "../src/tools/index.js";
import { createWorld } from "../src/world/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";
import { withRunScope } from "../src/scope/index.js";
import { testScope } from "./support/agents.js";

let db: TestDatabase;
let persistence: Persistence;
let pool: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase("artifacts");
  persistence = await openPersistence({ url: db.url, poolMax: 4 });
  pool = persistence.db.pool;
});
afterAll(async () => {
  await persistence.close();
  await db.drop();
});

const FAST = { initialDelayMs: 1, maxDelayMs: 5 };
const MB = 1024 * 1024;

/** A report of about 5 MB of JSON (50,000 rows of ~100 bytes). */
function bigReport(): Record<string, unknown> {
  const rows = Array.from({ length: 50_000 }, (_, i) => ({ id: i, name: `employee-${i}`, note: `row ${i} of the quarterly access review; nothing unusual`.padEnd(60, ".") }));
  return { title: "access review", rows };
}

let bigRuns = 0;
const reportTool = durableTool({
  name: "access_report",
  description: "The full access review report (large).",
  risk: "read",
  schema: z.object({ quarter: z.string().describe("Quarter, e.g. 2025Q1") }),
  async run() {
    bigRuns++;
    return bigReport();
  },
});

const echoTool = durableTool({
  name: "echo",
  description: "Returns its input.",
  risk: "compute",
  schema: z.object({ text: z.string().describe("Anything") }),
  async run(args) {
    return { echoed: args.text };
  },
});

const TOOLS = [reportTool, echoTool, readArtifactTool] as unknown as DurableTool[];

function call(id: string, name: string, args: Record<string, unknown>): ToolCall {
  return { id, name, args, type: "tool_call" };
}

function ctx(threadId: string, artifactBytes?: number): ExecuteContext {
  return { pool, config: { context: { world: createWorld(pool, { faults: null }) } }, threadId, checkpointNs: "", toolRetry: FAST, ...(artifactBytes !== undefined ? { artifactBytes } : {}) };
}

async function artifactRows(): Promise<Array<{ artifact_id: string; bytes: string; body_bytes: number; thread_id: string; tool: string }>> {
  const { rows } = await pool.query("SELECT artifact_id, bytes, octet_length(body) AS body_bytes, thread_id, tool FROM waypoint.artifacts ORDER BY created_at");
  return rows;
}

/** Bytes one thread takes in the checkpointer's three tables. */
async function checkpointBytes(threadId: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs WHERE thread_id = $1)
          + (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_writes WHERE thread_id = $1)
          + (SELECT coalesce(sum(octet_length(checkpoint::text) + octet_length(metadata::text)), 0) FROM checkpoints WHERE thread_id = $1) AS n`,
    [threadId],
  );
  return Number(rows[0]?.n ?? 0);
}

function contentOf(m: BaseMessage): string {
  return typeof m.content === "string" ? m.content : JSON.stringify(m.content);
}

describe("a 5 MB tool output in an agent loop", () => {
  const State = new StateSchema({ messages: MessagesDeltaValue });

  function buildGraph() {
    return new StateGraph(State)
      .addNode("agent", createAgentNode<typeof State.State>({ tools: TOOLS, systemPrompt: () => "You audit access." }))
      .addNode("tools", createToolsNode(TOOLS))
      .addNode("doubt", createDoubtNode(TOOLS))
      .addEdge(START, "agent")
      .addConditionalEdges("agent", routeAfterAgent("tools", END), ["tools", END])
      .addConditionalEdges("tools", routeAfterTools("doubt", "agent"), ["doubt", "agent"])
      .addEdge("doubt", "tools");
  }

  /** Turn 1 asks for the report; turn 2 reads a page of the artifact it got; turns 3-6 echo; then done. */
  function scriptedModel() {
    let turn = 0;
    const seen: BaseMessage[][] = [];
    const model = new ScriptedChatModel({
      label: "artifact-script",
      respond: (messages) => {
        seen.push(messages);
        turn++;
        const ai = (calls: ToolCall[]) => new AIMessage({ id: `ai-${turn}`, content: "", tool_calls: calls });
        if (turn === 1) return ai([call("c1", "access_report", { quarter: "2025Q1" })]);
        if (turn === 2) {
          const ref = JSON.parse(contentOf(messages.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === "c1")!)) as ArtifactRef;
          return ai([call("c2", "read_artifact", { artifact: ref.artifact, offset: 100, length: 500 })]);
        }
        if (turn <= 6) return ai([call(`c${turn}`, "echo", { text: `step ${turn}` })]);
        return new AIMessage({ id: `ai-${turn}`, content: "Audit finished." });
      },
    });
    return { model, seen };
  }

  test("is stored once as an artifact; state, ledger and checkpoints carry only the reference", async () => {
    const graph = buildGraph().compile({ checkpointer: persistence.saver });
    const { model, seen } = scriptedModel();
    const context = { world: createWorld(pool, { faults: null }), model, fallbackModel: null, toolRetry: FAST } satisfies AgentContext & { world: unknown };
    const threadId = "artifact-thread";
    const final = await withRunScope(testScope(pool, threadId), () =>
      graph.invoke({ messages: [new HumanMessage({ id: "task", content: "Audit Q1 access." })] }, { configurable: { thread_id: threadId }, context, durability: "sync" }),
    );

    // The loop ran: report, read, four echoes, final answer (7 model turns, 6 tool steps).
    expect(seen).toHaveLength(7);
    expect(contentOf(final.messages[final.messages.length - 1]!)).toBe("Audit finished.");
    expect(bigRuns).toBe(1);

    // One artifact row of ~5 MB, holding the full output.
    const arts = await artifactRows();
    expect(arts).toHaveLength(1);
    const art = arts[0]!;
    expect(art.body_bytes).toBeGreaterThan(4.5 * MB);
    expect(Number(art.bytes)).toBe(art.body_bytes);
    expect(art).toMatchObject({ thread_id: threadId, tool: "access_report" });

    // The ToolMessage in state holds the reference, with a preview and a note naming the reader tool.
    const toolMsg = final.messages.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === "c1")!;
    expect(contentOf(toolMsg).length).toBeLessThan(4000);
    const ref = JSON.parse(contentOf(toolMsg)) as ArtifactRef;
    expect(isArtifactRef(ref)).toBe(true);
    expect(ref).toMatchObject({ artifact: art.artifact_id, bytes: art.body_bytes, mediaType: "application/json" });
    expect(ref.preview.startsWith('{"title":"access review","rows":[{"id":0,')).toBe(true);
    expect(ref.note).toContain("read_artifact");

    // The model read a page of it through read_artifact: the exact slice of the stored JSON.
    const fullJson = JSON.stringify(bigReport());
    const page = JSON.parse(contentOf(final.messages.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === "c2")!)) as { text: string; nextOffset: number };
    expect(page.text).toBe(fullJson.slice(100, 600));
    expect(page.nextOffset).toBe(600);

    // The ledger recorded the reference, not 5 MB (so a replay answers with the reference too).
    const rows = await ledgerRows(pool, threadId);
    const reportRow = rows.find((r) => r.tool_call_id === "c1")!;
    expect(reportRow.result).toEqual(ref);
    const { rows: ledgerSize } = await pool.query<{ n: string }>("SELECT sum(octet_length(result::text)) AS n FROM waypoint.tool_calls WHERE thread_id = $1", [threadId]);
    expect(Number(ledgerSize[0]?.n)).toBeLessThan(20_000);

    // Every checkpoint of the thread together stays far below the output's size.
    const cpBytes = await checkpointBytes(threadId);
    expect(cpBytes).toBeGreaterThan(0);
    expect(cpBytes).toBeLessThan(1 * MB);
  });

  test("a replayed call answers with the same reference and stores nothing twice", async () => {
    const before = await artifactRows();
    const runsBefore = bigRuns;
    const { messages } = await executeToolCalls([call("c1", "access_report", { quarter: "2025Q1" })], TOOLS, ctx("artifact-thread"));
    expect(bigRuns).toBe(runsBefore);
    expect(isArtifactRef(JSON.parse(contentOf(messages[0]!)))).toBe(true);
    // The same output from another thread is the same content-addressed row.
    await executeToolCalls([call("other-1", "access_report", { quarter: "2025Q1" })], TOOLS, ctx("artifact-other-thread"));
    expect(bigRuns).toBe(runsBefore + 1);
    expect(await artifactRows()).toHaveLength(before.length);
  });
});

describe("threshold and reading", () => {
  test("a result under the threshold is recorded and answered unchanged", async () => {
    const before = (await artifactRows()).length;
    const { messages } = await executeToolCalls([call("small-1", "echo", { text: "hello" })], TOOLS, ctx("small-thread", 1024));
    expect(contentOf(messages[0]!)).toBe(JSON.stringify({ echoed: "hello" }));
    const rows = await ledgerRows(pool, "small-thread");
    expect(rows[0]?.result).toEqual({ echoed: "hello" });
    expect(await artifactRows()).toHaveLength(before);
  });

  test("the threshold can be lowered per execution (bytes of the serialised JSON)", async () => {
    const text = "é".repeat(600); // 1,200 bytes of UTF-8 but 600 characters: over a 1,024-byte threshold
    const { messages } = await executeToolCalls([call("mid-1", "echo", { text })], TOOLS, ctx("mid-thread", 1024));
    const ref = JSON.parse(contentOf(messages[0]!)) as ArtifactRef;
    expect(isArtifactRef(ref)).toBe(true);
    expect(ref.bytes).toBe(Buffer.byteLength(JSON.stringify({ echoed: text })));
    expect(ref.chars).toBe(JSON.stringify({ echoed: text }).length);
    // Pages count characters, as the reference's `chars` does.
    const page = await readArtifact(pool, ref.artifact, { offset: 11, length: 5 });
    expect(page).toMatchObject({ text: "ééééé", offset: 11, nextOffset: 16, chars: ref.chars, bytes: ref.bytes });
    const last = await readArtifact(pool, ref.artifact, { offset: ref.chars - 2 });
    expect(last).toMatchObject({ text: '"}', nextOffset: null });
  });

  test("an unknown artifact id is a clear error, for code and for the model", async () => {
    await expect(readArtifact(pool, "art_0000000000000000")).rejects.toThrow(/There is no artifact "art_0000000000000000"/);
    const { messages } = await executeToolCalls([call("read-missing", "read_artifact", { artifact: "art_0000000000000000" })], TOOLS, ctx("missing-thread"));
    expect(messages[0]).toMatchObject({ status: "error" });
    expect(contentOf(messages[0]!)).toMatch(/There is no artifact "art_0000000000000000"/);
    const bad = await executeToolCalls([call("read-bad", "read_artifact", { artifact: "report.json" })], TOOLS, ctx("missing-thread"));
    expect(contentOf(bad.messages[0]!)).toMatch(/invalid arguments for read_artifact: artifact: must be an artifact id/);
  });
});
