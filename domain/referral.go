package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Referral is the aggregate of one referral of a problem to a department or
// organisation. A problem may have several. The zero value is not usable;
// start from NewReferral. Not safe for concurrent use.
//
// Life: requested → accepted (responsible named) | declined (reason);
// accepted → in_progress → completed (outcome); requested, accepted and
// in_progress → cancelled (reason). Escalate moves a requested, declined,
// accepted or in-progress referral one or more levels up (community →
// street → department) and makes it requested again. Completed and
// cancelled are final.
type Referral struct {
	id            string
	version       uint64
	exists        bool
	requested     ReferralRequested
	level         ReferralLevel
	to            string
	status        ReferralStatus
	clockStart    time.Time // request or last escalation
	policyVersion string
	accepted      *ReferralAccepted
	declineReason string
	outcome       *ReferralCompleted
	cancelReason  string
	escalations   []ReferralEscalated
	alerts        alertMarks
}

// NewReferral returns the empty aggregate for a referral id (stream ReferralStream(id)).
func NewReferral(id string) *Referral { return &Referral{id: id, alerts: alertMarks{}} }

// Getters.
func (r *Referral) ID() string                       { return r.id }
func (r *Referral) Version() uint64                  { return r.version }
func (r *Referral) Exists() bool                     { return r.exists }
func (r *Referral) ProblemID() string                { return r.requested.ProblemID }
func (r *Referral) HouseholdID() string              { return r.requested.HouseholdID }
func (r *Referral) RequestText() string              { return r.requested.Request }
func (r *Referral) RequestedAt() time.Time           { return r.requested.At }
func (r *Referral) Level() ReferralLevel             { return r.level }
func (r *Referral) To() string                       { return r.to }
func (r *Referral) Status() ReferralStatus           { return r.status }
func (r *Referral) DeclineReason() string            { return r.declineReason }
func (r *Referral) CancelReason() string             { return r.cancelReason }
func (r *Referral) Escalations() []ReferralEscalated { return slices.Clone(r.escalations) }
func (r *Referral) PolicyVersion() string            { return r.policyVersion }

// Requested returns the request that created the referral (its first
// level and receiver, before any escalation).
func (r *Referral) Requested() ReferralRequested { return r.requested }

// Responsible is the person the receiver named on acceptance ("" before).
func (r *Referral) Responsible() string {
	if r.accepted == nil {
		return ""
	}
	return r.accepted.Responsible
}

// Acceptance returns the current acceptance, if any.
func (r *Referral) Acceptance() (ReferralAccepted, bool) {
	if r.accepted == nil {
		return ReferralAccepted{}, false
	}
	return *r.accepted, true
}

// Outcome returns the completion, if completed.
func (r *Referral) Outcome() (ReferralCompleted, bool) {
	if r.outcome == nil {
		return ReferralCompleted{}, false
	}
	o := *r.outcome
	o.Resources = slices.Clone(o.Resources)
	return o, true
}

// Clocks returns the deadlines the referral is running: acceptance while
// requested; completion (the promised time limit) while accepted or in
// progress. Both belong to the receiving organisation (001 §3.1: the
// department settles responsibility and time limit): Department is the
// receiver, and the acceptance clock's responsible is the receiver itself
// (nobody is named there yet), never the worker who referred the problem;
// the completion clock's is the person the receiver named.
func (r *Referral) Clocks() []Clock {
	switch r.status {
	case RefRequested:
		return []Clock{r.alerts.stamp(Clock{Kind: ClockReferralAcceptance, Subject: r.id, Start: r.clockStart,
			PolicyVersion: r.policyVersion, Responsible: r.to, Department: r.to})}
	case RefAccepted, RefInProgress:
		return []Clock{r.alerts.stamp(Clock{Kind: ClockReferralCompletion, Subject: r.id, Start: r.accepted.At,
			PolicyVersion: r.policyVersion, Due: r.accepted.Due, Basis: r.accepted.Calendar, Limit: r.accepted.TimeLimit,
			Responsible: r.accepted.Responsible, Department: r.to})}
	}
	return nil
}

// Apply folds one event into the referral. It never fails.
func (r *Referral) Apply(e Event) {
	r.version++
	switch e := e.(type) {
	case ReferralRequested:
		r.exists, r.requested = true, e
		r.level, r.to, r.status, r.clockStart, r.policyVersion = e.Level, e.To, RefRequested, e.At, e.PolicyVersion
	case ReferralAccepted:
		a := e
		r.accepted, r.status = &a, RefAccepted
	case ReferralDeclined:
		r.status, r.declineReason = RefDeclined, e.Reason
	case ReferralStarted:
		r.status = RefInProgress
	case ReferralCompleted:
		c := e
		r.outcome, r.status = &c, RefCompleted
	case ReferralCancelled:
		r.status, r.cancelReason = RefCancelled, e.Reason
	case ReferralEscalated:
		r.escalations = append(r.escalations, e)
		r.level, r.to, r.status, r.clockStart, r.policyVersion = e.Level, e.To, RefRequested, e.At, e.PolicyVersion
		r.accepted, r.declineReason = nil, ""
	case ReferralDeadlineApproaching:
		r.alerts.record(e.DeadlineAlert, StageApproaching)
	case ReferralDeadlineBreached:
		r.alerts.record(e.DeadlineAlert, StageBreached)
	case ReferralDeadlineRescheduled:
		r.alerts.reschedule(e.DeadlineRescheduled)
		if a := r.accepted; a != nil && e.Kind == ClockReferralCompletion && a.Due.Equal(e.OldDue) && a.At.Equal(e.ClockStart) {
			c := *a
			c.Due, c.Calendar = e.NewDue, e.Calendar
			r.accepted = &c
		}
	}
}

// zh is the referral status in Simplified Chinese, for messages.
func (s ReferralStatus) zh() string {
	switch s {
	case RefRequested:
		return "待接收"
	case RefAccepted:
		return "已接收"
	case RefDeclined:
		return "已拒绝"
	case RefInProgress:
		return "办理中"
	case RefCompleted:
		return "已办结"
	case RefCancelled:
		return "已撤销"
	}
	return string(s)
}

// next lists what can be done in a status, for messages (English, Chinese).
func (s ReferralStatus) next() (string, string) {
	switch s {
	case RefRequested:
		return "accept, decline, escalate or cancel it", "接收、拒绝、上报或撤销"
	case RefAccepted:
		return "start, escalate or cancel it", "开始办理、上报或撤销"
	case RefDeclined:
		return "escalate it or make a new referral", "上报或重新转介"
	case RefInProgress:
		return "complete, escalate or cancel it", "办结、上报或撤销"
	}
	return "make a new referral if more help is needed", "如仍需帮助请重新转介"
}

// in checks meta, existence and that the status is one of allowed.
func (r *Referral) in(meta Meta, action, actionZH string, allowed ...ReferralStatus) error {
	if err := meta.check(); err != nil {
		return err
	}
	if !r.exists {
		return newError(ErrNotFound, "referral_not_found", "referral_id",
			fmt.Sprintf("referral %s does not exist; request it first", r.id),
			fmt.Sprintf("转介 %s 不存在；请先发起转介", r.id))
	}
	if oneOf(r.status, allowed...) {
		return nil
	}
	en, zh := r.status.next()
	return newError(ErrRule, "referral_invalid_transition", "status",
		fmt.Sprintf("referral %s is %s and cannot %s; you can %s", r.id, strings.ReplaceAll(string(r.status), "_", " "), action, en),
		fmt.Sprintf("转介 %s %s，不能%s；可以%s", r.id, r.status.zh(), actionZH, zh))
}

// RequestReferral is the input of Referral.Request.
type RequestReferral struct {
	ProblemID   string
	HouseholdID string
	Level       ReferralLevel
	To          string
	Request     string
}

// Request creates the referral. ErrConflict "referral_exists" if it exists.
func (r *Referral) Request(meta Meta, pol *Policy, in RequestReferral) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if r.exists {
		return nil, newError(ErrConflict, "referral_exists", "referral_id",
			fmt.Sprintf("referral %s already exists; make a new referral with another id", r.id),
			fmt.Sprintf("转介 %s 已存在；请使用新的编号发起转介", r.id))
	}
	switch {
	case r.id == "":
		return nil, required("referral_id", "the referral id", "转介编号")
	case in.ProblemID == "":
		return nil, required("problem_id", "the problem referred", "所转介的问题")
	case in.HouseholdID == "":
		return nil, required("household_id", "the household", "所属家庭")
	case in.To == "":
		return nil, required("to", "the receiving organisation", "接收单位")
	case strings.TrimSpace(in.Request) == "":
		return nil, required("request", "what is asked of the receiver", "转介事项")
	}
	if err := checkIDs("referral_id", r.id, "problem_id", in.ProblemID, "household_id", in.HouseholdID); err != nil {
		return nil, err
	}
	if in.Level.rank() == 0 {
		return nil, badValue("level", "referral level", "转介层级", in.Level, LevelCommunity, LevelStreet, LevelDepartment)
	}
	return []Event{ReferralRequested{ReferralID: r.id, ProblemID: in.ProblemID, HouseholdID: in.HouseholdID, Level: in.Level,
		To: in.To, Request: in.Request, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// Accept records the receiver's acceptance: a responsible person and a time
// limit (both required, 001 §3.1). The completion due instant is computed
// from meta.At on cal.
func (r *Referral) Accept(meta Meta, cal WorkingDayCalendar, responsible string, limit Span, note string) ([]Event, error) {
	if err := r.in(meta, "be accepted", "接收", RefRequested); err != nil {
		return nil, err
	}
	if responsible == "" {
		return nil, required("responsible", "the responsible person", "责任人")
	}
	if limit.N < 1 {
		return nil, required("time_limit", "the time limit promised", "承诺办理时限")
	}
	due, err := DueAfter(cal, meta.At, limit)
	if err != nil {
		return nil, deadlineErr(Clock{Kind: ClockReferralCompletion, Start: meta.At}, err)
	}
	if err := CheckInstant("time_limit", due.At); err != nil {
		return nil, err
	}
	return []Event{ReferralAccepted{Responsible: responsible, TimeLimit: limit, Due: due.At, Calendar: due.Basis, Note: note, At: meta.At, By: meta.Actor}}, nil
}

// Decline records the receiver's refusal, with a reason.
func (r *Referral) Decline(meta Meta, reason string) ([]Event, error) {
	if err := r.in(meta, "be declined", "拒绝", RefRequested); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{ReferralDeclined{Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// Start records that handling has begun.
func (r *Referral) Start(meta Meta, note string) ([]Event, error) {
	if err := r.in(meta, "be started", "开始办理", RefAccepted); err != nil {
		return nil, err
	}
	return []Event{ReferralStarted{Note: note, At: meta.At, By: meta.Actor}}, nil
}

// Complete records the outcome of a referral in progress.
func (r *Referral) Complete(meta Meta, outcome string, resources []LinkedResource) ([]Event, error) {
	if err := r.in(meta, "be completed", "办结", RefInProgress); err != nil {
		return nil, err
	}
	if strings.TrimSpace(outcome) == "" {
		return nil, required("outcome", "the outcome", "办理结果")
	}
	for _, res := range resources {
		if !oneOf(res.Kind, ResourceMoney, ResourceGoods, ResourceService, ResourcePolicy) {
			return nil, badValue("resources", "resource kind", "资源类型", res.Kind, ResourceMoney, ResourceGoods, ResourceService, ResourcePolicy)
		}
	}
	return []Event{ReferralCompleted{Outcome: outcome, Resources: slices.Clone(resources), At: meta.At, By: meta.Actor}}, nil
}

// Cancel withdraws a referral that is not finished, with a reason.
func (r *Referral) Cancel(meta Meta, reason string) ([]Event, error) {
	if err := r.in(meta, "be cancelled", "撤销", RefRequested, RefAccepted, RefInProgress); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{ReferralCancelled{Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// Escalate moves the referral up to a higher level and a new receiver, with
// a reason; it is then requested again.
func (r *Referral) Escalate(meta Meta, pol *Policy, level ReferralLevel, to, reason string) ([]Event, error) {
	if err := r.in(meta, "be escalated", "上报", RefRequested, RefDeclined, RefAccepted, RefInProgress); err != nil {
		return nil, err
	}
	if level.rank() == 0 {
		return nil, badValue("level", "referral level", "转介层级", level, LevelStreet, LevelDepartment)
	}
	if level.rank() <= r.level.rank() {
		_, lzh := r.level.Label()
		return nil, newError(ErrRule, "escalation_not_upward", "level",
			fmt.Sprintf("referral %s is already at %s level; escalate to a higher level (community → street → department)", r.id, r.level),
			fmt.Sprintf("转介 %s 已在%s层级；只能向上级上报（社区 → 街道 → 部门）", r.id, lzh))
	}
	switch {
	case to == "":
		return nil, required("to", "the receiving organisation", "接收单位")
	case reason == "":
		return nil, reasonRequired("reason")
	}
	return []Event{ReferralEscalated{FromLevel: r.level, Level: level, FromTo: r.to, To: to, Reason: reason,
		PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// RescheduleDeadline records that a running deadline moves from old to
// next (see Household.RescheduleDeadline).
func (r *Referral) RescheduleDeadline(meta Meta, old, next Deadline) ([]Event, error) {
	e, noop, err := decideReschedule(meta, r.Clocks(), old, next)
	if err != nil || noop {
		return nil, err
	}
	return []Event{ReferralDeadlineRescheduled{e}}, nil
}

// RecordDeadlineAlert records an approaching or breached alert on a running
// clock; see Household.RecordDeadlineAlert for the contract.
func (r *Referral) RecordDeadlineAlert(meta Meta, d Deadline, stage AlertStage, supervisor string) ([]Event, error) {
	if err := r.in(meta, "be alerted", "提醒", RefRequested, RefAccepted, RefInProgress); err != nil {
		if CodeOf(err) == "referral_invalid_transition" {
			_, _, err = decideAlert(meta, nil, d, stage, supervisor)
		}
		return nil, err
	}
	a, noop, err := decideAlert(meta, r.Clocks(), d, stage, supervisor)
	if err != nil || noop {
		return nil, err
	}
	if stage == StageBreached {
		return []Event{ReferralDeadlineBreached{a}}, nil
	}
	return []Event{ReferralDeadlineApproaching{a}}, nil
}
