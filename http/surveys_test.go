package http

import (
	"context"
	"fmt"
	"testing"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/rectification"
)

// TestSeed001_3_4_SurveyBelowEightyPercentOverHTTPOpensRectification:
// "每半年发放一次满意度问卷…问卷回收率不低于80%，满意度低于80%的社区需限期整改".
// 竹园村's supervisor opens the 2026-H2 survey with 5 questionnaires and
// records 5 answers, 3 satisfied (60%); another community's supervisor
// sees no such survey, an auditor reads it but may not write. Closing it
// records the figures against the policy's 80%, and the rectification
// opener opens a case (source survey) with a deadline.
func TestSeed001_3_4_SurveyBelowEightyPercentOverHTTPOpensRectification(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	sup := e.token(identity.Principal{Name: "竹园村督导", Role: identity.RoleSupervisor, Communities: []string{"竹园村"}})
	other := e.token(identity.Principal{Name: "山联村督导", Role: identity.RoleSupervisor, Communities: []string{"山联村"}})
	aud := e.token(identity.Principal{Name: "督查办", Role: identity.RoleAuditor})
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	if r := must(e.do("POST", "/v1/surveys", sup, OpenSurveyRequest{Community: "竹园村", Period: "2026-10", Surveyed: 5}), 400); r.problem(t).Code != "invalid_period" {
		t.Fatalf("a month: %s", r.body)
	}
	must(e.do("POST", "/v1/surveys", other, OpenSurveyRequest{Community: "竹园村", Period: "2026-H2", Surveyed: 5}), 404)
	must(e.do("POST", "/v1/surveys", aud, OpenSurveyRequest{Community: "竹园村", Period: "2026-H2", Surveyed: 5}), 403)
	must(e.do("POST", "/v1/surveys", sup, OpenSurveyRequest{Community: "竹园村", Period: "2026-H2", Surveyed: 5}), 201)
	path := "/v1/surveys/竹园村/2026-H2"
	must(e.do("POST", path+"/responses", sup, SurveyResponseRequest{HouseholdID: "h0"}), 400)
	for i := range 5 {
		must(e.do("POST", path+"/responses", sup, SurveyResponseRequest{HouseholdID: fmt.Sprintf("h%d", i), Satisfied: new(i < 3)}), 200)
	}
	if r := must(e.do("POST", path+"/responses", sup, SurveyResponseRequest{HouseholdID: "h1", Satisfied: new(true)}), 409); r.problem(t).Code != "response_recorded" {
		t.Fatalf("a second answer: %s", r.body)
	}
	must(e.do("GET", path, other, nil), 404)
	var sv Survey
	must(e.do("GET", path, aud, nil), 200).decode(t, &sv)
	if sv.Surveyed != 5 || sv.Returned != 5 || sv.Satisfied != 3 || sv.Closed != nil {
		t.Fatalf("open survey: %+v", sv)
	}
	must(e.do("POST", path+"/close", sup, nil), 200)
	must(e.do("GET", path, sup, nil), 200).decode(t, &sv)
	if c := sv.Closed; c == nil || c.ReturnRate != 1 || c.Satisfaction != 0.6 || c.MinSatisfaction != 0.8 ||
		len(c.Breaches) != 1 || c.Breaches[0] != domain.SurveyBreachSatisfaction {
		t.Fatalf("closed survey: %+v", sv.Closed)
	}

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
	if len(list.Rectifications) != 1 || list.Rectifications[0].Source != "survey" || list.Rectifications[0].Due == nil {
		t.Fatalf("rectification cases: %+v", list)
	}
	var c Rectification
	must(e.do("GET", "/v1/rectifications/"+list.Rectifications[0].ID, aud, nil), 200).decode(t, &c)
	if c.SourceZH != "半年度满意度问卷未达标" || len(c.Periods) != 1 || c.Periods[0] != "2026-H2" || c.Deadline == nil {
		t.Fatalf("the case: %+v", c)
	}
}
