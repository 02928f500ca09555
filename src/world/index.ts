// The demo "outside world" agents act on, kept in the `world` schema. Each adapter behaves like a
// real API that dedupes by idempotency key: the same key twice returns the first result, no new row
// (the car rental excepted). Every request is also logged in world.requests, dedupe or not, so tests
// can count how often a tool call really went out.
import { createHash, randomUUID } from "node:crypto";
import type pg from "pg";
import { config } from "../config.js";
import { withTransaction } from "../db/index.js";
import { sqlSandboxFor, type SqlSandbox } from "../db/index.js";
import { FaultInjector, parseFaults, rejected, WorldError, type FaultPlan, type SystemName } from "./faults.js";
import { createOpsWorld, type OpsWorld } from "./ops.js";

export { FAULT_KINDS, FaultInjector, isWorldError, parseFaults, rejected, SYSTEMS, WorldError, type FaultKind, type FaultPlan, type FaultRule, type SystemName, type WorldFailure } from "./faults.js";
export { QUERY_ROW_LIMIT, SQL_READ_ROLE, SQL_WRITE_ROLE, type Invoice, type InvoiceFilter, type InvoiceStatus, type OpsWorld, type Payment, type QueryResult, type SqlChange, type Vendor } from "./ops.js";

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

export interface Hotel {
  hotelId: string;
  city: string;
  name: string;
  nightlyEur: number;
}

export interface FlightBooking {
  bookingRef: string;
  tripId: string;
  status: "booked" | "cancelled";
}

export interface HotelBooking {
  bookingRef: string;
  tripId: string;
  hotelId: string;
  hotelName: string;
}

export interface CarRental {
  rentalRef: string;
  tripId: string;
}

export interface CallOptions {
  /** Aborts a call that hangs (the tool's timeout). */
  signal?: AbortSignal | undefined;
}

export interface World {
  createAccount(input: { email: string; name: string; department: string; manager?: string | undefined }, idempotencyKey: string, opts?: CallOptions): Promise<Account>;
  grantPrivileges(input: { email: string; privileges: string[] }, idempotencyKey: string, opts?: CallOptions): Promise<Grant>;
  sendEmail(input: { to: string; subject: string; body: string }, idempotencyKey: string, opts?: CallOptions): Promise<SentEmail>;
  /** Hotels in a city, cheapest first (a read: no key, no effect). */
  searchHotels(input: { city: string }, opts?: CallOptions): Promise<Hotel[]>;
  bookFlight(input: { tripId: string; traveller: string; origin: string; destination: string; departOn: string }, idempotencyKey: string, opts?: CallOptions): Promise<FlightBooking>;
  /** Compensates a flight booking; refunds it. Dedupes by key like the rest. */
  cancelFlight(input: { bookingRef: string }, idempotencyKey: string, opts?: CallOptions): Promise<{ bookingRef: string; refundEur: number }>;
  bookHotel(input: { tripId: string; hotelId: string; guest: string; checkIn: string; nights: number }, idempotencyKey: string, opts?: CallOptions): Promise<HotelBooking>;
  /** The car rental system is a legacy API: no idempotency key; calling twice rents two cars. */
  rentCar(input: { tripId: string; driver: string; city: string; pickUpOn: string; days: number }, opts?: CallOptions): Promise<CarRental>;
  /** Every world row touching one email address, for printing and for tests. */
  rowsFor(email: string): Promise<WorldRows>;
  /** Every booking of a trip (flights, cancellations, hotels, cars). */
  rowsForTrip(tripId: string): Promise<TripRows>;
  /** The ops agent's systems: vendors, invoices, payments, and SQL run in the SQL sandbox (ops.ts, db/sandbox.ts). */
  ops: OpsWorld;
}

export interface TripRows {
  flights: Array<{ booking_ref: string; status: string; cancellations: number }>;
  hotels: Array<{ booking_ref: string; hotel_id: string }>;
  cars: Array<{ rental_ref: string }>;
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

export interface WorldOptions {
  /** Faults to inject; default: from WAYPOINT_FAULTS, none when unset. `null` turns them off. */
  faults?: FaultPlan | FaultInjector | null;
  /** Where the ops agent's SQL runs; default: the sandbox of `pool` (its roles from migration 15). */
  sqlSandbox?: SqlSandbox | undefined;
}

function injectorFor(opt: WorldOptions["faults"]): FaultInjector | undefined {
  if (opt === null) return undefined;
  if (opt instanceof FaultInjector) return opt;
  if (opt) return new FaultInjector(opt);
  const spec = config().faults;
  return spec ? new FaultInjector(parseFaults(spec)) : undefined;
}

function hang(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function createWorld(pool: pg.Pool, opts: WorldOptions = {}): World {
  const faults = injectorFor(opts.faults);

  /**
   * Run one call of `system`: log the request (world.requests), then inject the fault the plan picks for
   * it (if any), then apply the effect. The log comes first, like a real API's access log: it counts
   * every request that reached the system, including the ones its dedupe or a fault swallowed.
   */
  async function call<T>(system: SystemName, operation: string, key: string | null, options: CallOptions | undefined, effect: () => Promise<T>): Promise<T> {
    const fault = faults?.pick(system);
    const request = [system, operation, key, process.pid];
    if (fault) {
      await pool.query(
        `WITH logged AS (INSERT INTO world.requests (system, operation, idempotency_key, pid) VALUES ($1, $2, $3, $4))
         INSERT INTO world.faults (system, kind, idempotency_key, pid) VALUES ($1, $5, $3, $4)`,
        [...request, fault],
      );
    } else await pool.query("INSERT INTO world.requests (system, operation, idempotency_key, pid) VALUES ($1, $2, $3, $4)", request);
    if (fault === "rate_limit") {
      const ms = faults?.retryAfterMs ?? 0;
      throw new WorldError(system, "rate_limited", `${system}: 429 Too Many Requests (Retry-After: ${ms} ms)`, { status: 429, retryAfterMs: ms, effectMayHaveHappened: false });
    }
    if (fault === "server_error") throw new WorldError(system, "server_error", `${system}: 500 Internal Server Error`, { status: 500, effectMayHaveHappened: true });
    if (fault === "timeout") {
      await hang(faults?.hangMs ?? 0, options?.signal);
      throw new WorldError(system, "timeout", `${system}: no reply (timed out)`, { effectMayHaveHappened: true });
    }
    const result = await effect();
    if (fault === "reply_lost") {
      throw new WorldError(system, "reply_lost", `${system}: connection reset before the reply arrived (the request may have been applied)`, { effectMayHaveHappened: true });
    }
    if (fault === "crash_after_effect") {
      // The effect is committed; the process dies before anyone hears about it.
      process.kill(process.pid, "SIGKILL");
      await new Promise(() => undefined);
    }
    return result;
  }

  return {
    ops: createOpsWorld(pool, call, opts.sqlSandbox ?? sqlSandboxFor(pool)),

    createAccount: (input, key, o) => call("directory", "createAccount", key, o, async () => {
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
    }),

    grantPrivileges: (input, key, o) => call("grants", "grantPrivileges", key, o, async () => {
      const account = await pool.query("SELECT 1 FROM world.directory WHERE email = $1", [input.email]);
      if (account.rowCount === 0) throw rejected("grants", 404, `no directory account for ${input.email}; create the account first`);
      await pool.query(
        `INSERT INTO world.grants (email, privilege, idempotency_key)
         SELECT $1, p, $3 FROM unnest($2::text[]) AS p ON CONFLICT (idempotency_key, privilege) DO NOTHING`,
        [input.email, input.privileges, key],
      );
      const { rows } = await pool.query<{ privilege: string }>("SELECT privilege FROM world.grants WHERE idempotency_key = $1 ORDER BY id", [key]);
      return { email: input.email, privileges: rows.map((r) => r.privilege) };
    }),

    sendEmail: (input, key, o) => call("email", "sendEmail", key, o, async () => {
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
    }),

    searchHotels: (input, o) => call("hotel_search", "searchHotels", null, o, async () => {
      const { rows } = await pool.query<{ hotel_id: string; city: string; name: string; nightly_eur: number }>(
        "SELECT hotel_id, city, name, nightly_eur FROM world.hotels WHERE lower(city) = lower($1) ORDER BY nightly_eur, hotel_id",
        [input.city],
      );
      return rows.map((r) => ({ hotelId: r.hotel_id, city: r.city, name: r.name, nightlyEur: r.nightly_eur }));
    }),

    bookFlight: (input, key, o) => call("flights", "bookFlight", key, o, async () => {
      await pool.query(
        `INSERT INTO world.flights (booking_ref, trip_id, traveller, origin, destination, depart_on, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING`,
        [shortRef("FL", key).toUpperCase(), input.tripId, input.traveller, input.origin, input.destination, input.departOn, key],
      );
      const { rows } = await pool.query<{ booking_ref: string; trip_id: string; status: "booked" | "cancelled" }>(
        "SELECT booking_ref, trip_id, status FROM world.flights WHERE idempotency_key = $1",
        [key],
      );
      const row = rows[0];
      if (!row) throw new Error("flights: booking neither made nor found");
      return { bookingRef: row.booking_ref, tripId: row.trip_id, status: row.status };
    }),

    cancelFlight: (input, key, o) =>
      call("flights", "cancelFlight", key, o, () =>
        withTransaction(pool, async (client) => {
          const flight = await client.query<{ status: string }>("SELECT status FROM world.flights WHERE booking_ref = $1 FOR UPDATE", [input.bookingRef]);
          if (flight.rowCount === 0) throw rejected("flights", 404, `no flight booking ${input.bookingRef}`);
          const done = await client.query<{ refund_eur: number }>("SELECT refund_eur FROM world.flight_cancellations WHERE idempotency_key = $1", [key]);
          let refund = done.rows[0]?.refund_eur;
          if (refund === undefined) {
            if (flight.rows[0]?.status === "cancelled") throw rejected("flights", 409, `flight ${input.bookingRef} was already cancelled by another request`);
            refund = 180;
            await client.query("INSERT INTO world.flight_cancellations (booking_ref, refund_eur, idempotency_key) VALUES ($1, $2, $3)", [input.bookingRef, refund, key]);
            await client.query("UPDATE world.flights SET status = 'cancelled' WHERE booking_ref = $1", [input.bookingRef]);
          }
          return { bookingRef: input.bookingRef, refundEur: refund };
        }),
      ),

    bookHotel: (input, key, o) => call("hotels", "bookHotel", key, o, async () => {
      const hotel = await pool.query<{ name: string }>("SELECT name FROM world.hotels WHERE hotel_id = $1", [input.hotelId]);
      const name = hotel.rows[0]?.name;
      if (name === undefined) throw rejected("hotels", 404, `no hotel "${input.hotelId}"`);
      await pool.query(
        `INSERT INTO world.hotel_bookings (booking_ref, trip_id, hotel_id, guest, check_in, nights, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING`,
        [shortRef("HT", key).toUpperCase(), input.tripId, input.hotelId, input.guest, input.checkIn, input.nights, key],
      );
      const { rows } = await pool.query<{ booking_ref: string; trip_id: string; hotel_id: string }>(
        "SELECT booking_ref, trip_id, hotel_id FROM world.hotel_bookings WHERE idempotency_key = $1",
        [key],
      );
      const row = rows[0];
      if (!row) throw new Error("hotels: booking neither made nor found");
      return { bookingRef: row.booking_ref, tripId: row.trip_id, hotelId: row.hotel_id, hotelName: name };
    }),

    rentCar: (input, o) => call("cars", "rentCar", null, o, async () => {
      const ref = `CAR-${randomUUID().slice(0, 8).toUpperCase()}`;
      await pool.query("INSERT INTO world.car_rentals (rental_ref, trip_id, driver, city, pick_up_on, days) VALUES ($1, $2, $3, $4, $5, $6)", [
        ref,
        input.tripId,
        input.driver,
        input.city,
        input.pickUpOn,
        input.days,
      ]);
      return { rentalRef: ref, tripId: input.tripId };
    }),

    async rowsForTrip(tripId) {
      const [flights, hotels, cars] = await Promise.all([
        pool.query(
          `SELECT f.booking_ref, f.status, (SELECT count(*)::int FROM world.flight_cancellations c WHERE c.booking_ref = f.booking_ref) AS cancellations
             FROM world.flights f WHERE trip_id = $1 ORDER BY id`,
          [tripId],
        ),
        pool.query("SELECT booking_ref, hotel_id FROM world.hotel_bookings WHERE trip_id = $1 ORDER BY id", [tripId]),
        pool.query("SELECT rental_ref FROM world.car_rentals WHERE trip_id = $1 ORDER BY id", [tripId]),
      ]);
      return { flights: flights.rows, hotels: hotels.rows, cars: cars.rows };
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
