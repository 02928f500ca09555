// Human-in-the-loop request and decision shapes (LangChain v1 HITL middleware shape, plus `context`),
// and the validation every decision passes before it touches a thread.
import { z } from "zod";
import { WaypointError } from "../errors.js";
import { describeZodError, type ToolInfo } from "../tools/index.js";

/** Decisions on a proposed tool call (LangChain v1 HITL). */
export const DECISION_TYPES = ["approve", "edit", "reject", "respond"] as const;
/** Decisions on a call whose outcome is unknown ("did this happen?"). */
export const DOUBT_DECISION_TYPES = ["confirm_done", "run_again", "skip"] as const;
/** Decisions on a call that needs a permission scope the run lacks ("reject" refuses it). */
export const SCOPE_DECISION_TYPES = ["grant_once", "grant_for_run", "reject"] as const;
export const ALL_DECISION_TYPES = [...DECISION_TYPES, ...DOUBT_DECISION_TYPES, "choose", "grant_once", "grant_for_run"] as const;
export type DecisionType = (typeof ALL_DECISION_TYPES)[number];

/**
 * review: approve a proposed call; in_doubt: say whether a call happened; choice: pick a branch;
 * scope: grant a permission the run lacks, or refuse it; guard: a guardrail paused the run.
 */
export type RequestKind = "review" | "in_doubt" | "choice" | "scope" | "guard";

export interface ChoiceOption {
  /** What the reviewer answers with: { type: "choose", option: id }. */
  id: string;
  /** What choosing it does, in words. */
  description: string;
  /** When the option takes arguments: the tool they are checked against (merged over `baseArgs`). */
  tool?: string;
  baseArgs?: Record<string, unknown>;
  argsSchema?: Record<string, unknown>;
  /** A typical answer's args, for help text. */
  exampleArgs?: Record<string, unknown>;
}

export interface ActionRequest {
  /** Tool name. */
  name: string;
  /** Arguments the model proposed. */
  args: Record<string, unknown>;
  /** What running it would do, in words. */
  description: string;
  /** The tool call this action is (Waypoint extension; lets clients match ledger rows). */
  toolCallId: string;
}

export interface ReviewConfig {
  actionName: string;
  allowedDecisions: DecisionType[];
  /** JSON schema edited arguments must satisfy. */
  argsSchema?: Record<string, unknown>;
  /** For "choose": the branches on offer. */
  options?: ChoiceOption[];
}

export interface ReviewContext {
  /** Steps already finished in this thread, oldest first. */
  done: Array<{ step: string; outcome: "done" | "failed"; summary: string }>;
  /** Steps of the plan not started yet. */
  notStarted?: string[];
  /** Things that exist in the world because of this thread (account refs, message refs...). */
  artifacts: Array<{ kind: string; ref: string; from: string }>;
  /** The proposed next step, in words. */
  nextStep: string;
  /** What each decision leads to. */
  decisionOutcomes: Partial<Record<DecisionType, string>>;
}

export interface HITLRequest {
  /** Absent means "review". */
  kind?: RequestKind;
  actionRequests: ActionRequest[];
  reviewConfigs: ReviewConfig[];
  context: ReviewContext;
}

export const DecisionSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("approve") }).strict(),
    z
      .object({
        type: z.literal("edit"),
        editedAction: z.object({
          name: z.string().describe("Tool name; must be the one under review"),
          args: z.record(z.string(), z.unknown()).describe("Replacement arguments, checked against the tool's schema"),
        }),
      })
      .strict(),
    z.object({ type: z.literal("reject"), message: z.string().min(1).optional().describe("Why; fed back to the model as the tool's error") }).strict(),
    z.object({ type: z.literal("respond"), message: z.string().min(1).describe("Returned to the model as the tool's result; the tool does not run") }).strict(),
    z.object({ type: z.literal("confirm_done"), message: z.string().min(1).optional().describe("What you found, e.g. the booking reference; given to the agent as the result") }).strict(),
    z.object({ type: z.literal("run_again") }).strict(),
    z.object({ type: z.literal("grant_once") }).strict(),
    z.object({ type: z.literal("grant_for_run") }).strict(),
    z.object({ type: z.literal("skip"), message: z.string().min(1).optional().describe("Why; the agent is told the call was not repeated") }).strict(),
    z
      .object({
        type: z.literal("choose"),
        option: z.string().min(1).describe("Id of one of the offered options"),
        args: z.record(z.string(), z.unknown()).optional().describe("Arguments, for an option that takes them"),
      })
      .strict(),
  ],
  { error: (iss) => (iss.code === "invalid_union" ? `decision type must be one of ${ALL_DECISION_TYPES.join(", ")}` : undefined) },
);
export type Decision = z.infer<typeof DecisionSchema>;

export const HITLResponseSchema = z.object({ decisions: z.array(DecisionSchema).describe("One decision per action request, in order") }).strict();
export type HITLResponse = z.infer<typeof HITLResponseSchema>;

export function isHITLRequest(v: unknown): v is HITLRequest {
  return typeof v === "object" && v !== null && Array.isArray((v as HITLRequest).actionRequests) && Array.isArray((v as HITLRequest).reviewConfigs);
}

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Loose) : undefined);

/**
 * An interrupt value in the HITL shape, in either spelling (LangChain JS and Waypoint write
 * actionRequests / reviewConfigs / actionName / allowedDecisions / argsSchema; LangChain Python and some
 * clients write action_requests / review_configs / action_name / allowed_decisions / args_schema), as
 * the camelCase request Waypoint validates against. Anything else: undefined.
 */
export function normalizeHITLRequest(v: unknown): HITLRequest | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const actions = o.actionRequests ?? o.action_requests;
  const configs = o.reviewConfigs ?? o.review_configs;
  if (!Array.isArray(actions) || !Array.isArray(configs)) return undefined;
  const actionRequests: ActionRequest[] = [];
  for (const a of actions) {
    const ao = obj(a);
    if (!ao || typeof ao.name !== "string") return undefined;
    actionRequests.push({
      ...(ao as object),
      name: ao.name,
      args: obj(ao.args) ?? {},
      description: typeof ao.description === "string" ? ao.description : "",
      toolCallId: typeof (ao.toolCallId ?? ao.tool_call_id) === "string" ? String(ao.toolCallId ?? ao.tool_call_id) : "",
    } as ActionRequest);
  }
  const reviewConfigs: ReviewConfig[] = [];
  for (const c of configs) {
    const co = obj(c);
    const name = co?.actionName ?? co?.action_name;
    const allowed = co?.allowedDecisions ?? co?.allowed_decisions;
    if (!co || typeof name !== "string" || !Array.isArray(allowed)) return undefined;
    const argsSchema = obj(co.argsSchema ?? co.args_schema);
    reviewConfigs.push({ ...(co as object), actionName: name, allowedDecisions: allowed.map(String) as DecisionType[], ...(argsSchema ? { argsSchema } : {}) } as ReviewConfig);
  }
  const context = obj(o.context) as ReviewContext | undefined;
  return { ...(typeof o.kind === "string" ? { kind: o.kind as RequestKind } : {}), actionRequests, reviewConfigs, context: context ?? { done: [], artifacts: [], nextStep: "", decisionOutcomes: {} } };
}

/**
 * A request as Waypoint emits it: both spellings of the review configs' keys, so clients that read
 * either (the SDK's types, chat UIs written for the Python shape) draw it.
 */
export function withBothSpellings(request: HITLRequest): HITLRequest {
  const reviewConfigs = request.reviewConfigs.map((c) => ({ ...c, action_name: c.actionName, allowed_decisions: c.allowedDecisions, ...(c.argsSchema ? { args_schema: c.argsSchema } : {}) }));
  const actionRequests = request.actionRequests.map((a) => ({ ...a, tool_call_id: a.toolCallId }));
  return { ...request, actionRequests, reviewConfigs, action_requests: actionRequests, review_configs: reviewConfigs } as HITLRequest;
}

/** A response with the snake_case spellings clients send (`edited_action`) turned into Waypoint's. */
function normalizeResponse(response: unknown): unknown {
  const o = obj(response);
  if (!o || !Array.isArray(o.decisions)) return response;
  return {
    ...o,
    decisions: o.decisions.map((d) => {
      const dobj = obj(d);
      if (!dobj || dobj.edited_action === undefined) return d;
      const { edited_action, ...rest } = dobj;
      return { ...rest, editedAction: rest.editedAction ?? edited_action };
    }),
  };
}

function invalid(message: string, details: Record<string, unknown> = {}): WaypointError {
  return new WaypointError("invalid_decision", message, { details });
}

/** What decision validation reads of a tool (a DurableTool has it; a graph's declared tools may not). */
export type DurableToolLike = ToolInfo;

/** Arguments checked against the tool's zod schema when the tools are known, else the request's JSON schema. */
function checkArgs(args: Record<string, unknown>, tool: DurableToolLike | undefined, jsonSchema: Record<string, unknown> | undefined): { ok: true; args: Record<string, unknown> } | { ok: false; why: string; schema: unknown } {
  if (tool?.schema) {
    const r = tool.schema.safeParse(args);
    return r.success ? { ok: true, args: r.data as Record<string, unknown> } : { ok: false, why: describeZodError(r.error), schema: tool.jsonSchema };
  }
  if (!jsonSchema) return { ok: true, args };
  let schema: z.ZodType;
  try {
    schema = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return { ok: true, args }; // a schema zod cannot read is not the reviewer's fault
  }
  const r = schema.safeParse(args);
  return r.success ? { ok: true, args: r.data as Record<string, unknown> } : { ok: false, why: describeZodError(r.error), schema: jsonSchema };
}

export function validateResponse(request: HITLRequest, response: unknown, tools: DurableToolLike[] = []): Decision[] {
  const parsed = HITLResponseSchema.safeParse(normalizeResponse(response));
  if (!parsed.success) {
    const allowed = [...new Set(request.reviewConfigs.flatMap((c) => c.allowedDecisions))];
    throw invalid(`Malformed decision: ${describeZodError(parsed.error)}. Expected { decisions: [{ type: ${allowed.map((t) => `"${t}"`).join(" | ")}, ... }] }.`);
  }
  const { decisions } = parsed.data;
  const n = request.actionRequests.length;
  if (decisions.length !== n) {
    throw invalid(`Expected ${n} decision${n === 1 ? "" : "s"} (one per pending action: ${request.actionRequests.map((a) => a.name).join(", ")}), got ${decisions.length}.`, {
      expected: n,
      received: decisions.length,
    });
  }
  return decisions.map((d, i) => {
    const action = request.actionRequests[i] as ActionRequest;
    const cfg = request.reviewConfigs.find((c) => c.actionName === action.name);
    const allowed: readonly DecisionType[] = cfg?.allowedDecisions ?? DECISION_TYPES;
    if (!allowed.includes(d.type)) {
      throw invalid(`Decision ${i + 1} (${action.name}): "${d.type}" is not allowed here; allowed: ${allowed.join(", ")}.`, { index: i, allowed });
    }
    if (d.type === "choose") return validateChoice(d, cfg?.options ?? [], i, tools);
    if (d.type !== "edit") return d;
    if (d.editedAction.name !== action.name) {
      throw invalid(`Decision ${i + 1}: an edit must keep the tool "${action.name}", got "${d.editedAction.name}".`, { index: i });
    }
    const checked = checkArgs(d.editedAction.args, tools.find((t) => t.name === action.name), cfg?.argsSchema);
    if (!checked.ok) throw invalid(`Decision ${i + 1}: edited arguments for ${action.name} are invalid: ${checked.why}.`, { index: i, argsSchema: checked.schema });
    return { type: "edit", editedAction: { name: action.name, args: checked.args } };
  });
}

function validateChoice(d: Extract<Decision, { type: "choose" }>, options: ChoiceOption[], i: number, tools: DurableToolLike[]): Decision {
  const option = options.find((o) => o.id === d.option);
  if (!option) throw invalid(`Decision ${i + 1}: no option "${d.option}"; options: ${options.map((o) => o.id).join(", ")}.`, { index: i, options: options.map((o) => o.id) });
  if (!option.tool) {
    if (d.args !== undefined) throw invalid(`Decision ${i + 1}: option "${d.option}" takes no arguments.`, { index: i });
    return { type: "choose", option: d.option };
  }
  const checked = checkArgs({ ...option.baseArgs, ...d.args }, tools.find((t) => t.name === option.tool), option.argsSchema);
  if (!checked.ok) throw invalid(`Decision ${i + 1}: arguments for option "${d.option}" are invalid: ${checked.why}.`, { index: i, argsSchema: checked.schema });
  return { type: "choose", option: d.option, args: checked.args };
}

/**
 * The JSON schema an interrupt that is not a review says its answer must match: `response_schema`
 * (or `responseSchema`) on an object value. Undefined when it carries none.
 */
export function responseSchemaOf(value: unknown): Record<string, unknown> | undefined {
  const o = obj(value);
  return o ? (obj(o.response_schema) ?? obj(o.responseSchema)) : undefined;
}

/**
 * Check an answer to a plain interrupt against its `response_schema`, if it has one; the answer itself
 * is passed on unchanged. `where` names the interrupt in the message.
 */
export function validateAnswer(value: unknown, answer: unknown, where: string): void {
  const jsonSchema = responseSchemaOf(value);
  if (!jsonSchema) return;
  let schema: z.ZodType;
  try {
    schema = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (e) {
    // The graph's schema is broken, not the answer: say so instead of letting anything through unchecked.
    throw new WaypointError("invalid_input", `The answer to ${where} cannot be checked: its response_schema is not a JSON schema Waypoint can read (${(e as Error).message}).`);
  }
  const r = schema.safeParse(answer);
  if (!r.success) {
    throw new WaypointError("invalid_input", `The answer to ${where} does not match its response_schema: ${describeZodError(r.error)}. Expected JSON matching ${JSON.stringify(jsonSchema)}.`, {
      details: { responseSchema: jsonSchema },
    });
  }
}
