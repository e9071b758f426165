package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spot-check (抽查, 001 §3.4 "抽查比例不低于走访总数的10%") event types, on
// the stream SpotCheckStream(community, month). Durable names.
const (
	TypeSpotCheckDrawn           = "spotcheck.drawn"
	TypeSpotCheckFindingRecorded = "spotcheck.finding_recorded"
)

// SpotCheckStream is the stream of a community's spot checks of a month
// ("2026-09").
func SpotCheckStream(community, month string) string { return "spotcheck-" + community + "." + month }

// VisitRef names a recorded visit: the household and the version of its
// visit.recorded event in the household's stream.
type VisitRef struct {
	Household string `json:"household_id"`
	Version   uint64 `json:"version"`
}

func (v VisitRef) String() string { return fmt.Sprintf("%s@%d", v.Household, v.Version) }

func compareRefs(a, b VisitRef) int {
	if c := strings.Compare(a.Household, b.Household); c != 0 {
		return c
	}
	switch {
	case a.Version < b.Version:
		return -1
	case a.Version > b.Version:
		return 1
	}
	return 0
}

// PopulationHash is the SHA-256 (hex) of the population in canonical order
// (household, then version), whatever order it is given in.
func PopulationHash(pop []VisitRef) string {
	s := slices.Clone(pop)
	slices.SortFunc(s, compareRefs)
	h := sha256.New()
	var n [8]byte
	for _, r := range s {
		h.Write([]byte(r.Household))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(n[:], r.Version)
		h.Write(n[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SampleSize is how many of n visits a share rate asks for: at least
// rate × n, rounded up (at least one of a non-empty population).
func SampleSize(n int, rate float64) int {
	k := int(math.Ceil(float64(n)*rate - 1e-9))
	return min(max(k, min(n, 1)), n)
}

// DrawSample draws SampleSize(len(pop), rate) visits of pop: the ones with
// the smallest SHA-256(seed, household, version), in that order. It is a
// pure function of the seed and the population as a set: an auditor given
// the recorded seed and the same visits draws the same list.
func DrawSample(seed string, pop []VisitRef, rate float64) []VisitRef {
	type keyed struct {
		key [32]byte
		ref VisitRef
	}
	ks := make([]keyed, len(pop))
	var buf []byte
	for i, r := range pop {
		// SHA-256 of "seed|household|version".
		buf = append(append(append(append(buf[:0], seed...), '|'), r.Household...), '|')
		buf = strconv.AppendUint(buf, r.Version, 10)
		ks[i] = keyed{sha256.Sum256(buf), r}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
			return c
		}
		return compareRefs(a.ref, b.ref)
	})
	n := SampleSize(len(pop), rate)
	out := make([]VisitRef, n)
	for i := range n {
		out[i] = ks[i].ref
	}
	return out
}

// SpotCheckItem is a sampled visit and the inspector assigned to check it.
type SpotCheckItem struct {
	VisitRef
	Inspector string `json:"inspector"`
}

// SpotCheckDrawn records a month's sample of a community's completed
// visits: the seed, the rate, the population's size and hash, and the
// sample in draw order with its inspectors (assigned in turn).
type SpotCheckDrawn struct {
	Community      string          `json:"community"`
	Period         string          `json:"period"`
	Rate           float64         `json:"rate"`
	Seed           string          `json:"seed"`
	Population     int             `json:"population"`
	PopulationHash string          `json:"population_hash"`
	Sample         []SpotCheckItem `json:"sample"`
	PolicyVersion  string          `json:"policy_version"`
	At             time.Time       `json:"at"`
	By             string          `json:"by"`
}

// FindingResult is what a spot check found.
type FindingResult string

const (
	FindingConfirmed   FindingResult = "confirmed"   // the record is true
	FindingDiscrepancy FindingResult = "discrepancy" // it is not: Detail says how
)

// SpotCheckFindingRecorded records the finding of one sampled visit's check.
type SpotCheckFindingRecorded struct {
	Community string        `json:"community"`
	Period    string        `json:"period"`
	Visit     VisitRef      `json:"visit"`
	Inspector string        `json:"inspector"`
	Result    FindingResult `json:"result"`
	Detail    string        `json:"detail,omitempty"`
	At        time.Time     `json:"at"`
	By        string        `json:"by"`
}

func (SpotCheckDrawn) EventType() string           { return TypeSpotCheckDrawn }
func (SpotCheckFindingRecorded) EventType() string { return TypeSpotCheckFindingRecorded }

// SpotCheckRules: the share of completed visits checked each month (001
// §3.4: not below 10%).
type SpotCheckRules struct {
	Rate float64 `yaml:"rate" json:"rate"`
}

// SpotCheckRound is the aggregate of one community's spot checks of a
// month. Start from NewSpotCheckRound. Not safe for concurrent use.
type SpotCheckRound struct {
	community, period string
	version           uint64
	drawn             *SpotCheckDrawn
	findings          map[VisitRef]SpotCheckFindingRecorded
}

// NewSpotCheckRound returns the empty round of community and month.
func NewSpotCheckRound(community, month string) *SpotCheckRound {
	return &SpotCheckRound{community: community, period: month, findings: map[VisitRef]SpotCheckFindingRecorded{}}
}

// Version implements Aggregate.
func (s *SpotCheckRound) Version() uint64 { return s.version }

// Community returns the round's community.
func (s *SpotCheckRound) Community() string { return s.community }

// Drawn returns the draw, if made.
func (s *SpotCheckRound) Drawn() (SpotCheckDrawn, bool) {
	if s.drawn == nil {
		return SpotCheckDrawn{}, false
	}
	return *s.drawn, true
}

// Findings returns the findings recorded, in sample order.
func (s *SpotCheckRound) Findings() []SpotCheckFindingRecorded {
	var out []SpotCheckFindingRecorded
	if s.drawn != nil {
		for _, it := range s.drawn.Sample {
			if f, ok := s.findings[it.VisitRef]; ok {
				out = append(out, f)
			}
		}
	}
	return out
}

// Apply implements Aggregate.
func (s *SpotCheckRound) Apply(e Event) {
	s.version++
	switch e := e.(type) {
	case SpotCheckDrawn:
		d := e
		s.drawn = &d
	case SpotCheckFindingRecorded:
		s.findings[e.Visit] = e
	}
}

// Bounds of a draw.
const (
	MaxSpotCheckPopulation = 200_000 // completed visits of a community in a month
	MaxInspectors          = 50
)

// DrawSpotChecks is the input of SpotCheckRound.Draw.
type DrawSpotChecks struct {
	Seed       string     // made by the caller (the command layer), recorded
	Population []VisitRef // the community's completed visits of the month
	Inspectors []string
	MonthEnd   time.Time // the first instant after the month
}

// Draw draws the month's sample at the policy's rate and assigns the
// inspectors in turn. A round is drawn once; the month must have ended.
func (s *SpotCheckRound) Draw(meta Meta, pol *Policy, in DrawSpotChecks) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if err := checkIDs("community", s.community); err != nil {
		return nil, err
	}
	if s.drawn != nil {
		return nil, newError(ErrConflict, "already_drawn", "period",
			fmt.Sprintf("the spot checks of %s for %s were drawn at %s; a month is drawn once", s.community, s.period, s.drawn.At.Format(time.RFC3339)),
			fmt.Sprintf("%s %s 的抽查已于 %s 抽取；每月只抽取一次", s.community, s.period, s.drawn.At.Format(time.RFC3339)))
	}
	rate := pol.SpotCheck.Rate
	if rate <= 0 {
		return nil, newError(ErrRule, "no_spot_check_rules", "policy",
			fmt.Sprintf("policy %s sets no spot-check rate; load a policy with spot_check.rate", pol.Version),
			fmt.Sprintf("策略 %s 未设定抽查比例；请加载设有 spot_check.rate 的策略", pol.Version))
	}
	if meta.At.Before(in.MonthEnd) {
		return nil, newError(ErrRule, "month_not_ended", "period",
			fmt.Sprintf("%s has not ended; draw its spot checks after %s", s.period, in.MonthEnd.Format(time.RFC3339)),
			fmt.Sprintf("%s 尚未结束；请在 %s 之后抽取", s.period, in.MonthEnd.Format(time.RFC3339)))
	}
	switch n := len(in.Inspectors); {
	case n == 0:
		return nil, required("inspectors", "the inspectors who check the sample", "抽查人员")
	case n > MaxInspectors:
		return nil, newError(ErrInvalid, "too_many_inspectors", "inspectors", fmt.Sprintf("at most %d inspectors", MaxInspectors),
			fmt.Sprintf("抽查人员最多 %d 名", MaxInspectors))
	}
	for i, x := range in.Inspectors {
		if err := checkPerson("inspectors", "an inspector's name", "抽查人员", x); err != nil {
			return nil, err
		}
		if slices.Contains(in.Inspectors[:i], x) {
			return nil, newError(ErrInvalid, "duplicate_inspector", "inspectors", "an inspector is named twice", "抽查人员重复")
		}
	}
	if len(in.Population) > MaxSpotCheckPopulation {
		return nil, newError(ErrInvalid, "population_too_large", "population",
			fmt.Sprintf("at most %d visits are drawn from", MaxSpotCheckPopulation), fmt.Sprintf("抽查总体最多 %d 次走访", MaxSpotCheckPopulation))
	}
	if in.Seed == "" {
		return nil, required("seed", "the seed of the draw", "抽样种子")
	}
	sample := DrawSample(in.Seed, in.Population, rate)
	items := make([]SpotCheckItem, len(sample))
	for i, r := range sample {
		items[i] = SpotCheckItem{VisitRef: r, Inspector: in.Inspectors[i%len(in.Inspectors)]}
	}
	return []Event{SpotCheckDrawn{Community: s.community, Period: s.period, Rate: rate, Seed: in.Seed, Population: len(in.Population),
		PopulationHash: PopulationHash(in.Population), Sample: items, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// RecordFinding records the finding of a sampled visit's check, by the
// inspector assigned to it; a discrepancy needs its detail.
func (s *SpotCheckRound) RecordFinding(meta Meta, visit VisitRef, result FindingResult, detail string) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if s.drawn == nil {
		return nil, newError(ErrNotFound, "spot_check_not_found", "period",
			fmt.Sprintf("no spot checks of %s were drawn for %s", s.community, s.period),
			fmt.Sprintf("%s %s 尚未抽取抽查样本", s.community, s.period))
	}
	var item *SpotCheckItem
	for i := range s.drawn.Sample {
		if s.drawn.Sample[i].VisitRef == visit {
			item = &s.drawn.Sample[i]
		}
	}
	if item == nil {
		return nil, newError(ErrRule, "visit_not_sampled", "visit",
			fmt.Sprintf("visit %s is not in the sample of %s", Clip(visit.String(), MaxEchoBytes), s.period),
			fmt.Sprintf("走访 %s 不在 %s 的抽查样本中", Clip(visit.String(), MaxEchoBytes), s.period))
	}
	if item.Inspector != meta.Actor {
		return nil, newError(ErrRule, "not_the_inspector", "visit",
			fmt.Sprintf("visit %s is assigned to %s; only they record its finding", visit, item.Inspector),
			fmt.Sprintf("走访 %s 由 %s 抽查；只有该抽查人员可以记录结果", visit, item.Inspector))
	}
	if f, done := s.findings[visit]; done {
		return nil, newError(ErrConflict, "finding_recorded", "visit",
			fmt.Sprintf("the finding of visit %s was recorded at %s", visit, f.At.Format(time.RFC3339)),
			fmt.Sprintf("走访 %s 的抽查结果已于 %s 记录", visit, f.At.Format(time.RFC3339)))
	}
	switch result {
	case FindingConfirmed:
	case FindingDiscrepancy:
		if detail == "" {
			return nil, required("detail", "what the check found untrue", "不实情况")
		}
	default:
		return nil, badValue("result", "finding", "抽查结果", result, FindingConfirmed, FindingDiscrepancy)
	}
	if err := CheckText("detail", detail); err != nil {
		return nil, err
	}
	return []Event{SpotCheckFindingRecorded{Community: s.community, Period: s.period, Visit: visit, Inspector: item.Inspector, Result: result,
		Detail: detail, At: meta.At, By: meta.Actor}}, nil
}
