package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/audit"
)

func TestTrailAsOfAndExport(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	keys := sim.NewKeys()
	t0 := time.Date(2026, 2, 2, 9, 0, 0, 0, env.Loc)
	hs := domain.HouseholdStream("liu")
	h := func() *domain.Household { x := domain.NewHousehold("liu"); env.Load(t, hs, x); return x }
	mark := func() time.Time {
		time.Sleep(3 * time.Millisecond)
		n := clock.Now()
		time.Sleep(3 * time.Millisecond)
		return n
	}

	// 刘女士, single mother (004 §6.1).
	m := testenv.Meta("w1", domain.RoleGridWorker, t0)
	env.Do(t, hs, m)(domain.NewHousehold("liu").Register(m, pol, domain.RegisterHousehold{Address: "建设巷5号", Community: "c1", Grid: "g1",
		ResponsibleWorker: "w1", Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskYellow}))
	env.Do(t, hs, m)(h().RecordConsent(m, true, "visits", ""))
	phone1, _ := domain.SealString(context.Background(), keys, "liu", "13800000001")
	env.Do(t, hs, m)(h().AddMember(m, "m1", domain.MemberDetails{Name: "刘女士", Relation: "本人", Phone: phone1}))
	beforeRisk := mark()
	m = testenv.Meta("sup1", domain.RoleSupervisor, t0.Add(24*time.Hour))
	env.Do(t, hs, m)(h().ChangeRisk(m, domain.RiskRed, "连续拒访，情绪低落"))
	phone2, _ := domain.SealString(context.Background(), keys, "liu", "13800000002")
	env.Do(t, hs, m)(h().ChangeMember(m, "m1", domain.MemberDetails{Name: "刘女士", Relation: "本人", Phone: phone2}, "更换手机号"))
	beforeProblem := mark()
	p := domain.NewProblem("p1")
	m = testenv.Meta("w1", domain.RoleGridWorker, t0.Add(48*time.Hour))
	env.Do(t, "problem-p1", m)(p.Report(m, pol, domain.ReportProblem{Number: "WT2026000007", HouseholdID: "liu", Description: "需要心理支持",
		Category: domain.ProblemPsychological, HandlingClass: domain.HandlingLongTerm, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	env.Load(t, "problem-p1", p)
	r := domain.NewReferral("r1")
	env.Do(t, "referral-r1", m)(r.Request(m, pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "liu", Level: domain.LevelCommunity, To: "妇联", Request: "心理咨询"}))
	m = testenv.Meta("w1", domain.RoleGridWorker, t0.Add(72*time.Hour))
	env.Do(t, "problem-p1", m)(p.Assign(m, env.Cal, domain.AssignProblem{To: "sw1", Reason: "转社工跟进"}))
	// Another household that must not show up.
	m = testenv.Meta("w2", domain.RoleGridWorker, t0)
	env.Do(t, "household-other", m)(domain.NewHousehold("other").Register(m, pol, domain.RegisterHousehold{Address: "x", Community: "c1", Grid: "g1",
		ResponsibleWorker: "w2", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}))

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

	trail, err := tr.Household(ctx, "liu")
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 8 {
		t.Fatalf("household trail has %d entries, want 8", len(trail))
	}
	for i := 1; i < len(trail); i++ {
		if !trail[i-1].Position.Before(trail[i].Position) {
			t.Fatalf("trail not in log order at %d", i)
		}
	}
	risk := trail[3]
	if risk.Type != domain.TypeHouseholdRiskChanged || risk.Actor != "sup1" || risk.Role != domain.RoleSupervisor ||
		risk.Reason != "连续拒访，情绪低落" || !risk.OccurredAt.Equal(t0.Add(24*time.Hour)) || risk.RecordedAt.IsZero() {
		t.Errorf("risk entry %+v", risk)
	}
	if len(risk.Changes) != 1 || risk.Changes[0] != (audit.Change{Field: "risk", Before: "yellow", After: "red"}) {
		t.Errorf("risk changes %+v", risk.Changes)
	}
	phone := trail[4]
	if len(phone.Changes) != 1 || phone.Changes[0] != (audit.Change{Field: "member.m1.phone", Before: "[sealed]", After: "[sealed]"}) || phone.Reason != "更换手机号" {
		t.Errorf("member change %+v", phone)
	}
	assign := trail[7]
	if assign.Stream != "problem-p1" || len(assign.Changes) != 1 || assign.Changes[0] != (audit.Change{Field: "assignee", Before: "w1", After: "sw1"}) {
		t.Errorf("assignment %+v", assign)
	}

	ptrail, err := tr.Problem(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ptrail) != 3 || ptrail[1].Stream != "referral-r1" {
		t.Errorf("problem trail %+v", ptrail)
	}
	if _, err := tr.Problem(ctx, "nope"); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("unknown problem: %v", err)
	}

	// As of past instants.
	snap, err := tr.AsOf(ctx, "liu", beforeRisk)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Household.Risk() != domain.RiskYellow || len(snap.Problems) != 0 || len(snap.Household.Members()) != 1 {
		t.Errorf("before the risk change: risk %s, %d problems", snap.Household.Risk(), len(snap.Problems))
	}
	snap, err = tr.AsOf(ctx, "liu", beforeProblem)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Household.Risk() != domain.RiskRed || len(snap.Problems) != 0 {
		t.Errorf("before the problem: risk %s, %d problems", snap.Household.Risk(), len(snap.Problems))
	}
	snap, err = tr.AsOf(ctx, "liu", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) != 1 || snap.Problems[0].Assignee() != "sw1" || len(snap.Referrals) != 1 {
		t.Errorf("now: %d problems, %d referrals", len(snap.Problems), len(snap.Referrals))
	}
	if _, err := tr.AsOf(ctx, "liu", t0.AddDate(-1, 0, 0)); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("before registration: %v", err)
	}

	// Exports: every entry, no personal data in clear or sealed form.
	var jl, cv bytes.Buffer
	if err := audit.WriteJSONL(&jl, trail); err != nil {
		t.Fatal(err)
	}
	if err := audit.WriteCSV(&cv, trail); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"13800000001", "13800000002", base64.StdEncoding.EncodeToString([]byte("13800000002"))} {
		if strings.Contains(jl.String(), secret) || strings.Contains(cv.String(), secret) {
			t.Errorf("export contains %q", secret)
		}
	}
	lines := strings.Split(strings.TrimSpace(jl.String()), "\n")
	if len(lines) != len(trail) {
		t.Fatalf("%d JSON lines for %d entries", len(lines), len(trail))
	}
	var back audit.Entry
	if err := json.Unmarshal([]byte(lines[3]), &back); err != nil || back.Reason != risk.Reason || back.Position != risk.Position || len(back.Changes) != 1 {
		t.Errorf("JSON line 4 = %+v, %v", back, err)
	}
	rows, err := csv.NewReader(&cv).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(trail)+1 || rows[0][0] != audit.CSVHeader[0] || rows[4][9] != "risk: yellow → red" || rows[4][10] != risk.Reason {
		t.Errorf("CSV rows %d, row 4 = %q", len(rows), rows[4])
	}
}

// Issue 13 item 9: cells a spreadsheet would evaluate get a leading quote.
func TestCSVCellDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "": "", "老人独居": "老人独居", "a=b": "a=b", "'quoted": "'quoted",
	} {
		if got := audit.CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}
