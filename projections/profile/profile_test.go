package profile_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/profile"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"王 秀英":    "王秀英",
		"和平路１２号":  "和平路12号",
		"ＡＢＣ　路":   "abc路",
		"阿卜杜·热合曼": "阿卜杜热合曼",
	} {
		if got := profile.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProfile(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	keys := sim.NewKeys()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, env.Loc)

	// 张奶奶, 78, lives alone (004 §2.2).
	h := domain.NewHousehold("zhang")
	hs := domain.HouseholdStream("zhang")
	m := testenv.Meta("w1", domain.RoleGridWorker, t0)
	env.Do(t, hs, m)(h.Register(m, pol, domain.RegisterHousehold{Address: "和平路１２号３０１室", Community: "c-he", Grid: "c-he-g1",
		ResponsibleWorker: "w1", Class: domain.ClassSpecial, Category: domain.CategoryTeKun, Risk: domain.RiskYellow}))
	env.Load(t, hs, h)
	env.Do(t, hs, m)(h.RecordConsent(m, true, "visits", ""))
	env.Load(t, domain.HouseholdStream("zhang"), domain.NewHousehold("zhang"))
	h = domain.NewHousehold("zhang")
	env.Load(t, hs, h)
	phone, _ := domain.SealString(context.Background(), keys, "zhang", "13900001111")
	env.Do(t, hs, m)(h.AddMember(m, "m1", domain.MemberDetails{Name: "张 桂兰", Relation: "本人", BirthDate: "1948-05-01", Phone: phone}))
	h = domain.NewHousehold("zhang")
	env.Load(t, hs, h)
	visitAt := t0.Add(48 * time.Hour)
	m = testenv.Meta("w1", domain.RoleGridWorker, visitAt.Add(2*time.Hour))
	env.Do(t, hs, m)(h.RecordVisit(m, pol, testenv.Evidence(m.Actor, domain.RecordVisit{VisitID: "v1", Team: []string{"w1"}, OccurredAt: visitAt,
		Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted, ProblemIDs: []string{"p1"}})))
	p := domain.NewProblem("p1")
	env.Do(t, domain.ProblemStream("p1"), m)(p.Report(m, pol, domain.ReportProblem{Number: "WT2026000001", HouseholdID: "zhang",
		VisitID: "v1", Description: "需要紧急呼叫按钮", Category: domain.ProblemService, HandlingClass: domain.HandlingCoordinated,
		Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	r := domain.NewReferral("r1")
	env.Do(t, domain.ReferralStream("r1"), m)(r.Request(m, pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "zhang",
		Level: domain.LevelCommunity, To: "民政局", Request: "申请紧急呼叫设备"}))
	p2 := domain.NewProblem("p2")
	env.Do(t, domain.ProblemStream("p2"), m)(p2.Report(m, pol, domain.ReportProblem{Number: "WT2026000002", HouseholdID: "zhang",
		Description: "孤独", Category: domain.ProblemPsychological, HandlingClass: domain.HandlingImmediate,
		Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary}))
	env.Load(t, domain.ProblemStream("p2"), p2)
	m = testenv.Meta("w1", domain.RoleGridWorker, visitAt.Add(5*time.Hour))
	env.Do(t, domain.ProblemStream("p2"), m)(p2.Resolve(m, "安排志愿者探访", nil))
	p2 = domain.NewProblem("p2")
	env.Load(t, domain.ProblemStream("p2"), p2)
	env.Do(t, domain.ProblemStream("p2"), m)(p2.RateSatisfaction(m, 4, ""))

	// 李大爷: a member without any sensitive field.
	li := domain.NewHousehold("li")
	ls := domain.HouseholdStream("li")
	env.Do(t, ls, m)(li.Register(m, pol, domain.RegisterHousehold{Address: "和平路14号", Community: "c-li", Grid: "c-li-g1",
		ResponsibleWorker: "w1", Class: domain.ClassSpecial, Category: domain.CategoryTeKun, Risk: domain.RiskYellow}))
	li = domain.NewHousehold("li")
	env.Load(t, ls, li)
	env.Do(t, ls, m)(li.AddMember(m, "m1", domain.MemberDetails{Name: "李 建国", Relation: "本人", BirthDate: "1950-01-01"}))

	if _, err := sim.Write(ctx, env.Store, sim.Config{Households: 40, Seed: 3, Communities: 4}); err != nil {
		t.Fatal(err)
	}
	prof := profile.New(env.Policies, env.Cal)
	prof.SetOpener(keys) // the town seals the class (decision 0148): the next visit due opens it
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 100}, prof)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rd := profile.NewReader(env.DB, env.Dialect)

	got, err := rd.Get(ctx, "zhang", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 1 || got.Members[0].Name != "张 桂兰" {
		t.Fatalf("members = %+v", got.Members)
	}
	if ph := got.Members[0].Phone; !ph.Given || !ph.Masked || ph.Value != "" || ph.String() != "***" {
		t.Errorf("masked phone = %+v", ph)
	}
	if got.Members[0].IDNumber.Given {
		t.Errorf("id number not given but shown as given")
	}
	if got.Class != domain.ClassSpecial || got.Category != domain.CategoryTeKun || got.Risk != domain.RiskYellow || !got.Consent {
		t.Errorf("profile = %+v", got.Summary)
	}
	if got.VisitCount != 1 || !got.LastVisit.Equal(visitAt) || !got.NextVisitDue.Equal(nextWeekEnd(visitAt)) {
		t.Errorf("visits: count %d last %v next %v", got.VisitCount, got.LastVisit, got.NextVisitDue)
	}
	if got.OpenProblems != 1 || len(got.ProblemsOpen) != 1 || got.ProblemsOpen[0].ID != "p1" || len(got.Problems) != 2 {
		t.Errorf("problems: %+v", got.Problems)
	}
	if len(got.ReferralsOpen) != 1 || got.ReferralsOpen[0].To != "民政局" || got.Summary.OpenReferrals != 1 {
		t.Errorf("referrals: %+v", got.ReferralsOpen)
	}
	if got.Satisfaction != 4 || got.Rated != 1 {
		t.Errorf("satisfaction %v rated %d", got.Satisfaction, got.Rated)
	}

	recorded := 0
	got, err = rd.Get(ctx, "zhang", &profile.Reveal{Opener: keys, Record: func(context.Context, string) error { recorded++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if ph := got.Members[0].Phone; ph.Value != "13900001111" || ph.Masked || recorded != 1 {
		t.Errorf("revealed phone = %+v (recorded %d)", ph, recorded)
	}
	if _, err := rd.Get(ctx, "zhang", &profile.Reveal{Opener: keys, Record: func(context.Context, string) error { return errors.New("audit log down") }}); err == nil {
		t.Error("a failed read record still revealed the data")
	}
	keys.Erase("zhang")
	got, err = rd.Get(ctx, "zhang", &profile.Reveal{Opener: keys})
	if err != nil {
		t.Fatal(err)
	}
	if ph := got.Members[0].Phone; !ph.Erased || ph.Value != "" {
		t.Errorf("erased phone = %+v", ph)
	}
	// Nothing sensitive shown: no read of sensitive data recorded.
	recorded = 0
	got, err = rd.Get(ctx, "li", &profile.Reveal{Opener: keys, Record: func(context.Context, string) error { recorded++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 1 || got.Members[0].Phone.Given || recorded != 0 {
		t.Errorf("household without sensitive fields: members %+v, recorded %d", got.Members, recorded)
	}
	// Get's summary agrees with List's for every household.
	everyone, err := rd.List(ctx, profile.Filter{IncludeArchived: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range everyone {
		g, err := rd.Get(ctx, s.HouseholdID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if g.Summary != s {
			t.Errorf("Get %s summary = %+v, List = %+v", s.HouseholdID, g.Summary, s)
		}
	}
	if _, err := rd.Get(ctx, "nobody", nil); !errors.Is(err, profile.ErrNotFound) {
		t.Errorf("missing household: %v", err)
	}

	// Filters.
	list := func(f profile.Filter) []profile.Summary {
		t.Helper()
		f.Limit = 1000
		out, err := rd.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := list(profile.Filter{IncludeArchived: true})
	if len(all) != 42 {
		t.Fatalf("all households: %d", len(all))
	}
	perCommunity := map[string]int{}
	perRisk := map[domain.RiskLevel]int{}
	for _, s := range list(profile.Filter{}) {
		perCommunity[s.Community]++
		perRisk[s.Risk]++
	}
	for c, n := range perCommunity {
		if got := list(profile.Filter{Community: c}); len(got) != n {
			t.Errorf("community %s: %d, want %d", c, len(got), n)
		}
	}
	for rk, n := range perRisk {
		for _, s := range list(profile.Filter{Risk: rk}) {
			if s.Risk != rk {
				t.Errorf("risk filter %s returned %s", rk, s.Risk)
			}
		}
		if got := list(profile.Filter{Risk: rk}); len(got) != n {
			t.Errorf("risk %s: %d, want %d", rk, len(got), n)
		}
	}
	if got := list(profile.Filter{Community: "c-he", Worker: "w1", Class: domain.ClassSpecial}); len(got) != 1 || got[0].HouseholdID != "zhang" {
		t.Errorf("scoped filter: %+v", got)
	}
	// The town's classes are sealed (decision 0148): the column holds
	// tokens, and the class filter opens them in Go, paging over the
	// matches; without the key vault a sealed class matches nothing.
	perClass := map[domain.HouseholdClass][]string{}
	sealed := 0
	for _, s := range list(profile.Filter{}) {
		c := s.Class
		if domain.IsSealedText(string(c)) {
			sealed++
			c = domain.HouseholdClass(domain.ShownText(ctx, keys, string(c)))
		}
		perClass[c] = append(perClass[c], s.HouseholdID)
	}
	if sealed < 35 || len(perClass[domain.ClassKey]) == 0 || len(perClass[domain.ClassSpecial]) < 2 {
		t.Fatalf("the town's classes: %d sealed, per class %v", sealed, perClass)
	}
	for c, want := range perClass {
		if got := list(profile.Filter{Class: c, Opener: keys}); !slices.Equal(ids(got), want) {
			t.Errorf("class %s: %v, want %v", c, ids(got), want)
		}
		var paged []string
		for off := 0; ; off += 2 {
			page, err := rd.List(ctx, profile.Filter{Class: c, Opener: keys, Limit: 2, Offset: off})
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, ids(page)...)
			if len(page) < 2 {
				break
			}
		}
		if !slices.Equal(paged, want) {
			t.Errorf("class %s by pages of 2: %v, want %v", c, paged, want)
		}
	}
	if got := list(profile.Filter{Class: domain.ClassOrdinary}); len(got) != 0 {
		t.Errorf("without the key vault a sealed class matched: %v", ids(got))
	}
	keys.Erase(perClass[domain.ClassKey][0])
	if got := list(profile.Filter{Class: domain.ClassKey, Opener: keys}); slices.Contains(ids(got), perClass[domain.ClassKey][0]) || len(got) != len(perClass[domain.ClassKey])-1 {
		t.Errorf("after an erasure the class filter still finds the household: %v", ids(got))
	}
	for _, q := range []string{"张桂兰", "张 桂", "12号", "和平路１２"} {
		found := false
		for _, s := range list(profile.Filter{Search: q}) {
			found = found || s.HouseholdID == "zhang"
		}
		if !found {
			t.Errorf("search %q did not find 张桂兰's household", q)
		}
	}
	if got := list(profile.Filter{Search: "100%"}); len(got) != 0 {
		t.Errorf("search with a LIKE wildcard matched %d households", len(got))
	}
	if _, err := rd.List(ctx, profile.Filter{Overdue: true}); !errors.Is(err, profile.ErrInvalidFilter) {
		t.Errorf("overdue without now: %v", err)
	}
	overdue := func(now time.Time) bool {
		for _, s := range list(profile.Filter{Overdue: true, Now: now}) {
			if s.HouseholdID == "zhang" {
				return true
			}
		}
		return false
	}
	// Visited Wed 4 March: once a week, the next week (9–15 March) is due by its end.
	if overdue(visitAt.AddDate(0, 0, 11)) || !overdue(visitAt.AddDate(0, 0, 12)) {
		t.Error("overdue filter does not follow the next visit due (once a week for a special household)")
	}
	if n := len(list(profile.Filter{Overdue: true, Now: time.Date(2027, 6, 1, 0, 0, 0, 0, env.Loc)})); n != len(list(profile.Filter{})) {
		t.Errorf("a year later %d households are overdue, want all %d active", n, len(list(profile.Filter{})))
	}
}

// nextWeekEnd is the last instant of the week after t's (a special household
// is visited once a week, Monday to Sunday, 001 §2.3.3).
func nextWeekEnd(t time.Time) time.Time {
	_, end := domain.PeriodWeek.Bounds(t, t.Location())
	return end.AddDate(0, 0, 7).Add(-time.Nanosecond)
}

func ids(ss []profile.Summary) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.HouseholdID)
	}
	return out
}
