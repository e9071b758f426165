package http

import (
	"slices"
	"strconv"
	"testing"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// TestVisitsDue: GET /v1/visits/due lists the households in the caller's
// scope whose next visit falls due within the window, soonest first; a
// grid outside the scope is 403 and a bad window a bilingual 400.
func TestVisitsDue(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	aud := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor})
	both := e.token(identity.Principal{Name: "王五", Role: identity.RoleWorker, Grids: []string{"G1", "G2"}})
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	var res CommandResult
	for _, h := range []struct{ id, grid, class string }{{"h1", "G1", "special"}, {"h2", "G1", "key"}, {"h3", "G1", "ordinary"}, {"h4", "G2", "special"}} {
		body := registerBody(h.id, "C1", h.grid)
		body.Class = h.class
		must(e.do("POST", "/v1/households", both, body), 201).decode(t, &res)
	}
	var all HouseholdList
	must(e.do("GET", "/v1/households?wait_for="+res.Position, aud, nil), 200).decode(t, &all)
	for _, within := range []int{1, 7, 31, 92} {
		now := clock.Now()
		var want []string
		for _, h := range all.Households {
			if h.Grid == "G1" && h.NextVisitDue != nil && h.NextVisitDue.Before(now.AddDate(0, 0, within)) {
				want = append(want, h.HouseholdID)
			}
		}
		var got HouseholdList
		must(e.do("GET", "/v1/visits/due?within="+strconv.Itoa(within)+"d", w, nil), 200).decode(t, &got)
		var ids []string
		for i, h := range got.Households {
			ids = append(ids, h.HouseholdID)
			if i > 0 && h.NextVisitDue.Before(*got.Households[i-1].NextVisitDue) {
				t.Fatalf("within %dd: not soonest first: %+v", within, got.Households)
			}
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("within %dd: %v, want %v", within, ids, want)
		}
		if within == 92 && !slices.Contains(ids, "h1") {
			t.Fatalf("a special household (monthly) is due within 92 days: %v", ids)
		}
	}
	var def HouseholdList
	must(e.do("GET", "/v1/visits/due?limit=1", w, nil), 200).decode(t, &def)
	if def.Limit != 1 || len(def.Households) > 1 {
		t.Fatalf("paging: %+v", def)
	}
	if r := must(e.do("GET", "/v1/visits/due?grid=G2", w, nil), 403); r.problem(t).Code != "out_of_scope" {
		t.Fatalf("another grid: %s", r.body)
	}
	for _, bad := range []string{"7", "0d", "93d", "1w", "-1d", "7h"} {
		p := must(e.do("GET", "/v1/visits/due?within="+bad, w, nil), 400).problem(t)
		if p.Code != "invalid_parameter" || p.MessageZH == "" || p.MessageEN == "" {
			t.Fatalf("within=%s: %+v", bad, p)
		}
	}
}
