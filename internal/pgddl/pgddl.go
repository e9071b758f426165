// Package pgddl creates the PostgreSQL tables of the tokens and of the
// record of sensitive reads (package http) safely when several nodes start
// at once. It is on its way out: every other table Doorstep owns is created
// and changed through internal/migrate (versioned, recorded in
// schema_migrations), and these two move there with the packages that own
// them (decision 0066); then this package goes.
package pgddl

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Create runs, in one transaction, CREATE SCHEMA IF NOT EXISTS schema and
// then each statement of ddl (written with IF NOT EXISTS). The transaction
// first takes an advisory lock on lock and the schema name: concurrent
// CREATE … IF NOT EXISTS can otherwise fail on the catalog's unique index,
// so nodes starting at once take turns.
func Create(ctx context.Context, pool *pgxpool.Pool, lock, schema string, ddl ...string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || $2))`, lock, schema); err != nil {
		return fmt.Errorf("take advisory lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	for _, q := range ddl {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
