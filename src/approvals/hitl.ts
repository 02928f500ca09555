// Human-in-the-loop request and decision shapes (LangChain v1 HITL middleware shape, plus `context`),
// and the validation every decision passes before it touches a thread.
import { z } from "zod";
import { WaypointError } from "../errors.js";
import { describeZodError, type DurableTool } from "../tools/index.js";

export const DECISION_TYPES = ["approve", "edit", "reject", "respond"] as const;
export type DecisionType = (typeof DECISION_TYPES)[number];

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
}

export interface ReviewContext {
  /** Steps already finished in this thread, oldest first. */
  done: Array<{ step: string; outcome: "done" | "failed"; summary: string }>;
  /** Things that exist in the world because of this thread (account refs, message refs...). */
  artifacts: Array<{ kind: string; ref: string; from: string }>;
  /** The proposed next step, in words. */
  nextStep: string;
  /** What each decision leads to. */
  decisionOutcomes: Record<DecisionType, string>;
}

export interface HITLRequest {
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
  ],
  { error: (iss) => (iss.code === "invalid_union" ? `decision type must be one of ${DECISION_TYPES.join(", ")}` : undefined) },
);
export type Decision = z.infer<typeof DecisionSchema>;

export const HITLResponseSchema = z.object({ decisions: z.array(DecisionSchema).describe("One decision per action request, in order") }).strict();
export type HITLResponse = z.infer<typeof HITLResponseSchema>;

export function isHITLRequest(v: unknown): v is HITLRequest {
  return typeof v === "object" && v !== null && Array.isArray((v as HITLRequest).actionRequests) && Array.isArray((v as HITLRequest).reviewConfigs);
}

function invalid(message: string, details: Record<string, unknown> = {}): WaypointError {
  return new WaypointError("invalid_decision", message, { details });
}

/**
 * Check a response against the request it answers and the tools' schemas. Returns the decisions,
 * with edited args parsed; throws `invalid_decision` naming what was wrong and what is accepted.
 */
export function validateResponse(request: HITLRequest, response: unknown, tools: DurableTool[]): Decision[] {
  const parsed = HITLResponseSchema.safeParse(response);
  if (!parsed.success) throw invalid(`Malformed decision: ${describeZodError(parsed.error)}. Expected { decisions: [{ type: "approve" | "edit" | "reject" | "respond", ... }] }.`);
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
    const allowed = cfg?.allowedDecisions ?? [...DECISION_TYPES];
    if (!allowed.includes(d.type)) {
      throw invalid(`Decision ${i + 1} (${action.name}): "${d.type}" is not allowed here; allowed: ${allowed.join(", ")}.`, { index: i, allowed });
    }
    if (d.type !== "edit") return d;
    if (d.editedAction.name !== action.name) {
      throw invalid(`Decision ${i + 1}: an edit must keep the tool "${action.name}", got "${d.editedAction.name}".`, { index: i });
    }
    const tool = tools.find((t) => t.name === action.name);
    if (!tool) throw invalid(`Decision ${i + 1}: the tool "${action.name}" is not known to this agent.`, { index: i });
    const args = tool.schema.safeParse(d.editedAction.args);
    if (!args.success) {
      throw invalid(`Decision ${i + 1}: edited arguments for ${action.name} are invalid: ${describeZodError(args.error)}.`, { index: i, argsSchema: tool.jsonSchema });
    }
    return { type: "edit", editedAction: { name: action.name, args: args.data as Record<string, unknown> } };
  });
}
