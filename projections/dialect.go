package projections

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/doorstep/doorstep/internal/migrate"
)

// Dialect hides what differs between the SQL databases that host read
// models: the engine asks it, never the database's name. Queries in this
// package and its subpackages are written with '?' placeholders and
// portable SQL (INSERT … ON CONFLICT … DO UPDATE works on SQLite ≥ 3.24 and
// PostgreSQL ≥ 9.5); Rebind adapts them.
type Dialect interface {
	// Name is "sqlite" or "postgres", for messages.
	Name() string
	// Rebind rewrites '?' placeholders into the database's form. Question
	// marks inside single-quoted literals are left alone.
	Rebind(query string) string
	// Shared reports whether other processes may write the same read
	// models (several nodes on one PostgreSQL schema): then every batch
	// locks (LockApply) and re-reads the committed checkpoints, and a
	// wait for a position looks at them too.
	Shared() bool
	// LockApply takes, for the rest of tx, the lock that serialises every
	// transaction writing the read models across processes; nothing where
	// one process alone writes them.
	LockApply(ctx context.Context, tx *sql.Tx) error
	// ExpandDDL adapts portable DDL (WithoutRowID) to the database.
	ExpandDDL(ddl string) string
	// migrations returns how internal/migrate reaches db.
	migrations(ctx context.Context, db *sql.DB) (migrate.DB, error)
}

// SQLite is the dialect of modernc.org/sqlite ('?' placeholders).
var SQLite Dialect = sqliteDialect{}

// Postgres is the dialect of PostgreSQL through pgx's stdlib driver ($1, $2, …).
var Postgres Dialect = postgresDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string                             { return "sqlite" }
func (sqliteDialect) Rebind(query string) string               { return query }
func (sqliteDialect) Shared() bool                             { return false }
func (sqliteDialect) LockApply(context.Context, *sql.Tx) error { return nil }
func (sqliteDialect) ExpandDDL(ddl string) string {
	return strings.ReplaceAll(ddl, WithoutRowID, " WITHOUT ROWID")
}

// migrations: the read-model file is opened with BEGIN IMMEDIATE, which
// serialises the steps with every other writer of the file.
func (sqliteDialect) migrations(_ context.Context, db *sql.DB) (migrate.DB, error) {
	return migrate.SQLite(db), nil
}

type postgresDialect struct{}

func (postgresDialect) Name() string { return "postgres" }
func (postgresDialect) Shared() bool { return true }

// LockApply takes a transaction-level advisory lock, one per schema, rather
// than row locks: a checkpoint row that does not exist yet (or was just
// reset) cannot be locked.
func (postgresDialect) LockApply(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('doorstep:projections:apply:' || current_schema()))`); err != nil {
		return fmt.Errorf("projections: lock read models: %w", err)
	}
	return nil
}

func (postgresDialect) ExpandDDL(ddl string) string { return strings.ReplaceAll(ddl, WithoutRowID, "") }

// migrations: the read models live in the connection's search path.
func (postgresDialect) migrations(ctx context.Context, db *sql.DB) (migrate.DB, error) {
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("projections: read the schema: %w", err)
	}
	return migrate.PostgresSQL(db, schema), nil
}

func (postgresDialect) Rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func sortStrings(s []string) { slices.Sort(s) }

// Bool is how read models store a flag: 1 or 0 in an INTEGER column, the
// same on SQLite and PostgreSQL. (Scanning it into a Go bool works on both.)
func Bool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WithoutRowID ends the DDL of a table with a primary key:
// `CREATE TABLE … (…)` + WithoutRowID. The dialect turns it into
// " WITHOUT ROWID" on SQLite (the primary key is the table's only B-tree:
// one write per row instead of two) and removes it on PostgreSQL.
const WithoutRowID = "/*without_rowid*/"
