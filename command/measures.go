package command

import (
	"context"

	"github.com/doorstep/doorstep/domain"
)

// AmendPeriod corrects the figures of a closed period of community ("" =
// the street) with a reason: it appends measures.period_amended; the close
// and its flags stay in the log (decision 0099, 0107).
func (s *Service) AmendPeriod(ctx context.Context, c Cmd, community, period string, f domain.PeriodFigures, reason string) (Result, error) {
	if community != "" {
		if err := domain.CheckID("community", community); err != nil {
			return Result{}, err
		}
	}
	cal, err := s.CalendarInForce(ctx)
	if err != nil {
		return Result{}, err
	}
	pol := s.policies.Current()
	stream := domain.MeasuresStream(community)
	res, _, err := execute(ctx, s, c, target[*domain.PeriodLedger]{
		kind: "measures.amend_period", stream: stream, input: []any{community, period, f, reason},
		newAgg: func() *domain.PeriodLedger { return domain.NewPeriodLedger(community) },
		decide: func(l *domain.PeriodLedger, m domain.Meta) ([]domain.Event, error) {
			return l.Amend(m, period, f, pol, cal.Version(), reason)
		},
	})
	res.ID = stream
	return res, err
}
