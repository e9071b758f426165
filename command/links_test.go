package command_test

import (
	"context"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// Issue 13 item 14: a visit could link another household's problem.
func TestVisitLinksOnlyItsHouseholdsProblems(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("a", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	e.register("b", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	e.report("b-problem", "b", "", "漏水", domain.ProblemLivingSecurity, domain.HandlingImmediate, domain.ColourRed, domain.UrgencyUrgent, "2026-03-03 10:00")
	visit := func(cmdID, visitID string, problems ...string) (command.Result, error) {
		return e.svc.RecordVisit(ctx, cmd(t, cmdID, "社工小张", "2026-03-03 18:00"), "a", command.Visit{
			VisitID: visitID, Team: []string{"社工小张"}, OccurredAt: at(t, "2026-03-03 16:00"),
			Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted, ProblemIDs: problems})
	}
	r, err := visit("a-visit-1", "v1", "b-problem")
	fails(t, r, err, "problem_not_in_household", domain.ErrRule)
	// Its own problems, reported before or after the visit, may be linked.
	e.report("a-problem", "a", "v2", "独居", domain.ProblemService, domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-03 17:00")
	ok(t)(visit("a-visit-2", "v2", "a-problem", "a-later"))
}
