package copylog_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/copylog"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/town"
)

// xorSealer is a deterministic stand-in for the key vault: the town's
// sealed fields only have to be bytes that survive the copy.
type xorSealer struct{}

func (xorSealer) Seal(_ context.Context, householdID string, plaintext []byte) (domain.Sealed, error) {
	out := make([]byte, len(plaintext))
	for i, b := range plaintext {
		out[i] = b ^ 0x5a
	}
	return domain.Sealed{KeyID: "test-" + householdID, Ciphertext: out}, nil
}

// sourceTown writes a synthetic town of n households to a new SQLite store.
func sourceTown(t *testing.T, n int) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	src, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	cfg := town.DefaultConfig(7, n)
	cfg.Sealer = xorSealer{}
	cfg.TempDir = t.TempDir()
	if _, err := town.Write(ctx, src, cfg); err != nil {
		t.Fatal(err)
	}
	return src
}

// pgTarget opens a PostgreSQL store in a fresh schema, dropped after the test.
func pgTarget(t *testing.T, clk *copylog.Clock) (open func() *postgres.Store) {
	t.Helper()
	conn := pgtest.Connect(t)
	schema := fmt.Sprintf("copylog_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	return func() *postgres.Store {
		s, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.SharedURL(), Schema: schema, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// check asserts what a finished copy must give: every event, the map of
// every position, and a target that verifies.
func check(t *testing.T, src, dst eventstore.Store, res copylog.Result) {
	t.Helper()
	ctx := context.Background()
	n, err := copylog.Count(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != n || res.Map.Len() != n {
		t.Fatalf("copied %d events, mapped %d; the source has %d", res.Events, res.Map.Len(), n)
	}
	if m, err := eventstore.VerifyAll(ctx, dst, nil); err != nil || m != n {
		t.Fatalf("verify the target: %d events, %v", m, err)
	}
	// Every position maps to the same event in the target.
	all, err := src.ReadAll(ctx, eventstore.Position{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		np, ok := res.Map.Lookup(e.Position)
		if !ok {
			t.Fatalf("position %s not mapped", e.Position)
		}
		got, err := dst.ReadStream(ctx, e.Stream, eventstore.Forward, e.Version, 1)
		if err != nil || len(got) != 1 || got[0].Position != np || got[0].ID != e.ID || !got[0].RecordedAt.Equal(e.RecordedAt) || got[0].Hash != e.Hash {
			t.Fatalf("event %s at %s maps to %s; the target holds %+v, %v", e.ID, e.Position, np, got, err)
		}
	}
}

func TestSQLiteToPostgresResumesAndRefuses(t *testing.T) {
	ctx := context.Background()
	src := sourceTown(t, 40)
	total, err := copylog.Count(ctx, src)
	if err != nil || total < 500 {
		t.Fatalf("the town has %d events, %v", total, err)
	}
	clk := &copylog.Clock{}
	open := pgTarget(t, clk)
	dst := open()
	// Interrupted after about half the events…
	cctx, cancel := context.WithCancel(ctx)
	_, err = copylog.Copy(cctx, src, dst, clk, copylog.Options{MaxBatch: 50, Progress: func(phase string, n int) {
		if phase == "copy" && n >= total/2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: %v", err)
	}
	half, err := copylog.Count(ctx, dst)
	if err != nil || half < total/2 || half >= total {
		t.Fatalf("after the interruption the target holds %d of %d events, %v", half, total, err)
	}
	// …then resumed, in a new process as it were.
	dst.Close()
	dst = open()
	res, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imports == 0 {
		t.Fatalf("no run was batched into an import: %+v", res)
	}
	if res.Resumed != half || res.Events != total {
		t.Fatalf("resumed after %d events (want %d), %d in all (want %d)", res.Resumed, half, res.Events, total)
	}
	check(t, src, dst, res)
	// A finished copy run again writes nothing and verifies again.
	again, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{})
	if err != nil || again.Appends+again.Imports != 0 || again.Resumed != total {
		t.Fatalf("copy of a finished copy: %+v, %v", again, err)
	}
	// A target holding anything else is refused before anything is written.
	other := sourceTown(t, 3)
	before, _ := dst.Head(ctx)
	if _, err := copylog.Copy(ctx, other, dst, clk, copylog.Options{}); !errors.Is(err, copylog.ErrTargetNotEmpty) {
		t.Fatalf("copy into a store holding another log: %v", err)
	}
	if after, _ := dst.Head(ctx); after != before {
		t.Fatalf("the refused copy wrote: head %s → %s", before, after)
	}
	// The map survives its file.
	path := filepath.Join(t.TempDir(), "positions.map")
	if err := res.Map.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	m, err := copylog.ReadMapFile(path)
	if err != nil || m.Len() != total {
		t.Fatalf("read back %v entries, %v", m, err)
	}
}

func TestSQLiteToESDB(t *testing.T) {
	ctx := context.Background()
	src := sourceTown(t, 15)
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	clk := &copylog.Clock{}
	dst, err := esdb.Open(ctx, esdb.Config{URL: srv.URL(), Prefix: "mig" + strings.ReplaceAll(uuid.NewString()[:8], "-", "") + ".", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	res, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, src, dst, res)
}

func TestBadMapFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"header": "positions\n1 2\n",
		"token":  "doorstep position map v1\n1 x\n",
		"order":  "doorstep position map v1\n5 1.1\n4 1.2\n",
	} {
		p := filepath.Join(dir, name)
		if err := writeFile(p, body); err != nil {
			t.Fatal(err)
		}
		if _, err := copylog.ReadMapFile(p); err == nil {
			t.Errorf("%s: a bad map file was accepted", name)
		}
	}
}
