// Package deadline is the deadline watcher, a process manager (not a
// projection: it appends events, through the command path of package command,
// and keeps no read model). It follows the event log,
// derives every running deadline of households (next visit due), problems
// (first response, resolution time limit, monthly follow-up of long-term
// problems), referrals (acceptance, promised completion) and rectification
// cases (限期整改, decision 0114) with the
// domain's Clocks and the recorded policy version and working-day calendar,
// and when one approaches or passes while still running it appends the
// domain's …deadline_approaching / …deadline_breached event to the
// subject's stream.
//
// Alert events carry a deterministic id (UUIDv5 of stream, clock kind,
// clock start, stage and due instant), so restarts and several watchers
// running at once never record an alert twice: the store's idempotent
// append turns a repeat into a no-op, and the domain refuses an alert the
// aggregate already carries.
//
// When a working-day calendar year is published or corrected (an event on
// domain.CalendarStream), the watcher puts it in force and re-derives every
// running deadline that started before the publication: where the due
// instant moves or stops being provisional it appends the domain's
// …deadline_rescheduled event (old and new due, the calendar version, the
// alerts withdrawn), with a deterministic id (UUIDv5 of stream, clock
// kind, clock start and calendar version).
//
// Visit entry within 24 hours is not a running deadline (a visit is known
// only once it is entered): the domain marks late entries on the visit
// event itself, and the measures read model counts them.
package deadline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
)

// Clock is the watcher's source of time. Tests inject one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has elapsed on this clock.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the system clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return clock.Now() }

// After implements Clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Subject describes whose deadline it is, for finding a supervisor.
type Subject struct {
	Stream      string
	Kind        domain.ClockKind
	Community   string // the subject's community now (eventlog.Scope)
	Responsible string
	// Department is the receiving organisation answering for the clock
	// (a referral's acceptance and completion); "" for the community's
	// own clocks.
	Department string
}

// Config configures a Watcher.
type Config struct {
	Store    eventstore.Store  // required
	Policies *domain.PolicySet // required
	// Calendar is the base working-day calendar (the shipped years); the
	// years published in the log are put in force as the watcher reads them.
	Calendar *calendar.Calendar // required
	Registry *domain.Registry   // default domain.NewRegistry()
	// Commands records alerts and reschedulings (the command path); default
	// an command.Service on Store with Policies, Calendar and Registry.
	Commands *command.Service
	Clock    Clock // default RealClock
	// Supervisor, if set, names the supervisor an alert goes to (may
	// return ""), instead of the default: for a clock a receiving
	// organisation answers for (a referral's acceptance and completion),
	// the supervisor recorded for that department in the log
	// (command.Service.AssignDepartmentSupervisor,
	// domain.DepartmentSupervisorAssigned); for any other, the supervisor
	// recorded for the subject's community (command.Service.AssignCommunitySupervisor,
	// domain.CommunitySupervisorAssigned); both as of when the alert is
	// recorded.
	Supervisor func(Subject) string
	// Actor recorded on alert events; default "deadline-watcher" (role system).
	Actor string
	// Logger receives problems that do not stop the watcher (a deadline
	// that cannot be computed, an append that failed and will be retried).
	// Messages name streams and clock kinds only, never personal data.
	Logger *slog.Logger
	// PollInterval bounds how long Run waits for news from the log; default 1s.
	PollInterval time.Duration
	// Concurrency is how many subjects Fire handles at once; default 8
	// (concurrent appends share durable commits on the embedded store).
	Concurrency int
}

// Watcher holds every running deadline in a Queue. Safe for concurrent use;
// Sync and Fire serialise.
type Watcher struct {
	cfg   Config
	mu    sync.Mutex
	q     *Queue
	after eventstore.Position
	// Subjects folded up to the log position after, kept so that Sync
	// applies only the events the log delivers instead of reading each
	// changed stream again (at most stateLimit of them: a household with a
	// year of visits folds to some 20 kB).
	state map[string]*loaded

	cal       *calendar.Calendar            // the calendar in force at position after
	pubs      []publication                 // calendar publications read, in log order
	byVersion map[string]*calendar.Calendar // calendars by version, for re-derivation
	recal     bool                          // a publication was read since the last Reschedule
	derived   map[Key]domain.Deadline       // every running deadline, as derived now
	synced    bool                          // Sync has read the log once
}

// publication is a calendar year put in force at a domain instant.
type publication struct {
	at  time.Time
	cal *calendar.Calendar
}

// stateLimit bounds the subjects Watcher keeps folded; beyond it an
// arbitrary one is dropped and read in full when it next changes.
const stateLimit = 10_000

// namespace of alert event ids (UUIDv5).
var namespace = uuid.MustParse("5b0f3c62-6a43-4f0c-9a57-2f7d1b0c8e11")

// AlertID is the deterministic id of an alert event.
func AlertID(stream string, kind domain.ClockKind, start time.Time, stage domain.AlertStage, due time.Time) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(fmt.Sprintf("%s|%s|%d|%s|%d", stream, kind, start.UnixNano(), stage, due.UnixNano())))
}

// New returns a watcher that has not read the log yet.
func New(cfg Config) (*Watcher, error) {
	if cfg.Store == nil || cfg.Policies == nil || cfg.Calendar == nil {
		return nil, errors.New("deadline: Config needs Store, Policies and Calendar")
	}
	if cfg.Registry == nil {
		cfg.Registry = domain.NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Commands == nil {
		svc, err := command.New(command.Config{Store: cfg.Store, Policies: cfg.Policies, Calendar: cfg.Calendar, Registry: cfg.Registry})
		if err != nil {
			return nil, err
		}
		cfg.Commands = svc
	}
	if cfg.Actor == "" {
		cfg.Actor = "deadline-watcher"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	return &Watcher{cfg: cfg, q: NewQueue(), state: map[string]*loaded{}, cal: cfg.Calendar,
		byVersion: map[string]*calendar.Calendar{cfg.Calendar.Version(): cfg.Calendar}, derived: map[Key]domain.Deadline{}}, nil
}

// Len returns the number of deadlines being watched.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.q.Len()
}

// Next returns when the next alert becomes pending.
func (w *Watcher) Next() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.q.Next()
}

func watched(stream string) bool {
	switch eventstore.Category(stream) {
	case "household", "problem", "referral", "rectification":
		return true
	}
	return false
}

// Sync reads the log since the last Sync and re-derives the deadlines of
// every subject that has new events. A subject already folded takes the
// new events from the log page; one that is not (or whose events do not
// follow on its version) is read again from its stream.
func (w *Watcher) Sync(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	dirty := map[string]struct{}{}
	var order []string
	for {
		page, err := w.cfg.Store.ReadAll(ctx, w.after, 2000)
		if err != nil {
			return fmt.Errorf("deadline: read the log: %w", err)
		}
		for i := range page {
			if page[i].Stream == domain.CalendarStream {
				w.publish(&page[i])
				continue
			}
			if s := page[i].Stream; watched(s) {
				if _, ok := dirty[s]; !ok {
					dirty[s] = struct{}{}
					order = append(order, s)
				}
				w.apply(ctx, s, &page[i])
			}
		}
		if len(page) > 0 {
			w.after = page[len(page)-1].Position
		}
		if len(page) < 2000 {
			break
		}
	}
	if w.recal {
		// Every running deadline is derived again with the calendar now in force.
		for k := range w.derived {
			if _, ok := dirty[k.Stream]; !ok {
				dirty[k.Stream] = struct{}{}
				order = append(order, k.Stream)
			}
		}
	}
	for _, s := range order {
		l, ok := w.state[s]
		if !ok {
			var err error
			if l, err = w.load(ctx, s); err != nil {
				return err
			}
			w.keep(s, l)
		}
		l.clocks = clocksOf(l.agg)
		w.setClocks(s, l.clocks)
	}
	w.synced = true
	return nil
}

// apply folds one event of the log into the subject's kept state. A
// subject not kept starts from its first event; an event that does not
// follow the kept version, or that cannot be decoded, drops the state so
// that Sync reads the stream in full. The caller holds w.mu.
func (w *Watcher) apply(ctx context.Context, stream string, e *eventstore.Event) {
	l, ok := w.state[stream]
	if !ok {
		if e.Version != 1 {
			return
		}
		agg, err := eventlog.NewAggregate(stream)
		if err != nil {
			return
		}
		l = &loaded{agg: agg}
		w.keep(stream, l)
	}
	v := l.agg.Version()
	if e.Version <= v {
		return // already read from the stream
	}
	var err error
	if e.Version == v+1 {
		// The class is sealed (decision 0148): the command path opens it.
		err = w.cfg.Commands.FoldNext(ctx, stream, l.agg, e)
	}
	if err != nil || e.Version != v+1 {
		delete(w.state, stream)
		return
	}
	l.community = e.Metadata.Community
}

// keep stores a subject's state, dropping an arbitrary other one when
// stateLimit is reached. The caller holds w.mu.
func (w *Watcher) keep(stream string, l *loaded) {
	if _, ok := w.state[stream]; !ok && len(w.state) >= stateLimit {
		for k := range w.state {
			delete(w.state, k)
			break
		}
	}
	w.state[stream] = l
}

type loaded struct {
	agg       domain.Aggregate
	clocks    []domain.Clock
	community string
}

func (w *Watcher) load(ctx context.Context, stream string) (*loaded, error) {
	agg, err := eventlog.NewAggregate(stream)
	if err != nil {
		return nil, err
	}
	// The command path's cached fold: after an alert, only the new event is read.
	got, err := w.cfg.Commands.LoadLatest(ctx, stream, agg)
	if err != nil {
		return nil, fmt.Errorf("deadline: %w", err)
	}
	l := &loaded{agg: agg, community: got.Last.Community}
	l.clocks = clocksOf(agg)
	return l, nil
}

var kinds = []domain.ClockKind{domain.ClockProblemResponse, domain.ClockProblemResolution, domain.ClockProblemFollowUp,
	domain.ClockReferralAcceptance, domain.ClockReferralCompletion, domain.ClockVisitDue, domain.ClockSecondVisit, domain.ClockRectification,
	domain.ClockNeedsUpdate, domain.ClockFileRevision, domain.ClockFestivalVisit}

// setClocks puts a subject's running clocks in the queue and removes the
// ones that stopped. The caller holds w.mu.
func (w *Watcher) setClocks(stream string, clocks []domain.Clock) {
	running := map[domain.ClockKind]bool{} // clocks with an alert still to fire
	derived := map[domain.ClockKind]bool{} // clocks running (breached or not)
	for _, c := range clocks {
		d, ok, err := w.cfg.Policies.Deadline(w.cal, c)
		if err != nil {
			w.cfg.Logger.Warn("deadline cannot be computed / 无法计算期限", "stream", stream, "kind", c.Kind, "error", err)
			continue
		}
		if !ok {
			continue
		}
		derived[c.Kind] = true
		w.derived[Key{stream, c.Kind}] = d
		fire, ok := FireAt(d)
		if !ok {
			continue
		}
		running[c.Kind] = true
		w.q.Set(Key{stream, c.Kind}, fire, d.Due)
	}
	for _, k := range kinds {
		if !running[k] {
			w.q.Remove(Key{stream, k})
		}
		if !derived[k] {
			delete(w.derived, Key{stream, k})
		}
	}
}

// Fire records every alert pending at now and returns how many alert
// events it appended (repeats that the store or the domain turned into
// no-ops are not counted). Subjects are handled concurrently (up to
// Config.Concurrency at once), each subject's alerts in order; the
// deadlines it looked at are re-derived.
func (w *Watcher) Fire(ctx context.Context, now time.Time) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var streams []string
	byStream := map[string][]domain.ClockKind{}
	for _, k := range w.q.PopUntil(now) {
		if _, ok := byStream[k.Stream]; !ok {
			streams = append(streams, k.Stream)
		}
		byStream[k.Stream] = append(byStream[k.Stream], k.Kind)
	}
	type result struct {
		clocks []domain.Clock
		added  int
		err    error
	}
	results := make([]result, len(streams))
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := &results[i]
			r.clocks, r.added, r.err = w.alertStream(ctx, s, byStream[s], now)
		}()
	}
	wg.Wait()
	n := 0
	var firstErr error
	for i, s := range streams {
		r := results[i]
		n += r.added
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
			}
			// Look again at the next Fire.
			for _, k := range byStream[s] {
				w.q.Set(Key{s, k}, now.Add(5*time.Second), now)
			}
			continue
		}
		w.setClocks(s, r.clocks)
	}
	return n, firstErr
}

// alertStream records the pending alerts of one subject's clocks of the
// given kinds, through the command path, and returns the subject's running
// clocks afterwards.
func (w *Watcher) alertStream(ctx context.Context, stream string, ks []domain.ClockKind, now time.Time) ([]domain.Clock, int, error) {
	l, err := w.load(ctx, stream)
	if err != nil {
		return nil, 0, err
	}
	added := 0
	for _, kind := range ks {
		d, stage, ok := w.pending(l, kind, now)
		if !ok {
			continue
		}
		if err := w.community(ctx, l); err != nil {
			return nil, added, err
		}
		var sup string
		if w.cfg.Supervisor != nil {
			sup = w.cfg.Supervisor(Subject{Stream: stream, Kind: kind, Community: l.community, Responsible: d.Responsible, Department: d.Department})
		} else if d.Department != "" {
			// The receiving department answers for its referral clocks (001 §3.1).
			if sup, err = w.cfg.Commands.DepartmentSupervisor(ctx, d.Department); err != nil {
				return nil, added, fmt.Errorf("deadline: the supervisor of %s: %w", stream, err)
			}
		} else if l.community != "" {
			if sup, err = w.cfg.Commands.CommunitySupervisor(ctx, l.community); err != nil {
				return nil, added, fmt.Errorf("deadline: the supervisor of %s: %w", stream, err)
			}
		}
		c := command.Cmd{ID: AlertID(stream, kind, d.Start, stage, d.Due).String(), Actor: w.cfg.Actor, Role: domain.RoleSystem, At: now}
		res, err := w.cfg.Commands.RecordDeadlineAlert(ctx, c, stream, d, stage, sup)
		if err != nil {
			return nil, added, fmt.Errorf("deadline: %s %s: %w", stream, kind, err)
		}
		if res.Events > 0 && !res.Replayed {
			added++
		}
		if l, err = w.load(ctx, stream); err != nil {
			return nil, added, err
		}
	}
	return l.clocks, added, nil
}

// pending returns the deadline of the subject's clock of kind and the alert
// due on it at now, if any.
func (w *Watcher) pending(l *loaded, kind domain.ClockKind, now time.Time) (domain.Deadline, domain.AlertStage, bool) {
	for i := range l.clocks {
		if l.clocks[i].Kind != kind {
			continue
		}
		d, ok, err := w.cfg.Policies.Deadline(w.cal, l.clocks[i])
		if err != nil || !ok {
			return d, "", false
		}
		stage, pending := d.Pending(now)
		return d, stage, pending
	}
	return domain.Deadline{}, "", false // met or stopped meanwhile
}

func clocksOf(a domain.Aggregate) []domain.Clock {
	switch x := a.(type) {
	case *domain.Household:
		return x.Clocks()
	case *domain.Problem:
		return x.Clocks()
	case *domain.Referral:
		return x.Clocks()
	case *domain.Rectification:
		return x.Clocks()
	}
	return nil
}

// community fills l.community with the subject's community as decided
// from its state now (eventlog.Scope): a household's own, a problem's or
// referral's its household's current one, whatever the subject's last
// event recorded before a move.
func (w *Watcher) community(ctx context.Context, l *loaded) error {
	c, _, err := eventlog.Scope(ctx, l.agg, func(ctx context.Context, id string) (*domain.Household, error) {
		h, err := w.load(ctx, domain.HouseholdStream(id))
		if err != nil {
			return nil, err
		}
		return h.agg.(*domain.Household), nil
	})
	if err != nil {
		return err
	}
	l.community = c
	return nil
}

// Run syncs with the log and records alerts as they fall due, until ctx
// ends (it then returns ctx's error). Each pass waits until the next
// deadline on the watcher's Clock, new events in the log, or PollInterval.
func (w *Watcher) Run(ctx context.Context) error {
	head, err := w.cfg.Store.Head(ctx)
	if err != nil {
		return err
	}
	sub, err := w.cfg.Store.Subscribe(ctx, head, eventstore.Filter{})
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		if err := w.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if _, err := w.Reschedule(ctx, w.cfg.Clock.Now()); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.cfg.Logger.Warn("rescheduling deadlines after a calendar publication failed; retrying / 日历发布后重新计算期限失败，将重试", "error", err)
		}
		if _, err := w.Fire(ctx, w.cfg.Clock.Now()); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.cfg.Logger.Warn("recording a deadline alert failed; retrying / 记录期限提醒失败，将重试", "error", err)
		}
		wait := w.cfg.PollInterval
		if next, ok := w.Next(); ok {
			wait = min(wait, max(0, next.Sub(w.cfg.Clock.Now())))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.cfg.Clock.After(wait):
		case _, ok := <-sub.C:
			if !ok {
				return errors.Join(sub.Err(), ctx.Err())
			}
		}
	}
}
