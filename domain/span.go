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

var unitZH = map[Unit]string{UnitHour: "小时", UnitDay: "天", UnitWorkingDay: "个工作日", UnitWeek: "周", UnitMonth: "个月"}

// ZH is the span as a Chinese text reads it: "2 小时", "3 个工作日".
func (s Span) ZH() string {
	if s.IsZero() {
		return ""
	}
	u, ok := unitZH[s.Unit]
	if !ok {
		return "“" + s.String() + "”"
	}
	return strconv.Itoa(s.N) + " " + u
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
	// local date (23:59:59.999999999 local), and the years it counted
	// Monday to Friday as working days for because no official calendar of
	// them is loaded (nil when none).
	AddWorkingDays(start time.Time, n int) (due time.Time, provisional []int, err error)
	// Location is the community's time zone.
	Location() *time.Location
	// Version identifies the calendar's data (recorded with deadlines).
	Version() string
}

// CalendarBasis records which working-day calendar a deadline was computed
// with: its version, and the years for which no official calendar was
// loaded, so Monday to Friday counted as working days. A deadline with
// provisional years is provisional: it is re-derived (and rescheduled by
// an event) when those years are published. The zero value means the
// deadline does not depend on the working-day calendar.
type CalendarBasis struct {
	Version     string `json:"version,omitempty"`
	Provisional []int  `json:"provisional_years,omitempty"`
}

// IsProvisional reports whether the deadline assumed Monday to Friday for a
// year without an official calendar.
func (b CalendarBasis) IsProvisional() bool { return len(b.Provisional) > 0 }

// Note explains a provisional deadline in English and Chinese, e.g.
// "provisional: the 2027 holiday calendar is not yet loaded" /
// "暂定：2027年节假日安排尚未导入". Empty for a deadline that is not provisional.
func (b CalendarBasis) Note() (en, zh string) {
	if !b.IsProvisional() {
		return "", ""
	}
	ys := make([]string, len(b.Provisional))
	for i, y := range b.Provisional {
		ys[i] = strconv.Itoa(y)
	}
	zhList := strings.Join(ys, "、")
	if len(ys) == 1 {
		return fmt.Sprintf("provisional: the %s holiday calendar is not yet loaded", ys[0]), fmt.Sprintf("暂定：%s年节假日安排尚未导入", zhList)
	}
	list := strings.Join(ys[:len(ys)-1], ", ") + " and " + ys[len(ys)-1]
	return fmt.Sprintf("provisional: the %s holiday calendars are not yet loaded", list), fmt.Sprintf("暂定：%s年节假日安排尚未导入", zhList)
}

// Due is the end of a time limit with the calendar basis it was computed with.
type Due struct {
	At    time.Time
	Basis CalendarBasis // zero unless the span is in working days
}

// DueAfter returns the instant a span ends when it starts at start: hours are
// added as clock time; days, weeks and months keep the local clock time in
// cal's time zone; working days end at the end of the n-th working day (see
// WorkingDayCalendar), with the calendar's version and the provisional years
// in Basis. The zero span is an error.
func DueAfter(cal WorkingDayCalendar, start time.Time, s Span) (Due, error) {
	if s.N < 1 {
		return Due{}, fmt.Errorf("no time limit to add")
	}
	switch s.Unit {
	case UnitHour:
		return Due{At: start.Add(time.Duration(s.N) * time.Hour)}, nil
	case UnitWorkingDay:
		at, prov, err := cal.AddWorkingDays(start, s.N)
		if err != nil {
			return Due{}, err
		}
		return Due{At: at, Basis: CalendarBasis{Version: cal.Version(), Provisional: prov}}, nil
	}
	local := start.In(cal.Location())
	switch s.Unit {
	case UnitDay:
		return Due{At: local.AddDate(0, 0, s.N)}, nil
	case UnitWeek:
		return Due{At: local.AddDate(0, 0, 7*s.N)}, nil
	case UnitMonth:
		return Due{At: local.AddDate(0, s.N, 0)}, nil
	}
	return Due{}, fmt.Errorf("unknown time unit %q", s.Unit)
}
