// App migrations, applied in order once per database under an advisory lock (see setup.ts).
// Append only: a migration that has shipped is never edited; a change is a new entry.
export interface Migration {
  /** Position in the sequence, starting at 1, no gaps. */
  version: number;
  /** What it does, for the migrations table and logs. */
  name: string;
  /** SQL run in one transaction. */
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "threads registry",
    sql: `
      CREATE TABLE waypoint.threads (
        thread_id     text PRIMARY KEY,
        agent         text NOT NULL,
        graph_version text NOT NULL,
        status        text NOT NULL CHECK (status IN ('running', 'interrupted', 'done', 'error')),
        status_detail text,
        runner_pid    integer,
        runner_host   text,
        input         jsonb,
        forked_from   jsonb,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX threads_status_idx ON waypoint.threads (status, updated_at DESC);`,
  },
  {
    version: 2,
    name: "side-effect ledger",
    sql: `
      CREATE TABLE waypoint.tool_calls (
        thread_id       text NOT NULL,
        checkpoint_ns   text NOT NULL,
        tool_call_id    text NOT NULL,
        tool            text NOT NULL,
        risk            text NOT NULL CHECK (risk IN ('read', 'compute', 'mutate')),
        args            jsonb NOT NULL,
        idempotency_key text NOT NULL,
        status          text NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
        result          jsonb,
        error           text,
        attempts        integer NOT NULL DEFAULT 1,
        started_at      timestamptz NOT NULL DEFAULT now(),
        finished_at     timestamptz,
        PRIMARY KEY (thread_id, checkpoint_ns, tool_call_id)
      );`,
  },
  {
    version: 3,
    name: "demo world: directory, grants, outbox",
    sql: `
      CREATE SCHEMA IF NOT EXISTS world;
      CREATE TABLE world.directory (
        id              bigserial PRIMARY KEY,
        account_ref     text NOT NULL UNIQUE,
        email           text NOT NULL UNIQUE,
        name            text NOT NULL,
        department      text NOT NULL,
        manager         text,
        idempotency_key text NOT NULL UNIQUE,
        created_at      timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.grants (
        id              bigserial PRIMARY KEY,
        email           text NOT NULL,
        privilege       text NOT NULL,
        idempotency_key text NOT NULL,
        granted_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (idempotency_key, privilege)
      );
      CREATE TABLE world.outbox (
        id              bigserial PRIMARY KEY,
        message_ref     text NOT NULL UNIQUE,
        recipient       text NOT NULL,
        subject         text NOT NULL,
        body            text NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        sent_at         timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 4,
    name: "review decisions",
    sql: `
      CREATE TABLE waypoint.decisions (
        thread_id    text NOT NULL,
        interrupt_id text NOT NULL,
        response     jsonb NOT NULL,
        decided_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (thread_id, interrupt_id)
      );`,
  },
  {
    version: 5,
    name: "ledger: in-doubt calls, human resolutions, read cache",
    sql: `
      ALTER TABLE waypoint.tool_calls DROP CONSTRAINT tool_calls_status_check;
      ALTER TABLE waypoint.tool_calls ADD CONSTRAINT tool_calls_status_check
        CHECK (status IN ('started', 'succeeded', 'failed', 'in_doubt', 'rerun', 'skipped'));
      ALTER TABLE waypoint.tool_calls
        ADD COLUMN dedupes boolean NOT NULL DEFAULT true,
        ADD COLUMN final boolean NOT NULL DEFAULT true,
        ADD COLUMN doubt text,
        ADD COLUMN resolution text CHECK (resolution IN ('confirm_done', 'run_again', 'skip')),
        ADD COLUMN resolution_note text,
        ADD COLUMN from_cache boolean NOT NULL DEFAULT false;
      CREATE INDEX tool_calls_open_idx ON waypoint.tool_calls (thread_id) WHERE status IN ('started', 'in_doubt', 'rerun');
      CREATE TABLE waypoint.tool_cache (
        tool       text NOT NULL,
        args_hash  text NOT NULL,
        result     jsonb NOT NULL,
        fetched_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tool, args_hash)
      );`,
  },
  {
    version: 6,
    name: "demo world: travel bookings and the fault log",
    sql: `
      CREATE TABLE world.hotels (
        hotel_id    text PRIMARY KEY,
        city        text NOT NULL,
        name        text NOT NULL,
        nightly_eur integer NOT NULL
      );
      INSERT INTO world.hotels (hotel_id, city, name, nightly_eur) VALUES
        ('lis-alfama', 'Lisbon', 'Alfama Courtyard', 140),
        ('lis-baixa', 'Lisbon', 'Baixa Grand', 185),
        ('ber-mitte', 'Berlin', 'Mitte Loft', 120),
        ('ber-spree', 'Berlin', 'Spreeblick', 160),
        ('osl-fjord', 'Oslo', 'Fjord House', 210),
        ('osl-sentrum', 'Oslo', 'Sentrum Rooms', 150);
      CREATE TABLE world.flights (
        id              bigserial PRIMARY KEY,
        booking_ref     text NOT NULL UNIQUE,
        trip_id         text NOT NULL,
        traveller       text NOT NULL,
        origin          text NOT NULL,
        destination     text NOT NULL,
        depart_on       date NOT NULL,
        status          text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
        idempotency_key text NOT NULL UNIQUE,
        booked_at       timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.flight_cancellations (
        id              bigserial PRIMARY KEY,
        booking_ref     text NOT NULL REFERENCES world.flights (booking_ref),
        refund_eur      integer NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        cancelled_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.hotel_bookings (
        id              bigserial PRIMARY KEY,
        booking_ref     text NOT NULL UNIQUE,
        trip_id         text NOT NULL,
        hotel_id        text NOT NULL REFERENCES world.hotels (hotel_id),
        guest           text NOT NULL,
        check_in        date NOT NULL,
        nights          integer NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        booked_at       timestamptz NOT NULL DEFAULT now()
      );
      -- The car rental system is a legacy API: it takes no idempotency key and dedupes nothing.
      CREATE TABLE world.car_rentals (
        id          bigserial PRIMARY KEY,
        rental_ref  text NOT NULL UNIQUE,
        trip_id     text NOT NULL,
        driver      text NOT NULL,
        city        text NOT NULL,
        pick_up_on  date NOT NULL,
        days        integer NOT NULL,
        rented_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE world.faults (
        id              bigserial PRIMARY KEY,
        system          text NOT NULL,
        kind            text NOT NULL,
        idempotency_key text,
        pid             integer NOT NULL,
        injected_at     timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 7,
    name: "run supervisor: runs queue, workers, timers",
    sql: `
      CREATE TABLE waypoint.runs (
        run_id             uuid PRIMARY KEY,
        thread_id          text NOT NULL REFERENCES waypoint.threads (thread_id) ON DELETE CASCADE,
        agent              text NOT NULL,
        graph_version      text NOT NULL,
        kind               text NOT NULL CHECK (kind IN ('start', 'resume', 'decide')),
        status             text NOT NULL CHECK (status IN ('pending', 'running', 'success', 'interrupted', 'error', 'cancelled', 'dead')),
        multitask_strategy text NOT NULL DEFAULT 'reject' CHECK (multitask_strategy IN ('reject', 'enqueue', 'interrupt', 'rollback')),
        idempotency_key    text UNIQUE,
        attempts           integer NOT NULL DEFAULT 0,
        crashes            integer NOT NULL DEFAULT 0,
        worker_id          text,
        worker_lock        integer,
        available_at       timestamptz NOT NULL DEFAULT now(),
        stop_requested     text CHECK (stop_requested IN ('cancel', 'interrupt', 'rollback')),
        start_checkpoint   text,
        review_deadline    jsonb,
        detail             text,
        created_at         timestamptz NOT NULL DEFAULT now(),
        started_at         timestamptz,
        finished_at        timestamptz,
        updated_at         timestamptz NOT NULL DEFAULT now()
      );
      -- A thread has at most one running run.
      CREATE UNIQUE INDEX runs_one_running_per_thread ON waypoint.runs (thread_id) WHERE status = 'running';
      CREATE INDEX runs_queue_idx ON waypoint.runs (available_at, created_at) WHERE status = 'pending';
      CREATE INDEX runs_thread_idx ON waypoint.runs (thread_id, created_at);
      CREATE SEQUENCE waypoint.worker_lock_seq MAXVALUE 2147483647 CYCLE;
      CREATE TABLE waypoint.workers (
        worker_id   text PRIMARY KEY,
        worker_lock integer NOT NULL,
        pid         integer NOT NULL,
        host        text NOT NULL,
        versions    text[] NOT NULL,
        concurrency integer NOT NULL,
        started_at  timestamptz NOT NULL DEFAULT now(),
        stopped_at  timestamptz
      );
      CREATE TABLE waypoint.timers (
        timer_id     bigserial PRIMARY KEY,
        thread_id    text NOT NULL REFERENCES waypoint.threads (thread_id) ON DELETE CASCADE,
        interrupt_id text NOT NULL,
        action       text NOT NULL CHECK (action IN ('remind', 'escalate', 'reject')),
        payload      jsonb NOT NULL DEFAULT '{}',
        available_at timestamptz NOT NULL,
        fired_at     timestamptz,
        outcome      text,
        UNIQUE (thread_id, interrupt_id, action)
      );
      CREATE INDEX timers_due_idx ON waypoint.timers (available_at) WHERE fired_at IS NULL;
      CREATE TABLE waypoint.events (
        id         bigserial PRIMARY KEY,
        thread_id  text,
        run_id     uuid,
        kind       text NOT NULL,
        message    text NOT NULL,
        data       jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX events_thread_idx ON waypoint.events (thread_id, created_at);`,
  },
  {
    version: 8,
    name: "agent server: threads created through the API (metadata, owner)",
    sql: `
      CREATE TABLE waypoint.api_threads (
        thread_id  text PRIMARY KEY,
        owner      text,
        metadata   jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX api_threads_metadata_idx ON waypoint.api_threads USING gin (metadata);`,
  },
  {
    version: 9,
    name: "run events: what a run streamed, kept for SSE clients and rejoins",
    sql: `
      CREATE TABLE waypoint.run_events (
        run_id     uuid NOT NULL,
        seq        integer NOT NULL,
        event      text NOT NULL,
        data       jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, seq)
      );`,
  },
  {
    version: 10,
    name: "runs carry a command (update / goto) and a checkpoint to continue from",
    sql: `
      ALTER TABLE waypoint.runs ADD COLUMN command jsonb, ADD COLUMN from_checkpoint text;`,
  },
  {
    version: 11,
    name: "oversight: the policy each thread runs under, and the audit log of what the policy and reviewers decided",
    sql: `
      CREATE TABLE waypoint.thread_policies (
        thread_id  text PRIMARY KEY,
        policy     jsonb NOT NULL,
        source     text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE waypoint.audit (
        id            bigserial PRIMARY KEY,
        at            timestamptz NOT NULL DEFAULT now(),
        thread_id     text NOT NULL,
        agent         text,
        checkpoint_ns text NOT NULL DEFAULT '',
        subject       text NOT NULL,
        tool          text,
        args          jsonb,
        action        text NOT NULL,
        rule          text,
        reason        text,
        actor         text NOT NULL DEFAULT 'policy',
        details       jsonb NOT NULL DEFAULT '{}',
        flagged_at    timestamptz,
        flagged_by    text,
        flag_reason   text,
        UNIQUE (thread_id, checkpoint_ns, subject, action)
      );
      CREATE INDEX audit_thread_idx ON waypoint.audit (thread_id, id);
      CREATE INDEX audit_flagged_idx ON waypoint.audit (flagged_at) WHERE flagged_at IS NOT NULL;
      CREATE TABLE waypoint.audit_comments (
        id       bigserial PRIMARY KEY,
        audit_id bigint NOT NULL REFERENCES waypoint.audit (id) ON DELETE CASCADE,
        at       timestamptz NOT NULL DEFAULT now(),
        author   text NOT NULL,
        body     text NOT NULL
      );
      CREATE INDEX audit_comments_idx ON waypoint.audit_comments (audit_id, id);`,
  },
  {
    version: 12,
    name: "transcript: every message a thread ever had, append-only, kept after summarisation and pruning",
    sql: `
      CREATE TABLE waypoint.transcript (
        seq           bigserial PRIMARY KEY,
        thread_id     text NOT NULL,
        checkpoint_ns text NOT NULL DEFAULT '',
        message_id    text NOT NULL,
        type          text NOT NULL,
        name          text,
        tool_call_id  text,
        message       jsonb NOT NULL,
        content_hash  text NOT NULL,
        task_id       text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        UNIQUE (thread_id, checkpoint_ns, message_id, content_hash)
      );
      CREATE INDEX transcript_thread_idx ON waypoint.transcript (thread_id, seq);`,
  },
  {
    version: 13,
    name: "artifacts: large tool outputs stored once, referenced from state by id",
    sql: `
      CREATE TABLE waypoint.artifacts (
        artifact_id  text PRIMARY KEY,
        media_type   text NOT NULL,
        bytes        bigint NOT NULL,
        body         text NOT NULL,
        thread_id    text,
        tool_call_id text,
        tool         text,
        created_at   timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 14,
    name: "demo world for the ops agent: vendors, invoices, payments, SQL change log, and the waypoint_world role its SQL runs as",
    sql: `
      CREATE TABLE world.vendors (
        vendor_id text PRIMARY KEY,
        name      text NOT NULL,
        email     text NOT NULL,
        country   text NOT NULL,
        status    text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'))
      );
      CREATE TABLE world.invoices (
        invoice_id text PRIMARY KEY,
        vendor_id  text NOT NULL REFERENCES world.vendors (vendor_id),
        amount     numeric(12,2) NOT NULL CHECK (amount > 0),
        currency   text NOT NULL DEFAULT 'EUR',
        due_on     date NOT NULL,
        status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'disputed'))
      );
      CREATE INDEX invoices_vendor_idx ON world.invoices (vendor_id);
      CREATE TABLE world.payments (
        id              bigserial PRIMARY KEY,
        payment_ref     text NOT NULL UNIQUE,
        idempotency_key text NOT NULL UNIQUE,
        invoice_id      text NOT NULL REFERENCES world.invoices (invoice_id),
        vendor_id       text NOT NULL REFERENCES world.vendors (vendor_id),
        amount          numeric(12,2) NOT NULL,
        currency        text NOT NULL,
        memo            text NOT NULL DEFAULT '',
        created_at      timestamptz NOT NULL DEFAULT now()
      );
      -- Every statement run_sql applied, written in the same transaction as the statement itself.
      CREATE TABLE world.sql_changes (
        id              bigserial PRIMARY KEY,
        change_ref      text NOT NULL UNIQUE,
        idempotency_key text NOT NULL UNIQUE,
        statement       text NOT NULL,
        command         text,
        rows_affected   integer,
        created_at      timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO world.vendors (vendor_id, name, email, country, status) VALUES
        ('V-100', 'Acme Facilities', 'facilities@acme.test', 'DE', 'active'),
        ('V-101', 'Acme IT Services', 'it-billing@acme.test', 'DE', 'active'),
        ('V-200', 'Northwind Traders', 'billing@northwind.example', 'GB', 'active'),
        ('V-201', 'Globex Cloud', 'invoices@globex.example', 'US', 'active'),
        ('V-202', 'Initech Consulting', 'ap@initech.example', 'NL', 'active'),
        ('V-203', 'Umbrella Logistics', 'accounts@umbrella.example', 'FR', 'suspended');
      INSERT INTO world.invoices (invoice_id, vendor_id, amount, currency, due_on, status) VALUES
        ('INV-1001', 'V-100', 42.50, 'EUR', '2026-12-15', 'open'),
        ('INV-1002', 'V-101', 380.00, 'EUR', '2026-12-20', 'open'),
        ('INV-1003', 'V-200', 860.00, 'EUR', '2026-12-01', 'open'),
        ('INV-1004', 'V-201', 2450.00, 'EUR', '2026-12-31', 'open'),
        ('INV-1005', 'V-202', 7200.00, 'EUR', '2027-01-15', 'open'),
        ('INV-1006', 'V-202', 11980.00, 'EUR', '2027-01-31', 'open'),
        ('INV-1007', 'V-203', 1575.00, 'EUR', '2026-11-30', 'disputed'),
        ('INV-1008', 'V-200', 640.00, 'EUR', '2026-10-31', 'paid'),
        ('INV-1009', 'V-203', 95.00, 'EUR', '2026-12-10', 'open');
      -- The role the ops agent's SQL runs as (SET LOCAL ROLE): the world tables and nothing else. Roles are
      -- cluster-wide: another database's migration may be creating it at this very moment (unique_violation)
      -- or may have created it already (duplicate_object). A user without CREATEROLE skips it; the SQL tools
      -- then refuse with a clear error.
      DO $role$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world') THEN
          BEGIN
            CREATE ROLE waypoint_world NOLOGIN;
          EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
              RAISE NOTICE 'waypoint_world role not created (% lacks CREATEROLE); the ops agent''s SQL tools will refuse to run', current_user;
          END;
        END IF;
        -- SET ROLE needs membership; a superuser has it implicitly. Granting needs ADMIN on the role, which a
        -- user that did not create it may lack: then the SQL tools refuse with a clear error.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world')
           AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           AND NOT pg_has_role(current_user, 'waypoint_world', 'MEMBER') THEN
          BEGIN
            GRANT waypoint_world TO CURRENT_USER;
          EXCEPTION
            WHEN insufficient_privilege OR unique_violation OR duplicate_object THEN
              RAISE NOTICE 'could not make % a member of waypoint_world; the ops agent''s SQL tools will refuse to run', current_user;
          END;
        END IF;
      END
      $role$;
      DO $grants$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world') THEN
          GRANT USAGE ON SCHEMA world TO waypoint_world;
          GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA world TO waypoint_world;
          GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA world TO waypoint_world;
          -- Two ledgers are written only by their adapters, as the migrating user: the change log (after the
          -- statement it records) and payments (by make_payment, with its checks, its review thresholds and
          -- the run's spend limit). SQL may read them, never forge or rewrite them.
          REVOKE INSERT, UPDATE, DELETE ON world.sql_changes, world.payments FROM waypoint_world;
          -- World tables added by later migrations (run by this same user) are covered too.
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO waypoint_world;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT USAGE, SELECT ON SEQUENCES TO waypoint_world;
        END IF;
      END
      $grants$;`,
  },
  {
    version: 15,
    name: "SQL sandbox: model SQL logs in as waypoint_sql_read / waypoint_sql_write, roles that own nothing and create nothing; no TEMP for PUBLIC; change log written through a ticketed function",
    sql: `
      -- Issue 12: SET LOCAL ROLE from the app's session could be undone from inside a statement (a function
      -- in the session's own temp schema running RESET ROLE), and a temp table left on a pooled connection
      -- captured the app's queries. Model SQL now logs in on connections of its own (src/db/sandbox.ts) as
      -- these roles. The app keeps each role's password (random, set as a SCRAM verifier) here, where the
      -- sandbox cannot look (it has no USAGE on schema waypoint).
      CREATE TABLE waypoint.sql_sandbox_credentials (
        role_name text PRIMARY KEY,
        password  text NOT NULL,
        set_at    timestamptz NOT NULL DEFAULT now()
      );
      -- A one-time ticket per run_sql call: the app issues it before the statement runs and passes it to
      -- world.record_sql_change after, on the sandbox's own connection and transaction. The statement cannot
      -- know it (it is sent after the statement), so it cannot forge or pre-claim a change log row. Only
      -- its hash is kept; concurrent calls with one key each have their own.
      CREATE TABLE waypoint.sql_tickets (
        ticket_hash     bytea PRIMARY KEY,
        idempotency_key text NOT NULL,
        issued_at       timestamptz NOT NULL DEFAULT now()
      );
      -- Writes the change log row in the sandbox's transaction, so the row commits exactly when the statement
      -- does. It runs as its owner (the app), so it is kept to two fixed statements over typed arguments with
      -- a pinned search_path, and only waypoint_sql_write may call it.
      CREATE FUNCTION world.record_sql_change(p_key text, p_ticket text, p_change_ref text, p_statement text, p_command text, p_rows integer)
        RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $record$
      BEGIN
        DELETE FROM waypoint.sql_tickets WHERE ticket_hash = sha256(convert_to(p_ticket, 'UTF8')) AND idempotency_key = p_key;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'no ticket matches this change: only Waypoint records run_sql''s changes, after the statement' USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO world.sql_changes (change_ref, idempotency_key, statement, command, rows_affected) VALUES (p_change_ref, p_key, p_statement, p_command, p_rows);
      END
      $record$;
      REVOKE ALL ON FUNCTION world.record_sql_change(text, text, text, text, text, integer) FROM PUBLIC;
      -- The roles. They are server-wide: another database's migration may be creating them at this very
      -- moment (unique_violation) or may have made them already (duplicate_object). Only the creator sets
      -- their settings, in the same step: two databases' ALTER ROLE ... SET on one role at once would fail
      -- ("tuple concurrently updated"). A user without CREATEROLE skips this; the SQL tools then refuse,
      -- naming the role an administrator must create.
      DO $sandbox_roles$
      DECLARE
        r text;
      BEGIN
        FOREACH r IN ARRAY ARRAY['waypoint_sql_read', 'waypoint_sql_write'] LOOP
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
              EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT 10', r);
              EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r, '5s');
              EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', r, '2s');
              EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r, '10s');
              IF current_setting('server_version_num')::int >= 140000 THEN
                EXECUTE format('ALTER ROLE %I SET idle_session_timeout = %L', r, '60s');
              END IF;
              EXECUTE format('ALTER ROLE %I SET search_path = world', r);
              IF r = 'waypoint_sql_read' THEN
                EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', r);
              END IF;
            EXCEPTION
              WHEN duplicate_object OR unique_violation THEN NULL;
              WHEN insufficient_privilege THEN
                RAISE NOTICE 'role % not created (% lacks CREATEROLE); the ops agent''s SQL tools will refuse to run until an administrator creates it', r, current_user;
            END;
          END IF;
        END LOOP;
      END
      $sandbox_roles$;
      -- Per database: what each role may do here, and nothing to create with. PUBLIC has TEMP on every
      -- database by default (and CREATE on schema public before Postgres 15); the app needs neither. A user
      -- that does not own the database gets a warning, not an error, and the SQL tools then refuse.
      DO $sandbox_grants$
      BEGIN
        EXECUTE format('REVOKE TEMP ON DATABASE %I FROM PUBLIC', current_database());
        IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
          REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_sql_read') THEN
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO waypoint_sql_read', current_database());
          GRANT USAGE ON SCHEMA world TO waypoint_sql_read;
          GRANT SELECT ON ALL TABLES IN SCHEMA world TO waypoint_sql_read;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT SELECT ON TABLES TO waypoint_sql_read;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_sql_write') THEN
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO waypoint_sql_write', current_database());
          GRANT USAGE ON SCHEMA world TO waypoint_sql_write;
          GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA world TO waypoint_sql_write;
          GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA world TO waypoint_sql_write;
          -- The two ledgers are written by their adapters only: the change log (through record_sql_change)
          -- and payments (by make_payment, with its checks, review thresholds and the run's spend limit).
          REVOKE INSERT, UPDATE, DELETE ON world.sql_changes, world.payments FROM waypoint_sql_write;
          REVOKE USAGE, SELECT ON SEQUENCE world.sql_changes_id_seq, world.payments_id_seq FROM waypoint_sql_write;
          GRANT EXECUTE ON FUNCTION world.record_sql_change(text, text, text, text, text, integer) TO waypoint_sql_write;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO waypoint_sql_write;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world GRANT USAGE, SELECT ON SEQUENCES TO waypoint_sql_write;
        END IF;
        -- Migration 14's NOLOGIN role is no longer used: it keeps nothing here.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'waypoint_world') THEN
          REVOKE ALL ON ALL TABLES IN SCHEMA world FROM waypoint_world;
          REVOKE ALL ON ALL SEQUENCES IN SCHEMA world FROM waypoint_world;
          REVOKE ALL ON SCHEMA world FROM waypoint_world;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world REVOKE ALL ON TABLES FROM waypoint_world;
          ALTER DEFAULT PRIVILEGES IN SCHEMA world REVOKE ALL ON SEQUENCES FROM waypoint_world;
        END IF;
        -- Anyone may create large objects, which then outlive the call and belong to their creator. The
        -- functions belong to the bootstrap superuser, so only a superuser can take that away; otherwise the
        -- sandbox logs a warning (src/db/sandbox.ts) and an administrator may run the same REVOKE.
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
          REVOKE EXECUTE ON FUNCTION lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea), lo_import(text), lo_import(text, oid) FROM PUBLIC;
        END IF;
      END
      $sandbox_grants$;`,
  },
  {
    version: 16,
    name: "world request log",
    sql: `
      -- The demo systems' access log: one row per request that reached a system, written before any fault,
      -- dedupe or effect, so tests count how often a tool call actually went out (a deduping system hides
      -- a repeat in its own tables).
      CREATE TABLE world.requests (
        id              bigserial PRIMARY KEY,
        system          text NOT NULL,
        operation       text NOT NULL,
        idempotency_key text,
        pid             integer NOT NULL,
        received_at     timestamptz NOT NULL DEFAULT now()
      );
      -- Written only by the adapters: model SQL may read the log, never forge or erase it.
      DO $requests$
      DECLARE r text;
      BEGIN
        FOREACH r IN ARRAY ARRAY['waypoint_world', 'waypoint_sql_read', 'waypoint_sql_write'] LOOP
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON world.requests FROM %I', r);
          END IF;
        END LOOP;
      END
      $requests$;`
  },
  {
    version: 17,
    name: "any graph: one thread row whatever made it (API metadata, status and values as the LangGraph API shows them), runs that carry their own input, assistants in Postgres, idempotency keys per owner",
    sql: `
      -- Threads: graph_id and graph_version are set by a thread's first run (POST /threads makes one
      -- without them). status is the API's; the worker writes it with each run's end, in one transaction.
      ALTER TABLE waypoint.threads RENAME COLUMN agent TO graph_id;
      ALTER TABLE waypoint.threads ALTER COLUMN graph_id DROP NOT NULL, ALTER COLUMN graph_version DROP NOT NULL;
      ALTER TABLE waypoint.threads
        ADD COLUMN metadata   jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN config     jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN "values"   jsonb,
        ADD COLUMN interrupts jsonb NOT NULL DEFAULT '{}';
      ALTER TABLE waypoint.threads DROP CONSTRAINT threads_status_check;
      UPDATE waypoint.threads SET status = CASE status WHEN 'running' THEN 'error' WHEN 'done' THEN 'idle' ELSE status END,
             metadata = jsonb_build_object('graph_id', graph_id);
      ALTER TABLE waypoint.threads ADD CONSTRAINT threads_status_check CHECK (status IN ('idle', 'busy', 'interrupted', 'error'));
      INSERT INTO waypoint.threads (thread_id, status, metadata, created_at, updated_at)
        SELECT thread_id, 'idle', metadata || CASE WHEN owner IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('owner', owner) END, created_at, updated_at
          FROM waypoint.api_threads
        ON CONFLICT (thread_id) DO UPDATE SET metadata = waypoint.threads.metadata || EXCLUDED.metadata;
      DROP TABLE waypoint.api_threads;
      -- A CLI process now carries its run like a worker (a run row and a liveness lock), so the thread
      -- row no longer names a process; a recorded decision is the run that carries it.
      ALTER TABLE waypoint.threads DROP COLUMN runner_pid, DROP COLUMN runner_host;
      DROP TABLE waypoint.decisions;
      DROP INDEX IF EXISTS waypoint.threads_status_idx;
      CREATE INDEX threads_created_idx ON waypoint.threads (created_at DESC, thread_id);
      CREATE INDEX threads_updated_idx ON waypoint.threads (updated_at DESC, thread_id);
      CREATE INDEX threads_status_idx ON waypoint.threads (status, updated_at DESC);
      CREATE INDEX threads_metadata_idx ON waypoint.threads USING gin (metadata jsonb_path_ops);
      CREATE INDEX threads_owner_idx ON waypoint.threads ((metadata->>'owner'), created_at DESC);

      -- Runs carry what the API sent (input or command, config, context, stream modes, ...) in kwargs.
      ALTER TABLE waypoint.runs RENAME COLUMN agent TO graph_id;
      ALTER TABLE waypoint.runs
        ADD COLUMN assistant_id uuid,
        ADD COLUMN kwargs       jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN metadata     jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN idempotency_scope text;
      ALTER TABLE waypoint.runs DROP CONSTRAINT runs_idempotency_key_key;
      -- One owner's key never finds another owner's run ('' is the CLI's and auth-off's scope).
      CREATE UNIQUE INDEX runs_idempotency_idx ON waypoint.runs (coalesce(idempotency_scope, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;
      UPDATE waypoint.runs SET kwargs = jsonb_strip_nulls(jsonb_build_object('command', command, 'checkpoint_id', from_checkpoint));
      ALTER TABLE waypoint.runs DROP COLUMN command, DROP COLUMN from_checkpoint;

      CREATE TABLE waypoint.assistants (
        assistant_id uuid PRIMARY KEY,
        graph_id     text NOT NULL,
        name         text NOT NULL,
        description  text,
        config       jsonb NOT NULL DEFAULT '{}',
        context      jsonb NOT NULL DEFAULT '{}',
        metadata     jsonb NOT NULL DEFAULT '{}',
        version      integer NOT NULL DEFAULT 1,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX assistants_graph_idx ON waypoint.assistants (graph_id, created_at DESC);
      CREATE INDEX assistants_metadata_idx ON waypoint.assistants USING gin (metadata jsonb_path_ops);
      CREATE TABLE waypoint.assistant_versions (
        assistant_id uuid NOT NULL REFERENCES waypoint.assistants (assistant_id) ON DELETE CASCADE,
        version      integer NOT NULL,
        graph_id     text NOT NULL,
        name         text NOT NULL,
        description  text,
        config       jsonb NOT NULL DEFAULT '{}',
        context      jsonb NOT NULL DEFAULT '{}',
        metadata     jsonb NOT NULL DEFAULT '{}',
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (assistant_id, version)
      );

      -- A submission in one call, one transaction: the thread (created, or locked and checked), the
      -- multitask strategy, the run, the thread's policy and the wake-up, whole or not at all. Outcomes:
      -- created | existing (the idempotency key's earlier run) | busy (reject strategy; an active run) |
      -- no_thread | not_visible (the owner filter does not match) | graph_mismatch | stale (the
      -- interrupts a decision answers are no longer pending).
      CREATE FUNCTION waypoint.submit_run(
        p_run_id uuid, p_thread_id text, p_graph_id text, p_graph_version text, p_assistant_id uuid, p_kind text,
        p_kwargs jsonb, p_metadata jsonb, p_thread_metadata jsonb, p_thread_config jsonb, p_input jsonb,
        p_strategy text, p_create_thread boolean, p_owner_filter jsonb, p_idem_scope text, p_idem_key text,
        p_after_seconds double precision, p_review_deadline jsonb, p_policy jsonb, p_policy_source text,
        p_expect_interrupts text[], p_worker_id text, p_worker_lock integer)
      RETURNS TABLE (outcome text, detail text, run_id uuid)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        t waypoint.threads%ROWTYPE;
        existing_run uuid;
        active uuid[];
        claim boolean;
      BEGIN
        IF p_idem_key IS NOT NULL THEN
          SELECT r.run_id INTO existing_run FROM waypoint.runs r
           WHERE coalesce(r.idempotency_scope, '') = coalesce(p_idem_scope, '') AND r.idempotency_key = p_idem_key;
          IF FOUND THEN RETURN QUERY SELECT 'existing'::text, NULL::text, existing_run; RETURN; END IF;
        END IF;
        SELECT * INTO t FROM waypoint.threads WHERE thread_id = p_thread_id FOR UPDATE;
        IF NOT FOUND THEN
          IF NOT p_create_thread THEN RETURN QUERY SELECT 'no_thread'::text, NULL::text, NULL::uuid; RETURN; END IF;
          INSERT INTO waypoint.threads (thread_id, graph_id, graph_version, status, metadata, config, input)
          VALUES (p_thread_id, p_graph_id, p_graph_version, 'busy', coalesce(p_thread_metadata, '{}'), coalesce(p_thread_config, '{}'), p_input)
          ON CONFLICT (thread_id) DO NOTHING;
          SELECT * INTO t FROM waypoint.threads WHERE thread_id = p_thread_id FOR UPDATE;
        END IF;
        IF p_owner_filter IS NOT NULL AND NOT (t.metadata @> p_owner_filter) THEN
          RETURN QUERY SELECT 'not_visible'::text, NULL::text, NULL::uuid; RETURN;
        END IF;
        IF t.graph_id IS NOT NULL AND t.graph_id <> p_graph_id THEN
          RETURN QUERY SELECT 'graph_mismatch'::text, t.graph_id, NULL::uuid; RETURN;
        END IF;
        SELECT array_agg(r.run_id ORDER BY r.created_at) INTO active FROM waypoint.runs r WHERE r.thread_id = p_thread_id AND r.status IN ('pending', 'running');
        IF active IS NOT NULL AND p_strategy = 'reject' THEN
          RETURN QUERY SELECT 'busy'::text, array_to_string(active, ','), active[1]; RETURN;
        END IF;
        IF p_expect_interrupts IS NOT NULL AND active IS NULL AND NOT (
             SELECT coalesce(bool_and(EXISTS (
                      SELECT 1 FROM jsonb_each(t.interrupts) AS e(task, list), jsonb_array_elements(list) AS i(v) WHERE i.v->>'id' = want)), false)
               FROM unnest(p_expect_interrupts) AS want) THEN
          RETURN QUERY SELECT 'stale'::text, NULL::text, NULL::uuid; RETURN;
        END IF;
        IF active IS NOT NULL AND p_strategy IN ('interrupt', 'rollback') THEN
          FOR existing_run IN
            UPDATE waypoint.runs r SET status = 'cancelled', detail = 'replaced by a newer submission (' || p_strategy || ')', finished_at = now(), updated_at = now()
             WHERE r.thread_id = p_thread_id AND r.status = 'pending' RETURNING r.run_id
          LOOP
            PERFORM pg_notify('waypoint_run_events', existing_run::text);
          END LOOP;
          PERFORM pg_notify('waypoint_run_stop', r.run_id::text || ':' || p_strategy)
             FROM waypoint.runs r WHERE r.thread_id = p_thread_id AND r.status = 'running';
          UPDATE waypoint.runs r SET stop_requested = p_strategy, updated_at = now() WHERE r.thread_id = p_thread_id AND r.status = 'running';
        END IF;
        -- The caller carries the run itself (a CLI command) when nothing else is active on the thread.
        claim := p_worker_id IS NOT NULL AND (active IS NULL OR p_strategy IN ('interrupt', 'rollback')) AND coalesce(p_after_seconds, 0) <= 0
                 AND NOT EXISTS (SELECT 1 FROM waypoint.runs r WHERE r.thread_id = p_thread_id AND r.status = 'running');
        BEGIN
          INSERT INTO waypoint.runs (run_id, thread_id, graph_id, graph_version, assistant_id, kind, status, multitask_strategy, idempotency_scope, idempotency_key,
                                     kwargs, metadata, review_deadline, available_at, worker_id, worker_lock, attempts, started_at)
          VALUES (p_run_id, p_thread_id, p_graph_id, coalesce(t.graph_version, p_graph_version), p_assistant_id, p_kind, CASE WHEN claim THEN 'running' ELSE 'pending' END,
                  p_strategy, p_idem_scope, p_idem_key, p_kwargs, coalesce(p_metadata, '{}'), p_review_deadline,
                  now() + make_interval(secs => greatest(coalesce(p_after_seconds, 0), 0)),
                  CASE WHEN claim THEN p_worker_id END, CASE WHEN claim THEN p_worker_lock END, CASE WHEN claim THEN 1 ELSE 0 END, CASE WHEN claim THEN now() END);
        EXCEPTION WHEN unique_violation THEN
          -- The same idempotency key from a concurrent submission: its run is the answer.
          SELECT r.run_id INTO existing_run FROM waypoint.runs r
           WHERE coalesce(r.idempotency_scope, '') = coalesce(p_idem_scope, '') AND r.idempotency_key = p_idem_key;
          IF FOUND THEN RETURN QUERY SELECT 'existing'::text, NULL::text, existing_run; RETURN; END IF;
          RAISE;
        END;
        UPDATE waypoint.threads SET status = 'busy', status_detail = NULL, updated_at = now(),
               graph_id = coalesce(graph_id, p_graph_id), graph_version = coalesce(graph_version, p_graph_version),
               metadata = metadata || coalesce(p_thread_metadata, '{}'), input = coalesce(input, p_input),
               config = CASE WHEN p_thread_config IS NULL OR p_thread_config = '{}'::jsonb THEN config ELSE config || p_thread_config END
         WHERE thread_id = p_thread_id;
        IF p_policy IS NOT NULL THEN
          INSERT INTO waypoint.thread_policies (thread_id, policy, source) VALUES (p_thread_id, p_policy, p_policy_source)
          ON CONFLICT (thread_id) DO UPDATE SET policy = EXCLUDED.policy, source = EXCLUDED.source, updated_at = now();
        END IF;
        IF NOT claim THEN PERFORM pg_notify('waypoint_runs', ''); END IF;
        RETURN QUERY SELECT 'created'::text, CASE WHEN claim THEN 'claimed' ELSE NULL END, p_run_id;
      END
      $fn$;`,
  },
  {
    version: 18,
    name: "ledger: which task answered a doubt, and how often",
    sql: `
      -- A durable() tool asks "did this happen?" with interrupt() inside its own task, and a task can ask
      -- more than once (attempt 2 can end in doubt too). LangGraph hands a re-run task its answers by
      -- position; these say how many of this task's answers the ledger has applied already, so a re-run
      -- never applies an answer meant for an earlier attempt to a later one.
      ALTER TABLE waypoint.tool_calls ADD COLUMN doubt_task text, ADD COLUMN doubt_answers integer NOT NULL DEFAULT 0;`,
  },
  {
    version: 19,
    name: "guard checks frozen per model turn",
    sql: `
      -- A soft guardrail's verdict on a model turn, as first judged. Some guards depend on the run (wall
      -- clock, steps since the run started), and a run that resumes after a human's answer is a new run:
      -- judged again, the same turn could ask a different question, and LangGraph would hand it the
      -- answer to the first. The first verdict (a trip, or none) is kept and used on every re-run.
      CREATE TABLE waypoint.guard_checks (
        thread_id     text NOT NULL REFERENCES waypoint.threads (thread_id) ON DELETE CASCADE,
        checkpoint_ns text NOT NULL,
        turn          text NOT NULL,
        pass          integer NOT NULL,
        trip          jsonb,
        at            timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (thread_id, checkpoint_ns, turn, pass)
      );`,
  },
  {
    version: 20,
    name: "reads that cost one page: indexes in the order thread search pages, the inbox's waiting threads, busy threads for the doctor",
    sql: `
      -- The inbox: threads waiting for an answer, newest first (a few thousand among 100,000 finished).
      CREATE INDEX threads_interrupted_idx ON waypoint.threads (updated_at DESC, thread_id) WHERE status = 'interrupted';
      -- Search's page order is (sort key, thread_id) both ways; these scan forward for ASC and backward for
      -- DESC (migration 17's created/updated indexes mix DESC with an ascending thread_id, so a search
      -- ordered by created_at DESC, thread_id DESC sorted every visible row before taking its page).
      CREATE INDEX threads_created_thread_idx ON waypoint.threads (created_at, thread_id);
      CREATE INDEX threads_updated_thread_idx ON waypoint.threads (updated_at, thread_id);
      -- Search sorted by status (the API's sort_by: status), then thread id as the reference breaks ties.
      CREATE INDEX threads_status_thread_idx ON waypoint.threads (status, thread_id);
      -- Threads marked busy (the doctor's stale-status check).
      CREATE INDEX threads_busy_idx ON waypoint.threads (updated_at) WHERE status = 'busy';

      -- A submission and the run it made (or found) in one round trip: submit_run, then the run row,
      -- read inside the function (a query around submit_run would not see the row it inserts).
      CREATE FUNCTION waypoint.submit_run_row(
        p_run_id uuid, p_thread_id text, p_graph_id text, p_graph_version text, p_assistant_id uuid, p_kind text,
        p_kwargs jsonb, p_metadata jsonb, p_thread_metadata jsonb, p_thread_config jsonb, p_input jsonb,
        p_strategy text, p_create_thread boolean, p_owner_filter jsonb, p_idem_scope text, p_idem_key text,
        p_after_seconds double precision, p_review_deadline jsonb, p_policy jsonb, p_policy_source text,
        p_expect_interrupts text[], p_worker_id text, p_worker_lock integer)
      RETURNS TABLE (outcome text, detail text, out_run_id uuid, run waypoint.runs)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        s record;
        r waypoint.runs;
      BEGIN
        SELECT * INTO s FROM waypoint.submit_run(p_run_id, p_thread_id, p_graph_id, p_graph_version, p_assistant_id, p_kind,
          p_kwargs, p_metadata, p_thread_metadata, p_thread_config, p_input, p_strategy, p_create_thread, p_owner_filter, p_idem_scope, p_idem_key,
          p_after_seconds, p_review_deadline, p_policy, p_policy_source, p_expect_interrupts, p_worker_id, p_worker_lock);
        IF s.outcome IN ('created', 'existing') THEN
          SELECT * INTO r FROM waypoint.runs x WHERE x.run_id = s.run_id;
        END IF;
        RETURN QUERY SELECT s.outcome, s.detail, s.run_id, r;
      END
      $fn$;`,
  },
  {
    version: 21,
    name: "the inbox's cards from the thread row: pending interrupts as a view shows them, kept with interrupts",
    sql: `
      -- What the thread waits for (interrupt id, namespace, node, value, the HITL request), written with
      -- interrupts whenever a run ends or the state is edited; NULL where it is not known (rows from before
      -- this column), and then the inbox reads the checkpoint as before.
      ALTER TABLE waypoint.threads ADD COLUMN pending jsonb;
      -- The inbox pages by (updated_at DESC, thread_id DESC); migration 20's index has thread_id ascending,
      -- which no scan direction gives, so every waiting thread was read and sorted for a page. This one
      -- gives the inbox's order forward and search's (updated_at, thread_id) ascending backward.
      DROP INDEX waypoint.threads_interrupted_idx;
      CREATE INDEX threads_interrupted_idx ON waypoint.threads (updated_at DESC, thread_id DESC) WHERE status = 'interrupted';
      -- Runs that will act on a thread (the inbox leaves out threads one of them answers): without it the
      -- planner's anti-join read every run (100,000 of them in 29 ms) to find none.
      CREATE INDEX runs_active_idx ON waypoint.runs (thread_id) WHERE status IN ('pending', 'running');`,
  },
  {
    version: 22,
    name: "an idempotency key outlives its thread: a deleted thread's keyed runs are kept as spent keys, and a retry gets that run back",
    sql: `
      -- When a thread is deleted (a stateless run's on_completion=delete, DELETE /threads/:id), each run on
      -- it that carried an Idempotency-Key leaves its row and the thread's last values here, in the same
      -- statement as the delete. A retry with the key then gets that run back, not a second run.
      CREATE TABLE waypoint.spent_keys (
        scope           text NOT NULL,
        idempotency_key text NOT NULL,
        run_id          uuid NOT NULL,
        run             jsonb NOT NULL,
        "values"        jsonb,
        spent_at        timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, idempotency_key)
      );
      CREATE INDEX spent_keys_run_idx ON waypoint.spent_keys (run_id);

      -- submit_run_row as in migration 20, and first: a key whose run is gone with its thread answers
      -- 'existing' (detail 'spent') with that run's row, read in the same snapshot as the runs' own keys.
      CREATE OR REPLACE FUNCTION waypoint.submit_run_row(
        p_run_id uuid, p_thread_id text, p_graph_id text, p_graph_version text, p_assistant_id uuid, p_kind text,
        p_kwargs jsonb, p_metadata jsonb, p_thread_metadata jsonb, p_thread_config jsonb, p_input jsonb,
        p_strategy text, p_create_thread boolean, p_owner_filter jsonb, p_idem_scope text, p_idem_key text,
        p_after_seconds double precision, p_review_deadline jsonb, p_policy jsonb, p_policy_source text,
        p_expect_interrupts text[], p_worker_id text, p_worker_lock integer)
      RETURNS TABLE (outcome text, detail text, out_run_id uuid, run waypoint.runs)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        s record;
        r waypoint.runs;
      BEGIN
        IF p_idem_key IS NOT NULL THEN
          SELECT (jsonb_populate_record(NULL::waypoint.runs, k.run)).* INTO r FROM waypoint.spent_keys k
           WHERE k.scope = coalesce(p_idem_scope, '') AND k.idempotency_key = p_idem_key
             AND NOT EXISTS (SELECT 1 FROM waypoint.runs x WHERE coalesce(x.idempotency_scope, '') = k.scope AND x.idempotency_key = k.idempotency_key);
          IF FOUND THEN
            RETURN QUERY SELECT 'existing'::text, 'spent'::text, r.run_id, r;
            RETURN;
          END IF;
        END IF;
        SELECT * INTO s FROM waypoint.submit_run(p_run_id, p_thread_id, p_graph_id, p_graph_version, p_assistant_id, p_kind,
          p_kwargs, p_metadata, p_thread_metadata, p_thread_config, p_input, p_strategy, p_create_thread, p_owner_filter, p_idem_scope, p_idem_key,
          p_after_seconds, p_review_deadline, p_policy, p_policy_source, p_expect_interrupts, p_worker_id, p_worker_lock);
        IF s.outcome IN ('created', 'existing') THEN
          SELECT * INTO r FROM waypoint.runs x WHERE x.run_id = s.run_id;
        END IF;
        RETURN QUERY SELECT s.outcome, s.detail, s.run_id, r;
      END
      $fn$;`,
  },
];
