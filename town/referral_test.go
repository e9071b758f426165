package town

import (
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// endState folds the referral and problem streams of a generated town.
func endState(t *testing.T, g generated) (map[string]*domain.Referral, map[string]*domain.Problem) {
	t.Helper()
	reg := domain.NewRegistry()
	refs, probs := map[string]*domain.Referral{}, map[string]*domain.Problem{}
	for _, b := range g.batches {
		var agg domain.Aggregate
		cat, id, _ := cutStream(b.Stream)
		switch cat {
		case "referral":
			if refs[id] == nil {
				refs[id] = domain.NewReferral(id)
			}
			agg = refs[id]
		case "problem":
			if probs[id] == nil {
				probs[id] = domain.NewProblem(id)
			}
			agg = probs[id]
		default:
			continue
		}
		for _, e := range b.Events {
			ev, err := reg.Decode(e.Type, e.Data)
			if err != nil {
				t.Fatalf("%s: %v", b.Stream, err)
			}
			agg.Apply(ev)
		}
	}
	return refs, probs
}

// breachedAwaiting returns the referrals still awaiting acceptance whose
// acceptance deadline passed before now (one the calendar cannot place,
// past its last year, is not counted).
func breachedAwaiting(t *testing.T, c Config, refs map[string]*domain.Referral, now time.Time) []*domain.Referral {
	t.Helper()
	d, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	var out []*domain.Referral
	for _, r := range refs {
		for _, k := range r.Clocks() {
			if k.Kind != domain.ClockReferralAcceptance {
				continue
			}
			if dl, ok, err := d.Policy.Deadline(d.Calendar, k); err == nil && ok && dl.Due.Before(now) {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestSomeReferralsAreNeverAnswered: at the end of the seed's year, about
// Rates.ReferralUnanswered of the referrals that reached a department were
// never answered (decision 0150): each still awaits acceptance, its
// deadline breached, addressed to a department, and its problem waits on
// it, neither resolved nor closed.
func TestSomeReferralsAreNeverAnswered(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	c := testConfig(t, 2155, SeedHouseholds)
	refs, probs := endState(t, g)
	d, _ := c.withDefaults()
	open := breachedAwaiting(t, c, refs, d.End)
	reached := 0 // referrals that reached a department and were not declined there
	for _, r := range refs {
		if r.Level() == domain.LevelDepartment && r.Status() != domain.RefDeclined {
			reached++
		}
	}
	want := DefaultRates().ReferralUnanswered * float64(reached)
	t.Logf("%d of %d referrals unanswered and breached at the end; %d reached a department", len(open), len(refs), reached)
	if float64(len(open)) < 0.5*want || float64(len(open)) > 2*want {
		t.Errorf("%d referrals left unanswered and breached at the end, want about %.0f (%d reached a department)", len(open), want, reached)
	}
	for _, r := range open {
		if r.Level() != domain.LevelDepartment || r.To() == "" {
			t.Errorf("referral %s awaits %s at level %s, want a department", r.ID(), r.To(), r.Level())
		}
		p := probs[r.ProblemID()]
		if p == nil {
			t.Fatalf("referral %s refers to a problem not generated", r.ID())
		}
		if st := p.Status(); st != domain.StatusOpen && st != domain.StatusInProgress {
			t.Errorf("problem %s is %s while its referral %s was never answered", p.ID(), st, r.ID())
		}
	}
}

// TestTheDemoTownHasABreachedReferral: the 200-household town the browser
// test starts (`doorstep demo -households 200`, seed 2155) has a referral
// breached and unanswered at the end of every window from May on (the
// demo's window runs from the first of January to the day it starts), so
// the supervisor's dashboard has one to follow; the year-end window is the
// one a demo started in 2027 gets when the calendar stops with 2026.
func TestTheDemoTownHasABreachedReferral(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	for m := time.May; m <= time.December; m++ {
		for _, end := range []time.Time{time.Date(2026, m, 1, 0, 0, 0, 0, loc), time.Date(2026, m, 16, 0, 0, 0, 0, loc)} {
			c := testConfig(t, 2155, 200)
			c.Start, c.End = time.Date(2026, 1, 1, 0, 0, 0, 0, loc), end
			refs, _ := endState(t, mustGenerate(t, c))
			if n := len(breachedAwaiting(t, c, refs, end.Add(10*time.Hour))); n == 0 {
				t.Errorf("the town ending on %s has no unanswered referral breached", end.Format(time.DateOnly))
			}
		}
	}
	c := testConfig(t, 2155, 200)
	c.Start, c.End = time.Date(2026, 1, 1, 0, 0, 0, 0, loc), time.Date(2026, 12, 31, 0, 0, 0, 0, loc)
	refs, _ := endState(t, mustGenerate(t, c))
	if n := len(breachedAwaiting(t, c, refs, time.Date(2027, 3, 1, 10, 0, 0, 0, loc))); n == 0 {
		t.Error("the town ending on 2026-12-31 has no unanswered referral breached on 2027-03-01")
	}
}
