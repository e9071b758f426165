package projections_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/syncbuf"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
)

// TestRunRetriesAfterDiskFull is issue 13's item 4: the read-model
// database refuses writes as a full disk does (SQLite's max_page_count
// makes every write that needs a new page fail with "database or disk is
// full"); Run keeps going, reports the stall, never moves a checkpoint
// past what was committed, and catches up once space is freed.
func TestRunRetriesAfterDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := projections.OpenSQLite(ctx, filepath.Join(dir, "readmodels.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var logs syncbuf.Buffer
	a := &seen{name: "a"}
	e, err := projections.New(projections.Config{DB: db, Store: st, BatchSize: 100, RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Init(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	first := appendN(t, st, 50)
	if err := e.WaitFor(ctx, "a", first); err != nil {
		t.Fatal(err)
	}

	// The disk fills up: no page may be added to the read-model database.
	testenv.FillSQLite(t, db, true)
	head := appendN(t, st, 3000)
	for e.Retries() < 3 {
		select {
		case err := <-done:
			t.Fatalf("Run stopped on a full disk: %v", err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	stall := e.Stalled()
	var se *projections.StalledError
	if !errors.As(stall, &se) || !strings.Contains(stall.Error(), "full") || !strings.Contains(stall.Error(), "读模型") {
		t.Fatalf("Stalled() = %v, want a *StalledError naming the full disk in English and Chinese", stall)
	}
	if pos, n := count(t, e, "a"); pos.Before(first) || !pos.Before(head) || n < 50 {
		t.Fatalf("checkpoint while stalled %s (%d events), want from %s and before %s", pos, n, first, head)
	}
	var rows int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM a_rows`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if _, n := count(t, e, "a"); rows != n {
		t.Fatalf("%d rows committed but the checkpoint counts %d events", rows, n)
	}
	short, c := context.WithTimeout(ctx, 50*time.Millisecond)
	err = e.WaitFor(short, "a", head)
	c()
	if !errors.Is(err, projections.ErrWaitTimeout) {
		t.Fatalf("WaitFor while stalled = %v, want a timeout", err)
	}
	if l := logs.String(); !strings.Contains(l, "catching up failed") || !strings.Contains(l, "full") || !strings.Contains(l, "retry_in") {
		t.Fatalf("the log does not say what failed and that it retries:\n%s", l)
	}

	// Space is freed: the same Run catches up and the stall clears.
	testenv.FillSQLite(t, db, false)
	if err := e.WaitFor(ctx, "a", head); err != nil {
		t.Fatalf("after space was freed: %v (stalled: %v)", err, e.Stalled())
	}
	if pos, n := count(t, e, "a"); pos != head || n != 3050 {
		t.Fatalf("after recovery: checkpoint %s, %d events; want %s, 3050", pos, n, head)
	}
	for e.Stalled() != nil {
		select {
		case err := <-done:
			t.Fatalf("Run stopped: %v", err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	if l := logs.String(); !strings.Contains(l, "caught up again") {
		t.Fatalf("no recovery line in the log:\n%s", l)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
}
