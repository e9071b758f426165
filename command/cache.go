package command

import (
	"sync"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// streamCache keeps the stored events of recently loaded streams, with
// their decoded domain events, so that loading one again reads and decodes
// only the events appended since: every command folds its aggregate's whole
// stream, and reading and decoding it were most of a command's cost. The
// decoded events are shared by every load that folds them: aggregates copy
// what they keep (domain events are values), never modify an event. Stored
// events never change, and an entry is used only while its versions run 1,
// 2, … without a gap, so a cached stream is a prefix of the stored one; the
// append's expected version still guards every command. Safe for concurrent
// use.
type streamCache struct {
	mu     sync.Mutex
	m      map[string][]cachedEvent
	events int // events held in m
	limit  int // at most this many events held; 0 disables the cache
}

// cachedEvent is a stored event and its decoded domain event.
type cachedEvent struct {
	ev  eventstore.Event
	rec domain.Recorded
}

// cacheEvents is the default bound of the stream cache, in events: more
// than every household, problem and referral stream of the 2,155-household
// town a year on (about 65,000 events); about 1 KB each.
const cacheEvents = 100_000

// get returns the cached events of stream (nil when none). The caller must
// not modify them; appending to the returned slice copies it.
func (c *streamCache) get(stream string) []cachedEvent {
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
func (c *streamCache) put(stream string, evs []cachedEvent) {
	if c == nil || c.limit <= 0 || len(evs) == 0 || len(evs) > c.limit/2 {
		return
	}
	for i := range evs {
		if evs[i].ev.Version != uint64(i)+1 {
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
		c.m = map[string][]cachedEvent{}
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
