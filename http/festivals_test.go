package http

import (
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// 004 §4.2 重要节日必访; 000 §1.1 在春节慰问前，系统自动筛选出符合慰问条件的家庭
// (decision 0140) over HTTP: C1's supervisor opens the Mid-Autumn campaign;
// the server chooses C1's special and key households (not the ordinary
// one, not C2's); another community's supervisor sees no such campaign,
// an auditor reads it but may not open one. A festival home visit to one
// household shows in the coverage; the other stays unvisited.
func TestSeed004_4_2_FestivalCampaignOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1", "G2"}})
	sup := e.token(identity.Principal{Name: "C1督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	other := e.token(identity.Principal{Name: "C2督导", Role: identity.RoleSupervisor, Communities: []string{"C2"}})
	aud := e.token(identity.Principal{Name: "督查办", Role: identity.RoleAuditor})
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	for _, h := range []struct{ id, community, grid, class string }{
		{"h1", "C1", "G1", "special"}, {"h2", "C1", "G1", "key"}, {"h3", "C1", "G1", "ordinary"}, {"h4", "C2", "G2", "special"},
	} {
		b := registerBody(h.id, h.community, h.grid)
		b.Class = h.class
		must(e.do("POST", "/v1/households", w, b), 201)
	}
	now := clock.Now()
	year := now.Year()
	open := OpenFestivalCampaignRequest{Community: "C1", Festival: "mid_autumn", Year: year,
		Starts: now.Add(-48 * time.Hour).Format(time.RFC3339), Due: now.Add(10 * 24 * time.Hour).Format(time.RFC3339)}
	bad := open
	bad.Festival = "halloween"
	if r := must(e.do("POST", "/v1/festival-campaigns", sup, bad), 400); r.problem(t).Field != "festival" {
		t.Fatalf("an unknown festival: %s", r.body)
	}
	bad = open
	bad.Due = "next week"
	if p := must(e.do("POST", "/v1/festival-campaigns", sup, bad), 400).problem(t); p.Field != "due" || p.MessageZH == "" {
		t.Fatalf("a bad due date: %+v", p)
	}
	must(e.do("POST", "/v1/festival-campaigns", other, open), 404)
	must(e.do("POST", "/v1/festival-campaigns", aud, open), 403)
	r := must(e.do("POST", "/v1/festival-campaigns", sup, open), 201)
	path := "/v1/festival-campaigns/C1/" + domain.FestivalCampaignID(year, domain.FestivalMidAutumn)
	if loc := r.header.Get("Location"); loc != path {
		t.Fatalf("Location %q, want %q", loc, path)
	}
	if r := must(e.do("POST", "/v1/festival-campaigns", sup, open, "Idempotency-Key", "another"), 409); r.problem(t).Code != "campaign_opened" {
		t.Fatalf("a second campaign: %s", r.body)
	}
	must(e.do("GET", path, other, nil), 404)
	var c FestivalCampaign
	must(e.do("GET", path, aud, nil), 200).decode(t, &c)
	if c.Targets != 2 || c.Visited != 0 || len(c.Households) != 2 || c.Households[0].HouseholdID != "h1" || c.Households[1].HouseholdID != "h2" ||
		!c.Households[0].Scheduled || !c.Households[1].Scheduled || c.FestivalZH != "中秋" {
		t.Fatalf("campaign: %+v", c)
	}
	v := fullVisit(VisitRequest{Team: []string{"李四"}, OccurredAt: now.Add(-time.Hour).Format(time.RFC3339), Mode: "home", Outcome: "completed"})
	v.Purpose = "festival"
	must(e.do("POST", "/v1/households/h1/visits", w, v), 200)
	must(e.do("GET", path, sup, nil), 200).decode(t, &c)
	if c.Visited != 1 || c.Coverage != 0.5 || !c.Households[0].Visited || c.Households[0].VisitID == "" || c.Households[1].Visited {
		t.Fatalf("coverage after h1's festival visit: %+v", c)
	}
}
