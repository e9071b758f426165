package accesslog

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/internal/migrate"
)

// Postgres records reads of sensitive fields in the table
// <schema>.sensitive_reads, shared by every node of a cluster: nodes behind a
// load balancer may be replaced with their disks, and an auditor finds
// every read in one place. Concurrent records share one INSERT (group
// commit). Safe for concurrent use.
//
//	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY
//	at           timestamptz NOT NULL
//	actor        text NOT NULL
//	role         text NOT NULL
//	household_id text NOT NULL
//	what         text NOT NULL
type Postgres struct {
	pool                                 *pgxpool.Pool
	now                                  func() time.Time
	insertSQL, listSQL, headSQL, lockSQL string
	allSQL, revealsSQL                   string
	gc                                   groupCommit[Record]
	lockKey                              string
}

const cols = `at, actor, role, household_id, what, purpose, prev, hash`

// defaultSchema is the schema NewPostgres uses when given none.
const defaultSchema = "doorstep"

// schemaName is what NewPostgres accepts as a schema name: a plain,
// lower-case, unquoted SQL identifier of at most 63 bytes (longer names
// PostgreSQL would silently truncate), as identity.OpenPostgresTokens.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// NewPostgres returns the record writing through pool (the process's one
// pool: the record lives with the data), after bringing the schema
// (default "doorstep") and its sensitive_reads table to this binary's
// version through internal/migrate (owner "accesslog"); several nodes may do
// so at once. The schema name must be a plain SQL
// identifier, as for identity.OpenPostgresTokens. The pool stays the caller's.
func NewPostgres(ctx context.Context, pool *pgxpool.Pool, schema string, now func() time.Time) (*Postgres, error) {
	if schema == "" {
		schema = defaultSchema
	}
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("access log: PostgreSQL schema name %q is not a plain SQL identifier: use a lower-case letter or _ followed by lower-case letters, digits or _ (at most 63 bytes)", schema)
	}
	if err := migrate.Up(ctx, migrate.Postgres(pool, schema), Migrations()); err != nil {
		return nil, fmt.Errorf("access log: create table %s.sensitive_reads in PostgreSQL: %w", schema, err)
	}
	if now == nil {
		now = clock.Now
	}
	tbl := pgx.Identifier{schema, "sensitive_reads"}.Sanitize()
	a := &Postgres{pool: pool, now: now,
		insertSQL: `INSERT INTO ` + tbl + ` (at, actor, role, household_id, what, purpose, prev, hash)
			SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
		listSQL: `SELECT ` + cols + ` FROM ` + tbl + ` WHERE household_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3`,
		// Writers of every node take one lock per schema for the length of
		// their transaction, so that the chain has one order.
		lockSQL:    `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		headSQL:    `SELECT hash FROM ` + tbl + ` ORDER BY id DESC LIMIT 1`,
		allSQL:     `SELECT ` + cols + ` FROM ` + tbl + ` ORDER BY id`,
		revealsSQL: `SELECT ` + cols + ` FROM ` + tbl + ` ORDER BY id DESC LIMIT $1 OFFSET $2`}
	a.lockKey = "doorstep.sensitive_reads." + schema
	a.gc.write = a.write
	return a, nil
}

// Migrations returns the record's steps, for internal/migrate (owner
// "accesslog"). Steps 1 and 2 keep IF NOT EXISTS: schemas made before the
// steps were recorded already hold the table and its index. Append; never
// edit a shipped step.
func Migrations() migrate.Set {
	return migrate.Set{Owner: "accesslog", Steps: []string{
		`CREATE TABLE IF NOT EXISTS {schema}sensitive_reads (
			id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			at           timestamptz NOT NULL,
			actor        text NOT NULL,
			role         text NOT NULL,
			household_id text NOT NULL,
			what         text NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS sensitive_reads_household ON {schema}sensitive_reads (household_id, at)`,
		// The purpose of a reveal, and the chain of records (chain.go,
		// decision 0101); rows from before have neither.
		`ALTER TABLE {schema}sensitive_reads
			ADD COLUMN purpose text NOT NULL DEFAULT '',
			ADD COLUMN prev    text NOT NULL DEFAULT '',
			ADD COLUMN hash    text NOT NULL DEFAULT ''`,
	}}
}

// RecordAccess records that who read what of a household's sensitive
// fields. It returns only after the row is committed, so a read is never
// served unrecorded; an error (or ctx ending first) means the read must not
// be served. Concurrent records share one INSERT (group commit), which runs
// until the last of its callers stops waiting: the callers bound it, so
// that a lost server fails their reads instead of hanging them.
func (a *Postgres) RecordAccess(ctx context.Context, who identity.Principal, householdID, what string) error {
	return a.RecordReveal(ctx, who, householdID, what, "")
}

// RecordReveal is RecordAccess with the purpose the values are revealed for.
func (a *Postgres) RecordReveal(ctx context.Context, who identity.Principal, householdID, what, purpose string) error {
	return a.gc.add(ctx, Record{At: stamp(a.now()), Actor: who.Name, Role: who.Role, HouseholdID: householdID, What: what, Purpose: purpose})
}

func (a *Postgres) write(ctx context.Context, recs []Record) error {
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("access log: record %d sensitive reads in PostgreSQL: %w", len(recs), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, a.lockSQL, a.lockKey); err != nil {
		return fmt.Errorf("access log: lock the record of sensitive reads: %w", err)
	}
	var head string
	if err := tx.QueryRow(ctx, a.headSQL).Scan(&head); err != nil && err != pgx.ErrNoRows {
		return fmt.Errorf("access log: read the last record: %w", err)
	}
	chain(head, recs)
	n := len(recs)
	at := make([]time.Time, n)
	actor, role, hh, what, purpose, prev, hash := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range recs {
		at[i], actor[i], role[i], hh[i], what[i] = r.At, r.Actor, string(r.Role), r.HouseholdID, r.What
		purpose[i], prev[i], hash[i] = r.Purpose, r.Prev, r.Hash
	}
	if _, err := tx.Exec(ctx, a.insertSQL, at, actor, role, hh, what, purpose, prev, hash); err != nil {
		return fmt.Errorf("access log: record %d sensitive reads in PostgreSQL: %w", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("access log: record %d sensitive reads in PostgreSQL: %w", n, err)
	}
	return nil
}

// Verify reads every record in order and checks its chain.
func (a *Postgres) Verify(ctx context.Context) (ChainReport, error) {
	recs, err := a.query(ctx, a.allSQL)
	if err != nil {
		return ChainReport{}, err
	}
	var v verifier
	for _, r := range recs {
		if !v.next(r) {
			break
		}
	}
	return v.report(), nil
}

// Reveals lists every household's reads, newest first.
func (a *Postgres) Reveals(ctx context.Context, limit, offset int) ([]Record, error) {
	return a.query(ctx, a.revealsSQL, limit, offset)
}

func (a *Postgres) query(ctx context.Context, sql string, args ...any) ([]Record, error) {
	rows, err := a.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		var r Record
		var role string
		if err := rows.Scan(&r.At, &r.Actor, &role, &r.HouseholdID, &r.What, &r.Purpose, &r.Prev, &r.Hash); err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		r.At, r.Role = r.At.UTC(), identity.Role(role)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return out, nil
}

// SensitiveReads lists a household's reads, newest first.
func (a *Postgres) SensitiveReads(ctx context.Context, householdID string, limit, offset int) ([]Record, error) {
	out, err := a.query(ctx, a.listSQL, householdID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("access log: list the sensitive reads of %s: %w", householdID, err)
	}
	return out, nil
}
