package http

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections/audit"
	"github.com/doorstep/doorstep/projections/profile"
)

// queryRoutes are the reads of household files: the profile read model,
// the audit index and the record of sensitive reads.
func (s householdRoutes) queryRoutes() []route {
	list := []param{
		qp("community", "string", "community"), qp("grid", "string", "grid"), qp("worker", "string", "responsible worker"),
		qp("class", "string", "household class", "ordinary", "key", "special"),
		qp("risk", "string", "risk level", "red", "yellow", "blue", "green"),
		qp("overdue", "boolean", "only households with an overdue visit or problem"),
		qp("q", "string", "search the address and members' names"),
		qp("include_archived", "boolean", "include archived households"),
		qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip"),
	}
	visits := []param{
		qp("visits_limit", "integer", fmt.Sprintf("visits listed, newest first (default %d, at most %d); visit_count counts them all", profile.VisitPage, profile.MaxVisitPage)),
		qp("visits_offset", "integer", "visits to skip, for the next page"),
	}
	purposes := make([]string, 0, 4)
	for _, q := range identity.Purposes() {
		purposes = append(purposes, string(q))
	}
	getParams := append([]param{
		qp("purpose", "string", "reveal the members' sensitive fields for this purpose (recorded with it; only roles the policy grants it, with the sensitive grant); without it they are masked", purposes...),
		qp("reveal", "boolean", "true asks for the sensitive fields in clear: needs purpose"),
	}, visits...)
	asOf := append([]param{{name: "at", in: "query", typ: "string", desc: "RFC 3339 instant: the file as the system knew it then", required: true}}, visits...)
	return []route{
		{op: "listHouseholds", method: "GET", path: "/v1/households", roles: readerRoles(), summary: "list and search household files", h: s.listHouseholds,
			doc: opDoc{tag: "households", ok: 200, resp: "HouseholdList", params: list, query: true}},
		{op: "getHousehold", method: "GET", path: "/v1/households/{id}", roles: readerRoles(), summary: "read a household's profile", h: s.getHousehold,
			doc: opDoc{tag: "households", ok: 200, resp: "HouseholdProfile", params: getParams, query: true}},
		{op: "householdAsOf", method: "GET", path: "/v1/households/{id}/as-of", roles: auditRoles(), summary: "a household's file as it was at an instant", h: s.householdAsOf,
			doc: opDoc{tag: "audit", ok: 200, resp: "HouseholdSnapshot", params: asOf, query: true}},
		{op: "householdAudit", method: "GET", path: "/v1/households/{id}/audit", roles: auditRoles(), summary: "a household's audit trail", h: s.householdAudit,
			doc: opDoc{tag: "audit", ok: 200, resp: "AuditTrail", params: trailParams(), query: true, alt: []string{"application/jsonl", "text/csv"}}},
		{op: "householdSensitiveReads", method: "GET", path: "/v1/households/{id}/sensitive-reads", roles: auditRoles(),
			summary: "who read the household's sensitive fields, and when (newest first; never the values)", h: s.householdSensitiveReads,
			doc: opDoc{tag: "audit", ok: 200, resp: "SensitiveReads", params: []param{qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip")}}},
	}
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

func summaryOf(s profile.Summary) HouseholdSummary {
	return HouseholdSummary{HouseholdID: s.HouseholdID, Address: s.Address, Community: s.Community, Grid: s.Grid, Worker: s.Worker,
		Class: string(s.Class), Category: string(s.Category), Risk: string(s.Risk), Archived: s.Archived,
		LastVisit: optTime(s.LastVisit), NextVisitDue: optTime(s.NextVisitDue), VisitCount: s.VisitCount, OpenProblems: s.OpenProblems,
		OpenReferrals: s.OpenReferrals, Satisfaction: s.Satisfaction, Rated: s.Rated, Version: s.Version}
}

func (s *Server) listHouseholds(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.householdList(w, r, false, time.Time{}, "community", "grid", "worker", "class", "risk", "overdue", "q", "include_archived", "limit", "offset", "wait_for", "wait_timeout")
}

// householdList lists households in the caller's scope: all (filtered by
// the query), only the overdue ones (overdue), or only those whose next
// visit falls due before dueBefore, soonest first (not zero).
func (s *Server) householdList(w nethttp.ResponseWriter, r *nethttp.Request, overdue bool, dueBefore time.Time, allowed ...string) error {
	q := r.URL.Query()
	if err := onlyParams(q, allowed...); err != nil {
		return err
	}
	if s.d.Read.Profiles == nil {
		return noReadModel("household profile")
	}
	p := principalFrom(r.Context())
	f := profile.Filter{Worker: q.Get("worker"), Search: q.Get("q"), Now: s.d.Now(), Overdue: overdue, DueBefore: dueBefore,
		Opener: s.d.Opener} // the class is sealed: the filter opens it within the caller's scope (decision 0148)
	if idx, ok := s.d.Opener.(domain.Fingerprinter); ok {
		f.Index = idx // sealed names and addresses (decision 0108)
	}
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
	if !overdue && dueBefore.IsZero() {
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
	if err := s.waitFor(w, r, profile.Name); err != nil {
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
	// Resolution is the resolution's summary, or why the problem was
	// closed unresolved.
	Resolution string     `json:"resolution,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// Provisional marks a due instant computed without the official
	// calendar of a year.
	Provisional
}

// ReferralRow is a referral of one of a household's problems, open or not.
type ReferralRow struct {
	ID          string    `json:"id"`
	ProblemID   string    `json:"problem_id"`
	Level       string    `json:"level"`
	To          string    `json:"to"`
	Status      string    `json:"status"`
	Responsible string    `json:"responsible,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	// Due is the completion deadline the receiver promised on acceptance.
	Due *time.Time `json:"due,omitempty"`
	// Outcome is what completing it achieved; Reason why it was declined,
	// cancelled or last escalated; ClosedAt when it was completed, declined
	// or cancelled.
	Outcome  string     `json:"outcome,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	Provisional
}

// VisitRow is one visit of a household, whatever its outcome.
type VisitRow struct {
	ID         string    `json:"id"`
	OccurredAt time.Time `json:"occurred_at"`
	RecordedAt time.Time `json:"recorded_at"`
	Team       []string  `json:"team"`
	Mode       string    `json:"mode"`
	Outcome    string    `json:"outcome"` // completed, refused or nobody_home
	Late       bool      `json:"late"`
	Summary    string    `json:"summary,omitempty"`
	By         string    `json:"by"`
}

// VisitPage is a page of a household's visits, newest first.
type VisitPage struct {
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
	Visits []VisitRow `json:"visits"`
}

func visitRowOf(v profile.Visit) VisitRow {
	team := v.Team
	if team == nil {
		team = []string{}
	}
	return VisitRow{ID: v.ID, OccurredAt: v.OccurredAt, RecordedAt: v.RecordedAt, Team: team, Mode: string(v.Mode), Outcome: string(v.Outcome),
		Late: v.Late, Summary: v.Summary, By: v.By}
}

func referralRowOf(rf profile.Referral) ReferralRow {
	return ReferralRow{ID: rf.ID, ProblemID: rf.ProblemID, Level: string(rf.Level), To: rf.To, Status: string(rf.Status), Responsible: rf.Responsible,
		RequestedAt: rf.RequestedAt, Due: optTime(rf.Due), Outcome: rf.Outcome, Reason: rf.Reason, ClosedAt: optTime(rf.ClosedAt),
		Provisional: provisionalOf(rf.DueBasis)}
}

// visitParams reads visits_limit and visits_offset.
func visitParams(q map[string][]string) (limit, offset int, err error) {
	if limit, err = intParam(q, "visits_limit"); err != nil {
		return 0, 0, err
	}
	if offset, err = intParam(q, "visits_offset"); err != nil {
		return 0, 0, err
	}
	_, given := q["visits_limit"]
	switch {
	case given && (limit < 1 || limit > profile.MaxVisitPage):
		return 0, 0, newErr(ErrBadRequest, "invalid_visits_limit", "visits_limit",
			fmt.Sprintf("visits_limit must be 1 to %d", profile.MaxVisitPage), fmt.Sprintf("visits_limit 须为 1 至 %d", profile.MaxVisitPage))
	case !given:
		limit = profile.VisitPage
	}
	return limit, offset, nil
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
	// Referrals are all the referrals of the household's problems, open
	// or not, by request time (a completed referral stays here).
	Referrals []ReferralRow `json:"referrals"`
	// Visits is a page of the household's visits, newest first: every
	// outcome, refusals and nobody-at-home included (visits_limit,
	// visits_offset; visit_count counts them all).
	Visits VisitPage `json:"visits"`
}

func problemRowOf(p profile.Problem) ProblemRow {
	return ProblemRow{ID: p.ID, Number: p.Number, Description: p.Description, Category: string(p.Category), HandlingClass: string(p.HandlingClass),
		Colour: string(p.Colour), Urgency: string(p.Urgency), Assignee: p.Assignee, Status: string(p.Status), ReportedAt: p.ReportedAt,
		Due: optTime(p.Due), ResolvedAt: optTime(p.ResolvedAt), Satisfaction: p.Satisfaction, Resolution: p.Resolution, ClosedAt: optTime(p.ClosedAt),
		Provisional: provisionalOf(p.DueBasis)}
}

func (s *Server) getHousehold(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "purpose", "reveal", "visits_limit", "visits_offset", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	purpose := identity.Purpose(q.Get("purpose"))
	asked, err := boolParam(q, "reveal")
	if err != nil {
		return err
	}
	asked = asked || purpose != ""
	vlimit, voffset, err := visitParams(q)
	if err != nil {
		return err
	}
	if s.d.Read.Profiles == nil {
		return noReadModel("household profile")
	}
	if err := s.waitFor(w, r, profile.Name); err != nil {
		return err
	}
	id, err := s.subject(r, "household")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	var reveal *profile.Reveal
	// Masked unless asked for with a purpose the policy grants the caller
	// (decision 0101); the reveal is recorded with its purpose first.
	if asked {
		if err := p.MayReveal(purpose); err != nil {
			return err
		}
	}
	if asked && s.d.Opener != nil {
		reveal = &profile.Reveal{Opener: s.d.Opener, Record: func(ctx context.Context, householdID string) error {
			return s.recordReveal(ctx, p, householdID, "household profile (sensitive member fields)", purpose)
		}}
	} else if kc, ok := s.d.Opener.(domain.KeyChecker); ok {
		reveal = &profile.Reveal{Check: kc} // masked, but an erased field shows as erased
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
		Idle: pr.Resources.Idle, Members: []MemberView{}, Problems: []ProblemRow{}, ReferralsOpen: []ReferralRow{}, Referrals: []ReferralRow{},
		Visits: VisitPage{Limit: vlimit, Offset: voffset, Visits: []VisitRow{}}}
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
		out.ReferralsOpen = append(out.ReferralsOpen, referralRowOf(rf))
	}
	for _, rf := range pr.Referrals {
		out.Referrals = append(out.Referrals, referralRowOf(rf))
	}
	visits := pr.Visits
	if vlimit != profile.VisitPage || voffset != 0 {
		if visits, err = s.d.Read.Profiles.Visits(r.Context(), id, vlimit, voffset); err != nil {
			return err
		}
	}
	for _, v := range visits {
		out.Visits.Visits = append(out.Visits.Visits, visitRowOf(v))
	}
	w.Header().Set("ETag", etag(pr.Version))
	return writeJSON(w, nethttp.StatusOK, out)
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
	Visits     int      `json:"visits"` // how many visits were recorded by then
	Version    uint64   `json:"version"`
	// VisitList is a page of the visits recorded by then, newest first,
	// every outcome included (visits_limit, visits_offset).
	VisitList VisitPage `json:"visit_list"`
}

func (s *Server) householdAsOf(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "at", "visits_limit", "visits_offset", "wait_for", "wait_timeout"); err != nil {
		return err
	}
	at, err := parseTime("at", q.Get("at"), true)
	if err != nil {
		return err
	}
	vlimit, voffset, err := visitParams(q)
	if err != nil {
		return err
	}
	if s.d.Read.Trail == nil {
		return noReadModel("audit")
	}
	if err := s.waitFor(w, r, audit.Name); err != nil {
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
			Archived: h.Archived(), Consent: h.Consent(), Members: []string{}, Visits: len(h.Visits()), Version: h.Version(),
			VisitList: VisitPage{Limit: vlimit, Offset: voffset, Visits: []VisitRow{}}}
		for _, m := range h.Members() {
			out.Household.Members = append(out.Household.Members, m.Name)
		}
		out.Household.VisitList.Visits = visitsOf(h.Visits(), vlimit, voffset)
	}
	for _, pb := range snap.Problems {
		out.Problems = append(out.Problems, ProblemView{ID: pb.ID(), Number: pb.Number(), HouseholdID: pb.HouseholdID(), Description: pb.Description(),
			Category: string(pb.Category()), HandlingClass: string(pb.HandlingClass()), Colour: string(pb.Colour()), Urgency: string(pb.Urgency()),
			FoundBy: pb.FoundBy(), Assignee: pb.Assignee(), Status: string(pb.Status()), Due: optTime(pb.Due()), ReportedAt: pb.ReportedAt(),
			Satisfaction: pb.Satisfaction(), Reopens: pb.Reopens(), Version: pb.Version(), Provisional: provisionalOf(pb.DueBasis())})
		if res, ok := pb.Resolution(); ok {
			out.Problems[len(out.Problems)-1].Resolution = res.Summary
		}
	}
	for _, rf := range snap.Referrals {
		v := ReferralView{ID: rf.ID(), ProblemID: rf.ProblemID(), HouseholdID: rf.HouseholdID(), Level: string(rf.Level()),
			To: rf.To(), Request: rf.RequestText(), Status: string(rf.Status()), Responsible: rf.Responsible(), Escalations: len(rf.Escalations()),
			RequestedAt: rf.RequestedAt(), Version: rf.Version()}
		if o, ok := rf.Outcome(); ok {
			v.Outcome = o.Outcome
		}
		if a, ok := rf.Acceptance(); ok {
			v.Due, v.Provisional = optTime(a.Due), provisionalOf(a.Calendar)
		}
		out.Referrals = append(out.Referrals, v)
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

func (s *Server) householdAudit(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.trail(w, r, "household", func(ctx context.Context, id string) ([]audit.Entry, error) { return s.d.Read.Trail.Household(ctx, id) })
}

// visitsOf is a page of folded visits, newest first (by when they
// happened), as the profile lists them.
func visitsOf(all []domain.VisitRecorded, limit, offset int) []VisitRow {
	slices.SortStableFunc(all, func(a, b domain.VisitRecorded) int {
		if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(b.VisitID, a.VisitID)
	})
	out := []VisitRow{}
	for i := offset; i < len(all) && i < offset+limit; i++ {
		v := all[i]
		out = append(out, visitRowOf(profile.Visit{ID: v.VisitID, OccurredAt: v.OccurredAt, RecordedAt: v.RecordedAt, Team: v.Team,
			Mode: v.Mode, Outcome: v.Outcome, Late: v.Late, Summary: v.Summary, By: v.By}))
	}
	return out
}
