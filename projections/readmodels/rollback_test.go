package readmodels_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/readmodels"
)

// failing fails the batches that contain the event at position failAt.
type failing struct{ failAt atomic.Uint64 }

func (*failing) Name() string     { return "failing_probe" }
func (*failing) Tables() []string { return nil }
func (*failing) Schema() []string { return nil }
func (f *failing) Apply(_ context.Context, _ *projections.Tx, batch []projections.Envelope) error {
	for i := range batch {
		if batch[i].Position.Lo == f.failAt.Load() {
			return errors.New("injected failure")
		}
	}
	return nil
}

// A batch that fails after the read models applied it (and cached its
// rows) is rolled back everywhere: after the retry the read models equal a
// build from scratch.
func TestFailedBatchLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 200, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	fail := &failing{}
	ps := append(readmodels.AllOpened(env.Policies, env.Cal, env.Loc, nil, sim.NewKeys()), fail)
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 300}, ps...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for _, at := range []uint64{1500, 4200, 4350} {
		fail.failAt.Store(at)
		if _, err := eng.CatchUp(ctx, nil); err == nil {
			t.Fatalf("no failure at %d", at)
		}
	}
	fail.failAt.Store(0)
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got := dumpAll(t, env, ps)

	fresh, freshDialect := testenv.ReadModels(t, filepath.Join(t.TempDir(), "fresh.db"))
	ps2 := append(readmodels.AllOpened(env.Policies, env.Cal, env.Loc, nil, sim.NewKeys()), &failing{})
	eng2, err := projections.New(projections.Config{DB: fresh, Dialect: freshDialect, Store: env.Store, BatchSize: 1000}, ps2...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng2.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng2.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	want, err := projections.Dump(ctx, fresh, readmodels.Tables(ps2)...)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("after failed batches the read models differ from a build from scratch: %s", firstDiff(want, got))
	}
}
