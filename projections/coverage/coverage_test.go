package coverage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/coverage"
)

// Coverage from the log through the read model: households registered and
// visited through the domain on a real store, the projection applied in
// small batches, the report computed for months and a quarter (001 §2.1,
// §2.3.3, §4.3).
func TestSeed001_4_3_CoverageFromTheLog(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, env.Loc) }
	register := func(id, community string, cat domain.AssistanceCategory) {
		h := domain.NewHousehold(id)
		m := testenv.Meta("w1", domain.RoleGridWorker, time.Date(2025, 12, 15, 9, 0, 0, 0, env.Loc))
		env.Do(t, domain.HouseholdStream(id), m)(h.Register(m, pol, domain.RegisterHousehold{Address: "幸福里" + id, Community: community,
			Grid: community + "-1", ResponsibleWorker: "w1", Category: cat, Risk: domain.RiskBlue}))
	}
	n := 0
	visit := func(id string, when time.Time, mode domain.VisitMode) {
		h := domain.NewHousehold(id)
		env.Load(t, domain.HouseholdStream(id), h)
		m := testenv.Meta("w1", domain.RoleGridWorker, when.Add(time.Hour))
		n++
		env.Do(t, domain.HouseholdStream(id), m)(h.RecordVisit(m, pol, testenv.Evidence(m.Actor, domain.RecordVisit{VisitID: fmt.Sprint("v", n), Team: []string{"w1"},
			OccurredAt: when, Mode: mode, Outcome: domain.OutcomeCompleted})))
	}
	register("never", "c1", domain.CategoryDiBao) // 低保: key by rule, never visited
	register("jan31", "c1", domain.CategoryTeKun) // 特困: key, visited Jan 31 and Mar 2
	register("phone", "c1", domain.CategoryDiBao) // key, phone calls only
	register("ord", "c2", domain.CategoryNone)    // ordinary, visited in February
	visit("jan31", at(1, 31), domain.ModeHome)
	visit("jan31", at(3, 2), domain.ModeHome)
	for _, mo := range []time.Month{1, 2, 3} {
		visit("phone", at(mo, 10), domain.ModePhone)
	}
	visit("ord", at(2, 5), domain.ModeHome)
	// The 低保 household is key by rule, not ordinary.
	h := domain.NewHousehold("never")
	env.Load(t, domain.HouseholdStream("never"), h)
	if h.Class() != domain.ClassKey {
		t.Fatalf("a 低保 household is %s, want key", h.Class())
	}

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 3}, coverage.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rd := coverage.NewReader(env.DB, env.Dialect)
	for _, tc := range []struct {
		period           string
		due, covered     int64
		uncoveredInC1    []string
		keyDue, keyCover int64
	}{
		{"2026-01", 3, 1, []string{"never", "phone"}, 3, 1},
		{"2026-02", 3, 0, []string{"jan31", "never", "phone"}, 3, 0}, // a Jan 31 visit leaves February uncovered
		{"2026-03", 4, 2, []string{"never", "phone"}, 3, 1},          // the quarterly household counts at the end of Q1
		{"2026-Q1", 4, 1, []string{"jan31", "never", "phone"}, 3, 0},
	} {
		r, err := rd.Report(ctx, pol, env.Loc, tc.period, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Street.All.Due != tc.due || r.Street.All.Covered != tc.covered || r.Street.KeyGroups.Due != tc.keyDue || r.Street.KeyGroups.Covered != tc.keyCover {
			t.Errorf("%s: street %+v", tc.period, r.Street)
		}
		if fmt.Sprint(r.Uncovered["c1"]) != fmt.Sprint(tc.uncoveredInC1) {
			t.Errorf("%s: uncovered in c1 %v, want %v", tc.period, r.Uncovered["c1"], tc.uncoveredInC1)
		}
	}
	r, err := rd.Report(ctx, pol, env.Loc, "2026-03", "c2")
	if err != nil || len(r.Communities) != 1 || r.Communities["c2"].All != (r.Street.All) || r.Street.All.Covered != 1 {
		t.Fatalf("one community: %+v %v", r, err)
	}
}

// A report reads the visits that can cover a cadence period ending in it,
// no more: from the start of the longest cadence period that contains the
// report's start (a quarter under the default policy, a half-year under
// 001 §4.1's schedule, a week that began in the previous month).
func TestVisitsFrom(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	def, err := domain.ShippedPolicy(domain.PresetDefault)
	if err != nil {
		t.Fatal(err)
	}
	alt, err := domain.ShippedPolicy(domain.PresetAlt001Sec41)
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	for _, c := range []struct {
		pol         *domain.Policy
		start, want time.Time
	}{
		{def, day(2026, 6, 1), day(2026, 4, 1)},
		{def, day(2026, 4, 1), day(2026, 3, 30)}, // the week of Monday March 30th ends in April
		{alt, day(2026, 6, 1), day(2026, 1, 1)},
	} {
		if got := coverage.VisitsFrom(c.pol, loc, c.start); !got.Equal(c.want) {
			t.Errorf("%s from %s: %s, want %s", c.pol.Version, c.start.Format(time.DateOnly), got, c.want)
		}
	}
}
