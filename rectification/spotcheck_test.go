package rectification_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/rectification"
)

// TestSeed001_3_4_SpotCheckNoticeBreachesOverHoliday: "对发现的问题下发整改通知书，
// 限期整改" (001 §3.4), and issue 16's "a rectification notice breaches on time
// over a holiday". An inspector records on Wednesday 30 September 2026 that
// the record of a visit in 竹园村 is untrue; a confirmed finding of the same
// round opens nothing. The discrepancy opens one notice (source spot_check)
// with the policy's 20 working days, counted from the next day under the PRC
// calendar: the National Day holiday (1–7 October) does not count and
// Saturday 10 October does, so it is due at the end of 3 November (without
// the holiday, 28 October). The deadline watcher warns and breaches it on
// time, naming the community's supervisor, and only once.
func TestSeed001_3_4_SpotCheckNoticeBreachesOverHoliday(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	loc := env.Cal.Location()
	if _, err := svc.AssignCommunitySupervisor(ctx, command.Cmd{ID: "sup", Actor: "admin", Role: domain.RoleAdmin,
		At: time.Date(2026, 1, 5, 9, 0, 0, 0, loc)}, "竹园村", "王书记", ""); err != nil {
		t.Fatal(err)
	}
	foundAt := time.Date(2026, 9, 30, 16, 0, 0, 0, loc)
	stream := domain.SpotCheckStream("竹园村", "2026-08")
	meta := testenv.Meta("纪工委刘", domain.RoleSupervisor, foundAt)
	res := env.Do(t, stream, meta)([]domain.Event{
		domain.SpotCheckFindingRecorded{Community: "竹园村", Period: "2026-08", Visit: domain.VisitRef{Household: "h1", Version: 3},
			Inspector: "纪工委刘", Result: domain.FindingConfirmed, At: foundAt.Add(-time.Hour), By: "纪工委刘"},
		domain.SpotCheckFindingRecorded{Community: "竹园村", Period: "2026-08", Visit: domain.VisitRef{Household: "h2", Version: 5},
			Inspector: "纪工委刘", Result: domain.FindingDiscrepancy, At: foundAt, By: "纪工委刘"},
	}, nil)
	evs, err := env.Store.ReadStream(ctx, stream, eventstore.Forward, res.FirstVersion, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("read the findings: %d, %v", len(evs), err)
	}
	findingID := evs[1].ID.String()

	op, err := rectification.New(rectification.Config{Store: env.Store, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op.Sync(ctx); err != nil || n != 1 {
		t.Fatalf("opened %d notices, want 1 (the discrepancy, not the confirmation): %v", n, err)
	}
	if n, err := op.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("a second pass opened %d more: %v", n, err)
	}
	id := rectification.CaseID(findingID)
	r, err := svc.Rectification(ctx, id, domain.AsOf{})
	if err != nil {
		t.Fatal(err)
	}
	o := r.Opened()
	wantDue := time.Date(2026, 11, 3, 23, 59, 59, 999999999, loc)
	if !r.Exists() || o.Source != domain.SourceSpotCheck || o.Community != "竹园村" || o.Visit == nil || *o.Visit != (domain.VisitRef{Household: "h2", Version: 5}) ||
		!o.At.Equal(foundAt) || o.TimeLimit != domain.WorkingDays(20) || !o.Due.Equal(wantDue) || len(o.Calendar.Provisional) != 0 || o.ReasonZH == "" {
		t.Fatalf("opened %+v, want a spot-check notice due %s", o, wantDue)
	}

	// The due date with the holiday counted as working days passes silently.
	alertsOnTime(t, env, svc, id, wantDue, "王书记", time.Date(2026, 10, 28, 23, 59, 59, 0, loc))
}
