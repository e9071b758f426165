package domain

import (
	"fmt"
	"time"
)

// Consent per member and per purpose (issue 14 item 5, decision 0112). The
// household's consent to data collection (HouseholdConsentRecorded) stays
// what it was: given once for the household, it lets the sensitive fields
// of every member be recorded. A member may then give or withdraw consent
// for one purpose; the member's own record wins over the household's. A
// withdrawal blocks new sealed data of the kinds that purpose covers for
// that member; what was recorded before stays (erasure removes it).

// TypeHouseholdMemberConsentRecorded is the event type of a member's
// consent for one purpose. Durable name.
const TypeHouseholdMemberConsentRecorded = "household.member_consent_recorded"

// ConsentPurpose is what a member consents to their sealed data being used
// for: a fixed list.
type ConsentPurpose string

const (
	// ConsentVisitPreparation (走访准备): identity number and phone, to
	// identify and contact the member before a visit (the reveal purpose
	// of the same name, decision 0101).
	ConsentVisitPreparation ConsentPurpose = "visit_preparation"
	// ConsentServiceMatching (服务对接): income, health and disability,
	// "used only for matching services" (仅用于服务对接, seed 001 §2.3.1).
	ConsentServiceMatching ConsentPurpose = "service_matching"
)

// ConsentPurposes lists the purposes, in a stable order.
func ConsentPurposes() []ConsentPurpose {
	return []ConsentPurpose{ConsentVisitPreparation, ConsentServiceMatching}
}

// ConsentPurposeZH is a purpose's Chinese label.
func ConsentPurposeZH(p ConsentPurpose) string {
	switch p {
	case ConsentVisitPreparation:
		return "走访准备"
	case ConsentServiceMatching:
		return "服务对接"
	}
	return string(p)
}

// consentKinds are the sealed fields each purpose covers: English and
// Chinese names, and whether d holds one.
var consentKinds = map[ConsentPurpose]struct {
	en, zh string
	in     func(d MemberDetails) bool
}{
	ConsentVisitPreparation: {"identity number and phone", "身份证号和联系电话",
		func(d MemberDetails) bool { return !d.IDNumber.IsZero() || !d.Phone.IsZero() }},
	ConsentServiceMatching: {"income, health and disability", "收入、健康和残疾信息",
		func(d MemberDetails) bool { return !d.Income.IsZero() || !d.Health.IsZero() || !d.Disability.IsZero() }},
}

// HouseholdMemberConsentRecorded: a member gave or withdrew consent for one
// purpose. Reference is the number of the signed form or request in the
// organisation's register (an id, never free text); who and when are in
// the metadata and At/By.
type HouseholdMemberConsentRecorded struct {
	MemberID  string         `json:"member_id"`
	Purpose   ConsentPurpose `json:"purpose"`
	Given     bool           `json:"given"`
	Reference string         `json:"reference,omitempty"`
	At        time.Time      `json:"at"`
	By        string         `json:"by"`
}

func (HouseholdMemberConsentRecorded) EventType() string { return TypeHouseholdMemberConsentRecorded }

// memberConsents is the consent state per member and purpose, and its
// history in order.
type memberConsents struct {
	state   map[string]map[ConsentPurpose]bool
	history []HouseholdMemberConsentRecorded
}

func (x *memberConsents) apply(e HouseholdMemberConsentRecorded) {
	if x.state == nil {
		x.state = map[string]map[ConsentPurpose]bool{}
	}
	if x.state[e.MemberID] == nil {
		x.state[e.MemberID] = map[ConsentPurpose]bool{}
	}
	x.state[e.MemberID][e.Purpose] = e.Given
	x.history = append(x.history, e)
}

// MemberConsentHistory returns every member consent recorded, oldest first.
func (h *Household) MemberConsentHistory() []HouseholdMemberConsentRecorded {
	return append([]HouseholdMemberConsentRecorded(nil), h.consents.history...)
}

// MemberConsent reports a member's consent for a purpose: given, and
// whether the member recorded it (false: the household's consent applies).
func (h *Household) MemberConsent(memberID string, p ConsentPurpose) (given, own bool) {
	g, ok := h.consents.state[memberID][p]
	if !ok {
		return h.consent, false
	}
	return g, true
}

// RecordMemberConsent records a member's consent for one purpose, given or
// withdrawn. The member must be a current member; a withdrawal needs the
// reference of the request; recording the state the member's own record is
// already in is "no_change".
func (h *Household) RecordMemberConsent(meta Meta, memberID string, p ConsentPurpose, given bool, reference string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if _, err := h.currentMember(memberID); err != nil {
		return nil, err
	}
	if _, ok := consentKinds[p]; !ok {
		return nil, badValue("purpose", "consent purpose", "同意用途", p, ConsentPurposes()...)
	}
	if reference != "" || !given {
		if err := checkReference(reference); err != nil {
			return nil, err
		}
	}
	if g, own := h.MemberConsent(memberID, p); own && g == given {
		return nil, noChange("given", fmt.Sprintf("member %s's consent for %s", memberID, p),
			fmt.Sprintf("成员 %s 对“%s”的同意", memberID, ConsentPurposeZH(p)), fmt.Sprint(given))
	}
	return []Event{HouseholdMemberConsentRecorded{MemberID: memberID, Purpose: p, Given: given, Reference: reference, At: meta.At, By: meta.Actor}}, nil
}

// checkMemberConsent refuses sealed data in d for a member whose consent
// for the purpose covering it is not given: withdrawn by the member
// (consent_withdrawn), or, without a record of the member's own, not given
// for the household (consent_required).
func (h *Household) checkMemberConsent(memberID string, d MemberDetails) error {
	for _, p := range ConsentPurposes() {
		k := consentKinds[p]
		if !k.in(d) {
			continue
		}
		given, own := h.MemberConsent(memberID, p)
		switch {
		case given:
		case own:
			return newError(ErrRule, "consent_withdrawn", "consent",
				fmt.Sprintf("member %s of household %s withdrew consent for %s: their %s cannot be recorded; leave those fields out, or record the member's consent again (POST /v1/households/%s/consent with member_id, purpose %q and given true)",
					memberID, h.id, p, k.en, h.id, p),
				fmt.Sprintf("家庭 %s 的成员 %s 已撤回对“%s”的同意，不能录入其%s；请不填这些字段，或重新记录该成员的同意（向家庭 %s 的知情同意接口提交，给出 “member_id”、“purpose” 为 %s、“given” 为真）",
					h.id, memberID, ConsentPurposeZH(p), k.zh, h.id, p))
		default:
			return h.consentRequired()
		}
	}
	return nil
}
