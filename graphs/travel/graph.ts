// Travel agent: search hotels, book a flight, then a hotel, then a car. When the hotel keeps failing it
// stops with the partial picture (what is booked, what failed and why, what has not started) and offers
// the ways forward: retry the hotel, pick another hotel, cancel the flight (a compensating action,
// itself exactly-once), or stop here.
import { AIMessage, HumanMessage, RemoveMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import type { ToolCall } from "@langchain/core/messages/tool";
import { END, interrupt, START, StateGraph, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { AGENT_RECURSION_LIMIT, createAgentNode, createDoubtNode, createReviewNode, createToolsNode, resolveContext, reviewEnds, routeAfterAgent } from "../../src/agents/index.js";
import { progressOf, validateResponse, type ChoiceOption, type HITLRequest } from "../../src/approvals/index.js";
import { lastAIMessage, reopenFailedCall, unansweredToolCalls } from "../../src/tools/index.js";
import { summaryOf, systemPrompt, taskMessage } from "./prompts.js";
import { describeGraph } from "../../src/registry/index.js";
import { TravelInput, TravelState, type TravelStateValue } from "./state.js";
import { bookHotel, cancelFlight, MODEL_TOOLS, TRAVEL_POLICY, TRAVEL_TOOLS } from "./tools.js";

export const VERSION = "2";

const text = (m: BaseMessage) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content));
const parse = (m: ToolMessage | undefined): Record<string, unknown> => {
  try {
    return m && m.status !== "error" ? (JSON.parse(text(m)) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

function answerTo(messages: BaseMessage[], id: string | undefined): ToolMessage | undefined {
  return messages.find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.tool_call_id === id);
}

/** The book_hotel call of the last turn, when it failed (the recovery step's cue). */
function failedHotelCall(messages: BaseMessage[]): { call: ToolCall; answer: ToolMessage } | undefined {
  const ai = lastAIMessage(messages);
  for (const call of ai?.tool_calls ?? []) {
    if (call.name !== bookHotel.name) continue;
    const answer = answerTo(messages, call.id);
    if (answer?.status === "error") return { call, answer };
  }
  return undefined;
}

/** The latest successful result of a tool in the conversation. */
function latestResult(messages: BaseMessage[], tool: string): Record<string, unknown> | undefined {
  const hit = [...messages].reverse().find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.name === tool && m.status !== "error");
  return hit ? parse(hit) : undefined;
}

function start(state: TravelStateValue) {
  return { messages: state.messages.length === 0 ? [new HumanMessage({ id: "task", content: taskMessage(state.trip) })] : [] };
}

function recoveryRequest(state: TravelStateValue, failed: { call: ToolCall; answer: ToolMessage }): HITLRequest {
  const flight = latestResult(state.messages, "book_flight");
  const searched = (latestResult(state.messages, "search_hotels")?.hotels ?? []) as Array<{ hotelId: string; name: string; nightlyEur: number }>;
  const others = searched.filter((h) => h.hotelId !== failed.call.args.hotelId);
  const options: ChoiceOption[] = [
    { id: "retry_hotel", description: `Try ${failed.call.args.hotelId} again (same request and idempotency key, so it cannot be booked twice)` },
    {
      id: "other_hotel",
      description: `Book another hotel instead; give {"hotelId": ...}${others.length ? ` (${others.map((h) => `${h.hotelId}: ${h.name}, EUR ${h.nightlyEur}/night`).join("; ")})` : ""}`,
      tool: bookHotel.name,
      baseArgs: failed.call.args,
      argsSchema: bookHotel.jsonSchema,
      ...(others[0] ? { exampleArgs: { hotelId: others[0].hotelId } } : {}),
    },
    ...(flight?.flightRef ? [{ id: "cancel_flight", description: `Cancel flight ${String(flight.flightRef)} (refunded) and stop: nothing stays booked` }] : []),
    { id: "stop", description: "Stop here: keep what is booked, book no hotel and no car" },
  ];
  const progress = progressOf(state.messages);
  return {
    kind: "choice",
    actionRequests: [{ name: bookHotel.name, args: failed.call.args, description: `The hotel booking failed: ${text(failed.answer).replace(/^Error: /, "")}`, toolCallId: failed.call.id ?? "" }],
    reviewConfigs: [{ actionName: bookHotel.name, allowedDecisions: ["choose"], options }],
    context: {
      ...progress,
      notStarted: ["rent_car"],
      nextStep: "Choose how the trip continues.",
      decisionOutcomes: { choose: "The chosen option runs at once; every booking and cancellation still happens at most once." },
    },
  };
}

/** After a failed hotel booking: ask which way to go, then set it up (nothing runs here but ledger bookkeeping). */
async function recover(state: TravelStateValue, config: LangGraphRunnableConfig) {
  const failed = failedHotelCall(state.messages);
  if (!failed) return {};
  const request = recoveryRequest(state, failed);
  const [decision] = validateResponse(request, interrupt(request), TRAVEL_TOOLS);
  if (decision?.type !== "choose") return {};
  const id = failed.call.id ?? "";
  switch (decision.option) {
    case "retry_hotel": {
      // The same tool call runs again: same ledger row, same idempotency key.
      const ctx = await resolveContext(config);
      await reopenFailedCall(ctx.pool, { threadId: ctx.threadId, checkpointNs: ctx.checkpointNs, toolCallId: id });
      return { messages: [new RemoveMessage({ id: failed.answer.id ?? "" })] };
    }
    case "other_hotel":
      return { messages: [new AIMessage({ id: `${id}-alt`, content: "", tool_calls: [{ id: `${id}-alt-${String(decision.args?.hotelId)}`, name: bookHotel.name, args: decision.args ?? {}, type: "tool_call" }] })] };
    case "cancel_flight": {
      const flightRef = String(latestResult(state.messages, "book_flight")?.flightRef ?? "");
      return {
        outcome: "cancelling" as const,
        messages: [new AIMessage({ id: `${id}-cancel`, content: "", tool_calls: [{ id: `${id}-cancel-flight`, name: cancelFlight.name, args: { flightRef }, type: "tool_call" }] })],
      };
    }
    default:
      return { outcome: "stopped" as const };
  }
}

/** The closing summary of a trip a reviewer ended early: what is booked, what is not, and why. */
function finish(state: TravelStateValue) {
  const lines: string[] = [];
  const flight = latestResult(state.messages, "book_flight");
  const cancelled = latestResult(state.messages, "cancel_flight");
  if (flight?.flightRef) lines.push(cancelled ? `flight ${String(flight.flightRef)}: cancelled, EUR ${String(cancelled.refundEur)} refunded` : `flight ${String(flight.flightRef)}: booked`);
  const hotel = [...state.messages].reverse().find((m): m is ToolMessage => ToolMessage.isInstance(m) && m.name === "book_hotel");
  lines.push(hotel?.status === "error" ? `hotel: not booked (${text(hotel).replace(/^Error: /, "")})` : "hotel: not booked");
  lines.push("car: not started");
  const ending = state.outcome === "cancelling" ? "cancelled by a reviewer; nothing stays booked." : "stopped by a reviewer after the hotel failed.";
  return { messages: [new AIMessage({ id: "travel-summary", content: summaryOf(state.trip, lines, ending) })] };
}

const afterTools = (state: TravelStateValue) => {
  if (unansweredToolCalls(state.messages, lastAIMessage(state.messages)).length > 0) return "doubt";
  if (state.outcome) return "finish";
  return failedHotelCall(state.messages) ? "recover" : "agent";
};

const afterRecover = (state: TravelStateValue) => {
  if (unansweredToolCalls(state.messages, lastAIMessage(state.messages)).length > 0) return "tools";
  return state.outcome ? "finish" : failedHotelCall(state.messages) ? "recover" : "agent";
};

export const builder = new StateGraph(TravelState)
  .addNode("start", start)
  .addNode("agent", createAgentNode<TravelStateValue>({ tools: MODEL_TOOLS, systemPrompt: (s) => systemPrompt(s.trip) }))
  .addNode("review", createReviewNode({ tools: TRAVEL_TOOLS, policy: TRAVEL_POLICY }), { ends: reviewEnds() })
  .addNode("tools", createToolsNode(TRAVEL_TOOLS))
  .addNode("doubt", createDoubtNode(TRAVEL_TOOLS))
  .addNode("recover", recover)
  .addNode("finish", finish)
  .addEdge(START, "start")
  .addEdge("start", "agent")
  .addConditionalEdges("agent", routeAfterAgent("review", END), ["review", END])
  .addConditionalEdges("tools", afterTools, ["doubt", "finish", "recover", "agent"])
  .addEdge("doubt", "tools")
  .addConditionalEdges("recover", afterRecover, ["tools", "finish", "recover", "agent"])
  .addEdge("finish", END);

export const graph = describeGraph(builder.compile({ name: "travel" }).withConfig({ recursionLimit: AGENT_RECURSION_LIMIT }), {
  version: VERSION,
  description: "Books a flight, a hotel and a car. A failing hotel stops with the partial picture and the ways forward; a car rental in doubt asks a human.",
  sampleInput: { trip: { tripId: "trip-lis-001", traveller: "Ada Lovelace", origin: "London", destination: "Lisbon", departOn: "2026-12-01", nights: 3, carDays: 2 } },
  inputSchema: TravelInput,
  tools: TRAVEL_TOOLS,
});
