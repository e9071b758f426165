// Package eventstore defines Doorstep's event store contract and the helpers
// every backend shares. What is here:
//
//   - The envelope (event.go): EventData, the write side (id chosen by the
//     writer as the idempotency key, type, schema version, JSON data,
//     Metadata: occurred-at, actor and role, command, correlation and
//     causation ids, community and grid, key id); Event, the read side (plus
//     stream, version, global position, recorded-at and hash); NewID (UUIDv7);
//     Category of a stream name; UnixNanos and FromUnixNanos, how backends
//     store instants; Limits (DefaultMaxEventBytes, DefaultMaxBatchEvents,
//     MaxStreamNameBytes, MaxTypeBytes) and the validation of an append
//     (ValidateAppend, ValidateStreamName, ValidateEventType).
//   - Hash chains (event.go, subscribe.go): ComputeHash, Seal, VerifyChain,
//     VerifyStream and VerifyAll; a broken link is a *ChainError.
//   - The Store interface (store.go): Append with an ExpectedVersion
//     (version.go: Any, NoStream, StreamExists, Exact; Satisfied, which
//     backends check inside their append transaction) answering an
//     AppendResult, ReadStream in a Direction, StreamVersion, ReadAll,
//     Subscribe, Head, Close.
//   - Imports (importer.go): Importer, the optional fast path of a store that
//     writes several runs of a moved log (each a Run) in one transaction
//     (copylog).
//   - Positions (position.go): Position, an opaque, totally ordered and
//     resumable point in the global log, with ParsePosition and its text form.
//   - Subscriptions (subscribe.go): Subscription (NewSubscription, for a
//     backend whose server pushes events), Filter (by stream category and
//     event type), Notifier (NewNotifier), and Follow with its FollowOptions,
//     which builds a gap-free catch-up-then-live subscription on top of a
//     LogReader (a backend's ReadAll).
//   - Errors (errors.go): sentinel kinds for errors.Is (ErrInvalidStream,
//     ErrInvalidEvent, ErrEventTooLarge, ErrBatchTooLarge, ErrConflict,
//     ErrDuplicateEvent, ErrInvalidPosition, ErrClosed, ErrChainBroken,
//     ErrUnavailable), *ConflictError carrying the actual version.
//
// Backends are subpackages: sqlite (the embedded default, one SQLite file,
// WAL, group commit), postgres (pgx; gap-free positions from xid8
// transaction ids, group commit, several nodes on one schema) and esdb
// (EventStoreDB/KurrentDB through the official Go client; decision 0082).
// All run the one conformance suite, storetest, declaring the features
// they offer (decision 0065). copylog moves a whole log from one backend to
// another (decision 0083).
//
// What is not here (docs/decisions/0064-package-layout.md): the conversion
// between domain events and envelopes (eventlog.Encode, eventlog.Decode,
// eventlog.Envelope) and the fold of a stream into an aggregate
// (eventlog.Load, eventlog.Fold) live in package eventlog, above this
// contract and below the command and read sides. This package imports only
// domain (its one id rule, for stream names). A test (doc_test.go) holds
// this comment to every exported name of the package.
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
