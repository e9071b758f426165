package town

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// Batch is one append: events for one stream, to be appended when the stream
// is at version Expected (eventstore.Exact(Expected)). At is the time of the
// command that produced the batch; batches come out ordered by At (ties in a
// fixed order).
type Batch struct {
	Stream   string
	Expected uint64
	Events   []eventstore.EventData
	At       time.Time
}

// Stats counts what a generation produced.
type Stats struct {
	Households int // registered
	Members    int // member_added events
	Visits     int // visit.recorded events (all outcomes)
	Problems   int // problems reported
	Referrals  int // referrals requested
	Events     int // every event, the problem-number counter events included
	Batches    int

	LateVisits      int // visits recorded more than the policy's entry limit after they happened
	Refused         int
	NobodyHome      int
	Reopened        int // problem.reopened events
	Escalated       int // referral.escalated events
	Declined        int // referral.declined events
	Archived        int // households archived
	ProblemsOpen    int // problems neither resolved nor closed at the end
	ProblemsOverdue int // of those, with a resolution deadline already passed at the end
	FestivalVisits  int // completed home visits made for a festival, with relief (festival.go)
	FestivalDue     int // festival visit deadlines set on households (festival.go)
	// The street's oversight (oversight.go).
	SpotChecks    int // visits drawn for spot checks
	Discrepancies int // spot-check findings of a discrepancy
	Surveys       int // survey rounds opened
	Campaigns     int // festival campaigns opened
}

func (s *Stats) add(o Stats) {
	s.Households += o.Households
	s.Members += o.Members
	s.Visits += o.Visits
	s.Problems += o.Problems
	s.Referrals += o.Referrals
	s.Events += o.Events
	s.Batches += o.Batches
	s.LateVisits += o.LateVisits
	s.Refused += o.Refused
	s.NobodyHome += o.NobodyHome
	s.Reopened += o.Reopened
	s.Escalated += o.Escalated
	s.Declined += o.Declined
	s.Archived += o.Archived
	s.ProblemsOpen += o.ProblemsOpen
	s.ProblemsOverdue += o.ProblemsOverdue
	s.FestivalVisits += o.FestivalVisits
	s.FestivalDue += o.FestivalDue
	s.SpotChecks += o.SpotChecks
	s.Discrepancies += o.Discrepancies
	s.Surveys += o.Surveys
	s.Campaigns += o.Campaigns
}

// action is something a household will do at a time.
type action struct {
	at  time.Time
	seq uint64
	fn  func(at time.Time) (*Batch, error)
}

// sim simulates one cohort of households. Households are independent except
// for the layout (shared, read-only) and the problem number sequence.
type sim struct {
	ctx     context.Context // the generation's, for the Sealer
	c       *Config
	rates   *Rates
	pol     *domain.Policy
	lay     *Layout
	houses  houseHeap
	now     time.Time
	numbers map[int]int // year -> last placeholder number used (see numberer)
	stats   Stats
	open    []*problem // every problem, for end-of-span counts
	// festivals: the festival windows of the span (festival.go).
	festivals []FestivalWindow
}

func newSim(ctx context.Context, c *Config, lay *Layout, from, to int) *sim {
	s := &sim{ctx: ctx, c: c, rates: c.Rates, pol: c.Policy, lay: lay, now: c.Start, numbers: map[int]int{},
		festivals: FestivalWindows(c.Start, c.End, c.Location)}
	for i := from; i < to; i++ {
		h := s.newHouse(i)
		if len(h.agenda) > 0 {
			s.houses = append(s.houses, h)
		}
	}
	heap.Init(&s.houses)
	return s
}

// next returns the next batch in time order, or nil when the span is over.
func (s *sim) next() (*Batch, error) {
	for len(s.houses) > 0 {
		h := s.houses[0]
		a := h.agenda[0]
		if !a.at.Before(s.c.End) {
			// The earliest action of all is past the end: so is every other.
			s.houses = s.houses[:0]
			break
		}
		heap.Pop(&h.agenda)
		s.now = a.at
		b, err := a.fn(a.at)
		if err != nil {
			return nil, fmt.Errorf("town: household %d (%s) at %s: %w", h.idx, h.id, a.at.Format(time.RFC3339), err)
		}
		if len(h.agenda) == 0 {
			heap.Pop(&s.houses)
		} else {
			heap.Fix(&s.houses, 0)
		}
		if b != nil && len(b.Events) > 0 {
			b.At = a.at
			s.stats.Batches++
			s.stats.Events += len(b.Events)
			return b, nil
		}
	}
	s.finish()
	return nil, nil
}

// finish counts the problems left open at the end of the span.
func (s *sim) finish() {
	for _, p := range s.open {
		st := p.agg.Status()
		if st == domain.StatusOpen || st == domain.StatusInProgress {
			s.stats.ProblemsOpen++
			if d := p.agg.Due(); !d.IsZero() && d.Before(s.c.End) {
				s.stats.ProblemsOverdue++
			}
		}
	}
	s.open = nil
}

// nextNumber returns a placeholder ledger number, valid for the domain but
// local to the cohort; the numberer replaces it with the town's number in
// global order before the batch leaves Generate.
func (s *sim) nextNumber(year int) (string, error) {
	s.numbers[year]++
	if s.numbers[year] > maxNumber {
		return "", fmt.Errorf("problem numbers of %d exhausted: more than %d problems", year, maxNumber)
	}
	return fmt.Sprintf("WT%04d%06d", year, s.numbers[year]), nil
}

// houseHeap orders households by their earliest action: time, then
// household index, then scheduling order.
type houseHeap []*house

func (q houseHeap) Len() int { return len(q) }
func (q houseHeap) Less(i, j int) bool {
	a, b := q[i].agenda[0], q[j].agenda[0]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return q[i].idx < q[j].idx
}
func (q houseHeap) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *houseHeap) Push(x any)   { *q = append(*q, x.(*house)) }
func (q *houseHeap) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type agenda []action

func (q agenda) Len() int { return len(q) }
func (q agenda) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q agenda) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *agenda) Push(x any)   { *q = append(*q, x.(action)) }
func (q *agenda) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// house is one simulated household with the aggregates it owns.
type house struct {
	s       *sim
	idx     int
	rng     *rand.Rand
	id      string
	agg     *domain.Household
	comm    *Community
	grid    *Grid
	worker  *Person
	class   domain.HouseholdClass
	cat     domain.AssistanceCategory
	circ    []domain.Circumstance
	risk    domain.RiskLevel
	prof    profile
	members []*memberInfo
	agenda  agenda
	seq     uint64
	refuse  int        // the first visits this many are refused (trust takes time, 004 §6.1)
	active  int        // problems open or in progress
	frng    *rand.Rand // festival deadlines' ids, apart from rng (festival.go)
}

// schedule adds an action; times before the simulation's present are moved
// to it, so the output never goes back in time.
func (h *house) schedule(at time.Time, fn func(at time.Time) (*Batch, error)) {
	at = at.Truncate(time.Second)
	if at.Before(h.s.now) {
		at = h.s.now
	}
	h.seq++
	heap.Push(&h.agenda, action{at: at.In(h.s.c.Location), seq: h.seq, fn: fn})
}

func (h *house) meta(p *Person, at time.Time) domain.Meta {
	return domain.Meta{Actor: p.Actor, Role: p.Role, At: at, CommandID: newUUID(h.rng, at).String()}
}

// rec turns the events of one command into envelopes, applying each to agg.
type rec struct {
	ids   *rand.Rand // the source of event ids when not the household's (festival.go)
	h     *house
	b     *Batch
	agg   domain.Aggregate
	corr  string
	keyID string
}

// sealed sets the key id recorded in the metadata of the events added next
// ("" when they carry no sealed field).
func (r *rec) sealed(keyID string) *rec { r.keyID = keyID; return r }

func (h *house) batch(stream string, agg domain.Aggregate, corr string) *rec {
	return &rec{h: h, b: &Batch{Stream: stream, Expected: agg.Version()}, agg: agg, corr: corr}
}

// add records the outcome of one command. A rejected command is a bug in
// the generator: the error is returned with the command named.
func (r *rec) add(what string, meta domain.Meta, evs []domain.Event, err error) error {
	if err != nil {
		return fmt.Errorf("%s rejected: %w", what, err)
	}
	s := r.h.s
	for _, e := range evs {
		r.agg.Apply(e)
	}
	// The scope is decided as the command layer decides it: from the
	// aggregate's state after the command's events (a problem's and a
	// referral's are their household's).
	community, grid, err := eventlog.Scope(s.ctx, r.agg, func(_ context.Context, id string) (*domain.Household, error) {
		if id != r.h.id {
			return nil, fmt.Errorf("town: %s belongs to household %s, not to %s", r.b.Stream, id, r.h.id)
		}
		return r.h.agg, nil
	})
	if err != nil {
		return err
	}
	md := eventlog.Envelope{At: meta.At.UTC(), Actor: meta.Actor, Role: meta.Role, CommandID: meta.CommandID,
		CorrelationID: r.corr, Community: community, Grid: grid, KeyID: r.keyID}.Metadata()
	for _, e := range evs {
		src := r.h.rng
		if r.ids != nil {
			src = r.ids
		}
		if e, err = sealClass(s.ctx, s.c.Sealer, r.h.id, e); err != nil {
			return err
		}
		ed, err := eventlog.Encode(newUUID(src, meta.At), e, md)
		if err != nil {
			return err
		}
		r.b.Events = append(r.b.Events, ed)
		switch e := e.(type) {
		case domain.HouseholdRegistered:
			s.stats.Households++
		case domain.HouseholdMemberAdded:
			s.stats.Members++
		case domain.VisitRecorded:
			s.stats.Visits++
			if e.Late {
				s.stats.LateVisits++
			}
			switch e.Outcome {
			case domain.OutcomeRefused:
				s.stats.Refused++
			case domain.OutcomeNobodyHome:
				s.stats.NobodyHome++
			}
		case domain.ProblemReported:
			s.stats.Problems++
		case domain.ProblemReopened:
			s.stats.Reopened++
		case domain.ReferralRequested:
			s.stats.Referrals++
		case domain.ReferralEscalated:
			s.stats.Escalated++
		case domain.ReferralDeclined:
			s.stats.Declined++
		case domain.HouseholdArchived:
			s.stats.Archived++
		}
	}
	return nil
}

// sealClass seals the household class of a registration or a class change
// under the household's key (decision 0148), as the command layer does,
// once the town's own aggregate has applied the clear event. Only with a
// Sealer that also opens (the key vault; the tests' sealers): the town's
// oversight reads the class back from the events (oversight.go). With any
// other Sealer the class stays in clear.
func sealClass(ctx context.Context, s domain.Sealer, household string, e domain.Event) (domain.Event, error) {
	if _, ok := s.(domain.Opener); !ok {
		return e, nil
	}
	var err error
	seal := func(c *domain.HouseholdClass) {
		if err != nil || *c == "" || domain.IsSealedText(string(*c)) {
			return
		}
		var v string
		v, err = domain.SealText(ctx, s, household, string(*c), nil)
		*c = domain.HouseholdClass(v)
	}
	switch x := e.(type) {
	case domain.HouseholdRegistered:
		seal(&x.Class)
		e = x
	case domain.HouseholdClassChanged:
		seal(&x.From)
		seal(&x.To)
		e = x
	}
	return e, err
}

func (h *house) seal(text string) (domain.Sealed, error) {
	return domain.SealString(h.s.ctx, h.s.c.Sealer, h.id, text)
}

// ---- households ----

type profile int

const (
	profElderlyAlone profile = iota // 独居老人
	profChild                       // 困境儿童 with a grandparent
	profMental                      // 严重精神障碍患者家庭
	profLowIncome                   // 低保/低收入 family
	profDisabled                    // 残疾人家庭
	profSingle                      // 特困 single person
	profHardship                    // family in temporary hardship
)

// circumstances are what the policy's class rules see of a profile.
func (p profile) circumstances() []domain.Circumstance {
	switch p {
	case profElderlyAlone:
		return []domain.Circumstance{domain.CircumstanceElderlyAlone}
	case profChild:
		return []domain.Circumstance{domain.CircumstanceChildInDifficulty}
	case profMental:
		return []domain.Circumstance{domain.CircumstanceSeriousMental}
	case profDisabled:
		return []domain.Circumstance{domain.CircumstanceDisability}
	}
	return nil
}

func classRank(c domain.HouseholdClass) int {
	switch c {
	case domain.ClassKey:
		return 1
	case domain.ClassSpecial:
		return 2
	}
	return 0
}

type memberInfo struct {
	id      string
	d       domain.MemberDetails
	female  bool
	age     int
	phone   string
	idNo    string
	health  string
	disab   string
	income  string
	left    bool
	isChild bool
}

func (s *sim) newHouse(idx int) *house {
	c := s.c
	h := &house{s: s, idx: idx, rng: rand.New(rand.NewPCG(c.Seed^0x686f757365686f6c, uint64(idx)+1))}
	comm := s.lay.Communities[idx/c.HouseholdsPerCommunity]
	h.comm = comm
	h.grid = comm.Grids[h.rng.IntN(len(comm.Grids))]
	h.class = draw(h.rng, c.Mix.Class)
	if cs := c.Mix.Category[h.class]; len(cs) > 0 {
		h.cat = draw(h.rng, cs)
	}
	h.risk = draw(h.rng, c.Mix.Risk[h.class])
	h.prof = h.pickProfile()
	// The class follows the category and circumstances by the policy's
	// rules (001 §2.3.3): a drawn class below what they ask for is raised.
	h.circ = h.prof.circumstances()
	if want, _ := s.pol.ClassFor(h.cat, h.circ); classRank(want) > classRank(h.class) {
		h.class = want
	}
	span := c.End.Sub(c.Start)
	var reg time.Time
	if chance(h.rng, s.rates.LateRegistered) {
		reg = c.Start.Add(between(h.rng, span/10, span*8/10))
	} else {
		reg = c.Start.Add(between(h.rng, 0, 14*day))
	}
	reg = workTime(c, reg, 9+h.rng.IntN(8), h.rng.IntN(60))
	h.id = newUUID(h.rng, reg).String()
	h.agg = domain.NewHousehold(h.id)
	h.worker = h.grid.Worker
	if h.grid.Successor != nil && !reg.Before(h.grid.HandoverAt) {
		h.worker = h.grid.Successor
	}
	if chance(h.rng, 0.03) {
		h.refuse = 1 + h.rng.IntN(4)
	}
	h.schedule(reg, h.register)
	return h
}

func (h *house) pickProfile() profile {
	r := h.rng
	switch h.class {
	case domain.ClassSpecial:
		switch x := r.Float64(); {
		case x < 0.5:
			return profElderlyAlone
		case x < 0.75:
			return profChild
		default:
			return profMental
		}
	case domain.ClassKey:
		if h.cat == domain.CategoryTeKun {
			if chance(r, 0.7) {
				return profSingle
			}
			return profDisabled
		}
		if chance(r, 0.55) {
			return profLowIncome
		}
		return profDisabled
	}
	if chance(r, 0.8) {
		return profHardship
	}
	return profLowIncome
}

// newMember makes a person of the household; surname "" picks one.
func (h *house) newMember(surname, relation string, female bool, age int) *memberInfo {
	r := h.rng
	c := h.s.c
	name := personName(r, female)
	if surname != "" {
		name = surname + string([]rune(name)[1:])
	}
	birth := time.Date(c.Start.Year()-age, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, c.Location).Format(time.DateOnly)
	m := &memberInfo{id: fmt.Sprintf("m%d", len(h.members)+1), female: female, age: age, isChild: age < 18}
	m.d = domain.MemberDetails{Name: name, Relation: relation, BirthDate: birth}
	switch {
	case age < 6:
		m.d.Occupation = "学龄前儿童"
	case age < 18:
		m.d.Occupation = "在校学生"
	case age >= 60:
		m.d.Occupation = pick(r, []string{"退休", "务农", "无业"})
	default:
		m.d.Occupation = pick(r, occupationsWorking)
	}
	m.idNo = idNumber(r, birth, female)
	if age >= 16 {
		m.phone = phone(r)
	}
	switch {
	case age >= 55 || chance(r, 0.15):
		m.health = pick(r, chronicConditions)
	default:
		m.health = "健康"
	}
	return m
}

func (h *house) buildMembers() {
	r := h.rng
	head := func(minAge, maxAge int, female bool) *memberInfo {
		m := h.newMember("", "本人", female, minAge+r.IntN(maxAge-minAge+1))
		h.members = append(h.members, m)
		return m
	}
	surname := func(m *memberInfo) string { return string([]rune(m.d.Name)[:1]) }
	add := func(m *memberInfo) { m.id = fmt.Sprintf("m%d", len(h.members)+1); h.members = append(h.members, m) }
	switch h.prof {
	case profElderlyAlone:
		m := head(70, 92, chance(r, 0.6))
		m.income = fmt.Sprintf("月收入约%d元（养老金及补贴）", 600+r.IntN(12)*100)
	case profSingle:
		m := head(50, 88, chance(r, 0.4))
		m.income = fmt.Sprintf("特困供养金每月%d元", 1200+r.IntN(6)*50)
		if chance(r, 0.4) {
			m.disab = pick(r, disabilities)
		}
		if chance(r, 0.3) {
			m.health = pick(r, seriousConditions)
		}
	case profChild:
		g := head(58, 78, chance(r, 0.6))
		g.income = fmt.Sprintf("月收入约%d元", 500+r.IntN(10)*100)
		for range 1 + r.IntN(2) {
			add(h.newMember(surname(g), "孙子女", chance(r, 0.5), 5+r.IntN(11)))
		}
	case profMental:
		p := head(24, 55, chance(r, 0.45))
		p.health, p.disab = "精神分裂症（服药控制）", "精神二级残疾"
		parent := h.newMember(surname(p), "父母", chance(r, 0.5), 55+r.IntN(25))
		parent.income = fmt.Sprintf("月收入约%d元", 800+r.IntN(10)*100)
		add(parent)
	case profLowIncome, profDisabled, profHardship:
		hd := head(30, 62, chance(r, 0.3))
		hd.income = fmt.Sprintf("家庭月收入约%d元", 1000+r.IntN(30)*100)
		if h.prof == profDisabled {
			hd.disab = pick(r, disabilities)
		}
		if h.prof == profLowIncome && chance(r, 0.5) {
			hd.health = pick(r, seriousConditions)
		}
		if chance(r, 0.8) {
			add(h.newMember("", "配偶", !hd.female, max(20, hd.age-5+r.IntN(10))))
		}
		for range r.IntN(3) {
			add(h.newMember(surname(hd), "子女", chance(r, 0.5), max(0, hd.age-22-r.IntN(14))))
		}
		if chance(r, 0.2) {
			add(h.newMember(surname(hd), "父母", chance(r, 0.6), hd.age+24+r.IntN(8)))
		}
	}
}

// details returns m's details with the sensitive fields sealed (only with consent).
func (h *house) details(m *memberInfo) (domain.MemberDetails, error) {
	d := m.d
	if !h.agg.Consent() {
		return d, nil
	}
	var err error
	seal := func(dst *domain.Sealed, v string) {
		if err == nil && v != "" {
			*dst, err = h.seal(v)
		}
	}
	seal(&d.IDNumber, m.idNo)
	seal(&d.Phone, m.phone)
	seal(&d.Income, m.income)
	seal(&d.Health, m.health)
	seal(&d.Disability, m.disab)
	return d, err
}

func (h *house) address() string {
	r := h.rng
	c := h.comm
	prefix := province + city + county + c.Town.Name + c.Name
	if c.Urban {
		return fmt.Sprintf("%s%s%d号%d栋%d单元%d%02d室", prefix, pick(r, roadNames), 1+r.IntN(120), 1+r.IntN(24), 1+r.IntN(4), 1+r.IntN(7), 1+r.IntN(4))
	}
	return fmt.Sprintf("%s%d组%d号", prefix, 1+r.IntN(12), 1+r.IntN(90))
}

func (h *house) stream() string { return domain.HouseholdStream(h.id) }

func (h *house) register(at time.Time) (*Batch, error) {
	s := h.s
	r := h.rng
	rc := h.batch(h.stream(), h.agg, "")
	meta := h.meta(h.worker, at)
	rc.corr = meta.CommandID
	evs, err := h.agg.Register(meta, s.pol, domain.RegisterHousehold{Address: h.address(), Community: h.comm.Name, Grid: h.grid.Name,
		ResponsibleWorker: h.worker.Actor, Class: h.class, Category: h.cat, Risk: h.risk, Circumstances: h.circ})
	if err := rc.add("register", meta, evs, err); err != nil {
		return nil, err
	}
	if chance(r, s.rates.Consent) {
		m := h.meta(h.worker, at.Add(minute))
		evs, err := h.agg.RecordConsent(m, true, "家庭成员基本信息、健康、收入及联系方式，仅用于走访服务", "")
		if err := rc.add("consent", m, evs, err); err != nil {
			return nil, err
		}
	}
	h.buildMembers()
	for i, mi := range h.members {
		d, err := h.details(mi)
		if err != nil {
			return nil, err
		}
		m := h.meta(h.worker, at.Add(time.Duration(2+i)*minute))
		evs, err := h.agg.AddMember(m, mi.id, d)
		if err := rc.sealed(d.IDNumber.KeyID).add("add member", m, evs, err); err != nil {
			return nil, err
		}
	}
	rc.keyID = ""
	needs := map[domain.NeedDomain][]string{}
	for _, nd := range []domain.NeedDomain{domain.NeedElderlyCare, domain.NeedMedical, domain.NeedEducation, domain.NeedEmployment, domain.NeedCulture} {
		p := 0.25
		switch {
		case nd == domain.NeedElderlyCare && (h.prof == profElderlyAlone || h.prof == profSingle):
			p = 0.9
		case nd == domain.NeedEducation && h.prof == profChild:
			p = 0.9
		case nd == domain.NeedMedical && (h.prof == profMental || h.prof == profDisabled):
			p = 0.9
		case nd == domain.NeedEmployment && h.prof == profHardship:
			p = 0.7
		}
		if chance(r, p) {
			opts := needOptions[string(nd)]
			needs[nd] = []string{opts[r.IntN(len(opts))]}
		}
	}
	m := h.meta(h.worker, at.Add(20*minute))
	evs, err = h.agg.AssessNeeds(m, needs, "建档时需求评估")
	if err := rc.add("assess needs", m, evs, err); err != nil {
		return nil, err
	}
	if chance(r, 0.2) {
		m := h.meta(h.worker, at.Add(25*minute))
		var idle []string
		if chance(r, 0.3) {
			idle = []string{pick(r, idleOptions)}
		}
		evs, err := h.agg.OfferResources(m, []string{pick(r, skillOptions)}, chance(r, 0.5), idle)
		if err := rc.add("offer resources", m, evs, err); err != nil {
			return nil, err
		}
	}
	h.planVisit(at, at.Add(hour))
	h.planYear(at)
	h.planFestivals(at)
	return rc.b, nil
}

// planYear schedules the household's changes over the span: handover to a
// new worker, category, class and risk changes, member changes, consent
// withdrawal and archive.
func (h *house) planYear(reg time.Time) {
	c := h.s.c
	r := h.rng
	at := func(lo, hi float64) time.Time {
		span := c.End.Sub(reg)
		return workTime(c, reg.Add(time.Duration(float64(span)*(lo+(hi-lo)*r.Float64()))), 9+r.IntN(8), r.IntN(60))
	}
	if g := h.grid; g.Successor != nil && reg.Before(g.HandoverAt) {
		h.schedule(g.HandoverAt.Add(between(r, 0, 3*hour)), h.handover)
	}
	switch {
	case h.cat == domain.CategoryTemporary && chance(r, 0.25):
		h.schedule(at(0.2, 0.9), h.changeCategory(domain.CategoryNone, "临时困难已解除，家庭收入恢复"))
	case h.cat == domain.CategoryMarginal && chance(r, 0.08):
		h.schedule(at(0.2, 0.9), h.changeCategory(domain.CategoryDiBao, "经审核纳入最低生活保障"))
	case h.cat == domain.CategoryDiBao && chance(r, 0.03):
		h.schedule(at(0.2, 0.9), h.changeCategory(domain.CategoryNone, "家庭收入超过低保标准，退出低保"))
	}
	switch {
	case h.class == domain.ClassOrdinary && chance(r, 0.04):
		// The class follows the category (001 §2.3.3): a household taken into 低保 becomes key.
		h.schedule(at(0.1, 0.9), h.changeCategory(domain.CategoryDiBao, "经审核纳入最低生活保障"))
	case h.class == domain.ClassKey && chance(r, 0.02):
		h.schedule(at(0.1, 0.9), h.changeClass(domain.ClassSpecial, "家庭成员确诊重病，调整为特殊家庭"))
	case h.class == domain.ClassSpecial && chance(r, 0.03):
		h.schedule(at(0.1, 0.9), h.changeClass(domain.ClassKey, "困境情况缓解，调整为重点家庭"))
	}
	if chance(r, 0.15) {
		h.schedule(at(0.2, 0.95), h.reassessRisk)
	}
	if chance(r, 0.03) {
		h.schedule(at(0.1, 0.95), h.memberChange)
	}
	if chance(r, 0.005) {
		h.schedule(at(0.2, 0.9), h.withdrawConsent)
	}
	if chance(r, h.s.rates.Archive) {
		h.schedule(at(0.4, 0.95), h.archive)
	}
}

func (h *house) handover(at time.Time) (*Batch, error) {
	if h.agg.Archived() {
		return nil, nil
	}
	rc := h.batch(h.stream(), h.agg, "")
	m := h.meta(h.comm.Secretary, at)
	evs, err := h.agg.AssignWorker(m, h.grid.Successor.Actor, "原网格员岗位调整，工作交接")
	if err := rc.add("assign worker", m, evs, err); err != nil {
		return nil, err
	}
	h.worker = h.grid.Successor
	return rc.b, nil
}

func (h *house) changeCategory(to domain.AssistanceCategory, reason string) func(time.Time) (*Batch, error) {
	return func(at time.Time) (*Batch, error) {
		if h.agg.Archived() || h.agg.Category() == to {
			return nil, nil
		}
		rc := h.batch(h.stream(), h.agg, "")
		m := h.meta(h.comm.Secretary, at)
		evs, err := h.agg.ChangeCategory(m, h.s.pol, to, reason)
		return rc.b, rc.add("change category", m, evs, err)
	}
}

func (h *house) changeClass(to domain.HouseholdClass, reason string) func(time.Time) (*Batch, error) {
	return func(at time.Time) (*Batch, error) {
		if h.agg.Archived() || h.agg.Class() == to {
			return nil, nil
		}
		rc := h.batch(h.stream(), h.agg, "")
		m := h.meta(h.comm.Secretary, at)
		evs, err := h.agg.ChangeClass(m, h.s.pol, to, reason)
		return rc.b, rc.add("change class", m, evs, err)
	}
}

func (h *house) reassessRisk(at time.Time) (*Batch, error) {
	if h.agg.Archived() {
		return nil, nil
	}
	levels := []domain.RiskLevel{domain.RiskRed, domain.RiskYellow, domain.RiskBlue, domain.RiskGreen}
	cur := h.agg.Risk()
	to := cur
	for to == cur {
		to = pick(h.rng, levels)
	}
	reason := "季度风险评估，风险等级下调"
	if riskRank(to) > riskRank(cur) {
		reason = "季度风险评估，风险等级上调"
	}
	return h.changeRisk(at, to, reason)
}

func riskRank(r domain.RiskLevel) int {
	switch r {
	case domain.RiskRed:
		return 4
	case domain.RiskYellow:
		return 3
	case domain.RiskBlue:
		return 2
	}
	return 1
}

func (h *house) changeRisk(at time.Time, to domain.RiskLevel, reason string) (*Batch, error) {
	if h.agg.Archived() || h.agg.Risk() == to {
		return nil, nil
	}
	rc := h.batch(h.stream(), h.agg, "")
	m := h.meta(h.comm.Secretary, at)
	evs, err := h.agg.ChangeRisk(m, to, reason)
	return rc.b, rc.add("change risk", m, evs, err)
}

func (h *house) memberChange(at time.Time) (*Batch, error) {
	if h.agg.Archived() {
		return nil, nil
	}
	r := h.rng
	rc := h.batch(h.stream(), h.agg, "")
	m := h.meta(h.worker, at)
	var current []*memberInfo
	for _, mi := range h.members {
		if !mi.left {
			current = append(current, mi)
		}
	}
	switch x := r.Float64(); {
	case x < 0.4 && h.agg.Consent():
		mi := pick(r, current)
		if mi.phone == "" {
			return nil, nil
		}
		mi.phone = phone(r)
		d, err := h.details(mi)
		if err != nil {
			return nil, err
		}
		rc.keyID = d.Phone.KeyID
		evs, err := h.agg.ChangeMember(m, mi.id, d, "联系电话变更")
		return rc.b, rc.add("change member", m, evs, err)
	case x < 0.7 && len(current) > 1:
		mi := current[len(current)-1]
		reason := "外出务工，户籍迁出"
		if mi.age >= 70 {
			reason = "病故"
		}
		mi.left = true
		evs, err := h.agg.RemoveMember(m, mi.id, reason)
		return rc.b, rc.add("remove member", m, evs, err)
	default:
		head := h.members[0]
		rel := "子女"
		if head.age >= 45 {
			rel = "孙子女"
		}
		mi := h.newMember(string([]rune(head.d.Name)[:1]), rel, chance(r, 0.5), 0)
		mi.id = fmt.Sprintf("m%d", len(h.members)+1)
		mi.d.Occupation = "学龄前儿童"
		h.members = append(h.members, mi)
		d, err := h.details(mi)
		if err != nil {
			return nil, err
		}
		rc.keyID = d.IDNumber.KeyID
		evs, err := h.agg.AddMember(m, mi.id, d)
		return rc.b, rc.add("add member (newborn)", m, evs, err)
	}
}

func (h *house) withdrawConsent(at time.Time) (*Batch, error) {
	if h.agg.Archived() || !h.agg.Consent() {
		return nil, nil
	}
	rc := h.batch(h.stream(), h.agg, "")
	m := h.meta(h.worker, at)
	evs, err := h.agg.RecordConsent(m, false, "", "本人要求停止采集敏感信息")
	return rc.b, rc.add("withdraw consent", m, evs, err)
}

func (h *house) archive(at time.Time) (*Batch, error) {
	if h.agg.Archived() || h.active > 0 {
		return nil, nil
	}
	rc := h.batch(h.stream(), h.agg, "")
	m := h.meta(h.comm.Secretary, at)
	cur := h.agg.Members()
	if len(cur) == 1 && h.members[0].age >= 75 {
		evs, err := h.agg.RemoveMember(m, cur[0].ID, "病故")
		if err := rc.add("remove member", m, evs, err); err != nil {
			return nil, err
		}
		m = h.meta(h.comm.Secretary, at.Add(10*minute))
		evs, err = h.agg.Archive(m, domain.ArchiveDissolved, "户主病故，家庭档案注销")
		return rc.b, rc.add("archive", m, evs, err)
	}
	evs, err := h.agg.Archive(m, domain.ArchiveMovedAway, "迁往外地投靠子女")
	return rc.b, rc.add("archive", m, evs, err)
}

// ---- visits ----

// planVisit schedules the next visit after the last completed one (or
// registration) at last, not before notBefore, following the visit
// frequency of the household's current class.
func (h *house) planVisit(last, notBefore time.Time) {
	c := h.s.c
	r := h.rng
	if per := h.s.pol.VisitCadence[h.agg.Class()]; per != "" {
		// Once per calendar period (001 §2.3.3): the period of last is
		// covered; aim inside the next one, or past its end when it slips.
		_, start := per.Bounds(last, c.Location)
		_, end := per.Bounds(start, c.Location)
		target := start.Add(time.Duration(float64(end.Sub(start)) * (0.02 + 0.45*r.Float64())))
		if chance(r, h.s.rates.VisitSlip) {
			target = end.Add(between(r, 2*day, 20*day))
		}
		h.planAttempt(target, notBefore)
		return
	}
	freq := h.s.pol.VisitFrequency[h.agg.Class()]
	due := last.Add(30 * day)
	if d, err := domain.DueAfter(c.Calendar, last, freq); err == nil {
		due = d.At
	}
	gap := due.Sub(last)
	target := last.Add(time.Duration(float64(gap) * (0.72 + 0.25*r.Float64())))
	if chance(r, h.s.rates.VisitSlip) {
		target = due.Add(between(r, 2*day, 20*day))
	}
	h.planAttempt(target, notBefore)
}

// planAttempt schedules a visit attempt around target (moved to a working
// day, at a visiting hour: 9–11 or 15–17, 004 §1.2), not before notBefore.
func (h *house) planAttempt(target, notBefore time.Time) {
	c := h.s.c
	r := h.rng
	if target.Before(notBefore) {
		target = notBefore
	}
	hours := []int{9, 10, 15, 16}
	occurred := workTime(c, target, hours[r.IntN(len(hours))], r.IntN(60))
	if occurred.Before(notBefore) {
		occurred = workTime(c, notBefore.Add(day), hours[r.IntN(len(hours))], r.IntN(60))
	}
	entry := occurred.Add(between(r, 20*minute, 5*hour))
	if chance(r, h.s.rates.LateEntry) {
		entry = occurred.Add(between(r, 25*hour, 72*hour))
	}
	h.schedule(entry, func(at time.Time) (*Batch, error) { return h.visit(occurred, at) })
}

func (h *house) visit(occurred, entry time.Time) (*Batch, error) {
	if h.agg.Archived() {
		return nil, nil
	}
	s := h.s
	r := h.rng
	outcome := domain.OutcomeCompleted
	switch {
	case h.refuse > 0:
		h.refuse--
		outcome = domain.OutcomeRefused
	case chance(r, s.rates.NobodyHome):
		outcome = domain.OutcomeNobodyHome
	case chance(r, s.rates.Refusal):
		outcome = domain.OutcomeRefused
	}
	mode := domain.ModeHome
	if outcome == domain.OutcomeCompleted && h.prof != profMental {
		switch x := r.Float64(); {
		case x < 0.12:
			mode = domain.ModePhone
		case x < 0.17:
			mode = domain.ModeVideo
		}
	}
	// The team with roles (decision 0120): the grid worker, and on a home
	// visit to a key or special household the others the policy asks for
	// (001 §4.2: grid worker, doctor and volunteer).
	class := h.agg.Class()
	team := []domain.TeamMember{{Person: h.worker.Actor, Role: domain.TeamGridWorker}}
	if class != domain.ClassOrdinary && chance(r, 0.3) {
		team = append(team, domain.TeamMember{Person: pick(r, h.comm.Town.SocialWorkers).Actor, Role: domain.TeamSocialWorker})
	}
	if mode == domain.ModeHome && outcome == domain.OutcomeCompleted && class != domain.ClassOrdinary {
		if class == domain.ClassSpecial || len(team) == 1 && chance(r, 0.5) {
			team = append(team, domain.TeamMember{Person: "医生" + personName(r, chance(r, 0.5)), Role: domain.TeamDoctor})
		}
		if len(team) < 3 && (class == domain.ClassSpecial || len(team) == 1) {
			team = append(team, domain.TeamMember{Person: "志愿者" + personName(r, chance(r, 0.5)), Role: domain.TeamVolunteer})
		}
	} else if mode == domain.ModeHome && chance(r, 0.2) {
		team = append(team, domain.TeamMember{Person: "志愿者" + personName(r, chance(r, 0.5)), Role: domain.TeamVolunteer})
	}
	vid := newUUID(r, occurred)
	visitID := vid.String()
	in := domain.RecordVisit{VisitID: visitID, Members: team, OccurredAt: occurred, Mode: mode, Outcome: outcome}
	rc := h.batch(h.stream(), h.agg, visitID)
	var problems []problemItem
	switch outcome {
	case domain.OutcomeRefused:
		in.Summary = pick(r, refusalTexts)
	case domain.OutcomeNobodyHome:
		in.Summary = pick(r, nobodyHomeTexts)
	default:
		u := domain.Understandings{SupportObligations: pick(r, supportTexts), ServiceNeeds: pick(r, serviceNeedTexts)}
		if chance(r, 0.1) {
			u.HomeSafety = pick(r, safetyRisk)
		} else {
			u.HomeSafety = pick(r, safetyOK)
		}
		if h.agg.Consent() && chance(r, 0.5) {
			var err error
			if u.Health, err = h.seal(pick(r, healthTexts)); err != nil {
				return nil, err
			}
			if u.Economic, err = h.seal(pick(r, economicTexts)); err != nil {
				return nil, err
			}
			rc.keyID = u.Health.KeyID
		}
		in.Understandings = u
		in.Summary = pick(r, summaryTexts)
		// 沟通无效 (001 §6.2; decision 0145): about one completed visit in
		// twenty records communication ineffective, with a reason. Drawn
		// from the visit id's last byte, not from r, so that every other
		// draw of the town stays as it was.
		if vid[15] < 13 {
			in.Communication = domain.CommunicationIneffective
			in.CommunicationReason = domain.CommunicationReasons()[int(vid[14])%len(domain.CommunicationReasons())]
		}
		// The purpose, the five understandings covered (health and the
		// economic situation are talked about even where no note is
		// kept), the next contact: the responsible worker within weeks.
		in.Purpose = domain.PurposeRoutine
		if chance(r, 0.15) {
			in.Purpose = domain.PurposeNeedsSurvey
		}
		if class != domain.ClassOrdinary {
			in.Covered = domain.FiveUnderstandings()
		}
		if w, ok := s.festivalWindow(occurred); ok && mode == domain.ModeHome && class != domain.ClassOrdinary && s.pol.FestivalVisits.Targets(class) {
			if m := h.recipient(); m != "" {
				in.Purpose, in.Relief = domain.PurposeFestival, festivalRelief(w.Festival, h.agg.Category(), m, visitID)
				s.stats.FestivalVisits++
			}
		}
		in.NextContact = &domain.NextContact{Person: h.worker.Actor, At: workTime(s.c, occurred.Add(time.Duration(5+r.IntN(20))*day), 10, 0)}
		if chance(r, 0.4) {
			in.Observations = pick(r, observationTexts)
		}
		// Problems are reported minutes after the entry: none are found on a
		// visit entered at the very end of the span, so that every problem a
		// visit names is in the ledger.
		if entry.Add(hour).Before(s.c.End) && chance(r, s.rates.ProblemPerVisit[h.agg.Class()]) {
			n := 1
			if chance(r, 0.15) {
				n = 2
			}
			for range n {
				it := h.pickProblem()
				problems = append(problems, it)
				in.ProblemIDs = append(in.ProblemIDs, newUUID(r, entry).String())
			}
		}
	}
	if mode == domain.ModeHome {
		in.CheckIn = &domain.CheckIn{Latitude: 23.78 + 0.2*r.Float64(), Longitude: 116.82 + 0.2*r.Float64(), At: occurred,
			Ref: "checkin/" + visitID}
		if outcome == domain.OutcomeCompleted && chance(r, 0.3) {
			in.Attachments = []string{"photo/" + visitID + "-1.jpg"}
		}
	}
	m := h.meta(h.worker, entry)
	evs, err := h.agg.RecordVisit(m, s.pol, in)
	if err := rc.add("record visit", m, evs, err); err != nil {
		return nil, err
	}
	visitEvent := rc.b.Events[len(rc.b.Events)-1].ID.String()
	// 每月更新家庭需求变化 (001 §2.4.3): the first home visit of a month
	// usually goes through the household's needs again (decision 0118).
	if outcome == domain.OutcomeCompleted && mode == domain.ModeHome && chance(r, s.rates.NeedsUpdate) {
		loc := occurred.Location()
		if last := h.agg.NeedsUpdatedAt(); last.IsZero() || domain.PeriodMonth.Label(last, loc) != domain.PeriodMonth.Label(occurred, loc) {
			nm := h.meta(h.worker, entry.Add(time.Minute))
			evs, err := h.agg.AssessNeeds(nm, h.agg.Needs(), "走访时更新需求")
			key := rc.keyID
			rc.keyID = "" // the needs seal nothing: no data key in their metadata
			err = rc.add("update needs", nm, evs, err)
			rc.keyID = key
			if err != nil {
				return nil, err
			}
		}
	}
	if v, ok := evs[0].(domain.VisitRecorded); ok && v.NotCounted {
		// A phone or video call that the policy does not count: a home
		// visit follows within days.
		h.planAttempt(workTime(s.c, occurred.Add(time.Duration(1+r.IntN(2))*day), 9, 0), entry.Add(hour))
	} else if outcome == domain.OutcomeCompleted {
		h.planVisit(occurred, entry.Add(hour))
	} else {
		retry := workTime(s.c, occurred.Add(time.Duration(1+r.IntN(4))*day), 9, 0)
		h.planAttempt(retry, entry.Add(hour))
	}
	for i, it := range problems {
		p := &problem{h: h, id: in.ProblemIDs[i], item: it, visitID: visitID, corr: visitID, cause: visitEvent, finder: h.worker}
		p.agg = domain.NewProblem(p.id)
		h.schedule(entry.Add(time.Duration(3+7*i+r.IntN(5))*minute), p.report)
	}
	return rc.b, nil
}

// pickProblem draws the kind of problem a visit finds, favouring kinds that
// fit the household.
func (h *house) pickProblem() problemItem {
	r := h.rng
	for range 4 {
		it := pick(r, problemCatalog)
		switch {
		case it.text == "困境儿童学习困难，需要课后辅导" || it.text == "孩子缺少学习用品和书桌" || it.text == "孩子上学需要教育资助" || it.text == "残疾儿童需要特殊教育学位":
			if h.prof != profChild && h.prof != profLowIncome && h.prof != profHardship {
				continue
			}
		case it.text == "严重精神障碍患者停药，病情不稳定":
			if h.prof != profMental {
				continue
			}
		case it.text == "独居老人孤独感强，情绪低落" || it.text == "独居老人希望有人定期探访聊天" || it.text == "独居老人担心突发疾病无人知晓，需安装一键呼叫设备":
			if h.prof != profElderlyAlone && h.prof != profSingle {
				continue
			}
		case it.text == "家庭主要劳动力失业，需要就业帮扶":
			if h.prof != profHardship && h.prof != profLowIncome {
				continue
			}
		}
		return it
	}
	return problemCatalog[0]
}
