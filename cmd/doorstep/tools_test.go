package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/projections/audit"
)

// TestReplayExportRebuild writes a small history, then drives replay,
// export and rebuild as a user would.
func TestReplayExportRebuild(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rt, err := openRuntime(ctx, dir, storeConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := func(id string) command.Cmd { return command.Cmd{ID: id, Actor: "李四", Role: domain.RoleGridWorker} }
	if _, err := rt.app.RegisterHousehold(ctx, c("reg"), "zhao", domain.RegisterHousehold{Address: "光明楼 6 楼", Community: "C1", Grid: "G1",
		ResponsibleWorker: "李四", Class: domain.ClassSpecial, Risk: domain.RiskYellow}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.app.ReportProblem(ctx, c("p"), command.ReportProblem{ProblemID: "lift", HouseholdID: "zhao", Description: "无电梯",
		Category: domain.ProblemLivingSecurity, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}); err != nil {
		t.Fatal(err)
	}
	// Cut at the instant the problem was recorded: the risk change comes after.
	evs, err := rt.store.ReadAll(ctx, eventstore.Position{}, 100)
	if err != nil || len(evs) == 0 {
		t.Fatalf("read the log: %v", err)
	}
	cut := evs[len(evs)-1].RecordedAt
	if _, err := rt.app.ChangeRisk(ctx, c("risk"), "zhao", domain.RiskRed, "独自无法下楼"); err != nil {
		t.Fatal(err)
	}
	// A refused visit entered five hours after it happened.
	refusedAt := clock.Now().Add(-5 * time.Hour).Truncate(time.Minute).In(rt.app.Calendar().Location())
	if _, err := rt.app.RecordVisit(ctx, c("visit"), "zhao", command.Visit{VisitID: "v1", Team: []string{"李四"}, OccurredAt: refusedAt,
		Mode: domain.ModeHome, Outcome: domain.OutcomeRefused, Summary: "不愿开门"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.engine.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	entries, err := rt.read.Trail.Household(ctx, "zhao")
	if err != nil {
		t.Fatal(err)
	}
	// Replay shows sealed text opened, an export marks it [sealed]
	// (decision 0108): compare each with the trail shown the same way.
	marked := slices.Clone(entries)
	for i := range marked {
		marked[i].Changes = slices.Clone(marked[i].Changes)
	}
	audit.OpenText(ctx, entries, rt.vault)
	audit.OpenText(ctx, marked, markerOpener{rt.vault})
	rt.Close()

	var out, errb bytes.Buffer
	if err := run(ctx, []string{"replay", "-data", dir, "-household", "zhao", "-at", cut.Format(time.RFC3339Nano)}, &out, &errb); err != nil {
		t.Fatalf("replay: %v\n%s", err, errb.String())
	}
	s := out.String()
	if !strings.Contains(s, "household.registered") || !strings.Contains(s, "problem.reported") || strings.Contains(s, "household.risk_changed") ||
		!strings.Contains(s, "risk yellow") {
		t.Fatalf("replay as of the cut:\n%s", s)
	}
	out.Reset()
	if err := run(ctx, []string{"replay", "-data", dir, "-household", "zhao"}, &out, &errb); err != nil || !strings.Contains(out.String(), "独自无法下楼") ||
		!strings.Contains(out.String(), "risk red") || !strings.Contains(out.String(), "家庭类别 特殊，风险等级 红色（紧急干预）") {
		t.Fatalf("replay now: %v\n%s", err, out.String())
	}
	// Replay agrees with the trail the API serves: the visit at the time it
	// happened, entered later, and every entry's summary (the refusal in
	// words).
	replayed := out.String()
	if !strings.Contains(replayed, refusedAt.Format("2006-01-02 15:04")+"  visit.recorded") || !strings.Contains(replayed, "recorded / 录入") {
		t.Fatalf("replay does not show the visit at %s:\n%s", refusedAt, replayed)
	}
	if len(entries) < 4 {
		t.Fatalf("the trail has %d entries (after catching up)", len(entries))
	}
	for _, en := range entries {
		if !strings.Contains(replayed, en.Summary) {
			t.Fatalf("replay lacks the summary %q:\n%s", en.Summary, replayed)
		}
	}
	if !strings.Contains(replayed, "拒绝走访") {
		t.Fatalf("replay does not say the visit was refused:\n%s", replayed)
	}
	out.Reset()
	if err := run(ctx, []string{"replay", "-data", dir, "-problem", "lift", "-at", "2000-01-01"}, &out, &errb); err != nil || !strings.Contains(out.String(), "nothing was recorded") {
		t.Fatalf("replay before anything: %v\n%s", err, out.String())
	}
	csvPath := filepath.Join(t.TempDir(), "zhao.csv")
	if err := run(ctx, []string{"export", "-data", dir, "-household", "zhao", "-format", "csv", "-o", csvPath}, &out, &errb); err != nil {
		t.Fatalf("export: %v", err)
	}
	b, _ := os.ReadFile(csvPath)
	for _, want := range []string{"household.registered", "problem.reported", "household.risk_changed", "[sealed]",
		refusedAt.UTC().Format(time.RFC3339Nano), marked[len(marked)-1].Summary} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("csv export lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "独自无法下楼") || strings.Contains(string(b), "不愿开门") {
		t.Fatalf("csv export holds sealed text in clear:\n%s", b)
	}
	out.Reset()
	if err := run(ctx, []string{"export", "-data", dir}, &out, &errb); err != nil {
		t.Fatalf("log export: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["position"] == nil || m["hash"] == nil {
			t.Fatalf("log export line %q: %v", line, err)
		}
		n++
		// The visit's envelope says when it happened, not when it was
		// entered (issue 20 item 2).
		if m["type"] == "visit.recorded" {
			md, _ := m["metadata"].(map[string]any)
			occ, _ := md["occurred_at"].(string)
			if at, err := time.Parse(time.RFC3339Nano, occ); err != nil || !at.Equal(refusedAt) {
				t.Errorf("the log export dates the visit %q, it happened at %s", occ, refusedAt)
			}
		}
	}
	if n < 3 {
		t.Fatalf("log export has %d events", n)
	}
	out.Reset()
	errb.Reset()
	if err := run(ctx, []string{"rebuild", "-data", dir}, &out, &errb); err != nil || !strings.Contains(out.String(), "rebuilt all projections") {
		t.Fatalf("rebuild: %v\n%s\n%s", err, out.String(), errb.String())
	}
	for _, args := range [][]string{{"replay", "-data", dir}, {"replay", "-data", dir, "-household", "a", "-problem", "b"},
		{"replay", "-data", dir, "-household", "zhao", "-at", "tomorrow"}, {"export", "-data", dir, "-format", "xml"}, {"export", "-data", dir, "-format", "csv"}} {
		err := run(ctx, args, &out, &errb)
		var ue usageError
		if !asUsage(err, &ue) {
			t.Errorf("doorstep %v: %v, want a usage error", args, err)
		}
	}
}

func asUsage(err error, ue *usageError) bool {
	u, ok := err.(usageError)
	if ok {
		*ue = u
	}
	return ok
}
