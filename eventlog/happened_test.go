package eventlog

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// TestEveryEventThatSaysWhenItHappenedDatesItsEnvelope (issue 20 item 2):
// an event whose payload records when the thing happened — a top-level
// instant named "…_at" other than "at" (the command's time) and
// "recorded_at" (the entry's time): a visit's occurred_at, an interview's
// held_at — implements domain.Happened with that instant, so Encode dates
// the envelope when it happened on every path, not when it was typed in.
func TestEveryEventThatSaysWhenItHappenedDatesItsEnvelope(t *testing.T) {
	reg := domain.NewRegistry()
	timeType := reflect.TypeOf(time.Time{})
	happened, entered := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC), time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	found := 0
	for _, typ := range reg.Types() {
		ev, err := reg.Decode(typ, []byte(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		rt := reflect.TypeOf(ev)
		if rt.Kind() != reflect.Struct {
			continue
		}
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Type != timeType || !strings.HasSuffix(name, "_at") || name == "recorded_at" {
				continue
			}
			found++
			v := reflect.New(rt).Elem()
			v.Set(reflect.ValueOf(ev))
			v.Field(i).Set(reflect.ValueOf(happened))
			if at := v.FieldByName("At"); at.IsValid() && at.Type() == timeType {
				at.Set(reflect.ValueOf(entered))
			}
			e := v.Interface().(domain.Event)
			if _, ok := e.(domain.Happened); !ok {
				t.Errorf("%s records when it happened (%s) but is not domain.Happened", typ, name)
				continue
			}
			d, err := Encode(uuid.New(), e, eventstore.Metadata{OccurredAt: entered})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Metadata.OccurredAt.Equal(happened) {
				t.Errorf("%s: the envelope says %s, the %s is %s", typ, d.Metadata.OccurredAt, name, happened)
			}
		}
	}
	if found < 2 {
		t.Fatalf("only %d instants of when something happened found: the test reads nothing", found)
	}
}
