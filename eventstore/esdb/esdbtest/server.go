// Package esdbtest is an in-process gRPC server speaking the subset of the
// EventStoreDB client protocol that EventStore-Client-Go v4 uses when
// package esdb talks to it: server features (asked on connect), appends
// (Streams.Append), stream and $all reads (Streams.Read with a count) and
// $all subscriptions with stream-name filters (Streams.Read with the
// subscription option). It registers itself through the client module's own
// generated service definitions (streams.RegisterStreamsServer,
// serverfeatures.RegisterServerFeaturesServer), so the wire messages are
// exactly the ones the client sends and expects.
//
// It follows the semantics the EventStoreDB documentation gives for these
// calls:
//
//   - Expected revisions: any; no_stream (the stream has no events);
//     stream_exists; an exact revision (the last event's revision, 0 for
//     the first event). A mismatch answers WrongExpectedVersion carrying
//     the current revision (or no_stream) and the expectation, which the
//     client turns into ErrorCodeWrongExpectedVersion. A write whose
//     expectation names an exact revision or no_stream and whose event ids
//     are already stored right after that revision is idempotent: it
//     succeeds without writing. With "any" the real server de-duplicates
//     only ids still in its cache; this server keeps no such cache and
//     de-duplicates nothing for "any" (package esdb never relies on it).
//   - Positions: every event is a record at a growing log offset. An
//     append over the gRPC API is an implicit transaction whose records
//     commit themselves (EventStoreDB's IsCommitted prepares, no separate
//     commit record), and the server reads such an event in $all at commit
//     position = prepare position = its own log position; so does this
//     one. $all is ordered by (commit, prepare) and an append's events are
//     contiguous in it.
//   - Reads: a stream forwards from a revision or backwards from a
//     revision or the end; a missing stream answers StreamNotFound; $all
//     forwards from a position (inclusive) or backwards before one.
//   - Subscriptions to $all: a confirmation, then the stored events after
//     the start point (catch-up), CaughtUp, then new events as they are
//     written (live), each once and in order; a stream-identifier filter
//     (prefixes or a regular expression) or an event-type filter drops what
//     does not match, with checkpoints sent as the filter skips events.
//   - System streams: the log starts with a "$settings" event, as a real
//     server's does, so that a client that does not filter them out of $all
//     sees them.
//
// What this proves is the mapping in package esdb and the client calls it
// makes, against these documented rules; it is not EventStoreDB, and a
// benchmark against it says nothing about EventStoreDB's speed.
package esdbtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
)

// ServerVersion is the EventStoreDB version the server reports to the
// client's feature discovery.
const ServerVersion = "23.10.0"

// record is one stored event.
type record struct {
	stream          string
	revision        uint64
	id              uuid.UUID
	metadata        map[string]string // type, content-type, created
	custom, data    []byte
	commit, prepare uint64
}

// Server is a running in-process server. Create one with Start; it is safe
// for concurrent use.
type Server struct {
	api.UnimplementedStreamsServer
	serverfeatures.UnimplementedServerFeaturesServer

	lis  net.Listener
	grpc *grpc.Server
	now  func() time.Time

	mu      sync.Mutex
	log     []*record            // $all, in (commit, prepare) order
	streams map[string][]*record // each stream's events by revision
	offset  uint64               // next log offset
	changed chan struct{}        // closed and replaced at every append
	appends int
	subSent []int // events sent by each $all subscription, in the order they started
}

// Start listens on a free port of 127.0.0.1 and serves until Close. now
// gives the "created" time of events; nil is time.Now.
func Start(now func() time.Time) (*Server, error) {
	if now == nil {
		now = time.Now
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{lis: lis, now: now, streams: make(map[string][]*record), offset: 0, changed: make(chan struct{})}
	s.grpc = grpc.NewServer()
	api.RegisterStreamsServer(s.grpc, s)
	serverfeatures.RegisterServerFeaturesServer(s.grpc, s)
	s.mu.Lock()
	s.appendLocked("$settings", []*api.AppendReq_ProposedMessage{{
		Id:       protoUUID(uuid.New()),
		Metadata: map[string]string{"type": "$settings", "content-type": "application/json"},
		Data:     []byte(`{"$userStreamAcl":{},"$systemStreamAcl":{}}`),
	}})
	s.mu.Unlock()
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

// URL is the connection string of the server for the client.
func (s *Server) URL() string {
	return "esdb://" + s.lis.Addr().String() + "?tls=false"
}

// Close stops the server, ending open calls.
func (s *Server) Close() { s.grpc.Stop() }

// Appends reports how many appends wrote events (idempotent no-ops excluded).
func (s *Server) Appends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

// SubscriptionsSent reports, for each $all subscription in the order they
// started, how many events the server sent on it (checkpoints and the
// other control messages left out): what its filter let through.
func (s *Server) SubscriptionsSent() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.subSent...)
}

// Tamper replaces the data of one stored event behind the client's back, as
// an attacker with access to the server's files would. It reports whether
// the event exists.
func (s *Server) Tamper(stream string, revision uint64, data []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.streams[stream]
	if revision >= uint64(len(evs)) {
		return false
	}
	evs[revision].data = append([]byte(nil), data...)
	return true
}

// GetSupportedMethods answers the client's feature discovery: the calls
// this server implements, without batchappend, so the client appends with
// Streams.Append.
func (s *Server) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: ServerVersion,
		Methods: []*serverfeatures.SupportedMethod{
			{MethodName: "read", ServiceName: "event_store.client.streams.streams", Features: []string{"position", "events", "all", "stream"}},
			{MethodName: "append", ServiceName: "event_store.client.streams.streams"},
		},
	}, nil
}

// Append implements Streams.Append: an options message, then the events.
func (s *Server) Append(stream api.Streams_AppendServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first append message must carry the options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	if name == "" {
		return status.Error(codes.InvalidArgument, "empty stream name")
	}
	var msgs []*api.AppendReq_ProposedMessage
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		pm := m.GetProposedMessage()
		if pm == nil {
			return status.Error(codes.InvalidArgument, "append messages after the first must be proposed events")
		}
		if _, err := fromProtoUUID(pm.GetId()); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if pm.Metadata["type"] == "" {
			return status.Error(codes.InvalidArgument, "event type missing")
		}
		msgs = append(msgs, pm)
	}
	resp := s.append(name, opts, msgs)
	return stream.SendAndClose(resp)
}

// expectation is a decoded expected revision: any, noStream, exists, or exact (rev).
type expectation struct {
	kind string
	rev  uint64
}

func decodeExpected(o *api.AppendReq_Options) expectation {
	switch x := o.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		return expectation{kind: "exact", rev: x.Revision}
	case *api.AppendReq_Options_NoStream:
		return expectation{kind: "no_stream"}
	case *api.AppendReq_Options_StreamExists:
		return expectation{kind: "stream_exists"}
	}
	return expectation{kind: "any"}
}

func (s *Server) append(name string, o *api.AppendReq_Options, msgs []*api.AppendReq_ProposedMessage) *api.AppendResp {
	exp := decodeExpected(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.streams[name]
	n := uint64(len(evs))
	ok := false
	switch exp.kind {
	case "any":
		ok = true
	case "no_stream":
		ok = n == 0
	case "stream_exists":
		ok = n > 0
	case "exact":
		ok = n == exp.rev+1
	}
	if !ok {
		// Idempotent write: the same ids already follow the expected revision.
		var from uint64
		idem := false
		switch exp.kind {
		case "no_stream":
			from, idem = 0, true
		case "exact":
			from, idem = exp.rev+1, true
		}
		if idem && len(msgs) > 0 && from+uint64(len(msgs)) <= n {
			same := true
			for i, m := range msgs {
				id, _ := fromProtoUUID(m.GetId())
				if evs[from+uint64(i)].id != id {
					same = false
					break
				}
			}
			if same {
				last := evs[from+uint64(len(msgs))-1]
				return success(last)
			}
		}
		return wrongVersion(exp, n)
	}
	if len(msgs) == 0 {
		if n == 0 {
			return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
				CurrentRevisionOption: &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}},
				PositionOption:        &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}}}}
		}
		return success(evs[n-1])
	}
	last := s.appendLocked(name, msgs)
	s.appends++
	return success(last)
}

// appendLocked writes msgs to the end of stream name and wakes subscribers.
func (s *Server) appendLocked(name string, msgs []*api.AppendReq_ProposedMessage) *record {
	created := strconv.FormatInt(s.now().UnixNano()/100, 10) // .NET ticks since the Unix epoch
	var last *record
	for _, m := range msgs {
		id, _ := fromProtoUUID(m.GetId())
		md := map[string]string{"type": m.Metadata["type"], "content-type": m.Metadata["content-type"], "created": created}
		r := &record{stream: name, revision: uint64(len(s.streams[name])), id: id, metadata: md,
			custom: append([]byte(nil), m.CustomMetadata...), data: append([]byte(nil), m.Data...),
			commit: s.offset, prepare: s.offset}
		s.offset += uint64(64 + len(name) + len(md["type"]) + len(r.custom) + len(r.data))
		s.streams[name] = append(s.streams[name], r)
		s.log = append(s.log, r)
		last = r
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return last
}

func success(last *record) *api.AppendResp {
	return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: last.revision},
		PositionOption: &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
			CommitPosition: last.commit, PreparePosition: last.prepare}},
	}}}
}

func wrongVersion(exp expectation, n uint64) *api.AppendResp {
	w := &api.AppendResp_WrongExpectedVersion{}
	if n == 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: n - 1}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: n - 1}
	}
	switch exp.kind {
	case "exact":
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: exp.rev}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: exp.rev}
	case "no_stream":
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case "stream_exists":
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	}
	return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

// filter is a decoded read filter; nil matches everything.
type filter struct {
	onType   bool
	prefixes []string
	re       *regexp.Regexp
}

func decodeFilter(o *api.ReadReq_Options) (*filter, error) {
	fo := o.GetFilter()
	if fo == nil {
		return nil, nil
	}
	f := &filter{}
	var ex *api.ReadReq_Options_FilterOptions_Expression
	switch x := fo.GetFilter().(type) {
	case *api.ReadReq_Options_FilterOptions_StreamIdentifier:
		ex = x.StreamIdentifier
	case *api.ReadReq_Options_FilterOptions_EventType:
		ex, f.onType = x.EventType, true
	default:
		return nil, status.Error(codes.InvalidArgument, "filter without an expression")
	}
	f.prefixes = ex.GetPrefix()
	if r := ex.GetRegex(); r != "" {
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter regex: %v", err)
		}
		f.re = re
	}
	return f, nil
}

func (f *filter) match(r *record) bool {
	if f == nil {
		return true
	}
	v := r.stream
	if f.onType {
		v = r.metadata["type"]
	}
	if f.re != nil {
		return f.re.MatchString(v)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// Read implements Streams.Read: stream reads, $all reads and $all
// subscriptions.
func (s *Server) Read(req *api.ReadReq, out api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o == nil {
		return status.Error(codes.InvalidArgument, "read without options")
	}
	f, err := decodeFilter(o)
	if err != nil {
		return err
	}
	asString := o.GetUuidOption().GetString_() != nil
	send := func(r *record) error {
		return out.Send(&api.ReadResp{Content: &api.ReadResp_Event{Event: toReadEvent(r, asString)}})
	}
	backwards := o.GetReadDirection() == api.ReadReq_Options_Backwards
	if st := o.GetStream(); st != nil {
		if o.GetSubscription() != nil {
			return status.Error(codes.Unimplemented, "stream subscriptions are not part of this server's subset")
		}
		return s.readStream(st, backwards, o.GetCount(), send, out)
	}
	all := o.GetAll()
	if all == nil {
		return status.Error(codes.InvalidArgument, "read of neither a stream nor $all")
	}
	if o.GetSubscription() != nil {
		if backwards {
			return status.Error(codes.InvalidArgument, "a subscription reads forwards")
		}
		return s.subscribeAll(out.Context(), all, f, send, out)
	}
	s.mu.Lock()
	var page []*record
	count := o.GetCount()
	if backwards {
		i := len(s.log)
		if p := all.GetPosition(); p != nil {
			i = s.searchLocked(p.CommitPosition, p.PreparePosition)
		}
		for i--; i >= 0 && uint64(len(page)) < count; i-- {
			if f.match(s.log[i]) {
				page = append(page, s.log[i])
			}
		}
	} else {
		i := 0
		switch {
		case all.GetPosition() != nil:
			p := all.GetPosition()
			i = s.searchLocked(p.CommitPosition, p.PreparePosition)
		case all.GetEnd() != nil:
			i = len(s.log)
		}
		for ; i < len(s.log) && uint64(len(page)) < count; i++ {
			if f.match(s.log[i]) {
				page = append(page, s.log[i])
			}
		}
	}
	s.mu.Unlock()
	for _, r := range page {
		if err := send(r); err != nil {
			return err
		}
	}
	return nil
}

// searchLocked returns the index of the first record at or after (commit, prepare).
func (s *Server) searchLocked(commit, prepare uint64) int {
	lo, hi := 0, len(s.log)
	for lo < hi {
		m := (lo + hi) / 2
		r := s.log[m]
		if r.commit < commit || r.commit == commit && r.prepare < prepare {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (s *Server) readStream(o *api.ReadReq_Options_StreamOptions, backwards bool, count uint64, send func(*record) error, out api.Streams_ReadServer) error {
	name := o.GetStreamIdentifier().GetStreamName()
	s.mu.Lock()
	evs := s.streams[string(name)]
	var page []*record
	if len(evs) > 0 {
		if backwards {
			i := int64(len(evs)) - 1
			if x, ok := o.GetRevisionOption().(*api.ReadReq_Options_StreamOptions_Revision); ok && int64(x.Revision) < i {
				i = int64(x.Revision)
			}
			if o.GetStart() != nil {
				i = 0
			}
			for ; i >= 0 && uint64(len(page)) < count; i-- {
				page = append(page, evs[i])
			}
		} else {
			var i uint64
			switch x := o.GetRevisionOption().(type) {
			case *api.ReadReq_Options_StreamOptions_Revision:
				i = x.Revision
			case *api.ReadReq_Options_StreamOptions_End:
				i = uint64(len(evs))
			}
			for ; i < uint64(len(evs)) && uint64(len(page)) < count; i++ {
				page = append(page, evs[i])
			}
		}
	}
	s.mu.Unlock()
	if len(evs) == 0 {
		return out.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: name}}}})
	}
	for _, r := range page {
		if err := send(r); err != nil {
			return err
		}
	}
	return nil
}

// checkpointEvery is how many events a filter may skip before the
// subscription sends a checkpoint.
const checkpointEvery = 32

func (s *Server) subscribeAll(ctx context.Context, o *api.ReadReq_Options_AllOptions, f *filter, send func(*record) error, out api.Streams_ReadServer) error {
	if err := out.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString()}}}); err != nil {
		return err
	}
	s.mu.Lock()
	sub := len(s.subSent)
	s.subSent = append(s.subSent, 0)
	next := 0
	switch {
	case o.GetEnd() != nil:
		next = len(s.log)
	case o.GetPosition() != nil:
		// Subscribing from a position delivers what comes after it.
		p := o.GetPosition()
		next = s.searchLocked(p.CommitPosition, p.PreparePosition)
		if next < len(s.log) && s.log[next].commit == p.CommitPosition && s.log[next].prepare == p.PreparePosition {
			next++
		}
	}
	s.mu.Unlock()
	caughtUp := false
	skipped := 0
	for {
		s.mu.Lock()
		batch := s.log[next:min(len(s.log), next+256)]
		wake := s.changed
		s.mu.Unlock()
		next += len(batch)
		for _, r := range batch {
			if !f.match(r) {
				skipped++
				if skipped >= checkpointEvery {
					skipped = 0
					if err := out.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
						CommitPosition: r.commit, PreparePosition: r.prepare}}}); err != nil {
						return err
					}
				}
				continue
			}
			s.mu.Lock()
			s.subSent[sub]++
			s.mu.Unlock()
			if err := send(r); err != nil {
				return err
			}
		}
		if len(batch) > 0 {
			continue
		}
		if !caughtUp {
			caughtUp = true
			if err := out.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
	}
}

func toReadEvent(r *record, asString bool) *api.ReadResp_ReadEvent {
	id := protoUUID(r.id)
	if asString {
		id = &shared.UUID{Value: &shared.UUID_String_{String_: r.id.String()}}
	}
	return &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               id,
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   r.revision,
			PreparePosition:  r.prepare,
			CommitPosition:   r.commit,
			Metadata:         r.metadata,
			CustomMetadata:   r.custom,
			Data:             r.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.commit},
	}
}

// protoUUID encodes id as the client's structured UUID: the two big-endian
// halves as signed 64-bit integers.
func protoUUID(id uuid.UUID) *shared.UUID {
	var most, least uint64
	for i := 0; i < 8; i++ {
		most = most<<8 | uint64(id[i])
		least = least<<8 | uint64(id[8+i])
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits: int64(most), LeastSignificantBits: int64(least)}}}
}

func fromProtoUUID(u *shared.UUID) (uuid.UUID, error) {
	if st := u.GetStructured(); st != nil {
		var id uuid.UUID
		most, least := uint64(st.MostSignificantBits), uint64(st.LeastSignificantBits)
		for i := 7; i >= 0; i-- {
			id[i] = byte(most)
			id[8+i] = byte(least)
			most >>= 8
			least >>= 8
		}
		return id, nil
	}
	if s := u.GetString_(); s != "" {
		return uuid.Parse(s)
	}
	return uuid.Nil, fmt.Errorf("event without an id")
}
