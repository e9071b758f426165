package accesslog

import (
	"context"
	"fmt"
	"time"
)

// Moving the record between stores (`doorstep migrate`): Each reads every
// record in the order it was written, Import appends records as they are
// (their own times), durably.

// MaxImport bounds the records of one Import.
const MaxImport = 10_000

// Each calls f with every record, oldest written first, until f fails.
// Lines torn by a crash are left out, as SensitiveReads does.
func (a *File) Each(ctx context.Context, f func(Record) error) error {
	return a.scan(ctx, func(r Record, ok bool) error {
		if !ok {
			return nil
		}
		return f(r)
	})
}

// Import appends recs as they are (their own times and purposes), in
// order, in one write, and syncs. The hash chain is computed again on the
// target's own head, as for any record written there.
func (a *File) Import(ctx context.Context, recs []Record) error {
	rs, err := toImport(recs)
	if err != nil || len(rs) == 0 {
		return err
	}
	return a.gc.add(ctx, rs...)
}

// Each calls f with every record, oldest written first, until f fails.
func (a *Postgres) Each(ctx context.Context, f func(Record) error) error {
	recs, err := a.query(ctx, a.allSQL)
	if err != nil {
		return fmt.Errorf("access log: read the sensitive reads: %w", err)
	}
	for _, r := range recs {
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}

// Import appends recs as they are, in order, in one transaction.
func (a *Postgres) Import(ctx context.Context, recs []Record) error {
	rs, err := toImport(recs)
	if err != nil || len(rs) == 0 {
		return err
	}
	return a.write(ctx, rs)
}

// Same reports whether two records are the same read (times compared at
// the microsecond PostgreSQL keeps).
func Same(x, y Record) bool {
	return x.At.Truncate(time.Microsecond).Equal(y.At.Truncate(time.Microsecond)) && x.Actor == y.Actor && x.Role == y.Role &&
		x.HouseholdID == y.HouseholdID && x.What == y.What && x.Purpose == y.Purpose
}

// toImport checks the size of an import and returns its records as the
// target writes them: stamped to the microsecond, unchained (the target
// chains them after its own head).
func toImport(recs []Record) ([]Record, error) {
	if len(recs) > MaxImport {
		return nil, fmt.Errorf("access log: import %d records at once, at most %d", len(recs), MaxImport)
	}
	rs := make([]Record, len(recs))
	for i, r := range recs {
		r.At, r.Prev, r.Hash = stamp(r.At), "", ""
		rs[i] = r
	}
	return rs, nil
}
