package http

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

// scope is what authorisation needs to know about a household, problem or
// referral: where the household lives and, for a referral, who it is
// addressed to.
type scope struct {
	exists      bool
	community   string
	grid        string
	householdID string // problems and referrals
	to          string // referrals: the receiving organisation
}

type scopeEntry struct {
	mu      sync.Mutex
	version uint64
	sc      scope
	loaded  bool // read from the store at least once
	stale   bool // the follower missed an event: read the store again
}

// scopeResolver folds the few fields of a stream that decide access,
// incrementally: a cached entry is brought up to date by reading only the
// events appended since. Safe for concurrent use.
type scopeResolver struct {
	store     eventstore.Store
	reg       *domain.Registry
	mu        sync.Mutex
	cache     map[string]*scopeEntry
	following bool // a follower keeps loaded entries up to date
}

func newScopeResolver(s eventstore.Store, reg *domain.Registry) *scopeResolver {
	return &scopeResolver{store: s, reg: reg, cache: map[string]*scopeEntry{}}
}

// stream returns the scope fields of one stream. With fresh, or while no
// follower runs, it first reads the events appended since the entry was
// last brought up to date, so it is exact as of the call (commands use
// that). Otherwise a loaded entry is answered from memory: the follower
// applies new events a few milliseconds after they commit, which is as
// fresh as the read models the queries serve.
func (r *scopeResolver) stream(ctx context.Context, stream string, fresh bool) (scope, error) {
	r.mu.Lock()
	e := r.cache[stream]
	if e == nil {
		e = &scopeEntry{}
		r.cache[stream] = e
	}
	following := r.following
	r.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !fresh && following && e.loaded && !e.stale {
		return e.sc, nil
	}
	for {
		page, err := r.store.ReadStream(ctx, stream, eventstore.Forward, e.version+1, 500)
		if err != nil {
			return scope{}, err
		}
		for i := range page {
			r.apply(&e.sc, &page[i])
			e.version = page[i].Version
		}
		if len(page) < 500 {
			e.loaded, e.stale = true, false
			if !e.sc.exists {
				// Keep only streams that exist: a request naming an
				// unknown id must not grow the cache. Without an entry
				// the next request reads the store again, which also
				// finds a stream created meanwhile.
				r.mu.Lock()
				if r.cache[stream] == e {
					delete(r.cache, stream)
				}
				r.mu.Unlock()
			}
			return e.sc, nil
		}
	}
}

// follow keeps loaded entries up to date from the live log until ctx ends
// or the subscription fails. Entries are created before they are read, so
// an event committed after an entry's read reaches it here; an event that
// does not continue an entry's version marks it stale. It starts by
// dropping every entry: one read before the subscription began (at start,
// or while a previous follower was down) may have missed events.
func (r *scopeResolver) follow(ctx context.Context) error {
	head, err := r.store.Head(ctx)
	if err != nil {
		return err
	}
	sub, err := r.store.Subscribe(ctx, head, eventstore.Filter{Categories: []string{"household", "problem", "referral"}})
	if err != nil {
		return err
	}
	defer sub.Close()
	r.mu.Lock()
	r.cache = map[string]*scopeEntry{}
	r.following = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.following = false
		r.mu.Unlock()
	}()
	for ev := range sub.C {
		r.mu.Lock()
		e := r.cache[ev.Stream]
		r.mu.Unlock()
		if e == nil {
			continue
		}
		e.mu.Lock()
		switch {
		case ev.Version == e.version+1:
			r.apply(&e.sc, &ev)
			e.version = ev.Version
		case ev.Version > e.version+1:
			e.stale = true
		}
		e.mu.Unlock()
	}
	if ctx.Err() != nil {
		return nil
	}
	return sub.Err()
}

// keepFollowing runs follow until ctx ends, starting it again after a
// pause when it fails (the store unreachable for a while): meanwhile reads
// check the store, as commands always do.
func (r *scopeResolver) keepFollowing(ctx context.Context, log *slog.Logger, retry time.Duration) {
	pause := retry
	for {
		err := r.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("scope cache follower stopped; reads check the store until it resumes / 范围缓存跟随已停止，恢复前读取将直接查询存储",
			"error", fmt.Sprint(err), "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*retry)
	}
}

func (r *scopeResolver) apply(sc *scope, ev *eventstore.Event) {
	switch ev.Type {
	case domain.TypeHouseholdRegistered, domain.TypeHouseholdRelocated, domain.TypeProblemReported,
		domain.TypeReferralRequested, domain.TypeReferralEscalated:
	default:
		return
	}
	d, err := r.reg.Decode(ev.Type, ev.Data)
	if err != nil {
		return
	}
	switch d := d.(type) {
	case domain.HouseholdRegistered:
		sc.exists, sc.community, sc.grid = true, d.Community, d.Grid
	case domain.HouseholdRelocated:
		sc.community, sc.grid = d.Community, d.Grid
	case domain.ProblemReported:
		sc.exists, sc.householdID = true, d.HouseholdID
	case domain.ReferralRequested:
		sc.exists, sc.householdID, sc.to = true, d.HouseholdID, d.To
	case domain.ReferralEscalated:
		sc.to = d.To
	}
}

// household returns the scope of a household.
func (r *scopeResolver) household(ctx context.Context, id string, fresh bool) (scope, error) {
	return r.stream(ctx, domain.HouseholdStream(id), fresh)
}

// problem returns the scope of a problem with its household's community and grid.
func (r *scopeResolver) problem(ctx context.Context, id string, fresh bool) (scope, error) {
	sc, err := r.stream(ctx, domain.ProblemStream(id), fresh)
	if err != nil || !sc.exists {
		return sc, err
	}
	h, err := r.household(ctx, sc.householdID, fresh)
	sc.community, sc.grid = h.community, h.grid
	return sc, err
}

// referral returns the scope of a referral with its household's community and grid.
func (r *scopeResolver) referral(ctx context.Context, id string, fresh bool) (scope, error) {
	sc, err := r.stream(ctx, domain.ReferralStream(id), fresh)
	if err != nil || !sc.exists {
		return sc, err
	}
	h, err := r.household(ctx, sc.householdID, fresh)
	sc.community, sc.grid = h.community, h.grid
	return sc, err
}

// ofEvent returns the community and grid an event belongs to: from its
// metadata when the writer set them, otherwise from its stream.
func (r *scopeResolver) ofEvent(ctx context.Context, ev *eventstore.Event) (community, grid string, err error) {
	if ev.Metadata.Community != "" {
		return ev.Metadata.Community, ev.Metadata.Grid, nil
	}
	id := strings.TrimPrefix(ev.Stream, ev.Category()+"-")
	var sc scope
	switch ev.Category() {
	case "household":
		sc, err = r.household(ctx, id, false)
	case "problem":
		sc, err = r.problem(ctx, id, false)
	case "referral":
		sc, err = r.referral(ctx, id, false)
	}
	return sc.community, sc.grid, err
}

// subject is what identity needs of sc to decide access.
func (sc scope) subject() identity.Subject {
	return identity.Subject{Community: sc.community, Grid: sc.grid, Receiver: sc.to}
}
