//go:build demo_migrate

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/keystore"
)

// TestMigrateDemoTown is the "done when" at full size, with the
// binary (built without the race detector) as an operator runs it:
// `doorstep demo` writes the 2,155-household town to the embedded store,
// `doorstep migrate` moves it to PostgreSQL and to the in-process
// EventStoreDB protocol server (esdbtest, which is not EventStoreDB), and
// `doorstep verify` passes on the source and on each target with the same
// number of events. An integrator that read half of the event stream on
// the embedded store resumes on PostgreSQL with its old Last-Event-ID and
// reads the rest: no gap, no repeat. Built only with -tags demo_migrate (it takes minutes):
//
//	go test -tags demo_migrate -run TestMigrateDemoTown -timeout 60m -v ./cmd/doorstep/
//
// The commands and their output are logged (-v) for the record.
func TestMigrateDemoTown(t *testing.T) {
	bin := readmeBinary(t)
	work := t.TempDir()
	data := filepath.Join(work, "demo-data")
	p := startDemo(t, work, bin, "demo", "-addr", "127.0.0.1:0", "-data", data)
	t.Logf("doorstep demo:\n%s", p.out)
	admin := p.token
	if admin == "" {
		t.Fatalf("the demo printed no admin token:\n%s", p.out)
	}
	// An integrator reads half of the event stream on the embedded store.
	integ := p.newToken(admin, map[string]any{"name": "大屏", "role": "integrator"})
	p.stop()
	want := streamIDs(t, filepath.Join(data, "events.db"))
	half := len(want) / 2
	p = startDemo(t, work, bin, "serve", "-addr", "127.0.0.1:0", "-data", data)
	first := readEvents(t, p, integ, "", half)
	p.stop()
	t.Logf("the integrator read %d of the stream's %d events on the embedded store", half, len(want))
	doorstep := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		out, err := cmd.Output()
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		if err != nil {
			t.Fatalf("doorstep %s: %v\n%s\n%s", strings.Join(args, " "), err, out, tail(stderr, 3000))
		}
		t.Logf("$ doorstep %s\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	verified := regexp.MustCompile(`verified: (\d+) events, every hash chain intact`)
	count := func(out string) string {
		t.Helper()
		m := verified.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("verify printed:\n%s", out)
		}
		return m[1]
	}
	events := count(doorstep("verify", "-data", data))
	migrated := regexp.MustCompile(`migrated: (\d+) events \(0 already there, (\d+) copied`)
	checkMigrated := func(out string) {
		t.Helper()
		m := migrated.FindStringSubmatch(out)
		if m == nil || m[1] != events || m[2] != events || !strings.Contains(out, "every hash chain verifies") {
			t.Fatalf("migrate of %s events printed:\n%s", events, out)
		}
	}
	// The source's data keys are wrapped under the tests' DOORSTEP_KEK.
	kek := filepath.Join(work, "kek")
	if err := os.WriteFile(kek, []byte(os.Getenv(kekEnv)), 0o600); err != nil {
		t.Fatal(err)
	}

	// SQLite → PostgreSQL.
	pg, _, schema := sharedSchema(t, "migrate_demo")
	checkMigrated(doorstep("migrate", "-from", data, "-from-kek-file", kek, "-to", pg, "-to-schema", schema, "-to-kek-file", kek,
		"-position-map", filepath.Join(work, "pg.map")))
	if n := count(doorstep("verify", "-data", filepath.Join(work, "pg-data"), "-store", pg, "-store-schema", schema, "-kek-file", kek)); n != events {
		t.Fatalf("verify on PostgreSQL: %s events, the source has %s", n, events)
	}
	// The integrator resumes on PostgreSQL with its old Last-Event-ID: the
	// rest of the stream, no gap, no repeat.
	q := startDemo(t, work, bin, "serve", "-addr", "127.0.0.1:0", "-data", filepath.Join(work, "pg-serve"), "-store", pg, "-store-schema", schema,
		"-kek-file", kek, "-position-map", filepath.Join(work, "pg.map"))
	rest := readEvents(t, q, integ, first[half-1].sseID, len(want)-half)
	q.stop()
	for i, e := range append(first, rest...) {
		if e.eventID != want[i] {
			t.Fatalf("after resuming on PostgreSQL, event %d of the stream is %s, want %s (half %d)", i, e.eventID, want[i], half)
		}
	}
	t.Logf("the integrator resumed on PostgreSQL after %s and read the other %d events: no gap, no repeat", first[half-1].sseID, len(rest))

	// SQLite → the in-process EventStoreDB protocol server.
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	esdbData := filepath.Join(work, "esdb-data")
	newKEK := filepath.Join(work, "esdb-kek")
	if _, err := keystore.WriteNewKEKFile(newKEK); err != nil {
		t.Fatal(err)
	}
	checkMigrated(doorstep("migrate", "-from", data, "-from-kek-file", kek, "-to", srv.URL(), "-to-prefix", "demo.", "-to-data", esdbData,
		"-to-kek-file", newKEK, "-position-map", filepath.Join(work, "esdb.map")))
	if n := count(doorstep("verify", "-data", esdbData, "-store", srv.URL(), "-store-prefix", "demo.", "-kek-file", newKEK)); n != events {
		t.Fatalf("verify on the in-process EventStoreDB server: %s events, the source has %s", n, events)
	}
}

// streamIDs returns the ids of the events an integrator's event stream
// shows (households, problems, referrals), in log order, from the embedded
// store at path.
func streamIDs(t *testing.T, path string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []string
	var after eventstore.Position
	for {
		page, err := s.ReadAll(ctx, after, 5000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if c := e.Category(); c == "household" || c == "problem" || c == "referral" {
				ids = append(ids, e.ID.String())
			}
		}
		if len(page) < 5000 {
			return ids
		}
		after = page[len(page)-1].Position
	}
}
