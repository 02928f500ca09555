// A hotel-and-car concierge written the way the LangChain docs write agents: createAgent, three plain
// tool()s and the human-in-the-loop middleware on the one that rents a car. Waypoint's only part is
// durable() around each tool, saying what the tool does to the world:
//   search_hotels  read:   retried freely; when the system is down, the last result (marked stale);
//   book_hotel     mutate, and the hotel system dedupes by the idempotency key: retried safely;
//   rent_car       mutate, a legacy API without keys: a call whose outcome is unknown is never
//                  repeated on a guess; the run asks a human "did this happen?".
// The same module runs without Waypoint (MemorySaver, plain invoke): the tools then run directly.
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import { createAgent, humanInTheLoopMiddleware, tool } from "langchain";
import { z } from "zod";
import { createChatModel, describeGraph, durable, idempotencyKey } from "waypoint";
import { demoWorld } from "../world.js";

const searchHotels = tool(
  async ({ city }, config) => {
    const hotels = await (await demoWorld(config)).searchHotels({ city }, { signal: config.signal });
    return JSON.stringify({ hotelId: hotels[0]?.hotelId ?? null, hotels });
  },
  {
    name: "search_hotels",
    description: "List the hotels in a city, cheapest first; `hotelId` is the cheapest.",
    schema: z.object({ city: z.string().min(1).describe("City") }),
  },
);

const bookHotel = tool(
  async ({ tripId, hotelId, guest, checkIn, nights }, config) => {
    // The hotel system dedupes by this key: the same call twice books once.
    const booking = await (await demoWorld(config)).bookHotel({ tripId, hotelId, guest, checkIn, nights }, idempotencyKey(config), { signal: config.signal });
    return JSON.stringify({ hotelRef: booking.bookingRef, hotelName: booking.hotelName });
  },
  {
    name: "book_hotel",
    description: "Book a hotel room for the trip.",
    schema: z.object({
      tripId: z.string().min(1).describe("Trip reference"),
      hotelId: z.string().min(1).describe("Hotel id from search_hotels"),
      guest: z.string().min(1).describe("Guest name"),
      checkIn: z.iso.date().describe("Check-in date, YYYY-MM-DD"),
      nights: z.number().int().min(1).max(30).describe("Nights"),
    }),
  },
);

const rentCar = tool(
  async ({ tripId, driver, city, pickUpOn, days }, config) => {
    // No idempotency key: calling twice rents two cars.
    const rental = await (await demoWorld(config)).rentCar({ tripId, driver, city, pickUpOn, days }, { signal: config.signal });
    return JSON.stringify({ rentalRef: rental.rentalRef });
  },
  {
    name: "rent_car",
    description: "Rent a car for the trip.",
    schema: z.object({
      tripId: z.string().min(1).describe("Trip reference"),
      driver: z.string().min(1).describe("Driver name"),
      city: z.string().min(1).describe("Pick-up city"),
      pickUpOn: z.iso.date().describe("Pick-up date, YYYY-MM-DD"),
      days: z.number().int().min(1).max(30).describe("Days"),
    }),
  },
);

export const tools = [
  durable(searchHotels, { risk: "read" }),
  durable(bookHotel, { risk: "mutate", dedupesByKey: true, describe: (a) => `Book ${String(a.hotelId)} for ${String(a.guest)}, ${String(a.nights)} nights from ${String(a.checkIn)}` }),
  durable(rentCar, { risk: "mutate", describe: (a) => `Rent a car in ${String(a.city)} for ${String(a.driver)}, ${String(a.days)} days from ${String(a.pickUpOn)}` }),
];

/** The agent; `checkpointer` for running it without Waypoint (Waypoint brings its own). */
export function createConcierge(options: { checkpointer?: BaseCheckpointSaver } = {}) {
  return createAgent({
    model: createChatModel(),
    tools,
    systemPrompt: "You are a travel concierge. Find the cheapest hotel, book it, then rent the car. Use the facts the user gives.",
    middleware: [humanInTheLoopMiddleware({ interruptOn: { rent_car: { allowedDecisions: ["approve", "edit", "reject"] } } })],
    ...(options.checkpointer ? { checkpointer: options.checkpointer } : {}),
  });
}

export const agent = describeGraph(
  createConcierge(),
  {
    description: "A createAgent concierge (LangChain docs style): search and book a hotel, rent a car after a person approves; durable() tools.",
    sampleInput: {
      messages: [
        {
          role: "user",
          content:
            'Hotel and car in Lisbon, please.\n```json\n{"tripId": "trip-1", "city": "Lisbon", "guest": "Ada", "driver": "Ada", "checkIn": "2027-03-01", "pickUpOn": "2027-03-01", "nights": 3, "days": 3}\n```',
        },
      ],
    },
    tools,
  },
);
