// Package eventschema is the event catalogue: a JSON Schema (draft 2020-12)
// for the data of every event type and schema version Doorstep publishes,
// generated from the Go payload types of the domain registry
// (github.com/invopop/jsonschema), so it cannot drift from them. Each
// schema describes the data as integrators receive it (package
// cloudevent): a sealed value appears as {"sealed": true}, or, for a
// holder of the sensitive grant on the server-sent stream, as {"value":
// "…"} or {"erased": true}.
//
// The HTTP API serves the catalogue at /v1/schemas and each schema at
// /v1/schemas/{type}, where type is the CloudEvents type
// ("cn.doorstep.visit.recorded.v1"); a CloudEvent's dataschema points there.
package eventschema

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// Entry is one event type and version of the catalogue.
type Entry struct {
	Type          string          `json:"type"`           // CloudEvents type, e.g. cn.doorstep.visit.recorded.v1
	EventType     string          `json:"event_type"`     // durable type in the log, e.g. visit.recorded
	SchemaVersion int             `json:"schema_version"` // version of the data
	Schema        json.RawMessage `json:"-"`
}

// Catalogue holds every entry, sorted by type. It is read-only.
type Catalogue struct {
	entries []Entry
	byType  map[string]int
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
)

// sealedSchema is what a domain.Sealed value becomes when published.
var sealedSchema = &jsonschema.Schema{
	Description: "a sensitive value, never published in clear: {\"sealed\": true}, or for a holder of the sensitive grant {\"value\": \"…\"} or {\"erased\": true} / 敏感字段",
	OneOf: []*jsonschema.Schema{
		objectWith("sealed", &jsonschema.Schema{Const: true}),
		objectWith("value", &jsonschema.Schema{Type: "string"}),
		objectWith("erased", &jsonschema.Schema{Const: true}),
	},
}

func objectWith(name string, s *jsonschema.Schema) *jsonschema.Schema {
	props := jsonschema.NewProperties()
	props.Set(name, s)
	return &jsonschema.Schema{Type: "object", Properties: props, Required: []string{name}, AdditionalProperties: jsonschema.FalseSchema}
}

// New builds the catalogue of every type in reg and of the problem-number
// counter's event (all at schema version 1, the only version written
// today).
func New(reg *domain.Registry) (*Catalogue, error) {
	r := &jsonschema.Reflector{
		// Newer writers may add fields (the registry ignores unknown ones).
		AllowAdditionalProperties: true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			switch {
			case t == reflect.TypeFor[domain.Sealed]():
				return sealedSchema
			case t == reflect.TypeFor[time.Time]():
				return nil // the reflector's date-time
			case t.Implements(textMarshaler) && !t.Implements(jsonMarshaler):
				return &jsonschema.Schema{Type: "string"} // e.g. domain.Span: "3 working_days"
			}
			return nil
		},
	}
	c := &Catalogue{byType: map[string]int{}}
	types := map[string]reflect.Type{
		// Not a domain event: the problem-number counter (decision 0011).
		command.TypeProblemNumberAllocated: reflect.TypeFor[command.ProblemNumberAllocated](),
	}
	for _, et := range reg.Types() {
		ev, err := reg.Decode(et, []byte("{}"))
		if err != nil {
			return nil, fmt.Errorf("eventschema: the payload type of %s: %w", et, err)
		}
		types[et] = reflect.TypeOf(ev)
	}
	for et, t := range types {
		s := r.ReflectFromType(t)
		ceType := cloudevent.Type(et, 1)
		s.ID = jsonschema.ID(cloudevent.SchemaPath(ceType))
		s.Title = ceType
		s.Description = fmt.Sprintf("The data of a %s event (schema version 1), as published: sealed values as markers.", et)
		b, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("eventschema: %s: %w", et, err)
		}
		c.entries = append(c.entries, Entry{Type: ceType, EventType: et, SchemaVersion: 1, Schema: b})
	}
	sort.Slice(c.entries, func(i, j int) bool { return c.entries[i].Type < c.entries[j].Type })
	for i, e := range c.entries {
		c.byType[e.Type] = i
	}
	return c, nil
}

// Entries returns every entry, sorted by type.
func (c *Catalogue) Entries() []Entry { return c.entries }

// Schema returns the JSON Schema of a CloudEvents type, or false.
func (c *Catalogue) Schema(ceType string) (json.RawMessage, bool) {
	i, ok := c.byType[ceType]
	if !ok {
		return nil, false
	}
	return c.entries[i].Schema, true
}
