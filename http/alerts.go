package http

import (
	"fmt"
	nethttp "net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections/alerts"
)

// alertRoutes read the deadline alerts and the households past a deadline.
func (s *Server) alertRoutes() []route {
	return []route{
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
		{op: "listVisitsDue", method: "GET", path: "/v1/visits/due", roles: readerRoles(),
			summary: "households whose next visit falls due within the window (those already overdue included), soonest first: the visits due this week in my grid", h: s.listVisitsDue,
			doc: opDoc{tag: "visits", ok: 200, resp: "HouseholdList", query: true, params: []param{
				qp("within", "string", fmt.Sprintf("window from now, in days: 1d to %dd (default 7d)", maxDueWithinDays)),
				qp("community", "string", "community"), qp("grid", "string", "grid"), qp("worker", "string", "responsible worker"),
				qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
			}}},
	}
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
	if err := s.waitFor(w, r, alerts.Name); err != nil {
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
	if err := s.waitFor(w, r, alerts.Name); err != nil {
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

func (s *Server) listDeadlines(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if r.URL.Query().Has("provisional") {
		return s.provisionalDeadlines(w, r)
	}
	return s.householdList(w, r, true, time.Time{}, "community", "grid", "worker", "limit", "offset", "wait_for", "wait_timeout")
}

// maxDueWithinDays bounds the window of GET /v1/visits/due: a quarter.
const maxDueWithinDays = 92

// listVisitsDue lists the households in scope whose visit_due deadline
// (the profile read model's next_visit_due) falls before now + within.
func (s *Server) listVisitsDue(w nethttp.ResponseWriter, r *nethttp.Request) error {
	days := 7
	if v := r.URL.Query().Get("within"); v != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
		if err != nil || !strings.HasSuffix(v, "d") || n < 1 || n > maxDueWithinDays {
			return newErr(ErrBadRequest, "invalid_parameter", "within", fmt.Sprintf("within %q must be a number of days from 1d to %dd, such as 7d", clip(v), maxDueWithinDays),
				fmt.Sprintf("“within” %q 须为 1 至 %d 之间的天数后加 “d”（如 “7d”）", clip(v), maxDueWithinDays))
		}
		days = n
	}
	return s.householdList(w, r, false, s.d.Now().AddDate(0, 0, days), "within", "community", "grid", "worker", "limit", "offset", "wait_for", "wait_timeout")
}
