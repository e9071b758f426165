package town

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
)

func newTestRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func mustReadDir(tb testing.TB, dir string) int {
	tb.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return len(es)
}

// TestStreamsFold folds every generated stream with domain.Fold and checks
// that the aggregates are valid and refer to each other correctly.
func TestStreamsFold(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	reg := domain.NewRegistry()
	recs := map[string][]domain.Recorded{}
	var order []string
	type allocation struct {
		Year      int    `json:"year"`
		Number    string `json:"number"`
		ProblemID string `json:"problem_id"`
	}
	allocated := map[string]string{} // number -> problem id
	for _, b := range g.batches {
		if strings.HasPrefix(b.Stream, counterPrefix) {
			var a allocation
			if err := json.Unmarshal(b.Events[0].Data, &a); err != nil || len(b.Events) != 1 {
				t.Fatalf("%s: %d events, %v", b.Stream, len(b.Events), err)
			}
			if want := fmt.Sprintf("WT%d%06d", a.Year, b.Expected+1); a.Number != want || b.Stream != counterPrefix+strconv.Itoa(a.Year) {
				t.Fatalf("%s at version %d allocates %s, want %s", b.Stream, b.Expected, a.Number, want)
			}
			allocated[a.Number] = a.ProblemID
			continue
		}
		if _, ok := recs[b.Stream]; !ok {
			order = append(order, b.Stream)
		}
		for i, e := range b.Events {
			if idNumberIn(e.Data) {
				t.Fatalf("%s %s carries an identity number in clear", b.Stream, e.Type)
			}
			ev, err := reg.Decode(e.Type, e.Data)
			if err != nil {
				t.Fatalf("%s: %v", b.Stream, err)
			}
			recs[b.Stream] = append(recs[b.Stream], domain.Recorded{Version: b.Expected + uint64(i) + 1, RecordedAt: b.At, Event: ev})
		}
	}
	households := map[string]*domain.Household{}
	problems := map[string]*domain.Problem{}
	referrals := map[string]*domain.Referral{}
	rounds := map[string]*domain.SpotCheckRound{}
	surveys := map[string]*domain.SurveyRound{}
	campaigns := map[string]*domain.FestivalCampaign{}
	for _, stream := range order {
		var agg domain.Aggregate
		cat, id, _ := cutStream(stream)
		switch cat {
		case "household":
			h := domain.NewHousehold(id)
			households[id], agg = h, h
		case "problem":
			p := domain.NewProblem(id)
			problems[id], agg = p, p
		case "referral":
			r := domain.NewReferral(id)
			referrals[id], agg = r, r
		case "spotcheck", "survey", "festival":
			community, label, _ := strings.Cut(id, ".")
			switch cat {
			case "spotcheck":
				r := domain.NewSpotCheckRound(community, label)
				rounds[stream], agg = r, r
			case "survey":
				r := domain.NewSurveyRound(community, label)
				surveys[stream], agg = r, r
			default:
				r := domain.NewFestivalCampaign(community, label)
				campaigns[stream], agg = r, r
			}
		default:
			t.Fatalf("unexpected stream %s", stream)
		}
		if err := domain.Fold(agg, recs[stream], domain.AsOf{}); err != nil {
			t.Fatalf("%s: %v", stream, err)
		}
		if agg.Version() != uint64(len(recs[stream])) {
			t.Fatalf("%s: folded to version %d of %d", stream, agg.Version(), len(recs[stream]))
		}
	}
	st := g.stats
	if len(households) != st.Households || len(problems) != st.Problems || len(referrals) != st.Referrals {
		t.Fatalf("streams: %d households, %d problems, %d referrals; stats %+v", len(households), len(problems), len(referrals), st)
	}
	visits, members := 0, 0
	for id, h := range households {
		if !h.Registered() || h.Address() == "" || h.ResponsibleWorker() == "" || h.Community() == "" || h.Grid() == "" {
			t.Fatalf("household %s is not a valid registered household", id)
		}
		if !h.Archived() && len(h.Members()) == 0 {
			t.Fatalf("household %s has no members", id)
		}
		for _, m := range h.Members() {
			if m.IDNumber.IsZero() != !h.Consent() && m.Relation != "" && h.Consent() {
				t.Fatalf("household %s consented but member %s has no sealed identity number", id, m.ID)
			}
			if !m.IDNumber.IsZero() {
				v, err := domain.Reveal(context.Background(), testSealer{}, id, m.IDNumber)
				if err != nil || len(v.Value) != 18 {
					t.Fatalf("member %s of %s: identity number %q, %v", m.ID, id, v.Value, err)
				}
			}
		}
		members += len(h.Members())
		for _, v := range h.Visits() {
			visits++
			if v.RecordedAt.Before(v.OccurredAt) {
				t.Fatalf("visit %s recorded before it happened", v.VisitID)
			}
			for _, pid := range v.ProblemIDs {
				p, ok := problems[pid]
				if !ok || p.HouseholdID() != id || p.VisitID() != v.VisitID {
					t.Fatalf("visit %s of %s names problem %s, which is not in the ledger with that visit", v.VisitID, id, pid)
				}
			}
		}
	}
	if visits != st.Visits || members == 0 {
		t.Fatalf("%d visits folded, stats say %d; %d current members", visits, st.Visits, members)
	}
	numbers := map[string]bool{}
	for id, p := range problems {
		if !p.Exists() {
			t.Fatalf("problem %s does not exist after folding", id)
		}
		if err := domain.CheckProblemNumber(p.Number(), p.ReportedAt().Year()); err != nil || numbers[p.Number()] {
			t.Fatalf("problem %s number %s: %v (duplicate %v)", id, p.Number(), err, numbers[p.Number()])
		}
		numbers[p.Number()] = true
		if allocated[p.Number()] != id {
			t.Fatalf("problem %s has number %s, allocated to %q", id, p.Number(), allocated[p.Number()])
		}
		if _, ok := households[p.HouseholdID()]; !ok {
			t.Fatalf("problem %s belongs to unknown household %s", id, p.HouseholdID())
		}
		if s := p.Satisfaction(); s < 0 || s > 5 {
			t.Fatalf("problem %s satisfaction %d", id, s)
		}
	}
	checkOversight(t, st, households, rounds, surveys, campaigns)
	for id, r := range referrals {
		p, ok := problems[r.ProblemID()]
		if !r.Exists() || !ok || p.HouseholdID() != r.HouseholdID() {
			t.Fatalf("referral %s does not refer to a problem of its household", id)
		}
		if r.Status() == domain.RefAccepted || r.Status() == domain.RefInProgress || r.Status() == domain.RefCompleted {
			if r.Responsible() == "" {
				t.Fatalf("referral %s accepted without a responsible person", id)
			}
		}
	}
}

func cutStream(s string) (cat, id string, ok bool) {
	for i := range len(s) {
		if s[i] == '-' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestWriteSQLite writes the seed's town to a real SQLite store and verifies
// every hash chain.
func TestWriteSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "town.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	start := time.Now()
	st, err := Write(ctx, store, testConfig(t, 2155, SeedHouseholds))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d events in %d batches in %v", st.Events, st.Batches, time.Since(start))
	n, err := eventstore.VerifyAll(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != st.Events || st.Events != seedTown(t).stats.Events {
		t.Fatalf("verified %d events, wrote %d, generated %d", n, st.Events, seedTown(t).stats.Events)
	}
	// The store holds exactly the generated history: compare one stream of each kind.
	want := map[string]uint64{}
	for _, b := range seedTown(t).batches {
		want[b.Stream] = b.Expected + uint64(len(b.Events))
	}
	checked := map[string]bool{}
	for stream, v := range want {
		cat, _, _ := cutStream(stream)
		if checked[cat] {
			continue
		}
		checked[cat] = true
		got, err := store.StreamVersion(ctx, stream)
		if err != nil || got != v {
			t.Fatalf("%s at version %d (%v), want %d", stream, got, err, v)
		}
	}
	// Writing a town again is a retry: every batch is already there, the
	// store answers with the original result, and nothing is added.
	small, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "small.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	cfg := testConfig(t, 4, 40)
	first, err := Write(ctx, small, cfg)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := small.Head(ctx)
	cfg.WriteConcurrency = 1
	if _, err := Write(ctx, small, cfg); err != nil {
		t.Fatalf("writing the same town again: %v", err)
	}
	again, _ := small.Head(ctx)
	n, err = eventstore.VerifyAll(ctx, small, nil)
	if err != nil || n != first.Events || again != head {
		t.Fatalf("after writing twice: %d events (%v), head %s then %s, want %d events", n, err, head, again, first.Events)
	}
	// A different town with the same stream names conflicts.
	other := testConfig(t, 4, 40)
	other.Rates = &Rates{}
	*other.Rates = DefaultRates()
	other.Rates.Consent = 0
	if _, err := Write(ctx, small, other); !errors.Is(err, eventstore.ErrConflict) && !errors.Is(err, eventstore.ErrDuplicateEvent) {
		t.Fatalf("writing a different history over the town: %v, want a conflict", err)
	}
}

// idNumberIn reports whether data contains an identity number of the
// county in clear: its code followed by twelve more digits (or X last).
func idNumberIn(data []byte) bool {
	for rest := data; ; {
		i := bytes.Index(rest, []byte(countyCode))
		if i < 0 {
			return false
		}
		rest = rest[i+len(countyCode):]
		n := 0
		for n < len(rest) && n < 12 && (rest[n] >= '0' && rest[n] <= '9' || n == 11 && rest[n] == 'X') {
			n++
		}
		if n == 12 {
			return true
		}
	}
}

// checkOversight: every spot check names a completed visit of a household
// of its community in its month, the sample is at least the policy's 10%,
// each sampled visit has one finding; every survey closes with its answers;
// every campaign names the community's households that then were key or
// special, each of which got its festival visit deadline (decision 0140).
func checkOversight(t *testing.T, st Stats, households map[string]*domain.Household, rounds map[string]*domain.SpotCheckRound,
	surveys map[string]*domain.SurveyRound, campaigns map[string]*domain.FestivalCampaign) {
	t.Helper()
	if len(rounds) == 0 || len(surveys) == 0 || len(campaigns) == 0 {
		t.Fatalf("oversight: %d spot-check rounds, %d surveys, %d campaigns", len(rounds), len(surveys), len(campaigns))
	}
	sampled, findings, discrepancies := 0, 0, 0
	cfg, err := testConfig(t, 2155, SeedHouseholds).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	loc := cfg.Location
	for stream, r := range rounds {
		d, ok := r.Drawn()
		if !ok || len(d.Sample) == 0 || float64(len(d.Sample)) < 0.1*float64(d.Population) {
			t.Fatalf("%s: drawn %v, %d of %d", stream, ok, len(d.Sample), d.Population)
		}
		for _, it := range d.Sample {
			h := households[it.Household]
			if h == nil || h.Community() != r.Community() {
				t.Fatalf("%s samples %s, not of its community", stream, it.Household)
			}
			found := false
			for _, v := range h.Visits() {
				found = found || (v.Outcome == domain.OutcomeCompleted && domain.PeriodMonth.Label(v.OccurredAt.In(loc), loc) == d.Period)
			}
			if !found {
				t.Fatalf("%s samples %+v: no completed visit of %s that month", stream, it, d.Period)
			}
		}
		sampled += len(d.Sample)
		for _, f := range r.Findings() {
			findings++
			if f.Result == domain.FindingDiscrepancy {
				discrepancies++
			}
		}
	}
	if sampled != st.SpotChecks || discrepancies != st.Discrepancies || findings > sampled || findings < sampled*9/10 || discrepancies == 0 {
		t.Fatalf("spot checks: %d sampled, %d findings, %d discrepancies; stats %+v", sampled, findings, discrepancies, st)
	}
	breaches := 0
	for stream, s := range surveys {
		c, ok := s.Closed()
		if !ok || c.Returned == 0 || len(s.Responses()) != c.Returned {
			t.Fatalf("%s: closed %v %+v", stream, ok, c)
		}
		breaches += len(c.Breaches)
	}
	if breaches == 0 || len(surveys) != st.Surveys {
		t.Fatalf("surveys: %d with %d breaches; stats %d", len(surveys), breaches, st.Surveys)
	}
	due := 0
	for stream, c := range campaigns {
		o, ok := c.Opened()
		if !ok || len(o.Households) == 0 {
			t.Fatalf("%s: %+v", stream, o)
		}
		for _, id := range o.Households {
			h := households[id]
			if h == nil || h.Community() != o.Community || !h.FestivalScheduled(o.Campaign) {
				t.Fatalf("%s names %s, which got no deadline of it", stream, id)
			}
			due++
		}
	}
	if due != st.FestivalDue || len(campaigns) != st.Campaigns {
		t.Fatalf("campaigns: %d, %d households due; stats %+v", len(campaigns), due, st)
	}
}
