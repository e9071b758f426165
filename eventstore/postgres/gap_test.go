package postgres_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

// TestLaterCommitWaitsForEarlierTransaction shows the hazard and the cure
// step by step: transaction A takes its id and inserts, transaction B
// (a later id) commits first. B's row is committed, yet ReadAll must not
// return it while A is open, because A's event will take the lower
// position; once A commits, both appear, A first.
func TestLaterCommitWaitsForEarlierTransaction(t *testing.T) {
	schema := newSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var armed atomic.Bool
	reached, release := make(chan struct{}), make(chan struct{})
	a := mustOpen(t, postgres.WithBeforeCommit(postgres.Config{Schema: schema, Writers: 1}, func() {
		if armed.CompareAndSwap(true, false) {
			close(reached)
			<-release
		}
	}))
	defer a.Close()
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo() // runs before a.Close, so a failing test never leaves A's writer blocked
	b := mustOpen(t, postgres.Config{Schema: schema, Writers: 1, PollInterval: 10 * time.Millisecond})
	defer b.Close()
	sub, err := b.Subscribe(ctx, eventstore.Position{}, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	armed.Store(true)
	evA, evB := storetest.Event("household.note", "A"), storetest.Event("household.note", "B")
	type result struct {
		res eventstore.AppendResult
		err error
	}
	doneA := make(chan result, 1)
	go func() {
		res, err := a.Append(ctx, storetest.Stream("household"), eventstore.NoStream(), evA)
		doneA <- result{res, err}
	}()
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("transaction A never reached its commit")
	}
	doneB := make(chan result, 1)
	go func() {
		res, err := b.Append(ctx, storetest.Stream("household"), eventstore.NoStream(), evB)
		doneB <- result{res, err}
	}()

	// B's row gets committed and a plain query sees it …
	table := pgx.Identifier{schema, "events"}.Sanitize()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var visible int
		if err := b.Pool().QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&visible); err != nil {
			t.Fatal(err)
		}
		if visible == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a plain query sees %d committed rows, want B's one", visible)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// … but the log must not show it yet: A will land before it.
	if evs, err := b.ReadAll(ctx, eventstore.Position{}, 10); err != nil || len(evs) != 0 {
		t.Fatalf("ReadAll while A is open = %d events, %v; want none", len(evs), err)
	}
	if head, err := b.Head(ctx); err != nil || !head.IsZero() {
		t.Fatalf("Head while A is open = %v, %v; want the start", head, err)
	}
	select {
	case e := <-sub.C:
		t.Fatalf("subscription delivered %s while an earlier transaction was open", e.ID)
	case <-time.After(200 * time.Millisecond):
	}
	// B's Append waits until its event is readable (read-your-writes on
	// the log), which A's open transaction prevents.
	select {
	case rb := <-doneB:
		t.Fatalf("B's append returned (%+v, %v) before its event was readable", rb.res, rb.err)
	default:
	}

	letGo()
	ra, rb := <-doneA, <-doneB
	if ra.err != nil || rb.err != nil {
		t.Fatalf("append A: %v; append B: %v", ra.err, rb.err)
	}
	resB := rb.res
	if !ra.res.LastPosition.Before(resB.FirstPosition) {
		t.Fatalf("A at %v is not before B at %v: the test did not set up the hazard", ra.res.LastPosition, resB.FirstPosition)
	}
	got := collectN(t, sub, 2, 30*time.Second)
	if got[0].ID != evA.ID || got[1].ID != evB.ID {
		t.Fatalf("subscription delivered %s, %s; want A then B", got[0].ID, got[1].ID)
	}
	evs, err := b.ReadAll(ctx, eventstore.Position{}, 10)
	if err != nil || len(evs) != 2 || evs[0].ID != evA.ID || evs[1].ID != evB.ID {
		t.Fatalf("ReadAll after A committed = %v, %v; want A then B", evs, err)
	}
}

// TestNoGapsUnderConcurrency: 32 writers on two stores (two nodes) append
// while every transaction sleeps a random moment between its INSERT and its
// COMMIT, so transactions commit out of id order all the time. A subscriber
// on each node, and a reader paging through ReadAll with a tiny page, must
// each see every event exactly once in strictly increasing position order.
// Checked after every round, over many rounds.
func TestNoGapsUnderConcurrency(t *testing.T) {
	schema := newSchema(t)
	// A safety net against a hang, not a speed requirement: the run takes
	// some 20 s with the race detector on a busy two-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	jitter := func() { time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) }
	var nodes [2]*postgres.Store
	for i := range nodes {
		nodes[i] = mustOpen(t, postgres.WithBeforeCommit(postgres.Config{Schema: schema, Writers: 16, PollInterval: 5 * time.Millisecond}, jitter))
		defer nodes[i].Close()
	}

	// The readers: two subscriptions and one ReadAll pager.
	type reader struct {
		name string
		mu   sync.Mutex
		got  []eventstore.Event
	}
	readers := []*reader{{name: "subscriber on node 0"}, {name: "subscriber on node 1"}, {name: "ReadAll pager"}}
	var rwg sync.WaitGroup
	var subs []*eventstore.Subscription
	for i := 0; i < 2; i++ {
		sub, err := nodes[i].Subscribe(ctx, eventstore.Position{}, eventstore.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs = append(subs, sub)
		rd := readers[i]
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for e := range sub.C {
				rd.mu.Lock()
				rd.got = append(rd.got, e)
				rd.mu.Unlock()
			}
		}()
	}
	stopPager := make(chan struct{})
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		var after eventstore.Position
		rd := readers[2]
		for {
			page, err := nodes[0].ReadAll(ctx, after, 5)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("pager: %v", err)
				}
				return
			}
			if len(page) > 0 {
				after = page[len(page)-1].Position
				rd.mu.Lock()
				rd.got = append(rd.got, page...)
				rd.mu.Unlock()
				continue
			}
			select {
			case <-stopPager:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	const writers, rounds, perRound = 32, 25, 12
	want := make(map[uuid.UUID]bool)
	type ack struct {
		at  time.Time
		pos eventstore.Position
	}
	var acks []ack
	var mu sync.Mutex
	streams := make([]string, writers)
	versions := make([]uint64, writers)
	for w := range streams {
		streams[w] = storetest.Stream("household")
	}
	start := time.Now()
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := nodes[w%2]
				for i := 0; i < perRound; i++ {
					batch := []eventstore.EventData{storetest.Event("visit.recorded", i)}
					if rand.IntN(4) == 0 {
						batch = append(batch, storetest.Event("visit.recorded", -i))
					}
					res, err := s.Append(ctx, streams[w], eventstore.Exact(versions[w]), batch...)
					if err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
					versions[w] = res.LastVersion
					mu.Lock()
					for _, e := range batch {
						want[e.ID] = true
					}
					acks = append(acks, ack{time.Now(), res.LastPosition})
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		// Every reader must now reach every event written so far (the
		// limit is a safety net; a reader still short then shows a gap).
		deadline := time.Now().Add(time.Minute)
		for _, rd := range readers {
			for {
				rd.mu.Lock()
				n := len(rd.got)
				rd.mu.Unlock()
				if n >= len(want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			rd.mu.Lock()
			checkOnceInOrder(t, rd.name, rd.got, want)
			rd.mu.Unlock()
			if t.Failed() {
				t.Fatalf("round %d", round)
			}
		}
	}
	close(stopPager)
	elapsed := time.Since(start)
	for _, sub := range subs {
		sub.Close()
	}
	rwg.Wait()

	// The run must really have committed out of position order, or it
	// proved nothing: count appends acknowledged after an append holding a
	// later position.
	inversions := 0
	var latest eventstore.Position
	for i := range acks {
		if acks[i].pos.Before(latest) {
			inversions++
		}
		if latest.Before(acks[i].pos) {
			latest = acks[i].pos
		}
	}
	t.Logf("%d events by %d writers in %d rounds in %v; %d of %d appends were acknowledged after one with a later position",
		len(want), writers, rounds, elapsed.Round(time.Millisecond), inversions, len(acks))
	if inversions == 0 {
		t.Fatal("no append finished out of position order: the test did not exercise concurrent commits")
	}
}

// checkOnceInOrder asserts that got holds exactly the ids of want, once
// each, in strictly increasing position order.
func checkOnceInOrder(t *testing.T, name string, got []eventstore.Event, want map[uuid.UUID]bool) {
	t.Helper()
	seen := make(map[uuid.UUID]bool, len(got))
	for i := range got {
		if i > 0 && !got[i-1].Position.Before(got[i].Position) {
			t.Errorf("%s: positions out of order at %d: %v then %v", name, i, got[i-1].Position, got[i].Position)
			return
		}
		if seen[got[i].ID] {
			t.Errorf("%s: event %s delivered twice", name, got[i].ID)
			return
		}
		seen[got[i].ID] = true
		if !want[got[i].ID] {
			t.Errorf("%s: event %s at %v was not acknowledged to any writer", name, got[i].ID, got[i].Position)
			return
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%s: %d of %d events delivered: a gap", name, len(seen), len(want))
	}
}

func collectN(t *testing.T, sub *eventstore.Subscription, n int, timeout time.Duration) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("subscription delivered %d of %d events in %v", len(out), n, timeout)
		}
	}
	return out
}

// TestForeignOpenTransaction: a transaction left open by another client
// of the server holds the log back, but Append waits for it only up to
// VisibilityWait; the event appears once that transaction ends.
func TestForeignOpenTransaction(t *testing.T) {
	schema := newSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := mustOpen(t, postgres.Config{Schema: schema, VisibilityWait: 300 * time.Millisecond})
	defer s.Close()

	other, err := pgx.Connect(ctx, testURL())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // ended below
	var foreign uint64
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()`).Scan(&foreign); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	res := storetest.MustAppend(t, s, storetest.Stream("household"), eventstore.NoStream(), storetest.Event("household.note", 1))
	took := time.Since(start)
	if res.LastPosition.Hi <= foreign {
		t.Fatalf("append landed at %v, not after the open transaction %d", res.LastPosition, foreign)
	}
	if took < 250*time.Millisecond || took > 5*time.Second {
		t.Fatalf("Append took %v; want about VisibilityWait (300ms): it must wait for the older transaction, but not for ever", took)
	}
	if evs, err := s.ReadAll(ctx, eventstore.Position{}, 10); err != nil || len(evs) != 0 {
		t.Fatalf("ReadAll while an older transaction is open = %d events, %v; want none", len(evs), err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readAllEventually(t, s, 1); len(got) != 1 || got[0].Position != res.LastPosition {
		t.Fatalf("after the older transaction ended, ReadAll = %v; want the event at %v", got, res.LastPosition)
	}
}
