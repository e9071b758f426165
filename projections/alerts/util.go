package alerts

import (
	"sort"

	"github.com/doorstep/doorstep/domain"
)

// slicesSort orders where clauses (and their arguments) by text, so the
// query text is stable whatever the map order was.
func slicesSort(where []string, args []any) {
	idx := make([]int, len(where))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return where[idx[a]] < where[idx[b]] })
	w2 := make([]string, len(where))
	a2 := make([]any, len(args))
	for i, j := range idx {
		w2[i], a2[i] = where[j], args[j]
	}
	copy(where, w2)
	copy(args, a2)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKinds[V any](m map[domain.ClockKind]V) []domain.ClockKind {
	out := make([]domain.ClockKind, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
