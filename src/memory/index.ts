// Long-term memory across threads, namespaced per user, and conversation summarisation. Labels are plain
// (an email, an id with '_' or ':'): Waypoint's store (store.ts) encodes them and keeps namespaces exact.
import type { BaseStore } from "@langchain/langgraph";
import { asWaypointStore, encodeNamespace } from "./store.js";

export {
  asWaypointStore,
  checkLabels,
  createWaypointStore,
  decodeLabel,
  decodeNamespace,
  encodeLabel,
  encodeNamespace,
  pgvectorAvailable,
  unwrapStore,
  WaypointStore,
  type WaypointStoreOptions,
} from "./store.js";
export {
  compactionUpdate,
  estimateTokens,
  isSummaryMessage,
  planCompaction,
  summariseMessages,
  summaryHeading,
  SUMMARY_ID_PREFIX,
  type CompactionOptions,
  type CompactionPlan,
  type SummariseOptions,
} from "./summarise.js";

/** Namespace of one user's facts of one kind, e.g. userNamespace("m.lee@acme.test", "preferences"). */
export function userNamespace(userId: string, kind: string): string[] {
  return ["users", userId, kind];
}

/**
 * The store to call and the namespace to give it. Inside a node, `config.store` is LangGraph's
 * AsyncBatchedStore, whose checks refuse '.' and ':' in labels: go to the WaypointStore under it.
 * Any other store (Studio's own) gets the labels encoded here the same way, so rows look alike
 * whichever store wrote them.
 */
function scoped(store: BaseStore, namespace: string[]): { store: BaseStore; namespace: string[] } {
  const waypoint = asWaypointStore(store);
  return waypoint ? { store: waypoint, namespace } : { store, namespace: encodeNamespace(namespace) };
}

export type Preferences = Record<string, string>;

/** Every stored preference of a user (key -> value). */
export async function recallPreferences(store: BaseStore, userId: string): Promise<Preferences> {
  const s = scoped(store, userNamespace(userId, "preferences"));
  const items = await s.store.search(s.namespace, { limit: 100 });
  const out: Preferences = {};
  for (const item of items) {
    const v = item.value.value;
    if (typeof v === "string") out[item.key] = v;
  }
  return out;
}

/** Remember one preference of a user (overwrites the previous value of that key). */
export async function rememberPreference(store: BaseStore, userId: string, key: string, value: string): Promise<void> {
  const s = scoped(store, userNamespace(userId, "preferences"));
  await s.store.put(s.namespace, key, { value, updatedAt: new Date().toISOString() });
}
