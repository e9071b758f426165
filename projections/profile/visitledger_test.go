package profile_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/profile"
)

// TestVisitLedger: the visits ledger across households (decision 0143)
// filters by place, outcome, mode, team member, late entry and dates,
// sorts by when the visit happened or was recorded, and pages, on SQLite
// and (DOORSTEP_TEST_READMODELS=postgres) PostgreSQL.
func TestVisitLedger(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	t0 := lonelyElder(t, env) // v1 refused (day 1), v2 nobody home (day 3), v3 completed (day 5), in c1/g1
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, profile.New(env.Policies, env.Cal))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rd := profile.NewReader(env.DB, env.Dialect)
	ids := func(f profile.VisitFilter) string {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 10
		}
		vs, err := rd.VisitLedger(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, v := range vs {
			if v.HouseholdID != "elder" || v.Community != "c1" || v.Grid != "g1" || v.Worker != "w1" || v.By != "w1" || len(v.Team) < 2 || v.Team[1] != "志愿者小陈" {
				t.Errorf("row %+v", v)
			}
			s = append(s, v.ID)
		}
		return strings.Join(s, " ")
	}
	late, onTime := true, false
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	for _, c := range []struct {
		name string
		f    profile.VisitFilter
		want string
	}{
		{"newest first", profile.VisitFilter{}, "v3 v2 v1"},
		{"oldest first", profile.VisitFilter{Sort: "occurred"}, "v1 v2 v3"},
		{"by recording", profile.VisitFilter{Sort: "-recorded"}, "v3 v2 v1"},
		{"paged", profile.VisitFilter{Sort: "occurred", Limit: 1, Offset: 1}, "v2"},
		{"outcomes", profile.VisitFilter{Outcomes: []domain.VisitOutcome{domain.OutcomeRefused, domain.OutcomeCompleted}}, "v3 v1"},
		{"mode", profile.VisitFilter{Modes: []domain.VisitMode{domain.ModePhone}}, ""},
		{"team member", profile.VisitFilter{Member: "志愿者小陈"}, "v3 v2 v1"},
		{"not a member", profile.VisitFilter{Member: "志愿者"}, ""},
		{"place", profile.VisitFilter{Community: "c1", Grid: "g1"}, "v3 v2 v1"},
		{"another grid", profile.VisitFilter{Grid: "g2"}, ""},
		{"entered within the limit", profile.VisitFilter{Late: &onTime}, "v3 v2 v1"},
		{"entered late", profile.VisitFilter{Late: &late}, ""},
		{"dates", profile.VisitFilter{From: day(3), To: day(5)}, "v2"},
	} {
		if got := ids(c.f); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	for _, f := range []profile.VisitFilter{{Limit: 0}, {Limit: profile.MaxLedgerPage + 1}, {Limit: 1, Offset: -1}, {Limit: 1, Sort: "due"}} {
		if _, err := rd.VisitLedger(ctx, f); !errors.Is(err, profile.ErrInvalidFilter) {
			t.Errorf("%+v: %v, want ErrInvalidFilter", f, err)
		}
	}
}
