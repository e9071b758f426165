// Package audit is the audit trail: per household and per problem, every
// event with its occurred-at and recorded-at instants, actor and role, what
// changed (before → after) and why; the household's file as it was at any
// past instant; export as JSON Lines and CSV.
//
// The trail is read from the event log itself, which is the tamper-evident
// record (hash-chained): the only read model here is an index from a
// household to its problem and referral streams (projection "audit_index").
// Changes are computed by folding the aggregate event by event and
// comparing a readable summary of its state before and after each event.
// Sensitive fields are never shown: a change to one reads "[sealed]".
package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name of the index.
const Name = "audit_index"

// Index maps households to their problem and referral streams.
type Index struct{}

// NewIndex returns the index projection.
func NewIndex() *Index { return &Index{} }

var _ projections.Projection = (*Index)(nil)

// Name implements projections.Projection.
func (*Index) Name() string { return Name }

// Tables implements projections.Projection.
func (*Index) Tables() []string { return []string{"audit_streams"} }

// Schema implements projections.Projection.
func (*Index) Schema() []string {
	return []string{`CREATE TABLE IF NOT EXISTS audit_streams (
			household_id TEXT NOT NULL,
			stream       TEXT NOT NULL,
			problem_id   TEXT NOT NULL,
			PRIMARY KEY (household_id, stream))` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS audit_streams_problem ON audit_streams (problem_id)`}
}

// Apply implements projections.Projection.
func (*Index) Apply(ctx context.Context, tx *projections.Tx, batch []projections.Envelope) error {
	for i := range batch {
		var household, problem string
		switch e := batch[i].Payload.(type) {
		case domain.HouseholdRegistered:
			household = e.HouseholdID
		case domain.ProblemReported:
			household, problem = e.HouseholdID, e.ProblemID
		case domain.ReferralRequested:
			household, problem = e.HouseholdID, e.ProblemID
		default:
			continue
		}
		if err := tx.Exec(ctx, `INSERT INTO audit_streams (household_id, stream, problem_id) VALUES (?, ?, ?)
			ON CONFLICT (household_id, stream) DO NOTHING`, household, batch[i].Stream, problem); err != nil {
			return err
		}
	}
	return nil
}

// ErrNotFound: no such household or problem in the index.
var ErrNotFound = errors.New("audit: not found / 未找到")

func (t *Trail) streams(ctx context.Context, where string, arg string) ([]string, error) {
	rows, err := t.db.QueryContext(ctx, t.d.Rebind(`SELECT stream FROM audit_streams WHERE `+where+` ORDER BY stream`), arg)
	if err != nil {
		return nil, fmt.Errorf("audit: index: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, arg)
	}
	return out, nil
}

// Trail reads audit trails. Safe for concurrent use.
//
// It keeps the entries of the streams it has described lately (decision
// 0152): a stream's entries up to a version never change (the log is
// append-only and an entry is made from the stream's events alone, with
// sealed values as their tokens), so a trail asked again costs one read of
// the stream past its last described version instead of folding and
// diffing every event again.
type Trail struct {
	db    *sql.DB
	d     projections.Dialect
	store storeReader
	reg   *domain.Registry
	cache *entryCache
}

// NewTrail returns a reader of trails over the index database and the event store.
func NewTrail(db *sql.DB, d projections.Dialect, store storeReader, reg *domain.Registry) *Trail {
	if d == nil {
		d = projections.SQLite
	}
	if reg == nil {
		reg = domain.NewRegistry()
	}
	return &Trail{db: db, d: d, store: store, reg: reg, cache: newEntryCache(maxCachedEntries)}
}

func streamID(stream string) string {
	_, id, _ := strings.Cut(stream, "-")
	return id
}
