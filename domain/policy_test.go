package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

func TestShippedPolicies(t *testing.T) {
	def := mustPolicy(t, domain.PresetDefault)
	alt := mustPolicy(t, domain.PresetAlt001Sec41)
	// 001 §2.3.3: 普通家庭每季度走访1次，重点家庭每月走访1次，特殊家庭每周走访1次;
	// 001 §4.1: 重点家庭每季度，普通家庭每半年，特殊家庭每月.
	want := map[*domain.Policy]map[domain.HouseholdClass]domain.Period{
		def: {domain.ClassOrdinary: domain.PeriodQuarter, domain.ClassKey: domain.PeriodMonth, domain.ClassSpecial: domain.PeriodWeek},
		alt: {domain.ClassOrdinary: domain.PeriodHalfYear, domain.ClassKey: domain.PeriodQuarter, domain.ClassSpecial: domain.PeriodMonth},
	}
	for p, cad := range want {
		for c, per := range cad {
			if p.VisitCadence[c] != per {
				t.Errorf("%s: %s visited once per %s, want %s", p.Name, c, p.VisitCadence[c], per)
			}
			if p.VisitCounts(c, domain.ModePhone) || !p.VisitCounts(c, domain.ModeHome) {
				t.Errorf("%s: %s: only home visits should count", p.Name, c)
			}
		}
	}
	set, err := domain.DefaultPolicySet()
	if err != nil || len(set.Versions()) != 7 || set.Current().Version != def.Version {
		t.Fatalf("shipped set %v: %v", set.Versions(), err)
	}
	if old, err := set.Get("default-2026.1"); err != nil || old.VisitFrequency[domain.ClassKey] != domain.Months(1) || old.HasClassRules() {
		t.Fatalf("history: %+v %v", old, err)
	}
	if def.Version == alt.Version || def.Version == "" {
		t.Fatalf("versions %q %q", def.Version, alt.Version)
	}
	if def.ReferralAcceptance != domain.WorkingDays(3) || def.VisitEntry != domain.Hours(24) || def.LongTermFollowUp != domain.Months(1) {
		t.Fatalf("default: %+v", def)
	}
	if def.Response.ByHandlingClass[domain.HandlingImmediate] != domain.Hours(24) || def.Response.ByUrgency[domain.UrgencyOrdinary] != domain.WorkingDays(3) ||
		!def.Response.ByColour[domain.ColourGreen].IsZero() {
		t.Fatalf("response rules: %+v", def.Response)
	}
	if _, err := domain.ShippedPolicy("nope"); domain.CodeOf(err) != "policy_not_found" {
		t.Fatalf("unknown preset: %v", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	base := `version: v9
visit_frequency: {ordinary: 3 months, key: 1 month, special: 1 week}
visit_entry: 24 hours
response: {by_urgency: {urgent: 24 hours}}
long_term_follow_up: 1 month
referral_acceptance: 3 working_days
approaching: {short_max: 24 hours, before_short: 4 hours, before_long: 1 day}
`
	if _, err := domain.ParsePolicy([]byte(base)); err != nil {
		t.Fatalf("base: %v", err)
	}
	tests := []struct {
		name, from, to, field string
	}{
		{"no version", "version: v9", "version: ''", "version"},
		{"missing class", "key: 1 month, ", "", "visit_frequency.key"},
		{"unknown class", "special: 1 week", "special: 1 week, vip: 1 day", "visit_frequency.vip"},
		{"bad span", "1 month, special", "1 fortnight, special", ""},
		{"zero span", "3 months, key", "0 months, key", ""},
		{"unknown field", "visit_entry:", "visit_entri:", ""},
		{"working-day warning", "before_long: 1 day", "before_long: 1 working_day", "approaching.before_long"},
		{"unknown urgency", "urgent: 24 hours", "urgentish: 24 hours", "response.by_urgency.urgentish"},
		{"no acceptance", "referral_acceptance: 3 working_days", "", "referral_acceptance"},
		{"visit entry in working days", "visit_entry: 24 hours", "visit_entry: 1 working_day", "visit_entry"},
		{"unknown upkeep period", "visit_entry: 24 hours", "visit_entry: 24 hours\nfile_upkeep: {needs_update: fortnight}", "file_upkeep.needs_update"},
		{"handling target above 1", "visit_entry: 24 hours", "visit_entry: 24 hours\nhandling_targets: {long_term_satisfaction: 1.5}", "handling_targets.long_term_satisfaction"},
		{"handling target without a limit", "visit_entry: 24 hours", "visit_entry: 24 hours\nhandling_targets: {immediate: 1.0}", "handling_targets.immediate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.ParsePolicy([]byte(strings.Replace(base, tt.from, tt.to, 1)))
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != "invalid_policy" || !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
			if tt.field != "" && de.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", de.Field, tt.field, err)
			}
			if de.MessageZH == "" {
				t.Fatal("no Chinese message")
			}
		})
	}
	// JSON is accepted too.
	js := `{"version":"j1","visit_frequency":{"ordinary":"3 months","key":"1 month","special":"1 week"},"visit_entry":"24 hours",
	"response":{},"long_term_follow_up":"1 month","referral_acceptance":"3 working_days","approaching":{"short_max":"24 hours"}}`
	if p, err := domain.ParsePolicy([]byte(js)); err != nil || p.Version != "j1" {
		t.Fatalf("json: %v", err)
	}
}

func TestSpan(t *testing.T) {
	for in, want := range map[string]domain.Span{
		"3 working_days": domain.WorkingDays(3), "1 working_day": domain.WorkingDays(1), "24 hours": domain.Hours(24),
		"1 month": domain.Months(1), "6 months": domain.Months(6), "2 weeks": domain.Weeks(2), "3 days": domain.Days(3), "": {},
	} {
		got, err := domain.ParseSpan(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseSpan(%q) = %v %v (%q)", in, got, err, got.String())
		}
	}
	for _, bad := range []string{"3", "x days", "0 days", "-1 hours", "3 fortnights", "3days"} {
		if _, err := domain.ParseSpan(bad); err == nil {
			t.Errorf("ParseSpan(%q) accepted", bad)
		}
	}
}

func TestDeadlines(t *testing.T) {
	def := mustPolicy(t, domain.PresetDefault)
	alt := mustPolicy(t, domain.PresetAlt001Sec41)
	cal := mustCalendar(t)
	endOf := func(day string) time.Time { return at(t, day+" 23:59").Add(59*time.Second + 999999999) }
	resp := func(h domain.HandlingClass, c domain.Colour, u domain.Urgency, start string) domain.Clock {
		return domain.Clock{Kind: domain.ClockProblemResponse, Start: at(t, start), HandlingClass: h, Colour: c, Urgency: u}
	}
	tests := []struct {
		name          string
		pol           *domain.Policy
		clock         domain.Clock
		due, approach time.Time
	}{
		{"immediate red urgent: 24 hours", def, resp(domain.HandlingImmediate, domain.ColourRed, domain.UrgencyUrgent, "2026-02-13 10:00"),
			at(t, "2026-02-14 10:00"), at(t, "2026-02-14 06:00")},
		{"yellow: 3 days beats 3 working days over spring festival", def, resp(domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-02-13 10:00"),
			at(t, "2026-02-16 10:00"), at(t, "2026-02-15 10:00")},
		{"green long-term ordinary: 3 working days over mid-autumn", def, resp(domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-09-24 11:00"),
			endOf("2026-09-30"), endOf("2026-09-29")},
		{"coordinated green ordinary over spring festival", def, resp(domain.HandlingCoordinated, domain.ColourGreen, domain.UrgencyOrdinary, "2026-02-12 09:00"),
			endOf("2026-02-24"), endOf("2026-02-23")},
		{"referral acceptance over national day", def, domain.Clock{Kind: domain.ClockReferralAcceptance, Start: at(t, "2026-09-30 11:00")},
			endOf("2026-10-10"), endOf("2026-10-09")},
		{"long-term follow-up monthly", def, domain.Clock{Kind: domain.ClockProblemFollowUp, Start: at(t, "2026-01-31 10:00")},
			at(t, "2026-03-03 10:00"), at(t, "2026-03-02 10:00")},
		// Cadence by calendar period (001 §2.3.3): a visit covers its period; the next period is due by its end.
		{"special household once a week (Mon–Sun)", def, domain.Clock{Kind: domain.ClockVisitDue, Start: at(t, "2026-03-02 09:00"), HouseholdClass: domain.ClassSpecial},
			endOf("2026-03-15"), endOf("2026-03-14")},
		{"key household once a month", def, domain.Clock{Kind: domain.ClockVisitDue, Start: at(t, "2026-03-02 09:00"), HouseholdClass: domain.ClassKey},
			endOf("2026-04-30"), endOf("2026-04-29")},
		{"key household visited Jan 31: February is due by Feb 28, not Mar 3", def, domain.Clock{Kind: domain.ClockVisitDue, Start: at(t, "2026-01-31 16:00"), HouseholdClass: domain.ClassKey},
			endOf("2026-02-28"), endOf("2026-02-27")},
		{"ordinary household once a quarter", def, domain.Clock{Kind: domain.ClockVisitDue, Start: at(t, "2026-03-02 09:00"), HouseholdClass: domain.ClassOrdinary},
			endOf("2026-06-30"), endOf("2026-06-29")},
		{"001 §4.1: ordinary once a half-year", alt, domain.Clock{Kind: domain.ClockVisitDue, Start: at(t, "2026-03-02 09:00"), HouseholdClass: domain.ClassOrdinary},
			endOf("2026-12-31"), endOf("2026-12-30")},
		{"001 §4.1: key once a quarter", alt, domain.Clock{Kind: domain.ClockVisitDue, Start: at(t, "2026-03-31 09:00"), HouseholdClass: domain.ClassKey},
			endOf("2026-06-30"), endOf("2026-06-29")},
		{"explicit due (time limit)", def, domain.Clock{Kind: domain.ClockProblemResolution, Start: at(t, "2026-03-02 09:00"), Due: at(t, "2026-03-02 15:00")},
			at(t, "2026-03-02 15:00"), at(t, "2026-03-02 11:00")},
		{"approaching never before start", def, domain.Clock{Kind: domain.ClockProblemResolution, Start: at(t, "2026-03-02 09:00"), Due: at(t, "2026-03-02 10:00")},
			at(t, "2026-03-02 10:00"), at(t, "2026-03-02 09:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok, err := tt.pol.Deadline(cal, tt.clock)
			if err != nil || !ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if !d.Due.Equal(tt.due) || !d.Approaching.Equal(tt.approach) {
				t.Fatalf("due %s approaching %s; want %s, %s", d.Due, d.Approaching, tt.due, tt.approach)
			}
		})
	}

	// No rule applies: no deadline.
	p := *def
	p.Response.ByUrgency = nil
	if _, ok, err := p.Deadline(cal, resp(domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-02 09:00")); ok || err != nil {
		t.Fatalf("want no deadline, got ok=%v err=%v", ok, err)
	}
	// A year without calendar data gives a provisional deadline, never a silent guess.
	d, ok, err := def.Deadline(cal, domain.Clock{Kind: domain.ClockReferralAcceptance, Start: at(t, "2026-12-30 10:00")})
	if err != nil || !ok || !d.Due.Equal(time.Date(2027, 1, 4, 23, 59, 59, 999999999, shanghai(t))) || !d.Basis.IsProvisional() || d.Basis.Provisional[0] != 2027 {
		t.Fatalf("uncovered year: %+v ok=%v err=%v", d, ok, err)
	}
	if en, zh := d.Basis.Note(); en != "provisional: the 2027 holiday calendar is not yet loaded" || zh != "暂定：2027年节假日安排尚未导入" {
		t.Fatalf("note %q / %q", en, zh)
	}
}

// A clock started under an old policy keeps its deadline after the policy changes.
func TestPolicyVersionReplay(t *testing.T) {
	cal := mustCalendar(t)
	shipped, err := domain.DefaultPolicySet()
	if err != nil {
		t.Fatal(err)
	}
	old, err := shipped.Get("default-2026.1") // the rolling interval of the first policy
	if err != nil {
		t.Fatal(err)
	}
	next := *old
	next.Version = "default-2027.1"
	next.VisitFrequency = map[domain.HouseholdClass]domain.Span{domain.ClassOrdinary: domain.Months(6), domain.ClassKey: domain.Months(2), domain.ClassSpecial: domain.Weeks(2)}
	set, err := domain.NewPolicySet(&next, old)
	if err != nil {
		t.Fatal(err)
	}
	if set.Current().Version != "default-2027.1" || len(set.Versions()) != 2 {
		t.Fatalf("set: %v", set.Versions())
	}
	c := domain.Clock{Kind: domain.ClockVisitDue, Start: at(t, "2026-03-02 09:00"), HouseholdClass: domain.ClassSpecial, PolicyVersion: old.Version}
	d, _, err := set.Deadline(cal, c)
	if err != nil || !d.Due.Equal(at(t, "2026-03-09 09:00")) {
		t.Fatalf("old clock: %s %v", d.Due, err)
	}
	c.PolicyVersion = next.Version
	if d, _, _ := set.Deadline(cal, c); !d.Due.Equal(at(t, "2026-03-16 09:00")) {
		t.Fatalf("new clock: %s", d.Due)
	}
	c.PolicyVersion = "ancient"
	if _, _, err := set.Deadline(cal, c); domain.CodeOf(err) != "policy_version_unknown" || !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := domain.NewPolicySet(old, old); domain.CodeOf(err) != "invalid_policy" {
		t.Fatalf("duplicate version: %v", err)
	}
}

func TestDeadlinePending(t *testing.T) {
	d := domain.Deadline{Due: at(t, "2026-03-02 18:00"), Approaching: at(t, "2026-03-02 14:00")}
	for _, tt := range []struct {
		now        string
		approached bool
		want       domain.AlertStage
	}{
		{"2026-03-02 13:59", false, ""},
		{"2026-03-02 14:00", false, domain.StageApproaching},
		{"2026-03-02 15:00", true, ""},
		{"2026-03-02 18:00", true, ""},
		{"2026-03-02 18:01", true, domain.StageBreached},
		{"2026-03-02 18:01", false, domain.StageBreached},
	} {
		d.Approached = tt.approached
		got, ok := d.Pending(at(t, tt.now))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Pending(%s, approached=%v) = %q, want %q", tt.now, tt.approached, got, tt.want)
		}
	}
	d.Breached = true
	if _, ok := d.Pending(at(t, "2026-03-03 10:00")); ok {
		t.Error("breach recorded twice")
	}
}
