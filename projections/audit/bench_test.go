package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/audit"
)

// BenchmarkHouseholdTrail reads the audit trail of the households of a
// small synthetic town in turn: each read folds the household's stream
// event by event (eventlog.Step) and describes every change. events/op is
// the number of events folded per read.
func BenchmarkHouseholdTrail(b *testing.B) {
	ctx := context.Background()
	env := testenv.New(b)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 100, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, audit.NewIndex())
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		b.Fatal(err)
	}
	var ids []string
	for after := (eventstore.Position{}); ; {
		page, err := env.Store.ReadAll(ctx, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range page {
			if e.Version == 1 && eventstore.Category(e.Stream) == "household" {
				ids = append(ids, strings.TrimPrefix(e.Stream, "household-"))
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Position
	}
	if len(ids) != 100 {
		b.Fatalf("found %d households, want 100", len(ids))
	}
	tr := audit.NewTrail(env.DB, env.Dialect, env.Store, nil)
	entries := 0
	for i := 0; b.Loop(); i++ {
		got, err := tr.Household(ctx, ids[i%len(ids)])
		if err != nil {
			b.Fatal(err)
		}
		if len(got) == 0 {
			b.Fatalf("household %s has an empty trail", ids[i%len(ids)])
		}
		entries += len(got)
	}
	b.ReportMetric(float64(entries)/float64(b.N), "entries/op")
}
