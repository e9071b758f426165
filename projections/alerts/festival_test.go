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

// 004 §4.2 重要节日必访 (decision 0140): a key household's festival visit
// deadline breached at the due date is listed as an open alert of kind
// festival_visit; the late festival home visit clears it, a routine visit
// before it did not.
func TestSeed004_4_2_FestivalAlertClearsOnTheFestivalVisit(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	t0 := time.Date(2026, 9, 1, 9, 0, 0, 0, env.Loc)
	hs := domain.HouseholdStream("h1")
	h := domain.NewHousehold("h1")
	m := testenv.Meta("w1", domain.RoleGridWorker, t0)
	env.Do(t, hs, m)(h.Register(m, pol, domain.RegisterHousehold{Address: "光明小区1号", Community: "c1", Grid: "g1",
		ResponsibleWorker: "w1", Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskYellow}))
	env.Load(t, hs, h)
	due := time.Date(2026, 9, 25, 23, 59, 59, 0, env.Loc)
	m = testenv.Meta("sup", domain.RoleSupervisor, t0.AddDate(0, 0, 9))
	env.Do(t, hs, m)(h.ScheduleFestivalVisit(m, domain.FestivalCampaignOpened{Community: "c1", Campaign: "2026-mid_autumn",
		Festival: domain.FestivalMidAutumn, Starts: time.Date(2026, 9, 11, 0, 0, 0, 0, env.Loc), Due: due}))
	h = domain.NewHousehold("h1")
	env.Load(t, hs, h)
	visit := func(id string, at time.Time, purpose domain.VisitPurpose) {
		t.Helper()
		m := testenv.Meta("w1", domain.RoleGridWorker, at.Add(time.Hour))
		v := testenv.Evidence("w1", domain.RecordVisit{VisitID: id, OccurredAt: at, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted})
		v.Purpose = purpose
		env.Do(t, hs, m)(h.RecordVisit(m, pol, v))
		h = domain.NewHousehold("h1")
		env.Load(t, hs, h)
	}
	visit("v1", time.Date(2026, 9, 15, 10, 0, 0, 0, env.Loc), domain.PurposeRoutine)
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
	festival := func(now time.Time) []alerts.Alert {
		t.Helper()
		out, err := rd.Open(ctx, alerts.Filter{Kind: domain.ClockFestivalVisit}, now)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	after := due.Add(time.Hour)
	step(after)
	if got := festival(after); len(got) != 1 || got[0].Stage != domain.StageBreached || got[0].Responsible != "w1" || !got[0].Due.Equal(due) {
		t.Fatalf("festival alerts after the due date: %+v", got)
	}
	visit("v2", due.Add(2*time.Hour), domain.PurposeFestival)
	step(after.Add(3 * time.Hour))
	if got := festival(after.Add(3 * time.Hour)); len(got) != 0 {
		t.Fatalf("the festival visit left %+v", got)
	}
}
