package command

import (
	"context"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Rectification cases (整改, decision 0114): opened by a process manager
// (package rectification) when a flag asks for one, a 约谈 recorded and a
// 回头看 closing it, by supervisors. The deadline watcher records the
// case's approaching and breached alerts like any other deadline's.

// OpenRectification opens case id with the policy's 限期整改 deadline from
// the command's instant, under the calendar in force. A case that exists
// appends nothing (Result.Events 0).
func (s *Service) OpenRectification(ctx context.Context, c Cmd, id string, in domain.OpenRectification) (Result, error) {
	if err := domain.CheckID("id", id); err != nil {
		return Result{}, err
	}
	cal, err := s.CalendarInForce(ctx)
	if err != nil {
		return Result{}, err
	}
	pol := s.policies.Current()
	res, _, err := execute(ctx, s, c, target[*domain.Rectification]{
		kind: "rectification.open", stream: domain.RectificationStream(id), input: []any{id, in},
		newAgg: func() *domain.Rectification { return domain.NewRectification(id) },
		decide: func(r *domain.Rectification, m domain.Meta) ([]domain.Event, error) {
			return r.Open(m, cal, pol, in)
		},
	})
	res.ID = id
	return res, err
}

// RecordRectificationInterview records a 约谈 on case id.
func (s *Service) RecordRectificationInterview(ctx context.Context, c Cmd, id string, in domain.RecordInterview) (Result, error) {
	if err := domain.CheckID("id", id); err != nil {
		return Result{}, err
	}
	input := struct {
		Interviewer, Interviewee, Minutes string
		HeldAt                            time.Time
	}{in.Interviewer, in.Interviewee, in.Minutes, in.HeldAt.UTC()}
	res, _, err := execute(ctx, s, c, target[*domain.Rectification]{
		kind: "rectification.record_interview", stream: domain.RectificationStream(id), input: input,
		newAgg: func() *domain.Rectification { return domain.NewRectification(id) },
		decide: func(r *domain.Rectification, m domain.Meta) ([]domain.Event, error) {
			return r.RecordInterview(m, in)
		},
	})
	res.ID = id
	return res, err
}

// ReviewRectification records a 回头看 on case id: passed closes it, failed
// sets the policy's new deadline from now.
func (s *Service) ReviewRectification(ctx context.Context, c Cmd, id string, result domain.ReviewResult, findings string) (Result, error) {
	if err := domain.CheckID("id", id); err != nil {
		return Result{}, err
	}
	cal, err := s.CalendarInForce(ctx)
	if err != nil {
		return Result{}, err
	}
	pol := s.policies.Current()
	res, _, err := execute(ctx, s, c, target[*domain.Rectification]{
		kind: "rectification.review", stream: domain.RectificationStream(id), input: []string{id, string(result), findings},
		newAgg: func() *domain.Rectification { return domain.NewRectification(id) },
		decide: func(r *domain.Rectification, m domain.Meta) ([]domain.Event, error) {
			return r.Review(m, cal, pol, result, findings)
		},
	})
	res.ID = id
	return res, err
}

// Rectification folds case id's stream up to as.
func (s *Service) Rectification(ctx context.Context, id string, as domain.AsOf) (*domain.Rectification, error) {
	r := domain.NewRectification(id)
	if _, err := s.load(ctx, domain.RectificationStream(id), r, as, ""); err != nil {
		return nil, err
	}
	return r, nil
}
