package http

import "github.com/doorstep/doorstep/eventstore"

// continuity lets a reader of the event stream check that it missed
// nothing (decision 0085). Positions are not dense: the log also holds
// events no reader of the stream sees (problem-number counters, published
// calendar years) and events the reader's filters or scope leave out, so
// the position of the next event says nothing about what lay between. Each
// event therefore carries previous_position: the position of the event
// before it on this stream *for this reader* — the last one the server
// sent on this connection, or the position the reader resumed from
// (Last-Event-ID or after) for the first. A reader keeps the id of the
// last event it processed and compares: equal means nothing it may see
// lies between; different means it lost events (a proxy, a buffer, its
// own bug) and should resume from its last id.
type continuity struct {
	last eventstore.Position
}

// link is the part of a streamEvent continuity fills in.
type link struct {
	// PreviousPosition is the position of the event before this one for
	// this reader; "0" for the first event of a reader starting at the
	// beginning of the log.
	PreviousPosition string `json:"previous_position,omitempty"`
}

// newContinuity starts at the position the reader resumes after.
func newContinuity(after eventstore.Position) *continuity { return &continuity{last: after} }

// stamp sets out's previous position and remembers pos as the last sent.
func (c *continuity) stamp(out *streamEvent, pos eventstore.Position) {
	out.PreviousPosition = c.last.String()
	c.last = pos
}
