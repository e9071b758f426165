// Package relay publishes every event of the global log, in log order, to
// message brokers through Watermill (github.com/ThreeDotsLabs/watermill):
// NATS JetStream (watermill-nats, JetStream mode) and RabbitMQ
// (watermill-amqp), each event as a CloudEvents 1.0 event in structured
// mode (package cloudevent), its sealed fields as markers.
//
// Each target follows the log from its own checkpoint, kept in the table
// relay_checkpoints beside the projections' checkpoints in the read-model
// database (SQLite or PostgreSQL, created through internal/migrate). Events
// are published one after the other, each waiting for the broker's
// acknowledgement (JetStream ack, AMQP publisher confirm); the checkpoint
// advances only after every event up to it was acknowledged. So delivery
// is at least once: after a crash the events after the checkpoint are
// published again (same CloudEvents id; JetStream also drops them within its
// duplicate window). A broker outage pauses the target, logged once with a
// metric; it retries with a growing pause (at most MaxPause) and resumes
// with the first unacknowledged event, so nothing is lost or reordered.
//
// A relay runs on one node at a time (cmd/doorstep starts it beside the
// projections, on the elected node when several share PostgreSQL). See
// decision 0079.
package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/migrate"
	"github.com/doorstep/doorstep/projections"
)

// Config configures a Relay.
type Config struct {
	Store   eventstore.Store    // the log; required
	DB      *sql.DB             // the read-model database holding the checkpoints; required
	Dialect projections.Dialect // default SQLite
	Encoder *cloudevent.Encoder // required
	Targets []Target            // at least one; names unique
	Logger  *slog.Logger        // default: discard
	Counter projections.Counter // optional: counts events after a position, for the lag
	// Connect opens a target's publisher; default Connect. Tests and
	// benchmarks may wrap it.
	Connect func(Target, *slog.Logger) (message.Publisher, error)
	// Batch is how many events at most are published before the last
	// acknowledged position is handed to the checkpoint writer; default
	// 256.
	Batch int
	// MaxPause bounds the pause between two tries while a broker is
	// unreachable; default 2s.
	MaxPause time.Duration
	Now      func() time.Time // default time.Now
}

// Relay publishes the log to its targets. Create it with New, call Init,
// then Run.
type Relay struct {
	cfg     Config
	mu      sync.Mutex
	targets map[string]*targetState
	saved   *eventstore.Notifier // notified at each checkpoint written
}

type targetState struct {
	Target
	delivered, failed uint64
	paused            bool
	lastErr           string
	position          eventstore.Position // committed checkpoint
	events            int64
}

// Status is what a target has done, for metrics and `doorstep relay status`.
type Status struct {
	Name, Target string
	// Position is the committed checkpoint: every event up to it was
	// acknowledged by the broker. Events is how many events that is.
	Position eventstore.Position
	Events   int64
	// Delivered and Failed count publications acknowledged and refused
	// (or unanswered) since this process started.
	Delivered, Failed uint64
	// Paused is true while the broker is unreachable; LastError says why.
	Paused    bool
	LastError string
	// LagEvents is the number of events after the checkpoint (see Lag);
	// LagSeconds how long ago the log recorded the first of them
	// (0 when there is none).
	LagEvents  int64
	LagSeconds float64
}

const checkpointTable = "relay_checkpoints"

// Migrations returns the relay's migration set (owner "relay"): the
// checkpoint table, beside projection_checkpoints.
func Migrations() migrate.Set {
	return migrate.Set{Owner: "relay", Steps: []string{`CREATE TABLE IF NOT EXISTS ` + checkpointTable + ` (
		name       TEXT PRIMARY KEY,
		hi         BIGINT NOT NULL,
		lo         BIGINT NOT NULL,
		events     BIGINT NOT NULL,
		updated_at BIGINT NOT NULL)`}}
}

// New checks cfg and returns a relay.
func New(cfg Config) (*Relay, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("relay: Config.Store is nil; give the event store to follow")
	case cfg.DB == nil:
		return nil, errors.New("relay: Config.DB is nil; give the read-model database that keeps the checkpoints")
	case cfg.Encoder == nil:
		return nil, errors.New("relay: Config.Encoder is nil; build one with cloudevent.NewEncoder")
	case len(cfg.Targets) == 0:
		return nil, errors.New("relay: no target; give at least one nats:// or amqp:// URL")
	}
	if cfg.Dialect == nil {
		cfg.Dialect = projections.SQLite
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Connect == nil {
		cfg.Connect = Connect
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.MaxPause <= 0 {
		cfg.MaxPause = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Relay{cfg: cfg, targets: map[string]*targetState{}, saved: eventstore.NewNotifier()}
	for _, t := range cfg.Targets {
		if _, dup := r.targets[t.Name]; dup {
			return nil, fmt.Errorf("relay: two targets are named %q; give one of them another name (?name=…) / 中继目标重名", t.Name)
		}
		r.targets[t.Name] = &targetState{Target: t}
	}
	return r, nil
}

// Init creates the checkpoint table if needed (internal/migrate) and loads
// the checkpoints.
func (r *Relay) Init(ctx context.Context) error {
	if err := Init(ctx, r.cfg.DB, r.cfg.Dialect); err != nil {
		return err
	}
	for _, t := range r.cfg.Targets {
		pos, n, err := r.load(ctx, t.Name)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.targets[t.Name].position, r.targets[t.Name].events = pos, n
		r.mu.Unlock()
	}
	return nil
}

// Init creates or migrates the checkpoint table in db.
func Init(ctx context.Context, db *sql.DB, d projections.Dialect) error {
	if err := projections.Migrate(ctx, db, d, Migrations()); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	return nil
}

func (r *Relay) load(ctx context.Context, name string) (eventstore.Position, int64, error) {
	return LoadCheckpoint(ctx, r.cfg.DB, r.cfg.Dialect, name)
}

// LoadCheckpoint reads a target's committed checkpoint (zero when it has
// none yet).
func LoadCheckpoint(ctx context.Context, db *sql.DB, d projections.Dialect, name string) (eventstore.Position, int64, error) {
	var hi, lo, n int64
	err := db.QueryRowContext(ctx, d.Rebind(`SELECT hi, lo, events FROM `+checkpointTable+` WHERE name = ?`), name).Scan(&hi, &lo, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Position{}, 0, nil
	}
	if err != nil {
		return eventstore.Position{}, 0, fmt.Errorf("relay: read the checkpoint of %q: %w", name, err)
	}
	return eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}, n, nil
}

// Checkpoints lists every target's committed checkpoint in db, by name,
// with when it was last written: what `doorstep relay status` shows.
func Checkpoints(ctx context.Context, db *sql.DB, d projections.Dialect) ([]Status, []time.Time, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, hi, lo, events, updated_at FROM `+checkpointTable+` ORDER BY name`)
	if err != nil {
		return nil, nil, fmt.Errorf("relay: read the checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Status
	var at []time.Time
	for rows.Next() {
		var s Status
		var hi, lo, ns int64
		if err := rows.Scan(&s.Name, &hi, &lo, &s.Events, &ns); err != nil {
			return nil, nil, fmt.Errorf("relay: read the checkpoints: %w", err)
		}
		s.Position = eventstore.Position{Hi: uint64(hi), Lo: uint64(lo)}
		out = append(out, s)
		at = append(at, time.Unix(0, ns).UTC())
	}
	return out, at, rows.Err()
}

func (r *Relay) save(ctx context.Context, name string, pos eventstore.Position, n int64) error {
	_, err := r.cfg.DB.ExecContext(ctx, r.cfg.Dialect.Rebind(`INSERT INTO `+checkpointTable+` (name, hi, lo, events, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET hi = excluded.hi, lo = excluded.lo, events = excluded.events, updated_at = excluded.updated_at`),
		name, int64(pos.Hi), int64(pos.Lo), n, r.cfg.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("relay: write the checkpoint of %q at %s: %w", name, pos, err)
	}
	r.mu.Lock()
	r.targets[name].position, r.targets[name].events = pos, n
	r.mu.Unlock()
	r.saved.Notify()
	return nil
}

// Run publishes to every target until ctx ends, and returns nil then. A
// broker that does not acknowledge pauses its target (retrying the same
// event); a target stopped by another error (the log or the checkpoint
// database failing) starts again from its checkpoint (keepRunning).
func (r *Relay) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(r.cfg.Targets))
	for _, t := range r.cfg.Targets {
		go func() { errs <- r.keepRunning(ctx, t) }()
	}
	var first error
	for range r.cfg.Targets {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	if ctx.Err() != nil && first != nil && errors.Is(first, context.Canceled) {
		return nil
	}
	return first
}

// keepRunning runs t until ctx ends. A target that stops on an error (the
// log or the checkpoint database unreadable for a while) is logged, shown
// as paused, and started again from its committed checkpoint after a pause:
// at least once, never skipping.
func (r *Relay) keepRunning(ctx context.Context, t Target) error {
	log := r.cfg.Logger.With("target", t.Name)
	pause := 250 * time.Millisecond
	for {
		err := r.runTarget(ctx, t)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		r.mu.Lock()
		s := r.targets[t.Name]
		s.paused, s.lastErr = true, err.Error()
		r.mu.Unlock()
		log.Error("relay stopped; starting again from the checkpoint / 中继停止，将从检查点重新开始", "error", err.Error(), "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, r.cfg.MaxPause)
	}
}

// runTarget follows the log from t's checkpoint and publishes it.
func (r *Relay) runTarget(ctx context.Context, t Target) error {
	log := r.cfg.Logger.With("target", t.Name)
	pos, n, err := r.load(ctx, t.Name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.targets[t.Name].position, r.targets[t.Name].events = pos, n
	r.mu.Unlock()

	var pub message.Publisher
	defer func() {
		if pub != nil {
			_ = pub.Close()
		}
	}()
	p := &pauser{r: r, name: t.Name, log: log, max: r.cfg.MaxPause}
	for pub == nil {
		if pub, err = r.cfg.Connect(t, log); err != nil {
			if err := p.fail(ctx, err); err != nil {
				return nil
			}
		}
	}
	p.ok()
	log.Info("relay: publishing the log / 中继开始发布事件", "to", t.String(), "after", pos.String())

	sub, err := r.cfg.Store.Subscribe(ctx, pos, eventstore.Filter{})
	if err != nil {
		return fmt.Errorf("relay %s: follow the log: %w", t.Name, err)
	}
	defer sub.Close()
	// Encoding runs ahead of publishing, on its own goroutine: while the
	// publisher waits for the broker's acknowledgement, the next events are
	// read and turned into CloudEvents.
	type item struct {
		ev  eventstore.Event
		msg *message.Message
	}
	items := make(chan item, 2*r.cfg.Batch)
	var encErr error
	go func() {
		defer close(items)
		for ev := range sub.C {
			msg, err := Message(r.cfg.Encoder, &ev)
			if err != nil {
				encErr = fmt.Errorf("relay %s: %w", t.Name, err)
				return
			}
			select {
			case items <- item{ev, msg}:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() == nil {
			encErr = fmt.Errorf("relay %s: the log subscription ended: %w", t.Name, sub.Err())
		}
	}()
	// The checkpoint is written beside publishing, on its own goroutine:
	// the publisher hands it the last acknowledged position after each
	// batch (a newer one replaces one not yet written) and goes on with
	// the next events, so a slow or busy read-model database does not hold
	// publications back. Only acknowledged positions are handed over: the
	// checkpoint never passes an event the broker has not acknowledged.
	saver := r.startSaver(ctx, t.Name, log)
	defer saver.stop() // writes the last acknowledged position, also when stopping
	batch := make([]item, 0, r.cfg.Batch)
	for {
		if err := saver.failed(); err != nil {
			return err
		}
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case err := <-saver.err:
			return err
		case it, ok := <-items:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return encErr
			}
			batch = append(batch, it)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case it, ok := <-items:
				if !ok {
					break fill
				}
				batch = append(batch, it)
			default:
				break fill
			}
		}
		i := 0
		for i < len(batch) && ctx.Err() == nil {
			ev, msg := &batch[i].ev, batch[i].msg
			msg.SetContext(ctx)
			if err := pub.Publish(t.Topic(ev), msg); err != nil {
				if ctx.Err() != nil {
					break
				}
				r.count(t.Name, 0, 1)
				_ = p.fail(ctx, err)
				continue // the same event again: nothing skipped, nothing reordered
			}
			p.ok()
			r.count(t.Name, 1, 0)
			i++
		}
		if i == 0 {
			return nil // stopped before the first acknowledgement
		}
		n += int64(i)
		saver.offer(batch[i-1].ev.Position, n)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// saver writes a target's checkpoint on its own goroutine: the latest
// acknowledged position offered, older ones not yet written skipped.
type saver struct {
	latest chan ack // capacity 1: the newest position not yet taken
	err    chan error
	done   chan struct{}
}

type ack struct {
	pos eventstore.Position
	n   int64
}

// startSaver starts the checkpoint writer of target name. A write that
// fails is retried (the read-model database may be busy or restarting);
// after 20 tries, or when ctx has ended, the error is reported through
// failed and the writer stops: the target then starts again from the last
// checkpoint written (at least once, never skipping).
func (r *Relay) startSaver(ctx context.Context, name string, log *slog.Logger) *saver {
	s := &saver{latest: make(chan ack, 1), err: make(chan error, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for a := range s.latest {
			for attempt := 0; ; attempt++ {
				// Not cancelled with ctx: what the broker acknowledged
				// before a stop is still recorded, so a restart publishes
				// as little as possible again.
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				err := r.save(sctx, name, a.pos, a.n)
				cancel()
				if err == nil {
					break
				}
				if attempt == 0 {
					log.Warn("relay: the checkpoint cannot be written yet; retrying / 暂时无法写入检查点，重试中", "error", err.Error())
				}
				if attempt == 20 || ctx.Err() != nil {
					s.err <- err
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(min(time.Duration(attempt+1)*100*time.Millisecond, r.cfg.MaxPause)):
				}
			}
		}
	}()
	return s
}

// offer hands over the last acknowledged position; it never blocks.
func (s *saver) offer(pos eventstore.Position, n int64) {
	for {
		select {
		case s.latest <- ack{pos, n}:
			return
		default:
		}
		select {
		case <-s.latest: // replaced by the newer one
		default:
		}
	}
}

// failed returns the writer's error once it gave up, else nil.
func (s *saver) failed() error {
	select {
	case err := <-s.err:
		return err
	default:
		return nil
	}
}

// stop waits until the last position offered is written (or the writer
// gave up).
func (s *saver) stop() {
	close(s.latest)
	<-s.done
}

// WaitFor waits until every target's committed checkpoint has reached pos,
// or ctx ends.
func (r *Relay) WaitFor(ctx context.Context, pos eventstore.Position) error {
	for {
		wake := r.saved.Wait()
		r.mu.Lock()
		reached := true
		for _, s := range r.targets {
			if s.position.Before(pos) {
				reached = false
			}
		}
		r.mu.Unlock()
		if reached {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

func (r *Relay) count(name string, delivered, failed uint64) {
	r.mu.Lock()
	s := r.targets[name]
	s.delivered += delivered
	s.failed += failed
	r.mu.Unlock()
}

// pauser reports a target's outage once, and its end, and spaces the tries.
type pauser struct {
	r     *Relay
	name  string
	log   *slog.Logger
	max   time.Duration
	pause time.Duration
	since time.Time
}

// fail records err, logs the pause when it starts and waits before the next
// try; it returns ctx's error when ctx ended meanwhile.
func (p *pauser) fail(ctx context.Context, err error) error {
	p.r.mu.Lock()
	s := p.r.targets[p.name]
	first := !s.paused
	s.paused, s.lastErr = true, err.Error()
	p.r.mu.Unlock()
	if first {
		p.since = p.r.cfg.Now()
		p.pause = 50 * time.Millisecond
		p.log.Warn("relay paused: the broker does not acknowledge; retrying the same event until it does / 中继暂停：消息代理未确认，将重试同一事件",
			"to", s.Target.String(), "error", err.Error())
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(p.pause):
	}
	p.pause = min(2*p.pause, p.max)
	return nil
}

// ok ends a pause.
func (p *pauser) ok() {
	p.r.mu.Lock()
	s := p.r.targets[p.name]
	was := s.paused
	s.paused, s.lastErr = false, ""
	p.r.mu.Unlock()
	if was {
		p.log.Info("relay resumed: the broker acknowledges again / 中继已恢复", "paused_for", p.r.cfg.Now().Sub(p.since).Round(time.Millisecond).String())
	}
}

// Status returns each target's state, with its lag read from the store.
func (r *Relay) Status(ctx context.Context) ([]Status, error) {
	r.mu.Lock()
	out := make([]Status, 0, len(r.cfg.Targets))
	for _, t := range r.cfg.Targets {
		s := r.targets[t.Name]
		out = append(out, Status{Name: t.Name, Target: t.String(), Position: s.position, Events: s.events,
			Delivered: s.delivered, Failed: s.failed, Paused: s.paused, LastError: s.lastErr})
	}
	r.mu.Unlock()
	for i := range out {
		if err := Lag(ctx, r.cfg.Store, r.cfg.Counter, r.cfg.Now(), &out[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Lag fills s.LagEvents and s.LagSeconds from the log after s.Position:
// counted with counter when given (else by reading, up to MaxLagCount), and
// the age of the first event after the checkpoint.
func Lag(ctx context.Context, st eventstore.Store, counter projections.Counter, now time.Time, s *Status) error {
	s.LagEvents, s.LagSeconds = -1, 0
	next, err := st.ReadAll(ctx, s.Position, 1)
	if err != nil {
		return fmt.Errorf("relay: read the log after %s: %w", s.Position, err)
	}
	if len(next) == 0 {
		s.LagEvents = 0
		return nil
	}
	s.LagSeconds = max(0, now.Sub(next[0].RecordedAt).Seconds())
	if counter != nil {
		if s.LagEvents, err = counter(ctx, s.Position); err != nil {
			return fmt.Errorf("relay: count the events after %s: %w", s.Position, err)
		}
		return nil
	}
	// No counter (PostgreSQL): count by reading, at most MaxLagCount.
	s.LagEvents = 0
	after := s.Position
	for s.LagEvents < MaxLagCount {
		page, err := st.ReadAll(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("relay: count the events after %s: %w", s.Position, err)
		}
		s.LagEvents += int64(len(page))
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Position
	}
	return nil
}

// MaxLagCount bounds how many events Lag counts by reading the log when it
// has no counter: a lag reported as MaxLagCount means at least that many.
const MaxLagCount = 10_000
