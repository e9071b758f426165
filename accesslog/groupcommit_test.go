package accesslog

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A group's write runs under the callers' contexts: it goes on while one
// caller still waits, and is cancelled once every caller has stopped
// waiting.
func TestGroupCommitWriteFollowsItsCallers(t *testing.T) {
	started := make(chan context.Context, 1)
	release := make(chan struct{})
	g := &groupCommit[int]{write: func(ctx context.Context, _ []int) error {
		started <- ctx
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	// The first record is written alone; two more queue behind it and form
	// the next group.
	first := make(chan error, 1)
	go func() { first <- g.add(context.Background(), 0) }()
	<-started
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- g.add(ctxA, 1) }()
	go func() { errB <- g.add(ctxB, 2) }()
	for {
		g.mu.Lock()
		n := len(g.pending)
		g.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	group := <-started
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller that stopped waiting: %v", err)
	}
	select {
	case <-group.Done():
		t.Fatal("the group's write was cancelled while a caller still waited")
	case <-time.After(50 * time.Millisecond):
	}
	cancelB()
	select {
	case <-group.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the group's write went on after every caller stopped waiting")
	}
	if err := <-errB; !errors.Is(err, context.Canceled) {
		t.Fatalf("the last caller: %v", err)
	}
}
