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
	"github.com/doorstep/doorstep/projections/profile"
)

// Festival visit campaigns (节日慰问, 004 §4.2 重要节日必访, decision 0140): the
// community's supervisors (or an admin) open a campaign for a festival with
// its window; the system chooses the households it must reach from the
// community's files (the policy's classes; 000 §1.1 系统自动筛选) and each
// gets a festival_visit deadline. Supervisors and auditors read its
// coverage: which target households were visited for the festival in the
// window and which were not.

// FestivalCommands are what the campaign routes consume from the command
// layer (command.Service provides them).
type FestivalCommands interface {
	OpenFestivalCampaign(ctx context.Context, c command.Cmd, community string, in command.FestivalCampaignInput) (command.CampaignResult, error)
	FestivalCampaign(ctx context.Context, community, id string) (*domain.FestivalCampaign, error)
	Household(ctx context.Context, id string, as domain.AsOf) (*domain.Household, error)
}

// OpenFestivalCampaignRequest is the body of POST /v1/festival-campaigns.
type OpenFestivalCampaignRequest struct {
	Community string `json:"community"`
	Festival  string `json:"festival"` // spring_festival, mid_autumn, dragon_boat, double_ninth
	Year      int    `json:"year"`
	Starts    string `json:"starts"` // RFC 3339: from when a festival visit counts
	Due       string `json:"due"`    // RFC 3339: the due date of every target household's visit
}

// FestivalCampaign is a community's campaign with its coverage.
type FestivalCampaign struct {
	Community     string                  `json:"community"`
	Campaign      string                  `json:"campaign"`
	Festival      domain.Festival         `json:"festival"`
	FestivalEN    string                  `json:"festival_en"`
	FestivalZH    string                  `json:"festival_zh"`
	Starts        time.Time               `json:"starts"`
	Due           time.Time               `json:"due"`
	Classes       []domain.HouseholdClass `json:"classes"`
	OpenedAt      time.Time               `json:"opened_at"`
	OpenedBy      string                  `json:"opened_by"`
	PolicyVersion string                  `json:"policy_version"`
	Version       uint64                  `json:"version"`
	Targets       int                     `json:"targets"`
	Visited       int                     `json:"visited"`
	Coverage      float64                 `json:"coverage"` // visited / targets
	Households    []FestivalHousehold     `json:"households"`
}

// FestivalHousehold is one target household's state in a campaign: visited
// for the festival in the window (the visit and when), or not; Scheduled
// false when its deadline was never set (a fan-out cut short: resend the
// campaign's command).
type FestivalHousehold struct {
	HouseholdID string     `json:"household_id"`
	Grid        string     `json:"grid"`
	Visited     bool       `json:"visited"`
	VisitID     string     `json:"visit_id,omitempty"`
	VisitedAt   *time.Time `json:"visited_at,omitempty"`
	Scheduled   bool       `json:"scheduled"`
}

func festivalSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["OpenFestivalCampaignRequest"] = reflect.TypeOf(OpenFestivalCampaignRequest{})
	responses["FestivalCampaign"] = reflect.TypeOf(FestivalCampaign{})
}

func (s *Server) festivalRoutes() []route {
	return []route{
		s.cmdRoute("openFestivalCampaign", "/v1/festival-campaigns",
			"open a community's festival visit campaign: its key households each get a festival visit due by the due date", "festivals",
			"OpenFestivalCampaignRequest", surveyWriters(), true, s.openFestivalCampaign),
		{op: "getFestivalCampaign", method: "GET", path: "/v1/festival-campaigns/{community}/{campaign}", roles: rectificationReaders(),
			summary: "a community's festival visit campaign and its coverage: the target households visited for the festival and those not",
			h:       s.getFestivalCampaign, doc: opDoc{tag: "festivals", ok: 200, resp: "FestivalCampaign"}},
	}
}

func campaignNotFound(community, id string) error {
	return newErr(ErrNotFound, "campaign_not_found", "campaign",
		fmt.Sprintf("no festival campaign %s of %s exists in your scope", clip(id), clip(community)),
		fmt.Sprintf("%s 的节日走访活动 %s 不存在或不在您的权限范围内", clip(community), clip(id)))
}

func (s *Server) openFestivalCampaign(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[OpenFestivalCampaignRequest](r, body)
	if err != nil {
		return nil, err
	}
	fc := s.d.Commands
	if in.Festival == "" || in.Year == 0 || in.Starts == "" || in.Due == "" {
		return nil, newErr(ErrBadRequest, "required", "festival", "name the festival, the year, the start (starts) and the due date (due)",
			"请填写节日、年份、开始时间和截止时间")
	}
	if in.Year < 2000 || in.Year > 2200 {
		return nil, newErr(ErrBadRequest, "invalid_year", "year", "year must be between 2000 and 2200", "年份须在 2000 到 2200 之间")
	}
	var when [2]time.Time
	for i, v := range []string{in.Starts, in.Due} {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			f, zh := []string{"starts", "due"}[i], []string{"开始时间", "截止时间"}[i]
			return nil, newErr(ErrBadRequest, "invalid_time", f, fmt.Sprintf("%s must be an RFC 3339 time, e.g. 2027-02-06T23:59:59+08:00", f),
				fmt.Sprintf("%s须为 RFC 3339 时间，例如 2027-02-06T23:59:59+08:00", zh))
		}
		when[i] = t
	}
	id := domain.FestivalCampaignID(in.Year, domain.Festival(in.Festival))
	if err := domain.CheckID("community", in.Community); err != nil {
		return nil, err
	}
	stream := domain.FestivalCampaignStream(in.Community, id)
	if err := domain.CheckID("festival", stream); err != nil {
		return nil, err
	}
	p := &plan{stream: stream,
		authorize: func(_ context.Context, p *identity.Principal) error {
			if !p.Covers(in.Community, "") {
				return campaignNotFound(in.Community, id)
			}
			return nil
		},
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			households, err := s.communityHouseholds(ctx, in.Community)
			if err != nil {
				return command.Result{}, err
			}
			res, err := fc.OpenFestivalCampaign(ctx, c, in.Community, command.FestivalCampaignInput{Festival: domain.Festival(in.Festival),
				Year: in.Year, Starts: when[0], Due: when[1], Households: households})
			return res.Result, err
		}}
	p.location = func(command.Result) string { return "/v1/festival-campaigns/" + in.Community + "/" + id }
	return p, nil
}

// communityHouseholds lists the ids of community's current households
// from the household files, once they have caught up with the log.
func (s *Server) communityHouseholds(ctx context.Context, community string) ([]string, error) {
	if s.d.Read.Profiles == nil || s.d.Read.Engine == nil {
		return nil, newErr(ErrUnavailable, "read_models_unavailable", "", "the household files are not available", "家庭档案暂不可用")
	}
	head, err := s.d.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.d.Read.Engine.WaitFor(ctx, profile.Name, head); err != nil {
		return nil, err
	}
	var ids []string
	for offset := 0; ; offset += 1000 {
		page, err := s.d.Read.Profiles.List(ctx, profile.Filter{Community: community, Limit: 1000, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, h := range page {
			ids = append(ids, h.HouseholdID)
		}
		if len(page) < 1000 || len(ids) >= domain.MaxCampaignHouseholds {
			return ids, nil
		}
	}
}

func (s *Server) getFestivalCampaign(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	community, id := mux.Vars(r)["community"], mux.Vars(r)["campaign"]
	if !domain.ValidID(community) || !domain.ValidID(domain.FestivalCampaignStream(community, id)) {
		return campaignNotFound(community, id)
	}
	if p := principalFrom(r.Context()); !p.Covers(community, "") {
		return campaignNotFound(community, id)
	}
	fc := s.d.Commands
	camp, err := fc.FestivalCampaign(r.Context(), community, id)
	if err != nil {
		return err
	}
	o, ok := camp.Opened()
	if !ok {
		return campaignNotFound(community, id)
	}
	en, zh := o.Festival.Label()
	out := FestivalCampaign{Community: community, Campaign: id, Festival: o.Festival, FestivalEN: en, FestivalZH: zh, Starts: o.Starts, Due: o.Due,
		Classes: o.Classes, OpenedAt: o.At, OpenedBy: o.By, PolicyVersion: o.PolicyVersion, Version: camp.Version(), Targets: len(o.Households),
		Households: make([]FestivalHousehold, 0, len(o.Households))}
	for _, hid := range o.Households {
		h, err := fc.Household(r.Context(), hid, domain.AsOf{})
		if err != nil {
			return err
		}
		row := FestivalHousehold{HouseholdID: hid, Grid: h.Grid()}
		row.Scheduled = h.FestivalScheduled(id)
		if v, ok := h.FestivalVisited(o.Starts, o.Due); ok {
			at := v.OccurredAt
			row.Visited, row.VisitID, row.VisitedAt = true, v.VisitID, &at
			out.Visited++
		}
		out.Households = append(out.Households, row)
	}
	if out.Targets > 0 {
		out.Coverage = float64(out.Visited) / float64(out.Targets)
	}
	w.Header().Set("ETag", fmt.Sprintf("%q", fmt.Sprint(camp.Version())))
	return writeJSON(w, nethttp.StatusOK, out)
}
