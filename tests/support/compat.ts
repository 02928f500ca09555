// Side-by-side runs of the same SDK scenarios against Waypoint and against the reference server
// (`langgraph dev` of @langchain/langgraph-cli, pinned), both serving tests/fixtures/project. Each
// scenario returns what it observed; ids, times and other per-run noise are normalised away so the two
// observations can be compared, and every difference is printed.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { PROJECT_ROOT } from "../../src/config.js";

export const FIXTURE_CONFIG = path.join(PROJECT_ROOT, "tests", "fixtures", "project", "langgraph.json");

export interface Target {
  name: "reference" | "waypoint";
  url: string;
  client: Client;
  close(): Promise<void>;
}

/**
 * `langgraph dev` (the pinned CLI) with `args`, in a process group of its own: the CLI runs the server
 * in a grandchild, which a signal to the CLI alone leaves running after the tests. kill() ends the
 * whole group, and so does this process's exit should kill() never come (a Jest worker torn down after
 * a timeout).
 */
export function spawnLanggraphDev(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; stdio?: "ignore" | "pipe" }): { child: ChildProcess; kill(): Promise<void> } {
  const cli = path.join(PROJECT_ROOT, "node_modules", "@langchain", "langgraph-cli", "dist", "cli", "cli.mjs");
  const child: ChildProcess = spawn(process.execPath, [cli, "dev", ...args], { cwd: opts.cwd, env: opts.env, stdio: ["ignore", opts.stdio ?? "pipe", opts.stdio ?? "pipe"], detached: true });
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // the group is gone already
    }
  };
  const orphaned = () => group("SIGKILL");
  process.once("exit", orphaned);
  return {
    child,
    async kill() {
      group("SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      group("SIGKILL");
      process.removeListener("exit", orphaned);
    },
  };
}

/** `langgraph dev` on a fixture project (tests/fixtures/project unless told), in a child process, on a port of its own. */
export async function startReference(port: number, configFile: string = FIXTURE_CONFIG): Promise<Target> {
  const env: NodeJS.ProcessEnv = { ...process.env, LANGSMITH_TRACING: "false", LANGCHAIN_TRACING_V2: "false", LOG_LEVEL: "error" };
  delete env.NODE_OPTIONS;
  const { child, kill } = spawnLanggraphDev(["--config", configFile, "--port", String(port), "--host", "127.0.0.1", "--no-browser", "--no-reload"], { cwd: path.dirname(configFile), env });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}/ok`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || i > 600) throw new Error(`langgraph dev did not start:\n${output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: "reference",
    url,
    client: new Client({ apiUrl: url }),
    close: kill,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_ID = /^[0-9a-f]{32}$/i;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
/** Keys whose values differ from run to run (ids, times) or from server to server by design. */
const NOISE = new Set(["run_id", "thread_id", "assistant_id", "checkpoint_id", "parent_checkpoint_id", "created_at", "updated_at", "timestamp", "ls_run_id", "run_attempt", "langgraph_version", "langgraph_host", "langgraph_plan", "langgraph_api_url", "__pregel_task_id", "checkpoint_ns", "langgraph_checkpoint_ns", "x-request-id", "user-agent", "langgraph_request_id", "source", "usage_metadata", "response_metadata", "lc_run_id", "ls_model_type", "ls_provider", "ls_model_name"]);

/** The observation without what differs from run to run: ids and times become placeholders. */
export function normalise(v: unknown, key = ""): unknown {
  if (typeof v === "string") {
    if (NOISE.has(key)) return "<noise>";
    if (UUID.test(v) || HEX_ID.test(v)) return "<id>";
    if (ISO.test(v)) return "<time>";
    return v.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>").replace(/\b[0-9a-f]{32}\b/gi, "<id>");
  }
  if (Array.isArray(v)) return v.map((x) => normalise(x, key));
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const nk = UUID.test(k) || HEX_ID.test(k) ? "<id>" : k;
      out[nk] = NOISE.has(k) ? "<noise>" : normalise((v as Record<string, unknown>)[k], k);
    }
    return out;
  }
  return v;
}

/** What an SDK call that failed says: its status and message, as a client would show it. */
export async function failure(p: Promise<unknown>): Promise<{ failed: true; status: number | undefined; message: string } | { failed: false }> {
  try {
    await p;
    return { failed: false };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const status = Number(/HTTP (\d{3})/.exec(message)?.[1] ?? (e as { status?: number }).status) || undefined;
    return { failed: true, status, message: message.replace(/^HTTP \d{3}: /, "") };
  }
}

/** Stream events as [event, data] pairs. */
export async function collect(stream: AsyncIterable<unknown>): Promise<Array<{ event: string; data: unknown }>> {
  const out: Array<{ event: string; data: unknown }> = [];
  for await (const part of stream) out.push(part as { event: string; data: unknown });
  return out;
}

/** Event names with consecutive repeats folded ("values x3"), to compare the shape of two streams. */
export function eventShape(events: Array<{ event: string }>): string[] {
  const out: string[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    const m = last ? /^(.*?)(?: x(\d+))?$/.exec(last) : null;
    if (m && m[1] === e.event) out[out.length - 1] = `${e.event} x${Number(m[2] ?? 1) + 1}`;
    else out.push(e.event);
  }
  return out;
}
