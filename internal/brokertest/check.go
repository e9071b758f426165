package brokertest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/doorstep/doorstep/eventstore"
)

// The brokers on this machine (see scripts/test).
const (
	NATSURL = "nats://127.0.0.1:4222"
	AMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
)

// Unique returns a name no earlier run used, so reruns see no old messages.
func Unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// CheckDelivery asserts that got holds every event of the log, at least
// once, and nothing else; per stream in the log's order once de-duplicated
// by id (the first arrival of each id counts); each with the subject, type,
// time, position and dataschema the mapping says (decision 0079); and that
// no sealed value left as ciphertext, while some left as markers
// (wantSealed).
func CheckDelivery(tb testing.TB, where string, log []eventstore.Event, got []cloudevents.Event, wantSealed bool) {
	tb.Helper()
	want := map[string]*eventstore.Event{}
	perStream := map[string][]string{}
	for i := range log {
		want[log[i].ID.String()] = &log[i]
		perStream[log[i].Stream] = append(perStream[log[i].Stream], log[i].ID.String())
	}
	seen := map[string]bool{}
	gotStream := map[string][]string{}
	sealed := 0
	for _, ev := range got {
		src, ok := want[ev.ID()]
		if !ok {
			tb.Fatalf("%s: event %s is not in the log", where, ev.ID())
		}
		if seen[ev.ID()] {
			continue
		}
		seen[ev.ID()] = true
		gotStream[ev.Subject()] = append(gotStream[ev.Subject()], ev.ID())
		wantType := "cn.doorstep." + src.Type + ".v1"
		if src.SchemaVersion > 1 {
			wantType = "cn.doorstep." + src.Type + ".v" + itoa(src.SchemaVersion)
		}
		if ev.Subject() != src.Stream || ev.Type() != wantType || !ev.Time().Equal(src.Metadata.OccurredAt) {
			tb.Fatalf("%s: event %s arrived as subject %q type %q time %s; the log has %s %s %s", where, ev.ID(), ev.Subject(), ev.Type(), ev.Time(), src.Stream, src.Type, src.Metadata.OccurredAt)
		}
		var pos string
		if err := ev.ExtensionAs("position", &pos); err != nil || pos != src.Position.String() {
			tb.Fatalf("%s: event %s has position %q (%v), want %s", where, ev.ID(), pos, err, src.Position)
		}
		if !strings.HasSuffix(ev.DataSchema(), "/v1/schemas/"+ev.Type()) {
			tb.Fatalf("%s: event %s has dataschema %q", where, ev.ID(), ev.DataSchema())
		}
		if strings.Contains(string(ev.Data()), "ciphertext") {
			tb.Fatalf("%s: event %s carries a sealed value as ciphertext: %s", where, ev.ID(), ev.Data())
		}
		if strings.Contains(string(ev.Data()), `{"sealed":true}`) {
			sealed++
		}
		if !json.Valid(ev.Data()) {
			tb.Fatalf("%s: event %s data is not JSON", where, ev.ID())
		}
	}
	if len(seen) != len(want) {
		tb.Fatalf("%s: %d distinct events arrived, the log has %d", where, len(seen), len(want))
	}
	for stream, ids := range perStream {
		if strings.Join(gotStream[stream], ",") != strings.Join(ids, ",") {
			tb.Fatalf("%s: stream %s arrived in another order than the log's:\n got %v\nwant %v", where, stream, gotStream[stream], ids)
		}
	}
	if wantSealed && sealed == 0 {
		tb.Fatalf("%s: no event carried a sealed marker; the town should have sealed fields", where)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
