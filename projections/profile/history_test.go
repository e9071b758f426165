package profile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/migrate"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/profile"
)

// lonelyElder writes the case of issue 20: a refused visit, a visit with
// nobody home, a completed one; two problems, one resolved and rated 5 after
// a referral to the health department was accepted and completed, one
// closed unresolved; a second referral declined.
func lonelyElder(t *testing.T, env *testenv.Env) (t0 time.Time) {
	t.Helper()
	pol := env.Policies.Current()
	t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, env.Loc)
	hs := domain.HouseholdStream("elder")
	h := domain.NewHousehold("elder")
	m := testenv.Meta("w1", domain.RoleGridWorker, t0)
	env.Do(t, hs, m)(h.Register(m, pol, domain.RegisterHousehold{Address: "竹园路 3 号", Community: "c1", Grid: "g1",
		ResponsibleWorker: "w1", Class: domain.ClassSpecial, Category: domain.CategoryTeKun, Risk: domain.RiskYellow}))
	visit := func(id string, day int, outcome domain.VisitOutcome, summary string) {
		occurred := t0.AddDate(0, 0, day).Add(time.Hour)
		m := testenv.Meta("w1", domain.RoleGridWorker, occurred.Add(7*time.Hour)) // entered the same evening
		h := domain.NewHousehold("elder")
		env.Load(t, hs, h)
		env.Do(t, hs, m)(h.RecordVisit(m, pol, testenv.Evidence(m.Actor, domain.RecordVisit{VisitID: id, Team: []string{"w1", "志愿者小陈"}, OccurredAt: occurred,
			Mode: domain.ModeHome, Outcome: outcome, Summary: summary})))
	}
	visit("v1", 1, domain.OutcomeRefused, "老人不愿开门")
	visit("v2", 3, domain.OutcomeNobodyHome, "无人应门")
	visit("v3", 5, domain.OutcomeCompleted, "独居，担心摔倒")

	m = testenv.Meta("w1", domain.RoleGridWorker, t0.AddDate(0, 0, 5).Add(9*time.Hour))
	report := func(id, number, desc string) *domain.Problem {
		p := domain.NewProblem(id)
		env.Do(t, domain.ProblemStream(id), m)(p.Report(m, pol, domain.ReportProblem{Number: number, HouseholdID: "elder", VisitID: "v3",
			Description: desc, Category: domain.ProblemHealth, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
		p = domain.NewProblem(id)
		env.Load(t, domain.ProblemStream(id), p)
		return p
	}
	p1 := report("p1", "WT2026000001", "需要上门体检")
	report("p2", "WT2026000002", "希望子女多视频")
	refer := func(id string) *domain.Referral {
		r := domain.NewReferral(id)
		env.Do(t, domain.ReferralStream(id), m)(r.Request(m, pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "elder",
			Level: domain.LevelDepartment, To: "卫健局", Request: "上门体检"}))
		r = domain.NewReferral(id)
		env.Load(t, domain.ReferralStream(id), r)
		return r
	}
	r1 := refer("r1")
	days, err := domain.ParseSpan("5 working_days")
	if err != nil {
		t.Fatal(err)
	}
	dm := testenv.Meta("卫健局王医生", domain.RoleDepartment, m.At.Add(24*time.Hour))
	env.Do(t, domain.ReferralStream("r1"), dm)(r1.Accept(dm, env.Cal, "王医生", days, ""))
	r1 = domain.NewReferral("r1")
	env.Load(t, domain.ReferralStream("r1"), r1)
	dm = testenv.Meta("卫健局王医生", domain.RoleDepartment, m.At.Add(36*time.Hour))
	env.Do(t, domain.ReferralStream("r1"), dm)(r1.Start(dm, "已安排"))
	r1 = domain.NewReferral("r1")
	env.Load(t, domain.ReferralStream("r1"), r1)
	dm = testenv.Meta("卫健局王医生", domain.RoleDepartment, m.At.Add(48*time.Hour))
	env.Do(t, domain.ReferralStream("r1"), dm)(r1.Complete(dm, "已上门体检，血压偏高，纳入随访", nil))
	r2 := refer("r2")
	env.Do(t, domain.ReferralStream("r2"), dm)(r2.Decline(dm, "不属于本部门职责"))
	rm := testenv.Meta("w1", domain.RoleGridWorker, m.At.Add(72*time.Hour))
	env.Do(t, domain.ProblemStream("p1"), rm)(p1.Resolve(rm, "体检完成", nil))
	p1 = domain.NewProblem("p1")
	env.Load(t, domain.ProblemStream("p1"), p1)
	env.Do(t, domain.ProblemStream("p1"), rm)(p1.RateSatisfaction(rm, 5, "很满意"))
	p2 := domain.NewProblem("p2")
	env.Load(t, domain.ProblemStream("p2"), p2)
	env.Do(t, domain.ProblemStream("p2"), rm)(p2.Close(rm, env.Policies.Current(), "子女在外地，无法安排"))
	return t0
}

// checkHistory asserts the elder's file shows its whole history.
func checkHistory(t *testing.T, rd *profile.Reader, t0 time.Time) {
	t.Helper()
	ctx := context.Background()
	got, err := rd.Get(ctx, "elder", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.VisitCount != 3 || len(got.Visits) != 3 {
		t.Fatalf("visits: count %d, listed %+v", got.VisitCount, got.Visits)
	}
	want := []struct {
		id      string
		day     int
		outcome domain.VisitOutcome
	}{{"v3", 5, domain.OutcomeCompleted}, {"v2", 3, domain.OutcomeNobodyHome}, {"v1", 1, domain.OutcomeRefused}}
	for i, w := range want {
		v := got.Visits[i]
		occurred := t0.AddDate(0, 0, w.day).Add(time.Hour)
		if v.ID != w.id || v.Outcome != w.outcome || !v.OccurredAt.Equal(occurred) || !v.RecordedAt.Equal(occurred.Add(7*time.Hour)) ||
			v.Mode != domain.ModeHome || len(v.Team) != 3 || v.Team[1] != "志愿者小陈" || v.By != "w1" || v.Late {
			t.Errorf("visit %d = %+v, want %s %s at %s", i, v, w.id, w.outcome, occurred)
		}
	}
	if got.Visits[2].Summary != "老人不愿开门" {
		t.Errorf("the refusal's summary: %q", got.Visits[2].Summary)
	}
	page, err := rd.Visits(ctx, "elder", 1, 1)
	if err != nil || len(page) != 1 || page[0].ID != "v2" {
		t.Errorf("visits page 2 of size 1: %+v %v", page, err)
	}
	if _, err := rd.Visits(ctx, "elder", 0, 0); !errors.Is(err, profile.ErrInvalidFilter) {
		t.Errorf("limit 0: %v", err)
	}
	if _, err := rd.Visits(ctx, "elder", profile.MaxVisitPage+1, 0); !errors.Is(err, profile.ErrInvalidFilter) {
		t.Errorf("limit too large: %v", err)
	}
	if len(got.Problems) != 2 || got.OpenProblems != 0 {
		t.Fatalf("problems: %+v", got.Problems)
	}
	p1, p2 := got.Problems[0], got.Problems[1]
	if p1.Status != domain.StatusResolved || p1.Resolution != "体检完成" || p1.Satisfaction != 5 || p1.ResolvedAt.IsZero() {
		t.Errorf("resolved problem: %+v", p1)
	}
	if p2.Status != domain.StatusClosed || p2.Resolution != "子女在外地，无法安排" || p2.ClosedAt.IsZero() {
		t.Errorf("problem closed unresolved: %+v", p2)
	}
	if len(got.ReferralsOpen) != 0 || got.OpenReferrals != 0 || len(got.Referrals) != 2 {
		t.Fatalf("referrals: open %+v, all %+v", got.ReferralsOpen, got.Referrals)
	}
	r1, r2 := got.Referrals[0], got.Referrals[1]
	if r1.ID != "r1" || r1.Status != domain.RefCompleted || r1.Outcome != "已上门体检，血压偏高，纳入随访" || r1.Responsible != "王医生" || r1.ClosedAt.IsZero() || r1.Due.IsZero() {
		t.Errorf("the completed referral: %+v", r1)
	}
	if r2.ID != "r2" || r2.Status != domain.RefDeclined || r2.Reason != "不属于本部门职责" || r2.ClosedAt.IsZero() {
		t.Errorf("the declined referral: %+v", r2)
	}
}

// TestProfileHistory: the file lists every visit with its outcome (a
// refusal and nobody at home included), and every problem and referral
// with its outcome, open or not.
func TestProfileHistory(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	t0 := lonelyElder(t, env)
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 3}, profile.New(env.Policies, env.Cal))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, profile.NewReader(env.DB, env.Dialect), t0)
	// A cached reader copies what it hands out: changing one answer does
	// not change the next.
	cached := profile.NewReader(env.DB, env.Dialect).WithCache(profile.NewReadCache(10))
	first, err := cached.Get(ctx, "elder", nil)
	if err != nil {
		t.Fatal(err)
	}
	first.Visits[0].Team[0], first.Referrals[0].Outcome = "changed", "changed"
	checkHistory(t, cached, t0)
}

// TestProfileMigratedFromBeforeHistory: a read model built by a binary
// from before the history (its tables at the nine earlier steps, rows and
// a checkpoint at the head of the log) is migrated and rebuilt at start:
// the history is complete and nothing is counted twice.
func TestProfileMigratedFromBeforeHistory(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	t0 := lonelyElder(t, env)
	proj := profile.New(env.Policies, env.Cal)
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, proj)
	if err != nil {
		t.Fatal(err)
	}
	const before = 9 // the profile's steps before issue 20
	sets := eng.Migrations()
	if sets[1].Owner != "readmodel:"+profile.Name || len(sets[1].Steps) <= before {
		t.Fatalf("migration sets %+v", sets)
	}
	sets[1].Steps = sets[1].Steps[:before]
	db := migrate.SQLite(env.DB)
	if env.Schema != "" {
		db = migrate.PostgresSQL(env.DB, env.Schema)
	}
	if err := migrate.Up(ctx, db, sets...); err != nil {
		t.Fatal(err)
	}
	head, err := env.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hi, lo := head.Hi, head.Lo
	for _, q := range []string{
		`INSERT INTO profile_households (household_id, address, address_norm, names_norm, community, grid, worker, class, category, risk,
			needs, resources, consent, archived, archive_reason, registered_at, last_visit_at, next_visit_due, visit_count, visits_refused,
			policy_version, version) VALUES ('elder', 'a', 'a', '||', 'c1', 'g1', 'w1', 'special', 'te_kun', 'yellow', '{}', '{}', 0, 0, '', 1, 1, 1, 3, 1, 'v', 4)`,
		`INSERT INTO projection_checkpoints (name, hi, lo, events) VALUES ('` + profile.Name + `', ?, ?, 100)`,
	} {
		args := []any{}
		if len(q) < 120 {
			args = []any{int64(hi), int64(lo)}
		}
		if _, err := env.DB.ExecContext(ctx, env.Dialect.Rebind(q), args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, profile.NewReader(env.DB, env.Dialect), t0)
}
