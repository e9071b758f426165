package domain_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// badIDs break the id rule (issue 13 items 6 and 14).
var badIDs = map[string]string{
	"empty":           "",
	"too long":        strings.Repeat("a", domain.MaxIDBytes+1),
	"long Chinese":    strings.Repeat("户", domain.MaxIDBytes/3+1),
	"space":           "a b",
	"ideographic sp.": "a\u3000b",
	"tab":             "a\tb",
	"NUL":             "a\x00b",
	"newline":         "a\nb",
	"U+202E":          "abc\u202Egpj.exe",
	"zero width":      "a\u200Bb",
	"BOM":             "\uFEFFa",
	"invalid UTF-8":   "a\xffb",
	"dot":             ".",
	"dot dot":         "..",
	"slash":           "a/b",
	"private use":     "a\uE000",
	"U+FFFD":          "a\uFFFDb",
	// Look-alikes (issue 13 item 14, decision 0078): each would be another
	// household than "ab1".
	"Cyrillic a":       "\u0430b1",
	"Greek omicron":    "h\u03bfme",
	"full-width":       "\uff41b1",
	"full-width digit": "ab\uff11",
	"Kangxi radical":   "\u2f00\u53f7",
	"compat ideograph": "\uf900",
	"accented Latin":   "cafe\u0301",
}

var goodIDs = []string{"h1", "demo-zhang", "竹园村-0001", "0192d5a8-7c3b-7e21-a3f1-6b2f9c1d4e55", "a.b", "...", strings.Repeat("a", domain.MaxIDBytes), strings.Repeat("户", domain.MaxIDBytes/3)}

func TestIDRule(t *testing.T) {
	for name, id := range badIDs {
		err := domain.CheckID("household_id", id)
		if domain.ValidID(id) || err == nil {
			t.Errorf("%s: %q accepted", name, id)
			continue
		}
		var de *domain.Error
		if !errors.As(err, &de) || de.Kind != domain.ErrInvalid || de.Code != "invalid_id" || de.Field != "household_id" || de.MessageZH == "" {
			t.Errorf("%s: %#v", name, err)
		}
		if len(de.Message) > 600 || len(de.MessageZH) > 600 {
			t.Errorf("%s: the message quotes too much: %d bytes", name, len(de.Message))
		}
	}
	for _, id := range goodIDs {
		if err := domain.CheckID("id", id); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	if !strings.Contains(domain.IDRule, strconv.Itoa(domain.MaxIDBytes)) || !strings.Contains(domain.IDRuleZH, strconv.Itoa(domain.MaxIDBytes)) {
		t.Error("IDRule does not state MaxIDBytes")
	}
}

// Issue 13 item 6: the domain refuses ids that break the rule, whoever calls it.
func TestCommandsRefuseBadIDs(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	m := meta(t, "李四", "2026-03-02 09:00")
	for name, id := range badIDs {
		if id == "" {
			continue
		}
		h := domain.NewHousehold(id)
		_, err := h.Register(m, pol, domain.RegisterHousehold{Address: "1号", Community: "c", Grid: "g", ResponsibleWorker: "w", Class: domain.ClassOrdinary, Risk: domain.RiskGreen})
		if domain.CodeOf(err) != "invalid_id" {
			t.Errorf("register %s: %v", name, err)
		}
		p := domain.NewProblem("p1")
		_, err = p.Report(m, pol, domain.ReportProblem{Number: "WT2026000001", HouseholdID: id, Description: "d", Category: domain.ProblemService,
			HandlingClass: domain.HandlingImmediate, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary})
		if domain.CodeOf(err) != "invalid_id" {
			t.Errorf("report for household %s: %v", name, err)
		}
	}
	h := domain.NewHousehold("h1")
	do(t, h)(h.Register(m, pol, domain.RegisterHousehold{Address: "1号", Community: "c", Grid: "g", ResponsibleWorker: "w", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}))
	if _, err := h.AddMember(m, "a/b", domain.MemberDetails{Name: "张三", Relation: "本人"}); domain.CodeOf(err) != "invalid_id" {
		t.Errorf("member id a/b: %v", err)
	}
	v := domain.RecordVisit{VisitID: "v\u202E1", Team: []string{"w"}, OccurredAt: m.At, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted}
	if _, err := h.RecordVisit(m, pol, v); domain.CodeOf(err) != "invalid_id" {
		t.Errorf("visit id with U+202E: %v", err)
	}
	v.VisitID, v.ProblemIDs = "v1", []string{".."}
	if _, err := h.RecordVisit(m, pol, v); domain.CodeOf(err) != "invalid_id" {
		t.Errorf("problem id ..: %v", err)
	}
}

// Issue 13 item 7: times outside 1678–2262 wrapped the read models' int64
// nanoseconds (a deadline extended to 2600 showed as due in 2015). Every
// instant the domain accepts lies within 2000-01-01 and 2100-12-31.
func TestInstantsOutsideTheRangeAreRefused(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	cal := mustCalendar(t)
	m := meta(t, "李四", "2026-03-02 09:00")
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{domain.EarliestInstant, true}, {domain.LatestInstant, true},
		{domain.EarliestInstant.Add(-time.Nanosecond), false}, {domain.LatestInstant.Add(time.Nanosecond), false},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), false}, {time.Date(2600, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		err := domain.CheckInstant("at", tc.at)
		if (err == nil) != tc.ok {
			t.Errorf("CheckInstant(%s) = %v", tc.at, err)
		}
		if err != nil && (domain.CodeOf(err) != "time_out_of_range" || !errors.Is(err, domain.ErrInvalid)) {
			t.Errorf("CheckInstant(%s) = %#v", tc.at, err)
		}
	}

	h := domain.NewHousehold("h1")
	reg := domain.RegisterHousehold{Address: "1号", Community: "c", Grid: "g", ResponsibleWorker: "w", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}
	old := domain.Meta{Actor: "李四", At: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)}
	if _, err := h.Register(old, pol, reg); domain.CodeOf(err) != "time_out_of_range" {
		t.Errorf("a command dated 1999: %v", err)
	}
	do(t, h)(h.Register(m, pol, reg))
	v := domain.RecordVisit{VisitID: "v1", Team: []string{"w"}, OccurredAt: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted}
	if _, err := h.RecordVisit(m, pol, v); domain.CodeOf(err) != "time_out_of_range" {
		t.Errorf("a visit dated 1600: %v", err)
	}
	v.OccurredAt, v.CheckIn = m.At, &domain.CheckIn{At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := h.RecordVisit(m, pol, v); domain.CodeOf(err) != "time_out_of_range" {
		t.Errorf("a check-in dated 2300: %v", err)
	}

	p := domain.NewProblem("p1")
	do(t, p)(p.Report(m, pol, domain.ReportProblem{Number: "WT2026000001", HouseholdID: "h1", Description: "d", Category: domain.ProblemService,
		HandlingClass: domain.HandlingImmediate, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary}))
	do(t, p)(p.Assign(m, cal, domain.AssignProblem{To: "w", Reason: "r", TimeLimit: domain.Span{N: 3, Unit: domain.UnitDay}}))
	if _, err := p.ExtendDeadline(m, time.Date(2600, 1, 1, 0, 0, 0, 0, time.UTC), "later"); domain.CodeOf(err) != "time_out_of_range" {
		t.Errorf("a deadline extended to 2600: %v", err)
	}
	q := domain.NewProblem("p2")
	do(t, q)(q.Report(m, pol, domain.ReportProblem{Number: "WT2026000002", HouseholdID: "h1", Description: "d", Category: domain.ProblemService,
		HandlingClass: domain.HandlingImmediate, Colour: domain.ColourGreen, Urgency: domain.UrgencyOrdinary}))
	if _, err := q.Assign(m, cal, domain.AssignProblem{To: "w", Reason: "r", TimeLimit: domain.Span{N: 12 * 200, Unit: domain.UnitMonth}}); domain.CodeOf(err) != "time_out_of_range" {
		t.Errorf("a time limit of 200 years: %v", err)
	}
}
