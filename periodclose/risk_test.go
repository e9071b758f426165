package periodclose_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/periodclose"
	"github.com/doorstep/doorstep/projections"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/measures"
)

func (w *world) visit(hid, worker string, at time.Time, outcome domain.VisitOutcome) {
	h := domain.NewHousehold(hid)
	w.env.Load(w.t, domain.HouseholdStream(hid), h)
	m := testenv.Meta(worker, domain.RoleGridWorker, at.Add(time.Hour))
	w.n++
	w.env.Do(w.t, domain.HouseholdStream(hid), m)(h.RecordVisit(m, w.env.Policies.Current(), testenv.Evidence(m.Actor, domain.RecordVisit{VisitID: fmt.Sprint("v", w.n),
		Team: []string{worker}, OccurredAt: at, Mode: domain.ModeHome, Outcome: outcome})))
}

func (w *world) reportBy(worker, hid string, at time.Time) string {
	w.n++
	id := fmt.Sprint("p", w.n)
	m := testenv.Meta(worker, domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.ProblemStream(id), m)(domain.NewProblem(id).Report(m, w.env.Policies.Current(), domain.ReportProblem{
		Number: fmt.Sprintf("WT2026%06d", w.n), HouseholdID: hid, Description: "申请临时救助", Category: domain.ProblemPolicy,
		HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	return id
}

// Seed 001 §6.2 风险评估: 居民拒绝配合率超过20% … 问题解决率低于70% … 问题平均
// 解决时间超过7天, 则风险等级为"高". The thresholds are policy data (risk:) and
// each one breached raises a measures.flag_raised at the close, naming the
// community (or the worker), the measure, the figure, the threshold and the
// period; a second close run writes nothing.
func TestSeed001_6_2_RiskThresholdsRaiseFlagsAtTheClose(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &world{t: t, env: env}
	pol := env.Policies.Current()
	if pol.Risk.RefusalAbove != 0.20 || pol.Risk.ResolutionDaysAbove != 7 || pol.Risk.WorkerResolutionBelow != 0.70 {
		t.Fatalf("policy risk thresholds %+v, want the seed's 20%%, 7 days, 70%%", pol.Risk)
	}
	w.household("h1", "c1", domain.CategoryNone)
	// March: 2 refusals of 3 visits (66.7% > 20%).
	w.visit("h1", "w1", w.at(3, 3), domain.OutcomeRefused)
	w.visit("h1", "w1", w.at(3, 4), domain.OutcomeRefused)
	w.visit("h1", "w1", w.at(3, 5), domain.OutcomeCompleted)
	// w1 found one problem, resolved in 10 days (> 7); w2 found two, none
	// resolved (0% < 70%).
	w.resolve(w.reportBy("w1", "h1", w.at(3, 2)), w.at(3, 12))
	w.reportBy("w2", "h1", w.at(3, 6))
	w.reportBy("w2", "h1", w.at(3, 7))

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, measures.New(env.Loc), pcoverage.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &fixedClock{t: time.Date(2026, 4, 1, 2, 0, 0, 0, env.Loc)}
	cl, err := periodclose.New(periodclose.Config{Store: env.Store, Coverage: pcoverage.NewReader(env.DB, env.Dialect), Resolution: measures.NewReader(env.DB, env.Dialect),
		Policies: env.Policies, Calendar: env.Cal, Clock: clk, From: "2026-03",
		CaughtUp: func(ctx context.Context) error { _, err := eng.CatchUp(ctx, nil); return err }})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := cl.CloseDue(ctx); err != nil || n != 4 { // March and Q1, c1 and the street
		t.Fatalf("closed %d ledgers, %v", n, err)
	}
	before, err := env.Store.ReadStream(ctx, domain.MeasuresStream("c1"), eventstore.Forward, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := cl.CloseDue(ctx); err != nil || n != 0 {
		t.Fatalf("second run wrote %d ledgers, %v", n, err)
	}
	after, err := env.Store.ReadStream(ctx, domain.MeasuresStream("c1"), eventstore.Forward, 1, 1000)
	if err != nil || len(after) != len(before) {
		t.Fatalf("second run appended: %d → %d events, %v", len(before), len(after), err)
	}

	type want struct {
		worker         string
		figure, target float64
	}
	flags := func(community, period string) map[string]want {
		t.Helper()
		l, err := periodclose.Ledger(ctx, env.Store, community, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		p, ok := l.Period(period)
		if !ok {
			t.Fatalf("%s %s not closed", community, period)
		}
		got := map[string]want{}
		for _, f := range p.Flags {
			if f.Community != community || f.Period != period || fmt.Sprint(f.Periods) != "["+period+"]" || f.MessageEN == "" || f.MessageZH == "" {
				t.Errorf("flag %+v does not name community, period and messages", f)
			}
			got[f.Measure] = want{f.Worker, float64(int(f.Figure*1000+0.5)) / 1000, f.Target}
		}
		return got
	}
	c1 := flags("c1", "2026-03")
	for m, exp := range map[string]want{
		"risk.refusal":           {"", 0.667, 0.20},
		"risk.resolution_days":   {"", 10, 7},
		"risk.worker_resolution": {"w2", 0, 0.70},
	} {
		if got, ok := c1[m]; !ok || got != exp {
			t.Errorf("c1 March %s: got %+v (%v), want %+v", m, got, ok, exp)
		}
	}
	st := flags("", "2026-03")
	if _, ok := st["risk.refusal"]; !ok {
		t.Errorf("street March: no refusal flag: %+v", st)
	}
	if _, ok := st["risk.worker_resolution"]; ok {
		t.Errorf("street March: workers are flagged in their community's ledger: %+v", st)
	}
	if q := flags("c1", "2026-Q1"); q["risk.worker_resolution"].worker != "w2" {
		t.Errorf("Q1 flags %+v", q)
	}
}
