package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// ReportProblem is the input of Service.ReportProblem. The ledger number is
// allocated by the service.
type ReportProblem struct {
	ProblemID     string                 `json:"problem_id,omitempty"` // default: derived from the command id
	HouseholdID   string                 `json:"household_id"`
	VisitID       string                 `json:"visit_id,omitempty"`
	Description   string                 `json:"description"`
	Category      domain.ProblemCategory `json:"category"`
	HandlingClass domain.HandlingClass   `json:"handling_class"`
	Colour        domain.Colour          `json:"colour"`
	Urgency       domain.Urgency         `json:"urgency"`
	FoundBy       string                 `json:"found_by,omitempty"`
}

// onProblem runs a command on an existing problem; the envelope's community
// and grid are its household's current ones (eventlog.Scope).
func (s *Service) onProblem(ctx context.Context, c Cmd, id, kind string, input any,
	decide func(p *domain.Problem, m domain.Meta) ([]domain.Event, error)) (Result, error) {
	if id == "" {
		return Result{}, errorf(domain.ErrInvalid, "required", "problem_id",
			"the problem id is required; fill it in and try again", "问题编号为必填项；请填写后重试")
	}
	res, p, err := execute(ctx, s, c, target[*domain.Problem]{
		kind: kind, stream: domain.ProblemStream(id), input: input, decide: decide,
		newAgg: func() *domain.Problem { return domain.NewProblem(id) },
	})
	res.ID = id
	if err == nil {
		res.Number = p.Number()
	}
	return res, err
}

// activeHousehold loads a household that commands may refer to: registered
// and not archived.
func (s *Service) activeHousehold(ctx context.Context, id string) (*domain.Household, error) {
	if id == "" {
		return nil, errorf(domain.ErrInvalid, "required", "household_id", "the household is required; fill it in and try again", "所属家庭为必填项；请填写后重试")
	}
	h, err := s.Household(ctx, id, domain.AsOf{})
	if err != nil {
		return nil, err
	}
	if !h.Registered() {
		return nil, errorf(domain.ErrNotFound, "household_not_found", "household_id",
			fmt.Sprintf("household %s is not registered; register it first", id),
			fmt.Sprintf("家庭 %s 尚未登记；请先登记", id))
	}
	if h.Archived() {
		return nil, errorf(domain.ErrRule, "household_archived", "household_id",
			fmt.Sprintf("household %s is archived; nothing more can be recorded on it", id),
			fmt.Sprintf("家庭 %s 已归档；不能再记录任何内容", id))
	}
	return h, nil
}

// ReportProblem registers a problem found at a household, with a ledger
// number WT + year + 6-digit sequence from the per-year counter (see
// docs/decisions/0011-*.md). The household must be registered and not
// archived. The number is allocated only after the domain has accepted the
// report, and a resent command keeps its number; a number can still be lost
// (a gap) if the process dies between allocation and the report's append
// or another command reports the same problem id first.
func (s *Service) ReportProblem(ctx context.Context, c Cmd, in ReportProblem) (Result, error) {
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, err
	}
	if in.ProblemID == "" {
		in.ProblemID = s.derivedID(c.ID, "problem")
	}
	pol := s.policies.Current()
	stream := domain.ProblemStream(in.ProblemID)
	fp, err := s.fingerprint(ctx, c, "problem.report", stream, in, nil)
	if err != nil {
		return Result{}, err
	}
	number := ""
	id := in.ProblemID
	// The household is checked when deciding, after a resent command has
	// been recognised: a resend gets its original result even if the
	// household was archived since.
	var h *domain.Household
	res, p, err := execute(ctx, s, c, target[*domain.Problem]{
		kind: "problem.report", stream: stream, input: in,
		newAgg: func() *domain.Problem { return domain.NewProblem(id) },
		decide: func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
			if h == nil {
				var err error
				if h, err = s.activeHousehold(ctx, in.HouseholdID); err != nil {
					return nil, err
				}
			}
			rp := domain.ReportProblem{HouseholdID: in.HouseholdID, VisitID: in.VisitID, Description: in.Description,
				Category: in.Category, HandlingClass: in.HandlingClass, Colour: in.Colour, Urgency: in.Urgency, FoundBy: in.FoundBy}
			year := m.At.Year()
			// Dry run with a placeholder number: a refused report burns no number.
			rp.Number = fmt.Sprintf("WT%04d%06d", year, 1)
			if _, err := p.Report(m, pol, rp); err != nil {
				return nil, err
			}
			// A problem may cite only a visit its household's stream
			// holds (decision 0088): record the visit first.
			if in.VisitID != "" && !h.HasVisit(in.VisitID) {
				return nil, errorf(domain.ErrRule, "visit_not_in_household", "visit_id",
					fmt.Sprintf("visit %s is not recorded on household %s; record the visit first, or leave visit_id out", in.VisitID, in.HouseholdID),
					fmt.Sprintf("家庭 %s 没有走访记录 %s；请先记录走访，或不填 visit_id", in.HouseholdID, in.VisitID))
			}
			if number == "" {
				n, err := s.allocateNumber(ctx, c, fp, year, id, m.At)
				if err != nil {
					return nil, err
				}
				number = n
			}
			rp.Number = number
			return p.Report(m, pol, rp)
		},
	})
	res.ID = id
	if err == nil {
		res.Number = p.Number()
	}
	return res, err
}

// TypeProblemNumberAllocated is the event type of the problem-number
// counter streams; it is eventlog's, named here for the command layer's
// callers.
const TypeProblemNumberAllocated = eventlog.TypeProblemNumberAllocated

// ProblemNumberAllocated is the data of a TypeProblemNumberAllocated event
// (eventlog.NumberAllocated).
type ProblemNumberAllocated = eventlog.NumberAllocated

// CounterStream is the stream whose version is the last problem number
// allocated in year (eventlog.CounterStream).
func CounterStream(year int) string { return eventlog.CounterStream(year) }

// maxSequence is the largest 6-digit sequence number.
const maxSequence = 999999

// allocateNumber takes the next number of year's sequence by appending to
// the counter stream with the expected version it read: the stream's
// version after the append is the sequence number, unique because the
// store lets only one append per version win. The event id is derived from
// the command, so a resent command gets its original number back.
func (s *Service) allocateNumber(ctx context.Context, c Cmd, fp string, year int, problemID string, at time.Time) (string, error) {
	stream := CounterStream(year)
	id := s.eventID(c.ID, fp, stream, 0)
	// The counter is shared by every report of the year: allow more rounds.
	for attempt := 1; attempt <= 4*s.attempts; attempt++ {
		v, err := s.store.StreamVersion(ctx, stream)
		if err != nil {
			return "", fmt.Errorf("app: read %s: %w", stream, err)
		}
		seq := v + 1
		if seq > maxSequence {
			return "", errorf(domain.ErrRule, "problem_numbers_exhausted", "number",
				fmt.Sprintf("all %d problem numbers of %d are used; the ledger cannot number more problems this year", maxSequence, year),
				fmt.Sprintf("%d 年的 %d 个问题编号已全部用完；本年度无法再为问题编号", year, maxSequence))
		}
		data, err := eventlog.EncodeNumberAllocated(id, year, int(seq), problemID, eventlog.Envelope{At: at, Actor: c.Actor, Role: c.Role,
			CommandID: c.ID, CorrelationID: c.CorrelationID, CausationID: c.CausationID}.Metadata())
		if err != nil {
			return "", err
		}
		ar, err := s.store.Append(ctx, stream, eventstore.Exact(v), data)
		switch {
		case err == nil:
			return eventlog.ProblemNumber(year, int(ar.LastVersion)), nil
		case errors.Is(err, eventstore.ErrConflict):
			if err := backoff(ctx, attempt); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("app: allocate a problem number: %w", err)
		}
	}
	return "", errorf(domain.ErrConflict, "concurrent_update", "number",
		fmt.Sprintf("too many problems are being reported at once to allocate a number for %d; try again", year),
		fmt.Sprintf("同时登记的问题过多，暂时无法分配 %d 年的编号；请重试", year))
}

// ReclassifyProblem changes handling class, colour and urgency, with a reason.
func (s *Service) ReclassifyProblem(ctx context.Context, c Cmd, problemID string, h domain.HandlingClass, col domain.Colour, u domain.Urgency, reason string) (Result, error) {
	pol := s.policies.Current()
	input := []string{string(h), string(col), string(u), reason}
	return s.onProblem(ctx, c, problemID, "problem.reclassify", input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.Reclassify(m, pol, h, col, u, reason)
	})
}

// AssignProblem (re)assigns the problem and/or sets its time limit.
func (s *Service) AssignProblem(ctx context.Context, c Cmd, problemID string, in domain.AssignProblem) (Result, error) {
	cal, err := s.CalendarInForce(ctx)
	if err != nil {
		return Result{}, err
	}
	return s.onProblem(ctx, c, problemID, "problem.assign", in, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.Assign(m, cal, in)
	})
}

// ExtendProblemDeadline moves the resolution deadline later, with a reason.
func (s *Service) ExtendProblemDeadline(ctx context.Context, c Cmd, problemID string, to time.Time, reason string) (Result, error) {
	input := struct {
		To     time.Time `json:"to"`
		Reason string    `json:"reason"`
	}{to.UTC(), reason}
	return s.onProblem(ctx, c, problemID, "problem.extend_deadline", input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.ExtendDeadline(m, to, reason)
	})
}

// NoteProgress records a follow-up with its method.
func (s *Service) NoteProgress(ctx context.Context, c Cmd, problemID, note string, method domain.FollowUpMethod) (Result, error) {
	pol := s.policies.Current()
	input := []string{note, string(method)}
	return s.onProblem(ctx, c, problemID, "problem.note_progress", input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.NoteProgress(m, pol, note, method)
	})
}

// ResolveProblem records the resolution and the resources linked.
func (s *Service) ResolveProblem(ctx context.Context, c Cmd, problemID, summary string, resources []domain.LinkedResource) (Result, error) {
	input := struct {
		Summary   string                  `json:"summary"`
		Resources []domain.LinkedResource `json:"resources"`
	}{summary, resources}
	return s.onProblem(ctx, c, problemID, "problem.resolve", input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.Resolve(m, summary, resources)
	})
}

// RateSatisfaction records the household's satisfaction (1–5) with the resolution.
func (s *Service) RateSatisfaction(ctx context.Context, c Cmd, problemID string, score int, comment string) (Result, error) {
	input := struct {
		Score   int    `json:"score"`
		Comment string `json:"comment"`
	}{score, comment}
	return s.onProblem(ctx, c, problemID, "problem.rate_satisfaction", input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.RateSatisfaction(m, score, comment)
	})
}

// RevisitProblem records a return visit (回访) after the resolution: whether
// it holds and, under the policy's return-visit rules, the household's
// satisfaction; a recurrence or an unsatisfied household reopens the
// problem in the same command (domain.Problem.Revisit).
func (s *Service) RevisitProblem(ctx context.Context, c Cmd, problemID string, in domain.RevisitProblem) (Result, error) {
	input := struct {
		Held         bool                  `json:"held"`
		Method       domain.FollowUpMethod `json:"method"`
		Note         string                `json:"note"`
		Satisfaction int                   `json:"satisfaction,omitempty"`
	}{in.Held, in.Method, in.Note, in.Satisfaction}
	pol := s.policies.Current()
	return s.onProblem(ctx, c, problemID, "problem.revisit", input, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.Revisit(m, pol, in)
	})
}

// ReopenProblem reopens a resolved or closed problem that recurred.
func (s *Service) ReopenProblem(ctx context.Context, c Cmd, problemID, reason string) (Result, error) {
	pol := s.policies.Current()
	return s.onProblem(ctx, c, problemID, "problem.reopen", []string{reason}, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.Reopen(m, pol, reason)
	})
}

// CloseProblem ends the closed loop (a reason is needed when not resolved;
// a resolved problem needs its return visit first under the policy's
// return-visit rules).
func (s *Service) CloseProblem(ctx context.Context, c Cmd, problemID, reason string) (Result, error) {
	pol := s.policies.Current()
	return s.onProblem(ctx, c, problemID, "problem.close", []string{reason}, func(p *domain.Problem, m domain.Meta) ([]domain.Event, error) {
		return p.Close(m, pol, reason)
	})
}
