package domain

// Enumerations. Their string values are durable: they are stored in events.

// HouseholdClass sets the visit frequency (001 §2.3.3).
type HouseholdClass string

const (
	ClassOrdinary HouseholdClass = "ordinary" // 普通
	ClassKey      HouseholdClass = "key"      // 重点: 低保户, 特困人员, 残疾人家庭…
	ClassSpecial  HouseholdClass = "special"  // 特殊: 独居老人, 困境儿童, 严重精神障碍…
)

// HouseholdClasses lists every HouseholdClass.
func HouseholdClasses() []HouseholdClass {
	return []HouseholdClass{ClassOrdinary, ClassKey, ClassSpecial}
}

// AssistanceCategory is the social-assistance category (000 §1.2). The empty
// value means none.
type AssistanceCategory string

const (
	CategoryNone      AssistanceCategory = ""
	CategoryTeKun     AssistanceCategory = "te_kun"    // 特困, class A
	CategoryDiBao     AssistanceCategory = "di_bao"    // 低保/低收入, class B
	CategoryMarginal  AssistanceCategory = "marginal"  // 边缘户
	CategoryTemporary AssistanceCategory = "temporary" // 临时困难, class C
)

// RiskLevel of a household (002).
type RiskLevel string

const (
	RiskRed    RiskLevel = "red"    // urgent intervention
	RiskYellow RiskLevel = "yellow" // key tracking
	RiskBlue   RiskLevel = "blue"   // periodic intervention
	RiskGreen  RiskLevel = "green"  // routine care
)

// NeedDomain is one of the five need domains (001 §2.2.1).
type NeedDomain string

const (
	NeedElderlyCare NeedDomain = "elderly_care"
	NeedMedical     NeedDomain = "medical"
	NeedEducation   NeedDomain = "education"
	NeedEmployment  NeedDomain = "employment"
	NeedCulture     NeedDomain = "culture"
)

// VisitMode is how a visit was made.
type VisitMode string

const (
	ModeHome   VisitMode = "home"
	ModePhone  VisitMode = "phone"
	ModeVideo  VisitMode = "video"
	ModeOnline VisitMode = "online"
)

// VisitOutcome says whether the visit took place.
type VisitOutcome string

const (
	OutcomeCompleted  VisitOutcome = "completed"
	OutcomeRefused    VisitOutcome = "refused"
	OutcomeNobodyHome VisitOutcome = "nobody_home"
)

// ArchiveReason says why a household file was archived.
type ArchiveReason string

const (
	ArchiveMovedAway ArchiveReason = "moved_away"
	ArchiveDissolved ArchiveReason = "dissolved"
	ArchiveOther     ArchiveReason = "other"
)

// ProblemCategory (000 §4.1, 004 §3.1).
type ProblemCategory string

const (
	ProblemPolicy            ProblemCategory = "policy"
	ProblemService           ProblemCategory = "service"
	ProblemResource          ProblemCategory = "resource"
	ProblemPsychological     ProblemCategory = "psychological"
	ProblemLivingSecurity    ProblemCategory = "living_security"
	ProblemHealth            ProblemCategory = "health_medical"
	ProblemSocialIntegration ProblemCategory = "social_integration"
)

// HandlingClass of a problem (001 §2.2.2).
type HandlingClass string

const (
	HandlingImmediate   HandlingClass = "immediate"   // 即时解决类
	HandlingCoordinated HandlingClass = "coordinated" // 协调联动类
	HandlingLongTerm    HandlingClass = "long_term"   // 长期跟进类
)

// Colour of a problem (001 §2.3.2).
type Colour string

const (
	ColourRed    Colour = "red"    // safety hazard
	ColourYellow Colour = "yellow" // e.g. a policy question
	ColourGreen  Colour = "green"  // a suggestion
)

// Urgency of a problem (004 §3.2).
type Urgency string

const (
	UrgencyUrgent   Urgency = "urgent"
	UrgencyOrdinary Urgency = "ordinary"
)

// ProblemStatus is the state of a problem in the ledger.
type ProblemStatus string

const (
	StatusOpen       ProblemStatus = "open"        // reported (or reopened), no response yet
	StatusInProgress ProblemStatus = "in_progress" // someone is handling it
	StatusResolved   ProblemStatus = "resolved"
	StatusClosed     ProblemStatus = "closed"
)

// FollowUpMethod of a progress note or revisit.
type FollowUpMethod string

const (
	FollowPhone     FollowUpMethod = "phone"
	FollowHomeVisit FollowUpMethod = "home_visit"
	FollowVideo     FollowUpMethod = "video"
	FollowOnline    FollowUpMethod = "online"
	FollowOffice    FollowUpMethod = "office"
)

// ResourceKind of a resource linked to a resolution.
type ResourceKind string

const (
	ResourceMoney   ResourceKind = "money"
	ResourceGoods   ResourceKind = "goods"
	ResourceService ResourceKind = "service"
	ResourcePolicy  ResourceKind = "policy"
)

// ReferralStatus is the state of a referral.
type ReferralStatus string

const (
	RefRequested  ReferralStatus = "requested"
	RefAccepted   ReferralStatus = "accepted"
	RefDeclined   ReferralStatus = "declined"
	RefInProgress ReferralStatus = "in_progress"
	RefCompleted  ReferralStatus = "completed"
	RefCancelled  ReferralStatus = "cancelled"
)

// ReferralLevel is a rung of the escalation path (004 §6.2).
type ReferralLevel string

const (
	LevelCommunity  ReferralLevel = "community"  // 社区
	LevelStreet     ReferralLevel = "street"     // 街道办
	LevelDepartment ReferralLevel = "department" // 职能部门 (民政, 卫健, 住建…)
)

func (l ReferralLevel) rank() int {
	switch l {
	case LevelCommunity:
		return 1
	case LevelStreet:
		return 2
	case LevelDepartment:
		return 3
	}
	return 0
}

// Roles of actors (Meta.Role): every role a recorded event may name. This
// is the one declaration of role names; the roles a bearer token carries
// (package identity) are these names, except the token role "worker",
// which records RoleGridWorker. The domain records roles; authorisation is
// enforced by the layer that authenticates people.
const (
	RoleGridWorker   = "grid_worker"
	RoleSocialWorker = "social_worker"
	RoleSupervisor   = "supervisor"
	RoleAuditor      = "auditor"
	RoleDepartment   = "department"
	RoleIntegrator   = "integrator" // a system following the event stream
	RoleAdmin        = "admin"      // token management, calendar publication, maintenance
	// RolePrivacyOfficer is the person in charge of personal information
	// protection (个人信息保护负责人, PIPL art. 52): approves erasures.
	RolePrivacyOfficer = "privacy_officer"
	RoleSystem         = "system" // the deadline watcher and other automata
)
