// Travel agent state: the trip (input), the conversation (a delta channel), how a stopped trip ended,
// and the oversight record.
import { MessagesDeltaValue, StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { OversightValue } from "../../src/approvals/index.js";

export const Trip = z
  .object({
    tripId: z.string().regex(/^[A-Za-z0-9-]{3,40}$/, "letters, digits and dashes, 3-40 characters").describe("Your reference for the trip; every booking carries it"),
    traveller: z.string().min(1).describe("Full name of the traveller"),
    origin: z.string().min(1).describe("City the flight leaves from"),
    destination: z.string().min(1).describe("City to fly to, stay in and rent a car in (the demo has hotels in Lisbon, Berlin and Oslo)"),
    departOn: z.iso.date().describe("Departure and check-in date, YYYY-MM-DD"),
    nights: z.number().int().min(1).max(30).describe("Nights at the hotel"),
    carDays: z.number().int().min(1).max(30).describe("Days of car rental"),
  })
  .strict();
export type Trip = z.infer<typeof Trip>;

export const TravelInput = z.object({ trip: Trip.describe("The trip to book") }).strict();

/** stopped: a reviewer stopped after a failure; cancelling / cancelled: the flight is being / was compensated. */
export const OUTCOMES = ["stopped", "cancelling"] as const;

export const TravelState = new StateSchema({
  messages: MessagesDeltaValue,
  trip: Trip,
  outcome: z.enum(OUTCOMES).optional().describe("Set when a reviewer ended the trip early"),
  oversight: OversightValue,
});
export type TravelStateValue = typeof TravelState.State;
