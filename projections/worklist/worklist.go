// Package worklist is the read model of the worklists (issue 16, item 3):
// one row per problem and one per referral with what a worker, a
// supervisor or a department filters and sorts by — status, assignee or
// responsible person, receiving department, community and grid (the
// household's current ones, decision 0070), the stage of its deadlines
// (approaching or breached, as the watcher recorded them), whether a
// deadline is provisional, when it was created, and the next due instant.
//
// The next due instant of a running policy clock (a problem's first
// response, a referral's acceptance) is derived here with the recorded
// policy version and the calendar the projection was given, as the
// profile derives a household's next visit; explicit deadlines (a
// resolution time limit, a referral's promised completion) come from the
// events.
package worklist

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name.
const Name = "worklist"

// Projection maintains the worklist tables. It holds a transaction's
// changes until Flush; one engine at a time may use it.
type Projection struct {
	policies *domain.PolicySet
	cal      domain.WorkingDayCalendar
	cur      *batch
}

var (
	_ projections.Projection  = (*Projection)(nil)
	_ projections.Accumulator = (*Projection)(nil)
)

// New returns the projection; policies and cal derive the due instants of
// policy clocks (nil policies: those rows carry no due instant).
func New(policies *domain.PolicySet, cal domain.WorkingDayCalendar) *Projection {
	return &Projection{policies: policies, cal: cal}
}

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string {
	return []string{"worklist_households", "worklist_problems", "worklist_referrals"}
}

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS worklist_households (
			household_id TEXT PRIMARY KEY,
			community    TEXT NOT NULL,
			grid         TEXT NOT NULL)` + projections.WithoutRowID,
		`CREATE TABLE IF NOT EXISTS worklist_problems (
			problem_id       TEXT PRIMARY KEY,
			number           TEXT NOT NULL,
			household_id     TEXT NOT NULL,
			community        TEXT NOT NULL,
			grid             TEXT NOT NULL,
			category         TEXT NOT NULL,
			handling_class   TEXT NOT NULL,
			colour           TEXT NOT NULL,
			urgency          TEXT NOT NULL,
			assignee         TEXT NOT NULL,
			found_by         TEXT NOT NULL,
			status           TEXT NOT NULL,
			reported_at      BIGINT NOT NULL,
			clock_start      BIGINT NOT NULL,
			policy_version   TEXT NOT NULL,
			resolution_due   BIGINT NOT NULL,
			due              BIGINT NOT NULL,
			stages           TEXT NOT NULL,
			stage            TEXT NOT NULL,
			provisional      INTEGER NOT NULL,
			resolved_at      BIGINT NOT NULL,
			resolved_by      TEXT NOT NULL,
			return_visited   INTEGER NOT NULL,
			updated_at       BIGINT NOT NULL)` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS worklist_problems_grid ON worklist_problems (grid, status)`,
		`CREATE INDEX IF NOT EXISTS worklist_problems_community ON worklist_problems (community, status)`,
		`CREATE INDEX IF NOT EXISTS worklist_problems_household ON worklist_problems (household_id)`,
		`CREATE TABLE IF NOT EXISTS worklist_referrals (
			referral_id      TEXT PRIMARY KEY,
			problem_id       TEXT NOT NULL,
			household_id     TEXT NOT NULL,
			community        TEXT NOT NULL,
			grid             TEXT NOT NULL,
			level            TEXT NOT NULL,
			department       TEXT NOT NULL,
			requested_by     TEXT NOT NULL,
			responsible      TEXT NOT NULL,
			status           TEXT NOT NULL,
			requested_at     BIGINT NOT NULL,
			clock_start      BIGINT NOT NULL,
			policy_version   TEXT NOT NULL,
			completion_due   BIGINT NOT NULL,
			completion_prov  INTEGER NOT NULL,
			due              BIGINT NOT NULL,
			stages           TEXT NOT NULL,
			stage            TEXT NOT NULL,
			provisional      INTEGER NOT NULL,
			updated_at       BIGINT NOT NULL)` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS worklist_referrals_department ON worklist_referrals (department, status)`,
		`CREATE INDEX IF NOT EXISTS worklist_referrals_problem ON worklist_referrals (problem_id)`,
		`CREATE INDEX IF NOT EXISTS worklist_referrals_household ON worklist_referrals (household_id)`,
	}
}

// Flush implements projections.Accumulator: it writes the transaction's rows.
func (p *Projection) Flush(ctx context.Context, tx *projections.Tx) error {
	b := p.cur
	p.cur = nil
	if b == nil {
		return nil
	}
	return b.flush(ctx, p)
}

// Discard implements projections.Accumulator.
func (p *Projection) Discard() { p.cur = nil }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// stages records the alert stage of each running clock of a row, as
// "kind=stage;kind=stage" (sorted), so that a met clock clears its own.
type stages map[domain.ClockKind]domain.AlertStage

func parseStages(s string) stages {
	out := stages{}
	for _, kv := range strings.Split(s, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[domain.ClockKind(k)] = domain.AlertStage(v)
		}
	}
	return out
}

func (s stages) String() string {
	var parts []string
	for k, v := range s {
		parts = append(parts, string(k)+"="+string(v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

// worst is the most urgent stage: breached, approaching or "".
func (s stages) worst() string {
	w := ""
	for _, v := range s {
		if v == domain.StageBreached {
			return string(domain.StageBreached)
		}
		if v == domain.StageApproaching {
			w = string(v)
		}
	}
	return w
}

type household struct {
	community, grid string
	stored, dirty   bool
}

type problemRow struct {
	id, number, household, community, grid, category, handling, colour, urgency string
	assignee, foundBy, status, policyVersion, resolvedBy                        string
	reportedAt, clockStart, resolutionDue, resolvedAt, updatedAt, due           int64
	stages                                                                      stages
	provisional, returnVisited                                                  bool
	stored, dirty                                                               bool
}

type referralRow struct {
	id, problem, household, community, grid, level, department, requestedBy, responsible, status, policyVersion string
	requestedAt, clockStart, completionDue, updatedAt, due                                                      int64
	completionProv, provisional                                                                                 bool
	stages                                                                                                      stages
	stored, dirty                                                                                               bool
}

type batch struct {
	tx        *projections.Tx
	hh        map[string]*household
	pr        map[string]*problemRow
	rf        map[string]*referralRow
	hhLoaded  map[string]bool
	prLoaded  map[string]bool
	rfLoaded  map[string]bool
	relocated map[string]bool // households moved in this batch: rows outside the batch follow at flush
}

const problemCols = `problem_id, number, household_id, community, grid, category, handling_class, colour, urgency, assignee, found_by, status,
	reported_at, clock_start, policy_version, resolution_due, due, stages, stage, provisional, resolved_at, resolved_by, return_visited, updated_at`

const referralCols = `referral_id, problem_id, household_id, community, grid, level, department, requested_by, responsible, status,
	requested_at, clock_start, policy_version, completion_due, completion_prov, due, stages, stage, provisional, updated_at`

func (b *batch) preload(ctx context.Context, events []projections.Envelope) error {
	var hh, pr, rf projections.Keys
	addH := func(id string) {
		if id != "" && !b.hhLoaded[id] {
			b.hhLoaded[id] = true
			hh.Add(id)
		}
	}
	for i := range events {
		id := strings.TrimPrefix(events[i].Stream, events[i].Category()+"-")
		switch events[i].Category() {
		case "household":
			addH(id)
		case "problem":
			if !b.prLoaded[id] {
				b.prLoaded[id] = true
				pr.Add(id)
			}
			if e, ok := events[i].Payload.(domain.ProblemReported); ok {
				addH(e.HouseholdID)
			}
		case "referral":
			if !b.rfLoaded[id] {
				b.rfLoaded[id] = true
				rf.Add(id)
			}
			if e, ok := events[i].Payload.(domain.ReferralRequested); ok {
				addH(e.HouseholdID)
			}
		}
	}
	if err := b.tx.QueryKeys(ctx, `SELECT household_id, community, grid FROM worklist_households WHERE household_id IN (?*)`, hh.List(), func(rows *sql.Rows) error {
		var id string
		h := &household{stored: true}
		if err := rows.Scan(&id, &h.community, &h.grid); err != nil {
			return err
		}
		b.hh[id] = h
		return nil
	}); err != nil {
		return err
	}
	if err := b.tx.QueryKeys(ctx, `SELECT `+problemCols+` FROM worklist_problems WHERE problem_id IN (?*)`, pr.List(), func(rows *sql.Rows) error {
		r := &problemRow{stored: true}
		var st, stage string
		if err := rows.Scan(&r.id, &r.number, &r.household, &r.community, &r.grid, &r.category, &r.handling, &r.colour, &r.urgency, &r.assignee,
			&r.foundBy, &r.status, &r.reportedAt, &r.clockStart, &r.policyVersion, &r.resolutionDue, &r.due, &st, &stage, &r.provisional,
			&r.resolvedAt, &r.resolvedBy, &r.returnVisited, &r.updatedAt); err != nil {
			return err
		}
		r.stages = parseStages(st)
		b.pr[r.id] = r
		return nil
	}); err != nil {
		return err
	}
	return b.tx.QueryKeys(ctx, `SELECT `+referralCols+` FROM worklist_referrals WHERE referral_id IN (?*)`, rf.List(), func(rows *sql.Rows) error {
		r := &referralRow{stored: true}
		var st, stage string
		if err := rows.Scan(&r.id, &r.problem, &r.household, &r.community, &r.grid, &r.level, &r.department, &r.requestedBy, &r.responsible,
			&r.status, &r.requestedAt, &r.clockStart, &r.policyVersion, &r.completionDue, &r.completionProv, &r.due, &st, &stage,
			&r.provisional, &r.updatedAt); err != nil {
			return err
		}
		r.stages = parseStages(st)
		b.rf[r.id] = r
		return nil
	})
}

// Apply implements projections.Projection.
func (p *Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	b := p.cur
	if b == nil || b.tx != tx {
		b = &batch{tx: tx, hh: map[string]*household{}, pr: map[string]*problemRow{}, rf: map[string]*referralRow{},
			hhLoaded: map[string]bool{}, prLoaded: map[string]bool{}, rfLoaded: map[string]bool{}, relocated: map[string]bool{}}
		p.cur = b
	}
	if err := b.preload(ctx, events); err != nil {
		return err
	}
	for i := range events {
		b.apply(&events[i])
	}
	return nil
}

func (b *batch) apply(e *projections.Envelope) {
	id := strings.TrimPrefix(e.Stream, e.Category()+"-")
	switch e.Category() {
	case "household":
		switch ev := e.Payload.(type) {
		case domain.HouseholdRegistered:
			b.hh[id] = &household{community: ev.Community, grid: ev.Grid, stored: b.hh[id] != nil && b.hh[id].stored, dirty: true}
		case domain.HouseholdRelocated:
			h := b.hh[id]
			if h == nil {
				h = &household{}
				b.hh[id] = h
			}
			h.community, h.grid, h.dirty = ev.Community, ev.Grid, true
			b.relocated[id] = true
			for _, r := range b.pr {
				if r.household == id {
					r.community, r.grid, r.dirty = ev.Community, ev.Grid, true
				}
			}
			for _, r := range b.rf {
				if r.household == id {
					r.community, r.grid, r.dirty = ev.Community, ev.Grid, true
				}
			}
		}
	case "problem":
		b.applyProblem(id, e)
	case "referral":
		b.applyReferral(id, e)
	}
}

func (b *batch) applyProblem(id string, e *projections.Envelope) {
	if ev, ok := e.Payload.(domain.ProblemReported); ok {
		r := &problemRow{id: id, number: ev.Number, household: ev.HouseholdID, category: string(ev.Category), handling: string(ev.HandlingClass),
			colour: string(ev.Colour), urgency: string(ev.Urgency), assignee: ev.FoundBy, foundBy: ev.FoundBy, status: string(domain.StatusOpen),
			reportedAt: nanos(ev.At), clockStart: nanos(ev.At), policyVersion: ev.PolicyVersion, stages: stages{}, dirty: true}
		if old := b.pr[id]; old != nil {
			r.stored = old.stored
		}
		if h := b.hh[ev.HouseholdID]; h != nil {
			r.community, r.grid = h.community, h.grid
		}
		r.updatedAt = e.RecordedAt.UnixNano()
		b.pr[id] = r
		return
	}
	r := b.pr[id]
	if r == nil {
		return // the report is not in the log
	}
	r.dirty = true
	r.updatedAt = max(r.updatedAt, e.RecordedAt.UnixNano())
	clear := func(kinds ...domain.ClockKind) {
		for _, k := range kinds {
			delete(r.stages, k)
		}
	}
	switch ev := e.Payload.(type) {
	case domain.ProblemReclassified:
		r.handling, r.colour, r.urgency, r.policyVersion = string(ev.HandlingClass), string(ev.Colour), string(ev.Urgency), ev.PolicyVersion
	case domain.ProblemAssigned:
		r.assignee = ev.To
		if !ev.TimeLimit.IsZero() || ev.Sessions > 0 {
			r.resolutionDue, r.provisional = nanos(ev.Due), len(ev.Calendar.Provisional) > 0
			clear(domain.ClockProblemResolution)
		}
	case domain.ProblemDeadlineExtended:
		r.resolutionDue, r.provisional = nanos(ev.To), false
		clear(domain.ClockProblemResolution)
	case domain.ProblemDeadlineRescheduled:
		if ev.Kind == domain.ClockProblemResolution && r.resolutionDue == nanos(ev.OldDue) {
			r.resolutionDue = nanos(ev.NewDue)
		}
		r.provisional = len(ev.Calendar.Provisional) > 0
		for _, st := range ev.Withdrawn {
			if r.stages[ev.Kind] == st {
				delete(r.stages, ev.Kind)
			}
		}
	case domain.ProblemProgressNoted:
		r.policyVersion = ev.PolicyVersion
		if r.status == string(domain.StatusOpen) {
			r.status = string(domain.StatusInProgress)
		}
		clear(domain.ClockProblemResponse, domain.ClockProblemFollowUp)
	case domain.ProblemReferred:
		if r.status == string(domain.StatusOpen) {
			r.status = string(domain.StatusInProgress)
		}
		clear(domain.ClockProblemResponse)
	case domain.ProblemResolved:
		r.status, r.resolvedAt, r.resolvedBy, r.returnVisited = string(domain.StatusResolved), nanos(ev.At), ev.By, false
		r.stages = stages{}
	case domain.ProblemRevisited:
		// An independent return visit that found the resolution held (an
		// unsatisfied one reopens the problem in the same command).
		if ev.Independent && ev.Held {
			r.returnVisited = true
		}
	case domain.ProblemReopened:
		r.status, r.clockStart, r.policyVersion = string(domain.StatusOpen), nanos(ev.At), ev.PolicyVersion
		r.resolutionDue, r.resolvedAt, r.resolvedBy, r.provisional = 0, 0, "", false
		r.stages = stages{}
	case domain.ProblemClosed:
		r.status = string(domain.StatusClosed)
		r.stages = stages{}
	case domain.ProblemDeadlineApproaching:
		if r.stages[ev.Kind] != domain.StageBreached {
			r.stages[ev.Kind] = domain.StageApproaching
		}
		r.provisional = r.provisional || len(ev.Calendar.Provisional) > 0
	case domain.ProblemDeadlineBreached:
		r.stages[ev.Kind] = domain.StageBreached
		r.provisional = r.provisional || len(ev.Calendar.Provisional) > 0
	}
}

func (b *batch) applyReferral(id string, e *projections.Envelope) {
	if ev, ok := e.Payload.(domain.ReferralRequested); ok {
		r := &referralRow{id: id, problem: ev.ProblemID, household: ev.HouseholdID, level: string(ev.Level), department: ev.To,
			requestedBy: ev.By, status: string(domain.RefRequested), requestedAt: nanos(ev.At), clockStart: nanos(ev.At),
			policyVersion: ev.PolicyVersion, stages: stages{}, dirty: true, updatedAt: e.RecordedAt.UnixNano()}
		if old := b.rf[id]; old != nil {
			r.stored = old.stored
		}
		if h := b.hh[ev.HouseholdID]; h != nil {
			r.community, r.grid = h.community, h.grid
		}
		b.rf[id] = r
		return
	}
	r := b.rf[id]
	if r == nil {
		return
	}
	r.dirty = true
	r.updatedAt = max(r.updatedAt, e.RecordedAt.UnixNano())
	switch ev := e.Payload.(type) {
	case domain.ReferralAccepted:
		r.status, r.responsible, r.completionDue, r.completionProv = string(domain.RefAccepted), ev.Responsible, nanos(ev.Due), len(ev.Calendar.Provisional) > 0
		r.stages = stages{}
	case domain.ReferralDeclined:
		r.status = string(domain.RefDeclined)
		r.stages = stages{}
	case domain.ReferralStarted:
		r.status = string(domain.RefInProgress)
	case domain.ReferralCompleted:
		r.status = string(domain.RefCompleted)
		r.stages = stages{}
	case domain.ReferralCancelled:
		r.status = string(domain.RefCancelled)
		r.stages = stages{}
	case domain.ReferralEscalated:
		r.status, r.level, r.department, r.responsible = string(domain.RefRequested), string(ev.Level), ev.To, ""
		r.clockStart, r.policyVersion, r.completionDue, r.completionProv = nanos(ev.At), ev.PolicyVersion, 0, false
		r.stages = stages{}
	case domain.ReferralDeadlineRescheduled:
		if ev.Kind == domain.ClockReferralCompletion && r.completionDue == nanos(ev.OldDue) {
			r.completionDue, r.completionProv = nanos(ev.NewDue), len(ev.Calendar.Provisional) > 0
		}
		for _, st := range ev.Withdrawn {
			if r.stages[ev.Kind] == st {
				delete(r.stages, ev.Kind)
			}
		}
	case domain.ReferralDeadlineApproaching:
		if r.stages[ev.Kind] != domain.StageBreached {
			r.stages[ev.Kind] = domain.StageApproaching
		}
	case domain.ReferralDeadlineBreached:
		r.stages[ev.Kind] = domain.StageBreached
	}
}

// problemDue is the next due instant of a problem's running deadlines:
// the first response while open (derived with the recorded policy), the
// resolution time limit while handled; 0 for none.
func (p *Projection) problemDue(r *problemRow) (int64, bool) {
	if r.status != string(domain.StatusOpen) && r.status != string(domain.StatusInProgress) {
		return 0, false
	}
	due, prov := r.resolutionDue, r.provisional && r.resolutionDue != 0
	if r.status == string(domain.StatusOpen) && p.policies != nil && p.cal != nil {
		d, ok, err := p.policies.Deadline(p.cal, domain.Clock{Kind: domain.ClockProblemResponse, Start: time.Unix(0, r.clockStart),
			PolicyVersion: r.policyVersion, HandlingClass: domain.HandlingClass(r.handling), Colour: domain.Colour(r.colour), Urgency: domain.Urgency(r.urgency)})
		if err == nil && ok && (due == 0 || d.Due.UnixNano() < due) {
			due, prov = d.Due.UnixNano(), len(d.Basis.Provisional) > 0
		}
	}
	return due, prov
}

// referralDue is the acceptance deadline while requested (derived with the
// recorded policy), the promised completion while accepted or in progress.
func (p *Projection) referralDue(r *referralRow) (int64, bool) {
	switch r.status {
	case string(domain.RefRequested):
		if p.policies == nil || p.cal == nil {
			return 0, false
		}
		d, ok, err := p.policies.Deadline(p.cal, domain.Clock{Kind: domain.ClockReferralAcceptance, Start: time.Unix(0, r.clockStart), PolicyVersion: r.policyVersion})
		if err != nil || !ok {
			return 0, false
		}
		return d.Due.UnixNano(), len(d.Basis.Provisional) > 0
	case string(domain.RefAccepted), string(domain.RefInProgress):
		return r.completionDue, r.completionProv
	}
	return 0, false
}

func (b *batch) flush(ctx context.Context, p *Projection) error {
	for _, id := range sortedKeys(b.hh) {
		h := b.hh[id]
		if !h.dirty {
			continue
		}
		if err := b.tx.Exec(ctx, `INSERT INTO worklist_households (household_id, community, grid) VALUES (?, ?, ?)
			ON CONFLICT (household_id) DO UPDATE SET community = excluded.community, grid = excluded.grid`, id, h.community, h.grid); err != nil {
			return err
		}
	}
	// Rows of a moved household that this batch did not touch.
	for _, id := range sortedKeys(b.relocated) {
		h := b.hh[id]
		for _, t := range []string{"worklist_problems", "worklist_referrals"} {
			if err := b.tx.Exec(ctx, `UPDATE `+t+` SET community = ?, grid = ? WHERE household_id = ?`, h.community, h.grid, id); err != nil {
				return err
			}
		}
	}
	for _, id := range sortedKeys(b.pr) {
		r := b.pr[id]
		if !r.dirty {
			continue
		}
		due, prov := p.problemDue(r)
		if err := b.tx.Exec(ctx, `INSERT INTO worklist_problems (`+problemCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (problem_id) DO UPDATE SET number = excluded.number, household_id = excluded.household_id, community = excluded.community,
			grid = excluded.grid, category = excluded.category, handling_class = excluded.handling_class, colour = excluded.colour,
			urgency = excluded.urgency, assignee = excluded.assignee, found_by = excluded.found_by, status = excluded.status,
			reported_at = excluded.reported_at, clock_start = excluded.clock_start, policy_version = excluded.policy_version,
			resolution_due = excluded.resolution_due, due = excluded.due, stages = excluded.stages, stage = excluded.stage,
			provisional = excluded.provisional, resolved_at = excluded.resolved_at, resolved_by = excluded.resolved_by, return_visited = excluded.return_visited,
			updated_at = excluded.updated_at`,
			r.id, r.number, r.household, r.community, r.grid, r.category, r.handling, r.colour, r.urgency, r.assignee, r.foundBy, r.status,
			r.reportedAt, r.clockStart, r.policyVersion, r.resolutionDue, due, r.stages.String(), r.stages.worst(),
			projections.Bool(prov || (r.provisional && due != 0)), r.resolvedAt, r.resolvedBy, projections.Bool(r.returnVisited), r.updatedAt); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(b.rf) {
		r := b.rf[id]
		if !r.dirty {
			continue
		}
		due, prov := p.referralDue(r)
		if err := b.tx.Exec(ctx, `INSERT INTO worklist_referrals (`+referralCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (referral_id) DO UPDATE SET problem_id = excluded.problem_id, household_id = excluded.household_id,
			community = excluded.community, grid = excluded.grid, level = excluded.level, department = excluded.department,
			requested_by = excluded.requested_by, responsible = excluded.responsible, status = excluded.status,
			requested_at = excluded.requested_at, clock_start = excluded.clock_start, policy_version = excluded.policy_version,
			completion_due = excluded.completion_due, completion_prov = excluded.completion_prov, due = excluded.due,
			stages = excluded.stages, stage = excluded.stage, provisional = excluded.provisional, updated_at = excluded.updated_at`,
			r.id, r.problem, r.household, r.community, r.grid, r.level, r.department, r.requestedBy, r.responsible, r.status,
			r.requestedAt, r.clockStart, r.policyVersion, r.completionDue, projections.Bool(r.completionProv), due,
			r.stages.String(), r.stages.worst(), projections.Bool(prov), r.updatedAt); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errorf is a filter error (ErrInvalidFilter) with a message in both languages.
func errorf(en, zh string) error { return fmt.Errorf("%w: %s / %s", ErrInvalidFilter, en, zh) }
