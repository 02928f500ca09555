// Shared pieces of the CLI's argument handling.
import { InvalidArgumentError } from "commander";

export interface GlobalOpts {
  json?: boolean;
  pace?: number;
  /** The langgraph.json whose graphs this command serves. */
  config?: string;
}

/** A JSON text as one shell word (single quotes; a single quote inside closes, escapes and reopens). */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function checkUuid(id: string, label: string): void {
  if (!UUID.test(id)) throw new InvalidArgumentError(`${label} must be a UUID (the LangGraph API names threads by UUID), got "${id}"`);
}

