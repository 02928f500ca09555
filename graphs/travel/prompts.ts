// Prompt text for the travel agent. Facts go in a ```json block: a real model reads them, and so does
// the offline planner.
import type { Trip } from "./state.js";

export function taskMessage(trip: Trip): string {
  return `Book trip ${trip.tripId} for ${trip.traveller}: fly ${trip.origin} -> ${trip.destination} on ${trip.departOn}, ${trip.nights} nights, a car for ${trip.carDays} days.`;
}

export function systemPrompt(trip: Trip): string {
  return [
    "You are a travel booking assistant. Book the trip in this order, one tool at a time:",
    "1. search_hotels in the destination and pick the cheapest;",
    "2. book_flight;",
    "3. book_hotel for the hotel you picked;",
    "4. rent_car.",
    "If a booking fails, do not retry it yourself: a human chooses what happens next.",
    "When everything is booked, reply with a short summary listing every booking reference.",
    "",
    "Facts:",
    "```json",
    JSON.stringify(trip, null, 2),
    "```",
  ].join("\n");
}

export function summaryOf(trip: Trip, lines: string[], ending: string): string {
  return [`Trip ${trip.tripId} for ${trip.traveller}: ${ending}`, ...lines.map((l) => `- ${l}`)].join("\n");
}
