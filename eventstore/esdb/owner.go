package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

// EventStoreDB holds only the events. The data keys, tokens and record of
// sensitive reads of an installation live in one place beside it (a data
// directory, or a PostgreSQL schema); two places serving one prefix would
// seal the same household with two keys and accept different tokens. The
// owner stream, Prefix+"~owner", names the place that serves the prefix:
// Claim records it on first start and refuses another (decision 0093).

// ownerType is the event type of an owner claim.
const ownerType = "doorstep.owner_claimed"

// Owner is the place that serves a prefix: ID compares, Where describes it
// for people.
type Owner struct {
	ID    string `json:"id"`
	Where string `json:"where"`
}

// OwnedError: the prefix is served by another place.
type OwnedError struct {
	Prefix string
	By     Owner
}

func (e *OwnedError) Error() string {
	return fmt.Sprintf("eventstoredb: stream prefix %q is served by another place (%s)", e.Prefix, e.By.Where)
}

func (s *Store) ownerName() string { return s.prefix + "~owner" }

// Claim makes me the owner of this store's prefix: the first claim
// records it; a claim by the recorded owner changes nothing; any other
// fails with *OwnedError unless takeOver, which records me instead.
func (s *Store) Claim(ctx context.Context, me Owner, takeOver bool) error {
	if me.ID == "" {
		return errors.New("eventstoredb: claim: the owner has no id")
	}
	data, _ := json.Marshal(me)
	for attempt := 0; ; attempt++ {
		raw, err := s.readRaw(ctx, s.ownerName(), esdb.Backwards, esdb.End{}, 1)
		if err != nil {
			return err
		}
		var rev esdb.ExpectedRevision = esdb.NoStream{}
		if len(raw) == 1 {
			var cur Owner
			if err := json.Unmarshal(raw[0].Data, &cur); err != nil {
				return fmt.Errorf("eventstoredb: the owner of prefix %q is malformed: %w", s.prefix, err)
			}
			if cur.ID == me.ID {
				return nil
			}
			if !takeOver {
				return &OwnedError{Prefix: s.prefix, By: cur}
			}
			rev = esdb.Revision(raw[0].EventNumber)
		}
		_, err = s.client.AppendToStream(ctx, s.ownerName(), esdb.AppendToStreamOptions{ExpectedRevision: rev},
			esdb.EventData{EventID: uuid.New(), EventType: ownerType, ContentType: esdb.ContentTypeJson, Data: data})
		if err == nil {
			return nil
		}
		if code(err) != esdb.ErrorCodeWrongExpectedVersion || attempt > 0 {
			return s.wrap(err)
		}
		// Another node claimed meanwhile: look again.
	}
}
