package audit

import (
	"context"
	"strings"

	"github.com/doorstep/doorstep/domain"
)

// Shown values of sealed fields in a trail.
const (
	SealedShown = "[sealed]"
	ErasedShown = "[erased]" // the key was destroyed (decision 0100)
)

// MarkErased shows the sealed values of household h's trail whose keys
// were destroyed as "[erased]" instead of "[sealed]": all of them once the
// household is erased, a member's ("member.<id>.…") once the member is.
func MarkErased(entries []Entry, h *domain.Household) {
	if h == nil || len(h.ErasureRequests()) == 0 {
		return
	}
	erased := func(field string) bool {
		if h.Erased() {
			return true
		}
		rest, ok := strings.CutPrefix(field, "member.")
		if !ok {
			return false
		}
		id, _, _ := strings.Cut(rest, ".")
		return h.MemberErased(id)
	}
	for i := range entries {
		for j := range entries[i].Changes {
			c := &entries[i].Changes[j]
			if (c.Before != SealedShown && c.After != SealedShown) || !erased(c.Field) {
				continue
			}
			if c.Before == SealedShown {
				c.Before = ErasedShown
			}
			if c.After == SealedShown {
				c.After = ErasedShown
			}
		}
	}
}

// OpenText shows the sealed text (decision 0108) of a trail's entries —
// values of changes, reasons, and the summaries that quote them — through
// o: opened, "[erased]" once the key is gone, "[sealed]" if o cannot (or,
// nil, does not) open it.
func OpenText(ctx context.Context, entries []Entry, o domain.Opener) {
	for i := range entries {
		e := &entries[i]
		e.Reason = domain.OpenTextIn(ctx, o, e.Reason)
		e.Summary = domain.OpenTextIn(ctx, o, e.Summary)
		for j := range e.Changes {
			c := &e.Changes[j]
			c.Before = domain.OpenTextIn(ctx, o, c.Before)
			c.After = domain.OpenTextIn(ctx, o, c.After)
		}
	}
}
