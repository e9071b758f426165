package http

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	nethttp "net/http"
	"sync"
	"time"
)

// idempotency remembers the response to each (principal, Idempotency-Key)
// for a while, so a retried command gets the same response and writes
// nothing. After a restart the memory is gone, but the key is also the
// command id handed to the command layer, which recognises the retry and
// returns the original result: the response is rebuilt from it. Safe for
// concurrent use.
type idempotency struct {
	ttl time.Duration
	max int // entries kept at most; the oldest finished ones go first
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*idemEntry
	// order lists finished entries by finishing time, for expiry in
	// amortised constant time.
	order []idemRef
}

type idemRef struct {
	key string
	e   *idemEntry
}

type idemEntry struct {
	fingerprint string
	done        bool
	at          time.Time
	status      int
	header      nethttp.Header
	body        []byte
}

func newIdempotency(ttl time.Duration, max int, now func() time.Time) *idempotency {
	return &idempotency{ttl: ttl, max: max, now: now, m: map[string]*idemEntry{}}
}

// expire drops finished entries older than the TTL, and the oldest ones
// beyond max. Called with mu held.
func (m *idempotency) expire(now time.Time) {
	for len(m.order) > 0 {
		ref := m.order[0]
		if now.Sub(ref.e.at) <= m.ttl && len(m.order) <= m.max {
			break
		}
		if m.m[ref.key] == ref.e {
			delete(m.m, ref.key)
		}
		m.order[0] = idemRef{}
		m.order = m.order[1:]
	}
}

// commandID derives the command id of a keyed request: it depends on the
// principal, so two callers choosing the same key never collide.
func commandID(principal, key string) string {
	sum := sha256.Sum256([]byte(principal + "\x00" + key))
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
	}
	return e, nil
}

// finish stores the response of a claimed key, or releases the key when
// the request failed in a way a retry may fix (status ≥ 500, 409, 412, or
// no response at all, e.g. after a panic).
func (m *idempotency) finish(key string, status int, header nethttp.Header, body []byte) {
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
	e.done, e.at, e.status, e.header, e.body = true, m.now(), status, header.Clone(), bytes.Clone(body)
	m.order = append(m.order, idemRef{key, e})
	m.expire(e.at)
}

// recorder captures a response to store it under its key.
type recorder struct {
	nethttp.ResponseWriter
	status int
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
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}
