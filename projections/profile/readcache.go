package profile

import (
	"maps"
	"slices"
	"sync"
)

// ReadCache keeps the profiles a Reader has read, so that reading one again
// runs no query. It is correct only where the engine applying the profile
// projection runs in the same process (the embedded store): the projection
// drops the households each committed batch touched (SetReadCache), before
// the engine tells waiting readers the batch is applied. Sensitive fields
// stay sealed in the cache; every Get opens them anew and records the read.
// Safe for concurrent use.
type ReadCache struct {
	mu    sync.Mutex
	gen   uint64 // bumped by every invalidation
	m     map[string]*cachedProfile
	limit int
}

// cachedProfile is a profile as read from the tables, members' sensitive
// fields still sealed.
type cachedProfile struct {
	p      Profile
	sealed []sealedFields
}

// NewReadCache returns a cache of at most limit profiles (default 10,000;
// beyond it the cache starts over).
func NewReadCache(limit int) *ReadCache {
	if limit <= 0 {
		limit = 10_000
	}
	return &ReadCache{m: map[string]*cachedProfile{}, limit: limit}
}

func (c *ReadCache) get(id string) (*cachedProfile, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id], c.gen
}

// put keeps cp unless an invalidation happened since gen was read (the
// tables may have changed while cp was being read).
func (c *ReadCache) put(id string, cp *cachedProfile, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= c.limit {
		clear(c.m)
	}
	c.m[id] = cp
}

func (c *ReadCache) invalidate(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		delete(c.m, id)
	}
}

func (c *ReadCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// copy returns a profile the caller may change without touching the cache.
func (cp *cachedProfile) copy() *Profile {
	p := cp.p
	p.Needs = maps.Clone(cp.p.Needs)
	p.Members = slices.Clone(cp.p.Members)
	p.ProblemsOpen = slices.Clone(cp.p.ProblemsOpen)
	p.ReferralsOpen = slices.Clone(cp.p.ReferralsOpen)
	p.Problems = slices.Clone(cp.p.Problems)
	for i := range p.ProblemsOpen {
		p.ProblemsOpen[i].DueBasis.Provisional = slices.Clone(p.ProblemsOpen[i].DueBasis.Provisional)
	}
	for i := range p.Problems {
		p.Problems[i].DueBasis.Provisional = slices.Clone(p.Problems[i].DueBasis.Provisional)
	}
	for i := range p.ReferralsOpen {
		p.ReferralsOpen[i].DueBasis.Provisional = slices.Clone(p.ReferralsOpen[i].DueBasis.Provisional)
	}
	p.Referrals = slices.Clone(cp.p.Referrals)
	for i := range p.Referrals {
		p.Referrals[i].DueBasis.Provisional = slices.Clone(p.Referrals[i].DueBasis.Provisional)
	}
	p.Visits = slices.Clone(cp.p.Visits)
	for i := range p.Visits {
		p.Visits[i].Team = slices.Clone(p.Visits[i].Team)
	}
	return &p
}
