// Ops agent state: the operator's request (input), the conversation (a delta channel: each checkpoint
// stores only the new messages), and the oversight record (scope grants, guard pauses).
import { MessagesDeltaValue, StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { OversightValue } from "../../src/approvals/index.js";

export const OpsRequest = z
  .object({
    text: z.string().min(1).max(4000).describe("What the operator asks, in their own words"),
    facts: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("Ids, amounts and addresses the request refers to, e.g. { invoiceId: 'INV-1003', amount: 860, to: 'ap@northwind.example' }"),
  })
  .strict();
export type OpsRequest = z.infer<typeof OpsRequest>;

export const OpsInput = z.object({ request: OpsRequest.describe("The operator's request") }).strict();
export type OpsInput = z.infer<typeof OpsInput>;

export const OpsState = new StateSchema({
  messages: MessagesDeltaValue,
  request: OpsRequest,
  oversight: OversightValue,
});
export type OpsStateValue = typeof OpsState.State;

/**
 * An input that works end to end, with a real model or the offline planner (which calls each tool once,
 * in order, with arguments from these facts): look the vendor and its invoices up, check for earlier
 * payments, fix the vendor's billing address, pay the invoice, send the remittance note.
 */
export const OPS_SAMPLE_INPUT: OpsInput = {
  request: {
    text:
      "Northwind Traders say invoice INV-1003 (860.00 EUR) is still unpaid, and that their accounts payable mailbox moved to ap@northwind.example. " +
      "Check the invoice and that it was not paid already, update their email address, pay the invoice and send them a remittance note.",
    facts: {
      vendorId: "V-200",
      query: "SELECT i.invoice_id, i.amount, i.status, count(p.id) AS payments FROM invoices i LEFT JOIN payments p USING (invoice_id) WHERE i.vendor_id = 'V-200' GROUP BY 1, 2, 3 ORDER BY 1",
      sql: "UPDATE vendors SET email = 'ap@northwind.example' WHERE vendor_id = 'V-200'",
      confidence: 0.9,
      invoiceId: "INV-1003",
      amount: 860,
      currency: "EUR",
      memo: "Northwind Traders invoice INV-1003",
      to: "ap@northwind.example",
      subject: "Remittance advice: invoice INV-1003",
      body: "Hello Northwind Traders,\n\nWe have paid invoice INV-1003 (860.00 EUR) in full. Your billing address on file is now ap@northwind.example.\n\nAcme Accounts Payable\n",
    },
  },
};
