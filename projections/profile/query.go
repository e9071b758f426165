package profile

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

// Resources is what a household offers the community.
type Resources struct {
	Skills    []string `json:"skills,omitempty"`
	Volunteer bool     `json:"volunteer"`
	Idle      []string `json:"idle,omitempty"`
}

// Summary is one row of a household list.
type Summary struct {
	HouseholdID   string
	Address       string
	Community     string
	Grid          string
	Worker        string
	Class         domain.HouseholdClass
	Category      domain.AssistanceCategory
	Risk          domain.RiskLevel
	Archived      bool
	LastVisit     time.Time // zero: never visited (completed)
	NextVisitDue  time.Time // zero: no visit deadline (archived, or not computable)
	VisitCount    int       // all visits, including refusals and nobody home
	OpenProblems  int
	OpenReferrals int
	Satisfaction  float64 // mean of the rated problems' scores, 0 when none is rated
	Rated         int     // how many problems are rated
	Version       uint64  // household stream version the row reflects
}

// Field is a sensitive member field as shown to a reader.
type Field struct {
	Given  bool   // a value was recorded
	Masked bool   // the reader did not ask for (or may not see) the value
	Erased bool   // the household's key is destroyed (PIPL erasure)
	Value  string // only when Given and neither Masked nor Erased
}

// String renders the field for display: "" when not given, "***" when
// masked, "[erased / 已删除]" when erased.
func (f Field) String() string {
	switch {
	case !f.Given:
		return ""
	case f.Erased:
		return "[erased / 已删除]"
	case f.Masked:
		return "***"
	}
	return f.Value
}

// Member is a current member of the household.
type Member struct {
	ID, Name, Relation, BirthDate, Occupation   string
	IDNumber, Phone, Income, Health, Disability Field
}

// Problem is a problem in the household's ledger.
type Problem struct {
	ID, Number, Description string
	Category                domain.ProblemCategory
	HandlingClass           domain.HandlingClass
	Colour                  domain.Colour
	Urgency                 domain.Urgency
	Assignee                string
	Status                  domain.ProblemStatus
	ReportedAt, Due         time.Time
	ResolvedAt              time.Time
	Satisfaction            int
	// Resolution is the resolution's summary (or the reason a problem was
	// closed unresolved); ClosedAt when it was closed (zero: not closed).
	Resolution string
	ClosedAt   time.Time
	// DueBasis is the working-day calendar Due was computed with: a
	// provisional one lists the years without an official calendar. Zero
	// when Due does not depend on the calendar (hours, or set by a person).
	DueBasis domain.CalendarBasis
}

// Referral of one of the household's problems.
type Referral struct {
	ID, ProblemID string
	Level         domain.ReferralLevel
	To            string
	Status        domain.ReferralStatus
	Responsible   string
	RequestedAt   time.Time
	// Due is the completion deadline the receiver promised on acceptance
	// (zero before), DueBasis the calendar it was computed with.
	Due      time.Time
	DueBasis domain.CalendarBasis
	// Outcome is what completing it achieved; Reason why it was declined,
	// cancelled or last escalated; ClosedAt when it was completed, declined
	// or cancelled (zero while open).
	Outcome, Reason string
	ClosedAt        time.Time
}

// Open reports whether the referral is still being handled.
func (r Referral) Open() bool {
	return r.Status == domain.RefRequested || r.Status == domain.RefAccepted || r.Status == domain.RefInProgress
}

// Visit is one visit of the household, whatever its outcome.
type Visit struct {
	ID         string
	OccurredAt time.Time // when it happened
	RecordedAt time.Time // when it was entered
	Team       []string
	Mode       domain.VisitMode
	Outcome    domain.VisitOutcome // completed, refused or nobody_home
	Late       bool                // entered after the policy's visit_entry limit
	Summary    string
	By         string // who entered it
}

// VisitPage is the number of visits Get returns (the newest); Visits pages
// through the others.
const VisitPage = 20

// MaxVisitPage bounds a page of Visits.
const MaxVisitPage = 1000

// Profile is one household's file.
type Profile struct {
	Summary
	Consent       bool
	ArchiveReason domain.ArchiveReason
	RegisteredAt  time.Time
	Needs         map[domain.NeedDomain][]string
	Resources     Resources
	Members       []Member
	ProblemsOpen  []Problem  // open and in progress
	ReferralsOpen []Referral // requested, accepted, in progress
	Problems      []Problem  // all, by report time
	Referrals     []Referral // all, open or not, by request time
	Visits        []Visit    // the newest VisitPage visits, newest first; VisitCount counts them all
}

// Reveal asks for the sensitive fields in clear. The caller (the HTTP
// layer) decides whether the reader may see them; Record is called before
// any value is opened, so that every read of sensitive data is itself
// recorded (docs/DOMAIN.md, Privacy): if it fails, nothing is revealed.
type Reveal struct {
	Opener domain.Opener
	Record func(ctx context.Context, householdID string) error
	// Check, when set and Opener is not, shows a masked field whose key
	// was destroyed as erased rather than masked (nothing is opened, and
	// Record does not run).
	Check domain.KeyChecker
}

// ErrNotFound: the household is not in the read model (yet).
var ErrNotFound = errors.New("profile: household not found / 未找到该家庭档案")

// Reader queries the profile tables. Safe for concurrent use.
type Reader struct {
	db    *sql.DB
	d     projections.Dialect
	stmts *projections.Statements // Get's statements, prepared on first use

	cache *ReadCache // nil: every Get queries
}

// NewReader returns a reader over the read-model database.
func NewReader(db *sql.DB, d projections.Dialect) *Reader {
	if d == nil {
		d = projections.SQLite
	}
	return &Reader{db: db, d: d, stmts: projections.NewStatements(db, d)}
}

// Close releases the reader's prepared statements. It does not close the
// database; the reader prepares them again if used afterwards.
func (r *Reader) Close() error { return r.stmts.Close() }

// stmt returns query prepared once on the reader's database: the profile
// read is the hottest query, and parsing its SQL on every call cost more
// than running it.
func (r *Reader) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return r.stmts.Get(ctx, query)
}

const summaryCols = `h.household_id, h.address, h.community, h.grid, h.worker, h.class, h.category, h.risk, h.archived,
	h.last_visit_at, h.next_visit_due, h.visit_count, h.version,
	(SELECT count(*) FROM profile_problems p WHERE p.household_id = h.household_id AND p.status IN ('open', 'in_progress')),
	(SELECT count(*) FROM profile_referrals r WHERE r.household_id = h.household_id AND r.status IN ('requested', 'accepted', 'in_progress')),
	(SELECT coalesce(sum(p.satisfaction), 0) FROM profile_problems p WHERE p.household_id = h.household_id AND p.satisfaction > 0),
	(SELECT count(*) FROM profile_problems p WHERE p.household_id = h.household_id AND p.satisfaction > 0)`

func scanSummary(sc interface{ Scan(...any) error }, s *Summary) error {
	var last, due int64
	var sum int64
	var version int64
	if err := sc.Scan(&s.HouseholdID, &s.Address, &s.Community, &s.Grid, &s.Worker, &s.Class, &s.Category, &s.Risk, &s.Archived,
		&last, &due, &s.VisitCount, &version, &s.OpenProblems, &s.OpenReferrals, &sum, &s.Rated); err != nil {
		return err
	}
	s.LastVisit, s.NextVisitDue, s.Version = fromNanos(last), fromNanos(due), uint64(version)
	if s.Rated > 0 {
		s.Satisfaction = float64(sum) / float64(s.Rated)
	}
	return nil
}

// The statements of Get. The summary's counts are computed from the
// problem and referral rows Get reads anyway, instead of the correlated
// subqueries List needs.
const (
	getHousehold = `SELECT household_id, address, community, grid, worker, class, category, risk, archived,
		last_visit_at, next_visit_due, visit_count, version, consent, archive_reason, registered_at, needs, resources
		FROM profile_households WHERE household_id = ?`
	getMembers = `SELECT member_id, name, relation, birth_date, occupation, sealed
		FROM profile_members WHERE household_id = ? AND left_at = 0 ORDER BY seq`
	getProblems = `SELECT p.problem_id, p.number, p.description, p.category, p.handling_class, p.colour, p.urgency,
		p.assignee, p.status, p.reported_at, p.due, p.resolved_at, p.satisfaction, p.resolution, p.closed_at,
		coalesce(d.provisional, ''), coalesce(d.calendar_version, '')
		FROM profile_problems p LEFT JOIN profile_due_basis d ON d.subject = p.problem_id AND d.kind = '` + kindResolution + `'
		WHERE p.household_id = ? ORDER BY p.reported_at, p.problem_id`
	getReferrals = `SELECT r.referral_id, r.problem_id, r.level, r.to_org, r.status, r.responsible, r.requested_at,
		r.outcome, r.reason, r.closed_at, coalesce(d.due, 0), coalesce(d.provisional, ''), coalesce(d.calendar_version, '')
		FROM profile_referrals r LEFT JOIN profile_due_basis d ON d.subject = r.referral_id AND d.kind = '` + kindCompletion + `'
		WHERE r.household_id = ? ORDER BY r.requested_at, r.referral_id`
	getVisits = `SELECT visit_id, occurred_at, recorded_at, team, mode, outcome, late, summary, by_actor
		FROM profile_visits WHERE household_id = ? ORDER BY occurred_at DESC, visit_id DESC LIMIT ? OFFSET ?`
)

// Get returns one household's profile. Sensitive member fields are masked
// unless reveal is given; with reveal, reveal.Record runs first and each
// field is opened with reveal.Opener (an erased key shows as Erased).
// Record runs only when a member has a sensitive field recorded: a read
// that shows nothing sensitive is not a read of sensitive data. It
// returns ErrNotFound when the household is not in the read model.
func (r *Reader) Get(ctx context.Context, householdID string, reveal *Reveal) (*Profile, error) {
	var cp *cachedProfile
	if r.cache != nil {
		var gen uint64
		if cp, gen = r.cache.get(householdID); cp == nil {
			var err error
			if cp, err = r.read(ctx, householdID); err != nil {
				return nil, err
			}
			r.cache.put(householdID, cp, gen)
		}
	} else {
		var err error
		if cp, err = r.read(ctx, householdID); err != nil {
			return nil, err
		}
	}
	p := cp.copy()
	if err := r.reveal(ctx, p, cp.sealed, reveal); err != nil {
		return nil, err
	}
	return p, nil
}

// WithCache makes the reader keep what it reads in c (see ReadCache) and
// returns it.
func (r *Reader) WithCache(c *ReadCache) *Reader {
	r.cache = c
	return r
}

// read runs Get's queries: the profile with its members' sensitive fields
// still sealed.
func (r *Reader) read(ctx context.Context, householdID string) (*cachedProfile, error) {
	cp := &cachedProfile{}
	p := &cp.p
	var needs, res, reason string
	var reg, last, due, version int64
	st, err := r.stmt(ctx, getHousehold)
	if err != nil {
		return nil, fmt.Errorf("profile: get %s: %w", householdID, err)
	}
	s := &p.Summary
	err = st.QueryRowContext(ctx, householdID).Scan(&s.HouseholdID, &s.Address, &s.Community, &s.Grid, &s.Worker, &s.Class, &s.Category, &s.Risk,
		&s.Archived, &last, &due, &s.VisitCount, &version, &p.Consent, &reason, &reg, &needs, &res)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, householdID)
	}
	if err != nil {
		return nil, fmt.Errorf("profile: get %s: %w", householdID, err)
	}
	s.LastVisit, s.NextVisitDue, s.Version = fromNanos(last), fromNanos(due), uint64(version)
	p.ArchiveReason, p.RegisteredAt = domain.ArchiveReason(reason), fromNanos(reg)
	if err := json.Unmarshal([]byte(needs), &p.Needs); err != nil {
		return nil, fmt.Errorf("profile: needs of %s: %w", householdID, err)
	}
	if err := json.Unmarshal([]byte(res), &p.Resources); err != nil {
		return nil, fmt.Errorf("profile: resources of %s: %w", householdID, err)
	}
	if cp.sealed, err = r.members(ctx, p); err != nil {
		return nil, err
	}
	if err := r.problems(ctx, p); err != nil {
		return nil, err
	}
	if err := r.referrals(ctx, p); err != nil {
		return nil, err
	}
	if p.Visits, err = r.Visits(ctx, householdID, VisitPage, 0); err != nil {
		return nil, err
	}
	return cp, nil
}

// Visits returns a page of the household's visits, newest first (by when
// they happened): limit (1 to MaxVisitPage) after skipping offset. Every
// outcome is listed: completed, refused, nobody home. An unknown household
// has none.
func (r *Reader) Visits(ctx context.Context, householdID string, limit, offset int) ([]Visit, error) {
	if limit < 1 || limit > MaxVisitPage || offset < 0 {
		return nil, fmt.Errorf("%w: visits limit 1 to %d, offset not negative / 走访记录每页 1 至 %d 条，偏移量不能为负", ErrInvalidFilter, MaxVisitPage, MaxVisitPage)
	}
	rows, err := r.query(ctx, getVisits, householdID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("profile: visits of %s: %w", householdID, err)
	}
	defer rows.Close()
	var out []Visit
	for rows.Next() {
		var v Visit
		var occ, rec int64
		var team string
		if err := rows.Scan(&v.ID, &occ, &rec, &team, &v.Mode, &v.Outcome, &v.Late, &v.Summary, &v.By); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(team), &v.Team); err != nil {
			return nil, fmt.Errorf("profile: team of visit %s of %s: %w", v.ID, householdID, err)
		}
		v.OccurredAt, v.RecordedAt = fromNanos(occ), fromNanos(rec)
		out = append(out, v)
	}
	return out, rows.Err()
}

// query runs one of Get's prepared statements.
func (r *Reader) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// all returns the fields in the order of Member's sensitive fields.
func (s sealedFields) all() [5]domain.Sealed {
	return [5]domain.Sealed{s.IDNumber, s.Phone, s.Income, s.Health, s.Disability}
}

// members reads the members, their sensitive fields sealed (one entry of
// sealed per member).
func (r *Reader) members(ctx context.Context, p *Profile) (sealed []sealedFields, err error) {
	rows, err := r.query(ctx, getMembers, p.HouseholdID)
	if err != nil {
		return nil, fmt.Errorf("profile: members of %s: %w", p.HouseholdID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Member
		var raw string
		if err := rows.Scan(&m.ID, &m.Name, &m.Relation, &m.BirthDate, &m.Occupation, &raw); err != nil {
			return nil, err
		}
		var s sealedFields
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return nil, fmt.Errorf("profile: member %s of %s: %w", m.ID, p.HouseholdID, err)
		}
		p.Members = append(p.Members, m)
		sealed = append(sealed, s)
	}
	return sealed, rows.Err()
}

// reveal fills the members' sensitive fields from sealed: masked, or opened
// when reveal asks for them (the read recorded first).
func (r *Reader) reveal(ctx context.Context, p *Profile, sealed []sealedFields, reveal *Reveal) error {
	anySealed := false
	for _, s := range sealed {
		for _, f := range s.all() {
			anySealed = anySealed || !f.IsZero()
		}
	}
	open := reveal != nil && reveal.Opener != nil
	if open && anySealed && reveal.Record != nil {
		if err := reveal.Record(ctx, p.HouseholdID); err != nil {
			return fmt.Errorf("profile: record the read of sensitive data: %w", err)
		}
	}
	for i := range p.Members {
		m := &p.Members[i]
		dsts := [5]*Field{&m.IDNumber, &m.Phone, &m.Income, &m.Health, &m.Disability}
		for j, src := range sealed[i].all() {
			if src.IsZero() {
				continue
			}
			dst := dsts[j]
			if !open {
				*dst = Field{Given: true, Masked: true}
				if reveal != nil && reveal.Check != nil {
					erased, err := reveal.Check.Erased(ctx, p.HouseholdID, src)
					if err != nil {
						return fmt.Errorf("profile: check the key of a sealed field of %s: %w", p.HouseholdID, err)
					}
					if erased {
						*dst = Field{Given: true, Erased: true}
					}
				}
				continue
			}
			v, err := domain.Reveal(ctx, reveal.Opener, p.HouseholdID, src)
			if err != nil {
				return fmt.Errorf("profile: open a sealed field of %s: %w", p.HouseholdID, err)
			}
			*dst = Field{Given: true, Erased: v.Erased, Value: v.Value}
		}
	}
	return nil
}

func (r *Reader) problems(ctx context.Context, p *Profile) error {
	rows, err := r.query(ctx, getProblems, p.HouseholdID)
	if err != nil {
		return fmt.Errorf("profile: problems of %s: %w", p.HouseholdID, err)
	}
	defer rows.Close()
	var sum int
	for rows.Next() {
		var x Problem
		var rep, due, res, closed int64
		var prov, version string
		if err := rows.Scan(&x.ID, &x.Number, &x.Description, &x.Category, &x.HandlingClass, &x.Colour, &x.Urgency, &x.Assignee,
			&x.Status, &rep, &due, &res, &x.Satisfaction, &x.Resolution, &closed, &prov, &version); err != nil {
			return err
		}
		x.ReportedAt, x.Due, x.ResolvedAt, x.ClosedAt = fromNanos(rep), fromNanos(due), fromNanos(res), fromNanos(closed)
		if due != 0 {
			x.DueBasis = calendarBasis(prov, version)
		}
		p.Problems = append(p.Problems, x)
		if x.Status == domain.StatusOpen || x.Status == domain.StatusInProgress {
			p.ProblemsOpen = append(p.ProblemsOpen, x)
		}
		if x.Satisfaction > 0 {
			sum += x.Satisfaction
			p.Summary.Rated++
		}
	}
	p.Summary.OpenProblems = len(p.ProblemsOpen)
	if p.Summary.Rated > 0 {
		p.Summary.Satisfaction = float64(sum) / float64(p.Summary.Rated)
	}
	return rows.Err()
}

func (r *Reader) referrals(ctx context.Context, p *Profile) error {
	rows, err := r.query(ctx, getReferrals, p.HouseholdID)
	if err != nil {
		return fmt.Errorf("profile: referrals of %s: %w", p.HouseholdID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var x Referral
		var at, closed, due int64
		var prov, version string
		if err := rows.Scan(&x.ID, &x.ProblemID, &x.Level, &x.To, &x.Status, &x.Responsible, &at, &x.Outcome, &x.Reason, &closed,
			&due, &prov, &version); err != nil {
			return err
		}
		x.RequestedAt, x.ClosedAt, x.Due = fromNanos(at), fromNanos(closed), fromNanos(due)
		if due != 0 {
			x.DueBasis = calendarBasis(prov, version)
		}
		p.Referrals = append(p.Referrals, x)
		if x.Open() {
			p.ReferralsOpen = append(p.ReferralsOpen, x)
		}
	}
	p.Summary.OpenReferrals = len(p.ReferralsOpen)
	return rows.Err()
}

// Filter selects households for List. Empty fields match everything.
type Filter struct {
	Community, Grid, Worker string
	Class                   domain.HouseholdClass
	Risk                    domain.RiskLevel
	// Overdue keeps households whose next visit was due before Now, or
	// with an open problem past its resolution deadline. Now is required
	// with Overdue.
	Overdue bool
	Now     time.Time
	// DueBefore, when set, keeps households whose next visit falls due
	// before it (those already overdue included) and orders them by that
	// due date, then household id: the visits due this week.
	DueBefore time.Time
	// Search matches the normalised address or a current member's name
	// (see Normalize) containing the normalised text: "王 秀英" finds
	// "王秀英", "１号" finds "1号". Traditional and simplified characters
	// are different characters here.
	Search string
	// Index, when set, also finds households by a sealed name or address
	// (exact after Normalize; decision 0108): the key vault.
	Index domain.Fingerprinter
	// Opener, the key vault, opens the households' sealed classes for the
	// Class filter (decision 0148): the class column holds a token, so the
	// filter is applied in Go on the opened value. Without it only clear
	// classes (events written before the seal) can match.
	Opener          domain.Opener
	IncludeArchived bool
	Limit, Offset   int // Limit default 100, at most 1000
}

// ErrInvalidFilter: the filter cannot be run as given.
var ErrInvalidFilter = errors.New("profile: invalid filter / 筛选条件无效")

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// List returns the households matching f, ordered by household id.
func (r *Reader) List(ctx context.Context, f Filter) ([]Summary, error) {
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("h.community", f.Community)
	eq("h.grid", f.Grid)
	eq("h.worker", f.Worker)
	eq("h.risk", string(f.Risk))
	if !f.IncludeArchived {
		where = append(where, "h.archived = 0")
	}
	if f.Overdue {
		if f.Now.IsZero() {
			return nil, fmt.Errorf("%w: overdue needs the current time / 逾期筛选需要当前时间", ErrInvalidFilter)
		}
		now := f.Now.UnixNano()
		where = append(where, `((h.next_visit_due > 0 AND h.next_visit_due < ?) OR EXISTS (SELECT 1 FROM profile_problems p
			WHERE p.household_id = h.household_id AND p.status IN ('open', 'in_progress') AND p.due > 0 AND p.due < ?))`)
		args = append(args, now, now)
	}
	if !f.DueBefore.IsZero() {
		where = append(where, `h.next_visit_due > 0 AND h.next_visit_due < ?`)
		args = append(args, f.DueBefore.UnixNano())
	}
	if s := Normalize(f.Search); s != "" {
		pat := "%" + likeEscape(s) + "%"
		cond := `h.address_norm LIKE ? ESCAPE '\' OR h.names_norm LIKE ? ESCAPE '\'`
		args = append(args, pat, pat)
		if f.Index != nil {
			ids, err := r.sealedMatches(ctx, f.Index, s)
			if err != nil {
				return nil, err
			}
			if len(ids) > 0 {
				cond += ` OR h.household_id IN (?` + strings.Repeat(`, ?`, len(ids)-1) + `)`
				for _, id := range ids {
					args = append(args, id)
				}
			}
		}
		where = append(where, "("+cond+")")
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 || f.Offset < 0 {
		return nil, fmt.Errorf("%w: limit at most 1000, offset not negative / 每页最多 1000 条，偏移量不能为负", ErrInvalidFilter)
	}
	q := `SELECT ` + summaryCols + ` FROM profile_households h`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	if f.DueBefore.IsZero() {
		q += ` ORDER BY h.household_id LIMIT ? OFFSET ?`
	} else {
		q += ` ORDER BY h.next_visit_due, h.household_id LIMIT ? OFFSET ?`
	}
	if f.Class != "" {
		return r.listByClass(ctx, q, args, f)
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("profile: list: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var s Summary
		if err := scanSummary(rows, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// maxClassScan bounds the rows a class filter opens (decision 0148): a
// filter that would look at more is refused, to be narrowed by community,
// grid or worker.
const maxClassScan = 200_000

// listByClass runs List's query q (without its page) and keeps the rows
// whose class, opened in Go (the column holds a token, decision 0148), is
// f.Class, paging over the matches. The scope and the other filters are
// already in q, so only rows the caller may see are opened.
func (r *Reader) listByClass(ctx context.Context, q string, args []any, f Filter) ([]Summary, error) {
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(strings.TrimSuffix(q, ` LIMIT ? OFFSET ?`)), args...)
	if err != nil {
		return nil, fmt.Errorf("profile: list: %w", err)
	}
	defer rows.Close()
	var out []Summary
	skip, scanned := f.Offset, 0
	for rows.Next() {
		if scanned++; scanned > maxClassScan {
			return nil, fmt.Errorf("%w: the class filter looks at more than %d households; add a community, grid or worker / 按家庭类别筛选的范围超过 %d 户，请加上社区、网格或网格员条件", ErrInvalidFilter, maxClassScan, maxClassScan)
		}
		var s Summary
		if err := scanSummary(rows, &s); err != nil {
			return nil, err
		}
		class := string(s.Class)
		if domain.IsSealedText(class) {
			if f.Opener == nil {
				continue
			}
			class = domain.ShownText(ctx, f.Opener, class) // "[erased]" matches no class
		}
		if class != string(f.Class) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, s)
		if len(out) == f.Limit {
			break
		}
	}
	return out, rows.Err()
}
