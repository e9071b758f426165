package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/town"
)

// sseEvent is one event read from GET /v1/events.
type sseEvent struct{ sseID, eventID string }

// readEvents reads n events from p's event stream as token, starting
// after lastID (the Last-Event-ID header; empty: from the start).
func readEvents(t *testing.T, p *proc, token, lastID string, n int) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /v1/events: %s", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out []sseEvent
	id := ""
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			var e struct{ ID string }
			if err := json.Unmarshal([]byte(v), &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, sseEvent{id, e.ID})
		}
	}
	if len(out) < n {
		t.Fatalf("the event stream ended after %d of %d events: %v", len(out), n, sc.Err())
	}
	return out
}

// TestMigrateSQLiteToPostgresAndESDB writes a synthetic town to the
// embedded store, lets an integrator read half of it on the event stream,
// migrates the log to PostgreSQL and to the in-process EventStoreDB
// protocol server, verifies both, and resumes the integrator on
// PostgreSQL with its old Last-Event-ID: the rest of the log, no gap, no
// repeat.
func TestMigrateSQLiteToPostgresAndESDB(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	rt, err := openRuntime(ctx, src, storeConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := town.DefaultConfig(11, 30)
	cfg.Sealer, cfg.Calendar = rt.vault, rt.cal
	if _, err := town.Write(ctx, rt.store, cfg); err != nil {
		t.Fatal(err)
	}
	// What the event stream shows: the household, problem and referral events, in log order.
	var want []string
	var after eventstore.Position
	for {
		page, err := rt.store.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if c := e.Category(); c == "household" || c == "problem" || c == "referral" {
				want = append(want, e.ID.String())
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Position
	}
	rt.Close()
	if len(want) < 200 {
		t.Fatalf("the town shows only %d events on the stream", len(want))
	}
	half := len(want) / 2

	p := start(t, src)
	integ := p.newToken(p.token, map[string]any{"name": "大屏", "role": "integrator"})
	first := readEvents(t, p, integ, "", half)
	p.stop()
	lastOld := first[half-1].sseID

	// To PostgreSQL, interrupted by nothing: one run, then the same again (a no-op).
	pg, _, schema := sharedSchema(t, "migrate")
	mapPath := filepath.Join(t.TempDir(), "positions.map")
	for range 2 {
		var out, errb bytes.Buffer
		if err := run(ctx, []string{"migrate", "-from", src, "-to", pg, "-to-schema", schema, "-position-map", mapPath}, &out, &errb); err != nil {
			t.Fatalf("migrate: %v\n%s", err, errb.String())
		}
		if !strings.Contains(out.String(), "every hash chain verifies") {
			t.Fatalf("migrate printed:\n%s", out.String())
		}
	}
	// A target holding another log is refused.
	var out, errb bytes.Buffer
	other := t.TempDir()
	ort, err := openRuntime(ctx, other, storeConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ocfg := town.DefaultConfig(12, 2)
	ocfg.Sealer, ocfg.Calendar = ort.vault, ort.cal
	if _, err := town.Write(ctx, ort.store, ocfg); err != nil {
		t.Fatal(err)
	}
	ort.Close()
	err = run(ctx, []string{"migrate", "-from", other, "-to", pg, "-to-schema", schema, "-position-map", filepath.Join(t.TempDir(), "x")}, &out, &errb)
	var ue usageError
	if !asUsage(err, &ue) || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("migrate into a store holding another log: %v", err)
	}

	// To the in-process EventStoreDB server; verify passes there too.
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := run(ctx, []string{"migrate", "-from", src, "-to", srv.URL(), "-to-prefix", "mig.", "-position-map", filepath.Join(t.TempDir(), "esdb.map")}, &out, &errb); err != nil {
		t.Fatalf("migrate to EventStoreDB: %v\n%s", err, errb.String())
	}
	for _, store := range [][]string{{"-store", pg, "-store-schema", schema}, {"-store", srv.URL(), "-store-prefix", "mig."}} {
		out.Reset()
		if err := run(ctx, append([]string{"verify", "-data", t.TempDir()}, store...), &out, &errb); err != nil || !strings.Contains(out.String(), "every hash chain intact") {
			t.Fatalf("verify %v: %v\n%s", store, err, out.String())
		}
	}

	// The integrator resumes on PostgreSQL with its old Last-Event-ID.
	q := start(t, t.TempDir(), "-store", pg, "-store-schema", schema, "-position-map", mapPath)
	integ = q.newToken(q.token, map[string]any{"name": "大屏", "role": "integrator"})
	rest := readEvents(t, q, integ, lastOld, len(want)-half)
	got := make([]string, 0, len(want))
	for _, e := range append(first, rest...) {
		got = append(got, e.eventID)
	}
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("after resuming, event %d of the stream is %s, want %s (half %d)", i, got[i], want[i], half)
			}
		}
	}
	// A new position is taken as it is, not translated again.
	again := readEvents(t, q, integ, rest[2].sseID, 1)
	if again[0].eventID != rest[3].eventID {
		t.Fatalf("resuming from a new position gave %s, want %s", again[0].eventID, rest[3].eventID)
	}
	q.stop()
}
