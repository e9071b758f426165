package http

import (
	"context"
	nethttp "net/http"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// VisitRequest is the body of POST /v1/households/{id}/visits.
type VisitRequest struct {
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

// visitRoutes records visits: a household command (HouseholdCommands)
// documented under its own tag.
func (s householdRoutes) visitRoutes() []route {
	return []route{
		s.cmdRoute("recordVisit", "/v1/households/{id}/visits", "record a visit (also a refusal or nobody home)", "visits", "VisitRequest", writers(), false, s.recordVisit),
	}
}

func (s householdRoutes) recordVisit(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[VisitRequest](r, body)
	if err != nil {
		return nil, err
	}
	at, err := parseTime("occurred_at", in.OccurredAt, true)
	if err != nil {
		return nil, err
	}
	v := command.Visit{VisitID: in.VisitID, Team: in.Team, OccurredAt: at, Mode: domain.VisitMode(in.Mode), Outcome: domain.VisitOutcome(in.Outcome),
		Health: in.Health, Economic: in.Economic, SupportObligations: in.SupportObligations, HomeSafety: in.HomeSafety,
		ServiceNeeds: in.ServiceNeeds, Observations: in.Observations, Summary: in.Summary, Attachments: in.Attachments,
		CheckIn: in.CheckIn, ProblemIDs: in.ProblemIDs}
	return s.onHousehold(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.RecordVisit(ctx, c, id, v)
	}), nil
}
