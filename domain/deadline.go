package domain

import (
	"fmt"
	"time"
)

// ClockKind names a deadline an aggregate can be running. Durable: stored in
// alert events.
type ClockKind string

const (
	ClockProblemResponse    ClockKind = "problem_response"    // first response (progress or resolution) after report/reopen
	ClockProblemResolution  ClockKind = "problem_resolution"  // the time limit set on assignment, or extended
	ClockProblemFollowUp    ClockKind = "problem_follow_up"   // monthly follow-up of a long_term problem
	ClockReferralAcceptance ClockKind = "referral_acceptance" // accept or decline within 3 working days
	ClockReferralCompletion ClockKind = "referral_completion" // the time limit the receiver promised on acceptance
	ClockVisitDue           ClockKind = "visit_due"           // next visit by household class
	ClockSecondVisit        ClockKind = "second_visit"        // a second visit after a refusal or nobody at home (001 §6.3)
	ClockNeedsUpdate        ClockKind = "needs_update"        // the household's needs updated once per period (001 §2.4.3 每月更新家庭需求变化)
	ClockFileRevision       ClockKind = "file_revision"       // the household file revised once per period (001 §2.4.3, §4.4 每季度修订家庭档案)
)

// Clock is a deadline an aggregate is running now, as returned by the
// aggregates' Clocks methods. Policy-derived clocks carry the policy version
// recorded by the event that started (or last re-parameterised) them and the
// attributes the policy looks up; clocks with a time limit fixed by a person
// carry it as Due.
type Clock struct {
	Kind           ClockKind
	Subject        string    // aggregate id
	Start          time.Time // when the clock started
	PolicyVersion  string
	Due            time.Time     // explicit due instant; zero means derived from the policy
	Basis          CalendarBasis // the calendar an explicit Due was computed with
	Limit          Span          // the span an explicit Due was computed from, starting at Start (zero: set by a person)
	HouseholdClass HouseholdClass
	HandlingClass  HandlingClass
	Colour         Colour
	Urgency        Urgency
	Responsible    string // who must act: the alert names them
	// Department is the receiving organisation that answers for the
	// clock (a referral's acceptance and completion, 001 §3.1); its
	// supervisor, not the community's, is named on the alert. "" for
	// the community's own clocks.
	Department  string
	Approached  bool      // an approaching alert was already recorded for this clock
	Breached    bool      // a breach was already recorded for this clock
	Rescheduled string    // for a derived clock: the calendar version it was last rescheduled to ("" if never)
	BreachedAt  time.Time // when the breach was recorded (zero: none)
}

// Deadline is a clock with its derived instants.
type Deadline struct {
	Clock
	Due         time.Time     // late when something happens after this instant
	Approaching time.Time     // the approaching warning is due at this instant
	Basis       CalendarBasis // the working-day calendar Due was computed with (zero: not calendar-dependent)
}

// AlertStage is the kind of deadline alert.
type AlertStage string

const (
	StageApproaching AlertStage = "approaching"
	StageBreached    AlertStage = "breached"
)

// Pending returns the alert that should be recorded at now, if any: breached
// once now is after Due (and no breach is recorded), approaching once now has
// reached Approaching (and neither alert is recorded).
func (d Deadline) Pending(now time.Time) (AlertStage, bool) {
	switch {
	case d.Breached:
		return "", false
	case now.After(d.Due):
		return StageBreached, true
	case !d.Approached && !now.Before(d.Approaching):
		return StageApproaching, true
	}
	return "", false
}

// DeadlineAlert is the payload shared by all …deadline_approaching and
// …deadline_breached events, appended by the deadline watcher. ClockStart
// and Due identify the clock instance, so a restarted or extended clock
// alerts again and a repeated alert is recognised.
type DeadlineAlert struct {
	Kind          ClockKind `json:"kind"`
	ClockStart    time.Time `json:"clock_start"`
	Due           time.Time `json:"due"`
	PolicyVersion string    `json:"policy_version,omitempty"`
	Responsible   string    `json:"responsible,omitempty"`
	// Department is the receiving organisation answering for the clock
	// (referral clocks); Supervisor is then the department's.
	Department string    `json:"department,omitempty"`
	Supervisor string    `json:"supervisor,omitempty"`
	At         time.Time `json:"at"`
	// Calendar is the working-day calendar Due was computed with; a
	// provisional one lists the years without an official calendar.
	Calendar CalendarBasis `json:"calendar,omitzero"`
}

// alertMarks remembers the alerts recorded per clock kind.
type alertMarks map[ClockKind]alertMark

type alertMark struct {
	start, due           time.Time
	approached, breached bool
	breachedAt           time.Time
	calendar             string // calendar version of the last rescheduling
}

func (m alertMarks) record(a DeadlineAlert, stage AlertStage) {
	cur := m[a.Kind]
	if !cur.start.Equal(a.ClockStart) || !cur.due.Equal(a.Due) {
		cur = alertMark{start: a.ClockStart, due: a.Due}
	}
	if stage == StageBreached {
		cur.breached, cur.breachedAt = true, a.At
	} else {
		cur.approached = true
	}
	m[a.Kind] = cur
}

// stamp sets the Approached/Breached flags of c from the recorded alerts.
// An alert belongs to the clock when the start matches and, for clocks with
// an explicit due, the due matches too.
func (m alertMarks) stamp(c Clock) Clock {
	if mk, ok := m[c.Kind]; ok && mk.start.Equal(c.Start) && (c.Due.IsZero() || mk.due.Equal(c.Due)) {
		c.Approached, c.Breached = mk.approached, mk.breached
		if mk.breached {
			c.BreachedAt = mk.breachedAt
		}
		if c.Due.IsZero() {
			c.Rescheduled = mk.calendar
		}
	}
	return c
}

// decideAlert checks an alert against the running clocks. noop is true when
// the alert was already recorded (the watcher may retry freely).
func decideAlert(meta Meta, running []Clock, d Deadline, stage AlertStage, supervisor string) (a DeadlineAlert, noop bool, err error) {
	if err := meta.check(); err != nil {
		return a, false, err
	}
	if stage != StageApproaching && stage != StageBreached {
		return a, false, badValue("stage", "alert stage", "提醒阶段", stage, StageApproaching, StageBreached)
	}
	var cur *Clock
	for i := range running {
		if running[i].Kind == d.Kind {
			cur = &running[i]
		}
	}
	if cur == nil || !cur.Start.Equal(d.Start) || !cur.Due.Equal(d.Clock.Due) {
		return a, false, newError(ErrConflict, "clock_not_running", "kind",
			fmt.Sprintf("the %s deadline that started %s is no longer running (met, stopped or restarted); derive deadlines again from the current state", d.Kind, d.Start.Format(time.RFC3339)),
			fmt.Sprintf("自 %s 起的%s期限已不再计时（已完成、已停止或已重新计时）；请按当前状态重新计算期限", d.Start.Format(time.RFC3339), kindZH(d.Kind)))
	}
	if cur.Breached || (stage == StageApproaching && cur.Approached) {
		return a, true, nil
	}
	if stage == StageBreached && !meta.At.After(d.Due) {
		return a, false, newError(ErrRule, "deadline_not_reached", "at",
			fmt.Sprintf("the %s deadline is due %s and has not passed yet; record the breach after that", d.Kind, d.Due.Format(time.RFC3339)),
			fmt.Sprintf("%s期限为 %s，尚未逾期；请在此之后再记录逾期", kindZH(d.Kind), d.Due.Format(time.RFC3339)))
	}
	if stage == StageApproaching && meta.At.Before(d.Approaching) {
		return a, false, newError(ErrRule, "deadline_not_approaching", "at",
			fmt.Sprintf("the %s deadline is not approaching before %s; warn after that", d.Kind, d.Approaching.Format(time.RFC3339)),
			fmt.Sprintf("%s期限在 %s 之前不属于临近；请在此之后再提醒", kindZH(d.Kind), d.Approaching.Format(time.RFC3339)))
	}
	return DeadlineAlert{Kind: d.Kind, ClockStart: d.Start, Due: d.Due, PolicyVersion: d.PolicyVersion,
		Responsible: d.Responsible, Department: d.Department, Supervisor: supervisor, At: meta.At, Calendar: d.Basis}, false, nil
}

// DeadlineRescheduled is the payload shared by all …deadline_rescheduled
// events, appended by the deadline watcher when a working-day calendar is
// published or corrected and a running deadline derived with the previous
// calendar moves (or stops being provisional). Withdrawn lists the alerts
// recorded under the old due instant that no longer hold under the new one
// at At (a breach under the provisional rule that is not a breach under the
// official calendar); they are withdrawn by this event, never deleted.
type DeadlineRescheduled struct {
	Kind       ClockKind     `json:"kind"`
	ClockStart time.Time     `json:"clock_start"`
	OldDue     time.Time     `json:"old_due"`
	NewDue     time.Time     `json:"new_due"`
	OldBasis   CalendarBasis `json:"old_calendar,omitzero"`
	Calendar   CalendarBasis `json:"calendar"`
	Reason     string        `json:"reason"`
	Withdrawn  []AlertStage  `json:"withdrawn,omitempty"`
	// WithdrawnBreachAt is when the withdrawn breach was recorded, so that
	// measures take it back from the month it was counted in.
	WithdrawnBreachAt time.Time `json:"withdrawn_breach_at,omitzero"`
	At                time.Time `json:"at"`
}

// ReasonCalendarPublished is the reason of a rescheduling after a
// calendar year was published or corrected.
const ReasonCalendarPublished = "calendar_published"

// reschedule applies a rescheduling to the alert marks of its clock: the
// mark follows the new due, and withdrawn stages are cleared.
func (m alertMarks) reschedule(e DeadlineRescheduled) {
	cur, ok := m[e.Kind]
	if !ok || !cur.start.Equal(e.ClockStart) {
		cur = alertMark{start: e.ClockStart, due: e.OldDue}
	}
	cur.calendar = e.Calendar.Version
	if cur.due.Equal(e.OldDue) {
		cur.due = e.NewDue
	}
	for _, st := range e.Withdrawn {
		switch st {
		case StageBreached:
			cur.breached, cur.breachedAt = false, time.Time{}
		case StageApproaching:
			cur.approached = false
		}
	}
	m[e.Kind] = cur
}

// decideReschedule checks a rescheduling against the running clocks: the
// clock must still run with the old due (old.Due for an explicit one), and
// the new deadline must differ from the old one in its instant or basis.
// noop is true when there is nothing to record.
func decideReschedule(meta Meta, running []Clock, old, next Deadline) (e DeadlineRescheduled, noop bool, err error) {
	if err := meta.check(); err != nil {
		return e, false, err
	}
	var cur *Clock
	for i := range running {
		if running[i].Kind == old.Kind {
			cur = &running[i]
		}
	}
	if cur == nil || !cur.Start.Equal(old.Start) || !cur.Due.Equal(old.Clock.Due) {
		return e, true, nil // met, stopped or restarted meanwhile: nothing to move
	}
	if old.Due.Equal(next.Due) && slicesEqual(old.Basis.Provisional, next.Basis.Provisional) {
		return e, true, nil
	}
	if cur.Due.IsZero() && cur.Rescheduled == next.Basis.Version {
		return e, true, nil // already rescheduled to this calendar
	}
	e = DeadlineRescheduled{Kind: old.Kind, ClockStart: old.Start, OldDue: old.Due, NewDue: next.Due,
		OldBasis: old.Basis, Calendar: next.Basis, Reason: ReasonCalendarPublished, At: meta.At}
	if cur.Breached && !meta.At.After(next.Due) {
		e.Withdrawn = append(e.Withdrawn, StageBreached)
		e.WithdrawnBreachAt = cur.BreachedAt
	}
	if cur.Approached && meta.At.Before(next.Approaching) {
		e.Withdrawn = append(e.Withdrawn, StageApproaching)
	}
	return e, false, nil
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
