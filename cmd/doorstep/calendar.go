package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/internal/clock"
)

// calendarFlag adds -calendar (env DOORSTEP_CALENDAR) to fs, storing the
// path in st. Every command that computes deadlines takes it.
func calendarFlag(fs *flag.FlagSet, st *storeConfig) {
	fs.StringVar(&st.Calendar, "calendar", envOr("DOORSTEP_CALENDAR", ""),
		"YAML or JSON file with more years of the official working-day calendar (e.g. next year's State Council notice); a year given there replaces the shipped one (env DOORSTEP_CALENDAR) / 补充的工作日历文件（如下一年的国务院放假通知）")
}

// loadCalendar returns the shipped calendar (2025, 2026) with the years of
// the file at path added (calendar.Load: a year in the file replaces the
// shipped one, a corrected notice). An empty path gives the shipped
// calendar. It reads the file and words the errors for the command line.
func loadCalendar(path string) (*calendar.Calendar, error) {
	if path == "" {
		return calendar.Load()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Sprintf("doorstep: -calendar %s: %v; give a readable YAML or JSON file / 无法读取日历文件", path, err)}
	}
	extra, err := calendar.Parse(b)
	if err != nil {
		return nil, usageError{fmt.Sprintf("doorstep: -calendar %s: %v; each year needs year, off (holidays) and work (make-up working days) as YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD, as in domain/calendar/data / 日历文件格式错误", path, err)}
	}
	if len(extra) == 0 {
		return nil, usageError{fmt.Sprintf("doorstep: -calendar %s: the file holds no year / 日历文件中没有任何年份", path)}
	}
	if _, err := calendar.Load(); err != nil {
		return nil, err // the shipped data, not the file
	}
	cal, err := calendar.Load(extra...)
	if err != nil {
		return nil, usageError{fmt.Sprintf("doorstep: -calendar %s: %v / 日历数据有误", path, err)}
	}
	return cal, nil
}

// calendarWarningDays is how long before the end of a year a missing next
// year is reported.
const calendarWarningDays = 60

// calendarGap names the years around now that the calendar lacks and that
// deadlines will soon need: this year, and next year within
// calendarWarningDays of the end of this one. Empty when none is missing.
func calendarGap(cal *calendar.Calendar, now time.Time) []int {
	covered := cal.Years()
	now = now.In(cal.Location())
	var missing []int
	if !slices.Contains(covered, now.Year()) {
		missing = append(missing, now.Year())
	}
	endOfYear := time.Date(now.Year()+1, 1, 1, 0, 0, 0, 0, cal.Location())
	if endOfYear.Sub(now) <= calendarWarningDays*24*time.Hour && !slices.Contains(covered, now.Year()+1) {
		missing = append(missing, now.Year()+1)
	}
	return missing
}

// warnCalendarGap logs, at start, the years deadlines will need and the
// calendar lacks: assignments whose time limit runs into such a year are
// refused and their deadlines are not watched until the year is loaded.
func warnCalendarGap(log *slog.Logger, cal *calendar.Calendar, now time.Time) {
	missing := calendarGap(cal, now)
	if len(missing) == 0 {
		return
	}
	ys := make([]string, len(missing))
	for i, y := range missing {
		ys[i] = fmt.Sprint(y)
	}
	list := strings.Join(ys, ", ")
	log.Warn("the working-day calendar has no data for "+list+": working-day time limits that run into it are provisional (Monday to Friday) until the official notice is published with doorstep calendar import FILE or PUT /v1/calendar/YEAR (or loaded with -calendar FILE) / 工作日历缺少 "+list+" 年的数据：跨入该年的工作日时限暂按周一至周五计算；请用 “doorstep calendar import” 或 “PUT /v1/calendar/年份” 发布官方通知",
		"covered", cal.Years(), "missing", missing)
}

// newCalendarGauge reports, at each scrape, CoveredUntil of the calendar in
// force (the shipped years and those published in the log), so that
// monitoring can warn before the calendar runs out, e.g.
// doorstep_calendar_covered_until_seconds - time() < 60 * 86400, and the
// number of running provisional deadlines where this node derives them.
func newCalendarGauge(rt *runtime) prometheus.Collector { return &calendarCollector{rt: rt} }

type calendarCollector struct{ rt *runtime }

var (
	coveredDesc = prometheus.NewDesc("doorstep_calendar_covered_until_seconds",
		"Unix time at which the official working-day calendar in force ends, counting from this year; working-day limits past it are provisional.", nil, nil)
	provisionalDesc = prometheus.NewDesc("doorstep_deadlines_provisional",
		"Running deadlines computed without the official calendar of a year (Monday to Friday assumed); absent on a node that does not derive deadlines.", nil, nil)
)

func (c *calendarCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- coveredDesc
	ch <- provisionalDesc
}

func (c *calendarCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if cal, err := c.rt.app.CalendarInForce(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(coveredDesc, prometheus.GaugeValue, float64(cal.CoveredUntil(clock.Now()).Unix()))
	}
	if w := c.rt.watcher; w != nil {
		if ds, ok := w.Deadlines(true); ok {
			ch <- prometheus.MustNewConstMetric(provisionalDesc, prometheus.GaugeValue, float64(len(ds)))
		}
	}
}
