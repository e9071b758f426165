package domain_test

import (
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// 000 §1.2 / §2.1 (慰问金或物资), 004 §4.2 重要节日必访 (decision 0122): relief
// handed over on a completed home visit records its kind, the amount or
// the items, and the recipient's acknowledgement; anything else is refused
// with a bilingual error.
func TestSeed000_2_1_ReliefHandedOverOnAVisit(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryTeKun})
	m := meta(t, "网格员小李", "2026-02-16 17:00")
	do(t, h)(h.AddMember(m, "m1", domain.MemberDetails{Name: "王大爷", Relation: "本人"}))
	in := home(t, "v1", "2026-02-16 10:00", member("网格员小李", domain.TeamGridWorker), member("社工小张", domain.TeamSocialWorker))
	in.Purpose = domain.PurposeFestival
	in.Relief = []domain.Relief{
		{Kind: domain.ReliefCash, AmountFen: 50000, Recipient: "m1", AckMethod: domain.AckSignature, AckRef: "attach/ack-1"},
		{Kind: domain.ReliefFestivalGift, Items: []domain.ReliefItem{{Name: "米", Quantity: 1, Unit: "袋"}, {Name: "油", Quantity: 1, Unit: "桶"}}, Recipient: "m1", AckMethod: domain.AckPhoto},
	}
	bad := func(change func(r *domain.Relief), code string) {
		t.Helper()
		x := in
		x.Relief = []domain.Relief{in.Relief[0]}
		change(&x.Relief[0])
		if _, err := h.RecordVisit(m, pol, x); domain.CodeOf(err) != code {
			t.Errorf("want %s, got %v", code, err)
		}
	}
	bad(func(r *domain.Relief) { r.AmountFen = 0 }, "invalid_relief_amount")
	bad(func(r *domain.Relief) { r.Kind, r.AmountFen = domain.ReliefGoods, 0 }, "invalid_relief_items")
	bad(func(r *domain.Relief) { r.Recipient = "m9" }, "relief_recipient_not_member")
	bad(func(r *domain.Relief) { r.AckMethod = "" }, "required")
	bad(func(r *domain.Relief) { r.Kind = "lottery" }, "invalid_relief_kind")
	refused := domain.RecordVisit{VisitID: "v0", Team: []string{"网格员小李"}, OccurredAt: in.OccurredAt, Mode: domain.ModeHome,
		Outcome: domain.OutcomeRefused, Relief: in.Relief[:1]}
	if _, err := h.RecordVisit(m, pol, refused); domain.CodeOf(err) != "relief_not_on_home_visit" {
		t.Errorf("relief on a refusal: %v", err)
	}
	v := do(t, h)(h.RecordVisit(m, pol, in))[0].(domain.VisitRecorded)
	if len(v.Relief) != 2 || v.Relief[0].AmountFen != 50000 || v.Relief[1].Items[1].Name != "油" || v.Purpose != domain.PurposeFestival {
		t.Fatalf("relief %+v", v.Relief)
	}
}
