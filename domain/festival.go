package domain

import (
	"fmt"
	"slices"
	"time"
)

// Festival visit campaigns (节日慰问, decision 0140): 004 §4.2 "重要节日必访";
// 001 §2.4.2 "结合传统节日（春节、中秋）…开展主题走访"; 000 §1.1 "在春节慰问前，系统自动
// 筛选出符合慰问条件的家庭". A campaign of a community names its festival, the
// window it runs in and the households it must reach (the classes the
// policy names); each of them gets a festival_visit deadline on its own
// stream, stopped by a completed home visit made for the festival inside
// the window. Durable names.
const (
	TypeFestivalCampaignOpened              = "festival.campaign_opened"
	TypeHouseholdFestivalVisitDue           = "household.festival_visit_due"
	ClockFestivalVisit            ClockKind = "festival_visit"
)

// Festival is a festival a campaign is held for. Durable.
type Festival string

const (
	FestivalSpring     Festival = "spring_festival" // 春节
	FestivalMidAutumn  Festival = "mid_autumn"      // 中秋
	FestivalDragonBoat Festival = "dragon_boat"     // 端午
	FestivalDoubleNine Festival = "double_ninth"    // 重阳 (敬老)
)

// Festivals lists the festivals a campaign may name.
func Festivals() []Festival {
	return []Festival{FestivalSpring, FestivalMidAutumn, FestivalDragonBoat, FestivalDoubleNine}
}

// MaxCampaignHouseholds bounds one campaign's target list; MaxCampaignDays
// bounds its window.
const (
	MaxCampaignHouseholds = 20_000
	MaxCampaignDays       = 62
)

// FestivalCampaignStream is the stream of a community's campaign for a
// festival of a year: "festival-<community>.<year>-<festival>".
func FestivalCampaignStream(community, id string) string { return "festival-" + community + "." + id }

// FestivalCampaignID names the campaign of a festival in a year.
func FestivalCampaignID(year int, f Festival) string { return fmt.Sprintf("%04d-%s", year, f) }

// FestivalRules: which household classes a festival campaign must reach
// (004 §4.2 重要节日必访 for the special groups; 000 §1.2 class A and B
// households are given festival relief) and the festivals it may be held
// for. Absent: no campaign opens.
type FestivalRules struct {
	Classes   []HouseholdClass `yaml:"classes" json:"classes"`
	Festivals []Festival       `yaml:"festivals" json:"festivals"`
}

// IsZero reports whether the policy sets no festival campaigns.
func (r FestivalRules) IsZero() bool { return len(r.Classes) == 0 && len(r.Festivals) == 0 }

// Targets reports whether a household of class c is a campaign's target.
func (r FestivalRules) Targets(c HouseholdClass) bool { return slices.Contains(r.Classes, c) }

func (r FestivalRules) validate() error {
	if r.IsZero() {
		return nil
	}
	if len(r.Classes) == 0 || len(r.Festivals) == 0 {
		return policyErr("festival_visits", "festival_visits needs the classes a campaign reaches and the festivals it may be held for",
			"festival_visits 须列出节日走访覆盖的家庭类别和节日")
	}
	for _, c := range r.Classes {
		if !slices.Contains([]HouseholdClass{ClassOrdinary, ClassKey, ClassSpecial}, c) {
			return policyErr("festival_visits.classes", fmt.Sprintf("festival_visits.classes: unknown class %q", c),
				fmt.Sprintf("festival_visits.classes：未知的家庭类别 %q", c))
		}
	}
	for _, f := range r.Festivals {
		if !slices.Contains(Festivals(), f) {
			return policyErr("festival_visits.festivals", fmt.Sprintf("festival_visits.festivals: unknown festival %q", f),
				fmt.Sprintf("festival_visits.festivals：未知的节日 %q", f))
		}
	}
	return nil
}

// FestivalCampaignOpened opens a community's campaign: the festival, the
// window [Starts, Due] in which its visits count, the classes it reaches
// and the households it must reach (sorted), chosen by the policy's rule
// from the community's households when it opened.
type FestivalCampaignOpened struct {
	Community     string           `json:"community"`
	Campaign      string           `json:"campaign"`
	Festival      Festival         `json:"festival"`
	Starts        time.Time        `json:"starts"`
	Due           time.Time        `json:"due"`
	Classes       []HouseholdClass `json:"classes"`
	Households    []string         `json:"households"`
	PolicyVersion string           `json:"policy_version"`
	At            time.Time        `json:"at"`
	By            string           `json:"by"`
}

// HouseholdFestivalVisitDue sets a household's festival visit deadline:
// a completed home visit with purpose festival, occurring from Starts, is
// due by Due (the festival_visit clock).
type HouseholdFestivalVisitDue struct {
	Community string    `json:"community"`
	Campaign  string    `json:"campaign"`
	Festival  Festival  `json:"festival"`
	Starts    time.Time `json:"starts"`
	Due       time.Time `json:"due"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
}

func (FestivalCampaignOpened) EventType() string    { return TypeFestivalCampaignOpened }
func (HouseholdFestivalVisitDue) EventType() string { return TypeHouseholdFestivalVisitDue }

// FestivalCampaign is the aggregate of one community's campaign. Start
// from NewFestivalCampaign. Not safe for concurrent use.
type FestivalCampaign struct {
	community, id string
	version       uint64
	opened        *FestivalCampaignOpened
}

// NewFestivalCampaign returns the empty campaign id ("2027-spring_festival") of community.
func NewFestivalCampaign(community, id string) *FestivalCampaign {
	return &FestivalCampaign{community: community, id: id}
}

// Version implements Aggregate.
func (c *FestivalCampaign) Version() uint64 { return c.version }

// Community returns the campaign's community.
func (c *FestivalCampaign) Community() string { return c.community }

// Opened returns the opening, if any.
func (c *FestivalCampaign) Opened() (FestivalCampaignOpened, bool) {
	if c.opened == nil {
		return FestivalCampaignOpened{}, false
	}
	o := *c.opened
	o.Households = slices.Clone(o.Households)
	return o, true
}

// Apply implements Aggregate.
func (c *FestivalCampaign) Apply(e Event) {
	c.version++
	if o, ok := e.(FestivalCampaignOpened); ok {
		c.opened = &o
	}
}

// OpenFestivalCampaign is the input of FestivalCampaign.Open.
type OpenFestivalCampaign struct {
	Festival Festival
	Year     int
	// Starts and Due bound the window in which a festival visit counts.
	Starts, Due time.Time
	// Candidates: the community's households with their classes now; the
	// campaign targets those of the policy's classes.
	Candidates map[string]HouseholdClass
}

// Open opens the campaign. Its id must be FestivalCampaignID(Year,
// Festival); the festival one the policy names; Due after Starts, at most
// MaxCampaignDays later; at least one household of the policy's classes.
func (c *FestivalCampaign) Open(meta Meta, pol *Policy, in OpenFestivalCampaign) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if err := checkIDs("community", c.community); err != nil {
		return nil, err
	}
	rules := pol.FestivalVisits
	if rules.IsZero() {
		return nil, newError(ErrRule, "no_festival_rules", "policy",
			fmt.Sprintf("policy %s sets no festival visits; load a policy with festival_visits", pol.Version),
			fmt.Sprintf("策略 %s 未设定节日走访；请加载设有 festival_visits 的策略", pol.Version))
	}
	if !slices.Contains(rules.Festivals, in.Festival) {
		return nil, badValue("festival", "festival", "节日", in.Festival, rules.Festivals...)
	}
	if c.id != FestivalCampaignID(in.Year, in.Festival) {
		return nil, newError(ErrInvalid, "invalid_campaign", "year",
			fmt.Sprintf("the campaign %q is not the %s campaign of %d", Clip(c.id, MaxEchoBytes), in.Festival, in.Year),
			fmt.Sprintf("活动 %q 不是 %d 年%s走访活动", Clip(c.id, MaxEchoBytes), in.Year, in.Festival.zh()))
	}
	if c.opened != nil {
		return nil, newError(ErrConflict, "campaign_opened", "festival",
			fmt.Sprintf("the %s campaign of %d in %s was opened at %s", in.Festival, in.Year, c.community, c.opened.At.Format(time.RFC3339)),
			fmt.Sprintf("%s %d 年%s走访活动已于 %s 开展", c.community, in.Year, in.Festival.zh(), c.opened.At.Format(time.RFC3339)))
	}
	switch {
	case in.Starts.IsZero() || in.Due.IsZero():
		return nil, required("due", "the campaign's start and due date", "活动的开始时间和截止时间")
	case !in.Due.After(in.Starts) || in.Due.Sub(in.Starts) > MaxCampaignDays*24*time.Hour:
		return nil, newError(ErrInvalid, "invalid_campaign_window", "due",
			fmt.Sprintf("a festival campaign runs from its start to its due date, at most %d days", MaxCampaignDays),
			fmt.Sprintf("节日走访活动的截止时间须晚于开始时间，且不超过 %d 天", MaxCampaignDays))
	case !in.Due.After(meta.At):
		return nil, newError(ErrInvalid, "invalid_campaign_window", "due",
			"a festival campaign's due date must be after it is opened", "节日走访活动的截止时间须晚于开展时间")
	}
	var targets []string
	for id, cl := range in.Candidates {
		if rules.Targets(cl) {
			targets = append(targets, id)
		}
	}
	if len(targets) == 0 {
		return nil, newError(ErrRule, "no_campaign_households", "community",
			fmt.Sprintf("%s has no households of the classes a festival campaign reaches (%v)", c.community, rules.Classes),
			fmt.Sprintf("%s 没有节日走访须覆盖类别的家庭", c.community))
	}
	if len(targets) > MaxCampaignHouseholds {
		return nil, newError(ErrInvalid, "too_many_households", "community",
			fmt.Sprintf("a festival campaign reaches at most %d households; this one would reach %d", MaxCampaignHouseholds, len(targets)),
			fmt.Sprintf("一次节日走访活动最多覆盖 %d 户，本次为 %d 户", MaxCampaignHouseholds, len(targets)))
	}
	slices.Sort(targets)
	return []Event{FestivalCampaignOpened{Community: c.community, Campaign: c.id, Festival: in.Festival, Starts: in.Starts, Due: in.Due,
		Classes: slices.Clone(rules.Classes), Households: targets, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

func (f Festival) zh() string {
	_, zh := f.Label()
	return zh
}

// pendingFestival is a festival visit the household is due.
type pendingFestival struct {
	campaign    string
	starts, due time.Time
	at          time.Time
}

// FestivalVisitDue returns the campaign whose festival visit the household
// is still due, with its window, if any.
func (h *Household) FestivalVisitDue() (campaign string, starts, due time.Time, ok bool) {
	return h.festival.campaign, h.festival.starts, h.festival.due, h.festival.campaign != ""
}

// FestivalScheduled reports whether campaign set the household's festival
// visit deadline (still running, met or replaced by a later campaign).
func (h *Household) FestivalScheduled(campaign string) bool {
	return h.festival.campaign == campaign || slices.Contains(h.festivalsDone, campaign)
}

// FestivalVisited returns the first completed home visit made for the
// festival inside the window [starts, due], if the household had one.
func (h *Household) FestivalVisited(starts, due time.Time) (VisitRecorded, bool) {
	for _, v := range h.visits {
		if countsForFestival(v, starts, due) {
			return v, true
		}
	}
	return VisitRecorded{}, false
}

// countsForFestival: a completed home visit with purpose festival,
// occurring inside the window (covered).
func countsForFestival(v VisitRecorded, starts, due time.Time) bool {
	return answersFestival(v, starts) && !v.OccurredAt.After(due)
}

// answersFestival: a completed home visit with purpose festival from the
// window's start: it stops the festival_visit clock, late or not (a late
// one is not counted as covered).
func answersFestival(v VisitRecorded, starts time.Time) bool {
	return v.Outcome == OutcomeCompleted && v.Mode == ModeHome && v.Purpose == PurposeFestival && !v.OccurredAt.Before(starts)
}

// ScheduleFestivalVisit sets the household's festival visit deadline for
// a campaign of its community. Scheduling the same campaign again is a
// no-op (the campaign's fan-out may be resent); an archived household
// gets nothing.
func (h *Household) ScheduleFestivalVisit(meta Meta, o FestivalCampaignOpened) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if !h.registered {
		return nil, h.active(meta)
	}
	if h.archived || h.FestivalScheduled(o.Campaign) {
		return nil, nil
	}
	if h.community != o.Community {
		return nil, newError(ErrRule, "out_of_campaign", "household_id",
			fmt.Sprintf("household %s is not in %s; the campaign reaches that community's households", h.id, o.Community),
			fmt.Sprintf("家庭 %s 不在 %s；该节日走访活动只覆盖该社区的家庭", h.id, o.Community))
	}
	return []Event{HouseholdFestivalVisitDue{Community: o.Community, Campaign: o.Campaign, Festival: o.Festival, Starts: o.Starts, Due: o.Due,
		At: meta.At, By: meta.Actor}}, nil
}

// applyFestival folds the festival events of a household.
func (h *Household) applyFestival(e Event) {
	switch e := e.(type) {
	case HouseholdFestivalVisitDue:
		if h.festival.campaign != "" {
			h.festivalsDone = append(h.festivalsDone, h.festival.campaign)
		}
		h.festival = pendingFestival{campaign: e.Campaign, starts: e.Starts, due: e.Due, at: e.At}
		// A visit recorded late, before the deadline was set, still counts.
		if slices.ContainsFunc(h.visits, func(v VisitRecorded) bool { return answersFestival(v, e.Starts) }) {
			h.festivalsDone, h.festival = append(h.festivalsDone, e.Campaign), pendingFestival{}
		}
	case VisitRecorded:
		if h.festival.campaign != "" && answersFestival(e, h.festival.starts) {
			h.festivalsDone, h.festival = append(h.festivalsDone, h.festival.campaign), pendingFestival{}
		}
	}
}

// festivalClock is the running festival_visit clock, if any.
func (h *Household) festivalClock() (Clock, bool) {
	if h.festival.campaign == "" {
		return Clock{}, false
	}
	return h.alerts.stamp(Clock{Kind: ClockFestivalVisit, Subject: h.id, Start: h.festival.at, Due: h.festival.due,
		PolicyVersion: h.policyVersion, HouseholdClass: h.class, Responsible: h.worker}), true
}
