package http

import (
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// Issue 13 item 14, through the API: changing a member's phone erased
// their ID number, income and health (the change replaced all details).
// A change that sends only the phone keeps everything else.
func TestChangeMemberThroughTheAPIMerges(t *testing.T) {
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
	must(e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(true)}), 200, "consent")
	must(e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人", Occupation: "退休",
		IDNumber: "110101195001011234", Phone: "13900000002", Income: "1200", Health: "高血压"}), 201, "member")
	var res CommandResult
	must(e.do("POST", "/v1/households/h1/members/m1/change", w, MemberRequest{Phone: "13900000003", Reason: "换号"}), 200, "change the phone").decode(t, &res)
	body := string(must(e.do("GET", "/v1/households/h1?purpose=visit_preparation&wait_for="+res.Position, w, nil), 200, "reveal").body)
	for _, want := range []string{`"value":"13900000003"`, `"value":"110101195001011234"`, `"value":"1200"`, `"value":"高血压"`, `"name":"陈阿姨"`, `"occupation":"退休"`} {
		if !strings.Contains(body, want) {
			t.Errorf("after changing only the phone, the profile lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, "13900000002") {
		t.Errorf("the old phone is still shown: %s", body)
	}
}
