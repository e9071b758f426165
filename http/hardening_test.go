package http

import (
	"io"
	"log/slog"
	nethttp "net/http"
	"strings"
	"testing"

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
