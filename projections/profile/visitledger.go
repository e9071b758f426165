package profile

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// The visits ledger (走访台账, issue 19): every recorded visit across
// households, whatever its outcome, with the community and grid the
// household is in now (the place the household file is read by, so a
// reader of a row may open its file). Read from profile_visits joined to
// profile_households; no table of its own.

// LedgerVisit is one row of the visits ledger.
type LedgerVisit struct {
	HouseholdID string
	Community   string
	Grid        string
	Worker      string // the household's worker now
	Visit
}

// VisitFilter selects and orders the visits ledger. Empty fields do not
// filter.
type VisitFilter struct {
	Community, Grid string
	Outcomes        []domain.VisitOutcome
	Modes           []domain.VisitMode
	Member          string // a member of the visiting team, or who entered it
	Late            *bool  // entered after the policy's visit_entry limit
	From, To        time.Time
	// Sort: "occurred", "-occurred" (default), "recorded", "-recorded".
	Sort          string
	Limit, Offset int // Limit 1 to MaxLedgerPage
}

// MaxLedgerPage bounds a page of the visits ledger.
const MaxLedgerPage = 1000

// VisitSorts are the orders of the visits ledger.
func VisitSorts() []string { return []string{"occurred", "-occurred", "recorded", "-recorded"} }

// VisitLedger returns a page of the visits ledger.
func (r *Reader) VisitLedger(ctx context.Context, f VisitFilter) ([]LedgerVisit, error) {
	if f.Limit < 1 || f.Limit > MaxLedgerPage || f.Offset < 0 {
		return nil, fmt.Errorf("%w: visits limit 1 to %d, offset not negative / 走访台账每页 1 至 %d 条，偏移量不能为负", ErrInvalidFilter, MaxLedgerPage, MaxLedgerPage)
	}
	var where []string
	var args []any
	if f.Community != "" {
		where, args = append(where, "h.community = ?"), append(args, f.Community)
	}
	if f.Grid != "" {
		where, args = append(where, "h.grid = ?"), append(args, f.Grid)
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+" IN (?"+strings.Repeat(", ?", len(vals)-1)+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	var outs, modes []string
	for _, o := range f.Outcomes {
		outs = append(outs, string(o))
	}
	for _, m := range f.Modes {
		modes = append(modes, string(m))
	}
	in("v.outcome", outs)
	in("v.mode", modes)
	if f.Member != "" {
		// The team is stored as a JSON array of names: match the quoted name.
		q, _ := json.Marshal(f.Member)
		where = append(where, `(v.team LIKE ? ESCAPE '\' OR v.by_actor = ?)`)
		args = append(args, "%"+likeEscape(string(q))+"%", f.Member)
	}
	if f.Late != nil {
		late := 0
		if *f.Late {
			late = 1
		}
		where, args = append(where, "v.late = ?"), append(args, late)
	}
	if !f.From.IsZero() {
		where, args = append(where, "v.occurred_at >= ?"), append(args, f.From.UnixNano())
	}
	if !f.To.IsZero() {
		where, args = append(where, "v.occurred_at < ?"), append(args, f.To.UnixNano())
	}
	order := map[string]string{
		"occurred": "v.occurred_at, v.household_id, v.visit_id", "-occurred": "v.occurred_at DESC, v.household_id DESC, v.visit_id DESC",
		"recorded": "v.recorded_at, v.household_id, v.visit_id", "-recorded": "v.recorded_at DESC, v.household_id DESC, v.visit_id DESC",
	}
	if f.Sort == "" {
		f.Sort = "-occurred"
	}
	ob, ok := order[f.Sort]
	if !ok {
		return nil, fmt.Errorf("%w: sort %q / 排序方式 %q 无效", ErrInvalidFilter, f.Sort, f.Sort)
	}
	q := `SELECT v.household_id, h.community, h.grid, h.worker, v.visit_id, v.occurred_at, v.recorded_at, v.team, v.mode, v.outcome, v.late, v.by_actor
		FROM profile_visits v JOIN profile_households h ON h.household_id = v.household_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY ` + ob + ` LIMIT ? OFFSET ?`
	args = append(args, f.Limit, f.Offset)
	rows, err := r.db.QueryContext(ctx, r.d.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("profile: visits ledger: %w", err)
	}
	defer rows.Close()
	var out []LedgerVisit
	for rows.Next() {
		var v LedgerVisit
		var occ, rec int64
		var team string
		if err := rows.Scan(&v.HouseholdID, &v.Community, &v.Grid, &v.Worker, &v.ID, &occ, &rec, &team, &v.Mode, &v.Outcome, &v.Late, &v.By); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(team), &v.Team); err != nil {
			return nil, fmt.Errorf("profile: team of visit %s of %s: %w", v.ID, v.HouseholdID, err)
		}
		v.OccurredAt, v.RecordedAt = fromNanos(occ), fromNanos(rec)
		out = append(out, v)
	}
	return out, rows.Err()
}
