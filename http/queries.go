package http

import (
	"context"
	"errors"
	"fmt"
	"mime"
	nethttp "net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/audit"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
)

// ReadModels are the projections the query routes read. Any field may be
// nil: its routes then answer 503.
type ReadModels struct {
	// Engine applies the projections; it provides read-your-writes waits.
	Engine   *projections.Engine
	Profiles *profile.Reader
	Alerts   *alerts.Reader
	Trail    *audit.Trail
	Measures *measures.Reader
}

// readerRoles may read case files (each within its scope).
func readerRoles() []identity.Role {
	return []identity.Role{identity.RoleWorker, identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}
}

// auditRoles may read audit trails and as-of views.
func auditRoles() []identity.Role {
	return []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}
}

func (s *Server) queryRoutes() []route {
	list := []param{
		qp("community", "string", "community"), qp("grid", "string", "grid"), qp("worker", "string", "responsible worker"),
		qp("class", "string", "household class", "ordinary", "key", "special"),
		qp("risk", "string", "risk level", "red", "yellow", "blue", "green"),
		qp("overdue", "boolean", "only households with an overdue visit or problem"),
		qp("q", "string", "search the address and members' names"),
		qp("include_archived", "boolean", "include archived households"),
		qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
	}
	trail := []param{qp("format", "string", "json (default), jsonl or csv", "json", "jsonl", "csv")}
	asOf := []param{{name: "at", in: "query", typ: "string", desc: "RFC 3339 instant: the file as the system knew it then", required: true}}
	aggAsOf := []param{qp("at", "string", "RFC 3339 instant: fold only the events recorded by then"), qp("version", "integer", "fold up to this stream version")}
	return []route{
		{op: "listHouseholds", method: "GET", path: "/v1/households", roles: readerRoles(), summary: "list and search household files", h: s.listHouseholds,
			doc: opDoc{tag: "households", ok: 200, resp: "HouseholdList", params: list, query: true}},
		{op: "getHousehold", method: "GET", path: "/v1/households/{id}", roles: readerRoles(), summary: "read a household's profile", h: s.getHousehold,
			doc: opDoc{tag: "households", ok: 200, resp: "HouseholdProfile", query: true}},
		{op: "householdAsOf", method: "GET", path: "/v1/households/{id}/as-of", roles: auditRoles(), summary: "a household's file as it was at an instant", h: s.householdAsOf,
			doc: opDoc{tag: "audit", ok: 200, resp: "HouseholdSnapshot", params: asOf, query: true}},
		{op: "householdAudit", method: "GET", path: "/v1/households/{id}/audit", roles: auditRoles(), summary: "a household's audit trail", h: s.householdAudit,
			doc: opDoc{tag: "audit", ok: 200, resp: "AuditTrail", params: trail, query: true, alt: []string{"application/jsonl", "text/csv"}}},
		{op: "householdSensitiveReads", method: "GET", path: "/v1/households/{id}/sensitive-reads", roles: auditRoles(),
			summary: "who read the household's sensitive fields, and when (newest first; never the values)", h: s.householdSensitiveReads,
			doc: opDoc{tag: "audit", ok: 200, resp: "SensitiveReads", params: []param{qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip")}}},
		{op: "getProblem", method: "GET", path: "/v1/problems/{id}", roles: append(readerRoles(), identity.RoleDepartment), summary: "read a problem (optionally as of an instant or version)", h: s.getProblem,
			doc: opDoc{tag: "problems", ok: 200, resp: "ProblemView", params: aggAsOf}},
		{op: "problemAudit", method: "GET", path: "/v1/problems/{id}/audit", roles: auditRoles(), summary: "a problem's audit trail", h: s.problemAudit,
			doc: opDoc{tag: "audit", ok: 200, resp: "AuditTrail", params: trail, query: true, alt: []string{"application/jsonl", "text/csv"}}},
		{op: "getReferral", method: "GET", path: "/v1/referrals/{id}", roles: append(readerRoles(), identity.RoleDepartment), summary: "read a referral (optionally as of an instant or version)", h: s.getReferral,
			doc: opDoc{tag: "referrals", ok: 200, resp: "ReferralView", params: aggAsOf}},
		{op: "listAlerts", method: "GET", path: "/v1/alerts", roles: readerRoles(), summary: "list open deadline alerts (approaching and overdue)", h: s.listAlerts,
			doc: opDoc{tag: "deadlines", ok: 200, resp: "AlertList", query: true, params: []param{
				qp("community", "string", "community"), qp("grid", "string", "grid"), qp("responsible", "string", "responsible person"),
				qp("supervisor", "string", "supervisor"), qp("stage", "string", "approaching or breached", "approaching", "breached"),
				qp("kind", "string", "deadline kind"), qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
			}}},
		{op: "alertCounts", method: "GET", path: "/v1/alerts/counts", roles: []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}, summary: "count open alerts per community", h: s.alertCounts,
			doc: opDoc{tag: "deadlines", ok: 200, resp: "AlertCounts", query: true}},
		{op: "listDeadlines", method: "GET", path: "/v1/deadlines", roles: readerRoles(), summary: "households whose visit or problem deadline has passed; with provisional=true, the running deadlines computed without an official calendar year (a DeadlineList)", h: s.listDeadlines,
			doc: opDoc{tag: "deadlines", ok: 200, resp: "HouseholdList", query: true, params: []param{
				qp("community", "string", "community"), qp("grid", "string", "grid"), qp("worker", "string", "responsible worker"),
				qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
				qp("provisional", "boolean", "true: list the provisional deadlines instead (answer: DeadlineList)"),
			}}},
		{op: "getMeasures", method: "GET", path: "/v1/measures", roles: []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}, summary: "resolution, on-time, satisfaction and coverage measures", h: s.getMeasures,
			doc: opDoc{tag: "measures", ok: 200, resp: "Measures", query: true, params: []param{
				qp("by", "string", "group by", "community", "grid", "worker"),
				qp("community", "string", "community"), qp("grid", "string", "grid"), qp("worker", "string", "worker"),
				qp("from", "string", "first month, YYYY-MM"), qp("to", "string", "last month, YYYY-MM"),
			}}},
		{op: "getMeasureFlags", method: "GET", path: "/v1/measures/flags", roles: []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin},
			summary: "communities below 80% resolution two months running", h: s.getMeasureFlags,
			doc: opDoc{tag: "measures", ok: 200, resp: "MeasureFlags", query: true}},
	}
}

// queryTypes names the response types of the query routes.
func queryTypes() map[string]reflect.Type {
	return map[string]reflect.Type{
		"HouseholdList":     reflect.TypeOf(HouseholdList{}),
		"HouseholdProfile":  reflect.TypeOf(HouseholdProfile{}),
		"HouseholdSnapshot": reflect.TypeOf(HouseholdSnapshot{}),
		"AuditTrail":        reflect.TypeOf(AuditTrail{}),
		"SensitiveReads":    reflect.TypeOf(SensitiveReads{}),
		"ProblemView":       reflect.TypeOf(ProblemView{}),
		"ReferralView":      reflect.TypeOf(ReferralView{}),
		"AlertList":         reflect.TypeOf(AlertList{}),
		"AlertCounts":       reflect.TypeOf(AlertCounts{}),
		"Measures":          reflect.TypeOf(Measures{}),
		"MeasureFlags":      reflect.TypeOf(MeasureFlags{}),
	}
}

func noReadModel(what string) error {
	return newErr(ErrUnavailable, "read_model_unavailable", "", "the "+what+" read model is not available on this server", "此服务器未提供"+what+"读模型")
}

// waitFor honours wait_for/wait_timeout: it blocks until every named
// projection has applied the given position, bounded by Config.MaxWait.
func (s *Server) waitFor(r *nethttp.Request, names ...string) error {
	q := r.URL.Query()
	tok := q.Get("wait_for")
	if tok == "" {
		return nil
	}
	pos, err := eventstore.ParsePosition(tok)
	if err != nil {
		return newErr(ErrBadRequest, "invalid_position", "wait_for",
			fmt.Sprintf("wait_for %q is not a position token; use the position a command returned", clip(tok)),
			fmt.Sprintf("wait_for %q 不是有效的位置标记；请使用命令返回的位置", clip(tok)))
	}
	d := s.cfg.DefaultWait
	if v := q.Get("wait_timeout"); v != "" {
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			return newErr(ErrBadRequest, "invalid_wait_timeout", "wait_timeout",
				fmt.Sprintf("wait_timeout %q is not a positive duration such as 2s", clip(v)), fmt.Sprintf("wait_timeout %q 不是有效时长（如 2s）", clip(v)))
		}
	}
	d = min(d, s.cfg.MaxWait)
	if s.d.Read.Engine == nil {
		return noReadModel("projection engine")
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	for _, n := range names {
		if err := s.d.Read.Engine.WaitFor(ctx, n, pos); err != nil {
			var we *projections.WaitError
			if errors.As(err, &we) {
				return &domain.Error{Kind: ErrUnavailable, Code: "read_model_behind", Field: "wait_for",
					Message:   fmt.Sprintf("the %s read model reached position %s, not yet %s, within %s; retry shortly", n, we.Reached, pos, d),
					MessageZH: fmt.Sprintf("%s 读模型在 %s 内只处理到位置 %s，尚未到达 %s；请稍后重试", n, d, we.Reached, pos)}
			}
			return err
		}
	}
	return nil
}

// page reads limit (default 100, at most Config.MaxPageSize) and offset.
func (s *Server) page(q map[string][]string) (limit, offset int, err error) {
	if limit, err = intParam(q, "limit"); err != nil {
		return 0, 0, err
	}
	if offset, err = intParam(q, "offset"); err != nil {
		return 0, 0, err
	}
	if limit == 0 {
		limit = 100
	}
	if limit > s.cfg.MaxPageSize {
		return 0, 0, newErr(ErrBadRequest, "invalid_limit", "limit", fmt.Sprintf("limit must be at most %d", s.cfg.MaxPageSize), fmt.Sprintf("limit 不能超过 %d", s.cfg.MaxPageSize))
	}
	return limit, offset, nil
}

// intParam parses an optional non-negative integer parameter.
func intParam(q map[string][]string, name string) (int, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, newErr(ErrBadRequest, "invalid_"+name, name, fmt.Sprintf("%s %q must be a non-negative integer", name, clip(v)), fmt.Sprintf("%s %q 须为非负整数", name, clip(v)))
	}
	return n, nil
}

func boolParam(q map[string][]string, name string) (bool, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, newErr(ErrBadRequest, "invalid_"+name, name, fmt.Sprintf("%s %q must be true or false", name, clip(v)), fmt.Sprintf("%s %q 须为 true 或 false", name, clip(v)))
	}
	return b, nil
}

func enumParam(q map[string][]string, name, zh string, allowed ...string) (string, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" || slices.Contains(allowed, v) {
		return v, nil
	}
	return "", newErr(ErrBadRequest, "invalid_"+name, name, fmt.Sprintf("%q is not a valid %s; use one of %v", clip(v), name, allowed), fmt.Sprintf("%q 不是有效的%s；可选值 %v", clip(v), zh, allowed))
}

// scopeFilter narrows a list query (community, grid) to the principal's
// scope: a worker's grid, a supervisor's community. A worker or supervisor
// with several must name one; naming one outside the scope is 403.
func scopeFilter(p *identity.Principal, community, grid string) (string, string, error) {
	pick := func(have []string, asked, field string) (string, error) {
		switch {
		case asked != "" && !slices.Contains(have, asked):
			return "", newErr(ErrForbidden, "out_of_scope", field, fmt.Sprintf("%s %s is outside your scope", field, asked), fmt.Sprintf("%s %s 不在您的权限范围内", field, asked))
		case asked != "":
			return asked, nil
		case len(have) == 1:
			return have[0], nil
		}
		return "", newErr(ErrBadRequest, "required", field, fmt.Sprintf("you work in several %ss; name one with the %s parameter", field, field),
			fmt.Sprintf("您负责多个%s；请用 %s 参数指定一个", map[string]string{"grid": "网格", "community": "社区"}[field], field))
	}
	var err error
	switch p.Role {
	case identity.RoleWorker:
		grid, err = pick(p.Grids, grid, "grid")
	case identity.RoleSupervisor:
		community, err = pick(p.Communities, community, "community")
	case identity.RoleAuditor, identity.RoleAdmin:
	default:
		err = newErr(ErrForbidden, "role_forbidden", "", "your role may not list case files", "您的角色无权查看案件列表")
	}
	return community, grid, err
}

// HouseholdSummary is one row of a household list.
type HouseholdSummary struct {
	HouseholdID   string     `json:"household_id"`
	Address       string     `json:"address"`
	Community     string     `json:"community"`
	Grid          string     `json:"grid"`
	Worker        string     `json:"worker"`
	Class         string     `json:"class"`
	Category      string     `json:"category"`
	Risk          string     `json:"risk"`
	Archived      bool       `json:"archived"`
	LastVisit     *time.Time `json:"last_visit,omitempty"`
	NextVisitDue  *time.Time `json:"next_visit_due,omitempty"`
	VisitCount    int        `json:"visit_count"`
	OpenProblems  int        `json:"open_problems"`
	OpenReferrals int        `json:"open_referrals"`
	Satisfaction  float64    `json:"satisfaction"`
	Rated         int        `json:"rated"`
	Version       uint64     `json:"version"`
}

// HouseholdList is a page of households.
type HouseholdList struct {
	Households []HouseholdSummary `json:"households"`
	Limit      int                `json:"limit"`
	Offset     int                `json:"offset"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func summaryOf(s profile.Summary) HouseholdSummary {
	return HouseholdSummary{HouseholdID: s.HouseholdID, Address: s.Address, Community: s.Community, Grid: s.Grid, Worker: s.Worker,
		Class: string(s.Class), Category: string(s.Category), Risk: string(s.Risk), Archived: s.Archived,
		LastVisit: optTime(s.LastVisit), NextVisitDue: optTime(s.NextVisitDue), VisitCount: s.VisitCount, OpenProblems: s.OpenProblems,
		OpenReferrals: s.OpenReferrals, Satisfaction: s.Satisfaction, Rated: s.Rated, Version: s.Version}
}

func (s *Server) listHouseholds(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.householdList(w, r, false, "community", "grid", "worker", "class", "risk", "overdue", "q", "include_archived", "limit", "offset", "wait_for", "wait_timeout")
}

func (s *Server) listDeadlines(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if r.URL.Query().Has("provisional") {
		return s.provisionalDeadlines(w, r)
	}
	return s.householdList(w, r, true, "community", "grid", "worker", "limit", "offset", "wait_for", "wait_timeout")
}

func (s *Server) householdList(w nethttp.ResponseWriter, r *nethttp.Request, overdue bool, allowed ...string) error {
	q := r.URL.Query()
	if err := onlyParams(q, allowed...); err != nil {
		return err
	}
	if s.d.Read.Profiles == nil {
		return noReadModel("household profile")
	}
	p := principalFrom(r.Context())
	f := profile.Filter{Worker: q.Get("worker"), Search: q.Get("q"), Now: s.d.Now(), Overdue: overdue}
	var err error
	if f.Community, f.Grid, err = scopeFilter(p, q.Get("community"), q.Get("grid")); err != nil {
		return err
	}
	class, err := enumParam(q, "class", "家庭类别", "ordinary", "key", "special")
	if err != nil {
		return err
	}
	risk, err := enumParam(q, "risk", "风险等级", "red", "yellow", "blue", "green")
	if err != nil {
		return err
	}
	f.Class, f.Risk = domain.HouseholdClass(class), domain.RiskLevel(risk)
	if !overdue {
		if f.Overdue, err = boolParam(q, "overdue"); err != nil {
			return err
		}
		if f.IncludeArchived, err = boolParam(q, "include_archived"); err != nil {
			return err
		}
	}
	if f.Limit, f.Offset, err = s.page(q); err != nil {
		return err
	}
	if err := s.waitFor(r, profile.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Profiles.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := HouseholdList{Households: make([]HouseholdSummary, 0, len(rows)), Limit: f.Limit, Offset: f.Offset}
	for _, row := range rows {
		out.Households = append(out.Households, summaryOf(row))
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

// SensitiveField is a sensitive value as shown to a reader: the value only
// for principals with the grant (and the read is recorded).
type SensitiveField struct {
	Given  bool   `json:"given"`
	Masked bool   `json:"masked,omitempty"`
	Erased bool   `json:"erased,omitempty"`
	Value  string `json:"value,omitempty"`
}

func fieldOf(f profile.Field) *SensitiveField {
	if !f.Given {
		return nil
	}
	return &SensitiveField{Given: true, Masked: f.Masked, Erased: f.Erased, Value: f.Value}
}

// MemberView is a current member of a household.
type MemberView struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Relation   string          `json:"relation"`
	BirthDate  string          `json:"birth_date,omitempty"`
	Occupation string          `json:"occupation,omitempty"`
	IDNumber   *SensitiveField `json:"id_number,omitempty"`
	Phone      *SensitiveField `json:"phone,omitempty"`
	Income     *SensitiveField `json:"income,omitempty"`
	Health     *SensitiveField `json:"health,omitempty"`
	Disability *SensitiveField `json:"disability,omitempty"`
}

// ProblemRow is a problem in a household's ledger.
type ProblemRow struct {
	ID            string     `json:"id"`
	Number        string     `json:"number"`
	Description   string     `json:"description"`
	Category      string     `json:"category"`
	HandlingClass string     `json:"handling_class"`
	Colour        string     `json:"colour"`
	Urgency       string     `json:"urgency"`
	Assignee      string     `json:"assignee"`
	Status        string     `json:"status"`
	ReportedAt    time.Time  `json:"reported_at"`
	Due           *time.Time `json:"due,omitempty"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
	Satisfaction  int        `json:"satisfaction,omitempty"`
}

// ReferralRow is an open referral of a household.
type ReferralRow struct {
	ID          string    `json:"id"`
	ProblemID   string    `json:"problem_id"`
	Level       string    `json:"level"`
	To          string    `json:"to"`
	Status      string    `json:"status"`
	Responsible string    `json:"responsible,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

// HouseholdProfile is a household's file from the profile read model.
type HouseholdProfile struct {
	HouseholdSummary
	Consent       bool                `json:"consent"`
	ArchiveReason string              `json:"archive_reason,omitempty"`
	RegisteredAt  time.Time           `json:"registered_at"`
	Needs         map[string][]string `json:"needs"`
	Skills        []string            `json:"skills"`
	Volunteer     bool                `json:"volunteer"`
	Idle          []string            `json:"idle"`
	Members       []MemberView        `json:"members"`
	Problems      []ProblemRow        `json:"problems"`
	ReferralsOpen []ReferralRow       `json:"referrals_open"`
}

func problemRowOf(p profile.Problem) ProblemRow {
	return ProblemRow{ID: p.ID, Number: p.Number, Description: p.Description, Category: string(p.Category), HandlingClass: string(p.HandlingClass),
		Colour: string(p.Colour), Urgency: string(p.Urgency), Assignee: p.Assignee, Status: string(p.Status), ReportedAt: p.ReportedAt,
		Due: optTime(p.Due), ResolvedAt: optTime(p.ResolvedAt), Satisfaction: p.Satisfaction}
}

// subject authorises a read of a household, problem or referral in the path.
func (s *Server) subject(r *nethttp.Request, kind string) (string, error) {
	id := mux.Vars(r)["id"]
	return id, s.access(kind, id, false, false)(r.Context(), principalFrom(r.Context()))
}

func (s *Server) getHousehold(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query(), "wait_for", "wait_timeout"); err != nil {
		return err
	}
	if s.d.Read.Profiles == nil {
		return noReadModel("household profile")
	}
	if err := s.waitFor(r, profile.Name); err != nil {
		return err
	}
	id, err := s.subject(r, "household")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	var reveal *profile.Reveal
	if p.Sensitive && s.d.Opener != nil {
		reveal = &profile.Reveal{Opener: s.d.Opener, Record: func(ctx context.Context, householdID string) error {
			return s.recordAccess(ctx, p, householdID, "household profile (sensitive member fields)")
		}}
	}
	pr, err := s.d.Read.Profiles.Get(r.Context(), id, reveal)
	if errors.Is(err, profile.ErrNotFound) {
		return notFound("household", id)
	}
	if err != nil {
		return err
	}
	out := HouseholdProfile{HouseholdSummary: summaryOf(pr.Summary), Consent: pr.Consent, ArchiveReason: string(pr.ArchiveReason),
		RegisteredAt: pr.RegisteredAt, Needs: map[string][]string{}, Skills: pr.Resources.Skills, Volunteer: pr.Resources.Volunteer,
		Idle: pr.Resources.Idle, Members: []MemberView{}, Problems: []ProblemRow{}, ReferralsOpen: []ReferralRow{}}
	for k, v := range pr.Needs {
		out.Needs[string(k)] = v
	}
	if out.Skills == nil {
		out.Skills = []string{}
	}
	if out.Idle == nil {
		out.Idle = []string{}
	}
	for _, m := range pr.Members {
		out.Members = append(out.Members, MemberView{ID: m.ID, Name: m.Name, Relation: m.Relation, BirthDate: m.BirthDate, Occupation: m.Occupation,
			IDNumber: fieldOf(m.IDNumber), Phone: fieldOf(m.Phone), Income: fieldOf(m.Income), Health: fieldOf(m.Health), Disability: fieldOf(m.Disability)})
	}
	for _, pb := range pr.Problems {
		out.Problems = append(out.Problems, problemRowOf(pb))
	}
	for _, rf := range pr.ReferralsOpen {
		out.ReferralsOpen = append(out.ReferralsOpen, ReferralRow{ID: rf.ID, ProblemID: rf.ProblemID, Level: string(rf.Level), To: rf.To,
			Status: string(rf.Status), Responsible: rf.Responsible, RequestedAt: rf.RequestedAt})
	}
	w.Header().Set("ETag", etag(pr.Version))
	return writeJSON(w, nethttp.StatusOK, out)
}

// AuditTrail is a list of audit entries.
type AuditTrail struct {
	Entries []audit.Entry `json:"entries"`
}

func (s *Server) householdAudit(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.trail(w, r, "household", func(ctx context.Context, id string) ([]audit.Entry, error) { return s.d.Read.Trail.Household(ctx, id) })
}

// SensitiveReads is the record of reads of one household's sensitive
// fields.
type SensitiveReads struct {
	HouseholdID string             `json:"household_id"`
	Reads       []accesslog.Record `json:"reads"`
}

func (s *Server) householdSensitiveReads(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "limit", "offset"); err != nil {
		return err
	}
	limit, offset, err := s.page(q)
	if err != nil {
		return err
	}
	reader, ok := s.d.Access.(AccessReader)
	if !ok {
		return noReadModel("sensitive-read record")
	}
	id, err := s.subject(r, "household")
	if err != nil {
		return err
	}
	reads, err := reader.SensitiveReads(r.Context(), id, limit, offset)
	if err != nil {
		return err
	}
	if reads == nil {
		reads = []accesslog.Record{}
	}
	return writeJSON(w, nethttp.StatusOK, SensitiveReads{HouseholdID: id, Reads: reads})
}

func (s *Server) problemAudit(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.trail(w, r, "problem", func(ctx context.Context, id string) ([]audit.Entry, error) { return s.d.Read.Trail.Problem(ctx, id) })
}

func (s *Server) trail(w nethttp.ResponseWriter, r *nethttp.Request, kind string, read func(ctx context.Context, id string) ([]audit.Entry, error)) error {
	q := r.URL.Query()
	if err := onlyParams(q, "format", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	format, err := enumParam(q, "format", "格式", "json", "jsonl", "csv")
	if err != nil {
		return err
	}
	if s.d.Read.Trail == nil {
		return noReadModel("audit")
	}
	if err := s.waitFor(r, audit.Name); err != nil {
		return err
	}
	id, err := s.subject(r, kind)
	if err != nil {
		return err
	}
	entries, err := read(r.Context(), id)
	if errors.Is(err, audit.ErrNotFound) {
		return newErr(ErrNotFound, "not_in_audit_index", "", fmt.Sprintf("%s %s is not in the audit index yet; pass wait_for with the position of your last command", kind, id),
			fmt.Sprintf("%s 尚未进入审计索引；请用 wait_for 传入最后一条命令的位置", id))
	}
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	switch format {
	case "jsonl":
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		w.Header().Set("Content-Disposition", attachment(kind+"-"+id+"-audit.jsonl"))
		return audit.WriteJSONL(w, entries)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", attachment(kind+"-"+id+"-audit.csv"))
		return audit.WriteCSV(w, entries)
	}
	return writeJSON(w, nethttp.StatusOK, AuditTrail{Entries: entries})
}

// attachment is a Content-Disposition header offering name as the file
// name. mime.FormatMediaType quotes and escapes it (RFC 2045/2616), and
// encodes a name that is not ASCII as filename*=utf-8”… (RFC 2231, as RFC
// 6266 asks), so no id can add parameters or break out of the header.
func attachment(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

// ProblemView is a problem folded from its stream.
type ProblemView struct {
	ID            string     `json:"id"`
	Number        string     `json:"number"`
	HouseholdID   string     `json:"household_id"`
	VisitID       string     `json:"visit_id,omitempty"`
	Description   string     `json:"description"`
	Category      string     `json:"category"`
	HandlingClass string     `json:"handling_class"`
	Colour        string     `json:"colour"`
	Urgency       string     `json:"urgency"`
	FoundBy       string     `json:"found_by"`
	Assignee      string     `json:"assignee"`
	Status        string     `json:"status"`
	TimeLimit     string     `json:"time_limit,omitempty"`
	Sessions      int        `json:"sessions,omitempty"`
	Due           *time.Time `json:"due,omitempty"`
	ReportedAt    time.Time  `json:"reported_at"`
	Satisfaction  int        `json:"satisfaction,omitempty"`
	Reopens       int        `json:"reopens"`
	Resolution    string     `json:"resolution,omitempty"`
	Version       uint64     `json:"version"`
	// Provisional marks a due instant computed without the official
	// calendar of a year.
	Provisional
}

// ReferralView is a referral folded from its stream.
type ReferralView struct {
	ID          string    `json:"id"`
	ProblemID   string    `json:"problem_id"`
	HouseholdID string    `json:"household_id"`
	Level       string    `json:"level"`
	To          string    `json:"to"`
	Request     string    `json:"request"`
	Status      string    `json:"status"`
	Responsible string    `json:"responsible,omitempty"`
	Outcome     string    `json:"outcome,omitempty"`
	Escalations int       `json:"escalations"`
	RequestedAt time.Time `json:"requested_at"`
	Version     uint64    `json:"version"`
	// Due is the completion deadline the receiver promised on acceptance.
	Due *time.Time `json:"due,omitempty"`
	Provisional
}

// asOfParams reads at/version into a domain.AsOf.
func asOfParams(r *nethttp.Request) (domain.AsOf, error) {
	q := r.URL.Query()
	if err := onlyParams(q, "at", "version"); err != nil {
		return domain.AsOf{}, err
	}
	var as domain.AsOf
	at, err := parseTime("at", q.Get("at"), false)
	if err != nil {
		return as, err
	}
	v, err := intParam(q, "version")
	as.RecordedAt, as.Version = at, uint64(v)
	return as, err
}

func (s *Server) getProblem(w nethttp.ResponseWriter, r *nethttp.Request) error {
	as, err := asOfParams(r)
	if err != nil {
		return err
	}
	if s.d.Commands == nil {
		return errNoCommands()
	}
	id := mux.Vars(r)["id"]
	p := principalFrom(r.Context())
	if p.Role == identity.RoleDepartment {
		if err := s.departmentMayReadProblem(r.Context(), p, id); err != nil {
			return err
		}
	} else if _, err := s.subject(r, "problem"); err != nil {
		return err
	}
	pb, err := s.d.Commands.Problem(r.Context(), id, as)
	if err != nil {
		return err
	}
	if !pb.Exists() {
		return notFound("problem", id)
	}
	out := ProblemView{ID: id, Number: pb.Number(), HouseholdID: pb.HouseholdID(), VisitID: pb.VisitID(), Description: pb.Description(),
		Category: string(pb.Category()), HandlingClass: string(pb.HandlingClass()), Colour: string(pb.Colour()), Urgency: string(pb.Urgency()),
		FoundBy: pb.FoundBy(), Assignee: pb.Assignee(), Status: string(pb.Status()), TimeLimit: pb.TimeLimit().String(), Sessions: pb.Sessions(),
		Due: optTime(pb.Due()), ReportedAt: pb.ReportedAt(), Satisfaction: pb.Satisfaction(), Reopens: pb.Reopens(), Version: pb.Version(),
		Provisional: provisionalOf(pb.DueBasis())}
	if res, ok := pb.Resolution(); ok {
		out.Resolution = res.Summary
	}
	w.Header().Set("ETag", etag(pb.Version()))
	return writeJSON(w, nethttp.StatusOK, out)
}

// departmentMayReadProblem: a department reads a problem only when one of
// its referrals is addressed to the department. The profile read model
// lists the household's open referrals; the check falls back to 403.
func (s *Server) departmentMayReadProblem(ctx context.Context, p *identity.Principal, problemID string) error {
	sc, err := s.scopes.problem(ctx, problemID, false)
	if err != nil {
		return err
	}
	if !sc.exists {
		return notFound("problem", problemID)
	}
	if s.d.Read.Profiles != nil {
		pr, err := s.d.Read.Profiles.Get(ctx, sc.householdID, nil)
		if err == nil {
			for _, rf := range pr.ReferralsOpen {
				if rf.ProblemID == problemID && rf.To == p.Department {
					return nil
				}
			}
		}
	}
	return outOfScope("problem", problemID)
}

func (s *Server) getReferral(w nethttp.ResponseWriter, r *nethttp.Request) error {
	as, err := asOfParams(r)
	if err != nil {
		return err
	}
	if s.d.Commands == nil {
		return errNoCommands()
	}
	id, err := s.subject(r, "referral")
	if err != nil {
		return err
	}
	rf, err := s.d.Commands.Referral(r.Context(), id, as)
	if err != nil {
		return err
	}
	if !rf.Exists() {
		return notFound("referral", id)
	}
	out := ReferralView{ID: id, ProblemID: rf.ProblemID(), HouseholdID: rf.HouseholdID(), Level: string(rf.Level()), To: rf.To(),
		Request: rf.RequestText(), Status: string(rf.Status()), Responsible: rf.Responsible(), Escalations: len(rf.Escalations()),
		RequestedAt: rf.RequestedAt(), Version: rf.Version()}
	if o, ok := rf.Outcome(); ok {
		out.Outcome = o.Outcome
	}
	if a, ok := rf.Acceptance(); ok {
		out.Due, out.Provisional = optTime(a.Due), provisionalOf(a.Calendar)
	}
	w.Header().Set("ETag", etag(rf.Version()))
	return writeJSON(w, nethttp.StatusOK, out)
}

// HouseholdSnapshot is a household's file as the system knew it at an instant.
type HouseholdSnapshot struct {
	At        time.Time      `json:"at"`
	Household HouseholdState `json:"household"`
	Problems  []ProblemView  `json:"problems"`
	Referrals []ReferralView `json:"referrals"`
}

// HouseholdState is a household folded from its stream (no sensitive fields).
type HouseholdState struct {
	ID         string   `json:"id"`
	Registered bool     `json:"registered"`
	Address    string   `json:"address"`
	Community  string   `json:"community"`
	Grid       string   `json:"grid"`
	Worker     string   `json:"worker"`
	Class      string   `json:"class"`
	Category   string   `json:"category"`
	Risk       string   `json:"risk"`
	Archived   bool     `json:"archived"`
	Consent    bool     `json:"consent"`
	Members    []string `json:"members"`
	Visits     int      `json:"visits"`
	Version    uint64   `json:"version"`
}

func (s *Server) householdAsOf(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "at", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	at, err := parseTime("at", q.Get("at"), true)
	if err != nil {
		return err
	}
	if s.d.Read.Trail == nil {
		return noReadModel("audit")
	}
	if err := s.waitFor(r, audit.Name); err != nil {
		return err
	}
	id, err := s.subject(r, "household")
	if err != nil {
		return err
	}
	snap, err := s.d.Read.Trail.AsOf(r.Context(), id, at)
	if errors.Is(err, audit.ErrNotFound) {
		return newErr(ErrNotFound, "not_registered_then", "at", fmt.Sprintf("household %s was not registered at %s (if it was registered just now, pass wait_for with the position of your last command)", id, at.Format(time.RFC3339)),
			fmt.Sprintf("家庭 %s 在 %s 尚未登记（如刚刚登记，请用 wait_for 传入最后一条命令的位置）", id, at.Format(time.RFC3339)))
	}
	if err != nil {
		return err
	}
	h := snap.Household
	out := HouseholdSnapshot{At: at, Problems: []ProblemView{}, Referrals: []ReferralView{}}
	if h != nil {
		out.Household = HouseholdState{ID: id, Registered: h.Registered(), Address: h.Address(), Community: h.Community(), Grid: h.Grid(),
			Worker: h.ResponsibleWorker(), Class: string(h.Class()), Category: string(h.Category()), Risk: string(h.Risk()),
			Archived: h.Archived(), Consent: h.Consent(), Members: []string{}, Visits: len(h.Visits()), Version: h.Version()}
		for _, m := range h.Members() {
			out.Household.Members = append(out.Household.Members, m.Name)
		}
	}
	for _, pb := range snap.Problems {
		out.Problems = append(out.Problems, ProblemView{ID: pb.ID(), Number: pb.Number(), HouseholdID: pb.HouseholdID(), Description: pb.Description(),
			Category: string(pb.Category()), HandlingClass: string(pb.HandlingClass()), Colour: string(pb.Colour()), Urgency: string(pb.Urgency()),
			FoundBy: pb.FoundBy(), Assignee: pb.Assignee(), Status: string(pb.Status()), Due: optTime(pb.Due()), ReportedAt: pb.ReportedAt(),
			Satisfaction: pb.Satisfaction(), Reopens: pb.Reopens(), Version: pb.Version(), Provisional: provisionalOf(pb.DueBasis())})
	}
	for _, rf := range snap.Referrals {
		out.Referrals = append(out.Referrals, ReferralView{ID: rf.ID(), ProblemID: rf.ProblemID(), HouseholdID: rf.HouseholdID(), Level: string(rf.Level()),
			To: rf.To(), Request: rf.RequestText(), Status: string(rf.Status()), Responsible: rf.Responsible(), Escalations: len(rf.Escalations()),
			RequestedAt: rf.RequestedAt(), Version: rf.Version()})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

// AlertView is an open deadline alert.
type AlertView struct {
	Stream      string    `json:"stream"`
	Kind        string    `json:"kind"`
	Stage       string    `json:"stage"`
	ClockStart  time.Time `json:"clock_start"`
	Due         time.Time `json:"due"`
	RaisedAt    time.Time `json:"raised_at"`
	Responsible string    `json:"responsible"`
	Supervisor  string    `json:"supervisor"`
	HouseholdID string    `json:"household_id"`
	Community   string    `json:"community"`
	Grid        string    `json:"grid"`
	AgeSeconds  int64     `json:"age_seconds"`
	// Provisional marks the deadline as derived now without the official
	// calendar of a year (known where the deadline watcher runs).
	Provisional
}

// AlertList is a page of open alerts.
type AlertList struct {
	Alerts []AlertView `json:"alerts"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
}

func (s *Server) listAlerts(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "community", "grid", "responsible", "supervisor", "stage", "kind", "limit", "offset", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	if s.d.Read.Alerts == nil {
		return noReadModel("alerts")
	}
	p := principalFrom(r.Context())
	f := alerts.Filter{Responsible: q.Get("responsible"), Supervisor: q.Get("supervisor"), Kind: domain.ClockKind(q.Get("kind"))}
	var err error
	if f.Community, f.Grid, err = scopeFilter(p, q.Get("community"), q.Get("grid")); err != nil {
		return err
	}
	stage, err := enumParam(q, "stage", "阶段", "approaching", "breached")
	if err != nil {
		return err
	}
	f.Stage = domain.AlertStage(stage)
	if f.Limit, f.Offset, err = s.page(q); err != nil {
		return err
	}
	if err := s.waitFor(r, alerts.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Alerts.Open(r.Context(), f, s.d.Now())
	if err != nil {
		return err
	}
	out := AlertList{Alerts: make([]AlertView, 0, len(rows)), Limit: f.Limit, Offset: f.Offset}
	for _, a := range rows {
		out.Alerts = append(out.Alerts, AlertView{Stream: a.Stream, Kind: string(a.Kind), Stage: string(a.Stage), ClockStart: a.ClockStart, Due: a.Due,
			RaisedAt: a.RaisedAt, Responsible: a.Responsible, Supervisor: a.Supervisor, HouseholdID: a.HouseholdID, Community: a.Community,
			Grid: a.Grid, AgeSeconds: int64(a.Age / time.Second)})
		if s.d.Deadlines != nil {
			if d, ok := s.d.Deadlines.Deadline(a.Stream, a.Kind); ok {
				out.Alerts[len(out.Alerts)-1].Provisional = provisionalOf(d.Basis)
			}
		}
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

// AlertCounts counts open alerts per community.
type AlertCounts struct {
	Communities []CommunityAlerts `json:"communities"`
}

// CommunityAlerts is one community's open alerts.
type CommunityAlerts struct {
	Community   string `json:"community"`
	Approaching int    `json:"approaching"`
	Breached    int    `json:"breached"`
}

func (s *Server) alertCounts(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query(), "wait_for", "wait_timeout"); err != nil {
		return err
	}
	if s.d.Read.Alerts == nil {
		return noReadModel("alerts")
	}
	if err := s.waitFor(r, alerts.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Alerts.CountByCommunity(r.Context())
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	out := AlertCounts{Communities: []CommunityAlerts{}}
	for _, c := range rows {
		if p.Role == identity.RoleSupervisor && !slices.Contains(p.Communities, c.Community) {
			continue
		}
		out.Communities = append(out.Communities, CommunityAlerts{Community: c.Community, Approaching: c.Approaching, Breached: c.Breached})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}
