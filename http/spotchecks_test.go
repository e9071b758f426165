package http

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/rectification"
)

// TestSeed001_3_4_SpotCheckRedrawnFromTheRecordedSeed: "抽查比例不低于走访总数的
// 10%，对发现的问题下发整改通知书，限期整改；…开展一次‘回头看’". 竹园村's 45
// completed visits of September 2026 (and visits of another community and
// month, and a refused one, which are not drawn from) are sampled by the
// 督查办: 5 visits (10% rounded up), assigned in turn to two inspectors. An
// auditor reads the log up to the draw, rebuilds the population by
// herself, finds the recorded hash and draws the same list from the
// recorded seed. A discrepancy found by its inspector opens a
// rectification case (整改通知书) with a deadline; a passed 回头看 closes it.
func TestSeed001_3_4_SpotCheckRedrawnFromTheRecordedSeed(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	loc := e.app.Calendar().Location()
	reg := func(id, community string) {
		t.Helper()
		if _, err := e.app.RegisterHousehold(ctx, command.Cmd{ID: "reg-" + id, Actor: "seed", Role: domain.RoleSupervisor,
			At: time.Date(2026, 8, 3, 9, 0, 0, 0, loc)}, id, domain.RegisterHousehold{Address: "路 " + id, Community: community,
			Grid: community + "1网格", ResponsibleWorker: "李四", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}); err != nil {
			t.Fatal(err)
		}
	}
	// Visits are appended as recorded events: the test is about drawing
	// from them, not about what a visit must contain.
	visit := func(id string, n int, at time.Time, outcome domain.VisitOutcome) {
		t.Helper()
		ev := domain.VisitRecorded{VisitID: fmt.Sprintf("v%d", n), Team: []string{"李四"}, OccurredAt: at, RecordedAt: at.Add(time.Hour),
			Mode: domain.ModeHome, Outcome: outcome, PolicyVersion: e.app.Policies().Current().Version, By: "李四"}
		data, err := eventlog.Encode(eventstore.NewID(), ev, eventlog.Envelope{At: at.Add(time.Hour), Actor: "李四", Role: domain.RoleGridWorker}.Metadata())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Append(ctx, domain.HouseholdStream(id), eventstore.Any(), data); err != nil {
			t.Fatal(err)
		}
	}
	sept := time.Date(2026, 9, 1, 10, 0, 0, 0, loc)
	for i := range 15 {
		id := fmt.Sprintf("zy%02d", i)
		reg(id, "竹园村")
		for j := range 3 {
			visit(id, j, sept.Add(time.Duration(i+j*5)*24*time.Hour), domain.OutcomeCompleted)
		}
		visit(id, 9, time.Date(2026, 10, 2, 10, 0, 0, 0, loc), domain.OutcomeCompleted) // October: not drawn from
	}
	visit("zy00", 8, sept.Add(time.Hour), domain.OutcomeRefused) // refused: not a completed visit
	reg("sl00", "山联村")
	visit("sl00", 1, sept, domain.OutcomeCompleted) // another community

	insp := []string{"督查办刘", "纪工委陈"}
	aud := e.token(identity.Principal{Name: "督查办主任", Role: identity.RoleAuditor})
	liu := e.token(identity.Principal{Name: insp[0], Role: identity.RoleAuditor})
	chen := e.token(identity.Principal{Name: insp[1], Role: identity.RoleAuditor})
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"竹园村"}})
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	must(e.do("POST", "/v1/spot-checks", aud, DrawSpotChecksRequest{Community: "竹园村", Period: "2026-13", Inspectors: insp}), 400)
	var res CommandResult
	must(e.do("POST", "/v1/spot-checks", aud, DrawSpotChecksRequest{Community: "竹园村", Period: "2026-09", Inspectors: insp}), 201).decode(t, &res)
	must(e.do("POST", "/v1/spot-checks", aud, DrawSpotChecksRequest{Community: "竹园村", Period: "2026-09", Inspectors: insp}), 409)
	var sc SpotChecks
	must(e.do("GET", "/v1/spot-checks/竹园村/2026-09", sup, nil), 200).decode(t, &sc)
	if sc.Population != 45 || len(sc.Sample) != 5 || sc.Rate != 0.10 || sc.Seed == "" || sc.DrawnBy != "督查办主任" {
		t.Fatalf("the draw: population %d, sample %d, rate %v, seed %q, by %s", sc.Population, len(sc.Sample), sc.Rate, sc.Seed, sc.DrawnBy)
	}
	for i, it := range sc.Sample {
		if it.Inspector != insp[i%2] {
			t.Fatalf("sample %d is assigned to %s, want %s", i, it.Inspector, insp[i%2])
		}
	}

	// The auditor re-draws: the population from the log as it stood at
	// the draw, the sample from the recorded seed.
	drawAt, err := eventstore.ParsePosition(res.Position)
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.store.ReadAll(ctx, eventstore.Position{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	community := map[string]string{}
	var pop []domain.VisitRef
	for _, ev := range all {
		if ev.Position.Compare(drawAt) > 0 {
			break
		}
		switch ev.Type {
		case domain.TypeHouseholdRegistered:
			var r domain.HouseholdRegistered
			if err := json.Unmarshal(ev.Data, &r); err != nil {
				t.Fatal(err)
			}
			community[ev.Stream] = r.Community
		case domain.TypeVisitRecorded:
			var v domain.VisitRecorded
			if err := json.Unmarshal(ev.Data, &v); err != nil {
				t.Fatal(err)
			}
			if community[ev.Stream] == "竹园村" && v.Outcome == domain.OutcomeCompleted && v.OccurredAt.In(loc).Format("2006-01") == "2026-09" {
				pop = append(pop, domain.VisitRef{Household: ev.Stream[len("household-"):], Version: ev.Version})
			}
		}
	}
	if domain.PopulationHash(pop) != sc.PopulationHash {
		t.Fatalf("the auditor's population (%d visits) hashes %s; the draw recorded %s", len(pop), domain.PopulationHash(pop), sc.PopulationHash)
	}
	redrawn := domain.DrawSample(sc.Seed, pop, sc.Rate)
	recorded := make([]domain.VisitRef, len(sc.Sample))
	for i, it := range sc.Sample {
		recorded[i] = it.VisitRef
	}
	if !slices.Equal(redrawn, recorded) {
		t.Fatalf("re-drawn from the seed %v; recorded %v", redrawn, recorded)
	}
	if other := domain.DrawSample(sc.Seed+"x", pop, sc.Rate); slices.Equal(other, recorded) {
		t.Fatal("another seed draws the same sample: the seed does not decide the draw")
	}

	// Findings: by the assigned inspector only; a discrepancy needs its detail.
	first, second := sc.Sample[0], sc.Sample[1]
	path := "/v1/spot-checks/竹园村/2026-09/findings"
	if r := must(e.do("POST", path, chen, FindingRequest{HouseholdID: first.Household, Version: first.Version, Result: "confirmed"}), 422); r.problem(t).Code != "not_the_inspector" {
		t.Fatalf("another inspector: %s", r.body)
	}
	must(e.do("POST", path, liu, FindingRequest{HouseholdID: first.Household, Version: first.Version, Result: "discrepancy"}), 400)
	must(e.do("POST", path, liu, FindingRequest{HouseholdID: first.Household, Version: first.Version, Result: "confirmed"}), 200)
	must(e.do("POST", path, chen, FindingRequest{HouseholdID: second.Household, Version: second.Version, Result: "discrepancy",
		Detail: "住户称当日无人上门"}), 200).decode(t, &res)

	// The discrepancy opens a rectification notice, with its deadline.
	op, err := rectification.New(rectification.Config{Store: e.store, Commands: e.app})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op.Sync(ctx); err != nil || n != 1 {
		t.Fatalf("the opener opened %d cases: %v", n, err)
	}
	head, _ := e.store.Head(ctx)
	var list RectificationList
	must(e.do("GET", "/v1/rectifications?status=open&wait_for="+head.String(), sup, nil), 200).decode(t, &list)
	if len(list.Rectifications) != 1 || list.Rectifications[0].Source != "spot_check" || list.Rectifications[0].Due == nil {
		t.Fatalf("rectification notices: %+v", list)
	}
	id := list.Rectifications[0].ID
	var c Rectification
	must(e.do("GET", "/v1/rectifications/"+id, aud, nil), 200).decode(t, &c)
	if c.SourceZH == "" || len(c.Periods) != 1 || c.Periods[0] != "2026-09" || c.Deadline == nil {
		t.Fatalf("the notice: %+v", c)
	}
	// A notice from a spot check needs no 约谈 before its 回头看.
	must(e.do("POST", "/v1/rectifications/"+id+"/review", sup, ReviewRequest{Result: "passed", Findings: "已补访并更正记录"}), 200)
	var sc2 SpotChecks
	must(e.do("GET", "/v1/spot-checks/竹园村/2026-09", aud, nil), 200).decode(t, &sc2)
	if len(sc2.Findings) != 2 || sc2.Findings[1].Result != domain.FindingDiscrepancy {
		t.Fatalf("findings %+v", sc2.Findings)
	}
	other := e.token(identity.Principal{Name: "另一督导", Role: identity.RoleSupervisor, Communities: []string{"山联村"}})
	must(e.do("GET", "/v1/spot-checks/竹园村/2026-09", other, nil), 404)
}
