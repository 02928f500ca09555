// The `oversight` state channel every agent carries: scope grants a human gave, guard pauses a human
// acknowledged, model tokens used per turn, and why the run was stopped. It lives in thread state, so
// it is checkpointed with the step that changed it and follows forks and rollbacks.
import { ReducedValue } from "@langchain/langgraph";
import { z } from "zod";

const ScopeGrant = z.object({
  scope: z.string(),
  /** "call": this tool call only; "run": every later call of this thread too. */
  for: z.enum(["call", "run"]),
  toolCallId: z.string(),
  at: z.string(),
});
export type ScopeGrant = z.infer<typeof ScopeGrant>;

const GuardAck = z.object({
  guard: z.string(),
  /** What the guard measures from now on: tokens used, or the id of the last model turn already judged. */
  mark: z.union([z.number(), z.string()]),
  at: z.string(),
});
export type GuardAck = z.infer<typeof GuardAck>;

const Stopped = z.object({ guard: z.string(), reason: z.string(), at: z.string() });

export const OversightSchema = z.object({
  grants: z.array(ScopeGrant).default([]),
  acks: z.array(GuardAck).default([]),
  /** Model tokens per model turn (AIMessage id -> total tokens); summed, a re-run step cannot count twice. */
  tokens: z.record(z.string(), z.number()).default({}),
  stopped: Stopped.optional(),
});
export type Oversight = z.infer<typeof OversightSchema>;
export type OversightUpdate = Partial<Oversight>;

export const EMPTY_OVERSIGHT: Oversight = { grants: [], acks: [], tokens: {} };

/** Grants and acks accumulate, tokens merge by turn, a stop is final. */
export function mergeOversight(current: Oversight | undefined, update: OversightUpdate | undefined): Oversight {
  const cur = current ?? EMPTY_OVERSIGHT;
  if (!update) return cur;
  return {
    grants: [...cur.grants, ...(update.grants ?? [])],
    acks: [...cur.acks, ...(update.acks ?? [])],
    tokens: { ...cur.tokens, ...update.tokens },
    ...(cur.stopped ?? update.stopped ? { stopped: cur.stopped ?? update.stopped } : {}),
  };
}

/**
 * The channel to put in an agent's StateSchema as `oversight`. Optional in the input: a graph is
 * invoked without it (createAgent checks a middleware's input fields before the first step).
 */
export const OversightValue = new ReducedValue(OversightSchema.default(EMPTY_OVERSIGHT), {
  inputSchema: OversightSchema.partial().optional() as unknown as ReturnType<typeof OversightSchema.partial>,
  reducer: (current: Oversight, update: OversightUpdate) => mergeOversight(current, update),
});
