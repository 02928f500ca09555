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
];
