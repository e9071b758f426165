package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// metricValue reads one sample of /metrics (the line starting with
// series, e.g. `doorstep_sse_clients`), or -1 when absent.
func (e *testEnv) metricValue(series string) float64 {
	e.t.Helper()
	page := string(e.do("GET", "/metrics", "", nil).body)
	for _, l := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	return -1
}

// waitMetric waits until series reads want (the server reaches that state
// on its own; the bound is only there to fail rather than hang).
func (e *testEnv) waitMetric(series string, want float64) {
	e.t.Helper()
	until := time.Now().Add(30 * time.Second)
	for {
		got := e.metricValue(series)
		if got == want {
			return
		}
		if time.Now().After(until) {
			e.t.Fatalf("%s is %v, want %v", series, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamRefusal opens an event stream that should be refused: it returns
// the answer, or fails the test when the stream is opened instead (without
// reading it, which would never end).
func (e *testEnv) streamRefusal(token string) resp {
	e.t.Helper()
	req, _ := nethttp.NewRequest("GET", e.ts.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == 200 {
		e.t.Fatalf("the stream was opened, not refused")
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// Issue 13 item 11: streams had no cap. One token may hold
// MaxStreamsPerToken streams (then 429 too_many_streams), the server
// MaxStreams (then 503 streams_full), both bilingual with Retry-After and
// counted by limit.
func TestEventStreamCaps(t *testing.T) {
	e := newEnvConfig(t, nil, func(c *Config) { c.MaxStreamsPerToken, c.MaxStreams = 2, 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := e.token(identity.Principal{Name: "dash", Role: identity.RoleIntegrator})
	twin := e.token(identity.Principal{Name: "dash", Role: identity.RoleIntegrator}) // same name, another token
	other := e.token(identity.Principal{Name: "other", Role: identity.RoleIntegrator})

	ctxA1, closeA1 := context.WithCancel(ctx)
	if _, res := e.openStream(t, ctxA1, a, "", ""); res.StatusCode != 200 {
		t.Fatalf("first stream: %d", res.StatusCode)
	}
	if _, res := e.openStream(t, ctx, a, "", ""); res.StatusCode != 200 {
		t.Fatalf("second stream: %d", res.StatusCode)
	}
	r := e.streamRefusal(a)
	p := r.problem(t)
	if r.status != 429 || p.Code != "too_many_streams" || r.header.Get("Retry-After") == "" || p.MessageZH == "" || p.MessageZH == p.MessageEN {
		t.Fatalf("third stream of one token: %d %v %s", r.status, r.header, r.body)
	}
	// Counted per token, not per name.
	if _, res := e.openStream(t, ctx, twin, "", ""); res.StatusCode != 200 {
		t.Fatalf("a token with the same name: %d", res.StatusCode)
	}
	r = e.streamRefusal(other)
	if p := r.problem(t); r.status != 503 || p.Code != "streams_full" || r.header.Get("Retry-After") == "" {
		t.Fatalf("a stream beyond the server's cap: %d %v %s", r.status, r.header, r.body)
	}
	if v := e.metricValue(`doorstep_http_limit_refusals_total{limit="streams_per_token"}`); v != 1 {
		t.Errorf("streams_per_token refusals: %v, want 1", v)
	}
	if v := e.metricValue(`doorstep_http_limit_refusals_total{limit="streams_total"}`); v != 1 {
		t.Errorf("streams_total refusals: %v, want 1", v)
	}
	// Closing a stream frees its slot.
	closeA1()
	e.waitMetric("doorstep_sse_clients", 2)
	if _, res := e.openStream(t, ctx, other, "", ""); res.StatusCode != 200 {
		t.Fatalf("a stream after one closed: %d", res.StatusCode)
	}
}

// Issue 13 item 11: a client that does not read kept its stream, and what
// the stream had read ahead, for as long as it liked. Every write now has
// a deadline: the client is dropped and its slot freed.
func TestEventStreamDropsAClientThatDoesNotRead(t *testing.T) {
	e := newEnvConfig(t, nil, func(c *Config) { c.StreamWriteTimeout = 300 * time.Millisecond })
	// A client with a small receive window that never reads.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: doorstep\r\nAuthorization: Bearer %s\r\n\r\n", e.admin)
	e.waitMetric("doorstep_sse_clients", 1)
	// Far more than the socket buffers hold: 40 events of 200 KB.
	big := strings.Repeat("地", 200_000/3)
	for i := range 40 {
		id := fmt.Sprint("slow-", i)
		appendDomain(t, e.store, "household-"+id, domain.HouseholdRegistered{HouseholdID: id, Community: "C1", Grid: "G1", Address: big, Class: "key", Risk: "red", At: clock.Now(), By: "t"})
	}
	e.waitMetric("doorstep_sse_slow_clients_dropped_total", 1)
	e.waitMetric("doorstep_sse_clients", 0)
	// The slot is free again: the same token opens a stream.
	r, res := e.openStream(t, context.Background(), e.admin, "?after=0&category=household", "")
	if res.StatusCode != 200 {
		t.Fatalf("stream after the drop: %d", res.StatusCode)
	}
	if ev := r.next(t); !strings.Contains(ev.data, `"household-slow-0"`) {
		t.Fatalf("first event: %.200s", ev.data)
	}
}

// Issue 13 item 11: every sensitive event streamed was recorded again on
// every replay, so a client reconnecting from the start grew the record of
// sensitive reads without bound. Each (token, event) is recorded once.
func TestEventStreamRecordsEachSensitiveReadOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := clock.Now()
	appendDomain(t, e.store, "household-h1", domain.HouseholdRegistered{HouseholdID: "h1", Community: "C1", Grid: "G1", Address: "a", Class: "key", Risk: "red", At: now, By: "t"})
	phone, err := domain.SealString(ctx, e.vault, "h1", "13800000000")
	if err != nil {
		t.Fatal(err)
	}
	appendDomain(t, e.store, "household-h1", domain.HouseholdMemberAdded{MemberID: "m1", MemberDetails: domain.MemberDetails{Name: "张奶奶", Relation: "本人", Phone: phone}, At: now, By: "t"})
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true})
	replay := func(token string) {
		t.Helper()
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		rd, _ := e.openStream(t, sctx, token, "?after=0&purpose=service_referral", "")
		rd.next(t)
		if ev := rd.next(t); !strings.Contains(ev.data, `"phone":{"value":"13800000000"}`) {
			t.Fatalf("supervisor with the grant: %s", ev.data)
		}
	}
	for range 5 {
		replay(sup)
	}
	if n := e.access.count(); n != 1 {
		t.Fatalf("five replays by one token recorded %d sensitive reads, want 1", n)
	}
	// Another token (same name) reading the same event is another read.
	replay(e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true}))
	if n := e.access.count(); n != 2 {
		t.Fatalf("a second token's read: %d records, want 2", n)
	}
}

func TestReadsSeenForgetsTheOldest(t *testing.T) {
	r := newReadsSeen(2)
	r.mark("t", "e1")
	r.mark("t", "e2")
	r.mark("t", "e2")
	if !r.seen("t", "e1") || !r.seen("t", "e2") || r.seen("u", "e1") {
		t.Fatal("pairs not remembered per token")
	}
	r.mark("t", "e3")
	if r.seen("t", "e1") || !r.seen("t", "e3") || len(r.set) != 2 {
		t.Fatalf("not bounded: %d pairs", len(r.set))
	}
}

// Issue 13 "Limits everywhere": a head over MaxHeaderBytes is a bilingual
// 431; one so large net/http refuses it itself is a plain 431; both are
// counted as header refusals.
func TestHeaderLimitIsBilingualAndCounted(t *testing.T) {
	e := newEnv(t, nil)
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, l) }()
	defer func() { stop(); <-done }()
	base := "http://" + l.Addr().String()
	req, _ := nethttp.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("p", DefaultMaxHeaderBytes+100))
	r := e.rawDo(req)
	if p := r.problem(t); r.status != 431 || p.Code != "headers_too_large" || p.MessageZH == "" {
		t.Fatalf("a head just over the bound: %d %s", r.status, r.body)
	}
	req, _ = nethttp.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("p", 4*DefaultMaxHeaderBytes))
	// net/http stops reading there and answers by itself; the answer is
	// still the bilingual problem (issue 13 item 12).
	if r := e.rawDo(req); r.status != 431 || r.header.Get("Content-Type") != "application/problem+json" ||
		r.problem(t).Code != "headers_too_large" || r.problem(t).MessageZH == "" {
		t.Fatalf("a head far over the bound: %d %v %s", r.status, r.header, r.body)
	}
	if v := e.metricValue(`doorstep_http_limit_refusals_total{limit="header"}`); v != 2 {
		t.Fatalf("header refusals counted: %v, want 2", v)
	}
	for _, l := range []string{"body", "id", "text", "page_size", "streams_per_token", "streams_total", "idempotency_cache_bytes", "idempotency_entry_bytes"} {
		if v := e.metricValue(`doorstep_http_limit_refusals_total{limit="` + l + `"}`); v < 0 {
			t.Errorf("/metrics has no refusal series for limit %q", l)
		}
	}
}

// Issue 13 "Limits everywhere" and item 14: every string of a command
// body follows the one text rule at the edge: NUL in a community is a
// bilingual 400, a description over domain.MaxTextBytes is 400
// text_too_long, both counted; nothing is written.
func TestBodyTextRuleAtTheEdge(t *testing.T) {
	e := newEnvConfig(t, nil, func(c *Config) { c.MaxBodyBytes = 64 << 10 })
	reg := func(id, community string) map[string]any {
		return map[string]any{"household_id": id, "address": "1号", "community": community, "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	}
	r := e.do("POST", "/v1/households", e.admin, reg("nul-1", "幸福\x00社区"))
	if p := r.problem(t); r.status != 400 || p.Code != "invalid_text" || p.Field != "community" || p.MessageZH == "" {
		t.Fatalf("NUL in community: %d %s", r.status, r.body)
	}
	if v, err := e.store.StreamVersion(context.Background(), "household-nul-1"); err != nil || v != 0 {
		t.Fatalf("a refused registration wrote: %d %v", v, err)
	}
	if r := e.do("POST", "/v1/households", e.admin, reg("ok-1", "幸福社区")); r.status != 201 {
		t.Fatalf("registration: %d %s", r.status, r.body)
	}
	long := map[string]any{"address": strings.Repeat("路", domain.MaxNameBytes), "community": "c", "grid": "g", "reason": "搬家"}
	r = e.do("POST", "/v1/households/ok-1/relocate", e.admin, long)
	if p := r.problem(t); r.status != 400 || p.Code != "text_too_long" || p.Field != "address" {
		t.Fatalf("a long address: %d %s", r.status, r.body)
	}
	if v := e.metricValue(`doorstep_http_limit_refusals_total{limit="text"}`); v != 2 {
		t.Fatalf("text refusals: %v, want 2", v)
	}
}

// Issue 13 item 14: /readyz without a token showed the internal error.
func TestReadyzHidesTheCauseWithoutAToken(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.Ready = func(context.Context) error { return errors.New("dial tcp 10.1.2.3:5432: secret-host refused") }
	})
	r := e.do("GET", "/readyz", "", nil)
	if r.status != 503 || strings.Contains(string(r.body), "secret-host") || strings.Contains(string(r.body), "10.1.2.3") {
		t.Fatalf("readyz without a token: %d %s", r.status, r.body)
	}
	if p := r.problem(t); p.Code != "not_ready" || p.MessageZH == "" {
		t.Fatalf("readyz without a token: %s", r.body)
	}
	if r := e.do("GET", "/readyz", e.admin, nil); r.status != 503 || !strings.Contains(string(r.body), "secret-host") {
		t.Fatalf("readyz with a token: %d %s", r.status, r.body)
	}
}

// Issue 13 "Limits everywhere": the idempotency cache refuses nothing, but
// each answer it does not keep (too large) or drops before its time (over
// the byte or entry budget) is counted by the bound that made it.
func TestIdempotencyLimitsAreCounted(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m := newIdempotency(time.Hour, 5, 20_000, 2_000, func() time.Time { return now })
	counted := map[string]int{}
	m.onLimit = func(l string) { counted[l]++ }
	finish := func(k string, n int) {
		if _, err := m.begin(k, "fp"); err != nil {
			t.Fatal(err)
		}
		m.finish(k, 400, nethttp.Header{}, make([]byte, n), true)
	}
	finish("big", 2_001)
	if counted[limitIdempotencyEntry] != 1 {
		t.Fatalf("an answer too large to keep: %v", counted)
	}
	for i := range 5 {
		finish(fmt.Sprint("k", i), 1_900) // 5 × ~2.2 KB: within the bytes, over 5 entries with "big"
	}
	if counted[limitIdempotencyEntries] != 1 || counted[limitIdempotencyCache] != 0 {
		t.Fatalf("over the entry budget: %v", counted)
	}
	m.maxBytes = 5_000
	finish("k5", 1_900)
	if counted[limitIdempotencyCache] == 0 {
		t.Fatalf("over the byte budget: %v", counted)
	}
	// Expiry by age is not a refusal.
	before := counted[limitIdempotencyCache] + counted[limitIdempotencyEntries]
	now = now.Add(2 * time.Hour)
	finish("k6", 10)
	if after := counted[limitIdempotencyCache] + counted[limitIdempotencyEntries]; after != before {
		t.Fatalf("expiry counted as a refusal: %v", counted)
	}
}
