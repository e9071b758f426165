package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
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
// log, so all agree. It reads only the calendar events appended since the
// last call.
func (s *Service) CalendarInForce(ctx context.Context) (*calendar.Calendar, error) {
	s.calMu.Lock()
	defer s.calMu.Unlock()
	a := &calendarAgg{cal: s.base}
	if _, err := s.load(ctx, domain.CalendarStream, a, domain.AsOf{}, ""); err != nil {
		return nil, err
	}
	if s.calCur == nil || s.calCur.version != a.version {
		s.calCur = a
	}
	return s.calCur.cal, nil
}

// CalendarAt returns the calendar that was in force after the first
// version events of the calendar stream (0: the base calendar), for
// auditors asking which calendar a deadline was set with.
func (s *Service) CalendarAt(ctx context.Context, version uint64) (*calendar.Calendar, error) {
	a := &calendarAgg{cal: s.base}
	if version == 0 {
		return s.base, nil
	}
	if _, err := s.load(ctx, domain.CalendarStream, a, domain.UntilVersion(version), ""); err != nil {
		return nil, err
	}
	return a.cal, nil
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
