package eventlog

import (
	"context"

	"github.com/doorstep/doorstep/domain"
)

// HouseholdLoader folds a household's stream as it is now.
type HouseholdLoader func(ctx context.Context, id string) (*domain.Household, error)

// Scope decides the community and grid an aggregate's events belong to,
// from the aggregate's state as it is now: a household's are its own; a
// problem's or a referral's are its household's current ones (household
// folds it), so that after a household moves, every later event of its
// problems and referrals is seen in the new community and grid and not in
// the old one; a community's assignments and a rectification case belong to the community; every
// other aggregate (the calendar, a counter) has none. Nothing is inherited from an earlier event.
//
// It is the one place that decides an event's scope: the command path
// writes it into every envelope (Envelope.Community, Envelope.Grid), the
// HTTP layer authorises reads of a household, problem or referral with
// it, and the deadline watcher finds the community whose supervisor it
// alerts with it.
func Scope(ctx context.Context, agg domain.Aggregate, household HouseholdLoader) (community, grid string, err error) {
	var id string
	switch a := agg.(type) {
	case *domain.Household:
		return a.Community(), a.Grid(), nil
	case *domain.Community:
		return a.Name(), "", nil
	case *domain.Rectification:
		return a.Community(), "", nil
	case *domain.SpotCheckRound:
		return a.Community(), "", nil
	case *domain.SurveyRound:
		return a.Community(), "", nil
	case *domain.FestivalCampaign:
		return a.Community(), "", nil
	case *domain.Problem:
		id = a.HouseholdID()
	case *domain.Referral:
		id = a.HouseholdID()
	}
	if id == "" {
		return "", "", nil
	}
	h, err := household(ctx, id)
	if err != nil {
		return "", "", err
	}
	return h.Community(), h.Grid(), nil
}
