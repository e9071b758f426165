// Package coverage computes household visit coverage (走访覆盖率) as the
// seeds define it (001 §2.1, §2.3.3, §4.3, §6.2; decision 0098): of the
// households due in a period, the share visited on schedule, overall, per
// household class and for 重点群体, against the policy's targets.
//
// It is pure: it imports only domain, does no I/O and reads no clock. Its
// input is a household's history as the log tells it (registration,
// archive, class changes, counted visits); the projections/coverage read
// model keeps those histories and the measures close (issue 15) feeds them
// here.
//
// Definitions, in the community's time zone:
//   - A household's cadence is the calendar period of its class under the
//     policy (visit_cadence: week, month, quarter, half-year). The class is
//     the one in force at the end of the cadence period.
//   - A cadence period is due when it starts at or after the end of the
//     period of registration (the registration period is not required) and
//     the household was not archived before it ended.
//   - A due cadence period is covered when a counted visit happened in it:
//     completed, not marked not_counted, in a mode the policy counts for
//     the class.
//   - A household is due in a reporting period R when at least one of its
//     due cadence periods ends in R, and covered in R when every one of
//     them was covered. A monthly household never visited is uncovered in
//     every month; one visited on January 31st only is uncovered in
//     February; a quarterly household counts in the month that ends its
//     quarter (and in that quarter, half-year and year).
package coverage

import (
	"slices"
	"sort"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Household is one household's history as far as coverage needs it.
type Household struct {
	ID, Community, Grid string
	Registered          time.Time
	Archived            time.Time // zero: not archived
	Classes             []ClassAt // in order of At; the first is the class at registration
	Visits              []Visit   // completed visits, in any order
}

// ClassAt is the class in force from At.
type ClassAt struct {
	At    time.Time
	Class domain.HouseholdClass
}

// Visit is a completed visit.
type Visit struct {
	At         time.Time
	Mode       domain.VisitMode
	NotCounted bool
}

// ClassAt returns the class in force at t.
func (h *Household) ClassAt(t time.Time) domain.HouseholdClass {
	c := domain.ClassOrdinary
	for _, x := range h.Classes {
		if x.At.After(t) {
			break
		}
		c = x.Class
	}
	if len(h.Classes) > 0 && t.Before(h.Classes[0].At) {
		c = h.Classes[0].Class
	}
	return c
}

// Status is a household's coverage in one reporting period.
type Status struct {
	Due, Covered bool
	Class        domain.HouseholdClass
	// Periods are the labels of the due cadence periods ending in the
	// reporting period; Missed those without a counted visit.
	Periods, Missed []string
}

// Of returns the coverage of h in the reporting period [start, end) under pol.
func Of(h *Household, pol *domain.Policy, loc *time.Location, start, end time.Time) Status {
	var st Status
	if h.Registered.IsZero() || !h.Registered.Before(end) {
		return st
	}
	class := h.ClassAt(end.Add(-time.Nanosecond))
	if !h.Archived.IsZero() && h.Archived.Before(end) {
		class = h.ClassAt(h.Archived)
	}
	st.Class = class
	per := pol.VisitCadence[class]
	if per == "" {
		return st // a policy without cadence (rolling intervals): no period coverage
	}
	_, firstDue := per.Bounds(h.Registered, loc)
	// Cadence periods that end in (start, end]: walk from the period that
	// contains start.
	ps, pe := per.Bounds(start, loc)
	if !pe.After(start) {
		ps, pe = per.Bounds(pe, loc)
	}
	for ; !pe.After(end); ps, pe = per.Bounds(pe, loc) {
		if ps.Before(firstDue) || (!h.Archived.IsZero() && h.Archived.Before(pe)) {
			continue
		}
		c := h.ClassAt(pe.Add(-time.Nanosecond))
		label := per.Label(ps, loc)
		st.Periods = append(st.Periods, label)
		if !visited(h, pol, c, ps, pe) {
			st.Missed = append(st.Missed, label)
		}
	}
	st.Due = len(st.Periods) > 0
	st.Covered = st.Due && len(st.Missed) == 0
	return st
}

func visited(h *Household, pol *domain.Policy, class domain.HouseholdClass, from, to time.Time) bool {
	for _, v := range h.Visits {
		if !v.NotCounted && !v.At.Before(from) && v.At.Before(to) && pol.VisitCounts(class, v.Mode) {
			return true
		}
	}
	return false
}

// Count is due and covered households of a group.
type Count struct {
	Due     int64 `json:"due"`
	Covered int64 `json:"covered"`
}

// Rate returns Covered/Due and whether Due > 0.
func (c Count) Rate() (float64, bool) {
	if c.Due == 0 {
		return 0, false
	}
	return float64(c.Covered) / float64(c.Due), true
}

// Add counts one household's status.
func (c *Count) Add(s Status) {
	if s.Due {
		c.Due++
		if s.Covered {
			c.Covered++
		}
	}
}

// Figures are the coverage of one group (a community, or the street).
type Figures struct {
	All       Count                           `json:"all"`
	ByClass   map[domain.HouseholdClass]Count `json:"by_class"`
	KeyGroups Count                           `json:"key_groups"` // 重点群体: the policy's key group classes
}

func (f *Figures) add(s Status, keyGroups []domain.HouseholdClass) {
	if !s.Due {
		return
	}
	f.All.Add(s)
	if f.ByClass == nil {
		f.ByClass = map[domain.HouseholdClass]Count{}
	}
	c := f.ByClass[s.Class]
	c.Add(s)
	f.ByClass[s.Class] = c
	if slices.Contains(keyGroups, s.Class) {
		f.KeyGroups.Add(s)
	}
}

// Report is the coverage of a reporting period, per community and for the
// whole street (every community given).
type Report struct {
	Period        string              `json:"period"` // "2026-03", "2026-Q1", …
	Start, End    time.Time           `json:"-"`
	PolicyVersion string              `json:"policy_version"`
	Street        Figures             `json:"street"`
	Communities   map[string]*Figures `json:"communities"`
	// Uncovered lists the households due and not covered, per community,
	// sorted (bounded by the households given).
	Uncovered map[string][]string `json:"uncovered,omitempty"`
}

// Compute returns the coverage of the reporting period label ("2026-03",
// "2026-Q1", "2026-H1", "2026") of the households given, under pol.
func Compute(pol *domain.Policy, loc *time.Location, label string, households []Household) (*Report, error) {
	_, start, end, err := domain.ParsePeriodLabel(label, loc)
	if err != nil {
		return nil, err
	}
	r := &Report{Period: label, Start: start, End: end, PolicyVersion: pol.Version, Communities: map[string]*Figures{}, Uncovered: map[string][]string{}}
	for i := range households {
		h := &households[i]
		s := Of(h, pol, loc, start, end)
		if !s.Due {
			continue
		}
		f := r.Communities[h.Community]
		if f == nil {
			f = &Figures{}
			r.Communities[h.Community] = f
		}
		f.add(s, pol.Coverage.KeyGroupClasses)
		r.Street.add(s, pol.Coverage.KeyGroupClasses)
		if !s.Covered {
			r.Uncovered[h.Community] = append(r.Uncovered[h.Community], h.ID)
		}
	}
	for _, ids := range r.Uncovered {
		sort.Strings(ids)
	}
	return r, nil
}

// Breach is a coverage target or threshold a group did not meet.
type Breach struct {
	Measure string  `json:"measure"` // "coverage.all", "coverage.key_groups", "coverage.risk"
	Figure  float64 `json:"figure"`
	Target  float64 `json:"target"`
}

// Breaches compares f with the policy's coverage targets.
func Breaches(f Figures, t domain.CoverageTargets) []Breach {
	var out []Breach
	if r, ok := f.All.Rate(); ok && t.All > 0 && r < t.All {
		out = append(out, Breach{"coverage.all", r, t.All})
	}
	if r, ok := f.KeyGroups.Rate(); ok && t.KeyGroups > 0 && r < t.KeyGroups {
		out = append(out, Breach{"coverage.key_groups", r, t.KeyGroups})
	}
	if r, ok := f.All.Rate(); ok && t.RiskBelow > 0 && r < t.RiskBelow {
		out = append(out, Breach{"coverage.risk", r, t.RiskBelow})
	}
	return out
}

// Fold applies one household event to h (the projection and tests build
// histories with it). It ignores events it does not need.
func (h *Household) Fold(e domain.Event) {
	switch e := e.(type) {
	case domain.HouseholdRegistered:
		h.ID, h.Community, h.Grid, h.Registered = e.HouseholdID, e.Community, e.Grid, e.At
		h.Classes = append(h.Classes[:0], ClassAt{e.At, e.Class})
	case domain.HouseholdRelocated:
		h.Community, h.Grid = e.Community, e.Grid
	case domain.HouseholdClassChanged:
		h.Classes = append(h.Classes, ClassAt{e.At, e.To})
	case domain.HouseholdArchived:
		h.Archived = e.At
	case domain.VisitRecorded:
		if e.Outcome == domain.OutcomeCompleted {
			h.Visits = append(h.Visits, Visit{At: e.OccurredAt, Mode: e.Mode, NotCounted: e.NotCounted})
		}
	}
}
