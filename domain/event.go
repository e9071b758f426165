package domain

import (
	"fmt"
	"time"
)

// Event is the payload of a domain event: a struct value with JSON tags
// whose EventType is one of the durable type constants. The store layer wraps
// it in an envelope (id, stream, version, actor, role, occurred-at, command
// id, …); payloads repeat the who/when/why that the rules need, so an
// aggregate can be folded from payloads alone.
type Event interface {
	EventType() string
}

// Happened is implemented by an event that records when the thing it
// describes happened, where that differs from when the command was issued:
// a visit entered hours after it took place. The envelope's occurred-at is
// that instant (eventlog.Encode), so every reader of the log — the audit
// trail, the event stream, replay and export — shows when it happened, not
// when it was typed in.
type Happened interface {
	Event
	HappenedAt() time.Time
}

// Meta describes the command being decided: who issues it, in which role,
// and when it happens (domain time, supplied by the caller — the domain never
// reads a clock). At should carry the community's time zone: problem numbers
// take their year from it.
type Meta struct {
	Actor     string
	Role      string
	At        time.Time
	CommandID string // idempotency key of the command; the domain does not use it
}

func (m Meta) check() error {
	if m.Actor == "" {
		return required("actor", "the actor (who issues the command)", "操作人")
	}
	if m.At.IsZero() {
		return required("at", "the time of the command", "操作时间")
	}
	return CheckInstant("at", m.At)
}

// Recorded is an event as read back from a stream, for folding: its stream
// version (1 for the first event), the store's recorded-at time, and the
// decoded payload (see Registry.Decode).
type Recorded struct {
	Version    uint64
	RecordedAt time.Time
	Event      Event
}

// Aggregate is implemented by *Household, *Problem and *Referral.
type Aggregate interface {
	// Apply folds one event into the state and increments Version. It never
	// fails; unknown event types only advance the version.
	Apply(Event)
	// Version is the number of events applied: the expected version for the
	// next append.
	Version() uint64
}

// AsOf bounds a fold. The zero value folds everything.
type AsOf struct {
	Version    uint64    // if non-zero, stop after this stream version
	RecordedAt time.Time // if non-zero, stop before the first event recorded after this instant
}

// UntilVersion folds up to and including version v.
func UntilVersion(v uint64) AsOf { return AsOf{Version: v} }

// UntilRecorded folds the events recorded at or before t: the aggregate as an
// auditor would have seen it at t.
func UntilRecorded(t time.Time) AsOf { return AsOf{RecordedAt: t} }

// Fold applies recs in order to a, stopping at the bound. Events must
// continue a's version contiguously (a.Version()+1, +2, …); a gap or repeat
// is reported as an ErrConflict *Error with code "version_gap" and a is left
// as far as it got. Folding is a prefix of the stream: with RecordedAt, the
// first event recorded after the bound ends the fold.
func Fold(a Aggregate, recs []Recorded, as AsOf) error {
	for _, r := range recs {
		if as.Version != 0 && r.Version > as.Version {
			return nil
		}
		if !as.RecordedAt.IsZero() && r.RecordedAt.After(as.RecordedAt) {
			return nil
		}
		if want := a.Version() + 1; r.Version != want {
			return newError(ErrConflict, "version_gap", "version",
				fmt.Sprintf("event version %d does not follow version %d; read the stream again from the start", r.Version, a.Version()),
				fmt.Sprintf("事件版本 %d 未紧接版本 %d；请从头重新读取事件流", r.Version, a.Version()))
		}
		a.Apply(r.Event)
	}
	return nil
}

// Stream names. The part before the first '-' is the stream's category.
func HouseholdStream(id string) string { return "household-" + id }
func ProblemStream(id string) string   { return "problem-" + id }
func ReferralStream(id string) string  { return "referral-" + id }
