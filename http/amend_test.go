package http

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/periodclose"
)

// Seed 001 §2.4.4 / §6.2: the monthly figures staff are judged by never move
// after the close; a late correction is an amendment with a reason, made by
// the community's supervisor or an admin (issue 15 item 1, decision 0107).
func TestSeed001_2_4_4_AmendAClosedPeriodOverHTTP(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	// March closed for C1 (as the closer writes it: a close, no flags here).
	at := time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
	l := domain.NewPeriodLedger("C1")
	meta := domain.Meta{Actor: "measures-closer", Role: domain.RoleSystem, At: at, CommandID: "close/test"}
	pol := e.app.Policies().Current()
	evs, err := l.Close(meta, domain.ClosePeriod{Period: "2026-03", Start: at.AddDate(0, -1, 0), End: at, Policy: &domain.Policy{Version: pol.Version},
		Figures:         domain.PeriodFigures{Coverage: domain.Tally{Num: 8, Den: 10}, Resolution: domain.Tally{Num: 1, Den: 2}, SpotChecks: domain.Tally{Num: 3, Den: 24}},
		CalendarVersion: "cal"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("close: %v %v", evs, err)
	}
	env := eventlog.Envelope{At: at, Actor: meta.Actor, Role: meta.Role, CommandID: meta.CommandID, Community: "C1"}
	d, err := eventlog.Encode(uuid.New(), evs[0], env.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Append(ctx, domain.MeasuresStream("C1"), eventstore.Exact(0), d); err != nil {
		t.Fatal(err)
	}
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	// The closed view shows the spot-check measure (decision 0141).
	var closed Coverage
	if r := e.do("GET", "/v1/measures/coverage?period=2026-03&community=C1", sup, nil); r.status != 200 {
		t.Fatalf("closed coverage: %d %s", r.status, r.body)
	} else if r.decode(t, &closed); closed.State != "closed" || closed.SpotChecks == nil || closed.SpotChecks.Checked != 3 || closed.SpotChecks.Visits != 24 ||
		closed.SpotChecks.Rate == nil || *closed.SpotChecks.Rate != 0.125 {
		t.Fatalf("closed view: %s", r.body)
	}
	other := e.token(identity.Principal{Name: "督导二", Role: identity.RoleSupervisor, Communities: []string{"C2"}})
	fixed := domain.PeriodFigures{Coverage: domain.Tally{Num: 9, Den: 10}, Resolution: domain.Tally{Num: 2, Den: 2}}
	path := "/v1/measures/periods/2026-03/amend"

	for name, c := range map[string]struct {
		token  string
		body   AmendPeriodRequest
		status int
		code   string
	}{
		"no reason":             {sup, AmendPeriodRequest{Community: "C1", Figures: fixed}, 400, "required"},
		"another community":     {other, AmendPeriodRequest{Community: "C1", Figures: fixed, Reason: "补录"}, 403, "out_of_scope"},
		"the street":            {sup, AmendPeriodRequest{Figures: fixed, Reason: "补录"}, 403, "out_of_scope"},
		"more covered than due": {sup, AmendPeriodRequest{Community: "C1", Figures: domain.PeriodFigures{Coverage: domain.Tally{Num: 11, Den: 10}}, Reason: "补录"}, 400, "invalid_figure"},
	} {
		r := e.do("POST", path, c.token, c.body)
		p := r.problem(t)
		if r.status != c.status || p.Code != c.code || p.MessageEN == "" || p.MessageZH == "" {
			t.Errorf("%s: %d %+v, want %d %s with English and Chinese", name, r.status, p, c.status, c.code)
		}
	}
	if r := e.do("POST", "/v1/measures/periods/2026-W10/amend", sup, AmendPeriodRequest{Community: "C1", Figures: fixed, Reason: "补录"}); r.status != 400 {
		t.Errorf("a week: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/measures/periods/2026-04/amend", sup, AmendPeriodRequest{Community: "C1", Figures: fixed, Reason: "补录"}); r.status < 400 || r.problem(t).Code != "period_not_closed" {
		t.Errorf("April is not closed: %d %s", r.status, r.body)
	}
	r := e.do("POST", path, sup, AmendPeriodRequest{Community: "C1", Figures: fixed, Reason: "3月两条问题漏记办结，经核实补录"})
	if r.status != 200 {
		t.Fatalf("amend: %d %s", r.status, r.body)
	}
	led, err := periodclose.Ledger(ctx, e.store, "C1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := led.Period("2026-03")
	if len(p.Amended) != 1 || p.Amended[0].Reason != "3月两条问题漏记办结，经核实补录" || p.Amended[0].By != "督导" || p.Current().Coverage != fixed.Coverage ||
		p.Figures.Coverage != (domain.Tally{Num: 8, Den: 10}) {
		t.Fatalf("ledger after the amendment: %+v", p)
	}
	// The same figures again: nothing new to record.
	if r := e.do("POST", path, e.admin, AmendPeriodRequest{Community: "C1", Figures: fixed, Reason: "再次"}); r.status < 400 {
		t.Errorf("same figures again: %d %s", r.status, r.body)
	}
}
