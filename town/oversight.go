package town

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
)

// The street's oversight of the communities (001 §3.4; decisions 0115, 0127,
// 0140): the town's generator also does what the street's 纪工委, 督查办 and
// supervisors' office do for each community, from what the households'
// history shows at the time:
//   - each month, early in the next, a spot-check round is drawn from the
//     community's completed visits of the month (10% or more, from a seed
//     derived from the town's seed), and the inspectors record a finding
//     for each visit within days, a few of them discrepancies;
//   - each half-year, a satisfaction survey is opened in June or December,
//     the returned questionnaires recorded and the round closed;
//   - before each festival window, a festival campaign is opened naming the
//     community's key and special households (each household sets its own
//     deadline, in sim.go, a minute later).
//
// It follows the batches as they leave the generator, in time order, and
// inserts its own before the first batch at or after their time, so it
// sees exactly the history recorded before it acts. Its random source is
// its own: the households' histories are the same with or without it.

// overseer inserts the oversight batches into the stream of batches.
type overseer struct {
	ctx   context.Context // the generation's: a cancel stops the oversight's batches too
	c     *Config
	lay   *Layout
	emit  func(Batch) error
	rng   *rand.Rand
	q     oversightQueue
	seq   uint64
	stats Stats

	homes  map[string]*homeState                   // household id → what the street knows of it
	visits map[string]map[string][]domain.VisitRef // month → community → completed visits
	rounds map[string]*domain.SpotCheckRound       // stream → round
	byComm map[string][]string                     // community → household ids in registration order
	months []string                                // months with visits, oldest first (to forget old ones)
}

type homeState struct {
	community string
	class     domain.HouseholdClass
	archived  bool
}

type oversight struct {
	at  time.Time
	seq uint64
	fn  func(at time.Time) error
}

type oversightQueue []oversight

func (q oversightQueue) Len() int { return len(q) }
func (q oversightQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q oversightQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *oversightQueue) Push(x any)   { *q = append(*q, x.(oversight)) }
func (q *oversightQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Inspectors of the street's 纪工委 and 督查办 (the spot checks' inspectors).
var inspectorNames = []string{"纪工委刘明", "督查办陈静"}

// campaignLead is how long before a festival window its campaign opens.
const campaignLead = 3 * day

func newOverseer(ctx context.Context, c *Config, lay *Layout, emit func(Batch) error) *overseer {
	o := &overseer{ctx: ctx, c: c, lay: lay, emit: emit, rng: rand.New(rand.NewPCG(c.Seed^0x6f76657273656572, 0x73747265657421)),
		homes: map[string]*homeState{}, visits: map[string]map[string][]domain.VisitRef{}, rounds: map[string]*domain.SpotCheckRound{},
		byComm: map[string][]string{}}
	loc := c.Location
	if c.Policy.SpotCheck.Rate > 0 {
		for ms := c.Start; ms.Before(c.End); {
			ms0, me := domain.PeriodMonth.Bounds(ms, loc)
			month := domain.PeriodMonth.Label(ms0, loc)
			o.at(workTime(c, me.Add(4*day), 10, 0), func(at time.Time) error { return o.drawSpotChecks(at, month, ms0, me) })
			ms = me
		}
	}
	if !c.Policy.Survey.IsZero() {
		for ms := c.Start; ms.Before(c.End); {
			hs, he := domain.PeriodHalfYear.Bounds(ms, loc)
			label := domain.PeriodHalfYear.Label(hs, loc)
			open := workTime(c, he.AddDate(0, 0, -24), 10, 0)
			o.at(open, func(at time.Time) error { return o.openSurveys(at, label) })
			ms = he
		}
	}
	if !c.Policy.FestivalVisits.IsZero() {
		for _, w := range FestivalWindows(c.Start, c.End, loc) {
			o.at(w.Starts.Add(-campaignLead).Add(9*hour), func(at time.Time) error { return o.openCampaigns(at, w) })
		}
	}
	return o
}

// at schedules an action.
func (o *overseer) at(t time.Time, fn func(at time.Time) error) {
	o.seq++
	heap.Push(&o.q, oversight{at: t.Truncate(time.Second).In(o.c.Location), seq: o.seq, fn: fn})
}

// add runs the actions due before b, notes what b records and passes it on.
func (o *overseer) add(b Batch) error {
	if err := o.runUntil(b.At, false); err != nil {
		return err
	}
	if err := o.observe(b); err != nil {
		return err
	}
	return o.emit(b)
}

// finish runs the actions left inside the span.
func (o *overseer) finish() error { return o.runUntil(o.c.End, true) }

func (o *overseer) runUntil(t time.Time, end bool) error {
	for len(o.q) > 0 {
		a := o.q[0]
		if a.at.After(t) || (end && !a.at.Before(t)) {
			return nil
		}
		heap.Pop(&o.q)
		if err := a.fn(a.at); err != nil {
			return fmt.Errorf("town: oversight at %s: %w", a.at.Format(time.RFC3339), err)
		}
	}
	return nil
}

// observe notes the households' communities, classes, archives and
// completed visits.
func (o *overseer) observe(b Batch) error {
	if !strings.HasPrefix(b.Stream, domain.HouseholdStream("")) {
		return nil
	}
	id := strings.TrimPrefix(b.Stream, domain.HouseholdStream(""))
	for i, e := range b.Events {
		switch e.Type {
		case domain.TypeHouseholdRegistered:
			var r domain.HouseholdRegistered
			if err := json.Unmarshal(e.Data, &r); err != nil {
				return err
			}
			class, err := o.openClass(r.Class)
			if err != nil {
				return err
			}
			o.homes[id] = &homeState{community: r.Community, class: class}
			o.byComm[r.Community] = append(o.byComm[r.Community], id)
		case domain.TypeHouseholdClassChanged:
			var r domain.HouseholdClassChanged
			if err := json.Unmarshal(e.Data, &r); err != nil {
				return err
			}
			class, err := o.openClass(r.To)
			if err != nil {
				return err
			}
			if h := o.homes[id]; h != nil {
				h.class = class
			}
		case domain.TypeHouseholdArchived:
			if h := o.homes[id]; h != nil {
				h.archived = true
			}
		case domain.TypeVisitRecorded:
			var v struct {
				Outcome    domain.VisitOutcome `json:"outcome"`
				OccurredAt time.Time           `json:"occurred_at"`
			}
			if err := json.Unmarshal(e.Data, &v); err != nil {
				return err
			}
			h := o.homes[id]
			if v.Outcome != domain.OutcomeCompleted || h == nil {
				continue
			}
			month := domain.PeriodMonth.Label(v.OccurredAt, o.c.Location)
			if o.visits[month] == nil {
				o.visits[month] = map[string][]domain.VisitRef{}
				o.months = append(o.months, month)
				slices.Sort(o.months)
			}
			o.visits[month][h.community] = append(o.visits[month][h.community], domain.VisitRef{Household: id, Version: b.Expected + uint64(i) + 1})
		}
	}
	return nil
}

// openClass opens a class the town sealed (sealClass, decision 0148).
func (o *overseer) openClass(c domain.HouseholdClass) (domain.HouseholdClass, error) {
	op, ok := o.c.Sealer.(domain.Opener)
	if !ok || !domain.IsSealedText(string(c)) {
		return c, nil
	}
	r, err := domain.OpenText(o.ctx, op, string(c))
	if err != nil {
		return "", fmt.Errorf("town: open a household's class: %w", err)
	}
	return domain.HouseholdClass(r.String()), nil
}

// record appends the events of one command on a community's stream.
func (o *overseer) record(stream string, agg domain.Aggregate, community string, meta domain.Meta, evs []domain.Event, err error) error {
	if err != nil {
		return fmt.Errorf("%s rejected: %w", stream, err)
	}
	b := Batch{Stream: stream, Expected: agg.Version(), At: meta.At}
	md := eventlog.Envelope{At: meta.At.UTC(), Actor: meta.Actor, Role: meta.Role, CommandID: meta.CommandID, Community: community}.Metadata()
	for _, e := range evs {
		agg.Apply(e)
		ed, err := eventlog.Encode(newUUID(o.rng, meta.At), e, md)
		if err != nil {
			return err
		}
		b.Events = append(b.Events, ed)
	}
	if len(b.Events) == 0 {
		return nil
	}
	if err := o.ctx.Err(); err != nil {
		return err
	}
	o.stats.Events += len(b.Events)
	o.stats.Batches++
	return o.emit(b)
}

func (o *overseer) meta(actor, role string, at time.Time) domain.Meta {
	return domain.Meta{Actor: actor, Role: role, At: at, CommandID: newUUID(o.rng, at).String()}
}

func (o *overseer) communities() []*Community { return o.lay.Communities }

// supervisor is who acts for the street on community c: the town's first
// supervisor (street) or the community's secretary (community), whichever
// the layout has.
func (o *overseer) supervisor(c *Community, street bool) *Person {
	if street && c.Town != nil && len(c.Town.Supervisors) > 0 {
		return c.Town.Supervisors[0]
	}
	if c.Secretary != nil {
		return c.Secretary
	}
	if c.Town != nil && len(c.Town.Supervisors) > 0 {
		return c.Town.Supervisors[0]
	}
	return &Person{Actor: "street-office", Role: domain.RoleSupervisor}
}

// drawSpotChecks draws each community's round of month (001 §3.4) and
// schedules the findings.
func (o *overseer) drawSpotChecks(at time.Time, month string, start, end time.Time) error {
	pol := o.c.Policy
	for _, c := range o.communities() {
		pop := o.visits[month][c.Name]
		if len(pop) == 0 {
			continue
		}
		stream := domain.SpotCheckStream(c.Name, month)
		r := domain.NewSpotCheckRound(c.Name, month)
		seed := sha256.Sum256(fmt.Appendf(nil, "town|%d|%s|%s", o.c.Seed, c.Name, month))
		m := o.meta(inspectorNames[0], domain.RoleAuditor, at)
		evs, err := r.Draw(m, pol, domain.DrawSpotChecks{Seed: hex.EncodeToString(seed[:]), Population: slices.Clone(pop), Inspectors: inspectorNames, MonthEnd: end})
		if err := o.record(stream, r, c.Name, m, evs, err); err != nil {
			return err
		}
		o.rounds[stream] = r
		d, _ := r.Drawn()
		o.stats.SpotChecks += len(d.Sample)
		for _, it := range d.Sample {
			when := workTime(o.c, at.Add(time.Duration(1+o.rng.IntN(6))*day), 9+o.rng.IntN(8), o.rng.IntN(60))
			it, name := it, c.Name
			o.at(when, func(at time.Time) error { return o.finding(at, stream, name, it) })
		}
	}
	// Visits of months before the last two are not drawn from again.
	for len(o.months) > 2 && o.months[0] < month {
		delete(o.visits, o.months[0])
		o.months = o.months[1:]
	}
	return nil
}

// Discrepancy details an inspector records (free text about the visit).
var discrepancyTexts = []string{
	"住户称当日无人上门，走访记录与住户陈述不符",
	"走访记录的家庭成员情况与实际不符，需补充核实",
	"定位签到地点与住户地址不一致",
}

func (o *overseer) finding(at time.Time, stream, community string, it domain.SpotCheckItem) error {
	r := o.rounds[stream]
	result, detail := domain.FindingConfirmed, ""
	if o.rng.Float64() < 0.04 {
		result, detail = domain.FindingDiscrepancy, pick(o.rng, discrepancyTexts)
		o.stats.Discrepancies++
	}
	m := o.meta(it.Inspector, domain.RoleAuditor, at)
	evs, err := r.RecordFinding(m, it.VisitRef, result, detail)
	return o.record(stream, r, community, m, evs, err)
}

// openSurveys opens each community's survey of the half-year, records the
// returned questionnaires over the next two weeks and closes it (001 §3.4).
func (o *overseer) openSurveys(at time.Time, label string) error {
	pol := o.c.Policy
	for i, c := range o.communities() {
		var current []string
		for _, id := range o.byComm[c.Name] {
			if !o.homes[id].archived {
				current = append(current, id)
			}
		}
		surveyed := min(len(current), 60)
		if surveyed == 0 {
			continue
		}
		stream := domain.SurveyStream(c.Name, label)
		r := domain.NewSurveyRound(c.Name, label)
		sup := o.supervisor(c, true)
		m := o.meta(sup.Actor, domain.RoleSupervisor, at)
		evs, err := r.Open(m, pol, surveyed)
		if err := o.record(stream, r, c.Name, m, evs, err); err != nil {
			return err
		}
		o.stats.Surveys++
		// Most communities return 85–95% with about 90% satisfied; every
		// seventh falls short of one threshold, so the demo shows a case.
		returnRate, satisfied := 0.85+0.1*o.rng.Float64(), 0.86+0.1*o.rng.Float64()
		switch i % 7 {
		case 3:
			satisfied = 0.70
		case 6:
			returnRate = 0.70
		}
		order := slices.Clone(current)
		o.rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		returned := int(float64(surveyed) * returnRate)
		for k, id := range order[:returned] {
			when := workTime(o.c, at.Add(time.Duration(1+k%12)*day), 9+o.rng.IntN(8), o.rng.IntN(60))
			yes := o.rng.Float64() < satisfied
			id, name, sup := id, c.Name, sup
			o.at(when, func(at time.Time) error {
				m := o.meta(sup.Actor, domain.RoleSupervisor, at)
				evs, err := r.RecordResponse(m, id, yes)
				return o.record(stream, r, name, m, evs, err)
			})
		}
		name := c.Name
		o.at(workTime(o.c, at.Add(16*day), 16, 0), func(at time.Time) error {
			m := o.meta(sup.Actor, domain.RoleSupervisor, at)
			evs, err := r.Close(m, pol)
			return o.record(stream, r, name, m, evs, err)
		})
	}
	return nil
}

// openCampaigns opens each community's campaign for the festival window w
// with its key and special households (000 §1.1 系统自动筛选出符合慰问条件的家庭).
func (o *overseer) openCampaigns(at time.Time, w FestivalWindow) error {
	pol := o.c.Policy
	for _, c := range o.communities() {
		cands := map[string]domain.HouseholdClass{}
		for _, id := range o.byComm[c.Name] {
			if h := o.homes[id]; !h.archived {
				cands[id] = h.class
			}
		}
		r := domain.NewFestivalCampaign(c.Name, w.ID())
		sup := o.supervisor(c, false)
		m := o.meta(sup.Actor, domain.RoleSupervisor, at)
		evs, err := r.Open(m, pol, domain.OpenFestivalCampaign{Festival: w.Festival, Year: w.Due.Year(), Starts: w.Starts, Due: w.Due, Candidates: cands})
		if domain.CodeOf(err) == "no_campaign_households" {
			continue
		}
		if err := o.record(domain.FestivalCampaignStream(c.Name, w.ID()), r, c.Name, m, evs, err); err != nil {
			return err
		}
		o.stats.Campaigns++
	}
	return nil
}
