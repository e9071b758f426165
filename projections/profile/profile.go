// Package profile is the household profile read model ("一户一档": one
// household, one file): the household's class, category, risk, needs,
// resources, members (sensitive fields kept sealed), open problems and
// referrals, last and next visit, visit count and satisfaction; with list,
// filter and search queries.
package profile

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// Name is the durable projection name.
const Name = "household_profile"

// Projection maintains the profile tables. Create it with New; it is safe
// for concurrent use (it holds no state besides its configuration).
type Projection struct {
	policies *domain.PolicySet
	cal      domain.WorkingDayCalendar

	// Committed household rows (members aside), kept across batches so
	// that a batch need not read them back (projections.Cacher).
	mu      sync.Mutex
	cache   map[string]household
	pending []*household
	cur     *batch // the transaction's changes until Flush (projections.Accumulator)

	reads   *ReadCache    // profiles readers keep; nil: none (SetReadCache)
	open    domain.Opener // opens the sealed class for the visit-due instant; nil: none (SetOpener)
	touched []string      // households the flushed batch changed
}

// SetReadCache makes the projection drop from c the households each batch
// changed, once the batch is committed (and everything on a reset): call it
// before the engine runs, with the cache given to this process's readers.
func (p *Projection) SetReadCache(c *ReadCache) { p.reads = c }

// SetOpener gives the projection the key vault, to open a household's
// sealed class (decision 0148) when it derives the next-visit-due instant
// (the cadence is per class). The table keeps the class as it is in the log
// (a token). Without an opener, or once the household's key is erased, a
// sealed class derives no due instant. Call it before the engine runs.
func (p *Projection) SetOpener(o domain.Opener) { p.open = o }

var _ projections.Accumulator = (*Projection)(nil)

// Flush implements projections.Accumulator: it writes the transaction's rows.
func (p *Projection) Flush(ctx context.Context, tx *projections.Tx) error {
	b := p.cur
	p.cur = nil
	if b == nil {
		return nil
	}
	if p.reads != nil {
		p.touched = append(p.touched, b.keys...)
		for _, x := range b.pr {
			p.touched = append(p.touched, x.HouseholdID)
		}
		for _, x := range b.rf {
			p.touched = append(p.touched, x.HouseholdID)
		}
	}
	return p.flush(ctx, b)
}

// Discard implements projections.Accumulator.
func (p *Projection) Discard() { p.cur = nil }

// cacheLimit bounds the rows kept in memory; beyond it the cache starts over.
const cacheLimit = 250_000

var _ projections.Cacher = (*Projection)(nil)

// AfterBatch implements projections.Cacher.
func (p *Projection) AfterBatch(committed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	touched := p.touched
	p.touched = nil
	if !committed {
		p.cache, p.pending = nil, nil
		return
	}
	if p.reads != nil {
		p.reads.invalidate(touched)
	}
	if p.cache == nil || len(p.cache) > cacheLimit {
		p.cache = map[string]household{}
	}
	for _, h := range p.pending {
		c := *h
		c.members, c.membersLoaded, c.exists = nil, false, true
		p.cache[h.ID] = c
	}
	p.pending = nil
}

// ResetCache implements projections.Cacher.
func (p *Projection) ResetCache() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cache, p.pending, p.touched = nil, nil, nil
	if p.reads != nil {
		p.reads.clear()
	}
}

// New returns the projection. policies and cal derive the next-visit-due
// instant (with the policy version each household's clock recorded).
func New(policies *domain.PolicySet, cal domain.WorkingDayCalendar) *Projection {
	return &Projection{policies: policies, cal: cal}
}

var _ projections.Projection = (*Projection)(nil)

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string {
	return []string{"profile_households", "profile_members", "profile_problems", "profile_referrals", "profile_due_basis", "profile_visits"}
}

// Schema implements projections.Projection.
func (*Projection) Schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS profile_households (
			household_id   TEXT PRIMARY KEY,
			address        TEXT NOT NULL,
			address_norm   TEXT NOT NULL,
			names_norm     TEXT NOT NULL,
			community      TEXT NOT NULL,
			grid           TEXT NOT NULL,
			worker         TEXT NOT NULL,
			class          TEXT NOT NULL,
			category       TEXT NOT NULL,
			risk           TEXT NOT NULL,
			needs          TEXT NOT NULL,
			resources      TEXT NOT NULL,
			consent        INTEGER NOT NULL,
			archived       INTEGER NOT NULL,
			archive_reason TEXT NOT NULL,
			registered_at  BIGINT NOT NULL,
			last_visit_at  BIGINT NOT NULL,
			next_visit_due BIGINT NOT NULL,
			visit_count    INTEGER NOT NULL,
			visits_refused INTEGER NOT NULL,
			policy_version TEXT NOT NULL,
			version        BIGINT NOT NULL)` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS profile_households_scope ON profile_households (community, grid, worker)`,
		`CREATE INDEX IF NOT EXISTS profile_households_due ON profile_households (next_visit_due)`,
		`CREATE TABLE IF NOT EXISTS profile_members (
			household_id TEXT NOT NULL,
			member_id    TEXT NOT NULL,
			seq          INTEGER NOT NULL,
			name         TEXT NOT NULL,
			relation     TEXT NOT NULL,
			birth_date   TEXT NOT NULL,
			occupation   TEXT NOT NULL,
			sealed       TEXT NOT NULL,
			left_at      BIGINT NOT NULL,
			PRIMARY KEY (household_id, member_id))` + projections.WithoutRowID,
		`CREATE TABLE IF NOT EXISTS profile_problems (
			problem_id     TEXT PRIMARY KEY,
			household_id   TEXT NOT NULL,
			number         TEXT NOT NULL,
			description    TEXT NOT NULL,
			category       TEXT NOT NULL,
			handling_class TEXT NOT NULL,
			colour         TEXT NOT NULL,
			urgency        TEXT NOT NULL,
			assignee       TEXT NOT NULL,
			status         TEXT NOT NULL,
			reported_at    BIGINT NOT NULL,
			due            BIGINT NOT NULL,
			resolved_at    BIGINT NOT NULL,
			satisfaction   INTEGER NOT NULL)` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS profile_problems_household ON profile_problems (household_id)`,
		`CREATE TABLE IF NOT EXISTS profile_referrals (
			referral_id  TEXT PRIMARY KEY,
			problem_id   TEXT NOT NULL,
			household_id TEXT NOT NULL,
			level        TEXT NOT NULL,
			to_org       TEXT NOT NULL,
			status       TEXT NOT NULL,
			responsible  TEXT NOT NULL,
			requested_at BIGINT NOT NULL)` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS profile_referrals_household ON profile_referrals (household_id)`,
		// The due instants shown with a calendar basis (decision 0063), in
		// a table of their own because read-model tables get no column
		// migrations: a problem's resolution deadline computed on the
		// working-day calendar (its due is also profile_problems.due) and
		// a referral's completion deadline promised on acceptance. subject
		// is the problem or referral id, kind the clock (domain.ClockKind);
		// provisional lists the years without an official calendar
		// ("2027" or "2027,2028"; "" when official).
		`CREATE TABLE IF NOT EXISTS profile_due_basis (
			subject          TEXT NOT NULL,
			kind             TEXT NOT NULL,
			due              BIGINT NOT NULL,
			provisional      TEXT NOT NULL,
			calendar_version TEXT NOT NULL,
			PRIMARY KEY (subject, kind))` + projections.WithoutRowID,
		// Issue 20: the file shows its history. Every visit (refusals and
		// nobody-at-home included), and the outcome of each problem and
		// referral, open or not.
		`CREATE TABLE IF NOT EXISTS profile_visits (
			household_id TEXT NOT NULL,
			visit_id     TEXT NOT NULL,
			occurred_at  BIGINT NOT NULL,
			recorded_at  BIGINT NOT NULL,
			team         TEXT NOT NULL,
			mode         TEXT NOT NULL,
			outcome      TEXT NOT NULL,
			late         INTEGER NOT NULL,
			summary      TEXT NOT NULL,
			by_actor     TEXT NOT NULL,
			PRIMARY KEY (household_id, visit_id))` + projections.WithoutRowID,
		`CREATE INDEX IF NOT EXISTS profile_visits_when ON profile_visits (household_id, occurred_at)`,
		`ALTER TABLE profile_problems ADD COLUMN resolution TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE profile_problems ADD COLUMN closed_at BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE profile_referrals ADD COLUMN outcome TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE profile_referrals ADD COLUMN reason TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE profile_referrals ADD COLUMN closed_at BIGINT NOT NULL DEFAULT 0`,
		// The new table and columns are filled by applying the log again
		// from the start: empty the model and forget its checkpoint, in the
		// same migration transaction, so the engine rebuilds it at start.
		`DELETE FROM profile_households`,
		`DELETE FROM profile_members`,
		`DELETE FROM profile_problems`,
		`DELETE FROM profile_referrals`,
		`DELETE FROM profile_due_basis`,
		`DELETE FROM projection_checkpoints WHERE name = '` + Name + `'`,
	}
}

// Normalize is how names and addresses are prepared for search: full-width
// ASCII (Ｚ, １) folded to half-width, letters lower-cased, white space
// and the separators "·" and "・" removed. Chinese characters are kept as
// they are; traditional and simplified forms are not unified.
func Normalize(s string) string { return domain.NormalizeSearch(s) }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

type household struct {
	ID, Address, Community, Grid, Worker         string
	Class, Category, Risk, ArchiveReason, Policy string
	Needs, Resources                             string
	Consent, Archived                            bool
	RegisteredAt, LastVisit, NextDue             int64
	Visits, Refused                              int
	Version                                      int64
	members                                      []*member
	membersLoaded                                bool
	visits                                       []visit // recorded in this batch, to insert
	exists                                       bool
	static                                       string // the rarely changing columns as loaded
}

// staticKey joins the columns that visits do not change.
func (h *household) staticKey() string {
	return strings.Join([]string{h.Address, h.Community, h.Grid, h.Worker, h.Class, h.Category, h.Risk, h.ArchiveReason,
		h.Needs, h.Resources, fmt.Sprint(h.Consent, h.Archived, h.RegisteredAt)}, "\x00")
}

type member struct {
	ID, Name, Relation, BirthDate, Occupation, Sealed string
	Seq                                               int
	LeftAt                                            int64
	dirty, exists                                     bool
}

// visit is a row of profile_visits.
type visit struct {
	ID, Team, Mode, Outcome, Summary, By string
	OccurredAt, RecordedAt               int64
	Late                                 bool
}

type problem struct {
	ID, HouseholdID, Number, Description, Category, Handling, Colour, Urgency, Assignee, Status string
	Resolution                                                                                  string
	ReportedAt, Due, ResolvedAt, ClosedAt                                                       int64
	Satisfaction                                                                                int
	Basis, stored                                                                               dueBasis // the resolution deadline's basis now and as loaded
}

type referral struct {
	ID, ProblemID, HouseholdID, Level, To, Status, Responsible string
	Outcome, Reason                                            string   // the completion's outcome; the decline, cancel or escalation reason
	RequestedAt, ClosedAt                                      int64    // ClosedAt: completed, declined or cancelled (0 while open)
	Due, stored                                                dueBasis // the completion deadline now and as loaded
}

// dueBasis is a row of profile_due_basis: a due instant and the calendar
// it was computed with. The zero value is no row.
type dueBasis struct {
	Due                  int64
	Provisional, Version string
}

// basisOf is the row of a due instant computed with b.
func basisOf(due time.Time, b domain.CalendarBasis) dueBasis {
	ys := make([]string, len(b.Provisional))
	for i, y := range b.Provisional {
		ys[i] = strconv.Itoa(y)
	}
	return dueBasis{Due: nanos(due), Provisional: strings.Join(ys, ","), Version: b.Version}
}

// calendarBasis reads a basis back from its columns (years that do not
// parse are skipped: the projection writes only numbers).
func calendarBasis(provisional, version string) domain.CalendarBasis {
	b := domain.CalendarBasis{Version: version}
	for _, f := range strings.Split(provisional, ",") {
		if y, err := strconv.Atoi(f); err == nil {
			b.Provisional = append(b.Provisional, y)
		}
	}
	return b
}

// The kinds profile_due_basis holds.
const (
	kindResolution = string(domain.ClockProblemResolution)
	kindCompletion = string(domain.ClockReferralCompletion)
)

// batch holds the rows a batch touches, loaded on first use and written once at the end.
type batch struct {
	p    *Projection
	tx   *projections.Tx
	hh   map[string]*household
	pr   map[string]*problem
	rf   map[string]*referral
	keys []string // households in first-touch order (deterministic writes)
}

const hhCols = `household_id, address, community, grid, worker, class, category, risk, archive_reason, policy_version,
	needs, resources, consent, archived, registered_at, last_visit_at, next_visit_due, visit_count, visits_refused, version`

func (b *batch) household(ctx context.Context, id string) (*household, error) {
	if h, ok := b.hh[id]; ok {
		return h, nil
	}
	h := &household{ID: id, Needs: "{}", Resources: "{}"}
	err := b.tx.QueryRow(ctx, `SELECT `+hhCols+` FROM profile_households WHERE household_id = ?`, id).Scan(
		&h.ID, &h.Address, &h.Community, &h.Grid, &h.Worker, &h.Class, &h.Category, &h.Risk, &h.ArchiveReason, &h.Policy,
		&h.Needs, &h.Resources, &h.Consent, &h.Archived, &h.RegisteredAt, &h.LastVisit, &h.NextDue, &h.Visits, &h.Refused, &h.Version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		h.exists = true
	}
	b.hh[id] = h
	b.keys = append(b.keys, id)
	return h, nil
}

func (b *batch) loadMembers(ctx context.Context, h *household) error {
	if h.membersLoaded {
		return nil
	}
	h.membersLoaded = true
	if !h.exists {
		return nil
	}
	rows, err := b.tx.Query(ctx, `SELECT member_id, seq, name, relation, birth_date, occupation, sealed, left_at FROM profile_members WHERE household_id = ? ORDER BY seq`, h.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		m := &member{exists: true}
		if err := rows.Scan(&m.ID, &m.Seq, &m.Name, &m.Relation, &m.BirthDate, &m.Occupation, &m.Sealed, &m.LeftAt); err != nil {
			return err
		}
		h.members = append(h.members, m)
	}
	return rows.Err()
}

func (b *batch) problem(ctx context.Context, id string) (*problem, error) {
	if p, ok := b.pr[id]; ok {
		return p, nil
	}
	p := &problem{ID: id}
	err := b.tx.QueryRow(ctx, `SELECT `+problemCols+` WHERE p.problem_id = ?`, id).Scan(p.fields()...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	p.ID, p.stored = id, p.Basis
	b.pr[id] = p
	return p, nil
}

func (b *batch) referral(ctx context.Context, id string) (*referral, error) {
	if r, ok := b.rf[id]; ok {
		return r, nil
	}
	r := &referral{ID: id}
	err := b.tx.QueryRow(ctx, `SELECT `+referralCols+` WHERE r.referral_id = ?`, id).Scan(r.fields()...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	r.ID, r.stored = id, r.Due
	b.rf[id] = r
	return r, nil
}

// problemCols and referralCols select a problem or referral row with its
// deadline's basis (the columns of fields), up to the WHERE clause.
const (
	problemCols = `p.problem_id, p.household_id, p.number, p.description, p.category, p.handling_class, p.colour, p.urgency,
		p.assignee, p.status, p.reported_at, p.due, p.resolved_at, p.satisfaction, p.resolution, p.closed_at,
		coalesce(d.due, 0), coalesce(d.provisional, ''), coalesce(d.calendar_version, '')
		FROM profile_problems p LEFT JOIN profile_due_basis d ON d.subject = p.problem_id AND d.kind = '` + kindResolution + `'`
	referralCols = `r.referral_id, r.problem_id, r.household_id, r.level, r.to_org, r.status, r.responsible, r.requested_at,
		r.outcome, r.reason, r.closed_at,
		coalesce(d.due, 0), coalesce(d.provisional, ''), coalesce(d.calendar_version, '')
		FROM profile_referrals r LEFT JOIN profile_due_basis d ON d.subject = r.referral_id AND d.kind = '` + kindCompletion + `'`
)

func (p *problem) fields() []any {
	return []any{&p.ID, &p.HouseholdID, &p.Number, &p.Description, &p.Category, &p.Handling, &p.Colour, &p.Urgency, &p.Assignee, &p.Status,
		&p.ReportedAt, &p.Due, &p.ResolvedAt, &p.Satisfaction, &p.Resolution, &p.ClosedAt, &p.Basis.Due, &p.Basis.Provisional, &p.Basis.Version}
}

func (r *referral) fields() []any {
	return []any{&r.ID, &r.ProblemID, &r.HouseholdID, &r.Level, &r.To, &r.Status, &r.Responsible, &r.RequestedAt,
		&r.Outcome, &r.Reason, &r.ClosedAt, &r.Due.Due, &r.Due.Provisional, &r.Due.Version}
}

type sealedFields struct {
	IDNumber   domain.Sealed `json:"id_number,omitzero"`
	Phone      domain.Sealed `json:"phone,omitzero"`
	Income     domain.Sealed `json:"income,omitzero"`
	Health     domain.Sealed `json:"health,omitzero"`
	Disability domain.Sealed `json:"disability,omitzero"`
}

func setDetails(m *member, d domain.MemberDetails) error {
	m.Name, m.Relation, m.BirthDate, m.Occupation = d.Name, d.Relation, d.BirthDate, d.Occupation
	s, err := json.Marshal(sealedFields{d.IDNumber, d.Phone, d.Income, d.Health, d.Disability})
	if err != nil {
		return err
	}
	m.Sealed, m.dirty = string(s), true
	return nil
}

func (b *batch) cached(id string) (household, bool) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	h, ok := b.p.cache[id]
	return h, ok
}

// preload reads, with a few IN queries, every row the batch will touch.
func (b *batch) preload(ctx context.Context, events []projections.Envelope) error {
	var hh, mem, pr, rf projections.Keys
	for i := range events {
		id := streamID(events[i].Stream)
		switch events[i].Category() {
		case "household":
			h, known := b.hh[id]
			if !known {
				hh.Add(id)
			}
			switch events[i].Payload.(type) {
			case domain.HouseholdMemberAdded, domain.HouseholdMemberChanged, domain.HouseholdMemberLeft:
				if !known || !h.membersLoaded {
					mem.Add(id)
				}
			}
		case "problem":
			if _, known := b.pr[id]; !known {
				pr.Add(id)
			}
		case "referral":
			if _, known := b.rf[id]; !known {
				rf.Add(id)
			}
		}
	}
	var misses []string
	for _, id := range hh.List() {
		if c, ok := b.cached(id); ok {
			c.static = c.staticKey()
			b.hh[id] = &c
		} else {
			misses = append(misses, id)
		}
	}
	if err := b.tx.QueryKeys(ctx, `SELECT `+hhCols+` FROM profile_households WHERE household_id IN (?*)`, misses, func(rows *sql.Rows) error {
		h := &household{exists: true}
		if err := rows.Scan(&h.ID, &h.Address, &h.Community, &h.Grid, &h.Worker, &h.Class, &h.Category, &h.Risk, &h.ArchiveReason, &h.Policy,
			&h.Needs, &h.Resources, &h.Consent, &h.Archived, &h.RegisteredAt, &h.LastVisit, &h.NextDue, &h.Visits, &h.Refused, &h.Version); err != nil {
			return err
		}
		h.static = h.staticKey()
		b.hh[h.ID] = h
		return nil
	}); err != nil {
		return err
	}
	for _, id := range hh.List() {
		if _, ok := b.hh[id]; !ok {
			b.hh[id] = &household{ID: id, Needs: "{}", Resources: "{}"}
		}
		b.keys = append(b.keys, id)
	}
	for _, id := range mem.List() {
		b.hh[id].membersLoaded = true
	}
	if err := b.tx.QueryKeys(ctx, `SELECT household_id, member_id, seq, name, relation, birth_date, occupation, sealed, left_at
		FROM profile_members WHERE household_id IN (?*) ORDER BY household_id, seq`, mem.List(), func(rows *sql.Rows) error {
		m := &member{exists: true}
		var hid string
		if err := rows.Scan(&hid, &m.ID, &m.Seq, &m.Name, &m.Relation, &m.BirthDate, &m.Occupation, &m.Sealed, &m.LeftAt); err != nil {
			return err
		}
		b.hh[hid].members = append(b.hh[hid].members, m)
		return nil
	}); err != nil {
		return err
	}
	if err := b.tx.QueryKeys(ctx, `SELECT `+problemCols+` WHERE p.problem_id IN (?*)`, pr.List(), func(rows *sql.Rows) error {
		p := &problem{}
		if err := rows.Scan(p.fields()...); err != nil {
			return err
		}
		p.stored = p.Basis
		b.pr[p.ID] = p
		return nil
	}); err != nil {
		return err
	}
	for _, id := range pr.List() {
		if _, ok := b.pr[id]; !ok {
			b.pr[id] = &problem{ID: id}
		}
	}
	if err := b.tx.QueryKeys(ctx, `SELECT `+referralCols+` WHERE r.referral_id IN (?*)`, rf.List(), func(rows *sql.Rows) error {
		r := &referral{}
		if err := rows.Scan(r.fields()...); err != nil {
			return err
		}
		r.stored = r.Due
		b.rf[r.ID] = r
		return nil
	}); err != nil {
		return err
	}
	for _, id := range rf.List() {
		if _, ok := b.rf[id]; !ok {
			b.rf[id] = &referral{ID: id}
		}
	}
	return nil
}

// Apply implements projections.Projection.
func (p *Projection) Apply(ctx context.Context, tx *projections.Tx, events []projections.Envelope) error {
	b := p.cur
	if b == nil || b.tx != tx {
		b = &batch{p: p, tx: tx, hh: map[string]*household{}, pr: map[string]*problem{}, rf: map[string]*referral{}}
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

func streamID(stream string) string {
	_, id, _ := strings.Cut(stream, "-")
	return id
}

func (p *Projection) apply(ctx context.Context, b *batch, e *projections.Envelope) error {
	switch e.Category() {
	case "household":
		h, err := b.household(ctx, streamID(e.Stream))
		if err != nil {
			return err
		}
		h.Version = int64(e.Version)
		return p.applyHousehold(ctx, b, h, e.Payload)
	case "problem":
		return p.applyProblem(ctx, b, streamID(e.Stream), e.Payload)
	case "referral":
		return p.applyReferral(ctx, b, streamID(e.Stream), e.Payload)
	}
	return nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (p *Projection) applyHousehold(ctx context.Context, b *batch, h *household, ev domain.Event) error {
	switch e := ev.(type) {
	case domain.HouseholdRegistered:
		h.Address, h.Community, h.Grid, h.Worker = e.Address, e.Community, e.Grid, e.ResponsibleWorker
		h.Class, h.Category, h.Risk, h.Policy = string(e.Class), string(e.Category), string(e.Risk), e.PolicyVersion
		h.RegisteredAt = nanos(e.At)
	case domain.HouseholdMemberAdded:
		if err := b.loadMembers(ctx, h); err != nil {
			return err
		}
		m := &member{ID: e.MemberID, Seq: len(h.members) + 1}
		h.members = append(h.members, m)
		return setDetails(m, e.MemberDetails)
	case domain.HouseholdMemberChanged:
		if err := b.loadMembers(ctx, h); err != nil {
			return err
		}
		for _, m := range h.members {
			if m.ID == e.MemberID {
				return setDetails(m, e.MemberDetails)
			}
		}
	case domain.HouseholdMemberLeft:
		if err := b.loadMembers(ctx, h); err != nil {
			return err
		}
		for _, m := range h.members {
			if m.ID == e.MemberID {
				m.LeftAt, m.dirty = nanos(e.At), true
			}
		}
	case domain.HouseholdRelocated:
		h.Address, h.Community, h.Grid = e.Address, e.Community, e.Grid
	case domain.HouseholdWorkerChanged:
		h.Worker = e.To
	case domain.HouseholdClassChanged:
		h.Class, h.Policy = string(e.To), e.PolicyVersion
	case domain.HouseholdCategoryChanged:
		h.Category = string(e.To)
	case domain.HouseholdRiskChanged:
		h.Risk = string(e.To)
	case domain.HouseholdNeedsAssessed:
		h.Needs = jsonText(e.Needs)
	case domain.HouseholdResourcesOffered:
		h.Resources = jsonText(Resources{Skills: e.Skills, Volunteer: e.Volunteer, Idle: e.Idle})
	case domain.HouseholdConsentRecorded:
		h.Consent = e.Given
	case domain.HouseholdArchived:
		h.Archived, h.ArchiveReason = true, string(e.Reason)
	case domain.VisitRecorded:
		h.visits = append(h.visits, visit{ID: e.VisitID, Team: jsonText(e.Team), Mode: string(e.Mode), Outcome: string(e.Outcome),
			Summary: e.Summary, By: e.By, OccurredAt: nanos(e.OccurredAt), RecordedAt: nanos(e.RecordedAt), Late: e.Late})
		h.Visits++
		if e.Outcome == domain.OutcomeRefused {
			h.Refused++
		}
		if e.Outcome == domain.OutcomeCompleted && nanos(e.OccurredAt) > h.LastVisit {
			h.LastVisit, h.Policy = nanos(e.OccurredAt), e.PolicyVersion
		}
	}
	return nil
}

// nextDue derives the visit_due deadline the way the domain does
// (Household.Clocks): from the last completed visit or registration, with
// the recorded policy version. Zero when none applies or it cannot be
// computed (e.g. a year without calendar data).
func (p *Projection) nextDue(ctx context.Context, h *household) int64 {
	if h.Archived || h.RegisteredAt == 0 || p.policies == nil {
		return 0
	}
	class := h.Class
	if domain.IsSealedText(class) { // decision 0148: opened here, never stored opened
		if p.open == nil {
			return 0
		}
		class = domain.ShownText(ctx, p.open, class) // "[erased]" has no cadence: no due instant
	}
	start := max(h.RegisteredAt, h.LastVisit)
	d, ok, err := p.policies.Deadline(p.cal, domain.Clock{Kind: domain.ClockVisitDue, Subject: h.ID, Start: fromNanos(start),
		PolicyVersion: h.Policy, HouseholdClass: domain.HouseholdClass(class)})
	if err != nil || !ok {
		return 0
	}
	return nanos(d.Due)
}

func (p *Projection) applyProblem(ctx context.Context, b *batch, id string, ev domain.Event) error {
	if ev == nil {
		return nil
	}
	pr, err := b.problem(ctx, id)
	if err != nil {
		return err
	}
	switch e := ev.(type) {
	case domain.ProblemReported:
		pr.HouseholdID, pr.Number, pr.Description, pr.Category = e.HouseholdID, e.Number, e.Description, string(e.Category)
		pr.Handling, pr.Colour, pr.Urgency = string(e.HandlingClass), string(e.Colour), string(e.Urgency)
		pr.Assignee, pr.Status, pr.ReportedAt = e.FoundBy, string(domain.StatusOpen), nanos(e.At)
	case domain.ProblemReclassified:
		pr.Handling, pr.Colour, pr.Urgency = string(e.HandlingClass), string(e.Colour), string(e.Urgency)
	case domain.ProblemAssigned:
		pr.Assignee = e.To
		if !e.Due.IsZero() {
			pr.Due, pr.Basis = nanos(e.Due), dueBasis{}
			if e.Calendar.Version != "" || e.Calendar.IsProvisional() {
				pr.Basis = basisOf(e.Due, e.Calendar)
			}
		}
	case domain.ProblemDeadlineExtended:
		// A person set the new instant: it depends on no calendar.
		pr.Due, pr.Basis = nanos(e.To), dueBasis{}
	case domain.ProblemDeadlineRescheduled:
		// As the domain does: only the running resolution deadline moves.
		if e.Kind == domain.ClockProblemResolution && pr.Due != 0 && pr.Due == nanos(e.OldDue) {
			pr.Due, pr.Basis = nanos(e.NewDue), basisOf(e.NewDue, e.Calendar)
		}
	case domain.ProblemProgressNoted, domain.ProblemReferred:
		if pr.Status == string(domain.StatusOpen) {
			pr.Status = string(domain.StatusInProgress)
		}
	case domain.ProblemResolved:
		pr.Status, pr.ResolvedAt, pr.Satisfaction, pr.Resolution = string(domain.StatusResolved), nanos(e.At), 0, e.Summary
	case domain.ProblemSatisfactionRated:
		pr.Satisfaction = e.Score
	case domain.ProblemReopened:
		pr.Status, pr.ResolvedAt, pr.Satisfaction, pr.Due, pr.Basis = string(domain.StatusOpen), 0, 0, 0, dueBasis{}
		pr.Resolution, pr.ClosedAt = "", 0
	case domain.ProblemClosed:
		pr.Status, pr.ClosedAt = string(domain.StatusClosed), nanos(e.At)
		if pr.Resolution == "" {
			pr.Resolution = e.Reason
		}
	}
	return nil
}

func (p *Projection) applyReferral(ctx context.Context, b *batch, id string, ev domain.Event) error {
	if ev == nil {
		return nil
	}
	r, err := b.referral(ctx, id)
	if err != nil {
		return err
	}
	switch e := ev.(type) {
	case domain.ReferralRequested:
		r.ProblemID, r.HouseholdID, r.Level, r.To = e.ProblemID, e.HouseholdID, string(e.Level), e.To
		r.Status, r.RequestedAt = string(domain.RefRequested), nanos(e.At)
	case domain.ReferralAccepted:
		r.Status, r.Responsible, r.Due = string(domain.RefAccepted), e.Responsible, basisOf(e.Due, e.Calendar)
	case domain.ReferralDeclined:
		r.Status, r.Reason, r.ClosedAt = string(domain.RefDeclined), e.Reason, nanos(e.At)
	case domain.ReferralStarted:
		r.Status = string(domain.RefInProgress)
	case domain.ReferralCompleted:
		r.Status, r.Outcome, r.ClosedAt = string(domain.RefCompleted), e.Outcome, nanos(e.At)
	case domain.ReferralCancelled:
		r.Status, r.Reason, r.ClosedAt = string(domain.RefCancelled), e.Reason, nanos(e.At)
	case domain.ReferralEscalated:
		r.Level, r.To, r.Status, r.Responsible, r.Due = string(e.Level), e.To, string(domain.RefRequested), "", dueBasis{}
		r.Reason, r.ClosedAt = e.Reason, 0
	case domain.ReferralDeadlineRescheduled:
		if e.Kind == domain.ClockReferralCompletion && r.Due.Due != 0 && r.Due.Due == nanos(e.OldDue) {
			r.Due = basisOf(e.NewDue, e.Calendar)
		}
	}
	return nil
}

func (p *Projection) flush(ctx context.Context, b *batch) error {
	for _, id := range b.keys {
		h := b.hh[id]
		h.NextDue = p.nextDue(ctx, h)
		var names []string
		if h.membersLoaded {
			for _, m := range h.members {
				if m.LeftAt == 0 {
					names = append(names, searchForm(m.Name))
				}
				if !m.dirty {
					continue
				}
				if err := b.tx.Exec(ctx, `INSERT INTO profile_members (household_id, member_id, seq, name, relation, birth_date, occupation, sealed, left_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (household_id, member_id) DO UPDATE SET
					name = excluded.name, relation = excluded.relation, birth_date = excluded.birth_date,
					occupation = excluded.occupation, sealed = excluded.sealed, left_at = excluded.left_at`,
					h.ID, m.ID, m.Seq, m.Name, m.Relation, m.BirthDate, m.Occupation, m.Sealed, m.LeftAt); err != nil {
					return err
				}
			}
		}
		for _, v := range h.visits {
			// A visit id is unique in its household (the domain refuses a
			// second one): the row is written once.
			if err := b.tx.Exec(ctx, `INSERT INTO profile_visits (household_id, visit_id, occurred_at, recorded_at, team, mode, outcome, late, summary, by_actor)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (household_id, visit_id) DO NOTHING`,
				h.ID, v.ID, v.OccurredAt, v.RecordedAt, v.Team, v.Mode, v.Outcome, projections.Bool(v.Late), v.Summary, v.By); err != nil {
				return err
			}
		}
		h.visits = nil
		namesNorm := "|" + strings.Join(names, "|") + "|"
		if h.exists && !h.membersLoaded && h.static == h.staticKey() {
			// The common case of a visit: only the visit columns changed.
			if err := b.tx.Exec(ctx, `UPDATE profile_households SET last_visit_at = ?, next_visit_due = ?, visit_count = ?,
				visits_refused = ?, policy_version = ?, version = ? WHERE household_id = ?`,
				h.LastVisit, h.NextDue, h.Visits, h.Refused, h.Policy, h.Version, h.ID); err != nil {
				return err
			}
			continue
		}
		set := `names_norm = excluded.names_norm,`
		if !h.membersLoaded {
			// Members untouched in this batch: keep the stored names.
			set = ``
		}
		if err := b.tx.Exec(ctx, `INSERT INTO profile_households (household_id, address, address_norm, names_norm, community, grid, worker,
			class, category, risk, archive_reason, policy_version, needs, resources, consent, archived, registered_at, last_visit_at,
			next_visit_due, visit_count, visits_refused, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (household_id) DO UPDATE SET address = excluded.address, address_norm = excluded.address_norm, `+set+`
			community = excluded.community, grid = excluded.grid, worker = excluded.worker, class = excluded.class,
			category = excluded.category, risk = excluded.risk, archive_reason = excluded.archive_reason,
			policy_version = excluded.policy_version, needs = excluded.needs, resources = excluded.resources,
			consent = excluded.consent, archived = excluded.archived, registered_at = excluded.registered_at,
			last_visit_at = excluded.last_visit_at, next_visit_due = excluded.next_visit_due, visit_count = excluded.visit_count,
			visits_refused = excluded.visits_refused, version = excluded.version`,
			h.ID, h.Address, searchForm(h.Address), namesNorm, h.Community, h.Grid, h.Worker, h.Class, h.Category, h.Risk,
			h.ArchiveReason, h.Policy, h.Needs, h.Resources, projections.Bool(h.Consent), projections.Bool(h.Archived), h.RegisteredAt, h.LastVisit,
			h.NextDue, h.Visits, h.Refused, h.Version); err != nil {
			return err
		}
	}
	for _, pr := range sortedValues(b.pr) {
		if pr.HouseholdID == "" {
			continue // events of a problem whose report is not in the log
		}
		if err := b.tx.Exec(ctx, `INSERT INTO profile_problems (problem_id, household_id, number, description, category, handling_class,
			colour, urgency, assignee, status, reported_at, due, resolved_at, satisfaction, resolution, closed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (problem_id) DO UPDATE SET
			handling_class = excluded.handling_class, colour = excluded.colour, urgency = excluded.urgency,
			assignee = excluded.assignee, status = excluded.status, due = excluded.due,
			resolved_at = excluded.resolved_at, satisfaction = excluded.satisfaction,
			resolution = excluded.resolution, closed_at = excluded.closed_at`,
			pr.ID, pr.HouseholdID, pr.Number, pr.Description, pr.Category, pr.Handling, pr.Colour, pr.Urgency, pr.Assignee,
			pr.Status, pr.ReportedAt, pr.Due, pr.ResolvedAt, pr.Satisfaction, pr.Resolution, pr.ClosedAt); err != nil {
			return err
		}
		if err := b.writeBasis(ctx, pr.ID, kindResolution, pr.stored, pr.Basis); err != nil {
			return err
		}
	}
	for _, r := range sortedValues(b.rf) {
		if r.HouseholdID == "" {
			continue
		}
		if err := b.tx.Exec(ctx, `INSERT INTO profile_referrals (referral_id, problem_id, household_id, level, to_org, status, responsible, requested_at,
			outcome, reason, closed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (referral_id) DO UPDATE SET
			level = excluded.level, to_org = excluded.to_org, status = excluded.status, responsible = excluded.responsible,
			outcome = excluded.outcome, reason = excluded.reason, closed_at = excluded.closed_at`,
			r.ID, r.ProblemID, r.HouseholdID, r.Level, r.To, r.Status, r.Responsible, r.RequestedAt, r.Outcome, r.Reason, r.ClosedAt); err != nil {
			return err
		}
		if err := b.writeBasis(ctx, r.ID, kindCompletion, r.stored, r.Due); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.pending = p.pending[:0]
	for _, id := range b.keys {
		if h := b.hh[id]; h.RegisteredAt != 0 || h.exists {
			p.pending = append(p.pending, h)
		}
	}
	p.mu.Unlock()
	return nil
}

// writeBasis stores a deadline's basis row when it changed from the stored
// one: the zero value deletes the row.
func (b *batch) writeBasis(ctx context.Context, subject, kind string, stored, now dueBasis) error {
	switch {
	case now == stored:
		return nil
	case now == dueBasis{}:
		return b.tx.Exec(ctx, `DELETE FROM profile_due_basis WHERE subject = ? AND kind = ?`, subject, kind)
	}
	return b.tx.Exec(ctx, `INSERT INTO profile_due_basis (subject, kind, due, provisional, calendar_version) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (subject, kind) DO UPDATE SET due = excluded.due, provisional = excluded.provisional, calendar_version = excluded.calendar_version`,
		subject, kind, now.Due, now.Provisional, now.Version)
}

func sortedValues[V any](m map[string]V) []V {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	out := make([]V, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
