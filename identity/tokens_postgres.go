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
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/internal/migrate"
)

// The PostgreSQL token set serves several `doorstep serve` nodes that share
// one database behind one load balancer: every node must accept the same
// tokens, and the first start of the whole cluster creates one admin token,
// not one per node.
//
// The table is <schema>.tokens, one row per token, created and changed
// through internal/migrate (owner "identity", Migrations):
//
//	sha256     text PRIMARY KEY      -- hex SHA-256 of the token, never the token
//	principal  jsonb NOT NULL        -- the Principal
//	created_at timestamptz NOT NULL  -- UTC, microseconds
//	created_by text NOT NULL DEFAULT ''
//	expires_at timestamptz           -- NULL: never
//	revoked_at timestamptz           -- NULL: not revoked
//	revoked_by text NOT NULL DEFAULT ''
//
// Each node caches the rows it has seen in Tokens.recs. Authenticate looks
// up a token it has not cached, or cached longer ago than the cache TTL, in
// the table (a primary-key lookup, under the caller's context); at most
// pgTokensLookups such lookups run at once, so a flood of wrong tokens
// holds only that many connections, and tokens that are not of the form
// newToken makes are refused without a query. Nothing is cached about a
// wrong token. Supervisor, which needs every row, reloads the whole set at
// most once per refresh interval.
//
// A node that revokes a token or changes its expiry notifies every node
// (pg_notify on the channel tokensChannel, in the transaction of the
// change, payload "<schema>:<sha256>"); so does a trigger on every UPDATE
// or DELETE of a row, whoever makes it (and "<schema>:*" on a TRUNCATE),
// so a token deleted in SQL is dropped as promptly (PostgreSQL delivers
// identical notifications of one transaction once); each node LISTENs on a connection
// of its own and drops the token from its cache at once, so the next
// request reads the row. Should the listening connection be lost, the node
// drops its whole cache when it listens again (it may have missed
// notifications), and the cache TTL bounds how long a missed notification
// can matter.

// defaultTokensSchema is the schema the constructors use when given none.
const defaultTokensSchema = "doorstep"

// tokensSchemaName is what the constructors accept as a schema name: a
// plain, lower-case, unquoted SQL identifier of at most 63 bytes (longer
// names PostgreSQL would silently truncate).
var tokensSchemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

const (
	// pgTokensRefresh is how old the cached set may be when Supervisor
	// reads it.
	pgTokensRefresh = 5 * time.Second
	// pgTokensLookups is how many cache-miss lookups may run at once.
	pgTokensLookups = 4
	// PGTokensCacheTTL is how long a node uses a cached token before it
	// reads its row again: the bound on how long a token revoked on
	// another node can still be accepted here should the notification be
	// lost.
	PGTokensCacheTTL = 3 * time.Second
	// tokensChannel is the channel of the change notifications.
	tokensChannel = "doorstep_tokens"
	// listenRetry is how long the listener waits before listening again
	// after losing its connection.
	listenRetry = time.Second
)

// pgTokens is the PostgreSQL side of a Tokens.
type pgTokens struct {
	pool     *pgxpool.Pool
	ownsPool bool
	schema   string
	cacheTTL time.Duration

	insertSQL, lookupSQL, allSQL, countSQL, revokeSQL, expirySQL string

	lookups chan struct{} // semaphore of cache-miss lookups

	refreshMu    sync.Mutex // serializes reloads; guards refreshed
	refreshed    time.Time  // when the last reload was tried
	refreshEvery time.Duration

	// The listener: stop ends it, done is closed when it has.
	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	// listening is closed once the listener first LISTENs.
	listening chan struct{}
	// onNotify, when set (tests), is called after a notification for
	// this schema was handled, with the token hash it named.
	onNotify atomic.Pointer[func(hash string)]
}

// Migrations returns the token table's steps, for internal/migrate (owner
// "identity"). Step 1 keeps IF NOT EXISTS: schemas made before the steps
// were recorded already hold the table. Append; never edit a shipped step.
func Migrations() migrate.Set {
	return migrate.Set{Owner: "identity", Steps: []string{
		`CREATE TABLE IF NOT EXISTS {schema}tokens (
			sha256     text PRIMARY KEY,
			principal  jsonb NOT NULL,
			created_at timestamptz NOT NULL,
			created_by text NOT NULL DEFAULT ''
		)`,
		`ALTER TABLE {schema}tokens
			ADD COLUMN expires_at timestamptz,
			ADD COLUMN revoked_at timestamptz,
			ADD COLUMN revoked_by text NOT NULL DEFAULT ''`,
		// Steps 3–5 (decision 0132): every change to a row, whoever makes
		// it (this binary, an operator's psql, a restore), notifies the
		// nodes, so a token deleted or revoked in SQL stops authenticating
		// at once, not only after the cache TTL. A TRUNCATE notifies
		// "<schema>:*": drop the whole cache.
		`CREATE OR REPLACE FUNCTION {schema}tokens_notify() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'TRUNCATE' THEN
				PERFORM pg_notify('` + tokensChannel + `', TG_TABLE_SCHEMA || ':*');
			ELSE
				PERFORM pg_notify('` + tokensChannel + `', TG_TABLE_SCHEMA || ':' || OLD.sha256);
			END IF;
			RETURN NULL;
		END
		$$`,
		`CREATE TRIGGER tokens_changed AFTER UPDATE OR DELETE ON {schema}tokens
			FOR EACH ROW EXECUTE FUNCTION {schema}tokens_notify()`,
		`CREATE TRIGGER tokens_truncated AFTER TRUNCATE ON {schema}tokens
			FOR EACH STATEMENT EXECUTE FUNCTION {schema}tokens_notify()`,
	}}
}

// OpenPostgresTokens connects to the PostgreSQL database at connString (a
// URL or key=value string as pgx accepts) with a pool of its own, closed by
// Close, and continues as NewPostgresTokens. Tools use it; a server passes
// its one pool to NewPostgresTokens.
func OpenPostgresTokens(ctx context.Context, connString, schema string) (*Tokens, error) {
	if err := validTokensSchema(schema); err != nil {
		return nil, err
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
	t, err := NewPostgresTokens(ctx, pool, schema)
	if err != nil {
		pool.Close()
		return nil, err
	}
	t.pg.ownsPool = true
	return t, nil
}

func validTokensSchema(schema string) error {
	if schema == "" {
		schema = defaultTokensSchema
	}
	if !tokensSchemaName.MatchString(schema) {
		return fmt.Errorf("tokens: PostgreSQL schema name %q is not a plain SQL identifier: use a lower-case letter or _ followed by lower-case letters, digits or _ (at most 63 bytes)", schema)
	}
	return nil
}

// NewPostgresTokens keeps the token set in pool's database (the process's
// one pool; Close leaves it open): it brings the schema (default
// "doorstep") and its tokens table to this binary's version through
// internal/migrate, which several nodes may do at once, loads the tokens
// and starts listening for changes made by other nodes. The schema name
// must be a plain SQL identifier: a lower-case letter or underscore, then
// lower-case letters, digits or underscores, at most 63 bytes. Close the
// set when done.
func NewPostgresTokens(ctx context.Context, pool *pgxpool.Pool, schema string) (*Tokens, error) {
	if err := validTokensSchema(schema); err != nil {
		return nil, err
	}
	if schema == "" {
		schema = defaultTokensSchema
	}
	if err := migrate.Up(ctx, migrate.Postgres(pool, schema), Migrations()); err != nil {
		return nil, fmt.Errorf("tokens: create table %s.tokens in PostgreSQL: %w", schema, err)
	}
	tbl := pgx.Identifier{schema, "tokens"}.Sanitize()
	const cols = `sha256, principal, created_at, created_by, expires_at, revoked_at, revoked_by`
	notify := `, pg_notify('` + tokensChannel + `', $1::text || ':' || sha256)`
	pg := &pgTokens{
		pool:      pool,
		schema:    schema,
		cacheTTL:  PGTokensCacheTTL,
		insertSQL: `INSERT INTO ` + tbl + ` (sha256, principal, created_at, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		lookupSQL: `SELECT ` + cols + ` FROM ` + tbl + ` WHERE sha256 = $1`,
		allSQL:    `SELECT ` + cols + ` FROM ` + tbl,
		countSQL:  `SELECT count(*) FROM ` + tbl,
		// Each change notifies, in its own transaction, every node
		// listening: they drop the token from their caches.
		revokeSQL: `UPDATE ` + tbl + ` SET revoked_at = COALESCE(revoked_at, $3), revoked_by = CASE WHEN revoked_at IS NULL THEN $4 ELSE revoked_by END
			WHERE left(sha256, ` + fmt.Sprint(TokenIDLen) + `) = $2 RETURNING sha256` + notify,
		expirySQL: `UPDATE ` + tbl + ` SET expires_at = $3
			WHERE left(sha256, ` + fmt.Sprint(TokenIDLen) + `) = $2 RETURNING sha256` + notify,
		lookups:      make(chan struct{}, pgTokensLookups),
		refreshEvery: pgTokensRefresh,
		done:         make(chan struct{}),
		listening:    make(chan struct{}),
	}
	recs, err := pg.all(ctx)
	if err != nil {
		return nil, err
	}
	t := &Tokens{pg: pg, recs: recs, now: clock.Now}
	pg.refreshed = time.Now()
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	pg.stop = stop
	go t.listen(lctx)
	return t, nil
}

// close stops the listener and, if the set opened it, closes the pool.
func (pg *pgTokens) close() {
	pg.closeOnce.Do(func() {
		pg.stop()
		<-pg.done
		if pg.ownsPool {
			pg.pool.Close()
		}
	})
}

// listen receives the change notifications until ctx ends, listening again
// after a lost connection.
func (t *Tokens) listen(ctx context.Context) {
	pg := t.pg
	defer close(pg.done)
	first := true
	for ctx.Err() == nil {
		err := t.listenOnce(ctx, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		_ = err // the connection was lost: listen again after a pause
		select {
		case <-ctx.Done():
			return
		case <-time.After(listenRetry):
		}
	}
}

// listenOnce LISTENs on a connection taken out of the pool (so that no
// other user of the pool inherits the subscription) and handles
// notifications until the connection fails or ctx ends.
func (t *Tokens) listenOnce(ctx context.Context, first bool) error {
	pg := t.pg
	pc, err := pg.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+tokensChannel); err != nil {
		return err
	}
	if first {
		close(pg.listening)
	} else {
		// Notifications may have been missed while not listening: read
		// every token again when next used.
		t.mu.Lock()
		t.recs = map[string]tokenRecord{}
		t.mu.Unlock()
	}
	prefix := pg.schema + ":"
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		hash, ok := strings.CutPrefix(n.Payload, prefix)
		if !ok {
			continue // another schema's token
		}
		t.mu.Lock()
		if hash == "*" { // the table was truncated
			t.recs = map[string]tokenRecord{}
		} else {
			delete(t.recs, hash)
		}
		t.mu.Unlock()
		if f := pg.onNotify.Load(); f != nil {
			(*f)(hash)
		}
	}
}

// cache adds rec to the in-memory set.
func (t *Tokens) cache(rec tokenRecord) {
	t.mu.Lock()
	t.recs[rec.Hash] = rec
	t.mu.Unlock()
}

// createPG inserts the record of a new token; the token is returned only
// once the INSERT has committed.
func (t *Tokens) createPG(ctx context.Context, p Principal, by string, expiresAt time.Time) (string, error) {
	token, rec, err := t.newRecord(p, by, expiresAt)
	if err != nil {
		return "", err
	}
	js, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("tokens: encode principal: %w", err)
	}
	if _, err := t.pg.pool.Exec(ctx, t.pg.insertSQL, rec.Hash, js, rec.CreatedAt, rec.CreatedBy, nullTime(rec.ExpiresAt)); err != nil {
		return "", saveError(fmt.Errorf("tokens: store the token of %q in PostgreSQL: %w", p.Name, err))
	}
	t.cache(rec)
	return token, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// changePG runs one of the change statements (revokeSQL, expirySQL) on the
// token with id and drops it from this node's cache; the statement
// notifies the other nodes.
func (t *Tokens) changePG(ctx context.Context, id, q string, args ...any) error {
	rows, err := t.pg.pool.Query(ctx, q, append([]any{t.pg.schema, id}, args...)...)
	if err != nil {
		return saveError(fmt.Errorf("tokens: change token %s in PostgreSQL: %w", id, err))
	}
	hashes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var h string
		var notified any
		return h, r.Scan(&h, &notified)
	})
	if err != nil {
		return saveError(fmt.Errorf("tokens: change token %s in PostgreSQL: %w", id, err))
	}
	if len(hashes) == 0 {
		return notFound(id)
	}
	t.mu.Lock()
	for _, h := range hashes {
		delete(t.recs, h)
	}
	t.mu.Unlock()
	return nil
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
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
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
	p := Principal{Name: "admin", Role: RoleAdmin, Sensitive: true}
	token, rec, err := t.newRecord(p, "first start", time.Time{})
	if err != nil {
		return "", false, err
	}
	js, err := json.Marshal(p)
	if err != nil {
		return "", false, err
	}
	if _, err := tx.Exec(ctx, t.pg.insertSQL, rec.Hash, js, rec.CreatedAt, rec.CreatedBy, nil); err != nil {
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

// LookupTimeout bounds a token lookup in PostgreSQL.
const LookupTimeout = 5 * time.Second

// authenticatePG reads the row of a token: ErrUnknownToken when the table
// has no such row, another error when the lookup failed (the server is
// down, ctx ended). The row read is cached, revoked or not.
func (t *Tokens) authenticatePG(ctx context.Context, token, hash string) (tokenRecord, error) {
	if !wellFormedToken(token) {
		return tokenRecord{}, ErrUnknownToken
	}
	// Only a token the set does not hold (or holds from too long ago)
	// reaches the database: bound that wait, derived from the caller's
	// context, so that a lost database fails the request instead of
	// hanging it.
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	select {
	case t.pg.lookups <- struct{}{}:
		defer func() { <-t.pg.lookups }()
	case <-ctx.Done():
		return tokenRecord{}, fmt.Errorf("tokens: look up a token in PostgreSQL: %w", ctx.Err())
	}
	rec, err := t.pg.scan(t.pg.pool.QueryRow(ctx, t.pg.lookupSQL, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		t.mu.Lock()
		delete(t.recs, hash) // deleted from the table
		t.mu.Unlock()
		return tokenRecord{}, ErrUnknownToken
	}
	if err != nil {
		return tokenRecord{}, fmt.Errorf("tokens: look up a token in PostgreSQL: %w", err)
	}
	t.cache(rec)
	return rec, nil
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

// scan reads one row (the columns of lookupSQL).
func (pg *pgTokens) scan(row pgx.Row) (tokenRecord, error) {
	var (
		rec              tokenRecord
		js               []byte
		expires, revoked *time.Time
	)
	if err := row.Scan(&rec.Hash, &js, &rec.CreatedAt, &rec.CreatedBy, &expires, &revoked, &rec.RevokedBy); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return tokenRecord{}, err
		}
		return tokenRecord{}, fmt.Errorf("tokens: read token from PostgreSQL: %w", err)
	}
	if err := json.Unmarshal(js, &rec.Principal); err != nil {
		return tokenRecord{}, fmt.Errorf("tokens: the principal of a token row in %s.tokens is damaged: %w", pg.schema, err)
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	if expires != nil {
		rec.ExpiresAt = expires.UTC()
	}
	if revoked != nil {
		rec.RevokedAt = revoked.UTC()
	}
	rec.loaded = time.Now()
	return rec, nil
}
