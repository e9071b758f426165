package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/brokertest"
	"github.com/doorstep/doorstep/keystore"
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
	// on a loaded machine, hence the generous bound (scripts/test runs with
	// -timeout 60m).
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	dir := t.TempDir()
	writeTownAt(ctx, t, dir, 400)
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
// nats.go, amqp091-go, the Standard Webhooks library and the CloudEvents SDK.
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
	if len(blocks) != 3 {
		t.Fatalf("the integrators section has %d Go blocks, want 3 (NATS, RabbitMQ, a webhook receiver)", len(blocks))
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
