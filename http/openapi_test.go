package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// validator checks live traffic against the server's own OpenAPI document
// with kin-openapi: every response must be valid, every request the server
// accepts (2xx) must be valid, and every request must match a documented
// operation. It records which operations were exercised.
type validator struct {
	t      testing.TB
	doc    *openapi3.T
	router routers.Router
	next   nethttp.RoundTripper
	mu     sync.Mutex
	seen   map[string]bool
}

func newValidator(t testing.TB, s *Server, next nethttp.RoundTripper) *validator {
	t.Helper()
	b, err := json.Marshal(s.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &validator{t: t, doc: doc, router: r, next: next, seen: map[string]bool{}}
}

func (v *validator) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	route, params, ferr := v.router.FindRoute(req)
	res, err := v.next.RoundTrip(req)
	if err != nil || ferr != nil {
		if ferr != nil && err == nil && res.StatusCode != 404 && res.StatusCode != 405 {
			v.t.Errorf("%s %s answered %d but is not documented: %v", req.Method, req.URL.Path, res.StatusCode, ferr)
		}
		return res, err
	}
	v.mu.Lock()
	v.seen[route.Operation.OperationID] = true
	v.mu.Unlock()
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr != nil && res.StatusCode < 300 {
		v.t.Errorf("%s %s: the server accepted (%d) a request the document says is invalid: %v", req.Method, req.URL.Path, res.StatusCode, reqErr)
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		if _, ok := route.Operation.Responses.Value("200").Value.Content["text/event-stream"]; !ok {
			v.t.Errorf("%s %s streams events but the document does not say so", req.Method, req.URL.Path)
		}
		return res, nil
	}
	rb, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(rb))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Body: io.NopCloser(bytes.NewReader(rb)), Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		v.t.Errorf("%s %s → %d: response does not match the document: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, truncate(rb))
	}
	return res, nil
}

func truncate(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// operations lists the documented operation ids.
func (v *validator) operations() []string {
	var ops []string
	for _, p := range v.doc.Paths.Map() {
		for _, op := range p.Operations() {
			ops = append(ops, op.OperationID)
		}
	}
	return ops
}

// TestOpenAPIDocumentsEveryRoute: the served document is valid OpenAPI
// 3.1 and has one operation per route of the router.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/openapi.json", "", nil)
	var doc map[string]any
	r.decode(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	ops := map[string]bool{}
	for _, op := range e.val.operations() {
		ops[op] = true
	}
	n := 0
	err := e.srv.router.Walk(func(rt *muxRoute, _ *muxRouter, _ []*muxRoute) error {
		n++
		if !ops[rt.GetName()] {
			return fmt.Errorf("route %s is not documented", rt.GetName())
		}
		return nil
	})
	if err != nil || n != len(ops) || n != len(e.srv.routes) {
		t.Fatalf("walk: %v; %d routes, %d operations", err, n, len(ops))
	}
}

// missing lists the documented operations no request exercised.
func (v *validator) missing() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, op := range v.operations() {
		if !v.seen[op] {
			out = append(out, op)
		}
	}
	return out
}

// The event catalogue is served and referenced from the OpenAPI document;
// each listed schema is a JSON Schema; an unknown type is a clear 404.
func TestEventCatalogueServed(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/v1/schemas", "", nil)
	if r.status != 200 {
		t.Fatalf("/v1/schemas: %d %s", r.status, r.body)
	}
	var idx SchemaIndex
	r.decode(t, &idx)
	if len(idx.Schemas) < 40 {
		t.Fatalf("/v1/schemas lists %d schemas: %s", len(idx.Schemas), r.body)
	}
	for _, ref := range idx.Schemas {
		r := e.do("GET", ref.URL, "", nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/schema+json" {
			t.Fatalf("%s: %d %s", ref.URL, r.status, r.header.Get("Content-Type"))
		}
		var doc map[string]any
		r.decode(t, &doc)
		if doc["$schema"] == nil || doc["title"] != ref.Type {
			t.Fatalf("%s is not the JSON Schema of %s: %s", ref.URL, ref.Type, r.body)
		}
	}
	r = e.do("GET", "/v1/schemas/cn.doorstep.nothing.v1", "", nil)
	if r.status != 404 || r.problem(t).Code != "schema_not_found" {
		t.Fatalf("unknown schema: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/openapi.json", "", nil)
	if !strings.Contains(string(r.body), `"/v1/schemas/{type}"`) || !strings.Contains(string(r.body), `"x-event-catalogue":"/v1/schemas"`) {
		t.Fatalf("the OpenAPI document does not reference the catalogue")
	}
}
