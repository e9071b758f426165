package command

import (
	"context"

	"github.com/doorstep/doorstep/domain"
)

// AssignCommunitySupervisor records that supervisor supervises community
// from now on (domain.CommunitySupervisorAssigned on the community's
// stream): the deadline watcher sends the community's alerts to them.
// Assigning the supervisor already in charge fails with "no_change"; a
// community name that breaks the id rule, or a missing or oversized name,
// fails with a bilingual *domain.Error and writes nothing.
func (s *Service) AssignCommunitySupervisor(ctx context.Context, c Cmd, community, supervisor, reason string) (Result, error) {
	if err := domain.CheckID("community", community); err != nil {
		return Result{}, err
	}
	input := []string{community, supervisor, reason}
	res, _, err := execute(ctx, s, c, target[*domain.Community]{
		kind: "community.assign_supervisor", stream: domain.CommunityStream(community), input: input,
		newAgg: func() *domain.Community { return domain.NewCommunity(community) },
		decide: func(a *domain.Community, m domain.Meta) ([]domain.Event, error) {
			return a.AssignSupervisor(m, supervisor, reason)
		},
	})
	res.ID = community
	return res, err
}

// CommunitySupervisor returns who supervises community as recorded in the
// log ("" when nobody was assigned), reading only what the stream cache
// lacks.
func (s *Service) CommunitySupervisor(ctx context.Context, community string) (string, error) {
	if !domain.ValidID(community) {
		return "", nil // no such stream can exist
	}
	a := domain.NewCommunity(community)
	if _, err := s.load(ctx, domain.CommunityStream(community), a, domain.AsOf{}, ""); err != nil {
		return "", err
	}
	name, _ := a.Supervisor()
	return name, nil
}
