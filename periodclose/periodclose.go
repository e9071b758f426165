// Package periodclose is the process manager that closes measurement periods
// (issue 15, decision 0099): at the end of each calendar month, per
// community and for the street, it appends measures.period_closed with the
// measures computed from the log (coverage of households by class, the
// resolution rate without long-term problems) and the policy and calendar
// versions used, then the flags the figures raise (measures.flag_raised).
//
// Like the deadline watcher it takes an injected clock and writes with
// deterministic event ids and the ledger's version as expected version, so
// running it twice, or on two nodes, writes each close once: a second run
// finds the period closed and writes nothing; a concurrent one conflicts and
// looks again. The read models it reads must have caught up with the log
// (Config.CaughtUp) before a close, since a close never changes afterwards.
package periodclose

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/coverage"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/measures"
)

// Clock gives the present.
type Clock interface{ Now() time.Time }

// Config configures a Closer.
type Config struct {
	Store      eventstore.Store
	Coverage   *pcoverage.Reader
	Resolution *measures.Reader
	Policies   *domain.PolicySet
	Calendar   domain.WorkingDayCalendar
	Clock      Clock
	// From is the first month to close ("2026-01").
	From string
	// CaughtUp, when set, is called before closing: it must return once the
	// read models have applied the whole log (e.g. an engine catch-up).
	CaughtUp func(ctx context.Context) error
	// Poll bounds how long Run sleeps between looks (default 10 minutes).
	Poll time.Duration
}

// Closer closes periods. Safe for sequential use; run one per process.
type Closer struct {
	c   Config
	reg *domain.Registry
}

// New returns a Closer.
func New(c Config) (*Closer, error) {
	if c.Store == nil || c.Coverage == nil || c.Resolution == nil || c.Policies == nil || c.Calendar == nil || c.Clock == nil {
		return nil, errors.New("closing: store, readers, policies, calendar and clock are required")
	}
	if _, _, _, err := domain.ParsePeriodLabel(c.From, time.UTC); err != nil {
		return nil, fmt.Errorf("closing: From: %w", err)
	}
	return &Closer{c: c, reg: domain.NewRegistry()}, nil
}

// namespace of close event ids.
var namespace = uuid.MustParse("6f1c1a52-8a0b-4cf5-9b38-5b0a1d0e7c15")

// CloseDue closes every month from From that ended before now and is not
// closed yet, and returns how many ledgers it wrote to.
func (c *Closer) CloseDue(ctx context.Context) (int, error) {
	loc := c.c.Calendar.Location()
	now := c.c.Clock.Now()
	_, start, _, err := domain.ParsePeriodLabel(c.c.From, loc)
	if err != nil {
		return 0, err
	}
	if c.c.CaughtUp != nil {
		if err := c.c.CaughtUp(ctx); err != nil {
			return 0, err
		}
	}
	n := 0
	for ms := start; ; {
		_, me := domain.PeriodMonth.Bounds(ms, loc)
		if me.After(now) {
			return n, nil
		}
		k, err := c.CloseMonth(ctx, domain.PeriodMonth.Label(ms, loc))
		n += k
		if err != nil {
			return n, err
		}
		// The quarter, half-year and year that end with the month.
		for _, per := range []domain.Period{domain.PeriodQuarter, domain.PeriodHalfYear, domain.PeriodYear} {
			if _, pe := per.Bounds(ms, loc); pe.Equal(me) {
				k, err := c.ClosePeriod(ctx, per.Label(ms, loc))
				n += k
				if err != nil {
					return n, err
				}
			}
		}
		ms = me
	}
}

// CloseMonth closes one month ("2026-03") for every community and the
// street; ledgers already closed are left as they are.
func (c *Closer) CloseMonth(ctx context.Context, label string) (int, error) {
	return c.ClosePeriod(ctx, label)
}

// ClosePeriod closes one period (a month "2026-03", quarter "2026-Q1",
// half-year "2026-H1" or year "2026") for every community and the street:
// coverage over the period, the resolution of the problems reported in its
// months. The two-month resolution flag is raised at month closes only.
func (c *Closer) ClosePeriod(ctx context.Context, label string) (int, error) {
	loc := c.c.Calendar.Location()
	pol := c.c.Policies.Current()
	per, start, end, err := domain.ParsePeriodLabel(label, loc)
	if err != nil {
		return 0, err
	}
	if per == domain.PeriodWeek {
		return 0, fmt.Errorf("closing: weeks are not closed: %s", label)
	}
	street, err := c.ledger(ctx, "")
	if err != nil {
		return 0, err
	}
	if _, done := street.Period(label); done {
		return 0, nil
	}
	rep, err := c.c.Coverage.Report(ctx, pol, loc, label, "")
	if err != nil {
		return 0, err
	}
	res := map[string]measures.Rate{}
	risk := map[string]*riskSum{}
	for ms := start; ms.Before(end); {
		_, me := domain.PeriodMonth.Bounds(ms, loc)
		month := domain.PeriodMonth.Label(ms, loc)
		mr, err := c.c.Resolution.Resolution(ctx, month)
		if err != nil {
			return 0, err
		}
		for k, v := range mr {
			r := res[k]
			res[k] = measures.Rate{Num: r.Num + v.Num, Den: r.Den + v.Den}
		}
		rr, err := c.c.Resolution.Risk(ctx, month)
		if err != nil {
			return 0, err
		}
		for k, v := range rr {
			if risk[k] == nil {
				risk[k] = &riskSum{workers: map[string]domain.Tally{}}
			}
			risk[k].add(v)
		}
		ms = me
	}
	// The targets per handling class of 001 §2.2.2 (decision 0117).
	hf, err := c.c.Resolution.Handling(ctx, pol, c.c.Calendar, start, end)
	if err != nil {
		return 0, err
	}
	names := map[string]bool{}
	for k := range hf {
		names[k] = true
	}
	for k := range rep.Communities {
		names[k] = true
	}
	for k := range res {
		names[k] = true
	}
	for k := range risk {
		names[k] = true
	}
	var list []string
	for k := range names {
		list = append(list, k)
	}
	sort.Strings(list)
	if len(list) == 0 {
		// No community had a household due or a problem reported in the
		// period (a new installation's first month): there is nothing to
		// close, and an empty close would stand for good. A household
		// recorded later with an earlier start is closed at the next run.
		return 0, nil
	}
	prev := ""
	if per == domain.PeriodMonth {
		prev = domain.PeriodMonth.Label(start.Add(-time.Hour), loc)
	}
	// The half-yearly survey of each community, when closed by now (decision 0145).
	surveys := map[string]domain.SurveyClosed{}
	if per == domain.PeriodHalfYear {
		for _, name := range list {
			r := domain.NewSurveyRound(name, label)
			if _, err := eventlog.Load(ctx, c.c.Store, c.reg, domain.SurveyStream(name, label), r, domain.AsOf{}); err != nil {
				return 0, err
			}
			if sc, ok := r.Closed(); ok {
				surveys[name] = sc
			}
		}
	}
	var streetSurvey [2]domain.Tally
	var total domain.Tally
	streetRisk := riskSum{}
	var streetHandling measures.HandlingFigures
	var streetSpot domain.Tally
	undrawn := map[time.Time]map[string]int{} // completed visits per community, by month inspected
	n := 0
	in := domain.ClosePeriod{Period: label, Start: start, End: end, Previous: prev, Policy: pol, CalendarVersion: c.c.Calendar.Version()}
	for _, name := range list {
		f := figures(rep.Communities[name], res[name])
		total.Num += f.Resolution.Num
		total.Den += f.Resolution.Den
		if r := risk[name]; r != nil {
			r.fill(&f)
			streetRisk.refusals = plus(streetRisk.refusals, r.refusals)
			streetRisk.seconds = plus(streetRisk.seconds, r.seconds)
			streetRisk.ineffective = plus(streetRisk.ineffective, r.ineffective)
		}
		if h := hf[name]; h != nil {
			fillHandling(&f, h)
			streetHandling.Immediate = addRate(streetHandling.Immediate, h.Immediate)
			streetHandling.Coordinated = addRate(streetHandling.Coordinated, h.Coordinated)
			streetHandling.LongTermSatisfaction = addRate(streetHandling.LongTermSatisfaction, h.LongTermSatisfaction)
		}
		if sc, ok := surveys[name]; ok {
			f.SurveyReturn = domain.Tally{Num: int64(sc.Returned), Den: int64(sc.Surveyed)}
			f.SurveySatisfaction = domain.Tally{Num: int64(sc.Satisfied), Den: int64(sc.Returned)}
			streetSurvey[0], streetSurvey[1] = plus(streetSurvey[0], f.SurveyReturn), plus(streetSurvey[1], f.SurveySatisfaction)
		}
		if f.SpotChecks, err = c.spotChecks(ctx, name, start, end, undrawn); err != nil {
			return n, err
		}
		streetSpot = plus(streetSpot, f.SpotChecks)
		in.Figures = f
		wrote, err := c.close(ctx, name, in)
		if err != nil {
			return n, err
		}
		if wrote {
			n++
		}
	}
	// The street last: its close marks the month done.
	in.Figures = figures(&rep.Street, measures.Rate{Num: total.Num, Den: total.Den})
	streetRisk.fill(&in.Figures) // workers are flagged in their communities' ledgers
	fillHandling(&in.Figures, &streetHandling)
	in.Figures.SurveyReturn, in.Figures.SurveySatisfaction = streetSurvey[0], streetSurvey[1]
	in.Figures.SpotChecks = streetSpot
	wrote, err := c.close(ctx, "", in)
	if wrote {
		n++
	}
	return n, err
}

// spotChecks counts the spot-check measure of community over [start,
// end) (decision 0141): for each month of the period, the month before it
// is the one inspected; its round's sample of its population, or, not
// drawn, none of the community's completed visits of that month. The
// visits of a month are counted for every community in one query, kept in
// counts for the other communities of the same close.
func (c *Closer) spotChecks(ctx context.Context, community string, start, end time.Time, counts map[time.Time]map[string]int) (domain.Tally, error) {
	loc := c.c.Calendar.Location()
	var t domain.Tally
	for ms := start; ms.Before(end); {
		_, me := domain.PeriodMonth.Bounds(ms, loc)
		ps, _ := domain.PeriodMonth.Bounds(ms.Add(-time.Hour), loc)
		month := domain.PeriodMonth.Label(ps, loc)
		r := domain.NewSpotCheckRound(community, month)
		if _, err := eventlog.Load(ctx, c.c.Store, c.reg, domain.SpotCheckStream(community, month), r, domain.AsOf{}); err != nil {
			return t, err
		}
		if d, ok := r.Drawn(); ok {
			t.Num += int64(len(d.Sample))
			t.Den += int64(d.Population)
		} else {
			byCommunity, ok := counts[ps]
			if !ok {
				var err error
				if byCommunity, err = c.c.Coverage.CompletedVisitCounts(ctx, ps, ms); err != nil {
					return t, err
				}
				counts[ps] = byCommunity
			}
			t.Den += int64(byCommunity[community])
		}
		ms = me
	}
	return t, nil
}

func figures(f *coverage.Figures, res measures.Rate) domain.PeriodFigures {
	out := domain.PeriodFigures{Resolution: domain.Tally{Num: res.Num, Den: res.Den}}
	if f == nil {
		return out
	}
	out.Coverage = domain.Tally{Num: f.All.Covered, Den: f.All.Due}
	out.CoverageKeyGroups = domain.Tally{Num: f.KeyGroups.Covered, Den: f.KeyGroups.Due}
	out.CoverageByClass = map[domain.HouseholdClass]domain.Tally{}
	for k, v := range f.ByClass {
		out.CoverageByClass[k] = domain.Tally{Num: v.Covered, Den: v.Due}
	}
	return out
}

func addRate(a, b measures.Rate) measures.Rate {
	return measures.Rate{Num: a.Num + b.Num, Den: a.Den + b.Den}
}

func fillHandling(f *domain.PeriodFigures, h *measures.HandlingFigures) {
	f.HandlingImmediate = domain.Tally{Num: h.Immediate.Num, Den: h.Immediate.Den}
	f.HandlingCoordinated = domain.Tally{Num: h.Coordinated.Num, Den: h.Coordinated.Den}
	f.LongTermSatisfaction = domain.Tally{Num: h.LongTermSatisfaction.Num, Den: h.LongTermSatisfaction.Den}
}

// riskSum adds up the risk figures of 001 §6.2 over a period's months.
type riskSum struct {
	refusals, seconds domain.Tally
	workers           map[string]domain.Tally
	ineffective       domain.Tally // 沟通无效 of completed visits (decision 0145)
}

func plus(a, b domain.Tally) domain.Tally {
	return domain.Tally{Num: a.Num + b.Num, Den: a.Den + b.Den}
}

func (r *riskSum) add(m *measures.RiskFigures) {
	r.refusals = plus(r.refusals, domain.Tally{Num: m.Refusals.Num, Den: m.Refusals.Den})
	r.seconds = plus(r.seconds, domain.Tally{Num: m.ResolutionSeconds.Num, Den: m.ResolutionSeconds.Den})
	r.ineffective = plus(r.ineffective, domain.Tally{Num: m.IneffectiveCommunication.Num, Den: m.IneffectiveCommunication.Den})
	for w, v := range m.Workers {
		r.workers[w] = plus(r.workers[w], domain.Tally{Num: v.Num, Den: v.Den})
	}
}

func (r *riskSum) fill(f *domain.PeriodFigures) {
	f.Refusals, f.ResolutionSeconds, f.IneffectiveCommunication = r.refusals, r.seconds, r.ineffective
	if len(r.workers) > 0 {
		f.WorkerResolution = make(map[string]domain.Tally, len(r.workers))
		for w, v := range r.workers {
			f.WorkerResolution[w] = v
		}
	}
}

func (c *Closer) ledger(ctx context.Context, community string) (*domain.PeriodLedger, error) {
	l := domain.NewPeriodLedger(community)
	if _, err := eventlog.Load(ctx, c.c.Store, c.reg, domain.MeasuresStream(community), l, domain.AsOf{}); err != nil {
		return nil, err
	}
	return l, nil
}

// close decides and appends one ledger's close, looking again on a conflict.
func (c *Closer) close(ctx context.Context, community string, in domain.ClosePeriod) (bool, error) {
	stream := domain.MeasuresStream(community)
	for attempt := 0; ; attempt++ {
		l, err := c.ledger(ctx, community)
		if err != nil {
			return false, err
		}
		now := c.c.Clock.Now()
		meta := domain.Meta{Actor: "measures-closer", Role: domain.RoleSystem, At: now, CommandID: "close/" + stream + "/" + in.Period}
		evs, err := l.Close(meta, in)
		if err != nil || len(evs) == 0 {
			return false, err
		}
		env := eventlog.Envelope{At: now, Actor: meta.Actor, Role: meta.Role, CommandID: meta.CommandID, Community: community}
		data := make([]eventstore.EventData, len(evs))
		for i, e := range evs {
			id := uuid.NewSHA1(namespace, fmt.Appendf(nil, "%s|%s|%d", stream, in.Period, i))
			if data[i], err = eventlog.Encode(id, e, env.Metadata()); err != nil {
				return false, err
			}
		}
		_, err = c.c.Store.Append(ctx, stream, eventstore.Exact(l.Version()), data...)
		if errors.Is(err, eventstore.ErrConflict) && attempt < 3 {
			continue
		}
		return err == nil, err
	}
}

// Ledger returns the closed periods of a community ("" = the street) as the
// log held them at the instant as (zero: now).
func Ledger(ctx context.Context, r eventlog.StreamReader, community string, as time.Time) (*domain.PeriodLedger, error) {
	l := domain.NewPeriodLedger(community)
	if _, err := eventlog.Load(ctx, r, domain.NewRegistry(), domain.MeasuresStream(community), l, domain.AsOf{RecordedAt: as}); err != nil {
		return nil, err
	}
	return l, nil
}

// Run closes the due periods, then again after each month end (or every
// Poll), until ctx ends; it returns nil then, or the first error.
func (c *Closer) Run(ctx context.Context) error {
	poll := c.c.Poll
	if poll <= 0 {
		poll = 10 * time.Minute
	}
	after := time.After
	if a, ok := c.c.Clock.(interface {
		After(time.Duration) <-chan time.Time
	}); ok {
		after = a.After
	}
	for {
		if _, err := c.CloseDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := c.c.Clock.Now()
		_, next := domain.PeriodMonth.Bounds(now, c.c.Calendar.Location())
		select {
		case <-ctx.Done():
			return nil
		case <-after(min(next.Sub(now)+time.Second, poll)):
		}
	}
}
