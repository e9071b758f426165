package logchain

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/doorstep/doorstep/eventstore"
)

// Error says where the log differs from what a signed head vouches for,
// or why a head cannot be trusted. It matches eventstore.ErrChainBroken
// with errors.Is.
type Error struct {
	// Head is the signed head concerned, when there is one.
	Head *Head
	// After and Through bound the positions where the log differs: it
	// matches every head up to After (the start of the log when empty),
	// and differs somewhere in (After, Through].
	After, Through string
	// Stream and Version name the event at fault, when it is known.
	Stream  string
	Version uint64
	Reason  string
}

func (e *Error) Error() string {
	s := e.Reason
	if e.Stream != "" {
		s = fmt.Sprintf("stream %q version %d: %s", e.Stream, e.Version, s)
	}
	if e.Through != "" {
		after := e.After
		if after == "" {
			after = "0 (the start of the log)"
		}
		s = fmt.Sprintf("between position %s and position %s: %s", after, e.Through, s)
	}
	return s
}

// Is makes errors.Is(err, eventstore.ErrChainBroken) true.
func (e *Error) Is(target error) bool { return target == eventstore.ErrChainBroken }

// VerifyConfig says what Verify checks beyond the hash chains.
type VerifyConfig struct {
	// Keys are the public keys heads may be signed with (more than one
	// while a key is being rotated). Empty: signatures are not checked,
	// only the chain values heads state.
	Keys []ed25519.PublicKey
	// Heads are signed heads from outside the log: the heads file, an
	// earlier export, an auditor's archive. Heads found on HeadStream in
	// the log are added.
	Heads []Head
}

// Report is what Verify checked.
type Report struct {
	Events            uint64 // events in the log, every one checked
	Heads             int    // distinct signed heads checked against the chain
	SignaturesChecked bool   // the heads' signatures were checked against VerifyConfig.Keys
	Last              *Head  // the head covering the most events, if any
	Uncovered         uint64 // events after Last, not yet covered by a signed head
}

// Verify reads the whole log once. It checks every stream's hash chain (as
// eventstore.VerifyAll does; a break is an *eventstore.ChainError), computes
// the global chain, and checks every signed head, in the log and in
// cfg.Heads: its form, its signature when keys are given, and that the
// log's first Count events end at its Position and chain to its Chain. A
// head that does not hold is an *Error saying between which positions the
// log differs. With keys given and no head at all, Verify fails: nothing
// would then show that the log was not cut short.
func Verify(ctx context.Context, s eventstore.Store, cfg VerifyConfig) (Report, error) {
	var rep Report
	keys := make(map[string]ed25519.PublicKey, len(cfg.Keys))
	for _, k := range cfg.Keys {
		keys[KeyID(k)] = k
	}
	rep.SignaturesChecked = len(keys) > 0
	logHeads, err := readLogHeads(ctx, s)
	if err != nil {
		return rep, err
	}
	byCount := make(map[uint64]*Head)
	for _, h := range append(slices.Clone(cfg.Heads), logHeads...) {
		h := h
		var pub ed25519.PublicKey
		if rep.SignaturesChecked {
			if pub = keys[h.KeyID]; pub == nil {
				return rep, &Error{Head: &h, Reason: fmt.Sprintf("signed head of event #%d is signed by key %s, which is none of the given public keys", h.Count, h.KeyID)}
			}
		}
		if err := h.Check(pub); err != nil {
			return rep, &Error{Head: &h, Reason: fmt.Sprintf("signed head of event #%d (position %s) cannot be trusted: %v", h.Count, h.Position, err)}
		}
		if o := byCount[h.Count]; o != nil {
			if o.Chain != h.Chain || o.Position != h.Position {
				return rep, &Error{Head: &h, Reason: fmt.Sprintf("two signed heads of event #%d disagree (position %s chain %s, and position %s chain %s): the log was rewritten between two signings", h.Count, o.Position, o.Chain, h.Position, h.Chain)}
			}
			continue
		}
		byCount[h.Count] = &h
	}
	counts := make([]uint64, 0, len(byCount))
	for c := range byCount {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	rep.Heads = len(counts)
	if rep.SignaturesChecked && len(counts) == 0 {
		return rep, &Error{Reason: "there is no signed head, in the log or in the heads given: nothing shows that events were not removed; sign one with `doorstep checkpoint sign`"}
	}

	type link struct {
		version uint64
		hash    [32]byte
	}
	last := make(map[string]link)
	var chain Chain
	next := 0         // index in counts of the next head to meet
	var matched *Head // the last head the log matched
	var after eventstore.Position
	for {
		page, err := s.ReadAll(ctx, after, 2000)
		if err != nil {
			return rep, err
		}
		for i := range page {
			e := &page[i]
			l := last[e.Stream]
			if e.Version != l.version+1 {
				return rep, &eventstore.ChainError{Stream: e.Stream, Version: e.Version, Position: e.Position, Reason: "version does not follow the previous event of the stream"}
			}
			if eventstore.ComputeHash(l.hash, e) != e.Hash {
				return rep, &eventstore.ChainError{Stream: e.Stream, Version: e.Version, Position: e.Position, Reason: "stored hash does not match the event's contents and the previous link"}
			}
			last[e.Stream] = link{e.Version, e.Hash}
			chain.Add(e)
			rep.Events = chain.Count
			if next < len(counts) && counts[next] == chain.Count {
				h := byCount[counts[next]]
				if err := compare(h, matched, &chain, e); err != nil {
					return rep, err
				}
				matched = h
				next++
			}
		}
		if len(page) > 0 {
			after = page[len(page)-1].Position
		}
		if len(page) < 2000 {
			break
		}
	}
	if next < len(counts) {
		h, top := byCount[counts[next]], byCount[counts[len(counts)-1]]
		if want, _ := eventstore.ParsePosition(h.Position); !chain.Position.Before(want) {
			return rep, &Error{Head: h, After: headPosition(matched), Through: h.Position,
				Reason: fmt.Sprintf("events were deleted: signed head of event #%d says event #%d is at position %s, but the whole log has only %d events, though it goes on to position %s",
					h.Count, h.Count, h.Position, chain.Count, chain.Position)}
		}
		return rep, &Error{Head: h, After: headPosition(matched), Through: h.Position,
			Reason: fmt.Sprintf("the log was cut short: signed head of event #%d vouches for events up to position %s (and the newest signed head for %d events, up to position %s), but the log has only %d events, ending at position %s",
				h.Count, h.Position, top.Count, top.Position, chain.Count, chain.Position)}
	}
	rep.Last = matched
	if matched != nil {
		rep.Uncovered = chain.Count - matched.Count
	} else {
		rep.Uncovered = chain.Count
	}
	return rep, nil
}

// compare checks the chain at h.Count (whose last event is e) against h;
// prev is the last head that matched.
func compare(h, prev *Head, c *Chain, e *eventstore.Event) error {
	pos := c.Position.String()
	if pos == h.Position && hex.EncodeToString(c.Hash[:]) == h.Chain {
		return nil
	}
	err := &Error{Head: h, After: headPosition(prev), Through: h.Position}
	want, _ := eventstore.ParsePosition(h.Position) // checked by Head.Check
	switch c.Position.Compare(want) {
	case 1:
		err.Reason = fmt.Sprintf("events were deleted: signed head of event #%d says event #%d is at position %s, but in the log event #%d is at position %s (stream %q version %d)",
			h.Count, h.Count, h.Position, c.Count, pos, e.Stream, e.Version)
	case -1:
		err.Reason = fmt.Sprintf("events were inserted: signed head of event #%d says event #%d is at position %s, but in the log event #%d is already at position %s (stream %q version %d)",
			h.Count, h.Count, h.Position, c.Count, pos, e.Stream, e.Version)
	default:
		err.Reason = fmt.Sprintf("an event was changed, replaced, deleted and replaced, or moved (reordered): the first %d events end at position %s as signed, but do not chain to the signed value", h.Count, pos)
	}
	return err
}

func headPosition(h *Head) string {
	if h == nil {
		return ""
	}
	return h.Position
}

// readLogHeads reads the signed heads appended to the log.
func readLogHeads(ctx context.Context, s eventstore.Store) ([]Head, error) {
	var heads []Head
	var from uint64 = 1
	for {
		page, err := s.ReadStream(ctx, HeadStream, eventstore.Forward, from, 1000)
		if err != nil {
			return nil, err
		}
		for i := range page {
			e := &page[i]
			if e.Type != HeadEventType {
				continue
			}
			var h Head
			if err := json.Unmarshal(e.Data, &h); err != nil {
				return nil, &Error{Stream: e.Stream, Version: e.Version, Reason: fmt.Sprintf("the signed head at position %s is not a head: %v", e.Position, err)}
			}
			heads = append(heads, h)
		}
		if len(page) < 1000 {
			return heads, nil
		}
		from += uint64(len(page))
	}
}
