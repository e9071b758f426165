package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
)

func TestAlertsOpenAndClear(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, env.Loc)
	for _, c := range []string{"c1", "c2"} {
		h := domain.NewHousehold("h-" + c)
		m := testenv.Meta("w-"+c, domain.RoleGridWorker, t0)
		env.Do(t, domain.HouseholdStream("h-"+c), m)(h.Register(m, pol, domain.RegisterHousehold{Address: "光明小区1号", Community: c, Grid: c + "-g1",
			ResponsibleWorker: "w-" + c, Class: domain.ClassKey, Risk: domain.RiskYellow}))
		p := domain.NewProblem("p-" + c)
		env.Do(t, domain.ProblemStream("p-"+c), m)(p.Report(m, pol, domain.ReportProblem{Number: "WT2026000001", HouseholdID: "h-" + c,
			Description: "屋顶漏水", Category: domain.ProblemLivingSecurity, HandlingClass: domain.HandlingImmediate,
			Colour: domain.ColourRed, Urgency: domain.UrgencyUrgent}))
	}
	w, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal,
		Supervisor: func(s deadline.Subject) string { return sim.Supervisor(s.Community) }})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, alerts.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	step := func(now time.Time) {
		t.Helper()
		if err := w.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Fire(ctx, now); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	rd := alerts.NewReader(env.DB, env.Dialect)
	open := func(f alerts.Filter, now time.Time) []alerts.Alert {
		t.Helper()
		out, err := rd.Open(ctx, f, now)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	step(t0.Add(21 * time.Hour)) // both problems' responses are approaching
	if got := open(alerts.Filter{Stage: domain.StageApproaching}, t0.Add(21*time.Hour)); len(got) != 2 {
		t.Fatalf("approaching: %+v", got)
	}
	step(t0.Add(26 * time.Hour)) // both breached
	now := t0.Add(30 * time.Hour)
	got := open(alerts.Filter{Stage: domain.StageBreached, Community: "c1"}, now)
	if len(got) != 1 {
		t.Fatalf("breaches in c1: %+v", got)
	}
	a := got[0]
	if a.Stream != "problem-p-c1" || a.Kind != domain.ClockProblemResponse || a.Responsible != "w-c1" || a.Supervisor != "sup-c1" ||
		a.HouseholdID != "h-c1" || a.Grid != "c1-g1" || a.Age != 6*time.Hour {
		t.Errorf("alert %+v", a)
	}
	// Asked again an hour later with nothing committed meanwhile (the
	// answer kept, decision 0152): the age is that of the new instant.
	if again := open(alerts.Filter{Stage: domain.StageBreached, Community: "c1"}, now.Add(time.Hour)); len(again) != 1 || again[0].Age != 7*time.Hour {
		t.Errorf("asked again an hour later: %+v, want one breach 7 h old", again)
	}
	if n := len(open(alerts.Filter{Stage: domain.StageApproaching}, now)); n != 0 {
		t.Errorf("%d warnings left after the breaches replaced them", n)
	}

	// c1's worker responds: its alert clears, c2's stays.
	p := domain.NewProblem("p-c1")
	env.Load(t, "problem-p-c1", p)
	m := testenv.Meta("w-c1", domain.RoleGridWorker, now)
	env.Do(t, "problem-p-c1", m)(p.NoteProgress(m, pol, "已修补", domain.FollowHomeVisit))
	step(now)
	if got := open(alerts.Filter{}, now); len(got) != 1 || got[0].Community != "c2" {
		t.Fatalf("after the response: %+v", got)
	}
	counts, err := rd.CountByCommunity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0] != (alerts.Counts{Community: "c2", Breached: 1}) {
		t.Errorf("counts %+v", counts)
	}
	// Key households registered in June must be visited in July (once a
	// month, 001 §2.3.3): in August their visits are overdue too.
	later := t0.AddDate(0, 2, 1)
	step(later)
	counts, _ = rd.CountByCommunity(ctx)
	// Their needs, not updated since the registration in June, were due
	// in July too (每月更新家庭需求变化, 001 §2.4.3; decision 0118).
	if len(counts) != 2 || counts[0].Breached != 2 || counts[1].Breached != 3 {
		t.Errorf("counts a month later %+v", counts)
	}
	if got := open(alerts.Filter{Kind: domain.ClockNeedsUpdate, Responsible: "w-c2"}, later); len(got) != 1 || got[0].Supervisor != "sup-c2" {
		t.Errorf("needs-update alerts of w-c2: %+v", got)
	}
	if got := open(alerts.Filter{Kind: domain.ClockVisitDue, Responsible: "w-c2"}, later); len(got) != 1 || got[0].Supervisor != "sup-c2" {
		t.Errorf("visit alerts of w-c2: %+v", got)
	}
}
