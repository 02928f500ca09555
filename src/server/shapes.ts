// Waypoint's threads, runs and agents in the shapes the LangGraph API uses (what the official
// @langchain/langgraph-sdk Client and LangGraph Studio read).
import { v5 as uuid5 } from "@langchain/core/utils/uuid";
import type { StateSnapshot } from "@langchain/langgraph";
import type { AgentDefinition } from "../../graphs/index.js";
import { toJson } from "../runs/events.js";
import type { RunRow } from "../runs/queue.js";
import type { ThreadView } from "../runs/threads.js";

/** The namespace the reference server derives assistant ids from: uuid5(graph_id, NAMESPACE_GRAPH). */
const NAMESPACE_GRAPH = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";

export function assistantIdFor(graphId: string): string {
  return uuid5(graphId, NAMESPACE_GRAPH);
}

const EPOCH = new Date(0).toISOString();

export function assistantOf(def: AgentDefinition) {
  return {
    assistant_id: assistantIdFor(def.name),
    graph_id: def.name,
    name: def.name,
    description: def.description,
    config: {},
    context: {},
    metadata: { created_by: "system", waypoint_version: def.version },
    version: 1,
    created_at: EPOCH,
    updated_at: EPOCH,
  };
}

function checkpointOf(config: StateSnapshot["config"] | undefined) {
  const c = config?.configurable ?? {};
  if (!c.checkpoint_id) return null;
  return { thread_id: String(c.thread_id ?? ""), checkpoint_ns: String(c.checkpoint_ns ?? ""), checkpoint_id: String(c.checkpoint_id), checkpoint_map: null };
}

/** A StateSnapshot as the API's ThreadState. */
export function threadStateOf(snap: StateSnapshot) {
  return {
    values: toJson(snap.values ?? {}),
    next: [...snap.next],
    checkpoint: checkpointOf(snap.config),
    metadata: toJson(snap.metadata ?? {}),
    created_at: snap.createdAt ?? null,
    parent_checkpoint: checkpointOf(snap.parentConfig),
    tasks: snap.tasks.map((t) => ({
      id: t.id,
      name: t.name,
      error: t.error ? String(t.error instanceof Error ? t.error.message : JSON.stringify(t.error)) : null,
      interrupts: t.interrupts.map((i) => ({ id: i.id, value: toJson(i.value) })),
      checkpoint: null,
      state: null,
      ...(t.result !== undefined ? { result: toJson(t.result) } : {}),
    })),
  };
}

/** Waypoint thread status -> the API's idle | busy | interrupted | error. */
export function threadStatusOf(view: Pick<ThreadView, "status"> | undefined, busy: boolean): "idle" | "busy" | "interrupted" | "error" {
  if (busy || view?.status === "running") return "busy";
  if (!view) return "idle";
  return view.status === "done" ? "idle" : view.status === "interrupted" ? "interrupted" : "error";
}

export function threadOf(args: { threadId: string; createdAt: Date; updatedAt: Date; metadata: Record<string, unknown>; view: ThreadView | undefined; busy: boolean }) {
  const interrupts: Record<string, Array<{ id: string; value: unknown }>> = {};
  for (const p of args.view?.pending ?? []) (interrupts[p.node] ??= []).push({ id: p.interruptId, value: toJson(p.request) });
  return {
    thread_id: args.threadId,
    created_at: args.createdAt.toISOString(),
    updated_at: args.updatedAt.toISOString(),
    state_updated_at: (args.view?.updatedAt ?? args.updatedAt).toISOString(),
    metadata: { ...args.metadata, ...(args.view ? { graph_id: args.view.agent, assistant_id: assistantIdFor(args.view.agent) } : {}) },
    status: threadStatusOf(args.view, args.busy),
    values: toJson(args.view?.values ?? {}),
    interrupts,
  };
}

/** Waypoint run status -> the API's (dead and cancelled runs are errors / interrupted there). */
export function runOf(r: RunRow) {
  const status = r.status === "dead" ? "error" : r.status === "cancelled" ? "interrupted" : r.status;
  return {
    run_id: r.run_id,
    thread_id: r.thread_id,
    assistant_id: assistantIdFor(r.agent),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    status,
    metadata: { waypoint_status: r.status, kind: r.kind, attempts: r.attempts, ...(r.detail ? { detail: r.detail } : {}) },
    kwargs: {},
    multitask_strategy: r.multitask_strategy,
  };
}

export { toJson };
