package cloudevent_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/eventstore"
)

func TestTypeRoundTrip(t *testing.T) {
	for _, c := range []struct {
		typ string
		v   int
		ce  string
	}{{"visit.recorded", 1, "cn.doorstep.visit.recorded.v1"}, {"problem.reported", 0, "cn.doorstep.problem.reported.v1"},
		{"counter.problem_number_allocated", 12, "cn.doorstep.counter.problem_number_allocated.v12"}} {
		if got := cloudevent.Type(c.typ, c.v); got != c.ce {
			t.Errorf("Type(%q, %d) = %q, want %q", c.typ, c.v, got, c.ce)
		}
		typ, v, ok := cloudevent.ParseType(c.ce)
		if !ok || typ != c.typ || v != max(c.v, 1) {
			t.Errorf("ParseType(%q) = %q %d %v", c.ce, typ, v, ok)
		}
	}
	for _, bad := range []string{"visit.recorded.v1", "cn.doorstep.visit.recorded", "cn.doorstep.x.v0", "cn.doorstep.x.v01", "cn.doorstep.v1"} {
		if _, _, ok := cloudevent.ParseType(bad); ok {
			t.Errorf("ParseType(%q) accepted", bad)
		}
	}
}

// Sealed values become markers wherever they are; everything else, numbers
// included, keeps its value.
func TestRedact(t *testing.T) {
	in := `{"n":12345678901234567890,"id_number":{"key_id":"k","ciphertext":"AAAA"},"members":[{"phone":{"ciphertext":"BBBB"},"name":"张三"}],"plain":{"key_id":"k"}}`
	out, n, err := cloudevent.Redact(json.RawMessage(in))
	if err != nil || n != 2 {
		t.Fatalf("Redact: %d, %v", n, err)
	}
	s := string(out)
	if strings.Contains(s, "ciphertext") || strings.Contains(s, "AAAA") || strings.Count(s, `{"sealed":true}`) != 2 ||
		!strings.Contains(s, "12345678901234567890") || !strings.Contains(s, "张三") || !strings.Contains(s, `"plain":{"key_id":"k"}`) {
		t.Fatalf("Redact gave %s", s)
	}
	same, n, err := cloudevent.Redact(json.RawMessage(`{"a":1}`))
	if err != nil || n != 0 || string(same) != `{"a":1}` {
		t.Fatalf("Redact without sealed values: %s %d %v", same, n, err)
	}
}

// The structured-mode event carries every attribute of the mapping and
// parses back with the SDK.
func TestStructured(t *testing.T) {
	enc, err := cloudevent.NewEncoder("urn:doorstep:city", "https://doorstep.example.org/")
	if err != nil {
		t.Fatal(err)
	}
	occurred := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	ev := &eventstore.Event{ID: uuid.MustParse("0192aaaa-0000-7000-8000-000000000001"), Stream: "household-42", Version: 3,
		Position: eventstore.Position{Hi: 7, Lo: 12}, Type: "visit.recorded", SchemaVersion: 1,
		Data:       json.RawMessage(`{"summary":"ok","phone":{"key_id":"k","ciphertext":"AAAA"}}`),
		Metadata:   eventstore.Metadata{OccurredAt: occurred, Community: "竹园村", Grid: "第1网格", CorrelationID: "corr"},
		RecordedAt: occurred.Add(time.Minute)}
	b, err := enc.Structured(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got cloudevents.Event
	if !json.Valid(b) {
		t.Fatalf("not JSON: %s", b)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	ext := got.Extensions()
	if got.ID() != ev.ID.String() || got.Source() != "urn:doorstep:city" || got.Type() != "cn.doorstep.visit.recorded.v1" ||
		got.Subject() != "household-42" || !got.Time().Equal(occurred) || got.DataContentType() != "application/json" ||
		got.DataSchema() != "https://doorstep.example.org/v1/schemas/cn.doorstep.visit.recorded.v1" ||
		ext["position"] != "7.12" || ext["community"] != "竹园村" || ext["grid"] != "第1网格" || ext["correlationid"] != "corr" {
		t.Fatalf("structured event: %s", b)
	}
	var recs string
	_ = got.ExtensionAs("recordedtime", &recs)
	if rec, err := time.Parse(time.RFC3339Nano, recs); err != nil || !rec.Equal(ev.RecordedAt) {
		t.Fatalf("recordedtime %q (%v): %s", recs, err, b)
	}
	if string(got.Data()) != `{"phone":{"sealed":true},"summary":"ok"}` {
		t.Fatalf("data %s", got.Data())
	}
	if _, err := cloudevent.NewEncoder("not a uri with spaces", ""); err == nil {
		t.Fatal("a source with spaces was accepted")
	}
}

// After an erasure the relay publishes a value whose key is gone as
// {"erased":true}; another key's value stays {"sealed":true}.
func TestErasedValues(t *testing.T) {
	enc, err := cloudevent.NewEncoder("", "")
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	enc = enc.WithErasure(func(householdID, keyID string) bool {
		asked = append(asked, householdID+" "+keyID)
		return keyID == "gone"
	})
	ev := &eventstore.Event{ID: uuid.MustParse("0192aaaa-0000-7000-8000-000000000002"), Stream: "household-42", Version: 2, Type: "household.member_added", SchemaVersion: 1,
		Data: json.RawMessage(`{"name":"x","phone":{"key_id":"gone","ciphertext":"AAAA"},"health":{"key_id":"live","ciphertext":"AAAA"}}`)}
	ce, err := enc.Event(ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(ce.Data()) != `{"health":{"sealed":true},"name":"x","phone":{"erased":true}}` || len(asked) != 2 || asked[0][:3] != "42 " {
		t.Fatalf("data %s, asked %v", ce.Data(), asked)
	}
}
