package eventstore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
)

func TestPositionTokens(t *testing.T) {
	cases := []struct {
		p   eventstore.Position
		tok string
	}{
		{eventstore.Position{}, "0"},
		{eventstore.Position{Lo: 12}, "12"},
		{eventstore.Position{Hi: 7, Lo: 12}, "7.12"},
		{eventstore.Position{Hi: 1<<64 - 1, Lo: 1<<64 - 1}, "18446744073709551615.18446744073709551615"},
	}
	for _, c := range cases {
		if got := c.p.String(); got != c.tok {
			t.Errorf("%+v.String() = %q, want %q", c.p, got, c.tok)
		}
		back, err := eventstore.ParsePosition(c.tok)
		if err != nil || back != c.p {
			t.Errorf("ParsePosition(%q) = %+v, %v", c.tok, back, err)
		}
		b, _ := json.Marshal(c.p)
		var q eventstore.Position
		if err := json.Unmarshal(b, &q); err != nil || q != c.p {
			t.Errorf("JSON round trip of %+v: %s -> %+v, %v", c.p, b, q, err)
		}
	}
	if p, err := eventstore.ParsePosition(""); err != nil || !p.IsZero() {
		t.Errorf("empty token = %+v, %v; want the start", p, err)
	}
	for _, bad := range []string{"x", "-1", "1.", ".1", "1.2.3", "99999999999999999999", " 1"} {
		if _, err := eventstore.ParsePosition(bad); !errors.Is(err, eventstore.ErrInvalidPosition) {
			t.Errorf("ParsePosition(%q) err = %v, want ErrInvalidPosition", bad, err)
		}
	}
	order := []eventstore.Position{{}, {Lo: 1}, {Lo: 2}, {Hi: 1}, {Hi: 1, Lo: 5}, {Hi: 2}}
	for i := range order {
		for j := range order {
			if got := order[i].Before(order[j]); got != (i < j) {
				t.Errorf("%v.Before(%v) = %v", order[i], order[j], got)
			}
		}
	}
}

func TestExpectedVersion(t *testing.T) {
	cases := []struct {
		e      eventstore.ExpectedVersion
		actual uint64
		ok     bool
	}{
		{eventstore.Any(), 0, true}, {eventstore.Any(), 9, true},
		{eventstore.NoStream(), 0, true}, {eventstore.NoStream(), 1, false},
		{eventstore.StreamExists(), 0, false}, {eventstore.StreamExists(), 3, true},
		{eventstore.Exact(3), 3, true}, {eventstore.Exact(3), 2, false}, {eventstore.Exact(3), 4, false},
		{eventstore.Exact(0), 0, true}, {eventstore.Exact(0), 1, false},
	}
	for _, c := range cases {
		if got := eventstore.Satisfied(c.e, c.actual); got != c.ok {
			t.Errorf("Satisfied(%v, %d) = %v, want %v", c.e, c.actual, got, c.ok)
		}
	}
}

func TestValidateAppend(t *testing.T) {
	good := func() eventstore.EventData {
		return eventstore.EventData{ID: eventstore.NewID(), Type: "problem.reported", Data: json.RawMessage(`{"a":1}`)}
	}
	lim := eventstore.Limits{MaxEventBytes: 100, MaxBatchEvents: 3}
	dup := good()
	cases := []struct {
		name   string
		stream string
		events []eventstore.EventData
		want   error
	}{
		{"empty stream", "", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"no category", "household", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"upper-case category", "Household-1", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"space in id", "household-1 2", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		// Issue 13 item 6: the id part follows the domain's one id rule.
		{"id over 128 bytes", "household-" + strings.Repeat("a", 129), []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"U+202E in id", "household-a\u202Eb", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"zero width in id", "household-a\u200Bb", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"dot id", "household-.", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"dot dot id", "household-..", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"slash in id", "household-a/b", []eventstore.EventData{good()}, eventstore.ErrInvalidStream},
		{"no events", "household-1", nil, eventstore.ErrInvalidEvent},
		{"too many", "household-1", []eventstore.EventData{good(), good(), good(), good()}, eventstore.ErrBatchTooLarge},
		{"bad json", "household-1", []eventstore.EventData{{ID: eventstore.NewID(), Type: "a.b", Data: json.RawMessage(`{"a":`)}}, eventstore.ErrInvalidEvent},
		{"bad type", "household-1", []eventstore.EventData{{ID: eventstore.NewID(), Type: "A B", Data: json.RawMessage(`{}`)}}, eventstore.ErrInvalidEvent},
		{"too large", "household-1", []eventstore.EventData{{ID: eventstore.NewID(), Type: "a.b", Data: json.RawMessage(`"` + string(make([]byte, 120)) + `"`)}}, eventstore.ErrEventTooLarge},
		{"nil id", "household-1", []eventstore.EventData{{Type: "a.b", Data: json.RawMessage(`{}`)}}, eventstore.ErrInvalidEvent},
		{"same id twice", "household-1", []eventstore.EventData{dup, dup}, eventstore.ErrDuplicateEvent},
	}
	for _, c := range cases {
		if err := eventstore.ValidateAppend(c.stream, c.events, lim); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := eventstore.ValidateAppend("household-幸福里-1", []eventstore.EventData{good()}, lim); err != nil {
		t.Errorf("valid append rejected: %v", err)
	}
}

func TestHashCoversEveryField(t *testing.T) {
	d := eventstore.EventData{ID: eventstore.NewID(), Type: "visit.recorded", Data: json.RawMessage(`{"x":1}`),
		Metadata: eventstore.Metadata{Actor: "a", Role: "worker", Community: "c", Grid: "g", OccurredAt: time.Unix(100, 5)}}
	base := eventstore.Seal([32]byte{}, "household-1", 1, time.Unix(200, 0), &d)
	mutations := map[string]func(e *eventstore.Event){
		"data":        func(e *eventstore.Event) { e.Data = json.RawMessage(`{"x":2}`) },
		"type":        func(e *eventstore.Event) { e.Type = "visit.changed" },
		"stream":      func(e *eventstore.Event) { e.Stream = "household-2" },
		"version":     func(e *eventstore.Event) { e.Version = 2 },
		"actor":       func(e *eventstore.Event) { e.Metadata.Actor = "b" },
		"community":   func(e *eventstore.Event) { e.Metadata.Community = "d" },
		"occurred_at": func(e *eventstore.Event) { e.Metadata.OccurredAt = time.Unix(100, 6) },
		"recorded_at": func(e *eventstore.Event) { e.RecordedAt = time.Unix(201, 0) },
		"schema":      func(e *eventstore.Event) { e.SchemaVersion = 9 },
		"key_id":      func(e *eventstore.Event) { e.Metadata.KeyID = "k" },
	}
	for name, mut := range mutations {
		e := base
		mut(&e)
		if eventstore.ComputeHash([32]byte{}, &e) == base.Hash {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
	if eventstore.ComputeHash([32]byte{1}, &base) == base.Hash {
		t.Error("the previous link is not covered")
	}
	if err := eventstore.VerifyChain([32]byte{}, []eventstore.Event{base}); err != nil {
		t.Errorf("sealed event does not verify: %v", err)
	}
}
