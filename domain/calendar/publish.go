package calendar

import (
	"fmt"
	"slices"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// YearOf returns the year a CalendarYearPublished event puts in force.
func YearOf(e domain.CalendarYearPublished) Year {
	return Year{Year: e.Year, Off: slices.Clone(e.Off), Work: slices.Clone(e.Work),
		Notice: Notice{Title: e.Notice.Title, Number: e.Notice.Number, Date: e.Notice.Date}}
}

// Publication checks y against the rules of Check and returns the event that
// puts it in force on top of c, recorded as published by by at at. noop is
// true when c already has exactly these days for the year (publishing the
// same notice twice writes nothing). Errors are *FileError (bilingual).
func (c *Calendar) Publication(y Year, by string, at time.Time) (e domain.CalendarYearPublished, noop bool, err error) {
	if err := y.Check(); err != nil {
		return e, false, err
	}
	if y.Notice.Date != "" {
		if _, err := time.Parse(time.DateOnly, y.Notice.Date); err != nil {
			return e, false, fileErr(0, fmt.Sprintf("the notice date %q is not a date; write YYYY-MM-DD", short(y.Notice.Date)),
				fmt.Sprintf("通知日期 %q 不是日期；请写成 YYYY-MM-DD", short(y.Notice.Date)))
		}
	}
	for _, f := range []string{y.Notice.Title, y.Notice.Number, y.Notice.Date} {
		if len(f) > 200 {
			return e, false, fileErr(0, "a notice field is longer than 200 bytes; shorten the title or number",
				"通知字段超过 200 字节；请缩短标题或文号")
		}
	}
	var replaces string
	if cur, ok := c.years[y.Year]; ok {
		replaces = cur.Hash()
		if replaces == y.Hash() {
			return e, true, nil
		}
	}
	next, err := c.With(y)
	if err != nil {
		return e, false, err
	}
	return domain.CalendarYearPublished{Year: y.Year, Off: slices.Clone(y.Off), Work: slices.Clone(y.Work),
		Notice: domain.CalendarNotice{Title: y.Notice.Title, Number: y.Notice.Number, Date: y.Notice.Date},
		Hash:   y.Hash(), Version: next.Version(), Replaces: replaces, PublishedBy: by, At: at}, false, nil
}

// Apply returns the calendar with the event's year in force (c unchanged).
func (c *Calendar) Apply(e domain.CalendarYearPublished) (*Calendar, error) {
	return c.With(YearOf(e))
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
