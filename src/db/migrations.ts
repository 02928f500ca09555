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
];
