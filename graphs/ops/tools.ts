// Ops tools: reads of the demo world (vendors, invoices, read-only SQL), and the changes the agent
// proposes (SQL, payments, emails), which go through the oversight policy below before they run.
import { z } from "zod";
import type { Policy } from "../../src/approvals/policy.js";
import { durableTool } from "../../src/tools/index.js";
import { QUERY_ROW_LIMIT } from "../../src/world/index.js";
import { demoWorld } from "../world.js";

const confidence = z.number().min(0).max(1).optional().describe("How sure you are, 0..1, that this is the right change; below 0.6 (or left out) a human reviews it");

const WORLD_TABLES = "vendors (vendor_id, name, email, country, status), invoices (invoice_id, vendor_id, amount, currency, due_on, status: open|paid|disputed), payments (payment_ref, invoice_id, vendor_id, amount, currency, memo, created_at), sql_changes";

export const listVendors = durableTool({
  name: "list_vendors",
  description: "List the vendors Acme pays: id, name, billing email, country and status (active or suspended).",
  risk: "read",
  schema: z.object({
    vendorId: z.string().min(1).optional().describe("Only this vendor, e.g. 'V-200'"),
    search: z.string().min(1).optional().describe("Only vendors whose name or email contains this text (any case)"),
    status: z.enum(["active", "suspended"]).optional().describe("Only vendors with this status"),
  }),
  describe: (a) => `List vendors${a.vendorId ? ` (${a.vendorId})` : ""}${a.search ? ` matching "${a.search}"` : ""}${a.status ? ` that are ${a.status}` : ""}`,
  async run(args, { config, signal }) {
    const world = await demoWorld(config);
    const vendors = args.vendorId ? [await world.ops.lookupVendor(args.vendorId, { signal })] : await world.ops.listVendors({ search: args.search, status: args.status }, { signal });
    return { vendors, count: vendors.length };
  },
});

export const listInvoices = durableTool({
  name: "list_invoices",
  description: "List invoices, earliest due first, with the vendor's name; every filter given must match.",
  risk: "read",
  schema: z.object({
    vendorId: z.string().min(1).optional().describe("Only this vendor's invoices, e.g. 'V-200'"),
    status: z.enum(["open", "paid", "disputed"]).optional().describe("Only invoices with this status"),
    minAmount: z.number().nonnegative().optional().describe("Only invoices of at least this amount"),
    maxAmount: z.number().nonnegative().optional().describe("Only invoices of at most this amount"),
    dueBefore: z.iso.date().optional().describe("Only invoices due on or before this date, YYYY-MM-DD"),
  }),
  describe: (a) => `List invoices${a.vendorId ? ` of ${a.vendorId}` : ""}${a.status ? ` that are ${a.status}` : ""}`,
  async run(args, { config, signal }) {
    const world = await demoWorld(config);
    const invoices = await world.ops.listInvoices(args, { signal });
    return { invoices, count: invoices.length };
  },
});

export const queryWorld = durableTool({
  name: "query_world",
  description:
    `Run one read-only SQL statement (SELECT, WITH ... SELECT, TABLE or VALUES) on the world database, in a sandbox that may read the world tables and nothing else. ` +
    `Tables (search_path = world): ${WORLD_TABLES}. At most ${QUERY_ROW_LIMIT} rows come back; 'truncated' says when there were more.`,
  risk: "read",
  scopes: ["db:read"],
  schema: z.object({
    query: z.string().min(1).max(10_000).describe("One read-only SQL statement over the world tables"),
  }),
  describe: (a) => `Read from the world database: ${a.query}`,
  async run(args, { config, signal }) {
    const world = await demoWorld(config);
    const result = await world.ops.queryWorld(args.query, { signal });
    return { ...result };
  },
});

export const runSql = durableTool({
  name: "run_sql",
  description:
    `Apply one data-changing SQL statement (INSERT, UPDATE, DELETE, MERGE) to the world database, in a sandbox that may change the world tables and nothing else, in its own transaction. ` +
    `Tables (search_path = world): ${WORLD_TABLES}; payments and sql_changes are read-only here (pay with make_payment). ` +
    `Each applied statement is recorded in sql_changes. Check with query_world first.`,
  risk: "mutate",
  dedupesByKey: true,
  scopes: ["db:write"],
  schema: z.object({
    sql: z.string().min(1).max(10_000).describe("Exactly one SQL statement that changes world data"),
    confidence,
  }),
  describe: (a) => `Run on the world database${a.confidence !== undefined ? ` (model confidence ${a.confidence})` : ""}: ${a.sql}`,
  async run(args, { config, idempotencyKey, signal }) {
    const world = await demoWorld(config);
    const change = await world.ops.runSql(args.sql, idempotencyKey, { signal });
    return { ...change };
  },
});

export const makePayment = durableTool({
  name: "make_payment",
  description: "Pay an open invoice in full (the amount and currency must be the invoice's) and mark it paid. Check the invoice with list_invoices first.",
  risk: "mutate",
  dedupesByKey: true,
  scopes: ["payments"],
  schema: z.object({
    invoiceId: z.string().min(1).describe("Invoice to pay, e.g. 'INV-1003'"),
    amount: z.number().positive().describe("Amount to pay: the invoice's full amount"),
    currency: z.string().regex(/^[A-Z]{3}$/, "a three-letter ISO code such as EUR").describe("Currency of the payment, the invoice's own (ISO code, e.g. 'EUR')"),
    memo: z.string().min(1).max(200).describe("Remittance text the vendor sees with the payment"),
    confidence,
  }),
  describe: (a) => `Pay ${a.amount} ${a.currency} on invoice ${a.invoiceId} (memo: "${a.memo}")${a.confidence !== undefined ? `, model confidence ${a.confidence}` : ""}`,
  async run(args, { config, idempotencyKey, signal }) {
    const world = await demoWorld(config);
    const payment = await world.ops.makePayment({ invoiceId: args.invoiceId, amount: args.amount, currency: args.currency, memo: args.memo }, idempotencyKey, { signal });
    return { ...payment };
  },
});

export const sendEmail = durableTool({
  name: "send_email",
  description: "Send an email, e.g. a remittance note to a vendor or a summary to a colleague. Mail outside acme.test is reviewed by a human.",
  risk: "mutate",
  dedupesByKey: true,
  schema: z.object({
    to: z.email().describe("Recipient's email address"),
    subject: z.string().min(1).max(200).describe("Subject line"),
    body: z.string().min(1).max(10_000).describe("Plain-text body"),
  }),
  describe: (a) => `Email ${a.to}: "${a.subject}"`,
  async run(args, { config, idempotencyKey, signal }) {
    const world = await demoWorld(config);
    const sent = await world.sendEmail(args, idempotencyKey, { signal });
    return { messageRef: sent.messageRef, to: sent.to, subject: sent.subject };
  },
});

/** In the order the offline planner calls them: reads first, then the changes. */
export const OPS_TOOLS = [listVendors, listInvoices, queryWorld, runSql, makePayment, sendEmail];

/**
 * Built-in oversight policy. Reads run on their own; changes run on their own unless a condition fires
 * (destructive SQL, low confidence, large payments, mail leaving the company). An ops run holds only
 * "db:read": writing SQL ("db:write") and paying ("payments") need a human to grant the scope.
 */
export const OPS_POLICY: Policy = {
  tools: {
    list_vendors: { tier: "auto", reason: "reads vendor data" },
    list_invoices: { tier: "auto", reason: "reads invoice data" },
    query_world: { tier: "auto", reason: "read-only SQL in the sandbox (waypoint_sql_read: reads the world tables, creates nothing)" },
    run_sql: {
      tier: "auto",
      reason: "single statements in the sandbox (waypoint_sql_write: world tables only, creates nothing), each one recorded",
      when: [
        { arg: "sql", matches: "\\b(DELETE|DROP|ALTER|TRUNCATE)\\b", then: "review", reason: "the statement deletes data or changes the schema" },
        { arg: "sql", matches: "\\b(GRANT|REVOKE|CREATE\\s+ROLE)\\b", then: "deny", reason: "permissions are not changed through the ops agent" },
        { arg: "sql", matches: "\\b(grants|directory|outbox|faults|flights|hotel_bookings|car_rentals)\\b", then: "review", reason: "the statement touches tables other agents own (access, staff, mail, bookings)" },
        { confidenceBelow: 0.6, then: "review", reason: "the model is not sure this is the right change" },
      ],
    },
    make_payment: {
      tier: "auto",
      reason: "small payments of checked invoices are routine",
      when: [
        { arg: "amount", above: 1000, then: "review", reason: "payments over 1,000 need a second pair of eyes" },
        { arg: "amount", above: 10000, then: "deny", reason: "payments over 10,000 need the finance system" },
      ],
    },
    send_email: { tier: "auto", when: [{ arg: "to", domainNotIn: ["acme.test"], then: "review", reason: "the email would leave the company" }] },
  },
  scopes: ["db:read"],
  guards: {
    spendLimit: { limit: 20000, arg: "amount", tools: ["make_payment"] },
    tokenBudget: 200000,
    maxRepeats: 3,
    detectAlternation: true,
    maxStepsWithoutProgress: 6,
  },
};
