// Package flags is the read model of the flags the period close recorded
// (measures.flag_raised, decision 0099 and issue 15): one row per flag,
// with the community (or worker), the measure, the figure, the target, the
// periods involved and when it was recorded. Flags are facts of a closed
// period: a later resolution never removes one, and a query as of an
// instant sees only the flags recorded by then. GET /v1/measures/flags and
// the supervisor dashboard read it.
package flags

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name.
const Name = "flags"

// Projection keeps the rows. Stateless; safe for concurrent use.
type Projection struct{}

// New returns the projection.
func New() *Projection { return &Projection{} }

var _ projections.Projection = (*Projection)(nil)

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"flags_raised"} }

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS flags_raised (
			stream       TEXT NOT NULL,
			version      BIGINT NOT NULL,
			community    TEXT NOT NULL,
			worker       TEXT NOT NULL,
			period       TEXT NOT NULL,
			measure      TEXT NOT NULL,
			figure       DOUBLE PRECISION NOT NULL,
			target       DOUBLE PRECISION NOT NULL,
			periods      TEXT NOT NULL,
			message_en   TEXT NOT NULL,
			message_zh   TEXT NOT NULL,
			raised_at    BIGINT NOT NULL,
			recorded_at  BIGINT NOT NULL,
			PRIMARY KEY (stream, version))` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS flags_raised_recorded ON flags_raised (recorded_at)`,
		`CREATE INDEX IF NOT EXISTS flags_raised_community ON flags_raised (community, recorded_at)`,
	}
}

// Apply implements projections.Projection.
func (*Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	for i := range events {
		e := &events[i]
		ev, ok := e.Payload.(domain.MeasuresFlagRaised)
		if !ok {
			continue
		}
		if err := tx.Exec(ctx, `INSERT INTO flags_raised (stream, version, community, worker, period, measure, figure, target, periods,
			message_en, message_zh, raised_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream, version) DO NOTHING`,
			e.Stream, int64(e.Version), ev.Community, ev.Worker, ev.Period, ev.Measure, ev.Figure, ev.Target, strings.Join(ev.Periods, ","),
			ev.MessageEN, ev.MessageZH, ev.At.UnixNano(), e.RecordedAt.UnixNano()); err != nil {
			return fmt.Errorf("%s v%d: %w", e.Stream, e.Version, err)
		}
	}
	return nil
}

// MaxLimit bounds a page.
const MaxLimit = 1000

// ErrInvalidFilter: the filter cannot be run as given.
var ErrInvalidFilter = errors.New("flags: invalid filter / 筛选条件无效")

// Filter selects flags; empty fields match everything.
type Filter struct {
	// Communities: only these communities' flags (and not the street's);
	// nil: every community and the street.
	Communities []string
	Period      string    // the closed period the flag was raised at, e.g. 2026-06
	Measure     string    // e.g. resolution.two_months
	AsOf        time.Time // zero: now; else only flags recorded by then
	Limit       int       // default 100, at most MaxLimit
	Offset      int
}

// Flag is one recorded flag.
type Flag struct {
	Community, Worker, Period, Measure string
	Figure, Target                     float64
	Periods                            []string
	MessageEN, MessageZH               string
	RaisedAt, RecordedAt               time.Time
}

// Reader queries the flags. Safe for concurrent use.
type Reader struct {
	stmts *projections.Statements
}

// NewReader returns a reader over the read-model database.
func NewReader(db *sql.DB, d projections.Dialect) *Reader {
	if d == nil {
		d = projections.SQLite
	}
	return &Reader{stmts: projections.NewStatements(db, d)}
}

// List returns the flags matching f, the latest period first.
func (r *Reader) List(ctx context.Context, f Filter) ([]Flag, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > MaxLimit || f.Offset < 0 {
		return nil, fmt.Errorf("%w: limit at most %d, offset not negative", ErrInvalidFilter, MaxLimit)
	}
	var where []string
	var args []any
	if f.Communities != nil {
		if len(f.Communities) == 0 {
			return []Flag{}, nil
		}
		where = append(where, "community IN (?"+strings.Repeat(", ?", len(f.Communities)-1)+")")
		for _, c := range f.Communities {
			args = append(args, c)
		}
	}
	for _, c := range [][2]string{{"period", f.Period}, {"measure", f.Measure}} {
		if c[1] != "" {
			where = append(where, c[0]+" = ?")
			args = append(args, c[1])
		}
	}
	if !f.AsOf.IsZero() {
		where = append(where, "recorded_at <= ?")
		args = append(args, f.AsOf.UnixNano())
	}
	q := `SELECT community, worker, period, measure, figure, target, periods, message_en, message_zh, raised_at, recorded_at FROM flags_raised`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY raised_at DESC, community, measure, worker, stream, version LIMIT ? OFFSET ?`
	args = append(args, f.Limit, f.Offset)
	st, err := r.stmts.Get(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	defer rows.Close()
	out := []Flag{}
	for rows.Next() {
		var fl Flag
		var periods string
		var raised, recorded int64
		if err := rows.Scan(&fl.Community, &fl.Worker, &fl.Period, &fl.Measure, &fl.Figure, &fl.Target, &periods, &fl.MessageEN, &fl.MessageZH,
			&raised, &recorded); err != nil {
			return nil, err
		}
		if periods != "" {
			fl.Periods = strings.Split(periods, ",")
		}
		fl.RaisedAt, fl.RecordedAt = time.Unix(0, raised).UTC(), time.Unix(0, recorded).UTC()
		out = append(out, fl)
	}
	return out, rows.Err()
}
