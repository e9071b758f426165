package eventschema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventschema"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/town"
)

// Every event of a synthetic town (the demo's generator, with sealed
// fields), as published (sealed values redacted), validates against the
// schema of its CloudEvents type; every type of the registry has one; and
// a wrong value is refused, so the schemas are not vacuous.
func TestTownEventsMatchTheirSchemas(t *testing.T) {
	ctx := context.Background()
	reg := domain.NewRegistry()
	cat, err := eventschema.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Entries()) != len(reg.Types())+1 { // and the problem-number counter
		t.Fatalf("%d schemas for %d event types", len(cat.Entries()), len(reg.Types()))
	}
	comp := jsonschema.NewCompiler()
	compiled := map[string]*jsonschema.Schema{}
	for _, e := range cat.Entries() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(e.Schema))
		if err != nil {
			t.Fatal(err)
		}
		url := "https://doorstep.test" + cloudevent.SchemaPath(e.Type)
		if err := comp.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		if compiled[e.Type], err = comp.Compile(url); err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
	}

	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := keystore.OpenFileStore(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := town.DefaultConfig(11, 60)
	cfg.Sealer = keystore.New(keys, keystore.Config{})
	if _, err := town.Write(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
	var after eventstore.Position
	seen, sealed, n := map[string]int{}, 0, 0
	var rawSealed *eventstore.Event
	for {
		page, err := st.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i := range page {
			ev := &page[i]
			ceType := cloudevent.Type(ev.Type, ev.SchemaVersion)
			sch := compiled[ceType]
			if sch == nil {
				t.Fatalf("event %s at %s: no schema for %s", ev.ID, ev.Position, ceType)
			}
			data, k, err := cloudevent.Redact(ev.Data)
			if err != nil {
				t.Fatal(err)
			}
			sealed += k
			if k > 0 && rawSealed == nil {
				rawSealed = ev
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err != nil {
				t.Fatalf("event %s (%s) at %s does not match its schema: %v\n%s", ev.ID, ev.Type, ev.Position, err, data)
			}
			seen[ev.Type]++
			n++
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Position
	}
	if sealed == 0 || len(seen) < 10 {
		t.Fatalf("the town had %d sealed values and %d event types; the test needs both", sealed, len(seen))
	}
	t.Logf("%d events of %d types validated (%d sealed values as markers)", n, len(seen), sealed)

	// Not vacuous: the same event with its ciphertext instead of the
	// marker, or a number where a string belongs, is refused.
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(rawSealed.Data))
	if err != nil {
		t.Fatal(err)
	}
	if err := compiled[cloudevent.Type(rawSealed.Type, 1)].Validate(v); err == nil {
		t.Fatalf("a %s carrying ciphertext validated: %s", rawSealed.Type, rawSealed.Data)
	}
	var bad map[string]any
	_ = json.Unmarshal([]byte(`{"household_id": 42}`), &bad)
	if err := compiled[cloudevent.Type(domain.TypeHouseholdRegistered, 1)].Validate(bad); err == nil {
		t.Fatal("a household.registered with a numeric household_id validated")
	}
}
