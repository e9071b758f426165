package domain

import (
	"fmt"
	"time"
)

// Satisfaction survey (满意度问卷, 001 §3.4 "每半年发放一次满意度问卷…问卷回收率不低于
// 80%，满意度低于80%的社区需限期整改", decision 0127) event types, on the
// stream SurveyStream(community, half-year). Durable names.
const (
	TypeSurveyOpened           = "survey.opened"
	TypeSurveyResponseRecorded = "survey.response_recorded"
	TypeSurveyClosed           = "survey.closed"
)

// SurveyStream is the stream of a community's survey of a half-year
// ("2026-H2").
func SurveyStream(community, halfYear string) string { return "survey-" + community + "." + halfYear }

// Survey breaches named in SurveyClosed.Breaches.
const (
	SurveyBreachReturnRate   = "return_rate"  // 问卷回收率低于下限
	SurveyBreachSatisfaction = "satisfaction" // 满意度低于下限
)

// MaxSurveyHouseholds bounds the questionnaires of one round.
const MaxSurveyHouseholds = 100_000

// SurveyOpened opens a community's survey of a half-year: Surveyed
// questionnaires handed out (the sample size).
type SurveyOpened struct {
	Community     string    `json:"community"`
	Period        string    `json:"period"`
	Surveyed      int       `json:"surveyed"`
	PolicyVersion string    `json:"policy_version"`
	At            time.Time `json:"at"`
	By            string    `json:"by"`
}

// SurveyResponseRecorded records one household's returned questionnaire:
// satisfied or not, and nothing else about the household.
type SurveyResponseRecorded struct {
	Community string    `json:"community"`
	Period    string    `json:"period"`
	Household string    `json:"household_id"`
	Satisfied bool      `json:"satisfied"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
}

// SurveyClosed closes the round with its figures: the return rate
// (Returned / Surveyed), the satisfaction (Satisfied / Returned; 0 when
// nothing was returned) and the policy's thresholds they were held to.
// Breaches lists which fell below (SurveyBreachReturnRate,
// SurveyBreachSatisfaction); a breach opens a rectification case.
type SurveyClosed struct {
	Community       string    `json:"community"`
	Period          string    `json:"period"`
	Surveyed        int       `json:"surveyed"`
	Returned        int       `json:"returned"`
	Satisfied       int       `json:"satisfied"`
	ReturnRate      float64   `json:"return_rate"`
	Satisfaction    float64   `json:"satisfaction"`
	MinReturnRate   float64   `json:"min_return_rate"`
	MinSatisfaction float64   `json:"min_satisfaction"`
	Breaches        []string  `json:"breaches,omitempty"`
	PolicyVersion   string    `json:"policy_version"`
	At              time.Time `json:"at"`
	By              string    `json:"by"`
}

func (SurveyOpened) EventType() string           { return TypeSurveyOpened }
func (SurveyResponseRecorded) EventType() string { return TypeSurveyResponseRecorded }
func (SurveyClosed) EventType() string           { return TypeSurveyClosed }

// SurveyRules: the half-yearly survey's thresholds (001 §3.4: 问卷回收率不低于
// 80%, 满意度低于80%…限期整改).
type SurveyRules struct {
	MinReturnRate   float64 `yaml:"min_return_rate" json:"min_return_rate"`
	MinSatisfaction float64 `yaml:"min_satisfaction" json:"min_satisfaction"`
}

// IsZero reports whether the policy sets no survey.
func (r SurveyRules) IsZero() bool { return r.MinReturnRate == 0 && r.MinSatisfaction == 0 }

func (r SurveyRules) validate() error {
	for i, v := range []float64{r.MinReturnRate, r.MinSatisfaction} {
		f := []string{"survey.min_return_rate", "survey.min_satisfaction"}[i]
		if v < 0 || v > 1 {
			return policyErr(f, fmt.Sprintf("%s must be a share between 0 and 1, not %v", f, v),
				fmt.Sprintf("%s 必须是 0 到 1 之间的比例，而不是 %v", f, v))
		}
	}
	return nil
}

// SurveyRound is the aggregate of one community's survey of a half-year.
// Start from NewSurveyRound. Not safe for concurrent use.
type SurveyRound struct {
	community, period string
	version           uint64
	opened            *SurveyOpened
	responses         []SurveyResponseRecorded
	answered          map[string]bool
	closed            *SurveyClosed
}

// NewSurveyRound returns the empty round of community and half-year.
func NewSurveyRound(community, halfYear string) *SurveyRound {
	return &SurveyRound{community: community, period: halfYear, answered: map[string]bool{}}
}

// Version implements Aggregate.
func (s *SurveyRound) Version() uint64 { return s.version }

// Community returns the round's community.
func (s *SurveyRound) Community() string { return s.community }

// Opened returns the opening, if any.
func (s *SurveyRound) Opened() (SurveyOpened, bool) {
	if s.opened == nil {
		return SurveyOpened{}, false
	}
	return *s.opened, true
}

// Responses returns the responses recorded, in order.
func (s *SurveyRound) Responses() []SurveyResponseRecorded {
	return append([]SurveyResponseRecorded(nil), s.responses...)
}

// Closed returns the closing figures, if closed.
func (s *SurveyRound) Closed() (SurveyClosed, bool) {
	if s.closed == nil {
		return SurveyClosed{}, false
	}
	return *s.closed, true
}

// Apply implements Aggregate.
func (s *SurveyRound) Apply(e Event) {
	s.version++
	switch e := e.(type) {
	case SurveyOpened:
		o := e
		s.opened = &o
	case SurveyResponseRecorded:
		s.responses = append(s.responses, e)
		s.answered[e.Household] = true
	case SurveyClosed:
		c := e
		s.closed = &c
	}
}

func (s *SurveyRound) notFound() error {
	return newError(ErrNotFound, "survey_not_found", "period",
		fmt.Sprintf("no survey of %s was opened for %s", Clip(s.community, MaxEchoBytes), Clip(s.period, MaxEchoBytes)),
		fmt.Sprintf("%s %s 尚未开展满意度问卷", Clip(s.community, MaxEchoBytes), Clip(s.period, MaxEchoBytes)))
}

func (s *SurveyRound) closedErr() error {
	return newError(ErrRule, "survey_closed", "period",
		fmt.Sprintf("the survey of %s for %s was closed at %s", s.community, s.period, s.closed.At.Format(time.RFC3339)),
		fmt.Sprintf("%s %s 的满意度问卷已于 %s 结束", s.community, s.period, s.closed.At.Format(time.RFC3339)))
}

// Open opens the round with the number of households surveyed. The
// period must be a half-year ("2026-H1"); a round opens once.
func (s *SurveyRound) Open(meta Meta, pol *Policy, surveyed int) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if err := checkIDs("community", s.community); err != nil {
		return nil, err
	}
	if p, _, _, err := ParsePeriodLabel(s.period, time.UTC); err != nil || p != PeriodHalfYear {
		return nil, newError(ErrInvalid, "invalid_period", "period",
			fmt.Sprintf("%q is not a half-year; write it as 2026-H1 or 2026-H2", Clip(s.period, MaxEchoBytes)),
			fmt.Sprintf("%q 不是半年度；请写成 2026-H1 或 2026-H2", Clip(s.period, MaxEchoBytes)))
	}
	if s.opened != nil {
		return nil, newError(ErrConflict, "survey_opened", "period",
			fmt.Sprintf("the survey of %s for %s was opened at %s; a half-year has one survey", s.community, s.period, s.opened.At.Format(time.RFC3339)),
			fmt.Sprintf("%s %s 的满意度问卷已于 %s 开展；每半年一次", s.community, s.period, s.opened.At.Format(time.RFC3339)))
	}
	if pol.Survey.IsZero() {
		return nil, newError(ErrRule, "no_survey_rules", "policy",
			fmt.Sprintf("policy %s sets no survey thresholds; load a policy with survey.min_return_rate and survey.min_satisfaction", pol.Version),
			fmt.Sprintf("策略 %s 未设定满意度问卷标准；请加载设有 survey.min_return_rate 和 survey.min_satisfaction 的策略", pol.Version))
	}
	if surveyed < 1 || surveyed > MaxSurveyHouseholds {
		return nil, newError(ErrInvalid, "invalid_surveyed", "surveyed",
			fmt.Sprintf("surveyed is the number of households handed a questionnaire: 1 to %d", MaxSurveyHouseholds),
			fmt.Sprintf("发放问卷户数须在 1 到 %d 之间", MaxSurveyHouseholds))
	}
	return []Event{SurveyOpened{Community: s.community, Period: s.period, Surveyed: surveyed, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// RecordResponse records a household's returned questionnaire, once per
// household, while the round is open; no more responses than
// questionnaires handed out.
func (s *SurveyRound) RecordResponse(meta Meta, household string, satisfied bool) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if s.opened == nil {
		return nil, s.notFound()
	}
	if s.closed != nil {
		return nil, s.closedErr()
	}
	if household == "" {
		return nil, required("household_id", "the household that returned the questionnaire", "交回问卷的住户")
	}
	if err := checkIDs("household_id", household); err != nil {
		return nil, err
	}
	if s.answered[household] {
		return nil, newError(ErrConflict, "response_recorded", "household_id",
			fmt.Sprintf("household %s's response to the survey of %s is already recorded", household, s.period),
			fmt.Sprintf("住户 %s 在 %s 满意度问卷中的答复已记录", household, s.period))
	}
	if len(s.responses) >= s.opened.Surveyed {
		return nil, newError(ErrRule, "too_many_responses", "household_id",
			fmt.Sprintf("all %d questionnaires handed out have been returned", s.opened.Surveyed),
			fmt.Sprintf("发放的 %d 份问卷均已回收", s.opened.Surveyed))
	}
	return []Event{SurveyResponseRecorded{Community: s.community, Period: s.period, Household: household, Satisfied: satisfied,
		At: meta.At, By: meta.Actor}}, nil
}

// Close closes the round: the return rate and satisfaction are computed
// and held to the policy's thresholds; Breaches names those below.
func (s *SurveyRound) Close(meta Meta, pol *Policy) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if s.opened == nil {
		return nil, s.notFound()
	}
	if s.closed != nil {
		return nil, s.closedErr()
	}
	rules := pol.Survey
	if rules.IsZero() {
		return nil, newError(ErrRule, "no_survey_rules", "policy",
			fmt.Sprintf("policy %s sets no survey thresholds", pol.Version), fmt.Sprintf("策略 %s 未设定满意度问卷标准", pol.Version))
	}
	c := SurveyClosed{Community: s.community, Period: s.period, Surveyed: s.opened.Surveyed, Returned: len(s.responses),
		MinReturnRate: rules.MinReturnRate, MinSatisfaction: rules.MinSatisfaction, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}
	for _, r := range s.responses {
		if r.Satisfied {
			c.Satisfied++
		}
	}
	c.ReturnRate = float64(c.Returned) / float64(c.Surveyed)
	if c.Returned > 0 {
		c.Satisfaction = float64(c.Satisfied) / float64(c.Returned)
	}
	const eps = 1e-9
	if c.ReturnRate < rules.MinReturnRate-eps {
		c.Breaches = append(c.Breaches, SurveyBreachReturnRate)
	}
	if c.Satisfaction < rules.MinSatisfaction-eps {
		c.Breaches = append(c.Breaches, SurveyBreachSatisfaction)
	}
	return []Event{c}, nil
}
