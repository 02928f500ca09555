// The chaos driver: many onboarding, travel and concierge threads (the last a createAgent with plain
// tool()s in durable() and humanInTheLoopMiddleware, graphs/concierge/agent.ts), driven through the real `waypoint` CLI in child
// processes, with world faults injected (WAYPOINT_FAULTS) and children SIGKILLed at random moments.
// Each thread is pushed on by what a person would do next (approve, settle a call in doubt by looking
// in the world, pick the retry, resume a crashed run) until it is done. Then SQL checks the invariants:
// every side effect exists exactly once, no tool call dangles, every thread could be resumed.
import { randomBytes } from "node:crypto";
import { AIMessage, ToolMessage } from "@langchain/core/messages";
import { Waypoint, type PendingInterrupt, type ThreadView } from "../../src/runs/index.js";
import { childEnv, startCli, type CliChild } from "./cli.js";
import { v5 as uuid5 } from "@langchain/core/utils/uuid";

/** The default fault mix: every system has bad days; the car rental (no dedupe) loses replies. */
export const DEFAULT_FAULTS =
  "*:rate_limit:0.05,hotels:server_error:0.2,cars:reply_lost:0.1,email:timeout:0.05,*:crash_after_effect:0.03,retry_after_ms=50,hang_ms=300";

export interface ChaosOptions {
  /** Database the children and the driver use (schema already created). */
  databaseUrl: string;
  /** Number of threads. */
  runs: number;
  /** SIGKILL children until at least this many kills landed, then let everything finish. */
  minKills: number;
  /** Child processes at once (default 4). */
  concurrency?: number;
  /** WAYPOINT_FAULTS for the children (default DEFAULT_FAULTS). */
  faults?: string;
  /** `--pace` for every child, in ms (default 40), so a kill can land mid-step. */
  paceMs?: number;
  /** Give up on a thread after this many child processes (default 40): it counts as not resumable. */
  maxActionsPerRun?: number;
  /** Seed of the PRNG that picks which children die and when (default 1). */
  seed?: number;
  /** Chance that a child is picked for a kill while kills are needed (default 0.5). */
  killProbability?: number;
  /** A child still alive after this long is killed and reported as hung (default 120 s). */
  childTimeoutMs?: number;
  /** Progress, one line per child process. */
  onEvent?: (line: string) => void;
}

/** One side effect a thread must leave in the world exactly once. */
interface Intent {
  /** Where it shows, e.g. "world.grants". */
  table: string;
  /** Business identity counted there, e.g. "ada@acme.test github:write". */
  identity: string;
}

export type AgentName = "onboarding" | "travel" | "concierge";

interface ThreadPlan {
  index: number;
  threadId: string;
  agent: AgentName;
  input: Record<string, unknown>;
  intents: Intent[];
}

export interface IntentCount {
  threadId: string;
  table: string;
  identity: string;
  count: number;
}

export interface ThreadOutcome {
  threadId: string;
  agent: AgentName;
  /** Reached "done" (before verification re-reads it). */
  finished: boolean;
  /** What the driver did, one line per child process. */
  actions: string[];
  /** Why the driver gave up, when it did. */
  gaveUp?: string;
  /** Set when the view said "done" while the last step had not been checkpointed (see unfinishedStep). */
  falseDone?: string;
}

export interface ChaosReport {
  runs: number;
  /** Threads whose final view is "done". */
  completed: number;
  /** Per agent: threads, how many completed, side effects checked and how many were not exactly once. */
  byAgent: Partial<Record<AgentName, { runs: number; completed: number; intents: number; violations: number; kills: number; doubts: number }>>;
  /** Children the driver SIGKILLed (they died of it). */
  killsSent: number;
  /** Kills fired just as the child was exiting on its own (not counted above). */
  killsTooLate: number;
  /** Children that died of SIGKILL the driver did not send (crash_after_effect). */
  selfCrashes: number;
  /** Children killed by the watchdog for running too long. */
  hungChildren: number;
  children: number;
  wallMs: number;
  /** What the driver did to move threads on, by command (run, resume, approve, confirm_done, ...). */
  commands: Record<string, number>;
  faults: { total: number; byKind: Record<string, number> };
  intents: { checked: number; min: number; max: number; violations: IntentCount[] };
  dangling: Array<{ threadId: string; toolCallId: string; tool: string }>;
  /** Threads whose view says "done" while their latest checkpoint still has a step's pending writes. */
  falseDone: Array<{ threadId: string; checkpointId: string; writes: string[] }>;
  unresumable: Array<{ threadId: string; status: string; detail: string | null; actions: number }>;
  ledger: {
    rows: number;
    /** Tool calls whose ledger row shows more than one attempt (retries with the same key). */
    retried: number;
    retriedByTool: Record<string, number>;
    /** Unsettled rows (started, in_doubt, rerun, failed not final) of threads that finished. */
    open: Array<{ threadId: string; tool: string; status: string }>;
  };
  /** Things the driver did not expect (not invariant violations by themselves). */
  anomalies: string[];
  threads: ThreadOutcome[];
  /** Ledger rows (waypoint.tool_calls) of every thread named by a violation, one line each. */
  ledgerOfNamed: Record<string, string[]>;
}

/** mulberry32: a small seeded PRNG, so kill timing is reproducible per thread. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------
// Thread plans: inputs and the side effects each must leave

const PRIVILEGE_PAIRS: ReadonlyArray<[string, string]> = [
  ["github:write", "prod-db:read"],
  ["vpn", "wiki"],
  ["jira:admin", "s3:read"],
];
const DEPARTMENTS = ["Engineering", "Finance", "Support"] as const;
const CITIES = ["Lisbon", "Berlin", "Oslo"] as const;

/** Pick from a non-empty list by index (wraps). */
function pick<T>(list: readonly T[], i: number): T {
  return list[i % list.length] as T;
}

/** Threads are named by UUID (as the API names them), derived from the plan so a rerun finds them. */
function threadIdFor(tag: string, index: number): string {
  return uuid5(`${tag}-${index}`, "0b5f0c6e-4d3c-4a7e-9b1e-6f6e0c2a9d11");
}

/** An onboarding thread: one account, one welcome email, one grant per privilege. */
function onboardingPlan(tag: string, index: number): ThreadPlan {
  const email = `${tag}-${index}@acme.test`;
  const privileges = pick(PRIVILEGE_PAIRS, index);
  const hire = { name: `Chaos Hire ${index}`, email, department: pick(DEPARTMENTS, index), manager: "chaos.manager@acme.test", privileges };
  return {
    index,
    threadId: threadIdFor(tag, index),
    agent: "onboarding",
    input: { hire },
    intents: [
      { table: "world.directory", identity: email },
      { table: "world.outbox", identity: email },
      ...privileges.map((p) => ({ table: "world.grants", identity: `${email} ${p}` })),
    ],
  };
}

/** A travel thread: one flight, one hotel booking, one car rental (the system with no dedupe). */
function travelPlan(tag: string, index: number): ThreadPlan {
  const tripId = `${tag}-T${index}`;
  const trip = { tripId, traveller: `Chaos Traveller ${index}`, origin: "Paris", destination: pick(CITIES, index), departOn: "2026-12-01", nights: 2, carDays: 2 };
  return {
    index,
    threadId: threadIdFor(tag, index),
    agent: "travel",
    input: { trip },
    intents: [
      { table: "world.flights", identity: tripId },
      { table: "world.hotel_bookings", identity: tripId },
      { table: "world.car_rentals", identity: tripId },
    ],
  };
}

/**
 * A concierge thread (createAgent, humanInTheLoopMiddleware on rent_car): one hotel booking, one car
 * rental. Its input is a chat message with the trip's facts in a json block, as a user would write it.
 */
function conciergePlan(tag: string, index: number): ThreadPlan {
  const tripId = `${tag}-C${index}`;
  const city = pick(CITIES, index);
  const name = `Chaos Guest ${index}`;
  const facts = { tripId, city, guest: name, driver: name, checkIn: "2026-12-01", pickUpOn: "2026-12-01", nights: 2, days: 2 };
  return {
    index,
    threadId: threadIdFor(tag, index),
    agent: "concierge",
    input: { messages: [{ role: "user", content: `Hotel and car in ${city}, please.\n\`\`\`json\n${JSON.stringify(facts)}\n\`\`\`` }] },
    intents: [
      { table: "world.hotel_bookings", identity: tripId },
      { table: "world.car_rentals", identity: tripId },
    ],
  };
}

/** The agent of each run, in turn. */
export const AGENT_CYCLE: readonly AgentName[] = ["onboarding", "travel", "concierge"];

/** Intents (side effects to count) per thread of each agent. */
export const INTENTS_PER_THREAD: Record<AgentName, number> = { onboarding: 4, travel: 3, concierge: 2 };

/** How many of `runs` threads each agent gets (runs take the agents of AGENT_CYCLE in turn). */
export function threadsPerAgent(runs: number): Record<AgentName, number> {
  const out: Record<AgentName, number> = { onboarding: 0, travel: 0, concierge: 0 };
  for (let i = 0; i < runs; i++) out[pick(AGENT_CYCLE, i)]++;
  return out;
}

/** Runs take the three agents in turn. */
function planThreads(runs: number, tag: string): ThreadPlan[] {
  const plan = { onboarding: onboardingPlan, travel: travelPlan, concierge: conciergePlan };
  return Array.from({ length: runs }, (_, i) => plan[pick(AGENT_CYCLE, i)](tag, i));
}

// ---------------------------------------------------------------------------------------------------
// Shared driver state

interface Driver {
  wp: Waypoint;
  env: NodeJS.ProcessEnv;
  paceMs: number;
  minKills: number;
  runs: number;
  killProbability: number;
  childTimeoutMs: number;
  maxActions: number;
  seed: number;
  onEvent: (line: string) => void;
  tally: {
    killsSent: number;
    /** Driver kills and self-crashes, by the agent of the thread the child ran. */
    killsByAgent: Record<string, number>;
    /** Calls in doubt settled by the driver ("did this happen?" answered), by agent. */
    doubtsByAgent: Record<string, number>;
    /** Kills fired whose child has not closed yet. */
    killsInFlight: number;
    killsTooLate: number;
    selfCrashes: number;
    hung: number;
    children: number;
    finishedThreads: number;
    pids: number[];
    commands: Record<string, number>;
    anomalies: string[];
  };
}

/** How many more kills are wanted (kills fired but not yet confirmed count as done). */
function killsNeeded(d: Driver): number {
  return Math.max(0, d.minKills - d.tally.killsSent - d.tally.killsInFlight);
}

/** Add one to a counter in a tally map. */
function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

// ---------------------------------------------------------------------------------------------------
// Children: spawn, maybe kill, classify how they ended

/** A progress line of the CLI, e.g. "    0.1s agent: proposes ...". */
const PROGRESS_LINE = /^\s+\d+\.\ds \S/m;
/** Printed once the CLI opened the database, just before it starts the action. */
const STARTED_LINE = /^model: /m;

interface KillPlan {
  trigger: RegExp;
  delayMs: number;
  /** For the action log, e.g. "progress+120ms". */
  label: string;
}

/**
 * Decide whether this child dies and when: with probability killProbability (0.9 when the remaining
 * kills outnumber the unfinished threads), either shortly after the CLI started its action (a kill
 * before or during the first step), or at a random point within the next ~10 paced steps.
 */
function planKill(d: Driver, rng: () => number): KillPlan | undefined {
  const needed = killsNeeded(d);
  if (needed === 0) return undefined;
  const p = needed >= d.runs - d.tally.finishedThreads ? 0.9 : d.killProbability;
  if (rng() >= p) return undefined;
  if (rng() < 0.25) {
    const delayMs = Math.floor(rng() * 150);
    return { trigger: STARTED_LINE, delayMs, label: `start+${delayMs}ms` };
  }
  const delayMs = Math.floor(rng() * 10 * d.paceMs);
  return { trigger: PROGRESS_LINE, delayMs, label: `progress+${delayMs}ms` };
}

/** Whether the child has neither exited nor been killed yet. */
function alive(cli: CliChild): boolean {
  return cli.child.exitCode === null && cli.child.signalCode === null;
}

/** Arm a kill: once stdout matches the trigger, wait the delay, then SIGKILL if kills are still needed. */
function armKill(d: Driver, cli: CliChild, plan: KillPlan | undefined): { fired: () => boolean; disarm: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let fired = false;
  const fire = () => {
    if (!alive(cli) || killsNeeded(d) === 0) return;
    fired = cli.child.kill("SIGKILL");
    if (fired) d.tally.killsInFlight++;
  };
  const onData = () => {
    if (plan && !timer && plan.trigger.test(cli.output())) timer = setTimeout(fire, plan.delayMs);
  };
  if (plan) cli.child.stdout?.on("data", onData);
  return {
    fired: () => fired,
    disarm: () => {
      if (timer) clearTimeout(timer);
      cli.child.stdout?.off("data", onData);
    },
  };
}

type ChildEnd = "exited" | "killed" | "kill_too_late" | "self_crash" | "hung";

interface ChildRecord {
  end: ChildEnd;
  code: number | null;
  ms: number;
  /** First line of stderr, for the action log. */
  error: string;
  killLabel?: string;
}

/** Tally a finished child by how it ended. */
function classifyChild(d: Driver, fired: boolean, hung: boolean, signal: NodeJS.Signals | null): ChildEnd {
  if (fired) d.tally.killsInFlight--;
  if (hung) {
    d.tally.hung++;
    return "hung";
  }
  if (fired && signal === "SIGKILL") {
    d.tally.killsSent++;
    return "killed";
  }
  if (fired) {
    d.tally.killsTooLate++;
    return "kill_too_late";
  }
  if (signal === "SIGKILL") {
    d.tally.selfCrashes++;
    return "self_crash";
  }
  return "exited";
}

/** Run one CLI command in a child, possibly killing it, and report how it ended. */
async function runChild(d: Driver, args: string[], plan: KillPlan | undefined): Promise<ChildRecord> {
  const started = Date.now();
  const cli = startCli(["--pace", String(d.paceMs), ...args], d.env);
  d.tally.children++;
  if (cli.child.pid !== undefined) d.tally.pids.push(cli.child.pid);
  const killer = armKill(d, cli, plan);
  let hung = false;
  const watchdog = setTimeout(() => {
    hung = true;
    cli.child.kill("SIGKILL");
  }, d.childTimeoutMs);
  const r = await cli.done;
  clearTimeout(watchdog);
  killer.disarm();
  const end = classifyChild(d, killer.fired(), hung, r.signal);
  const error = r.stderr.split("\n").find((l) => l.trim() !== "") ?? "";
  return { end, code: r.code, ms: Date.now() - started, error: error.slice(0, 200), ...(plan && killer.fired() ? { killLabel: plan.label } : {}) };
}

/** One line for the action log: the command and how its child ended. */
function describeChild(args: string[], rec: ChildRecord): string {
  // "run <agent>" without its long input; other commands without the thread id.
  const cmd = args[0] === "run" ? args.slice(0, 2).join(" ") : [args[0] ?? "", ...args.slice(2)].join(" ");
  const how =
    rec.end === "killed" ? `SIGKILLed by the driver (${rec.killLabel ?? ""})`
    : rec.end === "self_crash" ? "died of SIGKILL on its own (crash_after_effect)"
    : rec.end === "hung" ? "hung; killed by the watchdog"
    : `exit ${rec.code}${rec.end === "kill_too_late" ? " (kill landed too late)" : ""}${rec.code ? `: ${rec.error}` : ""}`;
  return `${cmd} -> ${how} [${rec.ms} ms]`;
}

// ---------------------------------------------------------------------------------------------------
// What a person would do next, from the thread's view

type Next = { kind: "finished"; view: ThreadView } | { kind: "false_done"; detail: string } | { kind: "command"; args: string[]; note?: string };

/** Whether the registry has the thread at all (a `run` killed before its insert leaves nothing). */
async function threadExists(d: Driver, threadId: string): Promise<boolean> {
  const { rowCount } = await d.wp.pool.query("SELECT 1 FROM waypoint.threads WHERE thread_id = $1", [threadId]);
  return (rowCount ?? 0) > 0;
}

/** The `run` command that starts the thread under its known id. */
function runArgs(plan: ThreadPlan): string[] {
  return ["run", plan.agent, "--thread", plan.threadId, "--input", JSON.stringify(plan.input)];
}

/** The rental references the car system holds for a trip (the human's look in the world). */
async function rentalsOf(d: Driver, tripId: string): Promise<string[]> {
  const { rows } = await d.wp.pool.query<{ rental_ref: string }>("SELECT rental_ref FROM world.car_rentals WHERE trip_id = $1 ORDER BY id", [tripId]);
  return rows.map((r) => r.rental_ref);
}

type DoubtDecision = { type: "confirm_done"; message: string } | { type: "run_again" };

/** Settle one call in doubt: a rental that exists is confirmed with its reference, else it runs again. */
async function settleOne(d: Driver, plan: ThreadPlan, name: string, args: Record<string, unknown>): Promise<DoubtDecision> {
  if (name !== "rent_car") {
    d.tally.anomalies.push(`${plan.threadId} (${plan.agent}): ${name} in doubt (its system dedupes; expected only rent_car); answered run_again`);
    return { type: "run_again" };
  }
  const refs = await rentalsOf(d, String(args.tripId ?? ""));
  return refs[0] ? { type: "confirm_done", message: refs[0] } : { type: "run_again" };
}

/** `decide` for a call in doubt: the short form for one call, --decisions for several. */
async function doubtCommand(d: Driver, plan: ThreadPlan, pending: PendingInterrupt): Promise<string[]> {
  const decisions: DoubtDecision[] = [];
  for (const a of pending.request!.actionRequests) decisions.push(await settleOne(d, plan, a.name, a.args));
  const first = decisions[0];
  if (decisions.length === 1 && first) {
    return first.type === "confirm_done" ? ["decide", plan.threadId, "confirm_done", "--message", first.message] : ["decide", plan.threadId, "run_again"];
  }
  d.tally.anomalies.push(`${plan.threadId} (${plan.agent}): ${decisions.length} calls in doubt at once`);
  return ["decide", plan.threadId, first?.type ?? "run_again", "--decisions", JSON.stringify(decisions)];
}

/** The decision for a pending request: approve a review, settle a doubt, retry the hotel. */
async function decisionFor(d: Driver, plan: ThreadPlan, view: ThreadView): Promise<string[]> {
  const pending = view.pending[0] as PendingInterrupt;
  const extra = view.pending.length > 1 ? ["--interrupt", pending.interruptId] : [];
  const kind = pending.request!.kind ?? "review";
  if (kind === "in_doubt") return [...(await doubtCommand(d, plan, pending)), ...extra];
  if (kind === "choice") return ["decide", plan.threadId, "choose", "--option", "retry_hotel", ...extra];
  return ["decide", plan.threadId, "approve", ...extra];
}

/**
 * Pending writes LangGraph holds on the thread's latest checkpoint: a task of the next step that ran
 * (its writes were saved) while the step's own checkpoint was never committed. A finished thread has
 * none; with some, the step is unfinished and the thread is not done, whatever its `next` says.
 */
async function unfinishedStep(pool: Waypoint["pool"], threadId: string, checkpointId: string | undefined): Promise<string[]> {
  if (!checkpointId) return [];
  const { rows } = await pool.query<{ w: string }>(
    `SELECT DISTINCT channel AS w FROM checkpoint_writes
      WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = $2 AND channel NOT IN ('__error__', '__interrupt__') ORDER BY 1`,
    [threadId, checkpointId],
  );
  return rows.map((r) => r.w);
}

/** Read the thread (no child of it is alive) and pick the next command. */
async function nextStep(d: Driver, plan: ThreadPlan): Promise<Next> {
  if (!(await threadExists(d, plan.threadId))) return { kind: "command", args: runArgs(plan), note: "no thread row yet" };
  const view = await d.wp.view(plan.threadId);
  if (view.status === "done") {
    // Trust "done" only when no step is half-committed; otherwise it is a product bug to report.
    const writes = await unfinishedStep(d.wp.pool, plan.threadId, view.checkpointId);
    if (writes.length === 0) return { kind: "finished", view };
    return { kind: "false_done", detail: `view says done (next: []) but checkpoint ${view.checkpointId ?? ""} has pending writes to ${writes.join(", ")}` };
  }
  if (view.status === "interrupted") {
    return { kind: "command", args: await decisionFor(d, plan, view) };
  }
  if (view.status === "running") d.tally.anomalies.push(`${plan.threadId} (${plan.agent}): status "running" with no live child (${view.detail ?? ""}); resumed`);
  return { kind: "command", args: ["resume", plan.threadId], ...(view.checkpointId ? {} : { note: "no checkpoint yet" }) };
}

// ---------------------------------------------------------------------------------------------------
// Driving threads

/** Command name for the tally: run, resume, or the decision type. */
function commandName(args: string[]): string {
  return args[0] === "decide" ? (args[2] ?? "decide") : (args[0] ?? "?");
}

/**
 * The view said "done" with a step unfinished (a product bug; recorded, never hidden). The first time,
 * the driver tries `resume` once, as a person who noticed the missing effects would; the second time it
 * gives up on the thread (undefined).
 */
function afterFalseDone(d: Driver, plan: ThreadPlan, outcome: ThreadOutcome, detail: string): { args: string[]; note: string } | undefined {
  if (outcome.falseDone) {
    outcome.gaveUp = `${detail}; resume did not finish it`;
    return undefined;
  }
  outcome.falseDone = detail;
  outcome.actions.push(`(driver saw: ${detail}; trying resume)`);
  d.tally.anomalies.push(`${plan.threadId} (${plan.agent}): ${detail}`);
  return { args: ["resume", plan.threadId], note: "after a false done" };
}

/** Drive one thread with child processes until it is done or the action budget is spent. */
async function driveThread(d: Driver, plan: ThreadPlan): Promise<ThreadOutcome> {
  const rng = mulberry32(d.seed * 100_003 + plan.index);
  const outcome: ThreadOutcome = { threadId: plan.threadId, agent: plan.agent, finished: false, actions: [] };
  let args = runArgs(plan);
  let note: string | undefined;
  try {
    for (let n = 1; n <= d.maxActions; n++) {
      count(d.tally.commands, commandName(args));
      const rec = await runChild(d, args, planKill(d, rng));
      if (rec.end === "killed" || rec.end === "self_crash") count(d.tally.killsByAgent, plan.agent);
      if (args[0] === "decide" && ["confirm_done", "run_again", "skip"].includes(args[2] ?? "")) count(d.tally.doubtsByAgent, plan.agent);
      const line = `${describeChild(args, rec)}${note ? ` (${note})` : ""}`;
      outcome.actions.push(line);
      if (rec.code === 2) d.tally.anomalies.push(`${plan.threadId} (${plan.agent}): refused as bad input: ${line}`);
      d.onEvent(`[${plan.threadId}] #${n} ${line}`);
      const next = await nextStep(d, plan);
      if (next.kind === "finished") {
        outcome.finished = true;
        return outcome;
      }
      const follow = next.kind === "false_done" ? afterFalseDone(d, plan, outcome, next.detail) : next;
      if (!follow) return outcome;
      args = follow.args;
      note = follow.note;
    }
    outcome.gaveUp = `no "done" after ${d.maxActions} actions`;
  } catch (e) {
    outcome.gaveUp = `driver error: ${e instanceof Error ? e.message : String(e)}`;
  }
  return outcome;
}

/** Take threads from the queue one at a time until it is empty. */
async function worker(d: Driver, queue: ThreadPlan[], out: ThreadOutcome[]): Promise<void> {
  for (let plan = queue.shift(); plan; plan = queue.shift()) {
    const outcome = await driveThread(d, plan);
    d.tally.finishedThreads++;
    out.push(outcome);
    d.onEvent(`thread ${plan.threadId} (${plan.agent}) ${outcome.finished ? "done" : `GAVE UP: ${outcome.gaveUp ?? ""}`} after ${outcome.actions.length} actions (${d.tally.finishedThreads}/${d.runs}, kills ${d.tally.killsSent}/${d.minKills})`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Verification

/** Row counts by business identity, one query per table. */
async function countsByIdentity(wp: Waypoint, plans: ThreadPlan[]): Promise<Map<string, number>> {
  const emails = plans.filter((p) => p.agent === "onboarding").flatMap((p) => p.intents.filter((i) => i.table === "world.directory").map((i) => i.identity));
  const trips = plans.filter((p) => p.agent === "travel" || p.agent === "concierge").flatMap((p) => p.intents.filter((i) => i.table === "world.car_rentals").map((i) => i.identity));
  const queries: Array<[string, string, string[]]> = [
    ["world.directory", "SELECT email AS k, count(*)::int AS n FROM world.directory WHERE email = ANY($1) GROUP BY email", emails],
    ["world.outbox", "SELECT recipient AS k, count(*)::int AS n FROM world.outbox WHERE recipient = ANY($1) GROUP BY recipient", emails],
    ["world.grants", "SELECT email || ' ' || privilege AS k, count(*)::int AS n FROM world.grants WHERE email = ANY($1) GROUP BY email, privilege", emails],
    ["world.flights", "SELECT trip_id AS k, count(*)::int AS n FROM world.flights WHERE trip_id = ANY($1) GROUP BY trip_id", trips],
    ["world.hotel_bookings", "SELECT trip_id AS k, count(*)::int AS n FROM world.hotel_bookings WHERE trip_id = ANY($1) GROUP BY trip_id", trips],
    ["world.car_rentals", "SELECT trip_id AS k, count(*)::int AS n FROM world.car_rentals WHERE trip_id = ANY($1) GROUP BY trip_id", trips],
  ];
  const counts = new Map<string, number>();
  for (const [table, sql, keys] of queries) {
    const { rows } = await wp.pool.query<{ k: string; n: number }>(sql, [keys]);
    for (const r of rows) counts.set(`${table}|${r.k}`, r.n);
  }
  return counts;
}

/** Every intended side effect with how many rows the world holds for it. */
async function intentCounts(wp: Waypoint, plans: ThreadPlan[]): Promise<IntentCount[]> {
  const counts = await countsByIdentity(wp, plans);
  return plans.flatMap((p) => p.intents.map((i) => ({ threadId: p.threadId, table: i.table, identity: i.identity, count: counts.get(`${i.table}|${i.identity}`) ?? 0 })));
}

/** Tool calls of the conversation that no ToolMessage answers. */
function danglingCalls(messages: unknown): Array<{ toolCallId: string; tool: string }> {
  const list = Array.isArray(messages) ? (messages as unknown[]) : [];
  const answered = new Set(list.filter((m): m is ToolMessage => ToolMessage.isInstance(m)).map((m) => m.tool_call_id));
  return list
    .filter((m): m is AIMessage => AIMessage.isInstance(m))
    .flatMap((m) => m.tool_calls ?? [])
    .filter((tc) => !tc.id || !answered.has(tc.id))
    .map((tc) => ({ toolCallId: tc.id ?? "(no id)", tool: tc.name }));
}

interface LedgerSummary {
  thread_id: string;
  tool: string;
  status: string;
  final: boolean;
  attempts: number;
}

/** Ledger statistics: retried calls, and unsettled rows of threads that finished. */
async function ledgerStats(wp: Waypoint, threadIds: string[], done: ReadonlySet<string>): Promise<ChaosReport["ledger"]> {
  const { rows } = await wp.pool.query<LedgerSummary>("SELECT thread_id, tool, status, final, attempts FROM waypoint.tool_calls WHERE thread_id = ANY($1)", [threadIds]);
  const retriedByTool: Record<string, number> = {};
  for (const r of rows.filter((x) => x.attempts > 1)) count(retriedByTool, r.tool);
  const isOpen = (r: LedgerSummary) => ["started", "in_doubt", "rerun"].includes(r.status) || (r.status === "failed" && !r.final);
  const open = rows.filter((r) => done.has(r.thread_id) && isOpen(r)).map((r) => ({ threadId: r.thread_id, tool: r.tool, status: r.status }));
  return { rows: rows.length, retried: rows.filter((r) => r.attempts > 1).length, retriedByTool, open };
}

/** Faults the children injected (each is a row in world.faults with the child's pid), by kind. */
async function faultStats(wp: Waypoint, pids: number[]): Promise<ChaosReport["faults"]> {
  const { rows } = await wp.pool.query<{ kind: string; n: number }>("SELECT kind, count(*)::int AS n FROM world.faults WHERE pid = ANY($1) GROUP BY kind ORDER BY kind", [pids]);
  return { total: rows.reduce((s, r) => s + r.n, 0), byKind: Object.fromEntries(rows.map((r) => [r.kind, r.n])) };
}

/** The final views of every thread (null for a thread that never got a registry row). */
async function finalViews(wp: Waypoint, plans: ThreadPlan[]): Promise<Map<string, ThreadView | null>> {
  const views = new Map<string, ThreadView | null>();
  for (const p of plans) views.set(p.threadId, (await wp.pool.query("SELECT 1 FROM waypoint.threads WHERE thread_id = $1", [p.threadId])).rowCount ? await wp.view(p.threadId) : null);
  return views;
}

/** Threads whose final view says "done" while a step of theirs is unfinished (pending writes). */
async function falseDoneThreads(wp: Waypoint, views: Map<string, ThreadView | null>): Promise<ChaosReport["falseDone"]> {
  const out: ChaosReport["falseDone"] = [];
  for (const [threadId, v] of views) {
    if (v?.status !== "done") continue;
    const writes = await unfinishedStep(wp.pool, threadId, v.checkpointId);
    if (writes.length > 0) out.push({ threadId, checkpointId: v.checkpointId ?? "", writes });
  }
  return out;
}

/** The ledger rows of some threads, one readable line per row. */
async function ledgerLines(wp: Waypoint, threadIds: string[]): Promise<Record<string, string[]>> {
  const { rows } = await wp.pool.query<{ thread_id: string; line: string }>(
    `SELECT thread_id, concat_ws(' ', tool, tool_call_id, 'status=' || status, 'attempts=' || attempts, 'final=' || final, 'resolution=' || coalesce(resolution, '-'),
            'started=' || to_char(started_at, 'HH24:MI:SS.MS'), 'finished=' || coalesce(to_char(finished_at, 'HH24:MI:SS.MS'), '-'), 'error=' || coalesce(error, '-')) AS line
       FROM waypoint.tool_calls WHERE thread_id = ANY($1) ORDER BY thread_id, started_at`,
    [threadIds],
  );
  const out: Record<string, string[]> = Object.fromEntries(threadIds.map((id) => [id, []]));
  for (const r of rows) out[r.thread_id]?.push(r.line);
  return out;
}

/** Every thread a violation names. */
function namedThreads(r: Pick<ChaosReport, "intents" | "dangling" | "unresumable" | "ledger" | "falseDone">): string[] {
  return [
    ...new Set([...r.intents.violations.map((v) => v.threadId), ...r.dangling.map((x) => x.threadId), ...r.unresumable.map((u) => u.threadId), ...r.ledger.open.map((o) => o.threadId), ...r.falseDone.map((f) => f.threadId)]),
  ];
}

/** Check every invariant with SQL and the final thread states. */
async function verify(d: Driver, plans: ThreadPlan[], outcomes: ThreadOutcome[], wallMs: number): Promise<ChaosReport> {
  const views = await finalViews(d.wp, plans);
  const falseDone = await falseDoneThreads(d.wp, views);
  const notReallyDone = new Set(falseDone.map((f) => f.threadId));
  const done = new Set([...views].filter(([id, v]) => v?.status === "done" && !notReallyDone.has(id)).map(([id]) => id));
  const intents = await intentCounts(d.wp, plans);
  const counts = intents.map((i) => i.count);
  const byId = new Map(outcomes.map((o) => [o.threadId, o]));
  const agentOf = new Map(plans.map((p) => [p.threadId, p.agent]));
  const byAgent: ChaosReport["byAgent"] = {};
  for (const p of plans) {
    const a = (byAgent[p.agent] ??= { runs: 0, completed: 0, intents: 0, violations: 0, kills: d.tally.killsByAgent[p.agent] ?? 0, doubts: d.tally.doubtsByAgent[p.agent] ?? 0 });
    a.runs++;
    if (done.has(p.threadId)) a.completed++;
  }
  for (const i of intents) {
    const a = byAgent[agentOf.get(i.threadId) as AgentName];
    if (!a) continue;
    a.intents++;
    if (i.count !== 1) a.violations++;
  }
  const report: ChaosReport = {
    runs: plans.length,
    completed: done.size,
    byAgent,
    killsSent: d.tally.killsSent,
    killsTooLate: d.tally.killsTooLate,
    selfCrashes: d.tally.selfCrashes,
    hungChildren: d.tally.hung,
    children: d.tally.children,
    wallMs,
    commands: d.tally.commands,
    faults: await faultStats(d.wp, d.tally.pids),
    intents: { checked: intents.length, min: Math.min(...counts), max: Math.max(...counts), violations: intents.filter((i) => i.count !== 1) },
    dangling: [...views].flatMap(([threadId, v]) => danglingCalls(v?.values.messages).map((c) => ({ threadId, ...c }))),
    falseDone,
    unresumable: [...views]
      .filter(([id]) => !done.has(id) || !byId.get(id)?.finished)
      .map(([id, v]) => ({
        threadId: id,
        status: notReallyDone.has(id) ? "done (but a step is unfinished)" : (v?.status ?? "no thread row"),
        detail: byId.get(id)?.gaveUp ?? v?.detail ?? null,
        actions: byId.get(id)?.actions.length ?? 0,
      })),
    ledger: await ledgerStats(d.wp, plans.map((p) => p.threadId), done),
    anomalies: d.tally.anomalies,
    threads: outcomes,
    ledgerOfNamed: {},
  };
  report.ledgerOfNamed = await ledgerLines(d.wp, namedThreads(report));
  return report;
}

// ---------------------------------------------------------------------------------------------------
// Entry points

/** Build the driver state: one in-process Waypoint for views, the children's environment, defaults. */
async function openDriver(opts: ChaosOptions): Promise<Driver> {
  return {
    wp: await Waypoint.open({ url: opts.databaseUrl, poolMax: 4 }),
    env: childEnv({ DATABASE_URL: opts.databaseUrl, WAYPOINT_FAULTS: opts.faults ?? DEFAULT_FAULTS, LOG_LEVEL: "silent" }),
    paceMs: opts.paceMs ?? 40,
    minKills: opts.minKills,
    runs: opts.runs,
    killProbability: opts.killProbability ?? 0.5,
    childTimeoutMs: opts.childTimeoutMs ?? 120_000,
    maxActions: opts.maxActionsPerRun ?? 40,
    seed: opts.seed ?? 1,
    onEvent: opts.onEvent ?? (() => undefined),
    tally: { killsSent: 0, killsByAgent: {}, doubtsByAgent: {}, killsInFlight: 0, killsTooLate: 0, selfCrashes: 0, hung: 0, children: 0, finishedThreads: 0, pids: [], commands: {}, anomalies: [] },
  };
}

/** Run the chaos experiment and verify it. The database must already have Waypoint's schema. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const d = await openDriver(opts);
  try {
    const started = Date.now();
    const tag = `chaos-${(opts.seed ?? 1).toString(36)}-${randomBytes(3).toString("hex")}`;
    const plans = planThreads(opts.runs, tag);
    const queue = [...plans];
    const outcomes: ThreadOutcome[] = [];
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, () => worker(d, queue, outcomes)));
    return await verify(d, plans, outcomes, Date.now() - started);
  } finally {
    await d.wp.close();
  }
}

/** Invariants the report breaks, in words (empty when exactly-once held everywhere). */
export function chaosViolations(r: ChaosReport, opts: { minKills?: number } = {}): string[] {
  const out: string[] = [];
  if (r.completed !== r.runs) out.push(`${r.runs - r.completed} of ${r.runs} threads did not complete`);
  if (r.intents.violations.length > 0) out.push(`${r.intents.violations.length} side effects not exactly once`);
  if (r.dangling.length > 0) out.push(`${r.dangling.length} dangling tool calls`);
  if (r.falseDone.length > 0) out.push(`${r.falseDone.length} threads reported done with an unfinished step`);
  if (r.unresumable.length > 0) out.push(`${r.unresumable.length} threads could not be resumed`);
  if (r.ledger.open.length > 0) out.push(`${r.ledger.open.length} open ledger rows on finished threads`);
  if (opts.minKills !== undefined && r.killsSent < opts.minKills) out.push(`only ${r.killsSent} kills (wanted ${opts.minKills})`);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The table

/** "a 3, b 1" for a count map, or "-" when empty. */
function formatCounts(map: Record<string, number>): string {
  const entries = Object.entries(map).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(", ") : "-";
}

/** Rows of the summary table: measure, value, expected. */
function summaryRows(r: ChaosReport): Array<[string, string, string]> {
  const ok = (good: boolean) => (good ? "ok" : "VIOLATED");
  return [
    ["runs (threads)", String(r.runs), ""],
    ["runs completed (done)", String(r.completed), `${r.runs}  ${ok(r.completed === r.runs)}`],
    ...Object.entries(r.byAgent).map(([agent, a]): [string, string, string] => [
      `  ${agent}: done / runs, intents not once / checked (kills, doubts)`,
      `${a.completed} / ${a.runs}, ${a.violations} / ${a.intents} (${a.kills} kills, ${a.doubts} doubts answered)`,
      `${a.runs} / ${a.runs}, 0 / ${a.intents}  ${ok(a.completed === a.runs && a.violations === 0)}`,
    ]),
    ["kills sent by the driver (SIGKILL)", String(r.killsSent), ""],
    ["kills that landed too late (child already exiting)", String(r.killsTooLate), ""],
    ["self-crashes (crash_after_effect SIGKILL)", String(r.selfCrashes), ""],
    ["children killed by the watchdog (hung)", String(r.hungChildren), "0"],
    ["child processes spawned", String(r.children), ""],
    ["commands", formatCounts(r.commands), ""],
    ["faults injected (world.faults)", String(r.faults.total), ""],
    ["  by kind", formatCounts(r.faults.byKind), ""],
    ["side effects checked (intents)", String(r.intents.checked), ""],
    ["rows per intent: min / max", `${r.intents.min} / ${r.intents.max}`, `1 / 1  ${ok(r.intents.violations.length === 0)}`],
    ["intents not exactly once", String(r.intents.violations.length), `0  ${ok(r.intents.violations.length === 0)}`],
    ["dangling tool calls", String(r.dangling.length), `0  ${ok(r.dangling.length === 0)}`],
    ["threads reported done with an unfinished step", String(r.falseDone.length), `0  ${ok(r.falseDone.length === 0)}`],
    ["threads that could not be resumed", String(r.unresumable.length), `0  ${ok(r.unresumable.length === 0)}`],
    ["ledger rows", String(r.ledger.rows), ""],
    ["ledger calls with attempts > 1 (same key)", String(r.ledger.retried), "informative"],
    ["  by tool", formatCounts(r.ledger.retriedByTool), ""],
    ["open ledger rows on finished threads", String(r.ledger.open.length), `0  ${ok(r.ledger.open.length === 0)}`],
    ["driver anomalies", String(r.anomalies.length), "0"],
    ["wall time", `${(r.wallMs / 1000).toFixed(1)} s`, ""],
  ];
}

/** Lay out rows as an aligned plain-text table. */
function table(header: [string, string, string], rows: Array<[string, string, string]>): string[] {
  const all = [header, ...rows];
  const w = [0, 1, 2].map((c) => Math.max(...all.map((row) => row[c as 0 | 1 | 2].length)));
  const line = (row: [string, string, string]) => row.map((cell, c) => cell.padEnd(w[c] ?? 0)).join(" | ").trimEnd();
  return [line(header), w.map((n) => "-".repeat(n)).join("-+-"), ...rows.map(line)];
}

/** The action log of the threads a violation names, so what the driver did can be replayed by hand. */
function detailLines(r: ChaosReport): string[] {
  const named = new Set(namedThreads(r));
  const out: string[] = [];
  for (const v of r.intents.violations) out.push(`  not exactly once: ${v.table} "${v.identity}" has ${v.count} rows (thread ${v.threadId})`);
  for (const x of r.dangling) out.push(`  dangling: thread ${x.threadId} tool call ${x.toolCallId} (${x.tool})`);
  for (const f of r.falseDone) out.push(`  reported done, step unfinished: thread ${f.threadId} checkpoint ${f.checkpointId} has pending writes to ${f.writes.join(", ")}`);
  for (const u of r.unresumable) out.push(`  not resumed: thread ${u.threadId}: ${u.status}${u.detail ? ` - ${u.detail}` : ""} (${u.actions} actions)`);
  for (const o of r.ledger.open) out.push(`  open ledger row: thread ${o.threadId} ${o.tool} ${o.status}`);
  for (const a of r.anomalies) out.push(`  anomaly: ${a}`);
  for (const t of r.threads.filter((x) => named.has(x.threadId))) {
    out.push(`  thread ${t.threadId} (${t.agent}), what the driver did:`, ...t.actions.map((a, i) => `    ${i + 1}. ${a}`));
    out.push(`    ledger (waypoint.tool_calls):`, ...(r.ledgerOfNamed[t.threadId] ?? []).map((l) => `      ${l}`));
  }
  return out;
}

/** The report as a plain-text table, followed by the details of anything that went wrong. */
export function formatChaosReport(r: ChaosReport): string {
  const details = detailLines(r);
  return [...table(["measure", "value", "expected"], summaryRows(r)), ...(details.length ? ["", "Details:", ...details] : [])].join("\n");
}
