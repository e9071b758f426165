package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/audit"
)

const note2027 = " (provisional: the 2027 holiday calendar is not yet loaded / 暂定：2027年节假日安排尚未导入)"

// TestTrailProvisionalDeadline is the year-end story as an auditor reads
// it. On 2026-12-30, with no 2027 calendar loaded, a problem is assigned
// "3 working_days" (due 2027-01-04, provisional) and a referral accepted
// with the same limit; the breach recorded on 2027-01-05 under the
// provisional rule says so; the 2027 calendar is published (Jan 1–3 off)
// and the rescheduling moves the due to 2027-01-05 and withdraws the
// breach, explained in English and Chinese. The calendar's own event is
// not part of any household's trail. The exports carry the same text.
func TestTrailProvisionalDeadline(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	t0 := time.Date(2026, 12, 30, 10, 0, 0, 0, env.Loc)

	hs := domain.HouseholdStream("zhao")
	m := testenv.Meta("w1", domain.RoleGridWorker, t0.Add(-48*time.Hour))
	env.Do(t, hs, m)(domain.NewHousehold("zhao").Register(m, pol, domain.RegisterHousehold{Address: "建设巷9号", Community: "c1", Grid: "g1",
		ResponsibleWorker: "w1", Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskYellow}))
	ps := domain.ProblemStream("p1")
	problem := func() *domain.Problem {
		p := domain.NewProblem("p1")
		env.Load(t, ps, p)
		return p
	}
	m = testenv.Meta("w1", domain.RoleGridWorker, t0.Add(-time.Hour))
	env.Do(t, ps, m)(domain.NewProblem("p1").Report(m, pol, domain.ReportProblem{Number: "WT2026000009", HouseholdID: "zhao",
		Description: "屋顶漏水", Category: domain.ProblemLivingSecurity, HandlingClass: domain.HandlingCoordinated,
		Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	m = testenv.Meta("sup1", domain.RoleSupervisor, t0)
	env.Do(t, ps, m)(problem().Assign(m, env.Cal, domain.AssignProblem{To: "sw1", Reason: "需要社区协调", TimeLimit: domain.WorkingDays(3)}))
	rs := domain.ReferralStream("r1")
	env.Do(t, rs, m)(domain.NewReferral("r1").Request(m, pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "zhao",
		Level: domain.LevelCommunity, To: "住建局", Request: "屋顶维修"}))
	r := domain.NewReferral("r1")
	env.Load(t, rs, r)
	m = testenv.Meta("zj1", domain.RoleSocialWorker, t0.Add(time.Hour))
	env.Do(t, rs, m)(r.Accept(m, env.Cal, "住建局张科长", domain.WorkingDays(3), ""))

	// The breach under the provisional rule, as the watcher records it.
	p := problem()
	c := clockOf(t, p.Clocks(), domain.ClockProblemResolution)
	old, _, err := env.Policies.Deadline(env.Cal, c)
	if err != nil || !old.Basis.IsProvisional() {
		t.Fatalf("deadline %+v, %v", old, err)
	}
	sys := testenv.Meta("deadline-watcher", domain.RoleSystem, time.Date(2027, 1, 5, 8, 0, 0, 0, env.Loc))
	env.Do(t, ps, sys)(p.RecordDeadlineAlert(sys, old, domain.StageBreached, ""))

	// The 2027 notice is published, then the watcher reschedules.
	y := calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-03"}}
	official, err := env.Cal.With(y)
	if err != nil {
		t.Fatal(err)
	}
	m = testenv.Meta("admin", "admin", sys.At.Add(30*time.Minute))
	notice := domain.CalendarNotice{Title: "关于2027年部分节假日安排的通知", Number: "test-only", Date: "2026-12-31"}
	env.Do(t, domain.CalendarStream, m)([]domain.Event{domain.CalendarYearPublished{Year: 2027, Off: y.Off, Work: []string{},
		Notice: notice, Hash: "test", Version: official.Version(), PublishedBy: "admin", At: m.At}}, nil)
	p = problem()
	c = clockOf(t, p.Clocks(), domain.ClockProblemResolution)
	due, err := domain.DueAfter(official, c.Start, c.Limit)
	if err != nil {
		t.Fatal(err)
	}
	c.Due, c.Basis = due.At, due.Basis
	next, _, err := env.Policies.Deadline(official, c)
	if err != nil {
		t.Fatal(err)
	}
	sys.At = sys.At.Add(time.Hour)
	env.Do(t, ps, sys)(p.RescheduleDeadline(sys, old, next))

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, audit.NewIndex())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tr := audit.NewTrail(env.DB, env.Dialect, env.Store, nil)
	trail, err := tr.Household(ctx, "zhao")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	byType := map[string]audit.Entry{}
	for _, e := range trail {
		types = append(types, e.Type)
		byType[e.Type] = e
	}
	want := []string{domain.TypeHouseholdRegistered, domain.TypeProblemReported, domain.TypeProblemAssigned, domain.TypeReferralRequested,
		domain.TypeReferralAccepted, domain.TypeProblemDeadlineBreached, domain.TypeProblemDeadlineRescheduled}
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Fatalf("trail %v\nwant %v", types, want)
	}
	change := func(typ, field string) audit.Change {
		t.Helper()
		for _, c := range byType[typ].Changes {
			if c.Field == field {
				return c
			}
		}
		t.Errorf("%s has no change of %s: %+v", typ, field, byType[typ].Changes)
		return audit.Change{}
	}

	// (a) The due set with a provisional basis.
	if c := change(domain.TypeProblemAssigned, "due"); c.Before != "" || c.After != "2027-01-04T15:59:59Z"+note2027 {
		t.Errorf("assigned: due %q → %q", c.Before, c.After)
	}
	if c := change(domain.TypeReferralAccepted, "due"); c.Before != "" || c.After != "2027-01-04T15:59:59Z"+note2027 {
		t.Errorf("accepted: due %q → %q", c.Before, c.After)
	}
	// (c) The alert whose basis is provisional.
	if c := change(domain.TypeProblemDeadlineBreached, "alert.problem_resolution"); c.Before != "" ||
		c.After != "breached (due 2027-01-04T15:59:59Z; provisional: the 2027 holiday calendar is not yet loaded / 暂定：2027年节假日安排尚未导入)" {
		t.Errorf("breach: %q → %q", c.Before, c.After)
	}
	// (b) The rescheduling: the due moves, the breach is withdrawn, and why.
	if c := change(domain.TypeProblemDeadlineRescheduled, "due"); c.Before != "2027-01-04T15:59:59Z"+note2027 || c.After != "2027-01-05T15:59:59Z" {
		t.Errorf("rescheduled: due %q → %q", c.Before, c.After)
	}
	if c := change(domain.TypeProblemDeadlineRescheduled, "alert.problem_resolution"); c.Before != "breached" || c.After != "" {
		t.Errorf("rescheduled: alert %q → %q", c.Before, c.After)
	}
	const why = "deadline rescheduled from 2027-01-04T15:59:59Z to 2027-01-05T15:59:59Z after the 2027 calendar was published; breach withdrawn" +
		" / 因2027年节假日安排发布，期限由 2027-01-04T15:59:59Z 调整为 2027-01-05T15:59:59Z；撤销逾期"
	if got := byType[domain.TypeProblemDeadlineRescheduled].Reason; got != why {
		t.Errorf("rescheduled: reason %q\nwant %q", got, why)
	}
	if n := len(byType[domain.TypeProblemDeadlineRescheduled].Changes); n != 2 {
		t.Errorf("rescheduled: %d changes: %+v", n, byType[domain.TypeProblemDeadlineRescheduled].Changes)
	}

	// (d) The calendar stream is no household's or problem's.
	for _, e := range trail {
		if e.Stream == domain.CalendarStream {
			t.Errorf("calendar event in the household trail: %+v", e)
		}
	}
	ptrail, err := tr.Problem(ctx, "p1")
	if err != nil || len(ptrail) != len(trail)-1 {
		t.Errorf("problem trail: %d entries, %v", len(ptrail), err)
	}

	// The exports and the problem trail say the same.
	var cv, jl bytes.Buffer
	if err := audit.WriteCSV(&cv, ptrail); err != nil {
		t.Fatal(err)
	}
	if err := audit.WriteJSONL(&jl, ptrail); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cv).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	last := rows[len(rows)-1]
	if !strings.Contains(last[9], "due: 2027-01-04T15:59:59Z"+note2027+" → 2027-01-05T15:59:59Z") || last[10] != why {
		t.Errorf("CSV row %q", last)
	}
	if !strings.Contains(jl.String(), "暂定：2027年节假日安排尚未导入") || !strings.Contains(jl.String(), "after the 2027 calendar was published") {
		t.Errorf("JSONL lacks the provisional notes:\n%s", jl.String())
	}
}

func clockOf(t *testing.T, cs []domain.Clock, k domain.ClockKind) domain.Clock {
	t.Helper()
	for _, c := range cs {
		if c.Kind == k {
			return c
		}
	}
	t.Fatalf("no %s clock in %+v", k, cs)
	return domain.Clock{}
}
