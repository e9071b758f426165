package domain

import (
	"fmt"
	"time"
)

// Period is a calendar period of a visit cadence or of a measure: "once per
// week / month / quarter" (001 §2.3.3) means once in each such period, not
// once per rolling interval. Durable: stored in policies and events.
type Period string

const (
	PeriodWeek     Period = "week"      // Monday to Sunday (ISO week)
	PeriodMonth    Period = "month"     // calendar month
	PeriodQuarter  Period = "quarter"   // Jan–Mar, Apr–Jun, Jul–Sep, Oct–Dec
	PeriodHalfYear Period = "half_year" // Jan–Jun, Jul–Dec
	PeriodYear     Period = "year"      // calendar year
)

// Periods lists every Period, shortest first.
func Periods() []Period {
	return []Period{PeriodWeek, PeriodMonth, PeriodQuarter, PeriodHalfYear, PeriodYear}
}

// Bounds returns the period that contains t, in loc: its first instant and
// the first instant of the next period (half-open [start, end)).
func (p Period) Bounds(t time.Time, loc *time.Location) (start, end time.Time) {
	l := t.In(loc)
	y, m, d := l.Date()
	switch p {
	case PeriodWeek:
		wd := (int(l.Weekday()) + 6) % 7 // Monday = 0
		start = time.Date(y, m, d-wd, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 0, 7)
	case PeriodMonth:
		start = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 1, 0)
	case PeriodQuarter:
		start = time.Date(y, time.Month((int(m)-1)/3*3+1), 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 3, 0)
	case PeriodHalfYear:
		start = time.Date(y, time.Month((int(m)-1)/6*6+1), 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 6, 0)
	default: // PeriodYear
		start = time.Date(y, 1, 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(1, 0, 0)
	}
}

// Label names the period that contains t: "2026-W05", "2026-02",
// "2026-Q1", "2026-H1", "2026".
func (p Period) Label(t time.Time, loc *time.Location) string {
	start, _ := p.Bounds(t, loc)
	switch p {
	case PeriodWeek:
		y, w := start.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	case PeriodMonth:
		return start.Format("2006-01")
	case PeriodQuarter:
		return fmt.Sprintf("%d-Q%d", start.Year(), (int(start.Month())-1)/3+1)
	case PeriodHalfYear:
		return fmt.Sprintf("%d-H%d", start.Year(), (int(start.Month())-1)/6+1)
	default:
		return fmt.Sprint(start.Year())
	}
}

// ParsePeriodLabel reads a label written by Label ("2026-02", "2026-Q1",
// "2026-H2", "2026", "2026-W05") and returns its period and bounds in loc.
func ParsePeriodLabel(label string, loc *time.Location) (Period, time.Time, time.Time, error) {
	var y, n int
	var p Period
	var at time.Time
	switch {
	case len(label) == 4:
		if _, err := fmt.Sscanf(label, "%4d", &y); err == nil {
			p, at = PeriodYear, time.Date(y, 1, 1, 0, 0, 0, 0, loc)
		}
	case len(label) == 7 && label[5] == 'Q':
		if _, err := fmt.Sscanf(label, "%4d-Q%1d", &y, &n); err == nil && n >= 1 && n <= 4 {
			p, at = PeriodQuarter, time.Date(y, time.Month(3*n-2), 1, 0, 0, 0, 0, loc)
		}
	case len(label) == 7 && label[5] == 'H':
		if _, err := fmt.Sscanf(label, "%4d-H%1d", &y, &n); err == nil && n >= 1 && n <= 2 {
			p, at = PeriodHalfYear, time.Date(y, time.Month(6*n-5), 1, 0, 0, 0, 0, loc)
		}
	case len(label) == 8 && label[5] == 'W':
		if _, err := fmt.Sscanf(label, "%4d-W%2d", &y, &n); err == nil && n >= 1 && n <= 53 {
			// ISO week 1 contains January 4th.
			jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, loc)
			mon, _ := PeriodWeek.Bounds(jan4, loc)
			p, at = PeriodWeek, mon.AddDate(0, 0, 7*(n-1))
			if yy, ww := at.ISOWeek(); yy != y || ww != n {
				p = ""
			}
		}
	case len(label) == 7:
		if t, err := time.ParseInLocation("2006-01", label, loc); err == nil {
			p, at, y = PeriodMonth, t, t.Year()
		}
	}
	if p == "" || y < 2000 || y > 2100 {
		return "", time.Time{}, time.Time{}, newError(ErrInvalid, "invalid_period", "period",
			fmt.Sprintf("period %q is not a period; write 2026-02 (month), 2026-Q1 (quarter), 2026-H1 (half-year), 2026 (year) or 2026-W05 (week)", Clip(label, MaxEchoBytes)),
			fmt.Sprintf("期间 %q 格式不正确；请写作 2026-02（月）、2026-Q1（季度）、2026-H1（半年）、2026（年）或 2026-W05（周）", Clip(label, MaxEchoBytes)))
	}
	start, end := p.Bounds(at, loc)
	return p, start, end, nil
}

// Circumstance is a circumstance of a household that the policy's class
// rules look at besides the assistance category (001 §2.3.3, §4.1).
// Durable: stored in events.
type Circumstance string

const (
	CircumstanceDisability         Circumstance = "disability"             // 残疾人家庭
	CircumstanceElderlyAlone       Circumstance = "elderly_alone"          // 独居老人
	CircumstanceChildInDifficulty  Circumstance = "child_in_difficulty"    // 困境儿童
	CircumstanceSeriousMental      Circumstance = "serious_mental_illness" // 严重精神障碍患者家庭
	CircumstanceSeriousIllness     Circumstance = "serious_illness"        // 重病患者家庭
	CircumstanceLeftBehindChildren Circumstance = "left_behind_child"      // 留守儿童 (002)
)

// Circumstances lists every Circumstance.
func Circumstances() []Circumstance {
	return []Circumstance{CircumstanceDisability, CircumstanceElderlyAlone, CircumstanceChildInDifficulty,
		CircumstanceSeriousMental, CircumstanceSeriousIllness, CircumstanceLeftBehindChildren}
}

// classRank orders household classes: a rule asks for at least a class.
func classRank(c HouseholdClass) int {
	switch c {
	case ClassKey:
		return 1
	case ClassSpecial:
		return 2
	}
	return 0
}
