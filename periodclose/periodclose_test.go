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

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

type world struct {
	t   *testing.T
	env *testenv.Env
	n   int
}

func (w *world) at(m time.Month, d int) time.Time {
	return time.Date(2026, m, d, 10, 0, 0, 0, w.env.Loc)
}

func (w *world) household(id, community string, cat domain.AssistanceCategory) {
	h := domain.NewHousehold(id)
	m := testenv.Meta("w1", domain.RoleGridWorker, w.at(1, 5))
	w.env.Do(w.t, domain.HouseholdStream(id), m)(h.Register(m, w.env.Policies.Current(), domain.RegisterHousehold{Address: "幸福里" + id,
		Community: community, Grid: community + "-1", ResponsibleWorker: "w1", Category: cat, Risk: domain.RiskBlue}))
}

func (w *world) report(hid string, at time.Time, class domain.HandlingClass) string {
	w.n++
	id := fmt.Sprint("p", w.n)
	m := testenv.Meta("w1", domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.ProblemStream(id), m)(domain.NewProblem(id).Report(m, w.env.Policies.Current(), domain.ReportProblem{
		Number: fmt.Sprintf("WT2026%06d", w.n), HouseholdID: hid, Description: "申请临时救助", Category: domain.ProblemPolicy,
		HandlingClass: class, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	return id
}

func (w *world) resolve(id string, at time.Time) {
	p := domain.NewProblem(id)
	w.env.Load(w.t, domain.ProblemStream(id), p)
	m := testenv.Meta("w1", domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.ProblemStream(id), m)(p.Resolve(m, "已办结", nil))
}

// Seed 001 §2.4.4: 对连续两个月问题化解率低于80%的社区，约谈社区书记并限期整改;
// long-term cases are not part of 化解率. The flag is computed at the close
// from closed periods, so it stays in the May–June close after July's
// resolutions, and as of an instant before the June close it is not there.
// 001 §2.1/§4.3: the never-visited key household is uncovered in every
// closed month.
func TestSeed001_2_4_4_FlagStaysInTheCloseAfterLaterResolutions(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &world{t: t, env: env}
	w.household("never", "c1", domain.CategoryDiBao) // key by rule, never visited
	var open []string
	for _, m := range []time.Month{5, 6} {
		open = append(open, w.report("never", w.at(m, 4), domain.HandlingCoordinated), w.report("never", w.at(m, 5), domain.HandlingCoordinated))
	}
	lt := w.report("never", w.at(6, 6), domain.HandlingLongTerm) // long-term: not in 化解率
	w.resolve(lt, w.at(6, 7))

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, measures.New(env.Loc), pcoverage.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &fixedClock{t: time.Date(2026, 6, 1, 2, 0, 0, 0, env.Loc)}
	cl, err := periodclose.New(periodclose.Config{Store: env.Store, Coverage: pcoverage.NewReader(env.DB, env.Dialect), Resolution: measures.NewReader(env.DB, env.Dialect),
		Policies: env.Policies, Calendar: env.Cal, Clock: clk, From: "2026-04",
		CaughtUp: func(ctx context.Context) error { _, err := eng.CatchUp(ctx, nil); return err }})
	if err != nil {
		t.Fatal(err)
	}
	// 1 June: April and May close (c1 and the street each).
	if n, err := cl.CloseDue(ctx); err != nil || n != 4 {
		t.Fatalf("closed %d ledgers, %v; want April and May for c1 and the street", n, err)
	}
	mayClose, err := env.Store.ReadStream(ctx, domain.MeasuresStream("c1"), eventstore.Forward, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	asOfMay := mayClose[len(mayClose)-1].RecordedAt
	// 1 July: June closes, and with it the second quarter and the first
	// half-year; May and June both below 80% → the flag, in the June close.
	clk.t = time.Date(2026, 7, 1, 2, 0, 0, 0, env.Loc)
	if n, err := cl.CloseDue(ctx); err != nil || n != 6 {
		t.Fatalf("June, Q2, H1: %d %v", n, err)
	}
	if n, err := cl.CloseDue(ctx); err != nil || n != 0 {
		t.Fatalf("run twice: %d ledgers written, %v", n, err)
	}
	check := func(label string, as time.Time) domain.ClosedPeriod {
		t.Helper()
		l, err := periodclose.Ledger(ctx, env.Store, "c1", as)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := l.Period(label)
		if !ok {
			t.Fatalf("%s not closed", label)
		}
		return p
	}
	june := check("2026-06", time.Time{})
	if june.Figures.Resolution != (domain.Tally{Num: 0, Den: 2}) || june.PolicyVersion != env.Policies.Current().Version || june.CalendarVersion == "" {
		t.Fatalf("June figures %+v (long-term excluded)", june.MeasuresPeriodClosed)
	}
	if june.Figures.Coverage != (domain.Tally{Num: 0, Den: 1}) || june.Figures.CoverageKeyGroups != (domain.Tally{Num: 0, Den: 1}) {
		t.Fatalf("the never-visited key household must be uncovered: %+v", june.Figures)
	}
	flag := func(p domain.ClosedPeriod) *domain.MeasuresFlagRaised {
		for _, f := range p.Flags {
			if f.Measure == "resolution.two_months" {
				return &f
			}
		}
		return nil
	}
	if f := flag(june); f == nil || fmt.Sprint(f.Periods) != "[2026-05 2026-06]" || f.Target != 0.8 || f.MessageZH == "" {
		t.Fatalf("June flags %+v", june.Flags)
	}
	if q := check("2026-Q2", time.Time{}); q.Figures.Resolution != (domain.Tally{Num: 0, Den: 4}) || q.Figures.Coverage != (domain.Tally{Num: 0, Den: 1}) || flag(q) != nil {
		t.Fatalf("Q2: %+v %+v", q.Figures, q.Flags)
	}
	for _, m := range []string{"2026-04", "2026-05", "2026-H1"} {
		if p := check(m, time.Time{}); p.Figures.Coverage != (domain.Tally{Num: 0, Den: 1}) {
			t.Errorf("%s coverage %+v", m, p.Figures.Coverage)
		}
	}

	// July: every problem resolved. The June close and its flag do not move.
	for _, id := range open {
		w.resolve(id, w.at(7, 3))
	}
	clk.t = time.Date(2026, 8, 1, 2, 0, 0, 0, env.Loc)
	if _, err := cl.CloseDue(ctx); err != nil {
		t.Fatal(err)
	}
	if f := flag(check("2026-06", time.Time{})); f == nil {
		t.Fatal("the May–June flag moved after July's resolutions")
	}
	live, err := measures.NewReader(env.DB, env.Dialect).Resolution(ctx, "2026-06")
	if err != nil || live["c1"] != (measures.Rate{Num: 2, Den: 2}) {
		t.Fatalf("live June resolution %+v %v: the live figure rises, the closed one stays", live, err)
	}
	// As of the May close, June was not closed and had no flag.
	l, err := periodclose.Ledger(ctx, env.Store, "c1", asOfMay)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Period("2026-06"); ok {
		t.Fatal("as of the May close, June is already closed")
	}
	if _, ok := l.Period("2026-05"); !ok {
		t.Fatal("as of the May close, May is not closed")
	}
}
