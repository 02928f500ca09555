// Waypoint's default auth, as an `Auth` handler of @langchain/langgraph-sdk/auth that the reference
// server applies like any user's (langgraph.json `auth.path` replaces it). A bearer token (or
// x-api-key) names an owner; tokens are compared as SHA-256 digests in constant time. Everything an
// owner creates carries `metadata.owner`, and every read, update and delete is filtered by it, so an
// owner sees only its own threads and runs. Threads made without an owner (by the CLI without
// --owner) are visible to admin tokens only, which see everything.
import { createHash, timingSafeEqual } from "node:crypto";
import { Auth, HTTPException } from "@langchain/langgraph-sdk/auth";

interface TokenEntry {
  digest: Buffer;
  owner: string;
  admin: boolean;
}

let table: TokenEntry[] = [];

const digest = (token: string) => createHash("sha256").update(token, "utf8").digest();

/** Set the tokens this process accepts (owner tokens and admin tokens: token -> name). */
export function useTokens(tokens: ReadonlyMap<string, string>, admins: ReadonlyMap<string, string> = new Map()): void {
  table = [
    ...[...tokens].map(([token, owner]) => ({ digest: digest(token), owner, admin: false })),
    ...[...admins].map(([token, owner]) => ({ digest: digest(token), owner, admin: true })),
  ];
}

/** The entry for a token; every entry is compared, so the time taken says nothing about which matched. */
export function lookupToken(token: string): { owner: string; admin: boolean } | undefined {
  const d = digest(token);
  let found: TokenEntry | undefined;
  for (const e of table) if (timingSafeEqual(e.digest, d) && !found) found = e;
  return found && token.length > 0 ? { owner: found.owner, admin: found.admin } : undefined;
}

/** What holds no data: the health check, and pages that must load in a browser before it has a token to send. */
const PUBLIC_PAGES = new Set(["/ok", "/inbox", "/favicon.ico"]);

function tokenOf(request: Request): string {
  const header = request.headers.get("authorization") ?? "";
  if (header.toLowerCase().startsWith("bearer ")) return header.slice(7).trim();
  return request.headers.get("x-api-key") ?? "";
}

type WithMetadata = { metadata?: Record<string, unknown> | null };

export const auth = new Auth()
  .authenticate(async (request: Request) => {
    const url = new URL(request.url);
    if (request.method === "GET" && PUBLIC_PAGES.has(url.pathname)) return { identity: "anonymous", permissions: [], is_authenticated: false };
    // The reference mounts this route before Waypoint's request limits: refused here, before its body is read.
    if (url.pathname === "/internal/truncate") throw new HTTPException(403, { message: "Waypoint does not truncate its storage over HTTP (POST /internal/truncate is refused)." });
    const who = lookupToken(tokenOf(request));
    if (!who) throw new HTTPException(401, { message: "Missing or unknown bearer token (Authorization: Bearer <token>, or x-api-key)." });
    return { identity: who.owner, permissions: who.admin ? ["admin"] : [], is_authenticated: true };
  })
  .on("assistants", ({ action, value, user, permissions }) => {
    if (permissions.includes("admin")) return;
    const v = value as WithMetadata;
    if (action === "create") v.metadata = { ...v.metadata, owner: user.identity };
    // Every owner can read and run the graphs' assistants; only its own can it change or delete.
    if (action === "read" || action === "search" || action === "create") return;
    return { owner: user.identity };
  })
  .on("*", ({ value, user, permissions }) => {
    if (permissions.includes("admin")) return;
    const v = value as WithMetadata;
    // Whatever an owner creates or updates is (and stays) its own: `owner` cannot be set to another.
    if (v && typeof v === "object" && "metadata" in v) v.metadata = { ...v.metadata, owner: user.identity };
    return { owner: user.identity };
  });

/** Auth off (loopback only): everyone is the same anonymous caller, nothing is filtered. */
export const open = new Auth().authenticate(async () => ({ identity: "anonymous", permissions: ["admin"], is_authenticated: true }));
