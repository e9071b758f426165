package audit

import (
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// TestDescribeRescheduling: a rescheduling of a deadline the state summary
// has no due for (a household's visit_due, derived from the policy) shows
// the move as a change of its own; the reason names the published years,
// what is still provisional and the alerts withdrawn, in English and
// Chinese; a provisional alert that changed no state still says so.
func TestDescribeRescheduling(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	oldDue := time.Date(2027, 1, 4, 23, 59, 59, 0, loc)
	newDue := time.Date(2027, 1, 5, 23, 59, 59, 0, loc)
	e := domain.DeadlineRescheduled{Kind: domain.ClockVisitDue, OldDue: oldDue, NewDue: newDue,
		OldBasis: domain.CalendarBasis{Version: "v1", Provisional: []int{2027, 2028}},
		Calendar: domain.CalendarBasis{Version: "v2", Provisional: []int{2028}},
		Reason:   domain.ReasonCalendarPublished, Withdrawn: []domain.AlertStage{domain.StageBreached, domain.StageApproaching}}
	changes, why := describe(domain.HouseholdDeadlineRescheduled{DeadlineRescheduled: e}, nil,
		[]Change{{Field: "alert.visit_due", Before: "breached", After: ""}}, "calendar_published")
	want := []Change{
		{Field: "alert.visit_due", Before: "breached", After: ""},
		{Field: "deadline.visit_due",
			Before: "2027-01-04T15:59:59Z (provisional: the 2027 and 2028 holiday calendars are not yet loaded / 暂定：2027、2028年节假日安排尚未导入)",
			After:  "2027-01-05T15:59:59Z (provisional: the 2028 holiday calendar is not yet loaded / 暂定：2028年节假日安排尚未导入)"},
	}
	if len(changes) != len(want) || changes[0] != want[0] || changes[1] != want[1] {
		t.Errorf("changes %+v\nwant %+v", changes, want)
	}
	const wantWhy = "deadline rescheduled from 2027-01-04T15:59:59Z to 2027-01-05T15:59:59Z after the 2027 calendar was published; " +
		"still provisional: the 2028 holiday calendar is not yet loaded; breach and approaching warning withdrawn" +
		" / 因2027年节假日安排发布，期限由 2027-01-04T15:59:59Z 调整为 2027-01-05T15:59:59Z；仍为暂定：2028年节假日安排尚未导入；撤销逾期和临近提醒"
	if why != wantWhy {
		t.Errorf("reason %q\nwant %q", why, wantWhy)
	}

	// Two years published at once; a correction of an official year.
	e.Calendar, e.Withdrawn = domain.CalendarBasis{Version: "v3"}, nil
	if _, why := describe(domain.HouseholdDeadlineRescheduled{DeadlineRescheduled: e}, nil, nil, ""); why !=
		"deadline rescheduled from 2027-01-04T15:59:59Z to 2027-01-05T15:59:59Z after the 2027 and 2028 calendars were published"+
			" / 因2027、2028年节假日安排发布，期限由 2027-01-04T15:59:59Z 调整为 2027-01-05T15:59:59Z" {
		t.Errorf("two years: %q", why)
	}
	e.OldBasis = domain.CalendarBasis{Version: "v2"}
	if _, why := describe(domain.ProblemDeadlineRescheduled{DeadlineRescheduled: e}, nil, nil, ""); why !=
		"deadline rescheduled from 2027-01-04T15:59:59Z to 2027-01-05T15:59:59Z after the working-day calendar was corrected (version v3)"+
			" / 因工作日历更正（版本 v3），期限由 2027-01-04T15:59:59Z 调整为 2027-01-05T15:59:59Z" {
		t.Errorf("correction: %q", why)
	}

	// An approaching alert recorded again changes no state but still says it is provisional.
	a := domain.DeadlineAlert{Kind: domain.ClockReferralAcceptance, Due: oldDue, Calendar: domain.CalendarBasis{Version: "v1", Provisional: []int{2027}}}
	changes, why = describe(domain.ReferralDeadlineApproaching{DeadlineAlert: a}, map[string]string{"alert.referral_acceptance": "approaching"}, nil, "")
	if len(changes) != 1 || changes[0] != (Change{Field: "alert.referral_acceptance", Before: "approaching",
		After: "approaching (due 2027-01-04T15:59:59Z; provisional: the 2027 holiday calendar is not yet loaded / 暂定：2027年节假日安排尚未导入)"}) || why != "" {
		t.Errorf("alert: %+v %q", changes, why)
	}
	// An official alert is left as the state shows it.
	a.Calendar.Provisional = nil
	if changes, _ := describe(domain.ReferralDeadlineBreached{DeadlineAlert: a}, nil, []Change{{Field: "alert.referral_acceptance", After: "breached"}}, ""); changes[0].After != "breached" {
		t.Errorf("official alert: %+v", changes)
	}
}
