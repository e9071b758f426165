package command_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// TestConditionalCommands: a command with Cmd.Expect takes effect only at
// that version, atomically: of twenty racers expecting the same version
// exactly one wins and the others get ErrVersionMismatch without retrying;
// a stale expectation writes nothing; a resend still gets its result.
func TestConditionalCommands(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	v := e.household("h1").Version()
	expect := func(c command.Cmd, v uint64) command.Cmd { c.Expect = &v; return c }

	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := expect(cmd(t, fmt.Sprintf("cond-%d", i), "网格员小李", "2026-03-02 12:00"), v)
			_, errs[i] = e.svc.RecordVisit(ctx, c, "h1", visit(t, fmt.Sprintf("v%d", i), "2026-03-02 10:00"))
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, command.ErrVersionMismatch) && errors.Is(err, domain.ErrConflict):
		default:
			t.Fatalf("racer %d: %v, want success or ErrVersionMismatch", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d conditional racers won, want exactly 1", won)
	}
	if got := e.household("h1").Version(); got != v+1 {
		t.Fatalf("version %d after the race, want %d", got, v+1)
	}

	// A stale expectation writes nothing and says which version is current.
	_, err := e.svc.ChangeRisk(ctx, expect(cmd(t, "stale", "网格员小李", "2026-03-02 13:00"), v), "h1", domain.RiskRed, "独居")
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != "version_mismatch" || de.MessageZH == "" || !errors.Is(err, command.ErrVersionMismatch) {
		t.Fatalf("stale expectation: %v", err)
	}
	if got := e.household("h1").Version(); got != v+1 {
		t.Fatalf("a refused conditional command wrote: version %d", got)
	}

	// The right expectation works, and resending it later (stream moved on) replays.
	c := expect(cmd(t, "fresh", "网格员小李", "2026-03-02 13:00"), v+1)
	first, err := e.svc.ChangeRisk(ctx, c, "h1", domain.RiskRed, "独居")
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.ChangeRisk(ctx, c, "h1", domain.RiskRed, "独居")
	if err != nil || !again.Replayed || again.LastVersion != first.LastVersion {
		t.Fatalf("resent conditional command: %+v, %v", again, err)
	}
}
