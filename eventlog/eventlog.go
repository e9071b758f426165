// Package eventlog is the one place where domain events meet the event
// store: it encodes a domain event into a store envelope (Encode, with the
// metadata built by Envelope), decodes a stored event back (Decode), and
// folds a stream into an aggregate (Load, Fold, and FoldDecoded and Step
// for readers that keep decoded events or look at each one). The command
// side (command), the process managers (deadline, closing, rectification),
// the read side (the audit trail, the HTTP scope resolver) and the
// synthetic town all go through it, so an envelope is built and a stream
// is folded the same way everywhere (internal/layout's tests hold every
// package to it).
//
// It imports domain and eventstore only.
package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// SchemaVersion is the schema version written with every domain event.
const SchemaVersion = 1

// Envelope is what the store keeps beside a domain event's payload: when
// it happened, who did it and in which role, the command and conversation
// it belongs to, the community and grid it concerns (for scoped readers)
// and the data key its sealed fields use.
type Envelope struct {
	At            time.Time
	Actor, Role   string
	CommandID     string
	CorrelationID string // default CommandID
	CausationID   string // default CommandID
	Community     string
	Grid          string
	KeyID         string
}

// Metadata returns the store metadata of the envelope.
func (v Envelope) Metadata() eventstore.Metadata {
	md := eventstore.Metadata{OccurredAt: v.At, Actor: v.Actor, Role: v.Role, CommandID: v.CommandID,
		CorrelationID: v.CorrelationID, CausationID: v.CausationID, Community: v.Community, Grid: v.Grid, KeyID: v.KeyID}
	if md.CorrelationID == "" {
		md.CorrelationID = v.CommandID
	}
	if md.CausationID == "" {
		md.CausationID = v.CommandID
	}
	return md
}

// Encode wraps a domain event payload in a store envelope with the given id
// and metadata. This is the one place an envelope meets its event: when the
// event records when the thing happened (domain.Happened, e.g. a visit
// entered after it took place), that instant is the envelope's OccurredAt,
// whatever md says; otherwise md's (the command's time) stays.
func Encode(id uuid.UUID, e domain.Event, md eventstore.Metadata) (eventstore.EventData, error) {
	if h, ok := e.(domain.Happened); ok {
		if at := h.HappenedAt(); !at.IsZero() {
			md.OccurredAt = at
		}
	}
	data, err := json.Marshal(e)
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("eventlog: encode %s: %w", e.EventType(), err)
	}
	return eventstore.EventData{ID: id, Type: e.EventType(), SchemaVersion: SchemaVersion, Data: data, Metadata: md}, nil
}

// Decode turns a stored event into a domain.Recorded for folding.
func Decode(reg *domain.Registry, e *eventstore.Event) (domain.Recorded, error) {
	ev, err := reg.Decode(e.Type, e.Data)
	if err != nil {
		return domain.Recorded{}, fmt.Errorf("eventlog: %s version %d (position %s): %w", e.Stream, e.Version, e.Position, err)
	}
	return domain.Recorded{Version: e.Version, RecordedAt: e.RecordedAt, Event: ev}, nil
}

// Loaded is what folding a stream tells besides the aggregate.
type Loaded struct {
	Version uint64              // the version of the last event folded (0: none)
	Last    eventstore.Metadata // metadata of the last event folded
}

// Unknown is the domain event an event type this build does not know folds
// as: it only advances the aggregate's version.
type Unknown struct{ Type string }

// EventType implements domain.Event.
func (u Unknown) EventType() string { return u.Type }

// pageSize is how many events Load reads at a time.
const pageSize = 1000

// Load folds stream into agg up to as (the zero AsOf: everything), reading
// it from r page by page (see Fold). An aggregate with no events is left
// empty, not an error. Errors are storage errors or events that no longer
// decode.
func Load(ctx context.Context, r StreamReader, reg *domain.Registry, stream string, agg domain.Aggregate, as domain.AsOf) (Loaded, error) {
	var l Loaded
	for from := uint64(1); ; {
		evs, err := r.ReadStream(ctx, stream, eventstore.Forward, from, pageSize)
		if err != nil {
			return l, fmt.Errorf("eventlog: read %s: %w", stream, err)
		}
		got, done, err := fold(reg, agg, evs, as)
		if got.Version != 0 {
			l = got
		}
		if err != nil || done || len(evs) < pageSize {
			return l, err
		}
		from += uint64(len(evs))
	}
}

// Fold folds events of one stream, already read and in version order, into
// agg up to as: the events must continue agg's version. An event of a type
// the registry does not know folds as Unknown (a newer build wrote it).
func Fold(reg *domain.Registry, agg domain.Aggregate, evs []eventstore.Event, as domain.AsOf) (Loaded, error) {
	l, _, err := fold(reg, agg, evs, as)
	return l, err
}

func fold(reg *domain.Registry, agg domain.Aggregate, evs []eventstore.Event, as domain.AsOf) (l Loaded, done bool, err error) {
	recs := make([]domain.Recorded, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		if (as.Version != 0 && e.Version > as.Version) || (!as.RecordedAt.IsZero() && e.RecordedAt.After(as.RecordedAt)) {
			done = true
			break
		}
		rec, err := record(reg, e)
		if err != nil {
			return l, done, err
		}
		recs = append(recs, rec)
		l.Version, l.Last = e.Version, e.Metadata
	}
	return l, done, FoldDecoded(agg, streamOf(evs), recs)
}

// record decodes e for folding: an event of a type reg does not know is
// Unknown.
func record(reg *domain.Registry, e *eventstore.Event) (domain.Recorded, error) {
	if !reg.Known(e.Type) {
		return domain.Recorded{Version: e.Version, RecordedAt: e.RecordedAt, Event: Unknown{Type: e.Type}}, nil
	}
	return Decode(reg, e)
}

// FoldDecoded folds events of stream already decoded (by Decode), in
// version order and continuing agg's version, into agg. It is Fold for a
// reader that keeps decoded events, as the command layer's stream cache
// does; every fold of the module ends here.
func FoldDecoded(agg domain.Aggregate, stream string, recs []domain.Recorded) error {
	if err := domain.Fold(agg, recs, domain.AsOf{}); err != nil {
		return fmt.Errorf("eventlog: fold %s: %w", stream, err)
	}
	return nil
}

// Step folds one stored event, the next of agg's stream, into agg and
// returns it decoded (Unknown for a type reg does not know): Fold for a
// reader that looks at the aggregate after each event, as the audit trail
// does.
func Step(reg *domain.Registry, agg domain.Aggregate, e *eventstore.Event) (domain.Event, error) {
	rec, err := record(reg, e)
	if err != nil {
		return nil, err
	}
	if err := FoldDecoded(agg, e.Stream, []domain.Recorded{rec}); err != nil {
		return nil, err
	}
	return rec.Event, nil
}

func streamOf(evs []eventstore.Event) string {
	if len(evs) == 0 {
		return ""
	}
	return evs[0].Stream
}

// StreamReader reads one stream; every eventstore.Store is one.
type StreamReader interface {
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.Event, error)
}
