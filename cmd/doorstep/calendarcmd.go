package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/internal/clock"
)

// runCalendar is `doorstep calendar import FILE` and `doorstep calendar
// show [YEAR]`.
func runCalendar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "import" && args[0] != "show") {
		return usageError{"doorstep calendar: give a subcommand: import FILE (publish a year's official notice) or show [YEAR] / 请给出子命令：“import 文件”（发布某年的官方通知）或 “show [年份]”"}
	}
	fs := flag.NewFlagSet("calendar "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	by := fs.String("by", envOr("USER", "admin"), "who publishes the calendar, recorded in the log / 发布人（记入日志）")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if helpAsked(args[1:]) {
		return nil
	}
	if args[0] == "import" {
		return calendarImport(ctx, *data, *st, *by, fs.Args(), stdout)
	}
	return calendarShow(ctx, *data, *st, fs.Args(), stdout)
}

// calendarImport publishes every year of a file. The whole file is checked
// first: a bad file writes nothing.
func calendarImport(ctx context.Context, dir string, st storeConfig, by string, rest []string, stdout io.Writer) error {
	if len(rest) != 1 {
		return usageError{"doorstep calendar import: give exactly one file (YAML or JSON, as in domain/calendar/data) / 请给出一个日历文件"}
	}
	path := rest[0]
	b, err := readBounded(path, calendar.MaxFileBytes)
	if err != nil {
		return usageError{fmt.Sprintf("doorstep calendar import: %s: %v / 无法读取日历文件", path, err)}
	}
	years, err := calendar.Parse(b)
	if err != nil {
		return usageError{fmt.Sprintf("doorstep calendar import: %s: %v; nothing was written / 未写入任何内容", path, err)}
	}
	if len(years) == 0 {
		return usageError{fmt.Sprintf("doorstep calendar import: %s holds no year; nothing was written / 文件中没有任何年份，未写入任何内容", path)}
	}
	loc, err := calendar.LoadLocation("")
	if err != nil {
		return err
	}
	if _, err := calendar.New(loc, years...); err != nil {
		return usageError{fmt.Sprintf("doorstep calendar import: %s: %v; nothing was written / 未写入任何内容", path, err)}
	}
	rt, err := openRuntime(ctx, dir, st, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	for _, y := range years {
		res, err := rt.app.PublishCalendarYear(ctx, command.Cmd{ID: "calendar-import-" + strconv.Itoa(y.Year) + "-" + y.Hash(), Actor: by, Role: domain.RoleAdmin}, y)
		if err != nil {
			return fmt.Errorf("doorstep calendar import: %d: %w", y.Year, err)
		}
		if res.Events == 0 {
			fmt.Fprintf(stdout, "%d: already in force (%s) / 已生效\n", y.Year, y.Hash())
		} else {
			fmt.Fprintf(stdout, "%d: published at position %s (%s); open deadlines that depend on it are rescheduled by the deadline watcher / 已发布，相关期限将由期限监视器重新计算\n", y.Year, res.LastPosition, y.Hash())
		}
	}
	return nil
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("the file is larger than %d bytes", max)
	}
	return b, nil
}

// calendarShow prints the calendar in force and the provisional deadlines.
func calendarShow(ctx context.Context, dir string, st storeConfig, rest []string, stdout io.Writer) error {
	year := 0
	if len(rest) > 1 {
		return usageError{"doorstep calendar show: give at most one year / 最多给出一个年份"}
	}
	if len(rest) == 1 {
		y, err := strconv.Atoi(rest[0])
		if err != nil || y < 1900 || y > 9999 {
			return usageError{fmt.Sprintf("doorstep calendar show: %q is not a year (1900–9999) / 不是有效年份", rest[0])}
		}
		year = y
	}
	rt, err := openExisting(ctx, dir, st)
	if err != nil {
		return err
	}
	defer rt.Close()
	cal, err := rt.app.CalendarInForce(ctx)
	if err != nil {
		return err
	}
	now := clock.Now()
	fmt.Fprintf(stdout, "calendar %s in force; official until %s / 当前日历版本；官方数据截至\n", cal.Version(), cal.CoveredUntil(now).Format(time.DateOnly))
	for _, n := range cal.Years() {
		if year != 0 && n != year {
			continue
		}
		y, _ := cal.Year(n)
		src := y.Source
		if y.Notice.Number != "" || y.Notice.Title != "" {
			src = fmt.Sprintf("%s %s %s (published / 已发布)", y.Notice.Number, y.Notice.Title, y.Notice.Date)
		}
		fmt.Fprintf(stdout, "%d  %s  %s\n", n, y.Hash(), src)
		if year != 0 {
			fmt.Fprintf(stdout, "  off / 放假:   %v\n  work / 调休上班: %v\n", y.Off, y.Work)
		}
	}
	if year != 0 && !cal.Official(year) {
		fmt.Fprintf(stdout, "%d: no official calendar loaded; deadlines in it are provisional (Monday to Friday) / %d年尚无官方日历，其中的期限为暂定（按周一至周五计算）\n", year, year)
	}
	if rt.watcher == nil {
		return nil
	}
	if err := rt.watcher.Sync(ctx); err != nil {
		return err
	}
	ds, _ := rt.watcher.Deadlines(true)
	fmt.Fprintf(stdout, "provisional deadlines / 暂定期限: %d\n", len(ds))
	for _, d := range ds {
		en, zh := d.Basis.Note()
		fmt.Fprintf(stdout, "  %-20s %-40s due %s  %s / %s\n", d.Kind, d.Subject, d.Due.In(cal.Location()).Format("2006-01-02 15:04"), en, zh)
	}
	return nil
}
