package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/internal/pgddl"
)

// The PostgreSQL token set serves several `doorstep serve` nodes that share
// one database behind one load balancer: every node must accept the same
// tokens, and the first start of the whole cluster creates one admin token,
// not one per node.
//
// The table is <schema>.tokens, one row per token:
//
//	sha256     text PRIMARY KEY      -- hex SHA-256 of the token, never the token
//	principal  jsonb NOT NULL        -- the Principal
//	created_at timestamptz NOT NULL  -- UTC, microseconds
//	created_by text NOT NULL DEFAULT ''
//
// Each node caches the rows it has seen in Tokens.recs. Authenticate looks
// up a token it has not cached in the table (a primary-key lookup, under
// the caller's context); at most
// pgTokensLookups such lookups run at once, so a flood of wrong tokens
// holds only that many connections, and tokens that are not of the form
// newToken makes are refused without a query. Nothing is cached about a
// wrong token. Supervisor, which needs every row, reloads the whole set at
// most once per refresh interval.

// defaultTokensSchema is the schema OpenPostgresTokens uses when given none.
const defaultTokensSchema = "doorstep"

// tokensSchemaName is what OpenPostgresTokens accepts as a schema name: a
// plain, lower-case, unquoted SQL identifier of at most 63 bytes (longer
// names PostgreSQL would silently truncate).
var tokensSchemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

const (
	// pgTokensRefresh is how old the cached set may be when Supervisor
	// reads it.
	pgTokensRefresh = 5 * time.Second
	// pgTokensLookups is how many cache-miss lookups may run at once.
	pgTokensLookups = 4
)

// pgTokens is the PostgreSQL side of a Tokens.
type pgTokens struct {
	pool   *pgxpool.Pool
	schema string

	insertSQL, lookupSQL, allSQL, countSQL string

	lookups chan struct{} // semaphore of cache-miss lookups

	refreshMu    sync.Mutex // serializes reloads; guards refreshed
	refreshed    time.Time  // when the last reload was tried
	refreshEvery time.Duration
}

// OpenPostgresTokens connects to the PostgreSQL database at connString (a
// URL or key=value string as pgx accepts), creates, if they do not exist
// yet, the schema (default "doorstep") and its tokens table, and loads the
// tokens. The schema name must be a plain SQL identifier: a lower-case
// letter or underscore, then lower-case letters, digits or underscores, at
// most 63 bytes.
//
// Several nodes may open the same schema at once: the schema and table are
// created in one transaction that first takes a transaction-scoped advisory
// lock on the schema name (concurrent CREATE ... IF NOT EXISTS can otherwise
// fail with a unique violation on the catalog). Close the set when done.
func OpenPostgresTokens(ctx context.Context, connString, schema string) (*Tokens, error) {
	if schema == "" {
		schema = defaultTokensSchema
	}
	if !tokensSchemaName.MatchString(schema) {
		return nil, fmt.Errorf("tokens: PostgreSQL schema name %q is not a plain SQL identifier: use a lower-case letter or _ followed by lower-case letters, digits or _ (at most 63 bytes)", schema)
	}
	pc, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, fmt.Errorf("tokens: parse PostgreSQL connection string: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("tokens: connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("tokens: connect to PostgreSQL: %w", err)
	}
	if err := createTokensTable(ctx, pool, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("tokens: create table %s.tokens in PostgreSQL: %w", schema, err)
	}
	tbl := pgx.Identifier{schema, "tokens"}.Sanitize()
	pg := &pgTokens{
		pool:         pool,
		schema:       schema,
		insertSQL:    `INSERT INTO ` + tbl + ` (sha256, principal, created_at, created_by) VALUES ($1, $2, $3, $4)`,
		lookupSQL:    `SELECT sha256, principal, created_at, created_by FROM ` + tbl + ` WHERE sha256 = $1`,
		allSQL:       `SELECT sha256, principal, created_at, created_by FROM ` + tbl,
		countSQL:     `SELECT count(*) FROM ` + tbl,
		lookups:      make(chan struct{}, pgTokensLookups),
		refreshEvery: pgTokensRefresh,
	}
	recs, err := pg.all(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	t := &Tokens{pg: pg, recs: recs}
	pg.refreshed = time.Now()
	return t, nil
}

func createTokensTable(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	return pgddl.Create(ctx, pool, "doorstep:tokens:", schema, `CREATE TABLE IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()+`.tokens (
		sha256     text PRIMARY KEY,
		principal  jsonb NOT NULL,
		created_at timestamptz NOT NULL,
		created_by text NOT NULL DEFAULT ''
	)`)
}

// newPGRecord makes the record of a new token as it is stored: UTC,
// microseconds (what timestamptz keeps), so the cache holds what the table
// does.
func newPGRecord(hash string, p Principal, by string) (tokenRecord, []byte, error) {
	rec := tokenRecord{Hash: hash, Principal: p, CreatedAt: clock.Now().UTC().Truncate(time.Microsecond), CreatedBy: by}
	js, err := json.Marshal(p)
	if err != nil {
		return tokenRecord{}, nil, fmt.Errorf("tokens: encode principal: %w", err)
	}
	return rec, js, nil
}

// cache adds rec to the in-memory set.
func (t *Tokens) cache(rec tokenRecord) {
	t.mu.Lock()
	t.recs[rec.Hash] = rec
	t.mu.Unlock()
}

// createPG inserts the record of a new token; the token is returned only
// once the INSERT has committed.
func (t *Tokens) createPG(ctx context.Context, p Principal, by string) (string, error) {
	token, h, err := newToken()
	if err != nil {
		return "", err
	}
	rec, js, err := newPGRecord(h, p, by)
	if err != nil {
		return "", err
	}
	if _, err := t.pg.pool.Exec(ctx, t.pg.insertSQL, rec.Hash, js, rec.CreatedAt, rec.CreatedBy); err != nil {
		return "", fmt.Errorf("tokens: store the token of %q in PostgreSQL: %w", p.Name, err)
	}
	t.cache(rec)
	return token, nil
}

// ensureAdminPG creates the admin token when the table is empty, counting
// and inserting in one transaction under an advisory lock that every node
// takes, so exactly one node of a cluster starting at once creates it.
// (Under READ COMMITTED the count, a statement after the lock, sees what
// the previous holder committed.)
func (t *Tokens) ensureAdminPG(ctx context.Context) (string, bool, error) {
	wrap := func(what string, err error) error {
		return fmt.Errorf("tokens: create the first admin token in PostgreSQL: %s: %w", what, err)
	}
	tx, err := t.pg.pool.Begin(ctx)
	if err != nil {
		return "", false, wrap("begin", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('doorstep:tokens-admin:' || $1))`, t.pg.schema); err != nil {
		return "", false, wrap("take advisory lock", err)
	}
	var n int64
	if err := tx.QueryRow(ctx, t.pg.countSQL).Scan(&n); err != nil {
		return "", false, wrap("count tokens", err)
	}
	if n > 0 {
		return "", false, nil
	}
	token, h, err := newToken()
	if err != nil {
		return "", false, err
	}
	rec, js, err := newPGRecord(h, Principal{Name: "admin", Role: RoleAdmin, Sensitive: true}, "first start")
	if err != nil {
		return "", false, err
	}
	if _, err := tx.Exec(ctx, t.pg.insertSQL, rec.Hash, js, rec.CreatedAt, rec.CreatedBy); err != nil {
		return "", false, wrap("insert", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", false, wrap("commit", err)
	}
	t.cache(rec)
	return token, true, nil
}

// wellFormedToken reports whether token has the form newToken makes; no
// other string can be in the table, so others are refused without a query.
func wellFormedToken(token string) bool {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(tokenRandomBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil
}

// authenticatePG looks up a token this node has not cached: ErrUnknownToken
// when the table has no such row, another error when the lookup failed
// (the server is down, ctx ended).
// LookupTimeout bounds a token lookup in PostgreSQL.
const LookupTimeout = 5 * time.Second

func (t *Tokens) authenticatePG(ctx context.Context, token, hash string) (Principal, error) {
	if !wellFormedToken(token) {
		return Principal{}, ErrUnknownToken
	}
	// Only a token the set does not hold reaches the database: bound that
	// wait, derived from the caller's context, so that a lost database
	// fails the request instead of hanging it.
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	select {
	case t.pg.lookups <- struct{}{}:
		defer func() { <-t.pg.lookups }()
	case <-ctx.Done():
		return Principal{}, fmt.Errorf("tokens: look up a token in PostgreSQL: %w", ctx.Err())
	}
	rec, err := t.pg.scan(t.pg.pool.QueryRow(ctx, t.pg.lookupSQL, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnknownToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("tokens: look up a token in PostgreSQL: %w", err)
	}
	t.cache(rec)
	return rec.Principal, nil
}

// refreshPG reloads the cached set from the table when the last reload was
// tried longer ago than the refresh interval. A failed reload keeps the
// cached set and is not retried before the next interval.
func (t *Tokens) refreshPG(ctx context.Context) {
	pg := t.pg
	pg.refreshMu.Lock()
	defer pg.refreshMu.Unlock()
	if time.Since(pg.refreshed) < pg.refreshEvery {
		return
	}
	pg.refreshed = time.Now()
	recs, err := pg.all(ctx)
	if err != nil {
		return
	}
	t.mu.Lock()
	t.recs = recs
	t.mu.Unlock()
}

// count returns the number of rows of the table.
func (pg *pgTokens) count(ctx context.Context) (int, error) {
	var n int64
	if err := pg.pool.QueryRow(ctx, pg.countSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("tokens: count tokens in PostgreSQL: %w", err)
	}
	return int(n), nil
}

// all reads every row of the table.
func (pg *pgTokens) all(ctx context.Context) (map[string]tokenRecord, error) {
	rows, err := pg.pool.Query(ctx, pg.allSQL)
	if err != nil {
		return nil, fmt.Errorf("tokens: read tokens from PostgreSQL: %w", err)
	}
	defer rows.Close()
	recs := map[string]tokenRecord{}
	for rows.Next() {
		rec, err := pg.scan(rows)
		if err != nil {
			return nil, err
		}
		recs[rec.Hash] = rec
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tokens: read tokens from PostgreSQL: %w", err)
	}
	return recs, nil
}

// scan reads one row (sha256, principal, created_at, created_by).
func (pg *pgTokens) scan(row pgx.Row) (tokenRecord, error) {
	var (
		rec tokenRecord
		js  []byte
	)
	if err := row.Scan(&rec.Hash, &js, &rec.CreatedAt, &rec.CreatedBy); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return tokenRecord{}, err
		}
		return tokenRecord{}, fmt.Errorf("tokens: read token from PostgreSQL: %w", err)
	}
	if err := json.Unmarshal(js, &rec.Principal); err != nil {
		return tokenRecord{}, fmt.Errorf("tokens: the principal of a token row in %s.tokens is damaged: %w", pg.schema, err)
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	return rec, nil
}
