package eventstore

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is a point in the global log. Positions are totally ordered and
// resumable: reading "after" a position never returns an event at or before it.
//
// A backend maps its own cursor onto the pair (Hi, Lo): the embedded SQLite
// store uses (0, row id), PostgreSQL uses (transaction id, sequence within
// the transaction), and EventStoreDB uses its $all position (commit,
// prepare). The zero Position is the start of the
// log, before the first event.
//
// Outside the store a position is an opaque token (see String and
// ParsePosition); callers must not do arithmetic on it.
type Position struct {
	Hi uint64
	Lo uint64
}

// IsZero reports whether p is the start of the log.
func (p Position) IsZero() bool { return p == Position{} }

// Compare returns -1, 0 or +1 as p is before, equal to or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Hi < q.Hi:
		return -1
	case p.Hi > q.Hi:
		return 1
	case p.Lo < q.Lo:
		return -1
	case p.Lo > q.Lo:
		return 1
	}
	return 0
}

// Before reports whether p comes strictly before q.
func (p Position) Before(q Position) bool { return p.Compare(q) < 0 }

// String renders the position as an opaque token: "12" when Hi is zero,
// "7.12" otherwise. The start of the log is "0".
func (p Position) String() string {
	if p.Hi == 0 {
		return strconv.FormatUint(p.Lo, 10)
	}
	return strconv.FormatUint(p.Hi, 10) + "." + strconv.FormatUint(p.Lo, 10)
}

// MarshalText implements encoding.TextMarshaler using String.
func (p Position) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler using ParsePosition.
func (p *Position) UnmarshalText(b []byte) error {
	q, err := ParsePosition(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ParsePosition parses a token produced by Position.String. The empty string
// is the start of the log. A malformed token returns an error wrapping
// ErrInvalidPosition.
func ParsePosition(s string) (Position, error) {
	if s == "" {
		return Position{}, nil
	}
	hi, lo, two := strings.Cut(s, ".")
	if !two {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Position{}, fmt.Errorf("%w: %q is not a position token (expected digits, e.g. \"42\" or \"7.42\")", ErrInvalidPosition, s)
		}
		return Position{Lo: v}, nil
	}
	h, err1 := strconv.ParseUint(hi, 10, 64)
	l, err2 := strconv.ParseUint(lo, 10, 64)
	if err1 != nil || err2 != nil {
		return Position{}, fmt.Errorf("%w: %q is not a position token (expected digits, e.g. \"42\" or \"7.42\")", ErrInvalidPosition, s)
	}
	return Position{Hi: h, Lo: l}, nil
}
