// Package relief is the read model of the relief ledger (decision 0128):
// one row per handover recorded on a visit (decision 0122) with the
// household, its community and grid when the visit was recorded, the visit,
// when it occurred and in which month (in the community time zone), the
// kind, the amount in fen or the items, the recipient member's id and how
// receipt was acknowledged. Nothing sealed is here: the recipient is named
// by member id, never by name; the acknowledgement reference is not copied.
// Read per community and month for GET /v1/relief, with totals per kind.
package relief

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name.
const Name = "relief"

// Projection keeps the ledger. Safe for concurrent use.
type Projection struct {
	loc *time.Location
}

// New returns the projection; loc is the community time zone in which a
// handover's month is counted (UTC when nil).
func New(loc *time.Location) *Projection {
	if loc == nil {
		loc = time.UTC
	}
	return &Projection{loc: loc}
}

var _ projections.Projection = (*Projection)(nil)

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"relief_households", "relief_handovers"} }

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS relief_households (
			household_id TEXT PRIMARY KEY,
			community    TEXT NOT NULL,
			grid         TEXT NOT NULL)` + projections.WithoutRowID,
		`CREATE TABLE IF NOT EXISTS relief_handovers (
			household_id TEXT NOT NULL,
			version      BIGINT NOT NULL,
			line         INTEGER NOT NULL,
			community    TEXT NOT NULL,
			grid         TEXT NOT NULL,
			month        TEXT NOT NULL,
			visit_id     TEXT NOT NULL,
			occurred_at  BIGINT NOT NULL,
			kind         TEXT NOT NULL,
			amount_fen   BIGINT NOT NULL,
			items        TEXT NOT NULL,
			units        BIGINT NOT NULL,
			recipient    TEXT NOT NULL,
			ack_method   TEXT NOT NULL,
			PRIMARY KEY (household_id, version, line))` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS relief_handovers_month ON relief_handovers (month, community)`,
	}
}

// Apply implements projections.Projection.
func (p *Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	for i := range events {
		e := &events[i]
		if e.Category() != "household" || e.Payload == nil {
			continue
		}
		_, id, _ := strings.Cut(e.Stream, "-")
		var err error
		switch ev := e.Payload.(type) {
		case domain.HouseholdRegistered:
			err = tx.Exec(ctx, `INSERT INTO relief_households (household_id, community, grid) VALUES (?, ?, ?) ON CONFLICT (household_id) DO NOTHING`,
				id, ev.Community, ev.Grid)
		case domain.HouseholdRelocated:
			err = tx.Exec(ctx, `UPDATE relief_households SET community = ?, grid = ? WHERE household_id = ?`, ev.Community, ev.Grid, id)
		case domain.VisitRecorded:
			if len(ev.Relief) > 0 {
				err = p.handovers(ctx, tx, id, int64(e.Version), ev)
			}
		}
		if err != nil {
			return fmt.Errorf("%s v%d: %w", e.Stream, e.Version, err)
		}
	}
	return nil
}

// handovers records the relief of one visit, under the community and grid
// the household is in when the visit is recorded.
func (p *Projection) handovers(ctx context.Context, tx *projections.Tx, id string, version int64, ev domain.VisitRecorded) error {
	var community, grid string
	if err := tx.QueryRow(ctx, `SELECT community, grid FROM relief_households WHERE household_id = ?`, id).Scan(&community, &grid); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return err
	}
	month := ev.OccurredAt.In(p.loc).Format("2006-01")
	for n, r := range ev.Relief {
		items, units := "", int64(0)
		if len(r.Items) > 0 {
			b, err := json.Marshal(r.Items)
			if err != nil {
				return err
			}
			items = string(b)
			for _, it := range r.Items {
				units += int64(it.Quantity)
			}
		}
		if err := tx.Exec(ctx, `INSERT INTO relief_handovers (household_id, version, line, community, grid, month, visit_id, occurred_at, kind,
			amount_fen, items, units, recipient, ack_method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id, version, n, community, grid, month, ev.VisitID, ev.OccurredAt.UnixNano(), string(r.Kind), r.AmountFen, items, units,
			r.Recipient, string(r.AckMethod)); err != nil {
			return err
		}
	}
	return nil
}

// MaxLimit bounds a page.
const MaxLimit = 1000

// ErrInvalidFilter: the filter cannot be run as given.
var ErrInvalidFilter = errors.New("relief: invalid filter / 筛选条件无效")

// Filter selects the handovers of a month (YYYY-MM, required), of a
// community (all when empty).
type Filter struct {
	Community     string
	Month         string
	Limit, Offset int // Limit default 100, at most MaxLimit
}

// Handover is one row of the ledger.
type Handover struct {
	HouseholdID, Community, Grid, VisitID string
	OccurredAt                            time.Time
	Kind                                  domain.ReliefKind
	AmountFen                             int64
	Items                                 []domain.ReliefItem
	Recipient                             string
	AckMethod                             domain.AckMethod
}

// Total sums the handovers of one kind: how many, the amount in fen (cash
// kinds) and the units of goods (goods kinds).
type Total struct {
	Kind      domain.ReliefKind
	Handovers int
	AmountFen int64
	Units     int64
}

// Ledger is a page of handovers, oldest first, and the totals per kind over
// the whole month (not only the page), in the order of domain.ReliefKinds.
type Ledger struct {
	Handovers []Handover
	Totals    []Total
	Count     int // handovers in the month
}

// Reader queries the ledger. Safe for concurrent use.
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

// List returns the ledger of f.
func (r *Reader) List(ctx context.Context, f Filter) (Ledger, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > MaxLimit || f.Offset < 0 {
		return Ledger{}, fmt.Errorf("%w: limit at most %d, offset not negative", ErrInvalidFilter, MaxLimit)
	}
	if _, err := time.Parse("2006-01", f.Month); err != nil {
		return Ledger{}, fmt.Errorf("%w: month %q is not YYYY-MM", ErrInvalidFilter, f.Month)
	}
	where, args := "month = ?", []any{f.Month}
	if f.Community != "" {
		where += " AND community = ?"
		args = append(args, f.Community)
	}
	out := Ledger{Handovers: []Handover{}, Totals: []Total{}}
	st, err := r.stmts.Get(ctx, `SELECT kind, COUNT(*), COALESCE(SUM(amount_fen), 0), COALESCE(SUM(units), 0) FROM relief_handovers WHERE `+where+` GROUP BY kind`)
	if err != nil {
		return Ledger{}, fmt.Errorf("relief: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return Ledger{}, fmt.Errorf("relief: %w", err)
	}
	byKind := map[domain.ReliefKind]Total{}
	for rows.Next() {
		var t Total
		if err := rows.Scan(&t.Kind, &t.Handovers, &t.AmountFen, &t.Units); err != nil {
			rows.Close()
			return Ledger{}, err
		}
		byKind[t.Kind] = t
		out.Count += t.Handovers
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Ledger{}, err
	}
	for _, k := range domain.ReliefKinds() {
		if t, ok := byKind[k]; ok {
			out.Totals = append(out.Totals, t)
		}
	}
	st, err = r.stmts.Get(ctx, `SELECT household_id, community, grid, visit_id, occurred_at, kind, amount_fen, items, recipient, ack_method
		FROM relief_handovers WHERE `+where+` ORDER BY occurred_at, household_id, version, line LIMIT ? OFFSET ?`)
	if err != nil {
		return Ledger{}, fmt.Errorf("relief: %w", err)
	}
	rows, err = st.QueryContext(ctx, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return Ledger{}, fmt.Errorf("relief: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h Handover
		var at int64
		var items string
		if err := rows.Scan(&h.HouseholdID, &h.Community, &h.Grid, &h.VisitID, &at, &h.Kind, &h.AmountFen, &items, &h.Recipient, &h.AckMethod); err != nil {
			return Ledger{}, err
		}
		h.OccurredAt = time.Unix(0, at).UTC()
		if items != "" {
			if err := json.Unmarshal([]byte(items), &h.Items); err != nil {
				return Ledger{}, fmt.Errorf("relief: items of %s: %w", h.HouseholdID, err)
			}
		}
		out.Handovers = append(out.Handovers, h)
	}
	return out, rows.Err()
}
