package eventstore

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Filter selects events of a subscription. Empty fields match everything;
// a non-empty field matches when the event's value is in it.
type Filter struct {
	Categories []string // stream categories, e.g. "household"
	Types      []string // event types, e.g. "problem.referred"
}

// Match reports whether e passes the filter.
func (f Filter) Match(e *Event) bool {
	if len(f.Categories) > 0 && !slices.Contains(f.Categories, e.Category()) {
		return false
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
		return false
	}
	return true
}

// Subscription delivers events of the global log on C, in order, until its
// context is cancelled, Close is called or reading fails. After C is closed,
// Err tells why (nil after Close or cancellation).
type Subscription struct {
	C <-chan Event

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// Close stops the subscription and waits until its goroutine has ended.
func (s *Subscription) Close() {
	s.cancel()
	<-s.done
}

// Err returns the error that ended the subscription, if any. It is
// meaningful after C is closed.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Notifier wakes waiters when new events may be readable. The zero value is
// not usable; create one with NewNotifier. Safe for concurrent use.
type Notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewNotifier returns a ready Notifier.
func NewNotifier() *Notifier { return &Notifier{ch: make(chan struct{})} }

// Wait returns a channel closed at the next Notify. Take it before reading,
// so that a notification between the read and the wait is not lost.
func (n *Notifier) Wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

// Notify wakes every current waiter.
func (n *Notifier) Notify() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// FollowOptions tune Follow.
type FollowOptions struct {
	PageSize     int           // events per ReadAll; default 512
	Buffer       int           // channel capacity; default 256
	PollInterval time.Duration // fallback poll when no notification arrives (other processes may write); default 200ms
}

// LogReader is the part of a Store that Follow needs.
type LogReader interface {
	ReadAll(ctx context.Context, after Position, limit int) ([]Event, error)
}

// NewSubscription runs produce in a goroutine of its own and delivers what
// it sends on the returned Subscription's C, which has room for buffer
// events (default 256). send blocks until the event is taken and returns
// false once the subscription is closed or ctx is done; produce should then
// return. The error produce returns, unless the context ended it, is what
// Err reports after C is closed. Backends whose server pushes events (an
// EventStoreDB subscription) build their Subscribe on it; Follow builds the
// polling one.
func NewSubscription(ctx context.Context, buffer int, produce func(ctx context.Context, send func(Event) bool) error) *Subscription {
	if buffer <= 0 {
		buffer = 256
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan Event, buffer)
	s := &Subscription{C: ch, cancel: cancel, done: make(chan struct{})}
	send := func(e Event) bool {
		select {
		case ch <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(s.done)
		defer close(ch)
		err := produce(ctx, send)
		if err != nil && ctx.Err() == nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}()
	return s
}

// Follow implements Subscribe for a backend on top of its ReadAll: it pages
// through the log from after, then waits for wake (or the poll interval)
// and reads again. Because ReadAll never returns an event ahead of a gap,
// the subscription sees every event exactly once, in order.
func Follow(ctx context.Context, r LogReader, wake func() <-chan struct{}, after Position, filter Filter, opt FollowOptions) *Subscription {
	if opt.PageSize <= 0 {
		opt.PageSize = 512
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 200 * time.Millisecond
	}
	return NewSubscription(ctx, opt.Buffer, func(ctx context.Context, send func(Event) bool) error {
		timer := time.NewTimer(opt.PollInterval)
		defer timer.Stop()
		for {
			var w <-chan struct{}
			if wake != nil {
				w = wake()
			}
			page, err := r.ReadAll(ctx, after, opt.PageSize)
			if err != nil {
				return err
			}
			for i := range page {
				after = page[i].Position
				if !filter.Match(&page[i]) {
					continue
				}
				if !send(page[i]) {
					return nil
				}
			}
			if len(page) == opt.PageSize {
				continue
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(opt.PollInterval)
			select {
			case <-ctx.Done():
				return nil
			case <-w:
			case <-timer.C:
			}
		}
	})
}

// VerifyStream re-reads a stream from its first event and checks its hash
// chain. It returns a *ChainError for the first broken link, or nil.
func VerifyStream(ctx context.Context, s Store, stream string) error {
	var prev [32]byte
	var from uint64 = 1
	for {
		page, err := s.ReadStream(ctx, stream, Forward, from, 1000)
		if err != nil {
			return err
		}
		for i := range page {
			if page[i].Version != from+uint64(i) {
				return &ChainError{Stream: stream, Version: from + uint64(i), Position: page[i].Position, Reason: "version missing from the stream"}
			}
		}
		if err := VerifyChain(prev, page); err != nil {
			return err
		}
		if len(page) < 1000 {
			return nil
		}
		prev = page[len(page)-1].Hash
		from += uint64(len(page))
	}
}

// VerifyAll reads the whole log once and checks every stream's chain,
// following each stream's previous link in memory. progress, if not nil, is
// called after each page with the position reached. It returns the first
// *ChainError in log order, or nil, and the number of events checked.
func VerifyAll(ctx context.Context, s Store, progress func(Position, int)) (int, error) {
	type link struct {
		version uint64
		hash    [32]byte
	}
	last := make(map[string]link)
	var after Position
	n := 0
	for {
		page, err := s.ReadAll(ctx, after, 2000)
		if err != nil {
			return n, err
		}
		for i := range page {
			e := &page[i]
			l := last[e.Stream]
			if e.Version != l.version+1 {
				return n, &ChainError{Stream: e.Stream, Version: e.Version, Position: e.Position, Reason: "version does not follow the previous event of the stream"}
			}
			if ComputeHash(l.hash, e) != e.Hash {
				return n, &ChainError{Stream: e.Stream, Version: e.Version, Position: e.Position, Reason: "stored hash does not match the event's contents and the previous link"}
			}
			last[e.Stream] = link{e.Version, e.Hash}
			n++
		}
		if len(page) > 0 {
			after = page[len(page)-1].Position
		}
		if progress != nil {
			progress(after, n)
		}
		if len(page) < 2000 {
			return n, nil
		}
	}
}
