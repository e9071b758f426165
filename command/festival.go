package command

import (
	"context"
	"slices"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Festival visit campaigns (节日慰问, 004 §4.2 重要节日必访, decision 0140): a
// community's campaign for a festival names the households it must reach,
// chosen by the policy's classes from the households the caller lists (the
// community's, from a read model), each checked against its own stream;
// then each target household gets its festival_visit deadline, one
// command per household with an id derived from the campaign's command
// id, so resending the campaign's command completes a fan-out cut short.

// FestivalCampaignInput is the input of OpenFestivalCampaign.
type FestivalCampaignInput struct {
	Festival domain.Festival `json:"festival"`
	Year     int             `json:"year"`
	Starts   time.Time       `json:"starts"`
	Due      time.Time       `json:"due"`
	// Households: the community's households to choose from (ids); a
	// household now in another community, archived or of a class the
	// policy does not name is left out.
	Households []string `json:"households"`
}

// CampaignResult is what opening a campaign did: the campaign's own
// result and how many households got their deadline by this call.
type CampaignResult struct {
	Result
	Targets   int
	Scheduled int
}

// OpenFestivalCampaign opens community's campaign and sets each target
// household's festival visit deadline.
func (s *Service) OpenFestivalCampaign(ctx context.Context, c Cmd, community string, in FestivalCampaignInput) (CampaignResult, error) {
	if err := domain.CheckID("community", community); err != nil {
		return CampaignResult{}, err
	}
	if len(in.Households) > domain.MaxCampaignHouseholds {
		return CampaignResult{}, errorf(domain.ErrInvalid, "too_many_households", "households",
			"a festival campaign chooses from at most 20000 households", "一次节日走访活动最多从 20000 户中选择")
	}
	id := domain.FestivalCampaignID(in.Year, in.Festival)
	stream := domain.FestivalCampaignStream(community, id)
	if err := domain.CheckID("festival", stream); err != nil {
		return CampaignResult{}, err
	}
	ids := slices.Clone(in.Households)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	candidates := make(map[string]domain.HouseholdClass, len(ids))
	for _, h := range ids {
		if err := domain.CheckID("households", h); err != nil {
			return CampaignResult{}, err
		}
		hh, err := s.Household(ctx, h, domain.AsOf{})
		if err != nil {
			return CampaignResult{}, err
		}
		if hh.Registered() && !hh.Archived() && hh.Community() == community {
			candidates[h] = hh.Class()
		}
	}
	pol := s.policies.Current()
	open := domain.OpenFestivalCampaign{Festival: in.Festival, Year: in.Year, Starts: in.Starts, Due: in.Due, Candidates: candidates}
	res, _, err := execute(ctx, s, c, target[*domain.FestivalCampaign]{
		kind: "festival.open_campaign", stream: stream, input: []any{community, in.Festival, in.Year, in.Starts, in.Due, ids},
		newAgg: func() *domain.FestivalCampaign { return domain.NewFestivalCampaign(community, id) },
		decide: func(a *domain.FestivalCampaign, m domain.Meta) ([]domain.Event, error) { return a.Open(m, pol, open) },
	})
	res.ID = community + "." + id
	out := CampaignResult{Result: res}
	if err != nil {
		return out, err
	}
	camp, err := s.FestivalCampaign(ctx, community, id)
	if err != nil {
		return out, err
	}
	o, _ := camp.Opened()
	out.Targets = len(o.Households)
	for _, h := range o.Households {
		hc := Cmd{ID: s.derivedID(res.CommandID, "festival_visit_due\x00"+h), Actor: c.Actor, Role: c.Role, At: o.At,
			CorrelationID: res.CommandID, CausationID: res.CommandID}
		r, err := s.onHousehold(ctx, hc, h, "household.schedule_festival_visit", []string{community, id}, nil, nil,
			func(hh *domain.Household, m domain.Meta) ([]domain.Event, error) {
				return hh.ScheduleFestivalVisit(m, o)
			})
		if err != nil {
			return out, err
		}
		if r.Events > 0 && !r.Replayed {
			out.Scheduled++
		}
	}
	return out, nil
}

// FestivalCampaign folds community's campaign id ("2027-spring_festival").
func (s *Service) FestivalCampaign(ctx context.Context, community, id string) (*domain.FestivalCampaign, error) {
	c := domain.NewFestivalCampaign(community, id)
	if _, err := s.load(ctx, domain.FestivalCampaignStream(community, id), c, domain.AsOf{}, ""); err != nil {
		return nil, err
	}
	return c, nil
}
