// Package cloudevent turns a recorded event of the log into a CloudEvents
// 1.0 event (github.com/cloudevents/sdk-go/v2), the one form in which
// Doorstep hands events to other systems: the broker relay (package relay)
// publishes it in structured mode, and a webhook sender posts the same bytes.
//
// The mapping (decision 0079):
//
//   - id: the event id (a UUID), so consumers de-duplicate by it;
//   - source: the configured source, a URI reference naming this Doorstep
//     installation (default "urn:doorstep");
//   - type: "cn.doorstep." + the durable type + ".v" + the schema version,
//     e.g. "cn.doorstep.visit.recorded.v1" (Type);
//   - subject: the stream, e.g. "household-42";
//   - time: when it happened (the envelope's occurred-at);
//   - dataschema: the event's JSON Schema, <schema base>/v1/schemas/<type>;
//   - datacontenttype: application/json;
//   - extensions: recordedtime (when the log recorded it), position (the
//     global position token, opaque), streamversion, community and grid
//     (when the event carries them), correlationid and causationid;
//   - data: the event's data with every sealed value (domain.Sealed, an
//     object with a "ciphertext" member) replaced by {"sealed": true}
//     (Redact). Nothing sealed ever leaves as ciphertext, nor in clear
//     except through StructuredOpened, for a webhook subscription an
//     administrator granted the sealed fields (decision 0106).
package cloudevent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// TypePrefix starts every CloudEvents type Doorstep publishes.
const TypePrefix = "cn.doorstep."

// ContentType is the media type of a structured-mode CloudEvent in JSON.
const ContentType = "application/cloudevents+json; charset=utf-8"

// DefaultSource is the source when none is configured.
const DefaultSource = "urn:doorstep"

// Extension attribute names (lower-case letters and digits, at most 20
// characters, as the specification requires).
const (
	ExtRecordedTime  = "recordedtime"
	ExtPosition      = "position"
	ExtStreamVersion = "streamversion"
	ExtCommunity     = "community"
	ExtGrid          = "grid"
	ExtCorrelationID = "correlationid"
	ExtCausationID   = "causationid"
)

// Type returns the CloudEvents type of a durable event type and schema
// version: "visit.recorded", 1 gives "cn.doorstep.visit.recorded.v1". A
// schema version below 1 is read as 1, as the store does.
func Type(eventType string, schemaVersion int) string {
	if schemaVersion < 1 {
		schemaVersion = 1
	}
	return TypePrefix + eventType + ".v" + strconv.Itoa(schemaVersion)
}

// ParseType is the inverse of Type: it returns the durable event type and
// schema version, or ok false when t is not a Doorstep type.
func ParseType(t string) (eventType string, schemaVersion int, ok bool) {
	rest, found := strings.CutPrefix(t, TypePrefix)
	if !found {
		return "", 0, false
	}
	i := strings.LastIndex(rest, ".v")
	if i <= 0 {
		return "", 0, false
	}
	v, err := strconv.Atoi(rest[i+2:])
	if err != nil || v < 1 || strconv.Itoa(v) != rest[i+2:] {
		return "", 0, false
	}
	return rest[:i], v, true
}

// SchemaPath is the path, below a server's base URL, of the JSON Schema of
// a CloudEvents type.
func SchemaPath(ceType string) string { return "/v1/schemas/" + ceType }

// Encoder builds CloudEvents from recorded events. The zero value is not
// usable; use NewEncoder. An Encoder is safe for concurrent use.
type Encoder struct {
	source     string
	schemaBase string
	erased     ErasureCheck
}

// ErasureCheck reports whether the key a value of household householdID
// was sealed with (keyID) has been destroyed (keystore.Vault.Erased).
type ErasureCheck func(householdID, keyID string) bool

// WithErasure returns a copy of c that publishes a sealed value whose key
// was destroyed as {"erased":true} instead of {"sealed":true} (issue 14:
// after an erasure, every message shows the fields as erased).
func (c *Encoder) WithErasure(check ErasureCheck) *Encoder {
	cp := *c
	cp.erased = check
	return &cp
}

// NewEncoder returns an encoder for source (empty: DefaultSource) whose
// dataschema URLs start with schemaBase, the server's base URL such as
// "http://127.0.0.1:8080" (empty: no dataschema). It fails with a message
// saying what to fix when either is not a valid URI.
func NewEncoder(source, schemaBase string) (*Encoder, error) {
	if source == "" {
		source = DefaultSource
	}
	schemaBase = strings.TrimRight(schemaBase, "/")
	probe := cloudevents.New()
	probe.SetID("probe")
	probe.SetType(Type("probe.checked", 1))
	probe.SetSource(source)
	if schemaBase != "" {
		probe.SetDataSchema(schemaBase + SchemaPath(Type("probe.checked", 1)))
	}
	err := probe.Validate()
	for _, u := range []string{source, schemaBase} {
		if _, perr := url.Parse(u); err == nil && (perr != nil || strings.ContainsFunc(u, unicode.IsSpace)) {
			err = fmt.Errorf("%q is not a URI", u)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cloudevent: source %q or schema base %q is not usable (%v); give a URI such as \"urn:doorstep:city\" and a base URL such as \"https://doorstep.example.org\" / 事件来源或模式地址无效", source, schemaBase, err)
	}
	return &Encoder{source: source, schemaBase: schemaBase}, nil
}

// Source returns the encoder's source attribute.
func (c *Encoder) Source() string { return c.source }

// Event returns ev as a CloudEvent, its sealed values redacted.
func (c *Encoder) Event(ev *eventstore.Event) (cloudevents.Event, error) {
	var mark func(keyID string) json.RawMessage
	if hh, ok := strings.CutPrefix(ev.Stream, "household-"); ok && c.erased != nil {
		mark = func(keyID string) json.RawMessage {
			if keyID != "" && c.erased(hh, keyID) {
				return erasedMarker
			}
			return sealedMarker
		}
	}
	data, _, err := redact(ev.Data, mark)
	if err != nil {
		return cloudevents.Event{}, fmt.Errorf("cloudevent: event %s (%s) at %s: %w", ev.ID, ev.Type, ev.Position, err)
	}
	return c.event(ev, data)
}

// event builds the CloudEvent of ev with data as its (already redacted or
// opened) data.
func (c *Encoder) event(ev *eventstore.Event, data json.RawMessage) (cloudevents.Event, error) {
	out := cloudevents.New()
	t := Type(ev.Type, ev.SchemaVersion)
	out.SetID(ev.ID.String())
	out.SetSource(c.source)
	out.SetType(t)
	out.SetSubject(ev.Stream)
	if !ev.Metadata.OccurredAt.IsZero() {
		out.SetTime(ev.Metadata.OccurredAt)
	}
	if c.schemaBase != "" {
		out.SetDataSchema(c.schemaBase + SchemaPath(t))
	}
	out.SetExtension(ExtRecordedTime, ev.RecordedAt)
	out.SetExtension(ExtPosition, ev.Position.String())
	if ev.Version <= math.MaxInt32 {
		out.SetExtension(ExtStreamVersion, int32(ev.Version))
	}
	m := &ev.Metadata
	for _, x := range []struct{ name, value string }{{ExtCommunity, m.Community}, {ExtGrid, m.Grid},
		{ExtCorrelationID, m.CorrelationID}, {ExtCausationID, m.CausationID}} {
		if x.value != "" {
			out.SetExtension(x.name, x.value)
		}
	}
	out.DataEncoded = data
	out.SetDataContentType("application/json")
	if err := out.Validate(); err != nil {
		return cloudevents.Event{}, fmt.Errorf("cloudevent: event %s (%s) at %s: %w", ev.ID, ev.Type, ev.Position, err)
	}
	return out, nil
}

// Structured returns ev as a structured-mode CloudEvent in JSON (media type
// ContentType), the body the relay publishes and a webhook posts.
func (c *Encoder) Structured(ev *eventstore.Event) ([]byte, error) {
	ce, err := c.Event(ev)
	if err != nil {
		return nil, err
	}
	// The SDK's own encoder, not json.Marshal: that would call it and then
	// scan and copy the whole body again to compact and check it (a fifth
	// of the relay's CPU). The data is valid JSON already (the store checks
	// it on append; redacting re-encodes it).
	return ce.MarshalJSON()
}

// StructuredOpened is Structured for a receiver granted the sealed fields
// (a webhook subscription with a grant, decision 0106): each sealed value
// of a household's event is opened with o (domain.Reveal, as the event
// stream does for a reveal) and published as {"value": "..."}, or
// {"erased": true} once its key is destroyed; sealed values of other
// streams stay markers. It returns how many values it opened (erased ones
// included): the caller records the reveal when that is above zero, before
// the body leaves.
func (c *Encoder) StructuredOpened(ctx context.Context, o domain.Opener, ev *eventstore.Event) ([]byte, int, error) {
	hh, ok := strings.CutPrefix(ev.Stream, "household-")
	if !ok || hh == "" || o == nil || !bytes.Contains(ev.Data, []byte(`"ciphertext"`)) {
		b, err := c.Structured(ev)
		return b, 0, err
	}
	data, n, err := open(ctx, o, hh, ev.Data)
	if err != nil {
		return nil, 0, fmt.Errorf("cloudevent: event %s (%s) at %s: %w", ev.ID, ev.Type, ev.Position, err)
	}
	ce, err := c.event(ev, data)
	if err != nil {
		return nil, 0, err
	}
	b, err := ce.MarshalJSON()
	return b, n, err
}

// open replaces every sealed value in data with its opened form.
func open(ctx context.Context, o domain.Opener, householdID string, data json.RawMessage) (json.RawMessage, int, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, 0, fmt.Errorf("the data is not JSON: %w", err)
	}
	n := 0
	var walk func(any) (any, error)
	walk = func(x any) (any, error) {
		switch x := x.(type) {
		case map[string]any:
			if ct, ok := x["ciphertext"]; ok {
				var s domain.Sealed
				s.KeyID, _ = x["key_id"].(string)
				b, _ := json.Marshal(ct)
				if err := json.Unmarshal(b, &s.Ciphertext); err != nil {
					return sealedMarker, nil
				}
				rv, err := domain.Reveal(ctx, o, householdID, s)
				if err != nil {
					return nil, err
				}
				n++
				if rv.Erased {
					return erasedMarker, nil
				}
				return map[string]any{"value": rv.Value}, nil
			}
			for k, e := range x {
				ne, err := walk(e)
				if err != nil {
					return nil, err
				}
				x[k] = ne
			}
		case []any:
			for i, e := range x {
				ne, err := walk(e)
				if err != nil {
					return nil, err
				}
				x[i] = ne
			}
		}
		return x, nil
	}
	nv, err := walk(v)
	if err != nil {
		return nil, 0, err
	}
	b, err := json.Marshal(nv)
	return b, n, err
}

// sealedMarker replaces a sealed value.
var sealedMarker = json.RawMessage(`{"sealed":true}`)

// Redact returns data with every sealed value (a JSON object with a
// "ciphertext" member, i.e. domain.Sealed) replaced by {"sealed": true}, and
// how many it replaced. Data without sealed values is returned as it is.
// Numbers keep their exact text.
func Redact(data json.RawMessage) (json.RawMessage, int, error) { return redact(data, nil) }

// erasedMarker replaces a sealed value whose key was destroyed.
var erasedMarker = json.RawMessage(`{"erased":true}`)

// redact is Redact with mark, when not nil, choosing the marker of a value
// by its key id.
func redact(data json.RawMessage, mark func(keyID string) json.RawMessage) (json.RawMessage, int, error) {
	if !bytes.Contains(data, []byte(`"ciphertext"`)) {
		return data, 0, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, 0, fmt.Errorf("the data is not JSON: %w", err)
	}
	n := 0
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			if _, ok := x["ciphertext"]; ok {
				n++
				if mark != nil {
					keyID, _ := x["key_id"].(string)
					return mark(keyID)
				}
				return sealedMarker
			}
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		}
		return x
	}
	v = walk(v)
	b, err := json.Marshal(v)
	return b, n, err
}
