package http

import (
	"bytes"
	"context"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// TestErasureThroughTheAPI: a supervisor asks, the same person may not
// approve, a privacy officer does; afterwards the profile (with and without
// the grant), the event stream and the audit trail show the member's fields
// as erased, the measures are as they were, and nothing personal is in the
// erasure events.
func TestErasureThroughTheAPI(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true})
	aud := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor})
	po := e.token(identity.Principal{Name: "老周", Role: identity.RolePrivacyOfficer})
	po2 := e.token(identity.Principal{Name: "督导", Role: identity.RolePrivacyOfficer}) // the requester's name, another role
	must := func(r resp, want int, what string) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	// 低保 with a disability (decision 0147): neither label in clear in any
	// file; the class rule makes the household key.
	reg := registerBody("h1", "C1", "G1")
	reg.Class, reg.Category, reg.Circumstances = "", "di_bao", []string{"disability"}
	must(e.do("POST", "/v1/households", w, reg), 201, "register")
	must(e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(true)}), 200, "consent")
	must(e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人", Phone: "13900000002", Health: "轻度认知障碍"}), 201, "member")
	var res CommandResult
	must(e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m2", Name: "陈叔", Relation: "配偶", Phone: "13900000003"}), 201, "member 2").decode(t, &res)
	measuresBefore := must(e.do("GET", "/v1/measures?community=C1&wait_for="+res.Position, aud, nil), 200, "measures").body

	// Refusals: a worker may not ask; a bad legal basis; the requester may
	// not approve (bilingual).
	body := ErasureRequestBody{RequestID: "er1", Scope: "member", MemberID: "m1", LegalBasis: "consent_withdrawn", Reference: "PIPL-2026-07"}
	if r := e.do("POST", "/v1/households/h1/erasure", w, body); r.status != 403 || r.problem(t).Code != "role_forbidden" {
		t.Fatalf("worker asks: %d %s", r.status, r.body)
	}
	bad := body
	bad.LegalBasis = "whim"
	if r := e.do("POST", "/v1/households/h1/erasure", sup, bad); r.status != 400 || r.problem(t).Code != "invalid_legal_basis" {
		t.Fatalf("bad basis: %d %s", r.status, r.body)
	}
	// Sealed text (decision 0108): the names and the address are in no
	// file in clear, the views show them opened, and search finds the
	// household by a member's whole name and by its address.
	e.noneInClear(t, "陈阿姨", "陈叔", "幸福路 1 号 6 楼", "di_bao", "disability")
	var prof HouseholdProfile
	must(e.do("GET", "/v1/households/h1?wait_for="+res.Position, w, nil), 200, "profile").decode(t, &prof)
	if prof.Address != "幸福路 1 号 6 楼" || len(prof.Members) != 2 || prof.Members[0].Name != "陈阿姨" || prof.Members[1].Name != "陈叔" {
		t.Fatalf("sealed text opened in the profile: %+v", prof)
	}
	if prof.Category != "di_bao" || prof.Class != "key" {
		t.Fatalf("sealed category opened in the profile: category %q class %q", prof.Category, prof.Class)
	}
	found := func(q string) bool {
		t.Helper()
		var list HouseholdList
		must(e.do("GET", "/v1/households?q="+url.QueryEscape(q), w, nil), 200, "search "+q).decode(t, &list)
		return len(list.Households) == 1 && list.Households[0].HouseholdID == "h1"
	}
	if !found("陈阿姨") || !found("陈 叔") || !found("幸福路1号6楼") || found("陈") || found("王秀英") {
		t.Fatal("search by sealed name or address before the erasure")
	}
	must(e.do("POST", "/v1/households/h1/erasure", sup, body), 201, "request")
	r := e.do("POST", "/v1/households/h1/erasure/er1/approve", po2, nil, "Accept-Language", "zh-CN")
	if p := r.problem(t); r.status != 422 && r.status != 409 || p.Code != "second_person_required" || !strings.Contains(p.Detail, "批准") {
		t.Fatalf("self-approval: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/erasure/er1/approve", sup, nil); r.status != 403 {
		t.Fatalf("supervisor approves: %d %s", r.status, r.body)
	}
	must(e.do("POST", "/v1/households/h1/erasure/er1/approve", po, nil), 200, "approve").decode(t, &res)

	var list ErasureList
	must(e.do("GET", "/v1/households/h1/erasure", po, nil), 200, "list").decode(t, &list)
	if len(list.Requests) != 1 || !list.Requests[0].Completed || list.Requests[0].ApprovedBy != "老周" || list.Requests[0].RequestedBy != "督导" || list.Erased {
		t.Fatalf("erasure list: %+v", list)
	}

	// The profile: m1's fields erased for everyone, m2's still there.
	must(e.do("GET", "/v1/households/h1?purpose=visit_preparation&wait_for="+res.Position, w, nil), 200, "profile").decode(t, &prof)
	m1, m2 := prof.Members[0], prof.Members[1]
	if !m1.Phone.Erased || !m1.Health.Erased || m1.Phone.Value != "" || m2.Phone.Value != "13900000003" {
		t.Fatalf("profile with the grant after erasure: %+v %+v", m1, m2)
	}
	must(e.do("GET", "/v1/households/h1", aud, nil), 200, "profile").decode(t, &prof)
	if !prof.Members[0].Phone.Erased || !prof.Members[1].Phone.Masked || prof.Members[1].Phone.Erased {
		t.Fatalf("masked profile after erasure: %+v", prof.Members)
	}
	// m1's name is erased with m1's key and no longer found; m2 still is.
	if prof.Members[0].Name != "[erased]" || prof.Members[1].Name != "陈叔" || prof.Address != "幸福路 1 号 6 楼" {
		t.Fatalf("sealed text after the member's erasure: %+v", prof)
	}
	if found("陈阿姨") || !found("陈叔") {
		t.Fatal("search after the member's erasure")
	}
	if prof.Category != "di_bao" { // under the household's key, still there
		t.Fatalf("category after the member's erasure: %q", prof.Category)
	}
	e.noneInClear(t, "陈阿姨", "陈叔", "幸福路 1 号 6 楼", "di_bao", "disability")
	// The audit trail says erased for m1, sealed for m2.
	trail := string(must(e.do("GET", "/v1/households/h1/audit", aud, nil), 200, "audit").body)
	if !strings.Contains(trail, `"field":"member.m1.phone","before":"","after":"[erased]"`) || !strings.Contains(trail, `"field":"member.m2.phone","before":"","after":"[sealed]"`) {
		t.Fatalf("audit trail after erasure: %s", trail)
	}
	// The event stream: erased with or without the grant.
	for _, tok := range []string{sup, aud} {
		ctx, cancel := context.WithCancel(context.Background())
		sr, hres := e.openStream(t, ctx, tok, "?after=0&type=household.member_added", "")
		if hres.StatusCode != 200 {
			t.Fatalf("stream: %d", hres.StatusCode)
		}
		first, second := sr.next(t), sr.next(t)
		cancel()
		if !strings.Contains(first.data, `"phone":{"erased":true}`) || strings.Contains(second.data, `"phone":{"erased":true}`) {
			t.Fatalf("stream after erasure:\n%s\n%s", first.data, second.data)
		}
	}
	// Closed measures unchanged.
	if after := must(e.do("GET", "/v1/measures?community=C1", aud, nil), 200, "measures").body; string(after) != string(measuresBefore) {
		t.Fatalf("measures changed by the erasure:\n%s\n%s", measuresBefore, after)
	}
	// A whole household's erasure: its category and its class (both sealed,
	// decisions 0147 and 0148) read as erased, and the class filter, which
	// opens the class, no longer finds it.
	reg = registerBody("h2", "C1", "G1")
	reg.Class, reg.Category, reg.Circumstances = "special", "te_kun", []string{"disability"}
	must(e.do("POST", "/v1/households", w, reg), 201, "register h2").decode(t, &res)
	classList := func(class, wait string) []string {
		t.Helper()
		var list HouseholdList
		must(e.do("GET", "/v1/households?class="+class+"&wait_for="+wait, w, nil), 200, "class filter "+class).decode(t, &list)
		var ids []string
		for _, h := range list.Households {
			ids = append(ids, h.HouseholdID)
			if h.Class != class {
				t.Errorf("class filter %s: %s shows class %q", class, h.HouseholdID, h.Class)
			}
		}
		return ids
	}
	if got := classList("special", res.Position); !slices.Equal(got, []string{"h2"}) {
		t.Fatalf("class filter special before the erasure: %v", got)
	}
	if got := classList("key", res.Position); !slices.Equal(got, []string{"h1"}) {
		t.Fatalf("class filter key before the erasure: %v", got)
	}
	e.noneInClear(t, "te_kun", "disability", `"class":"special"`, `"class":"key"`, `"to":"special"`)
	must(e.do("POST", "/v1/households/h2/erasure", sup, ErasureRequestBody{RequestID: "er2", Scope: "household", LegalBasis: "consent_withdrawn", Reference: "PIPL-2026-08"}), 201, "request h2")
	must(e.do("POST", "/v1/households/h2/erasure/er2/approve", po, nil), 200, "approve h2").decode(t, &res)
	must(e.do("GET", "/v1/households/h2?wait_for="+res.Position, aud, nil), 200, "profile h2").decode(t, &prof)
	if prof.Category != "[erased]" || prof.Class != "[erased]" {
		t.Fatalf("labels after the household's erasure: category %q class %q", prof.Category, prof.Class)
	}
	if got := classList("special", res.Position); len(got) != 0 {
		t.Fatalf("class filter special after the erasure: %v", got)
	}
	e.noneInClear(t, "te_kun", "disability", `"class":"special"`, `"class":"key"`)
}

// noneInClear fails if any file the server wrote (event store and its WAL,
// read models, key store, record of reveals, tokens) holds one of the
// strings in clear.
func (e *testEnv) noneInClear(t *testing.T, secrets ...string) {
	t.Helper()
	dir := filepath.Dir(e.access.path)
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("%q in clear in %s", s, path)
			}
		}
		return nil
	})
	if err != nil || n < 4 {
		t.Fatalf("walking the server's files: %d files, %v", n, err)
	}
}
