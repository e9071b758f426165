package town

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// The problem-number counter of the command layer (decision 0011): one
// stream per year whose version is the last number allocated, one
// counter.problem_number_allocated event per number. The town writes the
// same events, built by eventlog as the command layer's are, so that the
// command layer, working on a store the town was written to, continues the
// sequence instead of reusing numbers.

// numberer gives problems their ledger numbers in global time order, per
// year, and emits the counter event that allocates each number just before
// the report. Simulations number problems with cohort-local placeholders;
// the numberer rewrites them (same length, so the JSON stays valid).
type numberer struct {
	c        *Config
	emit     func(Batch) error
	next     map[int]int
	counters int
}

var numberKey = []byte(`"number":"WT`)

func (n *numberer) add(b Batch) error {
	for i := range b.Events {
		e := &b.Events[i]
		if e.Type != domain.TypeProblemReported {
			continue
		}
		at := bytes.Index(e.Data, numberKey)
		if at < 0 || at+len(numberKey)+10 > len(e.Data) {
			return fmt.Errorf("town: problem report %s has no number", e.ID)
		}
		digits := e.Data[at+len(numberKey) : at+len(numberKey)+10]
		year, err := strconv.Atoi(string(digits[:4]))
		if err != nil {
			return fmt.Errorf("town: problem report %s: bad number: %w", e.ID, err)
		}
		n.next[year]++
		seq := n.next[year]
		if seq > maxNumber {
			return fmt.Errorf("town: more than %d problems reported in %d: the ledger's numbers are exhausted", maxNumber, year)
		}
		number := eventlog.ProblemNumber(year, seq)
		data := bytes.Clone(e.Data)
		copy(data[at+len(`"number":"`):], number)
		e.Data = data
		ce, err := eventlog.EncodeNumberAllocated(derivedID(e.ID), year, seq, strings.TrimPrefix(b.Stream, domain.ProblemStream("")), e.Metadata)
		if err != nil {
			return err
		}
		counter := Batch{Stream: eventlog.CounterStream(year), Expected: uint64(seq - 1), At: b.At, Events: []eventstore.EventData{ce}}
		n.counters++
		if err := n.emit(counter); err != nil {
			return err
		}
	}
	return n.emit(b)
}

func (n *numberer) stats(st Stats) Stats {
	st.Events += n.counters
	st.Batches += n.counters
	return st
}

// derivedID returns a UUIDv7 with the timestamp of id and random bits
// derived from it: a deterministic id for an event that accompanies id.
func derivedID(id uuid.UUID) uuid.UUID {
	sum := sha256.Sum256(append(id[:], "counter"...))
	var u uuid.UUID
	copy(u[:6], id[:6])
	copy(u[6:], sum[:10])
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}
