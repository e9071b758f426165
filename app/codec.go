// Package app is Doorstep's command layer: it loads an aggregate by folding
// its stream, runs a domain command, and appends the resulting events with
// optimistic concurrency. It also converts between domain events and store
// envelopes.
package app

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// SchemaVersion is the schema version written with every domain event.
const SchemaVersion = 1

// Encode wraps a domain event payload in a store envelope with the given id
// and metadata.
func Encode(id uuid.UUID, e domain.Event, md eventstore.Metadata) (eventstore.EventData, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("app: encode %s: %w", e.EventType(), err)
	}
	return eventstore.EventData{ID: id, Type: e.EventType(), SchemaVersion: SchemaVersion, Data: data, Metadata: md}, nil
}

// Decode turns a stored event into a domain.Recorded for folding.
func Decode(reg *domain.Registry, e *eventstore.Event) (domain.Recorded, error) {
	ev, err := reg.Decode(e.Type, e.Data)
	if err != nil {
		return domain.Recorded{}, fmt.Errorf("app: %s version %d (position %s): %w", e.Stream, e.Version, e.Position, err)
	}
	return domain.Recorded{Version: e.Version, RecordedAt: e.RecordedAt, Event: ev}, nil
}
