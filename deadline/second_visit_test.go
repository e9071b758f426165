package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
)

// 001 §6.3 对拒绝配合的居民，由社区书记或网格员二次走访 (decision 0121): a refusal on
// Wednesday 30 September 2026 needs a second visit within 5 working days.
// The National Day holiday (1–7 October) does not count and Saturday 10
// October is a working day, so it is due by the end of Tuesday 13 October
// (not 7 October): the watcher warns a day before and records the breach
// just after, with the injected times; a second visit by the grid worker
// then stops the clock.
func TestSeed001_6_3_SecondVisitDeadlineOverTheHoliday(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	hs := domain.HouseholdStream("h1")
	h := domain.NewHousehold("h1")
	m := testenv.Meta("w1", domain.RoleGridWorker, time.Date(2026, 9, 1, 9, 0, 0, 0, env.Loc))
	env.Do(t, hs, m)(h.Register(m, env.Policies.Current(), domain.RegisterHousehold{Address: "幸福里1号",
		Community: "c1", Grid: "g1", ResponsibleWorker: "w1", Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskBlue}))
	env.Load(t, hs, h)
	refused := time.Date(2026, 9, 30, 10, 0, 0, 0, env.Loc)
	m = testenv.Meta("社工小张", domain.RoleSocialWorker, refused.Add(time.Hour))
	env.Do(t, hs, m)(h.RecordVisit(m, env.Policies.Current(), domain.RecordVisit{VisitID: "v1", Team: []string{"社工小张"},
		OccurredAt: refused, Mode: domain.ModeHome, Outcome: domain.OutcomeRefused}))
	w := newWatcher(t, env)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	secondVisitAlerts := func() (out []string) {
		for _, e := range streamTypes(t, env, hs) {
			if e.Metadata.Role != domain.RoleSystem {
				continue
			}
			ev, err := domain.NewRegistry().Decode(e.Type, e.Data)
			if err != nil {
				t.Fatal(err)
			}
			switch a := ev.(type) {
			case domain.HouseholdDeadlineApproaching:
				if a.Kind == domain.ClockSecondVisit {
					out = append(out, "approaching")
				}
			case domain.HouseholdDeadlineBreached:
				if a.Kind == domain.ClockSecondVisit {
					if !a.Due.Equal(time.Date(2026, 10, 14, 0, 0, 0, 0, env.Loc)) && !a.Due.Equal(time.Date(2026, 10, 13, 23, 59, 59, 999999999, env.Loc)) {
						t.Errorf("due %s, want the end of 13 October", a.Due)
					}
					if a.Responsible != "w1" {
						t.Errorf("responsible %q, want the household's worker", a.Responsible)
					}
					out = append(out, "breached")
				}
			}
		}
		return out
	}
	for _, step := range []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 10, 7, 23, 0, 0, 0, env.Loc), 0},  // 5 working days without the holiday: nothing
		{time.Date(2026, 10, 12, 23, 0, 0, 0, env.Loc), 0}, // before the warning
		{time.Date(2026, 10, 13, 0, 0, 1, 0, env.Loc), 1},  // 24 hours before the due instant
		{time.Date(2026, 10, 13, 23, 0, 0, 0, env.Loc), 0},
		{time.Date(2026, 10, 14, 0, 0, 1, 0, env.Loc), 1}, // breached
	} {
		if err := w.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := w.Fire(ctx, step.at); err != nil || n != step.want {
			t.Fatalf("Fire(%s) = %d, %v; want %d", step.at, n, err, step.want)
		}
	}
	if got := secondVisitAlerts(); len(got) != 2 || got[0] != "approaching" || got[1] != "breached" {
		t.Fatalf("second-visit alerts %v", got)
	}
	// The grid worker's second visit (late) stops the clock.
	h = domain.NewHousehold("h1")
	env.Load(t, hs, h)
	at := time.Date(2026, 10, 15, 10, 0, 0, 0, env.Loc)
	m = testenv.Meta("w1", domain.RoleGridWorker, at.Add(time.Hour))
	env.Do(t, hs, m)(h.RecordVisit(m, env.Policies.Current(), testenv.Evidence("w1", domain.RecordVisit{VisitID: "v2", OccurredAt: at, Mode: domain.ModeHome,
		Outcome: domain.OutcomeCompleted})))
	h = domain.NewHousehold("h1")
	env.Load(t, hs, h)
	if _, _, ok := h.SecondVisitDue(); ok {
		t.Fatal("the second visit did not stop the clock")
	}
	for _, c := range h.Clocks() {
		if c.Kind == domain.ClockSecondVisit {
			t.Fatalf("clock still running: %+v", c)
		}
	}
}
