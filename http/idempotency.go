package http

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	nethttp "net/http"
	"sync"
	"time"
)

// idempotency remembers the response to each (token, Idempotency-Key) for
// a while, so a retried command gets the same response and writes nothing.
// After a restart the memory is gone, but the key is also the command id
// handed to the command layer, which recognises the retry and returns the
// original result: the response is rebuilt from it. Safe for concurrent
// use.
//
// What it keeps is bounded three ways (decision 0062): by age (ttl), by
// count (max finished entries) and by bytes (maxBytes for the whole cache,
// maxEntry for one answer). An answer larger than maxEntry is never kept:
// only its fingerprint is, so the same key with another request is still
// refused, and a retry runs the command again, which the command layer
// answers from its original result.
type idempotency struct {
	ttl      time.Duration
	max      int   // finished entries kept at most; the oldest go first
	maxBytes int64 // bytes of finished entries kept at most; the oldest go first
	maxEntry int   // the largest answer (body and headers) kept for replay
	now      func() time.Time
	mu       sync.Mutex
	m        map[string]*idemEntry
	// order lists finished entries by finishing time, for expiry in
	// amortised constant time.
	order []idemRef
	bytes int64 // the sizes of the entries in order
	// onLimit, when set, is told (with mu held) which bound made the cache
	// drop or not keep an answer: limitIdempotencyEntry,
	// limitIdempotencyCache or limitIdempotencyEntries (not age).
	onLimit func(limit string)
}

type idemRef struct {
	key string
	e   *idemEntry
}

type idemEntry struct {
	fingerprint string
	done        bool
	// stored is false for a finished answer too large to keep: only the
	// fingerprint is remembered.
	stored bool
	at     time.Time
	status int
	header nethttp.Header
	body   []byte
	size   int64 // what the entry costs, counted in idempotency.bytes
}

// idemEntryOverhead is what an entry costs besides its key, fingerprint,
// headers and body: the map slot, the struct and the order slot, rounded
// up.
const idemEntryOverhead = 256

func newIdempotency(ttl time.Duration, max int, maxBytes int64, maxEntry int, now func() time.Time) *idempotency {
	return &idempotency{ttl: ttl, max: max, maxBytes: maxBytes, maxEntry: maxEntry, now: now, m: map[string]*idemEntry{}}
}

// expire drops finished entries older than the TTL, and the oldest ones
// beyond max entries or maxBytes. Called with mu held.
func (m *idempotency) expire(now time.Time) {
	for len(m.order) > 0 {
		ref := m.order[0]
		if now.Sub(ref.e.at) <= m.ttl && len(m.order) <= m.max && m.bytes <= m.maxBytes {
			break
		}
		if m.onLimit != nil && now.Sub(ref.e.at) <= m.ttl {
			if m.bytes > m.maxBytes {
				m.onLimit(limitIdempotencyCache)
			} else {
				m.onLimit(limitIdempotencyEntries)
			}
		}
		if m.m[ref.key] == ref.e {
			delete(m.m, ref.key)
		}
		m.bytes -= ref.e.size
		m.order[0] = idemRef{}
		m.order = m.order[1:]
	}
}

// stats returns the bytes and the number of the finished entries kept.
func (m *idempotency) stats() (bytes int64, entries int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes, len(m.order)
}

// commandID derives the command id of a keyed request: it depends on the
// token, so two callers choosing the same key never collide.
func commandID(token, key string) string {
	sum := sha256.Sum256([]byte(token + "\x00" + key))
	return "idem-" + hex.EncodeToString(sum[:16])
}

// begin claims key for a request with fingerprint fp. It returns the stored
// entry of a finished earlier request (replay), or an error when the key is
// in flight or was used for a different request.
func (m *idempotency) begin(key, fp string) (*idemEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	e := m.m[key]
	switch {
	case e == nil:
		m.m[key] = &idemEntry{fingerprint: fp, at: now}
		return nil, nil
	case e.fingerprint != fp:
		return nil, newErr(ErrIdempotencyReuse, "idempotency_key_reused", "Idempotency-Key",
			"this Idempotency-Key was already used for a different request; use a new key for a new request",
			"此 Idempotency-Key 已用于另一个不同的请求；新请求请使用新的键")
	case !e.done:
		return nil, newErr(ErrInFlight, "idempotency_key_in_flight", "Idempotency-Key",
			"a request with this Idempotency-Key is still being processed; retry in a moment",
			"使用此 Idempotency-Key 的请求仍在处理中；请稍后重试")
	case !e.stored:
		// The answer was too large to keep: run the request again (the
		// command layer answers a resent command from its result). The
		// old entry stays counted in order until it expires.
		m.m[key] = &idemEntry{fingerprint: fp, at: now}
		return nil, nil
	}
	return e, nil
}

// finish stores the response of a claimed key, or releases the key when
// the request failed in a way a retry may fix (status ≥ 500, 409, 412, 429,
// or no response at all, e.g. after a panic). An answer larger than
// maxEntry, or one not captured whole (whole false), is not stored; its
// fingerprint is.
func (m *idempotency) finish(key string, status int, header nethttp.Header, body []byte, whole bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if status == 0 || status >= 500 || status == nethttp.StatusConflict || status == nethttp.StatusPreconditionFailed || status == nethttp.StatusTooManyRequests {
		delete(m.m, key)
		return
	}
	e := m.m[key]
	if e == nil {
		return
	}
	answer := len(body)
	for k, vs := range header {
		answer += len(k)
		for _, v := range vs {
			answer += len(v)
		}
	}
	e.done, e.at, e.status = true, m.now(), status
	e.size = int64(len(key) + len(e.fingerprint) + idemEntryOverhead)
	if whole && answer <= m.maxEntry {
		e.stored, e.header, e.body = true, header.Clone(), bytes.Clone(body)
		e.size += int64(answer)
	} else if m.onLimit != nil {
		m.onLimit(limitIdempotencyEntry)
	}
	m.order = append(m.order, idemRef{key, e})
	m.bytes += e.size
	m.expire(e.at)
}

// recorder captures a response to store it under its key. It stops
// copying once the answer exceeds limit bytes (it will not be kept).
type recorder struct {
	nethttp.ResponseWriter
	status int
	limit  int
	over   bool
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = nethttp.StatusOK
	}
	if !r.over {
		if r.buf.Len()+len(b) > r.limit {
			r.over, r.buf = true, bytes.Buffer{}
		} else {
			r.buf.Write(b)
		}
	}
	return r.ResponseWriter.Write(b)
}
