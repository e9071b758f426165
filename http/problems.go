package http

import (
	"context"
	nethttp "net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections/audit"
)

// ProblemCommands are the commands the problem routes run, and the
// problem folded from its stream that GET /v1/problems/{id} shows (the
// command layer, command.Service, provides them).
type ProblemCommands interface {
	Problem(ctx context.Context, id string, as domain.AsOf) (*domain.Problem, error)
	ReportProblem(ctx context.Context, c command.Cmd, in command.ReportProblem) (command.Result, error)
	ReclassifyProblem(ctx context.Context, c command.Cmd, problemID string, h domain.HandlingClass, col domain.Colour, u domain.Urgency, reason string) (command.Result, error)
	AssignProblem(ctx context.Context, c command.Cmd, problemID string, in domain.AssignProblem) (command.Result, error)
	ExtendProblemDeadline(ctx context.Context, c command.Cmd, problemID string, to time.Time, reason string) (command.Result, error)
	NoteProgress(ctx context.Context, c command.Cmd, problemID, note string, method domain.FollowUpMethod) (command.Result, error)
	ResolveProblem(ctx context.Context, c command.Cmd, problemID, summary string, resources []domain.LinkedResource) (command.Result, error)
	RateSatisfaction(ctx context.Context, c command.Cmd, problemID string, score int, comment string) (command.Result, error)
	RevisitProblem(ctx context.Context, c command.Cmd, problemID string, in domain.RevisitProblem) (command.Result, error)
	ReopenProblem(ctx context.Context, c command.Cmd, problemID, reason string) (command.Result, error)
	CloseProblem(ctx context.Context, c command.Cmd, problemID, reason string) (command.Result, error)
}

// Request bodies of the problem commands.
type (
	ReportProblemRequest struct {
		ProblemID     string `json:"problem_id,omitempty"`
		HouseholdID   string `json:"household_id"`
		VisitID       string `json:"visit_id,omitempty"`
		Description   string `json:"description"`
		Category      string `json:"category"`
		HandlingClass string `json:"handling_class"`
		Colour        string `json:"colour"`
		Urgency       string `json:"urgency"`
		FoundBy       string `json:"found_by,omitempty"`
	}
	ReclassifyRequest struct {
		HandlingClass string `json:"handling_class"`
		Colour        string `json:"colour"`
		Urgency       string `json:"urgency"`
		Reason        string `json:"reason"`
	}
	AssignRequest struct {
		To        string `json:"to"`
		Reason    string `json:"reason,omitempty"`
		TimeLimit string `json:"time_limit,omitempty"` // e.g. "5 working_days"
		Sessions  int    `json:"sessions,omitempty"`
	}
	ExtendRequest struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	ProgressRequest struct {
		Note     string `json:"note"`
		FollowUp string `json:"follow_up"`
	}
	ResolveRequest struct {
		Summary   string                  `json:"summary"`
		Resources []domain.LinkedResource `json:"resources,omitempty"`
	}
	SatisfactionRequest struct {
		Score   int    `json:"score"`
		Comment string `json:"comment,omitempty"`
	}
	RevisitRequest struct {
		Held   *bool  `json:"held"`
		Method string `json:"method"`
		Note   string `json:"note,omitempty"`
		// Satisfaction is the household's score, 1–5 (required by the
		// policy's return-visit rules; below reopen_below reopens).
		Satisfaction int `json:"satisfaction,omitempty"`
	}
	CloseRequest struct {
		Reason string `json:"reason,omitempty"`
	}
)

// problemRoutes are the routes of problems: their commands run through
// cmd.
type problemRoutes struct {
	*Server
	cmd ProblemCommands
}

func (s problemRoutes) commandRoutes() []route {
	pb := "problems"
	return []route{
		s.cmdRoute("reportProblem", "/v1/problems", "report a problem found at a household", pb, "ReportProblemRequest", writers(), true, s.report),
		s.cmdRoute("reclassifyProblem", "/v1/problems/{id}/reclassify", "reclassify a problem", pb, "ReclassifyRequest", writers(), false, s.reclassify),
		s.cmdRoute("assignProblem", "/v1/problems/{id}/assign", "assign a problem and set its time limit", pb, "AssignRequest", writers(), false, s.assign),
		s.cmdRoute("extendProblemDeadline", "/v1/problems/{id}/extend", "extend a problem's deadline with a reason", pb, "ExtendRequest", managers(), false, s.extendDeadline),
		s.cmdRoute("noteProgress", "/v1/problems/{id}/progress", "record a follow-up", pb, "ProgressRequest", writers(), false, s.noteProgress),
		s.cmdRoute("resolveProblem", "/v1/problems/{id}/resolve", "record a problem's resolution", pb, "ResolveRequest", writers(), false, s.resolve),
		s.cmdRoute("rateSatisfaction", "/v1/problems/{id}/satisfaction", "record the household's satisfaction (1–5)", pb, "SatisfactionRequest", writers(), false, s.rateSatisfaction),
		s.cmdRoute("revisitProblem", "/v1/problems/{id}/revisit", "record a return visit to a resolved problem: whether it held and the household's satisfaction; a recurrence or an unsatisfied household reopens it", pb, "RevisitRequest", writers(), false, s.revisit),
		s.cmdRoute("reopenProblem", "/v1/problems/{id}/reopen", "reopen a problem that recurred", pb, "ReasonRequest", writers(), false, s.reopen),
		s.cmdRoute("closeProblem", "/v1/problems/{id}/close", "close a problem", pb, "CloseRequest", writers(), false, s.closeProblem),
	}
}

// queryRoutes read a problem: folded from its stream (optionally as of an
// instant or version), or its audit trail.
func (s problemRoutes) queryRoutes() []route {
	return []route{
		{op: "getProblem", method: "GET", path: "/v1/problems/{id}", roles: append(readerRoles(), identity.RoleDepartment), summary: "read a problem (optionally as of an instant or version)", h: s.getProblem,
			doc: opDoc{tag: "problems", ok: 200, resp: "ProblemView", params: aggregateAsOfParams()}},
		{op: "problemAudit", method: "GET", path: "/v1/problems/{id}/audit", roles: auditRoles(), summary: "a problem's audit trail", h: s.problemAudit,
			doc: opDoc{tag: "audit", ok: 200, resp: "AuditTrail", params: trailParams(), query: true, alt: []string{"application/jsonl", "text/csv"}}},
	}
}

// onProblem builds a plan for a command on problem {id}.
func (s *Server) onProblem(r *nethttp.Request, exec func(ctx context.Context, c command.Cmd, id string) (command.Result, error)) *plan {
	id := mux.Vars(r)["id"]
	return &plan{stream: domain.ProblemStream(id), authorize: s.access("problem", id, true, false),
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) { return exec(ctx, c, id) }}
}

// report creates a problem: the caller must be able to change its
// household.
func (s problemRoutes) report(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ReportProblemRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.HouseholdID == "" {
		return nil, newErr(ErrBadRequest, "required", "household_id", "household_id is required", "household_id 为必填项")
	}
	return &plan{authorize: s.access("household", in.HouseholdID, true, false),
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.cmd.ReportProblem(ctx, c, command.ReportProblem{ProblemID: in.ProblemID, HouseholdID: in.HouseholdID, VisitID: in.VisitID,
				Description: in.Description, Category: domain.ProblemCategory(in.Category), HandlingClass: domain.HandlingClass(in.HandlingClass),
				Colour: domain.Colour(in.Colour), Urgency: domain.Urgency(in.Urgency), FoundBy: in.FoundBy})
		},
		location: func(res command.Result) string { return "/v1/problems/" + res.ID }}, nil
}

func (s problemRoutes) reclassify(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ReclassifyRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ReclassifyProblem(ctx, c, id, domain.HandlingClass(in.HandlingClass), domain.Colour(in.Colour), domain.Urgency(in.Urgency), in.Reason)
	}), nil
}

func (s problemRoutes) assign(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[AssignRequest](r, body)
	if err != nil {
		return nil, err
	}
	sp, err := parseSpan("time_limit", in.TimeLimit, false)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.AssignProblem(ctx, c, id, domain.AssignProblem{To: in.To, Reason: in.Reason, TimeLimit: sp, Sessions: in.Sessions})
	}), nil
}

func (s problemRoutes) extendDeadline(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ExtendRequest](r, body)
	if err != nil {
		return nil, err
	}
	to, err := parseTime("to", in.To, true)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ExtendProblemDeadline(ctx, c, id, to, in.Reason)
	}), nil
}

func (s problemRoutes) noteProgress(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ProgressRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.NoteProgress(ctx, c, id, in.Note, domain.FollowUpMethod(in.FollowUp))
	}), nil
}

func (s problemRoutes) resolve(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ResolveRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ResolveProblem(ctx, c, id, in.Summary, in.Resources)
	}), nil
}

func (s problemRoutes) rateSatisfaction(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[SatisfactionRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.RateSatisfaction(ctx, c, id, in.Score, in.Comment)
	}), nil
}

func (s problemRoutes) revisit(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[RevisitRequest](r, body)
	if err != nil {
		return nil, err
	}
	if in.Held == nil {
		return nil, newErr(ErrBadRequest, "required", "held", "held is required: true when the resolution holds", "“held” 为必填项：问题未复发为 “true”")
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.RevisitProblem(ctx, c, id, domain.RevisitProblem{Held: *in.Held, Method: domain.FollowUpMethod(in.Method), Note: in.Note, Satisfaction: in.Satisfaction})
	}), nil
}

func (s problemRoutes) reopen(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[ReasonRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.ReopenProblem(ctx, c, id, in.Reason)
	}), nil
}

func (s problemRoutes) closeProblem(r *nethttp.Request, body []byte) (*plan, error) {
	in, err := decodeInto[CloseRequest](r, body)
	if err != nil {
		return nil, err
	}
	return s.onProblem(r, func(ctx context.Context, c command.Cmd, id string) (command.Result, error) {
		return s.cmd.CloseProblem(ctx, c, id, in.Reason)
	}), nil
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

func (s problemRoutes) getProblem(w nethttp.ResponseWriter, r *nethttp.Request) error {
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
	pb, err := asOfRecord(r.Context(), "problem", id, as, s.cmd.Problem)
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
// lists the household's open referrals; the check falls back to 404.
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
	// Not addressed to the department: answered as a problem that does
	// not exist (decision 0088).
	return notFound("problem", problemID)
}

func (s *Server) problemAudit(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.trail(w, r, "problem", func(ctx context.Context, id string) ([]audit.Entry, error) { return s.d.Read.Trail.Problem(ctx, id) })
}
