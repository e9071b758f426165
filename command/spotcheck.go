package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Spot checks (抽查, 001 §3.4, decision 0115): a month's sample of a
// community's completed visits, drawn once from a recorded seed, and the
// inspectors' findings.

// SpotCheckSeed is the seed a draw made by command id records: the
// SHA-256 of the command id (a random UUID unless the caller names one),
// the community and the month.
func SpotCheckSeed(commandID, community, month string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("spotcheck|%s|%s|%s", commandID, community, month)))
	return hex.EncodeToString(h[:])
}

// SpotCheckMonth returns the bounds of month ("2026-09") in the
// calendar's time zone, or a bilingual error when it is not a month.
func (s *Service) SpotCheckMonth(month string) (start, end time.Time, err error) {
	per, start, end, err := domain.ParsePeriodLabel(month, s.base.Location())
	if err != nil || per != domain.PeriodMonth {
		return start, end, errorf(domain.ErrInvalid, "invalid_period", "period",
			fmt.Sprintf("%q is not a month; write it as 2026-09", domain.Clip(month, domain.MaxEchoBytes)),
			fmt.Sprintf("%q 不是月份；请写成 2026-09", domain.Clip(month, domain.MaxEchoBytes)))
	}
	return start, end, nil
}

// DrawSpotChecks draws the spot checks of community for month (a
// "2026-09" label of a month that has ended) from population, the
// community's completed visits of the month, and assigns inspectors in
// turn. The seed derives from the command id (SpotCheckSeed).
func (s *Service) DrawSpotChecks(ctx context.Context, c Cmd, community, month string, population []domain.VisitRef, inspectors []string) (Result, error) {
	if err := domain.CheckID("community", community); err != nil {
		return Result{}, err
	}
	_, end, err := s.SpotCheckMonth(month)
	if err != nil {
		return Result{}, err
	}
	c, err = s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	pol := s.policies.Current()
	in := domain.DrawSpotChecks{Seed: SpotCheckSeed(c.ID, community, month), Population: population, Inspectors: inspectors, MonthEnd: end}
	stream := domain.SpotCheckStream(community, month)
	res, _, err := execute(ctx, s, c, target[*domain.SpotCheckRound]{
		kind: "spotcheck.draw", stream: stream, input: []any{community, month, domain.PopulationHash(population), len(population), inspectors},
		newAgg: func() *domain.SpotCheckRound { return domain.NewSpotCheckRound(community, month) },
		decide: func(r *domain.SpotCheckRound, m domain.Meta) ([]domain.Event, error) { return r.Draw(m, pol, in) },
	})
	res.ID = community + "." + month
	return res, err
}

// RecordSpotCheckFinding records the finding of a sampled visit's check.
func (s *Service) RecordSpotCheckFinding(ctx context.Context, c Cmd, community, month string, visit domain.VisitRef, result domain.FindingResult, detail string) (Result, error) {
	if err := domain.CheckID("community", community); err != nil {
		return Result{}, err
	}
	stream := domain.SpotCheckStream(community, month)
	if err := domain.CheckID("period", stream); err != nil {
		return Result{}, err
	}
	res, _, err := execute(ctx, s, c, target[*domain.SpotCheckRound]{
		kind: "spotcheck.record_finding", stream: stream, input: []any{community, month, visit, string(result), detail},
		newAgg: func() *domain.SpotCheckRound { return domain.NewSpotCheckRound(community, month) },
		decide: func(r *domain.SpotCheckRound, m domain.Meta) ([]domain.Event, error) {
			return r.RecordFinding(m, visit, result, detail)
		},
	})
	res.ID = community + "." + month
	return res, err
}

// SpotCheckRound folds the spot checks of community for month.
func (s *Service) SpotCheckRound(ctx context.Context, community, month string) (*domain.SpotCheckRound, error) {
	r := domain.NewSpotCheckRound(community, month)
	if _, err := s.load(ctx, domain.SpotCheckStream(community, month), r, domain.AsOf{}, ""); err != nil {
		return nil, err
	}
	return r, nil
}
