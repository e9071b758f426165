package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// The fuzz targets of the API's decoders of outside input (decision 0074):
// command bodies (decoded alone, and through every command route of a real
// server), query parameters of every query route, and the SSE
// Last-Event-ID. Their seed corpus is in testdata/fuzz; ./scripts/test runs
// each for a few seconds.

// checkRefusal fails unless err is a *domain.Error with a code and its
// message in English and Chinese.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code == "" || de.Message == "" || !hasHan(de.MessageZH) {
		t.Fatalf("refusal %#v is not a *domain.Error in English and Chinese", err)
	}
}

// bodyDecoders decode a command body into each request type, as the
// command builders do (decodeInto), and round-trip what they accept.
var bodyDecoders = []func(*testing.T, *nethttp.Request, []byte){
	roundTrip[RegisterHouseholdRequest], roundTrip[MemberRequest], roundTrip[ReasonRequest], roundTrip[RelocateRequest],
	roundTrip[ChangeRequest], roundTrip[CircumstancesRequest], roundTrip[NeedsRequest], roundTrip[ResourcesRequest], roundTrip[ConsentRequest],
	roundTrip[ArchiveRequest], roundTrip[ReportProblemRequest], roundTrip[ReclassifyRequest], roundTrip[AssignRequest],
	roundTrip[ExtendRequest], roundTrip[ProgressRequest], roundTrip[ResolveRequest], roundTrip[SatisfactionRequest],
	roundTrip[RevisitRequest], roundTrip[CloseRequest], roundTrip[RequestReferralRequest], roundTrip[AcceptRequest],
	roundTrip[NoteRequest], roundTrip[CompleteRequest], roundTrip[EscalateRequest], roundTrip[VisitRequest],
	roundTrip[CalendarYearRequest], roundTrip[TokenRequest],
}

func roundTrip[T any](t *testing.T, r *nethttp.Request, body []byte) {
	v, err := decodeInto[T](r, body)
	if err != nil {
		checkRefusal(t, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%T accepted but cannot be encoded: %v", v, err)
	}
	again, err := decodeInto[T](r, b)
	if err != nil || !reflect.DeepEqual(v, again) {
		t.Fatalf("%T accepted %q, encoded as %s, which decodes to %+v, %v", v, body, b, again, err)
	}
}

// FuzzCommandBodies: decoding a command body never panics; a refusal is a
// bilingual *domain.Error; an accepted body encodes and decodes to itself.
func FuzzCommandBodies(f *testing.F) {
	for i, s := range []string{
		`{"household_id":"h1","address":"幸福路 1 号","community":"C1","grid":"G1","responsible_worker":"李四","class":"special","risk":"yellow"}`,
		`{"team":["李四"],"occurred_at":"2026-11-20T10:00:00+08:00","mode":"home","outcome":"completed","summary":"独居"}`,
		`{"problem_id":"p1","household_id":"h1","description":"需要报警器","category":"service","handling_class":"coordinated","colour":"yellow","urgency":"ordinary"}`,
		`{"to":"王书记","reason":"需要社区协调","time_limit":"3 working_days"}`,
		`{"reason":"x"}`, `{}`, ``, `null`, `[]`, `{"household_id":"a/b"}`, `{"x":1}`, `{"team":"李四"}`, `{} {}`,
		`{"year":2027,"off":["2027-01-01"],"work":[]}`, `{"name":"李四","role":"worker","grids":["G1"]}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		r := httptest.NewRequest("POST", "/v1/x", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		bodyDecoders[int(kind)%len(bodyDecoders)](t, r, body)
	})
}

// fuzzServer is a real server (SQLite store, read models, tokens) with a
// household h1 (member m1), a problem p1 and a referral r1, and the admin
// token.
func fuzzServer(f *testing.F) (*testEnv, string) {
	e := newEnv(f, nil)
	tok := e.admin
	for _, c := range []struct {
		path string
		body any
	}{
		{"/v1/households", registerBody("h1", "C1", "G1")},
		{"/v1/households/h1/members", map[string]any{"member_id": "m1", "name": "张三", "relation": "self"}},
		{"/v1/problems", map[string]any{"problem_id": "p1", "household_id": "h1", "description": "需要报警器", "category": "service", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"}},
		{"/v1/referrals", map[string]any{"referral_id": "r1", "problem_id": "p1", "level": "street", "to": "民政局", "request": "申请低保"}},
	} {
		r := e.do("POST", c.path, tok, c.body)
		if r.status >= 300 {
			f.Fatalf("fuzz fixture %s: %d %s", c.path, r.status, r.body)
		}
	}
	return e, tok
}

// fill puts the fixture's ids into a route's path.
func fill(path string) string {
	id := "h1"
	switch {
	case strings.HasPrefix(path, "/v1/problems/"):
		id = "p1"
	case strings.HasPrefix(path, "/v1/referrals/"):
		id = "r1"
	case strings.HasPrefix(path, "/v1/calendar/"):
		id = "2027"
	}
	return strings.NewReplacer("{id}", id, "{member_id}", "m1", "{year}", "2027").Replace(path)
}

// checkAnswer fails on a 500 (a panic is recovered as one) and on a refusal
// that is not problem+json with a code and both languages.
func checkAnswer(t *testing.T, method, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 && rec.Code != nethttp.StatusServiceUnavailable {
		t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body.Bytes())
	}
	if rec.Code < 400 {
		return
	}
	var p Problem
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
		t.Fatalf("%s %s: %d %s %s, want problem+json", method, target, rec.Code, ct, rec.Body.Bytes())
	}
	if p.Code == "" || p.MessageEN == "" || !hasHan(p.MessageZH) {
		t.Fatalf("%s %s: refusal %+v lacks a code or a language", method, target, p)
	}
}

// FuzzCommandRoutes posts bodies to every command route of a real server:
// never a 500, every refusal bilingual problem+json.
func FuzzCommandRoutes(f *testing.F) {
	e, tok := fuzzServer(f)
	var cmds []route
	for _, rt := range e.srv.routes {
		if rt.doc.command || rt.method == "POST" || rt.method == "PUT" {
			cmds = append(cmds, rt)
		}
	}
	for i, s := range []string{`{}`, `{"reason":"复查"}`, `{"to":"red","reason":"摔倒"}`,
		`{"team":["李四"],"occurred_at":"2026-11-20T10:00:00+08:00","mode":"home","outcome":"completed"}`,
		`{"to":"王书记","reason":"协调","time_limit":"3 working_days"}`, `{"household_id":"\u202e"}`, `{"occurred_at":"2600-01-01T00:00:00Z"}`} {
		for j := range cmds {
			if j%3 == i%3 {
				f.Add(uint8(j), []byte(s))
			}
		}
	}
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := cmds[int(which)%len(cmds)]
		target := fill(rt.path)
		r := httptest.NewRequest(rt.method, target, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		checkAnswer(t, rt.method, target, rec)
	})
}

// FuzzQueryParams sends query strings (at, as_of, version, paging,
// filters, formats…) to every query route of a real server: never a 500,
// every refusal bilingual problem+json. The event stream has its own
// target (FuzzLastEventID); wait_for is dropped so that no request waits.
func FuzzQueryParams(f *testing.F) {
	e, tok := fuzzServer(f)
	var qs []route
	for _, rt := range e.srv.routes {
		if rt.method == "GET" && rt.path != "/v1/events" {
			qs = append(qs, rt)
		}
	}
	for i, s := range []string{"", "limit=10&offset=0", "limit=-1", "limit=99999999999999999999", "offset=x", "at=2026-11-20",
		"at=2026-11-20T10:00:00%2B08:00", "at=1600-01-01", "version=1", "version=0", "format=csv", "grid=G1&community=C1",
		"stage=breached", "by=community&from=2026-01&to=2026-12", "from=2026-13", "provisional=maybe", "q=%E5%BC%A0", "%zz", "a=1;b=2"} {
		for j := range qs {
			if j%4 == i%4 {
				f.Add(uint8(j), s)
			}
		}
	}
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, which uint8, query string) {
		rt := qs[int(which)%len(qs)]
		if v, err := url.ParseQuery(query); err == nil && (v.Has("wait_for") || v.Has("wait_timeout")) {
			v.Del("wait_for")
			v.Del("wait_timeout")
			query = v.Encode()
		}
		target := fill(rt.path)
		r := httptest.NewRequest("GET", target, nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", "Bearer "+tok)
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(ctx))
		checkAnswer(t, "GET", target+"?"+query, rec)
	})
}

// FuzzLastEventID: a reconnecting client's Last-Event-ID (or after=) is a
// position token: one that parses prints back as itself; one that does
// not is refused by GET /v1/events with a bilingual 400 before anything is
// streamed.
func FuzzLastEventID(f *testing.F) {
	for _, s := range []string{"0", "42", "7.12", "", "-1", "1.", ".1", "18446744073709551616", "0x10", "１２", "1.2.3", " 1", "01"} {
		f.Add(s)
	}
	e, tok := fuzzServer(f)
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, id string) {
		p, err := eventstore.ParsePosition(id)
		if err == nil {
			if q, err := eventstore.ParsePosition(p.String()); err != nil || q != p {
				t.Fatalf("position %q prints as %q, which parses to %v, %v", id, p.String(), q, err)
			}
			return
		}
		if !errors.Is(err, eventstore.ErrInvalidPosition) {
			t.Fatalf("ParsePosition(%q): %v, want ErrInvalidPosition", id, err)
		}
		r := httptest.NewRequest("GET", "/v1/events", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Last-Event-ID", id)
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(ctx))
		if rec.Code != 400 {
			t.Fatalf("Last-Event-ID %q: %d %s, want 400", id, rec.Code, rec.Body.Bytes())
		}
		checkAnswer(t, "GET", "/v1/events", rec)
	})
}
