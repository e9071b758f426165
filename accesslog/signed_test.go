package accesslog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/identity"
)

// TestSignedHeadOfReveals: a head of the record of reveals, signed with
// the operator's key and kept in the log and in a heads file, detects the
// record cut short and the record rewritten with recomputed hashes, which
// the chain alone cannot; a forged or altered head does not verify.
func TestSignedHeadOfReveals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a, err := OpenFile(path, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	heads := filepath.Join(dir, HeadsFileName)
	s := &Signer{Record: a, Store: st, Key: priv, File: heads, Now: func() time.Time { return at }}

	if _, _, err := s.Sign(ctx); err == nil || !strings.Contains(err.Error(), "nothing to sign") {
		t.Fatalf("signing an empty record: %v", err)
	}
	who := identity.Principal{Name: "李四", Role: identity.RoleWorker}
	for i := range 5 {
		if err := a.RecordReveal(ctx, who, "h1", "household profile", []string{PurposeVisitPreparation, PurposeAudit}[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	h, signed, err := s.Sign(ctx)
	if err != nil || !signed || h.Records != 5 {
		t.Fatalf("sign: %+v %v %v", h, signed, err)
	}
	if _, signed, err := s.Sign(ctx); err != nil || signed {
		t.Fatalf("signing an unchanged record again: signed %v, %v", signed, err)
	}
	if err := a.RecordReveal(ctx, who, "h2", "household profile", PurposeServiceReferral); err != nil {
		t.Fatal(err)
	}

	// The head is in the log and in the file; both verify, and the record
	// after it counts as not yet covered.
	fromLog, err := ReadLogHeads(ctx, st)
	if err != nil || len(fromLog) != 1 || fromLog[0] != h {
		t.Fatalf("heads in the log: %+v %v", fromLog, err)
	}
	fromFile, err := ReadHeadsFile(heads)
	if err != nil || len(fromFile) != 1 || fromFile[0] != h {
		t.Fatalf("heads in the file: %+v %v", fromFile, err)
	}
	check := func() (HeadsReport, error) {
		recs, err := ReadFile(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		return CheckHeads(recs, append(fromLog, fromFile...), []ed25519.PublicKey{pub})
	}
	rep, err := check()
	if err != nil || rep.Heads != 2 || !rep.SignaturesChecked || rep.Last.Records != 5 || rep.Uncovered != 1 {
		t.Fatalf("check: %+v %v", rep, err)
	}

	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(orig, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty piece after the last newline

	// Truncation: the last three records removed. The chain still holds
	// (what is left is a valid prefix); the head does not.
	if err := os.WriteFile(path, bytes.Join(lines[:3], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := check(); err == nil || !strings.Contains(err.Error(), "cut short") || !rep.Chain.Verified {
		t.Fatalf("truncated record: %+v %v", rep, err)
	}

	// An edit with every hash recomputed: the chain holds again, the head
	// does not.
	var recs []Record
	for _, l := range lines {
		var r Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	recs[1].Purpose = PurposeStatutoryReport
	chain("", recs)
	var rewritten []byte
	for _, r := range recs {
		b, _ := json.Marshal(r)
		rewritten = append(append(rewritten, b...), '\n')
	}
	if err := os.WriteFile(path, rewritten, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := check(); err == nil || !strings.Contains(err.Error(), "differs from a head") || !rep.Chain.Verified {
		t.Fatalf("rewritten record: %+v %v", rep, err)
	}

	// An edit without recomputing: the chain itself breaks.
	edited := bytes.Replace(orig, []byte(`"h2"`), []byte(`"h9"`), 1)
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := check(); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("edited record: %v", err)
	}

	// The original verifies again; a head with its count changed does not,
	// nor one checked against another key.
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	recsNow, err := ReadFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	forged := h
	forged.Records = 3
	forged.Hash = recsNow[2].Hash
	if _, err := CheckHeads(recsNow, []Head{forged}, []ed25519.PublicKey{pub}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("forged head: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := CheckHeads(recsNow, []Head{h}, []ed25519.PublicKey{other}); err == nil || !strings.Contains(err.Error(), "not among") {
		t.Fatalf("another key: %v", err)
	}
	if rep, err := CheckHeads(recsNow, []Head{h}, nil); err != nil || rep.SignaturesChecked {
		t.Fatalf("without keys: %+v %v", rep, err)
	}
}

// TestRevealSignerRun: the running signer signs when records came in and
// once more when it stops, never an unchanged record twice.
func TestRevealSignerRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	a, err := OpenFile(filepath.Join(dir, FileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	heads := filepath.Join(dir, HeadsFileName)
	s := &Signer{Record: a, Key: priv, File: heads, Interval: time.Hour}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if err := a.RecordReveal(ctx, identity.Principal{Name: "审计员", Role: identity.RoleAuditor}, "h1", "household profile", PurposeAudit); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hs, err := ReadHeadsFile(heads)
	if err != nil || len(hs) != 1 || hs[0].Records != 1 {
		t.Fatalf("heads after stop: %+v %v", hs, err)
	}
}
