// Helpers for agent tests: scripted models that record what they were asked, and world row counts.
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type pg from "pg";
import { ScriptedChatModel } from "../../src/models/index.js";
import type { RunScope } from "../../src/scope/index.js";

export interface RecordingModel {
  model: ScriptedChatModel;
  /** The messages of each call, in order. */
  calls: BaseMessage[][];
}

/** A model that answers with `replies` in order and records every prompt it got. */
export function recordingModel(replies: AIMessage[]): RecordingModel {
  const calls: BaseMessage[][] = [];
  const model = new ScriptedChatModel({
    label: "test-script",
    respond: (messages) => {
      calls.push(messages);
      const next = replies[calls.length - 1];
      if (!next) throw new Error(`scripted model: no reply for call ${calls.length}`);
      return next;
    },
  });
  return { model, calls };
}

export function toolCall(turn: number, name: string, args: Record<string, unknown>): AIMessage {
  return new AIMessage({ id: `ai-${turn}`, content: "", tool_calls: [{ id: `call-${turn}-${name}`, name, args, type: "tool_call" }] });
}

export function say(turn: number, text: string): AIMessage {
  return new AIMessage({ id: `ai-${turn}`, content: text });
}

export const HIRE = {
  name: "Ada Lovelace",
  email: "ada@acme.test",
  department: "Engineering",
  manager: "grace.hopper@acme.test",
  privileges: ["github:write", "prod-db:read"],
};

/** The four turns of a normal onboarding, for a hire. */
export function onboardingScript(hire: typeof HIRE, tone = "warm"): AIMessage[] {
  return [
    toolCall(1, "create_account", { email: hire.email, name: hire.name, department: hire.department, manager: hire.manager }),
    toolCall(2, "grant_privileges", { email: hire.email, privileges: hire.privileges }),
    toolCall(3, "send_welcome_email", { email: hire.email, name: hire.name, tone }),
    say(4, "Onboarding finished."),
  ];
}

export interface WorldCounts {
  accounts: number;
  grants: number;
  emails: number;
}

export async function worldCounts(pool: pg.Pool, email: string): Promise<WorldCounts> {
  const q = async (sql: string) => Number((await pool.query<{ n: string }>(sql, [email])).rows[0]?.n ?? 0);
  return {
    accounts: await q("SELECT count(*) AS n FROM world.directory WHERE email = $1"),
    grants: await q("SELECT count(*) AS n FROM world.grants WHERE email = $1"),
    emails: await q("SELECT count(*) AS n FROM world.outbox WHERE recipient = $1"),
  };
}

/** The run scope Waypoint's executor would set, for tests that invoke a graph of Waypoint's nodes directly. */
export function testScope(pool: pg.Pool, threadId: string): RunScope {
  return { pool, threadId, graphId: "test", run: { startedAt: Date.now(), startStep: -1, recursionLimit: 100 }, paceMs: 0 };
}
