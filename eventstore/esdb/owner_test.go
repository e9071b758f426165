package esdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
)

// TestClaim: the first place to claim a prefix owns it, claiming again is
// a no-op, another place is refused until it takes over, and the owner
// stream is never read as events.
func TestClaim(t *testing.T) {
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	f := newFixture(t, srv.URL(), srv)
	a, b := esdb.Owner{ID: "a", Where: "data directory a"}, esdb.Owner{ID: "b", Where: "data directory b"}
	for range 2 {
		if err := f.s.Claim(ctx, a, false); err != nil {
			t.Fatal(err)
		}
	}
	var owned *esdb.OwnedError
	if err := f.s.Claim(ctx, b, false); !errors.As(err, &owned) || owned.By != a {
		t.Fatalf("a second place: %v", err)
	}
	if err := f.s.Claim(ctx, b, true); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Claim(ctx, a, false); !errors.As(err, &owned) || owned.By != b {
		t.Fatalf("the first place after a take-over: %v", err)
	}
	if head, err := f.s.Head(ctx); err != nil || !head.IsZero() {
		t.Fatalf("the owner stream shows in the log: head %s, %v", head, err)
	}
	if evs, err := f.s.ReadAll(ctx, eventstore.Position{}, 10); err != nil || len(evs) != 0 {
		t.Fatalf("the owner stream shows in the log: %d events, %v", len(evs), err)
	}
}
