package command

import (
	"context"
	"fmt"

	"github.com/doorstep/doorstep/domain"
)

// RequestReferral is the input of Service.RequestReferral.
type RequestReferral struct {
	ReferralID  string               `json:"referral_id,omitempty"` // default: derived from the command id
	ProblemID   string               `json:"problem_id"`
	HouseholdID string               `json:"household_id,omitempty"` // default: the problem's household
	Level       domain.ReferralLevel `json:"level"`
	To          string               `json:"to"`
	Request     string               `json:"request"`
}

// onReferral runs a command on an existing referral; the envelope's
// community and grid are its household's current ones (eventlog.Scope).
func (s *Service) onReferral(ctx context.Context, c Cmd, id, kind string, input any,
	decide func(r *domain.Referral, m domain.Meta) ([]domain.Event, error)) (Result, error) {
	if id == "" {
		return Result{}, errorf(domain.ErrInvalid, "required", "referral_id",
			"the referral id is required; fill it in and try again", "转介编号为必填项；请填写后重试")
	}
	res, _, err := execute(ctx, s, c, target[*domain.Referral]{
		kind: kind, stream: domain.ReferralStream(id), input: input, decide: decide,
		newAgg: func() *domain.Referral { return domain.NewReferral(id) },
	})
	res.ID = id
	return res, err
}

// RequestReferral refers a reported problem to an organisation. The
// problem must exist; the household defaults to the problem's and must
// match it when given.
func (s *Service) RequestReferral(ctx context.Context, c Cmd, in RequestReferral) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	if in.ReferralID == "" {
		in.ReferralID = s.derivedID(c.ID, "referral")
	}
	if in.ProblemID == "" {
		return Result{}, errorf(domain.ErrInvalid, "required", "problem_id", "the problem referred is required; fill it in and try again", "所转介的问题为必填项；请填写后重试")
	}
	pol := s.policies.Current()
	id := in.ReferralID
	var h *domain.Household
	householdID := ""
	res, ref, err := execute(ctx, s, c, target[*domain.Referral]{
		kind: "referral.request", stream: domain.ReferralStream(id), input: in,
		newAgg: func() *domain.Referral { return domain.NewReferral(id) },
		decide: func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) {
			// Checked after a resent command has been recognised, so a
			// resend gets its original result whatever happened since.
			if h == nil {
				var err error
				if h, householdID, err = s.referable(ctx, in); err != nil {
					return nil, err
				}
			}
			return r.Request(m, pol, domain.RequestReferral{ProblemID: in.ProblemID, HouseholdID: householdID,
				Level: in.Level, To: in.To, Request: in.Request})
		},
	})
	res.ID = id
	if err != nil {
		return res, err
	}
	if err := s.noteReferral(ctx, c, ref); err != nil {
		return res, err
	}
	return res, nil
}

// noteReferral records on the referred problem that it was referred
// (domain.ProblemReferred: referring starts the work and stops the first-
// response clock), with the referral's own instant and under the same
// command id. It runs after the referral's append, also for a resent
// command, so a resend completes a request whose second append was lost
// (the store has no append across streams; decision 0094). A problem
// already resolved or closed records nothing.
func (s *Service) noteReferral(ctx context.Context, c Cmd, r *domain.Referral) error {
	if r == nil || !r.Exists() {
		return nil
	}
	req := r.Requested()
	c.At, c.timeless = req.At, true
	c.Expect, c.Match = nil, nil // a precondition named the referral's version, not the problem's
	input := []string{req.ReferralID, string(req.Level), req.To}
	_, err := s.onProblem(ctx, c, req.ProblemID, "problem.note_referral", input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.NoteReferral(m, req.ReferralID, req.Level, req.To)
	})
	if err != nil {
		return fmt.Errorf("app: the referral %s is recorded, but not yet on its problem (send the request again): %w", req.ReferralID, err)
	}
	return nil
}

// referable checks that in's problem exists and its household matches,
// and returns the household and its id.
func (s *Service) referable(ctx context.Context, in RequestReferral) (*domain.Household, string, error) {
	p, err := s.Problem(ctx, in.ProblemID, domain.AsOf{})
	if err != nil {
		return nil, "", err
	}
	if !p.Exists() {
		return nil, "", errorf(domain.ErrNotFound, "problem_not_found", "problem_id",
			fmt.Sprintf("problem %s is not in the ledger; report it before referring it", in.ProblemID),
			fmt.Sprintf("问题 %s 不在台账中；请先登记再转介", in.ProblemID))
	}
	if in.HouseholdID != "" && in.HouseholdID != p.HouseholdID() {
		return nil, "", errorf(domain.ErrInvalid, "household_mismatch", "household_id",
			fmt.Sprintf("problem %s belongs to household %s, not %s; leave the household out or correct it", p.Number(), p.HouseholdID(), in.HouseholdID),
			fmt.Sprintf("问题 %s 属于家庭 %s，而不是 %s；请不填家庭或改正", p.Number(), p.HouseholdID(), in.HouseholdID))
	}
	h, err := s.Household(ctx, p.HouseholdID(), domain.AsOf{})
	if err != nil {
		return nil, "", err
	}
	return h, p.HouseholdID(), nil
}

// AcceptReferral records the receiver's acceptance: a responsible person
// and the time limit promised.
func (s *Service) AcceptReferral(ctx context.Context, c Cmd, referralID, responsible string, limit domain.Span, note string) (Result, error) {
	input := struct {
		Responsible string      `json:"responsible"`
		Limit       domain.Span `json:"time_limit"`
		Note        string      `json:"note"`
	}{responsible, limit, note}
	cal, err := s.CalendarInForce(ctx)
	if err != nil {
		return Result{}, err
	}
	return s.onReferral(ctx, c, referralID, "referral.accept", input, func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) {
		return r.Accept(m, cal, responsible, limit, note)
	})
}

// DeclineReferral records the receiver's refusal, with a reason.
func (s *Service) DeclineReferral(ctx context.Context, c Cmd, referralID, reason string) (Result, error) {
	return s.onReferral(ctx, c, referralID, "referral.decline", []string{reason}, func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) {
		return r.Decline(m, reason)
	})
}

// StartReferral records that handling has begun.
func (s *Service) StartReferral(ctx context.Context, c Cmd, referralID, note string) (Result, error) {
	return s.onReferral(ctx, c, referralID, "referral.start", []string{note}, func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) {
		return r.Start(m, note)
	})
}

// CompleteReferral records the outcome of a referral in progress.
func (s *Service) CompleteReferral(ctx context.Context, c Cmd, referralID, outcome string, resources []domain.LinkedResource) (Result, error) {
	input := struct {
		Outcome   string                  `json:"outcome"`
		Resources []domain.LinkedResource `json:"resources"`
	}{outcome, resources}
	return s.onReferral(ctx, c, referralID, "referral.complete", input, func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) {
		return r.Complete(m, outcome, resources)
	})
}

// CancelReferral withdraws an unfinished referral, with a reason.
func (s *Service) CancelReferral(ctx context.Context, c Cmd, referralID, reason string) (Result, error) {
	return s.onReferral(ctx, c, referralID, "referral.cancel", []string{reason}, func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) {
		return r.Cancel(m, reason)
	})
}

// EscalateReferral moves the referral up the path (community → street →
// department) to a new receiver, with a reason.
func (s *Service) EscalateReferral(ctx context.Context, c Cmd, referralID string, level domain.ReferralLevel, to, reason string) (Result, error) {
	pol := s.policies.Current()
	input := []string{string(level), to, reason}
	return s.onReferral(ctx, c, referralID, "referral.escalate", input, func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) {
		return r.Escalate(m, pol, level, to, reason)
	})
}
