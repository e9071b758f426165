package measures_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/measures"
)

// TestWithdrawnBreachDoesNotCount: a referral requested on 2026-12-30 must
// be accepted within 3 working days; with no 2027 calendar that is
// provisionally 4 January, and the watcher records a breach on 5 January.
// The 2027 notice (1–3 January off) moves the deadline to 5 January and
// withdraws the breach: the measures take it back, and the acceptance on 5
// January counts as on time.
func TestWithdrawnBreachDoesNotCount(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &town{t: t, env: env}
	at := func(m time.Month, d, h int, y int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, env.Loc) }
	w.household("h1", "c1", "w1", at(12, 1, 9, 2026))
	w.report("p1", "h1", "w1", at(12, 29, 9, 2026))
	m := testenv.Meta("w1", domain.RoleGridWorker, at(12, 30, 10, 2026))
	ref := domain.NewReferral("r1")
	env.Do(t, domain.ReferralStream("r1"), m)(ref.Request(m, env.Policies.Current(), domain.RequestReferral{ProblemID: "p1", HouseholdID: "h1",
		Level: domain.LevelCommunity, To: "卫生服务中心", Request: "上门体检"}))

	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := wt.Fire(ctx, at(1, 5, 8, 2027)); err != nil || n < 1 {
		t.Fatalf("watcher recorded %d alerts, %v; want the provisional breach", n, err)
	}

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, measures.New(env.Loc))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	rd := measures.NewReader(env.DB, env.Dialect)
	acceptance := func() measures.Rate {
		t.Helper()
		if _, err := eng.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
		rows, err := rd.Measures(ctx, measures.Query{By: measures.ByCommunity})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Group == "c1" && r.Month == "2027-01" {
				return r.OnTime[string(domain.ClockReferralAcceptance)]
			}
		}
		return measures.Rate{}
	}
	if got := acceptance(); got != (measures.Rate{Num: 0, Den: 1}) {
		t.Fatalf("before the notice: acceptance on time %+v, want 0 of 1 (the provisional breach)", got)
	}

	if _, err := svc.PublishCalendarYear(ctx, command.Cmd{ID: "publish-2027", Actor: "admin", Role: "admin", At: at(1, 5, 9, 2027)},
		calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-03"}}); err != nil {
		t.Fatal(err)
	}
	if err := wt.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := wt.Reschedule(ctx, at(1, 5, 10, 2027)); err != nil || n != 1 {
		t.Fatalf("Reschedule = %d, %v; want 1", n, err)
	}
	if got := acceptance(); got != (measures.Rate{}) {
		t.Fatalf("after the notice: acceptance on time %+v, want no breach left", got)
	}
	ref = domain.NewReferral("r1")
	env.Load(t, domain.ReferralStream("r1"), ref)
	m = testenv.Meta("卫生服务中心", domain.RoleDepartment, at(1, 5, 12, 2027))
	env.Do(t, domain.ReferralStream("r1"), m)(ref.Accept(m, env.Cal, "医生小王", domain.Days(15), ""))
	if got := acceptance(); got != (measures.Rate{Num: 1, Den: 1}) {
		t.Fatalf("accepted on 5 January: on time %+v, want 1 of 1", got)
	}
}
