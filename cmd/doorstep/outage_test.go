package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/internal/pgtest"
)

// TestPostgresOutage runs `doorstep serve` on a private PostgreSQL server,
// stops the server under a steady load of commands and starts it again.
// Meanwhile the API must answer 503 with Retry-After; afterwards it must
// recover by itself (commands succeed, the read models catch up) and every
// acknowledged command must be in the log exactly once.
func TestPostgresOutage(t *testing.T) {
	pg := pgtest.Start(t)
	dir := t.TempDir()
	p := start(t, dir, "-store", pg.URL())
	admin := p.token
	const writers = 3
	for w := 0; w < writers; w++ {
		p.must(201, "POST", "/v1/households", admin, map[string]any{"household_id": fmt.Sprintf("out%d", w), "address": "长青路 2 号", "community": "长青社区",
			"grid": "长青网格", "responsible_worker": "李四", "class": "special", "risk": "yellow"})
	}

	client := &http.Client{Timeout: 15 * time.Second}
	post := func(path, key string, body any) (int, http.Header, map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", p.base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Idempotency-Key", key)
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer res.Body.Close()
		rb, _ := io.ReadAll(res.Body)
		var m map[string]any
		_ = json.Unmarshal(rb, &m)
		return res.StatusCode, res.Header, m, nil
	}

	type outcome struct {
		acked       []string // command ids answered 200
		unavailable int      // 503 answers, all with Retry-After
		unknown     int      // no answer (timeout); may or may not have committed
	}
	var mu sync.Mutex
	var out outcome
	var lastPos string
	phase := make(chan struct{}) // closed when the load should stop
	var sawOKAfterRestart, restarted bool
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-phase:
					return
				default:
				}
				key := fmt.Sprintf("outage-%d-%d", w, i)
				status, hdr, body, err := post(fmt.Sprintf("/v1/households/out%d/visits", w), key, evidence("admin", map[string]any{
					"occurred_at": ago(time.Hour), "mode": "home", "outcome": "completed", "summary": fmt.Sprintf("第 %d 次走访", i)}))
				mu.Lock()
				switch {
				case err != nil:
					out.unknown++
				case status == 200:
					out.acked = append(out.acked, body["command_id"].(string))
					lastPos = body["position"].(string)
					if restarted {
						sawOKAfterRestart = true
					}
				case status == 503:
					if hdr.Get("Retry-After") == "" || hdr.Get("Content-Type") != "application/problem+json" {
						t.Errorf("503 without Retry-After or problem+json: %v %v", hdr, body)
					}
					out.unavailable++
				default:
					t.Errorf("command answered %d during the outage test: %v", status, body)
				}
				mu.Unlock()
				if status == 503 || err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(phase)
		wg.Wait()
		t.Fatalf("%s did not happen within 60 s (%+v)\n%s", what, out, p.errb.String())
	}
	waitFor("commands before the outage", func() bool { return len(out.acked) >= 20 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	waitFor("503 answers while PostgreSQL is down", func() bool { return out.unavailable >= 5 })
	// Stay down long enough for every part to notice: the elected node's
	// session check (1 s), the pools, the live subscription.
	time.Sleep(time.Until(down.Add(3 * time.Second)))
	// Queries read the read models in PostgreSQL: they too answer 503.
	if r := p.call("GET", "/v1/households/out0", admin, nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("profile read while PostgreSQL is down: %d (Retry-After %q) %s; want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	restarted = true
	mu.Unlock()
	waitFor("a successful command after PostgreSQL came back", func() bool { return sawOKAfterRestart })
	close(phase)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Nothing acknowledged is lost or doubled.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, id := range out.acked {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM doorstep.events WHERE command_id = $1`, id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("acknowledged command %s has %d events in the log (%v), want 1", id, n, err)
		}
	}
	var visits int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM doorstep.events WHERE type = 'visit.recorded'`).Scan(&visits); err != nil {
		t.Fatal(err)
	}
	if visits < len(out.acked) || visits > len(out.acked)+out.unknown {
		t.Fatalf("%d visits in the log, %d acknowledged, %d unanswered", visits, len(out.acked), out.unknown)
	}

	// The read models recovered by themselves and hold every visit once.
	total := 0
	for w := 0; w < writers; w++ {
		// The projections resume on their own after a pause; a query that
		// waits for the last position may be told to retry (503) meanwhile.
		var r reply
		for deadline := time.Now().Add(30 * time.Second); ; {
			r = p.call("GET", fmt.Sprintf("/v1/households/out%d?wait_for=%s", w, lastPos), admin, nil)
			if r.status != 503 || time.Now().After(deadline) {
				break
			}
			if r.header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %s", r.body)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.status != 200 {
			t.Fatalf("profile of out%d after recovery: %d %s\n%s", w, r.status, r.body, diagnose(p, pg.URL(), admin))
		}
		total += int(r.json(t)["visit_count"].(float64))
	}
	if total != visits {
		t.Fatalf("profiles count %d visits, the log holds %d", total, visits)
	}
	// The read models may still be retrying a batch that failed during
	// the outage (events after the last acknowledged command, such as the
	// watcher's): /readyz turns 200 when that retry succeeds.
	var ready reply
	for deadline := time.Now().Add(60 * time.Second); ; {
		ready = p.call("GET", "/readyz", admin, nil)
		if ready.status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ready.status != 200 {
		t.Fatalf("/readyz after recovery: %d %s", ready.status, ready.body)
	}
	t.Logf("%d commands acknowledged, %d answered 503 with Retry-After while PostgreSQL was down, %d unanswered; all acknowledged events in the log once; read models caught up",
		len(out.acked), out.unavailable, out.unknown)
	p.stop()
}

// diagnose gathers, for a failure after the outage, what tells a stalled
// projection apart from a held-back log: /readyz, the checkpoints, the
// server's open sessions and transactions, the server log's tail and a dump
// of every goroutine of the doorstep process (it is ended by SIGQUIT).
func diagnose(p *proc, url, token string) string {
	var b strings.Builder
	r := p.call("GET", "/readyz", token, nil)
	fmt.Fprintf(&b, "/readyz: %d %s\n", r.status, r.body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, url); err != nil {
		fmt.Fprintf(&b, "cannot connect to PostgreSQL to diagnose: %v\n", err)
	} else {
		defer conn.Close(ctx)
		dump := func(title, q string) {
			fmt.Fprintf(&b, "%s:\n", title)
			rows, err := conn.Query(ctx, q)
			if err != nil {
				fmt.Fprintf(&b, "  %v\n", err)
				return
			}
			defer rows.Close()
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					fmt.Fprintf(&b, "  %v\n", err)
					return
				}
				fmt.Fprintf(&b, "  %v\n", vals)
			}
		}
		dump("xmin now", `SELECT pg_snapshot_xmin(pg_current_snapshot())::text, pg_current_snapshot()::text`)
		dump("checkpoints (name, hi, lo, events)", `SELECT name, hi, lo, events FROM doorstep.projection_checkpoints ORDER BY name`)
		dump("last events (transaction_id, seq, type)", `SELECT transaction_id::text, seq, type FROM doorstep.events ORDER BY transaction_id DESC, seq DESC LIMIT 5`)
		dump("sessions (pid, state, backend_xid, backend_xmin, xact_start, wait_event_type, wait_event, query)",
			`SELECT pid, state, backend_xid::text, backend_xmin::text, xact_start, wait_event_type, wait_event, left(query, 120)
			   FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`)
		dump("locks not granted and advisory locks", `SELECT pid, locktype, mode, granted, objid FROM pg_locks WHERE NOT granted OR locktype = 'advisory'`)
	}
	before := len(p.errb.String())
	if err := p.cmd.Process.Signal(syscall.SIGQUIT); err == nil {
		_ = p.cmd.Wait()
	}
	all := p.errb.String()
	fmt.Fprintf(&b, "server log (tail):\n%s\ngoroutines of doorstep serve (SIGQUIT):\n%s", lastBytes(all[:before], 6000), all[before:])
	return b.String()
}

// lastBytes returns the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
