package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are applied in order; migration i (0-based) brings the schema
// to version i+1. Each runs in the same transaction as its row in
// schema_migrations. "{schema}" is replaced by the quoted schema name.
// Never edit a migration that has shipped: append a new one.
var migrations = []string{
	// 1: the log. transaction_id is the writing transaction's 64-bit id and
	// seq the event's ordinal inside that transaction; together they are the
	// global position (see ReadAll for why this is gap-free). Instants are
	// Unix nanoseconds, like the SQLite store, because the hash chain covers
	// them at nanosecond precision (timestamptz keeps microseconds). data is
	// bytea so the JSON comes back byte for byte.
	`CREATE TABLE {schema}.events (
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

// SchemaVersion returns the schema version Open migrates to.
func SchemaVersion() int { return len(migrations) }

// migrate creates the schema and brings it to SchemaVersion. It runs in one
// transaction under a transaction-scoped advisory lock keyed on the schema
// name, so several processes opening the same database at once apply each
// migration exactly once; the others wait and then find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('doorstep.eventstore.migrate:' || $1, 0))`, schema); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+q); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+q+`.schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+q+`.schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("postgres: schema %q is at version %d, newer than this binary knows (%d); run a newer doorstep", schema, current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.Exec(ctx, strings.ReplaceAll(migrations[v-1], "{schema}", q)); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+q+`.schema_migrations (version) VALUES ($1)`, v); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
