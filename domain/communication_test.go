package domain_test

import (
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// Seed 001 §6.2: 溝通不暢風險通過居民滿意度調查和走訪記錄分析評估，若居民拒絕配合率
// 超過20%，或溝通無效案例占比超過15%，則風險等級為"高". A completed visit records
// that its communication was ineffective, with a reason from a closed list;
// a refusal or nobody at home had no conversation to judge; a reason goes
// with "ineffective" only and is required by it (decision 0145).
func TestSeed001_6_2_VisitRecordsIneffectiveCommunication(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	h, _, _ := register(t, pol, "h1", domain.RegisterHousehold{})
	visit := func(id string, outcome domain.VisitOutcome, c domain.Communication, r domain.CommunicationReason) domain.RecordVisit {
		return domain.RecordVisit{VisitID: id, Team: []string{"网格员小李"}, OccurredAt: at(t, "2026-03-10 10:00"), Mode: domain.ModeHome,
			Outcome: outcome, Communication: c, CommunicationReason: r}
	}
	m := meta(t, "网格员小李", "2026-03-10 12:00")
	evs := do(t, h)(h.RecordVisit(m, pol, visit("v1", domain.OutcomeCompleted, domain.CommunicationIneffective, domain.CommReasonLanguage)))
	v := evs[0].(domain.VisitRecorded)
	if v.Communication != domain.CommunicationIneffective || v.CommunicationReason != domain.CommReasonLanguage || !v.Ineffective() {
		t.Fatalf("recorded %+v", v)
	}
	// It is a completed visit all the same: it covers the period and restarts the clock.
	if v.NotCounted || !h.Clocks()[0].Start.Equal(v.OccurredAt) {
		t.Fatalf("an ineffective conversation is still a visit: %+v %+v", v, h.Clocks()[0])
	}
	for _, c := range []domain.Communication{domain.CommunicationEffective, ""} {
		evs = do(t, h)(h.RecordVisit(m, pol, visit("v-"+string(c), domain.OutcomeCompleted, c, "")))
		if evs[0].(domain.VisitRecorded).Ineffective() {
			t.Fatalf("%q read as ineffective", c)
		}
	}

	evs, err := h.RecordVisit(m, pol, visit("v2", domain.OutcomeCompleted, domain.CommunicationIneffective, ""))
	fails(t, evs, err, "required", domain.ErrInvalid)
	if de := err.(*domain.Error); de.Field != "communication_reason" || !strings.Contains(de.MessageZH, "沟通无效") {
		t.Fatalf("missing reason: %#v", de)
	}
	evs, err = h.RecordVisit(m, pol, visit("v3", domain.OutcomeCompleted, "bad", ""))
	fails(t, evs, err, "invalid_communication", domain.ErrInvalid)
	evs, err = h.RecordVisit(m, pol, visit("v4", domain.OutcomeCompleted, domain.CommunicationIneffective, "rude"))
	fails(t, evs, err, "invalid_communication_reason", domain.ErrInvalid)
	evs, err = h.RecordVisit(m, pol, visit("v5", domain.OutcomeCompleted, domain.CommunicationEffective, domain.CommReasonOther))
	fails(t, evs, err, "communication_reason_unexpected", domain.ErrInvalid)
	evs, err = h.RecordVisit(m, pol, visit("v6", domain.OutcomeCompleted, "", domain.CommReasonOther))
	fails(t, evs, err, "communication_reason_unexpected", domain.ErrInvalid)
	for _, o := range []domain.VisitOutcome{domain.OutcomeRefused, domain.OutcomeNobodyHome} {
		evs, err = h.RecordVisit(m, pol, visit("v7", o, domain.CommunicationIneffective, domain.CommReasonUnwilling))
		fails(t, evs, err, "visit_not_completed", domain.ErrRule)
		if de := err.(*domain.Error); de.Field != "communication" {
			t.Fatalf("%s: %#v", o, de)
		}
	}
	// Every value is named to a person in both languages.
	for _, c := range domain.Communications() {
		if en, zh := c.Label(); en == string(c) || zh == string(c) {
			t.Errorf("communication %q has no labels", c)
		}
	}
	for _, r := range domain.CommunicationReasons() {
		if en, zh := r.Label(); en == string(r) || zh == string(r) {
			t.Errorf("reason %q has no labels", r)
		}
	}
}

// Seed 001 §6.2 沟通无效案例占比超过15%: the threshold is policy data
// (risk.ineffective_communication_above) and a close whose share is above
// it — not at it — raises risk.ineffective_communication for the community
// and the street, with messages in both languages.
func TestSeed001_6_2_IneffectiveCommunicationAboveFifteenPercentFlags(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	if pol.Risk.IneffectiveCommunicationAbove != 0.15 {
		t.Fatalf("policy threshold %v, want the seed's 15%%", pol.Risk.IneffectiveCommunicationAbove)
	}
	if alt := mustPolicy(t, domain.PresetAlt001Sec41); alt.Risk.IneffectiveCommunicationAbove != 0.15 {
		t.Fatalf("alternative policy threshold %v", alt.Risk.IneffectiveCommunicationAbove)
	}
	m := meta(t, "measures-closer", "2026-04-01 02:00")
	flags := func(community string, f domain.Tally) []domain.MeasuresFlagRaised {
		t.Helper()
		l := domain.NewPeriodLedger(community)
		evs := do(t, l)(l.Close(m, domain.ClosePeriod{Period: "2026-03", Figures: domain.PeriodFigures{IneffectiveCommunication: f}, Policy: pol, CalendarVersion: "cal"}))
		var out []domain.MeasuresFlagRaised
		for _, e := range evs[1:] {
			if fl := e.(domain.MeasuresFlagRaised); fl.Measure == "risk.ineffective_communication" {
				out = append(out, fl)
			}
		}
		return out
	}
	if got := flags("c1", domain.Tally{Num: 3, Den: 20}); len(got) != 0 {
		t.Fatalf("15%% is not above 15%%: %+v", got)
	}
	if got := flags("c1", domain.Tally{}); len(got) != 0 {
		t.Fatalf("no completed visits: %+v", got)
	}
	for _, c := range []string{"c1", ""} {
		got := flags(c, domain.Tally{Num: 4, Den: 20})
		if len(got) != 1 || got[0].Figure != 0.2 || got[0].Target != 0.15 || got[0].Community != c || got[0].Periods[0] != "2026-03" ||
			!strings.Contains(got[0].MessageZH, "沟通无效案例占比为 20.0%") || !strings.Contains(got[0].MessageEN, "ineffective communication") {
			t.Fatalf("%q: %+v", c, got)
		}
	}
	// An amendment checks the figure like the other shares.
	l := domain.NewPeriodLedger("c1")
	do(t, l)(l.Close(m, domain.ClosePeriod{Period: "2026-03", Figures: domain.PeriodFigures{IneffectiveCommunication: domain.Tally{Num: 1, Den: 20}}, Policy: pol}))
	evs, err := l.Amend(m, "2026-03", domain.PeriodFigures{IneffectiveCommunication: domain.Tally{Num: 21, Den: 20}}, pol, "cal", "补录")
	fails(t, evs, err, "invalid_figure", domain.ErrInvalid)
	do(t, l)(l.Amend(m, "2026-03", domain.PeriodFigures{IneffectiveCommunication: domain.Tally{Num: 5, Den: 20}}, pol, "cal", "漏记 4 次沟通无效，经核实补录"))
	if p, _ := l.Period("2026-03"); p.Current().IneffectiveCommunication != (domain.Tally{Num: 5, Den: 20}) {
		t.Fatalf("amended %+v", p.Current())
	}
}
