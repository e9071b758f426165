// Package migrate is the one mechanism that creates and changes every table
// Doorstep owns in a database: the event store's, the read models', the
// data keys', the tokens' and the record of sensitive reads.
//
// Each owner (a package) declares a Set: its name and an ordered list of
// steps, step i (0-based) bringing the owner to version i+1. Up applies, in
// one transaction, every step above the version recorded for each owner in
// the table schema_migrations (owner, version, applied_at), each step
// with its row. Steps are append-only: never edit one that has shipped;
// append another.
//
// On PostgreSQL the transaction first takes one advisory lock per schema
// (pg_advisory_xact_lock), so nodes starting at once take turns: the first
// applies the steps, the others find nothing to do. Concurrent CREATE … IF
// NOT EXISTS is not safe there, the lock is what makes it so. On SQLite the
// transaction is BEGIN IMMEDIATE (the read-model files are opened with
// _txlock=immediate), which serialises writers of the file the same way.
//
// An owner recorded at a version above its steps (a newer binary migrated
// the database) is refused.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Set is one owner's steps.
type Set struct {
	// Owner names the package owning the tables, e.g. "eventstore",
	// "keystore", "projections", "readmodel:profile". Durable: the
	// recorded versions hang on it.
	Owner string
	// Steps are SQL statements applied in order; step i brings the owner to
	// version i+1. "{schema}" is replaced by the quoted schema name followed
	// by a dot on PostgreSQL (`"doorstep".`) and by nothing on SQLite, so a
	// table is written `{schema}data_keys`.
	Steps []string
}

// Version is the version the set brings its owner to.
func (s Set) Version() int { return len(s.Steps) }

// DB is a database the steps run on: Postgres or SQLite.
type DB interface {
	begin(ctx context.Context) (tx, error)
	prefix() string
	lock(ctx context.Context, t tx) error
	createTable(ctx context.Context, t tx) error
}

type tx interface {
	exec(ctx context.Context, q string, args ...any) error
	versions(ctx context.Context, q string) (map[string]int, error)
	commit(ctx context.Context) error
	rollback()
}

// Postgres runs steps through pool in schema (created if missing).
func Postgres(pool *pgxpool.Pool, schema string) DB { return pgDB{pool: pool, schema: schema} }

// PostgresSQL runs steps through a database/sql handle on PostgreSQL (pgx's
// stdlib driver), in schema (created if missing).
func PostgresSQL(db *sql.DB, schema string) DB { return pgSQLDB{sqlDB{db: db}, schema} }

// SQLite runs steps in a SQLite database (the main schema).
func SQLite(db *sql.DB) DB { return liteDB{sqlDB{db: db}} }

// Up brings every set to its version in one transaction (see the package
// comment). Calling it again, from any number of processes, does nothing
// more.
func Up(ctx context.Context, db DB, sets ...Set) error {
	seen := map[string]bool{}
	for _, s := range sets {
		if s.Owner == "" || seen[s.Owner] {
			return fmt.Errorf("migrate: owner %q is empty or given twice", s.Owner)
		}
		seen[s.Owner] = true
	}
	t, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer t.rollback()
	if err := db.lock(ctx, t); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if err := db.createTable(ctx, t); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	p := db.prefix()
	have, err := t.versions(ctx, `SELECT owner, max(version) FROM `+p+`schema_migrations GROUP BY owner`)
	if err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for _, s := range sets {
		cur := have[s.Owner]
		if cur > len(s.Steps) {
			return fmt.Errorf("migrate: %s is at version %d, newer than this binary knows (%d); run a newer doorstep", s.Owner, cur, len(s.Steps))
		}
		for v := cur + 1; v <= len(s.Steps); v++ {
			if err := t.exec(ctx, strings.ReplaceAll(s.Steps[v-1], "{schema}", p)); err != nil {
				return fmt.Errorf("migrate: %s step %d: %w", s.Owner, v, err)
			}
			if err := t.exec(ctx, insertRow(db, p), s.Owner, v); err != nil {
				return fmt.Errorf("migrate: %s step %d: record: %w", s.Owner, v, err)
			}
		}
	}
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

func insertRow(db DB, p string) string {
	if db.prefix() == "" { // SQLite
		return `INSERT INTO schema_migrations (owner, version) VALUES (?, ?)`
	}
	return `INSERT INTO ` + p + `schema_migrations (owner, version) VALUES ($1, $2)`
}

// lockSQL takes the advisory lock Up holds on PostgreSQL, one per schema,
// for the rest of the transaction.
const lockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('doorstep.migrate:' || $1, 0))`

// pgTable creates schema_migrations, or adopts the table the event store
// alone used to keep (version PRIMARY KEY, applied_at): its rows are the
// event store's, hence the column default.
func pgTable(ctx context.Context, t tx, schema, p string) error {
	if err := t.exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	if err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS `+p+`schema_migrations (
		owner      text        NOT NULL DEFAULT 'eventstore',
		version    integer     NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		CONSTRAINT schema_migrations_pkey PRIMARY KEY (owner, version))`); err != nil {
		return err
	}
	// The event store's table before owners: add the column, widen the key.
	return t.exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM information_schema.columns
			WHERE table_schema = `+quoteLiteral(schema)+` AND table_name = 'schema_migrations' AND column_name = 'owner') THEN
			ALTER TABLE `+p+`schema_migrations ADD COLUMN owner text NOT NULL DEFAULT 'eventstore';
			ALTER TABLE `+p+`schema_migrations DROP CONSTRAINT schema_migrations_pkey;
			ALTER TABLE `+p+`schema_migrations ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (owner, version);
		END IF;
	END $$`)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// PostgreSQL through pgxpool.

type pgDB struct {
	pool   *pgxpool.Pool
	schema string
}

func (d pgDB) begin(ctx context.Context) (tx, error) {
	t, err := d.pool.Begin(ctx)
	return pgTx{t}, err
}
func (d pgDB) prefix() string                       { return pgx.Identifier{d.schema}.Sanitize() + "." }
func (d pgDB) lock(ctx context.Context, t tx) error { return t.exec(ctx, lockSQL, d.schema) }
func (d pgDB) createTable(ctx context.Context, t tx) error {
	return pgTable(ctx, t, d.schema, d.prefix())
}

type pgTx struct{ t pgx.Tx }

func (t pgTx) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.t.Exec(ctx, q, args...)
	return err
}

func (t pgTx) versions(ctx context.Context, q string) (map[string]int, error) {
	rows, err := t.t.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var o string
		var v int32
		if err := rows.Scan(&o, &v); err != nil {
			return nil, err
		}
		m[o] = int(v)
	}
	return m, rows.Err()
}

func (t pgTx) commit(ctx context.Context) error { return t.t.Commit(ctx) }

// rollback after commit is a no-op; it runs after the caller's context may
// have ended, hence its own.
func (t pgTx) rollback() { _ = t.t.Rollback(context.Background()) }

// database/sql (PostgreSQL through pgx's stdlib driver, or SQLite).

type sqlDB struct{ db *sql.DB }

func (d sqlDB) begin(ctx context.Context) (tx, error) {
	t, err := d.db.BeginTx(ctx, nil)
	return sqlTx{t}, err
}

type sqlTx struct{ t *sql.Tx }

func (t sqlTx) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.t.ExecContext(ctx, q, args...)
	return err
}

func (t sqlTx) versions(ctx context.Context, q string) (map[string]int, error) {
	rows, err := t.t.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var o string
		var v int
		if err := rows.Scan(&o, &v); err != nil {
			return nil, err
		}
		m[o] = v
	}
	return m, rows.Err()
}

func (t sqlTx) commit(context.Context) error { return t.t.Commit() }
func (t sqlTx) rollback()                    { _ = t.t.Rollback() }

type pgSQLDB struct {
	sqlDB
	schema string
}

func (d pgSQLDB) prefix() string                       { return pgx.Identifier{d.schema}.Sanitize() + "." }
func (d pgSQLDB) lock(ctx context.Context, t tx) error { return t.exec(ctx, lockSQL, d.schema) }
func (d pgSQLDB) createTable(ctx context.Context, t tx) error {
	return pgTable(ctx, t, d.schema, d.prefix())
}

type liteDB struct{ sqlDB }

func (liteDB) prefix() string                 { return "" }
func (liteDB) lock(context.Context, tx) error { return nil } // BEGIN IMMEDIATE holds the file's write lock
func (liteDB) createTable(ctx context.Context, t tx) error {
	return t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		owner      TEXT    NOT NULL,
		version    INTEGER NOT NULL,
		applied_at TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP,
		PRIMARY KEY (owner, version))`)
}
