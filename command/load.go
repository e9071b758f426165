package command

import (
	"context"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// Loading helpers for queries, audits and replay. Each folds the
// aggregate's stream up to as: the zero AsOf folds everything,
// domain.UntilVersion(v) stops after version v, domain.UntilRecorded(t)
// gives the aggregate as it was at instant t (store time) — what an auditor
// would have seen then. An aggregate with no events (not yet created at
// that point, or never) is returned empty (Registered/Exists false), not as
// an error. Errors are storage errors or events that no longer decode.

// Household folds household id's stream up to as.
func (s *Service) Household(ctx context.Context, id string, as domain.AsOf) (*domain.Household, error) {
	h := domain.NewHousehold(id)
	if _, err := s.load(ctx, domain.HouseholdStream(id), h, as, ""); err != nil {
		return nil, err
	}
	return h, nil
}

// Problem folds problem id's stream up to as.
func (s *Service) Problem(ctx context.Context, id string, as domain.AsOf) (*domain.Problem, error) {
	p := domain.NewProblem(id)
	if _, err := s.load(ctx, domain.ProblemStream(id), p, as, ""); err != nil {
		return nil, err
	}
	return p, nil
}

// Referral folds referral id's stream up to as.
func (s *Service) Referral(ctx context.Context, id string, as domain.AsOf) (*domain.Referral, error) {
	r := domain.NewReferral(id)
	if _, err := s.load(ctx, domain.ReferralStream(id), r, as, ""); err != nil {
		return nil, err
	}
	return r, nil
}

// Load folds any aggregate a from stream up to as, e.g. for a replay tool
// that walks streams by name.
func (s *Service) Load(ctx context.Context, stream string, a domain.Aggregate, as domain.AsOf) error {
	_, err := s.load(ctx, stream, a, as, "")
	return err
}

// LoadLatest folds the whole of stream into a, reading only what the
// stream cache lacks, and returns the version and the metadata of its last
// event (for the deadline watcher, which folds the subjects it alerts on).
func (s *Service) LoadLatest(ctx context.Context, stream string, a domain.Aggregate) (eventlog.Loaded, error) {
	l, err := s.load(ctx, stream, a, domain.AsOf{}, "")
	return eventlog.Loaded{Version: l.version, Last: l.last}, err
}

// FoldNext folds e, the next stored event of stream, into a with the
// household's sealed labels opened (openLabels): for a reader that keeps
// an aggregate folded event by event, as the deadline watcher does, so that
// it decides on the clear class (decision 0148) as Service.load does.
func (s *Service) FoldNext(ctx context.Context, stream string, a domain.Aggregate, e *eventstore.Event) error {
	if !s.reg.Known(e.Type) { // as eventlog.Fold: a type this build does not know
		return eventlog.FoldDecoded(a, stream, []domain.Recorded{{Version: e.Version, RecordedAt: e.RecordedAt, Event: eventlog.Unknown{Type: e.Type}}})
	}
	r, err := eventlog.Decode(s.reg, e)
	if err != nil {
		return err
	}
	if r, err = s.openLabels(ctx, r); err != nil {
		return err
	}
	return eventlog.FoldDecoded(a, stream, []domain.Recorded{r})
}
