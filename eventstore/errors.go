package eventstore

import (
	"errors"
	"fmt"
)

// Error kinds. Every error a Store returns for bad input or a broken
// expectation wraps exactly one of these, so callers test with errors.Is.
var (
	// ErrInvalidStream: the stream name is empty or malformed.
	ErrInvalidStream = errors.New("invalid stream name")
	// ErrInvalidEvent: an event is malformed (missing id or type, data that is not JSON, …).
	ErrInvalidEvent = errors.New("invalid event")
	// ErrEventTooLarge: an event's data and metadata exceed Limits.MaxEventBytes.
	ErrEventTooLarge = errors.New("event too large")
	// ErrBatchTooLarge: an append carries more than Limits.MaxBatchEvents events.
	ErrBatchTooLarge = errors.New("too many events in one append")
	// ErrConflict: the stream is not at the expected version. The concrete
	// error is a *ConflictError carrying the actual version.
	ErrConflict = errors.New("wrong expected version")
	// ErrDuplicateEvent: an event id is already used by a different event
	// (another stream, another position in this stream, or a retry that does
	// not match the original append).
	ErrDuplicateEvent = errors.New("duplicate event id")
	// ErrInvalidPosition: a position token could not be parsed.
	ErrInvalidPosition = errors.New("invalid position")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrChainBroken: a stream's hash chain does not verify. The concrete
	// error is a *ChainError naming the first broken link.
	ErrChainBroken = errors.New("hash chain broken")
	// ErrUnavailable: the backend cannot be reached right now; retrying later may succeed.
	ErrUnavailable = errors.New("event store unavailable")
)

// ConflictError is returned by Append when the expected version does not
// hold. It matches ErrConflict with errors.Is.
type ConflictError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   uint64 // the stream's version at the time of the append; 0 if it has no events
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %q: expected %s, but it is at version %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ChainError names the first event whose stored hash does not match the
// hash recomputed from the previous link and the event's canonical bytes.
type ChainError struct {
	Stream   string
	Version  uint64
	Position Position
	Reason   string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("stream %q: hash chain broken at version %d (position %s): %s", e.Stream, e.Version, e.Position, e.Reason)
}

// Is makes errors.Is(err, ErrChainBroken) true.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }
