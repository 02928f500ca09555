// "Did this happen?": the question put to a human when a tool call's outcome is unknown (the process
// died mid-call, or its system timed out or lost the reply) and its system cannot dedupe a repeat.
import type { BaseMessage } from "@langchain/core/messages";
import type { LedgerRow, ToolInfo } from "../tools/index.js";
import { DOUBT_DECISION_TYPES, type HITLRequest } from "./hitl.js";
import { progressOf } from "./review-node.js";

export function buildDoubtRequest(messages: BaseMessage[], rows: LedgerRow[], tools: ToolInfo[]): HITLRequest {
  const actionRequests = rows.map((row) => {
    const tool = tools.find((t) => t.name === row.tool);
    const parsed = tool?.schema?.safeParse(row.args);
    const what = tool?.describe && (parsed === undefined || parsed.success) ? tool.describe(parsed?.success ? parsed.data : row.args) : `${row.tool}(${JSON.stringify(row.args)})`;
    return {
      name: row.tool,
      args: row.args,
      description: `Did this happen? ${what}: ${row.doubt ?? "its outcome is unknown"}. This system cannot deduplicate requests, so running it again could do it twice; check it, then say.`,
      toolCallId: row.tool_call_id,
    };
  });
  return {
    kind: "in_doubt",
    actionRequests,
    reviewConfigs: [...new Set(rows.map((r) => r.tool))].map((name) => ({ actionName: name, allowedDecisions: [...DOUBT_DECISION_TYPES] })),
    context: {
      ...progressOf(messages),
      nextStep: `Settle ${rows.length === 1 ? "this call" : "these calls"}, then the agent continues.`,
      decisionOutcomes: {
        confirm_done: "It did happen: it is recorded as done (your message, e.g. the reference you found, is its result) and not run again.",
        run_again: "It did not happen: it runs again now, once.",
        skip: "Do not run it again and do not count it as done: the agent is told it was skipped and continues.",
      },
    },
  };
}
