// Conversation compaction: when the messages in state grow past a token budget, older ones are replaced
// by one summary message. Pure logic (no database): plan what to drop without ever separating a tool
// call from its answer, write the summary (with a model, or extractively), and build the state update.
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, HumanMessage, RemoveMessage, SystemMessage, ToolMessage, type BaseMessage } from "@langchain/core/messages";
import { REMOVE_ALL_MESSAGES } from "@langchain/langgraph";

/** Ids of summary messages: `summary-1`, `summary-2`, ... (stable, so a re-run node writes the same id). */
export const SUMMARY_ID_PREFIX = "summary-";
/** How every summary message starts (N: messages removed from state by that compaction). */
export const summaryHeading = (removed: number): string => `Summary of the conversation so far (${removed} messages removed from state; the full transcript is kept):`;

/** Characters per token of the estimate; see estimateTokens. */
const CHARS_PER_TOKEN = 4;
/** Tokens counted per message for its role and framing. */
const TOKENS_PER_MESSAGE = 4;


function toolCallsOf(m: BaseMessage) {
  return AIMessage.isInstance(m) ? (m.tool_calls ?? []) : [];
}

/**
 * Rough token count of a conversation: characters / 4 (content plus tool calls' names and arguments)
 * and 4 tokens of framing per message. The chars/4 rule is OpenAI's own rule of thumb for English; it
 * over-counts dense JSON a little and under-counts CJK text. It only decides *when* to compact, so a
 * tokenizer-exact count would add a dependency and buy nothing.
 */
export function estimateTokens(messages: BaseMessage[]): number {
  let chars = 0;
  for (const m of messages) {
    chars += m.text.length;
    for (const tc of toolCallsOf(m)) chars += tc.name.length + JSON.stringify(tc.args ?? {}).length;
  }
  return Math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * messages.length;
}

/** A message an earlier compaction wrote (kept as it is by later ones). */
export function isSummaryMessage(m: BaseMessage): boolean {
  return typeof m.id === "string" && m.id.startsWith(SUMMARY_ID_PREFIX) && (HumanMessage.isInstance(m) || SystemMessage.isInstance(m));
}

export interface CompactionOptions {
  /** Compact only when estimateTokens(messages) is above this; 0 or less: never (config().summaryTokens). */
  maxTokens: number;
  /** The most recent messages kept as they are (more when a tool call and its answers straddle the edge). */
  keepRecent: number;
}

export interface CompactionPlan {
  /** Older messages to drop from state (to be summarised), in conversation order. */
  remove: BaseMessage[];
  /** Messages that stay, in conversation order: the task and the recent tail. */
  keep: BaseMessage[];
}

/**
 * Decide which older messages to drop, or null when the conversation fits (or nothing can go).
 * Kept: the first HumanMessage (the task) and the last `keepRecent` messages. An earlier summary is
 * removed like any older message: the new summary folds it in.
 * Tool calls are never split: a kept ToolMessage keeps the AIMessage that asked for it, and a kept
 * AIMessage keeps every ToolMessage answering its calls, so the model never sees half an exchange
 * (providers reject a ToolMessage without its call, and a call without its answer).
 */
export function planCompaction(messages: BaseMessage[], opts: CompactionOptions): CompactionPlan | null {
  if (opts.maxTokens <= 0 || estimateTokens(messages) <= opts.maxTokens) return null;
  const keep = new Set<number>();
  const firstHuman = messages.findIndex((m) => HumanMessage.isInstance(m) && !isSummaryMessage(m));
  if (firstHuman >= 0) keep.add(firstHuman);
  for (let i = Math.max(0, messages.length - Math.max(0, opts.keepRecent)); i < messages.length; i++) keep.add(i);

  // Which AIMessage asked for each tool call, and which ToolMessages answer each AIMessage.
  const askedBy = new Map<string, number>();
  messages.forEach((m, i) => {
    for (const tc of toolCallsOf(m)) if (tc.id) askedBy.set(tc.id, i);
  });
  const answers = new Map<number, number[]>();
  messages.forEach((m, i) => {
    if (!ToolMessage.isInstance(m)) return;
    const ai = askedBy.get(m.tool_call_id);
    if (ai !== undefined) answers.set(ai, [...(answers.get(ai) ?? []), i]);
  });
  // Close the kept set over "call <-> answers": a kept answer brings its call and the call's other
  // answers; a kept call brings its answers. Adding them can only add more groups, so loop until stable.
  const linkedTo = (i: number): number[] => {
    const m = messages[i];
    if (m && ToolMessage.isInstance(m)) {
      const ai = askedBy.get(m.tool_call_id);
      return ai === undefined ? [] : [ai, ...(answers.get(ai) ?? [])];
    }
    return answers.get(i) ?? [];
  };
  const pending = [...keep];
  for (let i = pending.pop(); i !== undefined; i = pending.pop()) {
    for (const j of linkedTo(i)) {
      if (keep.has(j)) continue;
      keep.add(j);
      pending.push(j);
    }
  }
  if (keep.size >= messages.length) return null;
  return { remove: messages.filter((_, i) => !keep.has(i)), keep: messages.filter((_, i) => keep.has(i)) };
}

/** Characters of each message in an extractive summary line. */
const LINE_CHARS = 200;
/** Characters of each message shown to a summarising model. */
const MODEL_CHARS = 2000;

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** One line for a message: its type, the tool involved, and the start of its content. */
function describeMessage(m: BaseMessage, max: number): string {
  const type = m.getType();
  // An earlier summary is folded into the new one whole (its first line is only the heading).
  if (isSummaryMessage(m)) return `earlier summary:\n${m.text.split("\n").slice(1).join("\n")}`;
  if (ToolMessage.isInstance(m)) return `${type} ${m.name ?? "tool"}${m.status === "error" ? " (error)" : ""}: ${clip(m.text, max)}`;
  const calls = toolCallsOf(m);
  const said = clip(m.text, max);
  if (calls.length === 0) return `${type}: ${said}`;
  const asked = calls.map((tc) => `${tc.name}(${clip(JSON.stringify(tc.args ?? {}), max)})`).join(", ");
  return `${type} calls ${asked}${said ? ` and says: ${said}` : ""}`;
}

const SUMMARY_INSTRUCTIONS = [
  "You compact an agent's conversation. Summarise the messages below for the agent that will continue the work.",
  "Keep every fact it may need: ids, references, amounts, names, emails, artifact ids, decisions made and by whom,",
  "which steps are done (with their results) and which are not done yet, and any error that is still open.",
  "Be concise: plain sentences or bullets, no preamble. Do not invent anything that is not in the messages.",
].join(" ");

export interface SummariseOptions {
  /** Model that writes the summary. Without one (the offline planner, tests), the summary is extractive. */
  model?: BaseChatModel | undefined;
  /**
   * Longest extractive summary, in characters: the oldest lines go first (the transcript keeps them),
   * so summaries folded into summaries cannot grow without bound. Default: no limit.
   */
  maxChars?: number;
}

/**
 * The text of a summary of `messages` (without the heading; compactionUpdate adds it). With a model:
 * its concise summary of facts, ids, decisions, what is done and not done. Without: one line per
 * message (type, tool name, first 200 characters), which loses nothing a reader could not find again
 * in the kept transcript.
 */
export async function summariseMessages(messages: BaseMessage[], opts: SummariseOptions = {}): Promise<string> {
  if (!opts.model) {
    const lines = messages.flatMap((m) => (isSummaryMessage(m) ? describeMessage(m, LINE_CHARS).split("\n").slice(1) : [`- ${describeMessage(m, LINE_CHARS)}`]));
    if (opts.maxChars === undefined) return lines.join("\n");
    const kept: string[] = [];
    let size = 0;
    for (let i = lines.length - 1; i >= 0 && size + (lines[i] as string).length + 1 <= opts.maxChars; i--) {
      kept.unshift(lines[i] as string);
      size += (lines[i] as string).length + 1;
    }
    const dropped = lines.length - kept.length;
    return [...(dropped > 0 ? [`- (${dropped} older lines omitted here; the transcript has them)`] : []), ...kept].join("\n");
  }
  const transcript = messages.map((m, i) => `${i + 1}. ${describeMessage(m, MODEL_CHARS)}`).join("\n");
  const reply = await opts.model.invoke([new SystemMessage(SUMMARY_INSTRUCTIONS), new HumanMessage(`Messages to summarise:\n${transcript}`)]);
  const text = reply.text.trim();
  if (!text) throw new Error("the summarising model returned an empty summary");
  return text;
}

/** The next summary number: one more than the highest `summary-<n>` id among `messages`. */
function nextSummaryNumber(messages: BaseMessage[]): number {
  let max = 0;
  for (const m of messages) {
    if (!isSummaryMessage(m)) continue;
    const n = Number((m.id ?? "").slice(SUMMARY_ID_PREFIX.length));
    if (Number.isInteger(n) && n > max) max = n;
  }
  return max + 1;
}

/**
 * The update for the messages channel that replaces the state's messages with the summary and the kept
 * ones: `[RemoveMessage(REMOVE_ALL_MESSAGES), task, summary, ...rest of keep]` (the summary first when
 * the kept messages do not start with the task). Both messagesStateReducer and messagesDeltaReducer
 * turn any old list plus this update into exactly that list. The
 * summary is a HumanMessage (id `summary-<n>`): a SystemMessage after the first is refused by some
 * providers (Anthropic), while a user turn is accepted everywhere.
 */
export function compactionUpdate(plan: CompactionPlan, summaryText: string): BaseMessage[] {
  const n = nextSummaryNumber([...plan.keep, ...plan.remove]);
  const summary = new HumanMessage({ id: `${SUMMARY_ID_PREFIX}${n}`, content: `${summaryHeading(plan.remove.length)}\n${summaryText}` });
  // The task stays first, then the summary of what followed it, then the recent messages.
  const [first, ...rest] = plan.keep;
  const leadsWithTask = first !== undefined && HumanMessage.isInstance(first) && !isSummaryMessage(first);
  return [new RemoveMessage({ id: REMOVE_ALL_MESSAGES }), ...(leadsWithTask ? [first, summary, ...rest] : [summary, ...plan.keep])];
}
