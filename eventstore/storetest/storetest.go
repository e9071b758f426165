// Package storetest is the conformance suite every eventstore.Store backend
// runs with one call, declaring what it offers:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Features{Append: true, ReadStream: true, …}, newFixture)
//	}
//
// The suite talks to the real backend; nothing is mocked.
//
// # Features
//
// As in Watermill's pub/sub test suite, a backend declares in a Features
// value which of the behaviours the suite checks it offers. The core contract
// is not optional: Append (atomic, validated batches, ErrClosed after
// Close), ReadStream (and StreamVersion), ReadAll (the global log in position
// order, paged) and ExpectedVersion (typed conflicts carrying the actual
// version, exactly one winner among racing writers). The first case,
// DeclaredFeatures, fails when a backend does not declare all four, or
// declares an optional feature without the one it builds on.
//
// The optional features, each a behaviour of the Store contract that a
// backend might not offer natively (an EventStoreDB backend, issue 18, is
// the one in view):
//
//   - IdempotentRetry: a retry of a stored batch returns the original result
//     whatever the expected version; a batch mixing a stored id with new
//     events is ErrDuplicateEvent.
//   - DurableIdempotency: the same, after the store is closed and reopened,
//     not only within a cache window (EventStoreDB de-duplicates event ids
//     only within one). Builds on IdempotentRetry.
//   - UniqueEventIDs: an event id is stored once in the whole log; using it
//     in another stream is ErrDuplicateEvent (EventStoreDB scopes ids to a
//     stream). BatchAtomicity and FailuresAmongConcurrentAppends use such a
//     collision to make a batch fail after its first rows.
//   - Head: Head returns the position of the last readable event.
//   - Subscribe: catch-up then live subscriptions, each event exactly once,
//     in order, from the start or from a position.
//   - SubscribeFilters: category and type filters on subscriptions. Builds
//     on Subscribe.
//   - HashChain: the store keeps each stream's hash chain, so VerifyStream
//     and VerifyAll pass.
//   - Tamper: the fixture can change stored data behind the store's back
//     (a live EventStoreDB cannot: its events are immutable). Builds on
//     HashChain.
//
// A case, or the part of a case, that needs a feature the backend declares
// it does not offer is skipped with t.Skip("backend declares no <feature>"),
// visible in go test -v output; it is the only skip in the suite. A part of
// a case runs as a subtest (AppendAndRead/Head, for example), so the core
// assertions around it still run. Every optional flag gates a case or a part
// (features_test.go checks it), and there is no flag for what the suite does
// not check: it never assumes dense positions, and the Store contract has no
// reads as of a time, no transactions over several streams and no writers in
// other processes. A flag is added together with the case that checks it.
//
// # Parallel cases
//
// Every case runs with t.Parallel() on a fixture of its own from NewFixture,
// so the cases that read the whole log from the start (ReadAll, Head,
// subscriptions from the zero position, VerifyAll) see only their own
// events. go test runs at most -parallel cases at once (GOMAXPROCS by
// default).
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
)

// Fixture is one isolated store for one test: its own file, schema or
// database, cleaned up by the test. Its global log holds only the events
// appended through it, and it works while other fixtures of the same
// backend are used in parallel.
type Fixture interface {
	// Store returns the open store.
	Store() eventstore.Store
	// Reopen closes the store and opens the same data again, as a process
	// restart would, and returns the new store (Store then returns it too).
	Reopen(t *testing.T) eventstore.Store
	// Tamper changes the stored data of one event behind the store's back,
	// as an attacker with database access would, leaving its hash as it was.
	// Called only when the backend declares the Tamper feature.
	Tamper(t *testing.T, stream string, version uint64)
}

// NewFixture creates a fresh fixture for t.
type NewFixture func(t *testing.T) Fixture

// Features declares what a backend offers among the behaviours the suite
// checks (see the package documentation). The core fields must all be true.
type Features struct {
	// The core contract; DeclaredFeatures fails unless all are true.
	Append          bool
	ReadStream      bool
	ReadAll         bool
	ExpectedVersion bool

	// Optional.
	IdempotentRetry    bool
	DurableIdempotency bool // builds on IdempotentRetry
	UniqueEventIDs     bool
	Head               bool
	Subscribe          bool
	SubscribeFilters   bool // builds on Subscribe
	HashChain          bool
	Tamper             bool // builds on HashChain
}

// coreFeatures are the fields of Features no backend may leave out.
var coreFeatures = []string{"Append", "ReadStream", "ReadAll", "ExpectedVersion"}

// buildsOn maps an optional feature to the one it needs.
var buildsOn = map[string]string{
	"DurableIdempotency": "IdempotentRetry",
	"SubscribeFilters":   "Subscribe",
	"Tamper":             "HashChain",
}

// has reports whether f declares the feature named name, a field of
// Features; it panics on any other name.
func (f Features) has(name string) bool {
	v := reflect.ValueOf(f).FieldByName(name)
	if !v.IsValid() || v.Kind() != reflect.Bool {
		panic("storetest: no feature " + name)
	}
	return v.Bool()
}

// String lists the declared features, for the test log.
func (f Features) String() string {
	var on []string
	v := reflect.ValueOf(f)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Bool() {
			on = append(on, v.Type().Field(i).Name)
		}
	}
	return strings.Join(on, " ")
}

// problems returns what is wrong with a declaration: a core feature left
// out, or an optional one declared without the one it builds on.
func (f Features) problems() []string {
	var out []string
	for _, name := range coreFeatures {
		if !f.has(name) {
			out = append(out, "backend declares no "+name+": it is part of the core contract, which is not optional")
		}
	}
	for _, name := range []string{"DurableIdempotency", "SubscribeFilters", "Tamper"} {
		if f.has(name) && !f.has(buildsOn[name]) {
			out = append(out, "backend declares "+name+" but no "+buildsOn[name]+", which it builds on")
		}
	}
	return out
}

// needs skips t, visibly, unless the backend declares the feature.
func needs(t *testing.T, f Features, feature string) {
	t.Helper()
	if !f.has(feature) {
		t.Skip("backend declares no " + feature)
	}
}

// part runs the assertions of a case that need an optional feature as the
// subtest name, skipped when the backend declares no such feature. A failed
// part stops the case, as a failed assertion did before it was a part.
func part(t *testing.T, f Features, feature, name string, fn func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, func(t *testing.T) {
		needs(t, f, feature)
		fn(t)
	}) {
		t.FailNow()
	}
}

// testCase is one case of the suite: it needs the optional features named
// in needs (every core feature is assumed).
type testCase struct {
	name  string
	needs []string
	fn    func(*testing.T, Fixture, Features)
}

var cases = []testCase{
	{"AppendAndRead", nil, testAppendAndRead},
	{"ExpectedVersion", nil, testExpectedVersion},
	{"RaceOnOneStream", nil, testRaceOnOneStream},
	{"IdempotentRetry", []string{"IdempotentRetry"}, testIdempotentRetry},
	{"IdempotentRetryAfterReopen", []string{"DurableIdempotency"}, testIdempotentRetryAfterReopen},
	{"DuplicateIDElsewhere", []string{"UniqueEventIDs"}, testDuplicateIDElsewhere},
	{"BatchAtomicity", []string{"UniqueEventIDs"}, testBatchAtomicity},
	{"FailuresAmongConcurrentAppends", []string{"UniqueEventIDs"}, testFailuresAmongConcurrent},
	{"BadInputRejected", nil, testBadInput},
	{"ConcurrentWritersSubscriber", []string{"Subscribe"}, testConcurrentWritersSubscriber},
	{"CatchUpToLive", []string{"Subscribe"}, testCatchUpToLive},
	{"SubscribeFromMiddle", []string{"Subscribe"}, testSubscribeFromMiddle},
	{"Filters", []string{"Subscribe", "SubscribeFilters"}, testFilters},
	{"TamperDetected", []string{"HashChain", "Tamper"}, testTamper},
	{"ChineseAndLargeRoundTrip", nil, testRoundTrip},
	{"ReadAllPaging", nil, testReadAllPaging},
	{"Closed", nil, testClosed},
}

// Run runs the whole conformance suite against the backend whose fixtures
// newFixture makes, which declares features. Every case runs in parallel
// with the others on a fixture of its own.
func Run(t *testing.T, features Features, newFixture NewFixture) {
	t.Run("DeclaredFeatures", func(t *testing.T) {
		t.Parallel()
		t.Logf("declared: %s", features)
		for _, p := range features.problems() {
			t.Error(p)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, feature := range tc.needs {
				needs(t, features, feature)
			}
			f := newFixture(t)
			tc.fn(t, f, features)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Stream returns a unique stream name in category cat.
func Stream(cat string) string { return cat + "-" + uuid.NewString() }

// Event returns a valid event of type typ with a JSON payload.
func Event(typ string, payload any) eventstore.EventData {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return eventstore.EventData{
		ID: eventstore.NewID(), Type: typ, Data: b,
		Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), Actor: "worker-1", Role: "worker", Community: "c1", Grid: "g1"},
	}
}

// MustAppend appends or fails the test.
func MustAppend(t testing.TB, s eventstore.Store, stream string, ev eventstore.ExpectedVersion, events ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), stream, ev, events...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

func mustReadStream(t *testing.T, s eventstore.Store, stream string) []eventstore.Event {
	t.Helper()
	evs, err := s.ReadStream(ctxT(t), stream, eventstore.Forward, 1, 100000)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return evs
}

func mustReadAll(t *testing.T, s eventstore.Store) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	var after eventstore.Position
	for {
		page, err := s.ReadAll(ctxT(t), after, 1000)
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
		after = page[len(page)-1].Position
	}
}

func testAppendAndRead(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	st := Stream("household")
	e1, e2, e3 := Event("household.registered", map[string]int{"n": 1}), Event("household.class_changed", map[string]int{"n": 2}), Event("visit.recorded", map[string]int{"n": 3})
	r1 := MustAppend(t, s, st, eventstore.NoStream(), e1)
	if r1.FirstVersion != 1 || r1.LastVersion != 1 || r1.FirstPosition != r1.LastPosition || r1.LastPosition.IsZero() {
		t.Fatalf("first append result = %+v", r1)
	}
	r2 := MustAppend(t, s, st, eventstore.Exact(1), e2, e3)
	if r2.FirstVersion != 2 || r2.LastVersion != 3 || !r1.LastPosition.Before(r2.FirstPosition) || !r2.FirstPosition.Before(r2.LastPosition) {
		t.Fatalf("second append result = %+v after %+v", r2, r1)
	}
	evs := mustReadStream(t, s, st)
	if len(evs) != 3 {
		t.Fatalf("read %d events, want 3", len(evs))
	}
	for i, want := range []eventstore.EventData{e1, e2, e3} {
		got := evs[i]
		if got.ID != want.ID || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) || got.Version != uint64(i+1) || got.Stream != st {
			t.Fatalf("event %d = %+v, want %+v", i, got, want)
		}
		if got.SchemaVersion != 1 {
			t.Fatalf("schema version %d, want 1 by default", got.SchemaVersion)
		}
		if !got.Metadata.OccurredAt.Equal(want.Metadata.OccurredAt) || got.Metadata.Actor != "worker-1" || got.Metadata.Community != "c1" {
			t.Fatalf("metadata = %+v", got.Metadata)
		}
		if got.RecordedAt.IsZero() {
			t.Fatal("recorded-at not set")
		}
	}
	back, err := s.ReadStream(ctx, st, eventstore.Backward, 0, 2)
	if err != nil || len(back) != 2 || back[0].Version != 3 || back[1].Version != 2 {
		t.Fatalf("backward read = %v, %v", back, err)
	}
	back, err = s.ReadStream(ctx, st, eventstore.Backward, 2, 10)
	if err != nil || len(back) != 2 || back[0].Version != 2 || back[1].Version != 1 {
		t.Fatalf("backward read from 2 = %v, %v", back, err)
	}
	fwd, err := s.ReadStream(ctx, st, eventstore.Forward, 2, 1)
	if err != nil || len(fwd) != 1 || fwd[0].Version != 2 {
		t.Fatalf("forward read from 2 = %v, %v", fwd, err)
	}
	if v, err := s.StreamVersion(ctx, st); err != nil || v != 3 {
		t.Fatalf("StreamVersion = %d, %v; want 3", v, err)
	}
	if v, err := s.StreamVersion(ctx, Stream("household")); err != nil || v != 0 {
		t.Fatalf("StreamVersion of a new stream = %d, %v; want 0", v, err)
	}
	empty, err := s.ReadStream(ctx, Stream("household"), eventstore.Forward, 1, 10)
	if err != nil || len(empty) != 0 {
		t.Fatalf("read of missing stream = %v, %v", empty, err)
	}
	part(t, ft, "Head", "Head", func(t *testing.T) {
		head, err := s.Head(ctx)
		if err != nil || head != r2.LastPosition {
			t.Fatalf("Head = %v, %v; want %v", head, err, r2.LastPosition)
		}
	})
	part(t, ft, "HashChain", "VerifyStream", func(t *testing.T) {
		if err := eventstore.VerifyStream(ctx, s, st); err != nil {
			t.Fatalf("verify: %v", err)
		}
	})
	all := mustReadAll(t, s)
	if len(all) != 3 || all[0].Position != r1.FirstPosition || all[2].Position != r2.LastPosition {
		t.Fatalf("ReadAll = %d events", len(all))
	}
	// Position tokens round-trip.
	p, err := eventstore.ParsePosition(all[1].Position.String())
	if err != nil || p != all[1].Position {
		t.Fatalf("position token %q parsed to %v, %v", all[1].Position.String(), p, err)
	}
}

func testExpectedVersion(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	st := Stream("problem")
	conflict := func(ev eventstore.ExpectedVersion, actual uint64) {
		t.Helper()
		_, err := s.Append(ctx, st, ev, Event("problem.noted", 1))
		var ce *eventstore.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, eventstore.ErrConflict) {
			t.Fatalf("append with %v: err = %v, want a conflict", ev, err)
		}
		if ce.Actual != actual || ce.Stream != st {
			t.Fatalf("conflict %+v: actual %d, want %d", ce, ce.Actual, actual)
		}
	}
	conflict(eventstore.StreamExists(), 0)
	conflict(eventstore.Exact(1), 0)
	MustAppend(t, s, st, eventstore.Any(), Event("problem.noted", 1))
	conflict(eventstore.NoStream(), 1)
	conflict(eventstore.Exact(2), 1)
	MustAppend(t, s, st, eventstore.StreamExists(), Event("problem.noted", 2))
	MustAppend(t, s, st, eventstore.Exact(2), Event("problem.noted", 3))
	MustAppend(t, s, st, eventstore.Any(), Event("problem.noted", 4))
	conflict(eventstore.Exact(3), 4)
	if n := len(mustReadStream(t, s, st)); n != 4 {
		t.Fatalf("stream has %d events, want 4", n)
	}
}

// testRaceOnOneStream: N goroutines race for each version; exactly one wins,
// every loser gets a conflict carrying the actual version.
func testRaceOnOneStream(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	st := Stream("problem")
	const racers, rounds = 16, 10
	for round := 0; round < rounds; round++ {
		var wins, losses int
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < racers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.Append(ctx, st, eventstore.Exact(uint64(round)), Event("problem.noted", round))
				mu.Lock()
				defer mu.Unlock()
				var ce *eventstore.ConflictError
				switch {
				case err == nil:
					wins++
				case errors.As(err, &ce) && ce.Actual == uint64(round+1):
					losses++
				default:
					t.Errorf("round %d: unexpected error %v", round, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || losses != racers-1 {
			t.Fatalf("round %d: %d wins, %d losses; want exactly 1 win", round, wins, losses)
		}
	}
	evs := mustReadStream(t, s, st)
	if len(evs) != rounds {
		t.Fatalf("%d events, want %d", len(evs), rounds)
	}
	part(t, ft, "HashChain", "VerifyStream", func(t *testing.T) {
		if err := eventstore.VerifyStream(ctx, s, st); err != nil {
			t.Fatal(err)
		}
	})
}

func testIdempotentRetry(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	st := Stream("referral")
	a, b := Event("referral.requested", 1), Event("referral.accepted", 2)
	r1 := MustAppend(t, s, st, eventstore.NoStream(), a, b)
	// Same batch again, even with an expectation that no longer holds.
	for _, ev := range []eventstore.ExpectedVersion{eventstore.NoStream(), eventstore.Any(), eventstore.Exact(0)} {
		r2, err := s.Append(ctx, st, ev, a, b)
		if err != nil || r2 != r1 {
			t.Fatalf("retry with %v = %+v, %v; want %+v", ev, r2, err, r1)
		}
	}
	// A retry of only the second event returns its own original result.
	r3, err := s.Append(ctx, st, eventstore.Exact(1), b)
	if err != nil || r3.FirstVersion != 2 || r3.LastVersion != 2 || r3.FirstPosition != r1.LastPosition {
		t.Fatalf("retry of the second event = %+v, %v", r3, err)
	}
	if n := len(mustReadStream(t, s, st)); n != 2 {
		t.Fatalf("stream has %d events after retries, want 2", n)
	}
	// A "retry" that mixes a stored id with new events is not a retry.
	_, err = s.Append(ctx, st, eventstore.Any(), a, Event("referral.started", 3))
	if !errors.Is(err, eventstore.ErrDuplicateEvent) {
		t.Fatalf("mismatched retry: err = %v, want ErrDuplicateEvent", err)
	}
	if n := len(mustReadStream(t, s, st)); n != 2 {
		t.Fatalf("stream has %d events after a mismatched retry, want 2", n)
	}
}

func testIdempotentRetryAfterReopen(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	st := Stream("visit")
	a := Event("visit.recorded", "x")
	r1 := MustAppend(t, s, st, eventstore.NoStream(), a)
	s = f.Reopen(t)
	r2, err := s.Append(ctxT(t), st, eventstore.NoStream(), a)
	if err != nil || r2 != r1 {
		t.Fatalf("retry after reopen = %+v, %v; want %+v", r2, err, r1)
	}
	if n := len(mustReadStream(t, s, st)); n != 1 {
		t.Fatalf("%d events after retry, want 1", n)
	}
}

func testDuplicateIDElsewhere(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	a := Event("household.registered", 1)
	MustAppend(t, s, Stream("household"), eventstore.Any(), a)
	other := Stream("household")
	_, err := s.Append(ctxT(t), other, eventstore.Any(), a)
	if !errors.Is(err, eventstore.ErrDuplicateEvent) {
		t.Fatalf("id reused in another stream: err = %v, want ErrDuplicateEvent", err)
	}
	if n := len(mustReadStream(t, s, other)); n != 0 {
		t.Fatalf("%d events written", n)
	}
}

func testBatchAtomicity(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	used := Event("household.registered", 1)
	MustAppend(t, s, Stream("household"), eventstore.Any(), used)
	var head0 eventstore.Position
	if ft.Head {
		head0, _ = s.Head(ctx)
	}
	st := Stream("household")
	// The third event collides with a stored id: the first two must not be written.
	_, err := s.Append(ctx, st, eventstore.Any(), Event("household.registered", 1), Event("household.member_added", 2), used)
	if !errors.Is(err, eventstore.ErrDuplicateEvent) {
		t.Fatalf("err = %v, want ErrDuplicateEvent", err)
	}
	if n := len(mustReadStream(t, s, st)); n != 0 {
		t.Fatalf("%d events written by a failed batch, want 0", n)
	}
	part(t, ft, "Head", "HeadUnmoved", func(t *testing.T) {
		if head, _ := s.Head(ctx); head != head0 {
			t.Fatalf("head moved from %v to %v", head0, head)
		}
	})
	// The stream is still usable from version 0.
	MustAppend(t, s, st, eventstore.NoStream(), Event("household.registered", 1))
}

func testBadInput(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	good := Stream("household")
	MustAppend(t, s, good, eventstore.NoStream(), Event("household.registered", 1))
	var head0 eventstore.Position
	if ft.Head {
		head0, _ = s.Head(ctx)
	}
	big := Event("household.note", strings.Repeat("x", eventstore.DefaultMaxEventBytes+1))
	many := make([]eventstore.EventData, eventstore.DefaultMaxBatchEvents+1)
	for i := range many {
		many[i] = Event("household.note", i)
	}
	noID := Event("household.note", 1)
	noID.ID = uuid.Nil
	badJSON := Event("household.note", 1)
	badJSON.Data = []byte(`{"a":`)
	dup := Event("household.note", 1)
	cases := []struct {
		name   string
		stream string
		events []eventstore.EventData
		want   error
	}{
		{"empty stream", "", []eventstore.EventData{Event("a.b", 1)}, eventstore.ErrInvalidStream},
		{"no category", "household", []eventstore.EventData{Event("a.b", 1)}, eventstore.ErrInvalidStream},
		{"upper-case category", "House-1", []eventstore.EventData{Event("a.b", 1)}, eventstore.ErrInvalidStream},
		{"space in id", "household-a b", []eventstore.EventData{Event("a.b", 1)}, eventstore.ErrInvalidStream},
		{"control character", "household-a\x00", []eventstore.EventData{Event("a.b", 1)}, eventstore.ErrInvalidStream},
		{"too long", "household-" + strings.Repeat("a", eventstore.MaxStreamNameBytes), []eventstore.EventData{Event("a.b", 1)}, eventstore.ErrInvalidStream},
		{"no events", good, nil, eventstore.ErrInvalidEvent},
		{"no id", good, []eventstore.EventData{noID}, eventstore.ErrInvalidEvent},
		{"empty type", good, []eventstore.EventData{{ID: eventstore.NewID(), Data: []byte(`1`)}}, eventstore.ErrInvalidEvent},
		{"bad type", good, []eventstore.EventData{{ID: eventstore.NewID(), Type: "Problem Referred", Data: []byte(`1`)}}, eventstore.ErrInvalidEvent},
		{"invalid JSON", good, []eventstore.EventData{Event("a.b", 1), badJSON}, eventstore.ErrInvalidEvent},
		{"empty data", good, []eventstore.EventData{{ID: eventstore.NewID(), Type: "a.b"}}, eventstore.ErrInvalidEvent},
		{"oversize event", good, []eventstore.EventData{big}, eventstore.ErrEventTooLarge},
		{"too many events", good, many, eventstore.ErrBatchTooLarge},
		{"same id twice in a batch", good, []eventstore.EventData{dup, dup}, eventstore.ErrDuplicateEvent},
	}
	for _, c := range cases {
		_, err := s.Append(ctx, c.stream, eventstore.Any(), c.events...)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	part(t, ft, "Head", "HeadUnmoved", func(t *testing.T) {
		if head, _ := s.Head(ctx); head != head0 {
			t.Fatalf("bad input wrote something: head moved from %v to %v", head0, head)
		}
	})
	if _, err := s.ReadStream(ctx, "", eventstore.Forward, 1, 1); !errors.Is(err, eventstore.ErrInvalidStream) {
		t.Errorf("ReadStream(\"\") err = %v, want ErrInvalidStream", err)
	}
	if _, err := eventstore.ParsePosition("abc"); !errors.Is(err, eventstore.ErrInvalidPosition) {
		t.Errorf("ParsePosition(abc) err = %v", err)
	}
}

// collect reads n events from sub, failing on timeout.
func collect(t *testing.T, sub *eventstore.Subscription, n int, timeout time.Duration) []eventstore.Event {
	t.Helper()
	out := make([]eventstore.Event, 0, n)
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("subscription delivered %d of %d events before the timeout", len(out), n)
		}
	}
	return out
}

// checkExactlyOnce asserts that got holds every id of want exactly once, in
// strictly increasing position order.
func checkExactlyOnce(t *testing.T, got []eventstore.Event, want map[uuid.UUID]bool) {
	t.Helper()
	seen := make(map[uuid.UUID]bool, len(got))
	for i := range got {
		if i > 0 && !got[i-1].Position.Before(got[i].Position) {
			t.Fatalf("positions out of order at %d: %v then %v", i, got[i-1].Position, got[i].Position)
		}
		if seen[got[i].ID] {
			t.Fatalf("event %s delivered twice", got[i].ID)
		}
		seen[got[i].ID] = true
		if !want[got[i].ID] {
			t.Fatalf("unexpected event %s", got[i].ID)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("delivered %d distinct events, want %d", len(seen), len(want))
	}
}

func testConcurrentWritersSubscriber(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	sub, err := s.Subscribe(ctx, eventstore.Position{}, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const writers, per = 8, 60
	want := make(map[uuid.UUID]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := Stream("household")
			var version uint64
			for i := 0; i < per; i++ {
				e := Event("visit.recorded", i)
				batch := []eventstore.EventData{e}
				if i%10 == 0 {
					batch = append(batch, Event("visit.recorded", -i))
				}
				res, err := s.Append(ctx, st, eventstore.Exact(version), batch...)
				if err != nil {
					t.Errorf("writer on %s: append at version %d: %v", st, version, err)
					return
				}
				if res.LastVersion != version+uint64(len(batch)) {
					t.Errorf("writer on %s: last version %d, want %d", st, res.LastVersion, version+uint64(len(batch)))
					return
				}
				version = res.LastVersion
				mu.Lock()
				for _, b := range batch {
					want[b.ID] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(want) != writers*(per+per/10) {
		t.Fatalf("wrote %d events, want %d", len(want), writers*(per+per/10))
	}
	got := collect(t, sub, len(want), time.Minute)
	checkExactlyOnce(t, got, want)
	select {
	case e := <-sub.C:
		t.Fatalf("extra event %s after all were delivered", e.ID)
	case <-time.After(300 * time.Millisecond):
	}
}

func testCatchUpToLive(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	want := make(map[uuid.UUID]bool)
	st := Stream("problem")
	batch := make([]eventstore.EventData, 0, 100)
	for i := 0; i < 1500; i++ {
		e := Event("problem.noted", i)
		want[e.ID] = true
		batch = append(batch, e)
		if len(batch) == 100 {
			MustAppend(t, s, st, eventstore.Any(), batch...)
			batch = batch[:0]
		}
	}
	// Writers keep going while the subscriber catches up.
	var mu sync.Mutex
	var wg sync.WaitGroup
	sub, err := s.Subscribe(ctx, eventstore.Position{}, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := Stream("problem")
			for i := 0; i < 100; i++ {
				e := Event("problem.noted", i)
				mu.Lock()
				want[e.ID] = true
				mu.Unlock()
				MustAppend(t, s, st, eventstore.Any(), e)
			}
		}()
	}
	wg.Wait()
	got := collect(t, sub, len(want), time.Minute)
	checkExactlyOnce(t, got, want)
}

func testSubscribeFromMiddle(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	st := Stream("household")
	var mid eventstore.Position
	want := make(map[uuid.UUID]bool)
	for i := 0; i < 20; i++ {
		e := Event("household.note", i)
		r := MustAppend(t, s, st, eventstore.Any(), e)
		if i == 9 {
			mid = r.LastPosition
		}
		if i > 9 {
			want[e.ID] = true
		}
	}
	sub, err := s.Subscribe(ctx, mid, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, sub, 10, 30*time.Second)
	checkExactlyOnce(t, got, want)
	sub.Close()
	if _, ok := <-sub.C; ok {
		t.Fatal("channel still open after Close")
	}
}

func testFilters(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	h, p := Stream("household"), Stream("problem")
	var wantCat, wantType []uuid.UUID
	for i := 0; i < 10; i++ {
		e1, e2 := Event("household.note", i), Event("problem.resolved", i)
		MustAppend(t, s, h, eventstore.Any(), e1)
		MustAppend(t, s, p, eventstore.Any(), e2)
		wantCat = append(wantCat, e1.ID)
		wantType = append(wantType, e2.ID)
	}
	check := func(filter eventstore.Filter, want []uuid.UUID) {
		t.Helper()
		sub, err := s.Subscribe(ctx, eventstore.Position{}, filter)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		got := collect(t, sub, len(want), 30*time.Second)
		for i := range want {
			if got[i].ID != want[i] {
				t.Fatalf("filter %+v: event %d = %s (%s), want %s", filter, i, got[i].ID, got[i].Type, want[i])
			}
		}
		select {
		case e := <-sub.C:
			t.Fatalf("filter %+v let through %s %s", filter, e.Stream, e.Type)
		case <-time.After(300 * time.Millisecond):
		}
	}
	check(eventstore.Filter{Categories: []string{"household"}}, wantCat)
	check(eventstore.Filter{Types: []string{"problem.resolved"}}, wantType)
	check(eventstore.Filter{Categories: []string{"household"}, Types: []string{"problem.resolved"}}, nil)
}

func testTamper(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	st := Stream("problem")
	other := Stream("problem")
	for i := 0; i < 5; i++ {
		MustAppend(t, s, st, eventstore.Any(), Event("problem.noted", i))
		MustAppend(t, s, other, eventstore.Any(), Event("problem.noted", i))
	}
	if err := eventstore.VerifyStream(ctx, s, st); err != nil {
		t.Fatalf("verify before tampering: %v", err)
	}
	f.Tamper(t, st, 3)
	err := eventstore.VerifyStream(ctx, s, st)
	var ce *eventstore.ChainError
	if !errors.As(err, &ce) || ce.Version != 3 || ce.Stream != st {
		t.Fatalf("verify after tampering with version 3: %v", err)
	}
	if err := eventstore.VerifyStream(ctx, s, other); err != nil {
		t.Fatalf("untouched stream: %v", err)
	}
	_, err = eventstore.VerifyAll(ctx, s, nil)
	if !errors.As(err, &ce) || ce.Version != 3 || ce.Stream != st {
		t.Fatalf("VerifyAll after tampering: %v", err)
	}
}

func testRoundTrip(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	st := Stream("household")
	zh := Event("household.registered", map[string]string{"name": "张奶奶", "address": "幸福里社区3栋2单元601", "note": "独居老人，子女在外地 🙂"})
	zh.Metadata.Actor = "网格员-李明"
	zh.Metadata.Community = "幸福里社区"
	// A 1 MiB payload with odd spacing and escapes the store must not normalise.
	raw := []byte(`{ "blob" : "` + strings.Repeat("数据\\u00e9 ", 1<<20/12) + `" ,"n":1.50 }`)
	bigEv := eventstore.EventData{ID: eventstore.NewID(), Type: "visit.attachment_noted", Data: raw, SchemaVersion: 3}
	if len(raw) < 1<<20 {
		t.Fatalf("payload only %d bytes", len(raw))
	}
	MustAppend(t, s, st, eventstore.NoStream(), zh, bigEv)
	for round := 0; round < 2; round++ {
		if round == 1 {
			s = f.Reopen(t)
		}
		evs := mustReadStream(t, s, st)
		if len(evs) != 2 {
			t.Fatalf("%d events", len(evs))
		}
		if !bytes.Equal(evs[0].Data, zh.Data) || evs[0].Metadata.Actor != "网格员-李明" || evs[0].Metadata.Community != "幸福里社区" {
			t.Fatalf("Chinese text changed: %s %+v", evs[0].Data, evs[0].Metadata)
		}
		if !bytes.Equal(evs[1].Data, raw) || evs[1].SchemaVersion != 3 {
			t.Fatalf("1 MiB payload changed (%d bytes back, want %d)", len(evs[1].Data), len(raw))
		}
		name := "VerifyStream"
		if round == 1 {
			name = "VerifyStreamAfterReopen"
		}
		part(t, ft, "HashChain", name, func(t *testing.T) {
			if err := eventstore.VerifyStream(ctxT(t), s, st); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func testReadAllPaging(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	var ids []uuid.UUID
	for i := 0; i < 25; i++ {
		e := Event("household.note", i)
		MustAppend(t, s, Stream("household"), eventstore.Any(), e)
		ids = append(ids, e.ID)
	}
	var after eventstore.Position
	var got []uuid.UUID
	for {
		page, err := s.ReadAll(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 7 {
			t.Fatalf("page of %d, limit 7", len(page))
		}
		for _, e := range page {
			got = append(got, e.ID)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Position
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("paged read differs from append order")
	}
}

func testClosed(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), Stream("household"), eventstore.Any(), Event("a.b", 1)); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// testFailuresAmongConcurrent mixes appends that must fail (a duplicate id
// in the middle of a batch, a stale expected version) with good ones, all
// at once, so backends that commit concurrent appends together must fail
// the bad ones alone and commit the rest.
func testFailuresAmongConcurrent(t *testing.T, f Fixture, ft Features) {
	s := f.Store()
	ctx := ctxT(t)
	taken := Event("problem.noted", "taken")
	MustAppend(t, s, Stream("problem"), eventstore.NoStream(), taken)
	for round := 0; round < 10; round++ {
		const n = 24
		var wg sync.WaitGroup
		results := make([]error, n)
		streams := make([]string, n)
		batches := make([][]eventstore.EventData, n)
		for i := 0; i < n; i++ {
			streams[i] = Stream("problem")
			batches[i] = []eventstore.EventData{Event("problem.noted", i), Event("problem.noted", i)}
			expected := eventstore.NoStream()
			switch i % 3 {
			case 1: // duplicate id as the second event: its first row goes in before the failure
				batches[i][1].ID = taken.ID
			case 2:
				expected = eventstore.Exact(4)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = s.Append(ctx, streams[i], expected, batches[i]...)
			}()
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			evs, err := s.ReadStream(ctx, streams[i], eventstore.Forward, 1, 10)
			if err != nil {
				t.Fatal(err)
			}
			switch i % 3 {
			case 0:
				if results[i] != nil || len(evs) != 2 {
					t.Fatalf("round %d: good append %d: %v, %d events stored", round, i, results[i], len(evs))
				}
			case 1:
				if !errors.Is(results[i], eventstore.ErrDuplicateEvent) || len(evs) != 0 {
					t.Fatalf("round %d: append %d with a taken id: %v, %d events stored (want ErrDuplicateEvent, none)", round, i, results[i], len(evs))
				}
			case 2:
				var ce *eventstore.ConflictError
				if !errors.As(results[i], &ce) || ce.Actual != 0 || len(evs) != 0 {
					t.Fatalf("round %d: append %d at a wrong version: %v, %d events stored", round, i, results[i], len(evs))
				}
			}
		}
	}
}
