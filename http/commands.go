package http

import (
	"bytes"
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"
	"strings"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/app"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// Request bodies of the command routes. Times are RFC 3339 strings, parsed
// with the field's name in the error; enumerations are checked by the
// domain, which names the field too.
type (
	RegisterHouseholdRequest struct {
		HouseholdID       string `json:"household_id,omitempty"`
		Address           string `json:"address"`
		Community         string `json:"community"`
		Grid              string `json:"grid"`
		ResponsibleWorker string `json:"responsible_worker"`
		Class             string `json:"class"`
		Category          string `json:"category,omitempty"`
		Risk              string `json:"risk"`
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
	ReasonRequest struct {
		Reason string `json:"reason"`
	}
	NoteRequest struct {
		Note string `json:"note,omitempty"`
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
	}
	ArchiveRequest struct {
		Reason string `json:"reason"`
		Note   string `json:"note,omitempty"`
	}
	VisitRequest struct {
		VisitID            string          `json:"visit_id,omitempty"`
		Team               []string        `json:"team"`
		OccurredAt         string          `json:"occurred_at"`
		Mode               string          `json:"mode"`
		Outcome            string          `json:"outcome"`
		Health             string          `json:"health,omitempty"`
		Economic           string          `json:"economic,omitempty"`
		SupportObligations string          `json:"support_obligations,omitempty"`
		HomeSafety         string          `json:"home_safety,omitempty"`
		ServiceNeeds       string          `json:"service_needs,omitempty"`
		Observations       string          `json:"observations,omitempty"`
		Summary            string          `json:"summary,omitempty"`
		Attachments        []string        `json:"attachments,omitempty"`
		CheckIn            *domain.CheckIn `json:"check_in,omitempty"`
		ProblemIDs         []string        `json:"problem_ids,omitempty"`
	}
	ReportProblemRequest struct {
		ProblemID     string `json:"problem_id,omitempty"`
		HouseholdID   string `json:"household_id"`
		VisitID       string `json:"visit_id,omitempty"`
		Description   string `json:"description"`
		Category      string `json:"category"`
		HandlingClass string `json:"handling_class"`
		Colour        string `json:"colour"`
		Urgency       string `json:"urgency"`
		FoundBy       string `json:"found_by,omitempty"`
	}
	ReclassifyRequest struct {
		HandlingClass string `json:"handling_class"`
		Colour        string `json:"colour"`
		Urgency       string `json:"urgency"`
		Reason        string `json:"reason"`
	}
	AssignRequest struct {
		To        string `json:"to"`
		Reason    string `json:"reason,omitempty"`
		TimeLimit string `json:"time_limit,omitempty"` // e.g. "5 working_days"
		Sessions  int    `json:"sessions,omitempty"`
	}
	ExtendRequest struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	ProgressRequest struct {
		Note     string `json:"note"`
		FollowUp string `json:"follow_up"`
	}
	ResolveRequest struct {
		Summary   string                  `json:"summary"`
		Resources []domain.LinkedResource `json:"resources,omitempty"`
	}
	SatisfactionRequest struct {
		Score   int    `json:"score"`
		Comment string `json:"comment,omitempty"`
	}
	RevisitRequest struct {
		Held   *bool  `json:"held"`
		Method string `json:"method"`
		Note   string `json:"note,omitempty"`
	}
	CloseRequest struct {
		Reason string `json:"reason,omitempty"`
	}
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

func (m MemberRequest) member() app.Member {
	return app.Member{Name: m.Name, Relation: m.Relation, BirthDate: m.BirthDate, Occupation: m.Occupation,
		IDNumber: m.IDNumber, Phone: m.Phone, Income: m.Income, Health: m.Health, Disability: m.Disability}
}

func parseSpan(field, s string, required bool) (domain.Span, error) {
	if s == "" && required {
		return domain.Span{}, newErr(ErrBadRequest, "required", field, field+" is required, e.g. \"5 working_days\"", field+" 为必填项，例如 \"5 working_days\"")
	}
	sp, err := domain.ParseSpan(s)
	if err != nil {
		return sp, newErr(ErrBadRequest, "invalid_time_limit", field,
			fmt.Sprintf("%s %q is not a time limit; write \"<n> <unit>\" with unit hour, day, working_day, week or month, e.g. \"5 working_days\"", field, clip(s)),
			fmt.Sprintf("%s %q 不是有效时限；请写成 “<数量> <单位>”，单位为 hour、day、working_day、week 或 month，例如 \"5 working_days\"", field, clip(s)))
	}
	return sp, nil
}

func outOfScope(what, id string) error {
	return newErr(ErrForbidden, "out_of_scope", "",
		fmt.Sprintf("%s %s is outside your scope (your grids, communities or department)", what, id),
		fmt.Sprintf("%s %s 不在您的权限范围内（您的网格、社区或部门）", map[string]string{"household": "家庭", "problem": "问题", "referral": "转介"}[what], id))
}

func notFound(what, id string) error {
	zh := map[string]string{"household": "家庭", "problem": "问题", "referral": "转介"}[what]
	return newErr(ErrNotFound, what+"_not_found", what+"_id", fmt.Sprintf("%s %s does not exist", what, id), fmt.Sprintf("%s %s 不存在", zh, id))
}

// access returns an authorize func for an existing subject.
func (s *Server) access(kind, id string, write, receiver bool) func(ctx context.Context, p *identity.Principal) error {
	return func(ctx context.Context, p *identity.Principal) error {
		var sc scope
		var err error
		// Commands decide on the scope as of now; reads may use the
		// followed cache (see scopeResolver.stream).
		switch kind {
		case "household":
			sc, err = s.scopes.household(ctx, id, write)
		case "problem":
			sc, err = s.scopes.problem(ctx, id, write)
		case "referral":
			sc, err = s.scopes.referral(ctx, id, write)
		}
		if err != nil {
			return err
		}
		if !sc.exists {
			return notFound(kind, id)
		}
		ok := p.MayRead(sc.subject())
		if write {
			ok = p.MayWrite(sc.subject(), receiver)
		}
		if !ok {
			return outOfScope(kind, id)
		}
		return nil
	}
}

// Roles allowed on command routes (scope is checked per subject).
func writers() []identity.Role {
	return []identity.Role{identity.RoleWorker, identity.RoleSupervisor, identity.RoleAdmin}
}
func managers() []identity.Role { return []identity.Role{identity.RoleSupervisor, identity.RoleAdmin} }
func receivers() []identity.Role {
	return []identity.Role{identity.RoleDepartment, identity.RoleSupervisor, identity.RoleAdmin}
}

// cmdRoute declares one command route.
func (s *Server) cmdRoute(op, path, summary, tag, body string, roles []identity.Role, create bool, b builder) route {
	ok := 200
	if create {
		ok = 201
	}
	return route{op: op, method: "POST", path: path, roles: roles, summary: summary, h: s.command(b),
		doc: opDoc{tag: tag, body: body, ok: ok, resp: "CommandResult", command: true}}
}

// onHousehold builds a plan for a command on household {id}.
func (s *Server) onHousehold(r *nethttp.Request, exec func(ctx context.Context, c app.Cmd, id string) (app.Result, error)) *plan {
	id := mux.Vars(r)["id"]
	return &plan{stream: domain.HouseholdStream(id), authorize: s.access("household", id, true, false),
		exec: func(ctx context.Context, c app.Cmd) (app.Result, error) { return exec(ctx, c, id) }}
}

func (s *Server) onProblem(r *nethttp.Request, exec func(ctx context.Context, c app.Cmd, id string) (app.Result, error)) *plan {
	id := mux.Vars(r)["id"]
	return &plan{stream: domain.ProblemStream(id), authorize: s.access("problem", id, true, false),
		exec: func(ctx context.Context, c app.Cmd) (app.Result, error) { return exec(ctx, c, id) }}
}

func (s *Server) onReferral(r *nethttp.Request, receiver bool, exec func(ctx context.Context, c app.Cmd, id string) (app.Result, error)) *plan {
	id := mux.Vars(r)["id"]
	return &plan{stream: domain.ReferralStream(id), authorize: s.access("referral", id, true, receiver),
		exec: func(ctx context.Context, c app.Cmd) (app.Result, error) { return exec(ctx, c, id) }}
}

// decodeInto returns a builder helper that decodes the body into a new T.
// An empty body is read as {}: commands whose fields are all optional
// (start a referral, close a resolved problem) need none, and the others
// report their missing fields by name.
//
// Every id in the body (a string field whose JSON name ends in "_id", or
// the items of a list whose name ends in "_ids") must follow the one id
// rule (domain.CheckID) when given.
func decodeInto[T any](r *nethttp.Request, body []byte) (T, error) {
	var v T
	if len(bytes.TrimSpace(body)) == 0 {
		return v, nil
	}
	if err := decodeBody(r, body, &v); err != nil {
		return v, err
	}
	return v, checkBodyIDs(&v)
}

// checkBodyIDs checks the ids among the top-level fields of the struct v
// points to (see decodeInto).
func checkBodyIDs(v any) error {
	rv := reflect.ValueOf(v).Elem()
	if rv.Kind() != reflect.Struct {
		return nil
	}
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fv := rv.Field(i)
		switch {
		case strings.HasSuffix(name, "_id") && fv.Kind() == reflect.String:
			if id := fv.String(); id != "" {
				if err := domain.CheckID(name, id); err != nil {
					return err
				}
			}
		case strings.HasSuffix(name, "_ids") && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			for j := range fv.Len() {
				if err := domain.CheckID(name, fv.Index(j).String()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Server) commandRoutes() []route {
	svc := func() *app.Service { return s.d.Commands }
	hh := "households"
	return []route{
		s.cmdRoute("registerHousehold", "/v1/households", "register a household", hh, "RegisterHouseholdRequest", writers(), true,
			func(r *nethttp.Request, body []byte) (*plan, error) {
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
					exec: func(ctx context.Context, c app.Cmd) (app.Result, error) {
						return svc().RegisterHousehold(ctx, c, in.HouseholdID, domain.RegisterHousehold{Address: in.Address, Community: in.Community,
							Grid: in.Grid, ResponsibleWorker: in.ResponsibleWorker, Class: domain.HouseholdClass(in.Class),
							Category: domain.AssistanceCategory(in.Category), Risk: domain.RiskLevel(in.Risk)})
					},
					location: func(res app.Result) string { return "/v1/households/" + res.ID },
				}, nil
			}),
		s.cmdRoute("addMember", "/v1/households/{id}/members", "add a household member", hh, "MemberRequest", writers(), true,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[MemberRequest](r, body)
				if err != nil {
					return nil, err
				}
				if in.Reason != "" {
					return nil, newErr(ErrBadRequest, "unknown_field", "reason", "a reason belongs to changing a member, not adding one", "新增成员无需填写原因")
				}
				pl := s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().AddMember(ctx, c, id, in.MemberID, in.member())
				})
				pl.location = func(res app.Result) string { return "/v1/households/" + res.ID }
				return pl, nil
			}),
		s.cmdRoute("changeMember", "/v1/households/{id}/members/{member_id}/change", "change a member's details", hh, "MemberRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[MemberRequest](r, body)
				if err != nil {
					return nil, err
				}
				mid := mux.Vars(r)["member_id"]
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ChangeMember(ctx, c, id, mid, in.member(), in.Reason)
				}), nil
			}),
		s.cmdRoute("removeMember", "/v1/households/{id}/members/{member_id}/leave", "record that a member left", hh, "ReasonRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ReasonRequest](r, body)
				if err != nil {
					return nil, err
				}
				mid := mux.Vars(r)["member_id"]
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().RemoveMember(ctx, c, id, mid, in.Reason)
				}), nil
			}),
		s.cmdRoute("relocateHousehold", "/v1/households/{id}/relocate", "move a household", hh, "RelocateRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[RelocateRequest](r, body)
				if err != nil {
					return nil, err
				}
				pl := s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().Relocate(ctx, c, id, in.Address, in.Community, in.Grid, in.Reason)
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
			}),
		s.cmdRoute("assignWorker", "/v1/households/{id}/worker", "make another worker responsible", hh, "ChangeRequest", managers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ChangeRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().AssignWorker(ctx, c, id, in.To, in.Reason)
				}), nil
			}),
		s.cmdRoute("changeClass", "/v1/households/{id}/class", "change the household class", hh, "ChangeRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ChangeRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ChangeClass(ctx, c, id, domain.HouseholdClass(in.To), in.Reason)
				}), nil
			}),
		s.cmdRoute("changeCategory", "/v1/households/{id}/category", "change the assistance category", hh, "ChangeRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ChangeRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ChangeCategory(ctx, c, id, domain.AssistanceCategory(in.To), in.Reason)
				}), nil
			}),
		s.cmdRoute("changeRisk", "/v1/households/{id}/risk", "change the risk level", hh, "ChangeRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ChangeRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ChangeRisk(ctx, c, id, domain.RiskLevel(in.To), in.Reason)
				}), nil
			}),
		s.cmdRoute("assessNeeds", "/v1/households/{id}/needs", "assess needs in the five domains", hh, "NeedsRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[NeedsRequest](r, body)
				if err != nil {
					return nil, err
				}
				needs := map[domain.NeedDomain][]string{}
				for k, v := range in.Needs {
					needs[domain.NeedDomain(k)] = v
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().AssessNeeds(ctx, c, id, needs, in.Note)
				}), nil
			}),
		s.cmdRoute("offerResources", "/v1/households/{id}/resources", "record what the household offers", hh, "ResourcesRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ResourcesRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().OfferResources(ctx, c, id, in.Skills, in.Volunteer, in.Idle)
				}), nil
			}),
		s.cmdRoute("recordConsent", "/v1/households/{id}/consent", "record consent to data collection", hh, "ConsentRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ConsentRequest](r, body)
				if err != nil {
					return nil, err
				}
				if in.Given == nil {
					return nil, newErr(ErrBadRequest, "required", "given", "given is required: true when consent is given, false when withdrawn", "given 为必填项：同意为 true，撤回为 false")
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().RecordConsent(ctx, c, id, *in.Given, in.Scope, in.Reason)
				}), nil
			}),
		s.cmdRoute("archiveHousehold", "/v1/households/{id}/archive", "archive the household file", hh, "ArchiveRequest", managers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ArchiveRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().Archive(ctx, c, id, domain.ArchiveReason(in.Reason), in.Note)
				}), nil
			}),
		s.cmdRoute("recordVisit", "/v1/households/{id}/visits", "record a visit (also a refusal or nobody home)", "visits", "VisitRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[VisitRequest](r, body)
				if err != nil {
					return nil, err
				}
				at, err := parseTime("occurred_at", in.OccurredAt, true)
				if err != nil {
					return nil, err
				}
				v := app.Visit{VisitID: in.VisitID, Team: in.Team, OccurredAt: at, Mode: domain.VisitMode(in.Mode), Outcome: domain.VisitOutcome(in.Outcome),
					Health: in.Health, Economic: in.Economic, SupportObligations: in.SupportObligations, HomeSafety: in.HomeSafety,
					ServiceNeeds: in.ServiceNeeds, Observations: in.Observations, Summary: in.Summary, Attachments: in.Attachments,
					CheckIn: in.CheckIn, ProblemIDs: in.ProblemIDs}
				return s.onHousehold(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().RecordVisit(ctx, c, id, v)
				}), nil
			}),

		s.cmdRoute("reportProblem", "/v1/problems", "report a problem found at a household", "problems", "ReportProblemRequest", writers(), true,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ReportProblemRequest](r, body)
				if err != nil {
					return nil, err
				}
				if in.HouseholdID == "" {
					return nil, newErr(ErrBadRequest, "required", "household_id", "household_id is required", "household_id 为必填项")
				}
				return &plan{authorize: s.access("household", in.HouseholdID, true, false),
					exec: func(ctx context.Context, c app.Cmd) (app.Result, error) {
						return svc().ReportProblem(ctx, c, app.ReportProblem{ProblemID: in.ProblemID, HouseholdID: in.HouseholdID, VisitID: in.VisitID,
							Description: in.Description, Category: domain.ProblemCategory(in.Category), HandlingClass: domain.HandlingClass(in.HandlingClass),
							Colour: domain.Colour(in.Colour), Urgency: domain.Urgency(in.Urgency), FoundBy: in.FoundBy})
					},
					location: func(res app.Result) string { return "/v1/problems/" + res.ID }}, nil
			}),
		s.cmdRoute("reclassifyProblem", "/v1/problems/{id}/reclassify", "reclassify a problem", "problems", "ReclassifyRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ReclassifyRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ReclassifyProblem(ctx, c, id, domain.HandlingClass(in.HandlingClass), domain.Colour(in.Colour), domain.Urgency(in.Urgency), in.Reason)
				}), nil
			}),
		s.cmdRoute("assignProblem", "/v1/problems/{id}/assign", "assign a problem and set its time limit", "problems", "AssignRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[AssignRequest](r, body)
				if err != nil {
					return nil, err
				}
				sp, err := parseSpan("time_limit", in.TimeLimit, false)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().AssignProblem(ctx, c, id, domain.AssignProblem{To: in.To, Reason: in.Reason, TimeLimit: sp, Sessions: in.Sessions})
				}), nil
			}),
		s.cmdRoute("extendProblemDeadline", "/v1/problems/{id}/extend", "extend a problem's deadline with a reason", "problems", "ExtendRequest", managers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ExtendRequest](r, body)
				if err != nil {
					return nil, err
				}
				to, err := parseTime("to", in.To, true)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ExtendProblemDeadline(ctx, c, id, to, in.Reason)
				}), nil
			}),
		s.cmdRoute("noteProgress", "/v1/problems/{id}/progress", "record a follow-up", "problems", "ProgressRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ProgressRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().NoteProgress(ctx, c, id, in.Note, domain.FollowUpMethod(in.FollowUp))
				}), nil
			}),
		s.cmdRoute("resolveProblem", "/v1/problems/{id}/resolve", "record a problem's resolution", "problems", "ResolveRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ResolveRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ResolveProblem(ctx, c, id, in.Summary, in.Resources)
				}), nil
			}),
		s.cmdRoute("rateSatisfaction", "/v1/problems/{id}/satisfaction", "record the household's satisfaction (1–5)", "problems", "SatisfactionRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[SatisfactionRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().RateSatisfaction(ctx, c, id, in.Score, in.Comment)
				}), nil
			}),
		s.cmdRoute("revisitProblem", "/v1/problems/{id}/revisit", "record a return visit to a resolved problem", "problems", "RevisitRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[RevisitRequest](r, body)
				if err != nil {
					return nil, err
				}
				if in.Held == nil {
					return nil, newErr(ErrBadRequest, "required", "held", "held is required: true when the resolution holds", "held 为必填项：问题未复发为 true")
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().RevisitProblem(ctx, c, id, *in.Held, domain.FollowUpMethod(in.Method), in.Note)
				}), nil
			}),
		s.cmdRoute("reopenProblem", "/v1/problems/{id}/reopen", "reopen a problem that recurred", "problems", "ReasonRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ReasonRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().ReopenProblem(ctx, c, id, in.Reason)
				}), nil
			}),
		s.cmdRoute("closeProblem", "/v1/problems/{id}/close", "close a problem", "problems", "CloseRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[CloseRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onProblem(r, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().CloseProblem(ctx, c, id, in.Reason)
				}), nil
			}),

		s.cmdRoute("requestReferral", "/v1/referrals", "refer a problem to a department or organisation", "referrals", "RequestReferralRequest", writers(), true,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[RequestReferralRequest](r, body)
				if err != nil {
					return nil, err
				}
				if in.ProblemID == "" {
					return nil, newErr(ErrBadRequest, "required", "problem_id", "problem_id is required", "problem_id 为必填项")
				}
				return &plan{authorize: s.access("problem", in.ProblemID, true, false),
					exec: func(ctx context.Context, c app.Cmd) (app.Result, error) {
						return svc().RequestReferral(ctx, c, app.RequestReferral{ReferralID: in.ReferralID, ProblemID: in.ProblemID, HouseholdID: in.HouseholdID,
							Level: domain.ReferralLevel(in.Level), To: in.To, Request: in.Request})
					},
					location: func(res app.Result) string { return "/v1/referrals/" + res.ID }}, nil
			}),
		s.cmdRoute("acceptReferral", "/v1/referrals/{id}/accept", "accept a referral: name the responsible person and time limit", "referrals", "AcceptRequest", receivers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[AcceptRequest](r, body)
				if err != nil {
					return nil, err
				}
				sp, err := parseSpan("time_limit", in.TimeLimit, true)
				if err != nil {
					return nil, err
				}
				return s.onReferral(r, true, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().AcceptReferral(ctx, c, id, in.Responsible, sp, in.Note)
				}), nil
			}),
		s.cmdRoute("declineReferral", "/v1/referrals/{id}/decline", "decline a referral with a reason", "referrals", "ReasonRequest", receivers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ReasonRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onReferral(r, true, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().DeclineReferral(ctx, c, id, in.Reason)
				}), nil
			}),
		s.cmdRoute("startReferral", "/v1/referrals/{id}/start", "record that handling of a referral began", "referrals", "NoteRequest", receivers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[NoteRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onReferral(r, true, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().StartReferral(ctx, c, id, in.Note)
				}), nil
			}),
		s.cmdRoute("completeReferral", "/v1/referrals/{id}/complete", "record a referral's outcome", "referrals", "CompleteRequest", receivers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[CompleteRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onReferral(r, true, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().CompleteReferral(ctx, c, id, in.Outcome, in.Resources)
				}), nil
			}),
		s.cmdRoute("cancelReferral", "/v1/referrals/{id}/cancel", "withdraw a referral with a reason", "referrals", "ReasonRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[ReasonRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onReferral(r, false, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().CancelReferral(ctx, c, id, in.Reason)
				}), nil
			}),
		s.cmdRoute("escalateReferral", "/v1/referrals/{id}/escalate", "escalate a referral to a higher level", "referrals", "EscalateRequest", writers(), false,
			func(r *nethttp.Request, body []byte) (*plan, error) {
				in, err := decodeInto[EscalateRequest](r, body)
				if err != nil {
					return nil, err
				}
				return s.onReferral(r, false, func(ctx context.Context, c app.Cmd, id string) (app.Result, error) {
					return svc().EscalateReferral(ctx, c, id, domain.ReferralLevel(in.Level), in.To, in.Reason)
				}), nil
			}),
	}
}
