package http

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	nethttp "net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/doorstep/doorstep/domain"

	"github.com/doorstep/doorstep/identity"
)

// The limits of the HTTP edge and how refusals are counted (decision 0077).
// Every refusal because input or use went past a bound is a bilingual
// problem answer with a stable code; limitOfCode names the bound each code
// stands for, and writeError counts it in
// doorstep_http_limit_refusals_total{limit=...}. The table in README.md
// ("Limits") lists them all.
var limitOfCode = map[string]string{
	"body_too_large":          "body",
	"event_too_large":         "body",
	"request_too_large":       "body",
	"headers_too_large":       "header",
	"invalid_correlation_id":  "header",
	"invalid_idempotency_key": "header",
	"invalid_id":              "id",
	"text_too_long":           "text",
	"invalid_text":            "text",
	"invalid_limit":           "page_size",
	"time_out_of_range":       "time",
	"too_many_streams":        "streams_per_token",
	"streams_full":            "streams_total",
}

// ErrTooManyRequests is the kind of a refusal because the caller already
// uses as much of something as one caller may (429, with Retry-After).
var ErrTooManyRequests = fmt.Errorf("too many requests")

// streamLimiter bounds the event streams open at once: per token and in
// all. Safe for concurrent use.
type streamLimiter struct {
	perToken, total int
	mu              sync.Mutex
	open            map[string]int
	n               int
}

func newStreamLimiter(perToken, total int) *streamLimiter {
	return &streamLimiter{perToken: perToken, total: total, open: map[string]int{}}
}

// streamKey is whom a stream counts against: the token's unique id, or its
// name for a principal that did not come from a token store.
func streamKey(p *identity.Principal) string {
	if id := p.TokenID(); id != "" {
		return "id:" + id
	}
	return "name:" + p.Name
}

// acquire takes a stream slot for key, or returns a bilingual refusal:
// 429 too_many_streams when key has perToken streams open, 503
// streams_full when the server has total open. release gives it back.
func (l *streamLimiter) acquire(key string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.perToken {
		return nil, newErr(ErrTooManyRequests, "too_many_streams", "",
			fmt.Sprintf("this token already has %d event streams open, the most one token may; close one (or reuse it) and retry", l.perToken),
			fmt.Sprintf("此令牌已打开 %d 个事件流，已达单个令牌的上限；请关闭（或复用）其中一个后重试", l.perToken))
	}
	if l.n >= l.total {
		return nil, newErr(ErrUnavailable, "streams_full", "",
			fmt.Sprintf("the server already serves %d event streams, the most it serves at once; retry later", l.total),
			fmt.Sprintf("服务器已在提供 %d 个事件流，已达同时提供的上限；请稍后重试", l.total))
	}
	l.open[key]++
	l.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.n--
			if l.open[key]--; l.open[key] <= 0 {
				delete(l.open, key)
			}
		})
	}, nil
}

// readsSeen remembers which (token, event) pairs have had their sensitive
// fields revealed on an event stream, so that a replay of the same events
// to the same token is not recorded again (decision 0076). It keeps at most
// max pairs (16 bytes each, a SHA-256 prefix); the oldest are forgotten
// first, after which a replay is recorded again: over-recording, never
// under-recording. Safe for concurrent use.
type readsSeen struct {
	max  int
	mu   sync.Mutex
	set  map[[16]byte]struct{}
	ring [][16]byte
	next int
}

func newReadsSeen(max int) *readsSeen {
	return &readsSeen{max: max, set: make(map[[16]byte]struct{})}
}

func readKey(token, eventID string) [16]byte {
	sum := sha256.Sum256([]byte(token + "\x00" + eventID))
	var k [16]byte
	copy(k[:], sum[:16])
	return k
}

// seen reports whether the pair was marked.
func (r *readsSeen) seen(token, eventID string) bool {
	k := readKey(token, eventID)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[k]
	return ok
}

// mark remembers the pair, forgetting the oldest when full.
func (r *readsSeen) mark(token, eventID string) {
	k := readKey(token, eventID)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[k]; ok {
		return
	}
	if len(r.ring) < r.max {
		r.ring = append(r.ring, k)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % r.max
	}
	r.set[k] = struct{}{}
}

// countRefusal counts a refusal answered with code when code stands for a
// limit (limitOfCode).
func (m *metrics) countRefusal(code string) {
	if l, ok := limitOfCode[code]; ok {
		m.refusals.WithLabelValues(l).Inc()
	}
}

// ErrHeadersTooLarge is the kind of a refusal of a request whose line and
// headers are over Config.MaxHeaderBytes (431).
var ErrHeadersTooLarge = fmt.Errorf("request headers too large")

// checkHeaders refuses a request whose line and headers are over max
// bytes with a bilingual 431 headers_too_large. net/http itself refuses
// heads over twice max, which it never reads whole (see Serve), with a
// plain English 431 that countingConn replaces by the same bilingual
// problem (hardHeaderAnswer): every head over max gets one answer.
func checkHeaders(r *nethttp.Request, max int) error {
	if n := headerBytes(r); n > max {
		return newErr(ErrHeadersTooLarge, "headers_too_large", "",
			fmt.Sprintf("the request line and headers take %d bytes, more than the %d accepted; send shorter headers", n, max),
			fmt.Sprintf("请求行与请求头共 %d 字节，超过上限 %d 字节；请缩短请求头", n, max))
	}
	return nil
}

// hardHeaderFactor is how many times Config.MaxHeaderBytes net/http reads
// before refusing a request head by itself.
const hardHeaderFactor = 2

// countingListener counts the request heads net/http refuses by itself
// as too large (its plain "431" answer, plain431), so that they appear in
// the refusal metric, and answers them with the bilingual problem
// (hardHeaderAnswer) instead.
type countingListener struct {
	net.Listener
	on431  func()
	answer []byte // hardHeaderAnswer
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &countingConn{Conn: c, on431: l.on431, answer: l.answer}, nil
}

type countingConn struct {
	net.Conn
	on431  func()
	answer []byte
}

// plain431 is net/http's whole answer to a head over its bound, written
// in one write straight to the connection (never through the buffered
// writer handlers' answers go through), on a new connection or a reused
// one: a handler's 431 (checkHeaders) is application/problem+json and
// never equals it.
var plain431 = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")

func (c *countingConn) Write(b []byte) (int, error) {
	if bytes.Equal(b, plain431) {
		c.on431()
		if c.answer != nil {
			// net/http closes the connection after this answer.
			if _, err := c.Conn.Write(c.answer); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	return c.Conn.Write(b)
}

// hardHeaderAnswer is the whole HTTP/1.1 response that replaces net/http's
// plain 431 for a head over its hard bound (hardHeaderFactor × max, which
// it stops reading): the bilingual problem checkHeaders gives below it,
// with the size it stopped at, since the head was never read whole.
func hardHeaderAnswer(max int) []byte {
	limit := hardHeaderFactor * max
	p := Problem{Type: "urn:doorstep:problem:headers_too_large", Title: "Request header fields too large",
		Status: nethttp.StatusRequestHeaderFieldsTooLarge, Code: "headers_too_large",
		MessageEN: fmt.Sprintf("the request line and headers take more than %d bytes (reading stopped there), more than the %d accepted; send shorter headers", limit, max),
		MessageZH: fmt.Sprintf("请求行与请求头超过 %d 字节（已停止读取），超过上限 %d 字节；请缩短请求头", limit, max)}
	p.Detail = p.MessageEN
	body, _ := json.Marshal(p)
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/problem+json\r\n"+
		"Content-Language: en, zh-Hans\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// headerBytes is what a request's line and headers take on the wire, as
// net/http counts them against MaxHeaderBytes (approximately: names,
// values, ": " and CRLF).
func headerBytes(r *nethttp.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n + len(r.Host) + 8
}

// Limits counted outside limitOfCode: headers refused by net/http itself
// (over the hard bound), and idempotency answers not kept or evicted.
const (
	limitHeaderHard         = "header"
	limitIdempotencyEntry   = "idempotency_entry_bytes"
	limitIdempotencyCache   = "idempotency_cache_bytes"
	limitIdempotencyEntries = "idempotency_cache_entries"
)

// allLimits lists every label of doorstep_http_limit_refusals_total, so
// each series exists (at 0) from the start.
func allLimits() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range limitOfCode {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return append(out, limitIdempotencyEntry, limitIdempotencyCache, limitIdempotencyEntries)
}

// CloseWrite lets net/http half-close the connection before closing it
// (it does so after refusing a request, so the client reads the answer
// instead of a reset).
func (c *countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// nameFields are the JSON fields of request bodies that hold a name (a
// place, a person, a role): one line of at most domain.MaxNameBytes. Every
// other string field is free text (domain.MaxTextBytes); fields named
// *_id or *_ids are ids, checked by the id rule (checkBodyIDs).
var nameFields = map[string]bool{
	"name": true, "relation": true, "occupation": true, "community": true, "grid": true, "communities": true, "grids": true,
	"responsible_worker": true, "worker": true, "supervisor": true, "assignee": true, "department": true, "found_by": true,
	"team": true, "person": true, "place": true, "ref": true, "unit": true, "ack_ref": true, "skills": true, "idle": true, "role": true, "address": true,
}

// checkBodyText applies the one text rule to every string of a decoded
// request body v (a pointer to a struct): names by domain.CheckName, free
// text by domain.CheckText. It is the edge's half of decision 0077; the
// domain checks the fields it keeps again. On the way it turns an empty
// list or map in an optional field into nil, the form its absence decodes to.
func checkBodyText(v any) error {
	return walkText(reflect.ValueOf(v), "")
}

func walkText(v reflect.Value, field string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return walkText(v.Elem(), field)
	case reflect.String:
		if strings.HasSuffix(field, "_id") || strings.HasSuffix(field, "_ids") || field == "id" {
			return nil
		}
		if nameFields[field] {
			return domain.CheckName(field, v.String())
		}
		return domain.CheckText(field, v.String())
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // raw bytes (json.RawMessage): not text
		}
		for i := range v.Len() {
			if err := walkText(v.Index(i), field); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := walkText(it.Key(), field); err != nil {
				return err
			}
			if err := walkText(it.Value(), field); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			// An empty list or map in an optional field means what its
			// absence means; keep one form (nil), so a body reads the same
			// after it is encoded again (FuzzCommandBodies found [] ≠ nil).
			if fv := v.Field(i); strings.Contains(","+opts+",", ",omitempty,") && fv.CanSet() &&
				(fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 {
				fv.SetZero()
			}
			if sf.Anonymous && name == "" {
				name = field
			} else if name == "" {
				name = sf.Name
			}
			if err := walkText(v.Field(i), name); err != nil {
				return err
			}
		}
	}
	return nil
}
