package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
)

// target describes one command on one aggregate for execute.
type target[A domain.Aggregate] struct {
	kind   string // durable command name, e.g. "household.record_visit"; part of the fingerprint
	stream string // the aggregate's stream
	newAgg func() A
	input  any     // the caller's input without sensitive plaintext; part of the fingerprint
	secret *secret // sensitive plaintext, fingerprinted under the household's key
	// decide runs the domain command on the folded aggregate. It may be
	// called once per attempt.
	decide func(a A, m domain.Meta) ([]domain.Event, error)
	// keyID is the data key the new events' sealed fields use, if any.
	keyID func() string
}

// secret is the sensitive plaintext of a command.
type secret struct {
	household string
	values    []string
}

func (x *secret) empty() bool {
	if x == nil {
		return true
	}
	for _, v := range x.values {
		if v != "" {
			return false
		}
	}
	return true
}

// fingerprint identifies a command's content: kind, target, actor, role,
// the explicit time if any, the input, and a keyed MAC of its sensitive
// plaintext (never the plaintext or a plain hash of it).
func (s *Service) fingerprint(ctx context.Context, c Cmd, kind, stream string, input any, sec *secret) (string, error) {
	doc := struct {
		Kind   string     `json:"kind"`
		Stream string     `json:"stream"`
		Actor  string     `json:"actor"`
		Role   string     `json:"role"`
		At     *time.Time `json:"at,omitempty"`
		Input  any        `json:"input"`
		Secret []byte     `json:"secret,omitempty"`
	}{Kind: kind, Stream: stream, Actor: c.Actor, Role: c.Role, Input: input}
	if !c.At.IsZero() && !c.timeless {
		at := c.At.UTC()
		doc.At = &at
	}
	if !sec.empty() {
		if s.sealer == nil {
			return "", noSealer()
		}
		b, _ := json.Marshal(sec.values)
		mac, err := s.sealer.Fingerprint(ctx, sec.household, b)
		if err != nil {
			return "", err
		}
		doc.Secret = mac
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("app: fingerprint %s: %w", kind, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func noSealer() error {
	return errorf(domain.ErrRule, "sealer_unavailable", "",
		"sensitive fields cannot be stored because no key store is configured; configure one or leave the fields out",
		"未配置密钥存储，无法保存敏感信息；请配置密钥存储或不填写这些字段")
}

// eventID is the id of the i-th event (from 0) a command appends to stream:
// a UUIDv5 of the command id, the stream, the command's fingerprint and i.
// A resent command derives the same ids, so the store recognises it.
func (s *Service) eventID(commandID, fp, stream string, i int) uuid.UUID {
	return uuid.NewSHA1(s.ns, []byte(stream+"\x00"+commandID+"\x00"+fp+"\x00"+strconv.Itoa(i)))
}

// derivedID is the id of an aggregate a command creates when the caller
// gave none: a UUIDv5 of the command id and what it is for.
func (s *Service) derivedID(commandID, what string) string {
	return uuid.NewSHA1(s.ns, []byte(what+"\x00"+commandID)).String()
}

// loaded is what reading a stream tells besides the folded aggregate.
type loaded struct {
	version uint64
	last    eventstore.Metadata // metadata of the last event read
	byCmd   []eventstore.Event  // events of the command id asked for, without Data
}

const pageSize = 1000

// load folds stream into a up to as, collecting the events of commandID
// (if not empty). Loading everything (the zero as) starts from the events
// the stream cache holds and reads only those appended since.
func (s *Service) load(ctx context.Context, stream string, a domain.Aggregate, as domain.AsOf, commandID string) (loaded, error) {
	var l loaded
	var evs []cachedEvent
	beyond := func(e *eventstore.Event) bool {
		return (as.Version != 0 && e.Version > as.Version) || (!as.RecordedAt.IsZero() && e.RecordedAt.After(as.RecordedAt))
	}
	whole := as.Version == 0 && as.RecordedAt.IsZero()
	if whole {
		evs = s.cache.get(stream)
	}
read:
	for from := uint64(len(evs)) + 1; ; {
		page, err := s.store.ReadStream(ctx, stream, eventstore.Forward, from, pageSize)
		if err != nil {
			return l, fmt.Errorf("app: read %s: %w", stream, err)
		}
		for i := range page {
			e := &page[i]
			if beyond(e) {
				break read
			}
			r, err := eventlog.Decode(s.reg, e)
			if err != nil {
				return l, err
			}
			c := cachedEvent{ev: *e, rec: r}
			c.ev.Data = nil // decoded in rec; dropped to halve the cache's memory
			evs = append(evs, c)
		}
		if len(page) < pageSize {
			break
		}
		from += uint64(len(page))
	}
	recs := make([]domain.Recorded, len(evs))
	for i := range evs {
		e := &evs[i].ev
		var err error
		if recs[i], err = s.openLabels(ctx, evs[i].rec); err != nil {
			return l, err
		}
		l.last = e.Metadata
		if commandID != "" && e.Metadata.CommandID == commandID {
			l.byCmd = append(l.byCmd, *e)
		}
	}
	if err := eventlog.FoldDecoded(a, stream, recs); err != nil {
		return l, err
	}
	l.version = a.Version()
	if whole {
		s.cache.put(stream, evs)
	}
	return l, nil
}

// execute is load–decide–save with optimistic concurrency: fold the stream,
// recognise a resent command, decide, append with the folded version as the
// expected version; on a conflict, load again and decide again on the fresh
// state, at most s.attempts times. It returns the aggregate with the
// command's events applied (or as loaded, for a resent command).
func execute[A domain.Aggregate](ctx context.Context, s *Service, c Cmd, t target[A]) (Result, A, error) {
	var zero A
	c, err := s.prepare(c)
	if err != nil {
		return Result{}, zero, err
	}
	fp, err := s.fingerprint(ctx, c, t.kind, t.stream, t.input, t.secret)
	if err != nil {
		return Result{}, zero, err
	}
	m := s.meta(c)
	res := Result{CommandID: c.ID, Stream: t.stream}
	var lastConflict error
	for attempt := 1; attempt <= s.attempts; attempt++ {
		a := t.newAgg()
		l, err := s.load(ctx, t.stream, a, domain.AsOf{}, c.ID)
		if err != nil {
			return res, zero, err
		}
		if len(l.byCmd) > 0 {
			r, err := s.replayed(res, l.byCmd, fp, t.stream)
			return r, a, err
		}
		if c.Expect != nil && l.version != *c.Expect {
			return res, zero, versionMismatch(t.stream, *c.Expect, l.version)
		}
		if c.Match != nil && !c.Match.holds(l.version) {
			return res, zero, matchMismatch(t.stream, c.Match, l.version)
		}
		evs, err := t.decide(a, m)
		if err != nil {
			return res, zero, err
		}
		if len(evs) == 0 {
			res.LastVersion = l.version
			return res, a, nil
		}
		for _, e := range evs {
			a.Apply(e)
		}
		// Personal text enters the log sealed (decision 0108); the
		// aggregate above decided and applied the clear values.
		if evs, err = s.sealText(ctx, householdOf(a), evs); err != nil {
			return res, zero, err
		}
		env := eventlog.Envelope{At: m.At, Actor: c.Actor, Role: c.Role, CommandID: c.ID,
			CorrelationID: c.CorrelationID, CausationID: c.CausationID}
		// The scope is decided from the aggregate's state after the new
		// events, never inherited from the stream's earlier events.
		if env.Community, env.Grid, err = eventlog.Scope(ctx, a, s.currentHousehold); err != nil {
			return res, zero, err
		}
		if t.keyID != nil {
			env.KeyID = t.keyID()
		}
		md := env.Metadata()
		data := make([]eventstore.EventData, len(evs))
		for i, e := range evs {
			if data[i], err = eventlog.Encode(s.eventID(c.ID, fp, t.stream, i), e, md); err != nil {
				return res, zero, err
			}
		}
		ar, err := s.store.Append(ctx, t.stream, eventstore.Exact(l.version), data...)
		switch {
		case err == nil:
			res.AppendResult = ar
			res.Events = len(evs)
			// The store answers a resent batch with the original result.
			res.Replayed = ar.FirstVersion != l.version+1
			return res, a, nil
		case c.Expect != nil && errors.Is(err, eventstore.ErrConflict):
			var ce *eventstore.ConflictError
			actual := l.version
			if errors.As(err, &ce) {
				actual = ce.Actual
			}
			return res, zero, versionMismatch(t.stream, *c.Expect, actual)
		case errors.Is(err, eventstore.ErrConflict), errors.Is(err, eventstore.ErrDuplicateEvent):
			// Someone appended first (or a copy of this command with other
			// events did): decide again on the fresh state.
			lastConflict = err
			if err := backoff(ctx, attempt); err != nil {
				return res, zero, err
			}
		default:
			return res, zero, fmt.Errorf("app: append to %s: %w", t.stream, err)
		}
	}
	e := errorf(domain.ErrConflict, "concurrent_update", "",
		fmt.Sprintf("%s changed %d times while this command was being decided; try again", t.stream, s.attempts),
		fmt.Sprintf("处理本命令期间 %s 已被他人修改 %d 次；请重试", t.stream, s.attempts))
	e.Err = lastConflict
	return res, zero, e
}

// currentHousehold folds a household as it is now (for eventlog.Scope).
func (s *Service) currentHousehold(ctx context.Context, id string) (*domain.Household, error) {
	return s.Household(ctx, id, domain.AsOf{})
}

// replayed answers a resent command from the events it appended the first
// time, or refuses a command id reused with other content.
func (s *Service) replayed(res Result, prior []eventstore.Event, fp, stream string) (Result, error) {
	if prior[0].ID != s.eventID(prior[0].Metadata.CommandID, fp, stream, 0) {
		return res, errorf(domain.ErrConflict, "command_id_reused", "command_id",
			fmt.Sprintf("command id %s was already used for a different command on %s; send a new command with a new id", res.CommandID, stream),
			fmt.Sprintf("命令编号 %s 已用于 %s 上的另一条不同命令；请使用新的命令编号发送新命令", res.CommandID, stream))
	}
	first, last := prior[0], prior[len(prior)-1]
	res.AppendResult = eventstore.AppendResult{FirstVersion: first.Version, LastVersion: last.Version,
		FirstPosition: first.Position, LastPosition: last.Position}
	res.Events = len(prior)
	res.Replayed = true
	return res, nil
}

// backoff waits a short random time that grows with the attempt, so racing
// writers spread out.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.IntN(attempt*200+1)) * time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
