package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
)

// writeCalendar writes a calendar file holding the given years with no
// holidays (weekends only). It is test data, not an official notice.
func writeCalendar(t *testing.T, years ...int) string {
	t.Helper()
	var b strings.Builder
	for _, y := range years {
		fmt.Fprintf(&b, "- year: %d\n  source: \"test data, not an official notice\"\n  off: []\n  work: []\n", y)
	}
	path := filepath.Join(t.TempDir(), "calendar.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadCalendar(t *testing.T) {
	cal, err := loadCalendar("")
	if err != nil || !slices.Equal(cal.Years(), []int{2025, 2026}) {
		t.Fatalf("shipped calendar: %v %v", cal.Years(), err)
	}
	cal, err = loadCalendar(writeCalendar(t, 2027))
	if err != nil || !slices.Equal(cal.Years(), []int{2025, 2026, 2027}) {
		t.Fatalf("with 2027: %v %v", cal.Years(), err)
	}
	// A year in the file replaces the shipped one: 2026-10-01 is a public
	// holiday in the shipped data, a Thursday like any other here.
	cal, err = loadCalendar(writeCalendar(t, 2026))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := cal.IsWorkingDay(time.Date(2026, 10, 1, 12, 0, 0, 0, cal.Location())); err != nil || !ok {
		t.Fatalf("2026-10-01 with the replacing year: working %v, %v", ok, err)
	}
	shipped, _ := loadCalendar("")
	if ok, _ := shipped.IsWorkingDay(time.Date(2026, 10, 1, 12, 0, 0, 0, cal.Location())); ok {
		t.Fatal("2026-10-01 is a working day in the shipped calendar")
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("year: 2027\noff: [2027-02-30]\n"), 0o600)
	for _, c := range []struct{ path, want string }{
		{filepath.Join(t.TempDir(), "missing.yaml"), "give a readable YAML or JSON file"},
		{bad, "YYYY-MM-DD"},
	} {
		_, err := loadCalendar(c.path)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "-calendar "+c.path) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "日历") {
			t.Errorf("loadCalendar(%s) = %v; want a usage error naming the file, saying %q, in English and Chinese", c.path, err, c.want)
		}
	}
}

func TestCalendarGap(t *testing.T) {
	shipped, _ := loadCalendar("")
	with27, _ := loadCalendar(writeCalendar(t, 2027))
	at := func(s string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, s, shipped.Location())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		cal  *calendar.Calendar
		now  string
		want []int
	}{
		{shipped, "2026-06-01", nil},
		{shipped, "2026-11-01", nil},
		{shipped, "2026-12-02", []int{2027}},
		{with27, "2026-12-02", nil},
		{shipped, "2027-03-01", []int{2027}},
		{with27, "2027-11-15", []int{2028}},
		{shipped, "2027-12-31", []int{2027, 2028}},
	} {
		if got := calendarGap(c.cal, at(c.now)); !slices.Equal(got, c.want) {
			t.Errorf("calendarGap(%v, %s) = %v, want %v", c.cal.Years(), c.now, got, c.want)
		}
	}
	for _, c := range []struct {
		cal  *calendar.Calendar
		now  string
		want int // the year whose first instant it is
	}{
		{shipped, "2026-12-02", 2027},
		{with27, "2026-12-02", 2028},
		{shipped, "2025-03-01", 2027},
		{shipped, "2027-03-01", 2027},
	} {
		want := time.Date(c.want, 1, 1, 0, 0, 0, 0, shipped.Location())
		if got := c.cal.CoveredUntil(at(c.now)); !got.Equal(want) {
			t.Errorf("CoveredUntil(%v, %s) = %s, want %s", c.cal.Years(), c.now, got, want)
		}
	}
	var log strings.Builder
	warnCalendarGap(slog.New(slog.NewTextHandler(&log, nil)), shipped, at("2026-12-02"))
	if !strings.Contains(log.String(), "no data for 2027") || !strings.Contains(log.String(), "-calendar FILE") {
		t.Fatalf("warning: %s", log.String())
	}
}

// TestServeWithCalendar: a working-day time limit that runs into a year the
// calendar lacks is accepted and marked provisional, and listed; with
// that year loaded by -calendar the same command is accepted and the
// deadline lies in it.
func TestServeWithCalendar(t *testing.T) {
	y := clock.Now().Year()
	years := []int{y + 1, y + 2}
	if y > 2026 {
		years = append(years, y)
	}
	file := writeCalendar(t, years...)
	for _, withFile := range []bool{false, true} {
		t.Run(fmt.Sprint("calendar file ", withFile), func(t *testing.T) {
			args := []string{}
			if withFile {
				args = append(args, "-calendar", file)
			}
			p := start(t, t.TempDir(), args...)
			admin := p.token
			p.must(201, "POST", "/v1/households", admin, map[string]any{"household_id": "cal", "address": "长青路 2 号", "community": "长青社区",
				"grid": "长青网格", "responsible_worker": "李四", "class": "special", "risk": "yellow"})
			pr := p.must(201, "POST", "/v1/problems", admin, map[string]any{"household_id": "cal", "description": "长期康复",
				"category": "health_medical", "handling_class": "long_term", "colour": "yellow", "urgency": "ordinary"})
			id := pr["id"].(string)
			// 300 working days always run past the end of this year.
			assign := map[string]any{"to": "社工小周", "reason": "长期跟进", "time_limit": "300 working_days"}
			if !withFile {
				// Accepted, computed with Monday to Friday for the missing
				// years and marked provisional, never refused.
				p.must(200, "POST", "/v1/problems/"+id+"/assign", admin, assign)
				got := p.must(200, "GET", "/v1/problems/"+id, admin, nil)
				years, _ := got["provisional_years"].([]any)
				if got["provisional"] != true || !slices.Contains(years, any(float64(y+1))) ||
					!strings.Contains(fmt.Sprint(got["provisional_note_zh"]), "暂定：") || !strings.Contains(fmt.Sprint(got["provisional_note_zh"]), fmt.Sprint(y+1)) {
					t.Fatalf("assignment past the calendar: %v; want a provisional due naming %d", got, y+1)
				}
				// The deadline watcher lists it (once it has read the log).
				waitFor(t, 60*time.Second, "the provisional deadline to be listed", func() (bool, string) {
					r := p.call("GET", "/v1/deadlines?provisional=true", admin, nil)
					return r.status == 200 && strings.Contains(string(r.body), `"subject":"`+id+`"`), fmt.Sprintf("%d %s", r.status, r.body)
				})
				if m := p.call("GET", "/metrics", "", nil); !strings.Contains(string(m.body), "doorstep_deadlines_provisional ") {
					t.Fatalf("metrics lack doorstep_deadlines_provisional:\n%s", m.body)
				}
				if gap := calendarGap(mustDefault(t), clock.Now()); len(gap) > 0 && !strings.Contains(p.errb.String(), "the working-day calendar has no data for") {
					t.Fatalf("no warning about the missing years %v in the log:\n%s", gap, p.errb.String())
				}
				p.stop()
				return
			}
			p.must(200, "POST", "/v1/problems/"+id+"/assign", admin, assign)
			got := p.must(200, "GET", "/v1/problems/"+id, admin, nil)
			due, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got["due"]))
			if err != nil || due.Year() <= y {
				t.Fatalf("due %v (%v); want a deadline after %d", got["due"], err, y)
			}
			if strings.Contains(p.errb.String(), "the working-day calendar has no data for") {
				t.Fatalf("warning about missing years although the file covers them:\n%s", p.errb.String())
			}
			// Monitoring sees how long the loaded calendar lasts.
			until := time.Date(years[len(years)-1]+1, 1, 1, 0, 0, 0, 0, mustDefault(t).Location()).Unix()
			if y > 2026 {
				until = time.Date(y+3, 1, 1, 0, 0, 0, 0, mustDefault(t).Location()).Unix()
			}
			m := p.call("GET", "/metrics", "", nil)
			if want := fmt.Sprintf("doorstep_calendar_covered_until_seconds %s", strconv.FormatFloat(float64(until), 'g', -1, 64)); !strings.Contains(string(m.body), want) {
				t.Fatalf("metrics lack %q:\n%s", want, m.body)
			}
			p.stop()
		})
	}
}

func mustDefault(t *testing.T) *calendar.Calendar {
	t.Helper()
	cal, err := loadCalendar("")
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

// TestDemoTownPastTheCalendar: on a day past the calendar's last year the
// demo's town still generates, its history ending with that year, and says
// so; with the later year loaded it runs up to the day.
func TestDemoTownPastTheCalendar(t *testing.T) {
	ctx := context.Background()
	cal := mustDefault(t)
	last := cal.Years()[len(cal.Years())-1]
	day := time.Date(last+1, 2, 10, 12, 0, 0, 0, cal.Location())
	for _, file := range []string{"", writeCalendar(t, last+1)} {
		rt, err := openRuntime(ctx, t.TempDir(), storeConfig{Calendar: file}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := generateTown(ctx, rt, 7, 60, day, &out); err != nil {
			rt.Close()
			t.Fatalf("calendar file %q: %v\n%s", file, err, out.String())
		}
		evs, err := rt.store.ReadAll(ctx, eventstore.Position{}, 1<<20)
		rt.Close()
		if err != nil || len(evs) == 0 {
			t.Fatalf("calendar file %q: %d events, %v", file, len(evs), err)
		}
		latest := evs[0].Metadata.OccurredAt
		for _, e := range evs {
			if e.Metadata.OccurredAt.After(latest) {
				latest = e.Metadata.OccurredAt
			}
		}
		said := strings.Contains(out.String(), fmt.Sprintf("the working-day calendar ends with %d", last))
		if file == "" && (!said || latest.In(cal.Location()).Year() != last) {
			t.Fatalf("without a calendar for %d: latest event %s, said so %v:\n%s", last+1, latest, said, out.String())
		}
		if file != "" && (said || latest.In(cal.Location()).Year() != last+1) {
			t.Fatalf("with a calendar for %d: latest event %s, said it stops %v:\n%s", last+1, latest, said, out.String())
		}
	}
}
