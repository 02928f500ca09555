// The oversight policy: which tool calls run on their own (auto), wait for a human (review) or are
// refused (deny); the conditions that escalate a call (an amount over a threshold, a sensitive target,
// low model confidence); the permission scopes a run holds; and the guardrail limits (src/guards).
// A policy is given when a run starts: the agent's built-in policy, then WAYPOINT_POLICY_FILE, then a
// per-run override, each merged over the one before. It is validated here, before anything runs.
import fs from "node:fs";
import type { ToolCall } from "@langchain/core/messages/tool";
import { z } from "zod";
import { WaypointError } from "../errors.js";
import { describeZodError, type ToolInfo } from "../tools/index.js";

export const TIERS = ["auto", "review", "deny"] as const;
export type Tier = (typeof TIERS)[number];

const label = (what: string) => z.string().min(1, `${what} cannot be empty`);

const Condition = z
  .object({
    arg: label("arg").optional().describe("Argument the test reads; a dotted path into the call's arguments, e.g. 'amount' or 'to'"),
    above: z.number().optional().describe("Fires when the argument is a number greater than this"),
    matches: label("matches").optional().describe("Fires when the argument (as text) matches this regular expression, case-insensitive"),
    domainNotIn: z.array(label("domain")).min(1).optional().describe("Fires when the argument holds an email address whose domain is not one of these"),
    oneOf: z.array(z.union([z.string(), z.number()])).min(1).optional().describe("Fires when the argument equals one of these values"),
    confidenceBelow: z.number().min(0).max(1).optional().describe("Fires when the model's confidence in the call is below this (unknown confidence counts as below)"),
    then: z.enum(["review", "deny"]).describe("What the call becomes when the condition fires"),
    reason: label("reason").optional().describe("Said to the reviewer (review) or the model (deny)"),
  })
  .strict()
  .superRefine((c, ctx) => {
    const tests = (["above", "matches", "domainNotIn", "oneOf", "confidenceBelow"] as const).filter((k) => c[k] !== undefined);
    if (tests.length !== 1) ctx.addIssue({ code: "custom", message: `give exactly one test of above, matches, domainNotIn, oneOf, confidenceBelow (got ${tests.length ? tests.join(", ") : "none"})` });
    if (tests.length === 1 && tests[0] !== "confidenceBelow" && !c.arg) ctx.addIssue({ code: "custom", path: ["arg"], message: `"${tests[0]}" needs the argument it tests` });
    if (c.matches !== undefined) {
      try {
        new RegExp(c.matches, "i");
      } catch (e) {
        ctx.addIssue({ code: "custom", path: ["matches"], message: `not a valid regular expression: ${(e as Error).message}` });
      }
    }
  });
export type Condition = z.infer<typeof Condition>;

const ToolRule = z
  .object({
    tier: z.enum(TIERS).describe("auto: runs on its own (audited); review: a human approves each call; deny: never runs, the model is told why"),
    reason: label("reason").optional().describe("Why this tier; shown to reviewers, and to the model on deny"),
    when: z.array(Condition).optional().describe("Conditions that escalate a call, checked in order; the strictest that fires wins"),
    scopes: z.array(label("scope")).optional().describe("Permission scopes a call needs (added to those the tool declares)"),
  })
  .strict();
export type ToolRule = z.infer<typeof ToolRule>;

export const GuardLimits = z
  .object({
    forbiddenTools: z.array(label("tool")).optional().describe("Hard limit: a call to one of these stops the run at once"),
    spendLimit: z
      .object({
        limit: z.number().positive().describe("Total a run may spend"),
        arg: label("arg").default("amount").describe("Argument holding the amount"),
        tools: z.array(label("tool")).min(1).describe("Tools that spend"),
      })
      .strict()
      .optional()
      .describe("Hard limit: a call that would take the total spent over the limit stops the run"),
    tokenBudget: z.number().int().positive().optional().describe("Soft limit: model tokens; reaching it pauses the run for a human"),
    wallClockMs: z.number().int().positive().optional().describe("Soft limit: milliseconds one run may take before it pauses for a human"),
    maxStepsWithoutProgress: z.number().int().min(2).optional().describe("Soft limit: model turns in a row without a new successful tool result"),
    maxRepeats: z.number().int().min(2).optional().describe("Loop detection: the same call (tool and arguments) proposed this many times pauses the run"),
    detectAlternation: z.boolean().optional().describe("Loop detection: an A-B-A-B pattern of proposals pauses the run"),
  })
  .strict();
export type GuardLimits = z.infer<typeof GuardLimits>;

export const PolicySchema = z
  .object({
    default: z.enum(TIERS).optional().describe("Tier of tools the policy does not name (unset: review for mutate tools, auto for read/compute)"),
    tools: z.record(label("tool name"), ToolRule).optional().describe("Rule per tool name"),
    scopes: z.array(label("scope")).optional().describe("Permission scopes the run holds"),
    guards: GuardLimits.optional(),
  })
  .strict();
export type Policy = z.infer<typeof PolicySchema>;

/** The guard defaults every policy starts from (an agent's built-in policy may change them). */
export const DEFAULT_GUARDS: GuardLimits = { maxRepeats: 3, detectAlternation: true, maxStepsWithoutProgress: 6 };

function invalidPolicy(source: string, message: string): WaypointError {
  return new WaypointError("invalid_policy", `Invalid oversight policy (${source}): ${message}`, { details: { source } });
}

/**
 * Validate a policy: its shape, and that every tool it names exists in `tools` (one agent's, or every
 * agent's for a policy shared by all). Throws `invalid_policy` naming the field.
 */
export function parsePolicy(raw: unknown, source: string, tools: ReadonlyArray<{ name: string }> | undefined): Policy {
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) throw invalidPolicy(source, describeZodError(parsed.error));
  // A graph that does not tell Waypoint its tools: the policy's shape is checked, its tool names are not.
  if (!tools) return parsed.data;
  const names = new Set(tools.map((t) => t.name));
  const known = [...names].sort().join(", ");
  for (const name of Object.keys(parsed.data.tools ?? {})) {
    if (!names.has(name)) throw invalidPolicy(source, `tools.${name}: no tool named "${name}" (tools: ${known})`);
  }
  const g = parsed.data.guards;
  for (const [i, name] of (g?.forbiddenTools ?? []).entries()) if (!names.has(name)) throw invalidPolicy(source, `guards.forbiddenTools.${i}: no tool named "${name}" (tools: ${known})`);
  for (const [i, name] of (g?.spendLimit?.tools ?? []).entries()) if (!names.has(name)) throw invalidPolicy(source, `guards.spendLimit.tools.${i}: no tool named "${name}" (tools: ${known})`);
  return parsed.data;
}

/** Read and validate a policy file (JSON). */
export function loadPolicyFile(path: string, tools: ReadonlyArray<{ name: string }> | undefined): Policy {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (e) {
    throw invalidPolicy(path, `cannot read the file: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalidPolicy(path, `not valid JSON: ${(e as Error).message}`);
  }
  return parsePolicy(raw, path, tools);
}

/** Later policies win: per tool rule, scopes as a whole, guard limits one by one. */
export function mergePolicies(...policies: Array<Policy | undefined>): Policy {
  const out: Policy = {};
  for (const p of policies) {
    if (!p) continue;
    if (p.default) out.default = p.default;
    if (p.tools) out.tools = { ...out.tools, ...p.tools };
    if (p.scopes) out.scopes = [...p.scopes];
    if (p.guards) out.guards = { ...out.guards, ...p.guards };
  }
  return out;
}

/** What the policy says about one proposed call. */
export interface Verdict {
  tier: Tier;
  /** The rule that decided, e.g. "tools.make_payment.when.0" (the reason says what it saw). */
  rule: string;
  reason: string;
  /** Scopes the call needs that the run does not hold. */
  missingScopes: string[];
}

function argAt(args: Record<string, unknown>, path: string): unknown {
  let v: unknown = args;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function emailsIn(v: unknown): string[] {
  const text = typeof v === "string" ? v : JSON.stringify(v ?? "");
  return [...text.matchAll(/[^\s@,;"<>]+@([^\s@,;"<>]+)/g)].map((m) => (m[1] ?? "").toLowerCase());
}

/** The model's confidence in a call: a `confidence` argument, or what the model reported with the message. */
export function confidenceOf(call: ToolCall, messageMeta: Record<string, unknown> | undefined): number | undefined {
  const fromArgs = call.args?.confidence;
  if (typeof fromArgs === "number") return fromArgs;
  const fromMeta = messageMeta?.confidence;
  return typeof fromMeta === "number" ? fromMeta : undefined;
}

/** Does the condition fire for this call? Returns what it saw, in words, or null. */
function fires(c: Condition, call: ToolCall, confidence: number | undefined): string | null {
  if (c.confidenceBelow !== undefined) {
    if (confidence === undefined) return `model confidence unknown (floor ${c.confidenceBelow})`;
    return confidence < c.confidenceBelow ? `model confidence ${confidence} < ${c.confidenceBelow}` : null;
  }
  const v = argAt(call.args ?? {}, c.arg ?? "");
  if (c.above !== undefined) return typeof v === "number" && v > c.above ? `${c.arg} ${v} > ${c.above}` : null;
  if (c.matches !== undefined) {
    const text = typeof v === "string" ? v : JSON.stringify(v ?? "");
    const m = new RegExp(c.matches, "i").exec(text);
    return m ? `${c.arg} contains "${m[0]}"` : null;
  }
  if (c.domainNotIn !== undefined) {
    const allowed = new Set(c.domainNotIn.map((d) => d.toLowerCase()));
    const outside = emailsIn(v).filter((d) => !allowed.has(d));
    return outside.length ? `${c.arg} goes to ${[...new Set(outside)].join(", ")} (outside ${c.domainNotIn.join(", ")})` : null;
  }
  if (c.oneOf !== undefined) return c.oneOf.some((o) => o === v) ? `${c.arg} is ${JSON.stringify(v)}` : null;
  return null;
}

const RANK: Record<Tier, number> = { auto: 0, review: 1, deny: 2 };

/**
 * Decide one call. `held` are the scopes the run holds now (policy scopes plus grants). The tier is
 * the tool's rule (or the default), raised by every condition that fires; deny always wins.
 */
export function evaluateCall(policy: Policy, call: ToolCall, tool: ToolInfo | undefined, held: ReadonlySet<string>, confidence: number | undefined): Verdict {
  const rule = policy.tools?.[call.name];
  let tier: Tier = rule?.tier ?? policy.default ?? (tool?.risk === "mutate" ? "review" : "auto");
  let ruleName = rule ? `tools.${call.name}.tier` : policy.default ? "default" : `default for ${tool?.risk ?? "unknown"} tools`;
  let reason = rule?.reason ?? (rule ? `${call.name} is ${tier} by policy` : `${call.name} has no rule; ${tier} by default`);
  for (const [i, c] of (rule?.when ?? []).entries()) {
    const saw = fires(c, call, confidence);
    if (saw === null || RANK[c.then] <= RANK[tier]) continue;
    tier = c.then;
    ruleName = `tools.${call.name}.when.${i}`;
    reason = c.reason ? `${c.reason} (${saw})` : saw;
  }
  const needed = [...new Set([...(tool?.scopes ?? []), ...(rule?.scopes ?? [])])];
  return { tier, rule: ruleName, reason, missingScopes: tier === "deny" ? [] : needed.filter((s) => !held.has(s)) };
}

/** The effective guard limits of a policy. */
export function guardLimits(policy: Policy): GuardLimits {
  return { ...DEFAULT_GUARDS, ...policy.guards };
}
