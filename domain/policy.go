package domain

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed policies/*.yaml policies/history/*.yaml
var shippedPolicies embed.FS

// Names of the shipped policy presets.
const (
	PresetDefault     = "default"     // docs/DOMAIN.md defaults (001 §2.3.3 visit schedule)
	PresetAlt001Sec41 = "alt_001_4_1" // the visit schedule of 001 §4.1
)

// Policy is the configurable part of the rules: deadlines and visit
// frequency. It is data (YAML or JSON, see policies/default.yaml). A policy
// is identified by Version; events that start a clock record the version in
// force, and deadlines are always derived with the recorded version, so a
// past deadline replays identically after the policy changes. A Policy must
// not be modified after Validate; it is then safe for concurrent use.
type Policy struct {
	Version     string `yaml:"version" json:"version"`
	Name        string `yaml:"name,omitempty" json:"name,omitempty"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// VisitFrequency: the next visit is due this long after the last
	// completed visit (or registration): a rolling interval, the rule of
	// policies before default-2026.2. Every household class needs a
	// frequency or a cadence.
	VisitFrequency map[HouseholdClass]Span `yaml:"visit_frequency,omitempty" json:"visit_frequency,omitempty"`
	// VisitCadence: a household of the class needs a qualifying visit in
	// each calendar period ("once per week / month / quarter", 001 §2.3.3).
	// It takes precedence over VisitFrequency. A visit covers the period it
	// happens in; the next visit is due by the end of the following period,
	// so a visit on January 31st leaves February due (decision 0097).
	VisitCadence map[HouseholdClass]Period `yaml:"visit_cadence,omitempty" json:"visit_cadence,omitempty"`
	// PeriodEnd: where a once-per-period deadline (the visit cadence, file
	// upkeep) falls: "calendar" (default: the last instant of the period)
	// or "working_day" (the end of the period's last working day on the
	// working-day calendar, a make-up Saturday included; decision 0146).
	PeriodEnd PeriodEnd `yaml:"period_end,omitempty" json:"period_end,omitempty"`
	// VisitModes: the modes of a completed visit that count for the cadence
	// and for coverage, per class (a phone call counts only where listed).
	// A class not listed counts every mode (the rule before default-2026.2).
	VisitModes map[HouseholdClass][]VisitMode `yaml:"visit_modes,omitempty" json:"visit_modes,omitempty"`
	// ClassRules: the class that an assistance category or a circumstance
	// asks for (001 §2.3.3; §4.1 moves 独居老人 and 困境儿童 into 重点). A
	// household is at least the highest class whose rule matches; a lower
	// class needs a reason (an override). No rules: the class is as stated.
	ClassRules map[HouseholdClass]ClassRule `yaml:"class_rules,omitempty" json:"class_rules,omitempty"`
	// Coverage sets the targets of household visit coverage (001 §2.1,
	// §4.3, §6.2). Zero values set no target.
	Coverage CoverageTargets `yaml:"coverage,omitempty" json:"coverage,omitzero"`
	// ResolutionFlag: a community whose resolution rate (long-term
	// problems excluded) is below Below in two consecutive closed months is
	// flagged at the second close (001 §2.4.4: 约谈社区书记并限期整改).
	ResolutionFlag struct {
		Below float64 `yaml:"below,omitempty" json:"below,omitempty"`
	} `yaml:"resolution_flag,omitempty" json:"resolution_flag,omitzero"`
	// Risk: the thresholds of 001 §6.2 (风险评估) raised as flags at a
	// period close. Zero values raise nothing.
	Risk RiskThresholds `yaml:"risk,omitempty" json:"risk,omitzero"`
	// Retention: how long a closed (archived) household's file is kept
	// before its personal data is erased (PIPL art. 19, 47; decision 0113).
	// Absent: closed files are kept until someone asks for an erasure.
	Retention RetentionRules `yaml:"retention,omitempty" json:"retention,omitzero"`
	// HandlingTargets: the targets per handling class of 001 §2.2.2,
	// checked at each period close. Zero values set no target.
	HandlingTargets HandlingTargets `yaml:"handling_targets,omitempty" json:"handling_targets,omitzero"`
	// FileUpkeep: how often the household file is kept up (001 §2.4.3
	// 每月更新家庭需求变化，每季度修订家庭档案; §4.4 每季度更新一次家庭档案),
	// as calendar periods like VisitCadence: an update covers the period it
	// happens in and the next is due by the end of the following period
	// (decision 0118). Empty: no deadline.
	FileUpkeep FileUpkeep `yaml:"file_upkeep,omitempty" json:"file_upkeep,omitzero"`
	// VisitEntry: a visit recorded later than this after it happened is late.
	VisitEntry Span `yaml:"visit_entry" json:"visit_entry"`
	// Response sets the first-response deadline of a problem.
	Response ResponseRules `yaml:"response" json:"response"`
	// LongTermFollowUp: a long_term problem needs a progress note this often.
	LongTermFollowUp Span `yaml:"long_term_follow_up" json:"long_term_follow_up"`
	// ReferralAcceptance: a referral must be accepted or declined within this.
	ReferralAcceptance Span        `yaml:"referral_acceptance" json:"referral_acceptance"`
	Approaching        Approaching `yaml:"approaching" json:"approaching"`
	// ReturnVisit: who closes the loop and how (001 §2.2.2 反馈—评价,
	// 004 §3.2 解决后回访). Absent: the loop closes without a return visit
	// (the rules before issue 16).
	ReturnVisit ReturnVisitRules `yaml:"return_visit,omitempty" json:"return_visit,omitzero"`
	// VisitRecord: the visit as evidence (decision 0120): the recorder on
	// the team, and what a completed home visit records per class.
	// Absent: any team, nothing more (the rules before default-2026.4).
	VisitRecord VisitRecordPolicy `yaml:"visit_record,omitempty" json:"visit_record,omitzero"`
	// SecondVisit: after a refusal or nobody at home, a second visit by
	// one of Roles within Within (001 §6.3 对拒绝配合的居民，由社区书记或网格员
	// 二次走访), tracked as the second_visit clock. Absent: not required.
	SecondVisit SecondVisitRules `yaml:"second_visit,omitempty" json:"second_visit,omitzero"`
	// Rectification: the 限期整改 of a rectification case opened by a flag
	// (001 §2.4.4) and its 回头看 (decision 0114). Absent: no case opens.
	Rectification RectificationRules `yaml:"rectification,omitempty" json:"rectification,omitzero"`
	// SpotCheck: the share of a community's completed visits checked each
	// month (001 §3.4, decision 0115). Absent: no spot checks are drawn.
	SpotCheck SpotCheckRules `yaml:"spot_check,omitempty" json:"spot_check,omitzero"`
	// Survey: the half-yearly satisfaction survey's thresholds (001 §3.4,
	// decision 0127). Absent: no survey opens.
	Survey SurveyRules `yaml:"survey,omitempty" json:"survey,omitzero"`
	// FestivalVisits: the classes a festival visit campaign reaches and the
	// festivals it may be held for (004 §4.2 重要节日必访, decision 0140).
	// Absent: no campaign opens.
	FestivalVisits FestivalRules `yaml:"festival_visits,omitempty" json:"festival_visits,omitzero"`
}

// SecondVisitRules: see Policy.SecondVisit.
type SecondVisitRules struct {
	Within Span       `yaml:"within" json:"within"`
	Roles  []TeamRole `yaml:"roles" json:"roles"`
}

func (r SecondVisitRules) enabled() bool { return !r.Within.IsZero() }

// ReturnVisitRules: closing a resolved problem needs a return visit (回访)
// after the resolution that records the household's satisfaction and
// whether the problem recurred, made independently of the resolution: by
// someone other than the person who resolved it, or through one of
// IndependentChannels (a role and a method: the supervisor's office
// surveying by phone). A return visit that finds the problem recurred, or
// a satisfaction below ReopenBelow, reopens the problem.
type ReturnVisitRules struct {
	// RequiredToClose: a resolved problem closes only after an
	// independent return visit that found it held and the household
	// satisfied.
	RequiredToClose bool `yaml:"required_to_close" json:"required_to_close"`
	// Roles may record a return visit (domain role names).
	Roles []string `yaml:"roles" json:"roles"`
	// IndependentChannels count as independent whoever resolved the problem.
	IndependentChannels []ReturnChannel `yaml:"independent_channels,omitempty" json:"independent_channels,omitempty"`
	// ReopenBelow: a satisfaction score (1–5) below this reopens the problem.
	ReopenBelow int `yaml:"reopen_below" json:"reopen_below"`
}

// ReturnChannel is a way of making a return visit that is independent of
// the resolver by its nature (e.g. role supervisor, method phone).
type ReturnChannel struct {
	Role   string         `yaml:"role" json:"role"`
	Method FollowUpMethod `yaml:"method" json:"method"`
}

// enabled reports whether the policy has return-visit rules.
func (r ReturnVisitRules) enabled() bool { return r.RequiredToClose || len(r.Roles) > 0 }

// independent reports whether a return visit by actor in role through
// method is independent of the resolution made by resolver.
func (r ReturnVisitRules) independent(actor, role string, method FollowUpMethod, resolver string) bool {
	if actor != resolver {
		return true
	}
	for _, c := range r.IndependentChannels {
		if c.Role == role && c.Method == method {
			return true
		}
	}
	return false
}

// CoverageTargets: the share of households due in a period that must be
// visited on schedule. Shares are fractions (0.95 = 95%).
type CoverageTargets struct {
	// All households: 走访覆盖率需达到95%以上 (001 §4.3).
	All float64 `yaml:"all,omitempty" json:"all,omitempty"`
	// KeyGroups: the classes of 重点群体 and their target, 100% (001 §2.1).
	KeyGroupClasses []HouseholdClass `yaml:"key_group_classes,omitempty" json:"key_group_classes,omitempty"`
	KeyGroups       float64          `yaml:"key_groups,omitempty" json:"key_groups,omitempty"`
	// RiskBelow: coverage below this is a risk (家庭覆盖率低于90%, 001 §6.2).
	RiskBelow float64 `yaml:"risk_below,omitempty" json:"risk_below,omitempty"`
}

// RiskThresholds are the risk thresholds of 001 §6.2 that the measures
// compute (the coverage threshold is CoverageTargets.RiskBelow).
type RiskThresholds struct {
	// RefusalAbove: refused visits / visits above this (拒绝配合率超过20%).
	RefusalAbove float64 `yaml:"refusal_above,omitempty" json:"refusal_above,omitempty"`
	// ResolutionDaysAbove: mean days from discovery to resolution of the
	// problems resolved in the period above this (问题平均解决时间超过7天).
	ResolutionDaysAbove float64 `yaml:"resolution_days_above,omitempty" json:"resolution_days_above,omitempty"`
	// WorkerResolutionBelow: a worker's resolution rate (problems found in
	// the period, long-term excluded, resolved by the close) below this
	// (问题解决率低于70%).
	WorkerResolutionBelow float64 `yaml:"worker_resolution_below,omitempty" json:"worker_resolution_below,omitempty"`
	// IneffectiveCommunicationAbove: completed visits recorded with
	// communication ineffective / completed visits in the period above
	// this (沟通无效案例占比超过15%; decision 0145).
	IneffectiveCommunicationAbove float64 `yaml:"ineffective_communication_above,omitempty" json:"ineffective_communication_above,omitempty"`
}

// HandlingTargets are the targets of 001 §2.2.2 per handling class
// (decision 0117). Shares are fractions (1.0 = 100%).
type HandlingTargets struct {
	// Immediate: of the immediate problems whose time limit
	// (response.by_handling_class.immediate, 24 hours) ended in the period,
	// the share first responded to within it (即时解决类24小时内响应, 100%).
	Immediate float64 `yaml:"immediate,omitempty" json:"immediate,omitempty"`
	// Coordinated: the same for coordinated problems and their limit
	// (3 working days: 协调联动类3个工作日内启动办理, 95%以上).
	Coordinated float64 `yaml:"coordinated,omitempty" json:"coordinated,omitempty"`
	// LongTermSatisfaction: of the satisfaction ratings of long-term
	// problems given in the period, the share of 4 or 5 (长期跟进类问题服务
	// 满意率90%以上).
	LongTermSatisfaction float64 `yaml:"long_term_satisfaction,omitempty" json:"long_term_satisfaction,omitempty"`
}

// FileUpkeep sets the periods of the household file's upkeep.
type FileUpkeep struct {
	NeedsUpdate  Period `yaml:"needs_update,omitempty" json:"needs_update,omitempty"`   // a needs assessment
	FileRevision Period `yaml:"file_revision,omitempty" json:"file_revision,omitempty"` // any revision of the file by a person
}

// MaxHandlingLimit bounds the time limit of a handling class that has a
// target: a close reads the problems reported this long before the period.
const MaxHandlingLimit = 31 * 24 * time.Hour

// HandlingLimitDue returns the end of the time limit of 001 §2.2.2 of a
// problem of class hc reported at: response.by_handling_class[hc] from
// the report, on the working-day calendar. ok is false when the class has
// no limit.
func (p *Policy) HandlingLimitDue(cal WorkingDayCalendar, hc HandlingClass, at time.Time) (time.Time, bool, error) {
	s := p.Response.ByHandlingClass[hc]
	if s.IsZero() {
		return time.Time{}, false, nil
	}
	d, err := DueAfter(cal, at, s)
	if err != nil {
		return time.Time{}, false, err
	}
	return d.At, true, nil
}

// ClassRule lists the categories and circumstances that put a household in
// a class.
type ClassRule struct {
	Categories    []AssistanceCategory `yaml:"categories,omitempty" json:"categories,omitempty"`
	Circumstances []Circumstance       `yaml:"circumstances,omitempty" json:"circumstances,omitempty"`
}

// ClassFor returns the class the policy's rules ask for a household of
// category cat with circumstances circ, and what matched ("" when no rule
// matched: ordinary). With no rules it returns ordinary.
func (p *Policy) ClassFor(cat AssistanceCategory, circ []Circumstance) (HouseholdClass, string) {
	best, why := ClassOrdinary, ""
	for _, c := range []HouseholdClass{ClassKey, ClassSpecial} {
		r, ok := p.ClassRules[c]
		if !ok {
			continue
		}
		if cat != CategoryNone && slices.Contains(r.Categories, cat) {
			best, why = c, "category "+string(cat)
		}
		for _, x := range circ {
			if slices.Contains(r.Circumstances, x) {
				best, why = c, "circumstance "+string(x)
				break
			}
		}
	}
	return best, why
}

// ClassRuleLabel names what matched a class rule (ClassFor's second
// result, kept in events as ClassRule: "category di_bao", "circumstance
// living_alone") for a person, in English and Chinese.
func ClassRuleLabel(rule string) (en, zh string) {
	kind, value, _ := strings.Cut(rule, " ")
	switch kind {
	case "category":
		en, zh := AssistanceCategory(value).Label()
		return "category " + en, "救助类别“" + zh + "”"
	case "circumstance":
		en, zh := Circumstance(value).Label()
		return "circumstance " + en, "家庭情形“" + zh + "”"
	}
	return rule, rule
}

// HasClassRules reports whether the policy derives the class by rule.
func (p *Policy) HasClassRules() bool { return len(p.ClassRules) > 0 }

// VisitCounts reports whether a completed visit in mode counts for the
// cadence and coverage of a household of class c.
func (p *Policy) VisitCounts(c HouseholdClass, mode VisitMode) bool {
	ms, ok := p.VisitModes[c]
	return !ok || slices.Contains(ms, mode)
}

// ResponseRules: the first response to a problem is due at the earliest of
// the spans that apply to its handling class, colour and urgency. A missing
// entry sets no deadline; if none applies, there is no response deadline.
type ResponseRules struct {
	ByHandlingClass map[HandlingClass]Span `yaml:"by_handling_class" json:"by_handling_class"`
	ByColour        map[Colour]Span        `yaml:"by_colour" json:"by_colour"`
	ByUrgency       map[Urgency]Span       `yaml:"by_urgency" json:"by_urgency"`
}

// Approaching sets when an "approaching" warning is due: BeforeShort before
// the due instant of deadlines whose rule is at most ShortMax long,
// BeforeLong before all others, never earlier than the clock's start. Both
// must be clock spans (hours or days).
type Approaching struct {
	ShortMax    Span `yaml:"short_max" json:"short_max"`
	BeforeShort Span `yaml:"before_short" json:"before_short"`
	BeforeLong  Span `yaml:"before_long" json:"before_long"`
}

// ParsePolicy decodes a policy from YAML or JSON bytes and validates it.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		e := newError(ErrInvalid, "invalid_policy", "",
			fmt.Sprintf("the policy could not be read (%v); fix the file and load it again", err),
			fmt.Sprintf("无法读取策略文件（%v）；请修正后重新加载", err))
		e.Err = err
		return nil, e
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// ShippedPolicy returns a shipped preset by name (PresetDefault,
// PresetAlt001Sec41).
func ShippedPolicy(name string) (*Policy, error) {
	b, err := shippedPolicies.ReadFile("policies/" + name + ".yaml")
	if err != nil {
		return nil, newError(ErrNotFound, "policy_not_found", "name",
			fmt.Sprintf("there is no shipped policy named %q; use %q or %q", name, PresetDefault, PresetAlt001Sec41),
			fmt.Sprintf("没有名为 %q 的内置策略；请使用 %q 或 %q", name, PresetDefault, PresetAlt001Sec41))
	}
	return ParsePolicy(b)
}

// ShippedPolicySet returns the set with the named preset in force and every
// older shipped version (policies/history), so clocks recorded under an
// earlier version still derive their deadlines with it.
func ShippedPolicySet(name string) (*PolicySet, error) {
	cur, err := ShippedPolicy(name)
	if err != nil {
		return nil, err
	}
	files, err := shippedPolicies.ReadDir("policies/history")
	if err != nil {
		return nil, err
	}
	var older []*Policy
	for _, f := range files {
		b, err := shippedPolicies.ReadFile("policies/history/" + f.Name())
		if err != nil {
			return nil, err
		}
		p, err := ParsePolicy(b)
		if err != nil {
			return nil, err
		}
		if p.Version != cur.Version {
			older = append(older, p)
		}
	}
	return NewPolicySet(cur, older...)
}

// DefaultPolicySet is ShippedPolicySet(PresetDefault).
func DefaultPolicySet() (*PolicySet, error) { return ShippedPolicySet(PresetDefault) }

// DefaultPolicy returns the PresetDefault policy.
func DefaultPolicy() (*Policy, error) { return ShippedPolicy(PresetDefault) }

func policyErr(field, en, zh string) *Error {
	return newError(ErrInvalid, "invalid_policy", field, en+"; fix the policy and load it again", zh+"；请修正策略后重新加载")
}

// Validate checks that the policy is complete and consistent. It returns a
// *Error with code "invalid_policy" naming the field.
func (p *Policy) Validate() error {
	if p.Version == "" {
		return policyErr("version", "the policy has no version", "策略缺少版本号")
	}
	for k := range p.VisitFrequency {
		if !oneOf(k, HouseholdClasses()...) {
			return policyErr("visit_frequency."+string(k), fmt.Sprintf("unknown household class %q", k), fmt.Sprintf("未知的家庭类别 %q", k))
		}
	}
	for _, c := range HouseholdClasses() {
		if p.VisitFrequency[c].IsZero() && p.VisitCadence[c] == "" {
			return policyErr("visit_frequency."+string(c), fmt.Sprintf("no visit frequency for household class %q", c), fmt.Sprintf("缺少家庭类别 %q 的走访频次", c))
		}
	}
	for k, per := range p.VisitCadence {
		if !oneOf(k, HouseholdClasses()...) {
			return policyErr("visit_cadence."+string(k), fmt.Sprintf("unknown household class %q", k), fmt.Sprintf("未知的家庭类别 %q", k))
		}
		if !oneOf(per, Periods()...) {
			return policyErr("visit_cadence."+string(k), fmt.Sprintf("unknown period %q (week, month, quarter, half_year, year)", per), fmt.Sprintf("未知的期间 %q（应为周、月、季度、半年或年）", per))
		}
	}
	if !oneOf(p.PeriodEnd, "", PeriodEndCalendar, PeriodEndWorkingDay) {
		return policyErr("period_end", fmt.Sprintf("unknown period end %q (calendar, working_day)", p.PeriodEnd),
			fmt.Sprintf("未知的期间截止方式 %q（应为 “calendar”（自然日）或 “working_day”（最后一个工作日））", p.PeriodEnd))
	}
	for f, per := range map[string]Period{"file_upkeep.needs_update": p.FileUpkeep.NeedsUpdate, "file_upkeep.file_revision": p.FileUpkeep.FileRevision} {
		if per != "" && !oneOf(per, Periods()...) {
			return policyErr(f, fmt.Sprintf("unknown period %q (week, month, quarter, half_year, year)", per), fmt.Sprintf("未知的期间 %q（应为周、月、季度、半年或年）", per))
		}
	}
	for k, ms := range p.VisitModes {
		if !oneOf(k, HouseholdClasses()...) {
			return policyErr("visit_modes."+string(k), fmt.Sprintf("unknown household class %q", k), fmt.Sprintf("未知的家庭类别 %q", k))
		}
		for _, m := range ms {
			if !oneOf(m, ModeHome, ModePhone, ModeVideo, ModeOnline) {
				return policyErr("visit_modes."+string(k), fmt.Sprintf("unknown visit mode %q", m), fmt.Sprintf("未知的走访方式 %q", m))
			}
		}
	}
	for f, v := range map[string]float64{"coverage.all": p.Coverage.All, "coverage.key_groups": p.Coverage.KeyGroups, "coverage.risk_below": p.Coverage.RiskBelow} {
		if v < 0 || v > 1 {
			return policyErr(f, fmt.Sprintf("%s must be a share between 0 and 1, not %v", f, v), fmt.Sprintf("%s 必须是 0 到 1 之间的比例，而不是 %v", f, v))
		}
	}
	for f, v := range map[string]float64{"risk.refusal_above": p.Risk.RefusalAbove, "risk.worker_resolution_below": p.Risk.WorkerResolutionBelow,
		"risk.ineffective_communication_above": p.Risk.IneffectiveCommunicationAbove} {
		if v < 0 || v > 1 {
			return policyErr(f, fmt.Sprintf("%s must be a share between 0 and 1, not %v", f, v), fmt.Sprintf("%s 必须是 0 到 1 之间的比例，而不是 %v", f, v))
		}
	}
	for f, v := range map[string]float64{"handling_targets.immediate": p.HandlingTargets.Immediate, "handling_targets.coordinated": p.HandlingTargets.Coordinated,
		"handling_targets.long_term_satisfaction": p.HandlingTargets.LongTermSatisfaction} {
		if v < 0 || v > 1 {
			return policyErr(f, fmt.Sprintf("%s must be a share between 0 and 1, not %v", f, v), fmt.Sprintf("%s 必须是 0 到 1 之间的比例，而不是 %v", f, v))
		}
	}
	for hc, v := range map[HandlingClass]float64{HandlingImmediate: p.HandlingTargets.Immediate, HandlingCoordinated: p.HandlingTargets.Coordinated} {
		s := p.Response.ByHandlingClass[hc]
		if v > 0 && (s.IsZero() || s.duration() > MaxHandlingLimit) {
			return policyErr("handling_targets."+string(hc),
				fmt.Sprintf("a target for %s problems needs their time limit in response.by_handling_class, at most 31 days, not %q", hc, s),
				fmt.Sprintf("%s 类问题的目标需要 response.by_handling_class 中的时限（不超过31天），而不是 %q", hc, s))
		}
	}
	if d := p.Risk.ResolutionDaysAbove; d < 0 || d > 366 {
		return policyErr("risk.resolution_days_above", fmt.Sprintf("risk.resolution_days_above must be between 0 and 366 days, not %v", d),
			fmt.Sprintf("risk.resolution_days_above 必须在 0 到 366 天之间，而不是 %v", d))
	}
	for _, c := range p.Coverage.KeyGroupClasses {
		if !oneOf(c, HouseholdClasses()...) {
			return policyErr("coverage.key_group_classes", fmt.Sprintf("unknown household class %q", c), fmt.Sprintf("未知的家庭类别 %q", c))
		}
	}
	for k, r := range p.ClassRules {
		if !oneOf(k, ClassKey, ClassSpecial) {
			return policyErr("class_rules."+string(k), fmt.Sprintf("class rules name key or special, not %q", k), fmt.Sprintf("类别规则只能针对重点或特殊家庭，而不是 %q", k))
		}
		for _, c := range r.Categories {
			if c == CategoryNone || checkCategory(c) != nil {
				return policyErr("class_rules."+string(k), fmt.Sprintf("unknown assistance category %q", c), fmt.Sprintf("未知的救助类别 %q", c))
			}
		}
		for _, c := range r.Circumstances {
			if !oneOf(c, Circumstances()...) {
				return policyErr("class_rules."+string(k), fmt.Sprintf("unknown circumstance %q", c), fmt.Sprintf("未知的家庭情况 %q", c))
			}
		}
	}
	need := map[string]Span{
		"visit_entry": p.VisitEntry, "long_term_follow_up": p.LongTermFollowUp,
		"referral_acceptance": p.ReferralAcceptance, "approaching.short_max": p.Approaching.ShortMax,
	}
	for f, s := range need {
		if s.IsZero() {
			return policyErr(f, fmt.Sprintf("%s is missing", f), fmt.Sprintf("缺少 %s", f))
		}
	}
	if p.VisitEntry.Unit == UnitWorkingDay || p.VisitEntry.Unit == UnitMonth {
		return policyErr("visit_entry", fmt.Sprintf("visit_entry must be in hours, days or weeks, not %s", p.VisitEntry), fmt.Sprintf("visit_entry 必须以小时、天或周为单位，而不是 %s", p.VisitEntry))
	}
	for f, s := range map[string]Span{"approaching.before_short": p.Approaching.BeforeShort, "approaching.before_long": p.Approaching.BeforeLong} {
		if s.Unit == UnitWorkingDay || s.Unit == UnitMonth {
			return policyErr(f, fmt.Sprintf("%s must be in hours, days or weeks, not %s", f, s), fmt.Sprintf("%s 必须以小时、天或周为单位，而不是 %s", f, s.ZH()))
		}
	}
	if rv := p.ReturnVisit; rv.enabled() {
		roles := []string{RoleGridWorker, RoleSocialWorker, RoleSupervisor, RoleAuditor, RoleDepartment, RoleAdmin}
		if len(rv.Roles) == 0 {
			return policyErr("return_visit.roles", "no role may record a return visit", "没有可以回访的角色")
		}
		for _, r := range rv.Roles {
			if !oneOf(r, roles...) {
				return policyErr("return_visit.roles", fmt.Sprintf("unknown role %q", r), fmt.Sprintf("未知的角色 %q", r))
			}
		}
		for _, c := range rv.IndependentChannels {
			if !oneOf(c.Role, roles...) || !oneOf(c.Method, followUps()...) {
				return policyErr("return_visit.independent_channels", fmt.Sprintf("unknown role %q or method %q", c.Role, c.Method),
					fmt.Sprintf("未知的角色 %q 或方式 %q", c.Role, c.Method))
			}
		}
		if rv.ReopenBelow < 1 || rv.ReopenBelow > 5 {
			return policyErr("return_visit.reopen_below", fmt.Sprintf("reopen_below must be from 1 to 5, not %d", rv.ReopenBelow),
				fmt.Sprintf("reopen_below 须为 1 到 5，而不是 %d", rv.ReopenBelow))
		}
	}
	if err := p.VisitRecord.validate(); err != nil {
		return err
	}
	if sv := p.SecondVisit; sv.enabled() || len(sv.Roles) > 0 {
		if !sv.enabled() || len(sv.Roles) == 0 {
			return policyErr("second_visit", "second_visit needs a time limit (within) and the roles that may make it", "second_visit 须给出时限 second_visit.within 和可进行二次走访的角色 second_visit.roles")
		}
		for _, r := range sv.Roles {
			if !oneOf(r, TeamRoles()...) {
				return policyErr("second_visit.roles", fmt.Sprintf("unknown team role %q", r), fmt.Sprintf("未知的走访人员角色 %q", r))
			}
		}
	}
	if err := p.Rectification.validate(); err != nil {
		return err
	}
	if err := p.Survey.validate(); err != nil {
		return err
	}
	if err := p.FestivalVisits.validate(); err != nil {
		return err
	}
	if r := p.SpotCheck.Rate; r < 0 || r > 1 {
		return policyErr("spot_check.rate", fmt.Sprintf("spot_check.rate must be a share between 0 and 1, not %v", r),
			fmt.Sprintf("spot_check.rate 必须是 0 到 1 之间的比例，而不是 %v", r))
	}
	for k := range p.Response.ByHandlingClass {
		if !oneOf(k, HandlingImmediate, HandlingCoordinated, HandlingLongTerm) {
			return policyErr("response.by_handling_class."+string(k), fmt.Sprintf("unknown handling class %q", k), fmt.Sprintf("未知的处置类别 %q", k))
		}
	}
	for k := range p.Response.ByColour {
		if !oneOf(k, ColourRed, ColourYellow, ColourGreen) {
			return policyErr("response.by_colour."+string(k), fmt.Sprintf("unknown colour %q", k), fmt.Sprintf("未知的颜色等级 %q", k))
		}
	}
	for k := range p.Response.ByUrgency {
		if !oneOf(k, UrgencyUrgent, UrgencyOrdinary) {
			return policyErr("response.by_urgency."+string(k), fmt.Sprintf("unknown urgency %q", k), fmt.Sprintf("未知的紧急程度 %q", k))
		}
	}
	return p.Retention.validate()
}

// PolicySet holds the policy in force and the older versions that recorded
// clocks may still refer to. It is immutable and safe for concurrent use.
type PolicySet struct {
	current  *Policy
	versions map[string]*Policy
}

// NewPolicySet builds a set; current is the policy in force. Versions must be
// unique and every policy valid.
func NewPolicySet(current *Policy, older ...*Policy) (*PolicySet, error) {
	s := &PolicySet{current: current, versions: map[string]*Policy{}}
	for _, p := range append([]*Policy{current}, older...) {
		if p == nil {
			return nil, policyErr("", "a policy is missing", "缺少策略")
		}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if _, dup := s.versions[p.Version]; dup {
			return nil, policyErr("version", fmt.Sprintf("policy version %q is given twice", p.Version), fmt.Sprintf("策略版本 %q 重复", p.Version))
		}
		s.versions[p.Version] = p
	}
	return s, nil
}

// Current is the policy in force: pass it to commands that start a clock.
func (s *PolicySet) Current() *Policy { return s.current }

// Versions lists the known versions, sorted.
func (s *PolicySet) Versions() []string {
	vs := make([]string, 0, len(s.versions))
	for v := range s.versions {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// Get returns the policy of a version, or an ErrNotFound *Error
// ("policy_version_unknown").
func (s *PolicySet) Get(version string) (*Policy, error) {
	if p, ok := s.versions[version]; ok {
		return p, nil
	}
	return nil, newError(ErrNotFound, "policy_version_unknown", "policy_version",
		fmt.Sprintf("policy version %q is not loaded; load that version (past deadlines are derived with the version that was in force)", version),
		fmt.Sprintf("未加载策略版本 %q；请加载该版本（历史期限按当时生效的版本计算）", version))
}

// Deadline derives a clock's deadline with the policy version the clock
// recorded. See Policy.Deadline.
func (s *PolicySet) Deadline(cal WorkingDayCalendar, c Clock) (Deadline, bool, error) {
	p, err := s.Get(c.PolicyVersion)
	if err != nil {
		return Deadline{}, false, err
	}
	return p.Deadline(cal, c)
}

// Deadline derives the due and approaching instants of a running clock. ok is
// false when no deadline applies (e.g. a green long-term problem has no
// response deadline under some policies). A clock with an explicit Due uses
// it. A working-day deadline that runs into a year without an official
// calendar is computed with Monday to Friday for that year and marked
// provisional in d.Basis. Errors from the calendar (a span out of range)
// are wrapped in a *Error "deadline_unavailable".
// The policy's version is not checked against c.PolicyVersion: use
// PolicySet.Deadline for that.
func (p *Policy) Deadline(cal WorkingDayCalendar, c Clock) (d Deadline, ok bool, err error) {
	d.Clock = c
	rule := Span{}
	if c.Due.IsZero() {
		var spans []Span
		switch c.Kind {
		case ClockProblemResponse:
			spans = []Span{p.Response.ByHandlingClass[c.HandlingClass], p.Response.ByColour[c.Colour], p.Response.ByUrgency[c.Urgency]}
		case ClockProblemFollowUp:
			spans = []Span{p.LongTermFollowUp}
		case ClockReferralAcceptance:
			spans = []Span{p.ReferralAcceptance}
		case ClockSecondVisit:
			spans = []Span{p.SecondVisit.Within}
		case ClockVisitDue:
			if per := p.VisitCadence[c.HouseholdClass]; per != "" {
				if d, err = p.periodDue(d, cal, per); err != nil {
					return Deadline{}, false, deadlineErr(c, err)
				}
				return p.approach(d, Span{}), true, nil
			}
			spans = []Span{p.VisitFrequency[c.HouseholdClass]}
		case ClockNeedsUpdate, ClockFileRevision:
			per := p.FileUpkeep.NeedsUpdate
			if c.Kind == ClockFileRevision {
				per = p.FileUpkeep.FileRevision
			}
			if per == "" {
				return Deadline{}, false, nil
			}
			if d, err = p.periodDue(d, cal, per); err != nil {
				return Deadline{}, false, deadlineErr(c, err)
			}
			return p.approach(d, Span{}), true, nil
		}
		for _, s := range spans {
			if s.IsZero() {
				continue
			}
			due, err := DueAfter(cal, c.Start, s)
			if err != nil {
				return Deadline{}, false, deadlineErr(c, err)
			}
			if d.Due.IsZero() || due.At.Before(d.Due) {
				d.Due, d.Basis, rule = due.At, due.Basis, s
			}
		}
		if d.Due.IsZero() {
			return Deadline{}, false, nil
		}
	} else {
		d.Due, d.Basis = c.Due, c.Basis
	}
	return p.approach(d, rule), true, nil
}

// periodDue sets the due instant of a once-per-period clock: the start's
// period is covered, the next one must be; due at its last instant, or
// under PeriodEndWorkingDay at the end of its last working day (a period
// without one keeps its last instant).
func (p *Policy) periodDue(d Deadline, cal WorkingDayCalendar, per Period) (Deadline, error) {
	loc := cal.Location()
	_, end := per.Bounds(d.Clock.Start, loc)
	_, next := per.Bounds(end, loc)
	d.Due = next.Add(-time.Nanosecond)
	if p.PeriodEnd != PeriodEndWorkingDay {
		return d, nil
	}
	for day := next.In(loc).AddDate(0, 0, -1); !day.Before(end); day = day.AddDate(0, 0, -1) {
		// The first working day from day's date on: day itself when it is one.
		due, prov, err := cal.AddWorkingDays(day.Add(-time.Hour), 1)
		if err != nil {
			return Deadline{}, err
		}
		if due.Before(day.AddDate(0, 0, 1)) {
			d.Due, d.Basis = due, CalendarBasis{Version: cal.Version(), Provisional: prov}
			return d, nil
		}
	}
	return d, nil
}

// PeriodEnd says where a once-per-period deadline falls (Policy.PeriodEnd).
type PeriodEnd string

const (
	PeriodEndCalendar   PeriodEnd = "calendar"    // the period's last instant
	PeriodEndWorkingDay PeriodEnd = "working_day" // the end of the period's last working day
)

// approach sets d.Approaching for a deadline derived from rule (zero: an
// explicit or period deadline, judged by its length).
func (p *Policy) approach(d Deadline, rule Span) Deadline {
	c := d.Clock
	before := p.Approaching.BeforeLong
	if (!rule.IsZero() && rule.duration() <= p.Approaching.ShortMax.duration()) ||
		(rule.IsZero() && d.Due.Sub(c.Start) <= p.Approaching.ShortMax.duration()) {
		before = p.Approaching.BeforeShort
	}
	d.Approaching = d.Due
	if !before.IsZero() {
		d.Approaching = d.Due.Add(-before.duration())
	}
	if d.Approaching.Before(c.Start) {
		d.Approaching = c.Start
	}
	return d
}

func deadlineErr(c Clock, err error) *Error {
	_, kind := c.Kind.Label()
	e := newError(ErrInvalid, "deadline_unavailable", "",
		fmt.Sprintf("the %s deadline starting %s cannot be computed (%v); check the policy's time limits", c.Kind, c.Start.Format(time.RFC3339), err),
		fmt.Sprintf("无法计算自 %s 起的%s期限；请检查策略中的时限", c.Start.Format(time.RFC3339), kind))
	e.Err = err
	return e
}
