// Large tool outputs, stored once outside state. A result whose JSON is over the threshold goes to
// waypoint.artifacts (content-addressed); the ledger, the ToolMessage and so every checkpoint carry a
// small reference instead, and an agent pages through the full output with the read_artifact tool.
import { createHash } from "node:crypto";
import type pg from "pg";
import { z } from "zod";
import { WaypointError } from "../errors.js";
import { durableTool } from "./durable-tool.js";

/** Characters of the output kept in the reference, so the model can often act without reading more. */
export const ARTIFACT_PREVIEW_CHARS = 2000;
/** Default and largest page read_artifact returns (characters); far below any artifact threshold. */
export const ARTIFACT_PAGE_CHARS = 8000;
export const ARTIFACT_MAX_PAGE_CHARS = 32_000;

const JSON_MEDIA_TYPE = "application/json";

/** What stands in state for an output stored as an artifact. */
export interface ArtifactRef extends Record<string, unknown> {
  /** Id to read it by: "art_" and a prefix of the SHA-256 of the stored text. */
  artifact: string;
  /** Size of the stored text in UTF-8 bytes. */
  bytes: number;
  /** Size of the stored text in characters (read_artifact's offset and length count characters). */
  chars: number;
  mediaType: string;
  /** The first ARTIFACT_PREVIEW_CHARS characters of the stored text (the result's JSON). */
  preview: string;
  /** One line telling the model where the rest is. */
  note: string;
}

/** Content-addressed id: the same output stored twice is one row. */
export function artifactIdFor(body: string): string {
  return `art_${createHash("sha256").update(body, "utf8").digest("hex").slice(0, 32)}`;
}

/** True when a tool result is an artifact reference (what the ledger and the ToolMessage hold). */
export function isArtifactRef(value: unknown): value is ArtifactRef {
  if (!value || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.artifact === "string" && v.artifact.startsWith("art_") && typeof v.bytes === "number" && typeof v.preview === "string";
}

export interface ExternaliseOptions {
  /** Outputs whose JSON is longer than this many UTF-8 bytes become artifacts. */
  threshold: number;
  /** Where it came from (kept on the row for people reading the table; not part of the id). */
  threadId: string;
  toolCallId: string;
  tool: string;
}

/**
 * The result to record and answer with: `result` itself when its JSON fits under the threshold,
 * otherwise a reference to the artifact it was stored as. `json` is the serialised form of what is
 * returned, so callers do not serialise a second time.
 */
export async function externaliseResult(pool: pg.Pool, result: Record<string, unknown>, opts: ExternaliseOptions): Promise<{ result: Record<string, unknown>; json: string }> {
  const json = JSON.stringify(result);
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes <= opts.threshold) return { result, json };
  const id = artifactIdFor(json);
  // Content-addressed: a replayed or repeated call that produced the same output finds its row there.
  await pool.query(
    `INSERT INTO waypoint.artifacts (artifact_id, media_type, bytes, body, thread_id, tool_call_id, tool)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (artifact_id) DO NOTHING`,
    [id, JSON_MEDIA_TYPE, bytes, json, opts.threadId, opts.toolCallId, opts.tool],
  );
  const ref: ArtifactRef = {
    artifact: id,
    bytes,
    chars: codePoints(json),
    mediaType: JSON_MEDIA_TYPE,
    preview: previewOf(json),
    note: `Full output (${bytes} bytes) stored as artifact ${id}; read it with read_artifact (offset and length in characters).`,
  };
  return { result: ref, json: JSON.stringify(ref) };
}

/** Length in code points, as Postgres' char_length counts (JS .length counts UTF-16 units). */
function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

/** The first characters of `text`, never ending in half a surrogate pair. */
function previewOf(text: string): string {
  let end = Math.min(text.length, ARTIFACT_PREVIEW_CHARS);
  const last = text.charCodeAt(end - 1);
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/** One page of an artifact. */
export interface ArtifactPage extends Record<string, unknown> {
  artifact: string;
  mediaType: string;
  /** Size of the whole artifact in UTF-8 bytes and in characters. */
  bytes: number;
  chars: number;
  /** Character offset of this page. */
  offset: number;
  /** The page's text (a slice of the stored JSON, so usually not valid JSON on its own). */
  text: string;
  /** Offset of the next page, or null when this page reaches the end. */
  nextOffset: number | null;
}

export interface ReadArtifactOptions {
  /** First character to return (0-based); default 0. */
  offset?: number | undefined;
  /** Characters to return; default ARTIFACT_PAGE_CHARS, at most ARTIFACT_MAX_PAGE_CHARS. */
  length?: number | undefined;
}

/** Read part of an artifact. Throws WaypointError("invalid_input") for an id that does not exist. */
export async function readArtifact(pool: pg.Pool, id: string, opts: ReadArtifactOptions = {}): Promise<ArtifactPage> {
  const offset = Math.max(0, Math.floor(opts.offset ?? 0));
  const length = Math.min(ARTIFACT_MAX_PAGE_CHARS, Math.max(1, Math.floor(opts.length ?? ARTIFACT_PAGE_CHARS)));
  // substr() counts characters from 1; the whole body never leaves the database.
  const { rows } = await pool.query<{ media_type: string; bytes: string; chars: number; text: string }>(
    "SELECT media_type, bytes, char_length(body) AS chars, substr(body, $2, $3) AS text FROM waypoint.artifacts WHERE artifact_id = $1",
    [id, offset + 1, length],
  );
  const row = rows[0];
  if (!row) {
    throw new WaypointError("invalid_input", `There is no artifact "${id}". Artifact ids look like art_<hex> and come from the "artifact" field of a tool result.`, {
      details: { artifact: id },
    });
  }
  // JS strings count UTF-16 units and Postgres counts code points: report the database's view, which
  // is what the next offset is measured in.
  const end = offset + codePoints(row.text);
  return { artifact: id, mediaType: row.media_type, bytes: Number(row.bytes), chars: row.chars, offset, text: row.text, nextOffset: end < row.chars ? end : null };
}

/**
 * read_artifact: lets an agent page through an output that was stored as an artifact. Add it to an
 * agent's tools next to any tool whose output can be large. It needs the run's pool, which the
 * executor passes in the tool run context.
 */
export const readArtifactTool = durableTool({
  name: "read_artifact",
  description:
    "Read part of a large tool output that was stored as an artifact (a tool result with an \"artifact\" id). Returns `text` from `offset` (in characters) and `nextOffset` for the next page, null at the end.",
  risk: "read",
  schema: z.object({
    artifact: z
      .string()
      .regex(/^art_[0-9a-f]{8,64}$/, "must be an artifact id like art_3f2a... taken from a tool result")
      .describe("The artifact id from the tool result's \"artifact\" field"),
    offset: z.number().int().min(0).default(0).describe("First character to read (0 for the start; use nextOffset to continue)"),
    length: z.number().int().min(1).max(ARTIFACT_MAX_PAGE_CHARS).default(ARTIFACT_PAGE_CHARS).describe(`Characters to read (at most ${ARTIFACT_MAX_PAGE_CHARS})`),
  }),
  // An unknown id is not worth retrying for long: after a second try the model hears the reason.
  retry: { maxAttempts: 2 },
  onExhausted: "report",
  async run(args, ctx) {
    if (!ctx.pool) throw new Error("read_artifact needs the database pool in its run context (run it through executeToolCalls)");
    return readArtifact(ctx.pool, args.artifact, { offset: args.offset, length: args.length });
  },
  describe: (args) => `read ${args.length} characters of artifact ${args.artifact} from offset ${args.offset}`,
});
