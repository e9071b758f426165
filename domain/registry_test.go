package domain_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// sampleEvents has one populated value of every event type.
func sampleEvents(tb testing.TB) []domain.Event {
	t0 := at(tb, "2026-03-02 09:00")
	s := domain.Sealed{KeyID: "k1", Ciphertext: []byte{1, 2, 3}}
	alert := domain.DeadlineAlert{Kind: domain.ClockVisitDue, ClockStart: t0, Due: t0.Add(time.Hour), PolicyVersion: "v1", Responsible: "w", Supervisor: "s", At: t0,
		Calendar: domain.CalendarBasis{Version: "cal-1", Provisional: []int{2027}}}
	moved := domain.DeadlineRescheduled{Kind: domain.ClockProblemResolution, ClockStart: t0, OldDue: t0.Add(time.Hour), NewDue: t0.Add(2 * time.Hour),
		OldBasis: domain.CalendarBasis{Version: "cal-1", Provisional: []int{2027}}, Calendar: domain.CalendarBasis{Version: "cal-2"},
		Reason: domain.ReasonCalendarPublished, Withdrawn: []domain.AlertStage{domain.StageBreached}, At: t0}
	md := domain.MemberDetails{Name: "张三", Relation: "本人", BirthDate: "1950-01-02", Occupation: "退休", IDNumber: s, Phone: s, Income: s, Health: s, Disability: s}
	res := []domain.LinkedResource{{Kind: domain.ResourceMoney, Description: "临时救助", Provider: "民政局", AmountCents: 200000}}
	return []domain.Event{
		domain.HouseholdRegistered{HouseholdID: "h", Address: "a", Community: "c", Grid: "g", ResponsibleWorker: "w", Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskRed, PolicyVersion: "v1", At: t0, By: "w"},
		domain.HouseholdMemberAdded{MemberID: "m", MemberDetails: md, At: t0, By: "w"},
		domain.HouseholdMemberChanged{MemberID: "m", MemberDetails: md, Reason: "r", At: t0, By: "w"},
		domain.HouseholdMemberLeft{MemberID: "m", Reason: "r", At: t0, By: "w"},
		domain.HouseholdRelocated{FromAddress: "a", FromCommunity: "c", FromGrid: "g", Address: "b", Community: "d", Grid: "h", Reason: "r", At: t0, By: "w"},
		domain.HouseholdWorkerChanged{From: "w", To: "x", Reason: "r", At: t0, By: "w"},
		domain.HouseholdClassChanged{From: domain.ClassKey, To: domain.ClassSpecial, Reason: "r", PolicyVersion: "v1", At: t0, By: "w"},
		domain.HouseholdCategoryChanged{From: "", To: domain.CategoryTeKun, Reason: "r", At: t0, By: "w"},
		domain.HouseholdRiskChanged{From: domain.RiskRed, To: domain.RiskGreen, Reason: "r", At: t0, By: "w"},
		domain.MeasuresPeriodClosed{Community: "c", Period: "2026-03", Start: t0, End: t0, Figures: domain.PeriodFigures{Coverage: domain.Tally{Num: 1, Den: 2},
			CoverageByClass: map[domain.HouseholdClass]domain.Tally{domain.ClassKey: {Num: 1, Den: 2}}, Resolution: domain.Tally{Num: 3, Den: 4}},
			PolicyVersion: "v1", CalendarVersion: "cal-1", At: t0, By: "closer"},
		domain.MeasuresPeriodAmended{Community: "c", Period: "2026-03", Reason: "r", PolicyVersion: "v1", CalendarVersion: "cal-1", At: t0, By: "w"},
		domain.MeasuresFlagRaised{Community: "c", Period: "2026-03", Measure: "m", Figure: 0.5, Target: 0.8, Periods: []string{"2026-02", "2026-03"},
			MessageEN: "en", MessageZH: "zh", At: t0, By: "closer"},
		domain.HouseholdCircumstancesChanged{From: []domain.Circumstance{domain.CircumstanceDisability}, To: []domain.Circumstance{domain.CircumstanceElderlyAlone}, Reason: "r", At: t0, By: "w"},
		domain.HouseholdNeedsAssessed{Needs: map[domain.NeedDomain][]string{domain.NeedMedical: {"康复"}}, Note: "n", At: t0, By: "w"},
		domain.HouseholdResourcesOffered{Skills: []string{"理发"}, Volunteer: true, Idle: []string{"空房"}, At: t0, By: "w"},
		domain.HouseholdConsentRecorded{Given: true, Scope: "s", Reason: "r", At: t0, By: "w"},
		domain.HouseholdArchived{Reason: domain.ArchiveMovedAway, Note: "n", At: t0, By: "w"},
		domain.HouseholdErasureRequested{RequestID: "r", Scope: domain.EraseMember, MemberID: "m", LegalBasis: domain.BasisConsentWithdrawn, Reference: "R-1", At: t0, By: "w"},
		domain.HouseholdErasureApproved{RequestID: "r", At: t0, By: "p"},
		domain.HouseholdErasureCompleted{RequestID: "r", Scope: domain.EraseMember, MemberID: "m", Subjects: []string{"h/m"}, At: t0, By: "p"},
		domain.HouseholdMemberConsentRecorded{MemberID: "m", Purpose: domain.ConsentServiceMatching, Given: false, Reference: "F-1", At: t0, By: "w"},
		domain.VisitRecorded{VisitID: "v", Team: []string{"w", "x"}, OccurredAt: t0, RecordedAt: t0, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
			Understandings: domain.Understandings{Health: s, Economic: s, SupportObligations: "a", HomeSafety: "b", ServiceNeeds: "c"},
			Observations:   "o", Summary: "s", Attachments: []string{"att"}, CheckIn: &domain.CheckIn{Latitude: 30.1, Longitude: 120.2, At: t0, Ref: "r"},
			ProblemIDs: []string{"p"}, Late: true, PolicyVersion: "v1", By: "w"},
		domain.HouseholdDeadlineApproaching{DeadlineAlert: alert},
		domain.HouseholdDeadlineBreached{DeadlineAlert: alert},
		domain.ProblemReported{ProblemID: "p", Number: "WT2026000001", HouseholdID: "h", VisitID: "v", Description: "d", Category: domain.ProblemPolicy, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary, FoundBy: "w", PolicyVersion: "v1", At: t0, By: "w"},
		domain.ProblemReclassified{FromHandlingClass: "a", HandlingClass: "b", FromColour: "c", Colour: "d", FromUrgency: "e", Urgency: "f", Reason: "r", PolicyVersion: "v1", At: t0, By: "w"},
		domain.ProblemAssigned{From: "w", To: "x", Reason: "r", TimeLimit: domain.WorkingDays(5), Sessions: 0, Due: t0.Add(time.Hour), At: t0, By: "w"},
		domain.ProblemDeadlineExtended{From: t0, To: t0.Add(time.Hour), Reason: "r", At: t0, By: "w"},
		domain.ProblemProgressNoted{Note: "n", FollowUp: domain.FollowPhone, PolicyVersion: "v1", At: t0, By: "w"},
		domain.ProblemResolved{Summary: "s", Resources: res, At: t0, By: "w"},
		domain.ProblemSatisfactionRated{Score: 5, Comment: "c", At: t0, By: "w"},
		domain.ProblemRevisited{Held: true, Method: domain.FollowHomeVisit, Note: "n", At: t0, By: "w"},
		domain.ProblemReopened{Reason: "r", PolicyVersion: "v1", At: t0, By: "w"},
		domain.ProblemClosed{Reason: "r", Resolved: true, At: t0, By: "w"},
		domain.ProblemDeadlineApproaching{DeadlineAlert: alert},
		domain.ProblemDeadlineBreached{DeadlineAlert: alert},
		domain.ReferralRequested{ReferralID: "r", ProblemID: "p", HouseholdID: "h", Level: domain.LevelCommunity, To: "t", Request: "q", PolicyVersion: "v1", At: t0, By: "w"},
		domain.ReferralAccepted{Responsible: "x", TimeLimit: domain.Months(3), Due: t0.Add(time.Hour), Note: "n", At: t0, By: "w"},
		domain.ReferralDeclined{Reason: "r", At: t0, By: "w"},
		domain.ReferralStarted{Note: "n", At: t0, By: "w"},
		domain.ReferralCompleted{Outcome: "o", Resources: res, At: t0, By: "w"},
		domain.ReferralCancelled{Reason: "r", At: t0, By: "w"},
		domain.ReferralEscalated{FromLevel: domain.LevelCommunity, Level: domain.LevelStreet, FromTo: "a", To: "b", Reason: "r", PolicyVersion: "v1", At: t0, By: "w"},
		domain.ReferralDeadlineApproaching{DeadlineAlert: alert},
		domain.ReferralDeadlineBreached{DeadlineAlert: alert},
		domain.HouseholdDeadlineRescheduled{DeadlineRescheduled: moved},
		domain.ProblemDeadlineRescheduled{DeadlineRescheduled: moved},
		domain.ReferralDeadlineRescheduled{DeadlineRescheduled: moved},
		domain.CalendarYearPublished{Year: 2027, Off: []string{"2027-01-01"}, Work: []string{"2027-02-06"},
			Notice: domain.CalendarNotice{Title: "t", Number: "n", Date: "2026-11-10"}, Hash: "sha256:00", Version: "cal-00",
			Replaces: "sha256:01", PublishedBy: "admin", At: t0},
		domain.CommunitySupervisorAssigned{Community: "竹园村", Supervisor: "王书记", Reason: "换届", At: t0, By: "admin"},
		domain.DepartmentSupervisorAssigned{Department: "区住建局", Supervisor: "住建局张科长", Reason: "分管", At: t0, By: "admin"},
		domain.ProblemReferred{ReferralID: "r", Level: domain.LevelDepartment, To: "区住建局", At: t0, By: "w"},
		domain.RectificationOpened{Community: "竹园村", Source: domain.SourceFlag, FlagEventID: "f", Measure: "resolution.two_months",
			Periods: []string{"2026-05", "2026-06"}, ReasonEN: "r", ReasonZH: "理由", TimeLimit: domain.WorkingDays(20), Due: t0.Add(time.Hour),
			PolicyVersion: "v1", At: t0, By: "rectification-opener"},
		domain.RectificationInterviewRecorded{Interviewer: "李主任", Interviewee: "王书记", HeldAt: t0, Minutes: "m", At: t0, By: "s"},
		domain.RectificationReviewed{Result: domain.ReviewFailed, Findings: "f", TimeLimit: domain.WorkingDays(10), Due: t0.Add(time.Hour),
			PolicyVersion: "v1", At: t0, By: "s"},
		domain.RectificationDeadlineApproaching{DeadlineAlert: alert},
		domain.RectificationDeadlineBreached{DeadlineAlert: alert},
		domain.RectificationDeadlineRescheduled{DeadlineRescheduled: moved},
		domain.SpotCheckDrawn{Community: "竹园村", Period: "2026-09", Rate: 0.1, Seed: "s", Population: 12, PopulationHash: "h",
			Sample: []domain.SpotCheckItem{{VisitRef: domain.VisitRef{Household: "h1", Version: 3}, Inspector: "纪工委刘"}}, PolicyVersion: "v1", At: t0, By: "a"},
		domain.SpotCheckFindingRecorded{Community: "竹园村", Period: "2026-09", Visit: domain.VisitRef{Household: "h1", Version: 3}, Inspector: "纪工委刘",
			Result: domain.FindingDiscrepancy, Detail: "d", At: t0, By: "纪工委刘"},
		domain.SurveyOpened{Community: "竹园村", Period: "2026-H2", Surveyed: 40, PolicyVersion: "v1", At: t0, By: "督导"},
		domain.SurveyResponseRecorded{Community: "竹园村", Period: "2026-H2", Household: "h1", Satisfied: true, At: t0, By: "督导"},
		domain.FestivalCampaignOpened{Community: "竹园村", Campaign: "2027-spring_festival", Festival: domain.FestivalSpring, Starts: t0,
			Due: t0.Add(240 * time.Hour), Classes: []domain.HouseholdClass{domain.ClassKey}, Households: []string{"h1"}, PolicyVersion: "v1", At: t0, By: "督导"},
		domain.HouseholdFestivalVisitDue{Community: "竹园村", Campaign: "2027-spring_festival", Festival: domain.FestivalSpring, Starts: t0,
			Due: t0.Add(240 * time.Hour), At: t0, By: "督导"},
		domain.SurveyClosed{Community: "竹园村", Period: "2026-H2", Surveyed: 40, Returned: 30, Satisfied: 20, ReturnRate: 0.75, Satisfaction: 0.5,
			MinReturnRate: 0.8, MinSatisfaction: 0.8, Breaches: []string{"return_rate", "satisfaction"}, PolicyVersion: "v1", At: t0, By: "督导"},
	}
}

func TestRegistryRoundTrip(t *testing.T) {
	reg := domain.NewRegistry()
	samples := sampleEvents(t)
	seen := map[string]bool{}
	for _, e := range samples {
		typ := e.EventType()
		seen[typ] = true
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), `"ID"`) || strings.Contains(string(data), `"At"`) {
			t.Errorf("%s: field without a json tag: %s", typ, data)
		}
		got, err := reg.Decode(typ, data)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		// Compare through JSON so time zones (Shanghai vs the decoded fixed zone) do not matter.
		again, _ := json.Marshal(got)
		if string(again) != string(data) || reflect.TypeOf(got) != reflect.TypeOf(e) {
			t.Errorf("%s: round trip\n got %s\nwant %s", typ, again, data)
		}
	}
	for _, typ := range reg.Types() {
		if !seen[typ] {
			t.Errorf("registered type %s has no sample", typ)
		}
		if !strings.Contains(typ, ".") || strings.ToLower(typ) != typ {
			t.Errorf("type %s is not a lower-case dotted name", typ)
		}
	}
	if len(reg.Types()) != len(samples) {
		t.Errorf("%d types registered, %d samples", len(reg.Types()), len(samples))
	}
}

func TestRegistryErrors(t *testing.T) {
	reg := domain.NewRegistry()
	if _, err := reg.Decode("problem.teleported", []byte(`{}`)); !errors.Is(err, domain.ErrNotFound) || domain.CodeOf(err) != "unknown_event_type" {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := reg.Decode(domain.TypeProblemReported, []byte(`{"number": 5}`)); !errors.Is(err, domain.ErrInvalid) || domain.CodeOf(err) != "invalid_event_data" {
		t.Fatalf("bad data: %v", err)
	}
	if !reg.Known(domain.TypeVisitRecorded) || reg.Known("visit.teleported") {
		t.Fatal("Known")
	}
	// Forward compatibility: unknown fields are ignored.
	if _, err := reg.Decode(domain.TypeReferralStarted, []byte(`{"note":"x","new_field":1}`)); err != nil {
		t.Fatal(err)
	}
}

func TestSealedJSONAndErasure(t *testing.T) {
	v := newVault()
	s := sealed(t, v, "h1", "330102195001021234")
	data, _ := json.Marshal(domain.MemberDetails{Name: "张三", Relation: "本人", IDNumber: s})
	if strings.Contains(string(data), "330102195001021234") {
		t.Fatalf("plaintext in payload: %s", data)
	}
	if strings.Contains(string(data), `"phone"`) {
		t.Fatalf("empty sealed field not omitted: %s", data)
	}
	var back domain.MemberDetails
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	r, err := domain.Reveal(context.Background(), v, "h1", back.IDNumber)
	if err != nil || r.Value != "330102195001021234" || r.Erased || !r.Given {
		t.Fatalf("reveal: %+v %v", r, err)
	}
	if r, _ := domain.Reveal(context.Background(), v, "h1", back.Phone); r.Given {
		t.Fatalf("phone was never given: %+v", r)
	}
	v.erased["h1"] = true
	r, err = domain.Reveal(context.Background(), v, "h1", back.IDNumber)
	if err != nil || !r.Erased || r.Value != "" || r.String() != "[erased]" {
		t.Fatalf("after erasure: %+v %v", r, err)
	}
	if _, err := v.Open(context.Background(), "h1", s); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("Open after erasure: %v", err)
	}
}

func TestCommunitySupervisorAssignment(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m := domain.Meta{Actor: "admin", Role: domain.RoleAdmin, At: at}
	c := domain.NewCommunity("竹园村")
	evs, err := c.AssignSupervisor(m, "王书记", "")
	if err != nil || len(evs) != 1 {
		t.Fatalf("assign: %v %v", evs, err)
	}
	c.Apply(evs[0])
	if s, since := c.Supervisor(); s != "王书记" || !since.Equal(at) || c.Version() != 1 {
		t.Fatalf("supervisor %q since %v, version %d", s, since, c.Version())
	}
	for _, tc := range []struct {
		c          *domain.Community
		supervisor string
		code       string
	}{
		{c, "王书记", "no_change"},
		{c, "", "required"},
		{c, strings.Repeat("王", 50), "invalid_name"},
		{domain.NewCommunity("竹园 村"), "李", "invalid_id"},
	} {
		_, err := tc.c.AssignSupervisor(m, tc.supervisor, "")
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != tc.code || de.Message == "" || de.MessageZH == "" {
			t.Errorf("AssignSupervisor(%q on %q) = %v, want a bilingual %s", tc.supervisor, tc.c.Name(), err, tc.code)
		}
	}
}
