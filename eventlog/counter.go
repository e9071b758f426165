package eventlog

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
)

// TypeProblemNumberAllocated is the event type of the problem-number
// counter streams (CounterStream). It is not a domain event: projections
// may skip the "counter" category.
const TypeProblemNumberAllocated = "counter.problem_number_allocated"

// NumberAllocated is the data of a TypeProblemNumberAllocated event (its
// JSON Schema in the event catalogue is reflected from it).
type NumberAllocated struct {
	Year      int    `json:"year"`
	Number    string `json:"number"` // e.g. WT2026000042
	ProblemID string `json:"problem_id"`
}

// CounterStream is the stream whose version is the last problem number
// allocated in year (decision 0011).
func CounterStream(year int) string { return fmt.Sprintf("counter-problemno_%d", year) }

// ProblemNumber formats the ledger number of the seq-th problem of year.
func ProblemNumber(year, seq int) string { return fmt.Sprintf("WT%04d%06d", year, seq) }

// EncodeNumberAllocated is the envelope of the counter event that allocates
// the seq-th problem number of year to problemID: the one place the command
// layer and the synthetic town build it. md carries no community, grid or
// key id (a counter belongs to no one).
func EncodeNumberAllocated(id uuid.UUID, year, seq int, problemID string, md eventstore.Metadata) (eventstore.EventData, error) {
	data, err := json.Marshal(NumberAllocated{year, ProblemNumber(year, seq), problemID})
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("eventlog: encode %s: %w", TypeProblemNumberAllocated, err)
	}
	md.Community, md.Grid, md.KeyID = "", "", ""
	return eventstore.EventData{ID: id, Type: TypeProblemNumberAllocated, SchemaVersion: SchemaVersion, Data: data, Metadata: md}, nil
}
