package esdb_test

import (
	"context"
	"slices"
	"testing"
	"time"

	client "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

// receive reads n events from sub; the deadline only guards against a hang.
func receive(t *testing.T, sub *eventstore.Subscription, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	guard := time.After(2 * time.Minute)
	for len(ids) < n {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("the subscription ended after %d of %d events: %v", len(ids), n, sub.Err())
			}
			ids = append(ids, e.ID)
		case <-guard:
			t.Fatalf("the subscription delivered %d of %d events", len(ids), n)
		}
	}
	return ids
}

// TestSubscriptionFilteredOnServer: Subscribe is a SubscribeToAll whose
// server-side filter leaves out the system events ($settings opens the
// in-process server's log), another application's streams, another
// installation's prefix and this store's own id claims: the server sends
// this store's events and nothing else (SubscriptionsSent counts what it
// sent on each subscription), both catching up and live, and a
// subscription resuming from a checkpoint (the position of the last event
// its reader handled) starts right after it, across foreign events.
func TestSubscriptionFilteredOnServer(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	mine, other := newFixture(t, srv.URL(), srv), newFixture(t, srv.URL(), srv)
	conf, err := client.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = client.NoopLogging()
	app, err := client.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	foreign := func(n int) {
		t.Helper()
		for i := range n {
			storetest.MustAppend(t, other.s, storetest.Stream("household"), eventstore.NoStream(), storetest.Event("household.registered", i))
			if _, err := app.AppendToStream(ctx, "billing-"+uuid.NewString(), client.AppendToStreamOptions{},
				client.EventData{EventID: uuid.New(), EventType: "InvoiceIssued", ContentType: client.ContentTypeJson, Data: []byte(`{"n":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := storetest.Stream("household")
	var want []uuid.UUID
	var positions []eventstore.Position
	add := func() {
		t.Helper()
		e := storetest.Event("household.registered", len(want))
		r := storetest.MustAppend(t, mine.s, st, eventstore.Any(), e)
		want = append(want, e.ID)
		positions = append(positions, r.LastPosition)
	}
	foreign(3)
	add()
	foreign(40) // more than the server skips between checkpoints
	add()
	add()
	foreign(2)

	sctx, cancel := context.WithCancel(ctx)
	sub, err := mine.s.Subscribe(sctx, eventstore.Position{}, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := receive(t, sub, 3); !slices.Equal(got, want) {
		t.Fatalf("catch-up delivered %v, want %v", got, want)
	}
	foreign(5)
	add()
	if got := receive(t, sub, 1); got[0] != want[3] {
		t.Fatalf("live delivered %v, want %v", got[0], want[3])
	}
	if sent := srv.SubscriptionsSent(); len(sent) != 1 || sent[0] != 4 {
		t.Fatalf("the server sent %v events on the subscription; want 4, this store's only", sent)
	}
	cancel()
	sub.Close()

	// Resuming from a checkpoint: the position of the second event.
	sub, err = mine.s.Subscribe(ctx, positions[1], eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	foreign(3)
	add()
	if got := receive(t, sub, 3); !slices.Equal(got, want[2:]) {
		t.Fatalf("resumed after %s, delivered %v, want %v", positions[1], got, want[2:])
	}
	if sent := srv.SubscriptionsSent(); len(sent) != 2 || sent[1] != 3 {
		t.Fatalf("the server sent %v events on the resumed subscription; want 3", sent)
	}
	// The log the server holds had all of it.
	if all, err := mine.s.ReadAll(ctx, eventstore.Position{}, 100); err != nil || len(all) != len(want) {
		t.Fatalf("ReadAll: %d events, %v; want %d", len(all), err, len(want))
	}
}
