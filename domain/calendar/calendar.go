// Package calendar is the official working-day calendar used for
// calendar-aware deadlines ("3 working days").
//
// A day is a working day when it is a Monday to Friday that is not a public
// holiday, or a weekend day declared a make-up working day (调休上班). Holiday
// and make-up data is published per year; the 2025 and 2026 calendars of the
// People's Republic of China are shipped with this package, later years are
// loaded from bytes (YAML or JSON) with Parse. A computation that touches a
// year without data fails with a *YearNotCoveredError: the calendar never
// guesses "weekends only".
//
// A Calendar is immutable after construction and safe for concurrent use. The
// package does no I/O except loading time zone data (embedded via time/tzdata).
package calendar

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"gopkg.in/yaml.v3"
)

// DefaultTimeZone is the time zone communities use unless configured otherwise.
const DefaultTimeZone = "Asia/Shanghai"

//go:embed data/*.yaml
var shipped embed.FS

type sentinel string

func (s sentinel) Error() string { return string(s) }

// Error kinds; test with errors.Is.
const (
	// ErrYearNotCovered: a computation needs a year the calendar has no data for.
	ErrYearNotCovered = sentinel("calendar: year not covered")
	// ErrInvalidData: calendar data could not be parsed or is inconsistent.
	ErrInvalidData = sentinel("calendar: invalid data")
)

// YearNotCoveredError reports the year that has no holiday data. It matches
// ErrYearNotCovered.
type YearNotCoveredError struct{ Year int }

func (e *YearNotCoveredError) Error() string {
	return fmt.Sprintf("calendar: no holiday data for %d; load the official calendar of %d before computing deadlines in it", e.Year, e.Year)
}

// Is makes errors.Is(err, ErrYearNotCovered) true.
func (e *YearNotCoveredError) Is(target error) bool { return target == ErrYearNotCovered }

// Year is the published holiday arrangement of one year, as found in the data
// files. Dates are "YYYY-MM-DD"; an inclusive range is "YYYY-MM-DD/YYYY-MM-DD".
type Year struct {
	Year   int      `yaml:"year" json:"year"`
	Source string   `yaml:"source,omitempty" json:"source,omitempty"` // the notice that published it
	Off    []string `yaml:"off" json:"off"`                           // public holidays (days off)
	Work   []string `yaml:"work" json:"work"`                         // make-up working days on weekends
}

// Parse reads one Year or a list of them from YAML or JSON bytes. It checks
// the dates parse; New checks the rest.
func Parse(data []byte) ([]Year, error) {
	var list []Year
	if err := yaml.Unmarshal(data, &list); err != nil {
		var one Year
		if err2 := yaml.Unmarshal(data, &one); err2 != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidData, err)
		}
		list = []Year{one}
	}
	for _, y := range list {
		if _, _, err := y.days(); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Shipped returns the years shipped with the package (2025 and 2026).
func Shipped() ([]Year, error) {
	var years []Year
	err := fs.WalkDir(shipped, "data", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := shipped.ReadFile(path)
		if err != nil {
			return err
		}
		ys, err := Parse(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		years = append(years, ys...)
		return nil
	})
	return years, err
}

// LoadLocation loads a time zone by IANA name; the empty name means
// DefaultTimeZone.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	return time.LoadLocation(name)
}

// Calendar answers working-day questions in one time zone.
type Calendar struct {
	loc   *time.Location
	years map[int]Year
	off   map[civil]bool
	work  map[civil]bool
}

// civil is a local calendar date.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil { y, m, d := t.Date(); return civil{y, m, d} }

func (c civil) String() string { return fmt.Sprintf("%04d-%02d-%02d", c.y, c.m, c.d) }

// New builds a calendar for loc from the given years. It fails with
// ErrInvalidData when a year appears twice, a date lies outside its year, a
// date is both off and work, or a make-up working day is not a weekend day.
func New(loc *time.Location, years ...Year) (*Calendar, error) {
	if loc == nil {
		return nil, fmt.Errorf("%w: nil time zone", ErrInvalidData)
	}
	c := &Calendar{loc: loc, years: map[int]Year{}, off: map[civil]bool{}, work: map[civil]bool{}}
	for _, y := range years {
		if _, dup := c.years[y.Year]; dup {
			return nil, fmt.Errorf("%w: year %d given twice", ErrInvalidData, y.Year)
		}
		off, work, err := y.days()
		if err != nil {
			return nil, err
		}
		for _, d := range off {
			c.off[d] = true
		}
		for _, d := range work {
			if c.off[d] {
				return nil, fmt.Errorf("%w: %s is both a holiday and a make-up working day", ErrInvalidData, d)
			}
			if wd := time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday(); wd != time.Saturday && wd != time.Sunday {
				return nil, fmt.Errorf("%w: make-up working day %s is a %s, not a weekend day", ErrInvalidData, d, wd)
			}
			c.work[d] = true
		}
		c.years[y.Year] = y
	}
	return c, nil
}

// Default returns the shipped calendar (2025, 2026) in DefaultTimeZone.
func Default() (*Calendar, error) {
	loc, err := LoadLocation(DefaultTimeZone)
	if err != nil {
		return nil, err
	}
	years, err := Shipped()
	if err != nil {
		return nil, err
	}
	return New(loc, years...)
}

// In returns a calendar with the same data in another time zone (a
// community's). The receiver is not changed.
func (c *Calendar) In(loc *time.Location) *Calendar {
	cp := *c
	cp.loc = loc
	return &cp
}

// With returns a calendar with more years added (e.g. next year's notice,
// published each November). The receiver is not changed.
func (c *Calendar) With(years ...Year) (*Calendar, error) {
	all := make([]Year, 0, len(c.years)+len(years))
	for _, y := range c.years {
		all = append(all, y)
	}
	return New(c.loc, append(all, years...)...)
}

// Location is the time zone in which dates are read.
func (c *Calendar) Location() *time.Location { return c.loc }

// Years lists the covered years in ascending order.
func (c *Calendar) Years() []int {
	ys := make([]int, 0, len(c.years))
	for y := range c.years {
		ys = append(ys, y)
	}
	sort.Ints(ys)
	return ys
}

// IsWorkingDay reports whether the local date of t (in the calendar's time
// zone) is a working day. It fails with *YearNotCoveredError when that year
// has no data.
func (c *Calendar) IsWorkingDay(t time.Time) (bool, error) {
	return c.isWorking(civilOf(t.In(c.loc)))
}

func (c *Calendar) isWorking(d civil) (bool, error) {
	if _, ok := c.years[d.y]; !ok {
		return false, &YearNotCoveredError{Year: d.y}
	}
	if c.off[d] {
		return false, nil
	}
	if c.work[d] {
		return true, nil
	}
	wd := time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday()
	return wd != time.Saturday && wd != time.Sunday, nil
}

// AddWorkingDays returns the deadline n working days after start.
//
// Definition: working days are counted from the local day after start's
// local date (the start day itself never counts, even when it is a working
// day), and the deadline is the last instant of the n-th working day:
// 23:59:59.999999999 in the calendar's time zone. Something is late when it
// happens after the returned instant. n must be at least 1. Every day
// examined must lie in a covered year, otherwise *YearNotCoveredError.
func (c *Calendar) AddWorkingDays(start time.Time, n int) (time.Time, error) {
	if n < 1 {
		return time.Time{}, fmt.Errorf("calendar: working days to add must be at least 1, got %d", n)
	}
	local := start.In(c.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 12, 0, 0, 0, time.UTC)
	for counted := 0; ; {
		day = day.AddDate(0, 0, 1)
		d := civilOf(day)
		ok, err := c.isWorking(d)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			counted++
			if counted == n {
				return time.Date(d.y, d.m, d.d, 23, 59, 59, 999999999, c.loc), nil
			}
		}
	}
}

// days expands the year's entries into dates, checking they lie in the year.
func (y Year) days() (off, work []civil, err error) {
	if y.Year < 1900 || y.Year > 9999 {
		return nil, nil, fmt.Errorf("%w: year %d out of range", ErrInvalidData, y.Year)
	}
	expand := func(entries []string) ([]civil, error) {
		var out []civil
		for _, e := range entries {
			from, to, isRange := strings.Cut(strings.TrimSpace(e), "/")
			if !isRange {
				to = from
			}
			a, err1 := time.Parse(time.DateOnly, strings.TrimSpace(from))
			b, err2 := time.Parse(time.DateOnly, strings.TrimSpace(to))
			if err1 != nil || err2 != nil || b.Before(a) {
				return nil, fmt.Errorf("%w: %q is not a date or date range (YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD)", ErrInvalidData, e)
			}
			for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
				if d.Year() != y.Year {
					return nil, fmt.Errorf("%w: %s listed under year %d", ErrInvalidData, d.Format(time.DateOnly), y.Year)
				}
				out = append(out, civilOf(d))
			}
		}
		return out, nil
	}
	if off, err = expand(y.Off); err != nil {
		return nil, nil, err
	}
	if work, err = expand(y.Work); err != nil {
		return nil, nil, err
	}
	return off, work, nil
}
