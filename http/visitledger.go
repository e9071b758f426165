package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections/profile"
)

// The visits ledger (走访台账, issue 19, decision 0143): every recorded
// visit across households, filtered, sorted and paged, each caller within
// its scope as for the household list (a worker's grid, a supervisor's
// community; another is 403 out_of_scope). Rows carry what was recorded
// about the visit, not its summary (free text, sealed; it is read in the
// household file).

// VisitLedgerReader lists the visits ledger (*profile.Reader).
type VisitLedgerReader interface {
	VisitLedger(ctx context.Context, f profile.VisitFilter) ([]profile.LedgerVisit, error)
}

// VisitLedgerRow is one row of GET /v1/visits.
type VisitLedgerRow struct {
	ID          string    `json:"id"`
	HouseholdID string    `json:"household_id"`
	Community   string    `json:"community"`
	Grid        string    `json:"grid"`
	Worker      string    `json:"worker"`
	OccurredAt  time.Time `json:"occurred_at"`
	RecordedAt  time.Time `json:"recorded_at"`
	Team        []string  `json:"team"`
	Mode        string    `json:"mode"`
	ModeZH      string    `json:"mode_zh"`
	Outcome     string    `json:"outcome"`
	OutcomeZH   string    `json:"outcome_zh"`
	Late        bool      `json:"late"`
	By          string    `json:"by"`
}

// VisitLedger is a page of the visits ledger.
type VisitLedger struct {
	Visits []VisitLedgerRow `json:"visits"`
	Limit  int              `json:"limit"`
	Offset int              `json:"offset"`
}

func visitLedgerSchemaTypes(responses map[string]reflect.Type) {
	responses["VisitLedger"] = reflect.TypeOf(VisitLedger{})
}

func visitOutcomes() []string {
	return []string{string(domain.OutcomeCompleted), string(domain.OutcomeRefused), string(domain.OutcomeNobodyHome)}
}

func visitModes() []string {
	return []string{string(domain.ModeHome), string(domain.ModePhone), string(domain.ModeVideo), string(domain.ModeOnline)}
}

func (s *Server) visitLedgerRoutes() []route {
	return []route{
		{op: "listVisits", method: "GET", path: "/v1/visits", roles: readerRoles(),
			summary: "the visits ledger: every recorded visit across households (any outcome), filtered, sorted and paged, within the caller's scope", h: s.listVisits,
			doc: opDoc{tag: "households", ok: 200, resp: "VisitLedger", query: true, params: []param{
				qp("community", "string", "community (a supervisor of several names one)"),
				qp("grid", "string", "grid (a worker of several names one)"),
				qp("outcome", "string", "outcomes, comma-separated: completed, refused, nobody_home"),
				qp("mode", "string", "modes, comma-separated: home, phone, video, online"),
				qp("member", "string", "a member of the visiting team, or who entered the visit"),
				qp("late", "boolean", "only visits entered after (true) or within (false) the policy's entry limit"),
				qp("occurred_from", "string", "RFC 3339: happened at or after"), qp("occurred_to", "string", "RFC 3339: happened before"),
				qp("sort", "string", "order (default -occurred)", profile.VisitSorts()...),
				qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
			}}},
	}
}

// listParam reads a comma-separated parameter of allowed values.
func listParam(q map[string][]string, name, zh string, allowed []string) ([]string, error) {
	var out []string
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return nil, nil
	}
	for _, x := range strings.Split(v, ",") {
		if !slices.Contains(allowed, x) {
			return nil, newErr(ErrBadRequest, "invalid_"+name, name, fmt.Sprintf("%q is not a valid %s; use one or more of %v, comma-separated", clip(x), name, allowed),
				fmt.Sprintf("%q 不是有效的%s；可选值 %s（可用逗号分隔多个）", clip(x), zh, quotedZH(allowed)))
		}
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out, nil
}

func (s *Server) listVisits(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "community", "grid", "outcome", "mode", "member", "late", "occurred_from", "occurred_to", "sort", "limit", "offset",
		"wait_for", "wait_timeout"); err != nil {
		return err
	}
	vl, ok := s.d.Read.Profiles.(VisitLedgerReader)
	if !ok {
		return newErr(ErrUnavailable, "read_model_unavailable", "", "the visits ledger is not available on this server", "此服务器未提供走访台账")
	}
	var f profile.VisitFilter
	var err error
	if f.Community, f.Grid, err = scopeFilter(principalFrom(r.Context()), q.Get("community"), q.Get("grid")); err != nil {
		return err
	}
	outs, err := listParam(q, "outcome", "走访结果", visitOutcomes())
	if err != nil {
		return err
	}
	for _, o := range outs {
		f.Outcomes = append(f.Outcomes, domain.VisitOutcome(o))
	}
	modes, err := listParam(q, "mode", "走访方式", visitModes())
	if err != nil {
		return err
	}
	for _, m := range modes {
		f.Modes = append(f.Modes, domain.VisitMode(m))
	}
	if m := q.Get("member"); m != "" {
		if len(m) > 200 {
			return newErr(ErrBadRequest, "invalid_member", "member", "member is at most 200 bytes", "走访人员名称不能超过 200 字节")
		}
		f.Member = m
	}
	if q.Get("late") != "" {
		b, err := boolParam(q, "late")
		if err != nil {
			return err
		}
		f.Late = &b
	}
	for _, c := range []struct {
		name string
		to   *time.Time
	}{{"occurred_from", &f.From}, {"occurred_to", &f.To}} {
		if v := q.Get(c.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil || domain.CheckInstant(c.name, t) != nil {
				return newErr(ErrBadRequest, "invalid_time", c.name, fmt.Sprintf("%s %q is not an RFC 3339 instant such as 2026-03-01T00:00:00+08:00", c.name, clip(v)),
					fmt.Sprintf("“%s” %q 不是有效的 RFC 3339 时间（如 2026-03-01T00:00:00+08:00）", c.name, clip(v)))
			}
			*c.to = t
		}
	}
	if f.Sort, err = enumParam(q, "sort", "排序方式", profile.VisitSorts()...); err != nil {
		return err
	}
	if f.Limit, f.Offset, err = s.page(q); err != nil {
		return err
	}
	if f.Limit > profile.MaxLedgerPage {
		return newErr(ErrBadRequest, "invalid_limit", "limit", fmt.Sprintf("limit is at most %d", profile.MaxLedgerPage),
			fmt.Sprintf("每页最多 %d 条", profile.MaxLedgerPage))
	}
	if err := s.waitFor(w, r, profile.Name); err != nil {
		return err
	}
	rows, err := vl.VisitLedger(r.Context(), f)
	if err != nil {
		return err
	}
	out := VisitLedger{Visits: make([]VisitLedgerRow, 0, len(rows)), Limit: f.Limit, Offset: f.Offset}
	for _, v := range rows {
		_, mzh := v.Mode.Label()
		_, ozh := v.Outcome.Label()
		team := v.Team
		if team == nil {
			team = []string{}
		}
		out.Visits = append(out.Visits, VisitLedgerRow{ID: v.ID, HouseholdID: v.HouseholdID, Community: v.Community, Grid: v.Grid, Worker: v.Worker,
			OccurredAt: v.OccurredAt, RecordedAt: v.RecordedAt, Team: team, Mode: string(v.Mode), ModeZH: mzh, Outcome: string(v.Outcome), OutcomeZH: ozh,
			Late: v.Late, By: v.By})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}
