package http

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/town"
)

// TestEventStreamContinuity follows a synthetic town (with its
// problem-number counter events, which no stream reader sees) over SSE and
// checks continuity as a reader would (decision 0085): every event's
// previous_position is the id of the event before it for this reader, and
// every position skipped between the two holds only events the reader may
// not see (another category, another community). It does so for a reader
// of the whole log from the start, one resuming with Last-Event-ID in the
// middle, and a supervisor scoped to one community.
func TestEventStreamContinuity(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := town.DefaultConfig(20, 120)
	cfg.Sealer = e.vault
	cfg.HouseholdsPerCommunity = 40
	cfg.End = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	cfg.WriteConcurrency = 1
	if _, err := town.Write(ctx, e.store, cfg); err != nil {
		t.Fatal(err)
	}
	var log []eventstore.Event
	for after := (eventstore.Position{}); ; {
		page, err := e.store.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			page[i].Data = nil
		}
		log = append(log, page...)
		after = page[len(page)-1].Position
	}
	visible := func(ev *eventstore.Event, community string) bool {
		c := ev.Category()
		return (c == "household" || c == "problem" || c == "referral") && (community == "" || ev.Metadata.Community == community)
	}
	hidden := 0
	for i := range log {
		if !visible(&log[i], "") {
			hidden++
		}
	}
	if hidden == 0 {
		t.Fatal("the town has no events hidden from the stream: the test would prove nothing")
	}

	// check reads the stream from start (exclusive) and verifies every event
	// up to the end of the log, for a reader who sees community's events
	// ("": all).
	check := func(name, token, query, lastID string, start eventstore.Position, community string) int {
		t.Helper()
		var want []eventstore.Event
		for i := range log {
			if start.Before(log[i].Position) && visible(&log[i], community) {
				want = append(want, log[i])
			}
		}
		rd, res := e.openStream(t, ctx, token, query, lastID)
		if res.StatusCode != 200 {
			t.Fatalf("%s: stream %d", name, res.StatusCode)
		}
		prev := start
		li := 0 // index in log of the first event after prev
		for li < len(log) && !prev.Before(log[li].Position) {
			li++
		}
		for n := range want {
			ev := rd.next(t)
			var se streamEvent
			if err := json.Unmarshal([]byte(ev.data), &se); err != nil {
				t.Fatal(err)
			}
			if se.PreviousPosition != prev.String() {
				t.Fatalf("%s: event %d at %s says the previous was %s, the reader last had %s", name, n, ev.id, se.PreviousPosition, prev)
			}
			pos, err := eventstore.ParsePosition(ev.id)
			if err != nil {
				t.Fatal(err)
			}
			// Everything the log holds between prev and pos is explained:
			// not for this reader.
			for ; li < len(log) && log[li].Position.Before(pos); li++ {
				if visible(&log[li], community) {
					t.Fatalf("%s: the stream skipped %s (%s %s) between %s and %s", name, log[li].Position, log[li].Stream, log[li].Type, prev, pos)
				}
			}
			if li == len(log) || log[li].Position != pos || pos != want[n].Position {
				t.Fatalf("%s: event %d is at %s, want %s", name, n, pos, want[n].Position)
			}
			li++
			prev = pos
		}
		return len(want)
	}
	integ := e.token(identity.Principal{Name: "city-dashboard", Role: identity.RoleIntegrator})
	all := check("whole log", integ, "?after=0", "", eventstore.Position{}, "")
	if all+hidden != len(log) || all < 1000 {
		t.Fatalf("%d events streamed, %d hidden, %d in the log", all, hidden, len(log))
	}
	// Resume after a visible event in the middle, with Last-Event-ID.
	mid := log[len(log)/2]
	for i := len(log) / 2; !visible(&mid, ""); i++ {
		mid = log[i]
	}
	check("resumed", integ, "?after=0", mid.Position.String(), mid.Position, "")
	// A supervisor of one community: the other communities' events are
	// explained gaps too.
	community := ""
	for i := range log {
		if visible(&log[i], "") && log[i].Metadata.Community != "" {
			community = log[i].Metadata.Community
			break
		}
	}
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{community}})
	if n := check("one community", sup, "", "", eventstore.Position{}, community); n == 0 || n >= all {
		t.Fatalf("community %s: %d of %d events", community, n, all)
	}
}
