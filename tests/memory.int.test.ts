// WaypointStore against real Postgres: exact namespaces (u1 never matches u10), any label, no
// collisions, exact listNamespaces, filters and text queries, per-owner views, rows written by the old
// hand encoding, and the memory helpers through LangGraph's per-run store wrapper.
import { AsyncBatchedStore, InMemoryStore, type Operation } from "@langchain/langgraph";
import pg from "pg";
import { createWaypointStore, pgvectorAvailable, recallPreferences, rememberPreference, userNamespace, type WaypointStore } from "../src/memory/index.js";
import { openPersistence, type Persistence } from "../src/persistence/index.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let persistence: Persistence;
let store: WaypointStore;
let pool: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase("memory");
  persistence = await openPersistence({ url: db.url, poolMax: 4 });
  store = persistence.store;
  pool = persistence.db.pool;
});
afterAll(async () => {
  await persistence.close();
  await db.drop();
});

/** Every test writes under its own top label, so tests do not see each other's items. */
const keys = (items: Array<{ namespace: string[]; key: string }>) => items.map((i) => `${JSON.stringify(i.namespace)}/${i.key}`).sort();

describe("exact namespaces", () => {
  test("a search under [users, u1] never returns [users, u10] items", async () => {
    await store.put(["t1", "u1"], "a", { v: 1 });
    await store.put(["t1", "u1", "prefs"], "b", { v: 2 });
    await store.put(["t1", "u10"], "c", { v: 3 });
    await store.put(["t1", "u10", "prefs"], "d", { v: 4 });
    await store.put(["t1", "u1x"], "e", { v: 5 });
    expect(keys(await store.search(["t1", "u1"]))).toEqual(['["t1","u1","prefs"]/b', '["t1","u1"]/a']);
    expect(keys(await store.search(["t1", "u10"]))).toEqual(['["t1","u10","prefs"]/d', '["t1","u10"]/c']);
    expect(await store.search(["t1"], { limit: 100 })).toHaveLength(5);
    expect(await store.get(["t1", "u1"], "c")).toBeNull();
  });

  test.each([
    ["underscore", "user_2"],
    ["percent", "50%"],
    ["backslash", "back\\slash"],
    ["period", "v1.2"],
    ["colon", "a:b"],
    ["slash", "a/b"],
    ["tilde", "~7e"],
    ["email", "m.lee@acme.test"],
    ["unicode", "Zoë 東京 🚀"],
    ["spaces and quotes", ` it's "quoted" `],
    ["reserved root word", "langgraph"],
  ])("any label works: %s", async (_name, label) => {
    const ns = ["t2", label, "prefs"];
    await store.put(ns, "tone", { tone: "formal" });
    const item = await store.get(ns, "tone");
    expect(item).toMatchObject({ namespace: ns, key: "tone", value: { tone: "formal" } });
    expect(item!.createdAt).toBeInstanceOf(Date);
    const found = await store.search(["t2", label]);
    expect(found.map((i) => i.namespace)).toEqual([ns]);
    expect(await store.listNamespaces({ prefix: ["t2", label] })).toEqual([ns]);
    // The label as a root works as well (PostgresStore reserves "langgraph" there).
    await store.put([label], "k", { at: "root" });
    expect(await store.get([label], "k")).toMatchObject({ namespace: [label], value: { at: "root" } });
    expect((await store.search([label])).map((i) => i.namespace)).toEqual([[label]]);
    await store.delete([label], "k");
    await store.delete(ns, "tone");
    expect(await store.get(ns, "tone")).toBeNull();
  });

  test("no collisions: [a:b] is not [a, b], and a label that looks encoded is its own", async () => {
    await store.put(["t3", "a:b"], "k", { which: "colon" });
    await store.put(["t3", "a", "b"], "k", { which: "nested" });
    await store.put(["t3", "a~3ab"], "k", { which: "tilde" });
    await store.put(["t3", "a.b"], "k", { which: "period" });
    expect((await store.get(["t3", "a:b"], "k"))?.value).toEqual({ which: "colon" });
    expect((await store.get(["t3", "a", "b"], "k"))?.value).toEqual({ which: "nested" });
    expect((await store.get(["t3", "a~3ab"], "k"))?.value).toEqual({ which: "tilde" });
    expect((await store.get(["t3", "a.b"], "k"))?.value).toEqual({ which: "period" });
    expect((await store.search(["t3", "a"])).map((i) => i.value)).toEqual([{ which: "nested" }]);
    expect((await store.search(["t3"], { limit: 10 })).map((i) => i.namespace).sort()).toEqual([["t3", "a", "b"], ["t3", "a.b"], ["t3", "a:b"], ["t3", "a~3ab"]]);
  });

  test("bad namespaces are refused with a message naming the label", async () => {
    await expect(store.put(["t4", ""], "k", {})).rejects.toThrow('Namespace ["t4",""] has an empty label at position 2');
    await expect(store.put([], "k", {})).rejects.toThrow(/needs at least one label/);
    await expect(store.search(["t4", ""])).rejects.toThrow(/empty label at position 2/);
    await expect(store.listNamespaces({ prefix: [""] })).rejects.toThrow(/empty label at position 1/);
  });
});

describe("listNamespaces", () => {
  beforeAll(async () => {
    for (const ns of [
      ["t5", "users", "u1", "prefs"],
      ["t5", "users", "u1", "facts"],
      ["t5", "users", "u10", "prefs"],
      ["t5", "users", "u1x", "xprefs"],
      ["t5", "teams", "core", "prefs"],
      ["t5", "users"],
    ]) {
      await store.put(ns, "k", { ns: ns.join("/") });
    }
  });

  test("prefix matches whole labels", async () => {
    expect(await store.listNamespaces({ prefix: ["t5", "users", "u1"] })).toEqual([
      ["t5", "users", "u1", "facts"],
      ["t5", "users", "u1", "prefs"],
    ]);
  });

  test("suffix matches whole labels", async () => {
    const got = await store.listNamespaces({ prefix: ["t5"], suffix: ["prefs"] });
    expect(got.sort()).toEqual([
      ["t5", "teams", "core", "prefs"],
      ["t5", "users", "u1", "prefs"],
      ["t5", "users", "u10", "prefs"],
    ]);
    expect(await store.listNamespaces({ prefix: ["t5"], suffix: ["u1", "prefs"] })).toEqual([["t5", "users", "u1", "prefs"]]);
  });

  test("maxDepth truncates deeper namespaces and lists each once", async () => {
    expect(await store.listNamespaces({ prefix: ["t5"], maxDepth: 2 })).toEqual([
      ["t5", "teams"],
      ["t5", "users"],
    ]);
    expect((await store.listNamespaces({ prefix: ["t5", "users"], maxDepth: 3 })).sort()).toEqual([
      ["t5", "users"],
      ["t5", "users", "u1"],
      ["t5", "users", "u10"],
      ["t5", "users", "u1x"],
    ]);
  });

  test("* stands for any one label; limit and offset page", async () => {
    expect((await store.listNamespaces({ prefix: ["t5", "*", "core"] }))).toEqual([["t5", "teams", "core", "prefs"]]);
    const all = await store.listNamespaces({ prefix: ["t5"] });
    expect(all).toHaveLength(6);
    expect(await store.listNamespaces({ prefix: ["t5"], limit: 2, offset: 2 })).toEqual(all.slice(2, 4));
  });
});

describe("search: filter and query", () => {
  beforeAll(async () => {
    await store.put(["t6", "docs"], "a", { title: "Quarterly Access Review", score: 7, tags: ["audit"], owner: { team: "sec" }, done: true });
    await store.put(["t6", "docs"], "b", { title: "Onboarding checklist", score: 3, tags: ["hr"], owner: { team: "people" }, done: false });
    await store.put(["t6", "docs", "old"], "c", { title: "Access review 2019", score: "12", owner: { team: "sec" } });
    await store.put(["t6", "other"], "d", { title: "access everywhere" });
  });

  test("filters work as PostgresStore's: plain values, operators, nested objects", async () => {
    const q = async (filter: Record<string, unknown>) => (await store.search(["t6", "docs"], { filter, limit: 10 })).map((i) => i.key).sort();
    expect(await q({ done: true })).toEqual(["a"]);
    expect(await q({ score: 7 })).toEqual(["a"]);
    expect(await q({ score: { $gt: 5 } })).toEqual(["a", "c"]);
    expect(await q({ score: { $lte: 3 } })).toEqual(["b"]);
    expect(await q({ title: { $in: ["Onboarding checklist", "nope"] } })).toEqual(["b"]);
    expect(await q({ title: { $nin: ["Onboarding checklist"] } })).toEqual(["a", "c"]);
    expect(await q({ tags: { $exists: false } })).toEqual(["c"]);
    expect(await q({ owner: { team: "sec" } })).toEqual(["a", "c"]);
    expect(await q({ title: { $ne: "Quarterly Access Review" }, owner: { team: "sec" } })).toEqual(["c"]);
    await expect(q({ score: { $near: 1 } })).rejects.toThrow(/unknown operator "\$near". Accepted: \$eq, \$ne/);
  });

  test("a query is a case-insensitive text match over values (not keys), within the exact prefix", async () => {
    const q = async (query: string, filter?: Record<string, unknown>) => (await store.search(["t6", "docs"], { query, limit: 10, ...(filter ? { filter } : {}) })).map((i) => i.key).sort();
    expect(store.semantic).toBe(false);
    expect(await q("access review")).toEqual(["a", "c"]);
    expect(await q("ACCESS", { score: { $gt: 10 } })).toEqual(["c"]);
    expect(await q("title")).toEqual([]); // a key, not a value
    expect(await q("people")).toEqual(["b"]); // nested values count
    expect(await q("100%_")).toEqual([]); // LIKE wildcards are plain characters
    expect((await store.search(["t6"], { query: "access", limit: 10 })).map((i) => i.key).sort()).toEqual(["a", "c", "d"]);
  });

  test("limit and offset page through the results", async () => {
    const all = await store.search(["t6"], { limit: 10 });
    expect(all).toHaveLength(4);
    expect((await store.search(["t6"], { limit: 2, offset: 1 })).map((i) => i.key)).toEqual(all.slice(1, 3).map((i) => i.key));
  });

  test("embeddings without pgvector: the store says so and a query is a text match", async () => {
    const withEmbeddings = await createWaypointStore({ pool, url: db.url, index: { dims: 3, embed: async (texts: string[]) => texts.map(() => [1, 0, 0]) } });
    try {
      expect(withEmbeddings.semantic).toBe(await pgvectorAvailable(pool));
      if (!withEmbeddings.semantic) expect((await withEmbeddings.search(["t6", "docs"], { query: "checklist" })).map((i) => i.key)).toEqual(["b"]);
    } finally {
      await withEmbeddings.stop();
    }
  });
});

describe("batch, views and the memory helpers", () => {
  test("batch runs get, put, delete, search and listNamespaces in order", async () => {
    const ops: Operation[] = [
      { namespace: ["t7", "x.y"], key: "k", value: { n: 1 } },
      { namespace: ["t7", "x.y"], key: "k" },
      { namespacePrefix: ["t7"], limit: 10, offset: 0 },
      { matchConditions: [{ matchType: "prefix", path: ["t7"] }], limit: 10, offset: 0 },
      { namespace: ["t7", "x.y"], key: "k", value: null },
      { namespace: ["t7", "x.y"], key: "k" },
    ];
    const [put, got, found, spaces, del, gone] = await store.batch(ops);
    expect(put).toBeUndefined();
    expect(got).toMatchObject({ namespace: ["t7", "x.y"], value: { n: 1 } });
    expect(found).toEqual([expect.objectContaining({ namespace: ["t7", "x.y"], key: "k" })]);
    expect(spaces).toEqual([["t7", "x.y"]]);
    expect(del).toBeUndefined();
    expect(gone).toBeNull();
  });

  test("a view sees only its own space, with namespaces relative to it", async () => {
    const alice = store.within(["t8", "alice"]);
    const bob = store.within(["t8", "bob"]);
    await alice.put(["users", "u1"], "tone", { tone: "formal" });
    await bob.put(["users", "u1"], "tone", { tone: "casual" });
    expect(await alice.get(["users", "u1"], "tone")).toMatchObject({ namespace: ["users", "u1"], value: { tone: "formal" } });
    expect((await bob.search(["users"])).map((i) => [i.namespace, i.value])).toEqual([[["users", "u1"], { tone: "casual" }]]);
    expect(await alice.listNamespaces()).toEqual([["users", "u1"]]);
    expect(await alice.listNamespaces({ suffix: ["alice", "users", "u1"] })).toEqual([]);
    expect(await store.get(["t8", "alice", "users", "u1"], "tone")).toMatchObject({ value: { tone: "formal" } });
  });

  test("rows written with the old hand encoding are found", async () => {
    // What src/memory wrote before the wrapper: ["users", encodeLabel(id), encodeLabel(kind)] straight into PostgresStore.
    await pool.query("INSERT INTO store (namespace_path, key, value) VALUES ($1, $2, $3)", ["users:old~2euser@acme~2etest:preferences", "welcomeTone", JSON.stringify({ value: "formal" })]);
    expect(await recallPreferences(store, "old.user@acme.test")).toEqual({ welcomeTone: "formal" });
    expect(await store.listNamespaces({ prefix: userNamespace("old.user@acme.test", "preferences") })).toEqual([["users", "old.user@acme.test", "preferences"]]);
  });

  test("memory helpers work through LangGraph's per-run wrapper (which refuses '.' itself) and on other stores", async () => {
    const batched = new AsyncBatchedStore(store);
    await expect(batched.put(["users", "m.lee@acme.test"], "k", {})).rejects.toThrow(/periods/);
    await rememberPreference(batched, "m.lee@acme.test", "welcomeTone", "warm");
    await rememberPreference(store, "m.lee@acme.test10", "welcomeTone", "casual");
    expect(await recallPreferences(batched, "m.lee@acme.test")).toEqual({ welcomeTone: "warm" });
    expect(await store.get(userNamespace("m.lee@acme.test", "preferences"), "welcomeTone")).toMatchObject({ value: { value: "warm" } });
    // Another store (Studio's in-memory one) gets the same labels, encoded by the helpers.
    const other = new InMemoryStore();
    await rememberPreference(other, "m.lee@acme.test", "welcomeTone", "formal");
    expect(await recallPreferences(other, "m.lee@acme.test")).toEqual({ welcomeTone: "formal" });
    expect((await other.search(["users"]))[0]?.namespace).toEqual(["users", "m~2elee@acme~2etest", "preferences"]);
  });
});
