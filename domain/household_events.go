package domain

import (
	"slices"
	"time"
)

// Household event types (stream "household-<id>"). Durable names.
const (
	TypeHouseholdRegistered          = "household.registered"
	TypeHouseholdMemberAdded         = "household.member_added"
	TypeHouseholdMemberChanged       = "household.member_changed"
	TypeHouseholdMemberLeft          = "household.member_left"
	TypeHouseholdRelocated           = "household.relocated"
	TypeHouseholdWorkerChanged       = "household.worker_changed"
	TypeHouseholdClassChanged        = "household.class_changed"
	TypeHouseholdCategoryChanged     = "household.category_changed"
	TypeHouseholdRiskChanged         = "household.risk_changed"
	TypeHouseholdNeedsAssessed       = "household.needs_assessed"
	TypeHouseholdResourcesOffered    = "household.resources_offered"
	TypeHouseholdConsentRecorded     = "household.consent_recorded"
	TypeHouseholdArchived            = "household.archived"
	TypeVisitRecorded                = "visit.recorded"
	TypeHouseholdDeadlineApproaching = "household.deadline_approaching"
	TypeHouseholdDeadlineBreached    = "household.deadline_breached"
	TypeHouseholdDeadlineRescheduled = "household.deadline_rescheduled"

	TypeHouseholdCircumstancesChanged = "household.circumstances_changed"
)

// HouseholdRegistered opens a household file. It starts the visit_due clock.
type HouseholdRegistered struct {
	HouseholdID       string             `json:"household_id"`
	Address           string             `json:"address"`
	Community         string             `json:"community"`
	Grid              string             `json:"grid"`
	ResponsibleWorker string             `json:"responsible_worker"`
	Class             HouseholdClass     `json:"class"`
	Category          AssistanceCategory `json:"category,omitempty"`
	Risk              RiskLevel          `json:"risk"`
	// Circumstances the policy's class rules look at (001 §2.3.3).
	Circumstances []Circumstance `json:"circumstances,omitempty"`
	// ClassBy says how the class was set: ClassByRule (what the policy's
	// rules ask for), ClassByStated (above what they ask: the registrar's
	// judgement) or ClassByOverride (below: ClassReason says why). Empty in
	// events written before class rules (as stated).
	ClassBy ClassBasis `json:"class_by,omitempty"`
	// ClassRule names what matched ("category di_bao"); empty for ordinary.
	ClassRule     string    `json:"class_rule,omitempty"`
	ClassReason   string    `json:"class_reason,omitempty"`
	PolicyVersion string    `json:"policy_version"`
	At            time.Time `json:"at"`
	By            string    `json:"by"`
}

// ClassBasis says how a household class was set. Durable.
type ClassBasis string

const (
	ClassByRule     ClassBasis = "rule"     // the class the policy's rules ask for
	ClassByStated   ClassBasis = "stated"   // a higher class, stated by a person
	ClassByOverride ClassBasis = "override" // a class set by a person with a reason (lower or otherwise)
)

// MemberDetails describes a household member. Sensitive fields are sealed
// with the household's key; they need the household's consent.
type MemberDetails struct {
	Name       string `json:"name"`
	Relation   string `json:"relation"`             // to the head of household, e.g. "本人", "配偶", "子女"
	BirthDate  string `json:"birth_date,omitempty"` // YYYY-MM-DD
	Occupation string `json:"occupation,omitempty"`
	IDNumber   Sealed `json:"id_number,omitzero"`
	Phone      Sealed `json:"phone,omitzero"`
	Income     Sealed `json:"income,omitzero"`
	Health     Sealed `json:"health,omitzero"`
	Disability Sealed `json:"disability,omitzero"`
}

func (d MemberDetails) sensitive() bool {
	return !d.IDNumber.IsZero() || !d.Phone.IsZero() || !d.Income.IsZero() || !d.Health.IsZero() || !d.Disability.IsZero()
}

// HouseholdMemberAdded: a member joins the household.
type HouseholdMemberAdded struct {
	MemberID string `json:"member_id"`
	MemberDetails
	At time.Time `json:"at"`
	By string    `json:"by"`
}

// HouseholdMemberChanged replaces a member's details.
type HouseholdMemberChanged struct {
	MemberID string `json:"member_id"`
	MemberDetails
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// HouseholdMemberLeft: a member left (moved out, died, …).
type HouseholdMemberLeft struct {
	MemberID string    `json:"member_id"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}

// HouseholdRelocated: the household moved within the area served.
type HouseholdRelocated struct {
	FromAddress   string    `json:"from_address"`
	FromCommunity string    `json:"from_community"`
	FromGrid      string    `json:"from_grid"`
	Address       string    `json:"address"`
	Community     string    `json:"community"`
	Grid          string    `json:"grid"`
	Reason        string    `json:"reason"`
	At            time.Time `json:"at"`
	By            string    `json:"by"`
}

// HouseholdWorkerChanged: another worker becomes responsible for the household.
type HouseholdWorkerChanged struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// HouseholdClassChanged changes the household class, and so the visit
// frequency; it re-parameterises the visit_due clock with PolicyVersion.
type HouseholdClassChanged struct {
	From   HouseholdClass `json:"from"`
	To     HouseholdClass `json:"to"`
	Reason string         `json:"reason"`
	// By is ClassByRule when the class follows a change of category or
	// circumstances under the policy's rules (Rule names what matched);
	// empty or ClassByOverride when a person changed it with a reason.
	ClassBy       ClassBasis `json:"class_by,omitempty"`
	Rule          string     `json:"rule,omitempty"`
	PolicyVersion string     `json:"policy_version"`
	At            time.Time  `json:"at"`
	By            string     `json:"by"`
}

// HouseholdCategoryChanged changes the assistance category ("" = none).
type HouseholdCategoryChanged struct {
	From   AssistanceCategory `json:"from"`
	To     AssistanceCategory `json:"to"`
	Reason string             `json:"reason"`
	At     time.Time          `json:"at"`
	By     string             `json:"by"`
}

// HouseholdCircumstancesChanged replaces the circumstances the policy's
// class rules look at (残疾, 独居老人, 困境儿童…). A class change it causes is
// a HouseholdClassChanged after it.
type HouseholdCircumstancesChanged struct {
	From   []Circumstance `json:"from,omitempty"`
	To     []Circumstance `json:"to,omitempty"`
	Reason string         `json:"reason"`
	At     time.Time      `json:"at"`
	By     string         `json:"by"`
}

// HouseholdRiskChanged changes the risk level.
type HouseholdRiskChanged struct {
	From   RiskLevel `json:"from"`
	To     RiskLevel `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// HouseholdNeedsAssessed replaces the needs in the five domains: sub-needs
// per domain (free text such as "助餐", "康复"). Domains not listed have no need.
type HouseholdNeedsAssessed struct {
	Needs map[NeedDomain][]string `json:"needs"`
	Note  string                  `json:"note,omitempty"`
	At    time.Time               `json:"at"`
	By    string                  `json:"by"`
}

// HouseholdResourcesOffered replaces what the household offers the community.
type HouseholdResourcesOffered struct {
	Skills    []string  `json:"skills,omitempty"`
	Volunteer bool      `json:"volunteer"`
	Idle      []string  `json:"idle,omitempty"` // idle resources, e.g. a spare room
	At        time.Time `json:"at"`
	By        string    `json:"by"`
}

// HouseholdConsentRecorded: consent to data collection given or withdrawn.
type HouseholdConsentRecorded struct {
	Given  bool      `json:"given"`
	Scope  string    `json:"scope,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// HouseholdArchived closes the file; nothing more can be recorded on it.
type HouseholdArchived struct {
	Reason ArchiveReason `json:"reason"`
	Note   string        `json:"note,omitempty"`
	At     time.Time     `json:"at"`
	By     string        `json:"by"`
}

// Understandings are the "five understandings" (五了解) of a visit. Health
// and economic situation are sensitive and sealed.
type Understandings struct {
	Health             Sealed `json:"health,omitzero"`
	Economic           Sealed `json:"economic,omitzero"`
	SupportObligations string `json:"support_obligations,omitempty"` // relatives' support
	HomeSafety         string `json:"home_safety,omitempty"`
	ServiceNeeds       string `json:"service_needs,omitempty"`
}

func (u Understandings) sensitive() bool { return !u.Health.IsZero() || !u.Economic.IsZero() }

func (u Understandings) isZero() bool {
	return !u.sensitive() && u.SupportObligations == "" && u.HomeSafety == "" && u.ServiceNeeds == ""
}

// CheckIn is a location check-in at the visit (a reference, not a blob).
type CheckIn struct {
	Latitude  float64   `json:"latitude"`
	Longitude float64   `json:"longitude"`
	At        time.Time `json:"at,omitzero"`
	Ref       string    `json:"ref,omitempty"`
	// Place: where the check-in was made, in words (the household's
	// address or a landmark near it): household-personal, sealed.
	Place Sealed `json:"place,omitzero"`
}

// VisitRecorded is a visit on the household stream. OccurredAt is when it
// happened, RecordedAt when it was entered; Late is true when entry came
// after the policy's visit_entry limit. A completed visit restarts the
// visit_due clock.
type VisitRecorded struct {
	VisitID string `json:"visit_id"`
	// Team names the persons who went (Members' persons in events with
	// Members; the only team record in events before decision 0120).
	Team []string `json:"team"`
	// Members: the team with roles (decision 0120); empty in older events
	// (see TeamMembers).
	Members []TeamMember `json:"members,omitempty"`
	// Purpose (004 §1.1), the understandings covered (the five of 002,
	// from Covered and from the notes given), the next contact (000 §3.2):
	// empty in events before decision 0120.
	Purpose     VisitPurpose    `json:"purpose,omitempty"`
	Covered     []Understanding `json:"covered,omitempty"`
	NextContact *NextContact    `json:"next_contact,omitempty"`
	// SecondVisitRequired: a refusal or nobody at home under a policy
	// that asks for a second visit (001 §6.3): it starts the second_visit
	// clock. SecondVisitFor: the visit id of the refusal this visit is
	// the second visit for (its team has a role the policy names); it
	// stops that clock (decision 0121).
	SecondVisitRequired bool `json:"second_visit_required,omitempty"`
	// Relief handed over on the visit (decision 0122).
	Relief         []Relief       `json:"relief,omitempty"`
	SecondVisitFor string         `json:"second_visit_for,omitempty"`
	OccurredAt     time.Time      `json:"occurred_at"`
	RecordedAt     time.Time      `json:"recorded_at"`
	Mode           VisitMode      `json:"mode"`
	Outcome        VisitOutcome   `json:"outcome"`
	Understandings Understandings `json:"understandings,omitzero"`
	Observations   string         `json:"observations,omitempty"`
	Summary        string         `json:"summary,omitempty"`
	Attachments    []string       `json:"attachments,omitempty"`
	CheckIn        *CheckIn       `json:"check_in,omitempty"`
	ProblemIDs     []string       `json:"problem_ids,omitempty"`
	Late           bool           `json:"late"`
	// NotCounted: a completed visit whose mode the policy does not count
	// for the household's class (a phone call where only home visits
	// count): it neither restarts the visit clock nor covers a period.
	NotCounted bool `json:"not_counted,omitempty"`
	// Communication: on a completed visit, whether communication was
	// effective, and CommunicationReason why not (沟通无效, 001 §6.2;
	// decision 0145). Empty in events before it and when not stated:
	// effective.
	Communication       Communication       `json:"communication,omitempty"`
	CommunicationReason CommunicationReason `json:"communication_reason,omitempty"`
	PolicyVersion       string              `json:"policy_version"`
	By                  string              `json:"by"`
}

// TeamMembers returns the team with roles: Members, or for an event
// recorded before decision 0120 the names of Team without roles.
func (e VisitRecorded) TeamMembers() []TeamMember {
	if len(e.Members) > 0 {
		return slices.Clone(e.Members)
	}
	out := make([]TeamMember, len(e.Team))
	for i, p := range e.Team {
		out[i] = TeamMember{Person: p}
	}
	return out
}

// HappenedAt implements Happened: the visit happened at OccurredAt.
func (e VisitRecorded) HappenedAt() time.Time { return e.OccurredAt }

// HouseholdDeadlineApproaching / HouseholdDeadlineBreached: alerts on the
// visit_due clock.
type HouseholdDeadlineApproaching struct{ DeadlineAlert }

// HouseholdDeadlineRescheduled: see ProblemDeadlineRescheduled.
type HouseholdDeadlineRescheduled struct{ DeadlineRescheduled }
type HouseholdDeadlineBreached struct{ DeadlineAlert }

func (HouseholdRegistered) EventType() string      { return TypeHouseholdRegistered }
func (HouseholdMemberAdded) EventType() string     { return TypeHouseholdMemberAdded }
func (HouseholdMemberChanged) EventType() string   { return TypeHouseholdMemberChanged }
func (HouseholdMemberLeft) EventType() string      { return TypeHouseholdMemberLeft }
func (HouseholdRelocated) EventType() string       { return TypeHouseholdRelocated }
func (HouseholdWorkerChanged) EventType() string   { return TypeHouseholdWorkerChanged }
func (HouseholdClassChanged) EventType() string    { return TypeHouseholdClassChanged }
func (HouseholdCategoryChanged) EventType() string { return TypeHouseholdCategoryChanged }
func (HouseholdCircumstancesChanged) EventType() string {
	return TypeHouseholdCircumstancesChanged
}
func (HouseholdRiskChanged) EventType() string         { return TypeHouseholdRiskChanged }
func (HouseholdNeedsAssessed) EventType() string       { return TypeHouseholdNeedsAssessed }
func (HouseholdResourcesOffered) EventType() string    { return TypeHouseholdResourcesOffered }
func (HouseholdConsentRecorded) EventType() string     { return TypeHouseholdConsentRecorded }
func (HouseholdArchived) EventType() string            { return TypeHouseholdArchived }
func (VisitRecorded) EventType() string                { return TypeVisitRecorded }
func (HouseholdDeadlineApproaching) EventType() string { return TypeHouseholdDeadlineApproaching }
func (HouseholdDeadlineBreached) EventType() string    { return TypeHouseholdDeadlineBreached }
func (HouseholdDeadlineRescheduled) EventType() string { return TypeHouseholdDeadlineRescheduled }
