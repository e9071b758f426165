package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/eventstore"
)

type appendReq struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.EventData
	res      eventstore.AppendResult
	err      error
	done     chan struct{}
	// recordedAt, when set (Import), is the events' recorded-at instead
	// of the store's clock.
	recordedAt time.Time
	// batch, when set (Import), is the whole group this request leads:
	// committed alone, in its order, in one statement, or not at all.
	batch []*appendReq
}

// streamHead is the last event of a stream: its version and hash.
type streamHead struct {
	version uint64
	hash    [32]byte
}

// writer is one of the goroutines that take appends from the store's
// queue and commit them, a group per transaction.
type writer struct {
	s *Store
}

// headCache remembers stream heads between appends. It is a hint: a stale
// entry makes an INSERT fail on the (stream, version) constraint, never
// writes a wrong row. Safe for concurrent use.
type headCache struct {
	mu    sync.Mutex
	max   int
	heads map[string]streamHead
}

func (c *headCache) get(stream string) (streamHead, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.heads[stream]
	return h, ok
}

// put remembers h unless a later head is already known, making room by
// forgetting arbitrary entries when the cache is full.
func (c *headCache) put(stream string, h streamHead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.heads[stream]
	if ok && old.version > h.version {
		return
	}
	if !ok && len(c.heads) >= c.max {
		drop := len(c.heads)/8 + 1
		for k := range c.heads {
			delete(c.heads, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.heads[stream] = h
}

func (c *headCache) forget(stream string) {
	c.mu.Lock()
	delete(c.heads, stream)
	c.mu.Unlock()
}

// Append implements eventstore.Store. See the contract there. Concurrent
// appends are committed together; the call returns after the commit that
// made its own events durable and, normally, once they are readable by
// ReadAll, Head and Subscribe: a transaction with a lower id still open
// elsewhere on the server holds them back, and Append waits for it at most
// Config.VisibilityWait before returning anyway.
//
// When the server cannot be reached, or the connection drops, the error
// wraps eventstore.ErrUnavailable. If that happened while the COMMIT was in
// flight the events may or may not be stored: retry with the same event ids
// (the retry is idempotent) to find out.
//
// PostgreSQL text cannot hold the NUL character, so metadata containing one
// is rejected with eventstore.ErrInvalidEvent.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events, s.cfg.Limits); err != nil {
		return eventstore.AppendResult{}, err
	}
	for i := range events {
		m := &events[i].Metadata
		for _, v := range []string{m.Actor, m.Role, m.CommandID, m.CorrelationID, m.CausationID, m.Community, m.Grid, m.KeyID} {
			if strings.IndexByte(v, 0) >= 0 {
				return eventstore.AppendResult{}, fmt.Errorf("%w: event %d metadata contains a NUL character", eventstore.ErrInvalidEvent, i)
			}
		}
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

func (w *writer) run() {
	defer w.s.wg.Done()
	group := make([]*appendReq, 0, w.s.cfg.MaxGroup)
	for {
		select {
		case <-w.s.quit:
			return
		case r := <-w.s.reqs:
			group = append(group[:0], r)
		}
		if r := group[0]; r.batch != nil {
			xid := w.commitBatch(r.batch)
			w.s.statAppends.Add(int64(len(r.batch)))
			w.finish(xid, r.batch)
			continue
		}
		// Let callers that were just answered submit their next append
		// before the group is closed; on few cores the group sizes
		// otherwise alternate between large and tiny.
		runtime.Gosched()
	collect:
		for len(group) < w.s.cfg.MaxGroup {
			select {
			case r := <-w.s.reqs:
				group = append(group, r)
			default:
				break collect
			}
		}
		xid := w.commitGroup(group)
		w.s.statAppends.Add(int64(len(group)))
		w.finish(xid, group)
	}
}

// finish answers a committed group once its events are readable.
func (w *writer) finish(xid uint64, group []*appendReq) {
	if xid == 0 || w.s.horizon.readable(xid) {
		answer(group)
		w.s.notify.Notify()
	} else {
		w.s.statHeld.Add(1)
		w.s.horizon.hold(xid, group)
	}
	if xid != 0 && w.s.horizon.release(false) > 0 {
		// Groups still wait, maybe on transactions of other
		// processes that have ended by now: ask rather than wait for
		// the next poll.
		w.s.horizon.refresh()
	}
}

// commitBatch writes an import's runs in their order in one statement
// (the fast path), or none of them: a run whose expectation fails, an id
// already stored, a refused row or an outage fails them all, and the
// caller appends them one by one. Its streams are not sorted: an import
// racing a writer of the same streams may deadlock, and PostgreSQL then
// fails one of them, which is the same outcome.
func (w *writer) commitBatch(batch []*appendReq) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), w.s.cfg.WriteTimeout)
	defer cancel()
	fail := func(err error) uint64 {
		for _, r := range batch {
			r.res, r.err = eventstore.AppendResult{}, err
		}
		return 0
	}
	if err := batch[0].ctx.Err(); err != nil {
		return fail(err)
	}
	conn, err := w.s.pool.Acquire(ctx)
	if err != nil {
		return fail(w.s.wrapErr("connect", err))
	}
	defer conn.Release()
	ok := w.fast(ctx, conn, batch)
	for _, r := range batch {
		if ok && r.err != nil {
			err = r.err
			ok = false
		}
	}
	if !ok {
		if err == nil {
			err = errors.New("postgres: the import's runs cannot be written in one statement; append them one by one")
		}
		for _, r := range batch {
			if r.err == nil && r.res.LastPosition.Hi != 0 {
				// Cannot happen: fast writes every row or none.
				return fail(fmt.Errorf("postgres: import partly written: %w", err))
			}
		}
		return fail(err)
	}
	var xid uint64
	for _, r := range batch {
		xid = max(xid, r.res.LastPosition.Hi)
	}
	return xid
}

// commitGroup writes the group: first on the fast path, in one transaction
// (one statement when the stream heads are cached), and, if an
// insert fails there, again on the slow path, one transaction per append.
// It returns the highest transaction id that wrote the group's events (0
// if none).
func (w *writer) commitGroup(group []*appendReq) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), w.s.cfg.WriteTimeout)
	defer cancel()
	live := make([]*appendReq, 0, len(group))
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return 0
	}
	// Write the streams in one order in every transaction, so that two
	// groups (of this process or another) touching the same streams wait
	// for each other instead of deadlocking. Appends to one stream keep
	// their order.
	slices.SortStableFunc(live, func(a, b *appendReq) int { return strings.Compare(a.stream, b.stream) })
	conn, err := w.s.pool.Acquire(ctx)
	if err != nil {
		err = w.s.wrapErr("connect", err)
		for _, r := range live {
			r.err = err
		}
		return 0
	}
	defer conn.Release()
	if !w.fast(ctx, conn, live) {
		for _, r := range live {
			r.res, r.err = eventstore.AppendResult{}, nil
		}
		w.slow(ctx, conn, live)
	}
	var xid uint64
	for _, r := range live {
		if r.err == nil {
			xid = max(xid, r.res.LastPosition.Hi)
		}
	}
	return xid
}

// rowSet holds the rows of one group as column arrays, for one INSERT.
type rowSet struct {
	seq                                                           []int32
	id                                                            [][16]byte
	stream, typ                                                   []string
	version, occurred, recorded                                   []int64
	schemaVersion                                                 []int32
	data, hash                                                    [][]byte
	actor, role, command, correlation, causation, comm, grid, key []string
}

func (rs *rowSet) reset() { *rs = rowSet{} }

func (rs *rowSet) len() int { return len(rs.seq) }

func (rs *rowSet) add(seq int32, e *eventstore.Event) {
	m := &e.Metadata
	rs.seq = append(rs.seq, seq)
	rs.id = append(rs.id, [16]byte(e.ID))
	rs.stream = append(rs.stream, e.Stream)
	rs.version = append(rs.version, int64(e.Version))
	rs.typ = append(rs.typ, e.Type)
	rs.schemaVersion = append(rs.schemaVersion, int32(e.SchemaVersion))
	rs.data = append(rs.data, e.Data)
	rs.occurred = append(rs.occurred, eventstore.UnixNanos(m.OccurredAt))
	rs.actor = append(rs.actor, m.Actor)
	rs.role = append(rs.role, m.Role)
	rs.command = append(rs.command, m.CommandID)
	rs.correlation = append(rs.correlation, m.CorrelationID)
	rs.causation = append(rs.causation, m.CausationID)
	rs.comm = append(rs.comm, m.Community)
	rs.grid = append(rs.grid, m.Grid)
	rs.key = append(rs.key, m.KeyID)
	rs.recorded = append(rs.recorded, eventstore.UnixNanos(e.RecordedAt))
	h := e.Hash
	rs.hash = append(rs.hash, h[:])
}

// insert returns the statement and arguments writing every row: a plain
// INSERT … VALUES for one row, an INSERT … SELECT FROM unnest(arrays) for more.
func (rs *rowSet) insert(sql *statements) (string, []any) {
	if rs.len() == 1 {
		return sql.insertOne, []any{rs.seq[0], rs.id[0], rs.stream[0], rs.version[0], rs.typ[0], rs.schemaVersion[0], rs.data[0],
			rs.occurred[0], rs.actor[0], rs.role[0], rs.command[0], rs.correlation[0], rs.causation[0], rs.comm[0], rs.grid[0], rs.key[0],
			rs.recorded[0], rs.hash[0]}
	}
	return sql.insertMany, []any{rs.seq, rs.id, rs.stream, rs.version, rs.typ, rs.schemaVersion, rs.data,
		rs.occurred, rs.actor, rs.role, rs.command, rs.correlation, rs.causation, rs.comm, rs.grid, rs.key,
		rs.recorded, rs.hash}
}

// planned is one request's share of the group's rows.
type planned struct {
	r        *appendReq
	first, n int // rows [first, first+n) of the rowSet
	firstVer uint64
	last     streamHead
}

// requiresEmpty reports whether an expectation only holds for a stream
// with no events (NoStream, Exact(0)).
func requiresEmpty(e eventstore.ExpectedVersion) bool {
	return eventstore.Satisfied(e, 0) && !eventstore.Satisfied(e, 1)
}

// fast tries the group with no savepoints. Each append is checked against
// the writer's cached stream head, and the rows of all appends that pass go
// in with one autocommit INSERT: one statement, one round trip. The
// cache may be stale (another process appended): the unique constraint on
// (stream, version) then fails the INSERT, and fast returns false so that
// the group is replayed on the slow path with fresh reads. An append whose
// head is not cached, or whose expectation fails against the cache, costs
// one more round trip: the heads of those streams are read, and the first
// ids of the whole group looked up (any hit is a retry, handled by the slow
// path).
//
// fast returns true when every request of the group has its answer.
func (w *writer) fast(ctx context.Context, conn *pgxpool.Conn, group []*appendReq) bool {
	now := w.s.cfg.Now()
	var (
		rows    rowSet
		plan    []planned
		fetched map[string]streamHead // authoritative heads, read this group; absent = no events
		need    map[string]bool       // streams whose heads must be read
	)
	for round := 0; round < 2; round++ {
		rows.reset()
		plan = plan[:0]
		overlay := make(map[string]streamHead)
		need = make(map[string]bool)
		for _, r := range group {
			h, ok := overlay[r.stream]
			if !ok {
				if fetched != nil && covers(fetched, r.stream) {
					h, ok = fetched[r.stream], true
				} else if h, ok = w.s.heads.get(r.stream); !ok && requiresEmpty(r.expected) {
					h, ok = streamHead{}, true
				}
			}
			if !ok || need[r.stream] {
				need[r.stream] = true
				continue
			}
			if !eventstore.Satisfied(r.expected, h.version) {
				if round == 0 {
					need[r.stream] = true
					continue
				}
				r.err = &eventstore.ConflictError{Stream: r.stream, Expected: r.expected, Actual: h.version}
				continue
			}
			p := planned{r: r, first: rows.len(), n: len(r.events), firstVer: h.version + 1}
			at := now
			if !r.recordedAt.IsZero() {
				at = r.recordedAt
			}
			for i := range r.events {
				e := eventstore.Seal(h.hash, r.stream, h.version+1, at, &r.events[i])
				rows.add(int32(rows.len()+1), &e)
				h = streamHead{version: e.Version, hash: e.Hash}
			}
			p.last = h
			overlay[r.stream] = h
			plan = append(plan, p)
		}
		if len(need) == 0 {
			break
		}
		if round == 1 {
			return false // cannot happen: every stream in need was read
		}
		var retry bool
		var err error
		w.s.statHeadReads.Add(1)
		fetched, retry, err = w.readHeads(ctx, conn, need, group)
		if err != nil {
			if unavailable(err) {
				err = w.s.wrapErr("read stream heads", err)
				for _, r := range group {
					r.err = err
				}
				return true
			}
			return false
		}
		if retry {
			return false
		}
		for _, r := range group {
			r.err = nil
		}
	}
	if rows.len() == 0 {
		return true // every request failed its expectation
	}
	if group[0].batch != nil {
		for _, r := range group {
			if r.err != nil {
				return true // an import is written whole or not at all
			}
		}
	}

	// Without the test hook the INSERT is the whole transaction: one
	// autocommit statement, durable when its answer arrives.
	q, args := rows.insert(&w.s.sql)
	var xid, xmin uint64 // xmin: of the statement's snapshot
	var err error
	w.s.statTransactions.Add(1)
	if hook := w.s.cfg.beforeCommit; hook == nil {
		err = conn.QueryRow(ctx, q, args...).Scan(&xid, &xmin)
	} else {
		err = func() error {
			if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
				return err
			}
			if err := conn.QueryRow(ctx, q, args...).Scan(&xid, &xmin); err != nil {
				return err
			}
			hook()
			tag, err := conn.Exec(ctx, "COMMIT")
			if err == nil && tag.String() != "COMMIT" {
				err = fmt.Errorf("COMMIT answered %q", tag)
			}
			return err
		}()
	}
	if err != nil {
		if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			_, _ = conn.Exec(ctx, "ROLLBACK")
		}
		if !unavailable(err) {
			return false // a refused row: replay on the slow path so it fails alone
		}
		// The outcome of the COMMIT may be unknown: forget what we think
		// the heads are, and let the callers retry.
		err = w.s.wrapErr("append", err)
		for _, p := range plan {
			w.s.heads.forget(p.r.stream)
			p.r.err = err
		}
		return true
	}
	// If xmin == xid, no older transaction was open when the statement
	// began, and none could start before this one took its id (it would
	// have taken that id): everything up to xid has now ended.
	w.s.horizon.committed(xid, xmin)
	for _, p := range plan {
		p.r.res = eventstore.AppendResult{
			FirstVersion:  p.firstVer,
			LastVersion:   p.last.version,
			FirstPosition: eventstore.Position{Hi: xid, Lo: uint64(rows.seq[p.first])},
			LastPosition:  eventstore.Position{Hi: xid, Lo: uint64(rows.seq[p.first+p.n-1])},
		}
		w.remember(p.r.stream, p.last)
	}
	return true
}

// covers reports whether the heads read for this group cover stream. The
// map holds an entry (possibly the zero head) for every stream that was read.
func covers(fetched map[string]streamHead, stream string) bool {
	_, ok := fetched[stream]
	return ok
}

// readHeads reads the current heads of the streams in need and looks up
// the first event id of every request, in one pipelined round trip. retry
// is true when one of those ids is already stored.
func (w *writer) readHeads(ctx context.Context, conn *pgxpool.Conn, need map[string]bool, group []*appendReq) (map[string]streamHead, bool, error) {
	streams := make([]string, 0, len(need))
	for st := range need {
		streams = append(streams, st)
	}
	ids := make([][16]byte, len(group))
	for i, r := range group {
		ids[i] = [16]byte(r.events[0].ID)
	}
	b := &pgx.Batch{}
	b.Queue(w.s.sql.heads, streams)
	b.Queue(w.s.sql.findIDs, ids)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	fetched := make(map[string]streamHead, len(streams))
	for _, st := range streams {
		fetched[st] = streamHead{}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, false, err
	}
	for rows.Next() {
		var (
			st   string
			v    int64
			hash []byte
			h    streamHead
		)
		if err := rows.Scan(&st, &v, &hash); err != nil {
			return nil, false, err
		}
		h.version = uint64(v)
		copy(h.hash[:], hash)
		fetched[st] = h
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	var found [16]byte
	err = br.QueryRow().Scan(&found)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, false, err
	default:
		return nil, true, nil
	}
	for st, h := range fetched {
		w.remember(st, h)
	}
	return fetched, false, br.Close()
}

// remember caches a stream head.
func (w *writer) remember(stream string, h streamHead) { w.s.heads.put(stream, h) }

// slow writes the requests of the group one by one, each in a transaction
// of its own, reading every head afresh, so that a request that must fail
// (an id stored elsewhere, a conflict, a race lost to another writer) fails
// alone.
//
// Why not one transaction with a savepoint per request, as the SQLite store
// does: the log is ordered by transaction id, and a transaction's id is
// taken at its first write. A transaction that had already written for an
// earlier request could then append version n+1 of a stream on top of a
// version n committed by a transaction with a higher id, and the log would
// list n+1 before n. A transaction that reads the head before its first
// write always gets an id above the one that wrote the head.
func (w *writer) slow(ctx context.Context, conn *pgxpool.Conn, group []*appendReq) {
	w.s.statSlow.Add(int64(len(group)))
	for i, r := range group {
		res, wrote, err := w.appendAlone(ctx, conn, r)
		r.res, r.err = res.AppendResult, err
		switch {
		case r.err == nil && wrote:
			w.remember(r.stream, streamHead{version: res.LastVersion, hash: res.lastHash})
		case r.err == nil:
		case unavailable(r.err):
			err := w.s.wrapErr("append", r.err)
			for _, r := range group[i:] {
				r.res, r.err = eventstore.AppendResult{}, err
				w.s.heads.forget(r.stream)
			}
			return
		default:
			w.s.heads.forget(r.stream)
			if !errors.Is(r.err, eventstore.ErrConflict) && !errors.Is(r.err, eventstore.ErrDuplicateEvent) {
				r.err = w.s.wrapErr("append", r.err)
			}
		}
	}
}

// maxAttempts bounds how often appendAlone starts over after losing a
// race to another writer. Each lost race means another append committed.
const maxAttempts = 50

// appendAlone writes one request in its own transaction. It reports whether
// it wrote rows (false for a retry that only replays the original result).
// When another writer takes the stream's next version first (or PostgreSQL
// picks this transaction as a deadlock victim), it starts over in a new
// transaction: an exact expectation then fails as a conflict, Any writes
// after the new head.
func (w *writer) appendAlone(ctx context.Context, conn *pgxpool.Conn, r *appendReq) (result, bool, error) {
	idTaken := false
	var lastActual uint64
	for attempt := 0; attempt < maxAttempts; attempt++ {
		res, wrote, retry, err := w.tryAlone(ctx, conn, r, idTaken)
		if !retry {
			return res, wrote, err
		}
		idTaken = idTaken || res.idTaken
		lastActual = res.LastVersion
	}
	// Other writers keep winning the race for this stream.
	return result{}, false, &eventstore.ConflictError{Stream: r.stream, Expected: r.expected, Actual: lastActual}
}

// result is an AppendResult with what the writer needs besides.
type result struct {
	eventstore.AppendResult
	lastHash [32]byte
	idTaken  bool // a lost race was on an event id, not on a version
}

// tryAlone is one attempt of appendAlone. retry reports a lost race: the
// transaction was rolled back and the caller should try again.
func (w *writer) tryAlone(ctx context.Context, conn *pgxpool.Conn, r *appendReq, idTaken bool) (res result, wrote, retry bool, err error) {
	sql := &w.s.sql
	w.s.statTransactions.Add(1)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return result{}, false, false, err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit this is a no-op
	var (
		oldStream  string
		oldVersion int64
	)
	err = tx.QueryRow(ctx, sql.findID, [16]byte(r.events[0].ID)).Scan(&oldStream, &oldVersion)
	switch {
	case err == nil:
		ar, err := w.replay(ctx, tx, r, oldStream, uint64(oldVersion))
		return result{AppendResult: ar}, false, false, err
	case !errors.Is(err, pgx.ErrNoRows):
		return result{}, false, false, err
	case idTaken:
		return result{}, false, false, fmt.Errorf("%w: an event id of this append is already stored in another stream or position", eventstore.ErrDuplicateEvent)
	}
	var (
		h    streamHead
		v    int64
		hash []byte
	)
	err = tx.QueryRow(ctx, sql.head, r.stream).Scan(&v, &hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return result{}, false, false, err
	}
	h.version = uint64(v)
	copy(h.hash[:], hash)
	if !eventstore.Satisfied(r.expected, h.version) {
		return result{}, false, false, &eventstore.ConflictError{Stream: r.stream, Expected: r.expected, Actual: h.version}
	}
	var rows rowSet
	now := w.s.cfg.Now()
	res.FirstVersion = h.version + 1
	for i := range r.events {
		e := eventstore.Seal(h.hash, r.stream, h.version+1, now, &r.events[i])
		rows.add(int32(i+1), &e)
		h = streamHead{version: e.Version, hash: e.Hash}
	}
	q, args := rows.insert(sql)
	var xid uint64
	var xmin uint64
	if err := tx.QueryRow(ctx, q, args...).Scan(&xid, &xmin); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40P01") {
			return result{AppendResult: eventstore.AppendResult{LastVersion: res.FirstVersion - 1}, idTaken: pe.ConstraintName == "events_id_key"}, false, true, nil
		}
		return result{}, false, false, err
	}
	if hook := w.s.cfg.beforeCommit; hook != nil {
		hook()
	}
	if err := tx.Commit(ctx); err != nil {
		return result{}, false, false, err
	}
	w.s.horizon.committed(xid, xmin) // see fast
	res.LastVersion = h.version
	res.lastHash = h.hash
	res.FirstPosition = eventstore.Position{Hi: xid, Lo: 1}
	res.LastPosition = eventstore.Position{Hi: xid, Lo: uint64(len(r.events))}
	return res, true, false, nil
}

// replay answers a retried append: the batch must match the stored events
// id for id, starting where the first id was stored.
func (w *writer) replay(ctx context.Context, tx pgx.Tx, r *appendReq, oldStream string, oldVersion uint64) (eventstore.AppendResult, error) {
	if oldStream != r.stream {
		return eventstore.AppendResult{}, fmt.Errorf("%w: event id %s is already stored in stream %q", eventstore.ErrDuplicateEvent, r.events[0].ID, oldStream)
	}
	rows, err := tx.Query(ctx, w.s.sql.idsFrom, r.stream, int64(oldVersion), len(r.events))
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	defer rows.Close()
	res := eventstore.AppendResult{FirstVersion: oldVersion}
	i := 0
	for rows.Next() {
		var (
			id  [16]byte
			xid uint64
			seq int32
		)
		if err := rows.Scan(&id, &xid, &seq); err != nil {
			return eventstore.AppendResult{}, err
		}
		if i >= len(r.events) || id != r.events[i].ID {
			break
		}
		p := eventstore.Position{Hi: xid, Lo: uint64(seq)}
		if i == 0 {
			res.FirstPosition = p
		}
		res.LastPosition = p
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
