package command

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// The deadline watcher's commands. It records alerts and reschedulings
// through the same load–decide–save path as every other command, with a
// deterministic command id per alert or rescheduling (see package
// deadlines), so that restarts and several nodes never record one twice:
// a resent command is answered from the events it appended, and an alert
// another path already recorded is a no-op in the domain. The time of
// recording is not part of these commands' content.

// deadlineAggregate is what the household, the problem and the referral
// offer the deadline watcher.
type deadlineAggregate interface {
	RecordDeadlineAlert(meta domain.Meta, d domain.Deadline, stage domain.AlertStage, supervisor string) ([]domain.Event, error)
	RescheduleDeadline(meta domain.Meta, old, next domain.Deadline) ([]domain.Event, error)
}

// onDeadlineSubject runs a watcher command (name, e.g. "record_deadline_alert")
// on the household, problem or referral whose stream is stream. The time of
// recording is not part of the command's content.
func (s *Service) onDeadlineSubject(ctx context.Context, c Cmd, stream, name string, input any,
	decide func(a deadlineAggregate, m domain.Meta) ([]domain.Event, error)) (Result, error) {
	kind := eventstore.Category(stream)
	id := strings.TrimPrefix(stream, kind+"-")
	c.timeless = true
	switch kind {
	case "household":
		return s.onHousehold(ctx, c, id, kind+"."+name, input, nil, nil, func(h *domain.Household, m domain.Meta) ([]domain.Event, error) {
			return decide(h, m)
		})
	case "problem":
		return s.onProblem(ctx, c, id, kind+"."+name, input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) { return decide(p, m) })
	case "referral":
		return s.onReferral(ctx, c, id, kind+"."+name, input, func(r *domain.Referral, m domain.Meta) ([]domain.Event, error) { return decide(r, m) })
	case "rectification":
		res, _, err := execute(ctx, s, c, target[*domain.Rectification]{
			kind: kind + "." + name, stream: stream, input: input,
			newAgg: func() *domain.Rectification { return domain.NewRectification(id) },
			decide: func(r *domain.Rectification, m domain.Meta) ([]domain.Event, error) { return decide(r, m) },
		})
		res.ID = id
		return res, err
	}
	return Result{}, errorf(domain.ErrInvalid, "not_a_deadline_subject", "stream",
		fmt.Sprintf("%s is not a household, problem, referral or rectification stream; deadlines run only on those", stream),
		fmt.Sprintf("%s 不是家庭、问题、转介或整改事件流；期限只存在于这些对象上", stream))
}

// RecordDeadlineAlert records an approaching or breached alert on the
// running clock d of the subject whose stream is stream. An alert already
// recorded appends nothing (Result.Events 0); a clock no longer running
// fails with "clock_not_running".
func (s *Service) RecordDeadlineAlert(ctx context.Context, c Cmd, stream string, d domain.Deadline, stage domain.AlertStage, supervisor string) (Result, error) {
	input := struct {
		Kind       domain.ClockKind  `json:"kind"`
		Subject    string            `json:"subject"`
		Start      time.Time         `json:"start"`
		Due        time.Time         `json:"due"`
		Stage      domain.AlertStage `json:"stage"`
		Supervisor string            `json:"supervisor"`
	}{d.Kind, d.Subject, d.Start.UTC(), d.Due.UTC(), stage, supervisor}
	return s.onDeadlineSubject(ctx, c, stream, "record_deadline_alert", input, func(a deadlineAggregate, m domain.Meta) ([]domain.Event, error) {
		return a.RecordDeadlineAlert(m, d, stage, supervisor)
	})
}

// RescheduleDeadline records that the running clock derived as old (with
// the calendar in force before a publication) is next under the calendar in
// force now. Nothing moved, or a clock no longer running with old, appends
// nothing.
func (s *Service) RescheduleDeadline(ctx context.Context, c Cmd, stream string, old, next domain.Deadline) (Result, error) {
	input := struct {
		Kind     domain.ClockKind `json:"kind"`
		Subject  string           `json:"subject"`
		Start    time.Time        `json:"start"`
		OldDue   time.Time        `json:"old_due"`
		NewDue   time.Time        `json:"new_due"`
		Calendar string           `json:"calendar"`
	}{old.Kind, old.Subject, old.Start.UTC(), old.Due.UTC(), next.Due.UTC(), next.Basis.Version}
	return s.onDeadlineSubject(ctx, c, stream, "reschedule_deadline", input, func(a deadlineAggregate, m domain.Meta) ([]domain.Event, error) {
		return a.RescheduleDeadline(m, old, next)
	})
}
