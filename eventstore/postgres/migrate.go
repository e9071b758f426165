package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/internal/migrate"
)

// migrations are the event store's steps (owner "eventstore" in
// internal/migrate); migration i (0-based) brings the store to version i+1.
// "{schema}" is replaced by the quoted schema name and a dot. Never edit a
// migration that has shipped: append a new one.
var migrations = []string{
	// 1: the log. transaction_id is the writing transaction's 64-bit id and
	// seq the event's ordinal inside that transaction; together they are the
	// global position (see ReadAll for why this is gap-free). Instants are
	// Unix nanoseconds, like the SQLite store, because the hash chain covers
	// them at nanosecond precision (timestamptz keeps microseconds). data is
	// bytea so the JSON comes back byte for byte.
	`CREATE TABLE {schema}events (
		transaction_id xid8    NOT NULL DEFAULT pg_current_xact_id(),
		seq            integer NOT NULL,
		id             uuid    NOT NULL,
		stream         text    NOT NULL,
		version        bigint  NOT NULL,
		type           text    NOT NULL,
		schema_version integer NOT NULL,
		data           bytea   NOT NULL,
		occurred_at    bigint  NOT NULL,
		actor          text    NOT NULL,
		role           text    NOT NULL,
		command_id     text    NOT NULL,
		correlation_id text    NOT NULL,
		causation_id   text    NOT NULL,
		community      text    NOT NULL,
		grid           text    NOT NULL,
		key_id         text    NOT NULL,
		recorded_at    bigint  NOT NULL,
		hash           bytea   NOT NULL,
		CONSTRAINT events_pkey PRIMARY KEY (transaction_id, seq),
		CONSTRAINT events_id_key UNIQUE (id),
		CONSTRAINT events_stream_version_key UNIQUE (stream, version)
	)`,
}

// Migrations returns the event store's steps, for internal/migrate.
func Migrations() migrate.Set { return migrate.Set{Owner: "eventstore", Steps: migrations} }

// SchemaVersion returns the schema version Open migrates to.
func SchemaVersion() int { return len(migrations) }

// migrateSchema creates the schema and brings the store's tables to
// SchemaVersion with internal/migrate: one transaction under the
// schema's advisory lock, so several processes opening the same database at
// once apply each migration exactly once; the others wait and then find
// nothing to do.
func migrateSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	return migrate.Up(ctx, migrate.Postgres(pool, schema), Migrations())
}
