package copylog_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/copylog"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/eventstore/sqlite"
)

// esdbTarget opens a store of a prefix of its own on srv, on clk.
func esdbTarget(t *testing.T, srv *esdbtest.Server, clk *copylog.Clock) *esdb.Store {
	t.Helper()
	s, err := esdb.Open(context.Background(), esdb.Config{URL: srv.URL(), Prefix: "mig" + strings.ReplaceAll(uuid.NewString()[:8], "-", "") + ".", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sqliteTarget(t *testing.T, clk *copylog.Clock) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEveryPairOfBackends moves one town along SQLite → PostgreSQL →
// EventStoreDB (the in-process server) → SQLite → EventStoreDB →
// PostgreSQL → SQLite: every ordered pair of the three backends once.
// Each hop must give a target that matches its source event for event,
// verifies, and still holds the first source's ids, streams, versions,
// recorded-at instants and hashes.
func TestEveryPairOfBackends(t *testing.T) {
	ctx := context.Background()
	first := sourceTown(t, 6)
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	want, err := first.ReadAll(ctx, eventstore.Position{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	hops := []struct {
		name string
		open func(clk *copylog.Clock) eventstore.Store
	}{
		{"postgres", func(clk *copylog.Clock) eventstore.Store { return pgTarget(t, clk)() }},
		{"esdb", func(clk *copylog.Clock) eventstore.Store { return esdbTarget(t, srv, clk) }},
		{"sqlite", func(clk *copylog.Clock) eventstore.Store { return sqliteTarget(t, clk) }},
		{"esdb", func(clk *copylog.Clock) eventstore.Store { return esdbTarget(t, srv, clk) }},
		{"postgres", func(clk *copylog.Clock) eventstore.Store { return pgTarget(t, clk)() }},
		{"sqlite", func(clk *copylog.Clock) eventstore.Store { return sqliteTarget(t, clk) }},
	}
	var src eventstore.Store = first
	from := "sqlite"
	for _, h := range hops {
		clk := &copylog.Clock{}
		dst := h.open(clk)
		res, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{MaxBatch: 200})
		if err != nil {
			t.Fatalf("%s → %s: %v", from, h.name, err)
		}
		check(t, src, dst, res)
		got, err := dst.ReadAll(ctx, eventstore.Position{}, 100000)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s → %s: %d events, %v; want %d", from, h.name, len(got), err, len(want))
		}
		for i := range got {
			g, w := &got[i], &want[i]
			if g.ID != w.ID || g.Stream != w.Stream || g.Version != w.Version || !g.RecordedAt.Equal(w.RecordedAt) || g.Hash != w.Hash ||
				g.Type != w.Type || string(g.Data) != string(w.Data) || !sameMetadata(g.Metadata, w.Metadata) {
				t.Fatalf("%s → %s: event %d is %+v, the first source has %+v", from, h.name, i, g, w)
			}
		}
		src, from = dst, h.name
	}
}

// TestSQLiteToESDBResumes interrupts a migration to the in-process
// EventStoreDB server (run-by-run appends: EventStoreDB has no imports)
// half way, resumes it with a new store on the same prefix, refuses a
// target holding another log, and verifies.
func TestSQLiteToESDBResumes(t *testing.T) {
	ctx := context.Background()
	src := sourceTown(t, 12)
	total, err := copylog.Count(ctx, src)
	if err != nil || total < 200 {
		t.Fatalf("the town has %d events, %v", total, err)
	}
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	clk := &copylog.Clock{}
	dst := esdbTarget(t, srv, clk)
	cctx, cancel := context.WithCancel(ctx)
	_, err = copylog.Copy(cctx, src, dst, clk, copylog.Options{Progress: func(phase string, n int) {
		if phase == "copy" && n >= total/2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: %v", err)
	}
	half, err := copylog.Count(ctx, dst)
	if err != nil || half < total/2 || half >= total {
		t.Fatalf("after the interruption the target holds %d of %d events, %v", half, total, err)
	}
	prefix := dst.Prefix()
	dst.Close()
	dst, err = esdb.Open(ctx, esdb.Config{URL: srv.URL(), Prefix: prefix, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	res, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != half || res.Events != total || res.Imports != 0 {
		t.Fatalf("resumed after %d events (want %d), %d in all (want %d), %d imports (want none)", res.Resumed, half, res.Events, total, res.Imports)
	}
	check(t, src, dst, res)
	other := sourceTown(t, 2)
	before, _ := dst.Head(ctx)
	if _, err := copylog.Copy(ctx, other, dst, clk, copylog.Options{}); !errors.Is(err, copylog.ErrTargetNotEmpty) {
		t.Fatalf("copy into a store holding another log: %v", err)
	}
	if after, _ := dst.Head(ctx); after != before {
		t.Fatalf("the refused copy wrote: head %s → %s", before, after)
	}
}

func sameMetadata(a, b eventstore.Metadata) bool {
	if !a.OccurredAt.Equal(b.OccurredAt) {
		return false
	}
	a.OccurredAt = b.OccurredAt
	return a == b
}
