package http

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
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
	mu     sync.Mutex
	agg    domain.Aggregate // the household, problem or referral, folded by eventlog.Fold
	loaded bool             // read from the store at least once
	stale  bool             // the follower missed an event: read the store again
}

// scopeResolver keeps the households, problems and referrals that requests
// name, folded with the one fold (eventlog.Fold) and brought up to date
// incrementally: a cached entry reads only the events appended since. What
// decides access comes from the aggregates through eventlog.Scope, the one
// place that decides an event's scope, so authorising a request and
// scoping an event on the stream never disagree. At most scopeEntries
// streams are kept (an arbitrary one is dropped beyond: it is read again
// when next asked for). Safe for concurrent use.
type scopeResolver struct {
	store     eventstore.Store
	reg       *domain.Registry
	mu        sync.Mutex
	cache     map[string]*scopeEntry
	following bool // a follower keeps loaded entries up to date
}

// scopeEntries bounds the streams the resolver keeps folded.
const scopeEntries = 20000

func newScopeResolver(s eventstore.Store, reg *domain.Registry) *scopeResolver {
	return &scopeResolver{store: s, reg: reg, cache: map[string]*scopeEntry{}}
}

// entry returns the folded aggregate of one stream, locked (the caller
// unlocks e.mu). With fresh, or while no follower runs, it first reads the
// events appended since the entry was last brought up to date, so it is
// exact as of the call (commands use that). Otherwise a loaded entry is
// answered from memory: the follower applies new events a few
// milliseconds after they commit, which is as fresh as the read models the
// queries serve. An aggregate with no events is returned and not kept.
func (r *scopeResolver) entry(ctx context.Context, stream string, fresh bool) (*scopeEntry, error) {
	r.mu.Lock()
	e := r.cache[stream]
	if e == nil {
		agg, err := eventlog.NewAggregate(stream)
		if err != nil {
			r.mu.Unlock()
			return nil, err
		}
		if len(r.cache) >= scopeEntries {
			for k := range r.cache {
				delete(r.cache, k)
				break
			}
		}
		e = &scopeEntry{agg: agg}
		r.cache[stream] = e
	}
	following := r.following
	r.mu.Unlock()
	e.mu.Lock()
	if !fresh && following && e.loaded && !e.stale {
		return e, nil
	}
	for {
		page, err := r.store.ReadStream(ctx, stream, eventstore.Forward, e.agg.Version()+1, 500)
		if err == nil {
			_, err = eventlog.Fold(r.reg, e.agg, page, domain.AsOf{})
		}
		if err != nil {
			e.mu.Unlock()
			r.drop(stream, e)
			return nil, err
		}
		if len(page) < 500 {
			e.loaded, e.stale = true, false
			if e.agg.Version() == 0 {
				// Keep only streams that exist: a request naming an
				// unknown id must not grow the cache. Without an entry
				// the next request reads the store again, which also
				// finds a stream created meanwhile.
				r.drop(stream, e)
			}
			return e, nil
		}
	}
}

// drop removes e from the cache if it is still stream's entry.
func (r *scopeResolver) drop(stream string, e *scopeEntry) {
	r.mu.Lock()
	if r.cache[stream] == e {
		delete(r.cache, stream)
	}
	r.mu.Unlock()
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
		switch v := e.agg.Version(); {
		case ev.Version == v+1:
			if _, err := eventlog.Fold(r.reg, e.agg, []eventstore.Event{ev}, domain.AsOf{}); err != nil {
				e.stale = true
			}
		case ev.Version > v+1:
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

// household returns the scope of a household.
func (r *scopeResolver) household(ctx context.Context, id string, fresh bool) (scope, error) {
	h, err := r.householdAgg(ctx, id, fresh)
	if err != nil {
		return scope{}, err
	}
	sc := scope{exists: h.Registered()}
	sc.community, sc.grid, err = eventlog.Scope(ctx, h, nil)
	return sc, err
}

// householdAgg returns a copy of the household's folded aggregate, taken
// under the entry's lock (the follower folds into the cached one).
func (r *scopeResolver) householdAgg(ctx context.Context, id string, fresh bool) (*domain.Household, error) {
	e, err := r.entry(ctx, domain.HouseholdStream(id), fresh)
	if err != nil {
		return nil, err
	}
	h := *e.agg.(*domain.Household)
	e.mu.Unlock()
	return &h, nil
}

// problem returns the scope of a problem: its household's current
// community and grid (eventlog.Scope).
func (r *scopeResolver) problem(ctx context.Context, id string, fresh bool) (scope, error) {
	e, err := r.entry(ctx, domain.ProblemStream(id), fresh)
	if err != nil {
		return scope{}, err
	}
	p := *e.agg.(*domain.Problem)
	e.mu.Unlock()
	return r.placed(ctx, scope{exists: p.Exists(), householdID: p.HouseholdID()}, &p, fresh)
}

// referral returns the scope of a referral: its household's current
// community and grid (eventlog.Scope) and the organisation it is addressed to.
func (r *scopeResolver) referral(ctx context.Context, id string, fresh bool) (scope, error) {
	e, err := r.entry(ctx, domain.ReferralStream(id), fresh)
	if err != nil {
		return scope{}, err
	}
	ref := *e.agg.(*domain.Referral)
	e.mu.Unlock()
	return r.placed(ctx, scope{exists: ref.Exists(), householdID: ref.HouseholdID(), to: ref.To()}, &ref, fresh)
}

// placed fills sc's community and grid with eventlog.Scope, which folds
// the household through the resolver.
func (r *scopeResolver) placed(ctx context.Context, sc scope, agg domain.Aggregate, fresh bool) (scope, error) {
	if !sc.exists {
		return sc, nil
	}
	var err error
	sc.community, sc.grid, err = eventlog.Scope(ctx, agg, func(ctx context.Context, id string) (*domain.Household, error) {
		return r.householdAgg(ctx, id, fresh)
	})
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
