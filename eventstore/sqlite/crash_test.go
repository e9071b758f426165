package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/eventstore/storetest"
)

// crashChildEnv, when set to a database path, turns the test binary into the
// crash test's child: it appends until killed and prints "ack <id>" for
// every event whose append returned success.
const crashChildEnv = "DOORSTEP_CRASH_CHILD_DB"

// crashChildPatience bounds the wait for a child's first acknowledgement.
// It is a safety net against a hung child, not a speed requirement: a
// loaded machine may take seconds to start a race-instrumented binary.
const crashChildPatience = 2 * time.Minute

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

func crashChild(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(batch []eventstore.EventData) {
		var b strings.Builder
		for _, e := range batch {
			b.WriteString("ack " + e.ID.String() + "\n")
		}
		mu.Lock()
		defer mu.Unlock()
		// One write per append: a kill can only cut the last line short.
		if _, err := io.WriteString(os.Stdout, b.String()); err != nil {
			os.Exit(3)
		}
	}
	fmt.Println("ready")
	for w := 0; w < 8; w++ {
		go func() {
			stream := storetest.Stream("household")
			var version uint64
			for i := 0; ; i++ {
				batch := []eventstore.EventData{storetest.Event("visit.recorded", map[string]any{"i": i, "note": "入户走访"})}
				if i%7 == 0 {
					batch = append(batch, storetest.Event("problem.reported", i), storetest.Event("problem.assigned", i))
				}
				res, err := s.Append(ctx, stream, eventstore.Exact(version), batch...)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child: append:", err)
					os.Exit(4)
				}
				version = res.LastVersion
				ack(batch)
			}
		}()
	}
	select {}
}

// TestCrashKill9 kills a writing child process with SIGKILL at random
// moments and checks, after every kill, that the store opens, that every
// acknowledged event is there exactly once and that every chain verifies.
func TestCrashKill9(t *testing.T) {
	const kills = 24
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := make(map[uuid.UUID]bool)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	totalStored := 0
	for k := 0; k < kills; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child did not start: %q %v; stderr: %s", k, line, err, stderr.String())
		}
		lines := make(chan []uuid.UUID, 1)
		firstAck := make(chan struct{})
		go func() {
			var ids []uuid.UUID
			for {
				line, err := r.ReadString('\n')
				if err != nil { // EOF after the kill; a cut-off last line is not an ack
					lines <- ids
					return
				}
				id, perr := uuid.Parse(strings.TrimSuffix(strings.TrimPrefix(line, "ack "), "\n"))
				if perr != nil {
					t.Errorf("kill %d: child printed %q", k, line)
					continue
				}
				ids = append(ids, id)
				if len(ids) == 1 {
					close(firstAck)
				}
			}
		}()
		// Kill only a child that is writing: wait for its first
		// acknowledged append (however long a loaded machine takes to
		// get there), then a random moment more, so that the kill lands
		// anywhere in the append cycle.
		select {
		case <-firstAck:
		case ids := <-lines:
			cmd.Wait()
			t.Fatalf("kill %d: child stopped before acknowledging anything (%d acks); stderr: %s", k, len(ids), stderr.String())
		case <-time.After(crashChildPatience):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child acknowledged nothing in %v; stderr: %s", k, crashChildPatience, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		ids := <-lines
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended by %v, not by SIGKILL; stderr: %s", k, err, stderr.String())
		}
		if len(ids) == 0 {
			t.Fatalf("kill %d: child acknowledged nothing before the kill; stderr: %s", k, stderr.String())
		}
		for _, id := range ids {
			if acked[id] {
				t.Fatalf("kill %d: event %s acknowledged twice", k, id)
			}
			acked[id] = true
		}

		s := mustOpen(t, path)
		ctx := context.Background()
		n, err := eventstore.VerifyAll(ctx, s, nil)
		if err != nil {
			t.Fatalf("kill %d: verify: %v", k, err)
		}
		seen := make(map[uuid.UUID]int, n)
		var after eventstore.Position
		for {
			page, err := s.ReadAll(ctx, after, 5000)
			if err != nil {
				t.Fatalf("kill %d: read: %v", k, err)
			}
			for _, e := range page {
				seen[e.ID]++
			}
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1].Position
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("kill %d: event %s stored %d times", k, id, c)
			}
		}
		for id := range acked {
			if seen[id] != 1 {
				t.Fatalf("kill %d: acknowledged event %s lost", k, id)
			}
		}
		if len(seen) < len(acked) {
			t.Fatalf("kill %d: %d stored < %d acknowledged", k, len(seen), len(acked))
		}
		totalStored = len(seen)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills: %d events acknowledged, %d stored (the difference were committed but not yet acknowledged when killed), none lost or duplicated", kills, len(acked), totalStored)
}
