package http

import (
	"context"
	"fmt"
	"testing"

	"github.com/doorstep/doorstep/app"
	"github.com/doorstep/doorstep/domain"
)

// TestScopeCacheKeepsOnlyExistingStreams: requests naming unknown ids are
// answered 404 and leave nothing in the scope cache, and a household
// registered after such a request is found by the next one.
func TestScopeCacheKeepsOnlyExistingStreams(t *testing.T) {
	e := newEnv(t, nil)
	seed(t, e)
	sup := e.token(Principal{Name: "督导", Role: RoleSupervisor, Communities: []string{"C1"}})
	size := func() int {
		e.srv.scopes.mu.Lock()
		defer e.srv.scopes.mu.Unlock()
		return len(e.srv.scopes.cache)
	}
	before := size()
	for i := range 100 {
		for _, path := range []string{"/v1/households/", "/v1/problems/", "/v1/referrals/"} {
			if r := e.do("GET", fmt.Sprintf("%snope-%d", path, i), sup, nil); r.status != 404 {
				t.Fatalf("GET %snope-%d: %d %s", path, i, r.status, r.body)
			}
		}
	}
	if after := size(); after > before+1 {
		t.Fatalf("the scope cache grew from %d to %d entries on 300 requests for unknown ids", before, after)
	}
	res, err := e.app.RegisterHousehold(context.Background(), app.Cmd{ID: "late", Actor: "seed", Role: domain.RoleSupervisor}, "nope-7",
		domain.RegisterHousehold{Address: "路 7", Community: "C1", Grid: "G1", ResponsibleWorker: "李四", Class: domain.ClassKey, Risk: domain.RiskYellow})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/v1/households/nope-7?wait_for="+res.LastPosition.String(), sup, nil); r.status != 200 {
		t.Fatalf("a household registered after a 404 for it: %d %s", r.status, r.body)
	}
}
