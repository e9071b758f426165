package http

import (
	"context"
	nethttp "net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// ReferralCommands are the commands the referral routes run, and the
// referral folded from its stream that GET /v1/referrals/{id} shows (the
// command layer, command.Service, provides them).
type ReferralCommands interface {
	Referral(ctx context.Context, id string, as domain.AsOf) (*domain.Referral, error)
	RequestReferral(ctx context.Context, c command.Cmd, in command.RequestReferral) (command.Result, error)
	AcceptReferral(ctx context.Context, c command.Cmd, referralID, responsible string, limit domain.Span, note string) (command.Result, error)
	DeclineReferral(ctx context.Context, c command.Cmd, referralID, reason string) (command.Result, error)
	StartReferral(ctx context.Context, c command.Cmd, referralID, note string) (command.Result, error)
	CompleteReferral(ctx context.Context, c command.Cmd, referralID, outcome string, resources []domain.LinkedResource) (command.Result, error)
	CancelReferral(ctx context.Context, c command.Cmd, referralID, reason string) (command.Result, error)
	EscalateReferral(ctx context.Context, c command.Cmd, referralID string, level domain.ReferralLevel, to, reason string) (command.Result, error)
}

// Request bodies of the referral commands.
type (
	RequestReferralRequest struct {
		ReferralID  string `json:"referral_id,omitempty"`
		ProblemID   string `json:"problem_id"`
		HouseholdID string `json:"household_id,omitempty"`
		Level       string `json:"level"`
		To          string `json:"to"`
		Request     string `json:"request"`
	}
	AcceptRequest struct {
		Responsible string `json:"responsible"`
		TimeLimit   string `json:"time_limit"`
		Note        string `json:"note,omitempty"`
	}
	NoteRequest struct {
		Note string `json:"note,omitempty"`
	}
	CompleteRequest struct {
		Outcome   string                  `json:"outcome"`
		Resources []domain.LinkedResource `json:"resources,omitempty"`
	}
	EscalateRequest struct {
		Level  string `json:"level"`
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
)

// referralRoutes are the routes of referrals: their commands run through
// cmd. The department a referral is addressed to (a receiver) accepts,
// declines, starts and completes it; its senders cancel and escalate it.
type referralRoutes struct {
	*Server
	cmd ReferralCommands
}

func (s referralRoutes) commandRoutes() []route {
	rf := "referrals"
	return []route{
		s.cmdRoute("requestReferral", "/v1/referrals", "refer a problem to a department or organisation", rf, "RequestReferralRequest", writers(), true, s.request),
		s.cmdRoute("acceptReferral", "/v1/referrals/{id}/accept", "accept a referral: name the responsible person and time limit", rf, "AcceptRequest", receivers(), false, s.accept),
		s.cmdRoute("declineReferral", "/v1/referrals/{id}/decline", "decline a referral with a reason", rf, "ReasonRequest", receivers(), false, s.decline),
		s.cmdRoute("startReferral", "/v1/referrals/{id}/start", "record that handling of a referral began", rf, "NoteRequest", receivers(), false, s.start),
		s.cmdRoute("completeReferral", "/v1/referrals/{id}/complete", "record a referral's outcome", rf, "CompleteRequest", receivers(), false, s.complete),
		s.cmdRoute("cancelReferral", "/v1/referrals/{id}/cancel", "withdraw a referral with a reason", rf, "ReasonRequest", writers(), false, s.cancel),
		s.cmdRoute("escalateReferral", "/v1/referrals/{id}/escalate", "escalate a referral to a higher level", rf, "EscalateRequest", writers(), false, s.escalate),
	}
}

// queryRoutes read a referral folded from its stream (optionally as of an
// instant or version).
func (s referralRoutes) queryRoutes() []route {
	return []route{
		{op: "getReferral", method: "GET", path: "/v1/referrals/{id}", roles: append(readerRoles(), identity.RoleDepartment), summary: "read a referral (optionally as of an instant or version)", h: s.getReferral,
			doc: opDoc{tag: "referrals", ok: 200, resp: "ReferralView", params: aggregateAsOfParams()}},
	}
}

// onReferral builds a plan for a command on referral {id}; receiver admits
// the department it is addressed to.
func (s *Server) onReferral(r *nethttp.Request, receiver bool, exec func(ctx context.Context, c command.Cmd, id string) (command.Result, error)) *plan {
	id := mux.Vars(r)["id"]
	return &plan{stream: domain.ReferralStream(id), authorize: s.access("referral", id, true, receiver),
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) { return exec(ctx, c, id) }}
}

// request creates a referral: the caller must be able to change its
// problem.
func (s referralRoutes) request(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[RequestReferralRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.ProblemID == "" {
		return nil, newErr(ErrBadRequest, "required", "problem_id", "problem_id is required", "problem_id 为必填项")
	}
	return &plan{authorize: s.access("problem", in.ProblemID, true, false),
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.cmd.RequestReferral(ctx, c, command.RequestReferral{ReferralID: in.ReferralID, ProblemID: in.ProblemID, HouseholdID: in.HouseholdID,
				Level: domain.ReferralLevel(in.Level), To: in.To, Request: in.Request})
		},
		location: func(res command.Result) string { return "/v1/referrals/" + res.ID }}, nil
}

func (s referralRoutes) accept(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[AcceptRequest](r, body)
	if err != nil {
		return nil, err
	}
	sp, err := parseSpan("time_limit", in.TimeLimit, true)
	if err != nil {
		return nil, err
	}
	return s.onReferral(r, true, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.AcceptReferral(ctx, c, id, in.Responsible, sp, in.Note)
	}), nil
}

func (s referralRoutes) decline(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ReasonRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onReferral(r, true, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.DeclineReferral(ctx, c, id, in.Reason)
	}), nil
}

func (s referralRoutes) start(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[NoteRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onReferral(r, true, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.StartReferral(ctx, c, id, in.Note)
	}), nil
}

func (s referralRoutes) complete(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[CompleteRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onReferral(r, true, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.CompleteReferral(ctx, c, id, in.Outcome, in.Resources)
	}), nil
}

func (s referralRoutes) cancel(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ReasonRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onReferral(r, false, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.CancelReferral(ctx, c, id, in.Reason)
	}), nil
}

func (s referralRoutes) escalate(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[EscalateRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onReferral(r, false, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.EscalateReferral(ctx, c, id, domain.ReferralLevel(in.Level), in.To, in.Reason)
	}), nil
}

// ReferralView is a referral folded from its stream.
type ReferralView struct {
	ID          string    `json:"id"`
	ProblemID   string    `json:"problem_id"`
	HouseholdID string    `json:"household_id"`
	Level       string    `json:"level"`
	To          string    `json:"to"`
	Request     string    `json:"request"`
	Status      string    `json:"status"`
	Responsible string    `json:"responsible,omitempty"`
	Outcome     string    `json:"outcome,omitempty"`
	Escalations int       `json:"escalations"`
	RequestedAt time.Time `json:"requested_at"`
	Version     uint64    `json:"version"`
	// Due is the completion deadline the receiver promised on acceptance.
	Due *time.Time `json:"due,omitempty"`
	Provisional
}

func (s referralRoutes) getReferral(w nethttp.ResponseWriter, r *nethttp.Request) error {
	as, err := asOfParams(r)
	if err != nil {
		return err
	}
	if s.d.Commands == nil {
		return errNoCommands()
	}
	id, err := s.subject(r, "referral")
	if err != nil {
		return err
	}
	rf, err := asOfRecord(r.Context(), "referral", id, as, s.cmd.Referral)
	if err != nil {
		return err
	}
	if !rf.Exists() {
		return notFound("referral", id)
	}
	out := ReferralView{ID: id, ProblemID: rf.ProblemID(), HouseholdID: rf.HouseholdID(), Level: string(rf.Level()), To: rf.To(),
		Request: rf.RequestText(), Status: string(rf.Status()), Responsible: rf.Responsible(), Escalations: len(rf.Escalations()),
		RequestedAt: rf.RequestedAt(), Version: rf.Version()}
	if o, ok := rf.Outcome(); ok {
		out.Outcome = o.Outcome
	}
	if a, ok := rf.Acceptance(); ok {
		out.Due, out.Provisional = optTime(a.Due), provisionalOf(a.Calendar)
	}
	w.Header().Set("ETag", etag(rf.Version()))
	return writeJSON(w, nethttp.StatusOK, out)
}
