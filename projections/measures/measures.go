// Package measures is the read model of the measures supervisors and
// auditors ask for (docs/DOMAIN.md): per community, grid, worker and month —
// resolution rate, on-time rate per deadline kind, satisfaction, time from
// discovery to resource linked, recurrence, visit coverage, late-entry
// rate, refusal rate and average resolution time — and the flag on a
// community whose resolution rate is below 80% two months running.
//
// The projection keeps counters (sums) per community, grid, worker, month
// and metric; rates are ratios of counters computed when queried, so any
// grouping (by community, grid or worker, over any months) is exact.
//
// Definitions (months are calendar months in the community's time zone):
//   - Problems belong to the community and grid of their household and to
//     the worker who found them (首问负责制), fixed at report.
//   - Resolution rate of month M: of the problems reported in M, the share
//     resolved now (a reopened problem counts as unresolved until resolved
//     again). Recent months therefore rise as work is done.
//   - Average resolution time: report → resolution, counted in the month of
//     the resolution. Time to resource: report → first linked resource (a
//     resolution or completed referral with resources), in the month linked.
//   - Recurrence rate: reopenings in M / resolutions in M.
//   - On-time rate of a deadline kind in M: deadlines met in M with no
//     breach recorded / (those + breaches recorded in M). Visit entry is on
//     time when the visit was entered within the policy's limit (not Late).
//   - Visit coverage in M: completed visits in M made before the visit was
//     overdue / (those + visit_due breaches recorded in M).
//   - Late-entry rate and refusal rate: late / all visits, refused / all visits in M.
//   - Ineffective-communication rate (沟通无效, decision 0145): completed
//     visits in M that recorded communication ineffective / completed visits in M.
//   - Satisfaction: mean score of ratings given in M, and the share of 4 or 5.
package measures

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name.
const Name = "measures"

// Metric names (durable: stored in measures_counts).
const (
	MProblemsReported  = "problems_reported"   // by report month
	MProblemsResolved  = "problems_resolved"   // resolved now, by report month (cohort)
	MResolutions       = "resolutions"         // by resolution month
	MResolutionSeconds = "resolution_seconds"  // sum, by resolution month
	MReopened          = "reopened"            // by reopen month
	MRatings           = "ratings"             // by rating month
	MRatingSum         = "rating_sum"          // by rating month
	MSatisfied         = "satisfied"           // ratings of 4 or 5
	MResourceLinked    = "resource_linked"     // problems whose first resource was linked this month
	MResourceSeconds   = "resource_seconds"    // sum of report → first resource
	MVisits            = "visits"              // all visits, by visit month
	MVisitsCompleted   = "visits_completed"    //
	MVisitsRefused     = "visits_refused"      //
	MVisitsLate        = "visits_late"         // entered after the policy's limit
	MVisitsOnSchedule  = "visits_on_schedule"  // completed before the household was overdue
	OnTimePrefix       = "on_time."            // + deadline kind: met with no breach recorded
	BreachedPrefix     = "breached."           // + deadline kind: breaches recorded
	KindVisitEntry     = "visit_entry"         // the deadline kind of visit entry (not a domain clock)
	MRatingsLongTerm   = "ratings.long_term"   // ratings of long-term problems, by rating month (decision 0117)
	MSatisfiedLongTerm = "satisfied.long_term" // of those, ratings of 4 or 5
	MVisitsIneffective = "visits_ineffective"  // completed visits that recorded communication ineffective (沟通无效, decision 0145)
)

// Projection maintains the measure tables. Stateless; safe for concurrent use.
type Projection struct {
	loc *time.Location

	// Committed rows kept across batches so that a batch need not read
	// them back (projections.Cacher).
	mu      sync.Mutex
	cache   *rows
	pending *rows
	cur     *batch // the transaction's changes until Flush (projections.Accumulator)
}

var _ projections.Accumulator = (*Projection)(nil)

// Flush implements projections.Accumulator: it writes the transaction's rows and counters.
func (p *Projection) Flush(ctx context.Context, tx *projections.Tx) error {
	b := p.cur
	p.cur = nil
	if b == nil {
		return nil
	}
	return p.flush(ctx, b)
}

// Discard implements projections.Accumulator.
func (p *Projection) Discard() { p.cur = nil }

type rows struct {
	hh map[string]household
	pr map[string]problem
	rf map[string]referral
}

func newRows() *rows {
	return &rows{hh: map[string]household{}, pr: map[string]problem{}, rf: map[string]referral{}}
}

func (r *rows) len() int { return len(r.hh) + len(r.pr) + len(r.rf) }

// cacheLimit bounds the rows kept in memory; beyond it the cache starts over.
const cacheLimit = 500_000

var _ projections.Cacher = (*Projection)(nil)

// AfterBatch implements projections.Cacher.
func (p *Projection) AfterBatch(committed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !committed || p.pending == nil {
		p.cache, p.pending = nil, nil
		return
	}
	if p.cache == nil || p.cache.len() > cacheLimit {
		p.cache = newRows()
	}
	for k, v := range p.pending.hh {
		p.cache.hh[k] = v
	}
	for k, v := range p.pending.pr {
		p.cache.pr[k] = v
	}
	for k, v := range p.pending.rf {
		p.cache.rf[k] = v
	}
	p.pending = nil
}

// ResetCache implements projections.Cacher.
func (p *Projection) ResetCache() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cache, p.pending = nil, nil
}

// New returns the projection; months are taken in loc (the community time
// zone, Asia/Shanghai by default).
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
func (*Projection) Tables() []string {
	return []string{"measures_counts", "measures_households", "measures_problems", "measures_referrals"}
}

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS measures_counts (
			community TEXT NOT NULL,
			grid      TEXT NOT NULL,
			worker    TEXT NOT NULL,
			month     TEXT NOT NULL,
			` + metricColumnsDDL(baseMetrics()) + `,
			PRIMARY KEY (community, grid, worker, month))`,
		`CREATE TABLE IF NOT EXISTS measures_households (
			household_id   TEXT PRIMARY KEY,
			community      TEXT NOT NULL,
			grid           TEXT NOT NULL,
			worker         TEXT NOT NULL,
			visit_breached INTEGER NOT NULL)` + projections.WithoutRowID,
		`CREATE TABLE IF NOT EXISTS measures_problems (
			problem_id          TEXT PRIMARY KEY,
			community           TEXT NOT NULL,
			grid                TEXT NOT NULL,
			worker              TEXT NOT NULL,
			report_month        TEXT NOT NULL,
			reported_at         BIGINT NOT NULL,
			status              TEXT NOT NULL,
			has_due             INTEGER NOT NULL,
			resource_linked     INTEGER NOT NULL,
			response_breached   INTEGER NOT NULL,
			resolution_breached INTEGER NOT NULL,
			followup_breached   INTEGER NOT NULL,
			long_term           INTEGER NOT NULL)` + projections.WithoutRowID,
		`CREATE TABLE IF NOT EXISTS measures_referrals (
			referral_id         TEXT PRIMARY KEY,
			problem_id          TEXT NOT NULL,
			status              TEXT NOT NULL,
			acceptance_breached INTEGER NOT NULL,
			completion_breached INTEGER NOT NULL)` + projections.WithoutRowID,
		// Decision 0117: the handling class and first response of each
		// problem, and the ratings of long-term problems.
		`ALTER TABLE measures_problems ADD COLUMN handling_class TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE measures_problems ADD COLUMN first_response_at BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE measures_counts ADD COLUMN ` + column(MRatingsLongTerm) + ` BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE measures_counts ADD COLUMN ` + column(MSatisfiedLongTerm) + ` BIGINT NOT NULL DEFAULT 0`,
		`CREATE INDEX IF NOT EXISTS measures_problems_reported ON measures_problems (reported_at)`,
		`CREATE INDEX IF NOT EXISTS measures_problems_month ON measures_problems (report_month)`,
		// The new columns are filled by applying the log again from the
		// start: empty the model and forget its checkpoint in the same
		// migration transaction, so the engine rebuilds it at start.
		`DELETE FROM measures_counts`,
		`DELETE FROM measures_households`,
		`DELETE FROM measures_problems`,
		`DELETE FROM measures_referrals`,
		`DELETE FROM projection_checkpoints WHERE name = '` + Name + `'`,
		// Decision 0145: completed visits that recorded communication
		// ineffective. No event before it carries the field, so the
		// column starts at zero without a rebuild.
		`ALTER TABLE measures_counts ADD COLUMN ` + column(MVisitsIneffective) + ` BIGINT NOT NULL DEFAULT 0`,
	}
}

type scope struct{ community, grid, worker string }

type counterKey struct {
	scope
	month string
}

// Metrics lists every counter, in column order.
func Metrics() []string {
	return append(baseMetrics(), MRatingsLongTerm, MSatisfiedLongTerm, MVisitsIneffective)
}

// baseMetrics are the counters of the first schema step (never changed:
// later counters are added by later steps).
func baseMetrics() []string {
	m := []string{MProblemsReported, MProblemsResolved, MResolutions, MResolutionSeconds, MReopened, MRatings, MRatingSum,
		MSatisfied, MResourceLinked, MResourceSeconds, MVisits, MVisitsCompleted, MVisitsRefused, MVisitsLate, MVisitsOnSchedule}
	for _, k := range Kinds() {
		m = append(m, OnTimePrefix+k, BreachedPrefix+k)
	}
	return m
}

var metricIndex = func() map[string]int {
	m := map[string]int{}
	for i, name := range Metrics() {
		m[name] = i
	}
	return m
}()

func column(metric string) string { return "m_" + strings.ReplaceAll(metric, ".", "__") }

func metricColumnsDDL(metrics []string) string {
	var cols []string
	for _, m := range metrics {
		cols = append(cols, column(m)+" BIGINT NOT NULL")
	}
	return strings.Join(cols, ",\n\t\t\t")
}

type counters []int64

type household struct {
	scope
	visitBreached bool
}

type problem struct {
	scope
	reportMonth                                          string
	reportedAt                                           int64
	handling                                             string // handling class now
	firstResponseAt                                      int64  // the first response to the report (0: none yet)
	status                                               string
	hasDue, resourceLinked, longTerm                     bool
	responseBreached, resolutionBreached, followBreached bool
	known                                                bool
}

type referral struct {
	problemID, status                      string
	acceptanceBreached, completionBreached bool
}

type batch struct {
	p  *Projection
	tx *projections.Tx
	hh map[string]*household
	pr map[string]*problem
	rf map[string]*referral
	// Rows as loaded: unchanged rows are not written back.
	hhOrig   map[string]household
	prOrig   map[string]problem
	rfOrig   map[string]referral
	counters map[counterKey]counters
}

func (b *batch) add(s scope, month, metric string, v int64) {
	k := counterKey{s, month}
	c, ok := b.counters[k]
	if !ok {
		c = make(counters, len(metricIndex))
		b.counters[k] = c
	}
	c[metricIndex[metric]] += v
}

func (p *Projection) month(t time.Time) string { return t.In(p.loc).Format("2006-01") }

func (b *batch) household(ctx context.Context, id string) (*household, error) {
	if h, ok := b.hh[id]; ok {
		return h, nil
	}
	h := &household{}
	err := b.tx.QueryRow(ctx, `SELECT community, grid, worker, visit_breached FROM measures_households WHERE household_id = ?`, id).
		Scan(&h.community, &h.grid, &h.worker, &h.visitBreached)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	b.hh[id] = h
	return h, nil
}

func (b *batch) problem(ctx context.Context, id string) (*problem, error) {
	if p, ok := b.pr[id]; ok {
		return p, nil
	}
	p := &problem{}
	err := b.tx.QueryRow(ctx, `SELECT community, grid, worker, report_month, reported_at, status, has_due, resource_linked,
		response_breached, resolution_breached, followup_breached, long_term, handling_class, first_response_at FROM measures_problems WHERE problem_id = ?`, id).
		Scan(&p.community, &p.grid, &p.worker, &p.reportMonth, &p.reportedAt, &p.status, &p.hasDue, &p.resourceLinked,
			&p.responseBreached, &p.resolutionBreached, &p.followBreached, &p.longTerm, &p.handling, &p.firstResponseAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		p.known = true
	}
	b.pr[id] = p
	return p, nil
}

func (b *batch) referral(ctx context.Context, id string) (*referral, error) {
	if r, ok := b.rf[id]; ok {
		return r, nil
	}
	r := &referral{}
	err := b.tx.QueryRow(ctx, `SELECT problem_id, status, acceptance_breached, completion_breached FROM measures_referrals WHERE referral_id = ?`, id).
		Scan(&r.problemID, &r.status, &r.acceptanceBreached, &r.completionBreached)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	b.rf[id] = r
	return r, nil
}

func streamID(stream string) string {
	_, id, _ := strings.Cut(stream, "-")
	return id
}

// preload reads, with a few IN queries, every row the batch will touch;
// rows not found are created empty.
func (b *batch) preload(ctx context.Context, events []projections.Envelope) error {
	var hh, pr, rf projections.Keys
	addHH := func(id string) {
		if _, ok := b.hh[id]; !ok {
			hh.Add(id)
		}
	}
	addPR := func(id string) {
		if _, ok := b.pr[id]; !ok {
			pr.Add(id)
		}
	}
	for i := range events {
		id := streamID(events[i].Stream)
		switch events[i].Category() {
		case "household":
			addHH(id)
		case "problem":
			addPR(id)
			if e, ok := events[i].Payload.(domain.ProblemReported); ok {
				addHH(e.HouseholdID)
			}
		case "referral":
			if _, ok := b.rf[id]; !ok {
				rf.Add(id)
			}
			if e, ok := events[i].Payload.(domain.ReferralRequested); ok {
				addPR(e.ProblemID)
			}
		}
	}
	b.p.mu.Lock()
	cache := b.p.cache
	b.p.mu.Unlock()
	if cache == nil {
		cache = newRows()
	}
	var rfMiss []string
	for _, id := range rf.List() {
		if r, ok := cache.rf[id]; ok {
			b.rf[id], b.rfOrig[id] = &r, r
			addPR(r.problemID)
		} else {
			rfMiss = append(rfMiss, id)
		}
	}
	if err := b.tx.QueryKeys(ctx, `SELECT referral_id, problem_id, status, acceptance_breached, completion_breached FROM measures_referrals
		WHERE referral_id IN (?*)`, rfMiss, func(rows *sql.Rows) error {
		r := &referral{}
		var id string
		if err := rows.Scan(&id, &r.problemID, &r.status, &r.acceptanceBreached, &r.completionBreached); err != nil {
			return err
		}
		b.rf[id] = r
		b.rfOrig[id] = *r
		addPR(r.problemID)
		return nil
	}); err != nil {
		return err
	}
	for _, id := range rf.List() {
		if _, ok := b.rf[id]; !ok {
			b.rf[id] = &referral{}
		}
	}
	var prMiss []string
	for _, id := range pr.List() {
		if p, ok := cache.pr[id]; ok {
			b.pr[id], b.prOrig[id] = &p, p
		} else {
			prMiss = append(prMiss, id)
		}
	}
	if err := b.tx.QueryKeys(ctx, `SELECT problem_id, community, grid, worker, report_month, reported_at, status, has_due, resource_linked,
		response_breached, resolution_breached, followup_breached, long_term, handling_class, first_response_at FROM measures_problems
		WHERE problem_id IN (?*)`, prMiss, func(rows *sql.Rows) error {
		p := &problem{known: true}
		var id string
		if err := rows.Scan(&id, &p.community, &p.grid, &p.worker, &p.reportMonth, &p.reportedAt, &p.status, &p.hasDue, &p.resourceLinked,
			&p.responseBreached, &p.resolutionBreached, &p.followBreached, &p.longTerm, &p.handling, &p.firstResponseAt); err != nil {
			return err
		}
		b.pr[id] = p
		b.prOrig[id] = *p
		return nil
	}); err != nil {
		return err
	}
	for _, id := range pr.List() {
		if _, ok := b.pr[id]; !ok {
			b.pr[id] = &problem{}
		}
	}
	var hhMiss []string
	for _, id := range hh.List() {
		if h, ok := cache.hh[id]; ok {
			b.hh[id], b.hhOrig[id] = &h, h
		} else {
			hhMiss = append(hhMiss, id)
		}
	}
	if err := b.tx.QueryKeys(ctx, `SELECT household_id, community, grid, worker, visit_breached FROM measures_households WHERE household_id IN (?*)`,
		hhMiss, func(rows *sql.Rows) error {
			h := &household{}
			var id string
			if err := rows.Scan(&id, &h.community, &h.grid, &h.worker, &h.visitBreached); err != nil {
				return err
			}
			b.hh[id] = h
			b.hhOrig[id] = *h
			return nil
		}); err != nil {
		return err
	}
	for _, id := range hh.List() {
		if _, ok := b.hh[id]; !ok {
			b.hh[id] = &household{}
		}
	}
	return nil
}

// Apply implements projections.Projection.
func (p *Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	b := p.cur
	if b == nil || b.tx != tx {
		b = &batch{p: p, tx: tx, hh: map[string]*household{}, pr: map[string]*problem{}, rf: map[string]*referral{}, counters: map[counterKey]counters{},
			hhOrig: map[string]household{}, prOrig: map[string]problem{}, rfOrig: map[string]referral{}}
		p.cur = b
	}
	if err := b.preload(ctx, events); err != nil {
		return err
	}
	for i := range events {
		e := &events[i]
		if e.Payload == nil {
			continue
		}
		var err error
		switch e.Category() {
		case "household":
			err = p.applyHousehold(ctx, b, streamID(e.Stream), e.Payload)
		case "problem":
			err = p.applyProblem(ctx, b, streamID(e.Stream), e.Payload)
		case "referral":
			err = p.applyReferral(ctx, b, streamID(e.Stream), e.Payload)
		}
		if err != nil {
			return fmt.Errorf("%s v%d: %w", e.Stream, e.Version, err)
		}
	}
	return nil
}

func (p *Projection) applyHousehold(ctx context.Context, b *batch, id string, ev domain.Event) error {
	h, err := b.household(ctx, id)
	if err != nil {
		return err
	}
	switch e := ev.(type) {
	case domain.HouseholdRegistered:
		h.community, h.grid, h.worker = e.Community, e.Grid, e.ResponsibleWorker
	case domain.HouseholdRelocated:
		h.community, h.grid = e.Community, e.Grid
	case domain.HouseholdWorkerChanged:
		h.worker = e.To
	case domain.VisitRecorded:
		m := p.month(e.OccurredAt)
		b.add(h.scope, m, MVisits, 1)
		if e.Late {
			b.add(h.scope, m, MVisitsLate, 1)
			b.add(h.scope, m, BreachedPrefix+KindVisitEntry, 1)
		} else {
			b.add(h.scope, m, OnTimePrefix+KindVisitEntry, 1)
		}
		switch e.Outcome {
		case domain.OutcomeRefused:
			b.add(h.scope, m, MVisitsRefused, 1)
		case domain.OutcomeCompleted:
			b.add(h.scope, m, MVisitsCompleted, 1)
			if e.Ineffective() {
				b.add(h.scope, m, MVisitsIneffective, 1)
			}
			if !h.visitBreached {
				b.add(h.scope, m, MVisitsOnSchedule, 1)
				b.add(h.scope, m, OnTimePrefix+string(domain.ClockVisitDue), 1)
			}
			h.visitBreached = false
		}
	case domain.HouseholdDeadlineBreached:
		if e.Kind != domain.ClockVisitDue {
			return nil // file upkeep (decision 0118) has no measure here
		}
		h.visitBreached = true
		b.add(h.scope, p.month(e.At), BreachedPrefix+string(e.Kind), 1)
	case domain.HouseholdDeadlineRescheduled:
		if e.Kind != domain.ClockVisitDue {
			return nil
		}
		if p.withdrawn(b, h.scope, e.DeadlineRescheduled) {
			h.visitBreached = false
		}
	}
	return nil
}

func (p *Projection) linkResource(b *batch, pr *problem, at time.Time, n int) {
	if n == 0 || pr.resourceLinked || !pr.known {
		return
	}
	pr.resourceLinked = true
	m := p.month(at)
	b.add(pr.scope, m, MResourceLinked, 1)
	b.add(pr.scope, m, MResourceSeconds, (at.UnixNano()-pr.reportedAt)/1e9)
}

func (p *Projection) applyProblem(ctx context.Context, b *batch, id string, ev domain.Event) error {
	pr, err := b.problem(ctx, id)
	if err != nil {
		return err
	}
	if e, ok := ev.(domain.ProblemReported); ok {
		h, err := b.household(ctx, e.HouseholdID)
		if err != nil {
			return err
		}
		pr.scope = scope{h.community, h.grid, e.FoundBy}
		pr.reportMonth, pr.reportedAt, pr.status, pr.known = p.month(e.At), e.At.UnixNano(), string(domain.StatusOpen), true
		pr.longTerm = e.HandlingClass == domain.HandlingLongTerm
		pr.handling = string(e.HandlingClass)
		b.add(pr.scope, pr.reportMonth, MProblemsReported, 1)
		return nil
	}
	if !pr.known {
		return nil // the report is not in the log: nothing to attribute
	}
	active := pr.status == string(domain.StatusOpen) || pr.status == string(domain.StatusInProgress)
	met := func(kind domain.ClockKind, breached *bool, at time.Time) {
		if !*breached {
			b.add(pr.scope, p.month(at), OnTimePrefix+string(kind), 1)
		}
		*breached = false
		if kind == domain.ClockProblemResponse && pr.firstResponseAt == 0 {
			pr.firstResponseAt = at.UnixNano()
		}
	}
	switch e := ev.(type) {
	case domain.ProblemReclassified:
		pr.longTerm = e.HandlingClass == domain.HandlingLongTerm
		pr.handling = string(e.HandlingClass)
	case domain.ProblemAssigned:
		if !e.Due.IsZero() {
			pr.hasDue, pr.resolutionBreached = true, false
		}
	case domain.ProblemDeadlineExtended:
		pr.resolutionBreached = false
	case domain.ProblemProgressNoted:
		if pr.status == string(domain.StatusOpen) {
			met(domain.ClockProblemResponse, &pr.responseBreached, e.At)
			pr.status = string(domain.StatusInProgress)
		}
		if pr.longTerm && active {
			met(domain.ClockProblemFollowUp, &pr.followBreached, e.At)
		}
	case domain.ProblemReferred:
		// Referring starts the work: the first response is met.
		if pr.status == string(domain.StatusOpen) {
			met(domain.ClockProblemResponse, &pr.responseBreached, e.At)
			pr.status = string(domain.StatusInProgress)
		}
	case domain.ProblemResolved:
		if pr.status == string(domain.StatusOpen) {
			met(domain.ClockProblemResponse, &pr.responseBreached, e.At)
		}
		if pr.hasDue {
			met(domain.ClockProblemResolution, &pr.resolutionBreached, e.At)
		}
		pr.status, pr.hasDue = string(domain.StatusResolved), false
		m := p.month(e.At)
		b.add(pr.scope, pr.reportMonth, MProblemsResolved, 1)
		b.add(pr.scope, m, MResolutions, 1)
		b.add(pr.scope, m, MResolutionSeconds, (e.At.UnixNano()-pr.reportedAt)/1e9)
		p.linkResource(b, pr, e.At, len(e.Resources))
	case domain.ProblemSatisfactionRated:
		m := p.month(e.At)
		b.add(pr.scope, m, MRatings, 1)
		b.add(pr.scope, m, MRatingSum, int64(e.Score))
		if e.Score >= 4 {
			b.add(pr.scope, m, MSatisfied, 1)
		}
		if pr.longTerm {
			b.add(pr.scope, m, MRatingsLongTerm, 1)
			if e.Score >= 4 {
				b.add(pr.scope, m, MSatisfiedLongTerm, 1)
			}
		}
	case domain.ProblemReopened:
		if pr.status == string(domain.StatusResolved) || pr.status == statusClosedResolved {
			b.add(pr.scope, pr.reportMonth, MProblemsResolved, -1)
		}
		b.add(pr.scope, p.month(e.At), MReopened, 1)
		pr.status, pr.hasDue = string(domain.StatusOpen), false
		pr.responseBreached, pr.resolutionBreached, pr.followBreached = false, false, false
	case domain.ProblemClosed:
		if e.Resolved {
			pr.status = statusClosedResolved
		} else {
			pr.status = string(domain.StatusClosed)
		}
		pr.hasDue = false
	case domain.ProblemDeadlineBreached:
		switch e.Kind {
		case domain.ClockProblemResponse:
			pr.responseBreached = true
		case domain.ClockProblemResolution:
			pr.resolutionBreached = true
		case domain.ClockProblemFollowUp:
			pr.followBreached = true
		}
		b.add(pr.scope, p.month(e.At), BreachedPrefix+string(e.Kind), 1)
	case domain.ProblemDeadlineRescheduled:
		if p.withdrawn(b, pr.scope, e.DeadlineRescheduled) {
			switch e.Kind {
			case domain.ClockProblemResponse:
				pr.responseBreached = false
			case domain.ClockProblemResolution:
				pr.resolutionBreached = false
			case domain.ClockProblemFollowUp:
				pr.followBreached = false
			}
		}
	}
	return nil
}

// withdrawn takes back a breach that a rescheduling withdrew (the official
// calendar does not confirm it), from the month it was counted in, and
// reports whether it did.
func (p *Projection) withdrawn(b *batch, sc scope, e domain.DeadlineRescheduled) bool {
	if !slices.Contains(e.Withdrawn, domain.StageBreached) || e.WithdrawnBreachAt.IsZero() {
		return false
	}
	b.add(sc, p.month(e.WithdrawnBreachAt), BreachedPrefix+string(e.Kind), -1)
	return true
}

// statusClosedResolved marks a problem closed after its resolution: it
// still counts as resolved.
const statusClosedResolved = "closed_resolved"

func (p *Projection) applyReferral(ctx context.Context, b *batch, id string, ev domain.Event) error {
	r, err := b.referral(ctx, id)
	if err != nil {
		return err
	}
	if e, ok := ev.(domain.ReferralRequested); ok {
		r.problemID, r.status = e.ProblemID, string(domain.RefRequested)
		return nil
	}
	if r.problemID == "" {
		return nil
	}
	pr, err := b.problem(ctx, r.problemID)
	if err != nil {
		return err
	}
	if !pr.known {
		return nil
	}
	met := func(kind domain.ClockKind, breached *bool, at time.Time) {
		if !*breached {
			b.add(pr.scope, p.month(at), OnTimePrefix+string(kind), 1)
		}
		*breached = false
	}
	switch e := ev.(type) {
	case domain.ReferralAccepted:
		met(domain.ClockReferralAcceptance, &r.acceptanceBreached, e.At)
		r.status = string(domain.RefAccepted)
	case domain.ReferralDeclined:
		met(domain.ClockReferralAcceptance, &r.acceptanceBreached, e.At)
		r.status = string(domain.RefDeclined)
	case domain.ReferralStarted:
		r.status = string(domain.RefInProgress)
	case domain.ReferralCompleted:
		met(domain.ClockReferralCompletion, &r.completionBreached, e.At)
		r.status = string(domain.RefCompleted)
		p.linkResource(b, pr, e.At, len(e.Resources))
	case domain.ReferralCancelled:
		r.status = string(domain.RefCancelled)
	case domain.ReferralEscalated:
		r.status, r.acceptanceBreached, r.completionBreached = string(domain.RefRequested), false, false
	case domain.ReferralDeadlineBreached:
		if e.Kind == domain.ClockReferralAcceptance {
			r.acceptanceBreached = true
		} else {
			r.completionBreached = true
		}
		b.add(pr.scope, p.month(e.At), BreachedPrefix+string(e.Kind), 1)
	case domain.ReferralDeadlineRescheduled:
		if p.withdrawn(b, pr.scope, e.DeadlineRescheduled) {
			if e.Kind == domain.ClockReferralAcceptance {
				r.acceptanceBreached = false
			} else {
				r.completionBreached = false
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (p *Projection) flush(ctx context.Context, b *batch) error {
	for _, id := range sortedKeys(b.hh) {
		h := b.hh[id]
		if h.community == "" && h.worker == "" {
			continue
		}
		if o, ok := b.hhOrig[id]; ok && o == *h {
			continue
		}
		if err := b.tx.Exec(ctx, `INSERT INTO measures_households (household_id, community, grid, worker, visit_breached) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (household_id) DO UPDATE SET community = excluded.community, grid = excluded.grid, worker = excluded.worker,
			visit_breached = excluded.visit_breached`, id, h.community, h.grid, h.worker, projections.Bool(h.visitBreached)); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(b.pr) {
		pr := b.pr[id]
		if !pr.known {
			continue
		}
		if o, ok := b.prOrig[id]; ok && o == *pr {
			continue
		}
		if err := b.tx.Exec(ctx, `INSERT INTO measures_problems (problem_id, community, grid, worker, report_month, reported_at, status,
			has_due, resource_linked, response_breached, resolution_breached, followup_breached, long_term, handling_class, first_response_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (problem_id) DO UPDATE SET status = excluded.status,
			has_due = excluded.has_due, resource_linked = excluded.resource_linked, response_breached = excluded.response_breached,
			resolution_breached = excluded.resolution_breached, followup_breached = excluded.followup_breached, long_term = excluded.long_term,
			handling_class = excluded.handling_class, first_response_at = excluded.first_response_at`,
			id, pr.community, pr.grid, pr.worker, pr.reportMonth, pr.reportedAt, pr.status, projections.Bool(pr.hasDue), projections.Bool(pr.resourceLinked),
			projections.Bool(pr.responseBreached), projections.Bool(pr.resolutionBreached), projections.Bool(pr.followBreached), projections.Bool(pr.longTerm),
			pr.handling, pr.firstResponseAt); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(b.rf) {
		r := b.rf[id]
		if r.problemID == "" {
			continue
		}
		if o, ok := b.rfOrig[id]; ok && o == *r {
			continue
		}
		if err := b.tx.Exec(ctx, `INSERT INTO measures_referrals (referral_id, problem_id, status, acceptance_breached, completion_breached)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (referral_id) DO UPDATE SET status = excluded.status,
			acceptance_breached = excluded.acceptance_breached, completion_breached = excluded.completion_breached`,
			id, r.problemID, r.status, projections.Bool(r.acceptanceBreached), projections.Bool(r.completionBreached)); err != nil {
			return err
		}
	}
	done := newRows()
	for id, h := range b.hh {
		if h.community != "" || h.worker != "" {
			done.hh[id] = *h
		}
	}
	for id, pr := range b.pr {
		if pr.known {
			done.pr[id] = *pr
		}
	}
	for id, r := range b.rf {
		if r.problemID != "" {
			done.rf[id] = *r
		}
	}
	p.mu.Lock()
	p.pending = done
	p.mu.Unlock()
	keys := make([]counterKey, 0, len(b.counters))
	for k, c := range b.counters {
		if slices.ContainsFunc(c, func(v int64) bool { return v != 0 }) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y counterKey) int {
		return strings.Compare(x.community+"\x00"+x.grid+"\x00"+x.worker+"\x00"+x.month, y.community+"\x00"+y.grid+"\x00"+y.worker+"\x00"+y.month)
	})
	for _, k := range keys {
		c := b.counters[k]
		args := []any{k.community, k.grid, k.worker, k.month}
		negative := false
		for _, v := range c {
			args = append(args, v)
			negative = negative || v < 0
		}
		if err := b.tx.Exec(ctx, upsertCounts, args...); err != nil {
			return err
		}
		if negative {
			// A row whose counters are all back at zero is no row at all,
			// as if the batches had been cut elsewhere (determinism).
			if err := b.tx.Exec(ctx, deleteZeroCounts, k.community, k.grid, k.worker, k.month); err != nil {
				return err
			}
		}
	}
	return nil
}

var upsertCounts, deleteZeroCounts = func() (string, string) {
	var cols, qs, set, zero []string
	for _, m := range Metrics() {
		c := column(m)
		cols = append(cols, c)
		qs = append(qs, "?")
		set = append(set, c+" = measures_counts."+c+" + excluded."+c)
		zero = append(zero, c+" = 0")
	}
	return `INSERT INTO measures_counts (community, grid, worker, month, ` + strings.Join(cols, ", ") + `)
		VALUES (?, ?, ?, ?, ` + strings.Join(qs, ", ") + `)
		ON CONFLICT (community, grid, worker, month) DO UPDATE SET ` + strings.Join(set, ", "),
		`DELETE FROM measures_counts WHERE community = ? AND grid = ? AND worker = ? AND month = ? AND ` + strings.Join(zero, " AND ")
}()
