package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// TestConsentPerMemberAndPurpose: a member's withdrawal for a purpose
// blocks new sealed data of the kinds it covers for that member only, with
// a bilingual error saying what and how to fix; consent given again lifts
// it; the state and history read back; the household's consent still
// applies to members without a record of their own.
func TestConsentPerMemberAndPurpose(t *testing.T) {
	w := newTown(t)
	h, s := w.household("h1", domain.ClassOrdinary, domain.RiskGreen, "2026-11-02 09:00")
	m := w.m("网格员小李", "2026-11-02 10:00")
	for _, id := range []string{"m1", "m2"} {
		s.do(m)(h.AddMember(m, id, domain.MemberDetails{Name: "成员" + id, Relation: "本人", Phone: sealed(t, w.v, "h1", "13900000001")}))
	}
	if g, own := h.MemberConsent("m1", domain.ConsentServiceMatching); !g || own {
		t.Fatalf("before any member record: given %v own %v, want the household's consent", g, own)
	}

	// Refusals: an unknown purpose, a withdrawal without a reference, an
	// unknown member.
	evs, err := h.RecordMemberConsent(m, "m1", "marketing", false, "F-1")
	fails(t, evs, err, "invalid_purpose", domain.ErrInvalid)
	evs, err = h.RecordMemberConsent(m, "m1", domain.ConsentServiceMatching, false, "")
	fails(t, evs, err, "required", domain.ErrInvalid)
	evs, err = h.RecordMemberConsent(m, "m9", domain.ConsentServiceMatching, false, "F-1")
	fails(t, evs, err, "member_not_found", domain.ErrNotFound)

	s.do(m)(h.RecordMemberConsent(m, "m1", domain.ConsentServiceMatching, false, "F-2026-01"))
	evs, err = h.RecordMemberConsent(m, "m1", domain.ConsentServiceMatching, false, "F-2026-02")
	fails(t, evs, err, "no_change", domain.ErrRule)

	// m1's income and health are refused; m1's phone (another purpose) and
	// m2's income are not.
	evs, err = h.ChangeMember(m, "m1", domain.MemberDetails{Income: sealed(t, w.v, "h1", "1200")}, "复核")
	fails(t, evs, err, "consent_withdrawn", domain.ErrRule)
	var de *domain.Error
	if !errors.As(err, &de) || !strings.Contains(de.Message, "service_matching") || !strings.Contains(de.Message, "income, health and disability") ||
		!strings.Contains(de.MessageZH, "已撤回") || !strings.Contains(de.Message, "POST /v1/households/h1/consent") {
		t.Fatalf("the refusal says what and how to fix: %+v", de)
	}
	s.do(m)(h.ChangeMember(m, "m1", domain.MemberDetails{Phone: sealed(t, w.v, "h1", "13900000009")}, "换号"))
	s.do(m)(h.ChangeMember(m, "m2", domain.MemberDetails{Income: sealed(t, w.v, "h1", "800")}, "复核"))
	// A change without sealed fields is not affected.
	s.do(m)(h.ChangeMember(m, "m1", domain.MemberDetails{Occupation: "退休"}, "更正"))

	// Given again: the income is accepted.
	s.do(m)(h.RecordMemberConsent(m, "m1", domain.ConsentServiceMatching, true, "F-2026-03"))
	s.do(m)(h.ChangeMember(m, "m1", domain.MemberDetails{Income: sealed(t, w.v, "h1", "1200")}, "复核"))
	if g, own := h.MemberConsent("m1", domain.ConsentServiceMatching); !g || !own {
		t.Fatalf("after consent given again: given %v own %v", g, own)
	}
	hist := h.MemberConsentHistory()
	if len(hist) != 2 || hist[0].Given || !hist[1].Given || hist[0].Reference != "F-2026-01" || hist[1].By != "网格员小李" {
		t.Fatalf("history: %+v", hist)
	}

	// A member's own consent for a purpose is enough even after the
	// household's consent is withdrawn; other purposes follow the household.
	s.do(m)(h.RecordConsent(m, false, "", "户主撤回"))
	s.do(m)(h.ChangeMember(m, "m1", domain.MemberDetails{Health: sealed(t, w.v, "h1", "高血压")}, "复核"))
	evs, err = h.ChangeMember(m, "m1", domain.MemberDetails{Phone: sealed(t, w.v, "h1", "13900000010")}, "换号")
	fails(t, evs, err, "consent_required", domain.ErrRule)
}
