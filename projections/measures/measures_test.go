package measures_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/measures"
)

type town struct {
	t   *testing.T
	env *testenv.Env
	n   int
}

func (w *town) day(month time.Month, d, hour int) time.Time {
	return time.Date(2026, month, d, hour, 0, 0, 0, w.env.Loc)
}

func (w *town) household(id, community, worker string, at time.Time) {
	m := testenv.Meta(worker, domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.HouseholdStream(id), m)(domain.NewHousehold(id).Register(m, w.env.Policies.Current(), domain.RegisterHousehold{
		Address: "解放街" + id, Community: community, Grid: community + "-g1", ResponsibleWorker: worker, Class: domain.ClassKey, Risk: domain.RiskBlue}))
}

func (w *town) visit(hid, worker string, at time.Time, entry time.Duration, outcome domain.VisitOutcome) {
	h := domain.NewHousehold(hid)
	w.env.Load(w.t, domain.HouseholdStream(hid), h)
	m := testenv.Meta(worker, domain.RoleGridWorker, at.Add(entry))
	w.n++
	w.env.Do(w.t, domain.HouseholdStream(hid), m)(h.RecordVisit(m, w.env.Policies.Current(), testenv.Evidence(m.Actor, domain.RecordVisit{VisitID: fmt.Sprint("v", w.n),
		Team: []string{worker}, OccurredAt: at, Mode: domain.ModeHome, Outcome: outcome})))
}

func (w *town) report(pid, hid, worker string, at time.Time) {
	w.n++
	m := testenv.Meta(worker, domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.ProblemStream(pid), m)(domain.NewProblem(pid).Report(m, w.env.Policies.Current(), domain.ReportProblem{
		Number: fmt.Sprintf("WT2026%06d", w.n), HouseholdID: hid, Description: "申请低保", Category: domain.ProblemPolicy,
		HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
}

func (w *town) problem(pid string) *domain.Problem {
	p := domain.NewProblem(pid)
	w.env.Load(w.t, domain.ProblemStream(pid), p)
	return p
}

func (w *town) resolve(pid string, at time.Time, resources ...domain.LinkedResource) {
	m := testenv.Meta("w", domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.ProblemStream(pid), m)(w.problem(pid).Resolve(m, "已办结", resources))
}

func (w *town) rate(pid string, at time.Time, score int) {
	m := testenv.Meta("w", domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.ProblemStream(pid), m)(w.problem(pid).RateSatisfaction(m, score, ""))
}

func (w *town) reopen(pid string, at time.Time) {
	m := testenv.Meta("w", domain.RoleGridWorker, at)
	w.env.Do(w.t, domain.ProblemStream(pid), m)(w.problem(pid).Reopen(m, w.env.Policies.Current(), "复发"))
}

func TestMeasuresAndFlag(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &town{t: t, env: env}
	w.household("h1", "c1", "w1", w.day(3, 1, 9))
	w.household("h2", "c2", "w2", w.day(3, 1, 9))
	w.visit("h1", "w1", w.day(3, 2, 9), 2*time.Hour, domain.OutcomeCompleted)
	w.visit("h1", "w1", w.day(3, 3, 9), 2*time.Hour, domain.OutcomeRefused)
	w.visit("h1", "w1", w.day(3, 3, 15), 30*time.Hour, domain.OutcomeCompleted) // late entry
	for i := 1; i <= 4; i++ {
		w.report(fmt.Sprint("p", i), "h1", "w1", w.day(3, 2, 9))
	}
	w.report("p11", "h2", "w2", w.day(3, 2, 9))
	w.resolve("p11", w.day(3, 3, 9))
	w.resolve("p1", w.day(3, 4, 9), domain.LinkedResource{Kind: domain.ResourceMoney, Description: "临时救助", AmountCents: 50000})
	w.rate("p1", w.day(3, 4, 10), 5)
	// The watcher records the response breaches of p2, p3, p4 (due 5 March 09:00, 3 days after the report).
	wt, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := wt.Fire(ctx, w.day(3, 5, 10)); err != nil || n != 3 {
		t.Fatalf("watcher recorded %d alerts, %v; want 3 breaches", n, err)
	}
	w.resolve("p2", w.day(3, 6, 9))
	w.rate("p2", w.day(3, 6, 10), 3)
	for i := 5; i <= 8; i++ {
		w.report(fmt.Sprint("p", i), "h1", "w1", w.day(4, 1, 9))
	}
	for i := 5; i <= 7; i++ {
		w.resolve(fmt.Sprint("p", i), w.day(4, 3, 9))
	}
	w.reopen("p2", w.day(4, 10, 9))
	w.report("p9", "h1", "w1", w.day(5, 6, 9))
	w.report("p10", "h1", "w1", w.day(5, 6, 9))
	w.resolve("p9", w.day(5, 7, 9))
	w.resolve("p10", w.day(5, 7, 9))

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 7}, measures.New(env.Loc))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rd := measures.NewReader(env.DB, env.Dialect)
	rows, err := rd.Measures(ctx, measures.Query{By: measures.ByCommunity})
	if err != nil {
		t.Fatal(err)
	}
	get := func(group, month string) measures.Row {
		t.Helper()
		for _, r := range rows {
			if r.Group == group && r.Month == month {
				return r
			}
		}
		t.Fatalf("no row for %s %s in %+v", group, month, rows)
		return measures.Row{}
	}
	mar := get("c1", "2026-03")
	R := func(n, d int64) measures.Rate { return measures.Rate{Num: n, Den: d} }
	for name, c := range map[string][2]measures.Rate{
		"resolution rate":         {mar.ResolutionRate, R(1, 4)}, // p1 resolved; p2 reopened
		"satisfaction":            {mar.Satisfaction, R(8, 2)},
		"satisfied":               {mar.Satisfied, R(1, 2)},
		"days to resource":        {mar.ResourceDays, R(2, 1)},
		"resolution days":         {mar.ResolutionDays, R(2+4, 2)},
		"refusal rate":            {mar.RefusalRate, R(1, 3)},
		"late entry rate":         {mar.LateEntryRate, R(1, 3)},
		"visit coverage":          {mar.VisitCoverage, R(2, 2)},
		"response on time":        {mar.OnTime["problem_response"], R(1, 4)}, // p1 on time; p2, p3, p4 breached
		"visit entry on time":     {mar.OnTime["visit_entry"], R(2, 3)},
		"recurrence (no reopens)": {mar.RecurrenceRate, R(0, 2)},
	} {
		if c[0] != c[1] {
			t.Errorf("c1 March %s = %+v, want %+v", name, c[0], c[1])
		}
	}
	apr := get("c1", "2026-04")
	if apr.ResolutionRate != R(3, 4) || apr.RecurrenceRate != R(1, 3) {
		t.Errorf("c1 April: resolution %+v recurrence %+v", apr.ResolutionRate, apr.RecurrenceRate)
	}
	if r := get("c1", "2026-05").ResolutionRate; r != R(2, 2) {
		t.Errorf("c1 May resolution %+v", r)
	}
	if r := get("c2", "2026-03").ResolutionRate; r != R(1, 1) {
		t.Errorf("c2 March resolution %+v", r)
	}
	if v, ok := (measures.Rate{}).Value(); ok || v != 0 {
		t.Error("an empty rate has a value")
	}

	byWorker, err := rd.Measures(ctx, measures.Query{By: measures.ByWorker, Worker: "w2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byWorker) != 1 || byWorker[0].Group != "w2" || byWorker[0].Counts[measures.MProblemsReported] != 1 {
		t.Errorf("by worker w2: %+v", byWorker)
	}
	byGrid, err := rd.Measures(ctx, measures.Query{By: measures.ByGrid, FromMonth: "2026-04", ToMonth: "2026-04"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byGrid) != 1 || byGrid[0].Group != "c1-g1" || byGrid[0].Month != "2026-04" {
		t.Errorf("by grid in April: %+v", byGrid)
	}
	if _, err := rd.Measures(ctx, measures.Query{By: "street"}); err == nil {
		t.Error("an unknown grouping was accepted")
	}
}

// TestReaderAnswersMoveWithTheProjection: the reader keeps its answers
// while the projection's checkpoint stays (decision 0152), yet a batch
// committed since, a reset, or a caller changing its copy of the rows never
// shows in a later answer.
func TestReaderAnswersMoveWithTheProjection(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	w := &town{t: t, env: env}
	w.household("h1", "c1", "w1", w.day(3, 1, 9))
	w.report("p1", "h1", "w1", w.day(3, 2, 9))
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, measures.New(env.Loc))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rd := measures.NewReader(env.DB, env.Dialect)
	q := measures.Query{By: measures.ByCommunity, Community: "c1"}
	reported := func() int64 {
		t.Helper()
		rows, err := rd.Measures(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("rows of c1: %+v, want the one month", rows)
		}
		n := rows[0].Counts[measures.MProblemsReported]
		// A caller scribbling on its copy changes nothing for the next.
		rows[0].Counts[measures.MProblemsReported] = 1000
		rows[0].OnTime[string(domain.ClockProblemResponse)] = measures.Rate{Num: 1000}
		return n
	}
	if n := reported(); n != 1 {
		t.Fatalf("reported in March: %d, want 1", n)
	}
	if n := reported(); n != 1 {
		t.Fatalf("asked again: reported %d, want 1 (a caller's change leaked into the cache)", n)
	}
	w.report("p2", "h1", "w1", w.day(3, 3, 9))
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := reported(); n != 2 {
		t.Fatalf("after a committed batch: reported %d, want 2", n)
	}
	if err := eng.Reset(ctx, measures.Name); err != nil {
		t.Fatal(err)
	}
	if rows, err := rd.Measures(ctx, q); err != nil || len(rows) != 0 {
		t.Fatalf("after a reset: %+v, %v; want no rows", rows, err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := reported(); n != 2 {
		t.Fatalf("after the rebuild: reported %d, want 2", n)
	}
}
