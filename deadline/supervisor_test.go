package deadline_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
)

// TestAlertsGoToTheCommunitySupervisorInTheLog: without a Supervisor
// callback, the watcher names the supervisor recorded for the subject's
// community in the log (community.supervisor_assigned), and a problem's
// community is its household's current one: after 竹园村's household moved
// to 山联村, its problem's alert goes to 山联村's supervisor.
func TestAlertsGoToTheCommunitySupervisorInTheLog(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, env.Cal.Location())
	cmd := func(id string, at time.Time) command.Cmd {
		return command.Cmd{ID: id, Actor: "admin", Role: domain.RoleAdmin, At: at}
	}
	must := func(_ command.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"h-move", "h-stay"} {
		must(svc.RegisterHousehold(ctx, cmd("reg-"+h, t0), h, domain.RegisterHousehold{Address: "竹园村 1 号", Community: "竹园村", Grid: "竹园1网格",
			ResponsibleWorker: "w1", Class: domain.ClassKey, Risk: domain.RiskYellow}))
	}
	must(svc.AssignCommunitySupervisor(ctx, cmd("sup-zy", t0), "竹园村", "王书记", ""))
	must(svc.AssignCommunitySupervisor(ctx, cmd("sup-sl", t0), "山联村", "李书记", "换届"))
	if _, err := svc.AssignCommunitySupervisor(ctx, cmd("sup-sl-again", t0), "山联村", "李书记", ""); !isCode(err, "no_change") {
		t.Fatalf("assigning the supervisor in charge again: %v", err)
	}
	if _, err := svc.AssignCommunitySupervisor(ctx, cmd("sup-bad", t0), "山联 村", "李书记", ""); !isCode(err, "invalid_id") {
		t.Fatalf("a community name with a space: %v", err)
	}
	for _, h := range []string{"h-move", "h-stay"} {
		must(svc.ReportProblem(ctx, cmd("rep-"+h, t0), command.ReportProblem{ProblemID: "p-" + h, HouseholdID: h, Description: "燃气泄漏隐患",
			Category: domain.ProblemLivingSecurity, HandlingClass: domain.HandlingImmediate, Colour: domain.ColourRed, Urgency: domain.UrgencyUrgent}))
	}
	must(svc.Relocate(ctx, cmd("move", t0.Add(time.Hour)), "h-move", "山联村 8 号", "山联村", "山联2网格", "搬家"))

	w, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Fire(ctx, t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for problem, want := range map[string]string{"p-h-move": "李书记", "p-h-stay": "王书记"} {
		var got []string
		for _, ev := range streamTypes(t, env, domain.ProblemStream(problem)) {
			if ev.Type != domain.TypeProblemDeadlineBreached && ev.Type != domain.TypeProblemDeadlineApproaching {
				continue
			}
			var a struct{ Supervisor string }
			if err := json.Unmarshal(ev.Data, &a); err != nil {
				t.Fatal(err)
			}
			got = append(got, a.Supervisor)
		}
		if len(got) == 0 {
			t.Fatalf("%s: no alert recorded", problem)
		}
		for _, s := range got {
			if s != want {
				t.Errorf("%s: alert to %q, want %q (its household's community's supervisor in the log)", problem, s, want)
			}
		}
	}
}

func isCode(err error, code string) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == code && de.Message != "" && de.MessageZH != ""
}
