package periodclose_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/periodclose"
	"github.com/doorstep/doorstep/projections"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/measures"
)

// 001 §3.4 抽查比例不低于走访总数的10% (decision 0141): the spot-check rate per
// community is a measure of the close. April is inspected in May: c1's
// April round draws 2 of its 12 completed visits (at least 10%), c2's April
// is never drawn (0 of 5). The May close records 2 of 12 for c1 with no
// flag, 0 of 5 for c2 with the spot_check.rate flag, 2 of 17 for the
// street; the second quarter counts April, May and June's inspections.
func TestSeed001_3_4_SpotCheckRateAtTheClose(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &world{t: t, env: env}
	visits := map[string]int{"c1": 12, "c2": 5}
	for _, c := range []string{"c1", "c2"} {
		for i := range visits[c] {
			id := fmt.Sprintf("%s-h%d", c, i)
			w.household(id, c, domain.CategoryDiBao)
			h := domain.NewHousehold(id)
			env.Load(t, domain.HouseholdStream(id), h)
			at := w.at(4, 6+i)
			m := testenv.Meta("w1", domain.RoleGridWorker, at.Add(time.Hour))
			env.Do(t, domain.HouseholdStream(id), m)(h.RecordVisit(m, env.Policies.Current(), testenv.Evidence("w1",
				domain.RecordVisit{VisitID: "v-" + id, OccurredAt: at, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted})))
		}
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, measures.New(env.Loc), pcoverage.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	cov := pcoverage.NewReader(env.DB, env.Dialect)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	pop, err := cov.CompletedVisits(ctx, "c1", time.Date(2026, 4, 1, 0, 0, 0, 0, env.Loc), time.Date(2026, 5, 1, 0, 0, 0, 0, env.Loc))
	if err != nil || len(pop) != 12 {
		t.Fatalf("c1's April population %d %v", len(pop), err)
	}
	counts, err := cov.CompletedVisitCounts(ctx, time.Date(2026, 4, 1, 0, 0, 0, 0, env.Loc), time.Date(2026, 5, 1, 0, 0, 0, 0, env.Loc))
	if err != nil || counts["c1"] != len(pop) {
		t.Fatalf("the grouped count of c1's April visits %v (%v), listed %d", counts, err, len(pop))
	}
	if _, err := svc.DrawSpotChecks(ctx, command.Cmd{ID: "draw-c1-april", Actor: "纪工委刘", Role: domain.RoleAuditor,
		At: time.Date(2026, 5, 6, 9, 0, 0, 0, env.Loc)}, "c1", "2026-04", pop, []string{"纪工委刘"}); err != nil {
		t.Fatal(err)
	}
	clk := &fixedClock{t: time.Date(2026, 6, 1, 2, 0, 0, 0, env.Loc)}
	cl, err := periodclose.New(periodclose.Config{Store: env.Store, Coverage: cov, Resolution: measures.NewReader(env.DB, env.Dialect),
		Policies: env.Policies, Calendar: env.Cal, Clock: clk, From: "2026-05",
		CaughtUp: func(ctx context.Context) error { _, err := eng.CatchUp(ctx, nil); return err }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CloseDue(ctx); err != nil {
		t.Fatal(err)
	}
	period := func(community, label string) domain.ClosedPeriod {
		t.Helper()
		l, err := periodclose.Ledger(ctx, env.Store, community, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		p, ok := l.Period(label)
		if !ok {
			t.Fatalf("%s of %q not closed", label, community)
		}
		return p
	}
	flagged := func(p domain.ClosedPeriod) *domain.MeasuresFlagRaised {
		for _, f := range p.Flags {
			if f.Measure == "spot_check.rate" {
				return &f
			}
		}
		return nil
	}
	c1, c2, street := period("c1", "2026-05"), period("c2", "2026-05"), period("", "2026-05")
	if c1.Figures.SpotChecks != (domain.Tally{Num: 2, Den: 12}) || flagged(c1) != nil {
		t.Fatalf("c1 May: %+v %+v", c1.Figures.SpotChecks, c1.Flags)
	}
	if c2.Figures.SpotChecks != (domain.Tally{Num: 0, Den: 5}) {
		t.Fatalf("c2 May: %+v", c2.Figures.SpotChecks)
	}
	if f := flagged(c2); f == nil || f.Figure != 0 || f.Target != 0.10 || f.MessageZH == "" || f.Periods[0] != "2026-05" {
		t.Fatalf("c2's flag: %+v", c2.Flags)
	}
	if street.Figures.SpotChecks != (domain.Tally{Num: 2, Den: 17}) || flagged(street) != nil {
		t.Fatalf("street May: %+v %+v", street.Figures.SpotChecks, street.Flags)
	}
	clk.t = time.Date(2026, 7, 1, 2, 0, 0, 0, env.Loc)
	if _, err := cl.CloseDue(ctx); err != nil {
		t.Fatal(err)
	}
	// June inspects May (no visits); Q2 inspects March to May.
	if q := period("c1", "2026-Q2"); q.Figures.SpotChecks != (domain.Tally{Num: 2, Den: 12}) {
		t.Fatalf("c1 Q2: %+v", q.Figures.SpotChecks)
	}
	if j := period("c1", "2026-06"); j.Figures.SpotChecks != (domain.Tally{}) || flagged(j) != nil {
		t.Fatalf("c1 June: %+v %+v", j.Figures.SpotChecks, j.Flags)
	}
}
