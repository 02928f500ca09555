// What a run streams, in the LangGraph API's events: LangGraph's stream chunks ([namespace, mode, data])
// turned into the SSE events the reference server sends for the modes a run asked for (values,
// updates, custom, debug, tasks, checkpoints, messages-tuple, the legacy messages partial / metadata /
// complete, events). Pure: the executor feeds chunks in and records what comes out.
import { AIMessageChunk, isBaseMessage, type BaseMessage } from "@langchain/core/messages";

export type Emit = (event: string, data: unknown) => void;

/** Stream modes a run may ask for. */
export const STREAM_MODES = ["values", "updates", "custom", "messages", "messages-tuple", "debug", "tasks", "checkpoints", "events"] as const;
export type ApiStreamMode = (typeof STREAM_MODES)[number];

/** The LangGraph stream modes to run with, for the API modes asked (plus "updates" for progress lines). */
export function libraryModes(modes: readonly string[], withUpdates: boolean): string[] {
  const lib = new Set(modes.filter((m) => m !== "events" && m !== "messages-tuple" && m !== "messages"));
  if (modes.includes("messages-tuple") || modes.includes("messages")) lib.add("messages");
  // The legacy "messages" mode reports complete messages from the state after each step.
  if (modes.includes("messages")) lib.add("values");
  if (withUpdates) lib.add("updates");
  if (lib.size === 0) lib.add("values");
  return [...lib];
}

type Config = { configurable?: Record<string, unknown> } | undefined;

function checkpointOf(config: Config, task = false) {
  const c = config?.configurable;
  if (!c || typeof c.thread_id !== "string") return null;
  if (!task && typeof c.checkpoint_id !== "string") return null;
  return {
    thread_id: c.thread_id,
    checkpoint_id: typeof c.checkpoint_id === "string" ? c.checkpoint_id : null,
    checkpoint_ns: typeof c.checkpoint_ns === "string" ? c.checkpoint_ns : "",
    checkpoint_map: (c.checkpoint_map as Record<string, unknown> | undefined) ?? null,
  };
}

/** A config without LangGraph's internal (`__`) keys and callbacks, as the reference sends it. */
function publicConfig(config: unknown): unknown {
  if (!config || typeof config !== "object") return config;
  const { callbacks: _callbacks, ...rest } = config as Record<string, unknown>;
  const configurable = rest.configurable as Record<string, unknown> | undefined;
  return configurable ? { ...rest, configurable: Object.fromEntries(Object.entries(configurable).filter(([k]) => !k.startsWith("__"))) } : rest;
}

function taskPayload(task: Record<string, unknown>): Record<string, unknown> {
  const checkpoint = checkpointOf(task.state as Config, true);
  if (!checkpoint) return task;
  const { state: _state, ...rest } = task;
  return { ...rest, checkpoint };
}

function checkpointPayload(payload: Record<string, unknown>): Record<string, unknown> {
  const { parentConfig, ...rest } = payload;
  return {
    ...rest,
    config: publicConfig(payload.config),
    parent_config: publicConfig(parentConfig),
    checkpoint: checkpointOf(payload.config as Config),
    parent_checkpoint: checkpointOf(parentConfig as Config),
    tasks: Array.isArray(payload.tasks) ? (payload.tasks as Array<Record<string, unknown>>).map(taskPayload) : [],
  };
}

/** Turns one run's LangGraph chunks into API events. */
export class StreamTranslator {
  private readonly partial = new Map<string, AIMessageChunk>();
  private readonly completed = new Set<string>();

  constructor(
    private readonly modes: readonly string[],
    /** Forward subgraph chunks (stream_subgraphs), their events suffixed with "|<namespace>". */
    private readonly subgraphs: boolean,
    private readonly emit: Emit,
  ) {}

  chunk(namespace: string[], mode: string, data: unknown): void {
    if (namespace.length > 0 && !this.subgraphs) return;
    const suffix = namespace.length ? `|${namespace.join("|")}` : "";
    const wants = (m: string) => this.modes.includes(m);
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
        const d = data as { type?: string; payload?: Record<string, unknown> };
        if (d.type === "checkpoint" && d.payload) this.emit(`debug${suffix}`, { ...d, payload: checkpointPayload(d.payload) });
        else if (d.type === "task_result" && d.payload) this.emit(`debug${suffix}`, { ...d, payload: taskPayload(d.payload) });
        else this.emit(`debug${suffix}`, data);
        return;
      }
      case "checkpoints": {
        if (!wants("checkpoints")) return;
        const p = data as { values?: unknown; metadata?: unknown; next?: unknown };
        this.emit(`checkpoints${suffix}`, { values: p.values, metadata: p.metadata, next: p.next });
        return;
      }
      case "tasks":
        if (wants("tasks")) this.emit(`tasks${suffix}`, taskPayload(data as Record<string, unknown>));
        return;
      default:
        if (wants(mode)) this.emit(`${mode}${suffix}`, data);
    }
  }

  /** A streamEvents (v2) event, for runs that asked for "events". */
  event(e: { event: string; tags?: string[] }): void {
    if (e.tags?.includes("langsmith:hidden")) return;
    if (this.modes.includes("events")) this.emit("events", e);
  }

  /** Legacy "messages": a model token, accumulated per message id; metadata the first time. */
  private legacyToken(data: unknown): void {
    const [message, metadata] = (Array.isArray(data) ? data : []) as [unknown, unknown];
    if (!(message instanceof AIMessageChunk) || !message.id) return;
    const sofar = this.partial.get(message.id);
    if (!sofar) this.emit("messages/metadata", { [message.id]: { metadata } });
    const merged = sofar ? sofar.concat(message) : message;
    this.partial.set(message.id, merged);
    this.emit("messages/partial", [merged]);
  }

  /** Legacy "messages": each message the state gained, once. */
  private legacyComplete(values: unknown): void {
    const list = values && typeof values === "object" && !isBaseMessage(values) ? (values as { messages?: unknown }).messages : undefined;
    const fresh: BaseMessage[] = [];
    for (const m of Array.isArray(list) ? list : list ? [list] : []) {
      if (!isBaseMessage(m) || !m.id || this.completed.has(m.id)) continue;
      this.completed.add(m.id);
      fresh.push(m);
    }
    if (fresh.length) this.emit("messages/complete", fresh);
  }
}
