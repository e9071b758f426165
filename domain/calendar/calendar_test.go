package calendar_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain/calendar"
)

func mustDefault(tb testing.TB) *calendar.Calendar {
	tb.Helper()
	c, err := calendar.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func sh(tb testing.TB, s string) time.Time {
	tb.Helper()
	loc, err := calendar.LoadLocation("")
	if err != nil {
		tb.Fatal(err)
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestAddWorkingDays(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		name  string
		start string
		n     int
		want  string // local date of the deadline; the time is always 23:59:59.999999999
	}{
		// 2026 Spring Festival: Feb 14 (Sat) make-up, Feb 15–23 off, Feb 28 (Sat) make-up.
		{"friday before spring festival, 1", "2026-02-13 10:00", 1, "2026-02-14"},
		{"friday before spring festival, 2", "2026-02-13 10:00", 2, "2026-02-24"},
		{"friday before spring festival, 3", "2026-02-13 10:00", 3, "2026-02-25"},
		{"thursday, 3 crosses the holiday", "2026-02-12 09:00", 3, "2026-02-24"},
		{"start on the make-up saturday", "2026-02-14 18:00", 1, "2026-02-24"},
		{"start inside the holiday", "2026-02-16 08:00", 1, "2026-02-24"},
		{"friday before feb 28 make-up", "2026-02-27 10:00", 1, "2026-02-28"},
		{"over feb 28 make-up", "2026-02-27 10:00", 2, "2026-03-02"},
		// 2026 National Day: Sep 20 (Sun) make-up, Sep 25–27 off, Oct 1–7 off, Oct 10 (Sat) make-up.
		{"friday before sep 20 make-up", "2026-09-18 16:00", 1, "2026-09-20"},
		{"after sep 20 make-up", "2026-09-18 16:00", 2, "2026-09-21"},
		{"mid-autumn sep 25-27", "2026-09-24 11:00", 1, "2026-09-28"},
		{"mid-autumn, 3", "2026-09-24 11:00", 3, "2026-09-30"},
		{"national day, 1", "2026-09-30 11:00", 1, "2026-10-08"},
		{"national day, 3 hits oct 10 make-up", "2026-09-30 11:00", 3, "2026-10-10"},
		{"national day, 4", "2026-09-30 11:00", 4, "2026-10-12"},
		{"referral acceptance, ordinary week", "2026-03-04 09:30", 3, "2026-03-09"},
		// 2025: Jan 26 (Sun) + Feb 8 (Sat) make-up, Jan 28–Feb 4 off; Sep 28 (Sun), Oct 11 (Sat) make-up, Oct 1–8 off.
		{"2025 jan 26 make-up", "2025-01-24 10:00", 1, "2025-01-26"},
		{"2025 spring festival", "2025-01-24 10:00", 3, "2025-02-05"},
		{"2025 feb 8 make-up", "2025-02-07 10:00", 1, "2025-02-08"},
		{"2025 apr 27 make-up", "2025-04-25 10:00", 1, "2025-04-27"},
		{"2025 sep 28 make-up", "2025-09-26 10:00", 1, "2025-09-28"},
		{"2025 national day", "2025-09-26 10:00", 4, "2025-10-09"},
		{"2025 oct 11 make-up", "2025-09-26 10:00", 6, "2025-10-11"},
		{"2025 dragon boat may 31-jun 2", "2025-05-30 10:00", 1, "2025-06-03"},
		// Across the year boundary: Jan 1–3 2026 off, Jan 4 (Sun) make-up.
		{"new year 2026", "2025-12-31 15:00", 1, "2026-01-04"},
		{"plain weekend", "2026-03-06 10:00", 1, "2026-03-09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, prov, err := c.AddWorkingDays(sh(t, tt.start), tt.n)
			if prov != nil {
				t.Fatalf("provisional years %v inside shipped years", prov)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := sh(t, tt.want+" 23:59").Add(59*time.Second + 999999999)
			if !got.Equal(want) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, want %s", tt.start, tt.n, got, want)
			}
		})
	}
}

func TestStartIsReadInCalendarZone(t *testing.T) {
	c := mustDefault(t)
	// 17:00 UTC on Feb 13 is 01:00 on Feb 14 in Shanghai: the start day is the make-up Saturday.
	got, _, err := c.AddWorkingDays(time.Date(2026, 2, 13, 17, 0, 0, 0, time.UTC), 1)
	if err != nil {
		t.Fatal(err)
	}
	if y, m, d := got.Date(); y != 2026 || m != 2 || d != 24 {
		t.Fatalf("got %s, want Feb 24", got)
	}
	// The same calendar in another zone reads the same instant as Feb 13.
	got, _, err = c.In(time.UTC).AddWorkingDays(time.Date(2026, 2, 13, 17, 0, 0, 0, time.UTC), 1)
	if err != nil {
		t.Fatal(err)
	}
	if y, m, d := got.Date(); y != 2026 || m != 2 || d != 14 || got.Location() != time.UTC {
		t.Fatalf("got %s, want Feb 14 UTC", got)
	}
}

func TestIsWorkingDay(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		day  string
		want bool
	}{
		{"2026-02-14", true}, {"2026-02-15", false}, {"2026-02-23", false}, {"2026-02-24", true},
		{"2026-02-28", true}, {"2026-03-07", false}, {"2026-09-20", true}, {"2026-09-25", false},
		{"2026-10-07", false}, {"2026-10-08", true}, {"2026-10-10", true}, {"2026-06-19", false},
		{"2025-10-08", false}, {"2025-10-11", true}, {"2025-01-01", false}, {"2025-01-02", true},
	}
	for _, tt := range tests {
		got, err := c.IsWorkingDay(sh(t, tt.day+" 12:00"))
		if err != nil || got != tt.want {
			t.Errorf("IsWorkingDay(%s) = %v, %v; want %v", tt.day, got, err, tt.want)
		}
	}
}

// TestProvisionalYear: a limit that runs into a year without an official
// calendar is computed with Monday to Friday for that year and reports the
// year; loading the year makes the same limit official.
func TestProvisionalYear(t *testing.T) {
	c := mustDefault(t)
	got, prov, err := c.AddWorkingDays(sh(t, "2026-12-30 10:00"), 3)
	if err != nil {
		t.Fatal(err)
	}
	// Dec 31 (2026, official), Jan 1 and Jan 4 (2027, Monday to Friday).
	if got.Format(time.DateOnly) != "2027-01-04" || len(prov) != 1 || prov[0] != 2027 {
		t.Fatalf("got %s provisional %v, want 2027-01-04 provisional [2027]", got, prov)
	}
	if _, err := c.IsWorkingDay(sh(t, "2024-06-03 10:00")); !errors.Is(err, calendar.ErrYearNotCovered) {
		t.Fatalf("2024: err = %v", err)
	}
	// A limit spanning two missing years lists both.
	_, prov, err = c.AddWorkingDays(sh(t, "2027-12-20 10:00"), 20)
	if err != nil || len(prov) != 2 || prov[0] != 2027 || prov[1] != 2028 {
		t.Fatalf("prov = %v, %v; want [2027 2028]", prov, err)
	}

	// Loading 2027 from JSON bytes makes it official.
	years, err := calendar.Parse([]byte(`{"year":2027,"off":["2027-01-01"],"work":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := c.With(years...)
	if err != nil {
		t.Fatal(err)
	}
	got, prov, err = c2.AddWorkingDays(sh(t, "2026-12-30 10:00"), 3)
	if err != nil || prov != nil {
		t.Fatal(err, prov)
	}
	if got.Format(time.DateOnly) != "2027-01-05" { // Dec 31, (Jan 1 off, weekend), Jan 4, Jan 5
		t.Fatalf("got %s", got)
	}
	if _, err := c.IsWorkingDay(sh(t, "2027-01-04 10:00")); err == nil {
		t.Fatal("With must not change the receiver")
	}
	if ys := c2.Years(); len(ys) != 3 || ys[2] != 2027 {
		t.Fatalf("years = %v", ys)
	}
	if c.Version() == c2.Version() || c.Version() != mustDefault(t).Version() {
		t.Fatalf("versions %s %s", c.Version(), c2.Version())
	}
	// A corrected year replaces the one in force.
	c3, err := c2.With(calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-03"}, Work: []string{"2027-01-09"}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c3.IsWorkingDay(sh(t, "2027-01-09 10:00")); !ok {
		t.Fatal("the corrected year is not in force")
	}
}

// TestFileErrorsNameTheLine: bad files get a bilingual error naming the line
// and the problem.
func TestFileErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, data string
		line       int
		en, zh     string
	}{
		{"date outside the year", "year: 2027\noff:\n  - 2027-01-01\n  - 2026-12-31\nwork: []\n", 4, "outside the year", "不在所属的"},
		{"holiday and make-up", "year: 2027\noff:\n  - 2027-02-06/2027-02-13\nwork:\n  - 2027-02-07\n", 5, "both a holiday", "同时被列为"},
		{"make-up on a working day", "year: 2027\noff: []\nwork:\n  - 2027-01-09\n  - 2027-01-05\n", 5, "already a working day", "本来就是工作日"},
		{"not a date", "year: 2027\noff:\n  - 2027-13-01\nwork: []\n", 3, "not a date", "不是日期"},
		{"list, second year", "- year: 2027\n  off: []\n- year: 2028\n  off: [2028-01-01, 2029-01-01]\n", 4, "outside the year", "不在所属的"},
	}
	for _, tt := range tests {
		_, err := calendar.Parse([]byte(tt.data))
		var fe *calendar.FileError
		if !errors.As(err, &fe) || !errors.Is(err, calendar.ErrInvalidData) {
			t.Fatalf("%s: err = %v, want *FileError", tt.name, err)
		}
		if fe.Line != tt.line || !strings.Contains(fe.EN, tt.en) || !strings.Contains(fe.ZH, tt.zh) {
			t.Errorf("%s: line %d %q / %q; want line %d with %q / %q", tt.name, fe.Line, fe.EN, fe.ZH, tt.line, tt.en, tt.zh)
		}
	}
}

// TestPublication: publishing a year builds the event with its content hash
// and the resulting version; the same days again are a no-op; a correction
// names the hash it replaces.
func TestPublication(t *testing.T) {
	c := mustDefault(t)
	at := time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC)
	y := calendar.Year{Year: 2027, Off: []string{"2027-01-01"}, Notice: calendar.Notice{Title: "通知", Number: "国办发明电〔2026〕1号", Date: "2026-11-10"}}
	e, noop, err := c.Publication(y, "admin", at)
	if err != nil || noop {
		t.Fatal(err, noop)
	}
	if e.Hash != y.Hash() || e.Replaces != "" || e.Notice.Number != y.Notice.Number || e.PublishedBy != "admin" {
		t.Fatalf("event %+v", e)
	}
	c2, err := c.Apply(e)
	if err != nil || c2.Version() != e.Version {
		t.Fatal(err, c2.Version(), e.Version)
	}
	// The same days, grouped differently, are the same content.
	if _, noop, err := c2.Publication(calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-01"}}, "admin", at); err != nil || !noop {
		t.Fatalf("republish: noop %v err %v", noop, err)
	}
	e2, noop, err := c2.Publication(calendar.Year{Year: 2027, Off: []string{"2027-01-01/2027-01-02"}}, "admin", at)
	if err != nil || noop || e2.Replaces != e.Hash {
		t.Fatalf("correction: %+v %v %v", e2, noop, err)
	}
	if _, _, err := c.Publication(calendar.Year{Year: 2027, Work: []string{"2027-01-04"}}, "admin", at); !errors.Is(err, calendar.ErrInvalidData) {
		t.Fatalf("bad year published: %v", err)
	}
}

func TestInvalidData(t *testing.T) {
	loc, _ := calendar.LoadLocation("")
	tests := []struct {
		name  string
		years []calendar.Year
	}{
		{"make-up on a weekday", []calendar.Year{{Year: 2027, Work: []string{"2027-01-05"}}}},
		{"date outside year", []calendar.Year{{Year: 2027, Off: []string{"2026-12-31/2027-01-01"}}}},
		{"off and work", []calendar.Year{{Year: 2027, Off: []string{"2027-01-02"}, Work: []string{"2027-01-02"}}}},
		{"duplicate year", []calendar.Year{{Year: 2027}, {Year: 2027}}},
		{"bad date", []calendar.Year{{Year: 2027, Off: []string{"2027-02-30"}}}},
		{"reversed range", []calendar.Year{{Year: 2027, Off: []string{"2027-02-10/2027-02-01"}}}},
	}
	for _, tt := range tests {
		if _, err := calendar.New(loc, tt.years...); !errors.Is(err, calendar.ErrInvalidData) {
			t.Errorf("%s: err = %v, want ErrInvalidData", tt.name, err)
		}
	}
	if _, err := calendar.Parse([]byte("year: [")); !errors.Is(err, calendar.ErrInvalidData) {
		t.Errorf("garbage: err = %v", err)
	}
	list, err := calendar.Parse([]byte("- year: 2028\n  off: [2028-01-01]\n- year: 2029\n  off: []\n"))
	if err != nil || len(list) != 2 {
		t.Errorf("list: %v %v", list, err)
	}
}

func TestAddWorkingDaysRejectsNonPositive(t *testing.T) {
	c := mustDefault(t)
	if _, _, err := c.AddWorkingDays(sh(t, "2026-03-02 10:00"), 0); err == nil {
		t.Fatal("n=0 must fail")
	}
}

// TestLoad: the shipped years, with more years added and a year given
// replacing the shipped one (a corrected notice); a bad extra year is
// reported as invalid data naming its line.
func TestLoad(t *testing.T) {
	c, err := calendar.Load()
	if err != nil || !slices.Equal(c.Years(), []int{2025, 2026}) || c.Version() != mustDefault(t).Version() {
		t.Fatalf("Load() = %v, %v; want the shipped calendar", c.Years(), err)
	}
	if c.Location().String() != calendar.DefaultTimeZone {
		t.Fatalf("Load() is in %s, want %s", c.Location(), calendar.DefaultTimeZone)
	}
	extra, err := calendar.Parse([]byte("- year: 2026\n  source: test data\n  off: []\n  work: []\n- year: 2027\n  off: [2027-01-01]\n  work: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err = calendar.Load(extra...)
	if err != nil || !slices.Equal(c.Years(), []int{2025, 2026, 2027}) {
		t.Fatalf("Load(2026, 2027) = %v, %v", c.Years(), err)
	}
	// 2026-10-01 is National Day in the shipped data, a Thursday like any
	// other in the replacing year; 2027-01-01 comes from the extra year.
	if ok, err := c.IsWorkingDay(sh(t, "2026-10-01 12:00")); err != nil || !ok {
		t.Errorf("2026-10-01 with the replacing year: working %v, %v", ok, err)
	}
	if ok, _ := mustDefault(t).IsWorkingDay(sh(t, "2026-10-01 12:00")); ok {
		t.Error("2026-10-01 is a working day in the shipped calendar")
	}
	if ok, err := c.IsWorkingDay(sh(t, "2027-01-01 12:00")); err != nil || ok {
		t.Errorf("2027-01-01 from the extra year: working %v, %v", ok, err)
	}
	if y, _ := c.Year(2026); y.Source != "test data" {
		t.Errorf("2026 comes from %q, want the extra year", y.Source)
	}
	if y, _ := c.Year(2025); y.Source == "" {
		t.Error("2025 lost its shipped source")
	}

	dup, err := calendar.Parse([]byte("- year: 2027\n  off: []\n- year: 2027\n  off: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = calendar.Load(dup...)
	var fe *calendar.FileError
	if !errors.Is(err, calendar.ErrInvalidData) || !errors.As(err, &fe) || fe.Line != 3 {
		t.Fatalf("Load with 2027 twice: %v; want a *FileError on line 3", err)
	}
}

// TestCoveredUntil: the first instant of the first year without data,
// counting from now's year, in the calendar's time zone.
func TestCoveredUntil(t *testing.T) {
	shipped := mustDefault(t)
	with27, err := shipped.With(calendar.Year{Year: 2027})
	if err != nil {
		t.Fatal(err)
	}
	loc := shipped.Location()
	for _, c := range []struct {
		cal  *calendar.Calendar
		now  time.Time
		want int // the year whose first instant it is
	}{
		{shipped, sh(t, "2026-12-02 00:00"), 2027},
		{with27, sh(t, "2026-12-02 00:00"), 2028},
		{shipped, sh(t, "2025-03-01 00:00"), 2027},
		{shipped, sh(t, "2027-03-01 00:00"), 2027},
		{shipped, sh(t, "2024-06-01 00:00"), 2024},
		// 2026-12-31 16:30 UTC is already 2027 in Shanghai.
		{shipped, time.Date(2026, 12, 31, 16, 30, 0, 0, time.UTC), 2027},
		{with27, time.Date(2026, 12, 31, 15, 30, 0, 0, time.UTC), 2028},
	} {
		want := time.Date(c.want, 1, 1, 0, 0, 0, 0, loc)
		if got := c.cal.CoveredUntil(c.now); !got.Equal(want) || got.Location() != loc {
			t.Errorf("CoveredUntil(%v, %s) = %s, want %s", c.cal.Years(), c.now, got, want)
		}
	}
}
