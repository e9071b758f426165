// Package rectifications is the read model of rectification cases (整改,
// decision 0114): one row per case with its community, what opened it,
// status, the running deadline and its alert stage (as the deadline watcher
// recorded it), how many 约谈 and 回头看 were recorded and the last review's
// result; filtered and paged for GET /v1/rectifications. A case's own
// record (minutes, findings) is read from its stream, not from here.
package rectifications

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
const Name = "rectifications"

// Projection keeps the rows. Stateless; safe for concurrent use.
type Projection struct{}

// New returns the projection.
func New() *Projection { return &Projection{} }

var _ projections.Projection = (*Projection)(nil)

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"rectifications"} }

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS rectifications (
			case_id      TEXT PRIMARY KEY,
			community    TEXT NOT NULL,
			source       TEXT NOT NULL,
			measure      TEXT NOT NULL,
			periods      TEXT NOT NULL,
			status       TEXT NOT NULL,
			opened_at    BIGINT NOT NULL,
			clock_start  BIGINT NOT NULL,
			due          BIGINT NOT NULL,
			provisional  INTEGER NOT NULL,
			stage        TEXT NOT NULL,
			interviews   INTEGER NOT NULL,
			reviews      INTEGER NOT NULL,
			last_result  TEXT NOT NULL,
			closed_at    BIGINT NOT NULL,
			updated_at   BIGINT NOT NULL)` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS rectifications_community ON rectifications (community, status)`,
	}
}

// Apply implements projections.Projection.
func (*Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	for i := range events {
		e := &events[i]
		if e.Category() != "rectification" || e.Payload == nil {
			continue
		}
		_, id, _ := strings.Cut(e.Stream, "-")
		at := e.RecordedAt.UnixNano()
		var err error
		switch ev := e.Payload.(type) {
		case domain.RectificationOpened:
			err = tx.Exec(ctx, `INSERT INTO rectifications (case_id, community, source, measure, periods, status, opened_at, clock_start, due,
				provisional, stage, interviews, reviews, last_result, closed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, 0, '', 0, ?)
				ON CONFLICT (case_id) DO NOTHING`, id, ev.Community, string(ev.Source), ev.Measure, strings.Join(ev.Periods, ","),
				string(domain.RectificationOpen), ev.At.UnixNano(), ev.At.UnixNano(), ev.Due.UnixNano(), projections.Bool(ev.Calendar.IsProvisional()), at)
		case domain.RectificationInterviewRecorded:
			err = tx.Exec(ctx, `UPDATE rectifications SET interviews = interviews + 1, updated_at = ? WHERE case_id = ?`, at, id)
		case domain.RectificationReviewed:
			if ev.Result == domain.ReviewPassed {
				err = tx.Exec(ctx, `UPDATE rectifications SET reviews = reviews + 1, last_result = ?, status = ?, stage = '', due = 0, provisional = 0,
					closed_at = ?, updated_at = ? WHERE case_id = ?`, string(ev.Result), string(domain.RectificationClosed), ev.At.UnixNano(), at, id)
			} else {
				err = tx.Exec(ctx, `UPDATE rectifications SET reviews = reviews + 1, last_result = ?, stage = '', clock_start = ?, due = ?, provisional = ?,
					updated_at = ? WHERE case_id = ?`, string(ev.Result), ev.At.UnixNano(), ev.Due.UnixNano(), projections.Bool(ev.Calendar.IsProvisional()), at, id)
			}
		case domain.RectificationDeadlineApproaching:
			// A breach recorded on the same clock stays the stage.
			err = tx.Exec(ctx, `UPDATE rectifications SET stage = 'approaching', updated_at = ? WHERE case_id = ? AND clock_start = ? AND stage = ''`,
				at, id, ev.ClockStart.UnixNano())
		case domain.RectificationDeadlineBreached:
			err = tx.Exec(ctx, `UPDATE rectifications SET stage = 'breached', updated_at = ? WHERE case_id = ? AND clock_start = ?`, at, id, ev.ClockStart.UnixNano())
		case domain.RectificationDeadlineRescheduled:
			stage := "stage"
			for _, w := range ev.Withdrawn {
				if w == domain.StageBreached {
					stage = "CASE WHEN stage = 'breached' THEN '' ELSE stage END"
				}
			}
			err = tx.Exec(ctx, `UPDATE rectifications SET due = ?, provisional = ?, stage = `+stage+`, updated_at = ? WHERE case_id = ? AND clock_start = ?`,
				ev.NewDue.UnixNano(), projections.Bool(ev.Calendar.IsProvisional()), at, id, ev.ClockStart.UnixNano())
		}
		if err != nil {
			return fmt.Errorf("%s v%d: %w", e.Stream, e.Version, err)
		}
	}
	return nil
}

// MaxLimit bounds a page.
const MaxLimit = 1000

// ErrInvalidFilter: the filter cannot be run as given.
var ErrInvalidFilter = errors.New("rectifications: invalid filter / 筛选条件无效")

// Filter selects cases; empty fields match everything.
type Filter struct {
	Community     string
	Status        string // open or closed
	Stage         string // approaching, breached, none
	Limit, Offset int    // Limit default 100, at most MaxLimit
}

// Case is one row.
type Case struct {
	ID, Community, Source, Measure string
	Periods                        []string
	Status                         string
	OpenedAt, Due, ClosedAt        time.Time // zero: none
	Provisional                    bool
	Stage                          string
	Interviews, Reviews            int
	LastResult                     string
	UpdatedAt                      time.Time
}

// Reader queries the cases. Safe for concurrent use.
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

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// List returns the cases matching f, newest first.
func (r *Reader) List(ctx context.Context, f Filter) ([]Case, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > MaxLimit || f.Offset < 0 {
		return nil, fmt.Errorf("%w: limit at most %d, offset not negative", ErrInvalidFilter, MaxLimit)
	}
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("community", f.Community)
	eq("status", f.Status)
	switch f.Stage {
	case "":
	case "none":
		where = append(where, "stage = ''")
	case "approaching", "breached":
		eq("stage", f.Stage)
	default:
		return nil, fmt.Errorf("%w: stage %q", ErrInvalidFilter, f.Stage)
	}
	q := `SELECT case_id, community, source, measure, periods, status, opened_at, due, closed_at, provisional, stage, interviews, reviews,
		last_result, updated_at FROM rectifications`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY opened_at DESC, case_id LIMIT ? OFFSET ?`
	args = append(args, f.Limit, f.Offset)
	st, err := r.stmts.Get(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("rectifications: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("rectifications: %w", err)
	}
	defer rows.Close()
	out := []Case{}
	for rows.Next() {
		var c Case
		var periods string
		var opened, due, closed, updated int64
		if err := rows.Scan(&c.ID, &c.Community, &c.Source, &c.Measure, &periods, &c.Status, &opened, &due, &closed, &c.Provisional, &c.Stage,
			&c.Interviews, &c.Reviews, &c.LastResult, &updated); err != nil {
			return nil, err
		}
		if periods != "" {
			c.Periods = strings.Split(periods, ",")
		}
		c.OpenedAt, c.Due, c.ClosedAt, c.UpdatedAt = fromNanos(opened), fromNanos(due), fromNanos(closed), fromNanos(updated)
		out = append(out, c)
	}
	return out, rows.Err()
}
