package measures_test

import (
	"context"
	"testing"

	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/measures"
)

// BenchmarkDashboardMeasures asks what the console's dashboard asks of the
// measures on every load, on a synthetic town of 500 households over nine
// months whose read model does not move meanwhile: one community's rows
// (GET /v1/measures?community=…) and every community's (what the live flag
// check read until decision 0153; the flags are now a read model of their
// own).
func BenchmarkDashboardMeasures(b *testing.B) {
	ctx := context.Background()
	env := testenv.New(b)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 500, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, measures.New(env.Loc))
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		b.Fatal(err)
	}
	rd := measures.NewReader(env.DB, env.Dialect)
	all, err := rd.Measures(ctx, measures.Query{By: measures.ByCommunity})
	if err != nil || len(all) == 0 {
		b.Fatalf("measures: %d rows, %v", len(all), err)
	}
	community := all[0].Group
	b.ResetTimer()
	for b.Loop() {
		rows, err := rd.Measures(ctx, measures.Query{By: measures.ByCommunity, Community: community})
		if err != nil || len(rows) == 0 {
			b.Fatalf("measures of %s: %d rows, %v", community, len(rows), err)
		}
		if _, err := rd.Measures(ctx, measures.Query{By: measures.ByCommunity}); err != nil {
			b.Fatal(err)
		}
	}
}
