package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
)

// Seed 001 §2.4.3 动态管理原则: 每月更新家庭需求变化，每季度修订家庭档案 (and §4.4
// 每季度更新一次家庭档案). The shipped policy states it as file_upkeep (decision
// 0118): a needs assessment in each calendar month and a revision of the
// file in each quarter, alerted by the deadline watcher like the visit
// cadence — approaching a day before the end of the period that must be
// covered, breached after it. A needs assessment made during the National
// Day holiday (October 1–7) covers October and revises the file for the
// fourth quarter; the registration's period is not required.
func TestSeed001_2_4_3_FileUpkeepDeadlines(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	if u := pol.FileUpkeep; u.NeedsUpdate != domain.PeriodMonth || u.FileRevision != domain.PeriodQuarter {
		t.Fatalf("policy file_upkeep %+v, want needs monthly and the file quarterly", u)
	}
	reg := time.Date(2026, 9, 20, 10, 0, 0, 0, env.Loc)
	for _, id := range []string{"kept", "left"} {
		h := domain.NewHousehold(id)
		m := testenv.Meta("w1", domain.RoleGridWorker, reg)
		env.Do(t, domain.HouseholdStream(id), m)(h.Register(m, pol, domain.RegisterHousehold{Address: "幸福里" + id, Community: "c1", Grid: "g1",
			ResponsibleWorker: "w1", Risk: domain.RiskBlue}))
	}
	h := domain.NewHousehold("kept")
	env.Load(t, domain.HouseholdStream("kept"), h)
	m := testenv.Meta("w1", domain.RoleGridWorker, time.Date(2026, 10, 3, 10, 0, 0, 0, env.Loc)) // 国庆 holiday
	env.Do(t, domain.HouseholdStream("kept"), m)(h.AssessNeeds(m, map[domain.NeedDomain][]string{domain.NeedMedical: {"慢性病用药"}}, "月度需求更新"))

	w := newWatcher(t, env)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	type state struct{ approached, breached bool }
	clocks := func(id string) map[domain.ClockKind]state {
		t.Helper()
		h := domain.NewHousehold(id)
		env.Load(t, domain.HouseholdStream(id), h)
		out := map[domain.ClockKind]state{}
		for _, c := range h.Clocks() {
			out[c.Kind] = state{c.Approached, c.Breached}
		}
		return out
	}
	fire := func(at time.Time, want int) {
		t.Helper()
		if n, err := w.Fire(ctx, at); err != nil || n != want {
			t.Fatalf("Fire(%s) = %d, %v; want %d alerts", at.Format(time.RFC3339), n, err, want)
		}
	}
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, env.Loc) }

	fire(at(10, 30, 12), 0) // October's needs are due by its end: not yet approaching
	fire(at(10, 31, 1), 1)  // a day before: approaching for "left" only
	if c := clocks("left")[domain.ClockNeedsUpdate]; !c.approached || c.breached {
		t.Errorf("left, needs on October 31st: %+v", c)
	}
	if c := clocks("kept")[domain.ClockNeedsUpdate]; c.approached || c.breached {
		t.Errorf("kept (assessed on October 3rd), needs: %+v", c)
	}
	fire(at(11, 1, 0).Add(time.Second), 1) // October ended without an update
	if c := clocks("left")[domain.ClockNeedsUpdate]; !c.breached {
		t.Errorf("left, needs in November: %+v", c)
	}
	// "kept" was assessed in October, not in November: breached on December 1st.
	fire(at(12, 1, 0).Add(time.Second), 1)
	if c := clocks("kept")[domain.ClockNeedsUpdate]; !c.breached {
		t.Errorf("kept, needs in December: %+v", c)
	}
	// The file: registered in the third quarter, due by the end of the
	// fourth. The October assessment revised "kept"'s file; "left"'s
	// revision and both households' quarterly visits are approaching.
	fire(at(12, 31, 1), 3)
	if c := clocks("left")[domain.ClockFileRevision]; !c.approached || c.breached {
		t.Errorf("left, file on December 31st: %+v", c)
	}
	if c := clocks("kept")[domain.ClockFileRevision]; c.approached || c.breached {
		t.Errorf("kept, file revised in October, due at the end of March: %+v", c)
	}
}
