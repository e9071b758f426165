package http

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// 001 §6.2 沟通无效案例占比 over HTTP (decision 0145): a completed visit says
// its communication was ineffective and why; a missing or unknown reason,
// or communication on a refused visit, is refused in English and Chinese;
// GET /v1/measures shows the month's share of the completed visits; the
// OpenAPI document describes the request fields and the figures.
func TestSeed001_6_2_IneffectiveCommunicationOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	admin := e.token(identity.Principal{Name: "admin", Role: identity.RoleAdmin})
	ord := registerBody("h1", "C1", "G1")
	ord.Class = "ordinary"
	if r := e.do("POST", "/v1/households", w, ord); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	occurred := clock.Now().Add(-time.Hour).Format(time.RFC3339)
	visit := func(outcome, communication, reason string) VisitRequest {
		return VisitRequest{Team: []string{"李四"}, OccurredAt: occurred, Mode: "home", Outcome: outcome, Communication: communication, CommunicationReason: reason}
	}
	for _, c := range []struct {
		body        VisitRequest
		status      int
		code, field string
		zh          string
	}{
		{visit("completed", "ineffective", ""), 400, "required", "communication_reason", "沟通无效的原因"},
		{visit("completed", "ineffective", "rude"), 400, "invalid_communication_reason", "communication_reason", "沟通无效原因"},
		{visit("completed", "so-so", ""), 400, "invalid_communication", "communication", "沟通情况"},
		{visit("completed", "effective", "language"), 400, "communication_reason_unexpected", "communication_reason", "沟通无效"},
		{visit("refused", "ineffective", "unwilling"), 422, "visit_not_completed", "communication", "拒绝走访"},
	} {
		r := e.do("POST", "/v1/households/h1/visits", w, c.body)
		p := r.problem(t)
		if r.status != c.status || p.Code != c.code || p.Field != c.field || p.MessageEN == "" || !strings.Contains(p.MessageZH, c.zh) {
			t.Errorf("%+v: %d %s", c.body, r.status, r.body)
		}
	}
	var res CommandResult
	for _, v := range []VisitRequest{visit("completed", "ineffective", "language"), visit("completed", "effective", ""), visit("completed", "", "")} {
		r := e.do("POST", "/v1/households/h1/visits", w, v)
		if r.status != 200 {
			t.Fatalf("visit %+v: %d %s", v, r.status, r.body)
		}
		r.decode(t, &res)
	}
	r := e.do("GET", "/v1/measures?by=community&community=C1&wait_for="+res.Position, admin, nil)
	var ms Measures
	r.decode(t, &ms)
	if r.status != 200 || len(ms.Rows) != 1 {
		t.Fatalf("measures: %d %s", r.status, r.body)
	}
	if row := ms.Rows[0]; row.IneffectiveCommunicationRate.Num != 1 || row.IneffectiveCommunicationRate.Den != 3 || row.Counts["visits_ineffective"] != 1 ||
		row.IneffectiveCommunicationRate.Value == nil {
		t.Fatalf("ineffective communication: %s", r.body)
	}
	// A closed month shows what its close recorded, and as of an instant
	// before the close it was not closed.
	month := ms.Rows[0].Month
	closed := domain.MeasuresPeriodClosed{Community: "C1", Period: month, Figures: domain.PeriodFigures{IneffectiveCommunication: domain.Tally{Num: 1, Den: 3}},
		PolicyVersion: "p", CalendarVersion: "c", At: clock.Now(), By: "closer"}
	flag := domain.MeasuresFlagRaised{Community: "C1", Period: month, Measure: "risk.ineffective_communication", Figure: 1.0 / 3, Target: 0.15,
		Periods: []string{month}, MessageEN: "C1: ineffective communication on 33.3% of completed visits", MessageZH: "C1：沟通无效案例占比为 33.3%", At: clock.Now(), By: "closer"}
	env := eventlog.Envelope{At: clock.Now(), Actor: "closer", Role: domain.RoleSystem, CommandID: "close-c1", Community: "C1"}.Metadata()
	cdata, err := eventlog.Encode(uuid.New(), closed, env)
	if err != nil {
		t.Fatal(err)
	}
	fdata, err := eventlog.Encode(uuid.New(), flag, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Append(context.Background(), domain.MeasuresStream("C1"), eventstore.NoStream(), cdata, fdata); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/v1/measures?by=community&community=C1", admin, nil)
	r.decode(t, &ms)
	if c := ms.Rows[0].Closed; r.status != 200 || ms.Rows[0].State != "closed" || c == nil || c.IneffectiveCommunication.Num != 1 || c.IneffectiveCommunication.Den != 3 ||
		len(c.FlagDetails) != 1 || c.FlagDetails[0].Measure != "risk.ineffective_communication" || c.FlagDetails[0].MessageZH == "" {
		t.Fatalf("closed month: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/measures?by=community&community=C1&as_of=2026-01-01T00:00:00Z", admin, nil)
	var before Measures
	r.decode(t, &before)
	if r.status != 200 || len(before.Rows) != 1 || before.Rows[0].State != "not_closed" || before.Rows[0].Closed != nil {
		t.Fatalf("as of before the close: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/measures?as_of=yesterday", admin, nil, "Accept-Language", "zh-CN"); r.status != 400 || r.problem(t).Field != "as_of" {
		t.Fatalf("bad as_of: %d %s", r.status, r.body)
	}
	doc := string(e.do("GET", "/openapi.json", "", nil).body)
	for _, s := range []string{`"communication_reason"`, `"ineffective_communication_rate"`, `"ineffective_communication"`} {
		if !strings.Contains(doc, s) {
			t.Errorf("the OpenAPI document does not describe %s", s)
		}
	}
}
