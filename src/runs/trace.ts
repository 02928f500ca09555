// Node-execution trace: one JSON line per node start (thread, namespace, node, step, pid), appended to
// WAYPOINT_TRACE_FILE. It shows which steps ran in which process, e.g. that a resume re-ran only the
// step that was in flight when a process died.
import fs from "node:fs";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { ChainValues } from "@langchain/core/utils/types";

export interface TraceEntry {
  pid: number;
  threadId: string;
  namespace: string;
  node: string;
  step: number;
  at: string;
}

/**
 * The trace entry for a chain start, when that chain is a graph node itself (not a runnable it calls):
 * LangChain callbacks see both, and only the node's own start has runName === langgraph_node.
 */
export function nodeStartOf(metadata: Record<string, unknown> | undefined, runName: string | undefined): TraceEntry | undefined {
  const node = metadata?.langgraph_node;
  if (typeof node !== "string" || runName !== node) return undefined;
  return {
    pid: process.pid,
    threadId: String(metadata?.thread_id ?? ""),
    namespace: String(metadata?.langgraph_checkpoint_ns ?? "")
      .split("|")
      .map((p) => p.split(":")[0])
      .join("|"),
    node,
    step: Number(metadata?.langgraph_step ?? -1),
    at: new Date().toISOString(),
  };
}

export class NodeTraceHandler extends BaseCallbackHandler {
  name = "waypoint-node-trace";

  constructor(private readonly file: string) {
    super();
  }

  override handleChainStart(
    _chain: Serialized,
    _inputs: ChainValues,
    _runId: string,
    _parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    _runType?: string,
    runName?: string,
  ): void {
    const entry = nodeStartOf(metadata, runName);
    if (!entry) return;
    fs.appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
}

export function readTrace(file: string): TraceEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TraceEntry);
}
