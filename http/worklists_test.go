package http

import (
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// TestWorklists_001_3_1: the department's worklist over HTTP (001 §3.1: the
// receiving department settles responsibility and a time limit within 3
// working days). 住建局 lists the referrals awaiting it, accepts one with a
// time limit and declines the other with a reason, which sends it back to
// the worker's list; the worker lists their open problems, and nobody
// lists outside their scope.
func TestWorklists_001_3_1(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	dept := e.token(identity.Principal{Name: "住建局", Role: identity.RoleDepartment, Department: "住建局"})
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	must(e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")), 201)
	for _, id := range []string{"lift", "rail"} {
		must(e.do("POST", "/v1/problems", w, ReportProblemRequest{ProblemID: id, HouseholdID: "h1", Description: "六楼无电梯",
			Category: "living_security", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}), 201)
		must(e.do("POST", "/v1/referrals", w, RequestReferralRequest{ReferralID: "r-" + id, ProblemID: id, Level: "department", To: "住建局", Request: "加装"}), 201)
	}
	var res CommandResult
	must(e.do("POST", "/v1/problems", w, ReportProblemRequest{ProblemID: "other", HouseholdID: "h1", Description: "漏水",
		Category: "service", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}), 201).decode(t, &res)

	var refs ReferralList
	must(e.do("GET", "/v1/referrals?status=requested&sort=due&wait_for="+res.Position, dept, nil), 200).decode(t, &refs)
	if len(refs.Referrals) != 2 || refs.Referrals[0].Department != "住建局" || refs.Referrals[0].Due == nil || refs.Referrals[0].StatusZH == "" {
		t.Fatalf("awaiting 住建局: %+v", refs)
	}
	must(e.do("POST", "/v1/referrals/r-lift/accept", dept, AcceptRequest{Responsible: "张科长", TimeLimit: "3 months"}), 200)
	r := must(e.do("POST", "/v1/referrals/r-rail/decline", dept, ReasonRequest{Reason: "扶手不属于住建局，请找街道"}), 200)
	r.decode(t, &res)
	must(e.do("GET", "/v1/referrals?status=requested&wait_for="+res.Position, dept, nil), 200).decode(t, &refs)
	if len(refs.Referrals) != 0 {
		t.Fatalf("still awaiting: %+v", refs)
	}
	// Sent back: the worker sees the declined referral in their grid.
	must(e.do("GET", "/v1/referrals?status=declined", w, nil), 200).decode(t, &refs)
	if len(refs.Referrals) != 1 || refs.Referrals[0].ID != "r-rail" {
		t.Fatalf("declined, in the worker's list: %+v", refs)
	}
	must(e.do("GET", "/v1/referrals?assignee=张科长", dept, nil), 200).decode(t, &refs)
	if len(refs.Referrals) != 1 || refs.Referrals[0].Status != "accepted" || refs.Referrals[0].Responsible != "张科长" {
		t.Fatalf("accepted by 张科长: %+v", refs)
	}
	// My open problems: the referred ones are in progress, the other open.
	var pl ProblemList
	must(e.do("GET", "/v1/problems?assignee=李四&status=open,in_progress&sort=created", w, nil), 200).decode(t, &pl)
	if len(pl.Problems) != 3 || pl.Problems[0].Status != "in_progress" || pl.Problems[2].Status != "open" || pl.Problems[2].Due == nil {
		t.Fatalf("my open problems: %+v", pl)
	}
	must(e.do("GET", "/v1/problems?department=住建局&sort=created", w, nil), 200).decode(t, &pl)
	if len(pl.Problems) != 2 {
		t.Fatalf("problems referred to 住建局: %+v", pl)
	}
	// Scope and bad input, with bilingual errors.
	for _, c := range []struct {
		path, token string
		status      int
		code        string
	}{
		{"/v1/referrals?department=民政局", dept, 403, "out_of_scope"},
		{"/v1/problems?grid=G2", w, 403, "out_of_scope"},
		{"/v1/problems", dept, 403, "role_forbidden"},
		{"/v1/problems?status=lost", w, 400, "invalid_status"},
		{"/v1/problems?sort=colour", w, 400, "invalid_sort"},
		{"/v1/referrals?stage=late", dept, 400, "invalid_stage"},
		{"/v1/problems?created_from=yesterday", w, 400, "invalid_time"},
		{"/v1/problems?limit=100000", w, 400, "invalid_limit"},
		{"/v1/referrals?return_visit_due=true", dept, 400, "unknown_parameter"},
	} {
		r := e.do("GET", c.path, c.token, nil)
		if p := r.problem(t); r.status != c.status || p.Code != c.code || p.MessageZH == "" {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, r.status, r.body, c.status, c.code)
		}
	}
}

// Test004_3_2_ReturnVisitBeforeClosing: 解决后回访…收集满意度 (004 §3.2) over
// HTTP. The worker who resolved a problem cannot close it (422, in English
// and Chinese); it is listed as a return visit due until the supervisor's
// office surveys the household by phone; then it closes.
func Test004_3_2_ReturnVisitBeforeClosing(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	sup := e.token(identity.Principal{Name: "王书记", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	must(e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")), 201)
	must(e.do("POST", "/v1/problems", w, ReportProblemRequest{ProblemID: "leak", HouseholdID: "h1", Description: "水管漏水",
		Category: "service", HandlingClass: "immediate", Colour: "yellow", Urgency: "urgent"}), 201)
	var res CommandResult
	must(e.do("POST", "/v1/problems/leak/resolve", w, ResolveRequest{Summary: "已更换水管"}), 200).decode(t, &res)
	r := e.do("POST", "/v1/problems/leak/close", w, CloseRequest{})
	if p := r.problem(t); r.status != 422 || p.Code != "return_visit_required" || !strings.Contains(p.MessageZH, "回访") || !strings.Contains(p.MessageEN, "return visit") {
		t.Fatalf("close by the resolver: %d %s", r.status, r.body)
	}
	var pl ProblemList
	must(e.do("GET", "/v1/problems?return_visit_due=true&wait_for="+res.Position, sup, nil), 200).decode(t, &pl)
	if len(pl.Problems) != 1 || pl.Problems[0].ID != "leak" || pl.Problems[0].ResolvedBy != "李四" {
		t.Fatalf("return visits due: %+v", pl)
	}
	if r := e.do("POST", "/v1/problems/leak/revisit", sup, RevisitRequest{Held: new(true), Method: "phone"}); r.status != 400 || r.problem(t).Code != "invalid_score" {
		t.Fatalf("a return visit without satisfaction: %d %s", r.status, r.body)
	}
	must(e.do("POST", "/v1/problems/leak/revisit", sup, RevisitRequest{Held: new(true), Method: "phone", Satisfaction: 5}), 200).decode(t, &res)
	must(e.do("GET", "/v1/problems?return_visit_due=true&wait_for="+res.Position, sup, nil), 200).decode(t, &pl)
	if len(pl.Problems) != 0 {
		t.Fatalf("still due: %+v", pl)
	}
	must(e.do("POST", "/v1/problems/leak/close", w, CloseRequest{}), 200)
}
