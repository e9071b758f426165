package http

import (
	"bufio"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// Issue 13 item 2, decision 0133: sixteen clients posting 900 KB bodies at
// once held several copies of each in memory and pushed the server past
// its 300 MB budget. At most maxBigBodies commands with a body over
// bigBodyBytes are read and handled at once; the others wait (counted),
// small commands do not; a body declared over the limit is refused
// before it is read.
func TestLargeBodiesAreHandledFewAtATime(t *testing.T) {
	e := newEnvConfig(t, nil, func(c *Config) { c.MaxBodyBytes = 1 << 20 })
	host := strings.TrimPrefix(e.ts.URL, "http://")
	body := `{"` + strings.Repeat("n", 200_000) + `":1}`
	// open sends a command's head and the first half of its body.
	open := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /v1/households HTTP/1.1\r\nHost: doorstep\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			e.admin, len(body), body[:len(body)/2])
		return c
	}
	// finish sends the rest and reads the answer.
	finish := func(c net.Conn) *nethttp.Response {
		t.Helper()
		if _, err := io.WriteString(c, body[len(body)/2:]); err != nil {
			t.Fatal(err)
		}
		res, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res
	}
	var held []net.Conn
	for range maxBigBodies {
		held = append(held, open())
	}
	e.waitMetric("doorstep_http_large_bodies_in_progress", maxBigBodies)
	waiting := open()
	e.waitMetric("doorstep_http_large_bodies_waiting", 1)
	// A small command is not held up.
	reg := map[string]any{"household_id": "small-1", "address": "1号", "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	if r := e.do("POST", "/v1/households", e.admin, reg); r.status != 201 {
		t.Fatalf("a small command while large ones wait: %d %s", r.status, r.body)
	}
	// One finishes: the waiting one gets its slot and its answer.
	if res := finish(held[0]); res.StatusCode != 400 {
		t.Fatalf("a large body: %d, want 400 (unknown field)", res.StatusCode)
	}
	e.waitMetric("doorstep_http_large_bodies_waiting", 0)
	if res := finish(waiting); res.StatusCode != 400 {
		t.Fatalf("the body that waited: %d, want 400 (unknown field)", res.StatusCode)
	}
	for _, c := range held[1:] {
		c.Close()
	}
	e.waitMetric("doorstep_http_large_bodies_in_progress", 0)

	// Declared over the limit: 413 at once, the body never sent.
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/households HTTP/1.1\r\nHost: doorstep\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", e.admin, 10<<20)
	res, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || !strings.Contains(string(b), "body_too_large") {
		t.Fatalf("a body declared over the limit: %d %s", res.StatusCode, b)
	}
}

func TestLongKey(t *testing.T) {
	long := strings.Repeat("k", 300)
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"household_id":"h1","note":"` + long + `"}`, false}, // a long value is not a key
		{`{"a":{"` + long + `" : 1}}`, true},                   // nested, space before the colon
		{`{"a":"x\":` + long + `"}`, false},                    // an escaped quote inside a value
		{`["` + long + `"]`, false},
		{`{"` + strings.Repeat(`\"`, 129) + `":1}`, true}, // escapes count as written
		{`{"` + long, false},                              // malformed: left to the decoder
		{`{"ok":1,"` + long + "\"\n:2}", true},
	} {
		if _, got := longKey([]byte(c.body), 256); got != c.want {
			t.Errorf("%.60s…: %v, want %v", c.body, got, c.want)
		}
	}
}

// Issue 13 item 2: a body of one unknown 900 KB field name cost the JSON
// decoder several large copies (the name folded for matching, quoted in
// its error) on top of the body: about 6 MB per request. Refused before
// decoding, it costs little more than the body itself.
func TestLongUnknownFieldIsRefusedCheaply(t *testing.T) {
	s := &Server{cfg: Config{MaxBodyBytes: 1 << 20}, bigBodies: make(chan struct{}, maxBigBodies)}
	body := `{"` + strings.Repeat("n", 900_000) + `":1}`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 5 {
		req := httptest.NewRequest("POST", "/v1/households/h1/visits", strings.NewReader(body))
		b, release, err := s.readBody(req)
		if err == nil {
			release()
			_, err = decodeInto[VisitRequest](req, b)
		}
		if domain.CodeOf(err) != "unknown_field" {
			t.Fatalf("%v, want unknown_field", err)
		}
	}
	runtime.ReadMemStats(&after)
	// The body and the request's reader: about 1.8 MB each time. A
	// generous bound; the decoder's copies made it about 6 MB.
	if per := (after.TotalAlloc - before.TotalAlloc) / 5; per > 3*uint64(len(body)) {
		t.Fatalf("%d bytes allocated per request of a %d-byte body", per, len(body))
	}
}
