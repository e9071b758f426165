package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// Satisfaction surveys (满意度问卷, 001 §3.4, decision 0127): the street's
// supervisors' office runs a community's half-yearly survey (the
// community's supervisors and admins open it, record the returned
// questionnaires and close it); auditors read it. A closing below the
// policy's return rate or satisfaction opens a rectification case through
// package rectification.

// SurveyCommands are what the survey routes consume from the command
// layer (command.Service provides them).
type SurveyCommands interface {
	OpenSurvey(ctx context.Context, c command.Cmd, community, halfYear string, surveyed int) (command.Result, error)
	RecordSurveyResponse(ctx context.Context, c command.Cmd, community, halfYear, household string, satisfied bool) (command.Result, error)
	CloseSurvey(ctx context.Context, c command.Cmd, community, halfYear string) (command.Result, error)
	SurveyRound(ctx context.Context, community, halfYear string) (*domain.SurveyRound, error)
}

// OpenSurveyRequest is the body of POST /v1/surveys.
type OpenSurveyRequest struct {
	Community string `json:"community"`
	Period    string `json:"period"`   // a half-year: 2026-H1, 2026-H2
	Surveyed  int    `json:"surveyed"` // households handed a questionnaire
}

// SurveyResponseRequest is the body of POST /v1/surveys/{community}/{period}/responses.
type SurveyResponseRequest struct {
	HouseholdID string `json:"household_id"`
	Satisfied   *bool  `json:"satisfied"`
}

// Survey is a community's survey of a half-year: the questionnaires
// handed out, how many came back and how many of those were satisfied, and
// once closed the figures held to the policy (no household's answer).
type Survey struct {
	Community     string               `json:"community"`
	Period        string               `json:"period"`
	Version       uint64               `json:"version"`
	Surveyed      int                  `json:"surveyed"`
	Returned      int                  `json:"returned"`
	Satisfied     int                  `json:"satisfied"`
	OpenedAt      time.Time            `json:"opened_at"`
	OpenedBy      string               `json:"opened_by"`
	PolicyVersion string               `json:"policy_version"`
	Closed        *domain.SurveyClosed `json:"closed,omitempty"`
}

func surveySchemaTypes(requests, responses map[string]reflect.Type) {
	requests["OpenSurveyRequest"] = reflect.TypeOf(OpenSurveyRequest{})
	requests["SurveyResponseRequest"] = reflect.TypeOf(SurveyResponseRequest{})
	responses["Survey"] = reflect.TypeOf(Survey{})
}

func surveyWriters() []identity.Role {
	return []identity.Role{identity.RoleSupervisor, identity.RoleAdmin}
}

func (s *Server) surveyRoutes() []route {
	return []route{
		s.cmdRoute("openSurvey", "/v1/surveys",
			"open a community's half-yearly satisfaction survey with the number of households handed a questionnaire",
			"surveys", "OpenSurveyRequest", surveyWriters(), true, s.openSurvey),
		s.cmdRoute("recordSurveyResponse", "/v1/surveys/{community}/{period}/responses",
			"record a household's returned questionnaire (satisfied or not), once per household", "surveys", "SurveyResponseRequest",
			surveyWriters(), false, s.recordSurveyResponse),
		s.cmdRoute("closeSurvey", "/v1/surveys/{community}/{period}/close",
			"close a survey: its return rate and satisfaction are held to the policy; below either opens a rectification case", "surveys", "",
			surveyWriters(), false, s.closeSurvey),
		{op: "getSurvey", method: "GET", path: "/v1/surveys/{community}/{period}", roles: rectificationReaders(),
			summary: "a community's satisfaction survey of a half-year: questionnaires handed out, returned, satisfied, and its closing", h: s.getSurvey,
			doc: opDoc{tag: "surveys", ok: 200, resp: "Survey"}},
	}
}

func surveyNotFound(community, period string) error {
	return newErr(ErrNotFound, "survey_not_found", "period",
		fmt.Sprintf("no survey of %s for %s exists in your scope", clip(community), clip(period)),
		fmt.Sprintf("%s %s 的满意度问卷不存在或不在您的权限范围内", clip(community), clip(period)))
}

// surveyPlan is the plan of a survey command on community's round of
// period, by a principal whose scope covers the community.
func (s *Server) surveyPlan(community, period string, exec func(ctx context.Context, c command.Cmd) (command.Result, error)) (*plan, error) {
	if err := domain.CheckID("community", community); err != nil {
		return nil, err
	}
	if err := domain.CheckID("period", domain.SurveyStream(community, period)); err != nil {
		return nil, err
	}
	return &plan{stream: domain.SurveyStream(community, period),
		authorize: func(_ context.Context, p *identity.Principal) error {
			if !p.Covers(community, "") {
				return surveyNotFound(community, period)
			}
			return nil
		},
		exec: exec}, nil
}

func (s *Server) openSurvey(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[OpenSurveyRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.Period == "" {
		return nil, newErr(ErrBadRequest, "required", "period", "name the half-year: period, e.g. 2026-H2", "请填写半年度，例如 2026-H2")
	}
	p, err := s.surveyPlan(in.Community, in.Period, func(ctx context.Context, c command.Cmd) (command.Result, error) {
		return s.d.Commands.OpenSurvey(ctx, c, in.Community, in.Period, in.Surveyed)
	})
	if err != nil {
		return nil, err
	}
	p.location = func(command.Result) string { return "/v1/surveys/" + in.Community + "/" + in.Period }
	return p, nil
}

func (s *Server) recordSurveyResponse(r *nethttp.Request, body []byte) (*plan, error) {
	community, period := mux.Vars(r)["community"], mux.Vars(r)["period"]
	in, err := decodeInto[SurveyResponseRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.HouseholdID == "" || in.Satisfied == nil {
		return nil, newErr(ErrBadRequest, "required", "satisfied", "name the household (household_id) and its answer (satisfied: true or false)",
			"请填写住户编号（household_id）及其答复（满意或不满意）")
	}
	return s.surveyPlan(community, period, func(ctx context.Context, c command.Cmd) (command.Result, error) {
		return s.d.Commands.RecordSurveyResponse(ctx, c, community, period, in.HouseholdID, *in.Satisfied)
	})
}

func (s *Server) closeSurvey(r *nethttp.Request, body []byte) (*plan, error) {
	community, period := mux.Vars(r)["community"], mux.Vars(r)["period"]
	if _, err := decodeInto[struct{}](r, body); err != nil {
		return nil, err
	}
	return s.surveyPlan(community, period, func(ctx context.Context, c command.Cmd) (command.Result, error) {
		return s.d.Commands.CloseSurvey(ctx, c, community, period)
	})
}

func (s *Server) getSurvey(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	community, period := mux.Vars(r)["community"], mux.Vars(r)["period"]
	if !domain.ValidID(community) || !domain.ValidID(domain.SurveyStream(community, period)) {
		return surveyNotFound(community, period)
	}
	if p := principalFrom(r.Context()); !p.Covers(community, "") {
		return surveyNotFound(community, period)
	}
	round, err := s.d.Commands.SurveyRound(r.Context(), community, period)
	if err != nil {
		return err
	}
	o, ok := round.Opened()
	if !ok {
		return surveyNotFound(community, period)
	}
	out := Survey{Community: community, Period: period, Version: round.Version(), Surveyed: o.Surveyed, OpenedAt: o.At, OpenedBy: o.By,
		PolicyVersion: o.PolicyVersion}
	for _, a := range round.Responses() {
		out.Returned++
		if a.Satisfied {
			out.Satisfied++
		}
	}
	if c, ok := round.Closed(); ok {
		out.Closed = &c
	}
	w.Header().Set("ETag", fmt.Sprintf("%q", fmt.Sprint(round.Version())))
	return writeJSON(w, nethttp.StatusOK, out)
}
