package profile_test

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/profile"
)

// TestProfileProvisionalDue: on 2026-12-30, with no 2027 calendar loaded, a
// "3 working_days" limit is due 2027-01-04 (Monday to Friday assumed for
// 2027). The profile shows the problem's and the referral's due with that
// provisional basis; an extension (set by a person) and a reopen clear it;
// a limit within 2026 shows the calendar version and is not provisional.
// When the 2027 calendar is published (Jan 1–3 off) the rescheduling
// events move both dues to 2027-01-05 and the basis to the official
// calendar. A rebuild one event at a time gives the same profile.
func TestProfileProvisionalDue(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	t0 := time.Date(2026, 12, 30, 10, 0, 0, 0, env.Loc)

	hs := domain.HouseholdStream("wang")
	m := testenv.Meta("w1", domain.RoleGridWorker, t0.Add(-72*time.Hour))
	env.Do(t, hs, m)(domain.NewHousehold("wang").Register(m, pol, domain.RegisterHousehold{Address: "和平路20号", Community: "c1", Grid: "g1",
		ResponsibleWorker: "w1", Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskYellow}))
	problem := func(id string) *domain.Problem {
		p := domain.NewProblem(id)
		env.Load(t, domain.ProblemStream(id), p)
		return p
	}
	report := func(id string, at time.Time) {
		m := testenv.Meta("w1", domain.RoleGridWorker, at)
		env.Do(t, domain.ProblemStream(id), m)(domain.NewProblem(id).Report(m, pol, domain.ReportProblem{Number: "WT20260000" + id[1:] + "0", HouseholdID: "wang",
			Description: "楼道灯坏了", Category: domain.ProblemLivingSecurity, HandlingClass: domain.HandlingCoordinated,
			Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	}
	assign := func(id string, at time.Time, limit domain.Span) {
		m := testenv.Meta("sup1", domain.RoleSupervisor, at)
		env.Do(t, domain.ProblemStream(id), m)(problem(id).Assign(m, env.Cal, domain.AssignProblem{To: "sw1", Reason: "社区协调", TimeLimit: limit}))
	}
	// p1: provisional, later rescheduled.
	report("p1", t0.Add(-time.Hour))
	assign("p1", t0, domain.WorkingDays(3))
	// p2: provisional, then extended by a person.
	report("p2", t0.Add(-time.Hour))
	assign("p2", t0, domain.WorkingDays(3))
	extendedTo := time.Date(2027, 1, 8, 18, 0, 0, 0, env.Loc)
	m = testenv.Meta("sup1", domain.RoleSupervisor, t0.Add(time.Hour))
	env.Do(t, domain.ProblemStream("p2"), m)(problem("p2").ExtendDeadline(m, extendedTo, "等待物业配件"))
	// p3: provisional, resolved and reopened.
	report("p3", t0.Add(-time.Hour))
	assign("p3", t0, domain.WorkingDays(3))
	m = testenv.Meta("sw1", domain.RoleSocialWorker, t0.Add(2*time.Hour))
	env.Do(t, domain.ProblemStream("p3"), m)(problem("p3").Resolve(m, "已更换灯泡", nil))
	m = testenv.Meta("w1", domain.RoleGridWorker, t0.Add(3*time.Hour))
	env.Do(t, domain.ProblemStream("p3"), m)(problem("p3").Reopen(m, pol, "又坏了"))
	// p4: one working day from Monday 2026-12-28 (due Tuesday), within the official 2026 calendar.
	report("p4", t0.Add(-50*time.Hour))
	assign("p4", t0.Add(-48*time.Hour), domain.WorkingDays(1))
	// r1: the receiver promises 3 working days on 2026-12-30.
	rs := domain.ReferralStream("r1")
	m = testenv.Meta("w1", domain.RoleGridWorker, t0)
	env.Do(t, rs, m)(domain.NewReferral("r1").Request(m, pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "wang",
		Level: domain.LevelCommunity, To: "物业公司", Request: "更换楼道灯"}))
	referral := func() *domain.Referral {
		r := domain.NewReferral("r1")
		env.Load(t, rs, r)
		return r
	}
	m = testenv.Meta("wy1", domain.RoleSocialWorker, t0.Add(30*time.Minute))
	env.Do(t, rs, m)(referral().Accept(m, env.Cal, "物业李经理", domain.WorkingDays(3), ""))

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, profile.New(env.Policies, env.Cal))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	catchUp := func() *profile.Profile {
		t.Helper()
		if _, err := eng.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
		got, err := profile.NewReader(env.DB, env.Dialect).Get(ctx, "wang", nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	byID := func(pr *profile.Profile) map[string]profile.Problem {
		out := map[string]profile.Problem{}
		for _, x := range pr.Problems {
			out[x.ID] = x
		}
		return out
	}

	provisionalDue := time.Date(2027, 1, 4, 23, 59, 59, 999999999, env.Loc)
	got := catchUp()
	ps := byID(got)
	if p1 := ps["p1"]; !p1.Due.Equal(provisionalDue) || !slices.Equal(p1.DueBasis.Provisional, []int{2027}) || p1.DueBasis.Version != env.Cal.Version() {
		t.Errorf("p1: due %s basis %+v; want %s provisional [2027] on %s", p1.Due, p1.DueBasis, provisionalDue, env.Cal.Version())
	}
	if p2 := ps["p2"]; !p2.Due.Equal(extendedTo) || !reflect.DeepEqual(p2.DueBasis, domain.CalendarBasis{}) {
		t.Errorf("p2 (extended): due %s basis %+v; want %s and no basis", p2.Due, p2.DueBasis, extendedTo)
	}
	if p3 := ps["p3"]; !p3.Due.IsZero() || !reflect.DeepEqual(p3.DueBasis, domain.CalendarBasis{}) {
		t.Errorf("p3 (reopened): due %s basis %+v; want none", p3.Due, p3.DueBasis)
	}
	if p4 := ps["p4"]; !p4.Due.Equal(time.Date(2026, 12, 29, 23, 59, 59, 999999999, env.Loc)) || p4.DueBasis.IsProvisional() || p4.DueBasis.Version != env.Cal.Version() {
		t.Errorf("p4 (2026): due %s basis %+v; want official on %s", p4.Due, p4.DueBasis, env.Cal.Version())
	}
	if len(got.ProblemsOpen) != 4 || got.ProblemsOpen[1].ID != "p1" || !got.ProblemsOpen[1].DueBasis.IsProvisional() {
		t.Errorf("open problems: %+v", got.ProblemsOpen)
	}
	if len(got.ReferralsOpen) != 1 {
		t.Fatalf("open referrals: %+v", got.ReferralsOpen)
	}
	if r1 := got.ReferralsOpen[0]; !r1.Due.Equal(provisionalDue) || !slices.Equal(r1.DueBasis.Provisional, []int{2027}) || r1.DueBasis.Version != env.Cal.Version() {
		t.Errorf("r1: due %s basis %+v; want %s provisional [2027]", r1.Due, r1.DueBasis, provisionalDue)
	}

	// The 2027 notice is published: Jan 1–3 off. The watcher's rescheduling
	// events, built here with the domain as the watcher builds them.
	official, err := env.Cal.With(calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-03"}})
	if err != nil {
		t.Fatal(err)
	}
	reschedule := func(c domain.Clock) (old, next domain.Deadline) {
		t.Helper()
		old, _, err := env.Policies.Deadline(env.Cal, c)
		if err != nil {
			t.Fatal(err)
		}
		due, err := domain.DueAfter(official, c.Start, c.Limit)
		if err != nil || due.Basis.IsProvisional() {
			t.Fatal(due, err)
		}
		c.Due, c.Basis = due.At, due.Basis
		next, _, err = env.Policies.Deadline(official, c)
		if err != nil {
			t.Fatal(err)
		}
		return old, next
	}
	sys := testenv.Meta("deadline-watcher", domain.RoleSystem, t0.Add(24*time.Hour))
	p1 := problem("p1")
	old, next := reschedule(clockOf(t, p1.Clocks(), domain.ClockProblemResolution))
	env.Do(t, domain.ProblemStream("p1"), sys)(p1.RescheduleDeadline(sys, old, next))
	r1 := referral()
	old, next = reschedule(clockOf(t, r1.Clocks(), domain.ClockReferralCompletion))
	env.Do(t, rs, sys)(r1.RescheduleDeadline(sys, old, next))

	officialDue := time.Date(2027, 1, 5, 23, 59, 59, 999999999, env.Loc)
	got = catchUp()
	ps = byID(got)
	if p1 := ps["p1"]; !p1.Due.Equal(officialDue) || p1.DueBasis.IsProvisional() || p1.DueBasis.Version != official.Version() {
		t.Errorf("p1 rescheduled: due %s basis %+v; want %s official on %s", p1.Due, p1.DueBasis, officialDue, official.Version())
	}
	if p2 := ps["p2"]; !p2.Due.Equal(extendedTo) {
		t.Errorf("p2 moved: %s", p2.Due)
	}
	if r1 := got.ReferralsOpen[0]; !r1.Due.Equal(officialDue) || r1.DueBasis.IsProvisional() || r1.DueBasis.Version != official.Version() {
		t.Errorf("r1 rescheduled: due %s basis %+v; want %s official", r1.Due, r1.DueBasis, officialDue)
	}

	// Determinism: a rebuild one event per batch gives the same profile.
	db, d := testenv.ReadModels(t, filepath.Join(t.TempDir(), "rebuild.db"))
	eng2, err := projections.New(projections.Config{DB: db, Dialect: d, Store: env.Store, BatchSize: 1}, profile.New(env.Policies, env.Cal))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng2.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng2.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	again, err := profile.NewReader(db, d).Get(ctx, "wang", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Errorf("rebuilt profile differs:\n%+v\nwant\n%+v", again, got)
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
