// Long-term memory across threads, over PostgresStore, namespaced per user. Labels are encoded so
// that any user id (an email with '.', an id with '_' or ':') is safe: PostgresStore refuses '.',
// '%', '_' and '\' in labels, and stores ["a", "b"] the same way as "a:b".
import type { BaseStore } from "@langchain/langgraph";

/** Encode a user-supplied label: keep [A-Za-z0-9@+-], write everything else as ~hex. Reversible. */
export function encodeLabel(raw: string): string {
  if (raw === "") throw new Error("a memory namespace label cannot be empty");
  return [...Buffer.from(raw, "utf8")]
    .map((b) => {
      const ch = String.fromCharCode(b);
      return /[A-Za-z0-9@+-]/.test(ch) ? ch : `~${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

export function decodeLabel(label: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i++) {
    if (label[i] === "~") {
      bytes.push(parseInt(label.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(label.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Namespace of one user's facts of one kind, e.g. userNamespace("m.lee@acme.test", "preferences"). */
export function userNamespace(userId: string, kind: string): string[] {
  return ["users", encodeLabel(userId), encodeLabel(kind)];
}

export type Preferences = Record<string, string>;

/** Every stored preference of a user (key -> value). */
export async function recallPreferences(store: BaseStore, userId: string): Promise<Preferences> {
  const items = await store.search(userNamespace(userId, "preferences"), { limit: 100 });
  const out: Preferences = {};
  for (const item of items) {
    const v = item.value.value;
    if (typeof v === "string") out[item.key] = v;
  }
  return out;
}

/** Remember one preference of a user (overwrites the previous value of that key). */
export async function rememberPreference(store: BaseStore, userId: string, key: string, value: string): Promise<void> {
  await store.put(userNamespace(userId, "preferences"), key, { value, updatedAt: new Date().toISOString() });
}
