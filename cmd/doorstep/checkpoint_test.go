package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/syncbuf"
	"github.com/doorstep/doorstep/logchain"
)

// offlineLog writes, in a fresh data directory, events whose stored bytes
// the export's "data" member does not reproduce (spaces, <>&, Chinese, a
// zero occurred-at), signs two heads with a new key and returns the
// directory, the key's files and where each event landed.
func offlineLog(t *testing.T) (dir, key, pub string, at map[string]eventstore.Position) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	key = filepath.Join(t.TempDir(), "signing.pem")
	pub = strings.TrimSuffix(key, ".pem") + ".pub.pem"
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"checkpoint", "keygen", "-o", key}, &out, &errb); err != nil {
		t.Fatalf("keygen: %v %s", err, errb.String())
	}
	if err := run(ctx, []string{"checkpoint", "keygen", "-o", key}, &out, &errb); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}
	at = map[string]eventstore.Position{}
	add := func(svs ...string) {
		s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i, sv := range svs {
			stream, _, _ := strings.Cut(sv, "/")
			md := eventstore.Metadata{Actor: "李四", Role: "grid_worker", Community: "竹园村", Grid: "竹园村第1网格", CommandID: "c-" + sv}
			if i%2 == 0 {
				md.OccurredAt = time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
			}
			res, err := s.Append(ctx, stream, eventstore.Any(), eventstore.EventData{ID: eventstore.NewID(), Type: "visit.recorded",
				Data: []byte(fmt.Sprintf("{ \"summary\" : \"独居 <%s> & 担心摔倒\",\n \"n\": 1.50 }", sv)), Metadata: md})
			if err != nil {
				t.Fatal(err)
			}
			at[sv] = res.LastPosition
		}
	}
	sign := func() {
		if err := run(ctx, []string{"checkpoint", "sign", "-data", dir, "-key", key}, &out, &errb); err != nil || !strings.Contains(out.String(), "signed") {
			t.Fatalf("sign: %v %s %s", err, out.String(), errb.String())
		}
	}
	add("household-a/1", "household-b/1", "household-a/2")
	sign()
	add("household-a/3", "household-c/1", "household-c/2", "household-b/2")
	sign()
	add("household-d/1")
	return dir, key, pub, at
}

func sqliteExec(t *testing.T, dir, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", sqlite.DSN(filepath.Join(dir, "events.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestVerifyWithSignedHeads: `doorstep verify -public-key` checks the
// heads, fails naming where after a deleted last event of a stream, and
// after the log was cut short (found by the heads file in -data).
func TestVerifyWithSignedHeads(t *testing.T) {
	ctx := context.Background()
	dir, _, pub, at := offlineLog(t)
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"verify", "-data", dir, "-public-key", pub}, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "10 events") || !strings.Contains(out.String(), "2 signed heads hold (signatures checked") ||
		!strings.Contains(out.String(), "covers 8 events") {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	// Deleted: the last event of household-b, signed by the second head.
	sqliteExec(t, dir, fmt.Sprintf("DELETE FROM events WHERE position = %d", at["household-b/2"].Lo))
	out.Reset()
	err := run(ctx, []string{"verify", "-data", dir, "-public-key", pub}, &out, &errb)
	var le *logchain.Error
	if !errors.As(err, &le) || !strings.Contains(out.String(), "BROKEN") || !strings.Contains(out.String(), "events were deleted") ||
		!strings.Contains(out.String(), fmt.Sprintf("between position 3 and position %s", at["household-b/2"])) {
		t.Fatalf("verify after deleting household-b's last event: %v\n%s", err, out.String())
	}
	// Cut short after the first head's event: the heads in the log go too,
	// the heads file in -data still has them.
	sqliteExec(t, dir, "DELETE FROM events WHERE position > 4")
	out.Reset()
	err = run(ctx, []string{"verify", "-data", dir, "-public-key", pub}, &out, &errb)
	if !errors.As(err, &le) || !strings.Contains(out.String(), "cut short") {
		t.Fatalf("verify after truncating: %v\n%s", err, out.String())
	}
	// The same log with the heads file moved away, and given with -heads.
	moved := filepath.Join(t.TempDir(), "kept-heads.jsonl")
	if err := os.Rename(filepath.Join(dir, headsFileName), moved); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"verify", "-data", dir, "-public-key", pub}, &out, &errb); err != nil {
		t.Fatalf("verify with only the heads left in the log: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"verify", "-data", dir, "-public-key", pub, "-heads", moved}, &out, &errb); !errors.As(err, &le) {
		t.Fatalf("verify -heads: %v\n%s", err, out.String())
	}
}

// TestVerifyOfflineProcedure follows docs/verify-offline.md on a real
// export: the Python script recomputes the chains, OpenSSL checks each
// signature and the key id. Then the export is tampered with, and the
// script names where. python3 and openssl must be installed: the test
// fails without them.
func TestVerifyOfflineProcedure(t *testing.T) {
	ctx := context.Background()
	dir, _, pub, _ := offlineLog(t)
	work := t.TempDir()
	export := filepath.Join(work, "export.jsonl")
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"export", "-data", dir, "-o", export}, &out, &errb); err != nil || !strings.Contains(errb.String(), "with 2 signed heads, key id") {
		t.Fatalf("export: %v %s", err, errb.String())
	}
	script, err := filepath.Abs("../../scripts/verify-export.py")
	if err != nil {
		t.Fatal(err)
	}
	sh := func(cmd string) (string, error) {
		c := exec.Command("bash", "-c", "set -eo pipefail; "+cmd)
		c.Dir = work
		b, err := c.CombinedOutput()
		return string(b), err
	}
	for _, tool := range []string{"python3", "openssl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed by the offline procedure (docs/verify-offline.md) and is not installed: %v", tool, err)
		}
	}
	got, err := sh("python3 " + script + " export.jsonl --out heads")
	if err != nil || !strings.Contains(got, "10 events, 5 streams; 2 signed heads match the global chain; the newest covers 8 events") {
		t.Fatalf("verify-export.py: %v\n%s", err, got)
	}
	// Step 3 of the procedure, as written there.
	keyID, err := sh("openssl pkey -pubin -in " + pub + " -outform DER | sha256sum | cut -c1-32")
	if err != nil {
		t.Fatalf("key id: %v %s", err, keyID)
	}
	sigs, _ := filepath.Glob(filepath.Join(work, "heads", "*.sig"))
	sort.Strings(sigs)
	if len(sigs) != 2 {
		t.Fatalf("%d signatures written, want 2", len(sigs))
	}
	for _, sig := range sigs {
		base := strings.TrimSuffix(sig, ".sig")
		got, err := sh(fmt.Sprintf("openssl pkeyutl -verify -pubin -inkey %s -rawin -in %s.msg -sigfile %s.sig", pub, base, base))
		if err != nil || !strings.Contains(got, "Signature Verified Successfully") {
			t.Fatalf("openssl on %s: %v %s", base, err, got)
		}
		id, _ := os.ReadFile(base + ".key_id")
		if strings.TrimSpace(string(id)) != strings.TrimSpace(keyID) {
			t.Fatalf("head %s names key %s, the public key's id is %s", base, id, keyID)
		}
	}
	// A signature over an altered message does not verify.
	msg := strings.TrimSuffix(sigs[0], ".sig") + ".msg"
	b, _ := os.ReadFile(msg)
	if err := os.WriteFile(msg, bytes.Replace(b, []byte("count "), []byte("count 1"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := sh(fmt.Sprintf("openssl pkeyutl -verify -pubin -inkey %s -rawin -in %s -sigfile %s", pub, msg, sigs[0])); err == nil {
		t.Fatalf("openssl accepted an altered message: %s", got)
	}

	// Tampered exports: each fails, naming where.
	lines := strings.SplitAfter(strings.TrimSpace(readFile(t, export)), "\n")
	for name, edit := range map[string]func([]string) []string{
		"deleted last event of a stream": func(l []string) []string { // household-b/2 is line 8
			return append(append([]string{}, l[:7]...), l[8:]...)
		},
		"reordered pair": func(l []string) []string {
			c := append([]string{}, l...)
			c[4], c[5] = c[5], c[4] // household-a/3 and household-c/1
			return c
		},
		"truncated": func(l []string) []string { return l[:5] },
		"altered data": func(l []string) []string {
			c := append([]string{}, l...)
			c[1] = strings.Replace(c[1], `"data_base64":"`, `"data_base64":"IA`, 1)
			return c
		},
	} {
		bad := filepath.Join(work, "bad.jsonl")
		if err := os.WriteFile(bad, []byte(strings.Join(edit(lines), "")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args := ""
		if name == "truncated" {
			args = " --heads " + filepath.Join(dir, headsFileName)
		}
		got, err := sh("python3 " + script + " bad.jsonl --out badheads" + args)
		if err == nil || !strings.Contains(got, "BROKEN") || !(strings.Contains(got, "between position") || strings.Contains(got, "line 2")) {
			t.Errorf("%s: the script did not name where: %v\n%s", name, err, got)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeSignsHeads: `serve -checkpoint-key` signs the log's head while it
// runs (here at start: the events already there are more than
// -checkpoint-every), and verify then covers them.
func TestServeSignsHeads(t *testing.T) {
	dir, key, pub, _ := offlineLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-data", dir, "-addr", "127.0.0.1:0", "-checkpoint-key", key, "-checkpoint-every", "2", "-log-format", "text"}, &out, &errb)
	}()
	// Wait for the third head in the heads file (the test's two and the
	// server's), or for serve to fail.
	deadline := time.After(60 * time.Second)
	for {
		hs, err := logchain.ReadFile(filepath.Join(dir, headsFileName))
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) >= 3 {
			if hs[2].Count != 10 {
				t.Fatalf("the server signed %d events, want the 10 in the log", hs[2].Count)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, errb.String())
		case <-deadline:
			t.Fatalf("no head signed by the server within 60 s\n%s", errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	var vout bytes.Buffer
	if err := run(context.Background(), []string{"verify", "-data", dir, "-public-key", pub}, &vout, &vout); err != nil ||
		!strings.Contains(vout.String(), "3 signed heads hold") || !strings.Contains(vout.String(), "covers 10 events") {
		t.Fatalf("verify: %v\n%s", err, vout.String())
	}
}

// TestVerifyWithSignedHeadsOnPostgres: the same commands on PostgreSQL:
// sign from a machine holding only the key and a data directory for the
// heads file, delete a whole stream with SQL, and verify names where.
func TestVerifyWithSignedHeadsOnPostgres(t *testing.T) {
	pg, conn, schema := sharedSchema(t, "logchain")
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: pg, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]eventstore.Position{}
	for _, sv := range []string{"household-a/1", "household-b/1", "household-b/2", "household-a/2", "household-c/1"} {
		stream, _, _ := strings.Cut(sv, "/")
		res, err := s.Append(ctx, stream, eventstore.Any(), eventstore.EventData{ID: eventstore.NewID(), Type: "visit.recorded",
			Data: []byte(`{"summary":"独居"}`), Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)}})
		if err != nil {
			t.Fatal(err)
		}
		at[sv] = res.LastPosition
	}
	s.Close()
	key := filepath.Join(t.TempDir(), "k.pem")
	pub := strings.TrimSuffix(key, ".pem") + ".pub.pem"
	dir := t.TempDir()
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"checkpoint", "keygen", "-o", key},
		{"checkpoint", "sign", "-key", key, "-data", dir, "-store", pg, "-store-schema", schema},
		{"verify", "-public-key", pub, "-data", dir, "-store", pg, "-store-schema", schema}} {
		out.Reset()
		if err := run(ctx, args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errb.String())
		}
	}
	if !strings.Contains(out.String(), "1 signed heads hold (signatures checked") {
		t.Fatalf("verify: %s", out.String())
	}
	if _, err := conn.Exec(ctx, `DELETE FROM `+pgx.Identifier{schema, "events"}.Sanitize()+` WHERE stream = 'household-b'`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(ctx, []string{"verify", "-public-key", pub, "-data", dir, "-store", pg, "-store-schema", schema}, &out, &errb)
	var le *logchain.Error
	if !errors.As(err, &le) || !strings.Contains(out.String(), "events were deleted") ||
		!strings.Contains(out.String(), fmt.Sprintf("between position 0 (the start of the log) and position %s", at["household-c/1"])) {
		t.Fatalf("verify after deleting a stream: %v\n%s", err, out.String())
	}
}

// TestServeSignsHeadsOnPostgres: on PostgreSQL the elected node signs,
// beside the projections and the deadline watcher.
func TestServeSignsHeadsOnPostgres(t *testing.T) {
	pg, _, schema := sharedSchema(t, "logchain_serve")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := postgres.Open(ctx, postgres.Config{URL: pg, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Append(ctx, fmt.Sprintf("household-h%d", i), eventstore.NoStream(), eventstore.EventData{ID: eventstore.NewID(), Type: "test.happened",
			Data: []byte(`{}`), Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	key := filepath.Join(t.TempDir(), "k.pem")
	pub := strings.TrimSuffix(key, ".pem") + ".pub.pem"
	var kout bytes.Buffer
	if err := run(ctx, []string{"checkpoint", "keygen", "-o", key}, &kout, &kout); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var out, errb syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-data", dir, "-addr", "127.0.0.1:0", "-store", pg, "-store-schema", schema,
			"-checkpoint-key", key, "-checkpoint-every", "2", "-log-format", "text"}, &out, &errb)
	}()
	deadline := time.After(60 * time.Second)
	for {
		hs, err := logchain.ReadFile(filepath.Join(dir, headsFileName))
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) > 0 {
			if hs[0].Count < 3 {
				t.Fatalf("the server signed %d events, want at least the 3 in the log", hs[0].Count)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, errb.String())
		case <-deadline:
			t.Fatalf("no head signed by the server within 60 s\n%s", errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	var vout bytes.Buffer
	if err := run(context.Background(), []string{"verify", "-data", dir, "-store", pg, "-store-schema", schema, "-public-key", pub}, &vout, &vout); err != nil ||
		!strings.Contains(vout.String(), "signed heads hold (signatures checked") {
		t.Fatalf("verify: %v\n%s", err, vout.String())
	}
}
