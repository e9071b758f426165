package eventstore

import (
	"context"
	"time"
)

// Run is one append of an import: events of one stream, appended right
// after version After, recorded at RecordedAt (package copylog).
type Run struct {
	Stream     string
	After      uint64 // the stream's version before the run: the append is Exact(After)
	RecordedAt time.Time
	Events     []EventData
}

// Importer is a Store that can append several runs, of any streams, in one
// durable, atomic write, in the given order (their positions increase in
// it), each sealed with its own recorded-at: the hash chain is computed by
// the store as for Append. Either every run is written or none: on any
// error (a run's version does not hold, an id is already stored, the
// server is unavailable) the caller appends the runs one by one instead.
// Moving a log between stores (copylog) uses it where the target has it.
type Importer interface {
	Import(ctx context.Context, runs []Run) error
}
