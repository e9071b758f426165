package projections

import (
	"context"
	"database/sql"
	"sync"

	"github.com/doorstep/doorstep/eventstore"
)

// Answers keeps a reader's answers, keyed by K (the query), as of the
// checkpoint of one projection (decision 0152). An answer asked again while
// the projection's committed checkpoint has not moved comes from memory:
// one indexed read of the checkpoint instead of the query. An answer is
// kept only if the checkpoint read before and after the query is the same
// (CommittedCheckpoint: then the query saw that checkpoint's tables), so a
// batch committed meanwhile, by this process or another sharing the
// database, is never hidden. Past max keys, the cache is emptied before the
// next answer is kept. Answers are shared between callers: the reader must
// hand out copies of anything a caller might change. Safe for concurrent
// use.
type Answers[K comparable, V any] struct {
	db   *sql.DB
	d    Dialect
	name string
	max  int

	mu   sync.Mutex
	kept map[K]answer[V]
}

type answer[V any] struct {
	pos    eventstore.Position
	events int64
	v      V
}

// NewAnswers returns a cache of answers following projection name's
// checkpoint in db.
func NewAnswers[K comparable, V any](db *sql.DB, d Dialect, name string, max int) *Answers[K, V] {
	if d == nil {
		d = SQLite
	}
	return &Answers[K, V]{db: db, d: d, name: name, max: max, kept: map[K]answer[V]{}}
}

// Get returns the answer to key as of the projection's current checkpoint,
// asking query only when none is kept for it.
func (a *Answers[K, V]) Get(ctx context.Context, key K, query func(context.Context) (V, error)) (V, error) {
	var zero V
	pos, n, err := CommittedCheckpoint(ctx, a.db, a.d, a.name)
	if err != nil {
		return zero, err
	}
	a.mu.Lock()
	c, ok := a.kept[key]
	a.mu.Unlock()
	if ok && c.pos == pos && c.events == n {
		return c.v, nil
	}
	v, err := query(ctx)
	if err != nil {
		return zero, err
	}
	pos2, n2, err := CommittedCheckpoint(ctx, a.db, a.d, a.name)
	if err != nil {
		return zero, err
	}
	if pos2 == pos && n2 == n {
		a.mu.Lock()
		if len(a.kept) >= a.max {
			clear(a.kept)
		}
		a.kept[key] = answer[V]{pos: pos, events: n, v: v}
		a.mu.Unlock()
	}
	return v, nil
}
