package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/identity"
)

// TestVerifyRevealsWithSignedHead: `checkpoint sign` signs the head of the
// record of reveals with the log's key; `verify` checks the record against
// it and finds its last records removed (even with the heads file gone:
// the head is in the log) and a record rewritten with recomputed hashes.
func TestVerifyRevealsWithSignedHead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "household-a", eventstore.Any(), eventstore.EventData{ID: eventstore.NewID(), Type: "visit.recorded",
		Data: []byte(`{}`), Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := filepath.Join(dir, accesslog.FileName)
	a, err := accesslog.OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{accesslog.PurposeVisitPreparation, accesslog.PurposeAudit, accesslog.PurposeServiceReferral} {
		if err := a.RecordReveal(ctx, identity.Principal{Name: "李四", Role: identity.RoleWorker}, "household-a", "household profile", p); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	key := filepath.Join(t.TempDir(), "k.pem")
	pub := strings.TrimSuffix(key, ".pem") + ".pub.pem"
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"checkpoint", "keygen", "-o", key}, {"checkpoint", "sign", "-key", key, "-data", dir}} {
		if err := run(ctx, args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errb.String())
		}
	}
	if !strings.Contains(out.String(), "signed the record of reveals: its first 3 records") {
		t.Fatalf("sign: %s", out.String())
	}
	verify := func() (string, error) {
		out.Reset()
		err := run(ctx, []string{"verify", "-data", dir, "-public-key", pub}, &out, &errb)
		return out.String(), err
	}
	got, err := verify()
	if err != nil || !strings.Contains(got, "record of reveals: 3 records") || !strings.Contains(got, "2 signed heads hold (signatures checked") ||
		!strings.Contains(got, "the newest covers 3 records; 0 later records") || !strings.Contains(got, "global chain: 1 signed heads hold") {
		t.Fatalf("verify: %v\n%s", err, got)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Truncated, and the heads file gone with it: the head in the log
	// still shows it.
	lines := bytes.SplitAfter(orig, []byte("\n"))
	if err := os.WriteFile(path, bytes.Join(lines[:2], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(t.TempDir(), "kept.jsonl")
	if err := os.Rename(filepath.Join(dir, accesslog.HeadsFileName), kept); err != nil {
		t.Fatal(err)
	}
	if got, err := verify(); err == nil || !strings.Contains(got, "BROKEN") || !strings.Contains(got, "cut short") {
		t.Fatalf("verify after truncating: %v\n%s", err, got)
	}
	// One record edited: the chain shows it.
	if err := os.WriteFile(path, bytes.Replace(orig, []byte(`"audit"`), []byte(`"statutory_report"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := verify(); err == nil || !strings.Contains(got, "BROKEN") || !strings.Contains(got, "record 2 was altered") {
		t.Fatalf("verify after editing: %v\n%s", err, got)
	}
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"verify", "-data", dir, "-public-key", pub, "-reveal-heads", kept}, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "2 signed heads hold") {
		t.Fatalf("verify the original with -reveal-heads: %v\n%s", err, out.String())
	}
}
