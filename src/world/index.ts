// The demo "outside world" agents act on, kept in the `world` schema. Each adapter behaves like a
// real API that dedupes by idempotency key: the same key twice returns the first result, no new row.
import { createHash } from "node:crypto";
import type pg from "pg";

export interface Account {
  accountRef: string;
  email: string;
  name: string;
  department: string;
  manager: string | null;
  /** True when the account existed before this call (same email created under another key). */
  alreadyExisted: boolean;
}

export interface Grant {
  email: string;
  privileges: string[];
}

export interface SentEmail {
  messageRef: string;
  to: string;
  subject: string;
}

export interface World {
  createAccount(input: { email: string; name: string; department: string; manager?: string | undefined }, idempotencyKey: string): Promise<Account>;
  grantPrivileges(input: { email: string; privileges: string[] }, idempotencyKey: string): Promise<Grant>;
  sendEmail(input: { to: string; subject: string; body: string }, idempotencyKey: string): Promise<SentEmail>;
  /** Every world row touching one email address, for printing and for tests. */
  rowsFor(email: string): Promise<WorldRows>;
}

export interface WorldRows {
  accounts: Array<{ account_ref: string; email: string; name: string; department: string }>;
  grants: Array<{ email: string; privilege: string }>;
  emails: Array<{ message_ref: string; recipient: string; subject: string; body: string }>;
}

/** A reference people can read, derived from the idempotency key (so a retry yields the same one). */
function shortRef(prefix: string, key: string): string {
  return `${prefix}-${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
}

export function createWorld(pool: pg.Pool): World {
  return {
    async createAccount(input, key) {
      const ins = await pool.query<{ account_ref: string }>(
        `INSERT INTO world.directory (account_ref, email, name, department, manager, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING account_ref`,
        [shortRef("acct", key), input.email, input.name, input.department, input.manager ?? null, key],
      );
      const { rows } = await pool.query<{ account_ref: string; email: string; name: string; department: string; manager: string | null; idempotency_key: string }>(
        "SELECT account_ref, email, name, department, manager, idempotency_key FROM world.directory WHERE idempotency_key = $1 OR email = $2 ORDER BY (idempotency_key = $1) DESC LIMIT 1",
        [key, input.email],
      );
      const row = rows[0];
      if (!row) throw new Error(`directory: account for ${input.email} neither created nor found`);
      return {
        accountRef: row.account_ref,
        email: row.email,
        name: row.name,
        department: row.department,
        manager: row.manager,
        alreadyExisted: ins.rowCount === 0 && row.idempotency_key !== key,
      };
    },

    async grantPrivileges(input, key) {
      const account = await pool.query("SELECT 1 FROM world.directory WHERE email = $1", [input.email]);
      if (account.rowCount === 0) throw new Error(`grants: no directory account for ${input.email}; create the account first`);
      await pool.query(
        `INSERT INTO world.grants (email, privilege, idempotency_key)
         SELECT $1, p, $3 FROM unnest($2::text[]) AS p ON CONFLICT (idempotency_key, privilege) DO NOTHING`,
        [input.email, input.privileges, key],
      );
      const { rows } = await pool.query<{ privilege: string }>("SELECT privilege FROM world.grants WHERE idempotency_key = $1 ORDER BY id", [key]);
      return { email: input.email, privileges: rows.map((r) => r.privilege) };
    },

    async sendEmail(input, key) {
      await pool.query(
        `INSERT INTO world.outbox (message_ref, recipient, subject, body, idempotency_key)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING`,
        [shortRef("msg", key), input.to, input.subject, input.body, key],
      );
      const { rows } = await pool.query<{ message_ref: string; recipient: string; subject: string }>(
        "SELECT message_ref, recipient, subject FROM world.outbox WHERE idempotency_key = $1",
        [key],
      );
      const row = rows[0];
      if (!row) throw new Error("outbox: message neither sent nor found");
      return { messageRef: row.message_ref, to: row.recipient, subject: row.subject };
    },

    async rowsFor(email) {
      const [accounts, grants, emails] = await Promise.all([
        pool.query("SELECT account_ref, email, name, department FROM world.directory WHERE email = $1 ORDER BY id", [email]),
        pool.query("SELECT email, privilege FROM world.grants WHERE email = $1 ORDER BY id", [email]),
        pool.query("SELECT message_ref, recipient, subject, body FROM world.outbox WHERE recipient = $1 ORDER BY id", [email]),
      ]);
      return { accounts: accounts.rows, grants: grants.rows, emails: emails.rows };
    },
  };
}
