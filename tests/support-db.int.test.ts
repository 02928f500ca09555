// The test databases themselves: a file's database is dropped at its end while the sessions of pools it
// has just ended may still be closing. Dropping WITH (FORCE) at once terminated them (57P01), and an
// ending pg client reported that through its pool as an unhandled error, failing whichever test Jest
// was on (seen in CI on tests/saver-group.int.test.ts). An admin session kept open makes the drop come
// as soon as it can, the case where the race was lost nearly every time.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { dropDatabase, testServerUrl } from "./support/db.js";

test("a database is dropped right after a pool on it ends, without an error reaching that pool", async () => {
  const admin = new pg.Client({ connectionString: testServerUrl() });
  await admin.connect();
  const errors: unknown[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const name = `wp_drop_after_end_${randomBytes(4).toString("hex")}`;
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(testServerUrl());
      url.pathname = `/${name}`;
      const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
      // Whatever the pool reports after end() is counted, not thrown.
      pool.on("error", (e) => errors.push(e));
      await Promise.all([1, 2, 3, 4].map(() => pool.query("SELECT pg_sleep(0.01)")));
      await pool.end();
      await dropDatabase(admin, name);
    }
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await admin.end();
  }
  expect(errors.map((e) => (e as { code?: string }).code)).toEqual([]);
});
