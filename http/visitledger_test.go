package http

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// TestVisitLedgerAcrossHouseholds: GET /v1/visits lists every recorded
// visit across households (any outcome), filtered, sorted and paged, each
// caller within its scope (a worker's grid, a supervisor's community) by
// where the household is now, without the visit's summary (decision 0143).
func TestVisitLedgerAcrossHouseholds(t *testing.T) {
	e := newEnv(t, nil)
	w1 := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	w2 := e.token(identity.Principal{Name: "张三", Role: identity.RoleWorker, Grids: []string{"G2"}})
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	aud := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor})
	dep := e.token(identity.Principal{Name: "住建局科员", Role: identity.RoleDepartment, Department: "住建局"})
	must := func(r resp, want int, what string) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	base := clock.Now().Add(-10 * time.Hour).Truncate(time.Second)
	var pos string
	register := func(tok, id, community, grid string) {
		t.Helper()
		body := registerBody(id, community, grid)
		body.Class = "ordinary"
		must(e.do("POST", "/v1/households", tok, body), 201, "register "+id)
	}
	visit := func(tok, id, worker, outcome string, hoursAfter int) {
		t.Helper()
		v := VisitRequest{Team: strings.Split(worker, ","), OccurredAt: base.Add(time.Duration(hoursAfter) * time.Hour).Format(time.RFC3339), Mode: "home",
			Outcome: outcome, Summary: "摘要不进台账"}
		var res CommandResult
		must(e.do("POST", "/v1/households/"+id+"/visits", tok, v), 200, "visit "+id).decode(t, &res)
		pos = res.Position
	}
	register(w1, "h1", "C1", "G1")
	register(w1, "h3", "C1", "G1")
	register(w2, "h2", "C2", "G2")
	visit(w1, "h1", "李四", "completed", 1)
	visit(w1, "h3", "李四,王五", "nobody_home", 2)
	visit(w2, "h2", "张三", "completed", 3)
	visit(w1, "h1", "李四", "refused", 4)

	list := func(tok, q string) VisitLedger {
		t.Helper()
		var l VisitLedger
		r := must(e.do("GET", "/v1/visits?wait_for="+pos+q, tok, nil), 200, "ledger "+q)
		if strings.Contains(string(r.body), "摘要不进台账") {
			t.Fatalf("the ledger carries the visit's summary: %s", r.body)
		}
		r.decode(t, &l)
		return l
	}
	ids := func(l VisitLedger) string {
		var s []string
		for _, v := range l.Visits {
			s = append(s, v.HouseholdID+":"+v.Outcome)
		}
		return strings.Join(s, " ")
	}

	// Newest first by default; the auditor reads the whole street.
	all := list(aud, "")
	if got := ids(all); got != "h1:refused h2:completed h3:nobody_home h1:completed" {
		t.Fatalf("street, newest first: %s", got)
	}
	v := all.Visits[0]
	if v.Community != "C1" || v.Grid != "G1" || v.OutcomeZH != "拒绝走访" || v.Mode != "home" || v.ModeZH == "" || v.By != "李四" ||
		len(v.Team) != 1 || v.Team[0] != "李四" || !v.OccurredAt.Equal(base.Add(4*time.Hour)) || v.RecordedAt.IsZero() || v.ID == "" || all.Limit != 100 {
		t.Fatalf("row %+v", v)
	}
	// Oldest first, paged, filtered.
	if got := ids(list(aud, "&sort=occurred&limit=2&offset=1")); got != "h3:nobody_home h2:completed" {
		t.Errorf("oldest first, second page of two: %s", got)
	}
	if got := ids(list(aud, "&outcome=refused,nobody_home")); got != "h1:refused h3:nobody_home" {
		t.Errorf("outcomes: %s", got)
	}
	if got := ids(list(aud, "&member="+url.QueryEscape("王五"))); got != "h3:nobody_home" {
		t.Errorf("team member: %s", got)
	}
	from := url.QueryEscape(base.Add(2 * time.Hour).Format(time.RFC3339))
	to := url.QueryEscape(base.Add(4 * time.Hour).Format(time.RFC3339))
	if got := ids(list(aud, "&occurred_from="+from+"&occurred_to="+to)); got != "h2:completed h3:nobody_home" {
		t.Errorf("occurred from (inclusive) to (exclusive): %s", got)
	}
	if got := ids(list(aud, "&late=false&mode=home&community=C2")); got != "h2:completed" {
		t.Errorf("late, mode, community: %s", got)
	}
	if got := ids(list(aud, "&late=true")); got != "" {
		t.Errorf("no visit was entered late: %s", got)
	}

	// Scope: a worker its grid, a supervisor its community.
	if got := ids(list(w1, "")); got != "h1:refused h3:nobody_home h1:completed" {
		t.Errorf("worker of G1: %s", got)
	}
	if got := ids(list(sup, "")); got != "h1:refused h3:nobody_home h1:completed" {
		t.Errorf("supervisor of C1: %s", got)
	}
	if got := ids(list(w2, "")); got != "h2:completed" {
		t.Errorf("worker of G2: %s", got)
	}
	for _, c := range []struct{ tok, q, code string }{
		{w1, "?grid=G2", "out_of_scope"}, {sup, "?community=C2", "out_of_scope"}, {dep, "", "role_forbidden"},
	} {
		if r := e.do("GET", "/v1/visits"+c.q, c.tok, nil); r.status != 403 || r.problem(t).Code != c.code {
			t.Errorf("%s: %d %s", c.q, r.status, r.body)
		}
	}

	// A household that moves takes its visits to its new place, as its file.
	var res CommandResult
	must(e.do("POST", "/v1/households/h3/relocate", e.admin, RelocateRequest{Address: "新址 1 号", Community: "C2", Grid: "G2", Reason: "搬家"}), 200, "relocate").decode(t, &res)
	pos = res.Position
	if got := ids(list(w1, "")); got != "h1:refused h1:completed" {
		t.Errorf("worker of G1 after h3 moved: %s", got)
	}
	if got := ids(list(w2, "")); got != "h2:completed h3:nobody_home" {
		t.Errorf("worker of G2 after h3 moved: %s", got)
	}

	// Bad input, bilingual.
	for q, code := range map[string]string{
		"outcome=done": "invalid_outcome", "mode=fax": "invalid_mode", "sort=due": "invalid_sort", "occurred_from=yesterday": "invalid_time",
		"limit=1001": "invalid_limit", "late=maybe": "invalid_late", "colour=red": "unknown_parameter", "member=" + strings.Repeat("x", 201): "invalid_member",
	} {
		r := e.do("GET", "/v1/visits?"+q, aud, nil)
		if p := r.problem(t); r.status != 400 || p.Code != code || p.MessageZH == "" || p.MessageEN == "" {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}
