package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
)

// BenchmarkDashboardAlerts asks what the console's dashboard asks of the
// alerts on every load, on a synthetic town of 500 households over nine
// months (the deadline watcher's alerts included) whose read model does not
// move meanwhile: the counts per community and one community's breached and
// approaching alerts, 100 at most.
func BenchmarkDashboardAlerts(b *testing.B) {
	ctx := context.Background()
	env := testenv.New(b)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 500, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, alerts.New())
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		b.Fatal(err)
	}
	rd := alerts.NewReader(env.DB, env.Dialect)
	counts, err := rd.CountByCommunity(ctx)
	if err != nil || len(counts) == 0 {
		b.Fatalf("counts: %+v, %v", counts, err)
	}
	community := counts[0].Community
	now := time.Date(2026, 10, 1, 9, 0, 0, 0, env.Loc)
	b.ResetTimer()
	for b.Loop() {
		if _, err := rd.CountByCommunity(ctx); err != nil {
			b.Fatal(err)
		}
		for _, st := range []domain.AlertStage{domain.StageBreached, domain.StageApproaching} {
			if _, err := rd.Open(ctx, alerts.Filter{Community: community, Stage: st, Limit: 100}, now); err != nil {
				b.Fatal(err)
			}
		}
	}
}
