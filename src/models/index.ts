// Chat model factory: ChatOpenAI when OPENAI_API_KEY is set, the deterministic offline planner otherwise.
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { ChatOpenAI } from "@langchain/openai";
import { config } from "../config.js";
import { log } from "../log.js";
import { OFFLINE_MODEL_NAME, offlinePlannerModel } from "./offline.js";

export { OFFLINE_MODEL_NAME, offlinePlannerModel, planNextStep } from "./offline.js";
export { classifyModelError, invokeWithLadder, resetBreakers, type LadderOptions } from "./ladder.js";
export { ScriptedChatModel, splitText, type Chunking, type Responder, type ScriptedChatModelParams, type ToolSpec } from "./scripted.js";

/** Which model runs, in words, for logs and the CLI banner. */
export function describeModel(): string {
  const { openai } = config();
  if (!openai.apiKey) return `${OFFLINE_MODEL_NAME} (offline, deterministic; set OPENAI_API_KEY for a real model)`;
  return `ChatOpenAI ${openai.model}${openai.baseUrl ? ` at ${openai.baseUrl}` : ""}`;
}

let announced = false;

export function createChatModel(): BaseChatModel {
  const { openai } = config();
  if (!announced) {
    announced = true;
    log.info({ model: describeModel() }, "chat model");
  }
  if (!openai.apiKey) return offlinePlannerModel();
  return new ChatOpenAI({
    model: openai.model,
    apiKey: openai.apiKey,
    temperature: 0,
    // Retries, Retry-After and fail-over are Waypoint's failure ladder (ladder.ts), not the SDK's.
    maxRetries: 0,
    ...(openai.baseUrl ? { configuration: { baseURL: openai.baseUrl } } : {}),
  });
}

/** The model to fail over to when the primary's circuit breaker opens (OPENAI_FALLBACK_MODEL), if any. */
export function createFallbackModel(): BaseChatModel | undefined {
  const { openai } = config();
  if (!openai.apiKey || !openai.fallbackModel) return undefined;
  return new ChatOpenAI({
    model: openai.fallbackModel,
    apiKey: openai.apiKey,
    temperature: 0,
    maxRetries: 0,
    ...(openai.baseUrl ? { configuration: { baseURL: openai.baseUrl } } : {}),
  });
}
