package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/doorstep/doorstep/eventstore"
)

var _ eventstore.Importer = (*Store)(nil)

// MaxImportEvents bounds the events of one Import: one statement carries
// them all.
const MaxImportEvents = 5000

// Import implements eventstore.Importer: the runs are one group of the
// writer, written in their order by one INSERT (one transaction), or not
// at all.
func (s *Store) Import(ctx context.Context, runs []eventstore.Run) error {
	if len(runs) == 0 {
		return nil
	}
	n := 0
	reqs := make([]*appendReq, len(runs))
	for i, run := range runs {
		if err := eventstore.ValidateAppend(run.Stream, run.Events, s.cfg.Limits); err != nil {
			return err
		}
		for j := range run.Events {
			m := &run.Events[j].Metadata
			for _, v := range []string{m.Actor, m.Role, m.CommandID, m.CorrelationID, m.CausationID, m.Community, m.Grid, m.KeyID} {
				if strings.IndexByte(v, 0) >= 0 {
					return fmt.Errorf("%w: event %d of run %d: metadata contains a NUL character", eventstore.ErrInvalidEvent, j, i)
				}
			}
		}
		if run.RecordedAt.IsZero() {
			return fmt.Errorf("%w: run %d has no recorded-at", eventstore.ErrInvalidEvent, i)
		}
		n += len(run.Events)
		reqs[i] = &appendReq{ctx: ctx, stream: run.Stream, expected: eventstore.Exact(run.After), events: run.Events,
			recordedAt: run.RecordedAt, done: make(chan struct{})}
	}
	if n > MaxImportEvents {
		return fmt.Errorf("%w: an import of %d events, at most %d", eventstore.ErrInvalidEvent, n, MaxImportEvents)
	}
	reqs[0].batch = reqs
	select {
	case s.reqs <- reqs[0]:
	case <-s.quit:
		return eventstore.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	var first error
	for _, r := range reqs {
		<-r.done
		if first == nil {
			first = r.err
		}
	}
	return first
}
