package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	c := DefaultConfig()
	c.Addr, c.MaxWait, c.MaxBodyBytes = "", 0, 10
	err := c.Validate()
	for _, want := range []string{"Addr", "MaxWait", "MaxBodyBytes", "DefaultWait"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

func TestPreferredLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"":                           "en",
		"zh-CN":                      "zh",
		"zh-Hans-CN,zh;q=0.9":        "zh",
		"en-US,en;q=0.9,zh;q=0.8":    "en",
		"zh;q=0.4, en;q=0.3":         "zh",
		"fr, zh;q=0.5, en;q=0.6":     "en",
		"fr-FR":                      "en",
		"zh-TW;q=1, en;q=1":          "zh",
		"zh;q=0":                     "en",
		"en;q=0.1,zh-CN;q=0.2,*;q=0": "zh",
	} {
		if got := preferredLanguage(h); got != want {
			t.Errorf("preferredLanguage(%q) = %s, want %s", h, got, want)
		}
	}
}

// TestErrorTable checks the one mapping from error kinds to statuses and
// that both languages are always present.
func TestErrorTable(t *testing.T) {
	conflict := &eventstore.ConflictError{Stream: "household-1", Expected: eventstore.Exact(3), Actual: 4}
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{&domain.Error{Kind: domain.ErrRule, Code: "problem_closed", Message: "closed", MessageZH: "已关闭"}, 422, "problem_closed"},
		{&domain.Error{Kind: domain.ErrInvalid, Code: "required", Field: "address", Message: "m", MessageZH: "z"}, 400, "required"},
		{&domain.Error{Kind: domain.ErrNotFound, Code: "household_not_found", Message: "m", MessageZH: "z"}, 404, "household_not_found"},
		{&domain.Error{Kind: domain.ErrConflict, Code: "household_exists", Message: "m", MessageZH: "z"}, 409, "household_exists"},
		{fmt.Errorf("append: %w", conflict), 409, "concurrent_change"},
		{newErr(ErrPreconditionFailed, "version_mismatch", "If-Match", "m", "z"), 412, "version_mismatch"},
		{newErr(ErrForbidden, "out_of_scope", "", "m", "z"), 403, "out_of_scope"},
		{newErr(ErrUnauthenticated, "token_required", "", "m", "z"), 401, "token_required"},
		{newErr(ErrTooLarge, "body_too_large", "", "m", "z"), 413, "body_too_large"},
		{fmt.Errorf("read: %w", eventstore.ErrUnavailable), 503, "unavailable"},
		{errors.New("disk on fire at /secret/path"), 500, "internal_error"},
	}
	var logBuf strings.Builder
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Accept-Language", "zh-CN")
		p := problemFor(log, r, c.err)
		if p.Status != c.status || p.Code != c.code {
			t.Errorf("%v: status %d code %s, want %d %s", c.err, p.Status, p.Code, c.status, c.code)
		}
		if p.MessageEN == "" || p.MessageZH == "" || p.Detail != p.MessageZH || p.Type != "urn:doorstep:problem:"+c.code {
			t.Errorf("%v: incomplete problem %+v", c.err, p)
		}
		if c.status == 500 {
			if p.ErrorID == "" || strings.Contains(p.Detail, "secret") || !strings.Contains(logBuf.String(), p.ErrorID) || !strings.Contains(logBuf.String(), "disk on fire") {
				t.Errorf("internal error not logged under its id or leaked: %+v, log %s", p, logBuf.String())
			}
		}
	}
	w := httptest.NewRecorder()
	writeProblem(w, Problem{Status: 503, Code: "unavailable"}, 3)
	if w.Header().Get("Retry-After") != "3" {
		t.Errorf("503 without Retry-After: %v", w.Header())
	}
}

func TestAuthAndStrictInput(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.do("GET", "/v1/whoami", "", nil); r.status != 401 || r.problem(t).Code != "token_required" || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/whoami", "ds_nope", nil); r.status != 401 || r.problem(t).Code != "token_invalid" {
		t.Fatalf("bad token: %d %s", r.status, r.body)
	}
	worker := e.token(identity.Principal{Name: "w", Role: identity.RoleWorker, Grids: []string{"G1"}})
	if r := e.do("POST", "/v1/tokens", worker, TokenRequest{Name: "x", Role: identity.RoleAdmin}); r.status != 403 || r.problem(t).Code != "role_forbidden" {
		t.Fatalf("worker creating a token: %d %s", r.status, r.body)
	}
	cases := []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"name":"a","role":"worker","grids":["G1"],"extra":1}`, 400, "unknown_field", "extra"},
		{`{"name":"a","role":"overlord"}`, 400, "invalid_role", "role"},
		{`{"name":"a","role":"worker"}`, 400, "required", "grids"},
		{`{"name":"a","role":"worker","grids":"G1"}`, 400, "invalid_type", "grids"},
		{`{"name":"a",`, 400, "malformed_json", ""},
		{`{"name":"a","role":"auditor"} {}`, 400, "malformed_json", ""},
		{``, 400, "body_required", ""},
		{`{"name":"` + strings.Repeat("x", 5000) + `","role":"auditor"}`, 413, "body_too_large", ""},
	}
	for _, c := range cases {
		r := e.do("POST", "/v1/tokens", e.admin, c.body)
		if r.status != c.status {
			t.Errorf("%.60s: status %d, want %d (%s)", c.body, r.status, c.status, r.body)
			continue
		}
		if p := r.problem(t); p.Code != c.code || p.Field != c.field {
			t.Errorf("%.60s: code %s field %q, want %s %q", c.body, p.Code, p.Field, c.code, c.field)
		}
	}
	if before := e.tokens.Len(context.Background()); before != 2 {
		t.Fatalf("rejected requests wrote tokens: %d", before)
	}
	r := e.do("POST", "/v1/tokens", e.admin, TokenRequest{Name: "audit", Role: identity.RoleAuditor})
	var created struct {
		Token     string
		Principal identity.Principal
	}
	r.decode(t, &created)
	if r.status != 201 || created.Principal.Sensitive {
		t.Fatalf("create auditor: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/whoami", created.Token, nil); r.status != 200 || !strings.Contains(string(r.body), `"auditor"`) {
		t.Fatalf("new token: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/nowhere", e.admin, nil); r.status != 404 || r.problem(t).Code != "route_not_found" {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/tokens", e.admin, nil); r.status != 405 {
		t.Fatalf("wrong method: %d %s", r.status, r.body)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz %d %s", r.status, r.body)
	}
	r := e.do("GET", "/metrics", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `doorstep_http_requests_total{code="200",method="GET",route="/readyz"} 1`) {
		t.Fatalf("metrics: %d %s", r.status, r.body)
	}
	// Not ready: the store is closed.
	e.store.Close()
	if r := e.do("GET", "/readyz", "", nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("readyz on a closed store: %d %v", r.status, r.header)
	}
}

// sseReader reads server-sent events.
type sseReader struct {
	sc *bufio.Scanner
}

type sseEvent struct {
	id, event, data string
}

func (s *sseReader) next(t testing.TB) sseEvent {
	t.Helper()
	var ev sseEvent
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "" && ev.data != "":
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
	t.Fatalf("event stream ended: %v", s.sc.Err())
	return ev
}

func (e *testEnv) openStream(t testing.TB, ctx context.Context, token, query, lastID string) (*sseReader, *nethttp.Response) {
	t.Helper()
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 4<<20)
	return &sseReader{sc: sc}, res
}

// appendDomain appends domain events directly (the command layer is tested elsewhere).
func appendDomain(t testing.TB, st eventstore.Store, stream string, evs ...domain.Event) eventstore.AppendResult {
	t.Helper()
	var data []eventstore.EventData
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		data = append(data, eventstore.EventData{ID: eventstore.NewID(), Type: ev.EventType(), Data: b, Metadata: eventstore.Metadata{OccurredAt: clock.Now(), Actor: "t"}})
	}
	res, err := st.Append(context.Background(), stream, eventstore.Any(), data...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEventStreamScopesFiltersRedactsAndResumes(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := clock.Now()
	appendDomain(t, e.store, "household-h1", domain.HouseholdRegistered{HouseholdID: "h1", Community: "C1", Grid: "G1", Address: "a", Class: "key", Risk: "red", At: now, By: "t"})
	appendDomain(t, e.store, "household-h2", domain.HouseholdRegistered{HouseholdID: "h2", Community: "C2", Grid: "G2", Address: "b", Class: "key", Risk: "red", At: now, By: "t"})
	phone, err := domain.SealString(context.Background(), e.vault, "h1", "13800000000")
	if err != nil {
		t.Fatal(err)
	}
	appendDomain(t, e.store, "household-h1", domain.HouseholdMemberAdded{MemberID: "m1", MemberDetails: domain.MemberDetails{Name: "张奶奶", Relation: "本人", Phone: phone}, At: now, By: "t"})
	appendDomain(t, e.store, "problem-p1", domain.ProblemReported{ProblemID: "p1", HouseholdID: "h2", Number: "WT2026000001", Description: "d", At: now, By: "t"})

	integ := e.token(identity.Principal{Name: "city-dashboard", Role: identity.RoleIntegrator})
	rd, res := e.openStream(t, ctx, integ, "?after=0", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %v", res.StatusCode, res.Header)
	}
	var got []streamEvent
	for range 4 {
		ev := rd.next(t)
		var se streamEvent
		if err := json.Unmarshal([]byte(ev.data), &se); err != nil || se.Position != ev.id || se.Type != ev.event {
			t.Fatalf("bad event %+v: %v", ev, err)
		}
		got = append(got, se)
	}
	member := string(got[2].Data)
	if strings.Contains(member, "ciphertext") || strings.Contains(member, "13800000000") || !strings.Contains(member, `"phone":{"sealed":true}`) {
		t.Fatalf("integrator without the grant saw %s", member)
	}
	if e.access.count() != 0 {
		t.Fatalf("a redacted event was recorded as a sensitive read")
	}
	// Live: a new event arrives after the catch-up.
	appendDomain(t, e.store, "problem-p2", domain.ProblemReported{ProblemID: "p2", HouseholdID: "h1", Number: "WT2026000002", Description: "d", At: now, By: "t"})
	if ev := rd.next(t); !strings.Contains(ev.data, `"problem-p2"`) {
		t.Fatalf("live event: %+v", ev)
	}

	// Resume with Last-Event-ID, community filter: only C2 after the first event.
	rd2, _ := e.openStream(t, ctx, integ, "?community=C2&after=0", got[0].Position)
	for _, want := range []string{"household-h2", "problem-p1"} {
		if ev := rd2.next(t); !strings.Contains(ev.data, `"stream":"`+want+`"`) {
			t.Fatalf("resumed C2 stream: got %s, want %s", ev.data, want)
		}
	}

	// A supervisor of C1 with the grant sees only C1, sensitive fields decrypted, and the read recorded.
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true})
	rd3, _ := e.openStream(t, ctx, sup, "?category=household&purpose=service_referral", "")
	if ev := rd3.next(t); !strings.Contains(ev.data, `"household-h1"`) {
		t.Fatalf("supervisor first event: %s", ev.data)
	}
	if ev := rd3.next(t); !strings.Contains(ev.data, `"phone":{"value":"13800000000"}`) {
		t.Fatalf("supervisor with the grant: %s", ev.data)
	}
	if e.access.count() != 1 {
		t.Fatalf("sensitive reads recorded: %d, want 1", e.access.count())
	}

	// A worker of G1 follows only its grid's events (decision 0129): the
	// catch-up skips h2 and its problem p1, sealed values stay markers,
	// and live, an event of G2 is skipped for the next one of G1.
	worker := e.token(identity.Principal{Name: "w", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	rd4, res4 := e.openStream(t, ctx, worker, "?after=0", "")
	if res4.StatusCode != 200 {
		t.Fatalf("worker on the event stream: %d", res4.StatusCode)
	}
	for _, want := range []string{"household-h1", "household-h1", "problem-p2"} {
		ev := rd4.next(t)
		if !strings.Contains(ev.data, `"stream":"`+want+`"`) {
			t.Fatalf("worker of G1: got %s, want %s", ev.data, want)
		}
		if strings.Contains(ev.data, "13800000000") {
			t.Fatalf("worker without a purpose saw a sealed value: %s", ev.data)
		}
	}
	appendDomain(t, e.store, "problem-p3", domain.ProblemReported{ProblemID: "p3", HouseholdID: "h2", Number: "WT2026000003", Description: "d", At: now, By: "t"})
	appendDomain(t, e.store, "problem-p4", domain.ProblemReported{ProblemID: "p4", HouseholdID: "h1", Number: "WT2026000004", Description: "d", At: now, By: "t"})
	if ev := rd4.next(t); !strings.Contains(ev.data, `"stream":"problem-p4"`) {
		t.Fatalf("worker of G1, live: got %s, want problem-p4 (p3 is G2's)", ev.data)
	}
	// Departments follow only their referrals (TestEventStreamDepartmentFollowsItsReferrals); bad parameters are 400.
	for _, q := range []string{"?after=x", "?category=secrets", "?bogus=1"} {
		if r := e.do("GET", "/v1/events"+q, integ, nil); r.status != 400 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
	}
}

// TestGracefulShutdown: a request in flight when shutdown starts completes,
// and open event streams are ended so shutdown does not hang.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	e := newEnv(t, func(d *Deps) {
		d.Ready = func(ctx context.Context) error {
			close(entered)
			<-release
			return nil
		}
	})
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, l) }()
	base := "http://" + l.Addr().String()
	// An event stream stays open until shutdown.
	req, _ := nethttp.NewRequest("GET", base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	res, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// A request that is in flight while shutdown begins.
	got := make(chan int, 1)
	go func() {
		r, err := nethttp.Get(base + "/readyz")
		if err != nil {
			got <- -1
			return
		}
		r.Body.Close()
		got <- r.StatusCode
	}()
	<-entered
	stop()
	// Wait until the listener is closed: shutdown has begun.
	for {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		runtime.Gosched()
	}
	close(release)
	if code := <-got; code != 200 {
		t.Fatalf("in-flight request finished with %d, want 200", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("event stream did not end cleanly: %v", err)
	}
}
