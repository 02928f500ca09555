// The ops agent's part of the demo world: vendors, invoices, payments, and SQL over the world tables, run
// in the SQL sandbox (src/db/sandbox.ts): its own connections, logged in as roles that can reach the world
// tables and nothing else (only read the two ledgers, payments and sql_changes, which their adapters write)
// and cannot create anything anywhere.
// Like the other adapters, each call goes through createWorld's `call` (fault injection) and the mutating
// ones dedupe by idempotency key: the same key twice returns the first result and changes nothing.
import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { withTransaction } from "../db/index.js";
import { SANDBOX_STATEMENT_TIMEOUT_MS, sqlSandboxFor, type SqlSandbox } from "../db/index.js";
import { isWaypointError } from "../errors.js";
import { rejected, WorldError, type SystemName } from "./faults.js";

export { SQL_READ_ROLE, SQL_WRITE_ROLE } from "../db/index.js";
/** Most rows queryWorld returns; `truncated` says when there were more. */
export const QUERY_ROW_LIMIT = 200;
/** statement_timeout of queryWorld and runSql, in ms. */
export const SQL_TIMEOUT_MS = SANDBOX_STATEMENT_TIMEOUT_MS;

export type VendorStatus = "active" | "suspended";
export type InvoiceStatus = "open" | "paid" | "disputed";

export interface Vendor {
  vendorId: string;
  name: string;
  email: string;
  country: string;
  status: VendorStatus;
}

export interface Invoice {
  invoiceId: string;
  vendorId: string;
  vendorName: string;
  amount: number;
  currency: string;
  /** YYYY-MM-DD. */
  dueOn: string;
  status: InvoiceStatus;
}

export interface InvoiceFilter {
  /** Only this vendor's invoices. */
  vendorId?: string | undefined;
  status?: InvoiceStatus | undefined;
  /** Amount at least this. */
  minAmount?: number | undefined;
  /** Amount at most this. */
  maxAmount?: number | undefined;
  /** Due on or before this date (YYYY-MM-DD). */
  dueBefore?: string | undefined;
}

export interface QueryResult {
  columns: string[];
  /** At most QUERY_ROW_LIMIT rows; numerics as numbers when exact, dates and times as text. */
  rows: Array<Record<string, unknown>>;
  rowCount: number;
  /** True when the query had more rows than were returned. */
  truncated: boolean;
}

export interface SqlChange {
  /** Reference of the world.sql_changes row, derived from the idempotency key. */
  changeRef: string;
  /** The command tag Postgres reported, e.g. "UPDATE". */
  command: string | null;
  /** Rows the statement inserted, updated or deleted (null for statements that report none). */
  rowsAffected: number | null;
}

export interface Payment {
  paymentRef: string;
  invoiceId: string;
  vendorId: string;
  amount: number;
  currency: string;
  memo: string;
  /** ISO timestamp. */
  paidAt: string;
}

type CallOptions = { signal?: AbortSignal | undefined };

/** createWorld's `call`: logs the request (world.requests), injects the fault the plan picks (if any), runs the effect. */
export type SystemCall = <T>(system: SystemName, operation: string, key: string | null, options: CallOptions | undefined, effect: () => Promise<T>) => Promise<T>;

export interface OpsWorld {
  /** Vendors, by id; optionally only one status, or those whose name or email contains `search`. */
  listVendors(filter?: { status?: VendorStatus | undefined; search?: string | undefined }, opts?: CallOptions): Promise<Vendor[]>;
  /** One vendor; a 404 refusal when there is none. */
  lookupVendor(vendorId: string, opts?: CallOptions): Promise<Vendor>;
  /** Invoices matching every filter given, by due date. */
  listInvoices(filter?: InvoiceFilter, opts?: CallOptions): Promise<Invoice[]>;
  /** One read-only statement in the sandbox as waypoint_sql_read, in a READ ONLY transaction; at most QUERY_ROW_LIMIT rows. */
  queryWorld(sql: string, opts?: CallOptions): Promise<QueryResult>;
  /** One data-changing statement in the sandbox as waypoint_sql_write, recorded in world.sql_changes in the same transaction. */
  runSql(sql: string, idempotencyKey: string, opts?: CallOptions): Promise<SqlChange>;
  /** Pays an open invoice in full: a world.payments row, and the invoice marked paid. */
  makePayment(input: { invoiceId: string; amount: number; currency: string; memo: string }, idempotencyKey: string, opts?: CallOptions): Promise<Payment>;
}

/** A reference people can read, derived from the idempotency key (as index.ts's shortRef does), so a retry yields the same one. */
function refFor(prefix: string, key: string): string {
  return `${prefix}-${createHash("sha256").update(key).digest("hex").slice(0, 12)}`.toUpperCase();
}

// ---------------------------------------------------------------------------------------------------
// The boundary is the sandbox login, not these checks: a statement that gets past them runs as a role with
// no way out. They only keep each tool to its kind of statement (a read through query_world, a change
// through run_sql) with a message that says where the other kind goes.

const READ_KEYWORDS = new Set(["SELECT", "WITH", "TABLE", "VALUES"]);
const WRITE_KEYWORDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "TRUNCATE", "ALTER", "DROP", "CREATE", "GRANT", "REVOKE", "COMMENT"]);

/** The first keyword of a statement, past leading whitespace, comments and opening parentheses. */
function leadingKeyword(sql: string): string | undefined {
  let rest = sql;
  for (;;) {
    const skipped = rest.replace(/^\s+/, "").replace(/^\(/, "").replace(/^--[^\n]*(\n|$)/, "").replace(/^\/\*[\s\S]*?\*\//, "");
    if (skipped === rest) break;
    rest = skipped;
  }
  return /^[A-Za-z]+/.exec(rest)?.[0]?.toUpperCase();
}

/** Refuse a statement of the wrong kind for the tool. */
function checkKind(system: SystemName, sql: string, allowed: ReadonlySet<string>, tool: string, other: string): void {
  if (sql.trim() === "") throw rejected(system, 400, `${tool} needs one SQL statement; got an empty one`);
  const keyword = leadingKeyword(sql);
  if (!keyword || !allowed.has(keyword)) {
    throw rejected(system, 400, `${tool} runs ${[...allowed].join(", ")} statements only; got ${keyword ?? "no statement keyword"}${other}`);
  }
}

const REFUSED_CLASSES = new Set(["0A", "21", "22", "23", "25", "26", "2B", "2F", "34", "38", "39", "3F", "42", "44", "54", "P0"]);

/**
 * A Postgres error that means "the statement was refused and nothing was applied" as a 4xx-style world
 * refusal (final: no retry); undefined for anything else (a dropped connection: the outcome is unknown).
 */
function sqlRefusal(system: SystemName, e: unknown, tool: string, role: string): WorldError | undefined {
  if (!(e instanceof Error)) return undefined;
  const code = (e as Error & { code?: unknown }).code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  const said = `${e.message} (SQLSTATE ${code})`;
  if (code === "42601" && /multiple commands/i.test(e.message)) return rejected(system, 400, `${tool} takes exactly one statement per call; send each statement in its own call`);
  if (code === "42501" || code === "25006") return rejected(system, 403, `${said}; ${tool} runs as ${role}, which may use the world tables and nothing else, and can create nothing`);
  if (code === "57014") return rejected(system, 408, `the statement ran longer than ${SQL_TIMEOUT_MS} ms and was cancelled; narrow it down`);
  // lock_timeout: nothing was applied, and the rows may be free in a moment.
  if (code === "55P03") return new WorldError(system, "rate_limited", `${system}: 429 ${said}; the rows it needs are locked by other work, try again shortly`, { status: 429, retryAfterMs: 1000, effectMayHaveHappened: false });
  if (code.startsWith("23")) return rejected(system, 409, said);
  if (REFUSED_CLASSES.has(code.slice(0, 2))) return rejected(system, 400, said);
  return undefined;
}

/** The sandbox's own failures: unusable as configured (a refusal saying what to fix) or at its connection limit (retry later). */
function sandboxFailure(system: SystemName, e: unknown): WorldError | undefined {
  if (isWaypointError(e, "sql_sandbox_unavailable")) return rejected(system, 503, e.message);
  if (isWaypointError(e, "sql_sandbox_busy")) return new WorldError(system, "rate_limited", `${system}: 429 ${e.message}`, { status: 429, retryAfterMs: 500, effectMayHaveHappened: false });
  return undefined;
}

// pg's types are overloaded (text and binary parsers); query results here are always text.
type TypeParsers = NonNullable<pg.QueryConfig["types"]>;

/** Exact numbers as JSON numbers (15 significant digits or fewer), dates and times as the text Postgres wrote. */
const RESULT_TYPES: TypeParsers = {
  getTypeParser: ((oid: number) => {
    if (oid === 1082 || oid === 1083 || oid === 1114 || oid === 1184 || oid === 1266) return (v: string) => v;
    if (oid === 20 || oid === 1700) {
      return (v: string) => {
        const significant = v.replace(/^-/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
        const n = Number(v);
        return Number.isFinite(n) && significant.length <= 15 ? n : v;
      };
    }
    return pg.types.getTypeParser(oid, "text");
  }) as TypeParsers["getTypeParser"],
};

/** node-postgres sends a query with parameters through the extended protocol, which refuses more than one statement; `queryMode` asks for it without parameters. */
function oneStatement(text: string, types?: TypeParsers): pg.QueryConfig {
  const config: pg.QueryConfig & { queryMode: "extended" } = { text, queryMode: "extended", ...(types ? { types } : {}) };
  return config;
}

function toVendor(r: { vendor_id: string; name: string; email: string; country: string; status: VendorStatus }): Vendor {
  return { vendorId: r.vendor_id, name: r.name, email: r.email, country: r.country, status: r.status };
}

type PaymentRow = { payment_ref: string; invoice_id: string; vendor_id: string; amount: number; currency: string; memo: string; paid_at: string };
const PAYMENT_COLUMNS = "payment_ref, invoice_id, vendor_id, amount::float8 AS amount, currency, memo, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS paid_at";

function toPayment(r: PaymentRow): Payment {
  return { paymentRef: r.payment_ref, invoiceId: r.invoice_id, vendorId: r.vendor_id, amount: r.amount, currency: r.currency, memo: r.memo, paidAt: r.paid_at };
}

export function createOpsWorld(pool: pg.Pool, call: SystemCall, sandbox: SqlSandbox = sqlSandboxFor(pool)): OpsWorld {
  const vendorColumns = "vendor_id, name, email, country, status";

  return {
    listVendors: (filter = {}, o) =>
      call("vendors", "listVendors", null, o, async () => {
        const { rows } = await pool.query(
          `SELECT ${vendorColumns} FROM world.vendors
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0 OR strpos(lower(email), lower($2)) > 0)
            ORDER BY vendor_id`,
          [filter.status ?? null, filter.search ?? null],
        );
        return rows.map(toVendor);
      }),

    lookupVendor: (vendorId, o) =>
      call("vendors", "lookupVendor", null, o, async () => {
        const { rows } = await pool.query(`SELECT ${vendorColumns} FROM world.vendors WHERE vendor_id = $1`, [vendorId]);
        const row = rows[0];
        if (!row) throw rejected("vendors", 404, `no vendor "${vendorId}"`);
        return toVendor(row);
      }),

    listInvoices: (filter = {}, o) =>
      call("invoices", "listInvoices", null, o, async () => {
        const { rows } = await pool.query<{ invoice_id: string; vendor_id: string; vendor_name: string; amount: number; currency: string; due_on: string; status: InvoiceStatus }>(
          `SELECT i.invoice_id, i.vendor_id, v.name AS vendor_name, i.amount::float8 AS amount, i.currency, i.due_on::text AS due_on, i.status
             FROM world.invoices i JOIN world.vendors v USING (vendor_id)
            WHERE ($1::text IS NULL OR i.vendor_id = $1)
              AND ($2::text IS NULL OR i.status = $2)
              AND ($3::numeric IS NULL OR i.amount >= $3)
              AND ($4::numeric IS NULL OR i.amount <= $4)
              AND ($5::date IS NULL OR i.due_on <= $5)
            ORDER BY i.due_on, i.invoice_id`,
          [filter.vendorId ?? null, filter.status ?? null, filter.minAmount ?? null, filter.maxAmount ?? null, filter.dueBefore ?? null],
        );
        return rows.map((r) => ({ invoiceId: r.invoice_id, vendorId: r.vendor_id, vendorName: r.vendor_name, amount: r.amount, currency: r.currency, dueOn: r.due_on, status: r.status }));
      }),

    queryWorld: (sql, o) =>
      call("sql_read", "queryWorld", null, o, async () => {
        checkKind("sql_read", sql, READ_KEYWORDS, "query_world", "; changes go through run_sql");
        try {
          // Nothing to keep: the transaction is read only and the connection is closed after the call.
          return await sandbox.use("read", async (client) => {
            await client.query("BEGIN TRANSACTION READ ONLY");
            // A cursor bounds the rows read, and DECLARE accepts only a query (no data-changing WITH).
            await client.query(oneStatement(`DECLARE waypoint_query NO SCROLL CURSOR FOR ${sql}`));
            const fetched = await client.query(oneStatement(`FETCH ${QUERY_ROW_LIMIT + 1} FROM waypoint_query`, RESULT_TYPES));
            const rows = fetched.rows.slice(0, QUERY_ROW_LIMIT) as Array<Record<string, unknown>>;
            return { columns: fetched.fields.map((f) => f.name), rows, rowCount: rows.length, truncated: fetched.rows.length > QUERY_ROW_LIMIT };
          });
        } catch (e) {
          throw sandboxFailure("sql_read", e) ?? sqlRefusal("sql_read", e, "query_world", sandbox.roleOf("read")) ?? e;
        }
      }),

    // The statement and its change log row commit together, in one transaction on the sandbox connection:
    // the row is written by world.record_sql_change (as its owner, the app) against a one-time ticket the
    // app issued for this call, which the statement cannot know. The alternative, the app writing the row
    // on its own connection, would need a two-phase commit to be atomic with the statement. A retry with the
    // same key waits on the key's lock and then finds the row; the row's unique key is the last word even
    // without the lock: a second commit for the key fails and takes its statement with it.
    runSql: (sql, key, o) =>
      call("sql_write", "runSql", key, o, async () => {
        checkKind("sql_write", sql, WRITE_KEYWORDS, "run_sql", "; reads go through query_world");
        const role = sandbox.roleOf("write");
        const ticket = randomBytes(32).toString("base64url");
        // Issued (committed) before the sandbox transaction starts, so record_sql_change there can see it.
        await pool.query("INSERT INTO waypoint.sql_tickets (ticket_hash, idempotency_key) VALUES (sha256(convert_to($1, 'UTF8')), $2)", [ticket, key]);
        let recorded = false;
        try {
          return await sandbox.use("write", async (client) => {
            await client.query("BEGIN");
            try {
              // One call per key at a time; a repeat waits for the first and then finds its record.
              try {
                await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`world.sql_changes:${key}`]);
              } catch (e) {
                const code = (e as { code?: unknown }).code;
                if (code !== "55P03" && code !== "57014") throw e;
                throw new WorldError("sql_write", "rate_limited", `sql_write: 429 another call with this idempotency key is still running; try again shortly`, { status: 429, retryAfterMs: 1000, effectMayHaveHappened: false });
              }
              const done = await client.query<{ change_ref: string; command: string | null; rows_affected: number | null }>(
                "SELECT change_ref, command, rows_affected FROM world.sql_changes WHERE idempotency_key = $1",
                [key],
              );
              const first = done.rows[0];
              if (first) {
                await client.query("ROLLBACK");
                return { changeRef: first.change_ref, command: first.command, rowsAffected: first.rows_affected };
              }
              const result = await client.query(oneStatement(sql));
              const change: SqlChange = { changeRef: refFor("SQL", key), command: result.command ?? null, rowsAffected: result.rowCount ?? null };
              await client.query("SELECT world.record_sql_change($1, $2, $3, $4, $5, $6)", [key, ticket, change.changeRef, sql, change.command, change.rowsAffected]);
              // COMMIT of a transaction that failed answers ROLLBACK instead of an error.
              const committed = await client.query("COMMIT");
              if (committed.command !== "COMMIT") throw new Error(`run_sql: the transaction was not committed (${committed.command})`);
              recorded = true;
              return change;
            } catch (e) {
              await client.query("ROLLBACK").catch(() => undefined);
              throw e;
            }
          });
        } catch (e) {
          throw sandboxFailure("sql_write", e) ?? sqlRefusal("sql_write", e, "run_sql", role) ?? e;
        } finally {
          // Unused unless recorded (record_sql_change deletes the ticket it accepts).
          if (!recorded) await pool.query("DELETE FROM waypoint.sql_tickets WHERE ticket_hash = sha256(convert_to($1, 'UTF8'))", [ticket]).catch(() => undefined);
        }
      }),

    makePayment: (input, key, o) =>
      call("payments", "makePayment", key, o, () =>
        withTransaction(pool, async (client) => {
          await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`world.payments:${key}`]);
          const done = await client.query<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM world.payments WHERE idempotency_key = $1`, [key]);
          if (done.rows[0]) return toPayment(done.rows[0]);
          const found = await client.query<{ vendor_id: string; amount: string; currency: string; status: InvoiceStatus; vendor_status: VendorStatus; matches: boolean }>(
            `SELECT i.vendor_id, i.amount::text AS amount, i.currency, i.status, v.status AS vendor_status, i.amount = $2::numeric AS matches
               FROM world.invoices i JOIN world.vendors v USING (vendor_id) WHERE i.invoice_id = $1 FOR UPDATE OF i`,
            [input.invoiceId, input.amount],
          );
          const invoice = found.rows[0];
          if (!invoice) throw rejected("payments", 404, `no invoice "${input.invoiceId}"`);
          if (invoice.status === "paid") {
            const earlier = await client.query<{ payment_ref: string }>("SELECT payment_ref FROM world.payments WHERE invoice_id = $1 ORDER BY id LIMIT 1", [input.invoiceId]);
            const ref = earlier.rows[0]?.payment_ref;
            throw rejected("payments", 409, `invoice ${input.invoiceId} is already paid${ref ? ` (payment ${ref})` : ""}; nothing was paid`);
          }
          if (invoice.status === "disputed") throw rejected("payments", 409, `invoice ${input.invoiceId} is disputed; it cannot be paid until the dispute is resolved`);
          if (invoice.vendor_status !== "active") throw rejected("payments", 409, `vendor ${invoice.vendor_id} is ${invoice.vendor_status}; payments to it are blocked`);
          if (input.currency.toUpperCase() !== invoice.currency) {
            throw rejected("payments", 422, `invoice ${input.invoiceId} is in ${invoice.currency}, not ${input.currency}; pay it in ${invoice.currency}`);
          }
          if (!invoice.matches) {
            throw rejected("payments", 422, `amount ${input.amount} does not match invoice ${input.invoiceId} (${invoice.amount} ${invoice.currency}); only the full amount can be paid`);
          }
          const inserted = await client.query<PaymentRow>(
            `INSERT INTO world.payments (payment_ref, idempotency_key, invoice_id, vendor_id, amount, currency, memo)
             VALUES ($1, $2, $3, $4, $5::numeric, $6, $7) RETURNING ${PAYMENT_COLUMNS}`,
            [refFor("PAY", key), key, input.invoiceId, invoice.vendor_id, input.amount, invoice.currency, input.memo],
          );
          await client.query("UPDATE world.invoices SET status = 'paid' WHERE invoice_id = $1", [input.invoiceId]);
          const row = inserted.rows[0];
          if (!row) throw new Error("payments: payment neither made nor found");
          return toPayment(row);
        }),
      ),
  };
}
