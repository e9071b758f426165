package http

import (
	"context"
	"fmt"
	nethttp "net/http"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// HouseholdCommands are the commands the household routes run (the
// command layer, command.Service, provides them).
type HouseholdCommands interface {
	RegisterHousehold(ctx context.Context, c command.Cmd, id string, in domain.RegisterHousehold) (command.Result, error)
	AddMember(ctx context.Context, c command.Cmd, householdID, memberID string, in command.Member) (command.Result, error)
	ChangeMember(ctx context.Context, c command.Cmd, householdID, memberID string, in command.Member, reason string) (command.Result, error)
	RemoveMember(ctx context.Context, c command.Cmd, householdID, memberID, reason string) (command.Result, error)
	Relocate(ctx context.Context, c command.Cmd, householdID, address, community, grid, reason string) (command.Result, error)
	AssignWorker(ctx context.Context, c command.Cmd, householdID, worker, reason string) (command.Result, error)
	ChangeClass(ctx context.Context, c command.Cmd, householdID string, to domain.HouseholdClass, reason string) (command.Result, error)
	ChangeCategory(ctx context.Context, c command.Cmd, householdID string, to domain.AssistanceCategory, reason string) (command.Result, error)
	ChangeCircumstances(ctx context.Context, c command.Cmd, householdID string, to []domain.Circumstance, reason string) (command.Result, error)
	ChangeRisk(ctx context.Context, c command.Cmd, householdID string, to domain.RiskLevel, reason string) (command.Result, error)
	AssessNeeds(ctx context.Context, c command.Cmd, householdID string, needs map[domain.NeedDomain][]string, note string) (command.Result, error)
	OfferResources(ctx context.Context, c command.Cmd, householdID string, skills []string, volunteer bool, idle []string) (command.Result, error)
	RecordConsent(ctx context.Context, c command.Cmd, householdID string, given bool, scope, reason string) (command.Result, error)
	Archive(ctx context.Context, c command.Cmd, householdID string, reason domain.ArchiveReason, note string) (command.Result, error)
	RecordVisit(ctx context.Context, c command.Cmd, householdID string, in command.Visit) (command.Result, error)
}

// Request bodies of the household commands.
type (
	RegisterHouseholdRequest struct {
		HouseholdID       string `json:"household_id,omitempty"`
		Address           string `json:"address"`
		Community         string `json:"community"`
		Grid              string `json:"grid"`
		ResponsibleWorker string `json:"responsible_worker"`
		// Class may be left out: the policy's class rules give it from the
		// category and circumstances; a class below theirs needs ClassReason.
		Class         string   `json:"class,omitempty"`
		Category      string   `json:"category,omitempty"`
		Circumstances []string `json:"circumstances,omitempty"`
		ClassReason   string   `json:"class_reason,omitempty"`
		Risk          string   `json:"risk"`
	}
	CircumstancesRequest struct {
		To     []string `json:"to"`
		Reason string   `json:"reason"`
	}
	MemberRequest struct {
		MemberID   string `json:"member_id,omitempty"`
		Name       string `json:"name"`
		Relation   string `json:"relation"`
		BirthDate  string `json:"birth_date,omitempty"`
		Occupation string `json:"occupation,omitempty"`
		IDNumber   string `json:"id_number,omitempty"`
		Phone      string `json:"phone,omitempty"`
		Income     string `json:"income,omitempty"`
		Health     string `json:"health,omitempty"`
		Disability string `json:"disability,omitempty"`
		Reason     string `json:"reason,omitempty"` // change only
	}
	RelocateRequest struct {
		Address   string `json:"address"`
		Community string `json:"community"`
		Grid      string `json:"grid"`
		Reason    string `json:"reason"`
	}
	ChangeRequest struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	NeedsRequest struct {
		Needs map[string][]string `json:"needs"`
		Note  string              `json:"note,omitempty"`
	}
	ResourcesRequest struct {
		Skills    []string `json:"skills,omitempty"`
		Volunteer bool     `json:"volunteer"`
		Idle      []string `json:"idle,omitempty"`
	}
	ConsentRequest struct {
		Given  *bool  `json:"given"`
		Scope  string `json:"scope,omitempty"`
		Reason string `json:"reason,omitempty"`
		// MemberID and Purpose, given together, record one member's
		// consent for one purpose (visit_preparation, service_matching)
		// instead of the household's (decision 0112); Reference is then the
		// number of the form or request in your register (an id), required
		// to withdraw, and Scope and Reason must be empty.
		MemberID  string `json:"member_id,omitempty"`
		Purpose   string `json:"purpose,omitempty"`
		Reference string `json:"reference,omitempty"`
	}
	ArchiveRequest struct {
		Reason string `json:"reason"`
		Note   string `json:"note,omitempty"`
	}
)

func (m MemberRequest) member() command.Member {
	return command.Member{Name: m.Name, Relation: m.Relation, BirthDate: m.BirthDate, Occupation: m.Occupation,
		IDNumber: m.IDNumber, Phone: m.Phone, Income: m.Income, Health: m.Health, Disability: m.Disability}
}

// householdRoutes are the routes of household files: their commands run
// through cmd (visits, a household command too, are in visits.go; the
// reads in household_reads.go).
type householdRoutes struct {
	*Server
	cmd HouseholdCommands
}

func (s householdRoutes) commandRoutes() []route {
	hh := "households"
	return []route{
		s.cmdRoute("registerHousehold", "/v1/households", "register a household", hh, "RegisterHouseholdRequest", writers(), true, s.register),
		s.cmdRoute("addMember", "/v1/households/{id}/members", "add a household member", hh, "MemberRequest", writers(), true, s.addMember),
		s.cmdRoute("changeMember", "/v1/households/{id}/members/{member_id}/change", "change a member's details", hh, "MemberRequest", writers(), false, s.changeMember),
		s.cmdRoute("removeMember", "/v1/households/{id}/members/{member_id}/leave", "record that a member left", hh, "ReasonRequest", writers(), false, s.removeMember),
		s.cmdRoute("relocateHousehold", "/v1/households/{id}/relocate", "move a household", hh, "RelocateRequest", writers(), false, s.relocate),
		s.cmdRoute("assignWorker", "/v1/households/{id}/worker", "make another worker responsible", hh, "ChangeRequest", managers(), false, s.assignWorker),
		s.cmdRoute("changeClass", "/v1/households/{id}/class", "change the household class", hh, "ChangeRequest", writers(), false, s.changeClass),
		s.cmdRoute("changeCategory", "/v1/households/{id}/category", "change the assistance category", hh, "ChangeRequest", writers(), false, s.changeCategory),
		s.cmdRoute("changeCircumstances", "/v1/households/{id}/circumstances", "change the circumstances the class rules look at", hh, "CircumstancesRequest", writers(), false, s.changeCircumstances),
		s.cmdRoute("changeRisk", "/v1/households/{id}/risk", "change the risk level", hh, "ChangeRequest", writers(), false, s.changeRisk),
		s.cmdRoute("assessNeeds", "/v1/households/{id}/needs", "assess needs in the five domains", hh, "NeedsRequest", writers(), false, s.assessNeeds),
		s.cmdRoute("offerResources", "/v1/households/{id}/resources", "record what the household offers", hh, "ResourcesRequest", writers(), false, s.offerResources),
		s.cmdRoute("recordConsent", "/v1/households/{id}/consent", "record consent to data collection", hh, "ConsentRequest", writers(), false, s.recordConsent),
		s.cmdRoute("archiveHousehold", "/v1/households/{id}/archive", "archive the household file", hh, "ArchiveRequest", managers(), false, s.archive),
	}
}

// onHousehold builds a plan for a command on household {id}.
func (s *Server) onHousehold(r *nethttp.Request, exec func(ctx context.Context, c command.Cmd, id string) (command.Result, error)) *plan {
	id := mux.Vars(r)["id"]
	return &plan{stream: domain.HouseholdStream(id), authorize: s.access("household", id, true, false),
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) { return exec(ctx, c, id) }}
}

func (s householdRoutes) register(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[RegisterHouseholdRequest](r, body)
	if err != nil {
		return nil, err
	}
	return &plan{
		authorize: func(ctx context.Context, p *identity.Principal) error {
			if !p.MayWrite(identity.Subject{Community: in.Community, Grid: in.Grid}, false) {
				return newErr(ErrForbidden, "out_of_scope", "grid",
					fmt.Sprintf("community %s, grid %s is outside your scope", in.Community, in.Grid),
					fmt.Sprintf("社区 %s、网格 %s 不在您的权限范围内", in.Community, in.Grid))
			}
			return nil
		},
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.cmd.RegisterHousehold(ctx, c, in.HouseholdID, domain.RegisterHousehold{Address: in.Address, Community: in.Community,
				Grid: in.Grid, ResponsibleWorker: in.ResponsibleWorker, Class: domain.HouseholdClass(in.Class),
				Category: domain.AssistanceCategory(in.Category), Risk: domain.RiskLevel(in.Risk),
				Circumstances: circumstances(in.Circumstances), ClassReason: in.ClassReason})
		},
		location: func(res command.Result) string { return "/v1/households/" + res.ID },
	}, nil
}

func (s householdRoutes) addMember(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[MemberRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.Reason != "" {
		return nil, newErr(ErrBadRequest, "unknown_field", "reason", "a reason belongs to changing a member, not adding one", "新增成员无需填写原因")
	}
	pl := s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.AddMember(ctx, c, id, in.MemberID, in.member())
	})
	pl.location = func(res command.Result) string { return "/v1/households/" + res.ID }
	return pl, nil
}

func (s householdRoutes) changeMember(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[MemberRequest](r, body)
	if err != nil {
		return nil, err
	}
	mid := mux.Vars(r)["member_id"]
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ChangeMember(ctx, c, id, mid, in.member(), in.Reason)
	}), nil
}

func (s householdRoutes) removeMember(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ReasonRequest](r, body)
	if err != nil {
		return nil, err
	}
	mid := mux.Vars(r)["member_id"]
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.RemoveMember(ctx, c, id, mid, in.Reason)
	}), nil
}

// relocate also needs the caller to cover the new community and grid.
func (s householdRoutes) relocate(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[RelocateRequest](r, body)
	if err != nil {
		return nil, err
	}
	pl := s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.Relocate(ctx, c, id, in.Address, in.Community, in.Grid, in.Reason)
	})
	from := pl.authorize
	pl.authorize = func(ctx context.Context, p *identity.Principal) error {
		if err := from(ctx, p); err != nil {
			return err
		}
		if !p.MayWrite(identity.Subject{Community: in.Community, Grid: in.Grid}, false) {
			return newErr(ErrForbidden, "out_of_scope", "grid", "the new community and grid are outside your scope; ask a supervisor of both",
				"新的社区和网格不在您的权限范围内；请联系同时负责两地的督导")
		}
		return nil
	}
	return pl, nil
}

func (s householdRoutes) assignWorker(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ChangeRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.AssignWorker(ctx, c, id, in.To, in.Reason)
	}), nil
}

func (s householdRoutes) changeClass(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ChangeRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ChangeClass(ctx, c, id, domain.HouseholdClass(in.To), in.Reason)
	}), nil
}

func (s householdRoutes) changeCategory(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ChangeRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ChangeCategory(ctx, c, id, domain.AssistanceCategory(in.To), in.Reason)
	}), nil
}

func circumstances(in []string) []domain.Circumstance {
	out := make([]domain.Circumstance, len(in))
	for i, c := range in {
		out[i] = domain.Circumstance(c)
	}
	return out
}

func (s householdRoutes) changeCircumstances(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[CircumstancesRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ChangeCircumstances(ctx, c, id, circumstances(in.To), in.Reason)
	}), nil
}

func (s householdRoutes) changeRisk(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ChangeRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ChangeRisk(ctx, c, id, domain.RiskLevel(in.To), in.Reason)
	}), nil
}

func (s householdRoutes) assessNeeds(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[NeedsRequest](r, body)
	if err != nil {
		return nil, err
	}
	needs := map[domain.NeedDomain][]string{}
	for k, v := range in.Needs {
		needs[domain.NeedDomain(k)] = v
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.AssessNeeds(ctx, c, id, needs, in.Note)
	}), nil
}

func (s householdRoutes) offerResources(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ResourcesRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.OfferResources(ctx, c, id, in.Skills, in.Volunteer, in.Idle)
	}), nil
}

func (s householdRoutes) recordConsent(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ConsentRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.Given == nil {
		return nil, newErr(ErrBadRequest, "required", "given", "given is required: true when consent is given, false when withdrawn", "“given” 为必填项：同意为 “true”，撤回为 “false”")
	}
	if in.MemberID != "" || in.Purpose != "" || in.Reference != "" {
		return s.recordMemberConsent(r, in)
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.RecordConsent(ctx, c, id, *in.Given, in.Scope, in.Reason)
	}), nil
}

func (s householdRoutes) archive(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ArchiveRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.Archive(ctx, c, id, domain.ArchiveReason(in.Reason), in.Note)
	}), nil
}
