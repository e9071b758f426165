package http

import (
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// TestSeed000_2_1_ReliefLedgerPerCommunityAndPeriod: 000 §2.1 慰问金或物资
// and 000 §1.2 (cash, goods, festival gifts, temporary relief): the ledger
// of a community for a month lists every handover recorded on a visit with
// totals per kind over the whole month, names the recipient by member id
// only, and answers supervisors for their communities only (decision 0128).
func TestSeed000_2_1_ReliefLedgerPerCommunityAndPeriod(t *testing.T) {
	e := newEnv(t, nil)
	w1 := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	w2 := e.token(identity.Principal{Name: "张三", Role: identity.RoleWorker, Grids: []string{"G2"}})
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	aud := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor})
	must := func(r resp, want int, what string) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	occurred := clock.Now().Add(-time.Hour)
	period := occurred.In(e.app.Calendar().Location()).Format("2006-01")
	next := occurred.In(e.app.Calendar().Location()).AddDate(0, 1, 0).Format("2006-01")
	var pos string
	visit := func(tok, id, community, grid, worker string, relief ...ReliefRequest) {
		t.Helper()
		body := registerBody(id, community, grid)
		body.Class = "ordinary"
		must(e.do("POST", "/v1/households", tok, body), 201, "register "+id)
		must(e.do("POST", "/v1/households/"+id+"/members", tok, map[string]any{"member_id": "m1", "name": "王大爷", "relation": "本人"}), 201, "member "+id)
		v := VisitRequest{Team: []string{worker}, OccurredAt: occurred.Format(time.RFC3339), Mode: "home", Outcome: "completed", Purpose: "festival", Relief: relief}
		var res CommandResult
		must(e.do("POST", "/v1/households/"+id+"/visits", tok, v), 200, "visit "+id).decode(t, &res)
		pos = res.Position
	}
	visit(w1, "h1", "C1", "G1", "李四",
		ReliefRequest{Kind: "goods", Items: []ReliefItemRequest{{Name: "月饼", Quantity: 2, Unit: "盒"}, {Name: "大米", Quantity: 1, Unit: "袋"}}, RecipientMemberID: "m1", AckMethod: "signature"},
		ReliefRequest{Kind: "cash", AmountFen: 50000, RecipientMemberID: "m1", AckMethod: "thumbprint", AckRef: "attach/ack-1"})
	visit(w1, "h3", "C1", "G1", "李四", ReliefRequest{Kind: "temporary_relief", AmountFen: 20000, RecipientMemberID: "m1", AckMethod: "photo"})
	visit(w2, "h2", "C2", "G2", "张三", ReliefRequest{Kind: "cash", AmountFen: 10000, RecipientMemberID: "m1", AckMethod: "signature"})

	var l ReliefLedger
	r := must(e.do("GET", "/v1/relief?community=C1&period="+period+"&wait_for="+pos, sup, nil), 200, "ledger C1")
	r.decode(t, &l)
	if l.Count != 3 || len(l.Handovers) != 3 || l.Community != "C1" || l.Period != period {
		t.Fatalf("ledger C1: %s", r.body)
	}
	if strings.Contains(string(r.body), "王大爷") || strings.Contains(string(r.body), "attach/ack-1") {
		t.Fatalf("the ledger names the recipient or copies the acknowledgement: %s", r.body)
	}
	for _, h := range l.Handovers {
		if h.Community != "C1" || h.Grid != "G1" || h.RecipientMemberID != "m1" || h.VisitID == "" || !h.OccurredAt.Equal(occurred.Truncate(time.Second)) {
			t.Errorf("handover %+v", h)
		}
	}
	want := map[string]ReliefTotal{
		"cash":             {Kind: "cash", KindZH: "慰问金", Handovers: 1, AmountFen: 50000},
		"goods":            {Kind: "goods", KindZH: "慰问物资", Handovers: 1, Units: 3},
		"temporary_relief": {Kind: "temporary_relief", KindZH: "临时救助", Handovers: 1, AmountFen: 20000},
	}
	if len(l.Totals) != len(want) {
		t.Fatalf("totals %+v", l.Totals)
	}
	for _, tot := range l.Totals {
		wt := want[tot.Kind]
		wt.KindEN = tot.KindEN
		if tot != wt || tot.KindEN == "" {
			t.Errorf("total %+v, want %+v", tot, wt)
		}
	}

	// A page of one still totals the whole month.
	must(e.do("GET", "/v1/relief?community=C1&period="+period+"&limit=1", sup, nil), 200, "page").decode(t, &l)
	if len(l.Handovers) != 1 || l.Count != 3 || len(l.Totals) != 3 {
		t.Fatalf("page of one: %+v", l)
	}
	// Another month is empty; the auditor reads the whole street.
	must(e.do("GET", "/v1/relief?community=C1&period="+next, sup, nil), 200, "next month").decode(t, &l)
	if l.Count != 0 || len(l.Handovers) != 0 || len(l.Totals) != 0 {
		t.Fatalf("next month: %+v", l)
	}
	must(e.do("GET", "/v1/relief?period="+period, aud, nil), 200, "street").decode(t, &l)
	if l.Count != 4 || l.Totals[0].Kind != "cash" || l.Totals[0].AmountFen != 60000 || l.Totals[0].Handovers != 2 {
		t.Fatalf("street: %+v", l)
	}

	// Scope, role and bad input, bilingual.
	if r := e.do("GET", "/v1/relief?community=C2&period="+period, sup, nil); r.status != 403 || r.problem(t).Code != "out_of_scope" {
		t.Errorf("another community: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/relief?community=C1&period="+period, w1, nil); r.status != 403 || r.problem(t).Code != "role_forbidden" {
		t.Errorf("worker: %d %s", r.status, r.body)
	}
	for q, code := range map[string]string{"": "required", "2026-13": "invalid_period", "2026-3": "invalid_period", "2026-Q1": "invalid_period"} {
		r := e.do("GET", "/v1/relief?community=C1&period="+q, sup, nil)
		if p := r.problem(t); r.status != 400 || p.Code != code || p.MessageZH == "" || p.MessageEN == "" {
			t.Errorf("period %q: %d %s", q, r.status, r.body)
		}
	}
}
