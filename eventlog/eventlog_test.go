package eventlog_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// stored encodes evs as the events of stream household-h1 from version 1,
// as a store would return them; a nil event stands for a type this build
// does not know.
func stored(t *testing.T, evs ...domain.Event) []eventstore.Event {
	t.Helper()
	md := eventlog.Envelope{At: t0, Actor: "w1", Role: domain.RoleGridWorker, CommandID: "c1", Community: "c", Grid: "g"}.Metadata()
	out := make([]eventstore.Event, len(evs))
	for i, e := range evs {
		d := eventstore.EventData{ID: eventstore.NewID(), Type: "household.from_a_newer_build", SchemaVersion: 1, Data: []byte(`{"x":1}`), Metadata: md}
		if e != nil {
			var err error
			if d, err = eventlog.Encode(eventstore.NewID(), e, md); err != nil {
				t.Fatal(err)
			}
		}
		out[i] = eventstore.Event{ID: d.ID, Stream: "household-h1", Version: uint64(i + 1), Type: d.Type,
			SchemaVersion: d.SchemaVersion, Data: d.Data, Metadata: d.Metadata, RecordedAt: t0.Add(time.Duration(i) * time.Hour)}
	}
	return out
}

func history(t *testing.T) []eventstore.Event {
	return stored(t,
		domain.HouseholdRegistered{HouseholdID: "h1", Address: "1 Lane", Community: "c", Grid: "g", ResponsibleWorker: "w1",
			Class: domain.ClassKey, Risk: domain.RiskRed, PolicyVersion: "v1", At: t0, By: "w1"},
		nil,
		domain.HouseholdArchived{Reason: domain.ArchiveMovedAway, At: t0.Add(2 * time.Hour), By: "w1"},
	)
}

// Step, Fold and FoldDecoded fold the same stream to the same aggregate,
// an unknown type as a no-op that advances the version.
func TestFoldsAgree(t *testing.T) {
	reg := domain.NewRegistry()
	evs := history(t)

	byStep := domain.NewHousehold("h1")
	var types []string
	for i := range evs {
		ev, err := eventlog.Step(reg, byStep, &evs[i])
		if err != nil {
			t.Fatalf("Step %d: %v", i+1, err)
		}
		types = append(types, ev.EventType())
		if _, unknown := ev.(eventlog.Unknown); unknown != (i == 1) {
			t.Fatalf("Step %d decoded %#v", i+1, ev)
		}
		if byStep.Version() != uint64(i+1) {
			t.Fatalf("after Step %d the version is %d", i+1, byStep.Version())
		}
	}
	if want := []string{"household.registered", "household.from_a_newer_build", "household.archived"}; !slices.Equal(types, want) {
		t.Fatalf("Step decoded %v, want %v", types, want)
	}
	byFold := domain.NewHousehold("h1")
	l, err := eventlog.Fold(reg, byFold, evs, domain.AsOf{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != 3 || l.Last.CommandID != "c1" {
		t.Fatalf("Fold reports version %d, last command %q", l.Version, l.Last.CommandID)
	}

	byDecoded := domain.NewHousehold("h1")
	recs := []domain.Recorded{}
	for i := range evs {
		if evs[i].Type == "household.from_a_newer_build" {
			recs = append(recs, domain.Recorded{Version: evs[i].Version, RecordedAt: evs[i].RecordedAt, Event: eventlog.Unknown{Type: evs[i].Type}})
			continue
		}
		r, err := eventlog.Decode(reg, &evs[i])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := eventlog.FoldDecoded(byDecoded, "household-h1", recs); err != nil {
		t.Fatal(err)
	}

	for name, h := range map[string]*domain.Household{"Step": byStep, "Fold": byFold, "FoldDecoded": byDecoded} {
		if h.Version() != 3 || h.Address() != "1 Lane" || h.Community() != "c" || !h.Archived() {
			t.Errorf("%s folded version %d, address %q, community %q, archived %v", name, h.Version(), h.Address(), h.Community(), h.Archived())
		}
	}

	// As of the first event's recording: only the registration.
	asOf := domain.NewHousehold("h1")
	if l, err := eventlog.Fold(reg, asOf, evs, domain.UntilRecorded(t0)); err != nil || l.Version != 1 || asOf.Archived() {
		t.Fatalf("Fold until %s: version %d, archived %v, err %v", t0, l.Version, asOf.Archived(), err)
	}
}

// A gap in the versions is refused, naming the stream, and nothing of the
// event is applied.
func TestStepRefusesAGap(t *testing.T) {
	reg := domain.NewRegistry()
	evs := history(t)
	h := domain.NewHousehold("h1")
	if _, err := eventlog.Step(reg, h, &evs[0]); err != nil {
		t.Fatal(err)
	}
	_, err := eventlog.Step(reg, h, &evs[2])
	if !errors.Is(err, domain.ErrConflict) || h.Version() != 1 || h.Archived() {
		t.Fatalf("folding version 3 after 1: err %v, version %d, archived %v; want a conflict and no change", err, h.Version(), h.Archived())
	}
	if err := eventlog.FoldDecoded(domain.NewHousehold("h1"), "household-h1", []domain.Recorded{{Version: 2, Event: eventlog.Unknown{Type: "x.y"}}}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("FoldDecoded from version 2 on an empty aggregate: %v, want a conflict", err)
	}
}

// An event of a known type whose data does not decode is an error, not an
// Unknown.
func TestStepRefusesBadData(t *testing.T) {
	evs := history(t)
	evs[0].Data = []byte(`{"household_id": 7}`)
	if _, err := eventlog.Step(domain.NewRegistry(), domain.NewHousehold("h1"), &evs[0]); err == nil {
		t.Fatal("a registration whose data does not decode was folded")
	}
}
