package http

import (
	"strings"
	"testing"
	"unicode"
)

// Issue 13 "Limits everywhere": each limit is a bilingual refusal with a
// stable code *and* a metric. The stream, header-size, text and
// idempotency limits have their own tests; this one goes past each of the
// others once, through the API, and asserts the answer and that
// doorstep_http_limit_refusals_total{limit} moved by exactly one.
func TestEveryLimitIsBilingualAndCounted(t *testing.T) {
	e := newEnv(t, nil)
	reg := map[string]any{"household_id": "lim-1", "address": "1号", "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
	if r := e.do("POST", "/v1/households", e.admin, reg); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	visit := func(at string) map[string]any {
		return map[string]any{"team": []string{"w"}, "occurred_at": at, "mode": "home", "outcome": "completed"}
	}
	for _, tc := range []struct {
		limit, code string
		status      int
		send        func() resp
	}{
		{"body", "body_too_large", 413, func() resp {
			big := map[string]any{"household_id": "lim-2", "address": strings.Repeat("路", 2000), "community": "c", "grid": "g", "responsible_worker": "w", "class": "ordinary", "risk": "green"}
			return e.do("POST", "/v1/households", e.admin, big)
		}},
		{"id", "invalid_id", 400, func() resp { return e.do("GET", "/v1/households/a%20b", e.admin, nil) }},
		{"time", "time_out_of_range", 400, func() resp {
			return e.do("POST", "/v1/households/lim-1/visits", e.admin, visit("1600-01-01T09:00:00+08:00"))
		}},
		{"time", "time_out_of_range", 400, func() resp {
			return e.do("POST", "/v1/households/lim-1/visits", e.admin, visit("2600-01-01T09:00:00+08:00"))
		}},
		{"page_size", "invalid_limit", 400, func() resp { return e.do("GET", "/v1/households?limit=1000000", e.admin, nil) }},
		{"header", "invalid_correlation_id", 400, func() resp {
			return e.do("POST", "/v1/households", e.admin, reg, "X-Correlation-Id", strings.Repeat("c", MaxCorrelationIDBytes+1))
		}},
		{"header", "invalid_idempotency_key", 400, func() resp {
			return e.do("POST", "/v1/households", e.admin, reg, "Idempotency-Key", "a key with spaces")
		}},
	} {
		series := `doorstep_http_limit_refusals_total{limit="` + tc.limit + `"}`
		before := e.metricValue(series)
		if before < 0 {
			t.Fatalf("/metrics has no series %s", series)
		}
		r := tc.send()
		if r.status != tc.status {
			t.Fatalf("%s: %d %.300s, want %d", tc.code, r.status, r.body, tc.status)
		}
		p := r.problem(t)
		if p.Code != tc.code || p.MessageEN == "" || p.MessageZH == "" || p.MessageZH == p.MessageEN || !hanIn(p.MessageZH) {
			t.Fatalf("%s: %+v, want code %s in English and Chinese", tc.code, p, tc.code)
		}
		if after := e.metricValue(series); after != before+1 {
			t.Fatalf("%s: %s went from %v to %v, want one more", tc.code, series, before, after)
		}
	}
}

// hanIn reports whether s holds a Chinese character.
func hanIn(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}
