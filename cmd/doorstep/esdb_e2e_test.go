package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/esdb/esdbtest"
)

// TestEndToEndOnESDB runs serve with its events on the in-process
// EventStoreDB protocol server (eventstore/esdb/esdbtest) and its read
// models first in the data directory, then on PostgreSQL; records a visit,
// restarts, finds it again, and drives the offline tools on it. It proves
// the wiring and the client calls, not EventStoreDB itself.
func TestEndToEndOnESDB(t *testing.T) {
	srv, err := esdbtest.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	pg, _, schema := sharedSchema(t, "e2e_esdb")
	ctx := context.Background()
	for _, rm := range []struct {
		name  string
		extra []string
	}{
		{"embedded read models", nil},
		{"read models on PostgreSQL", []string{"-readmodels", pg, "-store-schema", schema}},
	} {
		t.Run(rm.name, func(t *testing.T) {
			prefix := "e2e" + strings.ReplaceAll(eventstore.NewID().String()[24:], "-", "") + "."
			store := append([]string{"-store", srv.URL(), "-store-prefix", prefix}, rm.extra...)
			dir := t.TempDir()
			p := start(t, dir, store...)
			admin := p.token
			p.must(201, "POST", "/v1/households", admin, map[string]any{"household_id": "chen", "address": "长青路 2 号", "community": "长青社区",
				"grid": "长青网格", "responsible_worker": "李四", "class": "special", "risk": "yellow"})
			v := p.must(200, "POST", "/v1/households/chen/visits", admin, evidence("admin", map[string]any{"occurred_at": ago(time.Hour),
				"mode": "home", "outcome": "completed", "summary": "安装烟雾报警器，邻居每日敲门"}))
			prof := p.must(200, "GET", "/v1/households/chen?wait_for="+v["position"].(string), admin, nil)
			if prof["visit_count"].(float64) != 1 {
				t.Fatalf("profile: %v", prof)
			}
			p.stop()
			if !strings.Contains(p.errb.String(), "prefix "+prefix) {
				t.Fatalf("the log does not name the EventStoreDB store:\n%s", p.errb.String())
			}
			// The events are on the server, under the prefix.
			s, err := esdb.Open(ctx, esdb.Config{URL: srv.URL(), Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := s.ReadAll(ctx, eventstore.Position{}, 100)
			s.Close()
			if err != nil || len(evs) != 2 || evs[1].Type != "visit.recorded" {
				t.Fatalf("events on the server: %d, %v", len(evs), err)
			}
			q := start(t, dir, store...)
			again := q.must(200, "GET", "/v1/households/chen", admin, nil)
			if again["visit_count"].(float64) != 1 || again["version"].(float64) != 2 {
				t.Fatalf("after restart: %v", again)
			}
			q.stop()
			for _, args := range [][]string{
				{"verify"},
				{"replay", "-household", "chen"},
				{"export", "-household", "chen", "-format", "csv"},
				{"rebuild"},
			} {
				var out, errb bytes.Buffer
				all := append(append(args, "-data", dir), store...)
				if err := run(ctx, all, &out, &errb); err != nil {
					t.Fatalf("doorstep %s: %v\n%s", strings.Join(all, " "), err, errb.String())
				}
				want := map[string]string{"verify": "2 events", "replay": "邻居每日敲门", "export": "visit.recorded", "rebuild": "from 2 events"}[args[0]]
				if !strings.Contains(out.String(), want) {
					t.Fatalf("doorstep %s printed no %q:\n%s", args[0], want, out.String())
				}
			}
			// A prefix with no events: the tools say so.
			var out, errb bytes.Buffer
			err = run(ctx, []string{"verify", "-data", t.TempDir(), "-store", srv.URL(), "-store-prefix", prefix + "typo."}, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), "no Doorstep events") {
				t.Fatalf("verify on an empty prefix: %v", err)
			}
		})
	}
}
