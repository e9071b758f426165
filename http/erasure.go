package http

import (
	"context"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections/audit"
)

// ErasureCommands are the erasure commands (command.Service provides
// them; decision 0100).
type ErasureCommands interface {
	RequestErasure(ctx context.Context, c command.Cmd, householdID string, in command.Erasure) (command.Result, error)
	ApproveErasure(ctx context.Context, c command.Cmd, householdID, requestID string) (command.Result, error)
}

// ErasureRequestBody is the body of POST /v1/households/{id}/erasure.
type ErasureRequestBody struct {
	// RequestID names the request; default: derived from the command id.
	RequestID string `json:"request_id,omitempty"`
	// Scope is "household" (every member and every sensitive field) or
	// "member" (one member's sensitive fields; member_id).
	Scope    string `json:"scope"`
	MemberID string `json:"member_id,omitempty"`
	// LegalBasis, from PIPL art. 47: purpose_achieved, service_ended,
	// retention_expired, consent_withdrawn or unlawful_processing.
	LegalBasis string `json:"legal_basis"`
	// Reference is the request's number in the organisation's register of
	// requests (an id, never a name).
	Reference string `json:"reference"`
}

// ErasureView is an erasure request as listed (no personal data).
type ErasureView struct {
	RequestID   string     `json:"request_id"`
	Scope       string     `json:"scope"`
	MemberID    string     `json:"member_id,omitempty"`
	LegalBasis  string     `json:"legal_basis"`
	Reference   string     `json:"reference"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedBy  string     `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
	Completed   bool       `json:"completed"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// ErasureList is a household's erasure requests, oldest first.
type ErasureList struct {
	HouseholdID string        `json:"household_id"`
	Erased      bool          `json:"erased"`
	Requests    []ErasureView `json:"requests"`
}

func erasureSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["ErasureRequestBody"] = reflect.TypeOf(ErasureRequestBody{})
	responses["ErasureList"] = reflect.TypeOf(ErasureList{})
}

// erasureRequesters may ask for an erasure: a supervisor of the household's
// community, an administrator, a privacy officer.
func erasureRequesters() []identity.Role {
	return []identity.Role{identity.RoleSupervisor, identity.RoleAdmin, identity.RolePrivacyOfficer}
}

func (s *Server) erasureRoutes() []route {
	hh := "privacy"
	return []route{
		s.cmdRoute("requestErasure", "/v1/households/{id}/erasure", "ask for the erasure of a household's or a member's personal data (PIPL)", hh,
			"ErasureRequestBody", erasureRequesters(), true, s.requestErasure),
		s.cmdRoute("approveErasure", "/v1/households/{id}/erasure/{request_id}/approve", "approve an erasure request (a privacy officer other than the requester): destroys the keys", hh,
			"", []identity.Role{identity.RolePrivacyOfficer}, false, s.approveErasure),
		{op: "listErasures", method: "GET", path: "/v1/households/{id}/erasure", roles: append(auditRoles(), identity.RolePrivacyOfficer),
			summary: "a household's erasure requests and whether its personal data is erased", h: s.listErasures,
			doc: opDoc{tag: hh, ok: 200, resp: "ErasureList"}},
	}
}

func (s *Server) erasureCommands() (ErasureCommands, error) {
	ec, ok := s.d.Commands.(ErasureCommands)
	if !ok {
		return nil, newErr(ErrUnavailable, "commands_unavailable", "", "this server does not run erasure commands", "此服务器不处理删除命令")
	}
	return ec, nil
}

// onErasure authorises an erasure command on household {id}: the household
// exists and the caller's scope covers it (a privacy officer's and an
// administrator's cover every household).
func (s *Server) onErasure(r *nethttp.Request, exec func(ctx context.Context, c command.Cmd, ec ErasureCommands, id string) (command.Result, error)) (*plan, error) {
	ec, err := s.erasureCommands()
	if err != nil {
		return nil, err
	}
	id := mux.Vars(r)["id"]
	return &plan{stream: domain.HouseholdStream(id),
		authorize: func(ctx context.Context, p *identity.Principal) error {
			sc, err := s.scopes.household(ctx, id, true)
			if err != nil {
				return err
			}
			// A household outside the caller's scope answers as one that
			// does not exist (decision 0088).
			if !sc.exists || !p.Covers(sc.community, sc.grid) {
				return notFound("household", id)
			}
			return nil
		},
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) { return exec(ctx, c, ec, id) },
	}, nil
}

func (s *Server) requestErasure(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ErasureRequestBody](r, body)
	if err != nil {
		return nil, err
	}
	pl, err := s.onErasure(r, func(ctx context.Context, c command.Cmd, ec ErasureCommands, id string) (command.Result, error) {
		return ec.RequestErasure(ctx, c, id, command.Erasure{RequestID: in.RequestID, Scope: domain.ErasureScope(in.Scope), MemberID: in.MemberID,
			LegalBasis: domain.LegalBasis(in.LegalBasis), Reference: in.Reference})
	})
	if err != nil {
		return nil, err
	}
	pl.location = func(res command.Result) string { return "/v1/households/" + mux.Vars(r)["id"] + "/erasure" }
	return pl, nil
}

func (s *Server) approveErasure(r *nethttp.Request, body []byte) (*plan, error) {
	if _, err := decodeInto[struct{}](r, body); err != nil {
		return nil, err
	}
	rid := mux.Vars(r)["request_id"]
	if err := domain.CheckID("request_id", rid); err != nil {
		return nil, err
	}
	return s.onErasure(r, func(ctx context.Context, c command.Cmd, ec ErasureCommands, id string) (command.Result, error) {
		return ec.ApproveErasure(ctx, c, id, rid)
	})
}

func (s *Server) listErasures(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	id, err := s.subject(r, "household")
	if err != nil {
		return err
	}
	h, err := s.scopes.householdAgg(r.Context(), id, true)
	if err != nil {
		return err
	}
	out := ErasureList{HouseholdID: id, Erased: h.Erased(), Requests: []ErasureView{}}
	for _, rq := range h.ErasureRequests() {
		v := ErasureView{RequestID: rq.RequestID, Scope: string(rq.Scope), MemberID: rq.MemberID, LegalBasis: string(rq.LegalBasis),
			Reference: rq.Reference, RequestedBy: rq.By, RequestedAt: rq.At, ApprovedBy: rq.ApprovedBy, Completed: rq.Completed}
		if rq.ApprovedBy != "" {
			v.ApprovedAt = optTime(rq.ApprovedAt)
		}
		if rq.Completed {
			v.CompletedAt = optTime(rq.CompletedAt)
		}
		out.Requests = append(out.Requests, v)
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

// markErased shows the sealed values of a household's audit trail whose
// keys were destroyed as "[erased]" (audit.MarkErased).
func (s *Server) markErased(ctx context.Context, householdID string, entries []audit.Entry) error {
	h, err := s.scopes.householdAgg(ctx, householdID, false)
	if err != nil {
		return err
	}
	audit.MarkErased(entries, h)
	return nil
}
