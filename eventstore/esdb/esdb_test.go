package esdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

// startServer starts an in-process protocol server for the test.
func startServer(t *testing.T) *esdbtest.Server {
	t.Helper()
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestConformance runs the whole conformance suite through the real
// EventStore-Client-Go v4 client against the in-process protocol server
// (package esdbtest). It proves the mapping and the client calls, not
// EventStoreDB itself: TestConformanceLive (build tag esdb_live) runs the
// same suite against a real server.
func TestConformance(t *testing.T) {
	srv := startServer(t)
	storetest.Run(t, features(true), func(t *testing.T) storetest.Fixture {
		return newFixture(t, srv.URL(), srv)
	})
}

// TestForeignStreamsLeftOut: events of another prefix, of system streams
// and the id claims never reach ReadAll or Head (subscriptions:
// TestSubscriptionFilteredOnServer).
func TestForeignStreamsLeftOut(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	mine, other := newFixture(t, srv.URL(), srv), newFixture(t, srv.URL(), srv)
	a := storetest.Event("household.registered", 1)
	storetest.MustAppend(t, other.s, storetest.Stream("household"), eventstore.NoStream(), storetest.Event("household.registered", 2))
	r := storetest.MustAppend(t, mine.s, storetest.Stream("household"), eventstore.NoStream(), a)
	storetest.MustAppend(t, other.s, storetest.Stream("household"), eventstore.NoStream(), storetest.Event("household.registered", 3))
	all, err := mine.s.ReadAll(ctx, eventstore.Position{}, 100)
	if err != nil || len(all) != 1 || all[0].ID != a.ID {
		t.Fatalf("ReadAll = %d events, %v; want only the one event of this prefix", len(all), err)
	}
	if h, err := mine.s.Head(ctx); err != nil || h != r.LastPosition {
		t.Fatalf("Head = %v, %v; want %v", h, err, r.LastPosition)
	}
	// The same id in another installation's stream is its business, not a duplicate here.
	if _, err := other.s.Append(ctx, storetest.Stream("household"), eventstore.Any(), a); err != nil {
		t.Fatalf("another prefix reusing an id: %v", err)
	}
}

// TestPositionsAreAllPositions: positions are the server's (commit,
// prepare) pairs. An append is an implicit transaction of self-committing
// records, so each event's commit position is its own log position, equal
// to its prepare position (as EventStoreDB reads such events in $all), and
// the events of one append follow each other in $all.
func TestPositionsAreAllPositions(t *testing.T) {
	srv := startServer(t)
	f := newFixture(t, srv.URL(), srv)
	r := storetest.MustAppend(t, f.s, storetest.Stream("problem"), eventstore.NoStream(),
		storetest.Event("problem.noted", 1), storetest.Event("problem.noted", 2), storetest.Event("problem.noted", 3))
	evs, err := f.s.ReadAll(context.Background(), eventstore.Position{}, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("ReadAll: %d events, %v", len(evs), err)
	}
	if evs[0].Position != r.FirstPosition || evs[2].Position != r.LastPosition {
		t.Fatalf("append at %v..%v, read at %v..%v", r.FirstPosition, r.LastPosition, evs[0].Position, evs[2].Position)
	}
	for i, e := range evs {
		if e.Position.Hi == 0 || e.Position.Hi != e.Position.Lo || i > 0 && !evs[i-1].Position.Before(e.Position) {
			t.Fatalf("event %d at %v after %v: want commit = prepare, growing", i, e.Position, evs[max(i-1, 0)].Position)
		}
	}
	r2 := storetest.MustAppend(t, f.s, storetest.Stream("problem"), eventstore.NoStream(), storetest.Event("problem.noted", 4))
	if !r.LastPosition.Before(r2.FirstPosition) {
		t.Fatalf("next append at %v, after %v: want a later position", r2.FirstPosition, r.LastPosition)
	}
}

// TestRetryBeyondServerCache: a retry is recognised from the claims and the
// stream, not from the server's id cache (the in-process server keeps
// none): after many other appends and a reopen, the retry writes nothing.
func TestRetryBeyondServerCache(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	f := newFixture(t, srv.URL(), srv)
	st := storetest.Stream("visit")
	a, b := storetest.Event("visit.recorded", 1), storetest.Event("visit.recorded", 2)
	r1 := storetest.MustAppend(t, f.s, st, eventstore.Any(), a, b)
	for i := 0; i < 50; i++ {
		storetest.MustAppend(t, f.s, st, eventstore.Any(), storetest.Event("visit.recorded", i))
	}
	s := f.Reopen(t)
	before := srv.Appends()
	r2, err := s.Append(ctx, st, eventstore.Any(), a, b)
	if err != nil || r2 != r1 {
		t.Fatalf("retry = %+v, %v; want %+v", r2, err, r1)
	}
	if n := srv.Appends(); n != before {
		t.Fatalf("the retry wrote %d appends to the server", n-before)
	}
	if v, _ := s.StreamVersion(ctx, st); v != 52 {
		t.Fatalf("stream at version %d, want 52", v)
	}
}

func TestBadPrefix(t *testing.T) {
	for _, p := range []string{"$system.", "has space", "a~b", "x/y"} {
		if _, err := esdb.Open(context.Background(), esdb.Config{URL: "esdb://127.0.0.1:1?tls=false", Prefix: p}); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
	if _, err := esdb.Open(context.Background(), esdb.Config{URL: "http://nope"}); err == nil {
		t.Error("a URL that is not a connection string was accepted")
	}
}

// TestUnavailable: a server that is gone is ErrUnavailable.
func TestUnavailable(t *testing.T) {
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL()
	srv.Close()
	s, err := esdb.Open(context.Background(), esdb.Config{URL: url + "&maxDiscoverAttempts=1&discoveryInterval=10&gossipTimeout=1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Append(context.Background(), storetest.Stream("household"), eventstore.Any(), storetest.Event("a.b", 1))
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append to a stopped server: %v, want ErrUnavailable", err)
	}
}

// TestCancelledIsCancelled: a call whose context is cancelled fails with
// context.Canceled (the client wraps gRPC's Canceled status in an error of
// its own), so an interrupted migration reads as an interruption.
func TestCancelledIsCancelled(t *testing.T) {
	srv := startServer(t)
	f := newFixture(t, srv.URL(), srv)
	storetest.MustAppend(t, f.s, storetest.Stream("household"), eventstore.NoStream(), storetest.Event("household.registered", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.s.Append(ctx, storetest.Stream("household"), eventstore.Any(), storetest.Event("household.registered", 2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a cancelled context: %v", err)
	}
	if _, err := f.s.ReadAll(ctx, eventstore.Position{}, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll with a cancelled context: %v", err)
	}
}
