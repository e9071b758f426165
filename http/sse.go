package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	nethttp "net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

// streamEvent is one event as the event stream and the log API show it.
type streamEvent struct {
	ID            string          `json:"id"`
	Stream        string          `json:"stream"`
	Version       uint64          `json:"version"`
	Position      string          `json:"position"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
	Metadata      streamMetadata  `json:"metadata"`
	RecordedAt    time.Time       `json:"recorded_at"`
	link                          // previous_position, on the stream only (continuity.go)
}

type streamMetadata struct {
	OccurredAt    time.Time `json:"occurred_at"`
	Actor         string    `json:"actor,omitempty"`
	Role          string    `json:"role,omitempty"`
	CommandID     string    `json:"command_id,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	CausationID   string    `json:"causation_id,omitempty"`
	Community     string    `json:"community,omitempty"`
	Grid          string    `json:"grid,omitempty"`
}

// present renders an event for principal p. Sealed values (objects with a
// "ciphertext" member, i.e. domain.Sealed) never leave as stored: without
// the sensitive grant and a purpose they become {"sealed": true} (or
// {"erased": true} once their key is destroyed); with both and an Opener
// they are decrypted to {"value": "..."} and the read is recorded, with
// the purpose, before the event is returned.
func (s *Server) present(ctx context.Context, p *identity.Principal, purpose identity.Purpose, ev *eventstore.Event) (streamEvent, error) {
	out := streamEvent{ID: ev.ID.String(), Stream: ev.Stream, Version: ev.Version, Position: ev.Position.String(),
		Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.Data, RecordedAt: ev.RecordedAt,
		Metadata: streamMetadata{OccurredAt: ev.Metadata.OccurredAt, Actor: ev.Metadata.Actor, Role: ev.Metadata.Role,
			CommandID: ev.Metadata.CommandID, CorrelationID: ev.Metadata.CorrelationID, CausationID: ev.Metadata.CausationID,
			Community: ev.Metadata.Community, Grid: ev.Metadata.Grid}}
	if !bytes.Contains(ev.Data, []byte(`"ciphertext"`)) {
		return out, nil
	}
	householdID := ""
	if ev.Category() == "household" {
		householdID = strings.TrimPrefix(ev.Stream, "household-")
	}
	data, opened, err := s.redact(ctx, p, householdID, ev.Data)
	if err != nil {
		return out, err
	}
	// A replay of the same event to the same token is not recorded again
	// (decision 0076): the record grows with what was revealed, not with
	// how often a client reconnects from the start.
	if key, id := streamKey(p), ev.ID.String(); opened > 0 && !s.readsSeen.seen(key, id) {
		if err := s.recordReveal(ctx, p, householdID, fmt.Sprintf("%d sensitive field(s) of event %s (%s)", opened, ev.ID, ev.Type), purpose); err != nil {
			return out, err
		}
		s.readsSeen.mark(key, id)
	}
	out.Data = data
	return out, nil
}

// redact rewrites the sealed values in data for p, returning how many were
// decrypted.
func (s *Server) redact(ctx context.Context, p *identity.Principal, householdID string, data json.RawMessage) (json.RawMessage, int, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, 0, err
	}
	reveal := p.Sensitive && s.d.Opener != nil && householdID != ""
	opened := 0
	var walk func(any) (any, error)
	walk = func(x any) (any, error) {
		switch x := x.(type) {
		case map[string]any:
			if ct, ok := x["ciphertext"]; ok {
				var sealed domain.Sealed
				sealed.KeyID, _ = x["key_id"].(string)
				b, _ := json.Marshal(ct)
				if err := json.Unmarshal(b, &sealed.Ciphertext); err != nil {
					return map[string]any{"sealed": true}, nil
				}
				if !reveal {
					// An erased value shows as erased, a live one as sealed.
					if kc, ok := s.d.Opener.(domain.KeyChecker); ok && householdID != "" {
						if erased, err := kc.Erased(ctx, householdID, sealed); err == nil && erased {
							return map[string]any{"erased": true}, nil
						}
					}
					return map[string]any{"sealed": true}, nil
				}
				rv, err := domain.Reveal(ctx, s.d.Opener, householdID, sealed)
				if err != nil {
					return nil, err
				}
				opened++
				if rv.Erased {
					return map[string]any{"erased": true}, nil
				}
				return map[string]any{"value": rv.Value}, nil
			}
			for k, v := range x {
				nv, err := walk(v)
				if err != nil {
					return nil, err
				}
				x[k] = nv
			}
			return x, nil
		case []any:
			for i, v := range x {
				nv, err := walk(v)
				if err != nil {
					return nil, err
				}
				x[i] = nv
			}
		}
		return x, nil
	}
	nv, err := walk(v)
	if err != nil {
		return nil, 0, err
	}
	b, err := json.Marshal(nv)
	return b, opened, err
}

// streamEvents serves GET /v1/events: the whole log as server-sent events,
// from the position in Last-Event-ID (a reconnect) or the after parameter,
// catch-up then live, filtered by category and community and by the
// caller's scope. Each event's SSE id is its position token.
func (s *Server) streamEvents(w nethttp.ResponseWriter, r *nethttp.Request) error {
	p := principalFrom(r.Context())
	q := r.URL.Query()
	if err := onlyParams(q, "after", "category", "community", "type", "purpose", "consumer"); err != nil {
		return err
	}
	// Sealed values are revealed only for a purpose the policy grants the
	// caller (decision 0101); without one every role gets markers.
	purpose := identity.Purpose(q.Get("purpose"))
	if purpose != "" {
		if err := p.MayReveal(purpose); err != nil {
			return err
		}
	} else {
		masked := *p
		masked.Sensitive = false
		p = &masked
	}
	from := q.Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		from = id
	}
	if name := q.Get("consumer"); name != "" && from == "" {
		// A named consumer starts after its last acknowledgement (consumers.go).
		pos, err := s.consumerPosition(r.Context(), p, name)
		if err != nil {
			return err
		}
		from = pos.String()
	}
	after, err := eventstore.ParsePosition(from)
	if err != nil {
		return newErr(ErrBadRequest, "invalid_position", "after",
			fmt.Sprintf("%q is not a position token; use the id of the last event you received (e.g. \"42\"), or 0 for the start", clip(from)),
			fmt.Sprintf("%q 不是有效的位置标记；请使用最后收到的事件编号（如 “42”），从头开始请用 0", clip(from)))
	}
	if after, err = s.migratedPosition(r.Context(), after); err != nil {
		return err
	}
	cats := splitList(q["category"])
	for _, c := range cats {
		if !slices.Contains([]string{"household", "problem", "referral"}, c) {
			return newErr(ErrBadRequest, "invalid_category", "category",
				fmt.Sprintf("%q is not a category; use household, problem or referral", clip(c)),
				fmt.Sprintf("%q 不是有效类别；请使用 “household”、“problem” 或 “referral”", clip(c)))
		}
	}
	if p.Role == identity.RoleDepartment && len(cats) == 0 {
		cats = []string{"referral"} // its referrals only (sse_department.go)
	}
	communities := splitList(q["community"])
	types := splitList(q["type"])
	release, err := s.streamSlots.acquire(streamKey(p))
	if err != nil {
		return err
	}
	defer release()
	rc := nethttp.NewResponseController(w)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()
	sub, err := s.subscribe(ctx, after, eventstore.Filter{Categories: cats, Types: types})
	if err != nil {
		return err
	}
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	// Every write has its own deadline: a client that does not read for
	// StreamWriteTimeout is disconnected, and what its stream held is
	// freed (decision 0076).
	write := func(flush bool, format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout))
		_, err := fmt.Fprintf(w, format, args...)
		if err == nil && flush {
			err = rc.Flush()
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.metrics.dropped.Inc()
				s.log.Warn("event stream: client dropped, it did not read", "timeout", s.cfg.StreamWriteTimeout.String())
			}
			return false
		}
		return true
	}
	w.WriteHeader(nethttp.StatusOK)
	if !write(true, ": doorstep event stream from position %s\nretry: 2000\n\n", after) {
		return nil
	}

	cont := newContinuity(after)
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
			if !write(true, ": keep-alive\n\n") {
				return nil
			}
		case ev, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); err != nil && ctx.Err() == nil {
					s.log.Warn("event stream ended", "error", err.Error())
				}
				return nil
			}
			cat := ev.Category()
			if cat != "household" && cat != "problem" && cat != "referral" {
				continue
			}
			// Resolve the event's community only when a filter or the
			// caller's scope needs it.
			if p.Role == identity.RoleDepartment {
				ok, com, err := s.departmentSees(ctx, p, &ev)
				if err != nil {
					return nil
				}
				if !ok || len(communities) > 0 && !slices.Contains(communities, com) {
					continue
				}
			} else if len(communities) > 0 || p.Role == identity.RoleSupervisor || p.Role == identity.RoleWorker || p.Role == identity.RoleIntegrator && len(p.Communities) > 0 {
				com, grid, err := s.scopes.ofEvent(ctx, &ev)
				if err != nil {
					return nil
				}
				if len(communities) > 0 && !slices.Contains(communities, com) {
					continue
				}
				if !p.Covers(com, grid) {
					continue
				}
			}
			out, err := s.present(ctx, p, purpose, &ev)
			if err != nil {
				s.log.Error("event stream: cannot present event", "position", ev.Position.String(), "error", err.Error())
				return nil
			}
			cont.stamp(&out, ev.Position)
			b, _ := json.Marshal(out)
			if s.d.Opener != nil {
				b = openTokens(ctx, s.d.Opener, b) // sealed text (decision 0108)
			}
			if !write(len(sub.C) == 0, "id: %s\nevent: %s\ndata: %s\n\n", out.Position, out.Type, b) {
				return nil
			}
			s.metrics.streamed.Inc()
		}
	}
}

// What one event stream holds at most while its client is slow: events
// read ahead from the log (a page) and events waiting to be written (the
// buffer). A page of the store's own subscriptions is 512 events and its
// buffer 256; a stream needs far less, and many streams may be slow at
// once (decision 0076).
const (
	streamPageSize = 64
	streamBuffer   = 16
)

// maxStreamReadsSeen bounds how many (token, event) pairs the server
// remembers having revealed on streams: 16 bytes each and a map slot,
// a few MiB in all.
const maxStreamReadsSeen = 100_000

// waker is a store that wakes its subscribers when it appends (both
// stores do); a store without it is polled.
type waker interface {
	Wake() <-chan struct{}
}

// subscribe follows the log from after with streamPageSize and
// streamBuffer, so a slow client holds at most that many events.
func (s *Server) subscribe(ctx context.Context, after eventstore.Position, f eventstore.Filter) (*eventstore.Subscription, error) {
	wk, ok := s.d.Store.(waker)
	if !ok {
		return s.d.Store.Subscribe(ctx, after, f)
	}
	// Refuse at once (503) when the store is closed or unreachable, as
	// Subscribe does, rather than open a stream that ends at once.
	if _, err := s.d.Store.Head(ctx); err != nil {
		return nil, err
	}
	return eventstore.Follow(ctx, s.d.Store, wk.Wake, after, f, eventstore.FollowOptions{PageSize: streamPageSize, Buffer: streamBuffer}), nil
}

// splitList accepts both repeated parameters and comma-separated values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// onlyParams rejects query parameters a route does not know.
func onlyParams(q map[string][]string, allowed ...string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			return newErr(ErrBadRequest, "unknown_parameter", k,
				fmt.Sprintf("query parameter %q is not known here; allowed: %s", clip(k), strings.Join(allowed, ", ")),
				fmt.Sprintf("不支持查询参数 %q；可用参数：“%s”", clip(k), strings.Join(allowed, "”、“")))
		}
	}
	return nil
}
