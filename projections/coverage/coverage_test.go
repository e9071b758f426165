package coverage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	cov "github.com/doorstep/doorstep/coverage"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/coverage"
)

// Coverage from the log through the read model: households registered and
// visited through the domain on a real store, the projection applied in
// small batches, the report computed for months and a quarter (001 §2.1,
// §2.3.3, §4.3).
func TestSeed001_4_3_CoverageFromTheLog(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, env.Loc) }
	register := func(id, community string, cat domain.AssistanceCategory) {
		h := domain.NewHousehold(id)
		m := testenv.Meta("w1", domain.RoleGridWorker, time.Date(2025, 12, 15, 9, 0, 0, 0, env.Loc))
		env.Do(t, domain.HouseholdStream(id), m)(h.Register(m, pol, domain.RegisterHousehold{Address: "幸福里" + id, Community: community,
			Grid: community + "-1", ResponsibleWorker: "w1", Category: cat, Risk: domain.RiskBlue}))
	}
	n := 0
	visit := func(id string, when time.Time, mode domain.VisitMode) {
		h := domain.NewHousehold(id)
		env.Load(t, domain.HouseholdStream(id), h)
		m := testenv.Meta("w1", domain.RoleGridWorker, when.Add(time.Hour))
		n++
		env.Do(t, domain.HouseholdStream(id), m)(h.RecordVisit(m, pol, testenv.Evidence(m.Actor, domain.RecordVisit{VisitID: fmt.Sprint("v", n), Team: []string{"w1"},
			OccurredAt: when, Mode: mode, Outcome: domain.OutcomeCompleted})))
	}
	register("never", "c1", domain.CategoryDiBao) // 低保: key by rule, never visited
	register("jan31", "c1", domain.CategoryTeKun) // 特困: key, visited Jan 31 and Mar 2
	register("phone", "c1", domain.CategoryDiBao) // key, phone calls only
	register("ord", "c2", domain.CategoryNone)    // ordinary, visited in February
	visit("jan31", at(1, 31), domain.ModeHome)
	visit("jan31", at(3, 2), domain.ModeHome)
	for _, mo := range []time.Month{1, 2, 3} {
		visit("phone", at(mo, 10), domain.ModePhone)
	}
	visit("ord", at(2, 5), domain.ModeHome)
	// The 低保 household is key by rule, not ordinary.
	h := domain.NewHousehold("never")
	env.Load(t, domain.HouseholdStream("never"), h)
	if h.Class() != domain.ClassKey {
		t.Fatalf("a 低保 household is %s, want key", h.Class())
	}

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 3}, coverage.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rd := coverage.NewReader(env.DB, env.Dialect)
	for _, tc := range []struct {
		period           string
		due, covered     int64
		uncoveredInC1    []string
		keyDue, keyCover int64
	}{
		{"2026-01", 3, 1, []string{"never", "phone"}, 3, 1},
		{"2026-02", 3, 0, []string{"jan31", "never", "phone"}, 3, 0}, // a Jan 31 visit leaves February uncovered
		{"2026-03", 4, 2, []string{"never", "phone"}, 3, 1},          // the quarterly household counts at the end of Q1
		{"2026-Q1", 4, 1, []string{"jan31", "never", "phone"}, 3, 0},
	} {
		r, err := rd.Report(ctx, pol, env.Loc, tc.period, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Street.All.Due != tc.due || r.Street.All.Covered != tc.covered || r.Street.KeyGroups.Due != tc.keyDue || r.Street.KeyGroups.Covered != tc.keyCover {
			t.Errorf("%s: street %+v", tc.period, r.Street)
		}
		if fmt.Sprint(r.Uncovered["c1"]) != fmt.Sprint(tc.uncoveredInC1) {
			t.Errorf("%s: uncovered in c1 %v, want %v", tc.period, r.Uncovered["c1"], tc.uncoveredInC1)
		}
	}
	r, err := rd.Report(ctx, pol, env.Loc, "2026-03", "c2")
	if err != nil || len(r.Communities) != 1 || r.Communities["c2"].All != (r.Street.All) || r.Street.All.Covered != 1 {
		t.Fatalf("one community: %+v %v", r, err)
	}
}

// A report reads the visits that can cover a cadence period ending in it,
// no more: from the start of the longest cadence period that contains the
// report's start (a quarter under the default policy, a half-year under
// 001 §4.1's schedule, a week that began in the previous month).
func TestVisitsFrom(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	def, err := domain.ShippedPolicy(domain.PresetDefault)
	if err != nil {
		t.Fatal(err)
	}
	alt, err := domain.ShippedPolicy(domain.PresetAlt001Sec41)
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	for _, c := range []struct {
		pol         *domain.Policy
		start, want time.Time
	}{
		{def, day(2026, 6, 1), day(2026, 4, 1)},
		{def, day(2026, 4, 1), day(2026, 3, 30)}, // the week of Monday March 30th ends in April
		{alt, day(2026, 6, 1), day(2026, 1, 1)},
	} {
		if got := coverage.VisitsFrom(c.pol, loc, c.start); !got.Equal(c.want) {
			t.Errorf("%s from %s: %s, want %s", c.pol.Version, c.start.Format(time.DateOnly), got, c.want)
		}
	}
}

// The class is sealed under the household's key (decision 0148): the
// coverage history keeps the tokens, and the reader opens them with the
// key vault to find each household's cadence and group. The figures of the
// seed scenario above are the same; a reader without the vault refuses
// rather than drop the households; after a household's erasure its class
// opens as erased and it is not due in the periods computed afterwards.
func TestCoverageOfSealedClasses(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	pol := env.Policies.Current()
	keys := sim.NewKeys()
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, env.Loc) }
	homes := map[string]*domain.Household{}
	// do applies the clear events to the household kept in memory (the
	// domain decides on the clear class, as the command layer's load does)
	// and appends them with the class sealed, as the command layer does.
	do := func(id string, m domain.Meta, evs []domain.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		seal := func(c *domain.HouseholdClass) {
			tok, err := domain.SealText(ctx, keys, id, string(*c), nil)
			if err != nil {
				t.Fatal(err)
			}
			*c = domain.HouseholdClass(tok)
		}
		out := make([]domain.Event, len(evs))
		for i, ev := range evs {
			homes[id].Apply(ev)
			switch e := ev.(type) {
			case domain.HouseholdRegistered:
				seal(&e.Class)
				ev = e
			case domain.HouseholdClassChanged:
				seal(&e.From)
				seal(&e.To)
				ev = e
			}
			out[i] = ev
		}
		env.Do(t, domain.HouseholdStream(id), m)(out, nil)
	}
	register := func(id, community string, cat domain.AssistanceCategory) {
		homes[id] = domain.NewHousehold(id)
		m := testenv.Meta("w1", domain.RoleGridWorker, time.Date(2025, 12, 15, 9, 0, 0, 0, env.Loc))
		evs, err := homes[id].Register(m, pol, domain.RegisterHousehold{Address: "幸福里" + id, Community: community,
			Grid: community + "-1", ResponsibleWorker: "w1", Category: cat, Risk: domain.RiskBlue})
		do(id, m, evs, err)
	}
	n := 0
	visit := func(id string, when time.Time, mode domain.VisitMode) {
		m := testenv.Meta("w1", domain.RoleGridWorker, when.Add(time.Hour))
		n++
		evs, err := homes[id].RecordVisit(m, pol, testenv.Evidence(m.Actor, domain.RecordVisit{VisitID: fmt.Sprint("v", n), Team: []string{"w1"},
			OccurredAt: when, Mode: mode, Outcome: domain.OutcomeCompleted}))
		do(id, m, evs, err)
	}
	register("never", "c1", domain.CategoryDiBao)
	register("jan31", "c1", domain.CategoryTeKun)
	register("phone", "c1", domain.CategoryDiBao)
	register("ord", "c2", domain.CategoryNone)
	visit("jan31", at(1, 31), domain.ModeHome)
	visit("jan31", at(3, 2), domain.ModeHome)
	for _, mo := range []time.Month{1, 2, 3} {
		visit("phone", at(mo, 10), domain.ModePhone)
	}
	visit("ord", at(2, 5), domain.ModeHome)
	// A class change, sealed too: "ord" becomes special in April.
	m := testenv.Meta("s1", domain.RoleSupervisor, at(4, 1))
	evs, err := homes["ord"].ChangeClass(m, pol, domain.ClassSpecial, "独居")
	do("ord", m, evs, err)

	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 3}, coverage.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := env.DB.QueryContext(ctx, `SELECT class FROM coverage_classes`)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		if stored++; !domain.IsSealedText(c) {
			t.Errorf("coverage_classes holds the class %q in clear", c)
		}
	}
	rows.Close()
	if stored != 5 {
		t.Fatalf("%d classes stored, want 5", stored)
	}
	if _, err := coverage.NewReader(env.DB, env.Dialect).Report(ctx, pol, env.Loc, "2026-01", ""); err == nil {
		t.Fatal("a reader without the key vault computed coverage of sealed classes")
	}
	rd := coverage.NewReader(env.DB, env.Dialect).WithOpener(keys)
	check := func(period string, due, covered, keyDue, keyCover int64, uncoveredInC1 []string, byClass map[domain.HouseholdClass]cov.Count) {
		t.Helper()
		r, err := rd.Report(ctx, pol, env.Loc, period, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Street.All.Due != due || r.Street.All.Covered != covered || r.Street.KeyGroups.Due != keyDue || r.Street.KeyGroups.Covered != keyCover {
			t.Errorf("%s: street %+v", period, r.Street)
		}
		if fmt.Sprint(r.Uncovered["c1"]) != fmt.Sprint(uncoveredInC1) {
			t.Errorf("%s: uncovered in c1 %v, want %v", period, r.Uncovered["c1"], uncoveredInC1)
		}
		if byClass != nil && fmt.Sprint(r.Street.ByClass) != fmt.Sprint(byClass) {
			t.Errorf("%s: by class %v, want %v", period, r.Street.ByClass, byClass)
		}
	}
	// The figures of TestSeed001_4_3_CoverageFromTheLog.
	check("2026-01", 3, 1, 3, 1, []string{"never", "phone"}, map[domain.HouseholdClass]cov.Count{domain.ClassKey: {Due: 3, Covered: 1}})
	check("2026-02", 3, 0, 3, 0, []string{"jan31", "never", "phone"}, nil)
	check("2026-03", 4, 2, 3, 1, []string{"never", "phone"},
		map[domain.HouseholdClass]cov.Count{domain.ClassKey: {Due: 3, Covered: 1}, domain.ClassOrdinary: {Due: 1, Covered: 1}})
	check("2026-Q1", 4, 1, 3, 0, []string{"jan31", "never", "phone"}, nil)
	// After the erasure of jan31 its class opens as erased: it is no longer
	// due in March (closed months are events and stay as they were).
	keys.Erase("jan31")
	check("2026-03", 3, 1, 2, 0, []string{"never", "phone"},
		map[domain.HouseholdClass]cov.Count{domain.ClassKey: {Due: 2, Covered: 0}, domain.ClassOrdinary: {Due: 1, Covered: 1}})
	// The classes are opened several at a time (decision 0154): a key
	// store that fails for one household fails the report, with no figure.
	broken := errors.New("key store unreachable")
	r, err := coverage.NewReader(env.DB, env.Dialect).WithOpener(failingOpener{keys, "ord", broken}).Report(ctx, pol, env.Loc, "2026-03", "")
	if !errors.Is(err, broken) || r != nil {
		t.Fatalf("a report whose key store failed for one household: %v, %v", r, err)
	}
}

// failingOpener fails to open the values of one household.
type failingOpener struct {
	domain.Opener
	household string
	err       error
}

func (f failingOpener) Open(ctx context.Context, householdID string, s domain.Sealed) ([]byte, error) {
	if householdID == f.household {
		return nil, f.err
	}
	return f.Opener.Open(ctx, householdID, s)
}
