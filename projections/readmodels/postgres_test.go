package readmodels_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/projections/readmodels"
)

// openPostgres opens a database/sql pool (pgx stdlib) on a fresh schema of
// the machine's PostgreSQL, dropped at the end of the test, whatever
// DOORSTEP_TEST_READMODELS says. It fails (never skips) when the server is
// not reachable.
func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	db, _ := testenv.Postgres(t)
	return db
}

type answers struct {
	Households []profile.Summary
	Profiles   []*profile.Profile
	Measures   []measures.Row
	Alerts     []alerts.Alert
	Counts     []alerts.Counts
}

func query(t *testing.T, db *sql.DB, d projections.Dialect, now time.Time) answers {
	t.Helper()
	ctx := context.Background()
	var a answers
	var err error
	pr := profile.NewReader(db, d)
	if a.Households, err = pr.List(ctx, profile.Filter{IncludeArchived: true, Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Households[:20] {
		p, err := pr.Get(ctx, s.HouseholdID, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.Profiles = append(a.Profiles, p)
	}
	mr := measures.NewReader(db, d)
	if a.Measures, err = mr.Measures(ctx, measures.Query{By: measures.ByGrid}); err != nil {
		t.Fatal(err)
	}
	ar := alerts.NewReader(db, d)
	if a.Alerts, err = ar.Open(ctx, alerts.Filter{Limit: 1000}, now); err != nil {
		t.Fatal(err)
	}
	if a.Counts, err = ar.CountByCommunity(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// The same read models run on PostgreSQL through database/sql and pgx: they
// answer every query exactly as on SQLite, and a rebuild there reproduces
// the live state.
func TestReadModelsOnPostgres(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 150, Seed: 77}); err != nil {
		t.Fatal(err)
	}
	// This test compares the two databases, so its SQLite side is explicit
	// (env.DB may be either, see testenv).
	sq, err := projections.OpenSQLite(ctx, filepath.Join(t.TempDir(), "readmodels.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	pg := openPostgres(t)
	build := func(db *sql.DB, d projections.Dialect) (*projections.Engine, []projections.Projection) {
		ps := readmodels.AllOpened(env.Policies, env.Cal, env.Loc, nil, sim.NewKeys())
		eng, err := projections.New(projections.Config{DB: db, Dialect: d, Store: env.Store, BatchSize: 400, RebuildGroup: 1000}, ps...)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.CatchUp(ctx, nil); err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		return eng, ps
	}
	build(sq, projections.SQLite)
	pgEng, ps := build(pg, projections.Postgres)
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, env.Loc)
	onSQLite, onPostgres := query(t, sq, projections.SQLite, now), query(t, pg, projections.Postgres, now)
	if len(onSQLite.Households) != 150 || len(onSQLite.Measures) == 0 || len(onSQLite.Alerts) == 0 {
		t.Fatalf("thin answers: %d households, %d measure rows, %d alerts", len(onSQLite.Households), len(onSQLite.Measures), len(onSQLite.Alerts))
	}
	if !reflect.DeepEqual(onSQLite, onPostgres) {
		for _, f := range []string{"Households", "Profiles", "Measures", "Flags", "Alerts", "Counts"} {
			a, b := reflect.ValueOf(onSQLite).FieldByName(f).Interface(), reflect.ValueOf(onPostgres).FieldByName(f).Interface()
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s differ between SQLite and PostgreSQL:\n%s", f, firstDiff(fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b)))
			}
		}
	}
	live, err := projections.Dump(ctx, pg, readmodels.Tables(ps)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgEng.Rebuild(ctx, 333, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := projections.Dump(ctx, pg, readmodels.Tables(ps)...)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt != live {
		t.Fatalf("rebuild on PostgreSQL differs: %s", firstDiff(live, rebuilt))
	}
}

// TestTwoEnginesTakeTurnsOnPostgres: two engines (two nodes) share one
// PostgreSQL schema and apply the log in turns, as happens when the lead
// moves from one node to another and back. Each must start from what the
// other committed, with its caches dropped: the result equals one engine
// applying the whole log, nothing twice, nothing skipped.
func TestTwoEnginesTakeTurnsOnPostgres(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 120, Seed: 91}); err != nil {
		t.Fatal(err)
	}
	all, err := env.Store.ReadAll(ctx, eventstore.Position{}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 1000 {
		t.Fatalf("only %d events", len(all))
	}
	build := func(db *sql.DB, limit *eventstore.Position) (*projections.Engine, []projections.Projection) {
		ps := readmodels.AllOpened(env.Policies, env.Cal, env.Loc, nil, sim.NewKeys())
		eng, err := projections.New(projections.Config{DB: db, Dialect: projections.Postgres, Store: testenv.Capped{Store: env.Store, Limit: limit}, BatchSize: 97}, ps...)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Init(ctx); err != nil {
			t.Fatal(err)
		}
		return eng, ps
	}
	shared := openPostgres(t)
	var limA, limB eventstore.Position
	a, ps := build(shared, &limA)
	b, _ := build(shared, &limB)
	turns := []struct {
		eng *projections.Engine
		lim *eventstore.Position
		at  int
	}{{a, &limA, len(all) / 5}, {b, &limB, len(all) / 2}, {a, &limA, 2 * len(all) / 3}, {b, &limB, 3 * len(all) / 4}, {a, &limA, len(all) - 1}, {b, &limB, len(all) - 1}}
	for i, turn := range turns {
		*turn.lim = all[turn.at].Position
		if _, err := turn.eng.CatchUp(ctx, nil); err != nil {
			t.Fatalf("turn %d: %v", i, err)
		}
		cp, n, err := turn.eng.Checkpoint(ctx, "household_profile")
		if err != nil || cp != all[turn.at].Position || n != int64(turn.at+1) {
			t.Fatalf("turn %d: checkpoint %s after %d events (%v), want %s after %d", i, cp, n, err, all[turn.at].Position, turn.at+1)
		}
	}
	one := openPostgres(t)
	var limAll eventstore.Position = all[len(all)-1].Position
	single, _ := build(one, &limAll)
	if _, err := single.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, err := projections.Dump(ctx, shared, readmodels.Tables(ps)...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := projections.Dump(ctx, one, readmodels.Tables(ps)...)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("two engines in turns differ from one engine: %s", firstDiff(want, got))
	}
}

// TestTwoEnginesAtOnceOnPostgres: two engines apply the same log to one
// schema at the same time (a leader that has not yet noticed it lost its
// lead, beside the new one): their batches serialise on the apply lock and
// the result equals one engine's.
func TestTwoEnginesAtOnceOnPostgres(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 100, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	build := func(db *sql.DB) (*projections.Engine, []projections.Projection) {
		ps := readmodels.AllOpened(env.Policies, env.Cal, env.Loc, nil, sim.NewKeys())
		eng, err := projections.New(projections.Config{DB: db, Dialect: projections.Postgres, Store: env.Store, BatchSize: 50}, ps...)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Init(ctx); err != nil {
			t.Fatal(err)
		}
		return eng, ps
	}
	shared := openPostgres(t)
	a, ps := build(shared)
	b, _ := build(shared)
	errs := make(chan error, 2)
	for _, eng := range []*projections.Engine{a, b} {
		go func() {
			_, err := eng.CatchUp(ctx, nil)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	one := openPostgres(t)
	single, _ := build(one)
	if _, err := single.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, err := projections.Dump(ctx, shared, readmodels.Tables(ps)...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := projections.Dump(ctx, one, readmodels.Tables(ps)...)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("two engines at once differ from one engine: %s", firstDiff(want, got))
	}
}
