package command

import (
	"context"

	"github.com/doorstep/doorstep/domain"
)

// MemberConsent is the input of RecordMemberConsent.
type MemberConsent struct {
	MemberID  string                `json:"member_id"`
	Purpose   domain.ConsentPurpose `json:"purpose"`
	Given     bool                  `json:"given"`
	Reference string                `json:"reference,omitempty"`
}

// RecordMemberConsent records a member's consent for one purpose, given or
// withdrawn (decision 0112). A withdrawal blocks new sealed data of the
// kinds the purpose covers for that member.
func (s *Service) RecordMemberConsent(ctx context.Context, c Cmd, householdID string, in MemberConsent) (Result, error) {
	return s.onHousehold(ctx, c, householdID, "household.record_member_consent", in, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
		return h.RecordMemberConsent(m, in.MemberID, in.Purpose, in.Given, in.Reference)
	})
}
