package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

func registerBody(id, community, grid string) RegisterHouseholdRequest {
	return RegisterHouseholdRequest{HouseholdID: id, Address: "幸福路 1 号 6 楼", Community: community, Grid: grid,
		ResponsibleWorker: "李四", Class: "special", Risk: "yellow"}
}

func TestCommandProtocol(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	other := e.token(identity.Principal{Name: "王五", Role: identity.RoleWorker, Grids: []string{"G9"}})

	// Idempotent creation: the same key twice gives the same response and one event.
	r1 := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1"), "Idempotency-Key", "k-1")
	if r1.status != 201 || r1.header.Get("ETag") != `"1"` || r1.header.Get("Location") != "/v1/households/h1" {
		t.Fatalf("register: %d %v %s", r1.status, r1.header, r1.body)
	}
	var res CommandResult
	r1.decode(t, &res)
	if res.Version != 1 || res.Position == "" || res.Position == "0" || r1.header.Get("Doorstep-Position") != res.Position {
		t.Fatalf("result %+v", res)
	}
	r2 := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1"), "Idempotency-Key", "k-1")
	if r2.status != 201 || string(r2.body) != string(r1.body) || r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s (first %s)", r2.status, r2.body, r1.body)
	}
	if v, _ := e.store.StreamVersion(t.Context(), "household-h1"); v != 1 {
		t.Fatalf("a retry wrote: version %d", v)
	}
	// The same key with another body is refused.
	if r := e.do("POST", "/v1/households", w, registerBody("h2", "C1", "G1"), "Idempotency-Key", "k-1"); r.status != 422 || r.problem(t).Code != "idempotency_key_reused" {
		t.Fatalf("key reuse: %d %s", r.status, r.body)
	}
	// Without a key, registering again is a domain conflict.
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 409 || r.problem(t).Code != "household_exists" {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	// Scope: another grid's worker cannot register here nor change h1.
	if r := e.do("POST", "/v1/households", other, registerBody("h3", "C1", "G1")); r.status != 403 {
		t.Fatalf("out-of-scope register: %d %s", r.status, r.body)
	}
	// Changing h1 from outside its grid answers as if h1 did not exist
	// (decision 0088).
	if r := e.do("POST", "/v1/households/h1/risk", other, ChangeRequest{To: "red", Reason: "fall"}); r.status != 404 || r.problem(t).Code != "household_not_found" {
		t.Fatalf("out-of-scope change: %d %s", r.status, r.body)
	}
	// If-Match: a stale version is 412 and writes nothing; the right one succeeds.
	if r := e.do("POST", "/v1/households/h1/risk", w, ChangeRequest{To: "red", Reason: "fall risk"}, "If-Match", `"1"`); r.status != 200 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("conditional change: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/v1/households/h1/risk", w, ChangeRequest{To: "blue", Reason: "better"}, "If-Match", `"1"`, "Accept-Language", "zh-CN")
	if p := r.problem(t); r.status != 412 || p.Code != "version_mismatch" || !strings.Contains(p.Detail, "当前版本为 2") {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	if v, _ := e.store.StreamVersion(t.Context(), "household-h1"); v != 2 {
		t.Fatalf("412 wrote: version %d", v)
	}
	// Domain rules come back as 422 with the field; bad input as 400.
	if r := e.do("POST", "/v1/households/h1/risk", w, ChangeRequest{To: "red", Reason: "again"}); r.status != 422 || r.problem(t).Code != "no_change" {
		t.Fatalf("no change: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/risk", w, ChangeRequest{To: "purple", Reason: "x"}); r.status != 400 || r.problem(t).Field != "risk" {
		t.Fatalf("bad enum: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/visits", w, VisitRequest{Team: []string{"李四"}, OccurredAt: "yesterday", Mode: "home", Outcome: "completed"}); r.status != 400 || r.problem(t).Field != "occurred_at" {
		t.Fatalf("bad time: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/nope/risk", w, ChangeRequest{To: "red", Reason: "x"}); r.status != 404 {
		t.Fatalf("unknown household: %d %s", r.status, r.body)
	}
	// Auditors and integrators cannot command.
	aud := e.token(identity.Principal{Name: "a", Role: identity.RoleAuditor})
	if r := e.do("POST", "/v1/households/h1/risk", aud, ChangeRequest{To: "blue", Reason: "x"}); r.status != 403 || r.problem(t).Code != "role_forbidden" {
		t.Fatalf("auditor command: %d %s", r.status, r.body)
	}
}

// TestConcurrentConditionalCommands: many clients holding the same ETag
// race; exactly one wins, the others get 412.
func TestConcurrentConditionalCommands(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", "/v1/households/h1/visits", w, fullVisit(VisitRequest{Team: []string{"李四"}, OccurredAt: clock.Now().Add(-time.Hour).Format(time.RFC3339),
				Mode: "home", Outcome: "completed", Summary: fmt.Sprint("visit ", i)}), "If-Match", `"1"`)
			codes <- r.status
		}()
	}
	wg.Wait()
	close(codes)
	won, lost := 0, 0
	for c := range codes {
		switch c {
		case 200:
			won++
		case 412:
			lost++
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	if won != 1 || lost != 9 {
		t.Fatalf("%d won, %d got 412; want 1 and 9", won, lost)
	}
}

// TestScopeCacheFollowsOtherWriters: reads answer scope from a cache that
// a follower of the log keeps current, so a relocation written by another
// process (here: the command service directly) moves the household out of
// the old grid worker's reach.
func TestScopeCacheFollowsOtherWriters(t *testing.T) {
	e := newEnv(t, nil)
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, l) }()
	defer func() { stop(); <-done }()
	base := "http://" + l.Addr().String()
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	read := func() int {
		req, _ := nethttp.NewRequest("GET", base+"/v1/households/h1", nil)
		req.Header.Set("Authorization", "Bearer "+w)
		res, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	waitStatus := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for read() != want {
			if time.Now().After(deadline) {
				t.Fatalf("GET /v1/households/h1 never answered %d", want)
			}
			runtime.Gosched()
		}
	}
	waitStatus(200)
	if _, err := e.app.Relocate(context.Background(), command.Cmd{ID: "move", Actor: "other", Role: domain.RoleSupervisor}, "h1", "新址", "C2", "G2", "搬家"); err != nil {
		t.Fatal(err)
	}
	waitStatus(404) // out of scope reads as not found (decision 0088)
}
