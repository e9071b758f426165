package domain_test

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// TestSeed001_3_4_SampleAtLeastTenPercent: "抽查比例不低于走访总数的10%": the
// sample is never below 10% (rounded up, at least one visit of a non-empty
// month), never repeats a visit, and depends on the population as a set
// and the seed only (the order the visits are given in does not matter).
func TestSeed001_3_4_SampleAtLeastTenPercent(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 11, 45, 99, 100, 101, 1000} {
		pop := make([]domain.VisitRef, n)
		for i := range pop {
			pop[i] = domain.VisitRef{Household: fmt.Sprintf("h%03d", i%37), Version: uint64(i + 1)}
		}
		s := domain.DrawSample("seed", pop, 0.10)
		if want := (n + 9) / 10; len(s) != want || float64(len(s)) < 0.1*float64(n) {
			t.Fatalf("%d visits: sample of %d, want %d", n, len(s), want)
		}
		seen := map[domain.VisitRef]bool{}
		for _, r := range s {
			if seen[r] || !slices.Contains(pop, r) {
				t.Fatalf("%d visits: %v repeated or not in the population", n, r)
			}
			seen[r] = true
		}
		rev := slices.Clone(pop)
		slices.Reverse(rev)
		if !slices.Equal(domain.DrawSample("seed", rev, 0.10), s) || domain.PopulationHash(rev) != domain.PopulationHash(pop) {
			t.Fatalf("%d visits: the order of the population changed the draw", n)
		}
	}
}

// BenchmarkDrawSample draws 10% of the largest population a round accepts
// (MaxSpotCheckPopulation visits) and hashes it; "sprintf" is the first
// version's keying (fmt.Sprintf and a string comparison per visit), kept
// for the side-by-side figure in BENCHMARKS.md.
func BenchmarkDrawSample(b *testing.B) {
	pop := make([]domain.VisitRef, domain.MaxSpotCheckPopulation)
	for i := range pop {
		pop[i] = domain.VisitRef{Household: fmt.Sprintf("h%06d", i/4), Version: uint64(i%4 + 2)}
	}
	b.Run("append", func(b *testing.B) {
		for b.Loop() {
			_ = domain.DrawSample("seed", pop, 0.10)
			_ = domain.PopulationHash(pop)
		}
	})
	b.Run("sprintf", func(b *testing.B) {
		for b.Loop() {
			_ = drawSampleSprintf("seed", pop, 0.10)
			_ = domain.PopulationHash(pop)
		}
	})
}

func drawSampleSprintf(seed string, pop []domain.VisitRef, rate float64) []domain.VisitRef {
	type keyed struct {
		key [32]byte
		ref domain.VisitRef
	}
	ks := make([]keyed, len(pop))
	for i, r := range pop {
		ks[i] = keyed{sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d", seed, r.Household, r.Version))), r}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(string(a.key[:]), string(b.key[:])) })
	out := make([]domain.VisitRef, domain.SampleSize(len(pop), rate))
	for i := range out {
		out[i] = ks[i].ref
	}
	return out
}

// TestDrawSampleKeysUnchanged: the faster keying draws what the first one drew.
func TestDrawSampleKeysUnchanged(t *testing.T) {
	pop := make([]domain.VisitRef, 997)
	for i := range pop {
		pop[i] = domain.VisitRef{Household: fmt.Sprintf("竹园村-%d", i/3), Version: uint64(i%3 + 1)}
	}
	if !slices.Equal(domain.DrawSample("s", pop, 0.1), drawSampleSprintf("s", pop, 0.1)) {
		t.Fatal("the draw changed")
	}
}
