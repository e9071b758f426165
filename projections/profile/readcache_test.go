package profile_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/profile"
)

// TestReadCache: a reader with a ReadCache answers exactly what a reader
// without one answers, read after read, while the engine applies the log in
// steps (each step changes households the cache holds), and after a reset.
// Every read of sensitive fields is still recorded, cache hit or not.
func TestReadCache(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 60, Seed: 11, Communities: 3}); err != nil {
		t.Fatal(err)
	}
	all, err := env.Store.ReadAll(ctx, eventstore.Position{}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	cache := profile.NewReadCache(0)
	proj := profile.New(env.Policies, env.Cal)
	proj.SetReadCache(cache)
	var limit eventstore.Position
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: testenv.Capped{Store: env.Store, Limit: &limit}, BatchSize: 50}, proj)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	cached := profile.NewReader(env.DB, env.Dialect).WithCache(cache)
	plain := profile.NewReader(env.DB, env.Dialect)
	keys := sim.NewKeys()
	compare := func(step string) {
		t.Helper()
		list, err := plain.List(ctx, profile.Filter{IncludeArchived: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			want, err := plain.Get(ctx, s.HouseholdID, &profile.Reveal{Opener: keys})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				recorded := 0
				got, err := cached.Get(ctx, s.HouseholdID, &profile.Reveal{Opener: keys, Record: func(context.Context, string) error { recorded++; return nil }})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: household %s read %d through the cache differs:\n got %+v\nwant %+v", step, s.HouseholdID, i+1, got, want)
				}
				sealed := false
				for _, m := range got.Members {
					sealed = sealed || m.Phone.Given || m.IDNumber.Given || m.Health.Given || m.Income.Given || m.Disability.Given
				}
				if sealed && recorded != 1 {
					t.Fatalf("%s: household %s read %d: the sensitive read was recorded %d times, want 1", step, s.HouseholdID, i+1, recorded)
				}
				// The caller may change what it got without touching the cache.
				got.Members = append(got.Members[:0], profile.Member{ID: "scribble"})
				got.Summary.VisitCount = -1
			}
		}
		if len(list) == 0 && step != "start" {
			t.Fatalf("%s: no households", step)
		}
	}
	// The first household of the town (its id is generated).
	first := ""
	for _, e := range all {
		if id, ok := strings.CutPrefix(e.Stream, domain.HouseholdStream("")); ok {
			first = id
			break
		}
	}
	if first == "" {
		t.Fatal("the town has no household")
	}
	if _, err := cached.Get(ctx, first, nil); err == nil {
		t.Fatal("the first household readable before the engine ran")
	}
	for i, at := range []int{len(all) / 4, len(all) / 2, 3 * len(all) / 4, len(all) - 1} {
		limit = all[at].Position
		if _, err := eng.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
		compare([]string{"a quarter", "half", "three quarters", "all"}[i])
	}
	// A reset empties the tables: the cache must not answer from before.
	if err := eng.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Get(ctx, first, nil); err != nil {
		t.Logf("as expected, the tables are empty: %v", err)
	} else {
		t.Fatal("the first household still in the tables after a reset")
	}
	if _, err := cached.Get(ctx, first, nil); err == nil {
		t.Fatal("a profile read through the cache after a reset, from the emptied tables")
	}
}
