package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/brokertest"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/relay"
	"github.com/doorstep/doorstep/town"
)

// writeTownAt writes a synthetic town of n households into the embedded
// store of data directory dir, as demo does.
func writeTownAt(ctx context.Context, t *testing.T, dir string, n int) {
	t.Helper()
	st, err := openEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := town.DefaultConfig(7, n)
	cfg.Sealer = keystore.New(keys, keystore.Config{})
	if _, err := town.Write(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
}

// readLogAt reads the whole log of the embedded store in dir.
func readLogAt(ctx context.Context, t *testing.T, dir string) []eventstore.Event {
	t.Helper()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []eventstore.Event
	var after eventstore.Position
	for {
		page, err := st.ReadAll(ctx, after, 2000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < 2000 {
			return out
		}
		after = page[len(page)-1].Position
	}
}

// The relay process (doorstep serve -relay …, a real child process) is
// SIGKILLed five times while it publishes a synthetic town to NATS
// JetStream and RabbitMQ at once; started a sixth time it finishes. Every
// event arrives at least once on both brokers, exactly once after
// de-duplication by id, per stream in the log's order; `doorstep relay
// status` then shows both publishers at the head of the log.
func TestRelayKilledWhilePublishing(t *testing.T) {
	// Six starts of a -race binary that catches up its projections: slow
	// on a loaded machine (9 minutes were not enough at a load average of
	// 30 on 2 cores), hence the generous bound, a safety net only
	// (scripts/test runs with -timeout 60m).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	writeTownAt(ctx, t, dir, 250)
	initial := len(readLogAt(ctx, t, dir))

	stream, subject := brokertest.Unique("DSKILL_"), brokertest.Unique("dskill.")
	exchange, queue := brokertest.Unique("dskill.x."), brokertest.Unique("dskill.q.")
	natsOut := brokertest.ConsumeNATS(ctx, t, brokertest.NATSURL, stream)
	amqpOut := brokertest.ConsumeAMQP(ctx, t, brokertest.AMQPURL, queue)
	targets := brokertest.NATSURL + "?stream=" + stream + "&subject=" + subject + "," +
		brokertest.AMQPURL + "?exchange=" + exchange + "&queue=" + queue

	const kills = 5
	for i := 1; i <= kills; i++ {
		p := start(t, dir, "-relay", targets)
		// Kill once the brokers have seen a further part of the town.
		if err := natsOut.Wait(ctx, i*initial/(kills+2)); err != nil {
			t.Fatalf("%v\nrelay process:\n%s", err, p.errb.String())
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		if got := natsOut.UniqueIDs(); got >= initial {
			t.Fatalf("kill %d came after the relay had published the whole town (%d events); the test needs a larger town", i, got)
		}
		t.Logf("kill %d: %d of %d events on NATS, %d on RabbitMQ", i, natsOut.UniqueIDs(), initial, amqpOut.UniqueIDs())
	}
	p := start(t, dir, "-relay", targets)
	natsOut.WaitUnique(ctx, t, initial)
	amqpOut.WaitUnique(ctx, t, initial)
	metrics := string(p.call("GET", "/metrics", "", nil).body)
	for _, pub := range []string{"nats", "amqp"} {
		for _, m := range []string{"doorstep_relay_lag_events", "doorstep_relay_lag_seconds", "doorstep_relay_delivered_total", "doorstep_relay_failed_total"} {
			if !strings.Contains(metrics, m+`{publisher="`+pub+`"}`) {
				t.Errorf("/metrics has no %s for %s", m, pub)
			}
		}
		if !strings.Contains(metrics, `doorstep_relay_paused{publisher="`+pub+`"} 0`) {
			t.Errorf("/metrics does not show %s unpaused", pub)
		}
	}
	p.stop() // SIGTERM: the deadline watcher may have added events meanwhile
	log := readLogAt(ctx, t, dir)
	if len(log) > initial { // they are published at the next start
		p = start(t, dir, "-relay", targets)
		natsOut.WaitUnique(ctx, t, len(log))
		amqpOut.WaitUnique(ctx, t, len(log))
		p.stop()
		log = readLogAt(ctx, t, dir)
	}
	got, _, _ := natsOut.Snapshot()
	brokertest.CheckDelivery(t, "NATS", log, got, true)
	t.Logf("NATS: %d messages for %d events", len(got), len(log))
	got, _, _ = amqpOut.Snapshot()
	brokertest.CheckDelivery(t, "RabbitMQ", log, got, true)
	t.Logf("RabbitMQ: %d messages for %d events", len(got), len(log))

	out, err := exec.Command(binary(t), "relay", "status", "-data", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("doorstep relay status: %v\n%s", err, out)
	}
	head := log[len(log)-1].Position.String()
	for _, name := range []string{"amqp", "nats"} {
		re := regexp.MustCompile(`(?m)^` + name + `\s+` + regexp.QuoteMeta(head) + `\s+\d+\s+0\s+0\.0\s`)
		if !re.Match(out) {
			t.Errorf("relay status does not show %s at the head %s with no lag:\n%s", name, head, out)
		}
	}
	if !strings.Contains(string(out), "head of the log") {
		t.Errorf("relay status:\n%s", out)
	}
}

// The README's copy-paste consumers (the Go blocks of its integrators
// section) build and pass go vet against the module's own versions of
// nats.go, amqp091-go, the Standard Webhooks library and the CloudEvents SDK
// (and the server-sent events consumer against the standard library).
func TestReadmeBrokerConsumersBuild(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "## Integrators: brokers")
	if !ok {
		t.Fatal("README.md has no integrators section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(sec, -1)
	if len(blocks) != 4 {
		t.Fatalf("the integrators section has %d Go blocks, want 4 (NATS, RabbitMQ, a webhook receiver, a server-sent events consumer)", len(blocks))
	}
	for i, b := range blocks {
		// A directory starting with '_' inside the module: built with the
		// module's go.mod, and ignored by ./... patterns.
		dir, err := os.MkdirTemp("../..", "_readme_consumer_")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(b[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		vet := exec.Command("go", "vet", "./"+filepath.Base(dir))
		vet.Dir = "../.."
		out, err := vet.CombinedOutput()
		if err != nil {
			t.Fatalf("README consumer %d does not build: %v\n%s\n%s", i+1, err, out, b[1])
		}
	}
}

// A broker outage as an operator sees it: the relay's target is a NATS
// server that is down, then started. Meanwhile the log says "relay
// paused" (a warning, with the error) and the scrape shows
// doorstep_relay_paused 1 with the waiting event in the lag; once the
// server is up, "relay resumed" (with how long), doorstep_relay_paused 0,
// the event delivered and no lag.
func TestRelayOutageLoggedAndInMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := brokertest.StartNATS(t)
	srv.Stop() // down from the start
	env := testenv.New(t)
	if _, err := env.Store.Append(ctx, "outagetest-1", eventstore.Any(), eventstore.EventData{ID: eventstore.NewID(), Type: "outagetest.noted",
		Data: []byte(`{"n":1}`), Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	enc, err := cloudevent.NewEncoder("urn:doorstep:test", "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	target, err := relay.ParseTarget(srv.URL + "?stream=" + brokertest.Unique("DSPAUSE_") + "&subject=" + brokertest.Unique("dspause."))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	r, err := relay.New(relay.Config{Store: env.Store, DB: env.DB, Dialect: env.Dialect, Encoder: enc, Targets: []relay.Target{target},
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(os.Stderr, logs), nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	c := newRelayCollector(r)
	scrape := func() string {
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.PanicOnError}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	// waitFor waits, on events of the relay (its status, polled), until
	// the scrape contains every line of want.
	waitFor := func(what string, want ...string) string {
		for {
			got := scrape()
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(got, w+"\n")
			}
			if ok {
				return got
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: the scrape never showed %q:\n%s\nlog:\n%s", what, want, got, logs.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitFor("broker down", `doorstep_relay_paused{publisher="nats"} 1`, `doorstep_relay_lag_events{publisher="nats"} 1`)
	if text := logs.String(); !strings.Contains(text, `level=WARN msg="relay paused: the broker does not acknowledge`) || !strings.Contains(text, "error=") {
		t.Fatalf("no pause logged with its error:\n%s", text)
	}
	srv.Start()
	waitFor("broker back", `doorstep_relay_paused{publisher="nats"} 0`, `doorstep_relay_lag_events{publisher="nats"} 0`, `doorstep_relay_delivered_total{publisher="nats"} 1`)
	if text := logs.String(); !strings.Contains(text, `level=INFO msg="relay resumed: the broker acknowledges again`) || !strings.Contains(text, "paused_for=") {
		t.Fatalf("no resumption logged:\n%s", text)
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

// The relay runs on the elected node only: two `doorstep serve` share one
// PostgreSQL schema, both started with -relay to NATS JetStream. Exactly
// one logs that it runs the broker relay; commands go through both nodes;
// that node is SIGKILLed and the other, elected in its turn, relays from
// the shared checkpoint. Every event of the log arrives, once after
// de-duplication by id, per stream in the log's order, and the checkpoint
// in the shared schema reaches the head of the log.
func TestRelayOnTheElectedNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	pg, conn, schema := sharedSchema(t, "relaynodes")
	stream, subject := brokertest.Unique("DSNODES_"), brokertest.Unique("dsnodes.")
	target := brokertest.NATSURL + "?stream=" + stream + "&subject=" + subject
	out := brokertest.ConsumeNATS(ctx, t, brokertest.NATSURL, stream)
	args := []string{"-store", pg, "-store-schema", schema, "-relay", target}
	nodes := []*proc{start(t, t.TempDir(), args...)}
	nodes = append(nodes, start(t, t.TempDir(), args...))
	admin := nodes[0].token
	const runs = "broker relay: this node runs it"
	// waitRelaying waits until exactly one of the live nodes says it runs
	// the relay (the election may wait for the nodes' start-up).
	waitRelaying := func(live ...int) int {
		for {
			var r []int
			for _, i := range live {
				if strings.Contains(nodes[i].errb.String(), runs) {
					r = append(r, i)
				}
			}
			if len(r) > 1 {
				t.Fatalf("nodes %v both run the relay", r)
			}
			if len(r) == 1 {
				return r[0]
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no node of %v runs the relay:\n%s\n%s", live, nodes[0].errb.String(), nodes[1].errb.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	register := func(n *proc, id string) {
		n.must(201, "POST", "/v1/households", admin, map[string]any{"household_id": id, "address": "长青路 9 号", "community": "长青社区",
			"grid": "长青网格", "responsible_worker": "李四", "class": "key", "risk": "yellow"})
		n.must(200, "POST", "/v1/households/"+id+"/consent", admin, map[string]any{"given": true, "scope": "走访信息采集"})
	}
	readLog := func() []eventstore.Event {
		st, err := postgres.Open(ctx, postgres.Config{URL: pg, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var all []eventstore.Event
		for after := (eventstore.Position{}); ; {
			page, err := st.ReadAll(ctx, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if len(page) < 1000 {
				return all
			}
			after = page[len(page)-1].Position
		}
	}

	leader := waitRelaying(0, 1)
	other := 1 - leader
	for h := range 4 {
		register(nodes[h%2], fmt.Sprintf("r%d", h))
	}
	out.WaitUnique(ctx, t, len(readLog()))
	if strings.Contains(nodes[other].errb.String(), runs) {
		t.Fatalf("node %d runs the relay beside the elected node %d", other, leader)
	}
	if err := nodes[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = nodes[leader].cmd.Wait()
	if waitRelaying(other) != other {
		t.Fatal("unreachable")
	}
	t.Logf("node %d relayed %d events, was killed; node %d took the relay over", leader, out.UniqueIDs(), other)
	for h := 4; h < 8; h++ {
		register(nodes[other], fmt.Sprintf("r%d", h))
	}
	out.WaitUnique(ctx, t, len(readLog()))
	nodes[other].stop()
	log := readLog()
	if n := out.UniqueIDs(); n < len(log) { // appended by the node just before it stopped: published at its next start
		p := start(t, t.TempDir(), args...)
		out.WaitUnique(ctx, t, len(log))
		p.stop()
		log = readLog()
	}
	got, _, _ := out.Snapshot()
	brokertest.CheckDelivery(t, "NATS", log, got, false)
	t.Logf("NATS: %d messages for %d events", len(got), len(log))
	var events int64
	if err := conn.QueryRow(ctx, `SELECT events FROM `+schema+`.relay_checkpoints WHERE name = 'nats'`).Scan(&events); err != nil || events != int64(len(log)) {
		t.Fatalf("the shared checkpoint counts %d events (%v); the log has %d", events, err, len(log))
	}
}
