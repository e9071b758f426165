package town

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// townCache generates each (seed, size) town once per test binary: several
// tests look at the same 2,155-household town.
var townCache sync.Map

type generated struct {
	batches []Batch
	stats   Stats
}

func mustGenerate(tb testing.TB, cfg Config) generated {
	tb.Helper()
	var g generated
	st, err := Generate(context.Background(), cfg, func(b Batch) error {
		g.batches = append(g.batches, b)
		return nil
	})
	if err != nil {
		tb.Fatalf("Generate: %v", err)
	}
	g.stats = st
	return g
}

func seedTown(tb testing.TB) generated {
	tb.Helper()
	if g, ok := townCache.Load("seed"); ok {
		return g.(generated)
	}
	g := mustGenerate(tb, testConfig(tb, 2155, SeedHouseholds))
	townCache.Store("seed", g)
	return g
}

// digest hashes everything a store would receive, in order.
func digest(tb testing.TB, bs []Batch) [32]byte {
	tb.Helper()
	h := sha256.New()
	for _, b := range bs {
		md, err := json.Marshal(struct {
			S string
			V uint64
			A time.Time
		}{b.Stream, b.Expected, b.At.UTC()})
		if err != nil {
			tb.Fatal(err)
		}
		h.Write(md)
		for _, e := range b.Events {
			m, err := json.Marshal(e.Metadata)
			if err != nil {
				tb.Fatal(err)
			}
			h.Write(e.ID[:])
			h.Write([]byte(e.Type))
			h.Write(e.Data)
			h.Write(m)
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t, testConfig(t, 7, 300))
	b := mustGenerate(t, testConfig(t, 7, 300))
	if len(a.batches) == 0 || a.stats.Events == 0 {
		t.Fatal("no events generated")
	}
	if digest(t, a.batches) != digest(t, b.batches) {
		t.Fatal("the same seed and config gave different events")
	}
	if a.stats != b.stats {
		t.Fatalf("stats differ: %+v vs %+v", a.stats, b.stats)
	}
	c := mustGenerate(t, testConfig(t, 8, 300))
	if digest(t, a.batches) == digest(t, c.batches) {
		t.Fatal("a different seed gave the same events")
	}
}

// TestCohortsKeepOrder checks that spilling cohorts to disk and merging them
// gives exactly the events and order of one simulation of all households.
func TestCohortsKeepOrder(t *testing.T) {
	t.Parallel()
	one := testConfig(t, 11, 250)
	many := one
	many.CohortSize = 60
	many.TempDir = t.TempDir()
	a, b := mustGenerate(t, one), mustGenerate(t, many)
	if len(a.batches) != len(b.batches) || a.stats != b.stats {
		t.Fatalf("%d batches with one cohort, %d with five; stats %+v vs %+v", len(a.batches), len(b.batches), a.stats, b.stats)
	}
	if digest(t, a.batches) != digest(t, b.batches) {
		t.Fatal("cohorts changed the events")
	}
	if a.stats.Problems == 0 {
		t.Fatal("no problems to number")
	}
	if entries := mustReadDir(t, many.TempDir); entries != 0 {
		t.Fatalf("%d spill files left in TempDir", entries)
	}
}

func TestTimeFlowsForward(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	cfg, _ := testConfig(t, 0, 1).withDefaults()
	version := map[string]uint64{}
	var prev time.Time
	for i, b := range g.batches {
		if b.At.Before(prev) {
			t.Fatalf("batch %d at %s comes after one at %s", i, b.At, prev)
		}
		prev = b.At
		if b.At.Before(cfg.Start) || !b.At.Before(cfg.End) {
			t.Fatalf("batch %d at %s is outside the span", i, b.At)
		}
		if b.At.Location().String() != "Asia/Shanghai" {
			t.Fatalf("batch %d time is in %s", i, b.At.Location())
		}
		if version[b.Stream] != b.Expected {
			t.Fatalf("batch %d expects %s at version %d, but it is at %d", i, b.Stream, b.Expected, version[b.Stream])
		}
		version[b.Stream] += uint64(len(b.Events))
		if n := len(b.Events); n == 0 || n > eventstore.DefaultMaxBatchEvents {
			t.Fatalf("batch %d has %d events", i, n)
		}
		for _, e := range b.Events {
			if e.Type == domain.TypeVisitRecorded {
				// A visit's envelope says when it happened, before its entry.
				var v struct {
					OccurredAt time.Time `json:"occurred_at"`
				}
				if err := json.Unmarshal(e.Data, &v); err != nil || !e.Metadata.OccurredAt.Equal(v.OccurredAt) || e.Metadata.OccurredAt.After(b.At) {
					t.Fatalf("visit occurred at %s in its envelope, %s in its payload, entered at %s", e.Metadata.OccurredAt, v.OccurredAt, b.At)
				}
			} else if e.Metadata.OccurredAt.Before(b.At) || e.Metadata.OccurredAt.Sub(b.At) > time.Hour {
				t.Fatalf("event %s occurred at %s, its batch at %s", e.Type, e.Metadata.OccurredAt, b.At)
			}
			scoped := e.Type != typeNumberAllocated
			// The street's rounds and campaigns are a community's, in no grid (oversight.go).
			community := strings.HasPrefix(b.Stream, "spotcheck-") || strings.HasPrefix(b.Stream, "survey-") || strings.HasPrefix(b.Stream, "festival-")
			if e.Metadata.Actor == "" || e.Metadata.Role == "" || e.Metadata.CommandID == "" || scoped && (e.Metadata.Community == "" || e.Metadata.Grid == "" && !community) {
				t.Fatalf("event %s has incomplete metadata: %+v", e.Type, e.Metadata)
			}
			if sealed := strings.Contains(string(e.Data), `"ciphertext"`); sealed != (e.Metadata.KeyID != "") ||
				sealed && !strings.Contains(string(e.Data), `"key_id":"`+e.Metadata.KeyID+`"`) {
				t.Fatalf("event %s: key id %q in metadata does not match its sealed fields", e.Type, e.Metadata.KeyID)
			}
			if e.ID.Version() != 7 {
				t.Fatalf("event id %s is not a UUIDv7", e.ID)
			}
		}
		if err := eventstore.ValidateAppend(b.Stream, b.Events, eventstore.Limits{}); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
}

// within reports whether got is within tol (a fraction of n) of want·n.
func within(got int, want float64, n int, tol float64) bool {
	return math.Abs(float64(got)-want*float64(n)) <= tol*float64(n)
}

func TestMixMatchesConfig(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	mix := DefaultMix()
	reg := domain.NewRegistry()
	pol, err := domain.DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	classes := map[domain.HouseholdClass]int{}
	cats := map[domain.HouseholdClass]map[domain.AssistanceCategory]int{}
	risks := map[domain.HouseholdClass]map[domain.RiskLevel]int{}
	n := 0
	for _, b := range g.batches {
		for _, e := range b.Events {
			if e.Type != domain.TypeHouseholdRegistered {
				continue
			}
			ev, err := reg.Decode(e.Type, e.Data)
			if err != nil {
				t.Fatal(err)
			}
			r := ev.(domain.HouseholdRegistered)
			r.Class = openClass(t, r.Class)
			n++
			classes[r.Class]++
			if cats[r.Class] == nil {
				cats[r.Class], risks[r.Class] = map[domain.AssistanceCategory]int{}, map[domain.RiskLevel]int{}
			}
			cats[r.Class][r.Category]++
			risks[r.Class][r.Risk]++
			// The class is at least what the policy's rules ask for (001 §2.3.3).
			if want, _ := pol.ClassFor(r.Category, r.Circumstances); r.ClassBy == domain.ClassByOverride || (want != r.Class && r.ClassBy != domain.ClassByStated) {
				t.Fatalf("household %s: class %s by %q, the rules ask for %s", r.HouseholdID, r.Class, r.ClassBy, want)
			}
			if !strings.HasPrefix(r.Address, "广东省潮州市饶平县") {
				t.Fatalf("address %q is not in the seed's county", r.Address)
			}
		}
	}
	if n != SeedHouseholds || g.stats.Households != SeedHouseholds {
		t.Fatalf("%d households registered (stats %d), want %d", n, g.stats.Households, SeedHouseholds)
	}
	for cl, w := range mix.Class {
		if !within(classes[cl], w, n, 0.03) {
			t.Errorf("class %s: %d of %d, want about %.0f%%", cl, classes[cl], n, 100*w)
		}
		m := classes[cl]
		for cat, cw := range mix.Category[cl] {
			if !within(cats[cl][cat], cw, m, 0.06) {
				t.Errorf("class %s category %q: %d of %d, want about %.0f%%", cl, cat, cats[cl][cat], m, 100*cw)
			}
		}
		for rk, rw := range mix.Risk[cl] {
			if !within(risks[cl][rk], rw, m, 0.06) {
				t.Errorf("class %s risk %s: %d of %d, want about %.0f%%", cl, rk, risks[cl][rk], m, 100*rw)
			}
		}
	}
}

// TestHistoryHasWhatSupervisorsWatch checks that the year contains the
// cases the engine must surface: late entries, refusals, nobody home,
// reopened problems, escalated and declined referrals, archived households,
// and problems overdue at the end.
func TestHistoryHasWhatSupervisorsWatch(t *testing.T) {
	t.Parallel()
	st := seedTown(t).stats
	rates := DefaultRates()
	checks := []struct {
		name string
		got  int
		want float64 // expected count, roughly
	}{
		{"late entries", st.LateVisits, rates.LateEntry * float64(st.Visits)},
		{"nobody home", st.NobodyHome, rates.NobodyHome * float64(st.Visits)},
		{"refusals", st.Refused, rates.Refusal * float64(st.Visits)},
	}
	for _, c := range checks {
		if float64(c.got) < 0.5*c.want || float64(c.got) > 2*c.want {
			t.Errorf("%s: %d, want about %.0f", c.name, c.got, c.want)
		}
	}
	for name, n := range map[string]int{"reopened": st.Reopened, "escalated": st.Escalated, "declined": st.Declined,
		"archived": st.Archived, "overdue": st.ProblemsOverdue, "referrals": st.Referrals} {
		if n == 0 {
			t.Errorf("no %s in the history", name)
		}
	}
	if st.ProblemsOpen > st.Problems/3 {
		t.Errorf("%d of %d problems open at the end: the resolution rate is implausibly low", st.ProblemsOpen, st.Problems)
	}
}

// TestVisitsFollowPolicy checks that households are visited at the policy's
// cadence for their class (001 §2.3.3: once per week, month or quarter, a
// calendar period): most consecutive counted visits are in the same or the
// next period, none skipped.
func TestVisitsFollowPolicy(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	reg := domain.NewRegistry()
	pol, err := domain.DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	class := map[string]domain.HouseholdClass{}
	changed := map[string]bool{}
	last := map[string]time.Time{}
	steps := map[domain.HouseholdClass][]int{}
	phone := 0
	for _, b := range g.batches {
		for _, e := range b.Events {
			switch e.Type {
			case domain.TypeHouseholdRegistered:
				ev, _ := reg.Decode(e.Type, e.Data)
				class[b.Stream] = openClass(t, ev.(domain.HouseholdRegistered).Class)
			case domain.TypeHouseholdClassChanged:
				changed[b.Stream] = true
			case domain.TypeVisitRecorded:
				ev, _ := reg.Decode(e.Type, e.Data)
				v := ev.(domain.VisitRecorded)
				if v.NotCounted {
					phone++
				}
				if v.Outcome != domain.OutcomeCompleted || v.NotCounted || changed[b.Stream] {
					continue
				}
				if l, ok := last[b.Stream]; ok {
					per := pol.VisitCadence[class[b.Stream]]
					steps[class[b.Stream]] = append(steps[class[b.Stream]], periodIndex(per, v.OccurredAt, loc)-periodIndex(per, l, loc))
				}
				last[b.Stream] = v.OccurredAt
			}
		}
	}
	if phone == 0 {
		t.Error("no phone or video calls that the policy does not count")
	}
	for _, cl := range domain.HouseholdClasses() {
		ss := steps[cl]
		if len(ss) < 50 {
			t.Fatalf("class %s: only %d visit steps", cl, len(ss))
		}
		onTime := 0
		for _, s := range ss {
			if s <= 1 {
				onTime++
			}
		}
		// The town visits on working days only: a weekly household goes
		// without a visit in the Spring Festival and National Day weeks.
		want := 0.85
		if pol.VisitCadence[cl] == domain.PeriodWeek {
			want = 0.8
		}
		if share := float64(onTime) / float64(len(ss)); share < want {
			t.Errorf("class %s: %.0f%% of visits in the same or the next %s, want at least %.0f%%", cl, 100*share, pol.VisitCadence[cl], 100*want)
		}
	}
}

// periodIndex numbers the periods of kind p: consecutive periods differ by one.
func periodIndex(p domain.Period, t time.Time, loc *time.Location) int {
	start, _ := p.Bounds(t, loc)
	y, m := start.Year(), int(start.Month())-1
	switch p {
	case domain.PeriodWeek:
		return int(start.Sub(time.Date(2000, 1, 3, 0, 0, 0, 0, loc)).Hours()+12) / (24 * 7)
	case domain.PeriodMonth:
		return y*12 + m
	case domain.PeriodQuarter:
		return y*4 + m/3
	case domain.PeriodHalfYear:
		return y*2 + m/6
	}
	return y
}

func TestValidate(t *testing.T) {
	t.Parallel()
	noSealer := DefaultConfig(1, 10)
	if err := noSealer.Validate(); err == nil || !strings.Contains(err.Error(), "Sealer") {
		t.Errorf("missing sealer: %v", err)
	}
	uncovered := testConfig(t, 1, 10)
	uncovered.Start = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := uncovered.Validate(); err == nil || !strings.Contains(err.Error(), "calendar") {
		t.Errorf("span outside the calendar: %v", err)
	}
	empty := testConfig(t, 1, 0)
	if _, err := Generate(context.Background(), empty, func(Batch) error { return nil }); err == nil {
		t.Error("a town of 0 households was generated")
	}
	if err := testConfig(t, 1, 10).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestEmitErrorStops(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	n := 0
	_, err := Generate(context.Background(), testConfig(t, 3, 50), func(Batch) error {
		n++
		if n == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 10 {
		t.Fatalf("err %v after %d batches, want boom after 10", err, n)
	}
	seen := 0
	for _, err := range Batches(context.Background(), testConfig(t, 3, 50)) {
		if err != nil {
			t.Fatal(err)
		}
		if seen++; seen == 5 {
			break
		}
	}
	if seen != 5 {
		t.Fatalf("iterator stopped after %d batches", seen)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := Generate(ctx, testConfig(t, 3, 50), func(Batch) error {
		if n++; n == 300 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n > 300+256 {
		t.Fatalf("after cancel: %v, %d batches", err, n)
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	l, err := NewLayout(testConfig(t, 5, SeedHouseholds))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Communities) != 10 || len(l.Towns) != 1 || l.Towns[0].Name != "新丰镇" {
		t.Fatalf("%d communities in %d towns (%s), want the seed's 10 in 新丰镇", len(l.Communities), len(l.Towns), l.Towns[0].Name)
	}
	names := map[string]bool{}
	for _, c := range l.Communities {
		if names[c.Name] {
			t.Errorf("community name %s used twice", c.Name)
		}
		names[c.Name] = true
		if c.Secretary == nil || c.Secretary.Role != domain.RoleSupervisor || len(c.Grids) != 4 {
			t.Errorf("community %s: secretary %v, %d grids", c.Name, c.Secretary, len(c.Grids))
		}
		for _, g := range c.Grids {
			if g.Worker == nil || g.Worker.Role != domain.RoleGridWorker {
				t.Errorf("grid %s has no grid worker", g.Name)
			}
		}
	}
	big, err := NewLayout(testConfig(t, 5, LargeHouseholds))
	if err != nil {
		t.Fatal(err)
	}
	names = map[string]bool{}
	for _, c := range big.Communities {
		if names[c.Town.Name+c.Name] {
			t.Errorf("community %s%s used twice", c.Town.Name, c.Name)
		}
		names[c.Town.Name+c.Name] = true
	}
}

func TestIDNumbers(t *testing.T) {
	t.Parallel()
	r := newTestRand(1)
	for range 100 {
		female := chance(r, 0.5)
		id := idNumber(r, "1948-03-07", female)
		if len(id) != 18 || !strings.HasPrefix(id, countyCode+"19480307") {
			t.Fatalf("id number %s", id)
		}
		weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
		sum := 0
		for i := range 17 {
			sum += int(id[i]-'0') * weights[i]
		}
		if "10X98765432"[sum%11] != id[17] {
			t.Fatalf("id number %s has a wrong check digit", id)
		}
		if !idNumberIn([]byte(`{"id":"` + id + `"}`)) {
			t.Fatalf("the clear-text scan misses %s", id)
		}
		if odd := int(id[16]-'0')%2 == 1; odd == female {
			t.Fatalf("id number %s: sex digit does not match (female %v)", id, female)
		}
	}
}

// TestNeedsAreUpdated: the town keeps households' needs up to date at
// visits (每月更新家庭需求变化, 001 §2.4.3; decision 0118), so the demo's file
// upkeep deadlines are met for many households and breached for others.
func TestNeedsAreUpdated(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	events, needs := 0, 0
	for _, b := range g.batches {
		for _, e := range b.Events {
			events++
			if e.Type == domain.TypeHouseholdNeedsAssessed {
				needs++
			}
		}
	}
	t.Logf("%d households, %d events, %d needs assessments", g.stats.Households, events, needs)
	if needs < 2*g.stats.Households {
		t.Errorf("%d needs assessments for %d households: needs are not kept up monthly", needs, g.stats.Households)
	}
}
