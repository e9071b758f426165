package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// calendarAgg folds the calendar stream (domain.CalendarStream) on top of
// the base calendar: each CalendarYearPublished puts its year in force.
type calendarAgg struct {
	cal     *calendar.Calendar
	version uint64
}

func (c *calendarAgg) Version() uint64 { return c.version }

func (c *calendarAgg) Apply(e domain.Event) {
	c.version++
	if p, ok := e.(domain.CalendarYearPublished); ok {
		// A published year was checked when it was published; a year that
		// no longer builds (never expected) leaves the calendar as it was.
		if next, err := c.cal.Apply(p); err == nil {
			c.cal = next
		}
	}
}

// CalendarInForce returns the working-day calendar commands decide with
// now: the base calendar (the shipped years) with every year published in
// the log (domain.CalendarStream) in force. Every node derives it from the
// log, so all agree. Each call reads only the calendar events appended
// since the calendar it last built (usually none: one short read), and
// holds no lock while it reads.
func (s *Service) CalendarInForce(ctx context.Context) (*calendar.Calendar, error) {
	s.calMu.Lock()
	cur := s.calCur
	s.calMu.Unlock()
	if cur == nil {
		cur = &calendarAgg{cal: s.base}
	}
	next := &calendarAgg{cal: cur.cal, version: cur.version}
	for {
		evs, err := s.store.ReadStream(ctx, domain.CalendarStream, eventstore.Forward, next.version+1, pageSize)
		if err != nil {
			return nil, fmt.Errorf("app: read %s: %w", domain.CalendarStream, err)
		}
		if _, err := eventlog.Fold(s.reg, next, evs, domain.AsOf{}); err != nil {
			return nil, err
		}
		if len(evs) < pageSize {
			break
		}
	}
	s.calMu.Lock()
	if s.calCur == nil || s.calCur.version < next.version {
		s.calCur = next
	}
	s.calMu.Unlock()
	return next.cal, nil
}

// PublishCalendarYear appends the year y (holidays, make-up working days,
// the notice) to the calendar stream, which puts it in force on every node
// and makes the deadline watcher re-derive the deadlines that depend on
// it. Publishing the days already in force records nothing (Result.Events
// 0); a year with other days replaces the one in force (a corrected
// notice). Bad data fails with a bilingual *domain.Error
// "calendar_invalid" naming the problem and, for a file, the line;
// nothing is written.
func (s *Service) PublishCalendarYear(ctx context.Context, c Cmd, y calendar.Year) (Result, error) {
	if c.Actor == "" {
		return Result{}, errorf(domain.ErrInvalid, "actor_required", "actor", "who publishes the calendar is required", "须注明发布日历的人")
	}
	input := struct {
		Year   int             `json:"year"`
		Hash   string          `json:"hash"`
		Notice calendar.Notice `json:"notice"`
	}{y.Year, y.Hash(), y.Notice}
	res, _, err := execute(ctx, s, c, target[*calendarAgg]{
		kind: "calendar.publish_year", stream: domain.CalendarStream, input: input,
		newAgg: func() *calendarAgg { return &calendarAgg{cal: s.base} },
		decide: func(a *calendarAgg, m domain.Meta) ([]domain.Event, error) {
			e, noop, err := a.cal.Publication(y, m.Actor, m.At)
			if err != nil {
				return nil, CalendarError(err)
			}
			if noop {
				return nil, nil
			}
			return []domain.Event{e}, nil
		},
	})
	return res, err
}

// CalendarError turns calendar data errors into a bilingual *domain.Error
// "calendar_invalid" (ErrInvalid); other errors are returned as they are.
func CalendarError(err error) error {
	var fe *calendar.FileError
	if !errors.As(err, &fe) {
		return err
	}
	en, zh := fe.EN, fe.ZH
	if fe.Line > 0 {
		en, zh = fmt.Sprintf("line %d: %s", fe.Line, en), fmt.Sprintf("第 %d 行：%s", fe.Line, zh)
	}
	e := errorf(domain.ErrInvalid, "calendar_invalid", "calendar", en, zh)
	e.Err = err
	return e
}
