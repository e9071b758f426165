// Package town generates a synthetic town for Doorstep: households in
// difficulty with their members, a year (or any span) of visits following the
// visit policy, problems found on those visits and their handling, and
// referrals to departments — as the event streams the engine would have
// recorded.
//
// Every event comes out of the domain's command methods, applied to the
// aggregates as the simulation goes, so the history is valid by
// construction. Time flows forward: batches come out in global time order of
// the command that produced them, in the configured time zone, and work
// follows the working-day calendar. Generation is deterministic: the same
// Config (seed included) gives byte-identical events, event ids and order,
// provided the Sealer is deterministic too.
//
// Use Generate to receive the batches, or Write to append them to an
// eventstore.Store. Memory stays bounded for large towns: households are
// simulated in cohorts whose output is spilled to temporary files and merged
// by time (see Config.CohortSize).
package town

import (
	"errors"
	"fmt"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
)

// Share is a weight table: keys with their relative weights (need not sum
// to 1). Map iteration order does not matter: draws use a sorted key order.
type Share[K ~string] map[K]float64

// Mix is the composition of the town: household classes and, per class, the
// assistance category and risk level. The seed documents name the classes
// (001 §2.3.3), categories (000 §1.2) and risk levels (002) but give no
// proportions beyond the town's total; DefaultMix is our documented estimate
// (docs/decisions/0020-synthetic-town.md).
type Mix struct {
	Class    Share[domain.HouseholdClass]
	Category map[domain.HouseholdClass]Share[domain.AssistanceCategory]
	Risk     map[domain.HouseholdClass]Share[domain.RiskLevel]
}

// DefaultMix returns the default composition.
func DefaultMix() Mix {
	return Mix{
		Class: Share[domain.HouseholdClass]{domain.ClassOrdinary: 0.30, domain.ClassKey: 0.55, domain.ClassSpecial: 0.15},
		Category: map[domain.HouseholdClass]Share[domain.AssistanceCategory]{
			// No 低保 or 特困 among ordinary households: the class follows the category (001 §2.3.3).
			domain.ClassOrdinary: {domain.CategoryNone: 0.25, domain.CategoryMarginal: 0.45, domain.CategoryTemporary: 0.30},
			domain.ClassKey:      {domain.CategoryNone: 0.05, domain.CategoryTeKun: 0.20, domain.CategoryDiBao: 0.65, domain.CategoryMarginal: 0.10},
			domain.ClassSpecial:  {domain.CategoryNone: 0.25, domain.CategoryTeKun: 0.35, domain.CategoryDiBao: 0.30, domain.CategoryMarginal: 0.10},
		},
		Risk: map[domain.HouseholdClass]Share[domain.RiskLevel]{
			domain.ClassOrdinary: {domain.RiskRed: 0.01, domain.RiskYellow: 0.09, domain.RiskBlue: 0.30, domain.RiskGreen: 0.60},
			domain.ClassKey:      {domain.RiskRed: 0.04, domain.RiskYellow: 0.26, domain.RiskBlue: 0.40, domain.RiskGreen: 0.30},
			domain.ClassSpecial:  {domain.RiskRed: 0.12, domain.RiskYellow: 0.38, domain.RiskBlue: 0.35, domain.RiskGreen: 0.15},
		},
	}
}

// Rates are the probabilities that shape the history. Zero values are taken
// as given (a zero rate means "never"); use DefaultRates for the defaults.
type Rates struct {
	Consent            float64                           // household consents to data collection at registration
	LateRegistered     float64                           // household registered during the span rather than in its first two weeks
	NobodyHome         float64                           // per visit attempt
	Refusal            float64                           // per visit attempt (households with a refusing trait refuse their first visits)
	LateEntry          float64                           // visit recorded more than 24 h after it happened
	VisitSlip          float64                           // a visit slips past its due date by days or weeks
	ProblemPerVisit    map[domain.HouseholdClass]float64 // a completed visit finds a problem
	Referral           float64                           // a problem whose kind has departments is referred
	LateResponse       float64                           // first response after the response deadline
	LateResolution     float64                           // resolution after the time limit (some with an extension)
	Stalled            float64                           // a problem is left unhandled after its first response (overdue at the end)
	Revisit            float64                           // a resolved problem is revisited
	Recur              float64                           // a revisit finds the problem recurred (it is reopened)
	ReferralDecline    float64                           // a receiver declines
	ReferralLateAccept float64                           // a receiver accepts after the acceptance deadline
	ReferralUnanswered float64                           // a receiver never answers (breached at the end; the problem waits on it)
	Archive            float64                           // household archived during the span (moved away, dissolved)
	NeedsUpdate        float64                           // a completed home visit in a month without a needs update records one (001 §2.4.3)
}

// DefaultRates returns the default rates.
func DefaultRates() Rates {
	return Rates{
		Consent: 0.96, LateRegistered: 0.03, NobodyHome: 0.05, Refusal: 0.015, LateEntry: 0.05, VisitSlip: 0.03,
		ProblemPerVisit: map[domain.HouseholdClass]float64{domain.ClassOrdinary: 0.10, domain.ClassKey: 0.06, domain.ClassSpecial: 0.03},
		Referral:        0.45, LateResponse: 0.06, LateResolution: 0.12, Stalled: 0.04, Revisit: 0.6, Recur: 0.1,
		ReferralDecline: 0.12, ReferralLateAccept: 0.08, ReferralUnanswered: 0.05, Archive: 0.01, NeedsUpdate: 0.25,
	}
}

// Config configures a town. Build it from a preset (Seed2155, Town100k) or
// DefaultConfig and change what you need; Validate reports what is wrong.
type Config struct {
	// Seed makes the town; the same Config gives the same events.
	Seed uint64
	// Households in the town.
	Households int
	// Start and End bound the simulated span: [Start, End). Both are read in
	// Location; the calendar must cover every day of the span. Default
	// 2026-01-01 to 2027-01-01 in Asia/Shanghai.
	Start, End time.Time
	// Location is the community time zone; default Asia/Shanghai.
	Location *time.Location
	// Policy in force for the whole span; default domain.DefaultPolicy().
	Policy *domain.Policy
	// Calendar of working days; default calendar.Default() in Location.
	Calendar *calendar.Calendar
	// Sealer seals sensitive fields (identity numbers, phones, income,
	// health, disability, the sealed understandings of visits) and, when it
	// also opens (domain.Opener), the household class (decision 0148).
	// Required. Byte-identical output needs a deterministic Sealer.
	Sealer domain.Sealer
	// Mix of classes, categories and risks; default DefaultMix().
	Mix Mix
	// Rates shaping the history; nil means DefaultRates().
	Rates *Rates
	// HouseholdsPerCommunity sizes communities (default 216: the seed's town
	// has 10); GridsPerCommunity (default 4) are shared by 3 grid workers
	// (001 §3.2: one worker per 1–2 grids); CommunitiesPerTown (default 10,
	// 001 §4.2) groups communities under a town (镇) with its supervisors.
	HouseholdsPerCommunity, GridsPerCommunity, CommunitiesPerTown int
	// CohortSize bounds memory: households are simulated this many at a
	// time, and when the town has more than one cohort, each cohort's output
	// is spilled to a temporary file in TempDir and the files are merged in
	// time order. Default 4096. Changing it changes problem numbers only.
	CohortSize int
	// TempDir for cohort spill files; default os.TempDir(). Files are
	// removed when generation ends.
	TempDir string
	// WriteConcurrency is the number of concurrent appends Write keeps in
	// flight (default 128: the SQLite store commits concurrent appends
	// together). Each stream is always written in order by one worker; with
	// more than one worker the global log order across streams follows time
	// order only approximately. 1 writes in exact batch order.
	WriteConcurrency int
}

// Preset sizes.
const (
	// SeedHouseholds is the town of seed 002: "全镇2155名困难群众和特殊群体".
	SeedHouseholds = 2155
	// LargeHouseholds is the large town used by benchmarks.
	LargeHouseholds = 100_000
)

// DefaultConfig returns a town of n households over 2026 with the defaults
// filled in, except Sealer, which the caller must set.
func DefaultConfig(seed uint64, n int) Config {
	return Config{Seed: seed, Households: n}
}

// Seed2155 is the seed's town: 2,155 households in difficulty (002), ten
// communities, the default mix, a year from 2026-01-01. Set Sealer before use.
func Seed2155(seed uint64) Config { return DefaultConfig(seed, SeedHouseholds) }

// Town100k is a 100,000-household town with the same mix. Set Sealer before use.
func Town100k(seed uint64) Config { return DefaultConfig(seed, LargeHouseholds) }

// withDefaults fills zero fields. It loads the shipped policy and calendar
// when none are given.
func (c Config) withDefaults() (Config, error) {
	if c.Location == nil {
		loc, err := calendar.LoadLocation(calendar.DefaultTimeZone)
		if err != nil {
			return c, err
		}
		c.Location = loc
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, c.Location)
	}
	if c.End.IsZero() {
		c.End = c.Start.AddDate(1, 0, 0)
	}
	c.Start, c.End = c.Start.In(c.Location), c.End.In(c.Location)
	if c.Policy == nil {
		p, err := domain.DefaultPolicy()
		if err != nil {
			return c, err
		}
		c.Policy = p
	}
	if c.Calendar == nil {
		cal, err := calendar.Default()
		if err != nil {
			return c, err
		}
		c.Calendar = cal
	}
	c.Calendar = c.Calendar.In(c.Location)
	if c.Mix.Class == nil {
		c.Mix = DefaultMix()
	}
	if c.Rates == nil {
		r := DefaultRates()
		c.Rates = &r
	}
	if c.HouseholdsPerCommunity == 0 {
		c.HouseholdsPerCommunity = 216
	}
	if c.GridsPerCommunity == 0 {
		c.GridsPerCommunity = 4
	}
	if c.CommunitiesPerTown == 0 {
		c.CommunitiesPerTown = 10
	}
	if c.CohortSize == 0 {
		c.CohortSize = 4096
	}
	if c.WriteConcurrency == 0 {
		c.WriteConcurrency = 128
	}
	return c, nil
}

// Validate reports what is wrong with c (after defaults are applied).
func (c Config) Validate() error {
	d, err := c.withDefaults()
	if err != nil {
		return fmt.Errorf("town: %w", err)
	}
	return d.validate()
}

func (c Config) validate() error {
	switch {
	case c.Households < 1:
		return errors.New("town: Households must be at least 1")
	case c.Sealer == nil:
		return errors.New("town: Sealer is required; pass the key store's sealer (or a deterministic one in tests)")
	case !c.End.After(c.Start):
		return errors.New("town: End must be after Start")
	case c.HouseholdsPerCommunity < 1 || c.GridsPerCommunity < 1 || c.CommunitiesPerTown < 1:
		return errors.New("town: HouseholdsPerCommunity, GridsPerCommunity and CommunitiesPerTown must be positive")
	case c.CohortSize < 1 || c.WriteConcurrency < 1:
		return errors.New("town: CohortSize and WriteConcurrency must be positive")
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("town: %w", err)
	}
	// The span plus a month of deadlines must be on the calendar.
	for _, t := range []time.Time{c.Start, c.End.Add(-time.Nanosecond)} {
		if _, err := c.Calendar.IsWorkingDay(t); err != nil {
			return fmt.Errorf("town: the calendar does not cover the span: %w", err)
		}
	}
	if len(c.Mix.Class) == 0 {
		return errors.New("town: Mix.Class is empty")
	}
	for cl, w := range c.Mix.Class {
		if w <= 0 {
			continue
		}
		if len(c.Mix.Risk[cl]) == 0 {
			return fmt.Errorf("town: Mix.Risk has no levels for class %q", cl)
		}
	}
	return nil
}
