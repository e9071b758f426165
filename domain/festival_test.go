package domain_test

import (
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// 004 §4.2 重要节日必访; 000 §1.1 在春节慰问前，系统自动筛选出符合慰问条件的家庭
// (decision 0140): a campaign reaches the community's households of the
// policy's classes; each gets a festival_visit deadline at the campaign's
// due date, stopped by a completed home visit made for the festival in the
// window, not by a routine visit or a festival phone call.
func TestSeed004_4_2_FestivalVisitDuePerKeyHousehold(t *testing.T) {
	pol := mustPolicy(t, domain.PresetDefault)
	c := domain.NewFestivalCampaign("幸福社区", domain.FestivalCampaignID(2027, domain.FestivalSpring))
	open := domain.OpenFestivalCampaign{Festival: domain.FestivalSpring, Year: 2027,
		Starts: at(t, "2027-01-25 00:00"), Due: at(t, "2027-02-06 23:59"),
		Candidates: map[string]domain.HouseholdClass{"h2": domain.ClassSpecial, "h1": domain.ClassKey, "h3": domain.ClassOrdinary}}
	m := meta(t, "督查办老王", "2027-01-20 09:00")

	// The campaign's id names its festival and year; the window is bounded.
	bad := open
	bad.Year = 2026
	_, err := c.Open(m, pol, bad)
	fails(t, nil, err, "invalid_campaign", domain.ErrInvalid)
	bad = open
	bad.Due = bad.Starts.AddDate(0, 3, 0)
	_, err = c.Open(m, pol, bad)
	fails(t, nil, err, "invalid_campaign_window", domain.ErrInvalid)
	bad = open
	bad.Candidates = map[string]domain.HouseholdClass{"h3": domain.ClassOrdinary}
	_, err = c.Open(m, pol, bad)
	fails(t, nil, err, "no_campaign_households", domain.ErrRule)
	set, _ := domain.DefaultPolicySet()
	old, _ := set.Get("default-2026.3")
	_, err = c.Open(m, old, open)
	fails(t, nil, err, "no_festival_rules", domain.ErrRule)

	evs := do(t, c)(c.Open(m, pol, open))
	o := evs[0].(domain.FestivalCampaignOpened)
	if len(o.Households) != 2 || o.Households[0] != "h1" || o.Households[1] != "h2" || o.PolicyVersion != pol.Version {
		t.Fatalf("targets %v (want the key and the special household, sorted)", o.Households)
	}
	_, err = c.Open(m, pol, open)
	fails(t, nil, err, "campaign_opened", domain.ErrConflict)

	h, _ := registered(t, "h1")
	festival := func() (domain.Clock, bool) {
		for _, c := range h.Clocks() {
			if c.Kind == domain.ClockFestivalVisit {
				return c, true
			}
		}
		return domain.Clock{}, false
	}
	do(t, h)(h.ScheduleFestivalVisit(m, o))
	if evs, err := h.ScheduleFestivalVisit(m, o); err != nil || len(evs) != 0 {
		t.Fatalf("scheduling again: %v %v (want a no-op)", evs, err)
	}
	ck, ok := festival()
	if !ok || !ck.Due.Equal(o.Due) || ck.Responsible != "网格员小李" {
		t.Fatalf("festival clock %+v %v", ck, ok)
	}
	d, ok, err := pol.Deadline(mustCalendar(t), ck)
	if err != nil || !ok || !d.Due.Equal(o.Due) || !d.Approaching.Before(o.Due) {
		t.Fatalf("deadline %+v %v %v", d, ok, err)
	}
	worker := member("网格员小李", domain.TeamGridWorker)
	doctor := member("医生王", domain.TeamDoctor)
	// A routine home visit in the window does not answer it.
	do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2027-01-26 17:00"), pol, home(t, "v1", "2027-01-26 16:00", worker, doctor)))
	// Nor a festival phone call.
	call := domain.RecordVisit{VisitID: "v2", Members: []domain.TeamMember{worker}, OccurredAt: at(t, "2027-01-27 16:00"),
		Mode: domain.ModePhone, Outcome: domain.OutcomeCompleted, Purpose: domain.PurposeFestival}
	do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2027-01-27 17:00"), pol, call))
	if _, ok := festival(); !ok {
		t.Fatal("a routine visit or a festival call stopped the festival visit clock")
	}
	if _, ok := h.FestivalVisited(o.Starts, o.Due); ok {
		t.Fatal("covered without a festival home visit")
	}
	fv := home(t, "v3", "2027-01-28 10:00", worker, doctor)
	fv.Purpose = domain.PurposeFestival
	do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2027-01-28 12:00"), pol, fv))
	if _, ok := festival(); ok {
		t.Fatal("the festival home visit did not stop the clock")
	}
	if v, ok := h.FestivalVisited(o.Starts, o.Due); !ok || v.VisitID != "v3" {
		t.Fatalf("covered by %+v %v", v, ok)
	}
	// Another community's campaign cannot reach the household.
	other := o
	other.Community, other.Campaign = "光明社区", domain.FestivalCampaignID(2027, domain.FestivalMidAutumn)
	_, err = h.ScheduleFestivalVisit(m, other)
	fails(t, nil, err, "out_of_campaign", domain.ErrRule)
}
