package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestSeveralNodesElectOneWatcher starts three `doorstep serve` processes on
// one PostgreSQL schema: exactly one runs the deadline watcher; when it is
// killed with SIGKILL another takes over within 10 seconds, twice.
func TestSeveralNodesElectOneWatcher(t *testing.T) {
	pg := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	if u := os.Getenv("DOORSTEP_TEST_POSTGRES"); u != "" {
		pg = u
	}
	schema := fmt.Sprintf("nodes_%d", time.Now().UnixNano())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatalf("PostgreSQL is needed at %s: %v (./scripts/test starts it)", pg, err)
	}
	defer conn.Close(ctx)
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })

	const runs = "this node runs it"
	var nodes []*proc
	for i := 0; i < 3; i++ {
		nodes = append(nodes, start(t, t.TempDir(), "-store", pg, "-store-schema", schema))
	}
	leaders := func(alive map[int]bool) []int {
		var out []int
		for i, n := range nodes {
			if alive[i] && strings.Contains(n.errb.String(), runs) {
				out = append(out, i)
			}
		}
		return out
	}
	alive := map[int]bool{0: true, 1: true, 2: true}
	waitLeader := func(since time.Time) int {
		for time.Since(since) < 10*time.Second {
			if l := leaders(alive); len(l) == 1 {
				return l[0]
			} else if len(l) > 1 {
				t.Fatalf("nodes %v all run the deadline watcher", l)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no node took over the deadline watcher within 10 s")
		return -1
	}
	leader := waitLeader(time.Now())
	time.Sleep(1500 * time.Millisecond) // the others keep competing and must not win
	if l := leaders(alive); len(l) != 1 {
		t.Fatalf("nodes %v run the deadline watcher", l)
	}
	for kill := 1; kill <= 2; kill++ {
		killed := time.Now()
		if err := nodes[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = nodes[leader].cmd.Wait()
		alive[leader] = false
		next := waitLeader(killed)
		t.Logf("kill %d: node %d took over the deadline watcher %s after node %d was killed", kill, next, time.Since(killed).Round(time.Millisecond), leader)
		leader = next
	}
	// The survivor still serves.
	nodes[leader].must(200, "GET", "/v1/whoami", nodes[leader].token, nil) // tokens are per data directory
	nodes[leader].stop()
}
