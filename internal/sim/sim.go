// Package sim writes a small synthetic town to an event store through the
// domain's command methods, for the projection tests and benchmarks: a
// deterministic mix (given a seed) of households, members with sealed
// fields, visits (some late, refused or with nobody home), problems
// (responded, resolved with resources, rated, reopened, closed) and
// referrals (accepted, declined, escalated, completed).
package sim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// Config of a town.
type Config struct {
	Households  int
	Communities int // default 10
	Seed        uint64
	Start       time.Time // default 2026-01-05 09:00 Asia/Shanghai
	Months      int       // default 9 (stays inside the shipped 2026 calendar)
	Workers     int       // concurrent writers; default 8
}

// Keys is a toy Sealer/Opener (base64 with a key id): enough to test that
// sealed fields are stored sealed and revealed only through an Opener.
// Erased households make Open fail with domain.ErrErased.
type Keys struct {
	mu     sync.Mutex
	erased map[string]bool
}

// NewKeys returns an empty key set.
func NewKeys() *Keys { return &Keys{erased: map[string]bool{}} }

// Seal implements domain.Sealer.
func (k *Keys) Seal(_ context.Context, householdID string, p []byte) (domain.Sealed, error) {
	return domain.Sealed{KeyID: "k-" + householdID, Ciphertext: []byte(base64.StdEncoding.EncodeToString(p))}, nil
}

// Open implements domain.Opener.
func (k *Keys) Open(_ context.Context, householdID string, s domain.Sealed) ([]byte, error) {
	k.mu.Lock()
	erased := k.erased[householdID]
	k.mu.Unlock()
	if erased {
		return nil, domain.ErrErased
	}
	if s.KeyID != "k-"+householdID {
		return nil, errors.New("sim: wrong key")
	}
	return base64.StdEncoding.DecodeString(string(s.Ciphertext))
}

// Erase destroys a household's key.
func (k *Keys) Erase(householdID string) {
	k.mu.Lock()
	k.erased[householdID] = true
	k.mu.Unlock()
}

// Supervisor returns the supervisor of a community in the simulated town.
func Supervisor(community string) string { return "sup-" + community }

// Stats counts what was written.
type Stats struct {
	Events, Households, Problems, Referrals, Alerts int64
}

// Write generates the town and appends it to s.
func Write(ctx context.Context, s eventstore.Store, cfg Config) (Stats, error) {
	if cfg.Communities <= 0 {
		cfg.Communities = 10
	}
	if cfg.Months <= 0 {
		cfg.Months = 9
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	loc, err := calendar.LoadLocation(calendar.DefaultTimeZone)
	if err != nil {
		return Stats{}, err
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 5, 9, 0, 0, 0, loc)
	}
	cal, err := calendar.Default()
	if err != nil {
		return Stats{}, err
	}
	pol, err := domain.DefaultPolicy()
	if err != nil {
		return Stats{}, err
	}
	pols, err := domain.NewPolicySet(pol)
	if err != nil {
		return Stats{}, err
	}
	g := &gen{cfg: cfg, s: s, cal: cal, pol: pol, pols: pols, keys: NewKeys()}
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Workers)
	next := atomic.Int64{}
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Households || ctx.Err() != nil {
					return
				}
				if err := g.household(ctx, i); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return g.stats(), err
	}
	return g.stats(), ctx.Err()
}

type gen struct {
	cfg                                Config
	s                                  eventstore.Store
	cal                                *calendar.Calendar
	pol                                *domain.Policy
	pols                               *domain.PolicySet
	keys                               *Keys
	events, households, problems, refs atomic.Int64
	numbers, alerts                    atomic.Int64
}

func (g *gen) stats() Stats {
	return Stats{Events: g.events.Load(), Households: g.households.Load(), Problems: g.problems.Load(), Referrals: g.refs.Load(), Alerts: g.alerts.Load()}
}

// stream collects one aggregate's new events.
type stream struct {
	name      string
	agg       domain.Aggregate
	pending   []eventstore.EventData
	community string
	grid      string
	meta      domain.Meta
}

func (st *stream) at(m domain.Meta) *stream { st.meta = m; return st }

func (st *stream) do(evs []domain.Event, err error) error {
	meta := st.meta
	if err != nil {
		return fmt.Errorf("sim: %s: %w", st.name, err)
	}
	for _, e := range evs {
		d, err := eventlog.Encode(eventstore.NewID(), e, eventlog.Envelope{At: meta.At, Actor: meta.Actor, Role: meta.Role,
			CommandID: meta.CommandID, Community: st.community, Grid: st.grid}.Metadata())
		if err != nil {
			return err
		}
		st.agg.Apply(e)
		st.pending = append(st.pending, d)
	}
	return nil
}

type alerter interface {
	domain.Aggregate
	Clocks() []domain.Clock
	RecordDeadlineAlert(meta domain.Meta, d domain.Deadline, stage domain.AlertStage, supervisor string) ([]domain.Event, error)
}

// catchUpAlerts records, as the deadline watcher would have, every alert
// that fell due on st's aggregate up to until: the warning at its
// approaching instant, the breach a second after the due instant.
func (g *gen) catchUpAlerts(st *stream, until time.Time) error {
	a := st.agg.(alerter)
	for _, c := range a.Clocks() {
		d, ok, err := g.pols.Deadline(g.cal, c)
		if err != nil || !ok {
			continue
		}
		type step struct {
			stage domain.AlertStage
			at    time.Time
		}
		var steps []step
		if !c.Approached && !c.Breached && d.Approaching.Before(d.Due) && !until.Before(d.Approaching) {
			steps = append(steps, step{domain.StageApproaching, d.Approaching})
		}
		if !c.Breached && until.After(d.Due) {
			at := d.Due.Add(time.Second)
			if at.After(until) {
				at = until
			}
			steps = append(steps, step{domain.StageBreached, at})
		}
		for _, s := range steps {
			m := domain.Meta{Actor: "deadline-watcher", Role: domain.RoleSystem, At: s.at}
			evs, err := a.RecordDeadlineAlert(m, d, s.stage, "sup-"+st.community)
			if err != nil {
				return fmt.Errorf("sim: alert on %s: %w", st.name, err)
			}
			for _, e := range evs {
				data, err := eventlog.Encode(deadline.AlertID(st.name, d.Kind, d.Start, s.stage, d.Due), e,
					eventlog.Envelope{At: s.at, Actor: m.Actor, Role: m.Role, Community: st.community, Grid: st.grid}.Metadata())
				if err != nil {
					return err
				}
				a.Apply(e)
				st.pending = append(st.pending, data)
				g.alerts.Add(1)
			}
		}
	}
	return nil
}

func (g *gen) flush(ctx context.Context, sts []*stream) error {
	for _, st := range sts {
		for len(st.pending) > 0 {
			n := min(len(st.pending), 500)
			if _, err := g.s.Append(ctx, st.name, eventstore.Any(), st.pending[:n]...); err != nil {
				return fmt.Errorf("sim: append %s: %w", st.name, err)
			}
			g.events.Add(int64(n))
			st.pending = st.pending[n:]
		}
	}
	return nil
}

var (
	surnames = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴"}
	given    = []string{"秀英", "桂兰", "建国", "志强", "丽娟", "明", "芳", "伟", "淑珍", "大爷"}
	streets  = []string{"和平路", "解放街", "幸福里", "建设巷", "光明小区"}
	orgs     = []string{"民政局", "卫健委", "残联", "人社局", "住建局"}
)

func (g *gen) household(ctx context.Context, i int) error {
	r := rand.New(rand.NewPCG(g.cfg.Seed, uint64(i)))
	c := i % g.cfg.Communities
	community := fmt.Sprintf("c%02d", c)
	grid := fmt.Sprintf("%s-g%d", community, (i/g.cfg.Communities)%4)
	worker := fmt.Sprintf("w-%s-%d", community, (i/g.cfg.Communities)%3)
	hid := fmt.Sprintf("h%06d", i)
	h := domain.NewHousehold(hid)
	hs := &stream{name: domain.HouseholdStream(hid), agg: h, community: community, grid: grid}
	sts := []*stream{hs}
	at := g.cfg.Start.Add(time.Duration(r.IntN(20*24)) * time.Hour)
	meta := func(actor, role string) domain.Meta {
		return domain.Meta{Actor: actor, Role: role, At: at, CommandID: fmt.Sprintf("cmd-%s-%d", hid, len(hs.pending))}
	}
	classes := []domain.HouseholdClass{domain.ClassOrdinary, domain.ClassOrdinary, domain.ClassKey, domain.ClassKey, domain.ClassSpecial}
	cats := []domain.AssistanceCategory{domain.CategoryNone, domain.CategoryTeKun, domain.CategoryDiBao, domain.CategoryMarginal, domain.CategoryTemporary}
	risks := []domain.RiskLevel{domain.RiskRed, domain.RiskYellow, domain.RiskBlue, domain.RiskGreen, domain.RiskGreen}
	name := surnames[r.IntN(len(surnames))] + given[r.IntN(len(given))]
	addr := fmt.Sprintf("%s社区%s%d号%d室", community, streets[r.IntN(len(streets))], 1+r.IntN(99), 101+r.IntN(600))
	m := meta(worker, domain.RoleGridWorker)
	if err := hs.at(m).do(h.Register(m, g.pol, domain.RegisterHousehold{Address: addr, Community: community, Grid: grid,
		ResponsibleWorker: worker, Class: classes[r.IntN(len(classes))], Category: cats[r.IntN(len(cats))], Risk: risks[r.IntN(len(risks))]})); err != nil {
		return err
	}
	g.households.Add(1)
	if r.IntN(10) < 8 {
		at = at.Add(time.Hour)
		m = meta(worker, domain.RoleGridWorker)
		if err := hs.at(m).do(h.RecordConsent(m, true, "visits", "")); err != nil {
			return err
		}
	}
	nm := 1 + r.IntN(3)
	for k := 0; k < nm; k++ {
		at = at.Add(time.Minute)
		d := domain.MemberDetails{Name: name, Relation: "本人", BirthDate: fmt.Sprintf("19%02d-0%d-1%d", 30+r.IntN(60), 1+r.IntN(9), r.IntN(10)), Occupation: "退休"}
		if k > 0 {
			d.Name, d.Relation = surnames[r.IntN(len(surnames))]+given[r.IntN(len(given))], "子女"
		}
		if h.Consent() {
			var err error
			if d.Phone, err = domain.SealString(ctx, g.keys, hid, fmt.Sprintf("1390000%04d", r.IntN(10000))); err != nil {
				return err
			}
			if d.Health, err = domain.SealString(ctx, g.keys, hid, "高血压"); err != nil {
				return err
			}
		}
		m = meta(worker, domain.RoleGridWorker)
		if err := hs.at(m).do(h.AddMember(m, fmt.Sprintf("m%d", k), d)); err != nil {
			return err
		}
	}
	at = at.Add(time.Hour)
	m = meta(worker, domain.RoleSocialWorker)
	if err := hs.at(m).do(h.AssessNeeds(m, map[domain.NeedDomain][]string{domain.NeedElderlyCare: {"助餐"}, domain.NeedMedical: {"康复"}}, "")); err != nil {
		return err
	}
	if r.IntN(4) == 0 {
		m = meta(worker, domain.RoleGridWorker)
		if err := hs.at(m).do(h.OfferResources(m, []string{"理发"}, true, nil)); err != nil {
			return err
		}
	}
	end := g.cfg.Start.AddDate(0, g.cfg.Months, 0)
	gap := map[domain.HouseholdClass]time.Duration{domain.ClassOrdinary: 80 * 24 * time.Hour, domain.ClassKey: 27 * 24 * time.Hour, domain.ClassSpecial: 6 * 24 * time.Hour}
	for v := 0; ; v++ {
		g0 := gap[h.Class()]
		at = at.Add(g0/2 + time.Duration(r.Int64N(int64(g0)*9/16)))
		if at.After(end) {
			break
		}
		occurred := at
		if err := g.catchUpAlerts(hs, occurred); err != nil {
			return err
		}
		delay := time.Duration(2+r.IntN(18)) * time.Hour
		if r.IntN(10) == 0 {
			delay = time.Duration(26+r.IntN(40)) * time.Hour
		}
		at = at.Add(delay)
		outcome := domain.OutcomeCompleted
		switch x := r.IntN(100); {
		case x < 8:
			outcome = domain.OutcomeRefused
		case x < 14:
			outcome = domain.OutcomeNobodyHome
		}
		vid := fmt.Sprintf("v%d", v)
		var pids []string
		if outcome == domain.OutcomeCompleted && r.IntN(4) == 0 {
			pids = []string{fmt.Sprintf("p-%s-%d", hid, v)}
		}
		in := domain.RecordVisit{VisitID: vid, Team: []string{worker}, OccurredAt: occurred, Mode: domain.ModeHome, Outcome: outcome,
			Summary: "入户走访", ProblemIDs: pids}
		if outcome == domain.OutcomeCompleted {
			in.Understandings.HomeSafety = "良好"
		}
		m = meta(worker, domain.RoleGridWorker)
		if err := hs.at(m).do(h.RecordVisit(m, g.pol, in)); err != nil {
			return err
		}
		for _, pid := range pids {
			ps, rs, err := g.problem(r, pid, hid, vid, worker, community, grid, at)
			if err != nil {
				return err
			}
			sts = append(sts, ps)
			sts = append(sts, rs...)
		}
		if v == 2 && r.IntN(8) == 0 {
			m = meta("sup-"+community, domain.RoleSupervisor)
			to := domain.RiskRed
			if h.Risk() == domain.RiskRed {
				to = domain.RiskYellow
			}
			if err := hs.at(m).do(h.ChangeRisk(m, to, "走访评估")); err != nil {
				return err
			}
		}
	}
	if r.IntN(40) == 0 {
		at = at.Add(time.Hour)
		m = meta(worker, domain.RoleGridWorker)
		if err := hs.at(m).do(h.Archive(m, domain.ArchiveMovedAway, "")); err != nil {
			return err
		}
	}
	for _, st := range sts {
		if err := g.catchUpAlerts(st, end); err != nil {
			return err
		}
	}
	return g.flush(ctx, sts)
}

func (g *gen) problem(r *rand.Rand, pid, hid, vid, worker, community, grid string, at time.Time) (*stream, []*stream, error) {
	p := domain.NewProblem(pid)
	ps := &stream{name: domain.ProblemStream(pid), agg: p, community: community, grid: grid}
	meta := func(actor, role string) domain.Meta {
		return domain.Meta{Actor: actor, Role: role, At: at}
	}
	hcs := []domain.HandlingClass{domain.HandlingImmediate, domain.HandlingCoordinated, domain.HandlingCoordinated, domain.HandlingLongTerm}
	cols := []domain.Colour{domain.ColourRed, domain.ColourYellow, domain.ColourYellow, domain.ColourGreen}
	urg := []domain.Urgency{domain.UrgencyUrgent, domain.UrgencyOrdinary, domain.UrgencyOrdinary}
	cats := []domain.ProblemCategory{domain.ProblemPolicy, domain.ProblemService, domain.ProblemHealth, domain.ProblemPsychological}
	num := fmt.Sprintf("WT%04d%06d", at.Year(), 1+g.numbers.Add(1))
	m := meta(worker, domain.RoleGridWorker)
	if err := ps.at(m).do(p.Report(m, g.pol, domain.ReportProblem{Number: num, HouseholdID: hid, VisitID: vid, Description: "独居老人需要助餐服务",
		Category: cats[r.IntN(len(cats))], HandlingClass: hcs[r.IntN(len(hcs))], Colour: cols[r.IntN(len(cols))], Urgency: urg[r.IntN(len(urg))]})); err != nil {
		return nil, nil, err
	}
	g.problems.Add(1)
	var rss []*stream
	step := func(maxHours int) {
		at = at.Add(time.Duration(1+r.IntN(maxHours)) * time.Hour)
		for _, st := range append([]*stream{ps}, rss...) {
			if err := g.catchUpAlerts(st, at); err != nil {
				panic(err) // the domain refused an alert the clocks asked for: a bug in the sim
			}
		}
	}
	if r.IntN(10) < 6 {
		step(6)
		m = meta("sup-"+community, domain.RoleSupervisor)
		if err := ps.at(m).do(p.Assign(m, g.cal, domain.AssignProblem{To: worker, TimeLimit: domain.WorkingDays(5)})); err != nil {
			return nil, nil, err
		}
	}
	if r.IntN(10) < 8 {
		step(90)
		m = meta(worker, domain.RoleGridWorker)
		if err := ps.at(m).do(p.NoteProgress(m, g.pol, "电话联系，已了解情况", domain.FollowPhone)); err != nil {
			return nil, nil, err
		}
		if r.IntN(5) == 0 {
			rid := "r-" + pid
			ref := domain.NewReferral(rid)
			rs := &stream{name: domain.ReferralStream(rid), agg: ref, community: community, grid: grid}
			rss = append(rss, rs)
			g.refs.Add(1)
			step(4)
			m = meta(worker, domain.RoleGridWorker)
			if err := rs.at(m).do(ref.Request(m, g.pol, domain.RequestReferral{ProblemID: pid, HouseholdID: hid, Level: domain.LevelCommunity,
				To: orgs[r.IntN(len(orgs))], Request: "申请救助"})); err != nil {
				return nil, nil, err
			}
			if r.IntN(6) == 0 {
				step(100)
				m = meta("sup-"+community, domain.RoleSupervisor)
				if err := rs.at(m).do(ref.Escalate(m, g.pol, domain.LevelStreet, "街道办", "社区无法解决")); err != nil {
					return nil, nil, err
				}
			}
			switch x := r.IntN(10); {
			case x < 7:
				step(100)
				m = meta("dept-1", domain.RoleDepartment)
				if err := rs.at(m).do(ref.Accept(m, g.cal, "dept-1", domain.WorkingDays(10), "")); err != nil {
					return nil, nil, err
				}
				if r.IntN(10) < 7 {
					step(24)
					m = meta("dept-1", domain.RoleDepartment)
					if err := rs.at(m).do(ref.Start(m, "开始办理")); err != nil {
						return nil, nil, err
					}
					step(200)
					m = meta("dept-1", domain.RoleDepartment)
					if err := rs.at(m).do(ref.Complete(m, "已办理", []domain.LinkedResource{{Kind: domain.ResourcePolicy, Description: "低保"}})); err != nil {
						return nil, nil, err
					}
				}
			case x < 8:
				step(60)
				m = meta("dept-1", domain.RoleDepartment)
				if err := rs.at(m).do(ref.Decline(m, "不符合条件")); err != nil {
					return nil, nil, err
				}
			}
		}
		if r.IntN(10) < 7 {
			step(300)
			m = meta(worker, domain.RoleGridWorker)
			var res []domain.LinkedResource
			if r.IntN(2) == 0 {
				res = []domain.LinkedResource{{Kind: domain.ResourceService, Description: "助餐", Provider: "社区食堂"}}
			}
			if err := ps.at(m).do(p.Resolve(m, "已落实", res)); err != nil {
				return nil, nil, err
			}
			if r.IntN(10) < 8 {
				step(48)
				m = meta(worker, domain.RoleGridWorker)
				if err := ps.at(m).do(p.RateSatisfaction(m, 2+r.IntN(4), "")); err != nil {
					return nil, nil, err
				}
			}
			if r.IntN(10) == 0 {
				step(400)
				m = meta(worker, domain.RoleGridWorker)
				if err := ps.at(m).do(p.Reopen(m, g.pol, "问题复发")); err != nil {
					return nil, nil, err
				}
			} else if r.IntN(2) == 0 {
				step(200)
				m = meta(worker, domain.RoleGridWorker)
				if err := ps.at(m).do(p.Close(m, "")); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	return ps, rss, nil
}
