package audit

import (
	"container/list"
	"sync"
)

// maxCachedEntries bounds the entries a Trail keeps: about 1 KB each on the
// synthetic town (8,077 entries of 300 households held 8.0 MB of heap), so
// some 10 MB, the trails of about 400 households.
const maxCachedEntries = 10000

// entryCache keeps the described entries of recently read streams, least
// recently used dropped first once the entries kept pass the bound. The
// slices it holds are never written after put.
type entryCache struct {
	mu      sync.Mutex
	max     int
	entries int
	order   *list.List // of *cachedStream, most recently used first
	streams map[string]*list.Element
}

type cachedStream struct {
	stream  string
	entries []Entry
}

func newEntryCache(max int) *entryCache {
	return &entryCache{max: max, order: list.New(), streams: map[string]*list.Element{}}
}

func (c *entryCache) get(stream string) ([]Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.streams[stream]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cachedStream).entries, true
}

func (c *entryCache) put(stream string, es []Entry) {
	if len(es) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.streams[stream]; ok {
		cs := el.Value.(*cachedStream)
		// Two readers may describe the same stream at once: keep the longer.
		if len(cs.entries) >= len(es) {
			return
		}
		c.entries += len(es) - len(cs.entries)
		cs.entries = es
		c.order.MoveToFront(el)
	} else {
		c.streams[stream] = c.order.PushFront(&cachedStream{stream: stream, entries: es})
		c.entries += len(es)
	}
	for c.entries > c.max {
		el := c.order.Back()
		cs := el.Value.(*cachedStream)
		c.order.Remove(el)
		delete(c.streams, cs.stream)
		c.entries -= len(cs.entries)
	}
}
