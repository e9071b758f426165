package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
)

// testKEK is the key-encrypting key the tests give every doorstep they run
// (in this process, and the binaries they start, through DOORSTEP_KEK):
// on PostgreSQL one is required, and nodes must share it. The tests of the
// embedded default (kek_test.go) unset it.
const testKEK = "dGVzdC1rZWstZG9vcnN0ZXAtMzItYnl0ZXMtbG9uZyE="

// TestMain gives the tests a KEK and removes the binaries the end-to-end
// tests built.
func TestMain(m *testing.M) {
	if os.Getenv(kekEnv) == "" {
		os.Setenv(kekEnv, testKEK)
	}
	code := m.Run()
	for _, bin := range []string{binPath, readmeBinPath} {
		if bin != "" {
			os.RemoveAll(filepath.Dir(bin))
		}
	}
	os.Exit(code)
}

func TestSelfcheckAndVerify(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"selfcheck", "-data", dir}, &out, &errOut); err != nil {
		t.Fatalf("selfcheck: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "self-check passed") {
		t.Fatalf("selfcheck printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"verify", "-data", dir}, &out, &errOut); err != nil || !strings.Contains(out.String(), "3 events") {
		t.Fatalf("verify: %v, %q", err, out.String())
	}

	// Tamper with the second event behind the store's back.
	db, err := sql.Open("sqlite", sqlite.DSN(filepath.Join(dir, "events.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET actor = 'mallory' WHERE version = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out.Reset()
	err = run(ctx, []string{"verify", "-data", dir}, &out, &errOut)
	var ce *eventstore.ChainError
	if !errors.As(err, &ce) || ce.Version != 2 || !strings.Contains(out.String(), "version 2 at position 2") {
		t.Fatalf("verify after tampering: %v, %q", err, out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{nil, {"bogus"}, {"verify", "-nope"}, {"selfcheck", "extra"}} {
		err := run(context.Background(), args, &out, &errOut)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("doorstep %v: %v, want a usage error", args, err)
		}
	}
	if err := run(context.Background(), []string{"verify", "-data", t.TempDir()}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "no store at") {
		t.Errorf("verify of an empty directory: %v", err)
	}
}
