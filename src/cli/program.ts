// The `waypoint` command's definition: start, inspect, answer, resume, fork and delete threads of the
// graphs a langgraph.json lists (./langgraph.json, or --config <path>).
import fs from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { config, ConfigError } from "../config.js";
import { isWaypointError, WaypointError } from "../errors.js";
import { ALL_DECISION_TYPES, type DecisionType } from "../approvals/index.js";
import { describeModel } from "../models/index.js";
import { Registry } from "../registry/index.js";
import { defaultConfigPath, Waypoint, type ProgressEvent, type ThreadView } from "../runs/index.js";
import { checkUuid, shellQuote, type GlobalOpts } from "./args.js";
import { registerAuditCommands } from "./audit.js";
import { registerPersistenceCommands } from "./persistence.js";
import { registerSupervisorCommands } from "./supervisor.js";
import { allowedDecisions, bold, decideLines, dim, formatHistory, formatOpenCalls, formatProgress, formatReview, formatThread, formatThreadList, red } from "./format.js";



function parseJsonArg(label: string) {
  return (raw: string): unknown => {
    const text = raw.startsWith("@") ? readFile(raw.slice(1), label) : raw;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new InvalidArgumentError(`${label} is not valid JSON (${(e as Error).message}). Pass JSON text, or @path/to/file.json.`);
    }
  };
}

function readFile(path: string, label: string): string {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (e) {
    throw new InvalidArgumentError(`cannot read ${label} file ${path}: ${(e as Error).message}`);
  }
}

function wholeNumber(label: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${label} must be a whole number, got "${raw}"`);
    return n;
  };
}

/** Prints each finished step, and a heartbeat line when a step takes long. */
function progressPrinter(json: boolean | undefined) {
  const started = Date.now();
  let last = Date.now();
  const timer = setInterval(() => {
    if (!json && Date.now() - last >= 5000) process.stderr.write(dim(`  ... still working (${Math.round((Date.now() - started) / 1000)}s)\n`));
  }, 5000);
  timer.unref();
  return {
    onProgress: (e: ProgressEvent) => {
      last = Date.now();
      if (!json) console.log(formatProgress(e, Date.now() - started));
    },
    stop: () => clearInterval(timer),
  };
}

function printOutcome(v: ThreadView, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(v, null, 2));
    return;
  }
  console.log("");
  if (v.status === "interrupted") {
    console.log(`Thread ${bold(v.threadId)} is waiting for ${v.pending.some((p) => p.request) ? "a decision" : "an answer"}.`);
    for (const p of v.pending) console.log(formatReview(p, v.threadId));
  } else if (v.status === "done") {
    console.log(`Thread ${bold(v.threadId)} is done.`);
    const messages = (v.values.messages ?? []) as Array<{ content: unknown }>;
    const final = messages[messages.length - 1];
    if (final && typeof final.content === "string") console.log(final.content);
  } else {
    console.log(`Thread ${bold(v.threadId)}: ${v.status}${v.detail ? ` - ${v.detail}` : ""}`);
    if (v.openCalls.length) console.log(formatOpenCalls(v.openCalls));
  }
}

async function withWaypoint<T>(opts: GlobalOpts, fn: (wp: Waypoint) => Promise<T>, load: { graphs?: boolean } = {}): Promise<T> {
  const path = opts.config ?? defaultConfigPath();
  // Commands that only read Waypoint's tables open it without importing the graphs (faster start-up).
  const registry = load.graphs === false ? await Registry.load(path, { graphs: false }) : undefined;
  const wp = await Waypoint.open({ ...(opts.pace ? { paceMs: opts.pace } : {}), config: path, ...(registry ? { registry } : {}) });
  try {
    return await fn(wp);
  } finally {
    await wp.close();
  }
}

async function runAndPrint(opts: GlobalOpts, action: (wp: Waypoint, onProgress: (e: ProgressEvent) => void) => Promise<ThreadView>): Promise<void> {
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

interface DecideOpts {
  args?: unknown;
  message?: string;
  option?: string;
  decisions?: unknown;
  interrupt?: string;
}

/**
 * Refuse a decision the pending request does not allow, naming the ones it does (and how to give
 * them): "respond" is not offered for a request that allows approve, edit and reject.
 */
function checkDecision(view: ThreadView, decision: string, interruptId: string | undefined): void {
  const pending = interruptId ? view.pending.find((p) => p.interruptId === interruptId) : view.pending[0];
  const request = pending?.request;
  if (!request) {
    if ((ALL_DECISION_TYPES as readonly string[]).includes(decision)) return; // nothing to check against: the run says why
    throw new WaypointError("invalid_decision", `Unknown decision "${decision}". Use one of: ${ALL_DECISION_TYPES.join(", ")}.`);
  }
  const allowed = allowedDecisions(request);
  if ((allowed as string[]).includes(decision)) return;
  const what = `${request.actionRequests.map((a) => a.name).join(", ")} (interrupt ${pending.interruptId})`;
  throw new WaypointError(
    "invalid_decision",
    `${(ALL_DECISION_TYPES as readonly string[]).includes(decision) ? `"${decision}" is not allowed` : `Unknown decision "${decision}"`} for the pending request on ${what}; it allows: ${allowed.join(", ")}. Decide with:\n${decideLines(request, view.threadId).map((l) => `  ${l}`).join("\n")}`,
  );
}

function buildResponse(view: ThreadView, type: DecisionType, o: DecideOpts): unknown {
  if (o.decisions !== undefined) return Array.isArray(o.decisions) ? { decisions: o.decisions } : o.decisions;
  const pending = o.interrupt ? view.pending.find((p) => p.interruptId === o.interrupt) : view.pending[0];
  if (pending && !pending.request) {
    throw new WaypointError("invalid_decision", `Thread ${view.threadId} waits on an interrupt that is not a review (${JSON.stringify(pending.value).slice(0, 200)}); answer it with \`waypoint resume ${view.threadId} --value <json>\`.`);
  }
  const actions = pending?.request?.actionRequests ?? [];
  if (actions.length > 1 && (type === "edit" || type === "respond" || type === "confirm_done" || type === "choose")) {
    throw new WaypointError("invalid_decision", `${actions.length} actions wait for review; give one decision each with --decisions '[{"type":"approve"},{"type":"${type}",...}]'.`);
  }
  const one = (): unknown => {
    switch (type) {
      case "approve":
        return { type };
      case "edit":
        if (o.args === undefined) throw new WaypointError("invalid_decision", `"edit" needs the new arguments: --args '<json>' (current: ${JSON.stringify(actions[0]?.args ?? {})}).`);
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
        return o.args === undefined ? { type, option: o.option } : { type, option: o.option, args: o.args };
      }
    }
  };
  return { decisions: actions.map(() => one()) };
}

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command("waypoint")
    // Which build answers: "compiled" (dist/, what bin/waypoint.js runs when it is current) or "sources" (tsx).
    .version(`waypoint ${PACKAGE_VERSION} (${import.meta.url.endsWith(".js") ? "compiled" : "sources"})`, "-V, --version")
    .description("Run LangGraph graphs that survive crashes and wait for humans: the graphs of ./langgraph.json (or --config). Database: DATABASE_URL, or embedded Postgres when unset.")
    .option("--json", "print machine-readable JSON")
    .option("--config <path>", "the langgraph.json whose graphs to serve (default ./langgraph.json)")
    .addOption(new Option("--pace <ms>", "slow each step of Waypoint's agents, and each durable() tool call, down by <ms> (to watch, or to kill a run mid-step)").argParser(wholeNumber("--pace")));

  program
    .command("agents")
    .alias("graphs")
    .description("list the graphs of langgraph.json, their versions, and an example input for each that declares one")
    .action(async () => {
      const g = program.opts<GlobalOpts>();
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

  program
    .command("run <graph>")
    .description("start a new thread of <graph> and run it here until it finishes or waits for an answer")
    .requiredOption("--input <json>", "input as JSON text or @file.json (see `waypoint agents`)", parseJsonArg("--input"))
    .option("--thread <id>", "thread id to use (a UUID; default: a new one)")
    .option("--owner <name>", "the API owner the thread belongs to (without it, only admin tokens see it over the API)")
    .option("--policy <json>", "oversight policy for this thread (JSON text or @file.json), merged over the graph's and WAYPOINT_POLICY_FILE", parseJsonArg("--policy"))
    .action(async (graph: string, o: { input: unknown; thread?: string; owner?: string; policy?: unknown }) => {
      const g = program.opts<GlobalOpts>();
      if (o.thread !== undefined) checkUuid(o.thread, "--thread");
      await runAndPrint(g, (wp, onProgress) =>
        wp.run(
          { assistant: graph, input: o.input, ...(o.thread ? { threadId: o.thread } : {}), ...(o.owner ? { threadMetadata: { owner: o.owner } } : {}), ...(o.policy !== undefined ? { policy: o.policy } : {}) },
          { onProgress },
        ),
      );
    });

  program
    .command("threads")
    .description("list threads with their status (new, queued, running, interrupted, done, error)")
    .option("--limit <n>", "how many, newest first", wholeNumber("--limit"), 50)
    .action(async (o: { limit: number }) => {
      const g = program.opts<GlobalOpts>();
      await withWaypoint(
        g,
        async (wp) => {
          const views = await wp.list({ limit: o.limit });
          console.log(g.json ? JSON.stringify(views, null, 2) : formatThreadList(views));
        },
        { graphs: false },
      );
    });

  program
    .command("show <thread>")
    .description("show a thread: status, conversation, and the pending review with its context")
    .action(async (thread: string) => {
      const g = program.opts<GlobalOpts>();
      await withWaypoint(g, async (wp) => {
        const v = await wp.view(thread);
        console.log(g.json ? JSON.stringify(v, null, 2) : formatThread(v));
      });
    });

  program
    .command("decide <thread> <decision>")
    .description(
      "answer what a thread waits for with a decision its request allows (`waypoint show <thread>` lists them): a review (approve | edit --args <json> | reject [--message] | respond --message), a call in doubt (confirm_done [--message] | run_again | skip [--message]), a missing permission (grant_once | grant_for_run | reject [--message]), a guardrail pause (choose --option continue|stop | respond --message) or a choice (choose --option <id> [--args <json>])",
    )
    .option("--args <json>", "edit / choose: the arguments (checked against the tool's schema)", parseJsonArg("--args"))
    .option("--message <text>", "reject: the reason; respond: the result given to the agent; confirm_done: what you found; skip: why")
    .option("--option <id>", "choose: which of the offered options")
    .option("--decisions <json>", "full form: one decision per pending action, e.g. '[{\"type\":\"approve\"}]'", parseJsonArg("--decisions"))
    .option("--interrupt <id>", "which pending review, when there are several")
    .action(async (thread: string, decision: string, o: DecideOpts) => {
      const g = program.opts<GlobalOpts>();
      await runAndPrint(g, async (wp, onProgress) => {
        const view = await wp.view(thread);
        if (o.decisions === undefined) checkDecision(view, decision, o.interrupt);
        const response = buildResponse(view, decision as DecisionType, o);
        return wp.decide(thread, response, { onProgress, ...(o.interrupt ? { interruptId: o.interrupt } : {}) });
      });
    });

  program
    .command("resume <thread>")
    .description("continue a thread that stopped (crash, error, fork) from its last checkpoint; --value answers an interrupt that is not a review")
    .option("--value <json>", "the answer to the thread's pending interrupt (JSON text or @file.json)", parseJsonArg("--value"))
    .option("--interrupt <id>", "which pending interrupt, when there are several")
    .action(async (thread: string, o: { value?: unknown; interrupt?: string }) => {
      const g = program.opts<GlobalOpts>();
      const value = o.value !== undefined && o.interrupt ? { [o.interrupt]: o.value } : o.value;
      await runAndPrint(g, (wp, onProgress) => wp.resume(thread, { onProgress, ...(value !== undefined ? { value } : {}) }));
    });

  program
    .command("history <thread>")
    .description("list a thread's checkpoints, newest first, with what each step wrote")
    .option("--limit <n>", "how many checkpoints", wholeNumber("--limit"), 100)
    .action(async (thread: string, o: { limit: number }) => {
      const g = program.opts<GlobalOpts>();
      await withWaypoint(g, async (wp) => {
        const h = await wp.history(thread, o.limit);
        console.log(g.json ? JSON.stringify(h, null, 2) : formatHistory(h));
      });
    });

  program
    .command("fork <thread>")
    .description("copy a thread as of one checkpoint into a new thread (the original stays as it is)")
    .requiredOption("--checkpoint <id>", "checkpoint id from `waypoint history`")
    .action(async (thread: string, o: { checkpoint: string }) => {
      const g = program.opts<GlobalOpts>();
      await withWaypoint(g, async (wp) => {
        const v = await wp.fork(thread, o.checkpoint);
        if (g.json) console.log(JSON.stringify(v, null, 2));
        else console.log(`Forked ${thread} at ${o.checkpoint} into ${bold(v.threadId)}.\nContinue it with: waypoint resume ${v.threadId}`);
      });
    });

  program
    .command("delete <thread>")
    .description("delete a thread's checkpoints (what it did in the world stays, and so does its ledger)")
    .action(async (thread: string) => {
      const g = program.opts<GlobalOpts>();
      await withWaypoint(g, async (wp) => {
        await wp.deleteThread(thread);
        console.log(g.json ? JSON.stringify({ deleted: thread }) : `Deleted thread ${thread}.`);
      });
    });

  registerSupervisorCommands(program, withWaypoint, parseJsonArg);
  registerAuditCommands(program, withWaypoint);
  registerPersistenceCommands(program, (opts, fn) => withWaypoint(opts, fn, { graphs: false }));
  return program;
}

const EXIT_BAD_INPUT = 2;

/** Every command and sub-command reports a usage error in one line and exits 2 (not the whole help text). */
function quietErrors(cmd: Command): void {
  cmd.exitOverride().configureOutput({ outputError: (str, write) => write(str.split("\n")[0] + "\n") });
  for (const sub of cmd.commands) quietErrors(sub);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  quietErrors(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === "string" && code.startsWith("commander.")) {
      return code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help" || code === "commander.executeSubCommandAsync" ? 0 : EXIT_BAD_INPUT;
    }
    if (e instanceof InvalidArgumentError) {
      console.error(`error: ${e.message}`);
      return EXIT_BAD_INPUT;
    }
    if (isWaypointError(e)) {
      console.error(`error: ${e.message}`);
      return ["invalid_input", "invalid_decision", "unknown_thread", "unknown_agent", "unknown_checkpoint", "nothing_pending", "thread_finished", "invalid_submission", "unknown_run", "invalid_policy", "unknown_audit_entry", "config_invalid", "version_mismatch"].includes(e.code)
        ? EXIT_BAD_INPUT
        : 1;
    }
    if (e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      return EXIT_BAD_INPUT;
    }
    console.error(e);
    return 1;
  }
}
