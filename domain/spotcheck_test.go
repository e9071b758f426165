package domain_test

import (
	"fmt"
	"slices"
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
