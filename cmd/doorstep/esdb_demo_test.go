package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
)

// esdbPrefix returns a stream prefix of its own for a test.
func esdbPrefix(name string) string {
	return name + strings.ReplaceAll(eventstore.NewID().String()[24:], "-", "") + "."
}

// TestDemoOnESDB starts the binary's `doorstep demo` with its events on the
// in-process EventStoreDB protocol server (a town of 40 households, to
// keep CI short; the size is a flag), reads the quick-start household's
// profile and the event stream, and shows what a second data directory on
// the same prefix meets: a clear refusal, until it takes the prefix over.
// It proves the wiring and the client calls, not EventStoreDB itself.
func TestDemoOnESDB(t *testing.T) {
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx := context.Background()
	prefix := esdbPrefix("demo")
	dir := t.TempDir()
	p := startDemo(t, dir, binary(t), "demo", "-addr", "127.0.0.1:0", "-data", dir, "-store", srv.URL(), "-store-prefix", prefix, "-households", "40")
	if !strings.HasPrefix(p.token, "ds_") {
		t.Fatalf("the demo printed no admin token:\n%s", p.out)
	}
	prof := p.must(200, "GET", "/v1/households/"+DemoHousehold, p.token, nil)
	if m := prof["members"].([]any); len(m) != 1 || m[0].(map[string]any)["name"] != "张奶奶" {
		t.Fatalf("the quick-start household: %v", prof)
	}
	if n := p.must(200, "GET", "/v1/households?limit=5", p.token, nil); len(n["households"].([]any)) != 5 {
		t.Fatalf("list households: %v", n)
	}
	// The event stream serves the town from the server, in its order.
	s, err := esdb.Open(ctx, esdb.Config{URL: srv.URL(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var want []string
	page, err := s.ReadAll(ctx, eventstore.Position{}, 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page {
		if c := e.Category(); c == "household" || c == "problem" || c == "referral" {
			want = append(want, e.ID.String())
		}
	}
	if len(want) < 30 {
		t.Fatalf("the first 500 events on the server hold %d of the stream's", len(want))
	}
	integ := p.newToken(p.token, map[string]any{"name": "大屏", "role": "integrator"})
	got := readEvents(t, p, integ, "", 30)
	for i, e := range got {
		if e.eventID != want[i] {
			t.Fatalf("event %d of the stream is %s, want %s", i, e.eventID, want[i])
		}
	}
	// A second installation directory on the same prefix is refused
	// before it serves anything …
	other := t.TempDir()
	var out, errb bytes.Buffer
	err = run(ctx, []string{"rebuild", "-data", other, "-store", srv.URL(), "-store-prefix", prefix}, &out, &errb)
	var ue usageError
	if !asUsage(err, &ue) || !strings.Contains(err.Error(), "served by another data directory") || !strings.Contains(err.Error(), "-readmodels postgres://") {
		t.Fatalf("a second data directory on the prefix: %v", err)
	}
	p.stop()
	// … unless it takes the prefix over; then the first one is refused.
	if err := run(ctx, []string{"rebuild", "-data", other, "-store", srv.URL(), "-store-prefix", prefix, "-store-take-over"}, &out, &errb); err != nil {
		t.Fatalf("take over: %v\n%s", err, errb.String())
	}
	if err := run(ctx, []string{"rebuild", "-data", dir, "-store", srv.URL(), "-store-prefix", prefix}, &out, &errb); !asUsage(err, &ue) {
		t.Fatalf("the first directory after a take-over: %v", err)
	}
}

// TestSeveralNodesOnESDB starts two `doorstep serve` nodes with their events
// on the in-process EventStoreDB server and their read models, keys and
// tokens in one PostgreSQL schema: the leader lease on PostgreSQL elects
// one of them to run the projections and the deadline watcher, both take
// the same tokens, and a phone sealed through one node opens through the
// other. Without PostgreSQL there is no election: see TestDemoOnESDB for
// the refusal of a second data directory.
func TestSeveralNodesOnESDB(t *testing.T) {
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	pg, _, schema := sharedSchema(t, "esdb_nodes")
	store := []string{"-store", srv.URL(), "-store-prefix", esdbPrefix("nodes"), "-readmodels", pg, "-store-schema", schema}
	var nodes []*proc
	var mu sync.Mutex
	for range 2 {
		p := start(t, t.TempDir(), store...)
		mu.Lock()
		nodes = append(nodes, p)
		mu.Unlock()
	}
	admin := nodes[0].token
	if admin == "" || nodes[1].token != "" {
		t.Fatalf("want one admin token, printed by the first node: %q %q", nodes[0].token, nodes[1].token)
	}
	const runs = "this node runs them"
	leader := -1
	for deadline := time.Now().Add(2 * time.Minute); leader < 0 && time.Now().Before(deadline); {
		var l []int
		for i, n := range nodes {
			if strings.Contains(n.errb.String(), runs) {
				l = append(l, i)
			}
		}
		switch {
		case len(l) > 1:
			t.Fatalf("both nodes run the projections")
		case len(l) == 1:
			leader = l[0]
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	if leader < 0 {
		t.Fatal("no node was elected to run the projections")
	}
	follower := nodes[1-leader]
	follower.must(201, "POST", "/v1/households", admin, map[string]any{"household_id": "esn", "address": "长青路 9 号", "community": "长青社区",
		"grid": "长青网格", "responsible_worker": "李四", "class": "key", "risk": "yellow"})
	follower.must(200, "POST", "/v1/households/esn/consent", admin, map[string]any{"given": true, "scope": "走访信息采集"})
	pos := follower.must(201, "POST", "/v1/households/esn/members", admin, map[string]any{"member_id": "m1", "name": "王芳", "relation": "本人",
		"birth_date": "1950-01-02", "phone": "13800000009"})["position"].(string)
	prof := nodes[leader].must(200, "GET", "/v1/households/esn?purpose=statutory_report&wait_for="+pos, admin, nil)
	phone := prof["members"].([]any)[0].(map[string]any)["phone"].(map[string]any)
	if phone["value"] != "13800000009" {
		t.Fatalf("the phone sealed on one node reads %v on the other", phone)
	}
	if strings.Contains(follower.errb.String(), runs) {
		t.Fatalf("the follower runs the projections too")
	}
	for _, n := range nodes {
		n.stop()
	}
}
