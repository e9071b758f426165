package domain

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Rectification (整改) event types (stream RectificationStream(id)). Durable names.
const (
	TypeRectificationOpened              = "rectification.opened"
	TypeRectificationInterviewRecorded   = "rectification.interview_recorded"
	TypeRectificationReviewed            = "rectification.reviewed"
	TypeRectificationDeadlineApproaching = "rectification.deadline_approaching"
	TypeRectificationDeadlineBreached    = "rectification.deadline_breached"
	TypeRectificationDeadlineRescheduled = "rectification.deadline_rescheduled"
)

// ClockRectification is the 限期整改 deadline of an open rectification case.
const ClockRectification ClockKind = "rectification"

// RectificationStream is the stream of one rectification case.
func RectificationStream(id string) string { return "rectification-" + id }

// RectificationSource says what opened a case.
type RectificationSource string

const (
	// SourceFlag: a flag raised at a period close (the "two consecutive
	// closed months below 80%" of 001 §2.4.4: 约谈社区书记并限期整改).
	SourceFlag RectificationSource = "flag"
	// SourceSpotCheck: a spot check found a visit record untrue (001 §3.4:
	// 对发现的问题下发整改通知书，限期整改): the case is the 整改通知书.
	SourceSpotCheck RectificationSource = "spot_check"
	// SourceSurvey: a community's half-yearly satisfaction survey closed
	// below the policy's return rate or satisfaction (001 §3.4: 问卷回收率
	// 不低于80%，满意度低于80%的社区需限期整改; decision 0127).
	SourceSurvey RectificationSource = "survey"
)

// ReviewResult is the outcome of a 回头看.
type ReviewResult string

const (
	ReviewPassed ReviewResult = "passed" // 整改到位: the case closes
	ReviewFailed ReviewResult = "failed" // 整改不到位: stays open with a new deadline
)

// RectificationOpened opens a case for a community with its 限期整改
// deadline: TimeLimit (the policy's) from At, due at Due under Calendar.
type RectificationOpened struct {
	Community string              `json:"community"`
	Source    RectificationSource `json:"source"`
	// The flag that opened it (Source flag): its event id, measure and periods.
	FlagEventID string   `json:"flag_event_id,omitempty"`
	Measure     string   `json:"measure,omitempty"`
	Periods     []string `json:"periods,omitempty"`
	// The spot check that opened it (Source spot_check): the finding's
	// event id and the visit found untrue.
	FindingEventID string    `json:"finding_event_id,omitempty"`
	Visit          *VisitRef `json:"visit,omitempty"`
	// The survey that opened it (Source survey): its closing's event id
	// (Periods names the half-year).
	SurveyEventID string        `json:"survey_event_id,omitempty"`
	ReasonEN      string        `json:"reason_en"`
	ReasonZH      string        `json:"reason_zh"`
	TimeLimit     Span          `json:"time_limit"`
	Due           time.Time     `json:"due"`
	Calendar      CalendarBasis `json:"calendar,omitzero"`
	PolicyVersion string        `json:"policy_version"`
	At            time.Time     `json:"at"`
	By            string        `json:"by"`
}

// RectificationInterviewRecorded records a 约谈: who held it with whom,
// when, and the minutes (free text about the community, not a household).
type RectificationInterviewRecorded struct {
	Interviewer string    `json:"interviewer"`
	Interviewee string    `json:"interviewee"`
	HeldAt      time.Time `json:"held_at"`
	Minutes     string    `json:"minutes"`
	At          time.Time `json:"at"`
	By          string    `json:"by"`
}

// RectificationReviewed records a 回头看 and its result. Passed closes the
// case; failed keeps it open with a new deadline (TimeLimit from At, due
// at Due), the policy's after_failed_review.
type RectificationReviewed struct {
	Result        ReviewResult  `json:"result"`
	Findings      string        `json:"findings"`
	TimeLimit     Span          `json:"time_limit,omitzero"`
	Due           time.Time     `json:"due,omitzero"`
	Calendar      CalendarBasis `json:"calendar,omitzero"`
	PolicyVersion string        `json:"policy_version"`
	At            time.Time     `json:"at"`
	By            string        `json:"by"`
}

// RectificationDeadlineApproaching / …Breached / …Rescheduled: the deadline
// watcher's events on the case's deadline.
type RectificationDeadlineApproaching struct{ DeadlineAlert }
type RectificationDeadlineBreached struct{ DeadlineAlert }
type RectificationDeadlineRescheduled struct{ DeadlineRescheduled }

func (RectificationOpened) EventType() string            { return TypeRectificationOpened }
func (RectificationInterviewRecorded) EventType() string { return TypeRectificationInterviewRecorded }
func (RectificationReviewed) EventType() string          { return TypeRectificationReviewed }
func (RectificationDeadlineApproaching) EventType() string {
	return TypeRectificationDeadlineApproaching
}
func (RectificationDeadlineBreached) EventType() string { return TypeRectificationDeadlineBreached }
func (RectificationDeadlineRescheduled) EventType() string {
	return TypeRectificationDeadlineRescheduled
}

// HappenedAt implements Happened: the interview took place at HeldAt,
// which may be hours before it was recorded.
func (e RectificationInterviewRecorded) HappenedAt() time.Time { return e.HeldAt }

// RectificationRules: the 限期整改 of a rectification case (001 §2.4.4,
// §3.4). The seeds give no length; the shipped policies set it.
type RectificationRules struct {
	// TimeLimit: the deadline from the opening of a case.
	TimeLimit Span `yaml:"time_limit" json:"time_limit"`
	// AfterFailedReview: the new deadline from a 回头看 that found the
	// rectification not done (zero: TimeLimit again).
	AfterFailedReview Span `yaml:"after_failed_review,omitempty" json:"after_failed_review,omitzero"`
	// InterviewBeforeReview: a case opened by a flag is reviewed only after
	// its 约谈 was recorded (约谈社区书记并限期整改).
	InterviewBeforeReview bool `yaml:"interview_before_review,omitempty" json:"interview_before_review,omitempty"`
	// OpenOn lists the flag measures (MeasuresFlagRaised.Measure) that
	// open a case for the flagged community.
	OpenOn []string `yaml:"open_on,omitempty" json:"open_on,omitempty"`
}

// OpensOn reports whether a flag of measure opens a case.
func (r RectificationRules) OpensOn(measure string) bool { return slices.Contains(r.OpenOn, measure) }

func (r RectificationRules) validate() error {
	if r.TimeLimit.IsZero() && r.AfterFailedReview.IsZero() && len(r.OpenOn) == 0 {
		return nil
	}
	if len(r.OpenOn) > 32 {
		return policyErr("rectification.open_on", "rectification.open_on lists at most 32 measures", "rectification.open_on 最多列出 32 项指标")
	}
	if r.TimeLimit.IsZero() {
		return policyErr("rectification.time_limit", "rectification.time_limit is missing", "缺少 rectification.time_limit")
	}
	for f, s := range map[string]Span{"rectification.time_limit": r.TimeLimit, "rectification.after_failed_review": r.AfterFailedReview} {
		if s.Unit == UnitHour || s.N > 366 {
			return policyErr(f, fmt.Sprintf("%s must be in days, working days, weeks or months, at most 366 of them, not %s", f, s),
				fmt.Sprintf("%s 须以天、工作日、周或月为单位，且不超过 366，而不是 %s", f, s.ZH()))
		}
	}
	return nil
}

// RectificationStatus is open or closed.
type RectificationStatus string

const (
	RectificationOpen   RectificationStatus = "open"
	RectificationClosed RectificationStatus = "closed"
)

// Rectification is the aggregate of one rectification case (整改). Start
// from NewRectification. Not safe for concurrent use.
type Rectification struct {
	id         string
	version    uint64
	exists     bool
	opened     RectificationOpened
	status     RectificationStatus
	start      time.Time
	limit      Span
	due        time.Time
	basis      CalendarBasis
	policy     string
	interviews []RectificationInterviewRecorded
	reviews    []RectificationReviewed
	alerts     alertMarks
}

// NewRectification returns the empty case id.
func NewRectification(id string) *Rectification { return &Rectification{id: id, alerts: alertMarks{}} }

// ID, Version, Exists, Opened, Status, Community, Interviews, Reviews read the case.
func (r *Rectification) ID() string                  { return r.id }
func (r *Rectification) Version() uint64             { return r.version }
func (r *Rectification) Exists() bool                { return r.exists }
func (r *Rectification) Opened() RectificationOpened { return r.opened }
func (r *Rectification) Status() RectificationStatus { return r.status }
func (r *Rectification) Community() string           { return r.opened.Community }
func (r *Rectification) Interviews() []RectificationInterviewRecorded {
	return slices.Clone(r.interviews)
}
func (r *Rectification) Reviews() []RectificationReviewed { return slices.Clone(r.reviews) }

// Deadline returns the running deadline's start, due instant and basis
// (zero when closed).
func (r *Rectification) Deadline() (start, due time.Time, basis CalendarBasis) {
	if r.status != RectificationOpen {
		return time.Time{}, time.Time{}, CalendarBasis{}
	}
	return r.start, r.due, r.basis
}

// Apply implements Aggregate.
func (r *Rectification) Apply(e Event) {
	r.version++
	switch e := e.(type) {
	case RectificationOpened:
		r.exists, r.opened, r.status = true, e, RectificationOpen
		r.start, r.limit, r.due, r.basis, r.policy = e.At, e.TimeLimit, e.Due, e.Calendar, e.PolicyVersion
	case RectificationInterviewRecorded:
		r.interviews = append(r.interviews, e)
	case RectificationReviewed:
		r.reviews = append(r.reviews, e)
		if e.Result == ReviewPassed {
			r.status = RectificationClosed
		} else {
			r.start, r.limit, r.due, r.basis, r.policy = e.At, e.TimeLimit, e.Due, e.Calendar, e.PolicyVersion
		}
	case RectificationDeadlineApproaching:
		r.alerts.record(e.DeadlineAlert, StageApproaching)
	case RectificationDeadlineBreached:
		r.alerts.record(e.DeadlineAlert, StageBreached)
	case RectificationDeadlineRescheduled:
		r.alerts.reschedule(e.DeadlineRescheduled)
		if e.Kind == ClockRectification && r.due.Equal(e.OldDue) && r.start.Equal(e.ClockStart) {
			r.due, r.basis = e.NewDue, e.Calendar
		}
	}
}

// Alerts returns the approaching and breached marks of the running deadline.
func (r *Rectification) Alerts() (approached, breached bool) {
	for _, c := range r.Clocks() {
		return c.Approached, c.Breached
	}
	return false, false
}

// Clocks returns the 限期整改 deadline while the case is open. The
// interviewee of the last 约谈 (the community's secretary) answers for it.
func (r *Rectification) Clocks() []Clock {
	if !r.exists || r.status != RectificationOpen {
		return nil
	}
	c := Clock{Kind: ClockRectification, Subject: r.id, Start: r.start, PolicyVersion: r.policy, Due: r.due, Basis: r.basis, Limit: r.limit}
	if n := len(r.interviews); n > 0 {
		c.Responsible = r.interviews[n-1].Interviewee
	}
	return []Clock{r.alerts.stamp(c)}
}

// OpenRectification is the input of Rectification.Open.
type OpenRectification struct {
	Community      string
	Source         RectificationSource
	FindingEventID string
	Visit          *VisitRef
	SurveyEventID  string
	FlagEventID    string
	Measure        string
	Periods        []string
	ReasonEN       string
	ReasonZH       string
}

// Open opens the case with the policy's 限期整改 deadline from meta.At.
// Opening a case that exists returns no events (the process manager that
// opens cases may run twice).
func (r *Rectification) Open(meta Meta, cal WorkingDayCalendar, pol *Policy, in OpenRectification) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if r.exists {
		return nil, nil
	}
	if err := checkIDs("id", r.id, "community", in.Community); err != nil {
		return nil, err
	}
	if !oneOf(in.Source, SourceFlag, SourceSpotCheck, SourceSurvey) {
		return nil, badValue("source", "rectification source", "整改来源", in.Source, SourceFlag, SourceSpotCheck, SourceSurvey)
	}
	if len(in.Periods) > 12 {
		return nil, newError(ErrInvalid, "too_many_periods", "periods", "at most 12 periods name a rectification", "整改最多关联 12 个期间")
	}
	for _, s := range []string{in.ReasonEN, in.ReasonZH} {
		if err := CheckText("reason", s); err != nil {
			return nil, err
		}
	}
	limit := pol.Rectification.TimeLimit
	if limit.IsZero() {
		return nil, newError(ErrRule, "no_rectification_rules", "policy",
			fmt.Sprintf("policy %s sets no rectification time limit; load a policy with rectification.time_limit", pol.Version),
			fmt.Sprintf("策略 %s 未设定整改时限；请加载设有 rectification.time_limit 的策略", pol.Version))
	}
	due, err := DueAfter(cal, meta.At, limit)
	if err != nil {
		return nil, deadlineErr(Clock{Kind: ClockRectification, Start: meta.At}, err)
	}
	return []Event{RectificationOpened{Community: in.Community, Source: in.Source, FlagEventID: in.FlagEventID, Measure: in.Measure,
		FindingEventID: in.FindingEventID, Visit: in.Visit, SurveyEventID: in.SurveyEventID,
		Periods: slices.Clone(in.Periods), ReasonEN: in.ReasonEN, ReasonZH: in.ReasonZH, TimeLimit: limit, Due: due.At, Calendar: due.Basis,
		PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

func (r *Rectification) known(meta Meta) error {
	if err := meta.check(); err != nil {
		return err
	}
	if !r.exists {
		return newError(ErrNotFound, "rectification_not_found", "id",
			fmt.Sprintf("there is no rectification case %s", Clip(r.id, MaxEchoBytes)),
			fmt.Sprintf("不存在整改事项 %s", Clip(r.id, MaxEchoBytes)))
	}
	return nil
}

func (r *Rectification) open(meta Meta, en, zh string) error {
	if err := r.known(meta); err != nil {
		return err
	}
	if r.status != RectificationOpen {
		return newError(ErrRule, "rectification_closed", "id",
			fmt.Sprintf("rectification case %s is closed (its review passed); %s is no longer possible", Clip(r.id, MaxEchoBytes), en),
			fmt.Sprintf("整改事项 %s 已办结（回头看已通过），不能再%s", Clip(r.id, MaxEchoBytes), zh))
	}
	return nil
}

// RecordInterview is the input of Rectification.RecordInterview.
type RecordInterview struct {
	Interviewer string    // who held the 约谈 (the street's leader or supervisor)
	Interviewee string    // with whom (the community's secretary)
	HeldAt      time.Time // when it took place: not after the recording
	Minutes     string
}

func checkPerson(field, en, zh, s string) error {
	switch {
	case s == "":
		return required(field, en, zh)
	case len(s) > MaxPersonNameBytes || !utf8.ValidString(s):
		return newError(ErrInvalid, "invalid_name", field,
			fmt.Sprintf("%s must be valid UTF-8 of at most %d bytes", field, MaxPersonNameBytes),
			fmt.Sprintf("%s须为不超过 %d 字节的有效 UTF-8 文本", zh, MaxPersonNameBytes))
	}
	return CheckName(field, s)
}

// RecordInterview records a 约谈 held on the case.
func (r *Rectification) RecordInterview(meta Meta, in RecordInterview) ([]Event, error) {
	if err := r.open(meta, "recording an interview", "记录约谈"); err != nil {
		return nil, err
	}
	if err := checkPerson("interviewer", "who held the interview", "约谈人", in.Interviewer); err != nil {
		return nil, err
	}
	if err := checkPerson("interviewee", "who was interviewed", "被约谈人", in.Interviewee); err != nil {
		return nil, err
	}
	if in.HeldAt.IsZero() {
		return nil, required("held_at", "when the interview took place", "约谈时间")
	}
	if err := CheckInstant("held_at", in.HeldAt); err != nil {
		return nil, err
	}
	if in.HeldAt.After(meta.At) || in.HeldAt.Before(r.opened.At) {
		return nil, newError(ErrInvalid, "invalid_held_at", "held_at",
			"the interview must have taken place after the case opened and not after it is recorded",
			"约谈时间须在整改事项开立之后、且不晚于录入时间")
	}
	if in.Minutes == "" {
		return nil, required("minutes", "the minutes of the interview", "约谈记录")
	}
	if err := CheckText("minutes", in.Minutes); err != nil {
		return nil, err
	}
	return []Event{RectificationInterviewRecorded{Interviewer: in.Interviewer, Interviewee: in.Interviewee, HeldAt: in.HeldAt,
		Minutes: in.Minutes, At: meta.At, By: meta.Actor}}, nil
}

// Review records a 回头看 and its result: passed closes the case; failed
// keeps it open with the policy's new deadline from meta.At.
func (r *Rectification) Review(meta Meta, cal WorkingDayCalendar, pol *Policy, result ReviewResult, findings string) ([]Event, error) {
	if err := r.open(meta, "reviewing it", "回头看"); err != nil {
		return nil, err
	}
	if !oneOf(result, ReviewPassed, ReviewFailed) {
		return nil, badValue("result", "review result", "回头看结果", result, ReviewPassed, ReviewFailed)
	}
	if findings == "" {
		return nil, required("findings", "what the review found", "回头看情况")
	}
	if err := CheckText("findings", findings); err != nil {
		return nil, err
	}
	if pol.Rectification.InterviewBeforeReview && r.opened.Source == SourceFlag && len(r.interviews) == 0 {
		return nil, newError(ErrRule, "interview_required", "id",
			"this case was opened by a flag: record the interview with the community's secretary before the review",
			"该整改事项由预警开立：须先记录约谈社区书记，再开展回头看")
	}
	ev := RectificationReviewed{Result: result, Findings: findings, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}
	if result == ReviewFailed {
		limit := pol.Rectification.AfterFailedReview
		if limit.IsZero() {
			limit = pol.Rectification.TimeLimit
		}
		if limit.IsZero() {
			limit = r.limit
		}
		due, err := DueAfter(cal, meta.At, limit)
		if err != nil {
			return nil, deadlineErr(Clock{Kind: ClockRectification, Start: meta.At}, err)
		}
		ev.TimeLimit, ev.Due, ev.Calendar = limit, due.At, due.Basis
	}
	return []Event{ev}, nil
}

// RescheduleDeadline records that the running deadline moves from old to next.
func (r *Rectification) RescheduleDeadline(meta Meta, old, next Deadline) ([]Event, error) {
	e, noop, err := decideReschedule(meta, r.Clocks(), old, next)
	if err != nil || noop {
		return nil, err
	}
	return []Event{RectificationDeadlineRescheduled{e}}, nil
}

// RecordDeadlineAlert records an approaching or breached alert on the
// running deadline; see Household.RecordDeadlineAlert for the contract.
func (r *Rectification) RecordDeadlineAlert(meta Meta, d Deadline, stage AlertStage, supervisor string) ([]Event, error) {
	if err := r.known(meta); err != nil {
		return nil, err
	}
	a, noop, err := decideAlert(meta, r.Clocks(), d, stage, supervisor)
	if err != nil || noop {
		return nil, err
	}
	if stage == StageBreached {
		return []Event{RectificationDeadlineBreached{a}}, nil
	}
	return []Event{RectificationDeadlineApproaching{a}}, nil
}

var rectificationLabels = map[string]label{
	string(RectificationOpen):   {"open", "整改中"},
	string(RectificationClosed): {"closed", "已办结"},
	string(ReviewPassed):        {"passed", "整改到位"},
	string(ReviewFailed):        {"failed", "整改不到位"},
	string(SourceFlag):          {"flag raised at a period close", "考核预警"},
	string(SourceSpotCheck):     {"spot check found a discrepancy (rectification notice)", "抽查发现问题（整改通知书）"},
	string(SourceSurvey):        {"half-yearly satisfaction survey below the policy's threshold", "半年度满意度问卷未达标"},
}

// Label returns how a case's status is named to a person.
func (s RectificationStatus) Label() (en, zh string) { return lookup(rectificationLabels, string(s)) }

// Label returns how a review's result is named to a person.
func (r ReviewResult) Label() (en, zh string) { return lookup(rectificationLabels, string(r)) }

// Label returns how what opened a case is named to a person.
func (s RectificationSource) Label() (en, zh string) { return lookup(rectificationLabels, string(s)) }
