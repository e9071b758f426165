package http

import (
	"context"
	"math"

	"github.com/doorstep/doorstep/eventstore"
)

// PositionMap translates the positions of a log that doorstep migrate
// copied from another store (eventstore/copylog.Map): an integrator's
// Last-Event-ID from before the migration names an event by its old
// position.
type PositionMap interface {
	// Lookup returns the position in this store of the event that was at
	// old in the source store, or ok false.
	Lookup(old eventstore.Position) (pos eventstore.Position, ok bool)
}

// migratedPosition returns where an event stream resumes for the position
// a client sent: the same position, unless Deps.Positions maps it as an old
// position and no event of this store's log is at it, in which case the
// client read up to that event before the migration and resumes right after
// the event's new position: no gap, no repeat. An old position is accepted
// this way once: the events the client then receives carry new positions.
func (s *Server) migratedPosition(ctx context.Context, p eventstore.Position) (eventstore.Position, error) {
	if s.d.Positions == nil || p.IsZero() {
		return p, nil
	}
	np, ok := s.d.Positions.Lookup(p)
	if !ok {
		return p, nil
	}
	before := eventstore.Position{Hi: p.Hi, Lo: p.Lo - 1}
	if p.Lo == 0 {
		before = eventstore.Position{Hi: p.Hi - 1, Lo: math.MaxUint64}
	}
	evs, err := s.d.Store.ReadAll(ctx, before, 1)
	if err != nil {
		return p, err
	}
	if len(evs) == 1 && evs[0].Position == p {
		return p, nil // a position of this log
	}
	return np, nil
}
