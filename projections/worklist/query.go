package worklist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/doorstep/doorstep/projections"
)

// MaxLimit bounds a page.
const MaxLimit = 1000

// ErrInvalidFilter: the filter cannot be run as given.
var ErrInvalidFilter = errors.New("worklist: invalid filter / 筛选条件无效")

// Sort orders of a worklist.
const (
	SortCreated     = "created"  // oldest first
	SortCreatedDesc = "-created" // newest first (the default)
	SortDue         = "due"      // soonest due first, rows without a running deadline last
	SortDueDesc     = "-due"     // latest due first, rows without a running deadline last
	SortUpdatedDesc = "-updated" // most recently changed first
)

// Sorts lists the accepted sort orders.
func Sorts() []string {
	return []string{SortCreated, SortCreatedDesc, SortDue, SortDueDesc, SortUpdatedDesc}
}

// Filter selects rows of a worklist. Empty fields match everything.
type Filter struct {
	Status []string // any of these statuses
	// Assignee: a problem's assignee, a referral's responsible person.
	Assignee string
	// Department: a referral's receiver; a problem referred to it (any of
	// its referrals, whatever their status).
	Department string
	Community  string
	Grid       string
	// Stage: "approaching" or "breached" (a running deadline in that
	// stage), "none" (no alert open).
	Stage string
	// Provisional: true, only rows whose deadline was computed without
	// an official calendar year; false, only the others; nil, both.
	Provisional            *bool
	CreatedFrom, CreatedTo time.Time // reported (requested) at or after From, before To
	// ReturnVisitDue, for problems: only resolved problems whose
	// resolution still awaits an independent return visit (回访) that
	// found it held.
	ReturnVisitDue bool
	Sort           string // one of Sorts; default SortCreatedDesc
	Limit, Offset  int    // Limit default 100, at most MaxLimit
}

// Problem is one row of the problem worklist.
type Problem struct {
	ID, Number, HouseholdID, Community, Grid string
	Category, HandlingClass, Colour, Urgency string
	Assignee, FoundBy, Status                string
	ReportedAt, Due, ResolvedAt, UpdatedAt   time.Time // zero: none
	Stage                                    string
	Provisional                              bool
	ResolvedBy                               string
}

// Referral is one row of the referral worklist.
type Referral struct {
	ID, ProblemID, HouseholdID, Community, Grid string
	Level, Department, RequestedBy, Responsible string
	Status                                      string
	RequestedAt, Due, UpdatedAt                 time.Time // zero: none
	Stage                                       string
	Provisional                                 bool
}

// Reader queries the worklist tables. Safe for concurrent use.
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

// where builds the shared conditions; created is the creation column.
func (f *Filter) where(created string, problems bool) ([]string, []any, error) {
	var where []string
	var args []any
	if len(f.Status) > 0 {
		where = append(where, "t.status IN (?"+strings.Repeat(", ?", len(f.Status)-1)+")")
		for _, s := range f.Status {
			args = append(args, s)
		}
	}
	eq := func(col, v string) {
		if v != "" {
			where = append(where, "t."+col+" = ?")
			args = append(args, v)
		}
	}
	eq("community", f.Community)
	eq("grid", f.Grid)
	if problems {
		eq("assignee", f.Assignee)
		if f.Department != "" {
			where = append(where, "EXISTS (SELECT 1 FROM worklist_referrals r WHERE r.problem_id = t.problem_id AND r.department = ?)")
			args = append(args, f.Department)
		}
		if f.ReturnVisitDue {
			where = append(where, "t.status = 'resolved' AND t.return_visited = 0")
		}
	} else {
		eq("responsible", f.Assignee)
		eq("department", f.Department)
	}
	switch f.Stage {
	case "":
	case "none":
		where = append(where, "t.stage = ''")
	case "approaching", "breached":
		eq("stage", f.Stage)
	default:
		return nil, nil, errorf(fmt.Sprintf("stage %q is not approaching, breached or none", f.Stage), fmt.Sprintf("期限阶段 %q 无效，应为“临近”“逾期”或“无”对应的取值", f.Stage))
	}
	if f.Provisional != nil {
		where = append(where, "t.provisional = ?")
		args = append(args, projections.Bool(*f.Provisional))
	}
	if !f.CreatedFrom.IsZero() {
		where = append(where, "t."+created+" >= ?")
		args = append(args, f.CreatedFrom.UnixNano())
	}
	if !f.CreatedTo.IsZero() {
		where = append(where, "t."+created+" < ?")
		args = append(args, f.CreatedTo.UnixNano())
	}
	return where, args, nil
}

func (f *Filter) order(created, id string) (string, error) {
	switch f.Sort {
	case "", SortCreatedDesc:
		return "t." + created + " DESC, t." + id + " DESC", nil
	case SortCreated:
		return "t." + created + ", t." + id, nil
	case SortDue:
		return "CASE WHEN t.due = 0 THEN 1 ELSE 0 END, t.due, t." + id, nil
	case SortDueDesc:
		return "CASE WHEN t.due = 0 THEN 1 ELSE 0 END, t.due DESC, t." + id, nil
	case SortUpdatedDesc:
		return "t.updated_at DESC, t." + id, nil
	}
	return "", errorf(fmt.Sprintf("sort %q is not one of %s", f.Sort, strings.Join(Sorts(), ", ")),
		fmt.Sprintf("排序方式 %q 无效，应为 %s 之一", f.Sort, strings.Join(Sorts(), "、")))
}

func (f *Filter) page() error {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > MaxLimit || f.Offset < 0 {
		return errorf(fmt.Sprintf("limit at most %d, offset not negative", MaxLimit), fmt.Sprintf("每页最多 %d 条，偏移量不能为负", MaxLimit))
	}
	return nil
}

func (r *Reader) query(ctx context.Context, table, cols, created, id string, problems bool, f Filter) (*sql.Rows, error) {
	if err := f.page(); err != nil {
		return nil, err
	}
	where, args, err := f.where(created, problems)
	if err != nil {
		return nil, err
	}
	order, err := f.order(created, id)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + cols + ` FROM ` + table + ` t`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY ` + order + ` LIMIT ? OFFSET ?`
	args = append(args, f.Limit, f.Offset)
	st, err := r.stmts.Get(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("worklist: %s: %w", table, err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("worklist: %s: %w", table, err)
	}
	return rows, nil
}

// Problems lists problems matching f, in f's order.
func (r *Reader) Problems(ctx context.Context, f Filter) ([]Problem, error) {
	rows, err := r.query(ctx, "worklist_problems", `t.problem_id, t.number, t.household_id, t.community, t.grid, t.category, t.handling_class,
		t.colour, t.urgency, t.assignee, t.found_by, t.status, t.reported_at, t.due, t.resolved_at, t.updated_at, t.stage, t.provisional, t.resolved_by`,
		"reported_at", "problem_id", true, f)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Problem{}
	for rows.Next() {
		var p Problem
		var reported, due, resolved, updated int64
		if err := rows.Scan(&p.ID, &p.Number, &p.HouseholdID, &p.Community, &p.Grid, &p.Category, &p.HandlingClass, &p.Colour, &p.Urgency,
			&p.Assignee, &p.FoundBy, &p.Status, &reported, &due, &resolved, &updated, &p.Stage, &p.Provisional, &p.ResolvedBy); err != nil {
			return nil, err
		}
		p.ReportedAt, p.Due, p.ResolvedAt, p.UpdatedAt = fromNanos(reported), fromNanos(due), fromNanos(resolved), fromNanos(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Referrals lists referrals matching f, in f's order.
func (r *Reader) Referrals(ctx context.Context, f Filter) ([]Referral, error) {
	if f.ReturnVisitDue {
		return nil, errorf("return visits are a filter of problems", "回访筛选仅适用于问题")
	}
	rows, err := r.query(ctx, "worklist_referrals", `t.referral_id, t.problem_id, t.household_id, t.community, t.grid, t.level, t.department,
		t.requested_by, t.responsible, t.status, t.requested_at, t.due, t.updated_at, t.stage, t.provisional`,
		"requested_at", "referral_id", false, f)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Referral{}
	for rows.Next() {
		var x Referral
		var requested, due, updated int64
		if err := rows.Scan(&x.ID, &x.ProblemID, &x.HouseholdID, &x.Community, &x.Grid, &x.Level, &x.Department, &x.RequestedBy,
			&x.Responsible, &x.Status, &requested, &due, &updated, &x.Stage, &x.Provisional); err != nil {
			return nil, err
		}
		x.RequestedAt, x.Due, x.UpdatedAt = fromNanos(requested), fromNanos(due), fromNanos(updated)
		out = append(out, x)
	}
	return out, rows.Err()
}
