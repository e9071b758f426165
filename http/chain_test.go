package http

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

// tamperedStore changes the actor of one event as it is read, while on:
// what a row altered behind the store's back looks like to a reader.
type tamperedStore struct {
	eventstore.Store
	on     atomic.Bool
	stream string
}

func (s *tamperedStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, n int) ([]eventstore.Event, error) {
	evs, err := s.Store.ReadStream(ctx, stream, dir, from, n)
	if s.on.Load() && stream == s.stream {
		for i := range evs {
			if evs[i].Version == 2 {
				evs[i].Metadata.Actor = "mallory"
			}
		}
	}
	return evs, err
}

// TestHouseholdChainVerification: GET /v1/households/{id}/chain reads the
// household's stream and its problems' and referrals' streams from the
// store and recomputes every link: verified with the events counted and
// each head given; an altered event is reported with its version; the
// route answers the audit roles within their scope (decision 0143).
func TestHouseholdChainVerification(t *testing.T) {
	var ts *tamperedStore
	e := newEnv(t, func(d *Deps) {
		ts = &tamperedStore{Store: d.Store, stream: "household-h1"}
		d.Store = ts
	})
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	aud := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor})
	sup2 := e.token(identity.Principal{Name: "督导乙", Role: identity.RoleSupervisor, Communities: []string{"C2"}})
	must := func(r resp, want int, what string) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	must(e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")), 201, "register")
	must(e.do("POST", "/v1/households/h1/risk", w, ChangeRequest{To: "red", Reason: "复核"}), 200, "risk")
	must(e.do("POST", "/v1/problems", w, ReportProblemRequest{ProblemID: "p1", HouseholdID: "h1", Description: "需要安装扶手",
		Category: "service", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}), 201, "report")
	var res CommandResult
	must(e.do("POST", "/v1/referrals", w, RequestReferralRequest{ReferralID: "r1", ProblemID: "p1", Level: "department", To: "卫健局", Request: "上门评估"}), 201, "refer").decode(t, &res)
	// The profile lists the problem and the referral once it has the referral.
	must(e.do("GET", "/v1/households/h1?wait_for="+res.Position, aud, nil), 200, "profile")

	var v ChainVerification
	must(e.do("GET", "/v1/households/h1/chain", aud, nil), 200, "verify").decode(t, &v)
	if !v.Verified || v.HouseholdID != "h1" || len(v.Streams) != 3 || v.CheckedAt.IsZero() {
		t.Fatalf("verification: %+v", v)
	}
	want := map[string]int{"household-h1": 2, "problem-p1": 2, "referral-r1": 1}
	total := 0
	for _, s := range v.Streams {
		if n, ok := want[s.Stream]; !ok || s.Events != n || !s.Verified || len(s.Head) != 64 || s.BrokenAt != 0 {
			t.Errorf("stream %+v, want %d events verified with a head", s, want[s.Stream])
		}
		total += s.Events
	}
	if v.Events != total {
		t.Errorf("events %d, streams sum %d", v.Events, total)
	}

	// An event altered behind the store's back: the chain breaks at it.
	ts.on.Store(true)
	r := must(e.do("GET", "/v1/households/h1/chain", aud, nil), 200, "verify tampered")
	r.decode(t, &v)
	if v.Verified || v.Streams[0].Stream != "household-h1" || v.Streams[0].Verified || v.Streams[0].BrokenAt != 2 || v.Streams[0].Reason == "" ||
		v.Streams[0].Events != 1 || !v.Streams[1].Verified {
		t.Fatalf("tampered: %s", r.body)
	}
	ts.on.Store(false)

	// Audit roles only, within their scope.
	if r := e.do("GET", "/v1/households/h1/chain", w, nil); r.status != 403 || r.problem(t).Code != "role_forbidden" {
		t.Errorf("worker: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/households/h1/chain", sup2, nil); r.status != 404 {
		t.Errorf("supervisor of another community: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/households/nobody/chain", aud, nil); r.status != 404 {
		t.Errorf("unknown household: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/households/h1/chain?x=1", aud, nil); r.status != 400 || !strings.Contains(r.problem(t).MessageZH, "x") {
		t.Errorf("unknown parameter: %d %s", r.status, r.body)
	}
}
