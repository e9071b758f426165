package rectification_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/rectification"
)

// closeTwoMonthsBelow80 closes August and September 2026 for community
// with resolution rates of 50% and 60% through the ledger's own rules, so
// that the September close raises resolution.two_months (001 §2.4.4), and
// returns the flag's event id.
func closeTwoMonthsBelow80(t *testing.T, env *testenv.Env, community string, closeAt time.Time) string {
	t.Helper()
	pol := env.Policies.Current()
	led := domain.NewPeriodLedger(community)
	loc := env.Cal.Location()
	var flagID string
	for i, m := range []struct {
		label, prev string
		res         domain.Tally
	}{{"2026-08", "2026-07", domain.Tally{Num: 5, Den: 10}}, {"2026-09", "2026-08", domain.Tally{Num: 6, Den: 10}}} {
		start := time.Date(2026, time.Month(8+i), 1, 0, 0, 0, 0, loc)
		meta := testenv.Meta("period-closer", domain.RoleSystem, closeAt.AddDate(0, i-1, 0))
		evs, err := led.Close(meta, domain.ClosePeriod{Period: m.label, Start: start, End: start.AddDate(0, 1, 0), Previous: m.prev,
			Figures: domain.PeriodFigures{Resolution: m.res}, Policy: pol, CalendarVersion: env.Cal.Version()})
		res := env.Do(t, domain.MeasuresStream(community), meta)(evs, err)
		for _, e := range evs {
			led.Apply(e)
		}
		got, err := env.Store.ReadStream(context.Background(), domain.MeasuresStream(community), eventstore.Forward, res.FirstVersion, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			if e.Type == domain.TypeMeasuresFlagRaised && json.Valid(e.Data) && string(mustMeasure(t, e.Data)) == "resolution.two_months" {
				flagID = e.ID.String()
			}
		}
	}
	if flagID == "" {
		t.Fatal("the September close raised no resolution.two_months flag")
	}
	return flagID
}

func mustMeasure(t *testing.T, data []byte) string {
	var f struct{ Measure string }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Measure
}

func types(t *testing.T, env *testenv.Env, stream string) []eventstore.Event {
	t.Helper()
	evs, err := env.Store.ReadStream(context.Background(), stream, eventstore.Forward, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func count(evs []eventstore.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func isCode(err error, code string) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == code
}

// TestSeed001_2_4_4_FlagOpensRectificationThatBreachesOverHoliday: "对连续两个月
// 问题化解率低于80%的社区，约谈社区书记并限期整改". The September 2026 close of
// 竹园村 flags two months below 80%; the opener opens one case at the flag's
// instant (October 1st, 00:05) with the policy's 20 working days under the
// PRC calendar: the National Day holiday (October 1–7) does not count and
// Saturday October 10th does, so the case is due at the end of November 3rd
// (without the holiday it would be October 28th). The deadline watcher,
// driven by the injected instants, warns 24 hours before, breaches just
// after the due instant and not before, naming the community's supervisor;
// a 回头看 that fails sets a new deadline of 10 working days, and one that
// passes (after the 约谈 was recorded) closes the case and its deadline.
func TestSeed001_2_4_4_FlagOpensRectificationThatBreachesOverHoliday(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	loc := env.Cal.Location()
	if _, err := svc.AssignCommunitySupervisor(ctx, command.Cmd{ID: "sup", Actor: "admin", Role: domain.RoleAdmin,
		At: time.Date(2026, 1, 5, 9, 0, 0, 0, loc)}, "竹园村", "王书记", ""); err != nil {
		t.Fatal(err)
	}
	closeAt := time.Date(2026, 10, 1, 0, 5, 0, 0, loc)
	flagID := closeTwoMonthsBelow80(t, env, "竹园村", closeAt)

	op, err := rectification.New(rectification.Config{Store: env.Store, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op.Sync(ctx); err != nil || n != 1 {
		t.Fatalf("opened %d cases: %v", n, err)
	}
	id := rectification.CaseID(flagID)
	r, err := svc.Rectification(ctx, id, domain.AsOf{})
	if err != nil {
		t.Fatal(err)
	}
	o := r.Opened()
	wantDue := time.Date(2026, 11, 3, 23, 59, 59, 999999999, loc)
	if !r.Exists() || o.Community != "竹园村" || o.Measure != "resolution.two_months" || o.FlagEventID != flagID ||
		!o.At.Equal(closeAt) || o.TimeLimit != domain.WorkingDays(20) || !o.Due.Equal(wantDue) || len(o.Calendar.Provisional) != 0 {
		t.Fatalf("opened %+v, want due %s", o, wantDue)
	}
	if len(o.Periods) != 2 || o.Periods[0] != "2026-08" || o.Periods[1] != "2026-09" || o.ReasonZH == "" {
		t.Fatalf("periods and reason: %+v", o)
	}
	evs := types(t, env, domain.RectificationStream(id))
	if evs[0].Metadata.Community != "竹园村" {
		t.Fatalf("the opening is in community %q", evs[0].Metadata.Community)
	}

	w, fire := alertsOnTime(t, env, svc, id, wantDue, "王书记")
	stream := domain.RectificationStream(id)

	sup := func(id string, at time.Time) command.Cmd {
		return command.Cmd{ID: id, Actor: "街道督查办李主任", Role: domain.RoleSupervisor, At: at}
	}
	reviewAt := time.Date(2026, 11, 5, 10, 0, 0, 0, loc)
	if _, err := svc.ReviewRectification(ctx, sup("rev0", reviewAt), id, domain.ReviewPassed, "已整改"); !isCode(err, "interview_required") {
		t.Fatalf("a review before the 约谈: %v", err)
	}
	if _, err := svc.RecordRectificationInterview(ctx, sup("iv", reviewAt), id, domain.RecordInterview{Interviewer: "街道党工委张书记",
		Interviewee: "竹园村王书记", HeldAt: time.Date(2026, 10, 9, 15, 0, 0, 0, loc), Minutes: "分析化解率偏低原因，明确整改措施与责任人"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReviewRectification(ctx, sup("rev1", reviewAt), id, domain.ReviewFailed, "仍有 3 件协调联动类问题未启动办理"); err != nil {
		t.Fatal(err)
	}
	r, _ = svc.Rectification(ctx, id, domain.AsOf{})
	start, due, _ := r.Deadline()
	// 10 working days from Thursday November 5th: November 19th.
	if r.Status() != domain.RectificationOpen || !start.Equal(reviewAt) || !due.Equal(time.Date(2026, 11, 19, 23, 59, 59, 999999999, loc)) {
		t.Fatalf("after a failed review: %s, deadline %s → %s", r.Status(), start, due)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ds, _ := w.Deadlines(false); !hasDeadline(ds, id, due) {
		t.Fatalf("the watcher does not watch the new deadline %s: %+v", due, ds)
	}
	if _, err := svc.ReviewRectification(ctx, sup("rev2", due.Add(-time.Hour)), id, domain.ReviewPassed, "问题均已启动办理，化解率回升"); err != nil {
		t.Fatal(err)
	}
	r, _ = svc.Rectification(ctx, id, domain.AsOf{})
	if r.Status() != domain.RectificationClosed || len(r.Reviews()) != 2 || len(r.Interviews()) != 1 {
		t.Fatalf("after a passed review: %s, %d reviews, %d interviews", r.Status(), len(r.Reviews()), len(r.Interviews()))
	}
	if _, err := svc.ReviewRectification(ctx, sup("rev3", due), id, domain.ReviewPassed, "再次"); !isCode(err, "rectification_closed") {
		t.Fatalf("reviewing a closed case: %v", err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fire(due.Add(time.Hour))
	if ds, _ := w.Deadlines(false); hasDeadline(ds, id, due) {
		t.Fatal("the closed case's deadline is still watched")
	}
	if n := count(types(t, env, stream), domain.TypeRectificationDeadlineBreached); n != 1 {
		t.Fatalf("a closed case breached again: %d breaches", n)
	}
}

func hasDeadline(ds []domain.Deadline, id string, due time.Time) bool {
	for _, d := range ds {
		if d.Kind == domain.ClockRectification && d.Subject == id && d.Due.Equal(due) {
			return true
		}
	}
	return false
}

// TestFlagOpensOneCaseAcrossRestartsAndNodes: two openers reading the same
// log at once, and a third started afterwards (a restart), open the flag's
// case once; a flag the policy does not list (coverage.all) and a street
// flag open none.
func TestFlagOpensOneCaseAcrossRestartsAndNodes(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	loc := env.Cal.Location()
	closeAt := time.Date(2026, 10, 1, 0, 5, 0, 0, loc)
	flagID := closeTwoMonthsBelow80(t, env, "山联村", closeAt)
	meta := testenv.Meta("period-closer", domain.RoleSystem, closeAt)
	env.Do(t, domain.MeasuresStream("山联村"), meta)([]domain.Event{domain.MeasuresFlagRaised{Community: "山联村", Period: "2026-09",
		Measure: "coverage.all", Figure: 0.5, Target: 0.95, Periods: []string{"2026-09"}, At: closeAt, By: "period-closer"}}, nil)
	env.Do(t, domain.MeasuresStream(""), meta)([]domain.Event{domain.MeasuresFlagRaised{Period: "2026-09",
		Measure: "resolution.two_months", Figure: 0.5, Target: 0.8, Periods: []string{"2026-08", "2026-09"}, At: closeAt, By: "period-closer"}}, nil)

	var wg sync.WaitGroup
	total := make([]int, 2)
	for i := range total {
		op, err := rectification.New(rectification.Config{Store: env.Store, Commands: svc})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := op.Sync(ctx)
			if err != nil {
				t.Error(err)
			}
			total[i] = n
		}()
	}
	wg.Wait()
	again, _ := rectification.New(rectification.Config{Store: env.Store, Commands: svc})
	if n, err := again.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("a restarted opener opened %d: %v", n, err)
	}
	var cases []string
	all, err := env.Store.ReadAll(ctx, eventstore.Position{}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.Type == domain.TypeRectificationOpened {
			cases = append(cases, e.Stream)
		}
	}
	// The counts the racing openers report may both be 1 (a copy racing
	// its original is answered by the store with the original result):
	// what matters is the log.
	if len(cases) != 1 || cases[0] != domain.RectificationStream(rectification.CaseID(flagID)) || total[0]+total[1] < 1 {
		t.Fatalf("cases %v (openers reported %v), want the one of flag %s", cases, total, flagID)
	}
}

// alertsOnTime starts a deadline watcher over env and checks, by firing it
// at injected instants, that the rectification case id is warned once
// within 24 hours of wantDue and breached once just after it (not at it),
// naming supervisor. It fires at each of earlier first, where nothing may
// be recorded yet. It returns the watcher and its fire-and-sync step for
// what the test checks next.
func alertsOnTime(t *testing.T, env *testenv.Env, svc *command.Service, id string, wantDue time.Time, supervisor string,
	earlier ...time.Time) (*deadline.Watcher, func(time.Time)) {
	t.Helper()
	ctx := context.Background()
	w, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	stream := domain.RectificationStream(id)
	fire := func(at time.Time) {
		t.Helper()
		if _, err := w.Fire(ctx, at); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range append(earlier, wantDue.Add(-25*time.Hour)) {
		fire(at)
		if evs := types(t, env, stream); count(evs, domain.TypeRectificationDeadlineApproaching) != 0 || count(evs, domain.TypeRectificationDeadlineBreached) != 0 {
			t.Fatalf("alerted at %s, more than 24 hours before the due instant %s", at, wantDue)
		}
	}
	fire(wantDue.Add(-24 * time.Hour))
	fire(wantDue)
	evs := types(t, env, stream)
	if count(evs, domain.TypeRectificationDeadlineApproaching) != 1 || count(evs, domain.TypeRectificationDeadlineBreached) != 0 {
		t.Fatalf("at the due instant: %d approaching, %d breached; want 1, 0", count(evs, domain.TypeRectificationDeadlineApproaching),
			count(evs, domain.TypeRectificationDeadlineBreached))
	}
	fire(wantDue.Add(time.Millisecond))
	fire(wantDue.Add(time.Hour)) // a second pass records nothing more
	evs = types(t, env, stream)
	if count(evs, domain.TypeRectificationDeadlineBreached) != 1 {
		t.Fatalf("breaches after the due instant: %d, want 1", count(evs, domain.TypeRectificationDeadlineBreached))
	}
	var alert domain.DeadlineAlert
	for _, e := range evs {
		if e.Type == domain.TypeRectificationDeadlineBreached {
			if err := json.Unmarshal(e.Data, &alert); err != nil {
				t.Fatal(err)
			}
		}
	}
	if alert.Kind != domain.ClockRectification || !alert.Due.Equal(wantDue) || alert.Supervisor != supervisor {
		t.Fatalf("breach %+v", alert)
	}
	return w, fire
}
