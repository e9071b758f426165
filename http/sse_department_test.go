package http

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
)

// TestEventStreamDepartmentFollowsItsReferrals: a department follows the
// event stream narrowed to the referrals addressed to it (decision 0144):
// in catch-up and live it receives its referral's events and neither
// another department's referral nor any household or problem event.
func TestEventStreamDepartmentFollowsItsReferrals(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	housing := e.token(identity.Principal{Name: "住建局张科长", Role: identity.RoleDepartment, Department: "住建局"})
	civil := e.token(identity.Principal{Name: "民政局王科长", Role: identity.RoleDepartment, Department: "民政局"})
	must := func(r resp, want int, what string) {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
	}
	must(e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")), 201, "register")
	for _, p := range []string{"p1", "p2"} {
		must(e.do("POST", "/v1/problems", w, ReportProblemRequest{ProblemID: p, HouseholdID: "h1", Description: "需要协调 " + p,
			Category: "service", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}), 201, "report "+p)
	}
	must(e.do("POST", "/v1/referrals", w, RequestReferralRequest{ReferralID: "r-housing", ProblemID: "p1", Level: "department", To: "住建局", Request: "加装扶手"}), 201, "refer to 住建局")
	must(e.do("POST", "/v1/referrals", w, RequestReferralRequest{ReferralID: "r-civil", ProblemID: "p2", Level: "department", To: "民政局", Request: "低保复核"}), 201, "refer to 民政局")

	// Catch-up: of the whole log, only its referral's request.
	rd, res := e.openStream(t, ctx, housing, "?after=0", "")
	if res.StatusCode != 200 {
		t.Fatalf("department on the event stream: %d", res.StatusCode)
	}
	if ev := rd.next(t); ev.event != "referral.requested" || !strings.Contains(ev.data, `"stream":"referral-r-housing"`) {
		t.Fatalf("住建局, catch-up: %s %s", ev.event, ev.data)
	}
	// Live: the other department accepts its referral, a problem and the
	// household change; the next event on this stream is its own referral's.
	must(e.do("POST", "/v1/referrals/r-civil/accept", civil, AcceptRequest{Responsible: "王科长", TimeLimit: "3 working_days"}), 200, "民政局 accepts")
	must(e.do("POST", "/v1/problems/p1/progress", w, ProgressRequest{Note: "已联系", FollowUp: "phone"}), 200, "progress on p1")
	must(e.do("POST", "/v1/referrals/r-housing/accept", housing, AcceptRequest{Responsible: "张科长", TimeLimit: "5 working_days"}), 200, "住建局 accepts")
	if ev := rd.next(t); ev.event != "referral.accepted" || !strings.Contains(ev.data, `"stream":"referral-r-housing"`) {
		t.Fatalf("住建局, live: %s %s (another department's referral or a problem event leaked)", ev.event, ev.data)
	}

	// The other department sees its own, from the start.
	rd2, _ := e.openStream(t, ctx, civil, "?after=0", "")
	for _, want := range []string{"referral.requested", "referral.accepted"} {
		if ev := rd2.next(t); ev.event != want || !strings.Contains(ev.data, `"stream":"referral-r-civil"`) {
			t.Fatalf("民政局: got %s %s, want %s of r-civil", ev.event, ev.data, want)
		}
	}
	// Asking for household events gives a department nothing of them: the
	// stream stays open with no event, so a referral event after a
	// household one is the first it sends.
	rd3, _ := e.openStream(t, ctx, housing, "?after=0&category=household,referral", "")
	if ev := rd3.next(t); ev.event != "referral.requested" || !strings.Contains(ev.data, "r-housing") {
		t.Fatalf("住建局 asking for household events too: %s %s", ev.event, ev.data)
	}
	// Named consumers stay with the integration roles.
	if r := e.do("GET", "/v1/consumers", housing, nil); r.status != 403 {
		t.Fatalf("department listing consumers: %d", r.status)
	}
}
