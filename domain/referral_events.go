package domain

import "time"

// Referral event types (stream "referral-<id>"). Durable names.
const (
	TypeReferralRequested           = "referral.requested"
	TypeReferralAccepted            = "referral.accepted"
	TypeReferralDeclined            = "referral.declined"
	TypeReferralStarted             = "referral.started"
	TypeReferralCompleted           = "referral.completed"
	TypeReferralCancelled           = "referral.cancelled"
	TypeReferralEscalated           = "referral.escalated"
	TypeReferralDeadlineApproaching = "referral.deadline_approaching"
	TypeReferralDeadlineBreached    = "referral.deadline_breached"
	TypeReferralDeadlineRescheduled = "referral.deadline_rescheduled"
)

// ReferralRequested refers a problem to an organisation at a level of the
// escalation path. It starts the acceptance clock under PolicyVersion.
type ReferralRequested struct {
	ReferralID    string        `json:"referral_id"`
	ProblemID     string        `json:"problem_id"`
	HouseholdID   string        `json:"household_id"`
	Level         ReferralLevel `json:"level"`
	To            string        `json:"to"` // organisation, e.g. 民政局, 住建局, 残联
	Request       string        `json:"request"`
	PolicyVersion string        `json:"policy_version"`
	At            time.Time     `json:"at"`
	By            string        `json:"by"`
}

// ReferralAccepted: the receiver names a responsible person and promises a
// time limit; Due is computed from At when decided and starts the
// completion clock.
type ReferralAccepted struct {
	Responsible string    `json:"responsible"`
	TimeLimit   Span      `json:"time_limit"`
	Due         time.Time `json:"due"`
	// Calendar is the working-day calendar Due was computed with.
	Calendar CalendarBasis `json:"calendar,omitzero"`
	Note     string        `json:"note,omitempty"`
	At       time.Time     `json:"at"`
	By       string        `json:"by"`
}

// ReferralDeclined: the receiver declines, with a reason.
type ReferralDeclined struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// ReferralStarted: handling has begun.
type ReferralStarted struct {
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
	By   string    `json:"by"`
}

// ReferralCompleted: the receiver reports the outcome.
type ReferralCompleted struct {
	Outcome   string           `json:"outcome"`
	Resources []LinkedResource `json:"resources,omitempty"`
	At        time.Time        `json:"at"`
	By        string           `json:"by"`
}

// ReferralCancelled: the referral is withdrawn, with a reason.
type ReferralCancelled struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// ReferralEscalated moves the referral up the path (community → street →
// department) to a new receiver. The referral is requested again: the
// acceptance clock restarts under PolicyVersion, any acceptance is void.
type ReferralEscalated struct {
	FromLevel     ReferralLevel `json:"from_level"`
	Level         ReferralLevel `json:"level"`
	FromTo        string        `json:"from_to"`
	To            string        `json:"to"`
	Reason        string        `json:"reason"`
	PolicyVersion string        `json:"policy_version"`
	At            time.Time     `json:"at"`
	By            string        `json:"by"`
}

// ReferralDeadlineApproaching / ReferralDeadlineBreached: alerts on the
// referral's clocks.
type ReferralDeadlineApproaching struct{ DeadlineAlert }

// ReferralDeadlineRescheduled: see ProblemDeadlineRescheduled.
type ReferralDeadlineRescheduled struct{ DeadlineRescheduled }
type ReferralDeadlineBreached struct{ DeadlineAlert }

func (ReferralRequested) EventType() string           { return TypeReferralRequested }
func (ReferralAccepted) EventType() string            { return TypeReferralAccepted }
func (ReferralDeclined) EventType() string            { return TypeReferralDeclined }
func (ReferralStarted) EventType() string             { return TypeReferralStarted }
func (ReferralCompleted) EventType() string           { return TypeReferralCompleted }
func (ReferralCancelled) EventType() string           { return TypeReferralCancelled }
func (ReferralEscalated) EventType() string           { return TypeReferralEscalated }
func (ReferralDeadlineApproaching) EventType() string { return TypeReferralDeadlineApproaching }
func (ReferralDeadlineBreached) EventType() string    { return TypeReferralDeadlineBreached }
func (ReferralDeadlineRescheduled) EventType() string { return TypeReferralDeadlineRescheduled }
