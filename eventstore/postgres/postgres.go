// Package postgres is Doorstep's PostgreSQL event store, on
// github.com/jackc/pgx/v5 and its pool, pgxpool. It is the store for
// several Doorstep nodes sharing one database.
//
// # Positions and gap safety
//
// Every event row carries the 64-bit id of the transaction that wrote it
// (transaction_id xid8, DEFAULT pg_current_xact_id()) and its ordinal inside
// that transaction (seq). The global position is Position{Hi: transaction
// id, Lo: seq}. Transaction ids are handed out when a transaction first
// writes, not when it commits, so a later id can commit first. ReadAll
// therefore returns only rows whose transaction id is below the xmin of its
// own snapshot: every transaction with a lower id has then ended (committed
// and visible, or rolled back), so no event can ever appear behind a
// position a reader has already passed. A transaction still open anywhere
// in the cluster holds back later events until it ends; it delays them, it
// never loses them.
//
// # Writes
//
// Appends wait in one queue served by a few writer goroutines
// (Config.Writers), each group on a connection of the pool. A writer takes every
// append waiting and commits them together (group commit) as one
// autocommit INSERT … SELECT FROM unnest(…) RETURNING the transaction id:
// one statement, one transaction, one round trip, whatever the group's
// size. Several writers keep several groups in flight, so the server merges
// their WAL flushes too. A caller is answered after the commit that made
// its own events durable (synchronous_commit as configured on the server;
// "on" by default) and, normally, readable by ReadAll and Head (see
// Append). An append that must fail (conflict, id used elsewhere) fails
// alone: the group is then replayed one append per transaction.
//
// Writers remember stream heads (version and hash, for the hash chain) so
// that an append usually needs no read. The memory is only a hint: the
// unique constraint on (stream, version) refuses a row built on a stale
// head, and the append is then redone from fresh reads. Appends from other
// processes on the same schema are therefore safe.
//
// # Schema
//
// Open creates the schema and migrates it with internal/migrate (table
// schema_migrations, owner "eventstore") under a transaction-scoped
// advisory lock, so nodes may start together.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
)

// Config configures a Store. Give URL or Pool.
type Config struct {
	// URL is a PostgreSQL connection string, e.g.
	// "postgres://postgres@127.0.0.1:5432/doorstep?sslmode=disable".
	// The store creates and owns a pool for it.
	URL string
	// Pool is an existing pool to use instead of URL; the store does not
	// close it. Read models may share it.
	Pool *pgxpool.Pool
	// Schema holds the store's tables; created if missing. Default "doorstep".
	Schema string
	// Limits on appends; zero fields take eventstore's defaults.
	Limits eventstore.Limits
	// Writers is the number of writer goroutines, each committing its own
	// groups of appends on a connection of the pool; default 4. Several
	// groups in flight let the server merge their commits' WAL flushes;
	// fewer writers make bigger groups, which cost the server less CPU per
	// event. Concurrent appends to one stream may go to different writers:
	// the unique (stream, version) constraint decides between them.
	Writers int
	// MaxGroup caps how many appends share one transaction; default 256.
	MaxGroup int
	// HeadCache is how many stream heads (version and hash) the writers
	// remember between appends, saving a read; default 65536. The unique
	// constraint on (stream, version) makes a stale entry harmless.
	HeadCache int
	// PollInterval is how often a live subscription looks for events
	// written by other processes (or held back by their open
	// transactions); default 100ms. Appends through this Store wake its
	// subscriptions at once.
	PollInterval time.Duration
	// VisibilityWait bounds how long Append waits, after its commit, for
	// transactions with lower ids (anywhere on the server) to end so that
	// its events are readable in the log; default 5s. See Append.
	VisibilityWait time.Duration
	// WriteTimeout bounds one group's round trips; default 30s.
	WriteTimeout time.Duration
	// Now returns store time for recorded-at; default clock.Now (internal/clock).
	Now func() time.Time

	// beforeCommit, if set (tests only), runs after a group's rows are
	// inserted and before its COMMIT is sent.
	beforeCommit func()
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.URL == "" && c.Pool == nil {
		return errors.New("postgres: give Config.URL (e.g. postgres://user@host:5432/db) or Config.Pool")
	}
	if c.URL != "" && c.Pool != nil {
		return errors.New("postgres: give Config.URL or Config.Pool, not both")
	}
	if c.Writers < 0 || c.MaxGroup < 0 || c.HeadCache < 0 || c.PollInterval < 0 || c.WriteTimeout < 0 || c.VisibilityWait < 0 {
		return errors.New("postgres: Writers, MaxGroup, HeadCache, PollInterval, VisibilityWait and WriteTimeout must not be negative")
	}
	if c.Schema != "" && (len(c.Schema) > 63 || strings.ContainsRune(c.Schema, 0)) {
		return fmt.Errorf("postgres: schema name %q is not a valid PostgreSQL identifier", c.Schema)
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.Schema == "" {
		c.Schema = "doorstep"
	}
	if c.Writers == 0 {
		c.Writers = 4
	}
	if c.MaxGroup == 0 {
		c.MaxGroup = 256
	}
	if c.HeadCache == 0 {
		c.HeadCache = 65536
	}
	if c.PollInterval == 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.VisibilityWait == 0 {
		c.VisibilityWait = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = clock.Now
	}
	return c
}

// Store is the PostgreSQL event store. It is safe for concurrent use, also
// by several processes on one database and schema.
type Store struct {
	cfg      Config
	pool     *pgxpool.Pool
	ownsPool bool
	sql      statements
	writers  []*writer
	reqs     chan *appendReq // appends waiting for a writer
	heads    *headCache
	horizon  *horizon
	quit     chan struct{}
	wg       sync.WaitGroup
	notify   *eventstore.Notifier
	once     sync.Once

	statAppends, statTransactions, statHeadReads, statSlow, statHeld atomic.Int64
}

// Stats counts the writers' work since Open.
type Stats struct {
	Appends      int64 // append requests answered
	Transactions int64 // write transactions run (a group on the fast path, or one append on the slow path)
	HeadReads    int64 // groups that had to read stream heads (not cached, or expectation failed)
	SlowAppends  int64 // appends replayed on the slow path (retries, conflicts, lost races, ids used elsewhere)
	HeldGroups   int64 // groups whose answer waited, after the commit, for older transactions to end
}

// Stats returns the writers' counters; Appends/Transactions is the mean
// group size. Safe for concurrent use.
func (s *Store) Stats() Stats {
	return Stats{
		Appends:      s.statAppends.Load(),
		Transactions: s.statTransactions.Load(),
		HeadReads:    s.statHeadReads.Load(),
		SlowAppends:  s.statSlow.Load(),
		HeldGroups:   s.statHeld.Load(),
	}
}

var _ eventstore.Store = (*Store)(nil)

// columns in the order every read selects them.
const columns = `transaction_id, seq, id, stream, version, type, schema_version, data, occurred_at, actor, role,
	command_id, correlation_id, causation_id, community, grid, key_id, recorded_at, hash`

// insertColumns are the columns an append writes (transaction_id is the
// column default, pg_current_xact_id()).
const insertColumns = `seq, id, stream, version, type, schema_version, data, occurred_at, actor, role,
	command_id, correlation_id, causation_id, community, grid, key_id, recorded_at, hash`

// statements are the store's SQL texts with the schema filled in.
type statements struct {
	insertMany, insertOne, heads, findIDs, findID, head, idsFrom                        string
	readAll, head0, streamFwd, streamBack, streamBackLast, streamVersion, currentXactID string
}

func newStatements(schema string) statements {
	t := pgx.Identifier{schema, "events"}.Sanitize()
	// The xmin of the statement's own snapshot, taken before the
	// transaction took its id: if it equals that id, no older transaction
	// was open, nor could one start in between (it would have taken that
	// id), so the events are readable as soon as the statement commits.
	const xminNow = `pg_snapshot_xmin(pg_current_snapshot())`
	return statements{
		insertMany: `WITH ins AS (INSERT INTO ` + t + ` (` + insertColumns + `)
			SELECT * FROM unnest($1::integer[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::integer[], $7::bytea[],
				$8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
				$17::bigint[], $18::bytea[])
			RETURNING 1)
			SELECT pg_current_xact_id(), ` + xminNow + ` FROM (SELECT count(*) FROM ins) n`,
		insertOne: InsertSQL(schema) + ` RETURNING transaction_id, ` + xminNow,
		heads: `SELECT s.stream, h.version, h.hash FROM unnest($1::text[]) AS s(stream)
			JOIN LATERAL (SELECT version, hash FROM ` + t + ` e WHERE e.stream = s.stream ORDER BY version DESC LIMIT 1) h ON true`,
		findIDs:        `SELECT id FROM ` + t + ` WHERE id = ANY($1::uuid[]) LIMIT 1`,
		findID:         `SELECT stream, version FROM ` + t + ` WHERE id = $1`,
		head:           `SELECT version, hash FROM ` + t + ` WHERE stream = $1 ORDER BY version DESC LIMIT 1`,
		idsFrom:        `SELECT id, transaction_id, seq FROM ` + t + ` WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3`,
		currentXactID:  `SELECT pg_current_xact_id()`,
		readAll:        `SELECT ` + columns + ` FROM ` + t + ` WHERE (transaction_id, seq) > ($1, $2) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY transaction_id, seq LIMIT $3`,
		head0:          `SELECT transaction_id, seq FROM ` + t + ` WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY transaction_id DESC, seq DESC LIMIT 1`,
		streamFwd:      `SELECT ` + columns + ` FROM ` + t + ` WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3`,
		streamBack:     `SELECT ` + columns + ` FROM ` + t + ` WHERE stream = $1 AND version <= $2 ORDER BY version DESC LIMIT $3`,
		streamBackLast: `SELECT ` + columns + ` FROM ` + t + ` WHERE stream = $1 ORDER BY version DESC LIMIT $2`,
		streamVersion:  `SELECT coalesce(max(version), 0) FROM ` + t + ` WHERE stream = $1`,
	}
}

// InsertSQL is the statement that writes one event row into schema's
// events table, with parameters in the order of the columns: seq, id,
// stream, version, type, schema_version, data, occurred_at, actor, role,
// command_id, correlation_id, causation_id, community, grid, key_id,
// recorded_at, hash. Exported so benchmarks can drive raw pgx with the same
// row shape.
func InsertSQL(schema string) string {
	return `INSERT INTO ` + pgx.Identifier{schema, "events"}.Sanitize() + ` (` + insertColumns + `)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`
}

// Open connects, creates or migrates the schema, and starts the writers.
// A server that cannot be reached gives an error wrapping
// eventstore.ErrUnavailable.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{
		cfg:    cfg,
		pool:   cfg.Pool,
		sql:    newStatements(cfg.Schema),
		quit:   make(chan struct{}),
		notify: eventstore.NewNotifier(),
		reqs:   make(chan *appendReq),
		heads:  &headCache{max: cfg.HeadCache, heads: make(map[string]streamHead)},
	}
	if s.pool == nil {
		pc, err := pgxpool.ParseConfig(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("postgres: parse connection string: %w", err)
		}
		if pc.MaxConns < int32(cfg.Writers)+4 {
			pc.MaxConns = int32(cfg.Writers) + 4
		}
		BoundIdleTransactions(pc.ConnConfig.RuntimeParams)
		if s.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		s.ownsPool = true
	}
	if err := migrateSchema(ctx, s.pool, cfg.Schema); err != nil {
		if s.ownsPool {
			s.pool.Close()
		}
		return nil, s.wrapErr("migrate schema "+cfg.Schema, err)
	}
	s.horizon = newHorizon(s)
	go s.horizon.run()
	s.writers = make([]*writer, cfg.Writers)
	for i := range s.writers {
		w := &writer{s: s}
		s.writers[i] = w
		s.wg.Add(1)
		go w.run()
	}
	return s, nil
}

// Pool returns the connection pool, for read models kept in the same
// database. Do not close it; Close does that when the store owns it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.cfg.Schema }

// Close stops the writers after the groups in flight (their callers get
// their answers) and closes the pool if the store opened it. Later calls
// return eventstore.ErrClosed. It is safe to call more than once.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.quit)
		s.wg.Wait()
		close(s.horizon.stop)
		<-s.horizon.done
		if s.ownsPool {
			s.pool.Close()
		}
	})
	return nil
}

func (s *Store) closed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// wrapErr turns a driver error into the store's errors: ErrClosed after
// Close, ErrUnavailable when the server cannot be reached or dropped the
// connection, and the error with context otherwise.
func (s *Store) wrapErr(what string, err error) error {
	if s.closed() {
		return eventstore.ErrClosed
	}
	if unavailable(err) {
		return fmt.Errorf("%w: postgres: %s: %v", eventstore.ErrUnavailable, what, err)
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// IdleTransactionTimeout is the idle_in_transaction_session_timeout the
// store sets on its sessions (unless the connection string sets one). Readers
// see only events below the oldest open transaction id (xid8 visibility), so
// one session left idle inside a transaction — a client that hung or lost
// track of it — would hold every reader back; the server ends such a session
// after this long. No transaction of the store or of the read models is idle
// between two statements for anywhere near that long.
const IdleTransactionTimeout = "10s"

// BoundIdleTransactions sets idle_in_transaction_session_timeout to
// IdleTransactionTimeout in params unless it is set: for every pool whose
// transactions run on the store's server (the read models' too).
func BoundIdleTransactions(params map[string]string) {
	if _, ok := params["idle_in_transaction_session_timeout"]; !ok {
		params["idle_in_transaction_session_timeout"] = IdleTransactionTimeout
	}
}

// Unavailable reports whether err, from pgx or database/sql over pgx, means
// the server is down, unreachable, restarting or out of connections (retry
// later) rather than a refused statement.
func Unavailable(err error) bool { return unavailable(err) }

// unavailable reports whether err means the server is down, unreachable,
// restarting or out of connections, rather than a refused statement.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, crash, cannot connect now
			pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.Event, error) {
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	switch {
	case dir == eventstore.Backward && from == 0:
		return s.query(ctx, min(limit, 64), "read stream", s.sql.streamBackLast, stream, limit)
	case dir == eventstore.Backward:
		return s.query(ctx, min(limit, 64), "read stream", s.sql.streamBack, stream, int64(from), limit)
	default:
		return s.query(ctx, min(limit, 64), "read stream", s.sql.streamFwd, stream, int64(from), limit)
	}
}

// ReadAll implements eventstore.Store. It returns only events whose
// transaction id is below the xmin of the query's snapshot, in (transaction
// id, seq) order: all transactions that could still add an event before
// them have ended, so a reader resuming from the last position it saw
// misses nothing. Events of a transaction that committed while an older one
// is still open anywhere on the server appear once that one ends.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	if after.Lo > 1<<31-1 {
		return nil, fmt.Errorf("%w: %s is not a position of this store", eventstore.ErrInvalidPosition, after)
	}
	return s.query(ctx, min(limit, 4096), "read log", s.sql.readAll, after.Hi, int32(after.Lo), limit)
}

// StreamVersion implements eventstore.Store.
func (s *Store) StreamVersion(ctx context.Context, stream string) (uint64, error) {
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return 0, err
	}
	if s.closed() {
		return 0, eventstore.ErrClosed
	}
	var v int64
	if err := s.pool.QueryRow(ctx, s.sql.streamVersion, stream).Scan(&v); err != nil {
		return 0, s.wrapErr("read stream version", err)
	}
	return uint64(v), nil
}

// Head implements eventstore.Store: the position of the last event ReadAll
// can return now.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if s.closed() {
		return eventstore.Position{}, eventstore.ErrClosed
	}
	var (
		xid uint64
		seq int32
	)
	err := s.pool.QueryRow(ctx, s.sql.head0).Scan(&xid, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, s.wrapErr("read head", err)
	}
	return eventstore.Position{Hi: xid, Lo: uint64(seq)}, nil
}

// Subscribe implements eventstore.Store on eventstore.Follow: appends
// through this Store wake the subscription at once; events written by
// other processes are found by polling every Config.PollInterval.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (*eventstore.Subscription, error) {
	if s.closed() {
		return nil, eventstore.ErrClosed
	}
	return eventstore.Follow(ctx, s, s.notify.Wait, after, filter, eventstore.FollowOptions{PollInterval: s.cfg.PollInterval}), nil
}

// query runs a read returning events; capacity sizes the result slice.
func (s *Store) query(ctx context.Context, capacity int, what, q string, args ...any) ([]eventstore.Event, error) {
	if s.closed() {
		return nil, eventstore.ErrClosed
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, s.wrapErr(what, err)
	}
	defer rows.Close()
	out := make([]eventstore.Event, 0, capacity)
	for rows.Next() {
		out = append(out, eventstore.Event{})
		if err := scanEvent(rows, &out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrapErr(what, err)
	}
	return out, nil
}

// scanEvent scans the current row (columns as in the constant columns) into e.
func scanEvent(rows pgx.Rows, e *eventstore.Event) error {
	var (
		xid           uint64
		seq           int32
		ver, occ, rec int64
		id            [16]byte
		m             = &e.Metadata
	)
	err := rows.Scan(&xid, &seq, &id, &e.Stream, &ver, &e.Type, &e.SchemaVersion, (*[]byte)(&e.Data), &occ,
		&m.Actor, &m.Role, &m.CommandID, &m.CorrelationID, &m.CausationID, &m.Community, &m.Grid, &m.KeyID, &rec, hashScanner{&e.Hash})
	if err != nil {
		return fmt.Errorf("postgres: scan event: %w", err)
	}
	e.ID = uuid.UUID(id)
	e.Position = eventstore.Position{Hi: xid, Lo: uint64(seq)}
	e.Version = uint64(ver)
	m.OccurredAt = eventstore.FromUnixNanos(occ)
	e.RecordedAt = eventstore.FromUnixNanos(rec)
	return nil
}

// hashScanner scans a bytea straight into a hash, with no allocation.
type hashScanner struct{ h *[32]byte }

// ScanBytes implements pgtype.BytesScanner.
func (s hashScanner) ScanBytes(v []byte) error {
	if len(v) != len(s.h) {
		return fmt.Errorf("hash is %d bytes, want %d", len(v), len(s.h))
	}
	copy(s.h[:], v)
	return nil
}

// Wake returns a channel closed at the next append through this Store, for
// callers that follow the log with eventstore.Follow and options of their
// own (the HTTP event stream bounds its read-ahead this way).
func (s *Store) Wake() <-chan struct{} { return s.notify.Wait() }
