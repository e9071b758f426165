package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
)

// The watcher folds subjects from the events the log delivers: the kept
// state stays equal to a fold of each whole stream while other writers
// append concurrently, after the watcher's own alerts, and after a
// subject was dropped and changed again.
func TestWatcherStateFollowsOtherWriters(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := newWatcher(t, env)
	check := func(want int) {
		t.Helper()
		if err := w.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := w.CheckState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n < want {
			t.Fatalf("%d subjects kept, want at least %d", n, want)
		}
	}
	check(0)

	// Sync while a town is being written by concurrent writers.
	done := make(chan error, 1)
	go func() {
		_, err := sim.Write(ctx, env.Store, sim.Config{Households: 30, Seed: 5, Communities: 3})
		done <- err
	}()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
			if err := w.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	check(30)

	// The watcher's own alerts reach the kept state through the log.
	if _, err := w.Fire(ctx, time.Date(2026, 12, 31, 0, 0, 0, 0, env.Loc)); err != nil {
		t.Fatal(err)
	}
	check(30)

	// A dropped subject that changes again is read in full.
	t0 := time.Date(2026, 4, 8, 10, 0, 0, 0, env.Loc)
	s := reportUrgent(t, env, "px", t0)
	check(31)
	w.Forget(s)
	p := domain.NewProblem("px")
	env.Load(t, s, p)
	m := testenv.Meta("w1", domain.RoleGridWorker, t0.Add(time.Hour))
	env.Do(t, s, m)(p.NoteProgress(m, env.Policies.Current(), "已上门处理", domain.FollowHomeVisit))
	check(31)
	if n, err := w.Fire(ctx, t0.Add(48*time.Hour)); err != nil || n != 0 {
		t.Errorf("a met deadline of a re-read subject: Fire = %d, %v", n, err)
	}
	if got := alerts(t, env, s); len(got) != 0 {
		t.Errorf("alerts %v", got)
	}
}
