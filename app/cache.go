package app

import (
	"sync"

	"github.com/doorstep/doorstep/eventstore"
)

// streamCache keeps the stored events of recently loaded streams, so that
// loading one again reads only the events appended since: every command
// loads its aggregate's whole stream, and reading it back was most of a
// command's cost. Stored events never change, and an entry is used only
// while its versions run 1, 2, … without a gap, so a cached stream is a
// prefix of the stored one; the append's expected version still guards
// every command. Safe for concurrent use.
type streamCache struct {
	mu     sync.Mutex
	m      map[string][]eventstore.Event
	events int // events held in m
	limit  int // at most this many events held; 0 disables the cache
}

// cacheEvents is the default bound of the stream cache, in events.
const cacheEvents = 50_000

// get returns the cached events of stream (nil when none). The caller must
// not modify them; appending to the returned slice copies it.
func (c *streamCache) get(stream string) []eventstore.Event {
	if c == nil || c.limit <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := c.m[stream]
	return evs[:len(evs):len(evs)]
}

// put caches evs as stream's events 1…len(evs), unless a longer prefix is
// already cached (a concurrent load read further). A stream larger than
// half the bound is not cached; past the bound, other entries are dropped.
func (c *streamCache) put(stream string, evs []eventstore.Event) {
	if c == nil || c.limit <= 0 || len(evs) == 0 || len(evs) > c.limit/2 {
		return
	}
	for i := range evs {
		if evs[i].Version != uint64(i)+1 {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m[stream]
	if len(old) >= len(evs) {
		return
	}
	if c.m == nil {
		c.m = map[string][]eventstore.Event{}
	}
	c.events += len(evs) - len(old)
	c.m[stream] = evs
	for k, v := range c.m {
		if c.events <= c.limit {
			break
		}
		if k != stream {
			delete(c.m, k)
			c.events -= len(v)
		}
	}
}
