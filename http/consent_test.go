package http

import (
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// TestMemberConsentThroughTheAPI: a member's consent for a purpose is
// recorded and withdrawn through POST /v1/households/{id}/consent (the old
// household body keeps working), a withdrawal refuses new sealed data of
// that kind for that member with a bilingual error saying how to fix it,
// and GET /v1/households/{id}/consent shows the state and the history.
func TestMemberConsentThroughTheAPI(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	must := func(r resp, want int, what string) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	must(e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")), 201, "register")
	must(e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(true), Scope: "走访"}), 200, "household consent")
	must(e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人", Phone: "13900000002"}), 201, "member")

	// Bad bodies, bilingual.
	for _, c := range []struct {
		body ConsentRequest
		code string
	}{
		{ConsentRequest{Given: new(false), Purpose: "service_matching", Reference: "F-1"}, "required"},
		{ConsentRequest{Given: new(false), MemberID: "m1", Reference: "F-1"}, "required"},
		{ConsentRequest{Given: new(false), MemberID: "m1", Purpose: "service_matching", Reason: "不想", Reference: "F-1"}, "free_text_not_allowed"},
		{ConsentRequest{Given: new(false), MemberID: "m1", Purpose: "marketing", Reference: "F-1"}, "invalid_purpose"},
		{ConsentRequest{Given: new(false), MemberID: "m1", Purpose: "service_matching"}, "required"},
	} {
		r := e.do("POST", "/v1/households/h1/consent", w, c.body, "Accept-Language", "zh-CN")
		if p := r.problem(t); r.status/100 != 4 || p.Code != c.code || !strings.ContainsAny(p.Detail, "请的为") {
			t.Fatalf("%+v: %d %s", c.body, r.status, r.body)
		}
	}
	must(e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(false), MemberID: "m1", Purpose: "service_matching", Reference: "F-2026-01"}), 200, "withdraw")

	r := e.do("POST", "/v1/households/h1/members/m1/change", w, MemberRequest{Name: "陈阿姨", Relation: "本人", Health: "高血压", Reason: "复核"})
	if p := r.problem(t); r.status != 422 || p.Code != "consent_withdrawn" || !strings.Contains(p.Detail, "service_matching") {
		t.Fatalf("health after withdrawal: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/v1/households/h1/members/m1/change", w, MemberRequest{Name: "陈阿姨", Relation: "本人", Health: "高血压", Reason: "复核"}, "Accept-Language", "zh-CN")
	if p := r.problem(t); !strings.Contains(p.Detail, "已撤回") {
		t.Fatalf("in Chinese: %s", r.body)
	}
	must(e.do("POST", "/v1/households/h1/members/m1/change", w, MemberRequest{Name: "陈阿姨", Relation: "本人", Phone: "13900000003", Reason: "换号"}), 200, "phone: another purpose")

	var list ConsentList
	must(e.do("GET", "/v1/households/h1/consent", w, nil), 200, "consent list").decode(t, &list)
	if !list.HouseholdConsent || len(list.Members) != 2 || len(list.History) != 1 {
		t.Fatalf("consent list: %+v", list)
	}
	for _, s := range list.Members {
		want := ConsentState{MemberID: "m1", Purpose: "visit_preparation", PurposeZH: "走访准备", Given: true, Source: "household"}
		if s.Purpose == "service_matching" {
			want = ConsentState{MemberID: "m1", Purpose: "service_matching", PurposeZH: "服务对接", Given: false, Source: "member"}
		}
		if s != want {
			t.Fatalf("state %+v, want %+v", s, want)
		}
	}
	if h := list.History[0]; h.MemberID != "m1" || h.Given || h.Reference != "F-2026-01" || h.By != "李四" || h.At.IsZero() {
		t.Fatalf("history: %+v", h)
	}
	must(e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(true), MemberID: "m1", Purpose: "service_matching", Reference: "F-2026-02"}), 200, "given again")
	must(e.do("POST", "/v1/households/h1/members/m1/change", w, MemberRequest{Name: "陈阿姨", Relation: "本人", Health: "高血压", Reason: "复核"}), 200, "health after consent")
}
