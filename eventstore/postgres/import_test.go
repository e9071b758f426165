package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
)

func ev(typ string) eventstore.EventData {
	return eventstore.EventData{ID: eventstore.NewID(), Type: typ, Data: []byte(`{}`),
		Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
}

// TestImport writes runs of several streams in one write, in their order,
// each recorded at its own instant; an import with one wrong version
// writes nothing.
func TestImport(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, postgres.Config{Schema: newSchema(t)})
	defer s.Close()
	t1 := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	bad := []eventstore.Run{
		{Stream: "household-a", After: 0, RecordedAt: t1, Events: []eventstore.EventData{ev("x.one")}},
		{Stream: "household-b", After: 3, RecordedAt: t2, Events: []eventstore.EventData{ev("x.two")}},
	}
	if err := s.Import(ctx, bad); err == nil {
		t.Fatal("an import with a wrong version was accepted")
	}
	if head, err := s.Head(ctx); err != nil || !head.IsZero() {
		t.Fatalf("the refused import wrote: head %s, %v", head, err)
	}
	runs := []eventstore.Run{
		{Stream: "household-b", After: 0, RecordedAt: t1, Events: []eventstore.EventData{ev("x.one"), ev("x.two")}},
		{Stream: "household-a", After: 0, RecordedAt: t2, Events: []eventstore.EventData{ev("x.three")}},
		{Stream: "household-b", After: 2, RecordedAt: t2.Add(time.Minute), Events: []eventstore.EventData{ev("x.four")}},
	}
	if err := s.Import(ctx, runs); err != nil {
		t.Fatal(err)
	}
	all, err := s.ReadAll(ctx, eventstore.Position{}, 10)
	if err != nil || len(all) != 4 {
		t.Fatalf("read %d events, %v", len(all), err)
	}
	want := []struct {
		typ string
		at  time.Time
	}{{"x.one", t1}, {"x.two", t1}, {"x.three", t2}, {"x.four", t2.Add(time.Minute)}}
	for i, w := range want {
		if all[i].Type != w.typ || !all[i].RecordedAt.Equal(w.at) {
			t.Fatalf("event %d: %s at %s, want %s at %s", i, all[i].Type, all[i].RecordedAt, w.typ, w.at)
		}
	}
	if n, err := eventstore.VerifyAll(ctx, s, nil); err != nil || n != 4 {
		t.Fatalf("verify: %d, %v", n, err)
	}
	// Appends go on after an import.
	if _, err := s.Append(ctx, "household-a", eventstore.Exact(1), ev("x.five")); err != nil {
		t.Fatal(err)
	}
}
