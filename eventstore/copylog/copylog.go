// Package copylog moves a whole event log from one Store to another, of
// any backend (SQLite → PostgreSQL is what a growing office needs; decision
// 0083):
//
//   - Everything the hash chain covers is preserved: event ids, streams,
//     versions, types, schema versions, data, metadata and recorded-at; so
//     each stream's chain, recomputed on the target, is the source's chain,
//     hash for hash. The target assigns new positions.
//   - Events are appended in the source's log order, one append per run of
//     events of one stream recorded at one instant (an original append, as
//     far as the log shows), each with the exact expected version, and
//     with the target's clock (its Config.Now) set to the run's recorded-at
//     by a Clock; on a target that is an eventstore.Importer (PostgreSQL),
//     up to Options.MaxBatch events of consecutive runs go in one atomic
//     write, each run sealed with its own recorded-at (decision 0093).
//   - The target must be empty, or hold a prefix of the source's log (an
//     interrupted copy, which then resumes after it); anything else is
//     refused before a single event is written.
//   - At the end the whole target is read beside the source: every event
//     must match, id, stream, version, recorded-at and hash, and every chain
//     must verify (eventstore.VerifyAll). That pass also yields the Map of
//     old positions to new ones.
package copylog

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/doorstep/doorstep/eventstore"
)

// ErrTargetNotEmpty: the target holds events that are not a prefix of the source's log.
var ErrTargetNotEmpty = errors.New("the target store is not empty")

// Clock is the target store's clock during a copy: pass its Now as the
// target's Config.Now. Copy sets it to each run's recorded-at before the
// run's append, and appends one run at a time.
type Clock struct{ ns atomic.Int64 }

// Now returns the recorded-at of the run being appended.
func (c *Clock) Now() time.Time { return eventstore.FromUnixNanos(c.ns.Load()) }

func (c *Clock) set(t time.Time) { c.ns.Store(eventstore.UnixNanos(t)) }

// Options tune Copy.
type Options struct {
	// Total is the number of events of the source (Count), for Progress;
	// 0 when unknown.
	Total int
	// Progress, if set, is called after each append and during the
	// resume and verification passes with the events done so far and the
	// phase ("resume", "copy", "verify").
	Progress func(phase string, done int)
	// MaxRun bounds the events of one append; default and maximum
	// eventstore.DefaultMaxBatchEvents.
	MaxRun int
	// MaxBatch bounds the events of one import (several runs in one
	// durable write, on a target that is an eventstore.Importer); default
	// and maximum 1000; 1 appends run by run.
	MaxBatch int
}

// maxBatch is the default and largest Options.MaxBatch.
const maxBatch = 1000

// Result reports a copy.
type Result struct {
	Events  int // events in the target at the end
	Resumed int // events already in the target when Copy started
	Appends int // appends made by this call (runs appended alone)
	Imports int // imports made by this call (several runs in one write)
	Map     *Map
}

// pageSize is how many events one ReadAll returns.
const pageSize = 2000

// cursor reads a log in order, a page at a time.
type cursor struct {
	s     eventstore.Store
	after eventstore.Position
	page  []eventstore.Event
	done  bool
}

func (c *cursor) next(ctx context.Context) (*eventstore.Event, error) {
	if len(c.page) == 0 {
		if c.done {
			return nil, nil
		}
		p, err := c.s.ReadAll(ctx, c.after, pageSize)
		if err != nil {
			return nil, err
		}
		if len(p) < pageSize {
			c.done = true
		}
		if len(p) == 0 {
			return nil, nil
		}
		c.page = p
		c.after = p[len(p)-1].Position
	}
	e := &c.page[0]
	c.page = c.page[1:]
	return e, nil
}

// Count returns the number of events in s's log.
func Count(ctx context.Context, s eventstore.Store) (int, error) {
	var after eventstore.Position
	n := 0
	for {
		p, err := s.ReadAll(ctx, after, pageSize)
		if err != nil {
			return n, err
		}
		n += len(p)
		if len(p) < pageSize {
			return n, nil
		}
		after = p[len(p)-1].Position
	}
}

// same reports how the target event t differs from the source event s, or "".
func same(s, t *eventstore.Event) string {
	switch {
	case s.ID != t.ID:
		return fmt.Sprintf("event id %s where the source has %s", t.ID, s.ID)
	case s.Stream != t.Stream || s.Version != t.Version:
		return fmt.Sprintf("event %s at %s@%d where the source has it at %s@%d", t.ID, t.Stream, t.Version, s.Stream, s.Version)
	case !s.RecordedAt.Equal(t.RecordedAt):
		return fmt.Sprintf("event %s recorded at %s where the source says %s", t.ID, t.RecordedAt.Format(time.RFC3339Nano), s.RecordedAt.Format(time.RFC3339Nano))
	case s.Hash != t.Hash:
		return fmt.Sprintf("event %s has another hash than in the source", t.ID)
	}
	return ""
}

// Copy copies src's log into dst (see the package documentation). clk
// must be dst's clock. It returns ErrTargetNotEmpty, before writing, when
// dst holds anything but a prefix of src's log.
func Copy(ctx context.Context, src, dst eventstore.Store, clk *Clock, opt Options) (Result, error) {
	if opt.MaxRun <= 0 || opt.MaxRun > eventstore.DefaultMaxBatchEvents {
		opt.MaxRun = eventstore.DefaultMaxBatchEvents
	}
	progress := func(phase string, n int) {
		if opt.Progress != nil {
			opt.Progress(phase, n)
		}
	}
	var res Result
	sc, tc := &cursor{s: src}, &cursor{s: dst}
	// 1. What the target already holds must be the start of the source.
	var pending *eventstore.Event // the first source event not in the target
	for {
		t, err := tc.next(ctx)
		if err != nil {
			return res, fmt.Errorf("read the target: %w", err)
		}
		s, err := sc.next(ctx)
		if err != nil {
			return res, fmt.Errorf("read the source: %w", err)
		}
		if t == nil {
			pending = s
			break
		}
		if s == nil {
			return res, fmt.Errorf("%w: it holds more events than the source (%d); migrate only into an empty store / 目标存储非空", ErrTargetNotEmpty, res.Resumed)
		}
		if d := same(s, t); d != "" {
			if res.Resumed == 0 {
				return res, fmt.Errorf("%w: it holds other events (%s); migrate only into an empty store, or resume into the one an interrupted migration of this source wrote / 目标存储非空", ErrTargetNotEmpty, d)
			}
			return res, fmt.Errorf("%w: after %d events copied from this source, it holds %s; it cannot be resumed / 目标存储与源不一致", ErrTargetNotEmpty, res.Resumed, d)
		}
		res.Resumed++
		if res.Resumed%pageSize == 0 {
			progress("resume", res.Resumed)
		}
	}
	progress("resume", res.Resumed)
	// 2. Copy the rest, a run at a time, runs gathered into imports where
	// the target can write several at once: an import is written whole or
	// not at all, in the source's order, so an interruption still leaves a
	// prefix of the source's log; an import that fails is appended run by
	// run (a retry of runs it may have written is recognised by their ids).
	done := res.Resumed
	imp, canImport := dst.(eventstore.Importer)
	if opt.MaxBatch <= 0 || opt.MaxBatch > maxBatch {
		opt.MaxBatch = maxBatch
	}
	var batch []eventstore.Run
	inBatch := 0
	flush := func() error {
		if len(batch) > 1 && canImport {
			if err := imp.Import(ctx, batch); err == nil {
				res.Imports++
				done += inBatch
				progress("copy", done)
				batch, inBatch = batch[:0], 0
				return nil
			}
		}
		for _, r := range batch {
			clk.set(r.RecordedAt)
			if _, err := dst.Append(ctx, r.Stream, eventstore.Exact(r.After), r.Events...); err != nil {
				return fmt.Errorf("append %d events to %s at version %d: %w", len(r.Events), r.Stream, r.After+1, err)
			}
			res.Appends++
			done += len(r.Events)
			progress("copy", done)
		}
		batch, inBatch = batch[:0], 0
		return nil
	}
	for pending != nil {
		first := *pending
		run := make([]eventstore.EventData, 0, 4)
		for pending != nil && pending.Stream == first.Stream && pending.RecordedAt.Equal(first.RecordedAt) &&
			pending.Version == first.Version+uint64(len(run)) && len(run) < opt.MaxRun {
			run = append(run, eventstore.EventData{ID: pending.ID, Type: pending.Type, SchemaVersion: pending.SchemaVersion,
				Data: pending.Data, Metadata: pending.Metadata})
			var err error
			if pending, err = sc.next(ctx); err != nil {
				return res, fmt.Errorf("read the source: %w", err)
			}
		}
		if inBatch+len(run) > opt.MaxBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
		batch = append(batch, eventstore.Run{Stream: first.Stream, After: first.Version - 1, RecordedAt: first.RecordedAt, Events: run})
		inBatch += len(run)
	}
	if err := flush(); err != nil {
		return res, err
	}
	// 3. Verify: the target is the source, event for event, and its chains hold.
	m, n, err := compare(ctx, src, dst, func(n int) { progress("verify", n) })
	res.Events, res.Map = n, m
	if err != nil {
		return res, err
	}
	if _, err := eventstore.VerifyAll(ctx, dst, nil); err != nil {
		return res, fmt.Errorf("verify the target's hash chains: %w", err)
	}
	return res, nil
}

// compare reads both logs in order and checks that they hold the same
// events, returning the map of positions.
func compare(ctx context.Context, src, dst eventstore.Store, progress func(int)) (*Map, int, error) {
	sc, tc := &cursor{s: src}, &cursor{s: dst}
	m := &Map{}
	n := 0
	for {
		s, err := sc.next(ctx)
		if err != nil {
			return nil, n, fmt.Errorf("read the source: %w", err)
		}
		t, err := tc.next(ctx)
		if err != nil {
			return nil, n, fmt.Errorf("read the target: %w", err)
		}
		switch {
		case s == nil && t == nil:
			progress(n)
			return m, n, nil
		case s == nil:
			return nil, n, fmt.Errorf("the target holds %s after the source's last event (was it written to during the migration?)", t.ID)
		case t == nil:
			return nil, n, fmt.Errorf("the target ends after %d events; the source goes on with %s (was the source written to during the migration?)", n, s.ID)
		}
		if d := same(s, t); d != "" {
			return nil, n, fmt.Errorf("after %d matching events the target holds %s", n, d)
		}
		m.add(s.Position, t.Position)
		n++
		if n%pageSize == 0 {
			progress(n)
		}
	}
}
