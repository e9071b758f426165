// Package webhook delivers the events of the log to HTTP receivers
// registered by an administrator or integrator (subscriptions: a URL, an
// event-type filter, a community filter, a secret shown once), for
// integrators without a message broker (issue 17, decision 0090).
//
// Each delivery is one POST whose body is the event as a structured-mode
// CloudEvent (package cloudevent, sealed fields as markers unless an
// administrator granted the subscription them for a purpose: grant.go,
// decision 0106), signed as the
// Standard Webhooks specification says (webhook-id = the event id,
// webhook-timestamp, webhook-signature) with the Standard Webhooks library,
// and sent through Watermill's HTTP publisher.
//
// Order and delivery: each subscription follows the log from its own
// checkpoint on its own goroutine and has at most one delivery in flight,
// so a receiver sees its events in the log's order, one slow or failing
// receiver delays no other, and a failing delivery holds back the later
// events of its own subscription only. A failed attempt is retried with
// exponential backoff and jitter (Backoff) for RetryFor (default 24 h);
// then the delivery is parked (the dead-letter state: listed, replayable by
// hand) and the subscription moves on. The checkpoint and the delivery log
// are written together, after the receiver answered, so delivery is at
// least once: after a crash the events after the checkpoint are posted
// again with the same webhook-id, which receivers use to de-duplicate.
package webhook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/relay"
)

// Defaults of the retry policy.
const (
	DefaultRetryFor   = 24 * time.Hour
	DefaultFirstRetry = time.Second
	DefaultMaxBackoff = time.Hour
)

// DefaultBackoff is the pause before attempt n+1 after n failed attempts:
// 1 s doubled each time up to 1 h, with "equal jitter" (a random point in
// the upper half of that interval), so that receivers coming back are not
// hit by every sender at once.
func DefaultBackoff(n int) time.Duration {
	d := DefaultFirstRetry << min(max(n-1, 0), 20)
	d = min(d, DefaultMaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// Config configures a Manager.
type Config struct {
	Log     eventstore.Store    // the event log; required
	DB      *sql.DB             // the read-model database holding subscriptions and delivery logs; required
	Dialect projections.Dialect // default SQLite
	Encoder *cloudevent.Encoder // required
	Logger  *slog.Logger        // default: discard
	Now     func() time.Time    // default time.Now; also signs the timestamps
	Counter projections.Counter // optional, for the lag (see relay.Lag)
	// Sender posts the deliveries; default NewSender(Timeout, Now, nil).
	Sender  *Sender
	Timeout time.Duration // of one attempt; default DefaultTimeout
	// RetryFor is how long a delivery is retried, from its first attempt,
	// before it is parked; default DefaultRetryFor.
	RetryFor time.Duration
	// Backoff gives the pause after n failed attempts; default DefaultBackoff.
	Backoff func(n int) time.Duration
	// Sleep waits d or until ctx ends; default a timer. Tests inject one
	// that advances a test clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Reload is how often the dispatcher re-reads the subscriptions (changes
	// made on this node wake it at once); default 2 s.
	Reload time.Duration
	// Batch bounds how many deliveries are recorded per write; default 64.
	Batch int
	// Opener opens sealed values for subscriptions granted them (the key
	// vault, as for the event stream), and Reveals records the grants and
	// the reveals (decision 0106). Without both, grants are refused and
	// every delivery carries markers.
	Opener  domain.Opener
	Reveals RevealRecorder
	// Secrets wraps the signing secrets at rest (the binary gives its KEK
	// ring, decision 0126); without it they are stored in clear, which
	// only tests and tools do.
	Secrets SecretWrapper
}

// Manager manages subscriptions (create, list, delete, deliveries, replay)
// and runs their deliveries (Run). Every node's API uses one; Run runs on
// one node at a time (the elected one).
type Manager struct {
	cfg     Config
	st      *Store
	changed *eventstore.Notifier // subscriptions changed on this node
	saved   *eventstore.Notifier // a checkpoint was written

	mu     sync.Mutex
	stats  map[string]*stats
	grants map[string]Grant // by subscription: what the deliveries use now
}

type stats struct {
	delivered, failed, parked uint64
	retrying                  bool
	lastErr                   string
}

// New checks cfg and returns a manager. Call Init before use.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.Log == nil:
		return nil, errors.New("webhook: Config.Log is nil; give the event store")
	case cfg.DB == nil:
		return nil, errors.New("webhook: Config.DB is nil; give the read-model database")
	case cfg.Encoder == nil:
		return nil, errors.New("webhook: Config.Encoder is nil; build one with cloudevent.NewEncoder")
	}
	if cfg.Dialect == nil {
		cfg.Dialect = projections.SQLite
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Reload <= 0 {
		cfg.Reload = 2 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Sender == nil {
		s, err := NewSender(cfg.Timeout, cfg.Now, nil)
		if err != nil {
			return nil, err
		}
		cfg.Sender = s
	}
	return &Manager{cfg: cfg, st: NewStore(cfg.DB, cfg.Dialect, cfg.Now).WithSecrets(cfg.Secrets), changed: eventstore.NewNotifier(),
		saved: eventstore.NewNotifier(), stats: map[string]*stats{}, grants: map[string]Grant{}}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Init creates or migrates the tables.
//
// With Config.Secrets it also wraps under the current KEK every signing
// secret kept in clear or under an older KEK (RewrapSecrets).
func (m *Manager) Init(ctx context.Context) error {
	if err := Init(ctx, m.cfg.DB, m.cfg.Dialect); err != nil {
		return err
	}
	n, err := m.RewrapSecrets(ctx)
	if n > 0 {
		m.cfg.Logger.Info("webhook signing secrets wrapped under the current key-encrypting key / 已用当前密钥加密回调签名密钥", "secrets", n)
	}
	return err
}

// Create records a subscription that receives the events recorded from now
// on, and returns it with its secret (shown this once).
func (m *Manager) Create(ctx context.Context, req Request, by string) (Subscription, string, error) {
	head, err := m.cfg.Log.Head(ctx)
	if err != nil {
		return Subscription{}, "", err
	}
	sub, secret, err := m.st.Create(ctx, req, by, head, 0)
	if err == nil {
		m.changed.Notify()
		m.cfg.Logger.Info("webhook subscription created / 已创建回调订阅", "id", sub.ID, "by", by, "types", sub.Types, "communities", sub.Communities)
	}
	return sub, secret, err
}

// List returns every subscription.
func (m *Manager) List(ctx context.Context) ([]Subscription, error) { return m.st.List(ctx) }

// Get returns one subscription.
func (m *Manager) Get(ctx context.Context, id string) (Subscription, error) { return m.st.Get(ctx, id) }

// Delete removes a subscription: its deliveries stop (on the dispatching
// node within Reload) and its delivery log is deleted.
func (m *Manager) Delete(ctx context.Context, id, by string) error {
	if err := m.st.Delete(ctx, id); err != nil {
		return err
	}
	m.changed.Notify()
	m.cfg.Logger.Info("webhook subscription deleted / 已删除回调订阅", "id", id, "by", by)
	return nil
}

// Deliveries lists a subscription's delivery log (see Store.Deliveries).
func (m *Manager) Deliveries(ctx context.Context, id, status string, limit int) ([]Delivery, error) {
	return m.st.Deliveries(ctx, id, status, limit)
}

// Replay makes one attempt to deliver a parked (or already replayed)
// delivery again, now, out of the subscription's order, with the same
// webhook-id. It returns the updated entry: status "replayed" when the
// receiver accepted it, still "parked" (with the new error) otherwise.
func (m *Manager) Replay(ctx context.Context, id, eventID string) (Delivery, error) {
	sub, err := m.st.Get(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	d, err := m.st.delivery(ctx, id, eventID)
	if err != nil {
		return d, err
	}
	if d.Status != StatusParked && d.Status != StatusReplayed {
		return d, &domain.Error{Kind: domain.ErrConflict, Code: "webhook_not_parked", Field: "event_id",
			Message:   fmt.Sprintf("the delivery of event %s is %s, not parked; only parked deliveries are replayed", eventID, d.Status),
			MessageZH: fmt.Sprintf("事件 %s 的投递状态为 %s，并未搁置；只能重放已搁置的投递", eventID, d.Status)}
	}
	evs, err := m.cfg.Log.ReadStream(ctx, d.stream, eventstore.Forward, d.version, 1)
	if err != nil {
		return d, err
	}
	if len(evs) != 1 || evs[0].ID.String() != d.EventID {
		return d, fmt.Errorf("webhook: event %s (%s v%d) is no longer in the log", d.EventID, d.stream, d.version)
	}
	body, err := m.body(ctx, id, sub.Grant, &evs[0])
	if err != nil {
		return d, err
	}
	secret, err := m.st.Secret(ctx, id)
	if err != nil {
		return d, err
	}
	res := m.cfg.Sender.Send(ctx, sub.URL, secret, d.EventID, body)
	d.Attempts++
	d.LastAt, d.LastCode, d.LatencyMS = m.cfg.Now().UTC(), res.Code, ms(res.Latency)
	if res.Err == nil {
		d.Status, d.LastError = StatusReplayed, ""
	} else {
		d.LastError = res.Err.Error()
	}
	if err := m.st.upsert(ctx, id, []Delivery{d}, nil, 0); err != nil {
		return d, err
	}
	m.cfg.Logger.Info("webhook delivery replayed / 已重放回调投递", "id", id, "event", d.EventID, "status", d.Status)
	return d, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Status is a subscription's state for metrics and the CLI.
type Status struct {
	Subscription
	Delivered, Failed, Parked uint64 // since this process started
	Retrying                  bool   // the next event is being retried
	LastError                 string
	LagEvents                 int64
	LagSeconds                float64
}

// Status returns each subscription's counters and lag.
func (m *Manager) Status(ctx context.Context) ([]Status, error) {
	subs, err := m.st.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(subs))
	for _, s := range subs {
		st := Status{Subscription: s}
		m.mu.Lock()
		if x := m.stats[s.ID]; x != nil {
			st.Delivered, st.Failed, st.Parked, st.Retrying, st.LastError = x.delivered, x.failed, x.parked, x.retrying, x.lastErr
		}
		m.mu.Unlock()
		rs := relay.Status{Position: s.pos}
		if err := relay.Lag(ctx, m.cfg.Log, m.cfg.Counter, m.cfg.Now(), &rs); err != nil {
			return out, err
		}
		st.LagEvents, st.LagSeconds = rs.LagEvents, rs.LagSeconds
		out = append(out, st)
	}
	return out, nil
}

func (m *Manager) stat(id string, f func(*stats)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats[id]
	if s == nil {
		s = &stats{}
		m.stats[id] = s
	}
	f(s)
}

// WaitFor waits until subscription id's checkpoint has reached pos (every
// matching event up to it delivered or parked), or ctx ends.
func (m *Manager) WaitFor(ctx context.Context, id string, pos eventstore.Position) error {
	for {
		wake := m.saved.Wait()
		sub, err := m.st.Get(ctx, id)
		if err != nil {
			return err
		}
		if !sub.pos.Before(pos) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// Run delivers every subscription's events until ctx ends, each on its own
// goroutine; it picks up subscriptions created or deleted (on any node)
// within Config.Reload, at once for those changed through this manager.
func (m *Manager) Run(ctx context.Context) error {
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	workers := map[string]running{}
	defer func() {
		for _, w := range workers {
			w.cancel()
			<-w.done
		}
	}()
	for {
		wake := m.changed.Wait()
		subs, err := m.st.List(ctx)
		if err != nil && ctx.Err() == nil {
			m.cfg.Logger.Error("webhook: cannot read the subscriptions; retrying / 无法读取回调订阅，重试中", "error", err.Error())
		}
		if err == nil {
			seen := map[string]bool{}
			for _, s := range subs {
				seen[s.ID] = true
				m.setGrant(s.ID, s.Grant) // granted or withdrawn on another node
				if w, ok := workers[s.ID]; ok {
					select {
					case <-w.done: // stopped on an error: start it again below
					default:
						continue
					}
				}
				wctx, cancel := context.WithCancel(ctx)
				w := running{cancel, make(chan struct{})}
				workers[s.ID] = w
				go func() {
					defer close(w.done)
					m.keepDelivering(wctx, s.ID)
				}()
			}
			for id, w := range workers {
				if !seen[id] {
					m.setGrant(id, nil)
					w.cancel()
					<-w.done
					delete(workers, id)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-time.After(m.cfg.Reload):
		}
	}
}

// keepDelivering runs one subscription until ctx ends, starting it again
// from its checkpoint after an error (the log or the database failing).
func (m *Manager) keepDelivering(ctx context.Context, id string) {
	log := m.cfg.Logger.With("subscription", id)
	pause := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := m.deliverAll(ctx, id)
		if err == nil || ctx.Err() != nil {
			return
		}
		if errors.Is(err, domain.ErrNotFound) {
			return // deleted meanwhile
		}
		log.Error("webhook deliveries stopped; starting again from the checkpoint / 回调投递停止，将从检查点重新开始", "error", err.Error())
		if sleep(ctx, pause) != nil {
			return
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// deliverAll follows the log from the subscription's checkpoint and
// delivers each matching event, in order.
func (m *Manager) deliverAll(ctx context.Context, id string) error {
	sub, err := m.st.Get(ctx, id)
	if err != nil {
		return err
	}
	secret, err := m.st.Secret(ctx, id)
	if err != nil {
		return err
	}
	// A retry in progress when the process stopped resumes with its count
	// of attempts and its first attempt's time: the budget is not reset.
	resume := map[string]Delivery{}
	if ds, err := m.st.Deliveries(ctx, id, StatusRetrying, 1); err != nil {
		return err
	} else if len(ds) == 1 {
		resume[ds[0].EventID] = ds[0]
	}
	feed, err := m.cfg.Log.Subscribe(ctx, sub.pos, eventstore.Filter{})
	if err != nil {
		return fmt.Errorf("webhook %s: follow the log: %w", id, err)
	}
	defer feed.Close()
	cp, n := sub.pos, sub.Events
	var pending []Delivery
	flush := func(extra ...Delivery) error {
		if err := m.st.upsert(context.WithoutCancel(ctx), id, append(pending, extra...), &cp, n); err != nil {
			return err
		}
		pending = pending[:0]
		m.saved.Notify()
		return nil
	}
	for {
		var ev eventstore.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case ev, ok = <-feed.C:
		}
		closed := !ok
		for handled := 0; ok; handled++ {
			if !sub.Match(&ev) {
				cp, n = ev.Position, n+1
			} else {
				d, err := m.deliver(ctx, &sub, secret, &ev, n+1, resume, flush)
				if err != nil {
					return err
				}
				if d == nil {
					// ctx ended mid-delivery: keep what was delivered before
					// it; this event is posted again after a restart.
					if len(pending) > 0 {
						return flush()
					}
					return nil
				}
				pending = append(pending, *d)
				cp, n = ev.Position, n+1
			}
			if handled+1 >= m.cfg.Batch {
				break
			}
			select {
			case ev, ok = <-feed.C:
				closed = !ok
			default:
				ok = false
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if closed {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("webhook %s: the log subscription ended: %v", id, feed.Err())
		}
	}
}

// deliver posts ev until the receiver accepts it or the retry budget is
// spent (then it is parked). Each failed attempt is recorded at once (with
// the deliveries before it and the checkpoint before ev). It returns the
// entry to record with the next checkpoint, or nil when ctx ended.
func (m *Manager) deliver(ctx context.Context, sub *Subscription, secret string, ev *eventstore.Event, seq int64,
	resume map[string]Delivery, flush func(...Delivery) error) (*Delivery, error) {
	var grant *Grant
	if g, ok := m.grant(sub.ID); ok {
		grant = &g
	}
	body, err := m.body(ctx, sub.ID, grant, ev)
	if err != nil {
		return nil, err
	}
	d := Delivery{Subscription: sub.ID, EventID: ev.ID.String(), Type: ev.Type, Position: ev.Position.String(),
		stream: ev.Stream, version: ev.Version, seq: seq, pos: ev.Position}
	if prev, ok := resume[d.EventID]; ok {
		delete(resume, d.EventID)
		d.Attempts, d.FirstAt = prev.Attempts, prev.FirstAt
		if wait := prev.NextAt.Sub(m.cfg.Now()); wait > 0 {
			if m.cfg.Sleep(ctx, wait) != nil {
				return nil, nil
			}
		}
	}
	log := m.cfg.Logger.With("subscription", sub.ID)
	for {
		now := m.cfg.Now().UTC()
		if d.FirstAt.IsZero() {
			d.FirstAt = now
		}
		res := m.cfg.Sender.Send(ctx, sub.URL, secret, d.EventID, body)
		if ctx.Err() != nil {
			return nil, nil
		}
		d.Attempts++
		d.LastAt, d.LastCode, d.LatencyMS, d.NextAt = now, res.Code, ms(res.Latency), time.Time{}
		if res.Err == nil {
			d.Status, d.LastError = StatusDelivered, ""
			m.stat(sub.ID, func(s *stats) {
				if s.retrying {
					log.Info("webhook receiver accepts again / 回调接收方已恢复", "attempts", d.Attempts)
				}
				s.delivered++
				s.retrying, s.lastErr = false, ""
			})
			return &d, nil
		}
		d.LastError = res.Err.Error()
		m.stat(sub.ID, func(s *stats) {
			if !s.retrying {
				log.Warn("webhook delivery failed; retrying with backoff / 回调投递失败，将退避重试", "event", d.EventID, "error", d.LastError)
			}
			s.failed++
			s.retrying, s.lastErr = true, d.LastError
		})
		if m.cfg.Now().Sub(d.FirstAt) >= m.cfg.RetryFor {
			d.Status = StatusParked
			m.stat(sub.ID, func(s *stats) { s.parked++; s.retrying = false })
			log.Warn("webhook delivery parked after its retry budget; replay it with POST /v1/webhooks/{id}/deliveries/{event}/replay / 回调投递已搁置",
				"event", d.EventID, "attempts", d.Attempts, "error", d.LastError)
			return &d, nil
		}
		wait := m.cfg.Backoff(d.Attempts)
		d.Status, d.NextAt = StatusRetrying, now.Add(wait)
		if err := flush(d); err != nil {
			return nil, err
		}
		if m.cfg.Sleep(ctx, wait) != nil {
			return nil, nil
		}
	}
}

// RewrapSecrets wraps every signing secret kept in clear or under an older
// KEK under the current one (see Store.RewrapSecrets).
func (m *Manager) RewrapSecrets(ctx context.Context) (int, error) { return m.st.RewrapSecrets(ctx) }
