package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The visit as evidence (issue 16 item 4, decision 0120): who went, in
// which role, why, what they came to understand, who follows up and when,
// and where they checked in. What a completed home visit must record is
// policy data per household class (Policy.VisitRecord).

// TeamRole is the role of a person on a visiting team. Durable.
type TeamRole string

const (
	TeamGridWorker     TeamRole = "grid_worker"         // 网格员 (001 §3.2)
	TeamSecretary      TeamRole = "community_secretary" // 社区书记 (001 §3.2, §6.3)
	TeamCommunityCadre TeamRole = "community_cadre"     // 社区干部 (000 §3.1)
	TeamSocialWorker   TeamRole = "social_worker"       // 专业社工 (000 §3.1)
	TeamDoctor         TeamRole = "doctor"              // 医生 (001 §4.2)
	TeamVolunteer      TeamRole = "volunteer"           // 志愿者 (000 §3.1, 001 §4.2)
)

// TeamRoles lists the team roles.
func TeamRoles() []TeamRole {
	return []TeamRole{TeamGridWorker, TeamSecretary, TeamCommunityCadre, TeamSocialWorker, TeamDoctor, TeamVolunteer}
}

var teamRoleLabels = map[TeamRole]label{
	TeamGridWorker: {"grid worker", "网格员"}, TeamSecretary: {"community secretary", "社区书记"},
	TeamCommunityCadre: {"community cadre", "社区干部"}, TeamSocialWorker: {"social worker", "社工"},
	TeamDoctor: {"doctor", "医生"}, TeamVolunteer: {"volunteer", "志愿者"},
}

// Label returns how a team role is named to a person.
func (r TeamRole) Label() (en, zh string) { return lookup(teamRoleLabels, r) }

// TeamRoleOf is the team role of a person who records a visit in account
// role role ("" when the account role is no team role): used for the
// recorder of a team given by names only.
func TeamRoleOf(role string) TeamRole {
	switch role {
	case RoleGridWorker, "worker":
		return TeamGridWorker
	case RoleSocialWorker:
		return TeamSocialWorker
	case RoleSupervisor:
		return TeamCommunityCadre
	}
	return ""
}

// TeamMember is a named person on a visiting team: Person is the worker's
// account (as Meta.Actor) or, for someone without one (a volunteer, a
// doctor of the health centre), their name. Role is empty in teams
// recorded by name only.
type TeamMember struct {
	Person string   `json:"person"`
	Role   TeamRole `json:"role,omitempty"`
}

// MaxTeam bounds the members of a visiting team.
const MaxTeam = 20

// Understanding is one of the five understandings (五了解, 002): health,
// economic situation, the fulfilment of support obligations, home safety,
// service needs. Durable.
type Understanding string

const (
	UnderstandHealth             Understanding = "health"
	UnderstandEconomic           Understanding = "economic"
	UnderstandSupportObligations Understanding = "support_obligations"
	UnderstandHomeSafety         Understanding = "home_safety"
	UnderstandServiceNeeds       Understanding = "service_needs"
)

// FiveUnderstandings lists the five understandings in the seed's order.
func FiveUnderstandings() []Understanding {
	return []Understanding{UnderstandHealth, UnderstandEconomic, UnderstandSupportObligations, UnderstandHomeSafety, UnderstandServiceNeeds}
}

var understandingLabels = map[Understanding]label{
	UnderstandHealth: {"health", "健康状况"}, UnderstandEconomic: {"economic situation", "经济状况"},
	UnderstandSupportObligations: {"support obligations", "赡养扶养义务履行情况"},
	UnderstandHomeSafety:         {"home safety", "家庭安全情况"}, UnderstandServiceNeeds: {"service needs", "服务需求情况"},
}

// Label returns how an understanding is named to a person.
func (u Understanding) Label() (en, zh string) { return lookup(understandingLabels, u) }

// covered lists the understandings whose notes are filled.
func (u Understandings) covered() []Understanding {
	var out []Understanding
	for _, x := range []struct {
		u  Understanding
		on bool
	}{{UnderstandHealth, !u.Health.IsZero()}, {UnderstandEconomic, !u.Economic.IsZero()},
		{UnderstandSupportObligations, u.SupportObligations != ""}, {UnderstandHomeSafety, u.HomeSafety != ""},
		{UnderstandServiceNeeds, u.ServiceNeeds != ""}} {
		if x.on {
			out = append(out, x.u)
		}
	}
	return out
}

// VisitPurpose is why a visit was made (004 §1.1 明确走访目的). Durable.
type VisitPurpose string

const (
	PurposeRoutine     VisitPurpose = "routine"      // 常规慰问
	PurposeProblem     VisitPurpose = "problem"      // 问题解决
	PurposeNeedsSurvey VisitPurpose = "needs_survey" // 需求调研
	PurposeFestival    VisitPurpose = "festival"     // 节日慰问 (004 §4.2)
	PurposeSecondVisit VisitPurpose = "second_visit" // 二次走访 after a refusal or nobody home (001 §6.3)
)

// VisitPurposes lists the purposes.
func VisitPurposes() []VisitPurpose {
	return []VisitPurpose{PurposeRoutine, PurposeProblem, PurposeNeedsSurvey, PurposeFestival, PurposeSecondVisit}
}

var purposeLabels = map[VisitPurpose]label{
	PurposeRoutine: {"routine care visit", "常规慰问"}, PurposeProblem: {"problem solving", "问题解决"},
	PurposeNeedsSurvey: {"needs survey", "需求调研"}, PurposeFestival: {"festival visit", "节日慰问"},
	PurposeSecondVisit: {"second visit", "二次走访"},
}

// Label returns how a purpose is named to a person.
func (p VisitPurpose) Label() (en, zh string) { return lookup(purposeLabels, p) }

// NextContact is who follows up with the household and when (000 §3.2
// 明确后续联系人和时间). Person is a worker (account or name), not the
// household's own contact data.
type NextContact struct {
	Person string    `json:"person"`
	At     time.Time `json:"at"`
}

// MaxNextContact bounds how far ahead the next contact may be set.
const MaxNextContact = 366 * 24 * time.Hour

// VisitRecordRules is what a completed home visit to a household of a
// class must record (decision 0120).
type VisitRecordRules struct {
	// Team: each need is at least Min members in one of Roles ("1+1+N",
	// 000 §3.1; 001 §4.2 key groups visited by grid worker, doctor and
	// volunteer).
	Team []TeamNeed `yaml:"team,omitempty" json:"team,omitempty"`
	// Understandings the visit must cover (of the five, 002 五了解).
	Understandings []Understanding `yaml:"understandings,omitempty" json:"understandings,omitempty"`
	Purpose        bool            `yaml:"purpose,omitempty" json:"purpose,omitempty"`
	NextContact    bool            `yaml:"next_contact,omitempty" json:"next_contact,omitempty"`
	// CheckIn: a check-in with its time and place (004 §7.1 定位签到).
	CheckIn bool `yaml:"check_in,omitempty" json:"check_in,omitempty"`
}

// TeamNeed is at least Min team members whose role is one of Roles.
type TeamNeed struct {
	Roles []TeamRole `yaml:"roles" json:"roles"`
	Min   int        `yaml:"min" json:"min"`
}

// VisitRecordPolicy holds the visit-as-evidence rules: when present, the
// person recording a visit must be on its team, and completed home visits
// follow the rules of the household's class.
type VisitRecordPolicy struct {
	// ByClass: the rules per household class; a class not listed has none.
	ByClass map[HouseholdClass]VisitRecordRules `yaml:"by_class" json:"by_class"`
	// CheckInWithin: a check-in is at most this far from the visit's time.
	CheckInWithin Span `yaml:"check_in_within" json:"check_in_within"`
}

func (r VisitRecordPolicy) enabled() bool { return len(r.ByClass) > 0 }

func (r VisitRecordPolicy) validate() error {
	if !r.enabled() {
		return nil
	}
	for c, rules := range r.ByClass {
		f := "visit_record.by_class." + string(c)
		if !oneOf(c, HouseholdClasses()...) {
			return policyErr(f, fmt.Sprintf("unknown household class %q", c), fmt.Sprintf("未知的家庭类别 %q", c))
		}
		for _, n := range rules.Team {
			if n.Min < 1 || n.Min > MaxTeam || len(n.Roles) == 0 {
				return policyErr(f+".team", fmt.Sprintf("a team need names roles and a minimum from 1 to %d", MaxTeam), fmt.Sprintf("人员要求须列明角色，且最少人数为 1 到 %d", MaxTeam))
			}
			for _, role := range n.Roles {
				if !oneOf(role, TeamRoles()...) {
					return policyErr(f+".team", fmt.Sprintf("unknown team role %q", role), fmt.Sprintf("未知的走访人员角色 %q", role))
				}
			}
		}
		for _, u := range rules.Understandings {
			if !oneOf(u, FiveUnderstandings()...) {
				return policyErr(f+".understandings", fmt.Sprintf("unknown understanding %q", u), fmt.Sprintf("未知的了解事项 %q", u))
			}
		}
	}
	if r.CheckInWithin.IsZero() || r.CheckInWithin.Unit == UnitWorkingDay || r.CheckInWithin.Unit == UnitMonth {
		return policyErr("visit_record.check_in_within", "visit_record.check_in_within must be given in hours, days or weeks", "visit_record.check_in_within 须以小时、天或周为单位给出")
	}
	return nil
}

// visitTeam checks and returns the members of a visit's team: Members
// when given, else the names of Team, the recorder taking the team role
// of their account role.
func visitTeam(meta Meta, in RecordVisit) ([]TeamMember, []string, error) {
	var members []TeamMember
	if len(in.Members) > 0 {
		members = slices.Clone(in.Members)
	} else {
		for _, p := range in.Team {
			m := TeamMember{Person: p}
			if p == meta.Actor {
				m.Role = TeamRoleOf(meta.Role)
			}
			members = append(members, m)
		}
	}
	if len(members) == 0 {
		return nil, nil, required("team", "the visiting team (at least one person)", "走访人员（至少一人）")
	}
	if len(members) > MaxTeam {
		return nil, nil, newError(ErrInvalid, "team_too_large", "team",
			fmt.Sprintf("a visiting team has at most %d members, not %d", MaxTeam, len(members)),
			fmt.Sprintf("走访人员最多 %d 人，而不是 %d 人", MaxTeam, len(members)))
	}
	persons := make([]string, len(members))
	for i, m := range members {
		if m.Person == "" {
			return nil, nil, required("team", "the visiting team (every member named)", "走访人员（每人须填写姓名）")
		}
		if err := CheckName("team", m.Person); err != nil {
			return nil, nil, err
		}
		if m.Role != "" && !oneOf(m.Role, TeamRoles()...) {
			return nil, nil, badValue("team", "team role", "走访人员角色", m.Role, TeamRoles()...)
		}
		if slices.Contains(persons[:i], m.Person) {
			return nil, nil, newError(ErrInvalid, "team_duplicate", "team",
				fmt.Sprintf("%s is on the team twice; name each person once", Clip(m.Person, MaxEchoBytes)),
				fmt.Sprintf("%s 在走访人员中重复出现；每人只列一次", Clip(m.Person, MaxEchoBytes)))
		}
		persons[i] = m.Person
	}
	return members, persons, nil
}

// checkVisitRecord checks the evidence a visit carries against the policy:
// the recorder on the team; for a completed home visit, the class's team,
// understandings, purpose, next contact and check-in. Every missing item
// is named in one error.
func checkVisitRecord(meta Meta, pol *Policy, class HouseholdClass, in RecordVisit, members []TeamMember, persons []string, covered []Understanding) error {
	if !pol.VisitRecord.enabled() {
		return nil
	}
	if !slices.Contains(persons, meta.Actor) {
		return newError(ErrRule, "recorder_not_on_team", "team",
			fmt.Sprintf("the person recording the visit (%s) is not on its team; only a member of the visiting team may record it", Clip(meta.Actor, MaxEchoBytes)),
			fmt.Sprintf("录入人（%s）不在走访人员中；只有参加走访的人员才能录入走访记录", Clip(meta.Actor, MaxEchoBytes)))
	}
	if in.Outcome != OutcomeCompleted || in.Mode != ModeHome {
		return nil
	}
	rules, ok := pol.VisitRecord.ByClass[class]
	if !ok {
		return nil
	}
	var en, zh []string
	for _, n := range rules.Team {
		have := 0
		for _, m := range members {
			if slices.Contains(n.Roles, m.Role) {
				have++
			}
		}
		if have < n.Min {
			ren, rzh := make([]string, len(n.Roles)), make([]string, len(n.Roles))
			for i, r := range n.Roles {
				ren[i], rzh[i] = r.Label()
			}
			en = append(en, fmt.Sprintf("%d more team member(s) as %s", n.Min-have, strings.Join(ren, " or ")))
			zh = append(zh, fmt.Sprintf("再有 %d 名%s参加走访", n.Min-have, strings.Join(rzh, "或")))
		}
	}
	for _, u := range rules.Understandings {
		if !slices.Contains(covered, u) {
			ue, uz := u.Label()
			en = append(en, "the understanding of "+ue)
			zh = append(zh, "了解"+uz)
		}
	}
	if rules.Purpose && in.Purpose == "" {
		en, zh = append(en, "the purpose of the visit"), append(zh, "走访目的")
	}
	if rules.NextContact && in.NextContact == nil {
		en, zh = append(en, "the next contact person and time"), append(zh, "后续联系人和联系时间")
	}
	if rules.CheckIn && (in.CheckIn == nil || in.CheckIn.At.IsZero() || !in.CheckIn.hasPlace()) {
		en, zh = append(en, "a check-in with its time and place"), append(zh, "定位签到（时间和地点）")
	}
	if len(en) == 0 {
		return nil
	}
	ce, cz := class.Label()
	return newError(ErrRule, "visit_incomplete", "team",
		fmt.Sprintf("a completed home visit to this %s household must record %s; add what is missing and record the visit again", ce, strings.Join(en, "; ")),
		fmt.Sprintf("%s家庭的入户走访须记录：%s；请补齐后重新录入", cz, strings.Join(zh, "；")))
}

// hasPlace reports whether a check-in says where it was made.
func (c *CheckIn) hasPlace() bool {
	return !c.Place.IsZero() || c.Ref != "" || c.Latitude != 0 || c.Longitude != 0
}

// checkVisitFields checks the shape of the new fields of a visit.
func checkVisitFields(pol *Policy, in RecordVisit) error {
	if in.Purpose != "" && !oneOf(in.Purpose, VisitPurposes()...) {
		return badValue("purpose", "visit purpose", "走访目的", in.Purpose, VisitPurposes()...)
	}
	for i, u := range in.Covered {
		if !oneOf(u, FiveUnderstandings()...) {
			return badValue("covered", "understanding", "了解事项", u, FiveUnderstandings()...)
		}
		if slices.Contains(in.Covered[:i], u) {
			return newError(ErrInvalid, "covered_duplicate", "covered", fmt.Sprintf("%s is listed twice", u), fmt.Sprintf("%s 重复列出", u))
		}
	}
	if nc := in.NextContact; nc != nil {
		switch {
		case nc.Person == "":
			return required("next_contact.person", "the next contact person", "后续联系人")
		case nc.At.IsZero():
			return required("next_contact.at", "the time of the next contact", "后续联系时间")
		}
		if err := CheckName("next_contact.person", nc.Person); err != nil {
			return err
		}
		if err := CheckInstant("next_contact.at", nc.At); err != nil {
			return err
		}
		if !nc.At.After(in.OccurredAt) || nc.At.Sub(in.OccurredAt) > MaxNextContact {
			return newError(ErrInvalid, "next_contact_out_of_range", "next_contact.at",
				"the next contact must be after the visit and within a year of it",
				"后续联系时间须在本次走访之后、一年之内")
		}
	}
	if c := in.CheckIn; c != nil {
		if err := CheckName("check_in.ref", c.Ref); err != nil {
			return err
		}
		if c.Latitude < -90 || c.Latitude > 90 || c.Longitude < -180 || c.Longitude > 180 {
			return newError(ErrInvalid, "check_in_out_of_range", "check_in", "latitude is from -90 to 90 and longitude from -180 to 180", "纬度须在 -90 到 90 之间，经度须在 -180 到 180 之间")
		}
		if !c.At.IsZero() && pol.VisitRecord.enabled() {
			d := c.At.Sub(in.OccurredAt)
			if d < 0 {
				d = -d
			}
			if d > pol.VisitRecord.CheckInWithin.duration() {
				w := pol.VisitRecord.CheckInWithin
				return newError(ErrRule, "check_in_far_from_visit", "check_in.at",
					fmt.Sprintf("the check-in time is more than %s from the visit's time; check in at the visit", w),
					fmt.Sprintf("签到时间与走访时间相差超过 %s；请在走访现场签到", w.ZH()))
			}
		}
	}
	return nil
}

var classLabels = map[HouseholdClass]label{
	ClassOrdinary: {"ordinary", "普通"}, ClassKey: {"key", "重点"}, ClassSpecial: {"special", "特殊"},
}

// Label returns how a household class is named to a person.
func (c HouseholdClass) Label() (en, zh string) { return lookup(classLabels, c) }
