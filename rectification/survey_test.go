package rectification_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/rectification"
)

// TestSeed001_3_4_SurveyBelowEightyPercentOpensRectification: "每半年发放一次满意度
// 问卷…问卷回收率不低于80%，满意度低于80%的社区需限期整改". Three communities'
// surveys of 2026-H2, 10 questionnaires each: 竹园村 gets 9 back, 7
// satisfied (78%: below); 山联村 10 back, 8 satisfied (exactly 80%: not
// below); 石桥村 7 back (70%: the return rate is below), all satisfied.
// The opener opens one rectification case (source survey, the policy's
// 20 working days from the closing) for 竹园村 and one for 石桥村, none
// for 山联村, and no more when it runs again. A household answers once,
// no more answers than questionnaires, none after the close, and the
// period is a half-year.
func TestSeed001_3_4_SurveyBelowEightyPercentOpensRectification(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	loc := env.Cal.Location()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, loc)
	n := 0
	cmd := func() command.Cmd {
		n++
		return command.Cmd{ID: fmt.Sprintf("c%d", n), Actor: "街道督导", Role: domain.RoleSupervisor, At: at.Add(time.Duration(n) * time.Minute)}
	}
	if _, err := svc.OpenSurvey(ctx, cmd(), "竹园村", "2026-09", 10); !isCode(err, "invalid_period") {
		t.Fatalf("a month is not a half-year: %v", err)
	}
	if _, err := svc.OpenSurvey(ctx, cmd(), "竹园村", "2026-H2", 0); !isCode(err, "invalid_surveyed") {
		t.Fatalf("no questionnaire: %v", err)
	}
	run := func(community string, returned, satisfied int) {
		t.Helper()
		if _, err := svc.OpenSurvey(ctx, cmd(), community, "2026-H2", 10); err != nil {
			t.Fatal(err)
		}
		for i := range returned {
			if _, err := svc.RecordSurveyResponse(ctx, cmd(), community, "2026-H2", fmt.Sprintf("h%02d", i), i < satisfied); err != nil {
				t.Fatal(err)
			}
		}
	}
	run("竹园村", 9, 7)
	if _, err := svc.OpenSurvey(ctx, cmd(), "竹园村", "2026-H2", 10); !isCode(err, "survey_opened") {
		t.Fatalf("a second survey of the half-year: %v", err)
	}
	if _, err := svc.RecordSurveyResponse(ctx, cmd(), "竹园村", "2026-H2", "h00", true); !isCode(err, "response_recorded") {
		t.Fatalf("a household answering twice: %v", err)
	}
	run("山联村", 10, 8)
	if _, err := svc.RecordSurveyResponse(ctx, cmd(), "山联村", "2026-H2", "h99", true); !isCode(err, "too_many_responses") {
		t.Fatalf("an eleventh answer to ten questionnaires: %v", err)
	}
	run("石桥村", 7, 7)
	closed := map[string]domain.SurveyClosed{}
	for _, c := range []string{"竹园村", "山联村", "石桥村"} {
		if _, err := svc.CloseSurvey(ctx, cmd(), c, "2026-H2"); err != nil {
			t.Fatal(err)
		}
		r, err := svc.SurveyRound(ctx, c, "2026-H2")
		if err != nil {
			t.Fatal(err)
		}
		closed[c], _ = r.Closed()
	}
	if _, err := svc.RecordSurveyResponse(ctx, cmd(), "竹园村", "2026-H2", "h09", true); !isCode(err, "survey_closed") {
		t.Fatalf("an answer after the close: %v", err)
	}
	for c, want := range map[string][]string{"竹园村": {domain.SurveyBreachSatisfaction}, "山联村": nil, "石桥村": {domain.SurveyBreachReturnRate}} {
		if got := closed[c]; !slices.Equal(got.Breaches, want) || got.MinReturnRate != 0.8 || got.MinSatisfaction != 0.8 {
			t.Errorf("%s closed %+v, want breaches %v", c, got, want)
		}
	}
	if z := closed["竹园村"]; z.Returned != 9 || z.Satisfied != 7 || z.ReturnRate != 0.9 {
		t.Errorf("竹园村's figures: %+v", z)
	}

	op, err := rectification.New(rectification.Config{Store: env.Store, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op.Sync(ctx); err != nil || n != 2 {
		t.Fatalf("opened %d cases: %v", n, err)
	}
	op2, _ := rectification.New(rectification.Config{Store: env.Store, Commands: svc})
	if n, err := op2.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("a second opener opened %d cases: %v", n, err)
	}
	all, err := env.Store.ReadAll(ctx, eventstore.Position{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	opened := map[string]domain.RectificationOpened{}
	for _, e := range all {
		if e.Type != domain.TypeSurveyClosed {
			continue
		}
		r, err := svc.Rectification(ctx, rectification.CaseID(e.ID.String()), domain.AsOf{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Exists() {
			opened[r.Community()] = r.Opened()
		}
	}
	if len(opened) != 2 {
		t.Fatalf("cases opened for %v, want 竹园村 and 石桥村", opened)
	}
	for _, c := range []string{"竹园村", "石桥村"} {
		o, ok := opened[c]
		if !ok || o.Source != domain.SourceSurvey || o.SurveyEventID == "" || !slices.Equal(o.Periods, []string{"2026-H2"}) ||
			o.TimeLimit != domain.WorkingDays(20) || !o.At.Equal(closed[c].At) || !o.Due.After(o.At) || o.ReasonZH == "" {
			t.Errorf("%s's case: %+v", c, o)
		}
	}
}
