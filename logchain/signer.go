package logchain

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/doorstep/doorstep/eventstore"
)

// Signer computes the global chain and signs its heads: on demand (Sign),
// or while it runs (Run) every Every events and every Interval when
// events came in since the last head. Each head is appended to the heads
// file (when File is set) and then to the log on HeadStream.
type Signer struct {
	Store eventstore.Store   // required
	Key   ed25519.PrivateKey // required
	File  string             // the heads file; empty: none
	Now   func() time.Time   // the signing instant; nil: time.Now
	Log   *slog.Logger       // nil: discard
	Every uint64             // Run signs after this many events; 0: 1000
	// Interval is how often Run signs when events came in since the last
	// head; 0: one minute.
	Interval time.Duration

	mu    sync.Mutex
	chain Chain
	// fresh counts events since the last head, not counting heads.
	fresh uint64
}

// stopTimeout bounds the head signed when Run stops.
const stopTimeout = 10 * time.Second

// signAtStop signs a last head when Run stops (ctx ended) and events came
// in since the previous head, reading the log to its end first: events
// committed while the subscription was closing are covered too.
func (s *Signer) signAtStop(ctx context.Context, log *slog.Logger) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(sctx); err != nil {
		return fmt.Errorf("sign a last head at stop: %w", err)
	}
	if s.fresh == 0 {
		return nil
	}
	h, err := s.signLocked(sctx)
	if err != nil {
		return fmt.Errorf("sign a last head at stop: %w", err)
	}
	log.Info("signed head at stop / 停止时已签名日志头", "count", h.Count, "position", h.Position, "key_id", h.KeyID)
	return nil
}

// catchUp extends the chain to the end of the log.
func (s *Signer) catchUp(ctx context.Context) error {
	for {
		page, err := s.Store.ReadAll(ctx, s.chain.Position, 2000)
		if err != nil {
			return err
		}
		for i := range page {
			s.add(&page[i])
		}
		if len(page) < 2000 {
			return nil
		}
	}
}

func (s *Signer) add(e *eventstore.Event) {
	s.chain.Add(e)
	if e.Stream != HeadStream {
		s.fresh++
	}
}

// Sign extends the chain to the end of the log and signs its head.
func (s *Signer) Sign(ctx context.Context) (Head, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(ctx); err != nil {
		return Head{}, err
	}
	return s.signLocked(ctx)
}

func (s *Signer) signLocked(ctx context.Context) (Head, error) {
	if s.chain.Count == 0 {
		return Head{}, fmt.Errorf("the log is empty: there is nothing to sign / 日志为空，无可签名内容")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now()
	h := Sign(s.Key, s.chain, at)
	if s.File != "" {
		if err := AppendFile(s.File, h); err != nil {
			return h, err
		}
	}
	data, err := json.Marshal(h)
	if err != nil {
		return h, err
	}
	if _, err := s.Store.Append(ctx, HeadStream, eventstore.Any(), eventstore.EventData{
		ID: eventstore.NewID(), Type: HeadEventType, Data: data,
		Metadata: eventstore.Metadata{OccurredAt: at, Actor: "doorstep-checkpoint", Role: "admin"},
	}); err != nil {
		return h, fmt.Errorf("append the signed head to the log: %w", err)
	}
	s.fresh = 0
	return h, nil
}

// Run follows the log and signs heads until ctx ends: after Every events,
// and every Interval when events came in since the last head. It signs
// nothing for heads alone, so an idle log gets no new heads. When ctx ends
// (a graceful shutdown), it signs a last head if events came in since the
// previous one, so that the log's end as the server leaves it is covered
// (stopTimeout bounds that).
func (s *Signer) Run(ctx context.Context) error {
	every, interval := s.Every, s.Interval
	if every == 0 {
		every = 1000
	}
	if interval <= 0 {
		interval = time.Minute
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	err := s.catchUp(ctx)
	from := s.chain.Position
	s.mu.Unlock()
	if err != nil {
		return err
	}
	sign := func() error {
		h, err := s.signLocked(ctx)
		if err != nil {
			return err
		}
		log.Info("signed head / 已签名日志头", "count", h.Count, "position", h.Position, "key_id", h.KeyID)
		return nil
	}
	// At start, the events already in the log count as new: sign them now
	// when there are enough.
	s.mu.Lock()
	if s.fresh >= every {
		err = sign()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	sub, err := s.Store.Subscribe(ctx, from, eventstore.Filter{})
	if err != nil {
		return err
	}
	defer sub.Close()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.signAtStop(ctx, log)
		case e, ok := <-sub.C:
			if !ok {
				if ctx.Err() != nil {
					return s.signAtStop(ctx, log)
				}
				if err := sub.Err(); err != nil {
					return err
				}
				return nil
			}
			s.mu.Lock()
			if !e.Position.Before(s.chain.Position) && e.Position != s.chain.Position {
				s.add(&e)
			}
			var err error
			if s.fresh >= every {
				err = sign()
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
		case <-tick.C:
			s.mu.Lock()
			var err error
			if s.fresh > 0 {
				err = sign()
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
}
