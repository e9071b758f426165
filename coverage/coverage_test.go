package coverage_test

import (
	"testing"
	"time"

	"github.com/doorstep/doorstep/coverage"
	"github.com/doorstep/doorstep/domain"
)

func setup(t *testing.T) (*domain.Policy, *time.Location) {
	t.Helper()
	pol, err := domain.DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return pol, loc
}

func day(loc *time.Location, m time.Month, d int) time.Time {
	return time.Date(2026, m, d, 10, 0, 0, 0, loc)
}

func household(id, community string, class domain.HouseholdClass, reg time.Time, visits ...time.Time) coverage.Household {
	h := coverage.Household{ID: id, Community: community, Grid: community + "-1", Registered: reg, Classes: []coverage.ClassAt{{At: reg, Class: class}}}
	for _, v := range visits {
		h.Visits = append(h.Visits, coverage.Visit{At: v, Mode: domain.ModeHome})
	}
	return h
}

func status(t *testing.T, pol *domain.Policy, loc *time.Location, h coverage.Household, label string) coverage.Status {
	t.Helper()
	_, s, e, err := domain.ParsePeriodLabel(label, loc)
	if err != nil {
		t.Fatal(err)
	}
	return coverage.Of(&h, pol, loc, s, e)
}

// Issue 15: "a key household never visited since January gave 100% coverage
// for March and April". Coverage is of households, per period: a household
// overdue three months is uncovered in each of the three (001 §2.1, §4.3).
func TestSeed001_4_3_NeverVisitedKeyHouseholdIsUncoveredEveryMonth(t *testing.T) {
	pol, loc := setup(t)
	h := household("h1", "c1", domain.ClassKey, time.Date(2025, 12, 20, 9, 0, 0, 0, loc))
	for _, m := range []string{"2026-01", "2026-02", "2026-03", "2026-04"} {
		if s := status(t, pol, loc, h, m); !s.Due || s.Covered || len(s.Missed) != 1 || s.Missed[0] != m {
			t.Errorf("%s: %+v, want due and uncovered", m, s)
		}
	}
	if s := status(t, pol, loc, h, "2026-Q1"); !s.Due || s.Covered || len(s.Missed) != 3 {
		t.Errorf("Q1: %+v", s)
	}
}

// 001 §2.3.3 重点家庭每月走访1次: a visit on January 31st covers January, not February.
func TestSeed001_2_3_3_Jan31VisitLeavesFebruaryUncovered(t *testing.T) {
	pol, loc := setup(t)
	h := household("h1", "c1", domain.ClassKey, time.Date(2025, 12, 1, 9, 0, 0, 0, loc), day(loc, 1, 31), day(loc, 3, 2))
	for m, covered := range map[string]bool{"2026-01": true, "2026-02": false, "2026-03": true} {
		if s := status(t, pol, loc, h, m); !s.Due || s.Covered != covered {
			t.Errorf("%s: %+v, want covered=%v", m, s, covered)
		}
	}
}

// A phone call counts only where the policy says so (home visits only in the
// shipped policies); a visit recorded not_counted never counts.
func TestSeed001_2_3_3_PhoneCallDoesNotCover(t *testing.T) {
	pol, loc := setup(t)
	h := household("h1", "c1", domain.ClassKey, time.Date(2025, 12, 1, 9, 0, 0, 0, loc))
	h.Visits = []coverage.Visit{{At: day(loc, 1, 10), Mode: domain.ModePhone}, {At: day(loc, 2, 10), Mode: domain.ModeHome, NotCounted: true}}
	for _, m := range []string{"2026-01", "2026-02"} {
		if s := status(t, pol, loc, h, m); s.Covered {
			t.Errorf("%s covered by %+v", m, h.Visits)
		}
	}
	phone := *pol
	phone.VisitModes = map[domain.HouseholdClass][]domain.VisitMode{domain.ClassKey: {domain.ModeHome, domain.ModePhone}}
	if s := status(t, &phone, loc, h, "2026-01"); !s.Covered {
		t.Errorf("a policy that counts phone calls: %+v", s)
	}
}

// Cadences by class: weekly households count each week ending in the month;
// quarterly households in the month that ends their quarter; the period of
// registration is not required; an archived household is not due after it.
func TestCadencePeriodsInAMonth(t *testing.T) {
	pol, loc := setup(t)
	// Special, weekly: March 2026 has the weeks ending Sun 1, 8, 15, 22, 29.
	sp := household("s", "c1", domain.ClassSpecial, time.Date(2026, 2, 1, 9, 0, 0, 0, loc),
		day(loc, 2, 27), day(loc, 3, 3), day(loc, 3, 10), day(loc, 3, 17), day(loc, 3, 24))
	if s := status(t, pol, loc, sp, "2026-03"); !s.Due || !s.Covered || len(s.Periods) != 5 {
		t.Errorf("weekly all visited: %+v", s)
	}
	sp.Visits = sp.Visits[:4] // the week of 23–29 March goes unvisited
	if s := status(t, pol, loc, sp, "2026-03"); s.Covered || len(s.Missed) != 1 || s.Missed[0] != "2026-W13" {
		t.Errorf("weekly one missed: %+v", s)
	}
	// Ordinary, quarterly: due in March (end of Q1), not in February.
	or := household("o", "c1", domain.ClassOrdinary, time.Date(2025, 12, 1, 9, 0, 0, 0, loc), day(loc, 2, 5))
	if s := status(t, pol, loc, or, "2026-02"); s.Due {
		t.Errorf("quarterly household due in February: %+v", s)
	}
	if s := status(t, pol, loc, or, "2026-03"); !s.Due || !s.Covered {
		t.Errorf("quarterly household in March: %+v", s)
	}
	// Registered in March: March is not required, April is.
	nw := household("n", "c1", domain.ClassKey, day(loc, 3, 20))
	if s := status(t, pol, loc, nw, "2026-03"); s.Due {
		t.Errorf("registration month required: %+v", s)
	}
	if s := status(t, pol, loc, nw, "2026-04"); !s.Due || s.Covered {
		t.Errorf("April: %+v", s)
	}
	// Archived in April: not due in April or later.
	nw.Archived = day(loc, 4, 10)
	if s := status(t, pol, loc, nw, "2026-04"); s.Due {
		t.Errorf("archived: %+v", s)
	}
	// The class in force at the end of the month sets the cadence.
	or.Classes = append(or.Classes, coverage.ClassAt{At: day(loc, 4, 3), Class: domain.ClassKey})
	if s := status(t, pol, loc, or, "2026-04"); !s.Due || s.Class != domain.ClassKey || s.Covered {
		t.Errorf("became key in April: %+v", s)
	}
}

// 001 §2.1 重点群体服务覆盖率达100%, §4.3 走访覆盖率95%以上, §6.2 家庭覆盖率低于90%:
// the report per community, per class and for key groups, against the policy's targets.
func TestSeed001_2_1_CoverageByClassAgainstTargets(t *testing.T) {
	pol, loc := setup(t)
	reg := time.Date(2025, 12, 1, 9, 0, 0, 0, loc)
	var hs []coverage.Household
	for i := range 20 {
		v := []time.Time{day(loc, 3, 3), day(loc, 3, 10), day(loc, 3, 17), day(loc, 3, 24), day(loc, 2, 27)}
		class := domain.ClassOrdinary
		switch {
		case i < 5:
			class = domain.ClassKey
		case i < 7:
			class = domain.ClassSpecial
		}
		if i == 0 {
			v = nil // one key household never visited
		}
		hs = append(hs, household(string(rune('a'+i)), "c1", class, reg, v...))
	}
	hs = append(hs, household("z", "c2", domain.ClassKey, reg, day(loc, 3, 9)))
	r, err := coverage.Compute(pol, loc, "2026-03", hs)
	if err != nil {
		t.Fatal(err)
	}
	c1 := r.Communities["c1"]
	if c1.All != (coverage.Count{Due: 20, Covered: 19}) || c1.ByClass[domain.ClassKey] != (coverage.Count{Due: 5, Covered: 4}) ||
		c1.KeyGroups != (coverage.Count{Due: 7, Covered: 6}) || r.Street.All != (coverage.Count{Due: 21, Covered: 20}) {
		t.Fatalf("c1 %+v street %+v", c1, r.Street)
	}
	if len(r.Uncovered["c1"]) != 1 || r.Uncovered["c1"][0] != "a" || r.PolicyVersion != pol.Version {
		t.Fatalf("uncovered %v", r.Uncovered)
	}
	b := coverage.Breaches(*c1, pol.Coverage)
	if len(b) != 1 || b[0].Measure != "coverage.key_groups" || b[0].Target != 1.0 {
		t.Fatalf("breaches %+v: 95%% overall meets 95%%, key groups 6/7 miss 100%%", b)
	}
	if b := coverage.Breaches(*r.Communities["c2"], pol.Coverage); len(b) != 0 {
		t.Fatalf("c2 breaches %+v", b)
	}
}
