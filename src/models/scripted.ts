// A chat model whose replies come from a function: the base of the offline planner and of the models
// tests script turn by turn. It binds tools like a real model (OpenAI function definitions).
import { BaseChatModel, type BaseChatModelParams, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
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

export interface ScriptedChatModelParams extends BaseChatModelParams {
  /** Name shown in logs and traces. */
  label: string;
  respond: Responder;
}

export class ScriptedChatModel extends BaseChatModel {
  readonly label: string;
  readonly respond: Responder;
  readonly tools: ToolSpec[];

  constructor(params: ScriptedChatModelParams, tools: ToolSpec[] = []) {
    super(params);
    this.label = params.label;
    this.respond = params.respond;
    this.tools = tools;
  }

  _llmType(): string {
    return this.label;
  }

  override bindTools(tools: BindToolsInput[]): ScriptedChatModel {
    const specs = tools.map((t) => {
      const fn = convertToOpenAITool(t as Parameters<typeof convertToOpenAITool>[0]).function;
      return { name: fn.name, description: fn.description ?? "", parameters: (fn.parameters ?? {}) as Record<string, unknown> };
    });
    return new ScriptedChatModel({ label: this.label, respond: this.respond }, specs);
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const message = await this.respond(messages, this.tools);
    return { generations: [{ message, text: typeof message.content === "string" ? message.content : "" }] };
  }
}

