package deadline

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// RescheduleID is the deterministic id of a rescheduling event.
func RescheduleID(stream string, kind domain.ClockKind, start time.Time, calendarVersion string) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(fmt.Sprintf("%s|%s|%d|rescheduled|%s", stream, kind, start.UnixNano(), calendarVersion)))
}

// publish puts a calendar event read from the log in force. The caller
// holds w.mu.
func (w *Watcher) publish(e *eventstore.Event) {
	r, err := eventlog.Decode(w.cfg.Registry, e)
	if err != nil {
		w.cfg.Logger.Warn("a calendar event cannot be read; it is ignored / 无法读取日历事件，已忽略", "position", e.Position.String(), "error", err)
		return
	}
	p, ok := r.Event.(domain.CalendarYearPublished)
	if !ok {
		return
	}
	next, err := w.cal.Apply(p)
	if err != nil {
		w.cfg.Logger.Warn("a published calendar year cannot be put in force; it is ignored / 无法启用已发布的日历年份，已忽略", "year", p.Year, "error", err)
		return
	}
	w.cal = next
	w.byVersion[next.Version()] = next
	w.pubs = append(w.pubs, publication{at: p.At, cal: next})
	w.recal = true
}

// calendarAt is the calendar that was in force at domain instant t: the
// base calendar with the publications made before t. The caller holds w.mu.
func (w *Watcher) calendarAt(t time.Time) domain.WorkingDayCalendar {
	cal := w.cfg.Calendar
	for _, p := range w.pubs {
		if !p.at.Before(t) {
			break
		}
		cal = p.cal
	}
	return cal
}

// Reschedule re-derives, after a calendar publication was read (Sync), every
// running deadline with the calendar in force at now and appends a
// rescheduling event where the due instant moved or stopped being
// provisional since the calendar the deadline was set with. It returns how
// many events it appended; it does nothing when no publication was read.
func (w *Watcher) Reschedule(ctx context.Context, now time.Time) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.recal {
		return 0, nil
	}
	seen := map[string]bool{}
	var streams []string
	for k := range w.derived {
		if !seen[k.Stream] {
			seen[k.Stream] = true
			streams = append(streams, k.Stream)
		}
	}
	sort.Strings(streams)
	added := 0
	for _, s := range streams {
		n, clocks, err := w.rescheduleStream(ctx, s, now)
		added += n
		if err != nil {
			return added, err
		}
		w.setClocks(s, clocks)
	}
	w.recal = false
	return added, nil
}

// rescheduleStream records, through the command path, the reschedulings
// one subject needs. The caller holds w.mu.
func (w *Watcher) rescheduleStream(ctx context.Context, stream string, now time.Time) (int, []domain.Clock, error) {
	l, kept := w.state[stream]
	if !kept {
		var err error
		if l, err = w.load(ctx, stream); err != nil {
			return 0, nil, err
		}
	}
	added := 0
	for _, kind := range kinds {
		old, next, ok := w.rederive(l, kind)
		if !ok {
			continue
		}
		c := command.Cmd{ID: RescheduleID(stream, kind, old.Start, w.cal.Version()).String(), Actor: w.cfg.Actor, Role: domain.RoleSystem, At: now}
		res, err := w.cfg.Commands.RescheduleDeadline(ctx, c, stream, old, next)
		if err != nil {
			return added, nil, fmt.Errorf("deadline: reschedule %s %s: %w", stream, kind, err)
		}
		if res.Events == 0 {
			continue
		}
		if !res.Replayed {
			added++
		}
		delete(w.state, stream)
		if l, err = w.load(ctx, stream); err != nil {
			return added, nil, err
		}
	}
	return added, l.clocks, nil
}

// rederive returns the subject's running deadline of kind as it was set
// (old) and as the calendar in force derives it now (next); ok is false
// when the clock does not run or does not depend on a newer calendar.
func (w *Watcher) rederive(l *loaded, kind domain.ClockKind) (old, next domain.Deadline, ok bool) {
	var clock *domain.Clock
	for i := range l.clocks {
		if l.clocks[i].Kind == kind {
			clock = &l.clocks[i]
		}
	}
	if clock == nil {
		return old, next, false
	}
	c := *clock
	var ok1, ok2 bool
	var err error
	if !c.Due.IsZero() {
		// An explicit due computed from a working-day limit.
		if c.Limit.Unit != domain.UnitWorkingDay || c.Basis.Version == w.cal.Version() {
			return old, next, false
		}
		due, derr := domain.DueAfter(w.cal, c.Start, c.Limit)
		if derr != nil {
			return old, next, false
		}
		if old, ok1, err = w.cfg.Policies.Deadline(w.cal, c); err != nil {
			return old, next, false
		}
		c2 := c
		c2.Due, c2.Basis = due.At, due.Basis
		next, ok2, err = w.cfg.Policies.Deadline(w.cal, c2)
	} else {
		var before domain.WorkingDayCalendar = w.calendarAt(c.Start)
		if cal, found := w.byVersion[c.Rescheduled]; found {
			before = cal
		}
		if before.Version() == w.cal.Version() {
			return old, next, false
		}
		if old, ok1, err = w.cfg.Policies.Deadline(before, c); err != nil {
			return old, next, false
		}
		next, ok2, err = w.cfg.Policies.Deadline(w.cal, c)
	}
	if err != nil || !ok1 || !ok2 {
		return old, next, false
	}
	if old.Due.Equal(next.Due) && slices.Equal(old.Basis.Provisional, next.Basis.Provisional) {
		return old, next, false
	}
	return old, next, true
}

// Deadlines lists the running deadlines as derived with the calendar in
// force (only the provisional ones when provisionalOnly), soonest first.
// ok is false until the watcher has read the log once.
func (w *Watcher) Deadlines(provisionalOnly bool) (ds []domain.Deadline, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.synced {
		return nil, false
	}
	out := make([]domain.Deadline, 0, len(w.derived))
	for _, d := range w.derived {
		if !provisionalOnly || d.Basis.IsProvisional() {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Kind < out[j].Kind
	})
	return out, true
}

// Deadline returns the running deadline of a subject's clock, as derived now.
func (w *Watcher) Deadline(stream string, kind domain.ClockKind) (domain.Deadline, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.derived[Key{stream, kind}]
	return d, ok
}

// Provisional counts the running deadlines that are provisional.
func (w *Watcher) Provisional() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, d := range w.derived {
		if d.Basis.IsProvisional() {
			n++
		}
	}
	return n
}

// CalendarInForce returns the calendar the watcher derives deadlines with.
func (w *Watcher) CalendarInForce() domain.WorkingDayCalendar {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cal
}
