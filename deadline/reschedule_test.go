package deadline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/internal/testenv"
)

// TestPublishingAYearReschedules is the year-end story: on 2026-12-30 a
// coordinated problem is assigned "3 working_days" while no 2027 calendar
// is loaded. The deadline is accepted and provisional (Mon–Fri: 2027-01-04),
// listed by the watcher and breached on 2027-01-05 under the provisional
// rule. Then the 2027 notice is published (Jan 1–3 off): the watcher
// reschedules the deadline to 2027-01-05 with one event that withdraws the
// breach, and nothing is written twice by a restarted or second watcher.
func TestPublishingAYearReschedules(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 30, 10, 0, 0, 0, env.Loc)
	s := reportUrgent(t, env, "p1", t0.Add(-time.Hour))
	res, err := svc.AssignProblem(ctx, command.Cmd{ID: "assign-1", Actor: "王书记", Role: domain.RoleSupervisor, At: t0}, "p1",
		domain.AssignProblem{To: "网格员小李", Reason: "需要社区协调", TimeLimit: domain.WorkingDays(3)})
	if err != nil || res.Events != 1 {
		t.Fatalf("assign: %+v %v", res, err)
	}
	p, _ := svc.Problem(ctx, "p1", domain.AsOf{})
	provisionalDue := time.Date(2027, 1, 4, 23, 59, 59, 999999999, env.Loc)
	if !p.Due().Equal(provisionalDue) || !slices.Equal(p.DueBasis().Provisional, []int{2027}) {
		t.Fatalf("due %s basis %+v; want %s provisional [2027]", p.Due(), p.DueBasis(), provisionalDue)
	}

	w := newWatcher(t, env)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ds, ok := w.Deadlines(true)
	if !ok || len(ds) != 1 || ds[0].Kind != domain.ClockProblemResolution || !ds[0].Due.Equal(provisionalDue) {
		t.Fatalf("provisional deadlines %+v %v", ds, ok)
	}
	breachAt := time.Date(2027, 1, 5, 8, 0, 0, 0, env.Loc)
	if _, err := w.Fire(ctx, breachAt); err != nil {
		t.Fatal(err)
	}
	var breached bool
	for _, e := range streamTypes(t, env, s) {
		breached = breached || e.Type == domain.TypeProblemDeadlineBreached
	}
	if !breached {
		t.Fatalf("no provisional breach: %v", alerts(t, env, s))
	}

	// A bad file writes nothing.
	if _, err := svc.PublishCalendarYear(ctx, command.Cmd{ID: "bad", Actor: "admin", Role: "admin"},
		calendar.Year{Year: 2027, Off: []string{"2027-01-02"}, Work: []string{"2027-01-02"}}); domain.CodeOf(err) != "calendar_invalid" {
		t.Fatalf("bad year: %v", err)
	}
	y := calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-03"}, Notice: calendar.Notice{Title: "关于2027年部分节假日安排的通知", Number: "test-only", Date: "2026-12-31"}}
	pub, err := svc.PublishCalendarYear(ctx, command.Cmd{ID: "publish-2027", Actor: "admin", Role: "admin", At: breachAt.Add(time.Hour)}, y)
	if err != nil || pub.Events != 1 {
		t.Fatalf("publish: %+v %v", pub, err)
	}
	// Publishing the same days again writes nothing.
	if again, err := svc.PublishCalendarYear(ctx, command.Cmd{ID: "publish-2027-again", Actor: "admin", Role: "admin"}, y); err != nil || again.Events != 0 {
		t.Fatalf("republish: %+v %v", again, err)
	}

	now := breachAt.Add(2 * time.Hour)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := w.Reschedule(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("Reschedule = %d, %v; want 1", n, err)
	}
	evs := streamTypes(t, env, s)
	last := evs[len(evs)-1]
	if last.Type != domain.TypeProblemDeadlineRescheduled || last.Metadata.Role != domain.RoleSystem {
		t.Fatalf("last event %s", last.Type)
	}
	r, err := eventlog.Decode(domain.NewRegistry(), &last)
	if err != nil {
		t.Fatal(err)
	}
	ev := r.Event.(domain.ProblemDeadlineRescheduled)
	officialDue := time.Date(2027, 1, 5, 23, 59, 59, 999999999, env.Loc)
	cal, _ := svc.CalendarInForce(ctx)
	if !ev.OldDue.Equal(provisionalDue) || !ev.NewDue.Equal(officialDue) || ev.Calendar.IsProvisional() || ev.Calendar.Version != cal.Version() ||
		!slices.Equal(ev.OldBasis.Provisional, []int{2027}) || ev.Reason != domain.ReasonCalendarPublished ||
		!slices.Equal(ev.Withdrawn, []domain.AlertStage{domain.StageBreached}) {
		t.Fatalf("rescheduled %+v", ev)
	}
	if last.Metadata.CommandID != deadline.RescheduleID(s, domain.ClockProblemResolution, t0, cal.Version()).String() {
		t.Fatal("the rescheduling event id is not deterministic")
	}
	p, _ = svc.Problem(ctx, "p1", domain.AsOf{})
	if !p.Due().Equal(officialDue) || p.DueBasis().IsProvisional() {
		t.Fatalf("after: due %s basis %+v", p.Due(), p.DueBasis())
	}
	if ds, _ := w.Deadlines(true); len(ds) != 0 {
		t.Fatalf("still provisional: %+v", ds)
	}

	// A restarted watcher and a second one write nothing more.
	for i := 0; i < 2; i++ {
		w2 := newWatcher(t, env)
		if err := w2.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := w2.Reschedule(ctx, now.Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("watcher %d rescheduled %d, %v; want 0", i, n, err)
		}
	}
	if n, err := w.Reschedule(ctx, now.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("second Reschedule = %d, %v", n, err)
	}
	// The withdrawn breach is still in the log, and the deadline can breach again.
	if got := len(streamTypes(t, env, s)); got != len(evs) {
		t.Fatalf("events %d, want %d", got, len(evs))
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Fire(ctx, officialDue.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("breach under the official calendar: %d %v", n, err)
	}
}

// TestDerivedDeadlineRescheduled: a policy-derived deadline (a referral's
// 3-working-day acceptance) started before the publication is rescheduled
// once; one started after it is official from the start and is not.
func TestDerivedDeadlineRescheduled(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 30, 10, 0, 0, 0, env.Loc)
	request := func(id string, at time.Time) string {
		r := domain.NewReferral(id)
		m := testenv.Meta("w1", domain.RoleGridWorker, at)
		env.Do(t, domain.ReferralStream(id), m)(r.Request(m, env.Policies.Current(), domain.RequestReferral{ProblemID: "p1",
			HouseholdID: "h1", Level: domain.LevelCommunity, To: "卫生服务中心", Request: "上门体检"}))
		return domain.ReferralStream(id)
	}
	before := request("r1", t0)
	w := newWatcher(t, env)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ds, _ := w.Deadlines(true); len(ds) != 1 || !ds[0].Basis.IsProvisional() {
		t.Fatalf("provisional: %+v", ds)
	}
	pubAt := time.Date(2026, 12, 31, 9, 0, 0, 0, env.Loc)
	if _, err := svc.PublishCalendarYear(ctx, command.Cmd{ID: "p", Actor: "admin", Role: "admin", At: pubAt},
		calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-03"}}); err != nil {
		t.Fatal(err)
	}
	after := request("r2", pubAt.Add(time.Hour))
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Reschedule(ctx, pubAt.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Reschedule = %d, %v; want 1", n, err)
	}
	if got := alerts(t, env, before); !slices.Equal(got, []string{domain.TypeReferralDeadlineRescheduled}) {
		t.Fatalf("before: %v", got)
	}
	if got := alerts(t, env, after); len(got) != 0 {
		t.Fatalf("after: %v", got)
	}
	w2 := newWatcher(t, env)
	if err := w2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := w2.Reschedule(ctx, pubAt.Add(3*time.Hour)); err != nil || n != 0 {
		t.Fatalf("restarted watcher rescheduled %d, %v", n, err)
	}
}
