package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Problem is the aggregate of one row of the problem ledger. The zero value
// is not usable; start from NewProblem. Not safe for concurrent use.
//
// Life: open (reported or reopened) → in_progress (first progress note) →
// resolved → closed; resolved or closed → open again by Reopen. An open or
// in_progress problem can also be closed without resolution (with a reason).
type Problem struct {
	id            string
	version       uint64
	reported      ProblemReported
	exists        bool
	handling      HandlingClass
	colour        Colour
	urgency       Urgency
	assignee      string
	status        ProblemStatus
	clockStart    time.Time // report or last reopen
	policyVersion string
	assignedAt    time.Time // when the current time limit was set
	timeLimit     Span
	sessions      int
	due           time.Time
	dueBasis      CalendarBasis // the calendar due was computed with
	dueByPerson   bool          // due was set by an extension, not computed from timeLimit
	extensions    []ProblemDeadlineExtended
	notes         []ProblemProgressNoted
	lastProgress  time.Time
	resolution    *ProblemResolved
	satisfaction  int
	revisits      []ProblemRevisited
	referrals     []ProblemReferred
	reopens       int
	closed        *ProblemClosed
	alerts        alertMarks
}

// NewProblem returns the empty aggregate for a problem id (stream ProblemStream(id)).
func NewProblem(id string) *Problem { return &Problem{id: id, alerts: alertMarks{}} }

// Getters.
func (p *Problem) ID() string                   { return p.id }
func (p *Problem) Version() uint64              { return p.version }
func (p *Problem) Exists() bool                 { return p.exists }
func (p *Problem) Number() string               { return p.reported.Number }
func (p *Problem) HouseholdID() string          { return p.reported.HouseholdID }
func (p *Problem) VisitID() string              { return p.reported.VisitID }
func (p *Problem) Description() string          { return p.reported.Description }
func (p *Problem) Category() ProblemCategory    { return p.reported.Category }
func (p *Problem) ReportedAt() time.Time        { return p.reported.At }
func (p *Problem) FoundBy() string              { return p.reported.FoundBy }
func (p *Problem) HandlingClass() HandlingClass { return p.handling }
func (p *Problem) Colour() Colour               { return p.colour }
func (p *Problem) Urgency() Urgency             { return p.urgency }
func (p *Problem) Assignee() string             { return p.assignee }
func (p *Problem) Status() ProblemStatus        { return p.status }
func (p *Problem) TimeLimit() Span              { return p.timeLimit }
func (p *Problem) Sessions() int                { return p.sessions }
func (p *Problem) Due() time.Time               { return p.due }

// DueBasis is the working-day calendar the due instant was computed with
// (zero when it does not depend on it).
func (p *Problem) DueBasis() CalendarBasis               { return p.dueBasis }
func (p *Problem) Extensions() []ProblemDeadlineExtended { return slices.Clone(p.extensions) }
func (p *Problem) Notes() []ProblemProgressNoted         { return slices.Clone(p.notes) }
func (p *Problem) Satisfaction() int                     { return p.satisfaction } // 0 when not rated
func (p *Problem) Revisits() []ProblemRevisited          { return slices.Clone(p.revisits) }
func (p *Problem) Referrals() []ProblemReferred          { return slices.Clone(p.referrals) }
func (p *Problem) Reopens() int                          { return p.reopens }
func (p *Problem) PolicyVersion() string                 { return p.policyVersion }

// Resolution returns the current resolution, if resolved (also when closed after it).
func (p *Problem) Resolution() (ProblemResolved, bool) {
	if p.resolution == nil {
		return ProblemResolved{}, false
	}
	r := *p.resolution
	r.Resources = slices.Clone(r.Resources)
	return r, true
}

// Closure returns the closing event, if closed.
func (p *Problem) Closure() (ProblemClosed, bool) {
	if p.closed == nil {
		return ProblemClosed{}, false
	}
	return *p.closed, true
}

func (p *Problem) active() bool { return p.status == StatusOpen || p.status == StatusInProgress }

// Clocks returns the deadlines the problem is running: the first response
// while open; the resolution time limit while open or in progress with a
// limit set; the monthly follow-up of a long_term problem while open or in
// progress (started by the latest of report, reopen and progress note).
func (p *Problem) Clocks() []Clock {
	if !p.exists || !p.active() {
		return nil
	}
	base := Clock{Subject: p.id, PolicyVersion: p.policyVersion, HandlingClass: p.handling, Colour: p.colour,
		Urgency: p.urgency, Responsible: p.assignee}
	var out []Clock
	if p.status == StatusOpen {
		c := base
		c.Kind, c.Start = ClockProblemResponse, p.clockStart
		out = append(out, p.alerts.stamp(c))
	}
	if !p.due.IsZero() {
		c := base
		c.Kind, c.Start, c.Due, c.Basis = ClockProblemResolution, p.assignedAt, p.due, p.dueBasis
		if !p.dueByPerson {
			c.Limit = p.timeLimit
		}
		out = append(out, p.alerts.stamp(c))
	}
	if p.handling == HandlingLongTerm {
		c := base
		c.Kind, c.Start = ClockProblemFollowUp, p.clockStart
		if p.lastProgress.After(c.Start) {
			c.Start = p.lastProgress
		}
		out = append(out, p.alerts.stamp(c))
	}
	return out
}

// Apply folds one event into the problem. It never fails.
func (p *Problem) Apply(e Event) {
	p.version++
	switch e := e.(type) {
	case ProblemReported:
		p.exists, p.reported = true, e
		p.handling, p.colour, p.urgency = e.HandlingClass, e.Colour, e.Urgency
		p.assignee, p.status, p.clockStart, p.policyVersion = e.FoundBy, StatusOpen, e.At, e.PolicyVersion
	case ProblemReclassified:
		p.handling, p.colour, p.urgency, p.policyVersion = e.HandlingClass, e.Colour, e.Urgency, e.PolicyVersion
	case ProblemAssigned:
		p.assignee = e.To
		if !e.TimeLimit.IsZero() || e.Sessions > 0 {
			p.timeLimit, p.sessions, p.due, p.assignedAt = e.TimeLimit, e.Sessions, e.Due, e.At
			p.dueBasis, p.dueByPerson = e.Calendar, false
		}
	case ProblemDeadlineExtended:
		p.due, p.dueBasis, p.dueByPerson = e.To, CalendarBasis{}, true
		p.extensions = append(p.extensions, e)
	case ProblemProgressNoted:
		p.notes = append(p.notes, e)
		p.lastProgress, p.policyVersion = e.At, e.PolicyVersion
		if p.status == StatusOpen {
			p.status = StatusInProgress
		}
	case ProblemReferred:
		p.referrals = append(p.referrals, e)
		if p.status == StatusOpen {
			p.status = StatusInProgress
		}
	case ProblemResolved:
		r := e
		p.resolution, p.status, p.satisfaction = &r, StatusResolved, 0
	case ProblemSatisfactionRated:
		p.satisfaction = e.Score
	case ProblemRevisited:
		p.revisits = append(p.revisits, e)
	case ProblemReopened:
		p.status, p.clockStart, p.policyVersion, p.reopens = StatusOpen, e.At, e.PolicyVersion, p.reopens+1
		p.resolution, p.satisfaction, p.closed = nil, 0, nil
		p.timeLimit, p.sessions, p.due, p.assignedAt = Span{}, 0, time.Time{}, time.Time{}
		p.dueBasis, p.dueByPerson = CalendarBasis{}, false
	case ProblemClosed:
		c := e
		p.closed, p.status = &c, StatusClosed
	case ProblemDeadlineApproaching:
		p.alerts.record(e.DeadlineAlert, StageApproaching)
	case ProblemDeadlineBreached:
		p.alerts.record(e.DeadlineAlert, StageBreached)
	case ProblemDeadlineRescheduled:
		p.alerts.reschedule(e.DeadlineRescheduled)
		if e.Kind == ClockProblemResolution && p.due.Equal(e.OldDue) && p.assignedAt.Equal(e.ClockStart) {
			p.due, p.dueBasis = e.NewDue, e.Calendar
		}
	}
}

// zh is the status in Simplified Chinese, for messages.
func (s ProblemStatus) zh() string {
	switch s {
	case StatusOpen:
		return "待处理"
	case StatusInProgress:
		return "处理中"
	case StatusResolved:
		return "已解决"
	case StatusClosed:
		return "已关闭"
	}
	return string(s)
}

func (p *Problem) name() string {
	if p.reported.Number != "" {
		return p.reported.Number
	}
	return p.id
}

// known checks meta and that the problem exists.
func (p *Problem) known(meta Meta) error {
	if err := meta.check(); err != nil {
		return err
	}
	if !p.exists {
		return newError(ErrNotFound, "problem_not_found", "problem_id",
			fmt.Sprintf("problem %s is not in the ledger; report it first", p.id),
			fmt.Sprintf("问题 %s 不在台账中；请先登记", p.id))
	}
	return nil
}

// open checks that the problem is being handled (open or in progress).
// action/actionZH complete "reopen it before …".
func (p *Problem) open(meta Meta, action, actionZH string) error {
	if err := p.known(meta); err != nil {
		return err
	}
	if p.active() {
		return nil
	}
	return newError(ErrRule, "problem_not_open", "status",
		fmt.Sprintf("problem %s is %s; reopen it before %s", p.name(), p.status, action),
		fmt.Sprintf("问题 %s %s；请先重新打开再%s", p.name(), p.status.zh(), actionZH))
}

// resolvedOnce checks that the problem carries a resolution (resolved, or closed after one).
func (p *Problem) resolvedOnce(meta Meta, action, actionZH string) error {
	if err := p.known(meta); err != nil {
		return err
	}
	if p.resolution == nil {
		return newError(ErrRule, "problem_not_resolved", "status",
			fmt.Sprintf("problem %s is %s, not resolved; resolve it before %s", p.name(), strings.ReplaceAll(string(p.status), "_", " "), action),
			fmt.Sprintf("问题 %s %s，尚未解决；请先办结再%s", p.name(), p.status.zh(), actionZH))
	}
	return nil
}

// CheckProblemNumber validates a ledger number "WT" + 4-digit year + 6-digit
// sequence (from 000001), e.g. WT2026000123, and that its year is year.
func CheckProblemNumber(number string, year int) error {
	bad := func() error {
		q := Clip(number, MaxEchoBytes)
		return newError(ErrInvalid, "invalid_number", "number",
			fmt.Sprintf("problem number %q is not valid; use WT, the 4-digit year and a 6-digit sequence, e.g. WT%d000123", q, year),
			fmt.Sprintf("问题编号 %q 无效；格式为 WT + 4 位年份 + 6 位序号，例如 WT%d000123", q, year))
	}
	if len(number) != 12 || !strings.HasPrefix(number, "WT") {
		return bad()
	}
	for _, r := range number[2:] {
		if r < '0' || r > '9' {
			return bad()
		}
	}
	y, _ := strconv.Atoi(number[2:6])
	if number[6:] == "000000" {
		return bad()
	}
	if y != year {
		return newError(ErrInvalid, "number_year_mismatch", "number",
			fmt.Sprintf("problem number %s belongs to %d but the problem is reported in %d; take a number from the %d sequence", number, y, year, year),
			fmt.Sprintf("问题编号 %s 属于 %d 年，但问题登记于 %d 年；请使用 %d 年的编号", number, y, year, year))
	}
	return nil
}

// ReportProblem is the input of Problem.Report.
type ReportProblem struct {
	Number        string // allocated by the caller; its year must be meta.At's year (in meta.At's location)
	HouseholdID   string
	VisitID       string // the visit it was found in, if any
	Description   string
	Category      ProblemCategory
	HandlingClass HandlingClass
	Colour        Colour
	Urgency       Urgency
	FoundBy       string // defaults to meta.Actor
}

func checkClassification(h HandlingClass, c Colour, u Urgency) error {
	if !oneOf(h, HandlingImmediate, HandlingCoordinated, HandlingLongTerm) {
		return badValue("handling_class", "handling class", "处置类别", h, HandlingImmediate, HandlingCoordinated, HandlingLongTerm)
	}
	if !oneOf(c, ColourRed, ColourYellow, ColourGreen) {
		return badValue("colour", "colour", "颜色等级", c, ColourRed, ColourYellow, ColourGreen)
	}
	if !oneOf(u, UrgencyUrgent, UrgencyOrdinary) {
		return badValue("urgency", "urgency", "紧急程度", u, UrgencyUrgent, UrgencyOrdinary)
	}
	return nil
}

// Report registers the problem. ErrConflict "problem_exists" if already reported.
func (p *Problem) Report(meta Meta, pol *Policy, in ReportProblem) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if p.exists {
		return nil, newError(ErrConflict, "problem_exists", "problem_id",
			// The same answer for every caller, whether or not it may see
			// the problem: nothing of the problem (its number, household)
			// is told (decision 0088).
			fmt.Sprintf("problem id %s is already taken; report the problem with another id, or leave problem_id out to have one made", p.id),
			fmt.Sprintf("问题编号 %s 已被占用；请换一个编号上报，或不填 problem_id 由系统生成", p.id))
	}
	if p.id == "" {
		return nil, required("problem_id", "the problem id", "问题编号")
	}
	if err := checkIDs("problem_id", p.id, "household_id", in.HouseholdID, "visit_id", in.VisitID); err != nil {
		return nil, err
	}
	if err := CheckProblemNumber(in.Number, meta.At.Year()); err != nil {
		return nil, err
	}
	switch {
	case in.HouseholdID == "":
		return nil, required("household_id", "the household", "所属家庭")
	case strings.TrimSpace(in.Description) == "":
		return nil, required("description", "the description", "问题描述")
	}
	cats := []ProblemCategory{ProblemPolicy, ProblemService, ProblemResource, ProblemPsychological, ProblemLivingSecurity, ProblemHealth, ProblemSocialIntegration}
	if !oneOf(in.Category, cats...) {
		return nil, badValue("category", "problem category", "问题类别", in.Category, cats...)
	}
	if err := checkClassification(in.HandlingClass, in.Colour, in.Urgency); err != nil {
		return nil, err
	}
	if in.FoundBy == "" {
		in.FoundBy = meta.Actor
	}
	return []Event{ProblemReported{ProblemID: p.id, Number: in.Number, HouseholdID: in.HouseholdID, VisitID: in.VisitID,
		Description: in.Description, Category: in.Category, HandlingClass: in.HandlingClass, Colour: in.Colour,
		Urgency: in.Urgency, FoundBy: in.FoundBy, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// Reclassify changes handling class, colour and urgency (give all three; at
// least one must differ) with a reason.
func (p *Problem) Reclassify(meta Meta, pol *Policy, h HandlingClass, c Colour, u Urgency, reason string) ([]Event, error) {
	if err := p.open(meta, "reclassifying it", "调整分类"); err != nil {
		return nil, err
	}
	if err := checkClassification(h, c, u); err != nil {
		return nil, err
	}
	if h == p.handling && c == p.colour && u == p.urgency {
		return nil, noChange("handling_class", "the classification", "分类", fmt.Sprintf("%s/%s/%s", h, c, u))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{ProblemReclassified{FromHandlingClass: p.handling, HandlingClass: h, FromColour: p.colour, Colour: c,
		FromUrgency: p.urgency, Urgency: u, Reason: reason, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// AssignProblem is the input of Problem.Assign.
type AssignProblem struct {
	To        string // the responsible person; may equal the current assignee when only setting a limit
	Reason    string // required when the assignee changes
	TimeLimit Span   // optional; starts the resolution clock
	Sessions  int    // optional; a limit in sessions (no clock)
}

// Assign (re)assigns the problem and/or sets its time limit. A time limit
// can be set once per handling cycle; move it later with ExtendDeadline. cal
// is used only when TimeLimit is set (nil otherwise is fine).
func (p *Problem) Assign(meta Meta, cal WorkingDayCalendar, in AssignProblem) ([]Event, error) {
	if err := p.open(meta, "assigning it", "指派"); err != nil {
		return nil, err
	}
	limit := !in.TimeLimit.IsZero() || in.Sessions > 0
	switch {
	case in.To == "":
		return nil, required("to", "the responsible person", "责任人")
	case in.Sessions < 0 || in.TimeLimit.N < 0:
		return nil, newError(ErrInvalid, "invalid_time_limit", "time_limit",
			"the time limit must be positive; give a span such as \"5 working_days\" or a number of sessions",
			"时限必须为正；请填写如“5 个工作日”的时限或次数")
	case in.To == p.assignee && !limit:
		return nil, noChange("to", "the responsible person", "责任人", in.To)
	case in.To != p.assignee && in.Reason == "":
		return nil, reasonRequired("reason")
	case limit && (!p.due.IsZero() || p.sessions > 0):
		return nil, newError(ErrRule, "time_limit_already_set", "time_limit",
			fmt.Sprintf("problem %s already has a time limit; extend the deadline with a reason instead", p.name()),
			fmt.Sprintf("问题 %s 已设定时限；如需延长，请填写原因申请延期", p.name()))
	}
	ev := ProblemAssigned{From: p.assignee, To: in.To, Reason: in.Reason, TimeLimit: in.TimeLimit, Sessions: in.Sessions, At: meta.At, By: meta.Actor}
	if !in.TimeLimit.IsZero() {
		due, err := DueAfter(cal, meta.At, in.TimeLimit)
		if err != nil {
			return nil, deadlineErr(Clock{Kind: ClockProblemResolution, Start: meta.At}, err)
		}
		if err := CheckInstant("time_limit", due.At); err != nil {
			return nil, err
		}
		ev.Due, ev.Calendar = due.At, due.Basis
	}
	return []Event{ev}, nil
}

// ExtendDeadline moves the resolution deadline to a later instant, with a reason.
func (p *Problem) ExtendDeadline(meta Meta, to time.Time, reason string) ([]Event, error) {
	if err := p.open(meta, "extending its deadline", "延期"); err != nil {
		return nil, err
	}
	if p.due.IsZero() {
		return nil, newError(ErrRule, "no_deadline", "to",
			fmt.Sprintf("problem %s has no time limit to extend; set one when assigning it", p.name()),
			fmt.Sprintf("问题 %s 没有可延长的时限；请在指派时设定时限", p.name()))
	}
	if err := CheckInstant("to", to); err != nil {
		return nil, err
	}
	if !to.After(p.due) {
		return nil, newError(ErrInvalid, "extension_not_later", "to",
			fmt.Sprintf("the new deadline %s is not later than the current one %s; choose a later time", to.Format(time.RFC3339), p.due.Format(time.RFC3339)),
			fmt.Sprintf("新期限 %s 不晚于当前期限 %s；请选择更晚的时间", to.Format(time.RFC3339), p.due.Format(time.RFC3339)))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{ProblemDeadlineExtended{From: p.due, To: to, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

func followUps() []FollowUpMethod {
	return []FollowUpMethod{FollowPhone, FollowHomeVisit, FollowVideo, FollowOnline, FollowOffice}
}

// NoteProgress records a follow-up with its method.
func (p *Problem) NoteProgress(meta Meta, pol *Policy, note string, method FollowUpMethod) ([]Event, error) {
	if err := p.open(meta, "adding progress", "添加进展"); err != nil {
		return nil, err
	}
	if strings.TrimSpace(note) == "" {
		return nil, required("note", "the progress note", "进展说明")
	}
	if !oneOf(method, followUps()...) {
		return nil, badValue("follow_up", "follow-up method", "跟进方式", method, followUps()...)
	}
	return []Event{ProblemProgressNoted{Note: note, FollowUp: method, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// NoteReferral records that the problem was referred (referral id, level,
// receiver): referring starts the work, so an open problem moves to
// in_progress and its first-response clock stops (001 §2.2.2 分流; 001
// §3.1). A problem that is not being handled (resolved or closed) records
// nothing: the referral stands on its own stream. A referral already noted
// records nothing either.
func (p *Problem) NoteReferral(meta Meta, referralID string, level ReferralLevel, to string) ([]Event, error) {
	if err := p.known(meta); err != nil {
		return nil, err
	}
	if !p.active() {
		return nil, nil
	}
	for _, r := range p.referrals {
		if r.ReferralID == referralID {
			return nil, nil
		}
	}
	if referralID == "" {
		return nil, required("referral_id", "the referral id", "转介编号")
	}
	if err := checkIDs("referral_id", referralID); err != nil {
		return nil, err
	}
	if to == "" {
		return nil, required("to", "the receiving organisation", "接收单位")
	}
	return []Event{ProblemReferred{ReferralID: referralID, Level: level, To: to, At: meta.At, By: meta.Actor}}, nil
}

// Resolve records the resolution and the resources linked.
func (p *Problem) Resolve(meta Meta, summary string, resources []LinkedResource) ([]Event, error) {
	if err := p.open(meta, "resolving it again", "再次办结"); err != nil {
		return nil, err
	}
	if strings.TrimSpace(summary) == "" {
		return nil, required("summary", "the resolution summary", "办结说明")
	}
	kinds := []ResourceKind{ResourceMoney, ResourceGoods, ResourceService, ResourcePolicy}
	for _, r := range resources {
		if !oneOf(r.Kind, kinds...) {
			return nil, badValue("resources", "resource kind", "资源类型", r.Kind, kinds...)
		}
		if r.Description == "" {
			return nil, required("resources", "a description of each resource", "资源说明")
		}
		if r.AmountCents < 0 {
			return nil, newError(ErrInvalid, "invalid_amount", "resources", "an amount cannot be negative; enter the amount in fen", "金额不能为负；请以分为单位填写")
		}
	}
	return []Event{ProblemResolved{Summary: summary, Resources: slices.Clone(resources), At: meta.At, By: meta.Actor}}, nil
}

// RateSatisfaction records the household's satisfaction (1–5) with the
// current resolution; once per resolution.
func (p *Problem) RateSatisfaction(meta Meta, score int, comment string) ([]Event, error) {
	if err := p.resolvedOnce(meta, "rating satisfaction", "评价满意度"); err != nil {
		return nil, err
	}
	if score < 1 || score > 5 {
		return nil, newError(ErrInvalid, "invalid_score", "score",
			fmt.Sprintf("satisfaction %d is out of range; give a score from 1 (very dissatisfied) to 5 (very satisfied)", score),
			fmt.Sprintf("满意度 %d 超出范围；请填写 1（很不满意）到 5（很满意）", score))
	}
	if p.satisfaction != 0 {
		return nil, newError(ErrConflict, "already_rated", "score",
			fmt.Sprintf("the resolution of problem %s is already rated %d; a new rating needs a new resolution", p.name(), p.satisfaction),
			fmt.Sprintf("问题 %s 的办结已评价为 %d；重新评价需先重新办结", p.name(), p.satisfaction))
	}
	return []Event{ProblemSatisfactionRated{Score: score, Comment: comment, At: meta.At, By: meta.Actor}}, nil
}

// RevisitProblem is the input of Problem.Revisit.
type RevisitProblem struct {
	Held         bool // false: the problem recurred
	Method       FollowUpMethod
	Note         string // required when it recurred
	Satisfaction int    // 1–5; required under a policy with return-visit rules
}

// Revisit records a return visit (回访) checking that the resolution holds
// (004 §3.2 解决后回访). Under a policy with return-visit rules
// (pol.ReturnVisit) the visitor's role must be one the policy names, the
// household's satisfaction is required (and recorded as the rating when the
// resolution is not rated yet), the visit is marked independent when made by
// someone other than the resolver or through an allowed channel, and a
// visit that finds the problem recurred or the household unsatisfied
// (below reopen_below) reopens the problem in the same command (001 §2.2.2:
// the loop closes only when the household is satisfied).
func (p *Problem) Revisit(meta Meta, pol *Policy, in RevisitProblem) ([]Event, error) {
	if err := p.resolvedOnce(meta, "revisiting it", "回访"); err != nil {
		return nil, err
	}
	if !oneOf(in.Method, followUps()...) {
		return nil, badValue("method", "follow-up method", "跟进方式", in.Method, followUps()...)
	}
	if !in.Held && in.Note == "" {
		return nil, required("note", "a note on what recurred", "复发情况说明")
	}
	rv := pol.ReturnVisit
	if in.Satisfaction != 0 || rv.enabled() {
		if in.Satisfaction < 1 || in.Satisfaction > 5 {
			return nil, newError(ErrInvalid, "invalid_score", "satisfaction",
				fmt.Sprintf("a return visit records the household's satisfaction from 1 (very dissatisfied) to 5 (very satisfied); %d is not one", in.Satisfaction),
				fmt.Sprintf("回访须记录住户满意度，1（很不满意）到 5（很满意）；%d 无效", in.Satisfaction))
		}
	}
	ev := ProblemRevisited{Held: in.Held, Method: in.Method, Note: in.Note, Satisfaction: in.Satisfaction, At: meta.At, By: meta.Actor}
	if !rv.enabled() {
		return []Event{ev}, nil
	}
	if !oneOf(meta.Role, rv.Roles...) {
		ren, rzh := RoleLabel(meta.Role)
		return nil, newError(ErrRule, "return_visit_role", "role",
			fmt.Sprintf("a %s may not record a return visit under policy %s; it is made by one of %s", ren, pol.Version, strings.Join(rv.Roles, ", ")),
			fmt.Sprintf("按策略 %s，%s不能记录回访；回访应由%s进行", pol.Version, rzh, rolesZH(rv.Roles)))
	}
	if !meta.At.After(p.resolution.At) {
		return nil, newError(ErrRule, "return_visit_before_resolution", "at",
			fmt.Sprintf("a return visit comes after the resolution (%s); record it with a later time", p.resolution.At.Format(time.RFC3339)),
			fmt.Sprintf("回访须在办结（%s）之后进行；请填写更晚的时间", p.resolution.At.Format(time.RFC3339)))
	}
	ev.Independent = rv.independent(meta.Actor, meta.Role, in.Method, p.resolution.By)
	evs := []Event{ev}
	if p.satisfaction == 0 {
		evs = append(evs, ProblemSatisfactionRated{Score: in.Satisfaction, Comment: in.Note, At: meta.At, By: meta.Actor})
	}
	if !in.Held || in.Satisfaction < rv.ReopenBelow {
		reason := "return visit: the problem recurred / 回访发现问题复发"
		if in.Held {
			reason = fmt.Sprintf("return visit: the household is not satisfied (%d of 5) / 回访住户不满意（%d 分）", in.Satisfaction, in.Satisfaction)
		}
		evs = append(evs, ProblemReopened{Reason: reason, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor})
	}
	return evs, nil
}

// rolesZH names roles in Chinese, joined with 、.
func rolesZH(roles []string) string {
	out := make([]string, len(roles))
	for i, r := range roles {
		_, out[i] = RoleLabel(r)
	}
	return strings.Join(out, "、")
}

// returnVisited reports whether the current resolution has an independent
// return visit that found it held and the household satisfied.
func (p *Problem) returnVisited(rv ReturnVisitRules) bool {
	if p.resolution == nil {
		return false
	}
	for _, r := range p.revisits {
		if !r.At.Before(p.resolution.At) && r.Independent && r.Held && r.Satisfaction >= rv.ReopenBelow {
			return true
		}
	}
	return false
}

// AwaitsReturnVisit reports whether the problem is resolved and, under
// pol, still needs its return visit before it can close.
func (p *Problem) AwaitsReturnVisit(pol *Policy) bool {
	return p.status == StatusResolved && pol.ReturnVisit.RequiredToClose && !p.returnVisited(pol.ReturnVisit)
}

// Reopen reopens a resolved or closed problem that recurred, with a reason.
func (p *Problem) Reopen(meta Meta, pol *Policy, reason string) ([]Event, error) {
	if err := p.known(meta); err != nil {
		return nil, err
	}
	if p.active() {
		return nil, newError(ErrRule, "problem_already_open", "status",
			fmt.Sprintf("problem %s is still %s; there is nothing to reopen", p.name(), strings.ReplaceAll(string(p.status), "_", " ")),
			fmt.Sprintf("问题 %s 仍为%s；无需重新打开", p.name(), p.status.zh()))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{ProblemReopened{Reason: reason, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// Close ends the closed loop. Closing a problem that is not resolved
// (withdrawn, duplicate, …) needs a reason. Under a policy that requires a
// return visit to close, a resolved problem closes only after an
// independent return visit found it held and the household satisfied
// ("return_visit_required" otherwise).
func (p *Problem) Close(meta Meta, pol *Policy, reason string) ([]Event, error) {
	if err := p.known(meta); err != nil {
		return nil, err
	}
	if p.status == StatusClosed {
		return nil, newError(ErrRule, "problem_closed", "status",
			fmt.Sprintf("problem %s is already closed; reopen it if it recurred", p.name()),
			fmt.Sprintf("问题 %s 已关闭；如问题复发请重新打开", p.name()))
	}
	resolved := p.status == StatusResolved
	if resolved && p.AwaitsReturnVisit(pol) {
		by := p.resolution.By
		return nil, newError(ErrRule, "return_visit_required", "status",
			fmt.Sprintf("problem %s was resolved by %s; it closes only after a return visit by someone else (or a phone survey by the supervisor's office) finds it held and records the household's satisfaction", p.name(), by),
			fmt.Sprintf("问题 %s 由%s办结；须由他人回访（或督导办电话回访）确认问题已解决并记录住户满意度后方可关闭", p.name(), by))
	}
	if !resolved && reason == "" {
		return nil, newError(ErrInvalid, "required", "reason",
			fmt.Sprintf("problem %s is not resolved; give a reason to close it unresolved, or resolve it first", p.name()),
			fmt.Sprintf("问题 %s 尚未解决；未解决关闭须填写原因，或先办结", p.name()))
	}
	return []Event{ProblemClosed{Reason: reason, Resolved: resolved, At: meta.At, By: meta.Actor}}, nil
}

// RescheduleDeadline records that a running deadline moves from old to
// next (see Household.RescheduleDeadline).
func (p *Problem) RescheduleDeadline(meta Meta, old, next Deadline) ([]Event, error) {
	e, noop, err := decideReschedule(meta, p.Clocks(), old, next)
	if err != nil || noop {
		return nil, err
	}
	return []Event{ProblemDeadlineRescheduled{e}}, nil
}

// RecordDeadlineAlert records an approaching or breached alert on a running
// clock; see Household.RecordDeadlineAlert for the contract.
func (p *Problem) RecordDeadlineAlert(meta Meta, d Deadline, stage AlertStage, supervisor string) ([]Event, error) {
	if err := p.known(meta); err != nil {
		return nil, err
	}
	a, noop, err := decideAlert(meta, p.Clocks(), d, stage, supervisor)
	if err != nil || noop {
		return nil, err
	}
	if stage == StageBreached {
		return []Event{ProblemDeadlineBreached{a}}, nil
	}
	return []Event{ProblemDeadlineApproaching{a}}, nil
}
