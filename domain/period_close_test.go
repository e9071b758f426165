package domain_test

import (
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// 001 §2.4.4: two consecutive closed months below 80% raise the flag at the
// second close; a closed period never changes, a late correction is an
// amendment with a reason.
func TestSeed001_2_4_4_LedgerClosesOnceAndAmendsWithAReason(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	l := domain.NewPeriodLedger("c1")
	m := meta(t, "measures-closer", "2026-06-01 02:00")
	low := domain.PeriodFigures{Resolution: domain.Tally{Num: 1, Den: 4}, Coverage: domain.Tally{Num: 19, Den: 20}, CoverageKeyGroups: domain.Tally{Num: 5, Den: 5}}
	evs := do(t, l)(l.Close(m, domain.ClosePeriod{Period: "2026-05", Previous: "2026-04", Figures: low, Policy: pol, CalendarVersion: "cal"}))
	if len(evs) != 1 {
		t.Fatalf("May: %+v (April not closed: no flag; 95%% coverage meets 95%%)", evs)
	}
	if evs, err := l.Close(m, domain.ClosePeriod{Period: "2026-05", Figures: low, Policy: pol}); err != nil || evs != nil {
		t.Fatalf("closing twice: %v %v", evs, err)
	}
	m = meta(t, "measures-closer", "2026-07-01 02:00")
	evs = do(t, l)(l.Close(m, domain.ClosePeriod{Period: "2026-06", Previous: "2026-05", Figures: low, Policy: pol, CalendarVersion: "cal"}))
	if len(evs) != 2 || evs[1].(domain.MeasuresFlagRaised).Measure != "resolution.two_months" {
		t.Fatalf("June: %+v", evs)
	}
	evs, err := l.Amend(m, "2026-06", low, pol, "cal", "")
	fails(t, evs, err, "required", domain.ErrInvalid)
	evs, err = l.Amend(m, "2026-08", low, pol, "cal", "补录")
	fails(t, evs, err, "period_not_closed", domain.ErrRule)
	evs, err = l.Amend(m, "2026-06", low, pol, "cal", "补录")
	fails(t, evs, err, "no_change", domain.ErrRule)
	fixed := low
	fixed.Resolution = domain.Tally{Num: 3, Den: 4}
	do(t, l)(l.Amend(m, "2026-06", fixed, pol, "cal", "6月两条问题漏记办结，经核实补录"))
	p, _ := l.Period("2026-06")
	if p.Current().Resolution != fixed.Resolution || p.Figures.Resolution != low.Resolution || len(p.Flags) != 1 {
		t.Fatalf("amended: %+v", p)
	}
}
