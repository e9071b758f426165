package http

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// Issue 13 item 14, decision 0088: 403 for an id outside the caller's
// scope and 404 for one that does not exist told a worker which ids exist
// elsewhere. TestOutOfScopeIsIndistinguishableFromMissing walks scoped
// tokens over every route that names a household, problem or referral:
// once with the ids of records outside their scope (hG2, pG2, rG2,
// archG2), once with ids of the same length that never existed (hX2, …),
// on reads and commands, plain, with If-Match and with an
// Idempotency-Key sent twice (the replay path). Status, headers (but the
// date and request id) and body must be identical once the id is
// substituted.
func TestOutOfScopeIsIndistinguishableFromMissing(t *testing.T) {
	e := newEnv(t, nil)
	f := seed(t, e)
	ghost := f
	ghost.h[1], ghost.p[1], ghost.r[1], ghost.arch[1], ghost.rect[1], ghost.spot[1] = "hX2", "pX2", "rX2", "archX2", "rect-X2", "Q9"
	same := strings.NewReplacer("hX2", "hG2", "pX2", "pG2", "rX2", "rG2", "archX2", "archG2", "rect-X2", "rect-C2", "Q9", "C2")
	tokens := map[identity.Role]string{}
	for _, p := range []identity.Principal{
		{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true},
		{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true},
		{Name: "住建局", Role: identity.RoleDepartment, Department: "住建局"},
	} {
		tokens[p.Role] = e.token(p)
	}
	n, compared := 0, 0
	for _, rt := range e.srv.routes {
		if !scoped(rt.op) || rt.stream || strings.HasPrefix(rt.op, "list") || rt.op == "registerHousehold" || rt.op == "getMeasures" || rt.op == "getCoverage" || rt.op == "amendPeriod" || rt.op == "assignCommunitySupervisor" {
			continue
		}
		for _, role := range []identity.Role{identity.RoleWorker, identity.RoleSupervisor, identity.RoleDepartment} {
			if rt.roles != nil && !slices.Contains(rt.roles, role) {
				continue
			}
			n++
			variants := [][]string{nil}
			if rt.method == "POST" {
				variants = [][]string{nil, {"If-Match", `"1"`}, {"If-Match", "*"},
					{"Idempotency-Key", fmt.Sprint("k-", n)}, {"Idempotency-Key", fmt.Sprint("k-", n)}}
			}
			for _, hdr := range variants {
				path, body := f.request(rt.op, false, n)
				gpath, gbody := ghost.request(rt.op, false, n)
				if path == gpath && fmt.Sprint(body) == fmt.Sprint(gbody) {
					t.Fatalf("%s: the request names no id", rt.op)
				}
				a := e.do(rt.method, path, tokens[role], body, hdr...)
				b := e.do(rt.method, gpath, tokens[role], gbody, hdr...)
				name := fmt.Sprintf("%s %s as %s %v", rt.method, path, role, hdr)
				if a.status != 404 {
					t.Errorf("%s: %d %s, want 404", name, a.status, a.body)
				}
				if a.status != b.status || !bytes.Equal(a.body, []byte(same.Replace(string(b.body)))) {
					t.Errorf("%s: exists elsewhere %d %s; never existed %d %s", name, a.status, a.body, b.status, b.body)
				}
				for _, h := range []map[string][]string{a.header, b.header} {
					delete(h, "Date")
					delete(h, "X-Request-Id")
				}
				if fmt.Sprint(a.header) != same.Replace(fmt.Sprint(b.header)) {
					t.Errorf("%s: headers differ: %v / %v", name, a.header, b.header)
				}
				compared++
			}
		}
	}
	if compared < 100 {
		t.Fatalf("only %d comparisons", compared)
	}
	t.Logf("%d request pairs over %d route × role cells", compared, n)
}

// A create naming an id already taken answers the same 409 whether the
// record is in the caller's scope or not, and tells nothing of the record
// (decision 0088).
func TestCreateWithATakenIDAnswersTheSameInAndOutOfScope(t *testing.T) {
	e := newEnv(t, nil)
	f := seed(t, e)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	same := strings.NewReplacer("hG1", "hG2", "pG1", "pG2", "rG1", "rG2")
	for _, c := range []struct {
		path, code string
		body       func(id string) any
		in, out    string
	}{
		{"/v1/households", "household_exists", func(id string) any {
			return RegisterHouseholdRequest{HouseholdID: id, Address: "新路 1", Community: "C1", Grid: "G1", ResponsibleWorker: "李四", Class: "ordinary", Risk: "green"}
		}, f.h[0], f.h[1]},
		{"/v1/problems", "problem_exists", func(id string) any {
			return ReportProblemRequest{ProblemID: id, HouseholdID: f.h[0], Description: "问题", Category: "service", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}
		}, f.p[0], f.p[1]},
		{"/v1/referrals", "referral_exists", func(id string) any {
			return RequestReferralRequest{ReferralID: id, ProblemID: f.p[0], Level: "street", To: "住建局", Request: "协调"}
		}, f.r[0], f.r[1]},
	} {
		in := e.do("POST", c.path, w, c.body(c.in))
		out := e.do("POST", c.path, w, c.body(c.out))
		if in.status != 409 || in.problem(t).Code != c.code {
			t.Fatalf("%s in scope: %d %s", c.path, in.status, in.body)
		}
		if out.status != in.status || string(out.body) != same.Replace(string(in.body)) {
			t.Errorf("%s: in scope %d %s; outside %d %s", c.path, in.status, in.body, out.status, out.body)
		}
		if strings.Contains(string(out.body), "WT20") || strings.Contains(string(out.body), "C2") {
			t.Errorf("%s: the conflict tells of the record: %s", c.path, out.body)
		}
	}
}
