package http

import (
	"fmt"
	nethttp "net/http"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections/worklist"
)

// worklistRoutes are the worklists of the closed loop (issue 16, item 3):
// problems and referrals filtered, sorted and paged, each caller within
// its scope (a worker's grid, a supervisor's community, a department's
// referrals).
func (s *Server) worklistRoutes() []route {
	common := []param{
		qp("status", "string", "statuses, comma-separated (e.g. open,in_progress)"),
		qp("assignee", "string", "a problem's assignee; a referral's responsible person"),
		qp("department", "string", "the receiving department (problems: referred to it)"),
		qp("community", "string", "community"), qp("grid", "string", "grid"),
		qp("stage", "string", "deadline stage: an open approaching or breached alert, or none", "approaching", "breached", "none"),
		qp("provisional", "boolean", "only deadlines computed without (true) or with (false) the official calendar"),
		qp("created_from", "string", "RFC 3339: created at or after"), qp("created_to", "string", "RFC 3339: created before"),
		qp("sort", "string", "order (default -created)", worklist.Sorts()...),
		qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
	}
	problems := append(slices.Clone(common), qp("return_visit_due", "boolean", "only resolved problems awaiting the household's return visit"))
	return []route{
		{op: "listProblems", method: "GET", path: "/v1/problems", roles: readerRoles(),
			summary: "the problem worklist: my open problems, overdue ones, those referred to a department, return visits due", h: s.listProblems,
			doc: opDoc{tag: "problems", ok: 200, resp: "ProblemList", params: problems, query: true}},
		{op: "listReferrals", method: "GET", path: "/v1/referrals", roles: append(readerRoles(), identity.RoleDepartment),
			summary: "the referral worklist: referrals awaiting a department's acceptance, accepted, overdue", h: s.listReferrals,
			doc: opDoc{tag: "referrals", ok: 200, resp: "ReferralList", params: common, query: true}},
	}
}

// ProblemItem is one row of the problem worklist.
type ProblemItem struct {
	ID            string     `json:"id"`
	Number        string     `json:"number"`
	HouseholdID   string     `json:"household_id"`
	Community     string     `json:"community"`
	Grid          string     `json:"grid"`
	Category      string     `json:"category"`
	HandlingClass string     `json:"handling_class"`
	Colour        string     `json:"colour"`
	Urgency       string     `json:"urgency"`
	Assignee      string     `json:"assignee"`
	FoundBy       string     `json:"found_by"`
	Status        string     `json:"status"`
	StatusZH      string     `json:"status_zh"`
	ReportedAt    time.Time  `json:"reported_at"`
	Due           *time.Time `json:"due,omitempty"`
	Stage         string     `json:"stage,omitempty"`
	Provisional   bool       `json:"provisional,omitempty"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy    string     `json:"resolved_by,omitempty"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// ProblemList is a page of the problem worklist.
type ProblemList struct {
	Problems []ProblemItem `json:"problems"`
	Limit    int           `json:"limit"`
	Offset   int           `json:"offset"`
}

// ReferralItem is one row of the referral worklist.
type ReferralItem struct {
	ID          string     `json:"id"`
	ProblemID   string     `json:"problem_id"`
	HouseholdID string     `json:"household_id"`
	Community   string     `json:"community"`
	Grid        string     `json:"grid"`
	Level       string     `json:"level"`
	Department  string     `json:"department"`
	RequestedBy string     `json:"requested_by"`
	Responsible string     `json:"responsible,omitempty"`
	Status      string     `json:"status"`
	StatusZH    string     `json:"status_zh"`
	RequestedAt time.Time  `json:"requested_at"`
	Due         *time.Time `json:"due,omitempty"`
	Stage       string     `json:"stage,omitempty"`
	Provisional bool       `json:"provisional,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// ReferralList is a page of the referral worklist.
type ReferralList struct {
	Referrals []ReferralItem `json:"referrals"`
	Limit     int            `json:"limit"`
	Offset    int            `json:"offset"`
}

var worklistParams = []string{"status", "assignee", "department", "community", "grid", "stage", "provisional", "created_from", "created_to",
	"sort", "limit", "offset", "wait_for", "wait_timeout"}

// worklistFilter reads the shared parameters and narrows them to the
// caller's scope: a worker's grid and a supervisor's community as for the
// household list; a department's own referrals (another department is 403
// out_of_scope; community and grid are then plain filters).
func (s *Server) worklistFilter(r *nethttp.Request, statuses []string, statusZH string) (worklist.Filter, error) {
	q := r.URL.Query()
	var f worklist.Filter
	p := principalFrom(r.Context())
	f.Assignee, f.Department = q.Get("assignee"), q.Get("department")
	var err error
	if p.Role == identity.RoleDepartment {
		if f.Department != "" && f.Department != p.Department {
			return f, newErr(ErrForbidden, "out_of_scope", "department", fmt.Sprintf("department %s is outside your scope", clip(f.Department)),
				fmt.Sprintf("部门 %s 不在您的权限范围内", clip(f.Department)))
		}
		f.Department, f.Community, f.Grid = p.Department, q.Get("community"), q.Get("grid")
	} else if f.Community, f.Grid, err = scopeFilter(p, q.Get("community"), q.Get("grid")); err != nil {
		return f, err
	}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			if !slices.Contains(statuses, st) {
				return f, newErr(ErrBadRequest, "invalid_status", "status", fmt.Sprintf("%q is not a valid status; use one or more of %v, comma-separated", clip(st), statuses),
					fmt.Sprintf("%q 不是有效的%s；可选值 %s（可用逗号分隔多个）", clip(st), statusZH, quotedZH(statuses)))
			}
			if !slices.Contains(f.Status, st) {
				f.Status = append(f.Status, st)
			}
		}
	}
	if f.Stage, err = enumParam(q, "stage", "期限阶段", "approaching", "breached", "none"); err != nil {
		return f, err
	}
	if f.Sort, err = enumParam(q, "sort", "排序方式", worklist.Sorts()...); err != nil {
		return f, err
	}
	if v := q.Get("provisional"); v != "" {
		b, err := boolParam(q, "provisional")
		if err != nil {
			return f, err
		}
		f.Provisional = &b
	}
	for _, c := range []struct {
		name string
		to   *time.Time
	}{{"created_from", &f.CreatedFrom}, {"created_to", &f.CreatedTo}} {
		if v := q.Get(c.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil || domain.CheckInstant(c.name, t) != nil {
				return f, newErr(ErrBadRequest, "invalid_time", c.name, fmt.Sprintf("%s %q is not an RFC 3339 instant such as 2026-03-01T00:00:00+08:00", c.name, clip(v)),
					fmt.Sprintf("“%s” %q 不是有效的 RFC 3339 时间（如 2026-03-01T00:00:00+08:00）", c.name, clip(v)))
			}
			*c.to = t
		}
	}
	if f.Limit, f.Offset, err = s.page(q); err != nil {
		return f, err
	}
	return f, nil
}

func problemStatuses() []string {
	return []string{string(domain.StatusOpen), string(domain.StatusInProgress), string(domain.StatusResolved), string(domain.StatusClosed)}
}

func referralStatuses() []string {
	return []string{string(domain.RefRequested), string(domain.RefAccepted), string(domain.RefDeclined), string(domain.RefInProgress),
		string(domain.RefCompleted), string(domain.RefCancelled)}
}

func (s *Server) listProblems(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, append(slices.Clone(worklistParams), "return_visit_due")...); err != nil {
		return err
	}
	if s.d.Read.Worklist == nil {
		return noReadModel("worklist")
	}
	f, err := s.worklistFilter(r, problemStatuses(), "问题状态")
	if err != nil {
		return err
	}
	if f.ReturnVisitDue, err = boolParam(q, "return_visit_due"); err != nil {
		return err
	}
	if err := s.waitFor(w, r, worklist.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Worklist.Problems(r.Context(), f)
	if err != nil {
		return err
	}
	out := ProblemList{Problems: make([]ProblemItem, 0, len(rows)), Limit: f.Limit, Offset: f.Offset}
	for _, p := range rows {
		_, zh := domain.ProblemStatus(p.Status).Label()
		out.Problems = append(out.Problems, ProblemItem{ID: p.ID, Number: p.Number, HouseholdID: p.HouseholdID, Community: p.Community, Grid: p.Grid,
			Category: p.Category, HandlingClass: p.HandlingClass, Colour: p.Colour, Urgency: p.Urgency, Assignee: p.Assignee, FoundBy: p.FoundBy,
			Status: p.Status, StatusZH: zh, ReportedAt: p.ReportedAt, Due: optTime(p.Due), Stage: p.Stage, Provisional: p.Provisional,
			ResolvedAt: optTime(p.ResolvedAt), ResolvedBy: p.ResolvedBy, UpdatedAt: p.UpdatedAt})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

func (s *Server) listReferrals(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query(), worklistParams...); err != nil {
		return err
	}
	if s.d.Read.Worklist == nil {
		return noReadModel("worklist")
	}
	f, err := s.worklistFilter(r, referralStatuses(), "转介状态")
	if err != nil {
		return err
	}
	if err := s.waitFor(w, r, worklist.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Worklist.Referrals(r.Context(), f)
	if err != nil {
		return err
	}
	out := ReferralList{Referrals: make([]ReferralItem, 0, len(rows)), Limit: f.Limit, Offset: f.Offset}
	for _, x := range rows {
		_, zh := domain.ReferralStatus(x.Status).Label()
		out.Referrals = append(out.Referrals, ReferralItem{ID: x.ID, ProblemID: x.ProblemID, HouseholdID: x.HouseholdID, Community: x.Community,
			Grid: x.Grid, Level: x.Level, Department: x.Department, RequestedBy: x.RequestedBy, Responsible: x.Responsible, Status: x.Status,
			StatusZH: zh, RequestedAt: x.RequestedAt, Due: optTime(x.Due), Stage: x.Stage, Provisional: x.Provisional, UpdatedAt: x.UpdatedAt})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}
