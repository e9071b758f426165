package relay_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/brokertest"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/relay"
	"github.com/doorstep/doorstep/town"
)

const (
	natsURL = brokertest.NATSURL
	amqpURL = brokertest.AMQPURL
)

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

func newRelay(tb testing.TB, env *testenv.Env, targets ...string) *relay.Relay {
	tb.Helper()
	return newRelayWith(tb, env, nil, targets...)
}

// newRelayWith is newRelay with the config adjusted by tune before New.
func newRelayWith(tb testing.TB, env *testenv.Env, tune func(*relay.Config), targets ...string) *relay.Relay {
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
	cfg := relay.Config{Store: env.Store, DB: env.DB, Dialect: env.Dialect, Encoder: enc, Targets: ts,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if tune != nil {
		tune(&cfg)
	}
	r, err := relay.New(cfg)
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
// while the relay runs. The town has 40 households; with
// DOORSTEP_RELAY_TOWN_HOUSEHOLDS=2155 it is the demo's town (seed 2155,
// about 80,000 events), a run of a few minutes that scripts/test leaves
// out (BENCHMARKS.md records one).
func TestRelayDeliversTheLogToNATSAndRabbitMQ(t *testing.T) {
	households, seed, limit := 40, uint64(1), 3*time.Minute
	if v := os.Getenv("DOORSTEP_RELAY_TOWN_HOUSEHOLDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			t.Fatalf("DOORSTEP_RELAY_TOWN_HOUSEHOLDS=%q: want 1 to 10000", v)
		}
		households, seed, limit = n, uint64(n), 30*time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	env := testenv.New(t)
	writeTown(ctx, t, env.Store, seed, households)

	stream, subject := brokertest.Unique("DSTEST_"), brokertest.Unique("dstest.")
	exchange, queue := brokertest.Unique("dstest.x."), brokertest.Unique("dstest.q.")
	natsOut := brokertest.ConsumeNATS(ctx, t, natsURL, stream)
	amqpOut := brokertest.ConsumeAMQP(ctx, t, amqpURL, queue)
	r := newRelay(t, env, natsURL+"?stream="+stream+"&subject="+subject,
		amqpURL+"?exchange="+exchange+"&queue="+queue)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()

	appendLive(ctx, t, env.Store, 300) // more events while it runs
	log := readLog(ctx, t, env.Store)
	natsOut.WaitUnique(ctx, t, len(log))
	amqpOut.WaitUnique(ctx, t, len(log))
	if err := r.WaitFor(ctx, log[len(log)-1].Position); err != nil {
		t.Fatalf("checkpoints did not reach the head: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, _, _ := natsOut.Snapshot()
	brokertest.CheckDelivery(t, "NATS", log, got, true)
	got, _, _ = amqpOut.Snapshot()
	brokertest.CheckDelivery(t, "RabbitMQ", log, got, true)

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

// NATS stops for about ten seconds while events are written and published,
// then starts again: the relay pauses (Status says so), resumes by itself,
// and every event arrives, per stream in order.
func TestRelayRecoversFromANATSOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := brokertest.StartNATS(t)
	env := testenv.New(t)
	writeTown(ctx, t, env.Store, 3, 20)
	stream, subject := brokertest.Unique("DSOUT_"), brokertest.Unique("dsout.")
	logs := &lockedBuffer{}
	var watch *confirmWatch
	r := newRelayWith(t, env, func(c *relay.Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(os.Stderr, logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
		watch = &confirmWatch{tb: t, db: env.DB, dialect: env.Dialect, name: "nats"}
		c.Connect = watch.connect
	}, srv.URL+"?stream="+stream+"&subject="+subject)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()

	// Load: an event every 5 ms (about 200/s) until the outage is over.
	loadDone := make(chan struct{})
	stopLoad := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 20_000; i++ {
			select {
			case <-stopLoad:
				return
			case <-tick.C:
			}
			data := fmt.Sprintf(`{"n":%d}`, i)
			if _, err := env.Store.Append(ctx, fmt.Sprintf("loadtest-%d", i%11), eventstore.Any(),
				eventstore.EventData{ID: eventstore.NewID(), Type: "loadtest.noted", Data: json.RawMessage(data),
					Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stopLoad); <-loadDone }()

	waitStatus(ctx, t, r, "publishing before the outage", func(s relay.Status) bool { return s.Delivered >= 300 })
	srv.Stop()
	waitStatus(ctx, t, r, "paused", func(s relay.Status) bool { return s.Paused })
	time.Sleep(10 * time.Second) // the outage lasts; events keep being written
	srv.Start()
	waitStatus(ctx, t, r, "resumed", func(s relay.Status) bool { return !s.Paused && s.Delivered > 0 })
	close(stopLoad)
	<-loadDone
	stopLoad = make(chan struct{})

	log := readLog(ctx, t, env.Store)
	if err := r.WaitFor(ctx, log[len(log)-1].Position); err != nil {
		t.Fatalf("the relay did not catch up after NATS came back: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	st, _ := r.Status(ctx)
	if st[0].Failed == 0 {
		t.Errorf("no publication failed during the outage: %+v", st[0])
	}
	out := brokertest.ConsumeNATS(ctx, t, srv.URL, stream)
	out.WaitUnique(ctx, t, len(log))
	got, _, _ := out.Snapshot()
	brokertest.CheckDelivery(t, "NATS after an outage", log, got, true)

	// The checkpoint never passed an event the broker had not acknowledged
	// (checked before every publication, the retries of the outage
	// included).
	if n := watch.checked(); n < len(log) {
		t.Errorf("the checkpoint was checked before %d publications; the log has %d events", n, len(log))
	}
	// The outage was logged once when it started and once when it ended,
	// in that order, with the error and the duration.
	text := logs.String()
	paused := strings.Index(text, "level=WARN msg=\"relay paused: the broker does not acknowledge")
	resumed := strings.Index(text, "level=INFO msg=\"relay resumed: the broker acknowledges again")
	if paused < 0 || resumed < paused || !strings.Contains(text[resumed:], "paused_for=") {
		t.Errorf("the log does not show the pause then the resumption:\n%s", text)
	}
	if n := strings.Count(text, "relay paused:"); n != strings.Count(text, "relay resumed:") {
		t.Errorf("%d pauses logged, %d resumptions:\n%s", n, strings.Count(text, "relay resumed:"), text)
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// confirmWatch wraps the real publisher (relay.Connect: the broker is the
// real one) and, before each publication, reads the target's committed
// checkpoint from the database: it must be strictly before the event being
// published, which the broker has not acknowledged yet. A checkpoint
// written before the acknowledgement would fail this at the next event.
type confirmWatch struct {
	tb      testing.TB
	db      *sql.DB
	dialect projections.Dialect
	name    string
	n       atomic.Int64
}

func (w *confirmWatch) connect(t relay.Target, log *slog.Logger) (message.Publisher, error) {
	p, err := relay.Connect(t, log)
	if err != nil {
		return nil, err
	}
	return &watchedPublisher{Publisher: p, w: w}, nil
}

func (w *confirmWatch) checked() int { return int(w.n.Load()) }

type watchedPublisher struct {
	message.Publisher
	w *confirmWatch
}

func (p *watchedPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		var ce struct {
			Position string `json:"position"`
		}
		if err := json.Unmarshal(m.Payload, &ce); err != nil {
			p.w.tb.Errorf("message %s: %v", m.UUID, err)
			continue
		}
		pos, err := eventstore.ParsePosition(ce.Position)
		if err != nil {
			p.w.tb.Errorf("message %s: position %q: %v", m.UUID, ce.Position, err)
			continue
		}
		cp, _, err := relay.LoadCheckpoint(context.Background(), p.w.db, p.w.dialect, p.w.name)
		if err != nil {
			p.w.tb.Errorf("read the checkpoint: %v", err)
			continue
		}
		if !cp.Before(pos) {
			p.w.tb.Errorf("event %s at %s is being published (not yet acknowledged) but the checkpoint is already at %s", m.UUID, pos, cp)
		}
		p.w.n.Add(1)
	}
	return p.Publisher.Publish(topic, msgs...)
}

// waitStatus waits until the relay's only target satisfies ok.
func waitStatus(ctx context.Context, tb testing.TB, r *relay.Relay, what string, ok func(relay.Status) bool) {
	tb.Helper()
	for {
		st, err := r.Status(ctx)
		if err == nil && ok(st[0]) {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("the relay was never %s: %+v", what, st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
