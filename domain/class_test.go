package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Seed 001 §2.3.3 and §4.1: the household class follows the assistance
// category and circumstances by the policy's rules; an override needs a
// reason and is an event.

func register(t *testing.T, pol *domain.Policy, id string, in domain.RegisterHousehold) (*domain.Household, []domain.Event, error) {
	t.Helper()
	h := domain.NewHousehold(id)
	in.Address, in.Community, in.Grid, in.ResponsibleWorker, in.Risk = "解放街1号", "幸福社区", "第3网格", "网格员小李", domain.RiskBlue
	evs, err := h.Register(meta(t, "网格员小李", "2026-01-05 09:00"), pol, in)
	if err == nil {
		for _, e := range evs {
			h.Apply(e)
		}
	}
	return h, evs, err
}

// 001 §2.3.3 重点家庭（低保户、特困人员、残疾人家庭等）: a 低保 household is key.
func TestSeed001_2_3_3_DiBaoHouseholdIsKey(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	for _, tc := range []struct {
		cat  domain.AssistanceCategory
		circ []domain.Circumstance
		want domain.HouseholdClass
	}{
		{domain.CategoryDiBao, nil, domain.ClassKey},
		{domain.CategoryTeKun, nil, domain.ClassKey},
		{domain.CategoryNone, []domain.Circumstance{domain.CircumstanceDisability}, domain.ClassKey},
		{domain.CategoryMarginal, nil, domain.ClassOrdinary},
		{domain.CategoryDiBao, []domain.Circumstance{domain.CircumstanceElderlyAlone}, domain.ClassSpecial}, // 特殊家庭（独居老人…）
		{domain.CategoryNone, []domain.Circumstance{domain.CircumstanceChildInDifficulty}, domain.ClassSpecial},
	} {
		h, evs, err := register(t, pol, "h-"+string(tc.cat), domain.RegisterHousehold{Category: tc.cat, Circumstances: tc.circ})
		if err != nil {
			t.Fatalf("%s %v: %v", tc.cat, tc.circ, err)
		}
		e := evs[0].(domain.HouseholdRegistered)
		if h.Class() != tc.want || e.ClassBy != domain.ClassByRule || !h.ClassByRule() {
			t.Errorf("%s %v: class %s by %q, want %s by rule", tc.cat, tc.circ, h.Class(), e.ClassBy, tc.want)
		}
	}
	// A 低保 household registered as ordinary is an override: it needs a reason.
	_, evs, err := register(t, pol, "h-low", domain.RegisterHousehold{Category: domain.CategoryDiBao, Class: domain.ClassOrdinary})
	fails(t, evs, err, "class_reason_required", domain.ErrRule)
	h, evs, err := register(t, pol, "h-low", domain.RegisterHousehold{Category: domain.CategoryDiBao, Class: domain.ClassOrdinary, ClassReason: "低保待复核，暂按普通家庭走访"})
	if err != nil || h.Class() != domain.ClassOrdinary || evs[0].(domain.HouseholdRegistered).ClassBy != domain.ClassByOverride {
		t.Fatalf("override: %v %+v", err, evs)
	}
	// A higher class than the rules ask for is the registrar's statement (the seed's lists end in 等).
	h, evs, _ = register(t, pol, "h-high", domain.RegisterHousehold{Category: domain.CategoryNone, Class: domain.ClassSpecial})
	if h.Class() != domain.ClassSpecial || evs[0].(domain.HouseholdRegistered).ClassBy != domain.ClassByStated {
		t.Fatalf("stated: %+v", evs)
	}
	// The first policy had no rules: the class is as stated.
	set, _ := domain.DefaultPolicySet()
	old, _ := set.Get("default-2026.1")
	if h, _, err := register(t, old, "h-old", domain.RegisterHousehold{Category: domain.CategoryDiBao, Class: domain.ClassOrdinary}); err != nil || h.Class() != domain.ClassOrdinary {
		t.Fatalf("old policy: %v", err)
	}
}

// 001 §4.1 moves 独居老人 and 困境儿童 into 重点; serious illness is 特殊.
func TestSeed001_4_1_ElderlyAloneIsKeyUnderTheAlternativeSchedule(t *testing.T) {
	alt := mustPolicy(t, domain.PresetAlt001Sec41)
	for circ, want := range map[domain.Circumstance]domain.HouseholdClass{
		domain.CircumstanceElderlyAlone: domain.ClassKey, domain.CircumstanceChildInDifficulty: domain.ClassKey,
		domain.CircumstanceSeriousIllness: domain.ClassSpecial, domain.CircumstanceSeriousMental: domain.ClassSpecial,
	} {
		if got, _ := alt.ClassFor(domain.CategoryNone, []domain.Circumstance{circ}); got != want {
			t.Errorf("%s: %s, want %s", circ, got, want)
		}
	}
}

// The class follows a change of category or circumstances, as an event; a
// person's override stands unless the rules ask for more.
func TestSeed001_2_3_3_ClassFollowsCategoryAndOverrideNeedsReason(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, err := register(t, pol, "h1", domain.RegisterHousehold{})
	if err != nil || h.Class() != domain.ClassOrdinary {
		t.Fatalf("register: %v %s", err, h.Class())
	}
	evs := do(t, h)(h.ChangeCategory(meta(t, "社区书记", "2026-02-01 10:00"), pol, domain.CategoryDiBao, "经审核纳入最低生活保障"))
	if len(evs) != 2 || h.Class() != domain.ClassKey {
		t.Fatalf("category → class: %+v", evs)
	}
	if c := evs[1].(domain.HouseholdClassChanged); c.ClassBy != domain.ClassByRule || c.Rule != "category di_bao" || c.PolicyVersion != pol.Version || c.Reason == "" {
		t.Fatalf("class change by rule: %+v", c)
	}
	// The visit clock follows the new class: key, once a month.
	if c := h.Clocks()[0]; c.HouseholdClass != domain.ClassKey {
		t.Fatalf("clock class %s", c.HouseholdClass)
	}
	evs = do(t, h)(h.ChangeCategory(meta(t, "社区书记", "2026-06-01 10:00"), pol, domain.CategoryNone, "收入超过低保标准，退出低保"))
	if len(evs) != 2 || h.Class() != domain.ClassOrdinary {
		t.Fatalf("leaves 低保 → ordinary by rule: %+v", evs)
	}
	// An override by a person needs a reason and is an event.
	evs, err = h.ChangeClass(meta(t, "社区书记", "2026-06-02 10:00"), pol, domain.ClassSpecial, "")
	fails(t, evs, err, "required", domain.ErrInvalid)
	evs = do(t, h)(h.ChangeClass(meta(t, "社区书记", "2026-06-02 10:00"), pol, domain.ClassSpecial, "家中突发变故，需每周探访"))
	if c := evs[0].(domain.HouseholdClassChanged); c.ClassBy != domain.ClassByOverride || h.ClassByRule() {
		t.Fatalf("override: %+v", c)
	}
	// Circumstances change; the rules ask for key, less than the override: it stands.
	evs = do(t, h)(h.ChangeCircumstances(meta(t, "社区书记", "2026-06-03 10:00"), pol, []domain.Circumstance{domain.CircumstanceDisability}, "家庭成员办理残疾证"))
	if len(evs) != 1 || h.Class() != domain.ClassSpecial || !slices.Equal(h.Circumstances(), []domain.Circumstance{domain.CircumstanceDisability}) {
		t.Fatalf("override stands: %+v %s", evs, h.Class())
	}
	// A person's lower class is raised when the rules ask for more.
	do(t, h)(h.ChangeClass(meta(t, "社区书记", "2026-06-04 10:00"), pol, domain.ClassOrdinary, "复核后按普通家庭走访"))
	evs = do(t, h)(h.ChangeCategory(meta(t, "社区书记", "2026-06-05 10:00"), pol, domain.CategoryTeKun, "认定为特困人员"))
	if len(evs) != 2 || h.Class() != domain.ClassKey || !h.ClassByRule() {
		t.Fatalf("raised by rule: %+v", evs)
	}
	evs, err = h.ChangeCircumstances(meta(t, "社区书记", "2026-06-06 10:00"), pol, []domain.Circumstance{"rich"}, "r")
	fails(t, evs, err, "invalid_circumstances", domain.ErrInvalid)
}

// 001 §2.3.3 重点家庭每月走访1次: once per calendar month, so a visit on
// January 31st leaves February due by its last day.
func TestSeed001_2_3_3_Jan31VisitLeavesFebruaryDue(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	cal := mustCalendar(t)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{Category: domain.CategoryDiBao})
	do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2026-01-31 17:00"), pol, evidence(domain.RecordVisit{VisitID: "v1", Team: []string{"网格员小李"},
		OccurredAt: at(t, "2026-01-31 16:00"), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted})))
	d, ok, err := pol.Deadline(cal, h.Clocks()[0])
	endFeb := at(t, "2026-02-28 23:59").Add(59*time.Second + 999999999)
	if err != nil || !ok || !d.Due.Equal(endFeb) {
		t.Fatalf("due %s, want %s (%v)", d.Due, endFeb, err)
	}
}

// "A phone call counts only where the policy says so": under the shipped
// policies only home visits restart the visit clock.
func TestSeed001_2_3_3_PhoneCallCountsOnlyWherePolicySays(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{})
	evs := do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2026-02-10 17:00"), pol, domain.RecordVisit{VisitID: "v1", Team: []string{"网格员小李"},
		OccurredAt: at(t, "2026-02-10 16:00"), Mode: domain.ModePhone, Outcome: domain.OutcomeCompleted}))
	if !evs[0].(domain.VisitRecorded).NotCounted || !h.Clocks()[0].Start.Equal(at(t, "2026-01-05 09:00")) {
		t.Fatalf("a phone call must not count: %+v %+v", evs[0], h.Clocks()[0])
	}
	phone := *pol
	phone.Version = "phone-ok"
	phone.VisitModes = map[domain.HouseholdClass][]domain.VisitMode{domain.ClassOrdinary: {domain.ModeHome, domain.ModePhone}}
	evs = do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2026-02-11 17:00"), &phone, domain.RecordVisit{VisitID: "v2", Team: []string{"网格员小李"},
		OccurredAt: at(t, "2026-02-11 16:00"), Mode: domain.ModePhone, Outcome: domain.OutcomeCompleted}))
	if evs[0].(domain.VisitRecorded).NotCounted || !h.Clocks()[0].Start.Equal(at(t, "2026-02-11 16:00")) {
		t.Fatalf("a phone call counts where the policy lists it: %+v", h.Clocks()[0])
	}
}

func TestPeriodBoundsAndLabels(t *testing.T) {
	loc := shanghai(t)
	tm := at(t, "2026-02-15 10:00") // a Sunday
	for _, tc := range []struct {
		p          domain.Period
		start, end string
		label      string
	}{
		{domain.PeriodWeek, "2026-02-09 00:00", "2026-02-16 00:00", "2026-W07"},
		{domain.PeriodMonth, "2026-02-01 00:00", "2026-03-01 00:00", "2026-02"},
		{domain.PeriodQuarter, "2026-01-01 00:00", "2026-04-01 00:00", "2026-Q1"},
		{domain.PeriodHalfYear, "2026-01-01 00:00", "2026-07-01 00:00", "2026-H1"},
		{domain.PeriodYear, "2026-01-01 00:00", "2027-01-01 00:00", "2026"},
	} {
		s, e := tc.p.Bounds(tm, loc)
		if !s.Equal(at(t, tc.start)) || !e.Equal(at(t, tc.end)) || tc.p.Label(tm, loc) != tc.label {
			t.Errorf("%s: %s–%s %s", tc.p, s, e, tc.p.Label(tm, loc))
		}
		p, ps, pe, err := domain.ParsePeriodLabel(tc.label, loc)
		if err != nil || p != tc.p || !ps.Equal(s) || !pe.Equal(e) {
			t.Errorf("parse %s: %s %s %s %v", tc.label, p, ps, pe, err)
		}
	}
	for _, bad := range []string{"", "2026-13", "2026-Q5", "2026-H3", "26", "2026-W60", "1999", "2026-02-01"} {
		if _, _, _, err := domain.ParsePeriodLabel(bad, loc); domain.CodeOf(err) != "invalid_period" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Issue 15 item 3: "with the period boundaries of the working-day calendar
// where the policy says so" (decision 0146). Under period_end: working_day a
// monthly household's visit is due by the end of the month's last working
// day: May 2026 ends on a Sunday, so Friday the 29th; February 2026 ends on
// Saturday the 28th, a make-up working day of the Spring Festival (调休), so
// the 28th itself; January 2027 has no official calendar loaded, so Monday
// to Friday counts and the deadline is provisional. A week without a
// working day (the Spring Festival week of 2026) keeps its calendar end.
// The shipped policies keep the calendar end.
func TestSeed001_2_3_3_PeriodEndsOnItsLastWorkingDayWherePolicySays(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	if pol.PeriodEnd != "" {
		t.Fatalf("shipped period_end %q", pol.PeriodEnd)
	}
	wd := *pol
	wd.Version, wd.PeriodEnd = "working-day-ends", domain.PeriodEndWorkingDay
	if err := wd.Validate(); err != nil {
		t.Fatal(err)
	}
	cal := mustCalendar(t)
	end := func(day string) time.Time { return at(t, day+" 23:59").Add(59*time.Second + 999999999) }
	for _, c := range []struct {
		class       domain.HouseholdClass
		start, want string
		provisional bool
	}{
		{domain.ClassKey, "2026-04-10 10:00", "2026-05-29", false},
		{domain.ClassKey, "2026-01-31 16:00", "2026-02-28", false},
		{domain.ClassKey, "2026-03-31 16:00", "2026-04-30", false},
		{domain.ClassKey, "2026-12-15 10:00", "2027-01-29", true},
		{domain.ClassSpecial, "2026-02-12 10:00", "2026-02-22", false}, // the week of 16–22 February: no working day
	} {
		clk := domain.Clock{Kind: domain.ClockVisitDue, Subject: "h1", Start: at(t, c.start), HouseholdClass: c.class, PolicyVersion: wd.Version}
		d, ok, err := wd.Deadline(cal, clk)
		if err != nil || !ok || !d.Due.Equal(end(c.want)) || d.Basis.IsProvisional() != c.provisional {
			t.Errorf("%s visited %s: due %s %+v (%v), want the end of %s, provisional %v", c.class, c.start, d.Due, d.Basis, err, c.want, c.provisional)
		}
	}
	clk := domain.Clock{Kind: domain.ClockVisitDue, Subject: "h1", Start: at(t, "2026-04-10 10:00"), HouseholdClass: domain.ClassKey, PolicyVersion: pol.Version}
	if d, _, err := pol.Deadline(cal, clk); err != nil || !d.Due.Equal(end("2026-05-31")) || d.Basis.Version != "" {
		t.Errorf("the shipped policy: due %s %+v (%v), want the calendar end of May", d.Due, d.Basis, err)
	}
	bad := wd
	bad.PeriodEnd = "holiday"
	if err := bad.Validate(); domain.CodeOf(err) != "invalid_policy" {
		t.Fatalf("unknown period_end: %v", err)
	}
}
