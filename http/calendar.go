package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/identity"
)

// DeadlineSource lists the running deadlines as derived with the calendar
// in force (the deadline watcher). ok is false while it has not read the
// log yet (or does not run on this node).
type DeadlineSource interface {
	Deadlines(provisionalOnly bool) (ds []domain.Deadline, ok bool)
	// Deadline is the running deadline of a subject's clock.
	Deadline(stream string, kind domain.ClockKind) (domain.Deadline, bool)
}

// CalendarCommands are what the calendar routes consume from the command
// layer (command.Service provides them): the calendar in force, and
// publishing a year of it.
type CalendarCommands interface {
	CalendarInForce(ctx context.Context) (*calendar.Calendar, error)
	PublishCalendarYear(ctx context.Context, c command.Cmd, y calendar.Year) (command.Result, error)
}

// CalendarYearRequest is the body of PUT /v1/calendar/{year}: the year's
// public holidays and make-up working days as dates ("YYYY-MM-DD") or
// ranges ("YYYY-MM-DD/YYYY-MM-DD"), and the notice they come from.
type CalendarYearRequest struct {
	Off    []string       `json:"off"`
	Work   []string       `json:"work"`
	Notice CalendarNotice `json:"notice"`
}

// CalendarNotice identifies an official notice.
type CalendarNotice struct {
	Title  string `json:"title"`
	Number string `json:"number"`
	Date   string `json:"date"`
}

// CalendarView is the body of GET /v1/calendar: the working-day calendar in
// force, its years, and how many running deadlines are provisional.
type CalendarView struct {
	Version string `json:"version"`
	// CoveredUntil is the first instant, from this year on, without an
	// official calendar: working-day limits past it are provisional.
	CoveredUntil time.Time      `json:"covered_until"`
	Years        []CalendarYear `json:"years"`
	// ProvisionalDeadlines counts running provisional deadlines (absent
	// when this node does not derive deadlines).
	ProvisionalDeadlines *int `json:"provisional_deadlines,omitempty"`
}

// CalendarYear is one year of the calendar in force.
type CalendarYear struct {
	Year   int             `json:"year"`
	Hash   string          `json:"hash"`
	Source string          `json:"source,omitempty"`
	Notice *CalendarNotice `json:"notice,omitempty"`
	Off    []string        `json:"off"`
	Work   []string        `json:"work"`
}

// DeadlineList is the body of GET /v1/deadlines?provisional=true.
type DeadlineList struct {
	Deadlines []DeadlineRow `json:"deadlines"`
	Total     int           `json:"total"`
}

// DeadlineRow is one running deadline.
type DeadlineRow struct {
	Kind        string    `json:"kind"`
	Subject     string    `json:"subject"` // the household, problem or referral id
	Start       time.Time `json:"start"`
	Due         time.Time `json:"due"`
	Responsible string    `json:"responsible,omitempty"`
	Provisional
}

// Provisional marks a deadline computed while a year's official calendar
// was not loaded (Monday to Friday counted as working days), with the
// explanation in English and Chinese. Every view that shows a due instant
// embeds it.
type Provisional struct {
	Provisional      bool   `json:"provisional,omitempty"`
	ProvisionalYears []int  `json:"provisional_years,omitempty"`
	CalendarVersion  string `json:"calendar_version,omitempty"`
	ProvisionalNote  string `json:"provisional_note,omitempty"`
	ProvisionalNoteZ string `json:"provisional_note_zh,omitempty"`
}

// provisionalOf describes a calendar basis for a view.
func provisionalOf(b domain.CalendarBasis) Provisional {
	en, zh := b.Note()
	return Provisional{Provisional: b.IsProvisional(), ProvisionalYears: b.Provisional, CalendarVersion: b.Version,
		ProvisionalNote: en, ProvisionalNoteZ: zh}
}

func calendarSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["CalendarYearRequest"] = reflect.TypeOf(CalendarYearRequest{})
	responses["CalendarView"] = reflect.TypeOf(CalendarView{})
	responses["DeadlineList"] = reflect.TypeOf(DeadlineList{})
}

func (s *Server) calendarRoutes() []route {
	return []route{
		{op: "getCalendar", method: "GET", path: "/v1/calendar", roles: allRoles(), summary: "the working-day calendar in force (shipped and published years)", h: s.getCalendar,
			doc: opDoc{tag: "deadlines", ok: 200, resp: "CalendarView"}},
		{op: "publishCalendarYear", method: "PUT", path: "/v1/calendar/{year}", roles: []identity.Role{identity.RoleAdmin},
			summary: "publish (or correct) a year of the working-day calendar from the official notice; open deadlines are rescheduled", h: s.command(s.publishCalendarYear),
			doc: opDoc{tag: "deadlines", body: "CalendarYearRequest", ok: 200, resp: "CommandResult", command: true}},
	}
}

func (s *Server) publishCalendarYear(r *nethttp.Request, body []byte) (*plan, error) {
	year, err := strconv.Atoi(mux.Vars(r)["year"])
	if err != nil || year < 1900 || year > 9999 {
		return nil, newErr(ErrBadRequest, "invalid_year", "year", "the year in the path must be a number between 1900 and 9999, e.g. /v1/calendar/2027",
			"路径中的年份须为 1900 至 9999 之间的数字，例如 /v1/calendar/2027")
	}
	in, err := decodeInto[CalendarYearRequest](r, body)
	if err != nil {
		return nil, err
	}
	y := calendar.Year{Year: year, Off: in.Off, Work: in.Work,
		Notice: calendar.Notice{Title: in.Notice.Title, Number: in.Notice.Number, Date: in.Notice.Date}}
	if err := y.Check(); err != nil {
		return nil, command.CalendarError(err)
	}
	return &plan{stream: domain.CalendarStream,
		authorize: func(context.Context, *identity.Principal) error { return nil }, // admins only (route roles)
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.d.Commands.PublishCalendarYear(ctx, c, y)
		}}, nil
}

func (s *Server) getCalendar(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if s.d.Commands == nil {
		return errNoCommands()
	}
	cal, err := s.d.Commands.CalendarInForce(r.Context())
	if err != nil {
		return err
	}
	out := CalendarView{Version: cal.Version(), CoveredUntil: cal.CoveredUntil(s.d.Now()), Years: []CalendarYear{}}
	for _, n := range cal.Years() {
		y, _ := cal.Year(n)
		cy := CalendarYear{Year: n, Hash: y.Hash(), Source: y.Source, Off: nonNil(y.Off), Work: nonNil(y.Work)}
		if y.Notice != (calendar.Notice{}) {
			cy.Notice = &CalendarNotice{Title: y.Notice.Title, Number: y.Notice.Number, Date: y.Notice.Date}
		}
		out.Years = append(out.Years, cy)
	}
	if s.d.Deadlines != nil {
		if ds, ok := s.d.Deadlines.Deadlines(true); ok {
			n := len(ds)
			out.ProvisionalDeadlines = &n
		}
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// provisionalDeadlines answers GET /v1/deadlines?provisional=true: every
// running provisional deadline the caller may read, soonest first.
func (s *Server) provisionalDeadlines(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "provisional", "limit", "offset"); err != nil {
		return err
	}
	if v := q.Get("provisional"); v != "true" {
		return newErr(ErrBadRequest, "invalid_parameter", "provisional", fmt.Sprintf("provisional must be true, got %q; leave it out to list overdue households", v),
			fmt.Sprintf("“provisional” 只能为 “true”（收到 %q）；不填则列出逾期家庭", v))
	}
	limit, offset, err := s.page(q)
	if err != nil {
		return err
	}
	if s.d.Deadlines == nil {
		return noReadModel("deadlines")
	}
	ds, ok := s.d.Deadlines.Deadlines(true)
	if !ok {
		return newErr(ErrUnavailable, "deadlines_unavailable", "", "this node does not derive deadlines right now (the deadline watcher runs on the elected node or has not read the log yet); retry, or ask the elected node",
			"本节点当前不计算期限（期限监视器运行在选举出的节点上，或尚未读完日志）；请重试或访问选举出的节点")
	}
	p := principalFrom(r.Context())
	out := DeadlineList{Deadlines: []DeadlineRow{}}
	for _, d := range ds {
		kind := "household"
		switch d.Kind {
		case domain.ClockProblemResponse, domain.ClockProblemResolution, domain.ClockProblemFollowUp:
			kind = "problem"
		case domain.ClockReferralAcceptance, domain.ClockReferralCompletion:
			kind = "referral"
		}
		if p.Role != identity.RoleAdmin && p.Role != identity.RoleAuditor {
			if err := s.access(kind, d.Subject, false, false)(r.Context(), p); err != nil {
				continue
			}
		}
		out.Total++
		if out.Total > offset && len(out.Deadlines) < limit {
			out.Deadlines = append(out.Deadlines, DeadlineRow{Kind: string(d.Kind), Subject: d.Subject, Start: d.Start, Due: d.Due,
				Responsible: d.Responsible, Provisional: provisionalOf(d.Basis)})
		}
	}
	return writeJSON(w, nethttp.StatusOK, out)
}
