package relay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/relay"
	"github.com/doorstep/doorstep/town"
)

const (
	natsURL = "nats://127.0.0.1:4222"
	amqpURL = "amqp://guest:guest@127.0.0.1:5672/"
)

func afterRetry() <-chan time.Time { return time.After(100 * time.Millisecond) }

// unique returns a name no earlier run used, so reruns see no old messages.
func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// writeTown writes a synthetic town of n households (with sealed fields)
// into store.
func writeTown(ctx context.Context, tb testing.TB, store eventstore.Store, seed uint64, n int) {
	tb.Helper()
	keys, err := keystore.OpenFileStore(filepath.Join(tb.TempDir(), "keys"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := town.DefaultConfig(seed, n)
	cfg.Sealer = keystore.New(keys, keystore.Config{})
	if _, err := town.Write(ctx, store, cfg); err != nil {
		tb.Fatal(err)
	}
}

// appendLive appends n events, one per append, to a handful of streams,
// each with a sealed value.
func appendLive(ctx context.Context, tb testing.TB, store eventstore.Store, n int) {
	tb.Helper()
	for i := range n {
		data := fmt.Sprintf(`{"n":%d,"phone":{"key_id":"k1","ciphertext":"c2VjcmV0"}}`, i)
		_, err := store.Append(ctx, fmt.Sprintf("livetest-%d", i%7), eventstore.Any(),
			eventstore.EventData{ID: eventstore.NewID(), Type: "livetest.noted", Data: json.RawMessage(data),
				Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Community: "c1"}})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// readLog returns the whole log in order.
func readLog(ctx context.Context, tb testing.TB, store eventstore.Store) []eventstore.Event {
	tb.Helper()
	var out []eventstore.Event
	var after eventstore.Position
	for {
		page, err := store.ReadAll(ctx, after, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
		after = page[len(page)-1].Position
	}
}

// checkDelivery asserts that got holds every event of the log, at least
// once, nothing else, and per stream in the log's order once de-duplicated
// by id (the first arrival of each id counts); that each parses as the
// relay's mapping says; and that no sealed value left in clear.
func checkDelivery(tb testing.TB, where string, log []eventstore.Event, got []cloudevents.Event) {
	tb.Helper()
	want := map[string]*eventstore.Event{}
	perStream := map[string][]string{}
	for i := range log {
		want[log[i].ID.String()] = &log[i]
		perStream[log[i].Stream] = append(perStream[log[i].Stream], log[i].ID.String())
	}
	seen := map[string]bool{}
	gotStream := map[string][]string{}
	sealed := 0
	for _, ev := range got {
		src, ok := want[ev.ID()]
		if !ok {
			tb.Fatalf("%s: event %s is not in the log", where, ev.ID())
		}
		if seen[ev.ID()] {
			continue
		}
		seen[ev.ID()] = true
		gotStream[ev.Subject()] = append(gotStream[ev.Subject()], ev.ID())
		if ev.Subject() != src.Stream || ev.Type() != cloudevent.Type(src.Type, src.SchemaVersion) || !ev.Time().Equal(src.Metadata.OccurredAt) {
			tb.Fatalf("%s: event %s arrived as subject %q type %q time %s; the log has %s %s %s", where, ev.ID(), ev.Subject(), ev.Type(), ev.Time(), src.Stream, src.Type, src.Metadata.OccurredAt)
		}
		var pos string
		if err := ev.ExtensionAs(cloudevent.ExtPosition, &pos); err != nil || pos != src.Position.String() {
			tb.Fatalf("%s: event %s has position %q (%v), want %s", where, ev.ID(), pos, err, src.Position)
		}
		if ev.DataSchema() == "" || !strings.HasSuffix(ev.DataSchema(), "/v1/schemas/"+ev.Type()) {
			tb.Fatalf("%s: event %s has dataschema %q", where, ev.ID(), ev.DataSchema())
		}
		if strings.Contains(string(ev.Data()), "ciphertext") {
			tb.Fatalf("%s: event %s carries a sealed value as ciphertext: %s", where, ev.ID(), ev.Data())
		}
		if strings.Contains(string(ev.Data()), `{"sealed":true}`) {
			sealed++
		}
		if !json.Valid(ev.Data()) {
			tb.Fatalf("%s: event %s data is not JSON", where, ev.ID())
		}
	}
	if len(seen) != len(want) {
		tb.Fatalf("%s: %d distinct events arrived, the log has %d", where, len(seen), len(want))
	}
	for stream, ids := range perStream {
		if strings.Join(gotStream[stream], ",") != strings.Join(ids, ",") {
			tb.Fatalf("%s: stream %s arrived in another order than the log's:\n got %v\nwant %v", where, stream, gotStream[stream], ids)
		}
	}
	if sealed == 0 {
		tb.Fatalf("%s: no event carried a sealed marker; the town should have sealed fields", where)
	}
}

func newRelay(tb testing.TB, env *testenv.Env, targets ...string) *relay.Relay {
	tb.Helper()
	enc, err := cloudevent.NewEncoder("urn:doorstep:test", "http://127.0.0.1:8080")
	if err != nil {
		tb.Fatal(err)
	}
	var ts []relay.Target
	for _, raw := range targets {
		t, err := relay.ParseTarget(raw)
		if err != nil {
			tb.Fatal(err)
		}
		ts = append(ts, t)
	}
	r, err := relay.New(relay.Config{Store: env.Store, DB: env.DB, Dialect: env.Dialect, Encoder: enc, Targets: ts,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.Init(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return r
}

// The relay publishes every event of a synthetic town to NATS JetStream
// and to RabbitMQ; an independent consumer reads each with the CloudEvents
// SDK: the ids are the log's, per stream in the log's order, and the
// checkpoints end at the head of the log. Part of the town is written
// while the relay runs.
func TestRelayDeliversTheLogToNATSAndRabbitMQ(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.New(t)
	writeTown(ctx, t, env.Store, 1, 40)

	stream, subject := unique("DSTEST_"), unique("dstest.")
	exchange, queue := unique("dstest.x."), unique("dstest.q.")
	natsOut := consumeNATS(ctx, t, natsURL, stream)
	amqpOut := consumeAMQP(ctx, t, amqpURL, queue)
	r := newRelay(t, env, natsURL+"?stream="+stream+"&subject="+subject,
		amqpURL+"?exchange="+exchange+"&queue="+queue)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()

	appendLive(ctx, t, env.Store, 300) // more events while it runs
	log := readLog(ctx, t, env.Store)
	natsOut.waitUnique(ctx, t, len(log))
	amqpOut.waitUnique(ctx, t, len(log))
	if err := r.WaitFor(ctx, log[len(log)-1].Position); err != nil {
		t.Fatalf("checkpoints did not reach the head: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, _, _ := natsOut.snapshot()
	checkDelivery(t, "NATS", log, got)
	got, _, _ = amqpOut.snapshot()
	checkDelivery(t, "RabbitMQ", log, got)

	// The checkpoints reached the head of the log.
	head, _ := env.Store.Head(ctx)
	for _, name := range []string{"nats", "amqp"} {
		pos, n, err := relay.LoadCheckpoint(ctx, env.DB, env.Dialect, name)
		if err != nil {
			t.Fatal(err)
		}
		if pos != head || n != int64(len(log)) {
			t.Errorf("checkpoint of %s: %s after %d events, want %s after %d", name, pos, n, head, len(log))
		}
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.LagSeconds != 0 || s.Delivered < uint64(len(log)) || s.Paused {
			t.Errorf("status of %s: %+v", s.Name, s)
		}
	}
}
