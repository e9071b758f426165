// Package calendar is the official working-day calendar used for
// calendar-aware deadlines ("3 working days").
//
// A day is a working day when it is a Monday to Friday that is not a public
// holiday, or a weekend day declared a make-up working day (调休上班). Holiday
// and make-up data is published per year; the 2025 and 2026 calendars of the
// People's Republic of China are shipped with this package, later years are
// loaded from bytes (YAML or JSON) with Parse, or published as events in the
// log (see the domain's CalendarYearPublished).
//
// A computation that touches a year without official data does not fail: it
// counts Monday to Friday as working days for that year and reports the
// year as provisional (see AddWorkingDays), so that a deadline can be set
// while the year's notice is awaited and marked provisional wherever it
// appears. Nothing is ever guessed silently.
//
// A Calendar is immutable after construction and safe for concurrent use. The
// package does no I/O except loading time zone data (embedded via time/tzdata).
package calendar

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
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
	Source string   `yaml:"source,omitempty" json:"source,omitempty"` // the notice that published it (free text, shipped files)
	Notice Notice   `yaml:"notice,omitempty" json:"notice,omitzero"`  // the notice, for published years
	Off    []string `yaml:"off" json:"off"`                           // public holidays (days off)
	Work   []string `yaml:"work" json:"work"`                         // make-up working days on weekends

	// lines of the entries in the file Parse read (0: not from a file).
	line, offLines, workLines []int
}

// Notice identifies the official notice a year comes from, e.g. title
// "国务院办公厅关于2027年部分节假日安排的通知", number "国办发明电〔2026〕7号",
// date "2026-11-10".
type Notice struct {
	Title  string `yaml:"title,omitempty" json:"title,omitempty"`
	Number string `yaml:"number,omitempty" json:"number,omitempty"`
	Date   string `yaml:"date,omitempty" json:"date,omitempty"`
}

// UnmarshalYAML decodes a year and remembers the line of each entry, so that
// an error can name it.
func (y *Year) UnmarshalYAML(n *yaml.Node) error {
	type plain Year
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*y = Year(p)
	y.line = []int{n.Line}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var lines []int
		for _, e := range v.Content {
			lines = append(lines, e.Line)
		}
		switch k.Value {
		case "off":
			y.offLines = lines
		case "work":
			y.workLines = lines
		}
	}
	return nil
}

// FileError is a problem found in calendar data, with the line of the file
// it is on (0 when not known) and the message in English and Chinese. It
// matches ErrInvalidData.
type FileError struct {
	Line   int
	EN, ZH string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("calendar: line %d: %s / 第 %d 行：%s", e.Line, e.EN, e.Line, e.ZH)
	}
	return fmt.Sprintf("calendar: %s / %s", e.EN, e.ZH)
}

// Is makes errors.Is(err, ErrInvalidData) true.
func (e *FileError) Is(target error) bool { return target == ErrInvalidData }

func fileErr(line int, en, zh string) error { return &FileError{Line: line, EN: en, ZH: zh} }

func lineOf(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}

// MaxFileBytes bounds calendar data read by Parse.
const MaxFileBytes = 64 << 10

// MaxWorkingDays bounds n in AddWorkingDays (about ten years).
const MaxWorkingDays = 2600

// Parse reads one Year or a list of them from YAML or JSON bytes. It checks
// the dates parse; New checks the rest.
func Parse(data []byte) ([]Year, error) {
	if len(data) > MaxFileBytes {
		return nil, fileErr(0, fmt.Sprintf("the data is %d bytes, more than the %d allowed; give one or a few years", len(data), MaxFileBytes),
			fmt.Sprintf("数据有 %d 字节，超过上限 %d；请只提供一年或几年的数据", len(data), MaxFileBytes))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fileErr(0, "not YAML or JSON ("+yamlMsg(err)+"); write year, off and work as in domain/calendar/data",
			"不是有效的 YAML 或 JSON；请按 domain/calendar/data 中的格式填写 “year”、“off”、“work”")
	}
	var list []Year
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	var err error
	switch doc.Kind {
	case yaml.SequenceNode:
		err = doc.Decode(&list)
	case yaml.MappingNode:
		var one Year
		err = doc.Decode(&one)
		list = []Year{one}
	default:
		return nil, fileErr(doc.Line, "expected one year (a mapping with year, off, work) or a list of years",
			"应为一个年份（含 “year”、“off”、“work” 的映射）或年份列表")
	}
	if err != nil {
		return nil, fileErr(doc.Line, "cannot read the year ("+yamlMsg(err)+"); year is a number, off and work are lists of dates",
			"无法读取年份数据；“year” 为数字，“off” 和 “work” 为日期列表")
	}
	for _, y := range list {
		if err := y.Check(); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// yamlMsg keeps a parser message short and free of input echoes.
func yamlMsg(err error) string {
	m := err.Error()
	if len(m) > 120 {
		m = m[:120] + "…"
	}
	return m
}

// Check validates one year on its own: every date parses and lies in the
// year, no day is both a holiday and a make-up working day, every make-up
// working day is a Saturday or Sunday (a weekday is a working day already),
// and a holiday is not listed twice. Errors are *FileError naming the line
// when the year came from Parse.
func (y Year) Check() error {
	_, _, err := y.days()
	return err
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
			return nil, fileErr(lineOf(y.line, 0), fmt.Sprintf("year %d is given twice; give each year once", y.Year),
				fmt.Sprintf("%d 年重复出现；每年只能给出一次", y.Year))
		}
		off, work, err := y.days()
		if err != nil {
			return nil, err
		}
		for _, d := range off {
			c.off[d] = true
		}
		for _, d := range work {
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

// Load returns the shipped calendar (Default) with the years of extra
// added, e.g. those of a file given to the server; a year in extra
// replaces the shipped one (a corrected notice). Without extra it is
// Default. A fault in extra is reported as New reports it (a *FileError,
// matching ErrInvalidData); a fault in the shipped data is wrapped with
// "calendar: the shipped data".
func Load(extra ...Year) (*Calendar, error) {
	shipped, err := Default()
	if err != nil {
		return nil, fmt.Errorf("calendar: the shipped data: %w", err)
	}
	return shipped.With(extra...)
}

// In returns a calendar with the same data in another time zone (a
// community's). The receiver is not changed.
func (c *Calendar) In(loc *time.Location) *Calendar {
	cp := *c
	cp.loc = loc
	return &cp
}

// With returns a calendar with more years added (e.g. next year's notice,
// published each November); a year given replaces the one the calendar
// has (a corrected notice). The receiver is not changed.
func (c *Calendar) With(years ...Year) (*Calendar, error) {
	replaced := map[int]bool{}
	for _, y := range years {
		replaced[y.Year] = true
	}
	all := make([]Year, 0, len(c.years)+len(years))
	for _, y := range c.years {
		if !replaced[y.Year] {
			all = append(all, y)
		}
	}
	return New(c.loc, append(all, years...)...)
}

// Year returns the loaded data of year y.
func (c *Calendar) Year(y int) (Year, bool) {
	v, ok := c.years[y]
	return v, ok
}

// Version identifies the calendar's data: "cal-" and 12 hex digits of a
// SHA-256 over the content hashes of its years. Two calendars with the same
// years and days have the same version, whatever their notices say.
func (c *Calendar) Version() string {
	h := sha256.New()
	for _, y := range c.Years() {
		fmt.Fprintf(h, "%d:%s\n", y, c.years[y].Hash())
	}
	return "cal-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// Hash is the content hash of the year's days: "sha256:" and the hex
// SHA-256 of the year and its sorted holidays and make-up working days.
// Notices and the order or grouping of entries do not change it.
func (y Year) Hash() string {
	off, work, err := y.days()
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "year %d\n", y.Year)
	for _, part := range []struct {
		name string
		days []civil
	}{{"off", off}, {"work", work}} {
		ds := make([]string, len(part.days))
		for i, d := range part.days {
			ds[i] = d.String()
		}
		sort.Strings(ds)
		fmt.Fprintf(h, "%s %s\n", part.name, strings.Join(ds, ","))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
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
	d := civilOf(t.In(c.loc))
	if _, ok := c.years[d.y]; !ok {
		return false, &YearNotCoveredError{Year: d.y}
	}
	return c.isWorking(d), nil
}

// isWorking answers for d, counting Monday to Friday as working days in a
// year without data (the caller reports such a year as provisional).
func (c *Calendar) isWorking(d civil) bool {
	if c.off[d] {
		return false
	}
	if c.work[d] {
		return true
	}
	wd := time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkingDays returns the deadline n working days after start.
//
// Definition: working days are counted from the local day after start's
// local date (the start day itself never counts, even when it is a working
// day), and the deadline is the last instant of the n-th working day:
// 23:59:59.999999999 in the calendar's time zone. Something is late when it
// happens after the returned instant. n must be between 1 and
// MaxWorkingDays.
//
// provisional lists, in ascending order, the years examined that have no
// official data: in them Monday to Friday counted as working days, so the
// deadline is provisional until the year is loaded (nil when every day
// examined was covered).
func (c *Calendar) AddWorkingDays(start time.Time, n int) (due time.Time, provisional []int, err error) {
	if n < 1 || n > MaxWorkingDays {
		return time.Time{}, nil, fmt.Errorf("calendar: working days to add must be between 1 and %d, got %d", MaxWorkingDays, n)
	}
	local := start.In(c.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 12, 0, 0, 0, time.UTC)
	for counted := 0; ; {
		day = day.AddDate(0, 0, 1)
		d := civilOf(day)
		if _, ok := c.years[d.y]; !ok && (len(provisional) == 0 || provisional[len(provisional)-1] != d.y) {
			provisional = append(provisional, d.y)
		}
		if c.isWorking(d) {
			counted++
			if counted == n {
				return time.Date(d.y, d.m, d.d, 23, 59, 59, 999999999, c.loc), provisional, nil
			}
		}
	}
}

// days expands the year's entries into dates and checks them (see Check).
func (y Year) days() (off, work []civil, err error) {
	if y.Year < 1900 || y.Year > 9999 {
		return nil, nil, fileErr(lineOf(y.line, 0), fmt.Sprintf("year %d is out of range; give a year between 1900 and 9999", y.Year),
			fmt.Sprintf("年份 %d 超出范围；请给出 1900 至 9999 之间的年份", y.Year))
	}
	expand := func(entries []string, lines []int) ([]civil, error) {
		var out []civil
		for i, e := range entries {
			line := lineOf(lines, i)
			from, to, isRange := strings.Cut(strings.TrimSpace(e), "/")
			if !isRange {
				to = from
			}
			a, err1 := time.Parse(time.DateOnly, strings.TrimSpace(from))
			b, err2 := time.Parse(time.DateOnly, strings.TrimSpace(to))
			if err1 != nil || err2 != nil || b.Before(a) || b.Sub(a) > 366*24*time.Hour {
				shown := e
				if len(shown) > 40 {
					shown = shown[:40] + "…"
				}
				return nil, fileErr(line, fmt.Sprintf("%q is not a date or date range; write YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD", shown),
					fmt.Sprintf("%q 不是日期或日期范围；请写成 YYYY-MM-DD 或 YYYY-MM-DD/YYYY-MM-DD", shown))
			}
			for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
				if d.Year() != y.Year {
					return nil, fileErr(line, fmt.Sprintf("%s is outside the year %d it is listed under; list it under its own year", d.Format(time.DateOnly), y.Year),
						fmt.Sprintf("%s 不在所属的 %d 年内；请列在其所在年份下", d.Format(time.DateOnly), y.Year))
				}
				out = append(out, civilOf(d))
			}
		}
		return out, nil
	}
	if off, err = expand(y.Off, y.offLines); err != nil {
		return nil, nil, err
	}
	if work, err = expand(y.Work, y.workLines); err != nil {
		return nil, nil, err
	}
	offSet := map[civil]bool{}
	for _, d := range off {
		offSet[d] = true
	}
	for i, d := range work {
		line := workLine(y, i)
		if offSet[d] {
			return nil, nil, fileErr(line, fmt.Sprintf("%s is both a holiday (off) and a make-up working day (work); keep it in one list", d),
				fmt.Sprintf("%s 同时被列为节假日（“off”）和调休上班日（“work”）；请只保留在一个列表中", d))
		}
		if wd := time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday(); wd != time.Saturday && wd != time.Sunday {
			return nil, nil, fileErr(line, fmt.Sprintf("make-up working day %s is a %s, already a working day; list only Saturdays and Sundays under work", d, wd),
				fmt.Sprintf("调休上班日 %s 是%s，本来就是工作日；“work” 中只列周六、周日", d, weekdayZH[wd]))
		}
	}
	return off, work, nil
}

var weekdayZH = map[time.Weekday]string{time.Monday: "星期一", time.Tuesday: "星期二", time.Wednesday: "星期三",
	time.Thursday: "星期四", time.Friday: "星期五", time.Saturday: "星期六", time.Sunday: "星期日"}

// workLine finds the file line of the i-th expanded make-up day.
func workLine(y Year, i int) int {
	n := 0
	for k, e := range y.Work {
		from, to, isRange := strings.Cut(strings.TrimSpace(e), "/")
		if !isRange {
			to = from
		}
		a, _ := time.Parse(time.DateOnly, strings.TrimSpace(from))
		b, _ := time.Parse(time.DateOnly, strings.TrimSpace(to))
		n += int(b.Sub(a).Hours()/24) + 1
		if i < n {
			return lineOf(y.workLines, k)
		}
	}
	return 0
}

// Official reports whether year y has official data loaded.
func (c *Calendar) Official(y int) bool { _, ok := c.years[y]; return ok }

// CoveredUntil is the end of the calendar's official data as seen from
// now: the first instant, in the calendar's time zone, of the first year
// from now's year on that has no data. Working-day limits that run past it
// are provisional.
func (c *Calendar) CoveredUntil(now time.Time) time.Time {
	y := now.In(c.loc).Year()
	for c.Official(y) {
		y++
	}
	return time.Date(y, 1, 1, 0, 0, 0, 0, c.loc)
}
