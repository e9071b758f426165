package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections/rectifications"
)

// Rectification cases (整改, decision 0114): supervisors of the case's
// community (a street supervisor is one of every community) read them and
// record the 约谈 and the 回头看; auditors and admins read every case,
// admins also record. A case outside the caller's communities answers as
// one that does not exist (decision 0088).

// RectificationCommands are what the rectification routes consume from the
// command layer (command.Service provides them).
type RectificationCommands interface {
	RecordRectificationInterview(ctx context.Context, c command.Cmd, id string, in domain.RecordInterview) (command.Result, error)
	ReviewRectification(ctx context.Context, c command.Cmd, id string, result domain.ReviewResult, findings string) (command.Result, error)
	Rectification(ctx context.Context, id string, as domain.AsOf) (*domain.Rectification, error)
}

// RectificationReader lists rectification cases (*rectifications.Reader).
type RectificationReader interface {
	List(ctx context.Context, f rectifications.Filter) ([]rectifications.Case, error)
}

// InterviewRequest is the body of POST /v1/rectifications/{id}/interviews:
// a 约谈 held on the case.
type InterviewRequest struct {
	Interviewer string    `json:"interviewer"`
	Interviewee string    `json:"interviewee"`
	HeldAt      time.Time `json:"held_at"`
	Minutes     string    `json:"minutes"`
}

// ReviewRequest is the body of POST /v1/rectifications/{id}/review: a 回头看
// and its result (passed closes the case; failed sets a new deadline).
type ReviewRequest struct {
	Result   domain.ReviewResult `json:"result"`
	Findings string              `json:"findings"`
}

// RectificationItem is one row of GET /v1/rectifications.
type RectificationItem struct {
	ID          string     `json:"id"`
	Community   string     `json:"community"`
	Source      string     `json:"source"`
	SourceZH    string     `json:"source_zh"`
	Measure     string     `json:"measure,omitempty"`
	Periods     []string   `json:"periods,omitempty"`
	Status      string     `json:"status"`
	StatusZH    string     `json:"status_zh"`
	OpenedAt    time.Time  `json:"opened_at"`
	Due         *time.Time `json:"due,omitempty"`
	Provisional bool       `json:"provisional"`
	Stage       string     `json:"stage,omitempty"`
	Interviews  int        `json:"interviews"`
	Reviews     int        `json:"reviews"`
	LastResult  string     `json:"last_result,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// RectificationList is a page of rectification cases.
type RectificationList struct {
	Rectifications []RectificationItem `json:"rectifications"`
	Limit          int                 `json:"limit"`
	Offset         int                 `json:"offset"`
}

// Rectification is one case as its stream holds it (GET /v1/rectifications/{id}).
type Rectification struct {
	ID        string   `json:"id"`
	Version   uint64   `json:"version"`
	Community string   `json:"community"`
	Source    string   `json:"source"`
	SourceZH  string   `json:"source_zh"`
	Measure   string   `json:"measure,omitempty"`
	Periods   []string `json:"periods,omitempty"`
	// FlagEventID is the measures.flag_raised that opened it.
	FlagEventID string                                  `json:"flag_event_id,omitempty"`
	ReasonEN    string                                  `json:"reason_en"`
	ReasonZH    string                                  `json:"reason_zh"`
	Status      string                                  `json:"status"`
	StatusZH    string                                  `json:"status_zh"`
	OpenedAt    time.Time                               `json:"opened_at"`
	TimeLimit   string                                  `json:"time_limit"`
	Deadline    *RectificationClock                     `json:"deadline,omitempty"`
	Interviews  []domain.RectificationInterviewRecorded `json:"interviews"`
	Reviews     []RectificationReview                   `json:"reviews"`
}

// RectificationClock is the running 限期整改 deadline of an open case.
type RectificationClock struct {
	Start       time.Time `json:"start"`
	Due         time.Time `json:"due"`
	Provisional bool      `json:"provisional"`
	// Stage: approaching or breached as the deadline watcher recorded it.
	Stage string `json:"stage,omitempty"`
}

// RectificationReview is one 回头看 with its result in both languages.
type RectificationReview struct {
	domain.RectificationReviewed
	ResultEN string `json:"result_en"`
	ResultZH string `json:"result_zh"`
}

func rectificationSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["InterviewRequest"] = reflect.TypeOf(InterviewRequest{})
	requests["ReviewRequest"] = reflect.TypeOf(ReviewRequest{})
	responses["RectificationList"] = reflect.TypeOf(RectificationList{})
	responses["Rectification"] = reflect.TypeOf(Rectification{})
}

// rectificationReaders read rectification cases.
func rectificationReaders() []identity.Role {
	return []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}
}

func (s *Server) rectificationRoutes() []route {
	return []route{
		s.cmdRoute("recordRectificationInterview", "/v1/rectifications/{id}/interviews",
			"record an interview held on a rectification case (who, with whom, when, minutes)", "rectifications", "InterviewRequest", managers(), false, s.recordInterview),
		s.cmdRoute("reviewRectification", "/v1/rectifications/{id}/review",
			"record a follow-up review of a rectification case: passed closes it, failed sets a new deadline", "rectifications", "ReviewRequest", managers(), false, s.reviewRectification),
		{op: "listRectifications", method: "GET", path: "/v1/rectifications", roles: rectificationReaders(),
			summary: "the rectification cases of a community or of the street, newest first", h: s.listRectifications,
			doc: opDoc{tag: "rectifications", ok: 200, resp: "RectificationList", query: true, params: []param{
				qp("community", "string", "community (a supervisor of several names one)"),
				qp("status", "string", "open or closed", string(domain.RectificationOpen), string(domain.RectificationClosed)),
				qp("stage", "string", "deadline stage: an approaching or breached alert, or none", "approaching", "breached", "none"),
				qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
			}}},
		{op: "getRectification", method: "GET", path: "/v1/rectifications/{id}", roles: rectificationReaders(),
			summary: "one rectification case: what opened it, its deadline, the interviews and reviews recorded", h: s.getRectification,
			doc: opDoc{tag: "rectifications", ok: 200, resp: "Rectification"}},
	}
}

// rectificationAccess loads case id and checks that p may read it
// (404 rectification_not_found otherwise, decision 0088).
func (s *Server) rectificationAccess(ctx context.Context, p *identity.Principal, id string) (*domain.Rectification, error) {
	if !domain.ValidID(id) {
		return nil, notFound("rectification", clip(id))
	}
	r, err := s.d.Commands.Rectification(ctx, id, domain.AsOf{})
	if err != nil {
		return nil, err
	}
	if !r.Exists() || !p.Covers(r.Community(), "") {
		return nil, notFound("rectification", id)
	}
	return r, nil
}

func (s *Server) recordInterview(r *nethttp.Request, body []byte) (*plan, error) {
	id := mux.Vars(r)["id"]
	in, err := decodeInto[InterviewRequest](r, body)
	if err != nil {
		return nil, err
	}
	return &plan{stream: domain.RectificationStream(id),
		authorize: func(ctx context.Context, p *identity.Principal) error {
			_, err := s.rectificationAccess(ctx, p, id)
			return err
		},
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.d.Commands.RecordRectificationInterview(ctx, c, id, domain.RecordInterview{Interviewer: in.Interviewer,
				Interviewee: in.Interviewee, HeldAt: in.HeldAt, Minutes: in.Minutes})
		}}, nil
}

func (s *Server) reviewRectification(r *nethttp.Request, body []byte) (*plan, error) {
	id := mux.Vars(r)["id"]
	in, err := decodeInto[ReviewRequest](r, body)
	if err != nil {
		return nil, err
	}
	return &plan{stream: domain.RectificationStream(id),
		authorize: func(ctx context.Context, p *identity.Principal) error {
			_, err := s.rectificationAccess(ctx, p, id)
			return err
		},
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.d.Commands.ReviewRectification(ctx, c, id, in.Result, in.Findings)
		}}, nil
}

func (s *Server) listRectifications(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "community", "status", "stage", "limit", "offset", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	if s.d.Read.Rectifications == nil {
		return noReadModel("rectifications")
	}
	p := principalFrom(r.Context())
	var f rectifications.Filter
	var err error
	if f.Community, _, err = scopeFilter(p, q.Get("community"), ""); err != nil {
		return err
	}
	if f.Status, err = enumParam(q, "status", "整改状态", string(domain.RectificationOpen), string(domain.RectificationClosed)); err != nil {
		return err
	}
	if f.Stage, err = enumParam(q, "stage", "期限阶段", "approaching", "breached", "none"); err != nil {
		return err
	}
	if f.Limit, f.Offset, err = s.page(q); err != nil {
		return err
	}
	if f.Limit > rectifications.MaxLimit {
		return newErr(ErrBadRequest, "invalid_limit", "limit", fmt.Sprintf("limit is at most %d", rectifications.MaxLimit),
			fmt.Sprintf("每页最多 %d 条", rectifications.MaxLimit))
	}
	if err := s.waitFor(w, r, rectifications.Name); err != nil {
		return err
	}
	rows, err := s.d.Read.Rectifications.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := RectificationList{Rectifications: make([]RectificationItem, 0, len(rows)), Limit: f.Limit, Offset: f.Offset}
	for _, c := range rows {
		_, st := domain.RectificationStatus(c.Status).Label()
		_, src := domain.RectificationSource(c.Source).Label()
		out.Rectifications = append(out.Rectifications, RectificationItem{ID: c.ID, Community: c.Community, Source: c.Source, SourceZH: src,
			Measure: c.Measure, Periods: c.Periods, Status: c.Status, StatusZH: st, OpenedAt: c.OpenedAt, Due: optTime(c.Due),
			Provisional: c.Provisional, Stage: c.Stage, Interviews: c.Interviews, Reviews: c.Reviews, LastResult: c.LastResult,
			ClosedAt: optTime(c.ClosedAt), UpdatedAt: c.UpdatedAt})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

func (s *Server) getRectification(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	c, err := s.rectificationAccess(r.Context(), principalFrom(r.Context()), id)
	if err != nil {
		return err
	}
	o := c.Opened()
	_, st := c.Status().Label()
	_, src := o.Source.Label()
	out := Rectification{ID: id, Version: c.Version(), Community: o.Community, Source: string(o.Source), SourceZH: src, Measure: o.Measure,
		Periods: o.Periods, FlagEventID: o.FlagEventID, ReasonEN: o.ReasonEN, ReasonZH: o.ReasonZH, Status: string(c.Status()), StatusZH: st,
		OpenedAt: o.At, TimeLimit: o.TimeLimit.String(), Interviews: c.Interviews(), Reviews: []RectificationReview{}}
	if out.Interviews == nil {
		out.Interviews = []domain.RectificationInterviewRecorded{}
	}
	for _, rv := range c.Reviews() {
		en, zh := rv.Result.Label()
		out.Reviews = append(out.Reviews, RectificationReview{RectificationReviewed: rv, ResultEN: en, ResultZH: zh})
	}
	if start, due, basis := c.Deadline(); !due.IsZero() {
		d := &RectificationClock{Start: start, Due: due, Provisional: basis.IsProvisional()}
		switch approached, breached := c.Alerts(); {
		case breached:
			d.Stage = string(domain.StageBreached)
		case approached:
			d.Stage = string(domain.StageApproaching)
		}
		out.Deadline = d
	}
	w.Header().Set("ETag", fmt.Sprintf("%q", fmt.Sprint(c.Version())))
	return writeJSON(w, nethttp.StatusOK, out)
}
