package http

import (
	"context"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

// TestPublishCalendarYear: an admin publishes 2027 with PUT; a bad year is
// refused with a bilingual 400 naming the problem and writes nothing; the
// same days again write nothing; other roles are refused; GET /v1/calendar
// shows the year in force with its notice.
func TestPublishCalendarYear(t *testing.T) {
	e := newEnv(t, nil)
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})

	bad := e.do("PUT", "/v1/calendar/2027", e.admin, CalendarYearRequest{Off: []string{"2027-01-01"}, Work: []string{"2027-01-05"}})
	p := bad.problem(t)
	if bad.status != 400 || p.Code != "calendar_invalid" || !strings.Contains(p.MessageEN, "already a working day") || !strings.Contains(p.MessageZH, "本来就是工作日") {
		t.Fatalf("bad year: %d %+v", bad.status, p)
	}
	outside := e.do("PUT", "/v1/calendar/2027", e.admin, CalendarYearRequest{Off: []string{"2028-01-01"}})
	if p := outside.problem(t); outside.status != 400 || !strings.Contains(p.MessageEN, "outside the year") {
		t.Fatalf("date outside the year: %d %+v", outside.status, p)
	}
	if evs, err := e.store.ReadStream(context.Background(), domain.CalendarStream, eventstore.Forward, 1, 10); err != nil || len(evs) != 0 {
		t.Fatalf("a refused year wrote %d events (%v)", len(evs), err)
	}
	if r := e.do("PUT", "/v1/calendar/2027", sup, CalendarYearRequest{Off: []string{"2027-01-01"}}); r.status != 403 {
		t.Fatalf("supervisor: %d", r.status)
	}

	body := CalendarYearRequest{Off: []string{"2027-01-01/2027-01-03"}, Work: []string{"2027-02-07"},
		Notice: CalendarNotice{Title: "关于2027年部分节假日安排的通知", Number: "test-only", Date: "2026-11-10"}}
	ok := e.do("PUT", "/v1/calendar/2027", e.admin, body)
	var res CommandResult
	ok.decode(t, &res)
	if ok.status != 200 || res.Events != 1 || res.Stream != domain.CalendarStream {
		t.Fatalf("publish: %d %s", ok.status, ok.body)
	}
	again := e.do("PUT", "/v1/calendar/2027", e.admin, body)
	again.decode(t, &res)
	if again.status != 200 || res.Events != 0 {
		t.Fatalf("republish: %d %s", again.status, again.body)
	}

	got := e.do("GET", "/v1/calendar", sup, nil)
	var view CalendarView
	got.decode(t, &view)
	var y2027 *CalendarYear
	for i := range view.Years {
		if view.Years[i].Year == 2027 {
			y2027 = &view.Years[i]
		}
	}
	if got.status != 200 || y2027 == nil || y2027.Notice == nil || y2027.Notice.Number != "test-only" || view.CoveredUntil.IsZero() {
		t.Fatalf("calendar: %d %s", got.status, got.body)
	}
	cal, err := e.app.CalendarInForce(context.Background())
	if err != nil || view.Version != cal.Version() || !cal.Official(2027) {
		t.Fatalf("version %s vs %s (%v)", view.Version, cal.Version(), err)
	}
}
