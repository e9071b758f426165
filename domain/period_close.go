package domain

import (
	"fmt"
	"sort"
	"time"
)

// Period-close event types (stream MeasuresStream(community)). Durable names.
const (
	TypeMeasuresPeriodClosed  = "measures.period_closed"
	TypeMeasuresPeriodAmended = "measures.period_amended"
	TypeMeasuresFlagRaised    = "measures.flag_raised"
)

// MeasuresStream is the stream of a community's closed periods; the street
// (all communities) is community "".
func MeasuresStream(community string) string {
	if community == "" {
		return "measures-street"
	}
	return "measures-c." + community
}

// Tally is a count of Num out of Den (covered of due, resolved of reported).
type Tally struct {
	Num int64 `json:"num"`
	Den int64 `json:"den"`
}

// Rate returns Num/Den and whether Den > 0.
func (t Tally) Rate() (float64, bool) {
	if t.Den == 0 {
		return 0, false
	}
	return float64(t.Num) / float64(t.Den), true
}

// PeriodFigures are the measures a period close records (decision 0099).
type PeriodFigures struct {
	// Coverage: households visited on schedule of those due.
	Coverage          Tally                    `json:"coverage"`
	CoverageByClass   map[HouseholdClass]Tally `json:"coverage_by_class,omitempty"`
	CoverageKeyGroups Tally                    `json:"coverage_key_groups"`
	// Resolution: problems reported in the period and resolved by the close,
	// long-term problems excluded (化解率, 001 §2.4.4).
	Resolution Tally `json:"resolution"`
	// Refusals: refused visits of the visits made in the period (拒绝配合率, 001 §6.2).
	Refusals Tally `json:"refusals"`
	// ResolutionSeconds: the seconds from discovery to resolution summed
	// over the problems resolved in the period (Num), and their count (Den):
	// the average resolution time of 001 §6.2.
	ResolutionSeconds Tally `json:"resolution_seconds"`
	// WorkerResolution: per worker who found them, the problems found in
	// the period and resolved by the close, long-term excluded (001 §6.2).
	WorkerResolution map[string]Tally `json:"worker_resolution,omitempty"`
	// HandlingImmediate and HandlingCoordinated: of the problems of the
	// class whose time limit of 001 §2.2.2 ended in the period, those
	// first responded to within it (decision 0117).
	HandlingImmediate   Tally `json:"handling_immediate,omitzero"`
	HandlingCoordinated Tally `json:"handling_coordinated,omitzero"`
	// LongTermSatisfaction: ratings of 4 or 5 of the satisfaction ratings
	// of long-term problems given in the period (服务满意率, 001 §2.2.2).
	LongTermSatisfaction Tally `json:"long_term_satisfaction,omitzero"`
	// IneffectiveCommunication: completed visits in the period that
	// recorded communication ineffective, of the completed visits
	// (沟通无效案例占比, 001 §6.2; decision 0145). Omitted when no visit was
	// completed, so earlier closes read as before.
	IneffectiveCommunication Tally `json:"ineffective_communication,omitzero"`
	// SurveyReturn and SurveySatisfaction: at a half-year close, the
	// community's half-yearly survey if it was closed by then — returned of
	// surveyed, satisfied of returned (001 §3.4 问卷回收率, 满意度; decisions
	// 0127, 0145). Omitted otherwise.
	SurveyReturn       Tally `json:"survey_return,omitzero"`
	SurveySatisfaction Tally `json:"survey_satisfaction,omitzero"`
	// SpotChecks: the visits drawn for spot checks (Num) of the completed
	// visits (Den) of the months inspected in the period: the month before
	// each of its months, since a month is drawn after it ended (抽查比例不低于
	// 走访总数的10%, 001 §3.4; decision 0141). A month with no draw counts
	// its visits and none checked.
	SpotChecks Tally `json:"spot_checks,omitzero"`
}

// MeasuresPeriodClosed records a period's measures as computed from the log
// at the close, with the policy and calendar versions used. A closed period
// never changes; a correction is a MeasuresPeriodAmended.
type MeasuresPeriodClosed struct {
	Community       string        `json:"community,omitempty"` // "" = the street
	Period          string        `json:"period"`              // "2026-03", "2026-Q1", …
	Start           time.Time     `json:"start"`
	End             time.Time     `json:"end"`
	Figures         PeriodFigures `json:"figures"`
	PolicyVersion   string        `json:"policy_version"`
	CalendarVersion string        `json:"calendar_version"`
	At              time.Time     `json:"at"`
	By              string        `json:"by"`
}

// MeasuresPeriodAmended replaces a closed period's figures, with a reason.
type MeasuresPeriodAmended struct {
	Community       string        `json:"community,omitempty"`
	Period          string        `json:"period"`
	Figures         PeriodFigures `json:"figures"`
	Reason          string        `json:"reason"`
	PolicyVersion   string        `json:"policy_version"`
	CalendarVersion string        `json:"calendar_version"`
	At              time.Time     `json:"at"`
	By              string        `json:"by"`
}

// MeasuresFlagRaised: at a close, a measure breached its target or
// threshold. Periods are the periods involved (two consecutive months for
// the 80% flag of 001 §2.4.4).
type MeasuresFlagRaised struct {
	Community string    `json:"community,omitempty"`
	Worker    string    `json:"worker,omitempty"` // a worker's measure (risk.worker_resolution)
	Period    string    `json:"period"`
	Measure   string    `json:"measure"`
	Figure    float64   `json:"figure"`
	Target    float64   `json:"target"`
	Periods   []string  `json:"periods"`
	MessageEN string    `json:"message_en"`
	MessageZH string    `json:"message_zh"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
}

func (MeasuresPeriodClosed) EventType() string  { return TypeMeasuresPeriodClosed }
func (MeasuresPeriodAmended) EventType() string { return TypeMeasuresPeriodAmended }
func (MeasuresFlagRaised) EventType() string    { return TypeMeasuresFlagRaised }

// ClosedPeriod is a period as the ledger holds it.
type ClosedPeriod struct {
	MeasuresPeriodClosed
	Amended []MeasuresPeriodAmended
	Flags   []MeasuresFlagRaised
}

// Current returns the figures in force: the last amendment's, or the close's.
func (c ClosedPeriod) Current() PeriodFigures {
	if n := len(c.Amended); n > 0 {
		return c.Amended[n-1].Figures
	}
	return c.Figures
}

// PeriodLedger is the aggregate of one community's (or the street's)
// closed periods. Start from NewPeriodLedger. Not safe for concurrent use.
type PeriodLedger struct {
	community string
	version   uint64
	periods   map[string]*ClosedPeriod
}

// NewPeriodLedger returns the empty ledger of community ("" = the street).
func NewPeriodLedger(community string) *PeriodLedger {
	return &PeriodLedger{community: community, periods: map[string]*ClosedPeriod{}}
}

// Version implements Aggregate.
func (l *PeriodLedger) Version() uint64 { return l.version }

// Period returns a closed period.
func (l *PeriodLedger) Period(label string) (ClosedPeriod, bool) {
	p, ok := l.periods[label]
	if !ok {
		return ClosedPeriod{}, false
	}
	return *p, true
}

// Apply implements Aggregate.
func (l *PeriodLedger) Apply(e Event) {
	l.version++
	switch e := e.(type) {
	case MeasuresPeriodClosed:
		l.periods[e.Period] = &ClosedPeriod{MeasuresPeriodClosed: e}
	case MeasuresPeriodAmended:
		if p := l.periods[e.Period]; p != nil {
			p.Amended = append(p.Amended, e)
		}
	case MeasuresFlagRaised:
		if p := l.periods[e.Period]; p != nil {
			p.Flags = append(p.Flags, e)
		}
	}
}

// ClosePeriod is the input of PeriodLedger.Close.
type ClosePeriod struct {
	Period          string
	Start, End      time.Time
	Previous        string // the label of the period before (the 80% flag looks at it)
	Figures         PeriodFigures
	Policy          *Policy
	CalendarVersion string
}

// Close records the period's figures and the flags they raise under the
// policy: each coverage target missed, and resolution below the policy's
// resolution_flag threshold in this and the previous closed period (001
// §2.4.4). Closing a period already closed returns no events (safe to run
// twice); figures never change here — see Amend.
func (l *PeriodLedger) Close(meta Meta, in ClosePeriod) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if _, done := l.periods[in.Period]; done {
		return nil, nil
	}
	pol := in.Policy
	evs := []Event{MeasuresPeriodClosed{Community: l.community, Period: in.Period, Start: in.Start, End: in.End, Figures: in.Figures,
		PolicyVersion: pol.Version, CalendarVersion: in.CalendarVersion, At: meta.At, By: meta.Actor}}
	who := l.community
	if who == "" {
		who = "street"
	}
	flag := func(measure, en, zh string, figure, target float64, periods []string) {
		evs = append(evs, MeasuresFlagRaised{Community: l.community, Period: in.Period, Measure: measure, Figure: figure, Target: target,
			Periods: periods, MessageEN: fmt.Sprintf("%s: %s %.1f%% in %s, below %.0f%%", who, en, 100*figure, joinPeriods(periods), 100*target),
			MessageZH: fmt.Sprintf("%s：%s %s 为 %.1f%%，低于 %.0f%%", who, joinPeriods(periods), zh, 100*figure, 100*target), At: meta.At, By: meta.Actor})
	}
	t := pol.Coverage
	if r, ok := in.Figures.Coverage.Rate(); ok {
		if t.All > 0 && r < t.All {
			flag("coverage.all", "household visit coverage", "走访覆盖率", r, t.All, []string{in.Period})
		}
		if t.RiskBelow > 0 && r < t.RiskBelow {
			flag("coverage.risk", "household coverage (risk threshold)", "家庭覆盖率（风险阈值）", r, t.RiskBelow, []string{in.Period})
		}
	}
	if r, ok := in.Figures.CoverageKeyGroups.Rate(); ok && t.KeyGroups > 0 && r < t.KeyGroups {
		flag("coverage.key_groups", "key group coverage", "重点群体覆盖率", r, t.KeyGroups, []string{in.Period})
	}
	if below := pol.ResolutionFlag.Below; below > 0 && in.Previous != "" {
		r, ok := in.Figures.Resolution.Rate()
		prev, closed := l.periods[in.Previous]
		if ok && r < below && closed {
			if pr, pok := prev.Current().Resolution.Rate(); pok && pr < below {
				flag("resolution.two_months", "resolution rate (long-term excluded) two consecutive months", "问题化解率（不含长期跟进类）连续两个月", r, below,
					[]string{in.Previous, in.Period})
			}
		}
	}
	ht := pol.HandlingTargets
	for _, h := range []struct {
		measure string
		fig     Tally
		target  float64
		en, zh  string
	}{
		{"handling.immediate", in.Figures.HandlingImmediate, ht.Immediate, "immediate problems responded to within their time limit", "即时解决类问题按时响应率"},
		{"handling.coordinated", in.Figures.HandlingCoordinated, ht.Coordinated, "coordinated problems started within their time limit", "协调联动类问题按时启动办理率"},
		{"handling.long_term_satisfaction", in.Figures.LongTermSatisfaction, ht.LongTermSatisfaction, "satisfaction with long-term problems", "长期跟进类问题服务满意率"},
	} {
		if r, ok := h.fig.Rate(); ok && h.target > 0 && r < h.target {
			flag(h.measure, h.en, h.zh, r, h.target, []string{in.Period})
		}
	}
	if r, ok := in.Figures.SpotChecks.Rate(); ok && l.community != "" && pol.SpotCheck.Rate > 0 && r < pol.SpotCheck.Rate-1e-9 {
		flag("spot_check.rate", "share of the visits spot-checked", "走访抽查比例", r, pol.SpotCheck.Rate, []string{in.Period})
	}
	evs = append(evs, riskFlags(l.community, who, in, meta)...)
	// The half-yearly survey (001 §3.4 问卷回收率不低于80%，满意度低于80%…限期整改):
	// below the policy's shares, after every other flag.
	const eps = 1e-9
	for _, sv := range []struct {
		measure string
		fig     Tally
		target  float64
		en, zh  string
	}{
		{"survey.return_rate", in.Figures.SurveyReturn, pol.Survey.MinReturnRate, "survey return rate", "满意度问卷回收率"},
		{"survey.satisfaction", in.Figures.SurveySatisfaction, pol.Survey.MinSatisfaction, "survey satisfaction", "满意度问卷满意率"},
	} {
		if r, ok := sv.fig.Rate(); ok && sv.target > 0 && r < sv.target-eps {
			flag(sv.measure, sv.en, sv.zh, r, sv.target, []string{in.Period})
		}
	}
	return evs, nil
}

// riskFlags are the flags of the risk thresholds of 001 §6.2 that the
// figures breach (the coverage one is coverage.risk above).
func riskFlags(community, who string, in ClosePeriod, meta Meta) []Event {
	rt := in.Policy.Risk
	var evs []Event
	raise := func(worker, measure string, figure, target float64, en, zh string) {
		evs = append(evs, MeasuresFlagRaised{Community: community, Worker: worker, Period: in.Period, Measure: measure, Figure: figure, Target: target,
			Periods: []string{in.Period}, MessageEN: en, MessageZH: zh, At: meta.At, By: meta.Actor})
	}
	if r, ok := in.Figures.Refusals.Rate(); ok && rt.RefusalAbove > 0 && r > rt.RefusalAbove {
		raise("", "risk.refusal", r, rt.RefusalAbove,
			fmt.Sprintf("%s: visit refusal rate %.1f%% in %s, above %.0f%%", who, 100*r, in.Period, 100*rt.RefusalAbove),
			fmt.Sprintf("%s：%s 居民拒绝配合率为 %.1f%%，超过 %.0f%%", who, in.Period, 100*r, 100*rt.RefusalAbove))
	}
	if s, ok := in.Figures.ResolutionSeconds.Rate(); ok && rt.ResolutionDaysAbove > 0 && s/86400 > rt.ResolutionDaysAbove {
		d := s / 86400
		raise("", "risk.resolution_days", d, rt.ResolutionDaysAbove,
			fmt.Sprintf("%s: average resolution time %.1f days in %s, above %g days", who, d, in.Period, rt.ResolutionDaysAbove),
			fmt.Sprintf("%s：%s 问题平均解决时间为 %.1f 天，超过 %g 天", who, in.Period, d, rt.ResolutionDaysAbove))
	}
	if rt.WorkerResolutionBelow > 0 && community != "" { // workers are flagged in their community's ledger
		workers := make([]string, 0, len(in.Figures.WorkerResolution))
		for w := range in.Figures.WorkerResolution {
			workers = append(workers, w)
		}
		sort.Strings(workers)
		for _, w := range workers {
			if r, ok := in.Figures.WorkerResolution[w].Rate(); ok && r < rt.WorkerResolutionBelow {
				raise(w, "risk.worker_resolution", r, rt.WorkerResolutionBelow,
					fmt.Sprintf("%s: worker %s resolved %.1f%% of the problems found in %s, below %.0f%%", who, w, 100*r, in.Period, 100*rt.WorkerResolutionBelow),
					fmt.Sprintf("%s：走访人员 %s 在 %s 发现的问题解决率为 %.1f%%，低于 %.0f%%", who, w, in.Period, 100*r, 100*rt.WorkerResolutionBelow))
			}
		}
	}
	// Last, so that the flags above keep their places (and event ids) as before.
	if r, ok := in.Figures.IneffectiveCommunication.Rate(); ok && rt.IneffectiveCommunicationAbove > 0 && r > rt.IneffectiveCommunicationAbove {
		raise("", "risk.ineffective_communication", r, rt.IneffectiveCommunicationAbove,
			fmt.Sprintf("%s: ineffective communication on %.1f%% of completed visits in %s, above %.0f%%", who, 100*r, in.Period, 100*rt.IneffectiveCommunicationAbove),
			fmt.Sprintf("%s：%s 沟通无效案例占比为 %.1f%%，超过 %.0f%%", who, in.Period, 100*r, 100*rt.IneffectiveCommunicationAbove))
	}
	return evs
}

func joinPeriods(ps []string) string {
	out := ""
	for i, p := range ps {
		if i > 0 {
			out += "–"
		}
		out += p
	}
	return out
}

// Amend replaces a closed period's figures (a late correction); a reason is
// required. The close and its flags stay in the log.
func (l *PeriodLedger) Amend(meta Meta, period string, f PeriodFigures, pol *Policy, calendarVersion, reason string) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	p, ok := l.periods[period]
	if !ok {
		return nil, newError(ErrRule, "period_not_closed", "period",
			fmt.Sprintf("period %s is not closed; only a closed period is amended", Clip(period, MaxEchoBytes)),
			fmt.Sprintf("期间 %s 尚未结账；只有已结账的期间才能更正", Clip(period, MaxEchoBytes)))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	if err := CheckText("reason", reason); err != nil {
		return nil, err
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	if cur := p.Current(); cur.Coverage == f.Coverage && cur.CoverageKeyGroups == f.CoverageKeyGroups && cur.Resolution == f.Resolution &&
		cur.Refusals == f.Refusals && cur.ResolutionSeconds == f.ResolutionSeconds && cur.HandlingImmediate == f.HandlingImmediate &&
		cur.HandlingCoordinated == f.HandlingCoordinated && cur.LongTermSatisfaction == f.LongTermSatisfaction && cur.SpotChecks == f.SpotChecks &&
		cur.IneffectiveCommunication == f.IneffectiveCommunication && cur.SurveyReturn == f.SurveyReturn && cur.SurveySatisfaction == f.SurveySatisfaction &&
		mapsEqual(cur.CoverageByClass, f.CoverageByClass) && mapsEqual(cur.WorkerResolution, f.WorkerResolution) {
		return nil, noChange("figures", "the figures", "数据", period)
	}
	return []Event{MeasuresPeriodAmended{Community: l.community, Period: period, Figures: f, Reason: reason, PolicyVersion: pol.Version,
		CalendarVersion: calendarVersion, At: meta.At, By: meta.Actor}}, nil
}

func mapsEqual[K comparable](a, b map[K]Tally) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Bounds of amended figures.
const (
	MaxFigureCount   = 1_000_000_000     // households, problems, visits in a period
	MaxFigureSeconds = 1_000_000_000_000 // summed resolution seconds
	MaxFigureWorkers = 10_000            // workers listed in worker_resolution
)

// check validates figures given from outside (an amendment).
func (f PeriodFigures) check() error {
	share := func(field string, t Tally) error {
		if t.Num < 0 || t.Den < 0 || t.Den > MaxFigureCount || t.Num > t.Den {
			return newError(ErrInvalid, "invalid_figure", field,
				fmt.Sprintf("%s must count num of den, 0 ≤ num ≤ den ≤ %d, not %d of %d", field, int64(MaxFigureCount), t.Num, t.Den),
				fmt.Sprintf("%s 须满足 0 ≤ 分子 ≤ 分母 ≤ %d，而不是 %d / %d", field, int64(MaxFigureCount), t.Num, t.Den))
		}
		return nil
	}
	for field, t := range map[string]Tally{"figures.coverage": f.Coverage, "figures.coverage_key_groups": f.CoverageKeyGroups,
		"figures.resolution": f.Resolution, "figures.refusals": f.Refusals, "figures.handling_immediate": f.HandlingImmediate,
		"figures.handling_coordinated": f.HandlingCoordinated, "figures.long_term_satisfaction": f.LongTermSatisfaction,
		"figures.ineffective_communication": f.IneffectiveCommunication, "figures.survey_return": f.SurveyReturn,
		"figures.survey_satisfaction": f.SurveySatisfaction, "figures.spot_checks": f.SpotChecks} {
		if err := share(field, t); err != nil {
			return err
		}
	}
	if t := f.ResolutionSeconds; t.Num < 0 || t.Den < 0 || t.Den > MaxFigureCount || t.Num > MaxFigureSeconds || (t.Den == 0 && t.Num != 0) {
		return newError(ErrInvalid, "invalid_figure", "figures.resolution_seconds",
			fmt.Sprintf("figures.resolution_seconds must sum at most %d seconds over 0 to %d resolutions (no seconds without resolutions), not %d over %d",
				int64(MaxFigureSeconds), int64(MaxFigureCount), t.Num, t.Den),
			fmt.Sprintf("figures.resolution_seconds 须为 0 至 %d 次办结的耗时之和（不超过 %d 秒；无办结则为 0），而不是 %d / %d",
				int64(MaxFigureCount), int64(MaxFigureSeconds), t.Num, t.Den))
	}
	for c, t := range f.CoverageByClass {
		if !oneOf(c, HouseholdClasses()...) {
			return badValue("figures.coverage_by_class", "household class", "家庭类别", c, HouseholdClasses()...)
		}
		if err := share("figures.coverage_by_class."+string(c), t); err != nil {
			return err
		}
	}
	if n := len(f.WorkerResolution); n > MaxFigureWorkers {
		return newError(ErrInvalid, "too_many_workers", "figures.worker_resolution",
			fmt.Sprintf("figures.worker_resolution lists %d workers; at most %d", n, MaxFigureWorkers),
			fmt.Sprintf("figures.worker_resolution 列出 %d 名人员，最多 %d 名", n, MaxFigureWorkers))
	}
	for w, t := range f.WorkerResolution {
		if err := CheckID("figures.worker_resolution", w); err != nil {
			return err
		}
		if err := share("figures.worker_resolution", t); err != nil {
			return err
		}
	}
	return nil
}
