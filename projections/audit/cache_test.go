package audit_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/audit"
)

// TestTrailAskedAgain: a trail asked again is the same as the first answer
// (decision 0152 keeps the described entries), whatever the first caller
// wrote into its copy; an event appended since, to the household's stream or
// to a new problem's, shows at once.
func TestTrailAskedAgain(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	t0 := time.Date(2026, 2, 2, 9, 0, 0, 0, env.Loc)
	hs := domain.HouseholdStream("liu")
	h := func() *domain.Household { x := domain.NewHousehold("liu"); env.Load(t, hs, x); return x }
	m := testenv.Meta("w1", domain.RoleGridWorker, t0)
	env.Do(t, hs, m)(domain.NewHousehold("liu").Register(m, pol, domain.RegisterHousehold{Address: "建设巷5号", Community: "c1", Grid: "g1",
		ResponsibleWorker: "w1", Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskYellow}))
	m = testenv.Meta("sup1", domain.RoleSupervisor, t0.Add(time.Hour))
	env.Do(t, hs, m)(h().ChangeRisk(m, domain.RiskRed, "连续拒访"))

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, audit.NewIndex())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	catchUp := func() {
		t.Helper()
		if _, err := eng.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	catchUp()
	tr := audit.NewTrail(env.DB, env.Dialect, env.Store, nil)
	read := func() []audit.Entry {
		t.Helper()
		es, err := tr.Household(ctx, "liu")
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	first := read()
	if len(first) != 2 || len(first[1].Changes) == 0 {
		t.Fatalf("first trail: %+v, want the registration and the risk change", first)
	}
	want := slices.Clone(first)
	for i := range want {
		want[i].Changes = slices.Clone(first[i].Changes)
	}
	// What a caller does to its copy (the API marks erasures and opens
	// sealed text in place) stays in its copy.
	first[1].Summary, first[1].Reason = "scribbled", "scribbled"
	first[1].Changes[0].After = "scribbled"
	again := read()
	if len(again) != len(want) {
		t.Fatalf("asked again: %d entries, want %d", len(again), len(want))
	}
	for i := range want {
		if again[i].Summary != want[i].Summary || again[i].Reason != want[i].Reason || !slices.Equal(again[i].Changes, want[i].Changes) {
			t.Fatalf("asked again, entry %d: %+v, want %+v", i, again[i], want[i])
		}
	}

	m = testenv.Meta("sup1", domain.RoleSupervisor, t0.Add(2*time.Hour))
	env.Do(t, hs, m)(h().ChangeRisk(m, domain.RiskYellow, "情绪好转"))
	p := domain.NewProblem("p1")
	m = testenv.Meta("w1", domain.RoleGridWorker, t0.Add(3*time.Hour))
	env.Do(t, "problem-p1", m)(p.Report(m, pol, domain.ReportProblem{Number: "WT2026000007", HouseholdID: "liu", Description: "需要心理支持",
		Category: domain.ProblemPsychological, HandlingClass: domain.HandlingLongTerm, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	catchUp()
	after := read()
	if len(after) != 4 {
		t.Fatalf("after a risk change and a problem: %d entries, want 4: %+v", len(after), after)
	}
	if after[2].Stream != hs || after[2].Reason != "情绪好转" || after[3].Stream != "problem-p1" {
		t.Fatalf("the new entries: %+v and %+v", after[2], after[3])
	}
}
