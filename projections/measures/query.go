package measures

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Rate is a ratio of counters. A rate with no denominator has no value.
type Rate struct {
	Num, Den int64
}

// Value returns Num/Den and whether Den > 0.
func (r Rate) Value() (float64, bool) {
	if r.Den == 0 {
		return 0, false
	}
	return float64(r.Num) / float64(r.Den), true
}

// Mean is an average of a sum over a count.
type Mean = Rate

// Row is the measures of one group (community, grid or worker) in one month.
type Row struct {
	Group  string // the community, grid or worker
	Month  string // "2026-03"
	Counts map[string]int64

	ResolutionRate  Rate            // resolved now / reported in the month
	OnTime          map[string]Rate // per deadline kind (domain clock kinds and "visit_entry")
	Satisfaction    Mean            // mean score 1–5
	Satisfied       Rate            // share of ratings 4 or 5
	ResourceDays    Mean            // mean days from discovery to resource linked
	RecurrenceRate  Rate            // reopenings / resolutions
	VisitCoverage   Rate            // visits on schedule / (those + visit_due breaches)
	LateEntryRate   Rate            // late entries / visits
	RefusalRate     Rate            // refusals / visits
	ResolutionDays  Mean            // mean days from discovery to resolution
	IneffectiveRate Rate            // completed visits that recorded communication ineffective / completed visits (沟通无效, decision 0145)
}

// GroupBy chooses the group of a query.
type GroupBy string

// Groupings.
const (
	ByCommunity GroupBy = "community"
	ByGrid      GroupBy = "grid"
	ByWorker    GroupBy = "worker"
)

// Query selects measures. Empty filters match everything; months are
// "YYYY-MM", inclusive.
type Query struct {
	By                      GroupBy
	Community, Grid, Worker string
	FromMonth, ToMonth      string
}

// ErrInvalidQuery: the query cannot be run as given.
var ErrInvalidQuery = errors.New("measures: invalid query / 查询条件无效")

// Reader queries the measures. Safe for concurrent use.
//
// It keeps the rows of its recent queries with the projection's checkpoint
// they were read at (decision 0152): a query asked again while the
// checkpoint has not moved is answered from memory, one indexed read of the
// checkpoint instead of a scan of every counter row. The dashboard asks the
// same query on every load, and the counters move only when the projection
// commits a batch.
type Reader struct {
	db *sql.DB
	d  projections.Dialect

	cache *projections.Answers[Query, []Row]
}

// maxCachedQueries bounds the cache: past it, it is emptied before the next
// query is kept (the console asks a handful of distinct queries).
const maxCachedQueries = 256

// NewReader returns a reader over the read-model database.
func NewReader(db *sql.DB, d projections.Dialect) *Reader {
	if d == nil {
		d = projections.SQLite
	}
	return &Reader{db: db, d: d, cache: projections.NewAnswers[Query, []Row](db, d, Name, maxCachedQueries)}
}

// Kinds are the deadline kinds with an on-time rate.
func Kinds() []string {
	return []string{string(domain.ClockProblemResponse), string(domain.ClockProblemResolution), string(domain.ClockProblemFollowUp),
		string(domain.ClockReferralAcceptance), string(domain.ClockReferralCompletion), string(domain.ClockVisitDue), KindVisitEntry}
}

// Measures returns one row per group and month, ordered by group then month.
func (r *Reader) Measures(ctx context.Context, q Query) ([]Row, error) {
	rows, err := r.cache.Get(ctx, q, func(ctx context.Context) ([]Row, error) { return r.query(ctx, q) })
	if err != nil {
		return nil, err
	}
	// The cached rows stay unchanged whatever the caller does with its copy.
	out := make([]Row, len(rows))
	for i, row := range rows {
		out[i] = row
		out[i].Counts = maps.Clone(row.Counts)
		out[i].OnTime = maps.Clone(row.OnTime)
	}
	return out, nil
}

// query reads the rows of q from the database.
func (r *Reader) query(ctx context.Context, q Query) ([]Row, error) {
	switch q.By {
	case ByCommunity, ByGrid, ByWorker:
	default:
		return nil, fmt.Errorf("%w: group by community, grid or worker / 请按社区、网格或工作人员分组", ErrInvalidQuery)
	}
	var where []string
	var args []any
	for _, f := range []struct{ col, v string }{{"community", q.Community}, {"grid", q.Grid}, {"worker", q.Worker}} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	if q.FromMonth != "" {
		where = append(where, "month >= ?")
		args = append(args, q.FromMonth)
	}
	if q.ToMonth != "" {
		where = append(where, "month <= ?")
		args = append(args, q.ToMonth)
	}
	var sums []string
	for _, m := range Metrics() {
		sums = append(sums, "CAST(sum("+column(m)+") AS BIGINT)")
	}
	sqlq := `SELECT ` + string(q.By) + `, month, ` + strings.Join(sums, ", ") + ` FROM measures_counts`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` GROUP BY ` + string(q.By) + `, month ORDER BY ` + string(q.By) + `, month`
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(sqlq), args...)
	if err != nil {
		return nil, fmt.Errorf("measures: query: %w", err)
	}
	defer rows.Close()
	var out []Row
	names := Metrics()
	vals := make([]int64, len(names))
	dest := make([]any, 0, len(names)+2)
	for rows.Next() {
		r := Row{Counts: map[string]int64{}}
		dest = append(dest[:0], &r.Group, &r.Month)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if v != 0 {
				r.Counts[names[i]] = v
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].derive()
	}
	slices.SortFunc(out, func(a, b Row) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Month, b.Month)
	})
	return out, nil
}

const day = 24 * 3600

func (r *Row) derive() {
	c := r.Counts
	r.ResolutionRate = Rate{c[MProblemsResolved], c[MProblemsReported]}
	r.OnTime = map[string]Rate{}
	for _, k := range Kinds() {
		on, br := c[OnTimePrefix+k], c[BreachedPrefix+k]
		r.OnTime[k] = Rate{on, on + br}
	}
	r.Satisfaction = Mean{c[MRatingSum], c[MRatings]}
	r.Satisfied = Rate{c[MSatisfied], c[MRatings]}
	r.ResourceDays = Mean{c[MResourceSeconds] / day, c[MResourceLinked]}
	r.RecurrenceRate = Rate{c[MReopened], c[MResolutions]}
	r.VisitCoverage = Rate{c[MVisitsOnSchedule], c[MVisitsOnSchedule] + c[BreachedPrefix+string(domain.ClockVisitDue)]}
	r.LateEntryRate = Rate{c[MVisitsLate], c[MVisits]}
	r.RefusalRate = Rate{c[MVisitsRefused], c[MVisits]}
	r.IneffectiveRate = Rate{c[MVisitsIneffective], c[MVisitsCompleted]}
	r.ResolutionDays = Mean{c[MResolutionSeconds] / day, c[MResolutions]}
}

// Resolution returns, per community, the problems reported in month
// ("YYYY-MM") and how many are resolved now, long-term problems excluded
// (化解率, 001 §2.4.4): what a period close records.
func (r *Reader) Resolution(ctx context.Context, month string) (map[string]Rate, error) {
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT community, CAST(count(*) AS BIGINT),
		CAST(sum(CASE WHEN status IN ('resolved', '`+statusClosedResolved+`') THEN 1 ELSE 0 END) AS BIGINT)
		FROM measures_problems WHERE report_month = ? AND long_term = 0 GROUP BY community`), month)
	if err != nil {
		return nil, fmt.Errorf("measures: resolution: %w", err)
	}
	defer rows.Close()
	out := map[string]Rate{}
	for rows.Next() {
		var c string
		var rt Rate
		if err := rows.Scan(&c, &rt.Den, &rt.Num); err != nil {
			return nil, err
		}
		out[c] = rt
	}
	return out, rows.Err()
}

// RiskFigures are the figures of a community in a month that the risk
// thresholds of 001 §6.2 are checked against at a period close.
type RiskFigures struct {
	Refusals          Rate            // refused visits / visits made in the month
	ResolutionSeconds Rate            // seconds discovery → resolution summed / resolutions in the month
	Workers           map[string]Rate // per worker who found them: resolved now / reported in the month, long-term excluded

	// IneffectiveCommunication: completed visits that recorded
	// communication ineffective / completed visits in the month (沟通无效,
	// decision 0145).
	IneffectiveCommunication Rate
}

// Risk returns, per community, the risk figures of month ("YYYY-MM").
func (r *Reader) Risk(ctx context.Context, month string) (map[string]*RiskFigures, error) {
	out := map[string]*RiskFigures{}
	get := func(c string) *RiskFigures {
		f := out[c]
		if f == nil {
			f = &RiskFigures{Workers: map[string]Rate{}}
			out[c] = f
		}
		return f
	}
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT community, CAST(sum(`+column(MVisitsRefused)+`) AS BIGINT), CAST(sum(`+column(MVisits)+`) AS BIGINT),
		CAST(sum(`+column(MResolutionSeconds)+`) AS BIGINT), CAST(sum(`+column(MResolutions)+`) AS BIGINT),
		CAST(sum(`+column(MVisitsIneffective)+`) AS BIGINT), CAST(sum(`+column(MVisitsCompleted)+`) AS BIGINT)
		FROM measures_counts WHERE month = ? GROUP BY community`), month)
	if err != nil {
		return nil, fmt.Errorf("measures: risk: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var ref, res, ineff Rate
		if err := rows.Scan(&c, &ref.Num, &ref.Den, &res.Num, &res.Den, &ineff.Num, &ineff.Den); err != nil {
			return nil, err
		}
		f := get(c)
		f.Refusals, f.ResolutionSeconds, f.IneffectiveCommunication = ref, res, ineff
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	wrows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT community, worker, CAST(count(*) AS BIGINT),
		CAST(sum(CASE WHEN status IN ('resolved', '`+statusClosedResolved+`') THEN 1 ELSE 0 END) AS BIGINT)
		FROM measures_problems WHERE report_month = ? AND long_term = 0 GROUP BY community, worker`), month)
	if err != nil {
		return nil, fmt.Errorf("measures: risk: %w", err)
	}
	defer wrows.Close()
	for wrows.Next() {
		var c, w string
		var rt Rate
		if err := wrows.Scan(&c, &w, &rt.Den, &rt.Num); err != nil {
			return nil, err
		}
		get(c).Workers[w] = rt
	}
	return out, wrows.Err()
}

// HandlingFigures are the figures of a community that the per-class
// targets of 001 §2.2.2 are checked against at a period close (decision
// 0117).
type HandlingFigures struct {
	Immediate, Coordinated Rate // first responded within the class's limit / limits that ended in the period
	LongTermSatisfaction   Rate // ratings of 4 or 5 / ratings of long-term problems given in the period
}

// Handling returns, per community, the handling figures of the period
// [start, end) under pol: the immediate and coordinated problems whose time
// limit (Policy.HandlingLimitDue, from the report) ended in the period and
// whether their first response came within it, and the ratings of
// long-term problems given in the months of the period. A problem is judged
// by its class now (after any reclassification) and its first response to
// the report (a reopening does not restart it).
func (r *Reader) Handling(ctx context.Context, pol *domain.Policy, cal domain.WorkingDayCalendar, start, end time.Time) (map[string]*HandlingFigures, error) {
	out := map[string]*HandlingFigures{}
	get := func(c string) *HandlingFigures {
		f := out[c]
		if f == nil {
			f = &HandlingFigures{}
			out[c] = f
		}
		return f
	}
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT community, handling_class, reported_at, first_response_at FROM measures_problems
		WHERE reported_at >= ? AND reported_at < ? AND handling_class IN (?, ?)`),
		start.Add(-domain.MaxHandlingLimit).UnixNano(), end.UnixNano(), string(domain.HandlingImmediate), string(domain.HandlingCoordinated))
	if err != nil {
		return nil, fmt.Errorf("measures: handling: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, hc string
		var rep, first int64
		if err := rows.Scan(&c, &hc, &rep, &first); err != nil {
			return nil, err
		}
		due, ok, err := pol.HandlingLimitDue(cal, domain.HandlingClass(hc), time.Unix(0, rep))
		if err != nil {
			return nil, fmt.Errorf("measures: handling: %w", err)
		}
		if !ok || due.Before(start) || !due.Before(end) {
			continue
		}
		rt := &get(c).Immediate
		if hc == string(domain.HandlingCoordinated) {
			rt = &get(c).Coordinated
		}
		rt.Den++
		if first != 0 && !time.Unix(0, first).After(due) {
			rt.Num++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	loc := cal.Location()
	crows, err := r.db.QueryContext(ctx, r.d.Rebind(`SELECT community, CAST(sum(`+column(MSatisfiedLongTerm)+`) AS BIGINT), CAST(sum(`+column(MRatingsLongTerm)+`) AS BIGINT)
		FROM measures_counts WHERE month >= ? AND month <= ? GROUP BY community`),
		domain.PeriodMonth.Label(start, loc), domain.PeriodMonth.Label(end.Add(-time.Nanosecond), loc))
	if err != nil {
		return nil, fmt.Errorf("measures: handling: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var c string
		var rt Rate
		if err := crows.Scan(&c, &rt.Num, &rt.Den); err != nil {
			return nil, err
		}
		if rt.Den > 0 {
			get(c).LongTermSatisfaction = rt
		}
	}
	return out, crows.Err()
}
