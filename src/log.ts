// The process logger: pino, JSON lines on stderr so that stdout stays for CLI output.
import { pino } from "pino";
import { config } from "./config.js";

export const log = pino({ level: config().logLevel, base: { app: "waypoint" } }, pino.destination(2));
