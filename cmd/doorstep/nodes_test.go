package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
)

// TestSeveralNodes starts three `doorstep serve` processes on one
// PostgreSQL schema. Exactly one of them runs the projections and the
// deadline watcher; every node accepts commands and answers queries from
// the shared read models with the same tokens. While commands keep coming
// through all nodes, the running one is killed with SIGKILL, twice: another
// takes over within 10 seconds each time, and at the end every acknowledged
// command is in the log once and every event was applied to the read models
// exactly once.
func TestSeveralNodes(t *testing.T) {
	pg, conn, schema := sharedSchema(t, "nodes")
	ctx := context.Background()

	const runs = "this node runs them"
	var nodes []*proc
	for i := 0; i < 3; i++ {
		nodes = append(nodes, start(t, t.TempDir(), "-store", pg, "-store-schema", schema))
	}
	// One admin token for the cluster, printed by the first node only.
	admin := nodes[0].token
	if admin == "" || nodes[1].token != "" || nodes[2].token != "" {
		t.Fatalf("want exactly one admin token printed, by the first node; got %q %q %q", nodes[0].token, nodes[1].token, nodes[2].token)
	}
	var mu sync.Mutex
	alive := map[int]bool{0: true, 1: true, 2: true}
	leaders := func() []int {
		mu.Lock()
		defer mu.Unlock()
		var out []int
		for i, n := range nodes {
			if alive[i] && strings.Contains(n.errb.String(), runs) {
				out = append(out, i)
			}
		}
		return out
	}
	waitLeader := func(since time.Time, within time.Duration) int {
		for time.Since(since) < within {
			if l := leaders(); len(l) == 1 {
				return l[0]
			} else if len(l) > 1 {
				t.Fatalf("nodes %v all run the projections", l)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no node took over the projections within %v", within)
		return -1
	}
	// Every bound here is a safety net against a hang, not a speed check:
	// the first election may wait for the nodes' start-up on a loaded
	// machine, and a takeover waits for PostgreSQL to drop the killed
	// node's session lock (decision 0007). The takeover time is logged.
	leader := waitLeader(time.Now(), 2*time.Minute)

	// Households registered through one node, their members' phones
	// (sealed with the household's data key) read back through another.
	for h := 0; h < 3; h++ {
		n := nodes[h]
		id := fmt.Sprintf("n%d", h)
		n.must(201, "POST", "/v1/households", admin, map[string]any{"household_id": id, "address": "长青路 9 号", "community": "长青社区",
			"grid": "长青网格", "responsible_worker": "李四", "class": "key", "risk": "yellow"})
		n.must(200, "POST", "/v1/households/"+id+"/consent", admin, map[string]any{"given": true, "scope": "走访信息采集"})
		phone := fmt.Sprintf("1380000000%d", h)
		pos := n.must(201, "POST", "/v1/households/"+id+"/members", admin, map[string]any{"member_id": "m1", "name": "王芳", "relation": "本人",
			"birth_date": "1950-01-02", "phone": phone})["position"].(string)
		other := nodes[(h+1)%3]
		prof := other.must(200, "GET", "/v1/households/"+id+"?purpose=statutory_report&wait_for="+pos, admin, nil)
		member := prof["members"].([]any)[0].(map[string]any)
		if got := member["phone"].(map[string]any)["value"]; got != phone {
			t.Fatalf("node %d reads the phone sealed on node %d as %v, want %s", (h+1)%3, h, member["phone"], phone)
		}
		// The read is recorded in the database, where every node's
		// reads are, and the record holds no value read.
		var who, role, what string
		if err := conn.QueryRow(context.Background(), `SELECT actor, role, what FROM `+schema+`.sensitive_reads WHERE household_id = $1`, id).Scan(&who, &role, &what); err != nil ||
			role != "admin" || strings.Contains(what, phone) {
			t.Fatalf("the read of %s's phone through node %d: recorded as %q %q %q (%v); want one record by the admin", id, (h+1)%3, who, role, what, err)
		}
		// An auditor asking the third node sees that read.
		reads := nodes[(h+2)%3].must(200, "GET", "/v1/households/"+id+"/sensitive-reads", admin, nil)["reads"].([]any)
		if len(reads) != 1 || reads[0].(map[string]any)["role"] != "admin" {
			t.Fatalf("sensitive reads of %s through node %d: %v", id, (h+2)%3, reads)
		}
	}
	time.Sleep(1500 * time.Millisecond) // the others keep competing and must not win
	if l := leaders(); len(l) != 1 {
		t.Fatalf("nodes %v run the projections", l)
	}

	// Commands through every live node while the leader is killed twice.
	var acked []string
	var lastPos string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := (w + i) % 3
				mu.Lock()
				up := alive[n]
				mu.Unlock()
				if !up {
					continue
				}
				res, err := nodes[n].try("POST", fmt.Sprintf("/v1/households/n%d/visits", w), admin, evidence("admin", map[string]any{
					"occurred_at": ago(time.Hour), "mode": "home", "outcome": "completed", "summary": fmt.Sprintf("第 %d 次", i)}),
					"Idempotency-Key", fmt.Sprintf("nodes-%d-%d", w, i))
				if err == nil && res.status == 200 { // an error: the node was killed meanwhile
					var m map[string]any
					if err := json.Unmarshal(res.body, &m); err != nil {
						t.Errorf("visit answer: %v: %s", err, res.body)
						return
					}
					mu.Lock()
					acked = append(acked, m["command_id"].(string))
					if lastPos == "" || positionAfter(m["position"].(string), lastPos) {
						lastPos = m["position"].(string)
					}
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	// The writers stop before the nodes are killed at the end of the
	// test, also when it fails early.
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWriters)
	// waitAcked waits until n more commands have been acknowledged, so
	// that each phase (before the first kill, between the kills, after
	// the last takeover) sees commands go through however slow the
	// machine is. The limit is a safety net against a stuck cluster.
	waitAcked := func(n int, phase string) {
		mu.Lock()
		want := len(acked) + n
		mu.Unlock()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= want {
				return
			}
			if t.Failed() || time.Now().After(deadline) {
				stopWriters()
				t.Fatalf("%s: %d of %d commands acknowledged", phase, got, want)
			}
		}
	}
	for kill := 1; kill <= 2; kill++ {
		waitAcked(10, fmt.Sprintf("before kill %d", kill))
		killed := time.Now()
		mu.Lock()
		alive[leader] = false
		mu.Unlock()
		if err := nodes[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = nodes[leader].cmd.Wait()
		next := waitLeader(killed, 2*time.Minute)
		t.Logf("kill %d: node %d took over the projections and deadline watcher %s after node %d was killed", kill, next, time.Since(killed).Round(time.Millisecond), leader)
		leader = next
	}
	waitAcked(10, "after the last takeover")
	stopWriters()
	if len(acked) < 30 {
		t.Fatalf("only %d commands acknowledged", len(acked))
	}

	// The survivor's read models reach the last acknowledged position.
	survivor := nodes[leader]
	total := 0
	for h := 0; h < 3; h++ {
		total += int(survivor.must(200, "GET", fmt.Sprintf("/v1/households/n%d?wait_for=%s", h, lastPos), admin, nil)["visit_count"].(float64))
	}
	for _, id := range acked {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.events WHERE command_id = $1`, id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("acknowledged command %s has %d events in the log (%v), want 1", id, n, err)
		}
	}
	var visits, events int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE type = 'visit.recorded'), count(*) FROM `+schema+`.events`).Scan(&visits, &events); err != nil {
		t.Fatal(err)
	}
	if total != visits || visits < len(acked) {
		t.Fatalf("profiles count %d visits; the log holds %d; %d acknowledged", total, visits, len(acked))
	}
	allReadModels := []string{"audit_index", "coverage", "deadline_alerts", "flags", "household_profile", "measures", "rectifications", "relief", "worklist"}
	// Wait until every projection has applied the whole log, then each
	// must have applied exactly as many events as the log holds. The
	// limit is a safety net, not a speed requirement.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, err := conn.Query(ctx, `SELECT name, events FROM `+schema+`.projection_checkpoints ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		applied := map[string]int{}
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			applied[name] = n
		}
		rows.Close()
		// Every read model of readmodels.All has a checkpoint.
		done := len(applied) == len(allReadModels)
		for name, n := range applied {
			if n > events {
				t.Fatalf("projection %s applied %d events; the log holds %d: some twice", name, n, events)
			}
			done = done && n == events
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("projections applied %v of %d events after 2 minutes", applied, events)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d commands acknowledged across the nodes, %d events; each projection applied every event once", len(acked), events)
	survivor.stop()
}

// positionAfter reports whether position token a is after b.
func positionAfter(a, b string) bool {
	pa, errA := eventstore.ParsePosition(a)
	pb, errB := eventstore.ParsePosition(b)
	return errA == nil && errB == nil && pb.Before(pa)
}
