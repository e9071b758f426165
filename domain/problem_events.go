package domain

import "time"

// Problem event types (stream "problem-<id>"). Durable names.
const (
	TypeProblemReported            = "problem.reported"
	TypeProblemReclassified        = "problem.reclassified"
	TypeProblemAssigned            = "problem.assigned"
	TypeProblemDeadlineExtended    = "problem.deadline_extended"
	TypeProblemProgressNoted       = "problem.progress_noted"
	TypeProblemResolved            = "problem.resolved"
	TypeProblemSatisfactionRated   = "problem.satisfaction_rated"
	TypeProblemRevisited           = "problem.revisited"
	TypeProblemReopened            = "problem.reopened"
	TypeProblemClosed              = "problem.closed"
	TypeProblemDeadlineApproaching = "problem.deadline_approaching"
	TypeProblemDeadlineBreached    = "problem.deadline_breached"
	TypeProblemDeadlineRescheduled = "problem.deadline_rescheduled"
	TypeProblemReferred            = "problem.referred"
)

// ProblemReported registers a problem in the ledger. It starts the response
// clock (and, for long_term problems, the follow-up clock) under
// PolicyVersion. FoundBy is the first-responsible worker (首问负责制) and the
// initial assignee.
type ProblemReported struct {
	ProblemID     string          `json:"problem_id"`
	Number        string          `json:"number"` // e.g. WT2026000123
	HouseholdID   string          `json:"household_id"`
	VisitID       string          `json:"visit_id,omitempty"`
	Description   string          `json:"description"`
	Category      ProblemCategory `json:"category"`
	HandlingClass HandlingClass   `json:"handling_class"`
	Colour        Colour          `json:"colour"`
	Urgency       Urgency         `json:"urgency"`
	FoundBy       string          `json:"found_by"`
	PolicyVersion string          `json:"policy_version"`
	At            time.Time       `json:"at"`
	By            string          `json:"by"`
}

// ProblemReclassified changes handling class, colour and/or urgency; it
// re-parameterises the running clocks under PolicyVersion.
type ProblemReclassified struct {
	FromHandlingClass HandlingClass `json:"from_handling_class"`
	HandlingClass     HandlingClass `json:"handling_class"`
	FromColour        Colour        `json:"from_colour"`
	Colour            Colour        `json:"colour"`
	FromUrgency       Urgency       `json:"from_urgency"`
	Urgency           Urgency       `json:"urgency"`
	Reason            string        `json:"reason"`
	PolicyVersion     string        `json:"policy_version"`
	At                time.Time     `json:"at"`
	By                string        `json:"by"`
}

// ProblemAssigned (re)assigns the problem and/or sets its time limit. A
// TimeLimit starts the resolution clock: Due is computed from At on the
// working-day calendar when the command is decided. Sessions is a limit
// counted in sessions ("3 sessions"), which runs no clock.
type ProblemAssigned struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	Reason    string    `json:"reason,omitempty"`
	TimeLimit Span      `json:"time_limit,omitzero"`
	Sessions  int       `json:"sessions,omitempty"`
	Due       time.Time `json:"due,omitzero"`
	// Calendar is the working-day calendar Due was computed with (set for
	// a limit in working days; provisional years are listed).
	Calendar CalendarBasis `json:"calendar,omitzero"`
	At       time.Time     `json:"at"`
	By       string        `json:"by"`
}

// ProblemDeadlineExtended moves the resolution deadline later, with a reason.
type ProblemDeadlineExtended struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// ProblemProgressNoted is a follow-up. The first one after report or reopen
// is the first response (status becomes in_progress); each restarts the
// long_term follow-up clock under PolicyVersion.
type ProblemProgressNoted struct {
	Note          string         `json:"note"`
	FollowUp      FollowUpMethod `json:"follow_up"`
	PolicyVersion string         `json:"policy_version"`
	At            time.Time      `json:"at"`
	By            string         `json:"by"`
}

// ProblemReferred records on the problem that it was referred to an
// organisation (the referral's own stream holds the referral). Handing a
// problem to a department starts the work (001 §2.2.2 分流, 001 §3.1): an
// open problem moves to in_progress and its first-response clock stops, as
// a progress note would stop it. Written by the command layer right after
// the referral's request, with the referral's instant.
type ProblemReferred struct {
	ReferralID string        `json:"referral_id"`
	Level      ReferralLevel `json:"level"`
	To         string        `json:"to"`
	At         time.Time     `json:"at"`
	By         string        `json:"by"`
}

// LinkedResource is a resource linked to a resolution.
type LinkedResource struct {
	Kind        ResourceKind `json:"kind"`
	Description string       `json:"description"`
	Provider    string       `json:"provider,omitempty"`     // e.g. 民政局, a charity
	AmountCents int64        `json:"amount_cents,omitempty"` // for money, in fen
}

// ProblemResolved records the resolution and the resources linked.
type ProblemResolved struct {
	Summary   string           `json:"summary"`
	Resources []LinkedResource `json:"resources,omitempty"`
	At        time.Time        `json:"at"`
	By        string           `json:"by"`
}

// ProblemSatisfactionRated is the household's satisfaction with the
// resolution, 1 (very dissatisfied) to 5 (very satisfied).
type ProblemSatisfactionRated struct {
	Score   int       `json:"score"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
}

// ProblemRevisited records a return visit (回访) after the resolution:
// whether the resolution holds and, under a policy with return-visit rules,
// the household's satisfaction (1–5) and whether the visit was independent
// of the resolution (made by someone other than the resolver, or through a
// channel the policy allows). Under such a policy a visit that found the
// problem recurred or the household unsatisfied is followed, in the same
// command, by problem.reopened; otherwise reopen explicitly.
type ProblemRevisited struct {
	Held         bool           `json:"held"`
	Method       FollowUpMethod `json:"method"`
	Note         string         `json:"note,omitempty"`
	Satisfaction int            `json:"satisfaction,omitempty"`
	Independent  bool           `json:"independent,omitempty"`
	At           time.Time      `json:"at"`
	By           string         `json:"by"`
}

// ProblemReopened: the problem recurred. It restarts the response clock
// under PolicyVersion and clears resolution, rating and time limit.
type ProblemReopened struct {
	Reason        string    `json:"reason"`
	PolicyVersion string    `json:"policy_version"`
	At            time.Time `json:"at"`
	By            string    `json:"by"`
}

// ProblemClosed ends the closed loop. Resolved says whether it was resolved
// when closed (false: withdrawn, duplicate, …; a reason is then required).
type ProblemClosed struct {
	Reason   string    `json:"reason,omitempty"`
	Resolved bool      `json:"resolved"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}

// ProblemDeadlineApproaching / ProblemDeadlineBreached: alerts on the
// problem's clocks.
type ProblemDeadlineApproaching struct{ DeadlineAlert }

// ProblemDeadlineRescheduled: a running deadline moved (or stopped being
// provisional) because a working-day calendar year was published.
type ProblemDeadlineRescheduled struct{ DeadlineRescheduled }
type ProblemDeadlineBreached struct{ DeadlineAlert }

func (ProblemReported) EventType() string            { return TypeProblemReported }
func (ProblemReclassified) EventType() string        { return TypeProblemReclassified }
func (ProblemAssigned) EventType() string            { return TypeProblemAssigned }
func (ProblemDeadlineExtended) EventType() string    { return TypeProblemDeadlineExtended }
func (ProblemProgressNoted) EventType() string       { return TypeProblemProgressNoted }
func (ProblemResolved) EventType() string            { return TypeProblemResolved }
func (ProblemSatisfactionRated) EventType() string   { return TypeProblemSatisfactionRated }
func (ProblemRevisited) EventType() string           { return TypeProblemRevisited }
func (ProblemReopened) EventType() string            { return TypeProblemReopened }
func (ProblemClosed) EventType() string              { return TypeProblemClosed }
func (ProblemDeadlineApproaching) EventType() string { return TypeProblemDeadlineApproaching }
func (ProblemDeadlineBreached) EventType() string    { return TypeProblemDeadlineBreached }
func (ProblemDeadlineRescheduled) EventType() string { return TypeProblemDeadlineRescheduled }
func (ProblemReferred) EventType() string            { return TypeProblemReferred }
