package deadline

import (
	"container/heap"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Key identifies a running deadline: the subject's stream and the clock kind.
// An aggregate runs at most one clock of each kind at a time.
type Key struct {
	Stream string
	Kind   domain.ClockKind
}

// entry is kept small on purpose: the watcher reloads the subject when the
// entry fires, so the queue only needs to know when to look.
type entry struct {
	key   Key
	fire  int64 // Unix nanoseconds at which an alert becomes pending
	due   int64 // Unix nanoseconds of the due instant (for reports)
	index int32
}

// Queue is a min-heap of deadlines keyed by the instant their next alert
// becomes pending, with a map from Key to entry for updates and removal.
// Set, Remove and PopUntil are O(log n); Next is O(1). Not safe for
// concurrent use.
type Queue struct {
	h entries
	m map[Key]*entry
}

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{m: map[Key]*entry{}} }

type entries []*entry

func (h entries) Len() int           { return len(h) }
func (h entries) Less(i, j int) bool { return h[i].fire < h[j].fire }
func (h entries) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = int32(i), int32(j)
}
func (h *entries) Push(x any) {
	e := x.(*entry)
	e.index = int32(len(*h))
	*h = append(*h, e)
}
func (h *entries) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	e.index = -1
	return e
}

// FireAt returns the instant at which d next needs an alert: its
// approaching instant when no warning is recorded yet, else just after
// its due instant (a breach is "after Due"). ok is false when both alerts
// are recorded.
func FireAt(d domain.Deadline) (time.Time, bool) {
	switch {
	case d.Breached:
		return time.Time{}, false
	case !d.Approached && d.Approaching.Before(d.Due):
		return d.Approaching, true
	}
	return d.Due.Add(time.Nanosecond), true
}

// Set inserts or moves the deadline k to fire at fire.
func (q *Queue) Set(k Key, fire, due time.Time) {
	if e, ok := q.m[k]; ok {
		e.fire, e.due = fire.UnixNano(), due.UnixNano()
		heap.Fix(&q.h, int(e.index))
		return
	}
	e := &entry{key: k, fire: fire.UnixNano(), due: due.UnixNano()}
	heap.Push(&q.h, e)
	q.m[k] = e
}

// Remove drops k if present.
func (q *Queue) Remove(k Key) {
	if e, ok := q.m[k]; ok {
		heap.Remove(&q.h, int(e.index))
		delete(q.m, k)
	}
}

// Len is the number of deadlines held.
func (q *Queue) Len() int { return len(q.h) }

// Next returns the earliest fire instant.
func (q *Queue) Next() (time.Time, bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, q.h[0].fire), true
}

// Due returns the due instant recorded for k.
func (q *Queue) Due(k Key) (time.Time, bool) {
	e, ok := q.m[k]
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, e.due), true
}

// PopUntil removes and returns, earliest first, every deadline whose fire
// instant is at or before now.
func (q *Queue) PopUntil(now time.Time) []Key {
	n := now.UnixNano()
	var out []Key
	for len(q.h) > 0 && q.h[0].fire <= n {
		e := heap.Pop(&q.h).(*entry)
		delete(q.m, e.key)
		out = append(out, e.key)
	}
	return out
}
