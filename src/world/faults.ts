// Fault injection for the demo world: its adapters can answer like a real API having a bad day (429
// with Retry-After, 500, a timeout, a lost reply after the effect, a process crash after the effect).
// Switched on from tests (a FaultPlan) or from config (WAYPOINT_FAULTS), never by default.
import { z } from "zod";

export const FAULT_KINDS = ["rate_limit", "server_error", "timeout", "reply_lost", "crash_after_effect"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The systems of the demo world, as named in fault rules and errors. */
export const SYSTEMS = ["directory", "grants", "email", "flights", "hotel_search", "hotels", "cars", "vendors", "invoices", "payments", "sql_read", "sql_write"] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface FaultRule {
  /** Which system answers badly; "*" for all. */
  system: SystemName | "*";
  kind: FaultKind;
  /** Chance per call, 0..1. */
  probability: number;
  /** Only the first `times` calls that match (per process); unset: no limit. */
  times?: number;
}

export interface FaultPlan {
  rules: FaultRule[];
  /** Retry-After sent with an injected 429, in ms (default 200). */
  retryAfterMs?: number;
  /** How long an injected timeout hangs before failing, unless the caller gives up first (default 30 s). */
  hangMs?: number;
}

const RuleSchema = z.object({
  system: z.enum([...SYSTEMS, "*"], { error: () => `system must be one of ${[...SYSTEMS, "*"].join(", ")}` }),
  kind: z.enum(FAULT_KINDS, { error: () => `kind must be one of ${FAULT_KINDS.join(", ")}` }),
  probability: z.coerce.number().min(0, "probability must be between 0 and 1").max(1, "probability must be between 0 and 1"),
  times: z.coerce.number().int().positive("times must be a positive whole number").optional(),
});

/**
 * Parse `system:kind[:probability[:times]]`, comma separated, e.g.
 * `hotels:server_error:1,email:rate_limit:0.2,*:crash_after_effect:0.02`. Probability defaults to 1.
 * Options: `retry_after_ms=500`, `hang_ms=2000`.
 */
export function parseFaults(spec: string): FaultPlan {
  const plan: FaultPlan = { rules: [] };
  for (const raw of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const option = /^(retry_after_ms|hang_ms)=(\d+)$/.exec(raw);
    if (option) {
      if (option[1] === "retry_after_ms") plan.retryAfterMs = Number(option[2]);
      else plan.hangMs = Number(option[2]);
      continue;
    }
    const [system, kind, probability = "1", times] = raw.split(":");
    const parsed = RuleSchema.safeParse({ system, kind, probability, times });
    if (!parsed.success) {
      throw new Error(`WAYPOINT_FAULTS: "${raw}": ${parsed.error.issues.map((i) => i.message).join("; ")} (format: system:kind[:probability[:times]])`);
    }
    const rule: FaultRule = { system: parsed.data.system, kind: parsed.data.kind, probability: parsed.data.probability };
    if (parsed.data.times !== undefined) rule.times = parsed.data.times;
    plan.rules.push(rule);
  }
  return plan;
}

/** Decides, call by call, which fault (if any) a system injects. Counts `times` per process. */
export class FaultInjector {
  private readonly used = new Map<FaultRule, number>();

  constructor(
    readonly plan: FaultPlan,
    private readonly random: () => number = Math.random,
  ) {}

  pick(system: SystemName): FaultKind | undefined {
    for (const rule of this.plan.rules) {
      if (rule.system !== "*" && rule.system !== system) continue;
      const used = this.used.get(rule) ?? 0;
      if (rule.times !== undefined && used >= rule.times) continue;
      if (this.random() >= rule.probability) continue;
      this.used.set(rule, used + 1);
      return rule.kind;
    }
    return undefined;
  }

  get retryAfterMs(): number {
    return this.plan.retryAfterMs ?? 200;
  }

  get hangMs(): number {
    return this.plan.hangMs ?? 30_000;
  }
}

/** What kind of failure a world call had; decides whether a retry is safe and whether the effect may exist. */
export type WorldFailure = "rate_limited" | "server_error" | "timeout" | "reply_lost" | "rejected";

/** An error from a world system, shaped like what an HTTP API client would report. */
export class WorldError extends Error {
  override name = "WorldError";
  constructor(
    readonly system: SystemName,
    readonly failure: WorldFailure,
    message: string,
    readonly info: {
      status?: number;
      retryAfterMs?: number;
      /** False only when the system said the request was not applied (429, a refusal). */
      effectMayHaveHappened: boolean;
    },
  ) {
    super(message);
  }
}

export function isWorldError(e: unknown): e is WorldError {
  return e instanceof WorldError;
}

/** A 4xx-style refusal: the system said no and applied nothing, so retrying will not help. */
export function rejected(system: SystemName, status: number, message: string): WorldError {
  return new WorldError(system, "rejected", `${system}: ${status} ${message}`, { status, effectMayHaveHappened: false });
}
