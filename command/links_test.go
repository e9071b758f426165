package command_test

import (
	"context"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// Issue 13 item 14, decision 0088: a visit could link another household's
// problem or a problem never reported, and a problem could cite a visit
// that was never recorded (or one of another household).
func TestVisitLinksOnlyItsHouseholdsReportedProblems(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("a", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	e.register("b", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	e.report("b-problem", "b", "", "漏水", domain.ProblemLivingSecurity, domain.HandlingImmediate, domain.ColourRed, domain.UrgencyUrgent, "2026-03-03 10:00")
	visit := func(cmdID, visitID string, problems ...string) (command.Result, error) {
		return e.svc.RecordVisit(ctx, cmd(t, cmdID, "社工小张", "2026-03-03 18:00"), "a", evidence(command.Visit{
			VisitID: visitID, Team: []string{"社工小张"}, OccurredAt: at(t, "2026-03-03 16:00"),
			Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted, ProblemIDs: problems}))
	}
	// Another household's problem and a problem never reported: the same
	// refusal, bar the id, so the answer tells nothing of the other
	// household (decision 0088).
	r, err := visit("a-visit-1", "v1", "b-problem")
	other := fails(t, r, err, "problem_not_in_household", domain.ErrRule)
	r, err = visit("a-visit-2", "v1", "x-problem")
	never := fails(t, r, err, "problem_not_in_household", domain.ErrRule)
	if strings.ReplaceAll(other.Message, "b-problem", "x-problem") != never.Message ||
		strings.ReplaceAll(other.MessageZH, "b-problem", "x-problem") != never.MessageZH || other.Field != never.Field {
		t.Fatalf("the refusals differ: %+v / %+v", other, never)
	}
	// Its own reported problem may be linked, alone or with no problem.
	e.report("a-problem", "a", "", "独居", domain.ProblemService, domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-03 17:00")
	ok(t)(visit("a-visit-3", "v1", "a-problem"))
	r, err = visit("a-visit-4", "v2", "a-problem", "a-later")
	fails(t, r, err, "problem_not_in_household", domain.ErrRule)
	if vs := e.household("a").Visits(); len(vs) != 1 || len(vs[0].ProblemIDs) != 1 {
		t.Fatalf("visits %+v", vs)
	}
}

func TestProblemCitesOnlyAVisitOfItsHousehold(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("a", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	e.register("b", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	for _, hh := range []string{"a", "b"} {
		ok(t)(e.svc.RecordVisit(ctx, cmd(t, hh+"-visit", "社工小张", "2026-03-03 18:00"), hh, evidence(command.Visit{
			VisitID: "v-" + hh, Team: []string{"社工小张"}, OccurredAt: at(t, "2026-03-03 16:00"),
			Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted})))
	}
	report := func(id, visit string) (command.Result, error) {
		return e.svc.ReportProblem(ctx, cmd(t, id, "社工小张", "2026-03-03 19:00"), command.ReportProblem{
			ProblemID: id, HouseholdID: "a", VisitID: visit, Description: "独居", Category: domain.ProblemService,
			HandlingClass: domain.HandlingLongTerm, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary})
	}
	for _, visit := range []string{"v-made-up", "v-b"} {
		r, err := report("p-"+visit, visit)
		if de := fails(t, r, err, "visit_not_in_household", domain.ErrRule); de.Field != "visit_id" {
			t.Fatalf("field %q", de.Field)
		}
	}
	// A refused report burns no ledger number.
	_, n := e.report("p-ok", "a", "v-a", "独居", domain.ProblemService, domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-03 19:00")
	if n != "WT2026000001" {
		t.Fatalf("number %s", n)
	}
	if v := e.problem("p-ok").VisitID(); v != "v-a" {
		t.Fatalf("visit %q", v)
	}
}
