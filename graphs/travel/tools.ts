// Travel tools: a hotel search (read), flight and hotel bookings (systems that dedupe by idempotency
// key), a car rental on a legacy system that cannot dedupe, and the flight cancellation that
// compensates a booking.
import { z } from "zod";
import type { Policy } from "../../src/approvals/index.js";
import { durableTool } from "../../src/tools/index.js";
import { demoWorld } from "../world.js";

export const searchHotels = durableTool({
  name: "search_hotels",
  description: "List hotels in a city, cheapest first; `hotelId` is the cheapest.",
  risk: "read",
  schema: z.object({ destination: z.string().min(1).describe("City") }),
  describe: (a) => `Search hotels in ${a.destination}`,
  async run(args, { config, signal }) {
    const world = await demoWorld(config);
    const hotels = await world.searchHotels({ city: args.destination }, { signal });
    if (hotels.length === 0) return { hotels: [], note: `no hotels in ${args.destination}` };
    return { hotelId: hotels[0]?.hotelId, hotels: hotels.map((h) => ({ hotelId: h.hotelId, name: h.name, nightlyEur: h.nightlyEur })) };
  },
});

export const bookFlight = durableTool({
  name: "book_flight",
  description: "Book the flight for the trip.",
  risk: "mutate",
  dedupesByKey: true,
  schema: z.object({
    tripId: z.string().min(1).describe("Trip reference"),
    traveller: z.string().min(1).describe("Passenger name"),
    origin: z.string().min(1).describe("From city"),
    destination: z.string().min(1).describe("To city"),
    departOn: z.iso.date().describe("Date, YYYY-MM-DD"),
  }),
  describe: (a) => `Book a flight ${a.origin} -> ${a.destination} on ${a.departOn} for ${a.traveller}`,
  async run(args, { config, idempotencyKey, signal }) {
    const world = await demoWorld(config);
    const b = await world.bookFlight(args, idempotencyKey, { signal });
    return { flightRef: b.bookingRef, tripId: b.tripId };
  },
});

export const bookHotel = durableTool({
  name: "book_hotel",
  description: "Book the hotel for the trip's nights, from the departure date.",
  risk: "mutate",
  dedupesByKey: true,
  // A hotel that keeps failing does not stop the run: the graph offers a human the ways forward.
  onExhausted: "report",
  schema: z.object({
    tripId: z.string().min(1).describe("Trip reference"),
    hotelId: z.string().min(1).describe("Hotel id from search_hotels"),
    traveller: z.string().min(1).describe("Guest name"),
    departOn: z.iso.date().describe("Check-in date, YYYY-MM-DD"),
    nights: z.number().int().min(1).max(30).describe("Nights"),
  }),
  describe: (a) => `Book hotel ${a.hotelId} for ${a.nights} nights from ${a.departOn} for ${a.traveller}`,
  async run(args, { config, idempotencyKey, signal }) {
    const world = await demoWorld(config);
    const b = await world.bookHotel({ tripId: args.tripId, hotelId: args.hotelId, guest: args.traveller, checkIn: args.departOn, nights: args.nights }, idempotencyKey, { signal });
    return { hotelRef: b.bookingRef, hotelId: b.hotelId, hotelName: b.hotelName };
  },
});

export const rentCar = durableTool({
  name: "rent_car",
  description: "Rent a car at the destination from the departure date.",
  risk: "mutate",
  // The rental system is a legacy API without idempotency keys: never repeated without a human.
  dedupesByKey: false,
  schema: z.object({
    tripId: z.string().min(1).describe("Trip reference"),
    traveller: z.string().min(1).describe("Driver name"),
    destination: z.string().min(1).describe("City to pick the car up in"),
    departOn: z.iso.date().describe("Pick-up date, YYYY-MM-DD"),
    carDays: z.number().int().min(1).max(30).describe("Days"),
  }),
  describe: (a) => `Rent a car in ${a.destination} for ${a.carDays} days from ${a.departOn} (driver ${a.traveller})`,
  async run(args, { config, signal }) {
    const world = await demoWorld(config);
    const r = await world.rentCar({ tripId: args.tripId, driver: args.traveller, city: args.destination, pickUpOn: args.departOn, days: args.carDays }, { signal });
    return { rentalRef: r.rentalRef, tripId: r.tripId };
  },
});

export const cancelFlight = durableTool({
  name: "cancel_flight",
  description: "Cancel a booked flight and refund it (compensates book_flight).",
  risk: "mutate",
  dedupesByKey: true,
  schema: z.object({ flightRef: z.string().min(1).describe("Booking reference from book_flight") }),
  describe: (a) => `Cancel flight ${a.flightRef} (refund)`,
  async run(args, { config, idempotencyKey, signal }) {
    const world = await demoWorld(config);
    const c = await world.cancelFlight({ bookingRef: args.flightRef }, idempotencyKey, { signal });
    return { cancelledFlight: c.bookingRef, refundEur: c.refundEur };
  },
});

/** What the model may call, in the order the trip is booked. */
export const MODEL_TOOLS = [searchHotels, bookFlight, bookHotel, rentCar];
/** Everything the tools node runs (the compensation is only ever proposed by the recovery step). */
export const TRAVEL_TOOLS = [...MODEL_TOOLS, cancelFlight];

/**
 * Built-in oversight policy: bookings run on their own (every one is audited); the model is never to
 * cancel a flight by itself (cancelling is a reviewer's choice, offered by the recovery step).
 */
export const TRAVEL_POLICY: Policy = {
  tools: {
    search_hotels: { tier: "auto" },
    book_flight: { tier: "auto", reason: "bookings for the requested trip are pre-approved" },
    book_hotel: { tier: "auto", reason: "bookings for the requested trip are pre-approved" },
    rent_car: { tier: "auto", reason: "bookings for the requested trip are pre-approved" },
    cancel_flight: { tier: "deny", reason: "only a reviewer cancels a booking (through the recovery options)" },
  },
};
