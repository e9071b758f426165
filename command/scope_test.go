package command_test

import (
	"context"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// TestReferralEventsFollowTheHousehold: a referral's events written after
// its household moved carry the household's new community and grid
// (eventlog.Scope), not the ones of the referral's earlier events.
func TestReferralEventsFollowTheHousehold(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	p := ok(t)(e.svc.ReportProblem(ctx, cmd(t, "p-1", "社工小张", "2026-03-02 11:00"), command.ReportProblem{HouseholdID: "h1", Description: "d",
		Category: domain.ProblemHealth, HandlingClass: domain.HandlingImmediate, Colour: domain.ColourRed, Urgency: domain.UrgencyUrgent}))
	r := ok(t)(e.svc.RequestReferral(ctx, cmd(t, "r-1", "社工小张", "2026-03-02 12:00"), command.RequestReferral{ProblemID: p.ID,
		Level: domain.LevelStreet, To: "街道办", Request: "协调维修"}))
	ok(t)(e.svc.Relocate(ctx, cmd(t, "move", "网格员小李", "2026-03-03 09:00"), "h1", "新地址 1 号", "和平社区", "第1网格", "搬家"))
	ok(t)(e.svc.AcceptReferral(ctx, cmd(t, "r-acc", "街道办", "2026-03-03 10:00"), r.ID, "王主任", domain.WorkingDays(10), "受理"))
	evs := e.stream(domain.ReferralStream(r.ID))
	if len(evs) != 2 {
		t.Fatalf("%d referral events, want 2", len(evs))
	}
	if m := evs[0].Metadata; m.Community != "幸福社区" || m.Grid != "第3网格" {
		t.Fatalf("the request (before the move): %+v", m)
	}
	if m := evs[1].Metadata; m.Community != "和平社区" || m.Grid != "第1网格" {
		t.Fatalf("the acceptance (after the move) carries %s/%s, want 和平社区/第1网格", m.Community, m.Grid)
	}
}
