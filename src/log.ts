// The process logger: pino on stderr, so that stdout stays for CLI output. JSON lines for machines
// (a pipe, a file, a log collector); on a terminal, one readable line per entry, so that a person's
// `waypoint worker` or `npm start` does not mix raw JSON into its human output.
import { pino } from "pino";
import { config } from "./config.js";

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "fatal" };

/** A pino entry (one JSON line) as a line for people: `warning: message (key=value, ...)`. */
export function humanLine(json: string): string {
  try {
    const { level, msg, time: _time, pid: _pid, hostname: _host, app: _app, err, ...rest } = JSON.parse(json) as Record<string, unknown>;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
    const error = err && typeof err === "object" ? (err as { message?: string }).message : typeof err === "string" ? err : undefined;
    return `${LEVELS[level as number] ?? "log"}: ${String(msg ?? "")}${error ? `: ${error}` : ""}${extra.length ? ` (${extra.join(", ")})` : ""}\n`;
  } catch {
    return json;
  }
}

const destination = process.stderr.isTTY ? { write: (line: string) => void process.stderr.write(humanLine(line)) } : pino.destination(2);

export const log = pino({ level: config().logLevel, base: { app: "waypoint" } }, destination);
