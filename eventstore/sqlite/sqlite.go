// Package sqlite is Doorstep's embedded event store: one SQLite file in WAL
// mode with durable commits, on the pure-Go driver modernc.org/sqlite (no cgo,
// so the binary cross-compiles and runs anywhere).
//
// All appends go through one writer goroutine that commits concurrent
// appends together (group commit): one durable commit for many appends, each
// caller told only after its own events are durable. Reads use a separate
// pool of read-only connections; WAL lets them run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
)

// Config configures a Store.
type Config struct {
	// Path of the database file; created if missing. Required.
	Path string
	// Limits on appends; zero fields take eventstore's defaults.
	Limits eventstore.Limits
	// MaxGroup caps how many appends share one commit; default 256.
	MaxGroup int
	// Now returns store time for recorded-at; default clock.Now (internal/clock).
	Now func() time.Time
	// ReadConns is the size of the read pool; default 8.
	ReadConns int
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("sqlite: Config.Path is empty; give the database file path")
	}
	if c.MaxGroup < 0 || c.ReadConns < 0 {
		return errors.New("sqlite: MaxGroup and ReadConns must not be negative")
	}
	return nil
}

// Store is the SQLite event store. It is safe for concurrent use.
type Store struct {
	cfg    Config
	wdb    *sql.DB // one connection, owned by the writer goroutine
	rdb    *sql.DB // read-only pool
	reqs   chan *appendReq
	quit   chan struct{}
	done   chan struct{}
	notify *eventstore.Notifier
	once   sync.Once

	commits, appends atomic.Int64

	stmtFindID, stmtHead, stmtInsert, stmtIDsFrom *sql.Stmt

	// Read statements, prepared once on the read pool (database/sql
	// prepares them on each pooled connection as it is first used).
	rdForward, rdBackward, rdBackwardFrom, rdAll, rdVersion, rdLast *sql.Stmt
}

var _ eventstore.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS events (
	position       INTEGER PRIMARY KEY,
	id             BLOB    NOT NULL UNIQUE,
	stream         TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	schema_version INTEGER NOT NULL,
	data           BLOB    NOT NULL,
	occurred_at    INTEGER NOT NULL,
	actor          TEXT    NOT NULL,
	role           TEXT    NOT NULL,
	command_id     TEXT    NOT NULL,
	correlation_id TEXT    NOT NULL,
	causation_id   TEXT    NOT NULL,
	community      TEXT    NOT NULL,
	grid           TEXT    NOT NULL,
	key_id         TEXT    NOT NULL,
	recorded_at    INTEGER NOT NULL,
	hash           BLOB    NOT NULL,
	UNIQUE (stream, version)
);
`

// Columns in the order every read selects them.
const columns = `position, id, stream, version, type, schema_version, data, occurred_at, actor, role,
	command_id, correlation_id, causation_id, community, grid, key_id, recorded_at, hash`

// InsertSQL is the statement that writes one event row. Exported so the
// benchmarks can drive the raw driver with exactly the same statement.
const InsertSQL = `INSERT INTO events (id, stream, version, type, schema_version, data, occurred_at, actor, role,
	command_id, correlation_id, causation_id, community, grid, key_id, recorded_at, hash)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// Schema is the DDL of the events table (for tools and benchmarks).
const Schema = schema

// Page cache of each connection, in KiB. Every connection keeps its own,
// outside the Go heap (where GOMEMLIMIT does not reach it), and the
// driver's allocator rounds each 4 KiB page up to an 8 KiB block, so a
// full cache costs about twice its size: these bound the store's share of
// the server's memory (decision 0089). The writer keeps the indexes it
// appends to; readers mostly read a stream's few pages once, and the
// operating system's file cache serves what theirs drops. With the
// default eight readers: 8 + 8×2 MiB of pages, about 48 MB at most.
const (
	WriterCacheKiB = 8 << 10
	ReaderCacheKiB = 2 << 10
)

// DSN returns the driver data source name used for path: WAL, synchronous
// FULL (a commit is durable when it returns), a busy timeout, the page
// cache of its kind of connection, and BEGIN IMMEDIATE for writers.
func DSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", ReaderCacheKiB))
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", WriterCacheKiB))
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens or creates the store at cfg.Path and starts its writer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if cfg.MaxGroup == 0 {
		cfg.MaxGroup = 256
	}
	if cfg.ReadConns == 0 {
		cfg.ReadConns = 8
	}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	wdb, err := sql.Open("sqlite", DSN(cfg.Path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if _, err := wdb.ExecContext(ctx, schema); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: create schema in %s: %w", cfg.Path, err)
	}
	rdb, err := sql.Open("sqlite", DSN(cfg.Path, true))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", cfg.Path, err)
	}
	rdb.SetMaxOpenConns(cfg.ReadConns)
	rdb.SetMaxIdleConns(cfg.ReadConns)
	s := &Store{
		cfg: cfg, wdb: wdb, rdb: rdb,
		reqs:   make(chan *appendReq),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		notify: eventstore.NewNotifier(),
	}
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = wdb.PrepareContext(ctx, q)
		return st
	}
	s.stmtFindID = prep(`SELECT stream, version FROM events WHERE id = ?`)
	s.stmtHead = prep(`SELECT version, hash FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1`)
	s.stmtInsert = prep(InsertSQL)
	s.stmtIDsFrom = prep(`SELECT id, position FROM events WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`)
	rprep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = rdb.PrepareContext(ctx, q)
		return st
	}
	s.rdForward = rprep(`SELECT ` + columns + ` FROM events WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`)
	s.rdBackward = rprep(`SELECT ` + columns + ` FROM events WHERE stream = ? ORDER BY version DESC LIMIT ?`)
	s.rdBackwardFrom = rprep(`SELECT ` + columns + ` FROM events WHERE stream = ? AND version <= ? ORDER BY version DESC LIMIT ?`)
	s.rdAll = rprep(`SELECT ` + columns + ` FROM events WHERE position > ? ORDER BY position LIMIT ?`)
	s.rdVersion = rprep(`SELECT max(version) FROM events WHERE stream = ?`)
	s.rdLast = rprep(`SELECT max(position) FROM events`)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: prepare statements: %w", err)
	}
	go s.writer()
	return s, nil
}

// Close stops the writer after the group in flight and closes the database.
// It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		err = errors.Join(s.wdb.Close(), s.rdb.Close())
	})
	return err
}

type appendReq struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.EventData
	res      eventstore.AppendResult
	err      error
	done     chan struct{}
}

// Append implements eventstore.Store. See the contract there.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events, s.cfg.Limits); err != nil {
		return eventstore.AppendResult{}, err
	}
	if expected == nil {
		expected = eventstore.Any()
	}
	r := &appendReq{ctx: ctx, stream: stream, expected: expected, events: events, done: make(chan struct{})}
	select {
	case s.reqs <- r:
	case <-s.quit:
		return eventstore.AppendResult{}, eventstore.ErrClosed
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
	// Once the writer has the request it always answers; waiting here (and
	// not on ctx) means the caller never mistakes a committed append for a
	// failed one.
	<-r.done
	return r.res, r.err
}

func (s *Store) writer() {
	defer close(s.done)
	group := make([]*appendReq, 0, s.cfg.MaxGroup)
	for {
		select {
		case <-s.quit:
			return
		case r := <-s.reqs:
			group = append(group[:0], r)
		}
		// Take every request already waiting. When none is, yield the
		// processor once: callers just woken by the previous commit may be
		// about to send, and on a machine with few cores they only get to
		// run if the writer steps aside. A lone caller loses nothing.
		yielded := false
	collect:
		for len(group) < s.cfg.MaxGroup {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				if yielded {
					break collect
				}
				yielded = true
				runtime.Gosched()
			}
		}
		s.appends.Add(int64(len(group)))
		s.commits.Add(1)
		s.commitGroup(group)
		for _, r := range group {
			close(r.done)
		}
		s.notify.Notify()
	}
}

// errSlowPath aborts the optimistic fast path of a group.
var errSlowPath = errors.New("sqlite: retry the group with savepoints")

// commitGroup writes every request of the group in one transaction and one
// durable commit.
//
// The fast path runs the requests one after another with no savepoints:
// every check that can refuse a request (expected version, retry of an
// earlier append) runs before the request writes anything, so a refused
// request leaves nothing behind. Only an INSERT can fail after earlier rows
// of its batch went in — an event id stored elsewhere, or an I/O error —
// and then the whole transaction is rolled back and the group replayed on
// the slow path, where each request runs inside its own savepoint and fails
// alone.
func (s *Store) commitGroup(group []*appendReq) {
	if s.tryGroup(group, true) {
		return
	}
	for _, r := range group {
		r.res, r.err = eventstore.AppendResult{}, nil
	}
	s.tryGroup(group, false)
}

// tryGroup runs the group in one transaction. It returns false when the
// fast path had to give up; the transaction is then rolled back.
func (s *Store) tryGroup(group []*appendReq, fast bool) bool {
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range group {
			r.err = fmt.Errorf("%w: begin: %v", eventstore.ErrUnavailable, err)
		}
		return true
	}
	st := txStmts{
		findID:  tx.StmtContext(ctx, s.stmtFindID),
		head:    tx.StmtContext(ctx, s.stmtHead),
		insert:  tx.StmtContext(ctx, s.stmtInsert),
		idsFrom: tx.StmtContext(ctx, s.stmtIDsFrom),
	}
	now := s.cfg.Now()
	wrote := false
	savepoints := !fast && len(group) > 1
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT a"); err != nil {
				r.err = fmt.Errorf("sqlite: savepoint: %w", err)
				continue
			}
		}
		r.res, r.err = s.appendTx(ctx, &st, r, now, fast)
		if fast && errors.Is(r.err, errSlowPath) {
			_ = tx.Rollback()
			return false
		}
		if savepoints {
			if r.err != nil {
				_, _ = tx.ExecContext(ctx, "ROLLBACK TO a")
			}
			if _, err := tx.ExecContext(ctx, "RELEASE a"); err != nil && r.err == nil {
				r.err = fmt.Errorf("sqlite: release savepoint: %w", err)
			}
		}
		if r.err == nil {
			wrote = true
		}
	}
	if !wrote {
		_ = tx.Rollback()
		return true
	}
	if err := tx.Commit(); err != nil {
		for _, r := range group {
			if r.err == nil {
				r.err = fmt.Errorf("%w: commit: %v", eventstore.ErrUnavailable, err)
				r.res = eventstore.AppendResult{}
			}
		}
	}
	return true
}

// txStmts are the writer's prepared statements bound to one transaction.
type txStmts struct{ findID, head, insert, idsFrom *sql.Stmt }

// appendTx writes one request. On the fast path the retry lookup runs only
// when the expected version does not hold or an insert hits a duplicate id
// (a retried append always meets one or the other), and an insert error
// returns errSlowPath instead of leaving a half-written batch.
func (s *Store) appendTx(ctx context.Context, st *txStmts, r *appendReq, now time.Time, fast bool) (eventstore.AppendResult, error) {
	retry := func() (bool, eventstore.AppendResult, error) {
		var (
			oldStream  string
			oldVersion uint64
		)
		err := st.findID.QueryRowContext(ctx, r.events[0].ID[:]).Scan(&oldStream, &oldVersion)
		switch {
		case err == nil:
			res, err := s.replay(ctx, st, r, oldStream, oldVersion)
			return true, res, err
		case !errors.Is(err, sql.ErrNoRows):
			return true, eventstore.AppendResult{}, fmt.Errorf("sqlite: look up event id: %w", err)
		}
		return false, eventstore.AppendResult{}, nil
	}
	if !fast {
		if done, res, err := retry(); done {
			return res, err
		}
	}

	var (
		version uint64
		prev    [32]byte
		hash    []byte
	)
	err := st.head.QueryRowContext(ctx, r.stream).Scan(&version, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return eventstore.AppendResult{}, fmt.Errorf("sqlite: read stream head: %w", err)
	}
	copy(prev[:], hash)
	if !eventstore.Satisfied(r.expected, version) {
		if fast {
			if done, res, err := retry(); done {
				return res, err
			}
		}
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: r.stream, Expected: r.expected, Actual: version}
	}
	res := eventstore.AppendResult{FirstVersion: version + 1}
	for i := range r.events {
		version++
		e := eventstore.Seal(prev, r.stream, version, now, &r.events[i])
		m := &e.Metadata
		out, err := st.insert.ExecContext(ctx, e.ID[:], e.Stream, int64(e.Version), e.Type, e.SchemaVersion, []byte(e.Data),
			eventstore.UnixNanos(m.OccurredAt), m.Actor, m.Role, m.CommandID, m.CorrelationID, m.CausationID,
			m.Community, m.Grid, m.KeyID, eventstore.UnixNanos(e.RecordedAt), e.Hash[:])
		if err != nil {
			if fast {
				return eventstore.AppendResult{}, errSlowPath
			}
			var se *sqlite.Error
			if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
				return eventstore.AppendResult{}, fmt.Errorf("%w: event id %s is already stored in another stream or position", eventstore.ErrDuplicateEvent, e.ID)
			}
			return eventstore.AppendResult{}, fmt.Errorf("sqlite: insert event: %w", err)
		}
		pos, err := out.LastInsertId()
		if err != nil {
			if fast {
				return eventstore.AppendResult{}, errSlowPath
			}
			return eventstore.AppendResult{}, fmt.Errorf("sqlite: insert event: %w", err)
		}
		p := eventstore.Position{Lo: uint64(pos)}
		if i == 0 {
			res.FirstPosition = p
		}
		res.LastPosition = p
		prev = e.Hash
	}
	res.LastVersion = version
	return res, nil
}

// replay answers a retried append: the batch must match the stored events
// id for id, starting where the first id was stored.
func (s *Store) replay(ctx context.Context, st *txStmts, r *appendReq, oldStream string, oldVersion uint64) (eventstore.AppendResult, error) {
	if oldStream != r.stream {
		return eventstore.AppendResult{}, fmt.Errorf("%w: event id %s is already stored in stream %q", eventstore.ErrDuplicateEvent, r.events[0].ID, oldStream)
	}
	rows, err := st.idsFrom.QueryContext(ctx, r.stream, oldVersion, len(r.events))
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("sqlite: read retried events: %w", err)
	}
	defer rows.Close()
	res := eventstore.AppendResult{FirstVersion: oldVersion}
	i := 0
	for rows.Next() {
		var id []byte
		var pos int64
		if err := rows.Scan(&id, &pos); err != nil {
			return eventstore.AppendResult{}, err
		}
		if i >= len(r.events) || !bytesEqual(id, r.events[i].ID[:]) {
			break
		}
		if i == 0 {
			res.FirstPosition = eventstore.Position{Lo: uint64(pos)}
		}
		res.LastPosition = eventstore.Position{Lo: uint64(pos)}
		i++
	}
	if err := rows.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if i != len(r.events) {
		return eventstore.AppendResult{}, fmt.Errorf("%w: event id %s was stored by an earlier append with different events; a retry must resend the same batch", eventstore.ErrDuplicateEvent, r.events[0].ID)
	}
	res.LastVersion = oldVersion + uint64(len(r.events)) - 1
	return res, nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

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
		return s.query(ctx, s.rdBackward, stream, limit)
	case dir == eventstore.Backward:
		return s.query(ctx, s.rdBackwardFrom, stream, int64(from), limit)
	default:
		return s.query(ctx, s.rdForward, stream, int64(from), limit)
	}
}

// ReadAll implements eventstore.Store. SQLite has one writer at a time and
// assigns positions inside the write transaction, so positions become
// visible in order and no gap can close later.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.query(ctx, s.rdAll, int64(after.Lo), limit)
}

// StreamVersion implements eventstore.Store.
func (s *Store) StreamVersion(ctx context.Context, stream string) (uint64, error) {
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return 0, err
	}
	var v sql.NullInt64
	if err := s.rdVersion.QueryRowContext(ctx, stream).Scan(&v); err != nil {
		return 0, s.readErr(err)
	}
	return uint64(v.Int64), nil
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var p sql.NullInt64
	if err := s.rdLast.QueryRowContext(ctx).Scan(&p); err != nil {
		return eventstore.Position{}, s.readErr(err)
	}
	return eventstore.Position{Lo: uint64(p.Int64)}, nil
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (*eventstore.Subscription, error) {
	select {
	case <-s.quit:
		return nil, eventstore.ErrClosed
	default:
	}
	return eventstore.Follow(ctx, s, s.notify.Wait, after, filter, eventstore.FollowOptions{}), nil
}

func (s *Store) readErr(err error) error {
	select {
	case <-s.quit:
		return eventstore.ErrClosed
	default:
		return fmt.Errorf("sqlite: read: %w", err)
	}
}

func (s *Store) query(ctx context.Context, st *sql.Stmt, args ...any) ([]eventstore.Event, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, s.readErr(err)
	}
	defer rows.Close()
	out := make([]eventstore.Event, 0, 64)
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(err)
	}
	return out, nil
}

func scanEvent(rows *sql.Rows) (eventstore.Event, error) {
	var (
		e                  eventstore.Event
		pos, ver, occ, rec int64
		id, hash           []byte
		m                  = &e.Metadata
	)
	err := rows.Scan(&pos, &id, &e.Stream, &ver, &e.Type, &e.SchemaVersion, (*[]byte)(&e.Data), &occ,
		&m.Actor, &m.Role, &m.CommandID, &m.CorrelationID, &m.CausationID, &m.Community, &m.Grid, &m.KeyID, &rec, &hash)
	if err != nil {
		return e, fmt.Errorf("sqlite: scan event: %w", err)
	}
	if e.ID, err = uuid.FromBytes(id); err != nil {
		return e, fmt.Errorf("sqlite: event at position %d has a malformed id: %w", pos, err)
	}
	e.Position = eventstore.Position{Lo: uint64(pos)}
	e.Version = uint64(ver)
	m.OccurredAt = eventstore.FromUnixNanos(occ)
	e.RecordedAt = eventstore.FromUnixNanos(rec)
	copy(e.Hash[:], hash)
	return e, nil
}

// Stats counts the writer's work since Open.
type Stats struct {
	Commits int64 // transactions the writer committed or rolled back
	Appends int64 // append requests answered
}

// Stats returns the writer's counters; Appends/Commits is the mean group
// size. Safe for concurrent use.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Appends: s.appends.Load()}
}

// Wake returns a channel closed at the next append through this Store, for
// callers that follow the log with eventstore.Follow and options of their
// own (the HTTP event stream bounds its read-ahead this way).
func (s *Store) Wake() <-chan struct{} { return s.notify.Wait() }
