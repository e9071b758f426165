package periodclose_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/periodclose"
	"github.com/doorstep/doorstep/projections"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/measures"
)

// talk records a completed home visit whose communication was effective
// or, with a reason, ineffective (decision 0145).
func (w *world) talk(hid string, at time.Time, reason domain.CommunicationReason) {
	h := domain.NewHousehold(hid)
	w.env.Load(w.t, domain.HouseholdStream(hid), h)
	m := testenv.Meta("w1", domain.RoleGridWorker, at.Add(time.Hour))
	w.n++
	in := domain.RecordVisit{VisitID: fmt.Sprint("v", w.n), Team: []string{"w1"}, OccurredAt: at, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted}
	if reason != "" {
		in.Communication, in.CommunicationReason = domain.CommunicationIneffective, reason
	}
	w.env.Do(w.t, domain.HouseholdStream(hid), m)(h.RecordVisit(m, w.env.Policies.Current(), testenv.Evidence(m.Actor, in)))
}

func (w *world) closer(ctx context.Context, from string, now time.Time) (*periodclose.Closer, *fixedClock, *measures.Reader) {
	w.t.Helper()
	env := w.env
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, measures.New(env.Loc), pcoverage.New())
	if err != nil {
		w.t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		w.t.Fatal(err)
	}
	clk := &fixedClock{t: now}
	rd := measures.NewReader(env.DB, env.Dialect)
	cl, err := periodclose.New(periodclose.Config{Store: env.Store, Coverage: pcoverage.NewReader(env.DB, env.Dialect), Resolution: rd,
		Policies: env.Policies, Calendar: env.Cal, Clock: clk, From: from,
		CaughtUp: func(ctx context.Context) error { _, err := eng.CatchUp(ctx, nil); return err }})
	if err != nil {
		w.t.Fatal(err)
	}
	return cl, clk, rd
}

func (w *world) closed(ctx context.Context, community, period string) domain.ClosedPeriod {
	w.t.Helper()
	l, err := periodclose.Ledger(ctx, w.env.Store, community, time.Time{})
	if err != nil {
		w.t.Fatal(err)
	}
	p, ok := l.Period(period)
	if !ok {
		w.t.Fatalf("%q %s not closed", community, period)
	}
	return p
}

func flagOf(p domain.ClosedPeriod, measure string) *domain.MeasuresFlagRaised {
	for _, f := range p.Flags {
		if f.Measure == measure {
			return &f
		}
	}
	return nil
}

// Seed 001 §6.2: 若居民拒绝配合率超过20%，或沟通无效案例占比超过15%，则风险等级为"高".
// In March 竹园村 completed 5 visits, 1 of them with communication
// ineffective (20% > 15%), and 1 visit was refused (a refusal is its own
// measure, not a conversation); 桂花村 completed 10 with 1 ineffective
// (10%). The March close records the share per community and for the
// street (2 of 15, 13.3%) and flags 竹园村 only; the quarter's close adds up
// its months. The live measures show the same rate.
func TestSeed001_6_2_IneffectiveCommunicationAboveFifteenPercentFlagsAtTheClose(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &world{t: t, env: env}
	w.household("zy", "竹园村", domain.CategoryNone)
	w.household("gh", "桂花村", domain.CategoryNone)
	w.talk("zy", w.at(3, 2), domain.CommReasonLanguage)
	for d := 3; d <= 6; d++ {
		w.talk("zy", w.at(3, d), "")
	}
	w.visit("zy", "w1", w.at(3, 9), domain.OutcomeRefused)
	w.talk("gh", w.at(3, 2), domain.CommReasonUnwilling)
	for d := 3; d <= 11; d++ {
		w.talk("gh", w.at(3, d), "")
	}

	cl, _, rd := w.closer(ctx, "2026-03", time.Date(2026, 4, 1, 2, 0, 0, 0, env.Loc))
	if n, err := cl.CloseDue(ctx); err != nil || n != 6 { // March and Q1 for both communities and the street
		t.Fatalf("closed %d ledgers, %v", n, err)
	}
	for _, c := range []struct {
		community string
		want      domain.Tally
		flagged   bool
	}{{"竹园村", domain.Tally{Num: 1, Den: 5}, true}, {"桂花村", domain.Tally{Num: 1, Den: 10}, false}, {"", domain.Tally{Num: 2, Den: 15}, false}} {
		for _, period := range []string{"2026-03", "2026-Q1"} {
			p := w.closed(ctx, c.community, period)
			if p.Figures.IneffectiveCommunication != c.want {
				t.Errorf("%q %s: ineffective communication %+v, want %+v", c.community, period, p.Figures.IneffectiveCommunication, c.want)
			}
			f := flagOf(p, "risk.ineffective_communication")
			if (f != nil) != c.flagged {
				t.Fatalf("%q %s: flag %+v, want flagged=%v", c.community, period, f, c.flagged)
			}
			if f != nil && (f.Figure != 0.2 || f.Target != 0.15 || f.Community != c.community || f.MessageEN == "" || f.MessageZH == "") {
				t.Errorf("%q %s: flag %+v", c.community, period, f)
			}
		}
	}
	rows, err := rd.Measures(ctx, measures.Query{By: measures.ByCommunity, FromMonth: "2026-03", ToMonth: "2026-03"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("live rows %+v %v", rows, err)
	}
	if r := rows[1]; r.Group != "竹园村" || r.IneffectiveRate != (measures.Rate{Num: 1, Den: 5}) || r.RefusalRate != (measures.Rate{Num: 1, Den: 6}) {
		t.Fatalf("live 竹园村 %+v", r)
	}
}

// Issue 15 item 1: "per community and per street", "quarter, half-year,
// year". At the turn of the year the December close brings the fourth
// quarter, the second half-year and the year with it, for each community
// and for the street, whose figures are the communities' summed: an
// ordinary (quarterly) household visited in each quarter from its second is
// covered in December and in the year; a 低保 household — key by rule,
// monthly — never visited is uncovered in both.
func TestSeed001_2_4_4_YearAndStreetCloseAtTheTurnOfTheYear(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &world{t: t, env: env}
	w.household("ord", "竹园村", domain.CategoryNone)
	w.household("key", "桂花村", domain.CategoryDiBao)
	for _, m := range []time.Month{5, 8, 11} {
		w.visit("ord", "w1", w.at(m, 10), domain.OutcomeCompleted)
	}
	w.resolve(w.report("key", w.at(12, 1), domain.HandlingCoordinated), w.at(12, 2))
	w.report("key", w.at(12, 3), domain.HandlingCoordinated)

	cl, _, _ := w.closer(ctx, "2026-12", time.Date(2027, 1, 1, 0, 30, 0, 0, env.Loc))
	if n, err := cl.CloseDue(ctx); err != nil || n != 12 { // Dec, Q4, H2, 2026 × (two communities + the street)
		t.Fatalf("closed %d ledgers, %v; want 12", n, err)
	}
	for _, period := range []string{"2026-12", "2026-Q4", "2026-H2", "2026"} {
		zy, gh, st := w.closed(ctx, "竹园村", period), w.closed(ctx, "桂花村", period), w.closed(ctx, "", period)
		if zy.Figures.Coverage != (domain.Tally{Num: 1, Den: 1}) || gh.Figures.Coverage != (domain.Tally{Num: 0, Den: 1}) ||
			st.Figures.Coverage != (domain.Tally{Num: 1, Den: 2}) || st.Figures.CoverageKeyGroups != (domain.Tally{Num: 0, Den: 1}) {
			t.Errorf("%s coverage: 竹园村 %+v, 桂花村 %+v, street %+v / key groups %+v", period, zy.Figures.Coverage, gh.Figures.Coverage,
				st.Figures.Coverage, st.Figures.CoverageKeyGroups)
		}
		if gh.Figures.Resolution != (domain.Tally{Num: 1, Den: 2}) || st.Figures.Resolution != gh.Figures.Resolution {
			t.Errorf("%s resolution: 桂花村 %+v, street %+v", period, gh.Figures.Resolution, st.Figures.Resolution)
		}
		if st.Community != "" || st.Period != period || st.PolicyVersion != env.Policies.Current().Version || st.CalendarVersion == "" {
			t.Errorf("street close %+v", st.MeasuresPeriodClosed)
		}
		if flagOf(st, "coverage.key_groups") == nil || flagOf(gh, "coverage.key_groups") == nil || flagOf(zy, "coverage.all") != nil {
			t.Errorf("%s flags: street %+v, 桂花村 %+v, 竹园村 %+v", period, st.Flags, gh.Flags, zy.Flags)
		}
	}
	if y := w.closed(ctx, "", "2026"); !y.Start.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, env.Loc)) || !y.End.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, env.Loc)) {
		t.Errorf("the year's bounds %s – %s", y.Start, y.End)
	}
}
