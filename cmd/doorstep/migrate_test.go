package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/keystore"
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
	var sealedHouseholds []string // households with sealed fields
	var after eventstore.Position
	total := 0 // events in the log
	for {
		page, err := rt.store.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		total += len(page)
		for _, e := range page {
			if c := e.Category(); c == "household" || c == "problem" || c == "referral" {
				want = append(want, e.ID.String())
			}
			if h, ok := strings.CutPrefix(e.Stream, "household-"); ok && e.Metadata.KeyID != "" && !slices.Contains(sealedHouseholds, h) {
				sealedHouseholds = append(sealedHouseholds, h)
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Position
	}
	srcHead, err := rt.store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rt.Close()
	if len(want) < 200 {
		t.Fatalf("the town shows only %d events on the stream", len(want))
	}
	half := len(want) / 2

	p := start(t, src)
	admin := p.token
	integ := p.newToken(admin, map[string]any{"name": "大屏", "role": "integrator"})
	first := readEvents(t, p, integ, "", half)
	// A sealed field as the source shows it (a read the source records).
	sealedHH, sealedWant := sealedField(t, p, admin, sealedHouseholds, srcHead)
	p.stop()
	lastOld := first[half-1].sseID

	// To PostgreSQL, interrupted by nothing: one run, then the same again (a no-op).
	pg, _, schema := sharedSchema(t, "migrate")
	mapPath := filepath.Join(t.TempDir(), "positions.map")
	// The source's data keys are wrapped under the tests' DOORSTEP_KEK;
	// the target shares it, given as a file.
	kek := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(kek, []byte(os.Getenv(kekEnv)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Without a key-encrypting key for the target's data keys, nothing is written.
	t.Setenv(kekEnv, "")
	var out0, errb0 bytes.Buffer
	if err := run(ctx, []string{"migrate", "-from", src, "-from-kek-file", kek, "-to", pg, "-to-schema", schema, "-position-map", mapPath}, &out0, &errb0); err == nil || !strings.Contains(err.Error(), "-to-kek-file") {
		t.Fatalf("migrate to PostgreSQL without -to-kek-file: %v", err)
	}
	t.Setenv(kekEnv, testKEK)
	firstOut := ""
	for i := range 2 {
		var out, errb bytes.Buffer
		if err := run(ctx, []string{"migrate", "-from", src, "-from-kek-file", kek, "-to", pg, "-to-schema", schema, "-to-kek-file", kek, "-position-map", mapPath}, &out, &errb); err != nil {
			t.Fatalf("migrate: %v\n%s", err, errb.String())
		}
		if !strings.Contains(out.String(), "every hash chain verifies") || !strings.Contains(out.String(), "data keys") {
			t.Fatalf("migrate printed:\n%s", out.String())
		}
		if i == 0 {
			firstOut = out.String()
			// The progress bar: the copy reached every event, then the verification ran.
			// (The source has a few events more than total by now: serve added them.)
			bar := errb.String()
			m := regexp.MustCompile(`migrate / 迁移 100% \|[^|]*\| \((\d+)/(\d+),`).FindStringSubmatch(bar)
			if m == nil || m[1] != m[2] || must(strconv.Atoi(m[1])) < total || !strings.Contains(bar, "verify / 校验 100%") {
				t.Fatalf("migrate's progress bar (at least %d events) showed:\n%q", total, bar)
			}
		}
		if i == 1 && strings.Count(out.String(), "0 copied now)") != 3 {
			t.Fatalf("migrating again copied something:\n%s", out.String())
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
	esdbData := t.TempDir() // its keys (under a new key-encrypting key), tokens and record of sensitive reads
	newKEK := filepath.Join(t.TempDir(), "kek")
	if _, err := keystore.WriteNewKEKFile(newKEK); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"migrate", "-from", src, "-to", srv.URL(), "-to-prefix", "mig.", "-to-data", esdbData, "-to-kek-file", newKEK, "-position-map", filepath.Join(t.TempDir(), "esdb.map")}, &out, &errb); err != nil {
		t.Fatalf("migrate to EventStoreDB: %v\n%s", err, errb.String())
	}
	for _, store := range [][]string{{"-store", pg, "-store-schema", schema}, {"-store", srv.URL(), "-store-prefix", "mig.", "-kek-file", newKEK}} {
		out.Reset()
		if err := run(ctx, append([]string{"verify", "-data", t.TempDir()}, store...), &out, &errb); err != nil || !strings.Contains(out.String(), "every hash chain intact") {
			t.Fatalf("verify %v: %v\n%s", store, err, out.String())
		}
	}

	// The integrator resumes on PostgreSQL with its old Last-Event-ID.
	// The integrator resumes on PostgreSQL with its old token and Last-Event-ID.
	q := start(t, t.TempDir(), "-store", pg, "-store-schema", schema, "-kek-file", kek, "-position-map", mapPath)
	if q.token != "" {
		t.Fatalf("the target made a new admin token: the source's tokens did not arrive")
	}
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
	// The sealed field opens on the target, for the source's admin token,
	// and the source's record of sensitive reads came along.
	checkSealed(t, q, admin, sealedHH, sealedWant, must(postgres.Open(ctx, postgres.Config{URL: pg, Schema: schema})))
	q.stop()
	// And on EventStoreDB, its keys rewrapped under the new key in its data directory.
	e := start(t, esdbData, "-store", srv.URL(), "-store-prefix", "mig.", "-kek-file", newKEK)
	if e.token != "" {
		t.Fatalf("the EventStoreDB target made a new admin token: the source's tokens did not arrive")
	}
	checkSealed(t, e, admin, sealedHH, sealedWant, must(esdb.Open(ctx, esdb.Config{URL: srv.URL(), Prefix: "mig."})))
	e.stop()
	// From EventStoreDB on: its companions are where -from-data says.
	pg2, _, schema2 := sharedSchema(t, "migrate_from_esdb")
	out.Reset()
	if err := run(ctx, []string{"migrate", "-from", srv.URL(), "-from-prefix", "mig.", "-from-data", esdbData, "-from-kek-file", newKEK,
		"-to", pg2, "-to-schema", schema2, "-to-kek-file", kek, "-position-map", filepath.Join(t.TempDir(), "pg2.map")}, &out, &errb); err != nil {
		t.Fatalf("migrate from EventStoreDB: %v\n%s", err, errb.String())
	}
	if keysLine := regexp.MustCompile(`moved beside the log: \d+ data keys`); keysLine.FindString(out.String()) != keysLine.FindString(firstOut) || firstOut == "" {
		t.Fatalf("migrate from EventStoreDB printed:\n%s", out.String())
	}
	// Without saying where its companions are, an EventStoreDB end is refused.
	err = run(ctx, []string{"migrate", "-from", srv.URL(), "-from-prefix", "mig.", "-to", t.TempDir(), "-position-map", filepath.Join(t.TempDir(), "x.map")}, &out, &errb)
	if !asUsage(err, &ue) || !strings.Contains(err.Error(), "-from-data") {
		t.Fatalf("migrate from EventStoreDB without -from-data: %v", err)
	}
}

// sealedField reads, on p, the profile of the first of households that
// shows a member's identity number in clear, and returns the household and
// the number.
func sealedField(t *testing.T, p *proc, admin string, households []string, head eventstore.Position) (string, string) {
	t.Helper()
	for _, h := range households {
		if v := idNumber(t, p, admin, h, head); v != "" {
			return h, v
		}
	}
	t.Fatalf("none of %d households with sealed fields shows an identity number", len(households))
	return "", ""
}

// idNumber returns the first identity number in clear of household h's
// profile, waiting for the read models to have caught up with the log.
func idNumber(t *testing.T, p *proc, admin, h string, head eventstore.Position) string {
	t.Helper()
	// The read models of a fresh target catch up from the start: each
	// call waits for them (up to the server's bound), then asks again.
	path := "/v1/households/" + h + "?purpose=statutory_report&wait_for=" + head.String() + "&wait_timeout=5s"
	r := p.call("GET", path, admin, nil)
	for r.status == 503 && strings.Contains(string(r.body), "read_model_behind") {
		r = p.call("GET", path, admin, nil)
	}
	if r.status != 200 {
		t.Fatalf("GET %s: %d: %s", path, r.status, r.body)
	}
	prof := r.json(t)
	for _, m := range prof["members"].([]any) {
		if f, ok := m.(map[string]any)["id_number"].(map[string]any); ok {
			if f["erased"] == true {
				continue
			}
			if v, _ := f["value"].(string); v != "" {
				return v
			}
		}
	}
	return ""
}

// checkSealed asserts that the target p opens household h's identity
// number as want, and lists the source's read of it besides its own.
func checkSealed(t *testing.T, p *proc, admin, h, want string, s eventstore.Store) {
	t.Helper()
	head, err := s.Head(context.Background())
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := idNumber(t, p, admin, h, head); got != want {
		t.Fatalf("household %s's identity number on the target: %q, want %q", h, got, want)
	}
	reads := p.must(200, "GET", "/v1/households/"+h+"/sensitive-reads", admin, nil)
	if items, _ := reads["reads"].([]any); len(items) < 2 {
		t.Fatalf("the target lists %d sensitive reads of %s, want the source's and its own: %v", len(items), h, reads)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
