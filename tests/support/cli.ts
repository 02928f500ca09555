// Run the real `waypoint` CLI in a child process (node + tsx), to finish or to be SIGKILLed mid-run.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/config.js";
import { HALT_MARKER, type HaltPoint } from "../../src/halt.js";

const MAIN = path.join(PROJECT_ROOT, "src", "cli", "main.ts");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliChild {
  child: ChildProcess;
  /** Everything printed to stdout so far. */
  output(): string;
  /** Resolves once stdout contains `text`; rejects if the process exits first or after `timeoutMs`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once the process halted at `point` (it runs with WAYPOINT_HALT_AT; see src/halt.ts) and
   * waits there to be killed; rejects like waitFor.
   */
  waitForHalt(point: HaltPoint, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
}

/**
 * Environment for a child: the given variables, and no inherited DATABASE_URL/OpenAI key. One worker
 * process per `worker` / `serve` unless a test asks for more (WAYPOINT_PROCESSES or --processes), so a
 * test that kills "the worker" kills the process carrying the run.
 */
export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "silent", WAYPOINT_PROCESSES: "1" };
  delete env.DATABASE_URL;
  delete env.OPENAI_API_KEY;
  delete env.NODE_OPTIONS;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** `nodeArgs`: options for node itself (a bench's --cpu-prof); forked worker processes inherit them. */
export function startCli(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): CliChild {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", MAIN, ...args], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: Array<() => void> = [];
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) w();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) w();
  });
  const done = new Promise<CliResult>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  const waitIn = (stream: () => string, text: string | RegExp, timeoutMs = 60_000) => {
    const matches = () => (typeof text === "string" ? stream().includes(text) : text.test(stream()));
    return new Promise<void>((resolve, reject) => {
      if (matches()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(text)}; stdout:\n${stdout}\nstderr:\n${stderr}`)), timeoutMs);
      const check = () => {
        if (!matches()) return;
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(check), 1);
        resolve();
      };
      waiters.push(check);
      void done.then((r) => {
        if (matches()) return;
        clearTimeout(timer);
        reject(new Error(`process exited (${r.code ?? r.signal}) before printing ${String(text)}; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`));
      });
    });
  };
  return {
    child,
    output: () => stdout,
    done,
    waitFor: (text, timeoutMs) => waitIn(() => stdout, text, timeoutMs),
    waitForHalt: (point, timeoutMs) => waitIn(() => stderr, `${HALT_MARKER} ${point}`, timeoutMs),
  };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return startCli(args, env).done;
}
