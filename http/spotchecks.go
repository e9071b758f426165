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
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
)

// Spot checks (抽查, 001 §3.4, decision 0115): auditors (纪工委, 督查办) and
// admins draw a month's sample of a community's completed visits and record
// the findings; the community's supervisors read them. A discrepancy opens
// a rectification case (整改通知书) through package rectification.

// SpotCheckCommands are what the spot-check routes consume from the
// command layer (command.Service provides them).
type SpotCheckCommands interface {
	DrawSpotChecks(ctx context.Context, c command.Cmd, community, month string, population []domain.VisitRef, inspectors []string) (command.Result, error)
	RecordSpotCheckFinding(ctx context.Context, c command.Cmd, community, month string, visit domain.VisitRef, result domain.FindingResult, detail string) (command.Result, error)
	SpotCheckRound(ctx context.Context, community, month string) (*domain.SpotCheckRound, error)
	SpotCheckMonth(month string) (start, end time.Time, err error)
}

// VisitPopulation lists a community's completed visits of a period
// (*coverage.Reader).
type VisitPopulation interface {
	CompletedVisits(ctx context.Context, community string, start, end time.Time) ([]domain.VisitRef, error)
}

// DrawSpotChecksRequest is the body of POST /v1/spot-checks.
type DrawSpotChecksRequest struct {
	Community  string   `json:"community"`
	Period     string   `json:"period"`
	Inspectors []string `json:"inspectors"`
}

// FindingRequest is the body of POST /v1/spot-checks/{community}/{period}/findings.
type FindingRequest struct {
	HouseholdID string               `json:"household_id"`
	Version     uint64               `json:"version"`
	Result      domain.FindingResult `json:"result"`
	Detail      string               `json:"detail,omitempty"`
}

// SpotChecks is a community's spot checks of a month: the draw (seed, rate,
// population size and hash, sample with inspectors) and the findings.
type SpotChecks struct {
	Community      string                            `json:"community"`
	Period         string                            `json:"period"`
	Version        uint64                            `json:"version"`
	Rate           float64                           `json:"rate"`
	Seed           string                            `json:"seed"`
	Population     int                               `json:"population"`
	PopulationHash string                            `json:"population_hash"`
	Sample         []domain.SpotCheckItem            `json:"sample"`
	DrawnAt        time.Time                         `json:"drawn_at"`
	DrawnBy        string                            `json:"drawn_by"`
	PolicyVersion  string                            `json:"policy_version"`
	Findings       []domain.SpotCheckFindingRecorded `json:"findings"`
}

func spotCheckSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["DrawSpotChecksRequest"] = reflect.TypeOf(DrawSpotChecksRequest{})
	requests["FindingRequest"] = reflect.TypeOf(FindingRequest{})
	responses["SpotChecks"] = reflect.TypeOf(SpotChecks{})
}

func inspectorRoles() []identity.Role {
	return []identity.Role{identity.RoleAuditor, identity.RoleAdmin}
}

func (s *Server) spotCheckRoutes() []route {
	draw := s.cmdRoute("drawSpotChecks", "/v1/spot-checks",
		"draw a month's spot checks of a community's completed visits (at least the policy's share, from a recorded seed) and assign the inspectors",
		"spot checks", "DrawSpotChecksRequest", inspectorRoles(), true, s.drawSpotChecks)
	return []route{
		draw,
		s.cmdRoute("recordSpotCheckFinding", "/v1/spot-checks/{community}/{period}/findings",
			"record the finding of a sampled visit's check (confirmed, or a discrepancy with its detail)", "spot checks", "FindingRequest",
			inspectorRoles(), false, s.recordFinding),
		{op: "getSpotChecks", method: "GET", path: "/v1/spot-checks/{community}/{period}", roles: rectificationReaders(),
			summary: "a community's spot checks of a month: the seed, the sample with its inspectors, the findings", h: s.getSpotChecks,
			doc: opDoc{tag: "spot checks", ok: 200, resp: "SpotChecks"}},
	}
}

func spotCheckNotFound(community, period string) error {
	return newErr(ErrNotFound, "spot_check_not_found", "period",
		fmt.Sprintf("no spot checks of %s for %s exist in your scope", clip(community), clip(period)),
		fmt.Sprintf("%s %s 的抽查不存在或不在您的权限范围内", clip(community), clip(period)))
}

func (s *Server) drawSpotChecks(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[DrawSpotChecksRequest](r, body)
	if err != nil {
		return nil, err
	}
	if err := domain.CheckID("community", in.Community); err != nil {
		return nil, err
	}
	start, end, err := s.d.Commands.SpotCheckMonth(in.Period)
	if err != nil {
		return nil, err
	}
	if len(in.Inspectors) > domain.MaxInspectors {
		return nil, newErr(ErrBadRequest, "too_many_inspectors", "inspectors", fmt.Sprintf("at most %d inspectors", domain.MaxInspectors),
			fmt.Sprintf("抽查人员最多 %d 名", domain.MaxInspectors))
	}
	return &plan{stream: domain.SpotCheckStream(in.Community, in.Period),
		authorize: func(_ context.Context, p *identity.Principal) error { return nil }, // auditors and admins (route roles) have no scope
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			if s.d.Read.Visits == nil || s.d.Read.Engine == nil {
				return command.Result{}, noReadModel("coverage")
			}
			// The population is every completed visit the log holds now.
			head, err := s.d.Store.Head(ctx)
			if err != nil {
				return command.Result{}, err
			}
			if err := s.d.Read.Engine.WaitFor(ctx, pcoverage.Name, head); err != nil {
				return command.Result{}, err
			}
			pop, err := s.d.Read.Visits.CompletedVisits(ctx, in.Community, start, end)
			if err != nil {
				return command.Result{}, err
			}
			return s.d.Commands.DrawSpotChecks(ctx, c, in.Community, in.Period, pop, in.Inspectors)
		},
		location: func(command.Result) string { return "/v1/spot-checks/" + in.Community + "/" + in.Period },
	}, nil
}

func (s *Server) recordFinding(r *nethttp.Request, body []byte) (*plan, error) {
	community, period := mux.Vars(r)["community"], mux.Vars(r)["period"]
	if err := domain.CheckID("community", community); err != nil {
		return nil, err
	}
	in, err := decodeInto[FindingRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.HouseholdID == "" || in.Version == 0 {
		return nil, newErr(ErrBadRequest, "required", "household_id", "name the sampled visit: household_id and version",
			"请指明抽查的走访：住户编号（household_id）及走访事件的版本号")
	}
	return &plan{stream: domain.SpotCheckStream(community, period),
		authorize: func(_ context.Context, p *identity.Principal) error { return nil }, // auditors and admins (route roles) have no scope
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.d.Commands.RecordSpotCheckFinding(ctx, c, community, period, domain.VisitRef{Household: in.HouseholdID, Version: in.Version},
				in.Result, in.Detail)
		}}, nil
}

func (s *Server) getSpotChecks(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	community, period := mux.Vars(r)["community"], mux.Vars(r)["period"]
	if !domain.ValidID(community) || !domain.ValidID(domain.SpotCheckStream(community, period)) {
		return spotCheckNotFound(community, period)
	}
	p := principalFrom(r.Context())
	if !p.Covers(community, "") {
		return spotCheckNotFound(community, period)
	}
	round, err := s.d.Commands.SpotCheckRound(r.Context(), community, period)
	if err != nil {
		return err
	}
	d, ok := round.Drawn()
	if !ok {
		return spotCheckNotFound(community, period)
	}
	out := SpotChecks{Community: community, Period: period, Version: round.Version(), Rate: d.Rate, Seed: d.Seed, Population: d.Population,
		PopulationHash: d.PopulationHash, Sample: d.Sample, DrawnAt: d.At, DrawnBy: d.By, PolicyVersion: d.PolicyVersion,
		Findings: round.Findings()}
	if out.Sample == nil {
		out.Sample = []domain.SpotCheckItem{}
	}
	if out.Findings == nil {
		out.Findings = []domain.SpotCheckFindingRecorded{}
	}
	w.Header().Set("ETag", fmt.Sprintf("%q", fmt.Sprint(round.Version())))
	return writeJSON(w, nethttp.StatusOK, out)
}
