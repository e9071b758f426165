package town

import (
	"math/rand/v2"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// problem is one row of the problem ledger being simulated.
type problem struct {
	h        *house
	id       string
	agg      *domain.Problem
	item     problemItem
	visitID  string
	corr     string // correlation: the visit that found it
	cause    string // the visit event
	finder   *Person
	assignee *Person
	cycle    int
	provider string // who supplied the resources, when referred
}

func (p *problem) stream() string { return domain.ProblemStream(p.id) }

// step runs one command on the problem and returns its batch.
func (p *problem) step(what string, by *Person, at time.Time, cmd func(m domain.Meta) ([]domain.Event, error)) (*Batch, error) {
	rc := p.h.batch(p.stream(), p.agg, p.corr)
	m := p.h.meta(by, at)
	evs, err := cmd(m)
	return rc.b, rc.add(what+" problem", m, evs, err)
}

func (p *problem) report(at time.Time) (*Batch, error) {
	h := p.h
	s := h.s
	r := h.rng
	number, err := s.nextNumber(at.Year())
	if err != nil {
		return nil, err
	}
	it := p.item
	handling := domain.HandlingClass(it.handling)
	if chance(r, 0.1) {
		handling = pick(r, []domain.HandlingClass{domain.HandlingImmediate, domain.HandlingCoordinated, domain.HandlingLongTerm})
	}
	colour := domain.Colour(it.colour)
	if chance(r, 0.15) {
		colour = pick(r, []domain.Colour{domain.ColourRed, domain.ColourYellow, domain.ColourGreen})
	}
	urgency := domain.UrgencyOrdinary
	if it.urgent && chance(r, 0.9) || !it.urgent && chance(r, 0.05) {
		urgency = domain.UrgencyUrgent
	}
	rc := h.batch(p.stream(), p.agg, p.corr)
	m := h.meta(p.finder, at)
	evs, err := p.agg.Report(m, s.pol, domain.ReportProblem{Number: number, HouseholdID: h.id, VisitID: p.visitID,
		Description: it.text, Category: domain.ProblemCategory(it.category), HandlingClass: handling, Colour: colour,
		Urgency: urgency, FoundBy: p.finder.Actor})
	if err := rc.add("report problem", m, evs, err); err != nil {
		return nil, err
	}
	rc.b.Events[0].Metadata.CausationID = p.cause
	p.assignee = p.finder
	h.active++
	s.open = append(s.open, p)
	if colour == domain.ColourRed && riskRank(h.agg.Risk()) < riskRank(domain.RiskRed) && chance(r, 0.3) {
		up := map[domain.RiskLevel]domain.RiskLevel{domain.RiskGreen: domain.RiskBlue, domain.RiskBlue: domain.RiskYellow, domain.RiskYellow: domain.RiskRed}[h.agg.Risk()]
		h.schedule(h.office(at.Add(between(r, 2*hour, 2*day))), func(at time.Time) (*Batch, error) {
			return h.changeRisk(at, up, "走访发现安全隐患，风险等级上调")
		})
	}
	p.planAssign(at)
	return rc.b, nil
}

func (p *problem) quick() bool {
	return p.agg.HandlingClass() == domain.HandlingImmediate || p.agg.Colour() == domain.ColourRed || p.agg.Urgency() == domain.UrgencyUrgent
}

// planAssign schedules the dispatch (分流) of a reported or reopened problem
// by the community secretary.
func (p *problem) planAssign(from time.Time) {
	h := p.h
	at := from.Add(between(h.rng, 10*minute, 90*minute))
	if !p.quick() {
		at = h.office(from.Add(between(h.rng, 30*minute, 3*hour)))
	}
	h.schedule(at, p.assign)
}

func (p *problem) assign(at time.Time) (*Batch, error) {
	h := p.h
	r := h.rng
	to := p.assignee
	reason := ""
	if p.cycle == 0 && p.agg.Category() == domain.ProblemPsychological {
		to, reason = pick(r, h.comm.Town.SocialWorkers), "心理类问题，转由社工跟进"
	} else if p.cycle == 0 && chance(r, 0.05) && len(h.comm.Workers) > 1 {
		for to == p.assignee {
			to = pick(r, h.comm.Workers)
		}
		reason = "按网格分工调整责任人"
	}
	in := domain.AssignProblem{To: to.Actor, Reason: reason}
	switch p.agg.HandlingClass() {
	case domain.HandlingImmediate:
		in.TimeLimit = domain.Hours(24)
	case domain.HandlingCoordinated:
		in.TimeLimit = domain.WorkingDays(5)
		if p.agg.Colour() == domain.ColourGreen {
			in.TimeLimit = domain.WorkingDays(10)
		}
	default:
		if chance(r, 0.5) {
			in.Sessions = 3
		} else {
			in.TimeLimit = domain.Months(3)
		}
	}
	b, err := p.step("assign", h.comm.Secretary, at, func(m domain.Meta) ([]domain.Event, error) {
		evs, err := p.agg.Assign(m, h.s.c.Calendar, in)
		if domain.CodeOf(err) == "deadline_unavailable" {
			// The limit runs past the calendar's data (the end of the
			// last covered year): fall back to calendar days.
			in.TimeLimit = domain.Days(7)
			evs, err = p.agg.Assign(m, h.s.c.Calendar, in)
		}
		return evs, err
	})
	if err != nil {
		return nil, err
	}
	p.assignee = to
	p.planCycle(at)
	return b, nil
}

// deadline returns the due instant of one of the problem's running clocks.
func (p *problem) deadline(kind domain.ClockKind) (time.Time, bool) {
	for _, c := range p.agg.Clocks() {
		if c.Kind != kind {
			continue
		}
		d, ok, err := p.h.s.pol.Deadline(p.h.s.c.Calendar, c)
		if err != nil || !ok {
			return time.Time{}, false
		}
		return d.Due, true
	}
	return time.Time{}, false
}

func frac(r *rand.Rand, from, to time.Time, lo, hi float64) time.Time {
	return from.Add(time.Duration(float64(to.Sub(from)) * (lo + (hi-lo)*r.Float64())))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// planCycle plans one handling cycle after assignment at a: first response,
// referrals, progress, extension, resolution, rating, revisit, close.
func (p *problem) planCycle(a time.Time) {
	h := p.h
	s := h.s
	r := h.rng
	rates := s.rates
	respDue, hasResp := p.deadline(domain.ClockProblemResponse)
	var r1 time.Time
	switch {
	case hasResp && chance(r, rates.LateResponse):
		r1 = respDue.Add(between(r, 2*hour, 3*day))
	case hasResp:
		r1 = frac(r, a, respDue, 0.1, 0.8)
		if o := h.office(r1); !p.quick() && o.Before(respDue) {
			r1 = o
		}
	default:
		r1 = h.office(a.Add(between(r, 4*hour, 3*day)))
	}
	r1 = later(r1, a.Add(5*minute))
	h.schedule(r1, p.progress(pick(r, progressTexts), domain.FollowPhone))
	if p.cycle == 0 && chance(r, 0.02) {
		h.schedule(h.office(r1.Add(between(r, day, 5*day))), p.closeUnresolved)
		return
	}
	if chance(r, rates.Stalled) {
		return // left in progress: overdue once its limit passes
	}
	var completion time.Time
	referred := false
	if p.cycle == 0 && len(p.item.dept) > 0 && chance(r, rates.Referral) {
		depts := []string{pick(r, p.item.dept)}
		if len(p.item.dept) > 1 && chance(r, 0.2) {
			for _, d := range p.item.dept {
				if d != depts[0] {
					depts = append(depts, d)
					break
				}
			}
		}
		at := r1
		waiting := false
		for _, d := range depts {
			at = h.office(at.Add(between(r, hour, 2*day)))
			done, unanswered := p.planReferral(at, d)
			if !done.IsZero() {
				completion = later(completion, done)
				p.provider = departmentName(d)
			}
			waiting = waiting || unanswered
			referred = true
		}
		if waiting {
			return // waits on a department that never answers: in progress, overdue once its limit passes
		}
	}
	resDue := p.agg.Due()
	var target time.Time
	switch p.agg.HandlingClass() {
	case domain.HandlingImmediate:
		target = a.Add(between(r, 2*hour, 20*hour))
	case domain.HandlingCoordinated:
		if !resDue.IsZero() {
			target = frac(r, a, resDue, 0.3, 0.9)
		} else {
			target = a.Add(between(r, day, 7*day))
		}
	default:
		target = a.Add(between(r, 45*day, 180*day))
	}
	if !p.quick() {
		target = h.office(target)
	}
	if !resDue.IsZero() && chance(r, rates.LateResolution) {
		target = h.office(resDue.Add(between(r, day, 10*day)))
		if chance(r, 0.4) {
			ext := resDue.Add(-between(r, 2*hour, day))
			if !ext.After(r1) {
				ext = r1.Add(30 * minute)
			}
			if ext.Before(target) && ext.Before(resDue) {
				to := resDue.Add(between(r, 5*day, 12*day))
				h.schedule(ext, p.extend(to))
			}
		}
	}
	if !completion.IsZero() {
		target = later(target, h.office(completion.Add(between(r, 2*hour, 2*day))))
	} else if referred && p.agg.HandlingClass() != domain.HandlingLongTerm {
		target = later(target, h.office(r1.Add(between(r, 5*day, 20*day))))
	}
	target = later(target, r1.Add(hour))
	// Follow-ups between the first response and the resolution.
	if p.agg.HandlingClass() == domain.HandlingLongTerm {
		for t := r1; ; {
			gap := between(r, 20*day, 29*day)
			if chance(r, 0.1) {
				gap = between(r, 33*day, 45*day) // a missed monthly follow-up
			}
			t = h.office(t.Add(gap))
			if !t.Before(target) {
				break
			}
			h.schedule(t, p.progress(pick(r, longTermTexts), pick(r, []domain.FollowUpMethod{domain.FollowHomeVisit, domain.FollowPhone})))
		}
	} else {
		for range r.IntN(3) {
			t := frac(r, r1, target, 0.1, 0.9)
			if !p.quick() {
				t = h.office(t)
			}
			h.schedule(t, p.progress(pick(r, progressTexts), pick(r, []domain.FollowUpMethod{domain.FollowPhone, domain.FollowHomeVisit, domain.FollowOffice})))
		}
	}
	h.schedule(target, p.resolve)
	last := target
	// The loop closes only with the household's voice (decision 0096): a
	// return visit by the community secretary (by phone through the
	// supervisor's office when the secretary resolved it) records the
	// satisfaction; only then may the problem close. Without one the
	// problem stays resolved, a return visit due.
	if !chance(r, rates.Revisit) {
		if chance(r, 0.85) {
			h.schedule(h.office(target.Add(between(r, 2*hour, 3*day))), p.rate)
		}
		return
	}
	held := !chance(r, rates.Recur) || p.cycle >= 2
	last = h.office(last.Add(between(r, 3*day, 21*day)))
	h.schedule(last, p.revisit(held))
	if !held {
		return
	}
	if chance(r, 0.9) {
		h.schedule(h.office(last.Add(between(r, day, 10*day))), p.close)
	}
}

func (p *problem) progress(note string, method domain.FollowUpMethod) func(time.Time) (*Batch, error) {
	return func(at time.Time) (*Batch, error) {
		if st := p.agg.Status(); st != domain.StatusOpen && st != domain.StatusInProgress {
			return nil, nil
		}
		return p.step("note progress on", p.assignee, at, func(m domain.Meta) ([]domain.Event, error) {
			return p.agg.NoteProgress(m, p.h.s.pol, note, method)
		})
	}
}

func (p *problem) extend(to time.Time) func(time.Time) (*Batch, error) {
	return func(at time.Time) (*Batch, error) {
		return p.step("extend", p.h.comm.Secretary, at, func(m domain.Meta) ([]domain.Event, error) {
			return p.agg.ExtendDeadline(m, to.In(p.h.s.c.Location).Truncate(time.Second), pick(p.h.rng, extensionReasons))
		})
	}
}

func (p *problem) resolve(at time.Time) (*Batch, error) {
	it := p.item
	provider := p.provider
	switch {
	case provider == "" && len(it.dept) > 0:
		provider = departmentName(it.dept[0])
	case provider == "":
		provider = p.h.comm.Name + "志愿服务队"
	}
	res := []domain.LinkedResource{{Kind: domain.ResourceKind(it.resource), Description: it.resText, Provider: provider, AmountCents: int64(it.amountYuan) * 100}}
	b, err := p.step("resolve", p.assignee, at, func(m domain.Meta) ([]domain.Event, error) {
		return p.agg.Resolve(m, it.resolution, res)
	})
	if err == nil {
		p.h.active--
	}
	return b, err
}

// score draws a household's satisfaction: mostly 4 or 5, rarely 1 or 2.
func score(r *rand.Rand) int {
	switch x := r.Float64(); {
	case x < 0.01:
		return 1
	case x < 0.05:
		return 2
	case x < 0.15:
		return 3
	case x < 0.45:
		return 4
	}
	return 5
}

func (p *problem) rate(at time.Time) (*Batch, error) {
	r := p.h.rng
	score := score(r)
	comment := pick(r, satisfactionComments[score])
	return p.step("rate", p.assignee, at, func(m domain.Meta) ([]domain.Event, error) {
		return p.agg.RateSatisfaction(m, score, comment)
	})
}

func (p *problem) revisit(held bool) func(time.Time) (*Batch, error) {
	return func(at time.Time) (*Batch, error) {
		if p.agg.Status() != domain.StatusResolved {
			return nil, nil
		}
		r := p.h.rng
		sat := score(r)
		note := "回访确认问题已解决，住户满意"
		if !held {
			note = pick(r, revisitFailTexts)
		} else if sat < p.h.s.pol.ReturnVisit.ReopenBelow {
			note = pick(r, satisfactionComments[sat])
		}
		by := p.h.comm.Secretary
		method := pick(r, []domain.FollowUpMethod{domain.FollowHomeVisit, domain.FollowPhone})
		if by.Actor == p.assignee.Actor {
			method = domain.FollowPhone // the supervisor's office surveys by phone
		}
		b, err := p.step("revisit", by, at, func(m domain.Meta) ([]domain.Event, error) {
			return p.agg.Revisit(m, p.h.s.pol, domain.RevisitProblem{Held: held, Method: method, Note: note, Satisfaction: sat})
		})
		if err == nil && p.agg.Status() == domain.StatusOpen {
			// Recurred or unsatisfied: the revisit reopened it.
			p.cycle++
			p.h.active++
			p.planAssign(at)
		}
		return b, err
	}
}

func (p *problem) close(at time.Time) (*Batch, error) {
	if p.agg.Status() != domain.StatusResolved || p.agg.AwaitsReturnVisit(p.h.s.pol) {
		return nil, nil
	}
	return p.step("close", p.h.comm.Secretary, at, func(m domain.Meta) ([]domain.Event, error) {
		return p.agg.Close(m, p.h.s.pol, "")
	})
}

func (p *problem) closeUnresolved(at time.Time) (*Batch, error) {
	b, err := p.step("close", p.h.comm.Secretary, at, func(m domain.Meta) ([]domain.Event, error) {
		return p.agg.Close(m, p.h.s.pol, pick(p.h.rng, unresolvedCloseReasons))
	})
	if err == nil {
		p.h.active--
	}
	return b, err
}

// ---- referrals ----

type referral struct {
	p   *problem
	id  string
	agg *domain.Referral
}

func (f *referral) step(what string, by *Person, at time.Time, cmd func(m domain.Meta) ([]domain.Event, error)) (*Batch, error) {
	rc := f.p.h.batch(domain.ReferralStream(f.id), f.agg, f.p.corr)
	m := f.p.h.meta(by, at)
	evs, err := cmd(m)
	return rc.b, rc.add(what+" referral", m, evs, err)
}

type rung struct {
	level domain.ReferralLevel
	to    string
}

// planReferral schedules a referral of the problem requested at t0, up the
// escalation path when it starts below the department, and returns when it
// will be completed (zero if it will be declined or cancelled, or left
// unanswered: then unanswered is true).
//
// A receiver leaves a referral unanswered (Rates.ReferralUnanswered,
// decision 0150): it neither accepts nor declines, so the referral stays
// awaiting acceptance, its deadline breached, until the end of the span;
// the demo started on any date has such breaches for the supervisors'
// dashboard, as a real town's department backlog would.
func (p *problem) planReferral(t0 time.Time, dept string) (time.Time, bool) {
	h := p.h
	s := h.s
	r := h.rng
	c := s.c
	committee := h.comm.Name + "居委会"
	if !h.comm.Urban {
		committee = h.comm.Name + "村委会"
	}
	final := rung{domain.LevelDepartment, departmentName(dept)}
	chain := []rung{final}
	switch x := r.Float64(); {
	case x < 0.15:
		chain = []rung{{domain.LevelCommunity, committee}, {domain.LevelStreet, h.comm.Town.Name + "社会事务办"}, final}
	case x < 0.25:
		chain = []rung{{domain.LevelStreet, h.comm.Town.Name + "社会事务办"}, final}
	}
	f := &referral{p: p, id: newUUID(r, t0).String()}
	f.agg = domain.NewReferral(f.id)
	h.schedule(t0, func(at time.Time) (*Batch, error) {
		return f.step("request", p.assignee, at, func(m domain.Meta) ([]domain.Event, error) {
			return f.agg.Request(m, s.pol, domain.RequestReferral{ProblemID: p.id, HouseholdID: h.id, Level: chain[0].level,
				To: chain[0].to, Request: p.item.text + "，请协助办理"})
		})
	})
	// As the command layer does: the problem records that it was referred
	// (referring starts the work, decision 0094).
	h.schedule(t0, func(at time.Time) (*Batch, error) {
		return p.step("note the referral on", p.assignee, at, func(m domain.Meta) ([]domain.Event, error) {
			return p.agg.NoteReferral(m, f.id, chain[0].level, chain[0].to)
		})
	})
	t := t0
	for i := 1; i < len(chain); i++ {
		if chance(r, 0.4) {
			t = h.office(t.Add(between(r, 4*hour, 2*day)))
			decliner := h.comm.Secretary
			if chain[i-1].level == domain.LevelStreet {
				decliner = pick(r, h.comm.Town.Supervisors)
			}
			h.schedule(t, func(at time.Time) (*Batch, error) {
				return f.step("decline", decliner, at, func(m domain.Meta) ([]domain.Event, error) {
					return f.agg.Decline(m, declineReasons[0])
				})
			})
		}
		t = h.office(t.Add(between(r, day, 5*day)))
		next := chain[i]
		by := h.comm.Secretary
		if i == 2 {
			by = pick(r, h.comm.Town.Supervisors)
		}
		h.schedule(t, func(at time.Time) (*Batch, error) {
			return f.step("escalate", by, at, func(m domain.Meta) ([]domain.Event, error) {
				return f.agg.Escalate(m, s.pol, next.level, next.to, pick(r, escalateReasons[:2]))
			})
		})
	}
	staff := &Person{Name: personName(r, chance(r, 0.5)), Role: domain.RoleDepartment}
	staff.Actor = staff.Name + "(" + final.to + ")"
	if chance(r, s.rates.ReferralDecline) {
		t = h.office(t.Add(between(r, 4*hour, 2*day)))
		h.schedule(t, func(at time.Time) (*Batch, error) {
			return f.step("decline", staff, at, func(m domain.Meta) ([]domain.Event, error) {
				return f.agg.Decline(m, pick(r, declineReasons))
			})
		})
		return time.Time{}, false
	}
	accDue := t.Add(3 * day)
	if d, err := domain.DueAfter(c.Calendar, t, s.pol.ReferralAcceptance); err == nil {
		accDue = d.At
	}
	var acc time.Time
	// One draw decides late, unanswered or on time, so that a town with
	// no unanswered referral draws exactly what it drew before the rate.
	switch x := r.Float64(); {
	case x < s.rates.ReferralLateAccept:
		acc = h.office(accDue.Add(between(r, hour, 3*day)))
	case x < s.rates.ReferralLateAccept+s.rates.ReferralUnanswered:
		return time.Time{}, true
	default:
		acc = frac(r, t, accDue, 0.1, 0.9)
		if o := h.office(acc); o.Before(accDue) {
			acc = o
		}
	}
	acc = later(acc, t.Add(30*minute))
	limit := pick(r, []domain.Span{domain.Days(15), domain.Months(1), domain.WorkingDays(10)})
	if p.agg.HandlingClass() == domain.HandlingLongTerm {
		limit = domain.Months(3)
	}
	dueAt, err := domain.DueAfter(c.Calendar, acc, limit)
	if err != nil {
		limit = domain.Days(14)
		dueAt, _ = domain.DueAfter(c.Calendar, acc, limit)
	}
	due := dueAt.At
	h.schedule(acc, func(at time.Time) (*Batch, error) {
		return f.step("accept", staff, at, func(m domain.Meta) ([]domain.Event, error) {
			return f.agg.Accept(m, c.Calendar, staff.Actor, limit, "已接收，指定专人办理")
		})
	})
	start := h.office(acc.Add(between(r, hour, 3*day)))
	h.schedule(start, func(at time.Time) (*Batch, error) {
		return f.step("start", staff, at, func(m domain.Meta) ([]domain.Event, error) {
			return f.agg.Start(m, "已开始办理")
		})
	})
	if chance(r, 0.03) {
		h.schedule(h.office(start.Add(between(r, 2*day, 10*day))), func(at time.Time) (*Batch, error) {
			return f.step("cancel", p.assignee, at, func(m domain.Meta) ([]domain.Event, error) {
				return f.agg.Cancel(m, pick(r, cancelReasons))
			})
		})
		return time.Time{}, false
	}
	done := frac(r, start, due, 0.2, 0.9)
	if chance(r, 0.15) || !done.After(start) {
		done = due.Add(between(r, day, 15*day))
	}
	done = h.office(done)
	it := p.item
	res := []domain.LinkedResource{{Kind: domain.ResourceKind(it.resource), Description: it.resText, Provider: final.to, AmountCents: int64(it.amountYuan) * 100}}
	h.schedule(done, func(at time.Time) (*Batch, error) {
		return f.step("complete", staff, at, func(m domain.Meta) ([]domain.Event, error) {
			return f.agg.Complete(m, it.resolution, res)
		})
	})
	return done, false
}

// office moves t into office hours (09:00–17:30 on a working day), keeping
// it when it already is.
func (h *house) office(t time.Time) time.Time {
	c := h.s.c
	t = t.In(c.Location)
	if ok, err := c.Calendar.IsWorkingDay(t); err == nil && ok {
		mins := t.Hour()*60 + t.Minute()
		if mins >= 9*60 && mins < 17*60+30 {
			return t
		}
		if mins < 9*60 {
			return time.Date(t.Year(), t.Month(), t.Day(), 9, h.rng.IntN(60), 0, 0, c.Location)
		}
	}
	return workTime(c, time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, c.Location), 9+h.rng.IntN(3), h.rng.IntN(60))
}
