// Package coverage is the read model of household histories that visit
// coverage is computed from (package coverage, decision 0098): per
// household its community, grid, registration and archive instants, its
// classes over time and its completed visits. Coverage itself is not
// stored: Reader.Report computes it for any period with the policy in force,
// so a closed period can be recomputed from the log and an open one answered
// live.
package coverage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/doorstep/doorstep/coverage"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name.
const Name = "coverage"

// Projection keeps the histories. Stateless; safe for concurrent use.
type Projection struct{}

// New returns the projection.
func New() *Projection { return &Projection{} }

var _ projections.Projection = (*Projection)(nil)

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string {
	return []string{"coverage_households", "coverage_classes", "coverage_visits"}
}

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS coverage_households (
			household_id  TEXT PRIMARY KEY,
			community     TEXT NOT NULL,
			grid          TEXT NOT NULL,
			registered_at BIGINT NOT NULL,
			archived_at   BIGINT NOT NULL)` + projections.WithoutRowID,
		`CREATE TABLE IF NOT EXISTS coverage_classes (
			household_id TEXT NOT NULL,
			version      BIGINT NOT NULL,
			at           BIGINT NOT NULL,
			class        TEXT NOT NULL,
			PRIMARY KEY (household_id, version))` + projections.WithoutRowID,
		`CREATE TABLE IF NOT EXISTS coverage_visits (
			household_id TEXT NOT NULL,
			version      BIGINT NOT NULL,
			at           BIGINT NOT NULL,
			mode         TEXT NOT NULL,
			not_counted  INTEGER NOT NULL,
			PRIMARY KEY (household_id, version))` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS coverage_visits_at ON coverage_visits (at)`,
	}
}

// Apply implements projections.Projection.
func (*Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	for i := range events {
		e := &events[i]
		if e.Category() != "household" || e.Payload == nil {
			continue
		}
		_, id, _ := strings.Cut(e.Stream, "-")
		var err error
		switch ev := e.Payload.(type) {
		case domain.HouseholdRegistered:
			err = tx.Exec(ctx, `INSERT INTO coverage_households (household_id, community, grid, registered_at, archived_at) VALUES (?, ?, ?, ?, 0)
				ON CONFLICT (household_id) DO NOTHING`, id, ev.Community, ev.Grid, ev.At.UnixNano())
			if err == nil {
				err = tx.Exec(ctx, `INSERT INTO coverage_classes (household_id, version, at, class) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
					id, int64(e.Version), ev.At.UnixNano(), string(ev.Class))
			}
		case domain.HouseholdRelocated:
			err = tx.Exec(ctx, `UPDATE coverage_households SET community = ?, grid = ? WHERE household_id = ?`, ev.Community, ev.Grid, id)
		case domain.HouseholdClassChanged:
			err = tx.Exec(ctx, `INSERT INTO coverage_classes (household_id, version, at, class) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				id, int64(e.Version), ev.At.UnixNano(), string(ev.To))
		case domain.HouseholdArchived:
			err = tx.Exec(ctx, `UPDATE coverage_households SET archived_at = ? WHERE household_id = ?`, ev.At.UnixNano(), id)
		case domain.VisitRecorded:
			if ev.Outcome == domain.OutcomeCompleted {
				err = tx.Exec(ctx, `INSERT INTO coverage_visits (household_id, version, at, mode, not_counted) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
					id, int64(e.Version), ev.OccurredAt.UnixNano(), string(ev.Mode), projections.Bool(ev.NotCounted))
			}
		}
		if err != nil {
			return fmt.Errorf("%s v%d: %w", e.Stream, e.Version, err)
		}
	}
	return nil
}

// Reader reads the histories and computes coverage. Safe for concurrent use.
type Reader struct {
	db   *sql.DB
	d    projections.Dialect
	open domain.Opener // opens sealed classes (decision 0148); nil: none
}

// WithOpener makes r open the households' sealed classes with o, the key
// vault (decision 0148): coverage_classes keeps the class as the log has it
// (a token since the class is sealed), and the cadence and the groups are
// per class. A class whose key is erased opens as "[erased]", which has no
// cadence: the household is not due in the periods computed after its
// erasure (periods already closed are events and do not change). Without
// an opener a sealed class is an error, not a silent drop. It returns r.
func (r *Reader) WithOpener(o domain.Opener) *Reader {
	r.open = o
	return r
}

// errNoOpener: a sealed class met by a reader without the key vault.
var errNoOpener = errors.New("coverage: a household's class is sealed and this reader has no key vault to open it (Reader.WithOpener) / 家庭类别已加密，读取方未配置密钥库")

// openClass returns a class as the coverage counts it: clear as it is, a
// token opened (domain.ErasedText once erased).
func (r *Reader) openClass(ctx context.Context, class string) (domain.HouseholdClass, error) {
	if !domain.IsSealedText(class) {
		return domain.HouseholdClass(class), nil
	}
	if r.open == nil {
		return "", errNoOpener
	}
	rv, err := domain.OpenText(ctx, r.open, class)
	if err != nil {
		if errors.Is(err, domain.ErrErased) {
			return domain.ErasedText, nil
		}
		return "", fmt.Errorf("coverage: open a household's class: %w", err)
	}
	return domain.HouseholdClass(rv.String()), nil
}

// NewReader returns a reader over the read-model database.
func NewReader(db *sql.DB, d projections.Dialect) *Reader {
	if d == nil {
		d = projections.SQLite
	}
	return &Reader{db: db, d: d}
}

// lookback is how far before a reporting period a cadence period may start
// (the longest cadence, a year).
const lookback = 366 * 24 * time.Hour

// Households returns the histories of the households registered before end
// (of community, or all when empty) with their completed visits from a year
// before start to end.
func (r *Reader) Households(ctx context.Context, community string, start, end time.Time) ([]coverage.Household, error) {
	return r.households(ctx, community, start.Add(-lookback), end)
}

// households reads the histories with the visits from visitsFrom to end.
func (r *Reader) households(ctx context.Context, community string, visitsFrom, end time.Time) ([]coverage.Household, error) {
	where, args := "registered_at < ?", []any{end.UnixNano()}
	if community != "" {
		where += " AND community = ?"
		args = append(args, community)
	}
	idx := map[string]int{}
	var out []coverage.Household
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT household_id, community, grid, registered_at, archived_at FROM coverage_households
		WHERE `+where+` ORDER BY household_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("coverage: households: %w", err)
	}
	for rows.Next() {
		var h coverage.Household
		var reg, arch int64
		if err := rows.Scan(&h.ID, &h.Community, &h.Grid, &reg, &arch); err != nil {
			rows.Close()
			return nil, err
		}
		h.Registered = time.Unix(0, reg)
		if arch != 0 {
			h.Archived = time.Unix(0, arch)
		}
		idx[h.ID] = len(out)
		out = append(out, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The whole street reads the tables without a join: households not
	// asked for are dropped by idx (a visit before end is of a household
	// registered before end).
	join, cargs := ` JOIN coverage_households h ON h.household_id = x.household_id WHERE h.`+where, args
	if community == "" {
		join, cargs = "", nil
	}
	rows, err = r.db.QueryContext(ctx, r.d.Rebind(`SELECT x.household_id, x.at, x.class FROM coverage_classes x`+join+` ORDER BY x.household_id, x.version`), cargs...)
	if err != nil {
		return nil, fmt.Errorf("coverage: classes: %w", err)
	}
	var classes []classRow
	for rows.Next() {
		var id, class string
		var at int64
		if err := rows.Scan(&id, &at, &class); err != nil {
			rows.Close()
			return nil, err
		}
		if i, ok := idx[id]; ok {
			classes = append(classes, classRow{i: i, at: at, class: class})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The sealed classes are opened while the visits are read: a key not
	// in the vault's cache is a read of the key store, and a whole
	// street's are many (the first report after a start).
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	opened := make(chan error, 1)
	go func() { opened <- r.openClasses(octx, classes) }()
	visits, err := r.visits(ctx, idx, out, community, where, args, visitsFrom, end)
	if err != nil {
		cancel() // stop the openers, and wait for them
		<-opened
		return nil, err
	}
	if err := <-opened; err != nil {
		return nil, err
	}
	for _, c := range classes {
		out[c.i].Classes = append(out[c.i].Classes, coverage.ClassAt{At: time.Unix(0, c.at), Class: c.opened})
	}
	return visits, nil
}

// classRow is a household's class as coverage_classes keeps it (a token
// since decision 0148), and as opened.
type classRow struct {
	i      int // the household's index in households' answer
	at     int64
	class  string
	opened domain.HouseholdClass
}

// openWorkers is how many classes are opened at once: reads of the key
// store (files, or PostgreSQL) overlap (decision 0154).
const openWorkers = 8

// openClasses opens every row's class into its opened field, openWorkers
// at a time; the first error stops the others.
func (r *Reader) openClasses(ctx context.Context, rows []classRow) error {
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(openWorkers, len(rows)) {
		g.Go(func() error {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(rows) {
					return nil
				}
				c, err := r.openClass(gctx, rows[k].class)
				if err != nil {
					return err
				}
				rows[k].opened = c
			}
		})
	}
	return g.Wait()
}

// visits adds to out (indexed by idx) the completed visits from visitsFrom
// to end, and returns out.
func (r *Reader) visits(ctx context.Context, idx map[string]int, out []coverage.Household, community, where string, args []any, visitsFrom, end time.Time) ([]coverage.Household, error) {
	vq := `SELECT x.household_id, x.at, x.mode, x.not_counted FROM coverage_visits x WHERE x.at >= ? AND x.at < ?`
	vargs := []any{visitsFrom.UnixNano(), end.UnixNano()}
	if community != "" {
		vq = `SELECT x.household_id, x.at, x.mode, x.not_counted FROM coverage_visits x
		JOIN coverage_households h ON h.household_id = x.household_id WHERE x.at >= ? AND x.at < ? AND h.` + where
		vargs = append(vargs, args...)
	}
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(vq), vargs...)
	if err != nil {
		return nil, fmt.Errorf("coverage: visits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, mode string
		var at int64
		var nc bool
		if err := rows.Scan(&id, &at, &mode, &nc); err != nil {
			return nil, err
		}
		if i, ok := idx[id]; ok {
			out[i].Visits = append(out[i].Visits, coverage.Visit{At: time.Unix(0, at), Mode: domain.VisitMode(mode), NotCounted: nc})
		}
	}
	return out, rows.Err()
}

// Report computes the coverage of the reporting period label ("2026-03",
// "2026-Q1", …) under pol, of one community or all.
func (r *Reader) Report(ctx context.Context, pol *domain.Policy, loc *time.Location, label, community string) (*coverage.Report, error) {
	_, start, end, err := domain.ParsePeriodLabel(label, loc)
	if err != nil {
		return nil, err
	}
	hs, err := r.households(ctx, community, VisitsFrom(pol, loc, start), end)
	if err != nil {
		return nil, err
	}
	return coverage.Compute(pol, loc, label, hs)
}

// VisitsFrom returns the earliest instant a visit can cover a cadence
// period that ends in a reporting period starting at start: the start of
// the longest cadence period of pol that contains start (a month close
// under a quarterly cadence reads three months of visits, not a year). A
// policy without cadences reads a year back.
func VisitsFrom(pol *domain.Policy, loc *time.Location, start time.Time) time.Time {
	from := start
	for _, per := range pol.VisitCadence {
		if ps, _ := per.Bounds(start, loc); ps.Before(from) {
			from = ps
		}
	}
	if len(pol.VisitCadence) == 0 {
		return start.Add(-lookback)
	}
	return from
}

// Live answers coverage reports with the policy in force now. Safe for
// concurrent use.
type Live struct {
	Reader   *Reader
	Policies *domain.PolicySet
	Location *time.Location
}

// Report computes the coverage of the period label of one community (or
// all) with the policy in force.
func (l Live) Report(ctx context.Context, label, community string) (*coverage.Report, error) {
	return l.Reader.Report(ctx, l.Policies.Current(), l.Location, label, community)
}

// Targets returns the coverage targets of the policy in force.
func (l Live) Targets() domain.CoverageTargets { return l.Policies.Current().Coverage }

// CompletedVisitCounts counts, for every community at once, the visits
// CompletedVisits lists for [start, end): one grouped query where asking
// community by community would scan the month once per community (the
// period close of the 100,000-household town, issue 15).
func (r *Reader) CompletedVisitCounts(ctx context.Context, start, end time.Time) (map[string]int, error) {
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT h.community, COUNT(*) FROM coverage_visits x
		JOIN coverage_households h ON h.household_id = x.household_id WHERE x.at >= ? AND x.at < ?
		GROUP BY h.community`), start.UnixNano(), end.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("coverage: visit counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var community string
		var n int64
		if err := rows.Scan(&community, &n); err != nil {
			return nil, err
		}
		out[community] = int(n)
	}
	return out, rows.Err()
}

// CompletedVisits lists the completed visits that happened in [start, end)
// of the households of community (their community now), each named by its
// household and the version of its visit.recorded event, in household then
// version order: the population a month's spot checks are drawn from
// (decision 0115).
func (r *Reader) CompletedVisits(ctx context.Context, community string, start, end time.Time) ([]domain.VisitRef, error) {
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT x.household_id, x.version FROM coverage_visits x
		JOIN coverage_households h ON h.household_id = x.household_id WHERE x.at >= ? AND x.at < ? AND h.community = ?
		ORDER BY x.household_id, x.version`), start.UnixNano(), end.UnixNano(), community)
	if err != nil {
		return nil, fmt.Errorf("coverage: visits: %w", err)
	}
	defer rows.Close()
	out := []domain.VisitRef{}
	for rows.Next() {
		var v domain.VisitRef
		var version int64
		if err := rows.Scan(&v.Household, &version); err != nil {
			return nil, err
		}
		v.Version = uint64(version)
		out = append(out, v)
	}
	return out, rows.Err()
}
