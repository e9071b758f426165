package command

import (
	"context"

	"github.com/doorstep/doorstep/domain"
)

// Eraser destroys data keys: a household's (by its id) or a member's (by
// domain.MemberSubject). When Erase returns nil the erasure is durable.
// *keystore.Vault implements it; the command layer uses the Sealer it was
// given when it also implements Eraser.
type Eraser interface {
	Erase(ctx context.Context, subject string) error
}

// Erasure is the input of RequestErasure.
type Erasure struct {
	RequestID  string              `json:"request_id,omitempty"` // default: derived from the command id
	Scope      domain.ErasureScope `json:"scope"`
	MemberID   string              `json:"member_id,omitempty"`
	LegalBasis domain.LegalBasis   `json:"legal_basis"`
	Reference  string              `json:"reference"`
}

// RequestErasure records a request to erase the personal data of a
// household or of one of its members (decision 0100). Nothing is erased
// until a privacy officer other than the requester approves it.
func (s *Service) RequestErasure(ctx context.Context, c Cmd, householdID string, in Erasure) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	if in.RequestID == "" {
		in.RequestID = s.derivedID(c.ID, "erasure")
	}
	res, err := s.onHousehold(ctx, c, householdID, "household.request_erasure", in, nil, nil,
		func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
			return h.RequestErasure(m, domain.RequestErasure{RequestID: in.RequestID, Scope: in.Scope, MemberID: in.MemberID,
				LegalBasis: in.LegalBasis, Reference: in.Reference})
		})
	res.ID = in.RequestID
	return res, err
}

// ApproveErasure approves an erasure request and completes it: it records
// the approval, destroys the data keys the request covers, then records the
// completion. Should the keys or the completion fail (the key store down),
// the approval stands; sending the command again (any command id) finishes
// the erasure. Result.ID is the request id.
func (s *Service) ApproveErasure(ctx context.Context, c Cmd, householdID, requestID string) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	res, err := s.onHousehold(ctx, c, householdID, "household.approve_erasure", []string{requestID}, nil, nil,
		func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
			return h.ApproveErasure(m, requestID)
		})
	res.ID = requestID
	if err != nil {
		return res, err
	}
	return s.completeErasure(ctx, c, householdID, requestID, res)
}

// ExpireRetention erases an archived household whose retention period
// under the policy in force has ended (decision 0113): the system requests
// and approves the erasure (legal basis retention_expired) as one decision,
// then the keys are destroyed and the completion recorded, as after an
// approval. c must carry the system role; requestID should be derived from
// the household, so that a retry or another node finds the same request
// and only completes it. A household erased already gets nothing.
func (s *Service) ExpireRetention(ctx context.Context, c Cmd, householdID, requestID string) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	pol := s.policies.Current()
	res, err := s.onHousehold(ctx, c, householdID, "household.expire_retention", []string{requestID, pol.Version}, nil, nil,
		func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
			return h.ExpireRetention(m, pol, s.base, requestID)
		})
	res.ID = requestID
	if err != nil {
		return res, err
	}
	h, err := s.Household(ctx, householdID, domain.AsOf{})
	if err != nil {
		return res, err
	}
	if _, ok := h.ErasureRequest(requestID); !ok {
		return res, nil // erased already by another request
	}
	return s.completeErasure(ctx, c, householdID, requestID, res)
}

// completeErasure destroys the keys of an approved request and records the
// completion; res is the approval's result.
func (s *Service) completeErasure(ctx context.Context, c Cmd, householdID, requestID string, res Result) (Result, error) {
	er, ok := s.sealer.(Eraser)
	if !ok {
		return res, noSealer()
	}
	h, err := s.Household(ctx, householdID, domain.AsOf{})
	if err != nil {
		return res, err
	}
	if r, ok := h.ErasureRequest(requestID); ok && r.Completed {
		return res, nil // a resent approval of a completed erasure
	}
	for _, subject := range h.ErasureSubjects(requestID) {
		if err := er.Erase(ctx, subject); err != nil {
			return res, err
		}
	}
	done := c
	done.ID = s.derivedID(c.ID, "erasure-completed")
	done.CausationID = c.ID
	cres, err := s.onHousehold(ctx, done, householdID, "household.complete_erasure", []string{requestID}, nil, nil,
		func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
			if r, ok := h.ErasureRequest(requestID); ok && r.Completed {
				return nil, nil // completed by a concurrent approval
			}
			return h.CompleteErasure(m, requestID)
		})
	if err != nil {
		return res, err
	}
	if cres.Events == 0 {
		return res, nil
	}
	// The answer covers both appends: from the approval (if this command
	// recorded it) to the completion.
	if res.Events > 0 && !res.Replayed {
		cres.FirstVersion, cres.FirstPosition = res.FirstVersion, res.FirstPosition
		cres.Events += res.Events
	}
	cres.ID, cres.CommandID = requestID, c.ID
	return cres, nil
}
