package http

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// TestRevealNeedsAPurpose: every role reads masks; revealing without a
// purpose, with one not on the list, one the role is not granted, or
// outside the scope is refused in both languages; a reveal with a purpose
// is recorded with it, auditors list the record, and tampering with it is
// detected.
func TestRevealNeedsAPurpose(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	far := e.token(identity.Principal{Name: "王五", Role: identity.RoleWorker, Grids: []string{"G9"}, Sensitive: true})
	nogrant := e.token(identity.Principal{Name: "赵六", Role: identity.RoleWorker, Grids: []string{"G1"}})
	aud := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor, Sensitive: true})
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true})
	must := func(r resp, want int, what string) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	must(e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")), 201, "register")
	must(e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(true)}), 200, "consent")
	var res CommandResult
	must(e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人", Phone: "13900000002"}), 201, "member").decode(t, &res)

	// Masked by default, for every role, even with the sensitive grant.
	for _, tok := range []string{w, aud, e.admin} {
		r := must(e.do("GET", "/v1/households/h1?wait_for="+res.Position, tok, nil), 200, "masked read")
		if strings.Contains(string(r.body), "13900000002") || !strings.Contains(string(r.body), `"masked":true`) {
			t.Fatalf("default read: %s", r.body)
		}
	}
	if n := e.access.count(); n != 0 {
		t.Fatalf("masked reads recorded: %d", n)
	}
	// Refusals, each in English and Chinese.
	for _, c := range []struct {
		tok, query string
		status     int
		code       string
	}{
		{w, "?reveal=true", 400, "purpose_required"},
		{w, "?purpose=curiosity", 400, "invalid_purpose"},
		{aud, "?purpose=visit_preparation", 403, "purpose_not_granted"},
		{nogrant, "?purpose=visit_preparation", 403, "sensitive_not_granted"},
		{far, "?purpose=visit_preparation", 404, "household_not_found"}, // outside the scope reads as missing (decision 0088)
	} {
		r := e.do("GET", "/v1/households/h1"+c.query, c.tok, nil, "Accept-Language", "zh-CN")
		p := r.problem(t)
		if r.status != c.status || p.Code != c.code || p.MessageEN == "" || p.MessageZH == "" || !strings.ContainsFunc(p.Detail, func(r rune) bool { return r >= 0x4E00 && r <= 0x9FFF }) {
			t.Errorf("%s: %d %s, want %d %s in both languages", c.query, r.status, r.body, c.status, c.code)
		}
	}
	if n := e.access.count(); n != 0 {
		t.Fatalf("refused reveals recorded: %d", n)
	}
	// With a purpose the role is granted: the values, and a record with the purpose.
	r := must(e.do("GET", "/v1/households/h1?purpose=visit_preparation", w, nil), 200, "reveal")
	if !strings.Contains(string(r.body), `"value":"13900000002"`) {
		t.Fatalf("reveal: %s", r.body)
	}
	must(e.do("GET", "/v1/households/h1?purpose=audit", aud, nil), 200, "auditor's reveal")
	var rec RevealRecord
	must(e.do("GET", "/v1/sensitive-reads", aud, nil), 200, "record").decode(t, &rec)
	if !rec.Chain.Verified || rec.Chain.Records != 2 || len(rec.Reads) != 2 || rec.Reads[0].Purpose != "audit" || rec.Reads[1].Purpose != "visit_preparation" ||
		rec.Reads[1].Actor != "李四" || rec.Reads[0].Hash != rec.Chain.Head || rec.Reads[0].Prev != rec.Reads[1].Hash {
		t.Fatalf("record of reveals: %+v", rec)
	}
	if strings.Contains(string(must(e.do("GET", "/v1/sensitive-reads", aud, nil), 200, "record").body), "13900000002") {
		t.Fatal("the record of reveals holds a value read")
	}
	// The event stream: markers without a purpose, even with the grant;
	// values with one, recorded with it.
	for _, c := range []struct{ query, want string }{
		{"?after=0&type=household.member_added", `"phone":{"sealed":true}`},
		{"?after=0&type=household.member_added&purpose=visit_preparation", `"phone":{"value":"13900000002"}`},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		sr, hres := e.openStream(t, ctx, sup, c.query, "")
		if hres.StatusCode != 200 {
			t.Fatalf("stream %s: %d", c.query, hres.StatusCode)
		}
		if ev := sr.next(t); !strings.Contains(ev.data, c.want) {
			t.Fatalf("stream %s: %s", c.query, ev.data)
		}
		cancel()
	}
	if r := e.do("GET", "/v1/events?purpose=audit", sup, nil); r.status != 403 || r.problem(t).Code != "purpose_not_granted" {
		t.Fatalf("stream with a purpose not granted: %d %s", r.status, r.body)
	}
	must(e.do("GET", "/v1/sensitive-reads", aud, nil), 200, "record").decode(t, &rec)
	if rec.Chain.Records != 3 || rec.Reads[0].Purpose != "visit_preparation" || !strings.Contains(rec.Reads[0].What, "event") {
		t.Fatalf("the stream's reveal recorded as %+v", rec.Reads[0])
	}
	// Someone edits the file to hide why a read was made: detected.
	b, err := os.ReadFile(e.access.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.access.path, bytes.Replace(b, []byte(`"purpose":"visit_preparation"`), []byte(`"purpose":"statutory_report"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	must(e.do("GET", "/v1/sensitive-reads", aud, nil), 200, "record").decode(t, &rec)
	if rec.Chain.Verified || !strings.Contains(rec.Chain.Problem, "record 1 was altered") {
		t.Fatalf("tampering not detected: %+v", rec.Chain)
	}
}
