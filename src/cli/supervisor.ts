// The run-supervisor commands of `waypoint`: start, worker, serve, submit, enqueue, runs (list/show/cancel/retry), doctor.
import { randomBytes } from "node:crypto";
import { Command, InvalidArgumentError, Option } from "commander";
import { config } from "../config.js";
import { describeModel } from "../models/index.js";
import { diagnose } from "../runs/index.js";
import { getRun, listRuns, MULTITASK_STRATEGIES, requestStop, retryRun, RUN_STATUSES, type MultitaskStrategy, type RunRow, type RunStatus } from "../runs/index.js";
import { defaultConfigPath, type Waypoint } from "../runs/index.js";
// The server and the worker load only for the commands that run them: every other command starts
// without the HTTP layer (@langchain/langgraph-api and its routes).
import type { ServerAuth } from "../server/index.js";
import type { Worker, WorkerEvent } from "../runs/index.js";
import { bold, dim } from "./format.js";
import { checkUuid, type GlobalOpts } from "./args.js";
import { childWorkerArgs, leaveSupervisor, onSupervisorGone, ProcessSupervisor, tellSupervisor } from "./processes.js";

type WithWaypoint = <T>(opts: GlobalOpts, fn: (wp: Waypoint) => Promise<T>) => Promise<T>;

function positiveInt(label: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${label} must be a positive whole number, got "${raw}"`);
    return n;
  };
}

export function formatRun(r: RunRow): string {
  return [
    `${bold("Run")} ${r.run_id}`,
    `  thread    ${r.thread_id} (${r.graph_id}@${r.graph_version})`,
    `  kind      ${r.kind}, multitask ${r.multitask_strategy}${r.idempotency_key ? `, idempotency key ${r.idempotency_key}` : ""}`,
    `  status    ${r.status}${r.detail ? ` - ${r.detail}` : ""}`,
    `  attempts  ${r.attempts} (worker deaths: ${r.crashes})${r.worker_id ? `, held by ${r.worker_id}` : ""}`,
    `  created   ${r.created_at.toISOString()}${r.finished_at ? `, finished ${r.finished_at.toISOString()}` : ""}`,
  ].join("\n");
}

function formatRunList(rows: RunRow[]): string {
  if (rows.length === 0) return "No runs. Queue one with `waypoint submit <graph> --input <json>`.";
  return rows.map((r) => `${r.run_id}  ${r.status.padEnd(11)} ${r.kind.padEnd(6)} ${r.thread_id}  ${dim(r.detail ?? "")}`).join("\n");
}

function describeEvent(e: WorkerEvent): string | undefined {
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
      return undefined;
  }
}

/**
 * Resolves on the first SIGTERM or SIGINT. Taken before startup begins, so a signal that comes while
 * the server is still starting is a drain once it is up, not the default kill of an unhandled signal.
 */
function nextSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
}

/** Run a worker in the foreground until SIGTERM / SIGINT, which drain it. */
export async function runWorker(opts: { concurrency?: number; graceMs?: number; paceMs?: number; json?: boolean; config?: string; onStarted?: (w: Worker) => Promise<void> }): Promise<void> {
  const { Worker } = await import("../runs/index.js");
  const worker = await Worker.start({
    config: opts.config ?? defaultConfigPath(),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
    ...(opts.paceMs ? { paceMs: opts.paceMs } : {}),
    onEvent: (e) => {
      if (opts.json) {
        if (e.type !== "step") console.log(JSON.stringify(e));
        return;
      }
      const line = describeEvent(e);
      if (line) console.log(`${dim(new Date().toISOString().slice(11, 23))} ${line}`);
    },
  });
  if (!opts.json) {
    console.log(dim(`model: ${describeModel()}`));
    for (const f of worker.wp.registry.failures) console.log(`graph ${bold(f.id)} failed to load: ${f.reason}`);
    console.log(`Worker ${bold(worker.id)} runs ${worker.versions.join(", ")}. SIGTERM or Ctrl-C drains it.`);
  }
  await opts.onStarted?.(worker);
  tellSupervisor({ type: "ready", workerId: worker.id });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      if (!opts.json) console.log(`${signal}: draining (runs stop at their next step and go back to the queue)...`);
      void worker.drain(signal.toLowerCase()).then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    onSupervisorGone(() => stop("supervisor gone"));
  });
  leaveSupervisor();
}

/**
 * Fork `count` worker processes and keep them running until SIGTERM / SIGINT, which is forwarded to
 * each (they drain); resolves when every child has exited. `alsoStop` (the server) stops alongside.
 */
async function superviseWorkers(count: number, args: string[], opts: { json?: boolean | undefined; alsoStop?: () => Promise<void>; stopOn?: Promise<void> } = {}): Promise<void> {
  // With --json every line on stdout stays a JSON object (the children print theirs).
  const say = (line: string) => console.log(opts.json ? JSON.stringify({ type: "supervisor", pid: process.pid, message: line }) : `${dim(new Date().toISOString().slice(11, 23))} ${line}`);
  const sup = new ProcessSupervisor({ count, args, say });
  sup.start();
  say(`Supervisor ${opts.json ? process.pid : bold(String(process.pid))}: ${count} worker process(es); one that dies is replaced. SIGTERM or Ctrl-C drains them all.`);
  const alsoStop = opts.alsoStop;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      say(`${signal}: draining ${sup.pids.length} worker process(es)...`);
      void Promise.allSettled([sup.stop(signal), alsoStop?.()]).then(() => resolve());
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    // A signal taken before this point (the server was still starting) stops the forks too.
    void opts.stopOn?.then(() => stop("SIGTERM"));
  });
  say("every worker process has exited");
}

export function registerSupervisorCommands(program: Command, withWaypoint: WithWaypoint, parseJson: (label: string) => (raw: string) => unknown): void {
  const g = () => program.opts<GlobalOpts>();
  const strategy = new Option("--multitask <strategy>", "when the thread already has an active run").choices([...MULTITASK_STRATEGIES]).default("reject");

  program
    .command("worker")
    .description("claim queued runs and carry them to their end; recovers runs of dead workers; SIGTERM drains")
    .option("--concurrency <n>", "runs at once (default WAYPOINT_WORKER_CONCURRENCY)", positiveInt("--concurrency"))
    .option("--grace-ms <n>", "drain grace period (default WAYPOINT_DRAIN_GRACE_MS)", positiveInt("--grace-ms"))
    .option(
      "--processes <n>",
      "worker processes (default WAYPOINT_PROCESSES, else the number of cores); above 1 this process supervises: it forks them, replaces one that dies, and forwards SIGTERM/SIGINT (each drains); --concurrency applies to each",
      positiveInt("--processes"),
    )
    .action(async (o: { concurrency?: number; graceMs?: number; processes?: number }) => {
      const { pace, json, config: configPath } = g();
      const processes = o.processes ?? config().processes;
      if (processes > 1) return superviseWorkers(processes, childWorkerArgs({ pace, json, config: configPath }, o), { json });
      await runWorker({ concurrency: o.concurrency, graceMs: o.graceMs, ...(pace ? { paceMs: pace } : {}), ...(json ? { json } : {}), ...(configPath ? { config: configPath } : {}) });
    });

  /** Start the server (and its worker unless told not to), print where it is, run until a signal drains it. */
  async function serveUntilSignal(o: { host?: string; port?: number; worker: boolean; sample: boolean; processes?: number }): Promise<void> {
    const signalled = nextSignal();
    const { pace, config: configPath } = g();
    const { api } = config();
    // With no tokens configured, a one-off token keeps auth on (the server is still loopback-only by default).
    let token: string | undefined;
    let auth = undefined as ServerAuth | undefined;
    if (api.auth === "on" && api.tokens.size === 0 && api.adminTokens.size === 0) {
      token = randomBytes(12).toString("hex");
      auth = { required: true, tokens: new Map(), admins: new Map([[token, "local"]]) };
    }
    console.log(dim(`model: ${describeModel()}`));
    const { startServer } = await import("../server/index.js");
    const server = await startServer({
      ...(auth ? { auth } : {}),
      ...(o.host ? { host: o.host } : {}),
      ...(o.port ? { port: o.port } : {}),
      waypoint: { config: configPath ?? defaultConfigPath(), ...(pace ? { paceMs: pace } : {}) },
      worker: o.worker ? {} : false,
    });
    const wp = server.waypoint;
    // The server process carries runs itself (its in-process worker), so N processes in all means N-1 more.
    const forks = o.worker ? (o.processes ?? config().processes) - 1 : 0;
    for (const f of wp.registry.failures) console.log(`graph ${bold(f.id)} failed to load: ${f.reason}`);
    console.log(`Waypoint is running: the LangGraph API on ${bold(server.url)}${server.worker ? ` with a worker (${server.worker.versions.join(", ")})${forks > 0 ? ` and ${forks} more worker process(es)` : ""}` : " (no worker in this process: `waypoint worker` carries the runs)"}.`);
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
    if (forks > 0) return superviseWorkers(forks, childWorkerArgs({ pace, config: configPath }, {}), { alsoStop: () => server.close(), stopOn: signalled });
    await signalled;
    await server.close();
  }

  program
    .command("start")
    .description("what `npm start` does: the agent server with a worker, plus a sample thread when the database has none")
    .option("--no-worker", "no worker in this process and none forked (run `waypoint worker` elsewhere)")
    .option("--processes <n>", "processes carrying runs, this one included (default WAYPOINT_PROCESSES, else the number of cores): the server and its worker here, plus N-1 forked worker processes, replaced when one dies", positiveInt("--processes"))
    .action(async (o: { worker: boolean; processes?: number }) => serveUntilSignal({ worker: o.worker, sample: true, ...(o.processes ? { processes: o.processes } : {}) }));

  program
    .command("serve")
    .description("the agent server: the LangGraph API on Postgres (for @langchain/langgraph-sdk and Studio), with a worker")
    .option("--host <host>", "address to listen on (default WAYPOINT_API_HOST)")
    .option("--port <n>", "port (default WAYPOINT_API_PORT)", positiveInt("--port"))
    .option("--no-worker", "no worker in this process and none forked (run `waypoint worker` elsewhere)")
    .option("--processes <n>", "processes carrying runs, this one included (default WAYPOINT_PROCESSES, else the number of cores): the server and its worker here, plus N-1 forked worker processes, replaced when one dies", positiveInt("--processes"))
    .action(async (o: { host?: string; port?: number; worker: boolean; processes?: number }) => serveUntilSignal({ ...o, sample: false }));

  program
    .command("submit <graph>")
    .description("queue a new thread of <graph>; prints the run id at once (a worker does the work)")
    .requiredOption("--input <json>", "the graph's input (JSON, or @file)", parseJson("--input"))
    .option("--thread <id>", "id for the new thread (a UUID; default: a new one)")
    .option("--owner <name>", "the API owner the thread belongs to (without it, only admin tokens see it over the API)")
    .option("--idempotency-key <key>", "a retried submission with the same key returns the same run")
    .option("--review-deadline-ms <n>", "deadline for reviews this run stops at", positiveInt("--review-deadline-ms"))
    .addOption(new Option("--on-deadline <action>", "what happens when a review passes its deadline").choices(["remind", "escalate", "reject"]).default("remind"))
    .option("--escalate-to <group>", "reviewer group for --on-deadline escalate")
    .option("--policy <json>", "oversight policy for this thread (JSON, or @file), merged over the graph's and WAYPOINT_POLICY_FILE", parseJson("--policy"))
    .action(async (graph: string, o: { input: unknown; thread?: string; owner?: string; idempotencyKey?: string; reviewDeadlineMs?: number; onDeadline: "remind" | "escalate" | "reject"; escalateTo?: string; policy?: unknown }) => {
      if (o.thread !== undefined) checkUuid(o.thread, "--thread");
      await withWaypoint(g(), async (wp) => {
        const { run, created } = await wp.submit({
          assistant: graph,
          input: o.input,
          ...(o.owner ? { threadMetadata: { owner: o.owner } } : {}),
          ...(o.policy !== undefined ? { policy: o.policy } : {}),
          ...(o.thread ? { threadId: o.thread } : {}),
          ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
          ...(o.reviewDeadlineMs ? { reviewDeadline: { afterMs: o.reviewDeadlineMs, action: o.onDeadline, ...(o.escalateTo ? { escalateTo: o.escalateTo } : {}) } } : {}),
        });
        if (g().json) console.log(JSON.stringify({ ...run, created }, null, 2));
        else console.log(`${created ? "Queued" : "Already submitted with that key:"} run ${bold(run.run_id)} on thread ${bold(run.thread_id)} (${run.status}).\nFollow it with: waypoint runs show ${run.run_id}`);
      });
    });

  program
    .command("enqueue <thread>")
    .description("queue work on an existing thread: an answer to what it waits for, or a resume (a worker does it)")
    .option("--decisions <json>", "answer its pending review: [{\"type\":\"approve\"}, ...]", parseJson("--decisions"))
    .option("--value <json>", "answer an interrupt that is not a review", parseJson("--value"))
    .option("--interrupt <id>", "which pending interrupt, when there are several")
    .option("--idempotency-key <key>", "a retried submission with the same key returns the same run")
    .addOption(strategy)
    .action(async (thread: string, o: { decisions?: unknown; value?: unknown; interrupt?: string; idempotencyKey?: string; multitask: MultitaskStrategy }) => {
      await withWaypoint(g(), async (wp) => {
        const answer = o.decisions !== undefined ? (Array.isArray(o.decisions) ? { decisions: o.decisions } : o.decisions) : o.value;
        const { run, created } = await wp.submit({
          threadId: thread,
          strategy: o.multitask,
          ...(answer !== undefined ? { command: { resume: o.interrupt ? { [o.interrupt]: answer } : answer } } : {}),
          ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
        });
        if (g().json) console.log(JSON.stringify({ ...run, created }, null, 2));
        else console.log(`${created ? "Queued" : "Already submitted with that key:"} ${run.kind} run ${bold(run.run_id)} on thread ${run.thread_id} (${run.status}).`);
      });
    });

  const runs = program.command("runs").description("list, show, cancel and retry runs");
  runs
    .command("list", { isDefault: true })
    .description("runs, newest first")
    .option("--thread <id>", "only this thread's")
    .addOption(new Option("--status <status>", "only runs in this status").choices([...RUN_STATUSES]))
    .option("--limit <n>", "how many", positiveInt("--limit"), 50)
    .action(async (o: { thread?: string; status?: RunStatus; limit: number }) => {
      await withWaypoint(g(), async (wp) => {
        const rows = await listRuns(wp.pool, { limit: o.limit, ...(o.thread ? { threadId: o.thread } : {}), ...(o.status ? { status: o.status } : {}) });
        console.log(g().json ? JSON.stringify(rows, null, 2) : formatRunList(rows));
      });
    });
  runs
    .command("show <run>")
    .description("one run: status, attempts, worker, reason")
    .action(async (id: string) => {
      await withWaypoint(g(), async (wp) => {
        const r = await getRun(wp.pool, id);
        console.log(g().json ? JSON.stringify(r, null, 2) : formatRun(r));
      });
    });
  runs
    .command("cancel <run>")
    .description("stop a run at its next step boundary (a queued one at once); the thread stays resumable")
    .option("--rollback", "also delete the checkpoints the run created")
    .action(async (id: string, o: { rollback?: boolean }) => {
      await withWaypoint(g(), async (wp) => {
        const r = await requestStop(wp.pool, id, o.rollback ? "rollback" : "cancel");
        console.log(g().json ? JSON.stringify(r, null, 2) : r.status === "cancelled" ? `Run ${id} cancelled.` : `Run ${id} stops at its next step boundary.`);
      });
    });
  runs
    .command("retry <run>")
    .description("queue a dead, failed or cancelled run again")
    .action(async (id: string) => {
      await withWaypoint(g(), async (wp) => {
        const r = await retryRun(wp.pool, id);
        console.log(g().json ? JSON.stringify(r, null, 2) : `Run ${id} is queued again.`);
      });
    });

  program
    .command("doctor")
    .description("find runs whose carrier died, stale thread statuses, threads that stopped with an error, runs no worker can take; --repair fixes what it safely can")
    .option("--repair", "take back orphaned runs, recompute stale statuses")
    .action(async (o: { repair?: boolean }) => {
      await withWaypoint(g(), async (wp) => {
        const findings = await diagnose(wp, { repair: o.repair === true });
        if (g().json) console.log(JSON.stringify(findings, null, 2));
        else if (findings.length === 0) console.log("Nothing to repair: every thread is done, waiting for an answer, or has a run that will carry it.");
        else for (const f of findings) console.log(`${f.kind.padEnd(22)} thread ${f.threadId}${f.runId ? ` run ${f.runId}` : ""}\n  ${f.problem}\n  -> ${f.repair}`);
      });
    });
}
