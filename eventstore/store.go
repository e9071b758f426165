// Package eventstore defines Doorstep's event store contract: the event
// envelope, the Store interface every backend implements, and the errors it
// returns. Backends live in subpackages (sqlite, postgres, esdb) and are
// checked by one conformance suite, storetest.
package eventstore

import (
	"context"
)

// AppendResult tells where an append landed.
type AppendResult struct {
	FirstVersion  uint64
	LastVersion   uint64   // the stream's version after the append
	FirstPosition Position // global position of the first appended event
	LastPosition  Position // global position of the last appended event
}

// Direction of a stream read.
type Direction int

const (
	Forward Direction = iota
	Backward
)

// Store is the event store contract. Implementations are safe for
// concurrent use by many goroutines.
type Store interface {
	// Append atomically appends events to stream if its current version
	// satisfies expected. Either every event is written or none is.
	//
	// When Append returns nil the events are durable: they survive a crash
	// of the process and a power cut the disk honours.
	//
	// Errors: invalid input wraps ErrInvalidStream, ErrInvalidEvent,
	// ErrEventTooLarge or ErrBatchTooLarge; a version mismatch is a
	// *ConflictError; nothing is written in either case.
	//
	// Idempotency: if the first event's id is already stored in this stream
	// and the whole batch matches the stored events id for id, Append writes
	// nothing and returns the original result, regardless of expected (a
	// retry). An id used elsewhere is ErrDuplicateEvent.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error)

	// ReadStream returns up to limit events of one stream. Forward starts at
	// version from (1 is the first event); Backward starts at version from
	// and goes down (0 means from the last event). A stream with no events
	// returns an empty slice and no error.
	ReadStream(ctx context.Context, stream string, dir Direction, from uint64, limit int) ([]Event, error)

	// StreamVersion returns the current version of a stream, 0 if it has no events.
	StreamVersion(ctx context.Context, stream string) (uint64, error)

	// ReadAll returns up to limit events of the global log with positions
	// strictly after after, in increasing position order. It never returns
	// an event while an event with a lower position may still become
	// visible later, so a reader that resumes from the last position it saw
	// misses nothing.
	ReadAll(ctx context.Context, after Position, limit int) ([]Event, error)

	// Subscribe follows the global log from after: it delivers the events
	// already stored (catch-up), then new ones as they commit (live), each
	// exactly once, in strictly increasing position order, with no gap at
	// the hand-over. Events not matching filter are skipped.
	Subscribe(ctx context.Context, after Position, filter Filter) (*Subscription, error)

	// Head returns the position of the last event readable by ReadAll, or
	// the zero Position if the log is empty.
	Head(ctx context.Context) (Position, error)

	// Close releases the store. Appends in flight either complete or fail;
	// later calls return ErrClosed.
	Close() error
}
