// Package esdb is the Store backend on EventStoreDB / KurrentDB, through
// the official Go client github.com/EventStore/EventStore-Client-Go/v4
// (decision 0082 gives the mapping and its reasons):
//
//   - Streams: a Doorstep stream "household-42" is the EventStoreDB stream
//     Prefix+"household-42" (Prefix "doorstep." by default), so several
//     applications, or several Doorstep installations, share one server.
//   - Versions: Doorstep version v (1 for the first event) is revision v-1;
//     Any, NoStream, StreamExists and Exact become the client's Any,
//     NoStream, StreamExists and Revision. Every append goes to the server
//     with an exact revision (or NoStream), because the hash chain links to
//     the event before: the server's optimistic concurrency guarantees that
//     no other event slipped in between.
//   - Positions: the $all position (commit, prepare) is eventstore.Position
//     {Hi: commit, Lo: prepare}; $all is ordered by commit, then prepare,
//     which is exactly Position.Compare.
//   - Event ids are the EventStoreDB event ids; the event type is the type;
//     the data is the data, byte for byte (content type application/json);
//     the rest of the envelope (schema version, occurred-at, actor, role,
//     command, correlation and causation ids, community, grid, key id,
//     recorded-at and the hash) is the event's custom metadata, a JSON
//     object (correlation and causation under EventStoreDB's own
//     "$correlationId" and "$causationId").
//   - Durable idempotency and unique ids: EventStoreDB de-duplicates event
//     ids only within a stream and, for "any", only while they are in its
//     cache. So before writing, Append claims each event id: it writes one
//     event to the stream Prefix+"~id-"+id with expected revision NoStream,
//     naming the Doorstep stream. A claim that already exists for another
//     stream is ErrDuplicateEvent; one for the same stream sends the append
//     down the retry path, which looks the ids up in the stream itself and
//     returns the original result. Claims are never removed (an id of a
//     failed append stays bound to its stream). "~" cannot begin a Doorstep
//     category, so claim streams never collide with Doorstep streams and are
//     left out of reads and subscriptions.
//   - Reads of the log and subscriptions see only streams that begin with
//     Prefix followed by a lower-case letter (a Doorstep category): system
//     events ("$…" streams), claims and other applications' streams are
//     skipped; Subscribe asks the server to filter with that regular
//     expression (SubscribeToAll with a stream filter).
package esdb

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
)

// DefaultPrefix is prepended to every Doorstep stream name unless Config.Prefix says otherwise.
const DefaultPrefix = "doorstep."

// MaxPrefixBytes bounds Config.Prefix.
const MaxPrefixBytes = 64

// claimType is the event type of an id claim.
const claimType = "doorstep.id_claimed"

// Config configures a Store.
type Config struct {
	// URL is an EventStoreDB connection string, e.g.
	// "esdb://127.0.0.1:2113?tls=false" or "esdb+discover://cluster:2113".
	URL string
	// Prefix is prepended to every Doorstep stream name; default
	// DefaultPrefix. Letters, digits, '.', '_' and ':' only, at most
	// MaxPrefixBytes, not beginning with '$' (system streams). "-" to use no
	// prefix at all.
	Prefix string
	// Limits on appends; zero fields take eventstore's defaults.
	Limits eventstore.Limits
	// Now returns store time for recorded-at; default clock.Now.
	Now func() time.Time
	// HeadCache is how many stream heads (version and hash) Append
	// remembers between appends, saving a read; default 65536. The exact
	// expected revision every append carries makes a stale entry harmless.
	HeadCache int
}

// Store is an eventstore.Store on EventStoreDB.
type Store struct {
	cfg    Config
	client *esdb.Client
	prefix string
	closed atomic.Bool

	mu    sync.Mutex
	heads map[string]head
}

type head struct {
	version uint64
	hash    [32]byte
}

var _ eventstore.Store = (*Store)(nil)

var prefixRe = regexp.MustCompile(`^[A-Za-z0-9._:]*$`)

// Open connects to the server cfg.URL names. The client connects lazily;
// the first call that needs the server reports it unreachable as
// eventstore.ErrUnavailable.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	prefix := cfg.Prefix
	switch prefix {
	case "":
		prefix = DefaultPrefix
	case "-":
		prefix = ""
	}
	if len(prefix) > MaxPrefixBytes || !prefixRe.MatchString(prefix) {
		return nil, fmt.Errorf("eventstoredb: stream prefix %q: use at most %d letters, digits, '.', '_' or ':' (e.g. %q) / 流前缀无效", clip(prefix), MaxPrefixBytes, DefaultPrefix)
	}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.HeadCache <= 0 {
		cfg.HeadCache = 65536
	}
	conf, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("eventstoredb: connection string %s: %v (e.g. esdb://127.0.0.1:2113?tls=false) / 连接字符串无效", redact(cfg.URL), err)
	}
	// Every read must see every write acknowledged before it (the hash
	// chain and the conformance rules rely on reading one's writes).
	conf.NodePreference = esdb.NodePreferenceLeader
	// The client logs to standard output by default, debug lines
	// included; every failure it meets reaches the caller as an error.
	conf.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("%w: eventstoredb %s: %v", eventstore.ErrUnavailable, redact(cfg.URL), err)
	}
	return &Store{cfg: cfg, client: client, prefix: prefix, heads: make(map[string]head)}, nil
}

// Prefix returns the prefix of this store's streams on the server.
func (s *Store) Prefix() string { return s.prefix }

// Close closes the client. Later calls return eventstore.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.client.Close()
}

func (s *Store) name(stream string) string { return s.prefix + stream }

func (s *Store) claimName(id uuid.UUID) string { return s.prefix + "~id-" + id.String() }

// ours reports whether an EventStoreDB stream is a Doorstep stream of this
// store, and returns the Doorstep name.
func (s *Store) ours(esStream string) (string, bool) {
	rest, ok := strings.CutPrefix(esStream, s.prefix)
	if !ok || rest == "" || rest[0] < 'a' || rest[0] > 'z' {
		return "", false
	}
	return rest, true
}

// streamRegex is the server-side filter of this store's Doorstep streams,
// narrowed to categories when given.
func (s *Store) streamRegex(categories []string) string {
	p := "^" + regexp.QuoteMeta(s.prefix)
	if len(categories) == 0 {
		return p + "[a-z]"
	}
	qs := make([]string, len(categories))
	for i, c := range categories {
		qs[i] = regexp.QuoteMeta(c)
	}
	return p + "(" + strings.Join(qs, "|") + ")-"
}

// meta is the custom metadata of an event: the envelope beyond id, type and data.
type meta struct {
	SchemaVersion int    `json:"schema_version"`
	OccurredAt    int64  `json:"occurred_at"`
	Actor         string `json:"actor,omitempty"`
	Role          string `json:"role,omitempty"`
	CommandID     string `json:"command_id,omitempty"`
	CorrelationID string `json:"$correlationId,omitempty"`
	CausationID   string `json:"$causationId,omitempty"`
	Community     string `json:"community,omitempty"`
	Grid          string `json:"grid,omitempty"`
	KeyID         string `json:"key_id,omitempty"`
	RecordedAt    int64  `json:"recorded_at"`
	Hash          string `json:"hash"`
}

func toEventData(e *eventstore.Event) esdb.EventData {
	m := &e.Metadata
	b, _ := json.Marshal(meta{SchemaVersion: e.SchemaVersion, OccurredAt: eventstore.UnixNanos(m.OccurredAt),
		Actor: m.Actor, Role: m.Role, CommandID: m.CommandID, CorrelationID: m.CorrelationID, CausationID: m.CausationID,
		Community: m.Community, Grid: m.Grid, KeyID: m.KeyID, RecordedAt: eventstore.UnixNanos(e.RecordedAt), Hash: hex.EncodeToString(e.Hash[:])})
	return esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: e.Data, Metadata: b}
}

func (s *Store) fromRecorded(r *esdb.RecordedEvent) (eventstore.Event, error) {
	stream, ok := s.ours(r.StreamID)
	if !ok {
		return eventstore.Event{}, fmt.Errorf("eventstoredb: stream %q is not a Doorstep stream of prefix %q", r.StreamID, s.prefix)
	}
	var m meta
	if err := json.Unmarshal(r.UserMetadata, &m); err != nil {
		return eventstore.Event{}, fmt.Errorf("eventstoredb: event %s of stream %q has no Doorstep metadata (written by another application?): %v", r.EventID, r.StreamID, err)
	}
	h, err := hex.DecodeString(m.Hash)
	if err != nil || len(h) != 32 {
		return eventstore.Event{}, fmt.Errorf("eventstoredb: event %s of stream %q has a malformed hash", r.EventID, r.StreamID)
	}
	e := eventstore.Event{
		ID: r.EventID, Stream: stream, Version: r.EventNumber + 1,
		Position: eventstore.Position{Hi: r.Position.Commit, Lo: r.Position.Prepare},
		Type:     r.EventType, SchemaVersion: m.SchemaVersion, Data: r.Data,
		Metadata: eventstore.Metadata{OccurredAt: eventstore.FromUnixNanos(m.OccurredAt), Actor: m.Actor, Role: m.Role,
			CommandID: m.CommandID, CorrelationID: m.CorrelationID, CausationID: m.CausationID,
			Community: m.Community, Grid: m.Grid, KeyID: m.KeyID},
		RecordedAt: eventstore.FromUnixNanos(m.RecordedAt),
	}
	copy(e.Hash[:], h)
	return e, nil
}

// code returns the client error code of err, or -1.
func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

// wrap turns a client error into a store error.
func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// The client reports a call the caller cancelled as its own error
	// around gRPC's Canceled status, which is not context.Canceled: make
	// it one, so that callers see an interruption, not a failure.
	if status.Code(err) == codes.Canceled {
		return fmt.Errorf("%w: eventstoredb: %v", context.Canceled, err)
	}
	switch code(err) {
	case esdb.ErrorUnavailable, esdb.ErrorCodeDeadlineExceeded, esdb.ErrorCodeNotLeader, esdb.ErrorCodeConnectionClosed, esdb.ErrorAborted:
		return fmt.Errorf("%w: eventstoredb: %v", eventstore.ErrUnavailable, err)
	}
	return fmt.Errorf("eventstoredb: %w", err)
}

// readRaw reads an EventStoreDB stream; a missing stream is empty.
func (s *Store) readRaw(ctx context.Context, name string, dir esdb.Direction, from esdb.StreamPosition, count uint64) ([]*esdb.RecordedEvent, error) {
	rs, err := s.client.ReadStream(ctx, name, esdb.ReadStreamOptions{Direction: dir, From: from}, count)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			if code(err) == esdb.ErrorCodeResourceNotFound {
				return nil, nil
			}
			return nil, s.wrap(err)
		}
		if ev.Event != nil {
			out = append(out, ev.Event)
		}
	}
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	var pos esdb.StreamPosition
	d := esdb.Forwards
	if dir == eventstore.Backward {
		d = esdb.Backwards
		pos = esdb.End{}
		if from > 0 {
			pos = esdb.Revision(from - 1)
		}
	} else {
		if from == 0 {
			from = 1
		}
		pos = esdb.Revision(from - 1)
	}
	raw, err := s.readRaw(ctx, s.name(stream), d, pos, uint64(limit))
	if err != nil {
		return nil, err
	}
	out := make([]eventstore.Event, 0, len(raw))
	for _, r := range raw {
		e, err := s.fromRecorded(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// last returns the last event of a stream, or nil.
func (s *Store) last(ctx context.Context, stream string) (*eventstore.Event, error) {
	evs, err := s.ReadStream(ctx, stream, eventstore.Backward, 0, 1)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	return &evs[0], nil
}

// StreamVersion implements eventstore.Store.
func (s *Store) StreamVersion(ctx context.Context, stream string) (uint64, error) {
	e, err := s.last(ctx, stream)
	if err != nil || e == nil {
		return 0, err
	}
	return e.Version, nil
}

// readAllPage is how many $all events one request asks for.
const readAllPage = 512

// ReadAll implements eventstore.Store: the Doorstep events of $all after
// after. EventStoreDB makes an event readable in $all only once it and
// every event before it are committed, so a reader resuming from the last
// position it saw misses nothing.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	out := make([]eventstore.Event, 0, min(limit, readAllPage))
	from := after
	for {
		var start esdb.AllPosition = esdb.Start{}
		if !from.IsZero() {
			start = esdb.Position{Commit: from.Hi, Prepare: from.Lo}
		}
		want := uint64(readAllPage)
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: start, RequiresLeader: true}, want)
		if err != nil {
			return nil, s.wrap(err)
		}
		n := 0
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return nil, s.wrap(err)
			}
			n++
			r := ev.Event
			if r == nil {
				continue
			}
			pos := eventstore.Position{Hi: r.Position.Commit, Lo: r.Position.Prepare}
			if !after.Before(pos) {
				continue
			}
			from = pos
			if _, ok := s.ours(r.StreamID); !ok {
				continue
			}
			e, err := s.fromRecorded(r)
			if err != nil {
				rs.Close()
				return nil, err
			}
			out = append(out, e)
			after = pos
			if len(out) == limit {
				rs.Close()
				return out, nil
			}
		}
		rs.Close()
		if uint64(n) < want {
			return out, nil
		}
	}
}

// Head implements eventstore.Store: the position of the last Doorstep
// event, found by reading $all backwards past other streams.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if s.closed.Load() {
		return eventstore.Position{}, eventstore.ErrClosed
	}
	var from esdb.AllPosition = esdb.End{}
	for {
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from, RequiresLeader: true}, readAllPage)
		if err != nil {
			return eventstore.Position{}, s.wrap(err)
		}
		n := 0
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return eventstore.Position{}, s.wrap(err)
			}
			n++
			if r := ev.Event; r != nil {
				if _, ok := s.ours(r.StreamID); ok {
					rs.Close()
					return eventstore.Position{Hi: r.Position.Commit, Lo: r.Position.Prepare}, nil
				}
				from = esdb.Position{Commit: r.Position.Commit, Prepare: r.Position.Prepare}
			}
		}
		rs.Close()
		if n < readAllPage {
			return eventstore.Position{}, nil
		}
	}
}

// Subscribe implements eventstore.Store with an EventStoreDB catch-up
// subscription to $all, filtered on the server to this store's Doorstep
// streams (and to filter's categories); the type filter applies here.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (*eventstore.Subscription, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	var from esdb.AllPosition = esdb.Start{}
	if !after.IsZero() {
		from = esdb.Position{Commit: after.Hi, Prepare: after.Lo}
	}
	sctx, cancel := context.WithCancel(ctx)
	sub, err := s.client.SubscribeToAll(sctx, esdb.SubscribeToAllOptions{From: from, RequiresLeader: true,
		Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: s.streamRegex(filter.Categories)}})
	if err != nil {
		cancel()
		return nil, s.wrap(err)
	}
	return eventstore.NewSubscription(sctx, 256, func(ctx context.Context, send func(eventstore.Event) bool) error {
		stop := context.AfterFunc(ctx, func() { sub.Close() })
		defer func() {
			stop()
			sub.Close()
			cancel()
		}()
		last := after
		for {
			ev := sub.Recv()
			if d := ev.SubscriptionDropped; d != nil {
				if ctx.Err() != nil {
					return nil
				}
				return s.wrap(d.Error)
			}
			r := ev.EventAppeared
			if r == nil || r.Event == nil {
				continue
			}
			pos := eventstore.Position{Hi: r.Event.Position.Commit, Lo: r.Event.Position.Prepare}
			if !last.Before(pos) {
				continue
			}
			if _, ok := s.ours(r.Event.StreamID); !ok {
				continue
			}
			e, err := s.fromRecorded(r.Event)
			if err != nil {
				return err
			}
			last = pos
			if !filter.Match(&e) {
				continue
			}
			if !send(e) {
				return nil
			}
		}
	}), nil
}

// Append implements eventstore.Store (see the package documentation for
// the id claims that make retries durable and ids unique).
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.closed.Load() {
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	if err := eventstore.ValidateAppend(stream, events, s.cfg.Limits); err != nil {
		return eventstore.AppendResult{}, err
	}
	if expected == nil {
		expected = eventstore.Any()
	}
	claimedBefore, err := s.claimAll(ctx, stream, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if claimedBefore {
		if res, done, err := s.findRetry(ctx, stream, events, 1); done {
			return res, err
		}
	}
	for {
		h, cached, err := s.head(ctx, stream)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		if !eventstore.Satisfied(expected, h.version) {
			if cached {
				// Another process may have written: decide on the server's word.
				s.forget(stream)
				continue
			}
			return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: h.version}
		}
		recorded := s.cfg.Now()
		prev := h.hash
		proposed := make([]esdb.EventData, len(events))
		for i := range events {
			e := eventstore.Seal(prev, stream, h.version+1+uint64(i), recorded, &events[i])
			prev = e.Hash
			proposed[i] = toEventData(&e)
		}
		var rev esdb.ExpectedRevision = esdb.NoStream{}
		if h.version > 0 {
			rev = esdb.Revision(h.version - 1)
		}
		_, err = s.client.AppendToStream(ctx, s.name(stream), esdb.AppendToStreamOptions{ExpectedRevision: rev}, proposed...)
		if err == nil {
			s.remember(stream, head{h.version + uint64(len(events)), prev})
			return s.resultOf(ctx, stream, h.version+1, events)
		}
		s.forget(stream)
		if code(err) != esdb.ErrorCodeWrongExpectedVersion {
			return eventstore.AppendResult{}, s.wrap(err)
		}
		// Another writer got there first. If it wrote this very batch (a
		// retry racing with the original), answer as a retry; otherwise
		// check the expectation against the new head.
		if res, done, err := s.findRetry(ctx, stream, events, h.version+1); done {
			return res, err
		}
	}
}

// head returns the stream's version and last hash, from the cache
// (cached true) or the server.
func (s *Store) head(ctx context.Context, stream string) (head, bool, error) {
	s.mu.Lock()
	h, ok := s.heads[stream]
	s.mu.Unlock()
	if ok {
		return h, true, nil
	}
	e, err := s.last(ctx, stream)
	if err != nil || e == nil {
		return head{}, false, err
	}
	return head{e.Version, e.Hash}, false, nil
}

func (s *Store) remember(stream string, h head) {
	s.mu.Lock()
	if len(s.heads) >= s.cfg.HeadCache {
		clear(s.heads)
	}
	s.heads[stream] = h
	s.mu.Unlock()
}

func (s *Store) forget(stream string) {
	s.mu.Lock()
	delete(s.heads, stream)
	s.mu.Unlock()
}

// resultOf reads back the events just appended at versions from… and
// returns their AppendResult (the server assigns the positions).
func (s *Store) resultOf(ctx context.Context, stream string, from uint64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	got, err := s.ReadStream(ctx, stream, eventstore.Forward, from, len(events))
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if len(got) != len(events) {
		return eventstore.AppendResult{}, fmt.Errorf("eventstoredb: stream %q: read back %d of the %d events just appended", stream, len(got), len(events))
	}
	for i := range got {
		if got[i].ID != events[i].ID {
			return eventstore.AppendResult{}, fmt.Errorf("eventstoredb: stream %q: version %d holds %s, not the event %s just appended", stream, got[i].Version, got[i].ID, events[i].ID)
		}
	}
	return eventstore.AppendResult{FirstVersion: got[0].Version, LastVersion: got[len(got)-1].Version,
		FirstPosition: got[0].Position, LastPosition: got[len(got)-1].Position}, nil
}

// claim binds event id to stream. It returns the stream the id is bound to
// and whether this call made the binding.
func (s *Store) claim(ctx context.Context, id uuid.UUID, stream string) (string, bool, error) {
	b, _ := json.Marshal(map[string]string{"stream": stream})
	_, err := s.client.AppendToStream(ctx, s.claimName(id), esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}},
		esdb.EventData{EventID: uuid.New(), EventType: claimType, ContentType: esdb.ContentTypeJson, Data: b})
	if err == nil {
		return stream, true, nil
	}
	if code(err) != esdb.ErrorCodeWrongExpectedVersion {
		return "", false, s.wrap(err)
	}
	raw, err := s.readRaw(ctx, s.claimName(id), esdb.Forwards, esdb.Start{}, 1)
	if err != nil {
		return "", false, err
	}
	if len(raw) == 0 {
		return "", false, fmt.Errorf("eventstoredb: the claim of event id %s exists but cannot be read", id)
	}
	var c struct{ Stream string }
	if err := json.Unmarshal(raw[0].Data, &c); err != nil || c.Stream == "" {
		return "", false, fmt.Errorf("eventstoredb: the claim of event id %s is malformed", id)
	}
	return c.Stream, false, nil
}

// claimAll claims every id of the batch for stream (several at once). It
// reports whether any id was already bound to stream (a possible retry),
// and fails with ErrDuplicateEvent when one is bound to another stream.
func (s *Store) claimAll(ctx context.Context, stream string, events []eventstore.EventData) (bool, error) {
	owners := make([]string, len(events))
	fresh := make([]bool, len(events))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range events {
		g.Go(func() error {
			var err error
			owners[i], fresh[i], err = s.claim(gctx, events[i].ID, stream)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return false, err
	}
	before := false
	for i := range events {
		if owners[i] != stream {
			return false, fmt.Errorf("%w: event id %s is already used in stream %q; give every event a new id (a retry must resend the same batch to the same stream)", eventstore.ErrDuplicateEvent, events[i].ID, clip(owners[i]))
		}
		if !fresh[i] {
			before = true
		}
	}
	return before, nil
}

// findRetry looks the batch's ids up in stream from version from on. done
// is true when the answer is known: the batch is stored as it is (a retry:
// the original result) or some id is stored in a way that is not a retry
// (ErrDuplicateEvent). done is false when none of the ids is stored.
func (s *Store) findRetry(ctx context.Context, stream string, events []eventstore.EventData, from uint64) (eventstore.AppendResult, bool, error) {
	want := make(map[uuid.UUID]int, len(events))
	for i := range events {
		want[events[i].ID] = i
	}
	var stored []eventstore.Event // the events from the first id on
	found := false
	for {
		page, err := s.ReadStream(ctx, stream, eventstore.Forward, from, 1000)
		if err != nil {
			return eventstore.AppendResult{}, true, err
		}
		for i := range page {
			e := &page[i]
			if found {
				if len(stored) < len(events) {
					stored = append(stored, *e)
				}
				continue
			}
			if idx, ok := want[e.ID]; ok {
				if idx != 0 {
					return eventstore.AppendResult{}, true, dupInStream(e, stream)
				}
				found = true
				stored = append(stored, *e)
			}
		}
		if len(page) < 1000 || found && len(stored) == len(events) {
			break
		}
		from += uint64(len(page))
	}
	if !found {
		return eventstore.AppendResult{}, false, nil
	}
	if len(stored) != len(events) {
		return eventstore.AppendResult{}, true, fmt.Errorf("%w: event id %s is stored in stream %q with fewer events after it than this append carries; a retry must resend the same batch", eventstore.ErrDuplicateEvent, events[0].ID, stream)
	}
	for i := range stored {
		if stored[i].ID != events[i].ID {
			return eventstore.AppendResult{}, true, fmt.Errorf("%w: event id %s is stored in stream %q, but the events stored after it differ from this append; a retry must resend the same batch", eventstore.ErrDuplicateEvent, events[0].ID, stream)
		}
	}
	return eventstore.AppendResult{FirstVersion: stored[0].Version, LastVersion: stored[len(stored)-1].Version,
		FirstPosition: stored[0].Position, LastPosition: stored[len(stored)-1].Position}, true, nil
}

func dupInStream(e *eventstore.Event, stream string) error {
	return fmt.Errorf("%w: event id %s is already stored at version %d of stream %q, and not as the start of the same batch; a retry must resend the same batch", eventstore.ErrDuplicateEvent, e.ID, e.Version, stream)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// redact hides a password in a connection string.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return clip(u)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, has := strings.Cut(rest[:at], ":"); has {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	return clip(scheme + "://" + rest)
}
