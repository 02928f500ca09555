// A chat model whose replies come from a function: the base of the offline planner and of the models
// tests script turn by turn. It binds tools like a real model (OpenAI function definitions), and, when
// asked for chunked replies, streams each reply in pieces as a provider streams tokens (what LangGraph's
// "messages" stream mode passes on to clients).
import { setTimeout as sleep } from "node:timers/promises";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { BaseChatModel, type BaseChatModelParams, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";

/** A tool as the model sees it. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON schema of the arguments. */
  parameters: Record<string, unknown>;
}

/** Produces the next reply from the conversation and the tools bound to this call. */
export type Responder = (messages: BaseMessage[], tools: ToolSpec[]) => AIMessage | Promise<AIMessage>;

/** How a reply's text is cut into chunks: each word with the space after it, each line, or a function of the text. */
export type Chunking = "words" | "lines" | ((text: string) => string[]);

export interface ScriptedChatModelParams extends BaseChatModelParams {
  /** Name shown in logs and traces. */
  label: string;
  /** The next reply, from the conversation and the tools bound to the call. */
  respond: Responder;
  /**
   * Stream replies in chunks when the caller streams (a graph run with stream_mode "messages"): the text
   * cut as given, then a reply's tool calls in one chunk (as tool_call_chunks). Unset: replies are never
   * streamed; a streaming caller gets each whole message at the end of the call.
   */
  chunks?: Chunking | undefined;
  /** Milliseconds to wait before each chunk (tests and benchmarks that watch tokens arrive). Default 0. */
  chunkDelayMs?: number | undefined;
}

/** `text` cut as `how` says; the pieces join back to `text`, and none is empty. */
export function splitText(text: string, how: Chunking): string[] {
  const parts = typeof how === "function" ? how(text) : how === "lines" ? text.split(/(?<=\n)/) : text.split(/(?<=\s)(?=\S)/);
  return parts.filter((p) => p.length > 0);
}

export class ScriptedChatModel extends BaseChatModel {
  readonly label: string;
  readonly respond: Responder;
  readonly tools: ToolSpec[];
  readonly chunks: Chunking | undefined;
  readonly chunkDelayMs: number;

  constructor(params: ScriptedChatModelParams, tools: ToolSpec[] = []) {
    super(params);
    this.label = params.label;
    this.respond = params.respond;
    this.chunks = params.chunks;
    this.chunkDelayMs = params.chunkDelayMs ?? 0;
    this.tools = tools;
    // Without chunking, a streaming caller gets the whole reply from _generate (LangChain then reports
    // it as one message when the call ends), as before chunked replies existed.
    if (!this.chunks) this.disableStreaming = true;
  }

  _llmType(): string {
    return this.label;
  }

  override bindTools(tools: BindToolsInput[]): ScriptedChatModel {
    const specs = tools.map((t) => {
      const fn = convertToOpenAITool(t as Parameters<typeof convertToOpenAITool>[0]).function;
      return { name: fn.name, description: fn.description ?? "", parameters: (fn.parameters ?? {}) as Record<string, unknown> };
    });
    return new ScriptedChatModel({ label: this.label, respond: this.respond, chunks: this.chunks, chunkDelayMs: this.chunkDelayMs }, specs);
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const message = await this.respond(messages, this.tools);
    return { generations: [{ message, text: typeof message.content === "string" ? message.content : "" }] };
  }

  override async *_streamResponseChunks(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): AsyncGenerator<ChatGenerationChunk> {
    const message = await this.respond(messages, this.tools);
    // Every chunk carries the reply's id, so the chunks join into the message the script gave.
    const id = message.id;
    const pieces = typeof message.content === "string" ? splitText(message.content, this.chunks ?? "words") : [];
    const toolCalls = message.tool_calls ?? [];
    const out: AIMessageChunk[] = pieces.map((text) => new AIMessageChunk({ ...(id ? { id } : {}), content: text }));
    if (typeof message.content !== "string") out.push(new AIMessageChunk({ ...(id ? { id } : {}), content: message.content }));
    if (toolCalls.length > 0 || out.length === 0) {
      out.push(
        new AIMessageChunk({
          ...(id ? { id } : {}),
          content: "",
          tool_call_chunks: toolCalls.map((tc, index) => ({ id: tc.id, name: tc.name, args: JSON.stringify(tc.args), index, type: "tool_call_chunk" as const })),
        }),
      );
    }
    const last = out.length - 1;
    for (const [i, chunk] of out.entries()) {
      if (this.chunkDelayMs > 0) await sleep(this.chunkDelayMs, undefined, options.signal ? { signal: options.signal } : {});
      if (i === last) {
        chunk.response_metadata = { ...message.response_metadata };
        chunk.additional_kwargs = { ...message.additional_kwargs };
        if (message.usage_metadata) chunk.usage_metadata = message.usage_metadata;
      }
      const text = typeof chunk.content === "string" ? chunk.content : "";
      const generation = new ChatGenerationChunk({ text, message: chunk });
      await runManager?.handleLLMNewToken(text, undefined, undefined, undefined, undefined, { chunk: generation });
      yield generation;
    }
  }
}
