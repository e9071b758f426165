// Package alerts is the read model of deadline alerts: the approaching and
// breached deadlines that are still open, with the responsible worker and
// their supervisor (as the deadline watcher recorded them), the household,
// community and grid, and counts per community. An alert clears when its
// subject is done: the clock it was raised on is met, stopped or restarted
// (a response or resolution, an accepted or declined referral, a completed
// visit, an archived household, a moved deadline, …).
package alerts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name.
const Name = "deadline_alerts"

// Projection maintains the alert tables. It holds a transaction's changes
// until Flush; one engine at a time may use it.
type Projection struct {
	cur *batch
}

var _ projections.Accumulator = (*Projection)(nil)

// Flush implements projections.Accumulator: it writes the transaction's rows.
func (p *Projection) Flush(ctx context.Context, tx *projections.Tx) error {
	b := p.cur
	p.cur = nil
	if b == nil {
		return nil
	}
	return b.flush(ctx)
}

// Discard implements projections.Accumulator.
func (p *Projection) Discard() { p.cur = nil }

// New returns the projection.
func New() *Projection { return &Projection{} }

var _ projections.Projection = (*Projection)(nil)

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"alerts_open", "alerts_subjects"} }

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS alerts_subjects (
			stream       TEXT PRIMARY KEY,
			household_id TEXT NOT NULL,
			community    TEXT NOT NULL,
			grid         TEXT NOT NULL)` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS alerts_subjects_household ON alerts_subjects (household_id)`,
		`CREATE TABLE IF NOT EXISTS alerts_open (
			stream       TEXT NOT NULL,
			kind         TEXT NOT NULL,
			stage        TEXT NOT NULL,
			clock_start  BIGINT NOT NULL,
			due          BIGINT NOT NULL,
			raised_at    BIGINT NOT NULL,
			responsible  TEXT NOT NULL,
			supervisor   TEXT NOT NULL,
			household_id TEXT NOT NULL,
			community    TEXT NOT NULL,
			grid         TEXT NOT NULL,
			PRIMARY KEY (stream, kind))` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS alerts_open_community ON alerts_open (community, stage)`,
	}
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

type subject struct {
	household, community, grid string
	dirty                      bool
}

type row struct {
	stage, responsible, supervisor, household, community, grid string
	start, due, raised                                         int64
	deleted, dirty, stored                                     bool
}

type batch struct {
	tx         *projections.Tx
	subjLoaded map[string]bool // subjects looked up (found or not)
	subjects   map[string]*subject
	open       map[string]map[domain.ClockKind]*row
	order      []string
}

// preload reads the subjects and open alerts of every stream in the batch.
func (b *batch) preload(ctx context.Context, events []projections.Envelope) error {
	var streams, subj projections.Keys
	addSubj := func(st string) {
		if !b.subjLoaded[st] {
			b.subjLoaded[st] = true
			subj.Add(st)
		}
	}
	for i := range events {
		if _, ok := b.open[events[i].Stream]; !ok {
			streams.Add(events[i].Stream)
		}
		addSubj(events[i].Stream)
		switch e := events[i].Payload.(type) {
		case domain.ProblemReported:
			addSubj(domain.HouseholdStream(e.HouseholdID))
		case domain.ReferralRequested:
			addSubj(domain.HouseholdStream(e.HouseholdID))
		}
	}
	if err := b.tx.QueryKeys(ctx, `SELECT stream, household_id, community, grid FROM alerts_subjects WHERE stream IN (?*)`, subj.List(), func(rows *sql.Rows) error {
		var st string
		x := &subject{}
		if err := rows.Scan(&st, &x.household, &x.community, &x.grid); err != nil {
			return err
		}
		b.subjects[st] = x
		return nil
	}); err != nil {
		return err
	}
	b.order = append(b.order, streams.List()...)
	for _, st := range streams.List() {
		b.open[st] = map[domain.ClockKind]*row{}
	}
	return b.tx.QueryKeys(ctx, `SELECT stream, kind, stage, clock_start, due, raised_at, responsible, supervisor, household_id, community, grid
		FROM alerts_open WHERE stream IN (?*)`, streams.List(), func(rows *sql.Rows) error {
		var st, kind string
		r := &row{stored: true}
		if err := rows.Scan(&st, &kind, &r.stage, &r.start, &r.due, &r.raised, &r.responsible, &r.supervisor, &r.household, &r.community, &r.grid); err != nil {
			return err
		}
		b.open[st][domain.ClockKind(kind)] = r
		return nil
	})
}

// Apply implements projections.Projection.
func (p *Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	b := p.cur
	if b == nil || b.tx != tx {
		b = &batch{tx: tx, subjLoaded: map[string]bool{}, subjects: map[string]*subject{}, open: map[string]map[domain.ClockKind]*row{}}
		p.cur = b
	}
	if err := b.preload(ctx, events); err != nil {
		return err
	}
	for i := range events {
		if err := p.apply(ctx, b, &events[i]); err != nil {
			return fmt.Errorf("%s v%d: %w", events[i].Stream, events[i].Version, err)
		}
	}
	return nil
}

func (b *batch) flush(ctx context.Context) error {
	for _, st := range sortedKeys(b.subjects) {
		x := b.subjects[st]
		if !x.dirty {
			continue
		}
		if err := b.tx.Exec(ctx, `INSERT INTO alerts_subjects (stream, household_id, community, grid) VALUES (?, ?, ?, ?)
			ON CONFLICT (stream) DO UPDATE SET household_id = excluded.household_id, community = excluded.community, grid = excluded.grid`,
			st, x.household, x.community, x.grid); err != nil {
			return err
		}
	}
	for _, st := range b.order {
		kinds := b.open[st]
		for _, k := range sortedKinds(kinds) {
			r := kinds[k]
			switch {
			case r.deleted && r.stored:
				if err := b.tx.Exec(ctx, `DELETE FROM alerts_open WHERE stream = ? AND kind = ?`, st, string(k)); err != nil {
					return err
				}
			case !r.deleted && r.dirty:
				// One row per running clock: a breach replaces the warning,
				// an alert on a restarted clock replaces the old clock's.
				if err := b.tx.Exec(ctx, `INSERT INTO alerts_open (stream, kind, stage, clock_start, due, raised_at, responsible, supervisor, household_id, community, grid)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream, kind) DO UPDATE SET stage = excluded.stage,
					clock_start = excluded.clock_start, due = excluded.due, raised_at = excluded.raised_at, responsible = excluded.responsible,
					supervisor = excluded.supervisor, household_id = excluded.household_id, community = excluded.community, grid = excluded.grid`,
					st, string(k), r.stage, r.start, r.due, r.raised, r.responsible, r.supervisor, r.household, r.community, r.grid); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// reschedule moves an open alert of the rescheduled clock to the new due
// instant; an alert the rescheduling withdraws (a breach that the official
// calendar does not confirm) closes.
func (b *batch) reschedule(stream string, e domain.DeadlineRescheduled) {
	r, ok := b.open[stream][e.Kind]
	if !ok || r.deleted || r.start != nanos(e.ClockStart) {
		return
	}
	if slices.Contains(e.Withdrawn, domain.AlertStage(r.stage)) {
		r.deleted = true
		return
	}
	r.due, r.dirty = nanos(e.NewDue), true
}

func (b *batch) setSubject(stream, household, community, grid string) {
	b.subjects[stream] = &subject{household: household, community: community, grid: grid, dirty: true}
}

func (b *batch) clear(stream string, kinds ...domain.ClockKind) {
	for k, r := range b.open[stream] {
		if len(kinds) == 0 || slices.Contains(kinds, k) {
			r.deleted = true
		}
	}
}

func (b *batch) raise(stream string, a domain.DeadlineAlert, stage domain.AlertStage) {
	r := &row{stage: string(stage), start: nanos(a.ClockStart), due: nanos(a.Due), raised: nanos(a.At),
		responsible: a.Responsible, supervisor: a.Supervisor, dirty: true}
	if x, ok := b.subjects[stream]; ok {
		r.household, r.community, r.grid = x.household, x.community, x.grid
	}
	if old, ok := b.open[stream][a.Kind]; ok {
		r.stored = old.stored
	}
	b.open[stream][a.Kind] = r
}

func (p *Projection) apply(ctx context.Context, b *batch, e *projections.Envelope) error {
	s := e.Stream
	switch ev := e.Payload.(type) {
	// Where subjects belong.
	case domain.HouseholdRegistered:
		b.setSubject(s, ev.HouseholdID, ev.Community, ev.Grid)
	case domain.HouseholdRelocated:
		id := strings.TrimPrefix(s, "household-")
		// Subjects and alerts of this household outside the batch…
		if err := b.tx.Exec(ctx, `UPDATE alerts_subjects SET community = ?, grid = ? WHERE household_id = ?`, ev.Community, ev.Grid, id); err != nil {
			return err
		}
		if err := b.tx.Exec(ctx, `UPDATE alerts_open SET community = ?, grid = ? WHERE household_id = ?`, ev.Community, ev.Grid, id); err != nil {
			return err
		}
		// …and inside it.
		for _, x := range b.subjects {
			if x.household == id {
				x.community, x.grid, x.dirty = ev.Community, ev.Grid, true
			}
		}
		for _, kinds := range b.open {
			for _, r := range kinds {
				if r.household == id {
					r.community, r.grid, r.dirty = ev.Community, ev.Grid, true
				}
			}
		}
		b.clear(s, domain.ClockFileRevision) // a move revises the file (decision 0118)
	case domain.ProblemReported:
		h := b.subjects[domain.HouseholdStream(ev.HouseholdID)]
		if h == nil {
			h = &subject{}
		}
		b.setSubject(s, ev.HouseholdID, h.community, h.grid)
	case domain.ReferralRequested:
		h := b.subjects[domain.HouseholdStream(ev.HouseholdID)]
		if h == nil {
			h = &subject{}
		}
		b.setSubject(s, ev.HouseholdID, h.community, h.grid)

	// Alerts.
	case domain.HouseholdDeadlineApproaching:
		b.raise(s, ev.DeadlineAlert, domain.StageApproaching)
	case domain.HouseholdDeadlineBreached:
		b.raise(s, ev.DeadlineAlert, domain.StageBreached)
	case domain.ProblemDeadlineApproaching:
		b.raise(s, ev.DeadlineAlert, domain.StageApproaching)
	case domain.ProblemDeadlineBreached:
		b.raise(s, ev.DeadlineAlert, domain.StageBreached)
	case domain.ReferralDeadlineApproaching:
		b.raise(s, ev.DeadlineAlert, domain.StageApproaching)
	case domain.ReferralDeadlineBreached:
		b.raise(s, ev.DeadlineAlert, domain.StageBreached)
	case domain.HouseholdDeadlineRescheduled:
		b.reschedule(s, ev.DeadlineRescheduled)
	case domain.ProblemDeadlineRescheduled:
		b.reschedule(s, ev.DeadlineRescheduled)
	case domain.ReferralDeadlineRescheduled:
		b.reschedule(s, ev.DeadlineRescheduled)

	// What ends or restarts a clock (see the aggregates' Clocks).
	case domain.VisitRecorded:
		if ev.Outcome == domain.OutcomeCompleted {
			b.clear(s, domain.ClockVisitDue)
		}
		if ev.SecondVisitFor != "" {
			b.clear(s, domain.ClockSecondVisit)
		}
		if ev.Outcome == domain.OutcomeCompleted && ev.Mode == domain.ModeHome && ev.Purpose == domain.PurposeFestival {
			b.clear(s, domain.ClockFestivalVisit) // decision 0140
		}
	case domain.HouseholdFestivalVisitDue:
		b.clear(s, domain.ClockFestivalVisit) // a new campaign's deadline replaces the last one
	case domain.HouseholdNeedsAssessed:
		b.clear(s, domain.ClockNeedsUpdate, domain.ClockFileRevision)
	case domain.HouseholdMemberAdded, domain.HouseholdMemberChanged, domain.HouseholdMemberLeft, domain.HouseholdCategoryChanged, domain.HouseholdCircumstancesChanged, domain.HouseholdRiskChanged, domain.HouseholdResourcesOffered,
		domain.HouseholdConsentRecorded:
		b.clear(s, domain.ClockFileRevision)
	case domain.HouseholdArchived:
		b.clear(s)
	case domain.ProblemProgressNoted:
		b.clear(s, domain.ClockProblemResponse, domain.ClockProblemFollowUp)
	case domain.ProblemReferred:
		b.clear(s, domain.ClockProblemResponse)
	case domain.ProblemDeadlineExtended:
		b.clear(s, domain.ClockProblemResolution)
	case domain.ProblemAssigned:
		if !ev.Due.IsZero() {
			b.clear(s, domain.ClockProblemResolution)
		}
	case domain.ProblemResolved, domain.ProblemClosed, domain.ProblemReopened:
		b.clear(s)
	case domain.ReferralAccepted, domain.ReferralDeclined:
		b.clear(s, domain.ClockReferralAcceptance)
	case domain.ReferralCompleted, domain.ReferralCancelled, domain.ReferralEscalated:
		b.clear(s)
	}
	return nil
}

// Alert is an open alert.
type Alert struct {
	Stream      string // the subject: household-…, problem-…, referral-…
	Kind        domain.ClockKind
	Stage       domain.AlertStage
	ClockStart  time.Time
	Due         time.Time
	RaisedAt    time.Time
	Responsible string
	Supervisor  string
	HouseholdID string
	Community   string
	Grid        string
	Age         time.Duration // now − due for a breach (how long overdue); now − raised for a warning
}

// Filter selects alerts. Empty fields match everything.
type Filter struct {
	Community, Grid, Responsible, Supervisor string
	Stage                                    domain.AlertStage
	Kind                                     domain.ClockKind
	Limit, Offset                            int // Limit default 100, at most 1000
}

// Counts of open alerts in one community.
type Counts struct {
	Community   string
	Approaching int
	Breached    int
}

// Reader queries the alert tables. Safe for concurrent use.
//
// It keeps the answers to its recent filters and the counts with the
// projection's checkpoint they were read at (decision 0152), and answers
// again from memory while the checkpoint has not moved: the dashboard asks
// the same lists and counts on every load, and they change only when the
// projection commits a batch. An alert's age, which depends on now, is
// computed on every answer.
type Reader struct {
	db     *sql.DB
	d      projections.Dialect
	stmts  *projections.Statements // Open's statements (at most 64 filter shapes)
	open   *projections.Answers[Filter, []Alert]
	counts *projections.Answers[struct{}, []Counts]
}

// maxCachedFilters bounds the answers kept (emptied past it).
const maxCachedFilters = 256

// NewReader returns a reader over the read-model database.
func NewReader(db *sql.DB, d projections.Dialect) *Reader {
	if d == nil {
		d = projections.SQLite
	}
	return &Reader{db: db, d: d, stmts: projections.NewStatements(db, d),
		open:   projections.NewAnswers[Filter, []Alert](db, d, Name, maxCachedFilters),
		counts: projections.NewAnswers[struct{}, []Counts](db, d, Name, 1)}
}

// ErrInvalidFilter: the filter cannot be run as given.
var ErrInvalidFilter = errors.New("alerts: invalid filter / 筛选条件无效")

// Open lists open alerts, oldest due first, with their age at now.
func (r *Reader) Open(ctx context.Context, f Filter, now time.Time) ([]Alert, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 || f.Offset < 0 {
		return nil, fmt.Errorf("%w: limit at most 1000, offset not negative / 每页最多 1000 条，偏移量不能为负", ErrInvalidFilter)
	}
	kept, err := r.open.Get(ctx, f, func(ctx context.Context) ([]Alert, error) { return r.list(ctx, f) })
	if err != nil {
		return nil, err
	}
	if kept == nil {
		return nil, nil
	}
	out := slices.Clone(kept)
	for i := range out {
		a := &out[i]
		if a.Stage == domain.StageBreached {
			a.Age = now.Sub(a.Due)
		} else {
			a.Age = now.Sub(a.RaisedAt)
		}
	}
	return out, nil
}

// list reads the open alerts of f (its limit set and checked by Open) from
// the database, without their age.
func (r *Reader) list(ctx context.Context, f Filter) ([]Alert, error) {
	var where []string
	var args []any
	for col, v := range map[string]string{"community": f.Community, "grid": f.Grid, "responsible": f.Responsible,
		"supervisor": f.Supervisor, "stage": string(f.Stage), "kind": string(f.Kind)} {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	slicesSort(where, args)
	q := `SELECT stream, kind, stage, clock_start, due, raised_at, responsible, supervisor, household_id, community, grid FROM alerts_open`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY due, stream, kind LIMIT ? OFFSET ?`
	args = append(args, f.Limit, f.Offset)
	st, err := r.stmts.Get(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("alerts: list: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts: list: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var start, due, raised int64
		if err := rows.Scan(&a.Stream, &a.Kind, &a.Stage, &start, &due, &raised, &a.Responsible, &a.Supervisor, &a.HouseholdID, &a.Community, &a.Grid); err != nil {
			return nil, err
		}
		a.ClockStart, a.Due, a.RaisedAt = time.Unix(0, start).UTC(), time.Unix(0, due).UTC(), time.Unix(0, raised).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// CountByCommunity returns the open alerts per community, by community.
func (r *Reader) CountByCommunity(ctx context.Context) ([]Counts, error) {
	kept, err := r.counts.Get(ctx, struct{}{}, r.count)
	if err != nil || kept == nil {
		return nil, err
	}
	return slices.Clone(kept), nil
}

func (r *Reader) count(ctx context.Context) ([]Counts, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT community,
		sum(CASE WHEN stage = 'approaching' THEN 1 ELSE 0 END), sum(CASE WHEN stage = 'breached' THEN 1 ELSE 0 END)
		FROM alerts_open GROUP BY community ORDER BY community`)
	if err != nil {
		return nil, fmt.Errorf("alerts: count: %w", err)
	}
	defer rows.Close()
	var out []Counts
	for rows.Next() {
		var c Counts
		if err := rows.Scan(&c.Community, &c.Approaching, &c.Breached); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
