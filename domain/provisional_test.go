package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
)

// TestProvisionalTimeLimit: a working-day limit that runs into a year
// without an official calendar is accepted, computed with Monday to Friday
// for that year and marked provisional in the event with the calendar
// version; publishing the year reschedules it by an event, and a breach
// recorded under the provisional rule that the official calendar does not
// confirm is withdrawn, not deleted.
func TestProvisionalTimeLimit(t *testing.T) {
	cal := mustCalendar(t)
	p, pol := reported(t, "p1", domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary)
	evs, err := p.Assign(meta(t, "王书记", "2026-12-30 12:00"), cal, domain.AssignProblem{To: "网格员小李", TimeLimit: domain.WorkingDays(3)})
	if err != nil {
		t.Fatal(err)
	}
	a := evs[0].(domain.ProblemAssigned)
	// Dec 31 (official), Jan 1 and Jan 4 (2027: Monday to Friday).
	if want := time.Date(2027, 1, 4, 23, 59, 59, 999999999, shanghai(t)); !a.Due.Equal(want) {
		t.Fatalf("due %s, want %s", a.Due, want)
	}
	if a.Calendar.Version != cal.Version() || !slices.Equal(a.Calendar.Provisional, []int{2027}) {
		t.Fatalf("calendar basis %+v", a.Calendar)
	}
	p.Apply(a)
	clock := clockOf(t, p, domain.ClockProblemResolution)
	old, _, err := pol.Deadline(cal, clock)
	if err != nil || !old.Basis.IsProvisional() || clock.Limit != domain.WorkingDays(3) {
		t.Fatalf("deadline %+v clock %+v err %v", old, clock, err)
	}
	// The breach is recorded under the provisional rule on Jan 5.
	breach, err := p.RecordDeadlineAlert(domain.Meta{Actor: "deadline-watcher", Role: domain.RoleSystem, At: at(t, "2027-01-05 08:00")}, old, domain.StageBreached, "")
	if err != nil || len(breach) != 1 {
		t.Fatal(breach, err)
	}
	p.Apply(breach[0])
	if b := breach[0].(domain.ProblemDeadlineBreached); !b.Calendar.IsProvisional() {
		t.Fatalf("the breach does not say it is provisional: %+v", b)
	}

	// The 2027 notice makes Jan 1-3 holidays: the deadline moves to Jan 6.
	official, err := cal.With(calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-03"}})
	if err != nil {
		t.Fatal(err)
	}
	due, err := domain.DueAfter(official, clock.Start, clock.Limit)
	if err != nil || due.Basis.IsProvisional() {
		t.Fatal(due, err)
	}
	c2 := clock
	c2.Due, c2.Basis = due.At, due.Basis
	next, _, _ := pol.Deadline(official, c2)
	m := domain.Meta{Actor: "deadline-watcher", Role: domain.RoleSystem, At: at(t, "2027-01-05 09:00")}
	evs, err = p.RescheduleDeadline(m, old, next)
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	r := evs[0].(domain.ProblemDeadlineRescheduled)
	if !r.OldDue.Equal(old.Due) || !r.NewDue.Equal(time.Date(2027, 1, 5, 23, 59, 59, 999999999, shanghai(t))) ||
		r.Calendar.Version != official.Version() || r.Calendar.IsProvisional() || !slices.Equal(r.Withdrawn, []domain.AlertStage{domain.StageBreached}) ||
		!r.WithdrawnBreachAt.Equal(at(t, "2027-01-05 08:00")) {
		t.Fatalf("rescheduled %+v", r)
	}
	p.Apply(r)
	after := clockOf(t, p, domain.ClockProblemResolution)
	if !after.Due.Equal(r.NewDue) || after.Breached || after.Basis.IsProvisional() {
		t.Fatalf("after rescheduling: %+v", after)
	}
	// Deciding again writes nothing: the clock already has the new due.
	if evs, err := p.RescheduleDeadline(m, old, next); err != nil || len(evs) != 0 {
		t.Fatalf("repeat: %v %v", evs, err)
	}
}

func clockOf(t *testing.T, p *domain.Problem, k domain.ClockKind) domain.Clock {
	t.Helper()
	for _, c := range p.Clocks() {
		if c.Kind == k {
			return c
		}
	}
	t.Fatalf("no %s clock", k)
	return domain.Clock{}
}
