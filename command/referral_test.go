package command_test

import (
	"context"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// TestReferralStartsTheWork_001_2_2_2: requesting a referral records
// problem.referred on the problem (分流 starts the work: the response clock
// stops) once, with the referral's instant, also when the request is sent
// again; a precondition on the referral does not apply to the problem.
func TestReferralStartsTheWork_001_2_2_2(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskYellow, "2026-03-02 09:00")
	p, _ := e.report("rep", "h1", "", "无电梯", domain.ProblemLivingSecurity, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 10:00")
	req := command.RequestReferral{ReferralID: "r1", ProblemID: p, Level: domain.LevelDepartment, To: "区住建局", Request: "加装电梯"}
	c := cmd(t, "ref-1", "网格员小李", "2026-03-02 14:00")
	var none uint64
	c.Expect = &none // the referral's stream does not exist yet
	first := ok(t)(e.svc.RequestReferral(ctx, c, req))
	again := ok(t)(e.svc.RequestReferral(ctx, c, req))
	if !again.Replayed || again.LastPosition != first.LastPosition {
		t.Fatalf("resend: %+v, first %+v", again, first)
	}
	e.wantTypes(domain.ProblemStream(p), domain.TypeProblemReported, domain.TypeProblemReferred)
	got := e.problem(p)
	if got.Status() != domain.StatusInProgress || len(got.Clocks()) != 0 || !got.Referrals()[0].At.Equal(at(t, "2026-03-02 14:00")) {
		t.Fatalf("problem after the referral: %s, clocks %+v, %+v", got.Status(), got.Clocks(), got.Referrals())
	}
	// A second referral of the same problem is noted too (000 §4.2).
	ok(t)(e.svc.RequestReferral(ctx, cmd(t, "ref-2", "网格员小李", "2026-03-03 09:00"), command.RequestReferral{ReferralID: "r2", ProblemID: p,
		Level: domain.LevelDepartment, To: "慈善总会", Request: "资助"}))
	if n := len(e.problem(p).Referrals()); n != 2 {
		t.Fatalf("%d referrals noted, want 2", n)
	}
}
