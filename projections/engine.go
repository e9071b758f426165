package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/migrate"
)

// Envelope is a stored event with its decoded domain payload. Payload is nil
// for event types the registry does not know (read models skip them).
type Envelope struct {
	eventstore.Event
	Payload domain.Event
}

// Projection builds one read model. See the package comment for the
// determinism contract.
type Projection interface {
	// Name is durable: the checkpoint hangs on it.
	Name() string
	// Schema returns the projection's migration steps in portable SQL, in
	// order: internal/migrate applies each once (owner "readmodel:" +
	// Name, step i bringing it to version i+1). Append; never edit a step
	// that has shipped. The first steps keep IF NOT EXISTS: databases made
	// before steps were recorded already hold their tables.
	Schema() []string
	// Tables lists the tables the projection owns: a rebuild empties them,
	// a dump reads them.
	Tables() []string
	// Apply applies a batch of consecutive events (all after the
	// projection's checkpoint) through tx. An error rolls the whole batch
	// back, checkpoint included.
	Apply(ctx context.Context, tx *Tx, batch []Envelope) error
}

// Cacher is implemented by projections that keep committed rows in memory
// across batches (to skip reading them back). The engine tells them how each
// batch ended and when their tables were emptied. A projection that caches
// must be the only writer of its tables (one engine at a time).
type Cacher interface {
	// AfterBatch is called once the transaction of a batch the projection
	// took part in committed (true) or rolled back (false).
	AfterBatch(committed bool)
	// ResetCache drops everything cached (the tables were emptied).
	ResetCache()
}

// Counter counts the events of the log after a position. Optional: it
// makes lag and rebuild estimates cheap (see SQLiteCounter); without one the
// engine counts by reading the log.
type Counter func(ctx context.Context, after eventstore.Position) (int64, error)

// Config configures an Engine.
type Config struct {
	DB       *sql.DB          // the read-model database; required
	Dialect  Dialect          // default SQLite
	Store    eventstore.Store // the event log; required
	Registry *domain.Registry // default domain.NewRegistry()
	// BatchSize is the number of events read and committed together;
	// default 1000.
	BatchSize int
	// RebuildGroup is how many events a rebuild applies in one transaction
	// (pages of batchSize events, one commit per group), so that a row
	// touched many times is written once; default 2,000,000. A crash during a
	// rebuild loses at most the group in progress, which is applied again.
	RebuildGroup int
	// Counter, if set, counts events for Lag and rebuild progress.
	Counter Counter
	// PollInterval bounds how long Run waits without a store notification
	// before it reads again; default 500ms.
	PollInterval time.Duration
	// Now is used for progress rates; default time.Now.
	Now func() time.Time
	// RetryMin and RetryMax bound the pause before Run tries again after
	// a catch-up failed (a read-model commit refused by a full disk, a
	// read of the log that failed): it doubles from RetryMin up to
	// RetryMax; defaults 100ms and 5s (so the read models follow within 5 s
	// of a database coming back).
	RetryMin, RetryMax time.Duration
	// Log receives a line each time a catch-up fails and when it recovers;
	// default slog.Default().
	Log *slog.Logger
}

// Validate reports what is missing or wrong in c.
func (c Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("projections: Config.DB is nil; open the read-model database first (OpenSQLite)")
	case c.Store == nil:
		return errors.New("projections: Config.Store is nil; give the event store to follow")
	case c.BatchSize < 0:
		return errors.New("projections: Config.BatchSize must not be negative")
	case c.RetryMin < 0 || c.RetryMax < 0 || (c.RetryMax > 0 && c.RetryMin > c.RetryMax):
		return errors.New("projections: Config.RetryMin and RetryMax must not be negative, and RetryMin not above RetryMax")
	}
	return nil
}

// Engine runs named projections over the global log. It is safe for
// concurrent use; batches are applied one at a time. Only one Engine (one
// process) may write a set of read-model tables at a time.
type Engine struct {
	cfg    Config
	ps     []Projection
	byName map[string]Projection
	stmts  *Statements

	applyMu    sync.Mutex // one batch at a time
	mu         sync.Mutex
	cps        map[string]checkpoint
	generation uint64 // incremented by Reset
	notify     *eventstore.Notifier

	stallMu sync.Mutex
	stall   error     // why the last catch-up of Run failed; nil once one succeeds
	since   time.Time // when the current stall began
	retries uint64    // catch-ups of Run that failed and were retried
}

type checkpoint struct {
	pos    eventstore.Position
	events int64
}

// Errors.
var (
	// ErrUnknownProjection: no projection of that name is registered.
	ErrUnknownProjection = errors.New("projections: unknown projection / 未知的投影")
	// ErrWaitTimeout: WaitFor gave up before the projection reached the position.
	ErrWaitTimeout = errors.New("projections: read model not yet up to date / 读模型尚未更新")
)

// WaitError is returned by WaitFor when its context ends first. It matches
// ErrWaitTimeout (and the context's error) with errors.Is.
type WaitError struct {
	Projection string
	Want       eventstore.Position
	Reached    eventstore.Position
	Cause      error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("projection %q has reached position %s, not yet %s; try again shortly / 投影 %q 已处理到位置 %s，尚未到达 %s，请稍后重试",
		e.Projection, e.Reached, e.Want, e.Projection, e.Reached, e.Want)
}

// Is makes errors.Is(err, ErrWaitTimeout) true.
func (e *WaitError) Is(target error) bool { return target == ErrWaitTimeout }

// Unwrap returns the context's error.
func (e *WaitError) Unwrap() error { return e.Cause }

const checkpointTable = "projection_checkpoints"

// New returns an engine for the given projections (names must be unique).
// Call Init before anything else.
func New(cfg Config, ps ...Projection) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dialect == nil {
		cfg.Dialect = SQLite
	}
	if cfg.Registry == nil {
		cfg.Registry = domain.NewRegistry()
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 1000
	}
	if cfg.RebuildGroup <= 0 {
		cfg.RebuildGroup = 2_000_000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = 100 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = max(5*time.Second, cfg.RetryMin)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	e := &Engine{cfg: cfg, byName: map[string]Projection{}, cps: map[string]checkpoint{},
		stmts: NewStatements(cfg.DB, cfg.Dialect), notify: eventstore.NewNotifier()}
	for _, p := range ps {
		if _, dup := e.byName[p.Name()]; dup {
			return nil, fmt.Errorf("projections: projection %q registered twice", p.Name())
		}
		e.byName[p.Name()] = p
		e.ps = append(e.ps, p)
	}
	return e, nil
}

// Init creates or migrates the checkpoint table and every projection's
// tables (internal/migrate) and loads the checkpoints.
func (e *Engine) Init(ctx context.Context) error {
	if err := e.migrate(ctx); err != nil {
		return err
	}
	for _, p := range e.ps {
		cp, err := e.loadCheckpoint(ctx, p.Name())
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.cps[p.Name()] = cp
		e.mu.Unlock()
	}
	return nil
}

// Migrations returns the engine's migration sets: the checkpoint table
// (owner "projections") and each projection's Schema (owner "readmodel:" +
// its name), adapted to the dialect.
func (e *Engine) Migrations() []migrate.Set {
	sets := []migrate.Set{{Owner: "projections", Steps: []string{`CREATE TABLE IF NOT EXISTS ` + checkpointTable + ` (
		name   TEXT PRIMARY KEY,
		hi     BIGINT NOT NULL,
		lo     BIGINT NOT NULL,
		events BIGINT NOT NULL)`}}}
	for _, p := range e.ps {
		var steps []string
		for _, q := range p.Schema() {
			steps = append(steps, e.cfg.Dialect.ExpandDDL(q))
		}
		sets = append(sets, migrate.Set{Owner: "readmodel:" + p.Name(), Steps: steps})
	}
	return sets
}

// migrate applies Migrations in one transaction; on PostgreSQL under the
// schema's migration lock, so several nodes may start at once.
func (e *Engine) migrate(ctx context.Context) error {
	db, err := e.cfg.Dialect.migrations(ctx, e.cfg.DB)
	if err != nil {
		return err
	}
	if err := migrate.Up(ctx, db, e.Migrations()...); err != nil {
		return fmt.Errorf("projections: create schema: %w", err)
	}
	return nil
}

// Migrate applies sets on the read-model database db through
// internal/migrate, as the engine applies its own: on PostgreSQL under the
// schema's migration lock. Other followers of the log that keep their
// checkpoints beside the projections' (the broker relay) use it.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, sets ...migrate.Set) error {
	mdb, err := d.migrations(ctx, db)
	if err != nil {
		return err
	}
	if err := migrate.Up(ctx, mdb, sets...); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	return nil
}

// shared reports whether other processes may write the same read models:
// then every batch re-reads the checkpoints under a lock.
func (e *Engine) shared() bool { return e.cfg.Dialect.Shared() }

// Close releases prepared statements. It does not close the database.
func (e *Engine) Close() error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.stmts.Close()
	return nil
}

// Projections returns the registered projection names in registration order.
func (e *Engine) Projections() []string {
	out := make([]string, len(e.ps))
	for i, p := range e.ps {
		out[i] = p.Name()
	}
	return out
}

// Projection returns a registered projection by name.
func (e *Engine) Projection(name string) (Projection, bool) {
	p, ok := e.byName[name]
	return p, ok
}

func (e *Engine) loadCheckpoint(ctx context.Context, name string) (checkpoint, error) {
	pos, n, err := CommittedCheckpoint(ctx, e.cfg.DB, e.cfg.Dialect, name)
	return checkpoint{pos: pos, events: n}, err
}

// CommittedCheckpoint returns the checkpoint of projection name as committed
// in db (zero if it has none), without an engine: the position up to which
// the projection has applied the log and the number of events it has
// applied. Every commit that changes a projection's tables moves its
// checkpoint in the same transaction, and a reset deletes both, so a reader
// that reads the same checkpoint before and after a query knows the answer
// is that of this checkpoint, and may reuse it until the checkpoint moves.
func CommittedCheckpoint(ctx context.Context, db *sql.DB, d Dialect, name string) (eventstore.Position, int64, error) {
	if d == nil {
		d = SQLite
	}
	var hi, lo, n int64
	err := db.QueryRowContext(ctx, d.Rebind(`SELECT hi, lo, events FROM `+checkpointTable+` WHERE name = ?`), name).Scan(&hi, &lo, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Position{}, 0, nil
	}
	if err != nil {
		return eventstore.Position{}, 0, fmt.Errorf("projections: read checkpoint of %q: %w", name, err)
	}
	return eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}, n, nil
}

// Checkpoint returns the position up to which the projection has applied
// the log, as committed in the database (so it also reflects an engine
// running in another process), and the number of events it has applied.
func (e *Engine) Checkpoint(ctx context.Context, name string) (eventstore.Position, int64, error) {
	if _, ok := e.byName[name]; !ok {
		return eventstore.Position{}, 0, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	cp, err := e.loadCheckpoint(ctx, name)
	return cp.pos, cp.events, err
}

func (e *Engine) minCheckpoint() eventstore.Position {
	e.mu.Lock()
	defer e.mu.Unlock()
	var m eventstore.Position
	for i, p := range e.ps {
		cp := e.cps[p.Name()].pos
		if i == 0 || cp.Before(m) {
			m = cp
		}
	}
	return m
}

// CatchUp applies every event stored after the projections' checkpoints and
// returns the number of log events read. progress, if not nil, is called
// after each batch.
func (e *Engine) CatchUp(ctx context.Context, progress func(Progress)) (int, error) {
	return e.catchUp(ctx, e.cfg.BatchSize, e.cfg.BatchSize, progress)
}

func (e *Engine) catchUp(ctx context.Context, batch, group int, progress func(Progress)) (int, error) {
	var tracker *progressTracker
	if progress != nil {
		tracker = e.newTracker(ctx)
	}
	total := 0
	for {
		n, more, err := e.catchUpOnce(ctx, batch, group, tracker, progress)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

type decodedPage struct {
	envs []Envelope
	err  error
}

// catchUpOnce reads the log from the lowest checkpoint to its end, reading
// and decoding the next page on another goroutine while the current one is
// applied, and commits every group events (at least one page) in one
// transaction. more is true when a Reset happened meanwhile (or another
// engine moved the checkpoints) and the caller
// must start again from the (new) lowest checkpoint.
func (e *Engine) catchUpOnce(ctx context.Context, batch, group int, tracker *progressTracker, progress func(Progress)) (n int, more bool, err error) {
	e.mu.Lock()
	gen := e.generation
	e.mu.Unlock()
	after := e.minCheckpoint()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan decodedPage, 2)
	go func() {
		defer close(pages)
		for {
			page, err := e.cfg.Store.ReadAll(ctx, after, batch)
			if err != nil {
				select {
				case pages <- decodedPage{err: fmt.Errorf("projections: read the log after %s: %w", after, err)}:
				case <-ctx.Done():
				}
				return
			}
			if len(page) == 0 {
				return
			}
			envs, err := Decode(e.cfg.Registry, page)
			select {
			case pages <- decodedPage{envs: envs, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(page) < batch {
				return
			}
			after = page[len(page)-1].Position
		}
	}()
	var g *txGroup
	defer func() {
		if g != nil { // an error or a cancellation left it open
			g.abandon()
		}
	}()
	for p := range pages {
		if p.err != nil {
			return n, false, p.err
		}
		if g == nil {
			if g, err = e.begin(ctx, gen); err != nil || g == nil {
				return n, g == nil && err == nil, err
			}
		}
		if err := g.apply(ctx, p.envs); err != nil {
			return n, false, err
		}
		n += len(p.envs)
		if tracker != nil {
			progress(tracker.step(p.envs[len(p.envs)-1].Position, len(p.envs)))
		}
		if g.events >= group {
			err := g.commit(ctx)
			g = nil
			if err != nil {
				return n, false, err
			}
		}
	}
	if g != nil {
		err := g.commit(ctx)
		g = nil
		if err != nil {
			return n, false, err
		}
	}
	return n, false, ctx.Err()
}

// Accumulator is implemented by projections that gather the changes of a
// transaction over several Apply calls (the engine may apply many pages in
// one transaction during a rebuild) and write them in Flush, which the
// engine calls once, before it writes the checkpoints and commits. Discard
// is called instead when the transaction is abandoned.
type Accumulator interface {
	Flush(ctx context.Context, tx *Tx) error
	Discard()
}

// txGroup is one transaction applying one or more consecutive pages.
type txGroup struct {
	e       *Engine
	sqltx   *sql.Tx
	tx      *Tx
	cps     map[string]checkpoint // advanced page by page
	touched []Projection
	seen    map[string]bool
	events  int
	last    eventstore.Position
}

// begin takes the apply lock and opens a transaction; it returns nil (and
// no error) when a Reset happened since generation gen was read, or (on a
// shared database) another engine moved the checkpoints.
func (e *Engine) begin(ctx context.Context, gen uint64) (*txGroup, error) {
	e.applyMu.Lock()
	e.mu.Lock()
	if e.generation != gen {
		e.mu.Unlock()
		e.applyMu.Unlock()
		return nil, nil
	}
	cps := make(map[string]checkpoint, len(e.cps))
	for k, v := range e.cps {
		cps[k] = v
	}
	e.mu.Unlock()
	sqltx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		e.applyMu.Unlock()
		return nil, fmt.Errorf("projections: begin: %w", err)
	}
	if e.shared() {
		// Another engine (a node that held the lead before this one, one
		// that has not yet noticed it lost it, or a rebuild run by hand)
		// may have moved the checkpoints. Lock and compare: if they moved, start again
		// from what is committed, with empty caches, so nothing is applied
		// twice or skipped.
		moved, err := e.syncCheckpoints(ctx, sqltx, cps)
		if err != nil || moved {
			sqltx.Rollback()
			e.applyMu.Unlock()
			return nil, err
		}
	}
	return &txGroup{e: e, sqltx: sqltx, tx: &Tx{tx: sqltx, cache: e.stmts, local: map[string]*sql.Stmt{}},
		cps: cps, seen: map[string]bool{}}, nil
}

// syncCheckpoints takes the apply lock in tx, reads the checkpoints and
// compares them with cps (this engine's view). If any differs it adopts the committed ones,
// drops every projection's cache and bumps the generation, and reports
// moved, so that the caller starts again from the committed checkpoints.
func (e *Engine) syncCheckpoints(ctx context.Context, tx *sql.Tx, cps map[string]checkpoint) (moved bool, err error) {
	if err := e.cfg.Dialect.LockApply(ctx, tx); err != nil {
		return false, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, hi, lo, events FROM `+checkpointTable+` ORDER BY name`)
	if err != nil {
		return false, fmt.Errorf("projections: lock checkpoints: %w", err)
	}
	committed := map[string]checkpoint{}
	for rows.Next() {
		var name string
		var hi, lo, n int64
		if err := rows.Scan(&name, &hi, &lo, &n); err != nil {
			rows.Close()
			return false, fmt.Errorf("projections: lock checkpoints: %w", err)
		}
		committed[name] = checkpoint{pos: eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}, events: n}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("projections: lock checkpoints: %w", err)
	}
	for _, p := range e.ps {
		if committed[p.Name()] != cps[p.Name()] {
			moved = true
		}
	}
	if !moved {
		return false, nil
	}
	e.mu.Lock()
	for _, p := range e.ps {
		e.cps[p.Name()] = committed[p.Name()]
		if c, ok := p.(Cacher); ok {
			c.ResetCache()
		}
	}
	e.generation++
	e.mu.Unlock()
	return true, nil
}

// apply hands each projection the events of envs after its checkpoint.
func (g *txGroup) apply(ctx context.Context, envs []Envelope) error {
	last := envs[len(envs)-1].Position
	for _, p := range g.e.ps {
		cp := g.cps[p.Name()]
		i, _ := slices.BinarySearchFunc(envs, cp.pos, func(x Envelope, pos eventstore.Position) int {
			return x.Position.Compare(pos)
		})
		if i < len(envs) && envs[i].Position == cp.pos {
			i++
		}
		sub := envs[i:]
		if len(sub) == 0 {
			continue
		}
		if !g.seen[p.Name()] {
			g.seen[p.Name()] = true
			g.touched = append(g.touched, p)
		}
		if err := p.Apply(ctx, g.tx, sub); err != nil {
			return fmt.Errorf("projections: %s: apply events %s…%s: %w", p.Name(), sub[0].Position, last, err)
		}
		g.cps[p.Name()] = checkpoint{pos: last, events: cp.events + int64(len(sub))}
	}
	g.events += len(envs)
	g.last = last
	return nil
}

// commit flushes accumulating projections, saves the checkpoints and
// commits, then releases the apply lock.
func (g *txGroup) commit(ctx context.Context) error {
	e := g.e
	defer e.applyMu.Unlock()
	defer g.tx.close()
	fail := func(err error) error {
		g.sqltx.Rollback()
		g.after(false)
		return err
	}
	for _, p := range g.touched {
		if a, ok := p.(Accumulator); ok {
			if err := a.Flush(ctx, g.tx); err != nil {
				return fail(fmt.Errorf("projections: %s: write batch ending at %s: %w", p.Name(), g.last, err))
			}
		}
	}
	for _, p := range g.touched {
		cp := g.cps[p.Name()]
		if err := g.tx.Exec(ctx, `INSERT INTO `+checkpointTable+` (name, hi, lo, events) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET hi = excluded.hi, lo = excluded.lo, events = excluded.events`,
			p.Name(), int64(cp.pos.Hi), int64(cp.pos.Lo), cp.events); err != nil {
			return fail(fmt.Errorf("projections: %s: save checkpoint: %w", p.Name(), err))
		}
	}
	if err := g.sqltx.Commit(); err != nil {
		g.after(false)
		return fmt.Errorf("projections: commit batch ending at %s: %w", g.last, err)
	}
	g.after(true)
	e.mu.Lock()
	for _, p := range g.touched {
		e.cps[p.Name()] = g.cps[p.Name()]
	}
	e.mu.Unlock()
	e.notify.Notify()
	return nil
}

// abandon rolls the transaction back and releases the apply lock.
func (g *txGroup) abandon() {
	g.sqltx.Rollback()
	g.tx.close()
	g.after(false)
	g.e.applyMu.Unlock()
}

func (g *txGroup) after(committed bool) {
	for _, p := range g.touched {
		if a, ok := p.(Accumulator); ok && !committed {
			a.Discard()
		}
		if c, ok := p.(Cacher); ok {
			c.AfterBatch(committed)
		}
	}
}

// Decode decodes a page of stored events into envelopes. An event of a
// known type whose data does not decode is an error naming its position.
func Decode(reg *domain.Registry, page []eventstore.Event) ([]Envelope, error) {
	envs := make([]Envelope, len(page))
	for i := range page {
		envs[i].Event = page[i]
		if !reg.Known(page[i].Type) {
			continue
		}
		ev, err := reg.Decode(page[i].Type, page[i].Data)
		if err != nil {
			return nil, fmt.Errorf("projections: event at position %s (%s %s v%d): %w", page[i].Position, page[i].Type, page[i].Stream, page[i].Version, err)
		}
		envs[i].Payload = ev
	}
	return envs, nil
}

// Run catches up and then follows the log live until ctx ends, applying new
// events in batches as they commit. It returns ctx's error on cancellation,
// or the subscription's error when the store ends it.
//
// A catch-up that fails — a read-model commit refused ("database or disk
// is full", a lost connection), a read of the log that failed, a
// projection's error — does not stop Run: the batch is rolled back (no
// checkpoint moves past what was committed), Stalled reports the failure,
// a line is logged, and Run tries again after a pause that doubles from
// Config.RetryMin up to Config.RetryMax, until a catch-up succeeds.
func (e *Engine) Run(ctx context.Context) error {
	head, err := e.cfg.Store.Head(ctx)
	if err != nil {
		return fmt.Errorf("projections: read the head of the log: %w", err)
	}
	// The subscription only wakes the engine: events are always read with
	// ReadAll from the lowest checkpoint, so a batch never skips an event
	// whatever the checkpoints are (e.g. after a rebuild started meanwhile).
	sub, err := e.cfg.Store.Subscribe(ctx, head, eventstore.Filter{})
	if err != nil {
		return fmt.Errorf("projections: subscribe: %w", err)
	}
	defer sub.Close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		wait := e.cfg.PollInterval
		if _, err := e.CatchUp(ctx, nil); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			wait = e.retryDelay(failures)
			e.stalled(err)
			e.cfg.Log.Warn("projections: catching up failed; the read models stay at their last commit and catching up is retried / 投影更新失败，读模型停留在最后一次提交处，稍后重试",
				"error", err.Error(), "attempt", failures, "retry_in", wait.String())
		} else {
			if failures > 0 {
				e.cfg.Log.Info("projections: caught up again after failures / 投影在失败后已恢复更新", "failed_attempts", failures)
				failures = 0
			}
			// Also clears a stall left by an earlier Run (one that ended
			// with its subscription when the database went away, and was
			// started again by the caller).
			e.stalled(nil)
		}
		timer.Reset(wait)
		// While waiting to retry, notifications are drained like any
		// other, so a long stall never backs up the subscription; they do
		// not cut the pause short.
	waiting:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case _, ok := <-sub.C:
				if !ok {
					if err := sub.Err(); err != nil {
						return fmt.Errorf("projections: subscription ended: %w", err)
					}
					return ctx.Err()
				}
				if failures == 0 {
					break waiting
				}
			case <-timer.C:
				break waiting
			}
		}
	drain:
		for {
			// A closed channel would answer at once forever: leave it
			// to the select above, which returns the subscription's
			// error on the next turn.
			select {
			case _, ok := <-sub.C:
				if !ok {
					break drain
				}
			default:
				break drain
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// retryDelay is the pause after the n-th failure in a row (n >= 1).
func (e *Engine) retryDelay(n int) time.Duration {
	d := e.cfg.RetryMin
	for i := 1; i < n && d < e.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, e.cfg.RetryMax)
}

func (e *Engine) stalled(err error) {
	e.stallMu.Lock()
	defer e.stallMu.Unlock()
	switch {
	case err == nil:
		e.stall = nil
	case e.stall == nil:
		e.stall, e.since = err, e.cfg.Now()
		e.retries++
	default:
		e.stall = err
		e.retries++
	}
}

// StalledError is what Stalled returns while Run keeps failing to catch up.
type StalledError struct {
	Since time.Time // when the first failure in a row happened
	Err   error     // the last failure
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("the read models stopped at their last commit at %s because catching up failed (%v); it is being retried, "+
		"queries answer from the last commit meanwhile / 读模型自 %s 起停留在最后一次提交处（更新失败：%v），正在重试，其间查询返回最后一次提交的数据",
		e.Since.UTC().Format(time.RFC3339), e.Err, e.Since.UTC().Format(time.RFC3339), e.Err)
}

func (e *StalledError) Unwrap() error { return e.Err }

// Stalled returns a *StalledError while Run's catch-ups keep failing (the
// read models are behind the log and are being retried), nil otherwise.
func (e *Engine) Stalled() error {
	e.stallMu.Lock()
	defer e.stallMu.Unlock()
	if e.stall == nil {
		return nil
	}
	return &StalledError{Since: e.since, Err: e.stall}
}

// Retries returns how many catch-ups of Run failed and were retried since
// the engine started.
func (e *Engine) Retries() uint64 {
	e.stallMu.Lock()
	defer e.stallMu.Unlock()
	return e.retries
}

// Lag returns how many events of the log the projection has not applied
// yet (head position versus checkpoint, counted in events).
func (e *Engine) Lag(ctx context.Context, name string) (int64, error) {
	cp, _, err := e.Checkpoint(ctx, name)
	if err != nil {
		return 0, err
	}
	return e.count(ctx, cp)
}

func (e *Engine) count(ctx context.Context, after eventstore.Position) (int64, error) {
	if e.cfg.Counter != nil {
		return e.cfg.Counter(ctx, after)
	}
	var n int64
	for {
		page, err := e.cfg.Store.ReadAll(ctx, after, 5000)
		if err != nil {
			return n, err
		}
		n += int64(len(page))
		if len(page) < 5000 {
			return n, nil
		}
		after = page[len(page)-1].Position
	}
}

// WaitFor blocks until the projection has applied the log up to and
// including pos (read-your-writes: pos is the position a command's append
// returned). It gives up when ctx ends, returning a *WaitError that matches
// ErrWaitTimeout. It works whether the engine applying events runs in this
// process or another one sharing the database.
func (e *Engine) WaitFor(ctx context.Context, name string, pos eventstore.Position) error {
	if _, ok := e.byName[name]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var reached eventstore.Position
	first := true
	for {
		w := e.notify.Wait()
		e.mu.Lock()
		reached = e.cps[name].pos
		e.mu.Unlock()
		if !reached.Before(pos) {
			return nil
		}
		if first && e.shared() {
			// The engine applying events may run in another process:
			// look at the committed checkpoint before waiting a tick.
			first = false
			if cp, err := e.loadCheckpoint(ctx, name); err == nil && !cp.pos.Before(pos) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return &WaitError{Projection: name, Want: pos, Reached: reached, Cause: ctx.Err()}
		case <-w:
		case <-tick.C:
			cp, err := e.loadCheckpoint(ctx, name)
			if err == nil && !cp.pos.Before(pos) {
				return nil
			}
		}
	}
}

// Reset empties the named projections' tables and checkpoints in one
// transaction, so that the next CatchUp or Run rebuilds them from position 0.
// No name means all.
func (e *Engine) Reset(ctx context.Context, names ...string) error {
	ps, err := e.selectProjections(names)
	if err != nil {
		return err
	}
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	tx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: begin reset: %w", err)
	}
	defer tx.Rollback()
	if err := e.cfg.Dialect.LockApply(ctx, tx); err != nil {
		return err
	}
	for _, p := range ps {
		for _, t := range p.Tables() {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("projections: reset %s: %w", p.Name(), err)
			}
		}
		if _, err := tx.ExecContext(ctx, e.cfg.Dialect.Rebind(`DELETE FROM `+checkpointTable+` WHERE name = ?`), p.Name()); err != nil {
			return fmt.Errorf("projections: reset %s: %w", p.Name(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: commit reset: %w", err)
	}
	e.mu.Lock()
	for _, p := range ps {
		e.cps[p.Name()] = checkpoint{}
		if c, ok := p.(Cacher); ok {
			c.ResetCache()
		}
	}
	e.generation++
	e.mu.Unlock()
	return nil
}

func (e *Engine) selectProjections(names []string) ([]Projection, error) {
	if len(names) == 0 {
		return e.ps, nil
	}
	var ps []Projection
	for _, n := range names {
		p, ok := e.byName[n]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownProjection, n)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Rebuild empties the named projections (all if none) and applies the
// whole log again from position 0 with batches of batchSize events (0: the
// configured size), calling progress after each batch. Projections not
// named keep their state and only receive events after their checkpoints.
func (e *Engine) Rebuild(ctx context.Context, batchSize int, progress func(Progress), names ...string) (int, error) {
	if err := e.Reset(ctx, names...); err != nil {
		return 0, err
	}
	if batchSize <= 0 {
		batchSize = e.cfg.BatchSize
	}
	return e.catchUp(ctx, batchSize, max(batchSize, e.cfg.RebuildGroup), progress)
}

// Progress reports how far a catch-up or rebuild has come.
type Progress struct {
	Position  eventstore.Position // the last position applied
	Count     int64               // events applied so far in this run
	Total     int64               // events to apply in this run when it started; -1 if unknown
	Rate      float64             // events per second so far
	Elapsed   time.Duration
	Remaining time.Duration // estimated time left; -1 if unknown
}

type progressTracker struct {
	e     *Engine
	start time.Time
	total int64
	count int64
}

func (e *Engine) newTracker(ctx context.Context) *progressTracker {
	t := &progressTracker{e: e, start: e.cfg.Now(), total: -1}
	if e.cfg.Counter != nil {
		if n, err := e.cfg.Counter(ctx, e.minCheckpoint()); err == nil {
			t.total = n
		}
	}
	return t
}

func (t *progressTracker) step(pos eventstore.Position, n int) Progress {
	t.count += int64(n)
	el := t.e.cfg.Now().Sub(t.start)
	p := Progress{Position: pos, Count: t.count, Total: t.total, Elapsed: el, Remaining: -1}
	if el > 0 {
		p.Rate = float64(t.count) / el.Seconds()
	}
	if t.total >= 0 && p.Rate > 0 {
		left := t.total - t.count
		if left < 0 {
			left = 0
		}
		p.Remaining = time.Duration(float64(left) / p.Rate * float64(time.Second))
	}
	return p
}
