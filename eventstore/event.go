package eventstore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
)

// Metadata is the part of the envelope that describes who did what, when and
// why. It is written by the caller and stored verbatim.
type Metadata struct {
	OccurredAt    time.Time `json:"occurred_at"`              // domain time: when it happened
	Actor         string    `json:"actor,omitempty"`          // who issued the command
	Role          string    `json:"role,omitempty"`           // the actor's role
	CommandID     string    `json:"command_id,omitempty"`     // the command that produced the event
	CorrelationID string    `json:"correlation_id,omitempty"` // the conversation this belongs to
	CausationID   string    `json:"causation_id,omitempty"`   // the event or command that caused it
	Community     string    `json:"community,omitempty"`      // for scoped access
	Grid          string    `json:"grid,omitempty"`           // for scoped access
	KeyID         string    `json:"key_id,omitempty"`         // data key of encrypted fields, if any
}

// EventData is an event to append: the write side of the envelope.
type EventData struct {
	// ID identifies the event and is the idempotency key: appending an
	// event whose ID is already in the stream returns the original result.
	// Writers choose it (UUIDv7 recommended, see NewID). Required.
	ID uuid.UUID
	// Type is a durable name such as "problem.referred".
	Type string
	// SchemaVersion of Data; 0 is read as 1.
	SchemaVersion int
	// Data is the JSON payload. Stored and returned byte for byte.
	Data     json.RawMessage
	Metadata Metadata
}

// Event is a recorded event: the read side of the envelope.
type Event struct {
	ID            uuid.UUID
	Stream        string
	Version       uint64   // 1 for the first event of a stream
	Position      Position // global position, assigned by the store
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      Metadata
	RecordedAt    time.Time // store time, UTC
	Hash          [32]byte  // sha256(previous hash || canonical bytes)
}

// Category is the part of the stream name before the first '-', e.g.
// "household" for "household-0192…".
func (e *Event) Category() string { return Category(e.Stream) }

// Category returns the category of a stream name: the text before its first '-'.
func Category(stream string) string {
	c, _, _ := strings.Cut(stream, "-")
	return c
}

// NewID returns a new UUIDv7 event id (time-ordered, random).
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Limits bound what one append may carry. Zero fields take the defaults.
type Limits struct {
	MaxEventBytes  int // data + metadata strings of one event; default 2 MiB
	MaxBatchEvents int // events in one append; default 1000
}

// Default limits.
const (
	DefaultMaxEventBytes  = 2 << 20
	DefaultMaxBatchEvents = 1000
	MaxStreamNameBytes    = 200
	MaxTypeBytes          = 128
)

// WithDefaults returns l with zero fields replaced by the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = DefaultMaxEventBytes
	}
	if l.MaxBatchEvents <= 0 {
		l.MaxBatchEvents = DefaultMaxBatchEvents
	}
	return l
}

// ValidateStreamName checks that name is "category-id": a category of
// lower-case ASCII letters, digits and '_' starting with a letter, a '-',
// then an id that follows the domain's one id rule (domain.CheckID: at most
// domain.MaxIDBytes bytes of UTF-8, no spaces, control or format
// characters, no '/', not "." or ".."); at most MaxStreamNameBytes bytes
// in all. Its errors quote at most domain.MaxEchoBytes of the name.
func ValidateStreamName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: the stream name is empty; use \"category-id\", e.g. \"household-42\"", ErrInvalidStream)
	}
	if len(name) > MaxStreamNameBytes {
		return fmt.Errorf("%w: the stream name is %d bytes long; at most %d are allowed", ErrInvalidStream, len(name), MaxStreamNameBytes)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: the stream name is not valid UTF-8", ErrInvalidStream)
	}
	q := domain.Clip(name, domain.MaxEchoBytes)
	cat, id, ok := strings.Cut(name, "-")
	if !ok || cat == "" || id == "" {
		return fmt.Errorf("%w: %q has no category; use \"category-id\", e.g. \"household-42\"", ErrInvalidStream, q)
	}
	for i, r := range cat {
		if !(r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '_')) {
			return fmt.Errorf("%w: category %q must be lower-case letters, digits and '_', starting with a letter", ErrInvalidStream, domain.Clip(cat, domain.MaxEchoBytes))
		}
	}
	if err := domain.CheckID("stream", id); err != nil {
		var de *domain.Error
		errors.As(err, &de)
		return fmt.Errorf("%w: %s", ErrInvalidStream, de.Message)
	}
	return nil
}

// ValidateEventType checks a durable event type name: dot-separated parts of
// lower-case letters, digits and '_', e.g. "problem.referred".
func ValidateEventType(t string) error {
	if t == "" {
		return fmt.Errorf("%w: the event type is empty; use a dotted name such as \"problem.referred\"", ErrInvalidEvent)
	}
	if len(t) > MaxTypeBytes {
		return fmt.Errorf("%w: the event type is longer than %d bytes", ErrInvalidEvent, MaxTypeBytes)
	}
	parts := strings.Split(t, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%w: event type %q has an empty part", ErrInvalidEvent, t)
		}
		for i, r := range p {
			if !(r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '_')) {
				return fmt.Errorf("%w: event type %q must be lower-case letters, digits and '_' separated by dots", ErrInvalidEvent, t)
			}
		}
	}
	return nil
}

// ValidateAppend checks an append request before anything is written. It
// returns an error wrapping ErrInvalidStream, ErrInvalidEvent,
// ErrEventTooLarge or ErrBatchTooLarge; events with equal ids in one batch
// are ErrDuplicateEvent.
func ValidateAppend(stream string, events []EventData, lim Limits) error {
	lim = lim.WithDefaults()
	if err := ValidateStreamName(stream); err != nil {
		return err
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: an append needs at least one event", ErrInvalidEvent)
	}
	if len(events) > lim.MaxBatchEvents {
		return fmt.Errorf("%w: %d events, at most %d are allowed; split the append", ErrBatchTooLarge, len(events), lim.MaxBatchEvents)
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		e := &events[i]
		if e.ID == uuid.Nil {
			return fmt.Errorf("%w: event %d has no id; give every event a UUID (eventstore.NewID)", ErrInvalidEvent, i)
		}
		if _, dup := seen[e.ID]; dup {
			return fmt.Errorf("%w: event id %s appears twice in one append", ErrDuplicateEvent, e.ID)
		}
		seen[e.ID] = struct{}{}
		if err := ValidateEventType(e.Type); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if e.SchemaVersion < 0 {
			return fmt.Errorf("%w: event %d has a negative schema version", ErrInvalidEvent, i)
		}
		if size := eventSize(e); size > lim.MaxEventBytes {
			return fmt.Errorf("%w: event %d (%s) is %d bytes, at most %d are allowed; store large files elsewhere and keep a reference", ErrEventTooLarge, i, e.Type, size, lim.MaxEventBytes)
		}
		if len(e.Data) == 0 || !json.Valid(e.Data) {
			return fmt.Errorf("%w: event %d (%s) data is not valid JSON", ErrInvalidEvent, i, e.Type)
		}
		m := &e.Metadata
		for _, s := range []string{m.Actor, m.Role, m.CommandID, m.CorrelationID, m.CausationID, m.Community, m.Grid, m.KeyID} {
			if !utf8.ValidString(s) {
				return fmt.Errorf("%w: event %d metadata is not valid UTF-8", ErrInvalidEvent, i)
			}
		}
	}
	return nil
}

func eventSize(e *EventData) int {
	m := &e.Metadata
	return len(e.Data) + len(e.Type) + len(m.Actor) + len(m.Role) + len(m.CommandID) +
		len(m.CorrelationID) + len(m.CausationID) + len(m.Community) + len(m.Grid) + len(m.KeyID)
}

// ComputeHash returns sha256(prev || canonical bytes of e). The canonical
// bytes cover everything in the envelope except the global position (which
// some backends only learn at commit): id, stream, version, type, schema
// version, data, every metadata field, and recorded-at. Each field is
// length-prefixed, so no two different envelopes share canonical bytes.
func ComputeHash(prev [32]byte, e *Event) [32]byte {
	h := sha256.New()
	var buf [8]byte
	h.Write(prev[:])
	putBytes := func(b []byte) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(b)))
		h.Write(buf[:])
		h.Write(b)
	}
	putString := func(s string) { putBytes([]byte(s)) }
	putUint := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	putBytes(e.ID[:])
	putString(e.Stream)
	putUint(e.Version)
	putString(e.Type)
	putUint(uint64(e.SchemaVersion))
	putBytes(e.Data)
	m := &e.Metadata
	putUint(uint64(UnixNanos(m.OccurredAt)))
	putString(m.Actor)
	putString(m.Role)
	putString(m.CommandID)
	putString(m.CorrelationID)
	putString(m.CausationID)
	putString(m.Community)
	putString(m.Grid)
	putString(m.KeyID)
	putUint(uint64(UnixNanos(e.RecordedAt)))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// VerifyChain checks that events — consecutive events of one stream starting
// at version 1, or continuing from prev — link correctly. It returns a
// *ChainError for the first broken link, or nil.
func VerifyChain(prev [32]byte, events []Event) error {
	for i := range events {
		e := &events[i]
		want := ComputeHash(prev, e)
		if want != e.Hash {
			return &ChainError{Stream: e.Stream, Version: e.Version, Position: e.Position,
				Reason: "stored hash does not match the event's contents and the previous link"}
		}
		prev = e.Hash
	}
	return nil
}

// Seal fills in the stored fields of an event about to be written: stream,
// version, recorded-at and hash, from the previous link.
func Seal(prev [32]byte, stream string, version uint64, recordedAt time.Time, d *EventData) Event {
	sv := d.SchemaVersion
	if sv == 0 {
		sv = 1
	}
	e := Event{
		ID: d.ID, Stream: stream, Version: version, Type: d.Type, SchemaVersion: sv,
		Data: d.Data, Metadata: d.Metadata, RecordedAt: recordedAt.UTC(),
	}
	e.Metadata.OccurredAt = e.Metadata.OccurredAt.UTC()
	e.Hash = ComputeHash(prev, &e)
	return e
}

// UnixNanos is how backends store instants: nanoseconds since the Unix
// epoch, with the zero time stored as 0.
func UnixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNanos is the inverse of UnixNanos; it returns UTC times.
func FromUnixNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
