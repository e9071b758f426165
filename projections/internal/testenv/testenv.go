// Package testenv sets up event stores, read-model databases, policy and
// calendar for the projection tests.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorstep/doorstep/app"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/projections"
)

// Env is a store plus a read-model database in a temp dir.
type Env struct {
	Dir      string
	Store    *sqlite.Store
	DB       *sql.DB
	Policies *domain.PolicySet
	Cal      *calendar.Calendar
	Loc      *time.Location
}

// New opens a fresh environment, closed at the end of the test.
func New(tb testing.TB) *Env {
	tb.Helper()
	return NewAt(tb, tb.TempDir())
}

// NewAt opens the environment in dir (files events.db and events.readmodels.db).
func NewAt(tb testing.TB, dir string) *Env {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "events.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		tb.Fatal(err)
	}
	db, err := projections.OpenSQLite(ctx, projections.ReadModelPath(path))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close(); s.Close() })
	e := &Env{Dir: dir, Store: s, DB: db}
	e.Policies, e.Cal = Policies(tb)
	e.Loc = e.Cal.Location()
	return e
}

// Policies returns the default policy set and calendar.
func Policies(tb testing.TB) (*domain.PolicySet, *calendar.Calendar) {
	tb.Helper()
	pol, err := domain.DefaultPolicy()
	if err != nil {
		tb.Fatal(err)
	}
	ps, err := domain.NewPolicySet(pol)
	if err != nil {
		tb.Fatal(err)
	}
	cal, err := calendar.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return ps, cal
}

// Do returns a function that encodes the events a command returned and
// appends them to stream, failing the test on any error:
// env.Do(t, stream, meta)(agg.Command(meta, …)).
func (e *Env) Do(tb testing.TB, stream string, meta domain.Meta) func([]domain.Event, error) eventstore.AppendResult {
	return func(evs []domain.Event, err error) eventstore.AppendResult {
		tb.Helper()
		return e.append(tb, stream, meta, evs, err)
	}
}

func (e *Env) append(tb testing.TB, stream string, meta domain.Meta, evs []domain.Event, err error) eventstore.AppendResult {
	tb.Helper()
	if err != nil {
		tb.Fatalf("command on %s: %v", stream, err)
	}
	var data []eventstore.EventData
	for _, ev := range evs {
		d, err := app.Encode(eventstore.NewID(), ev, eventstore.Metadata{OccurredAt: meta.At, Actor: meta.Actor, Role: meta.Role})
		if err != nil {
			tb.Fatal(err)
		}
		data = append(data, d)
	}
	res, err := e.Store.Append(context.Background(), stream, eventstore.Any(), data...)
	if err != nil {
		tb.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

// Load folds a stream into agg.
func (e *Env) Load(tb testing.TB, stream string, agg domain.Aggregate) {
	tb.Helper()
	evs, err := e.Store.ReadStream(context.Background(), stream, eventstore.Forward, 1, 100000)
	if err != nil {
		tb.Fatal(err)
	}
	reg := domain.NewRegistry()
	var recs []domain.Recorded
	for i := range evs {
		r, err := app.Decode(reg, &evs[i])
		if err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := domain.Fold(agg, recs, domain.AsOf{}); err != nil {
		tb.Fatal(err)
	}
}

// Meta is a command's meta at t.
func Meta(actor, role string, t time.Time) domain.Meta {
	return domain.Meta{Actor: actor, Role: role, At: t, CommandID: fmt.Sprint(t.UnixNano())}
}
