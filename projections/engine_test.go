package projections_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
)

// seen records every event it applies with a plain INSERT keyed by
// position: applying an event twice fails on the primary key.
type seen struct {
	name   string
	failAt atomic.Int64 // fail the batch containing this event number (the Lo of its position); 0 = never
}

func (s *seen) Name() string     { return s.name }
func (s *seen) Tables() []string { return []string{s.name + "_rows"} }
func (s *seen) Schema() []string {
	return []string{`CREATE TABLE IF NOT EXISTS ` + s.name + `_rows (lo BIGINT PRIMARY KEY, stream TEXT NOT NULL, type TEXT NOT NULL)`}
}
func (s *seen) Apply(ctx context.Context, tx *projections.Tx, batch []projections.Envelope) error {
	for i := range batch {
		if err := tx.Exec(ctx, `INSERT INTO `+s.name+`_rows (lo, stream, type) VALUES (?, ?, ?)`, int64(batch[i].Position.Lo), batch[i].Stream, batch[i].Type); err != nil {
			return err
		}
		if f := s.failAt.Load(); f != 0 && int64(batch[i].Position.Lo) == f {
			return errors.New("injected failure")
		}
	}
	return nil
}

type fixture struct {
	s    *sqlite.Store
	path string // the events file
	db   *sql.DB
	d    projections.Dialect
}

// open returns an engine with projections "a" and "b" on a fresh store and
// read-model database (SQLite or PostgreSQL: see testenv).
func open(t *testing.T) (*sqlite.Store, *fixture, *projections.Engine, *seen, *seen) {
	t.Helper()
	ctx := context.Background()
	env := testenv.New(t)
	a, b := &seen{name: "a"}, &seen{name: "b"}
	e, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 100}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Init(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return env.Store, &fixture{env.Store, filepath.Join(env.Dir, "events.db"), env.DB, env.Dialect}, e, a, b
}

func appendN(t *testing.T, s eventstore.Store, n int) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for i := 0; i < n; i += 50 {
		var batch []eventstore.EventData
		for j := i; j < min(n, i+50); j++ {
			batch = append(batch, eventstore.EventData{ID: eventstore.NewID(), Type: "test.happened", Data: []byte(fmt.Sprintf(`{"i":%d}`, j))})
		}
		res, err := s.Append(context.Background(), fmt.Sprintf("test-%d", i%7), eventstore.Any(), batch...)
		if err != nil {
			t.Fatal(err)
		}
		last = res.LastPosition
	}
	return last
}

func count(t *testing.T, e *projections.Engine, name string) (eventstore.Position, int64) {
	t.Helper()
	pos, n, err := e.Checkpoint(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return pos, n
}

func TestCatchUpBatchesAndCheckpoints(t *testing.T) {
	ctx := context.Background()
	s, _, e, _, _ := open(t)
	head := appendN(t, s, 250)
	if lag, err := e.Lag(ctx, "a"); err != nil || lag != 250 {
		t.Fatalf("lag before catch-up = %d, %v; want 250", lag, err)
	}
	n, err := e.CatchUp(ctx, nil)
	if err != nil || n != 250 {
		t.Fatalf("CatchUp = %d, %v", n, err)
	}
	for _, name := range []string{"a", "b"} {
		if pos, cnt := count(t, e, name); pos != head || cnt != 250 {
			t.Errorf("%s: checkpoint %s count %d, want %s 250", name, pos, cnt, head)
		}
		if lag, _ := e.Lag(ctx, name); lag != 0 {
			t.Errorf("%s: lag %d after catch-up", name, lag)
		}
	}
	appendN(t, s, 30)
	if lag, _ := e.Lag(ctx, "b"); lag != 30 {
		t.Errorf("lag = %d, want 30", lag)
	}
	if n, err := e.CatchUp(ctx, nil); err != nil || n != 30 {
		t.Fatalf("second CatchUp = %d, %v", n, err)
	}
	if _, err := e.Lag(ctx, "nope"); !errors.Is(err, projections.ErrUnknownProjection) {
		t.Errorf("unknown projection: %v", err)
	}
}

// A failing batch rolls back every projection's rows and checkpoint; the
// retry applies each event exactly once (a repeat would break the primary key).
func TestFailedBatchRollsBack(t *testing.T) {
	ctx := context.Background()
	s, _, e, a, _ := open(t)
	head := appendN(t, s, 250)
	a.failAt.Store(150) // in the second batch of 100
	if _, err := e.CatchUp(ctx, nil); err == nil {
		t.Fatal("CatchUp ignored the failure")
	}
	for _, name := range []string{"a", "b"} {
		pos, n := count(t, e, name)
		if pos.Lo != 100 || n != 100 {
			t.Errorf("%s after failure: checkpoint %s count %d, want 100 100", name, pos, n)
		}
	}
	a.failAt.Store(0)
	if _, err := e.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if pos, n := count(t, e, "a"); pos != head || n != 250 {
		t.Errorf("after retry: %s %d", pos, n)
	}
}

func TestWaitForAndRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _, e, _, _ := open(t)
	pos := appendN(t, s, 10)

	short, c2 := context.WithTimeout(ctx, 100*time.Millisecond)
	err := e.WaitFor(short, "a", pos)
	c2()
	var we *projections.WaitError
	if !errors.Is(err, projections.ErrWaitTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &we) || we.Want != pos {
		t.Fatalf("WaitFor without a runner = %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	wctx, c3 := context.WithTimeout(ctx, 10*time.Second)
	defer c3()
	if err := e.WaitFor(wctx, "a", pos); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		p := appendN(t, s, 3)
		if err := e.WaitFor(wctx, "b", p); err != nil {
			t.Fatalf("read-your-writes %d: %v", i, err)
		}
		if cp, _ := count(t, e, "b"); cp.Before(p) {
			t.Fatalf("WaitFor returned before the checkpoint reached %s (at %s)", p, cp)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
}

func TestRebuildProgress(t *testing.T) {
	ctx := context.Background()
	s, fx, e, _, _ := open(t)
	appendN(t, s, 420)
	if _, err := e.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	counter, closeCounter, err := projections.SQLiteCounter(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeCounter()
	before, err := projections.Dump(ctx, fx.db, "a_rows", "b_rows", "projection_checkpoints")
	if err != nil {
		t.Fatal(err)
	}
	// A second engine on the same database with a counter: rebuild "a" only.
	e2, err := projections.New(projections.Config{DB: fx.db, Dialect: fx.d, Store: s, Counter: counter}, &seen{name: "a"}, &seen{name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Init(ctx); err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if lag, err := e2.Lag(ctx, "a"); err != nil || lag != 0 {
		t.Fatalf("lag with a counter: %d %v", lag, err)
	}
	var ps []projections.Progress
	n, err := e2.Rebuild(ctx, 64, func(p projections.Progress) { ps = append(ps, p) }, "a")
	if err != nil || n != 420 {
		t.Fatalf("Rebuild = %d, %v", n, err)
	}
	if len(ps) != 7 {
		t.Fatalf("%d progress reports for 420 events in batches of 64", len(ps))
	}
	for i, p := range ps {
		if p.Total != 420 || p.Count != int64(min(420, 64*(i+1))) || p.Remaining < 0 || p.Rate <= 0 {
			t.Errorf("progress %d: %+v", i, p)
		}
		if i > 0 && !ps[i-1].Position.Before(p.Position) {
			t.Errorf("progress positions not increasing at %d", i)
		}
	}
	if last := ps[len(ps)-1]; last.Remaining != 0 {
		t.Errorf("time left at the end: %v", last.Remaining)
	}
	after, err := projections.Dump(ctx, fx.db, "a_rows", "b_rows", "projection_checkpoints")
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("rebuild changed the read model:\n%s\n---\n%s", before[:min(400, len(before))], after[:min(400, len(after))])
	}
}

func TestPostgresRebind(t *testing.T) {
	got := projections.Postgres.Rebind(`SELECT a FROM t WHERE b = ? AND c LIKE '?%' AND d IN (?, ?)`)
	want := `SELECT a FROM t WHERE b = $1 AND c LIKE '?%' AND d IN ($2, $3)`
	if got != want {
		t.Errorf("Rebind = %s", got)
	}
	if q := "SELECT ?"; projections.SQLite.Rebind(q) != q {
		t.Error("SQLite rebind changed the query")
	}
}

// endingStore is a real store whose live subscription delivers one page of
// events and then ends with an error, as a subscription does when the
// database goes away (PostgreSQL restarting).
type endingStore struct {
	eventstore.Store
}

var errGone = errors.New("injected: the server went away")

type onePageThenGone struct {
	s     eventstore.Store
	calls atomic.Int32
}

func (r *onePageThenGone) ReadAll(ctx context.Context, _ eventstore.Position, limit int) ([]eventstore.Event, error) {
	if r.calls.Add(1) > 1 {
		return nil, errGone
	}
	return r.s.ReadAll(ctx, eventstore.Position{}, limit)
}

func (s endingStore) Subscribe(ctx context.Context, after eventstore.Position, f eventstore.Filter) (*eventstore.Subscription, error) {
	woken := make(chan struct{})
	close(woken)
	sub := eventstore.Follow(ctx, &onePageThenGone{s: s.Store}, func() <-chan struct{} { return woken }, after, f, eventstore.FollowOptions{})
	// Hand the subscription over only once it has ended: its channel then
	// holds the page and is closed.
	for sub.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	return sub, nil
}

// TestRunEndsWhenSubscriptionEnds: when the live subscription ends with an
// error right after delivering events, Run returns that error (so that its
// supervisor can restart it) instead of spinning on the closed channel.
func TestRunEndsWhenSubscriptionEnds(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	appendN(t, env.Store, 5)
	a := &seen{name: "a"}
	e, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: endingStore{env.Store}, BatchSize: 100}, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Init(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, errGone) {
			t.Fatalf("Run returned %v, want the subscription's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its subscription ended (spinning on the closed channel?)")
	}
	if _, n := count(t, e, "a"); n != 5 {
		t.Fatalf("projection a applied %d events before the subscription ended, want 5", n)
	}
}
