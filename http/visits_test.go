package http

import (
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// 001 §4.2 over HTTP (decision 0120): a special household's home visit by
// the grid worker alone is refused, naming in English and Chinese who and
// what is missing; the complete visit is accepted; an ordinary household
// still takes the request of before (team by names); lists are bounded.
func TestSeed001_4_2_VisitAsEvidenceOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	occurred := clock.Now().Add(-time.Hour).Format(time.RFC3339)
	old := VisitRequest{Team: []string{"李四"}, OccurredAt: occurred, Mode: "home", Outcome: "completed"}
	r := e.do("POST", "/v1/households/h1/visits", w, old)
	p := r.problem(t)
	if r.status != 422 || p.Code != "visit_incomplete" || !strings.Contains(p.MessageEN, "as doctor") || !strings.Contains(p.MessageZH, "再有 1 名医生参加走访") ||
		!strings.Contains(p.MessageZH, "定位签到") {
		t.Fatalf("incomplete visit: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/visits", w, fullVisit(old)); r.status != 200 {
		t.Fatalf("complete visit: %d %s", r.status, r.body)
	}
	other := e.token(identity.Principal{Name: "王五", Role: identity.RoleWorker, Grids: []string{"G1"}})
	if r := e.do("POST", "/v1/households/h1/visits", other, fullVisit(old)); r.status != 422 || r.problem(t).Code != "recorder_not_on_team" {
		t.Fatalf("recorder not on the team: %d %s", r.status, r.body)
	}
	big := fullVisit(old)
	for i := range 21 {
		big.Members = append(big.Members, VisitMemberRequest{Person: "志愿者" + string(rune('甲'+i)), Role: "volunteer"})
	}
	if r := e.do("POST", "/v1/households/h1/visits", w, big); r.status != 400 || r.problem(t).Field != "members" {
		t.Fatalf("too many members: %d %s", r.status, r.body)
	}
	bad := fullVisit(old)
	bad.NextContact.At = "next week"
	if r := e.do("POST", "/v1/households/h1/visits", w, bad); r.status != 400 || r.problem(t).Field != "next_contact.at" {
		t.Fatalf("bad next contact: %d %s", r.status, r.body)
	}
	ord := registerBody("h2", "C1", "G1")
	ord.Class = "ordinary"
	if r := e.do("POST", "/v1/households", w, ord); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h2/visits", w, old); r.status != 200 {
		t.Fatalf("the request of before, ordinary household: %d %s", r.status, r.body)
	}
}

// 000 §2.1 慰问金或物资 over HTTP (decision 0122): relief handed over on a
// festival visit, acknowledged by a member; an amount on goods is refused
// in English and Chinese.
func TestSeed000_2_1_ReliefOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	ord := registerBody("h1", "C1", "G1")
	ord.Class = "ordinary"
	if r := e.do("POST", "/v1/households", w, ord); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/members", w, map[string]any{"member_id": "m1", "name": "王大爷", "relation": "本人"}); r.status != 201 {
		t.Fatalf("member: %d %s", r.status, r.body)
	}
	v := VisitRequest{Team: []string{"李四"}, OccurredAt: clock.Now().Add(-time.Hour).Format(time.RFC3339), Mode: "home", Outcome: "completed", Purpose: "festival",
		Relief: []ReliefRequest{{Kind: "goods", AmountFen: 100, Items: []ReliefItemRequest{{Name: "月饼", Quantity: 2, Unit: "盒"}}, RecipientMemberID: "m1", AckMethod: "signature"}}}
	r := e.do("POST", "/v1/households/h1/visits", w, v)
	if p := r.problem(t); r.status != 400 || p.Code != "invalid_relief_items" || !strings.Contains(p.MessageZH, "不填金额") {
		t.Fatalf("goods with an amount: %d %s", r.status, r.body)
	}
	v.Relief[0].AmountFen = 0
	v.Relief = append(v.Relief, ReliefRequest{Kind: "cash", AmountFen: 50000, RecipientMemberID: "m1", AckMethod: "thumbprint", AckRef: "attach/ack-1"})
	if r := e.do("POST", "/v1/households/h1/visits", w, v); r.status != 200 {
		t.Fatalf("festival visit with relief: %d %s", r.status, r.body)
	}
}
