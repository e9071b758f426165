package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/webhook"
)

// fakeClock is the test's clock: Sleep advances it instead of waiting, so
// a 24-hour retry budget passes at once and nothing depends on the wall
// clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// receiver is a real HTTP server that verifies each delivery's signature
// with the Standard Webhooks library and with specVerify (written from the
// specification), and answers as fail says.
type receiver struct {
	t        testing.TB
	srv      *httptest.Server
	wh       *standardwebhooks.Webhook
	secret   string
	strictTS bool // verify the timestamp against the wall clock too

	mu       sync.Mutex
	fail     func(n int, id string) int // status to answer the n-th request (from 1); 0: 200
	requests int
	accepted []cloudevents.Event // in the order accepted
	badSigs  int
}

func newReceiver(t testing.TB, fail func(n int, id string) int) *receiver {
	r := &receiver{t: t, fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setSecret(secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.wh, r.secret = wh, secret
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	n, fail, wh, secret := r.requests, r.fail, r.wh, r.secret
	r.mu.Unlock()
	verify := wh.VerifyIgnoringTimestamp
	if r.strictTS {
		verify = wh.Verify
	}
	// Verified twice: by the library and by the verifier written from the
	// specification (grant_test.go).
	if err := verify(body, req.Header); err != nil || specVerify(secret, req.Header, body) != nil ||
		req.Header.Get("Content-Type") != cloudevent.ContentType {
		r.mu.Lock()
		r.badSigs++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if code := fail(n, req.Header.Get("webhook-id")); code != 0 {
		w.WriteHeader(code)
		return
	}
	var ce cloudevents.Event
	if err := json.Unmarshal(body, &ce); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ce.ID() != req.Header.Get("webhook-id") {
		http.Error(w, "webhook-id is not the event id", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.accepted = append(r.accepted, ce)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) snapshot() (requests int, accepted []cloudevents.Event, badSigs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, append([]cloudevents.Event(nil), r.accepted...), r.badSigs
}

type fixture struct {
	env   *testenv.Env
	clock *fakeClock
	m     *webhook.Manager
}

func newFixture(t testing.TB, tune func(*webhook.Config)) *fixture {
	t.Helper()
	env := testenv.New(t)
	enc, err := cloudevent.NewEncoder("urn:doorstep:test", "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Now().UTC()}
	cfg := webhook.Config{Log: env.Store, DB: env.DB, Dialect: env.Dialect, Encoder: enc, Now: clk.Now, Sleep: clk.Sleep,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Reload: time.Hour}
	if tune != nil {
		tune(&cfg)
	}
	m, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, clock: clk, m: m}
}

// run runs the manager until the end of the test.
func (f *fixture) run(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// appendEvents appends n events of type typ in community comm, each with a
// sealed value, one stream per event mod 3; it returns the head.
func appendEvents(t testing.TB, st eventstore.Store, typ, comm string, n int) eventstore.Position {
	t.Helper()
	var pos eventstore.Position
	for i := range n {
		data := fmt.Sprintf(`{"n":%d,"phone":{"key_id":"k1","ciphertext":"c2VjcmV0"}}`, i)
		res, err := st.Append(context.Background(), fmt.Sprintf("whtest-%d", i%3), eventstore.Any(),
			eventstore.EventData{ID: eventstore.NewID(), Type: typ, Data: json.RawMessage(data),
				Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Community: comm}})
		if err != nil {
			t.Fatal(err)
		}
		pos = res.LastPosition
	}
	return pos
}

func (f *fixture) wait(t testing.TB, id string, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.m.WaitFor(ctx, id, pos); err != nil {
		t.Fatal(err)
	}
}

// A receiver that fails its first three requests then accepts: every
// matching event arrives once, in the log's order, signed (verified by
// the Standard Webhooks library, timestamp included), as a CloudEvent
// whose sealed field is a marker; events outside the filters are never
// posted; the delivery log says 4 attempts for the first event, 1 for the
// others.
func TestWebhookRetriesThenDelivers(t *testing.T) {
	f := newFixture(t, func(c *webhook.Config) {
		c.Backoff = func(n int) time.Duration { return time.Duration(n) * time.Second } // stays inside the timestamp tolerance
	})
	rcv := newReceiver(t, func(n int, _ string) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return 0
	})
	rcv.strictTS = true
	ctx := context.Background()
	sub, secret, err := f.m.Create(ctx, webhook.Request{URL: rcv.srv.URL + "/hook?x=1", Types: []string{"whtest.noted"}, Communities: []string{"c1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	rcv.setSecret(secret)
	appendEvents(t, f.env.Store, "whtest.noted", "c1", 4)
	appendEvents(t, f.env.Store, "whtest.other", "c1", 2) // another type
	appendEvents(t, f.env.Store, "whtest.noted", "c2", 2) // another community
	head := appendEvents(t, f.env.Store, "whtest.noted", "c1", 3)
	f.run(t)
	f.wait(t, sub.ID, head)

	requests, got, bad := rcv.snapshot()
	if bad != 0 {
		t.Fatalf("%d deliveries failed the signature check", bad)
	}
	want := matching(t, f.env.Store, "whtest.noted", "c1")
	if len(got) != len(want) || requests != len(want)+3 {
		t.Fatalf("accepted %d of %d requests, want %d events after 3 refusals", len(got), requests, len(want))
	}
	for i, ce := range got {
		if ce.ID() != want[i].ID.String() || ce.Type() != "cn.doorstep.whtest.noted.v1" {
			t.Fatalf("delivery %d is %s %s, want %s in the log's order", i, ce.ID(), ce.Type(), want[i].ID)
		}
		if strings.Contains(string(ce.Data()), "ciphertext") || !strings.Contains(string(ce.Data()), `{"sealed":true}`) {
			t.Fatalf("delivery %d data %s: the sealed field must be a marker", i, ce.Data())
		}
	}
	log, err := f.m.Deliveries(ctx, sub.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != len(want) {
		t.Fatalf("delivery log has %d entries, want %d", len(log), len(want))
	}
	for _, d := range log {
		wantAttempts := 1
		if d.EventID == want[0].ID.String() {
			wantAttempts = 4
		}
		if d.Status != webhook.StatusDelivered || d.Attempts != wantAttempts || d.LastCode != http.StatusNoContent || d.LastError != "" {
			t.Errorf("delivery %+v: want delivered after %d attempts", d, wantAttempts)
		}
	}
	st, err := f.m.Status(ctx)
	if err != nil || len(st) != 1 || st[0].Delivered != uint64(len(want)) || st[0].Failed != 3 || st[0].LagEvents != 0 {
		t.Fatalf("status %+v, %v", st, err)
	}
}

// matching returns the events of the log of type typ in community comm.
func matching(t testing.TB, st eventstore.Store, typ, comm string) []eventstore.Event {
	t.Helper()
	all, err := st.ReadAll(context.Background(), eventstore.Position{}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []eventstore.Event
	for _, e := range all {
		if e.Type == typ && e.Metadata.Community == comm {
			out = append(out, e)
		}
	}
	return out
}

// A receiver that never accepts: each delivery is retried with backoff
// for the whole 24-hour budget (on the test clock), then parked, and the
// subscription moves on; a replay once the receiver is healthy delivers
// the parked event exactly once.
func TestWebhookParksThenReplays(t *testing.T) {
	f := newFixture(t, nil)
	var healthy sync.Map
	rcv := newReceiver(t, func(_ int, id string) int {
		if _, ok := healthy.Load(id); ok {
			return 0
		}
		return http.StatusServiceUnavailable
	})
	ctx := context.Background()
	sub, secret, err := f.m.Create(ctx, webhook.Request{URL: rcv.srv.URL}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rcv.setSecret(secret)
	head := appendEvents(t, f.env.Store, "whtest.noted", "c1", 2)
	f.run(t)
	f.wait(t, sub.ID, head)

	parked, err := f.m.Deliveries(ctx, sub.ID, webhook.StatusParked, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 2 {
		t.Fatalf("%d parked deliveries, want 2", len(parked))
	}
	for _, d := range parked {
		if d.LastAt.Sub(d.FirstAt) < webhook.DefaultRetryFor-webhook.DefaultMaxBackoff || d.Attempts < 20 || d.LastCode != 503 || !strings.Contains(d.LastError, "503") {
			t.Errorf("parked %+v: want ~24 h of retries ending in 503", d)
		}
	}
	requests, got, _ := rcv.snapshot()
	if len(got) != 0 {
		t.Fatalf("accepted %d", len(got))
	}
	// Replay the older one once the receiver takes it.
	d := parked[1]
	healthy.Store(d.EventID, true)
	after, err := f.m.Replay(ctx, sub.ID, d.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != webhook.StatusReplayed || after.Attempts != d.Attempts+1 {
		t.Fatalf("after replay: %+v", after)
	}
	requests2, got, bad := rcv.snapshot()
	if requests2 != requests+1 || len(got) != 1 || got[0].ID() != d.EventID || bad != 0 {
		t.Fatalf("replay: %d requests, accepted %v, bad signatures %d; want one delivery of %s", requests2-requests, got, bad, d.EventID)
	}
	// A delivery that is not parked is not replayed.
	if _, err := f.m.Replay(ctx, sub.ID, "nope"); !isKind(err, domain.ErrNotFound) {
		t.Fatalf("replay of an unknown delivery: %v", err)
	}
}

func isKind(err error, kind error) bool {
	var de *domain.Error
	if err == nil {
		return false
	}
	if e, ok := err.(*domain.Error); ok {
		de = e
	}
	return de != nil && de.Kind == kind
}

// One receiver that hangs does not delay another: the healthy one gets
// every event while the other's first delivery is still waiting for an
// answer.
func TestWebhookSlowReceiverDoesNotDelayAnother(t *testing.T) {
	f := newFixture(t, func(c *webhook.Config) { c.Timeout = 5 * time.Minute })
	release := make(chan struct{})
	var once sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	defer once.Do(func() { close(release) }) // before the cleanups
	healthy := newReceiver(t, func(int, string) int { return 0 })
	ctx := context.Background()
	s1, _, err := f.m.Create(ctx, webhook.Request{URL: slow.URL}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	s2, secret, err := f.m.Create(ctx, webhook.Request{URL: healthy.srv.URL}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	healthy.setSecret(secret)
	head := appendEvents(t, f.env.Store, "whtest.noted", "c1", 20)
	f.run(t)
	f.wait(t, s2.ID, head)
	if _, got, _ := healthy.snapshot(); len(got) != 20 {
		t.Fatalf("healthy receiver got %d of 20", len(got))
	}
	sub1, err := f.m.Get(ctx, s1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sub1.Events != 0 {
		t.Fatalf("the hanging receiver's subscription advanced to %d events", sub1.Events)
	}
	once.Do(func() { close(release) })
	f.wait(t, s1.ID, head)
}

// A receiver that times out on the first attempt of each event gets
// everything on the second attempt.
func TestWebhookTimeout(t *testing.T) {
	f := newFixture(t, func(c *webhook.Config) { c.Timeout = 200 * time.Millisecond })
	seen := map[string]bool{}
	var mu sync.Mutex
	rcv := newReceiver(t, func(int, string) int { return 0 })
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		first := !seen[id]
		seen[id] = true
		mu.Unlock()
		if first {
			_, _ = io.ReadAll(r.Body) // (the server notices a closed connection once the body is read)
			<-r.Context().Done()      // the sender gives up after its timeout
			return
		}
		rcv.serve(w, r)
	}))
	defer hang.Close()
	ctx := context.Background()
	s1, secret, err := f.m.Create(ctx, webhook.Request{URL: hang.URL}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rcv.setSecret(secret)
	head := appendEvents(t, f.env.Store, "whtest.noted", "c1", 3)
	f.run(t)
	f.wait(t, s1.ID, head)
	log, err := f.m.Deliveries(ctx, s1.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, got, bad := rcv.snapshot(); len(got) != 3 || bad != 0 {
		t.Fatalf("accepted %d of 3, %d bad signatures", len(got), bad)
	}
	for _, d := range log {
		if d.Status != webhook.StatusDelivered || d.Attempts != 2 {
			t.Errorf("%+v: want delivered on the second attempt", d)
		}
	}
}

// A redirect is never followed (the target behind it sees nothing) and
// counts as a failure: the deliveries end parked.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	f := newFixture(t, nil)
	behind := newReceiver(t, func(int, string) int { return 0 })
	redirect := httptest.NewServer(http.RedirectHandler(behind.srv.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	ctx := context.Background()
	s2, secret2, err := f.m.Create(ctx, webhook.Request{URL: redirect.URL}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	behind.setSecret(secret2)
	head := appendEvents(t, f.env.Store, "whtest.noted", "c1", 3)
	f.run(t)
	f.wait(t, s2.ID, head)
	if n, _, _ := behind.snapshot(); n != 0 {
		t.Fatalf("the redirect was followed %d times", n)
	}
	parked, err := f.m.Deliveries(ctx, s2.ID, webhook.StatusParked, 10)
	if err != nil || len(parked) != 3 || parked[0].LastCode != http.StatusTemporaryRedirect || !strings.Contains(parked[0].LastError, "redirect") {
		t.Fatalf("redirected deliveries: %+v %v", parked, err)
	}
}

// Targets and filters are validated, in English and Chinese.
func TestWebhookRequestValidation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, req := range []webhook.Request{
		{URL: ""},
		{URL: "ftp://example.org/x"},
		{URL: "/relative"},
		{URL: "https://user:pw@example.org/x"},
		{URL: "https://example.org/x#frag"},
		{URL: "https://example.org/" + strings.Repeat("a", webhook.MaxURLBytes)},
		{URL: "https://example.org/", Types: []string{"a,b"}},
		{URL: "https://example.org/", Communities: []string{strings.Repeat("社", 40)}},
		{URL: "https://example.org/", From: "yesterday"},
	} {
		_, _, err := f.m.Create(ctx, req, "admin")
		var de *domain.Error
		if e, ok := err.(*domain.Error); ok {
			de = e
		}
		if de == nil || de.Kind != domain.ErrInvalid || de.Message == "" || de.MessageZH == "" {
			t.Errorf("%q: %v, want an invalid-input error in both languages", domain.Clip(req.URL, 60), err)
		}
	}
	if _, _, err := f.m.Create(ctx, webhook.Request{URL: "https://example.org/hook", Types: []string{"visit.recorded"}}, "admin"); err != nil {
		t.Fatal(err)
	}
}

// Four receivers at once, as issue 17 asks: one failing every other
// request (50 %), one timing out (each event's first attempt hangs until the
// sender gives up), one down (connection refused) for at least a minute of
// the test clock until it comes back on the same address, and a healthy one.
// Every receiver gets every event, de-duplicated by webhook-id in the log's
// order, each delivery verified by the Standard Webhooks library and by the
// verifier written from the specification. The healthy one is not held
// back: it has every event while the down one has none (its subscription
// still at its first event). How the healthy receiver's latency compares
// with and without such neighbours is a benchmark
// (BenchmarkWebhookHealthyLatency), not a timed assertion.
func TestWebhookFlakyTimeoutDownAndHealthyReceivers(t *testing.T) {
	// DefaultBackoff on the test clock. Its pauses would take the down
	// receiver through the whole 24-hour budget in a few milliseconds: a
	// pause ending more than 10 minutes (test clock) after the start waits
	// until the receiver is back.
	backUp := make(chan struct{})
	bringBack := sync.OnceFunc(func() { close(backUp) })
	t.Cleanup(bringBack)
	f := newFixture(t, func(c *webhook.Config) {
		c.Timeout = time.Second
		limit, now, sleep := c.Now().Add(10*time.Minute), c.Now, c.Sleep
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			if now().Add(d).After(limit) {
				select {
				case <-backUp:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return sleep(ctx, d)
		}
	})
	flaky := newReceiver(t, func(n int, _ string) int {
		if n%2 == 1 {
			return http.StatusBadGateway
		}
		return 0
	})
	healthy := newReceiver(t, func(int, string) int { return 0 })
	// The timing-out receiver: a receiver behind a front that lets each
	// event's first attempt hang until the sender closes the connection.
	slow := newReceiver(t, func(int, string) int { return 0 })
	var hungMu sync.Mutex
	hung := map[string]bool{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		hungMu.Lock()
		first := !hung[id]
		hung[id] = true
		hungMu.Unlock()
		if first {
			_, _ = io.ReadAll(r.Body)
			<-r.Context().Done() // the sender gives up after its timeout
			return
		}
		slow.serve(w, r)
	}))
	t.Cleanup(front.Close)
	// The down receiver: its address is reserved, then closed.
	down := newReceiver(t, func(int, string) int { return 0 })
	downURL := down.srv.URL
	down.srv.Listener.Close()
	ctx := context.Background()
	receivers := []*receiver{flaky, healthy, slow, down}
	urls := []string{flaky.srv.URL, healthy.srv.URL, front.URL, downURL}
	var subs []webhook.Subscription
	for i, r := range receivers {
		sub, secret, err := f.m.Create(ctx, webhook.Request{URL: urls[i]}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		r.setSecret(secret)
		subs = append(subs, sub)
	}
	head := appendEvents(t, f.env.Store, "whtest.noted", "c1", 6)
	want := matching(t, f.env.Store, "whtest.noted", "c1")
	f.run(t)
	f.wait(t, subs[1].ID, head) // the healthy one first
	if sub, err := f.m.Get(ctx, subs[3].ID); err != nil || sub.Events != 0 {
		t.Fatalf("the down receiver's subscription is at %d events (%v); it cannot have delivered any", sub.Events, err)
	}
	// The down receiver stays down until its first event has been failing
	// for a minute of the test clock.
	for {
		ds, err := f.m.Deliveries(ctx, subs[3].ID, webhook.StatusRetrying, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 {
			if !strings.Contains(ds[0].LastError, "refused") {
				t.Fatalf("down receiver: %+v", ds[0])
			}
			if ds[0].LastAt.Sub(ds[0].FirstAt) >= time.Minute {
				break
			}
		}
		time.Sleep(10 * time.Millisecond) // waiting for the next recorded failure, not asserting time
	}
	l, err := net.Listen("tcp", strings.TrimPrefix(downURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	back := &http.Server{Handler: http.HandlerFunc(down.serve)}
	go func() { _ = back.Serve(l) }()
	t.Cleanup(func() { _ = back.Close() })
	bringBack()
	for _, s := range subs {
		f.wait(t, s.ID, head)
	}
	names := []string{"failing half", "healthy", "timing out", "down"}
	for i, r := range receivers {
		requests, got, bad := r.snapshot()
		if bad != 0 {
			t.Fatalf("%s receiver: %d deliveries failed a signature check", names[i], bad)
		}
		var ids []string
		seen := map[string]bool{}
		for _, ce := range got {
			if !seen[ce.ID()] {
				seen[ce.ID()] = true
				ids = append(ids, ce.ID())
			}
		}
		if len(ids) != len(want) {
			t.Fatalf("%s receiver: %d distinct events accepted of %d (%d requests)", names[i], len(ids), len(want), requests)
		}
		for j := range ids {
			if ids[j] != want[j].ID.String() {
				t.Fatalf("%s receiver: event %d is %s, want %s (the log's order)", names[i], j, ids[j], want[j].ID)
			}
		}
	}
	// Each troubled receiver's troubles are in its delivery log and status.
	st, err := f.m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]uint64{}
	for _, s := range st {
		failed[s.ID] = s.Failed
	}
	for i, s := range subs {
		if i == 1 {
			continue
		}
		if failed[s.ID] < 1 {
			t.Errorf("%s receiver: no failed attempt counted", names[i])
		}
	}
	if failed[subs[0].ID] < uint64(len(want)) || failed[subs[2].ID] < uint64(len(want)) {
		t.Errorf("failed attempts: failing half %d, timing out %d; want at least one per event each", failed[subs[0].ID], failed[subs[2].ID])
	}
	ds, err := f.m.Deliveries(ctx, subs[3].ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.EventID == want[0].ID.String() && (d.Status != webhook.StatusDelivered || d.Attempts < 2 || d.LastAt.Sub(d.FirstAt) < time.Minute) {
			t.Errorf("the down receiver's first delivery: %+v; want delivered after a minute of failed attempts", d)
		}
	}
}

// A restart resumes a retry where it was: the attempts already made and
// the first attempt's time are kept, so the 24-hour budget is not reset.
func TestWebhookRetryBudgetSurvivesARestart(t *testing.T) {
	f := newFixture(t, nil)
	rcv := newReceiver(t, func(int, string) int { return http.StatusServiceUnavailable })
	ctx := context.Background()
	sub, secret, err := f.m.Create(ctx, webhook.Request{URL: rcv.srv.URL}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rcv.setSecret(secret)
	head := appendEvents(t, f.env.Store, "whtest.noted", "c1", 1)
	// First process: stop it once three failed attempts are recorded.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var slow sync.Mutex // guards first
	var first webhook.Delivery
	m1, err := webhook.New(webhook.Config{Log: f.env.Store, DB: f.env.DB, Dialect: f.env.Dialect, Encoder: mustEncoder(t), Now: f.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			ds, err := f.m.Deliveries(ctx, sub.ID, webhook.StatusRetrying, 1)
			if err == nil && len(ds) == 1 && ds[0].Attempts >= 3 {
				slow.Lock()
				if first.Attempts == 0 {
					first = ds[0]
					stop()
				}
				slow.Unlock()
				<-ctx.Done()
				return ctx.Err()
			}
			return f.clock.Sleep(ctx, d)
		}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- m1.Run(runCtx) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if first.Attempts < 3 {
		t.Fatalf("first process stopped after %d attempts", first.Attempts)
	}
	// Second process: it goes on to the end of the budget and parks.
	f.run(t)
	f.wait(t, sub.ID, head)
	parked, err := f.m.Deliveries(ctx, sub.ID, webhook.StatusParked, 1)
	if err != nil || len(parked) != 1 {
		t.Fatalf("parked: %+v %v", parked, err)
	}
	if !parked[0].FirstAt.Equal(first.FirstAt) || parked[0].Attempts <= first.Attempts {
		t.Fatalf("after the restart: first attempt %s, %d attempts; before: %s, %d — the budget was reset",
			parked[0].FirstAt, parked[0].Attempts, first.FirstAt, first.Attempts)
	}
}

func mustEncoder(t testing.TB) *cloudevent.Encoder {
	enc, err := cloudevent.NewEncoder("urn:doorstep:test", "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	return enc
}
