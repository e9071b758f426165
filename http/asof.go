package http

import (
	"context"
	"fmt"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// versioned is what a record folded from its stream tells about itself.
type versioned interface {
	Exists() bool
	Version() uint64
}

// asOfRecord folds a problem or referral as of as (fold) and refuses, with
// a clear 404, a version or an instant the record does not have: a version
// beyond its last one (version_not_found), or an instant before it existed
// (not_reported_then for a problem, not_requested_then for a referral,
// like a household's not_registered_then). The record is known to exist
// now (the caller checked its scope).
func asOfRecord[A versioned](ctx context.Context, kind, id string, as domain.AsOf, fold func(ctx context.Context, id string, as domain.AsOf) (A, error)) (A, error) {
	a, err := fold(ctx, id, as)
	if err != nil {
		return a, err
	}
	if as.Version != 0 {
		last := a.Version()
		if !as.RecordedAt.IsZero() {
			now, err := fold(ctx, id, domain.AsOf{})
			if err != nil {
				return a, err
			}
			last = now.Version()
		}
		if as.Version > last {
			zh := map[string]string{"problem": "问题", "referral": "转介"}[kind]
			return a, newErr(ErrNotFound, "version_not_found", "version",
				fmt.Sprintf("%s %s has versions 1 to %d, not %d; ask for one of them, or leave version out for the latest", kind, id, last, as.Version),
				fmt.Sprintf("%s %s 的版本为 1 至 %d，没有版本 %d；请指定其中之一，或不填 “version” 以读取最新版本", zh, id, last, as.Version))
		}
	}
	if !a.Exists() && !as.RecordedAt.IsZero() {
		at := as.RecordedAt.Format(time.RFC3339)
		if kind == "referral" {
			return a, newErr(ErrNotFound, "not_requested_then", "at",
				fmt.Sprintf("referral %s had not been requested at %s; ask for a later instant", id, at),
				fmt.Sprintf("转介 %s 在 %s 尚未发起；请指定更晚的时刻", id, at))
		}
		return a, newErr(ErrNotFound, "not_reported_then", "at",
			fmt.Sprintf("problem %s had not been reported at %s; ask for a later instant", id, at),
			fmt.Sprintf("问题 %s 在 %s 尚未登记；请指定更晚的时刻", id, at))
	}
	return a, nil
}
