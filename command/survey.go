package command

import (
	"context"

	"github.com/doorstep/doorstep/domain"
)

// Satisfaction surveys (满意度问卷, 001 §3.4, decision 0127): a community's
// half-yearly round, opened with the questionnaires handed out, the
// households' responses recorded, closed with its return rate and
// satisfaction. A closing below the policy's thresholds opens a
// rectification case through package rectification.

func (s *Service) survey(ctx context.Context, c Cmd, kind, community, period string, input any,
	decide func(*domain.SurveyRound, domain.Meta) ([]domain.Event, error)) (Result, error) {
	if err := domain.CheckID("community", community); err != nil {
		return Result{}, err
	}
	stream := domain.SurveyStream(community, period)
	if err := domain.CheckID("period", stream); err != nil {
		return Result{}, err
	}
	res, _, err := execute(ctx, s, c, target[*domain.SurveyRound]{
		kind: kind, stream: stream, input: input,
		newAgg: func() *domain.SurveyRound { return domain.NewSurveyRound(community, period) },
		decide: decide,
	})
	res.ID = community + "." + period
	return res, err
}

// OpenSurvey opens the survey of community for halfYear ("2026-H2") with
// the number of households handed a questionnaire.
func (s *Service) OpenSurvey(ctx context.Context, c Cmd, community, halfYear string, surveyed int) (Result, error) {
	pol := s.policies.Current()
	return s.survey(ctx, c, "survey.open", community, halfYear, []any{community, halfYear, surveyed},
		func(r *domain.SurveyRound, m domain.Meta) ([]domain.Event, error) { return r.Open(m, pol, surveyed) })
}

// RecordSurveyResponse records a household's returned questionnaire.
func (s *Service) RecordSurveyResponse(ctx context.Context, c Cmd, community, halfYear, household string, satisfied bool) (Result, error) {
	return s.survey(ctx, c, "survey.record_response", community, halfYear, []any{community, halfYear, household, satisfied},
		func(r *domain.SurveyRound, m domain.Meta) ([]domain.Event, error) {
			return r.RecordResponse(m, household, satisfied)
		})
}

// CloseSurvey closes the survey and records its return rate and
// satisfaction against the policy's thresholds.
func (s *Service) CloseSurvey(ctx context.Context, c Cmd, community, halfYear string) (Result, error) {
	pol := s.policies.Current()
	return s.survey(ctx, c, "survey.close", community, halfYear, []any{community, halfYear},
		func(r *domain.SurveyRound, m domain.Meta) ([]domain.Event, error) { return r.Close(m, pol) })
}

// SurveyRound folds the survey of community for halfYear.
func (s *Service) SurveyRound(ctx context.Context, community, halfYear string) (*domain.SurveyRound, error) {
	r := domain.NewSurveyRound(community, halfYear)
	if _, err := s.load(ctx, domain.SurveyStream(community, halfYear), r, domain.AsOf{}, ""); err != nil {
		return nil, err
	}
	return r, nil
}
