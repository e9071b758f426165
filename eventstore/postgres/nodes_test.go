package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

// TestTwoNodesOnSharedStreams: two stores (two processes) append to the
// same few streams at once, some with Any, some read–decide–append with
// the exact version and retry on conflict. Each store's remembered stream
// heads go stale all the time; the hash chains must still verify, versions
// must be contiguous, and every acknowledged event must be stored once.
func TestTwoNodesOnSharedStreams(t *testing.T) {
	schema := newSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := mustOpen(t, postgres.Config{Schema: schema, Writers: 4})
	defer a.Close()
	b := mustOpen(t, postgres.Config{Schema: schema, Writers: 4})
	defer b.Close()
	nodes := []*postgres.Store{a, b}
	streams := []string{storetest.Stream("problem"), storetest.Stream("problem"), storetest.Stream("problem")}

	var mu sync.Mutex
	want := make(map[uuid.UUID]bool)
	conflicts := 0
	var wg sync.WaitGroup
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := nodes[g%2]
			for i := 0; i < 40; i++ {
				st := streams[(g+i)%len(streams)]
				batch := []eventstore.EventData{storetest.Event("problem.noted", i)}
				if i%5 == 0 {
					batch = append(batch, storetest.Event("problem.noted", -i))
				}
				var err error
				if g%3 == 0 {
					_, err = s.Append(ctx, st, eventstore.Any(), batch...)
				} else {
					for try := 0; ; try++ {
						var v uint64
						if v, err = s.StreamVersion(ctx, st); err != nil {
							break
						}
						_, err = s.Append(ctx, st, eventstore.Exact(v), batch...)
						if !errors.Is(err, eventstore.ErrConflict) || try > 50 {
							break
						}
						mu.Lock()
						conflicts++
						mu.Unlock()
					}
				}
				if err != nil {
					t.Errorf("goroutine %d: append to %s: %v", g, st, err)
					return
				}
				mu.Lock()
				for _, e := range batch {
					want[e.ID] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d events, %d conflicts retried", len(want), conflicts)
	for _, st := range streams {
		if err := eventstore.VerifyStream(ctx, a, st); err != nil {
			t.Fatalf("stream %s: %v", st, err)
		}
	}
	got := readAllEventually(t, b, len(want))
	checkOnceInOrder(t, "log", got, want)
	if n, err := eventstore.VerifyAll(ctx, b, nil); err != nil || n != len(want) {
		t.Fatalf("VerifyAll = %d, %v; want %d events", n, err, len(want))
	}
}
