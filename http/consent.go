package http

import (
	"context"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// Consent per member and per purpose (decision 0112): recorded through
// POST /v1/households/{id}/consent with member_id and purpose, listed by
// GET /v1/households/{id}/consent.

// MemberConsentCommands records a member's consent (command.Service).
type MemberConsentCommands interface {
	RecordMemberConsent(ctx context.Context, c command.Cmd, householdID string, in command.MemberConsent) (command.Result, error)
}

// ConsentState is one member's consent for one purpose now: given, and
// whether the member recorded it or the household's consent applies.
type ConsentState struct {
	MemberID  string `json:"member_id"`
	Purpose   string `json:"purpose"`
	PurposeZH string `json:"purpose_zh"`
	Given     bool   `json:"given"`
	// Source is "member" (the member's own record) or "household" (the
	// household's consent to data collection).
	Source string `json:"source"`
}

// ConsentChange is one recorded change of a member's consent.
type ConsentChange struct {
	MemberID  string    `json:"member_id"`
	Purpose   string    `json:"purpose"`
	Given     bool      `json:"given"`
	Reference string    `json:"reference,omitempty"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
}

// ConsentList is a household's consent: the household's, each current
// member's per purpose, and the history of members' consent, oldest first.
type ConsentList struct {
	HouseholdID      string          `json:"household_id"`
	HouseholdConsent bool            `json:"household_consent"`
	Members          []ConsentState  `json:"members"`
	History          []ConsentChange `json:"history"`
}

func consentSchemaTypes(responses map[string]reflect.Type) {
	responses["ConsentList"] = reflect.TypeOf(ConsentList{})
}

func (s *Server) consentRoutes() []route {
	return []route{
		{op: "householdConsent", method: "GET", path: "/v1/households/{id}/consent", roles: append(readerRoles(), identity.RolePrivacyOfficer),
			summary: "a household's consent: the household's, each member's per purpose, and its history", h: s.householdConsent,
			doc: opDoc{tag: "privacy", ok: 200, resp: "ConsentList"}},
	}
}

func (s householdRoutes) recordMemberConsent(r *nethttp.Request, in ConsentRequest) (*plan, error) {
	mc, ok := s.d.Commands.(MemberConsentCommands)
	if !ok {
		return nil, newErr(ErrUnavailable, "commands_unavailable", "", "this server does not record members' consent", "此服务器不处理成员同意")
	}
	switch {
	case in.MemberID == "":
		return nil, newErr(ErrBadRequest, "required", "member_id", "member_id is required with purpose or reference: whose consent is recorded", "给出 “purpose” 或 “reference” 时 “member_id” 为必填项：记录哪位成员的同意")
	case in.Purpose == "":
		return nil, newErr(ErrBadRequest, "required", "purpose", "purpose is required with member_id: visit_preparation or service_matching", "给出 “member_id” 时 “purpose” 为必填项：visit_preparation 或 service_matching")
	case in.Scope != "" || in.Reason != "":
		return nil, newErr(ErrBadRequest, "free_text_not_allowed", "reason", "a member's consent carries no scope or reason (free text about a person is not kept in clear); give the reference of the form or request instead", "成员同意不填写 “scope” 或 “reason”（不以明文保存关于个人的文字）；请改填表单或申请的文号 “reference”")
	}
	if err := domain.CheckID("member_id", in.MemberID); err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return mc.RecordMemberConsent(ctx, c, id, command.MemberConsent{MemberID: in.MemberID, Purpose: domain.ConsentPurpose(in.Purpose), Given: *in.Given, Reference: in.Reference})
	}), nil
}

func (s *Server) householdConsent(w nethttp.ResponseWriter, r *nethttp.Request) error {
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
	out := ConsentList{HouseholdID: id, HouseholdConsent: h.Consent(), Members: []ConsentState{}, History: []ConsentChange{}}
	for _, m := range h.Members() {
		if m.Left {
			continue
		}
		for _, p := range domain.ConsentPurposes() {
			given, own := h.MemberConsent(m.ID, p)
			src := "household"
			if own {
				src = "member"
			}
			out.Members = append(out.Members, ConsentState{MemberID: m.ID, Purpose: string(p), PurposeZH: domain.ConsentPurposeZH(p), Given: given, Source: src})
		}
	}
	for _, e := range h.MemberConsentHistory() {
		out.History = append(out.History, ConsentChange{MemberID: e.MemberID, Purpose: string(e.Purpose), Given: e.Given, Reference: e.Reference, At: e.At, By: e.By})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}
