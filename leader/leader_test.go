package leader_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/internal/syncbuf"
	"github.com/doorstep/doorstep/leader"
)

// childEnv, when set to a role name, makes the test binary a competing
// process: it prints "lead" when it takes the role and "tick" every 50 ms
// while it holds it.
const childEnv = "DOORSTEP_CLUSTER_CHILD_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		var mu sync.Mutex
		say := func(s string) { mu.Lock(); fmt.Println(s); mu.Unlock() }
		say("ready")
		err := leader.Run(context.Background(), leader.Config{ConnString: pgtest.SharedURL(), Name: role, Retry: 200 * time.Millisecond, Check: 200 * time.Millisecond},
			func(ctx context.Context) error {
				say("lead")
				t := time.NewTicker(50 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						say("lost")
						return ctx.Err()
					case <-t.C:
						say("tick")
					}
				}
			})
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// mustReachPostgres fails the test (never skips) when PostgreSQL is down.
func mustReachPostgres(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.SharedURL())
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s: %v\nstart it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or run ./scripts/test, which does)", pgtest.SharedURL(), err)
	}
	conn.Close(ctx)
}

type line struct {
	child int
	text  string
	at    time.Time
}

// TestFailoverWithRealProcesses starts three competing processes, checks
// that exactly one leads, kills the leader with SIGKILL twice and checks
// that another takes over within 10 seconds each time.
func TestFailoverWithRealProcesses(t *testing.T) {
	mustReachPostgres(t)
	role := fmt.Sprintf("test-failover-%d", time.Now().UnixNano())
	lines := make(chan line, 10000)
	var cmds []*exec.Cmd
	var eof []chan struct{} // closed when a child's output has been read to its end
	for i := 0; i < 3; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+role)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		done := make(chan struct{})
		eof = append(eof, done)
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- line{i, sc.Text(), time.Now()}
			}
		}()
	}
	t.Cleanup(func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	})
	alive := map[int]bool{0: true, 1: true, 2: true}
	// waitLeader waits for a live process to print "lead" and fails after
	// within, counted from since.
	waitLeader := func(since time.Time, within time.Duration) (int, time.Duration) {
		deadline := time.After(time.Until(since.Add(within)))
		for {
			select {
			case l := <-lines:
				if l.text == "lead" && alive[l.child] {
					return l.child, l.at.Sub(since)
				}
			case <-deadline:
				t.Fatalf("no process took the role within %v", within)
			}
		}
	}
	// observe waits for the leader's next n ticks (about 50 ms apart)
	// and checks that meanwhile no other live process ticks or takes the
	// role. A killed process's last lines may still be in the channel:
	// they were printed before the kill and prove nothing.
	const n = 30
	observe := func(leader int) {
		safety := time.After(2 * time.Minute) // a hung leader, not a slow one
		for ticks := 0; ticks < n; {
			select {
			case l := <-lines:
				switch {
				case !alive[l.child]:
				case l.text == "tick" && l.child != leader:
					t.Fatalf("process %d ticks while process %d leads", l.child, leader)
				case l.text == "lead" && l.child != leader:
					t.Fatalf("process %d took the role while process %d holds it", l.child, leader)
				case l.text == "tick":
					ticks++
				}
			case <-safety:
				t.Fatalf("leader %d ticked only %d times in 2 minutes", leader, ticks)
			}
		}
	}
	// The first leader: the processes have to start first, which on a
	// loaded machine takes a while; that wait is a safety net only.
	leader, _ := waitLeader(time.Now(), 2*time.Minute)
	observe(leader)
	for kill := 0; kill < 2; kill++ {
		killed := time.Now()
		if err := cmds[leader].Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		alive[leader] = false
		<-eof[leader] // read its output to the end before Wait closes the pipe
		cmds[leader].Wait()
		next, took := waitLeader(killed, 10*time.Second)
		t.Logf("kill %d: process %d took over %s after process %d was killed", kill+1, next, took.Round(time.Millisecond), leader)
		leader = next
		observe(leader)
	}
}

// TestSessionLossStopsTheTask terminates the leader's PostgreSQL session
// behind its back: the task's context must be cancelled, and the role must
// be taken again.
func TestSessionLossStopsTheTask(t *testing.T) {
	mustReachPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	role := fmt.Sprintf("test-session-%d", time.Now().UnixNano())
	type event struct {
		node int
		what string
	}
	events := make(chan event, 100)
	cfg := leader.Config{ConnString: pgtest.SharedURL(), Name: role, Retry: 100 * time.Millisecond, Check: 100 * time.Millisecond}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leader.Run(ctx, cfg, func(lctx context.Context) error {
				events <- event{i, "lead"}
				<-lctx.Done()
				events <- event{i, "stopped"}
				return lctx.Err()
			})
		}()
	}
	next := func() event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no election event within 10 s")
		}
		return event{}
	}
	first := next()
	if first.what != "lead" {
		t.Fatalf("first event %+v, want a node leading", first)
	}
	conn, err := pgx.Connect(ctx, pgtest.SharedURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	key := leader.LockKey(role)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1`, key).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminate the leader's session: %d sessions, %v", n, err)
	}
	// The leader that lost its session stops its task, and a node (either)
	// leads again. Which comes first depends on the schedulers: the other
	// node may take the free lock before the old leader's next session
	// check, so the test does not assume an order between nodes.
	stopped, led := false, false
	for !stopped || !led {
		e := next()
		switch {
		case e.what == "stopped" && e.node == first.node && !stopped:
			stopped = true
		case e.what == "lead" && (e.node != first.node || stopped):
			led = true
		default:
			t.Fatalf("unexpected %+v (old leader %d stopped: %v)", e, first.node, stopped)
		}
	}
	cancel()
	wg.Wait()
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []leader.Config{{}, {ConnString: "postgres://x"}, {Name: "x"}, {ConnString: "postgres://x", Name: "x", Retry: -1}} {
		if err := leader.Run(context.Background(), c, nil); err == nil || !strings.HasPrefix(err.Error(), "leader: ") {
			t.Errorf("Run(%+v) = %v, want a configuration error", c, err)
		}
	}
}

// TestStuckTaskIsLogged: a task that does not return when its session is
// lost keeps the process from competing again; the log says so until it
// returns, and afterwards the process leads again.
func TestStuckTaskIsLogged(t *testing.T) {
	mustReachPostgres(t)
	defer leader.SetStopWarning(100 * time.Millisecond)()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	role := fmt.Sprintf("test-stuck-%d", time.Now().UnixNano())
	var logb syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logb, nil))
	cfg := leader.Config{ConnString: pgtest.SharedURL(), Name: role, Retry: 100 * time.Millisecond, Check: 100 * time.Millisecond, Logger: log}
	release := make(chan struct{})
	terms := make(chan int, 10)
	var term int
	done := make(chan struct{})
	go func() {
		defer close(done)
		leader.Run(ctx, cfg, func(lctx context.Context) error {
			term++
			terms <- term
			if term == 1 {
				<-release // ignores lctx
			} else {
				<-lctx.Done()
			}
			return lctx.Err()
		})
	}()
	if got := <-terms; got != 1 {
		t.Fatalf("first term %d", got)
	}
	conn, err := pgx.Connect(ctx, pgtest.SharedURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1`, leader.LockKey(role)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate the leader's session: %d sessions, %v", n, err)
	}
	const msg = "the task has not stopped since its context was cancelled"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logb.String(), msg) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the stuck task in the log:\n%s", logb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case got := <-terms:
		t.Fatalf("term %d started while the first task was still running", got)
	default:
	}
	close(release)
	select {
	case got := <-terms:
		if got != 2 {
			t.Fatalf("second term %d", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not lead again after the stuck task returned")
	}
	cancel()
	<-done
}
