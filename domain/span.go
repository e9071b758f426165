package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit of a Span.
type Unit string

const (
	UnitHour       Unit = "hour"        // clock time: exactly 60 minutes
	UnitDay        Unit = "day"         // calendar day: same local clock time n days later
	UnitWorkingDay Unit = "working_day" // see WorkingDays.AddWorkingDays
	UnitWeek       Unit = "week"        // 7 calendar days
	UnitMonth      Unit = "month"       // same local day-of-month n months later (normalised like time.AddDate)
)

// Span is a time limit such as "24 hours", "3 working_days" or "1 month".
// Its text form is "<n> <unit>" (unit singular or plural); the zero Span
// (text "") means "no limit".
type Span struct {
	N    int
	Unit Unit
}

// Hours, WorkingDays, Days, Weeks and Months build Spans.
func Hours(n int) Span       { return Span{n, UnitHour} }
func WorkingDays(n int) Span { return Span{n, UnitWorkingDay} }
func Days(n int) Span        { return Span{n, UnitDay} }
func Weeks(n int) Span       { return Span{n, UnitWeek} }
func Months(n int) Span      { return Span{n, UnitMonth} }

// IsZero reports whether s is "no limit".
func (s Span) IsZero() bool { return s == Span{} }

func (s Span) String() string {
	if s.IsZero() {
		return ""
	}
	if s.N == 1 {
		return fmt.Sprintf("1 %s", s.Unit)
	}
	return fmt.Sprintf("%d %ss", s.N, s.Unit)
}

// ParseSpan parses the text form of a Span. The empty string is the zero Span.
func ParseSpan(text string) (Span, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Span{}, nil
	}
	num, unit, ok := strings.Cut(text, " ")
	n, err := strconv.Atoi(num)
	u := Unit(strings.TrimSuffix(strings.TrimSpace(unit), "s"))
	if !ok || err != nil || n < 1 || !oneOf(u, UnitHour, UnitDay, UnitWorkingDay, UnitWeek, UnitMonth) {
		return Span{}, fmt.Errorf("invalid time span %q: want \"<n> <unit>\" with n ≥ 1 and unit hour, day, working_day, week or month", text)
	}
	return Span{n, u}, nil
}

// MarshalText implements encoding.TextMarshaler (JSON and YAML use it).
func (s Span) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Span) UnmarshalText(b []byte) error {
	v, err := ParseSpan(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// duration approximates the span as a duration (working days and months by
// their calendar length), used only to compare spans, e.g. to pick an
// approaching-warning threshold.
func (s Span) duration() time.Duration {
	day := 24 * time.Hour
	switch s.Unit {
	case UnitHour:
		return time.Duration(s.N) * time.Hour
	case UnitDay, UnitWorkingDay:
		return time.Duration(s.N) * day
	case UnitWeek:
		return time.Duration(s.N) * 7 * day
	case UnitMonth:
		return time.Duration(s.N) * 30 * day
	}
	return 0
}

// WorkingDayCalendar is the working-day calendar of a community, as the domain needs
// it. *calendar.Calendar implements it.
type WorkingDayCalendar interface {
	// AddWorkingDays returns the end of the n-th working day after start's
	// local date (23:59:59.999999999 local), or an error when a year has no data.
	AddWorkingDays(start time.Time, n int) (time.Time, error)
	// Location is the community's time zone.
	Location() *time.Location
}

// DueAfter returns the instant a span ends when it starts at start: hours are
// added as clock time; days, weeks and months keep the local clock time in
// cal's time zone; working days end at the end of the n-th working day (see
// WorkingDayCalendar). The zero span is an error.
func DueAfter(cal WorkingDayCalendar, start time.Time, s Span) (time.Time, error) {
	if s.N < 1 {
		return time.Time{}, fmt.Errorf("no time limit to add")
	}
	switch s.Unit {
	case UnitHour:
		return start.Add(time.Duration(s.N) * time.Hour), nil
	case UnitWorkingDay:
		return cal.AddWorkingDays(start, s.N)
	}
	local := start.In(cal.Location())
	switch s.Unit {
	case UnitDay:
		return local.AddDate(0, 0, s.N), nil
	case UnitWeek:
		return local.AddDate(0, 0, 7*s.N), nil
	case UnitMonth:
		return local.AddDate(0, s.N, 0), nil
	}
	return time.Time{}, fmt.Errorf("unknown time unit %q", s.Unit)
}
