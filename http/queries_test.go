package http

import (
	"context"
	"github.com/doorstep/doorstep/internal/clock"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

func TestQueriesReadYourWritesAndPrivacy(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	plain := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor})
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/consent", w, ConsentRequest{Given: new(true)}); r.status != 200 {
		t.Fatalf("consent: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/v1/households/h1/members", w, MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人", Phone: "13900000002", Health: "轻度认知障碍"})
	var res CommandResult
	r.decode(t, &res)
	if r.status != 201 {
		t.Fatalf("member: %d %s", r.status, r.body)
	}
	// wait_for: the profile reflects the member as soon as the query answers.
	before := e.access.count()
	r = e.do("GET", "/v1/households/h1?purpose=visit_preparation&wait_for="+res.Position, w, nil)
	var prof HouseholdProfile
	r.decode(t, &prof)
	if r.status != 200 || len(prof.Members) != 1 || prof.Members[0].Phone == nil || prof.Members[0].Phone.Value != "13900000002" || r.header.Get("ETag") != `"3"` {
		t.Fatalf("profile for the worker with the grant: %d %s", r.status, r.body)
	}
	if e.access.count() != before+1 {
		t.Fatalf("the sensitive read was not recorded: %d → %d", before, e.access.count())
	}
	// Without the grant: masked, and no read recorded.
	r = e.do("GET", "/v1/households/h1", plain, nil)
	if r.status != 200 || strings.Contains(string(r.body), "13900000002") || strings.Contains(string(r.body), "认知") || !strings.Contains(string(r.body), `"masked":true`) {
		t.Fatalf("profile without the grant: %d %s", r.status, r.body)
	}
	if e.access.count() != before+1 {
		t.Fatalf("a masked read was recorded")
	}
	// A position the read model never reaches: a bounded wait, then 503.
	r = e.do("GET", "/v1/households/h1?wait_for=999999999&wait_timeout=20ms", w, nil)
	if p := r.problem(t); r.status != 503 || p.Code != "read_model_behind" || r.header.Get("Retry-After") == "" {
		t.Fatalf("unreachable wait_for: %d %s", r.status, r.body)
	}
	for _, q := range []string{"?wait_for=abc", "?wait_for=1&wait_timeout=soon", "?bogus=1"} {
		if r := e.do("GET", "/v1/households/h1"+q, w, nil); r.status != 400 {
			t.Errorf("GET /v1/households/h1%s: %d %s", q, r.status, r.body)
		}
	}
	for _, q := range []string{"?grid=G1&risk=purple", "?grid=G1&limit=-1", "?grid=G1&limit=100000", "?grid=G1&overdue=perhaps"} {
		if r := e.do("GET", "/v1/households"+q, w, nil); r.status != 400 {
			t.Errorf("GET /v1/households%s: %d %s", q, r.status, r.body)
		}
	}
	// Search and list within scope.
	r = e.do("GET", "/v1/households?q=陈阿姨&wait_for="+res.Position, w, nil)
	var list HouseholdList
	r.decode(t, &list)
	if r.status != 200 || len(list.Households) != 1 || list.Households[0].HouseholdID != "h1" {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	// As of version 1 the household had no member and no consent.
	rr, err := e.app.ChangeRisk(context.Background(), command.Cmd{ID: "r", Actor: "x", Role: domain.RoleSupervisor}, "h1", domain.RiskRed, "fall")
	if err != nil {
		t.Fatal(err)
	}
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	r = e.do("GET", "/v1/households/h1/as-of?at=2000-01-01T00:00:00Z&wait_for="+rr.LastPosition.String(), sup, nil)
	if r.status != 404 || r.problem(t).Code != "not_registered_then" {
		t.Fatalf("as of 2000: %d %s", r.status, r.body)
	}
	var snap HouseholdSnapshot
	r = e.do("GET", "/v1/households/h1/as-of?at=2999-01-01T00:00:00Z", sup, nil)
	r.decode(t, &snap)
	if r.status != 200 || !snap.Household.Registered || !snap.Household.Consent || snap.Household.Risk != "red" || len(snap.Household.Members) != 1 {
		t.Fatalf("as of now: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/households/h1/as-of", sup, nil); r.status != 400 || r.problem(t).Field != "at" {
		t.Fatalf("as-of without at: %d %s", r.status, r.body)
	}
}

func TestCommandInputLimits(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	big := RegisterHouseholdRequest{HouseholdID: "h1", Address: strings.Repeat("很长的地址", 1000), Community: "C1", Grid: "G1", ResponsibleWorker: "李四", Class: "key", Risk: "red"}
	if r := e.do("POST", "/v1/households", w, big); r.status != 413 || r.problem(t).Code != "body_too_large" {
		t.Fatalf("big body: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1"), "Idempotency-Key", "has space"); r.status != 400 || r.problem(t).Field != "Idempotency-Key" {
		t.Fatalf("bad key: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1"), "If-Match", `"1"`); r.status != 400 || r.problem(t).Code != "if_match_on_create" {
		t.Fatalf("If-Match on create: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households", w, `{"household_id":"h1","address":"a","community":"C1","grid":"G1","responsible_worker":"w","class":"key","risk":"red","colour":"red"}`); r.status != 400 || r.problem(t).Field != "colour" {
		t.Fatalf("unknown field: %d %s", r.status, r.body)
	}
	if v, _ := e.store.StreamVersion(context.Background(), "household-h1"); v != 0 {
		t.Fatalf("rejected requests wrote %d events", v)
	}
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1"), "If-Match", `"x"`); r.status != 400 {
		t.Fatalf("bad If-Match: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/households/h1/risk", w, ChangeRequest{To: "red", Reason: "x"}, "If-Match", `"zero"`); r.status != 400 && r.status != 404 {
		t.Fatalf("bad If-Match on a command: %d %s", r.status, r.body)
	}
}

// TestSensitiveReadsForAuditors: each read of a household's sensitive
// fields is listed for auditors (newest first, paged), with who read and
// when, never the values; workers may not list them.
func TestSensitiveReadsForAuditors(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}, Sensitive: true})
	sup := e.token(identity.Principal{Name: "王书记", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true})
	aud := e.token(identity.Principal{Name: "督查", Role: identity.RoleAuditor})
	for _, req := range []struct {
		path string
		body any
	}{
		{"/v1/households", registerBody("h1", "C1", "G1")},
		{"/v1/households/h1/consent", ConsentRequest{Given: new(true)}},
		{"/v1/households/h1/members", MemberRequest{MemberID: "m1", Name: "陈阿姨", Relation: "本人", Phone: "13900000002"}},
	} {
		if r := e.do("POST", req.path, w, req.body); r.status >= 300 {
			t.Fatalf("%s: %d %s", req.path, r.status, r.body)
		}
	}
	var res CommandResult
	if r := e.do("POST", "/v1/households", w, registerBody("h2", "C1", "G1")); r.status != 201 {
		t.Fatalf("register h2: %d %s", r.status, r.body)
	} else {
		r.decode(t, &res)
	}
	for _, tok := range []string{w, sup, w} {
		if r := e.do("GET", "/v1/households/h1?purpose=visit_preparation&wait_for="+res.Position, tok, nil); r.status != 200 {
			t.Fatalf("profile: %d %s", r.status, r.body)
		}
	}
	r := e.do("GET", "/v1/households/h1/sensitive-reads", aud, nil)
	var got SensitiveReads
	r.decode(t, &got)
	if r.status != 200 || got.HouseholdID != "h1" || len(got.Reads) != 3 || strings.Contains(string(r.body), "13900000002") {
		t.Fatalf("sensitive reads of h1: %d %s", r.status, r.body)
	}
	for i, want := range []string{"李四", "王书记", "李四"} { // newest first
		if rd := got.Reads[i]; rd.Actor != want || rd.HouseholdID != "h1" || rd.At.IsZero() || (i > 0 && rd.At.After(got.Reads[i-1].At)) {
			t.Fatalf("read %d: %+v, want by %s, newest first", i, rd, want)
		}
	}
	r = e.do("GET", "/v1/households/h1/sensitive-reads?limit=1&offset=1", sup, nil)
	r.decode(t, &got)
	if r.status != 200 || len(got.Reads) != 1 || got.Reads[0].Actor != "王书记" {
		t.Fatalf("second page of one: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/households/h2/sensitive-reads", aud, nil); r.status != 200 || !strings.Contains(string(r.body), `"reads":[]`) {
		t.Fatalf("a household never read: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/households/h1/sensitive-reads", w, nil); r.status != 403 || r.problem(t).Code != "role_forbidden" {
		t.Fatalf("a worker listing the reads: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/households/nope/sensitive-reads", aud, nil); r.status != 404 {
		t.Fatalf("an unknown household: %d %s", r.status, r.body)
	}
}

// TestHouseholdProfileProvisionalDue: GET /v1/households/{id} marks a
// problem's and a referral's due computed without the 2027 calendar as
// provisional, with the bilingual note, and the household's audit trail
// (CSV) says so too. Events are built with the domain on 2026-12-30.
func TestHouseholdProfileProvisionalDue(t *testing.T) {
	e := newEnv(t, nil)
	cal := e.app.Calendar()
	pol := e.app.Policies().Current()
	t0 := time.Date(2026, 12, 30, 10, 0, 0, 0, cal.Location())
	meta := func(at time.Time) domain.Meta {
		return domain.Meta{Actor: "王书记", Role: domain.RoleSupervisor, At: at, CommandID: at.String()}
	}
	must := func(evs []domain.Event, err error) []domain.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	h := domain.NewHousehold("h1")
	appendDomain(t, e.store, "household-h1", must(h.Register(meta(t0.Add(-48*time.Hour)), pol, domain.RegisterHousehold{Address: "和平路1号",
		Community: "C1", Grid: "G1", ResponsibleWorker: "李四", Class: domain.ClassKey, Risk: domain.RiskYellow}))...)
	p := domain.NewProblem("p1")
	reported := must(p.Report(meta(t0.Add(-time.Hour)), pol, domain.ReportProblem{Number: "WT2026000001", HouseholdID: "h1", Description: "屋顶漏水",
		Category: domain.ProblemLivingSecurity, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	p.Apply(reported[0])
	assigned := must(p.Assign(meta(t0), cal, domain.AssignProblem{To: "社工", Reason: "需要社区协调", TimeLimit: domain.WorkingDays(3)}))
	appendDomain(t, e.store, "problem-p1", append(reported, assigned...)...)
	r := domain.NewReferral("r1")
	requested := must(r.Request(meta(t0), pol, domain.RequestReferral{ProblemID: "p1", HouseholdID: "h1", Level: domain.LevelCommunity, To: "住建局", Request: "维修"}))
	r.Apply(requested[0])
	accepted := must(r.Accept(meta(t0.Add(time.Hour)), cal, "张科长", domain.WorkingDays(3), ""))
	res := appendDomain(t, e.store, "referral-r1", append(requested, accepted...)...)

	got := e.do("GET", "/v1/households/h1?wait_for="+res.LastPosition.String(), e.admin, nil)
	var hp HouseholdProfile
	got.decode(t, &hp)
	const en, zh = "provisional: the 2027 holiday calendar is not yet loaded", "暂定：2027年节假日安排尚未导入"
	want := Provisional{Provisional: true, ProvisionalYears: []int{2027}, CalendarVersion: cal.Version(), ProvisionalNote: en, ProvisionalNoteZ: zh}
	if got.status != 200 || len(hp.Problems) != 1 || len(hp.ReferralsOpen) != 1 {
		t.Fatalf("profile: %d %s", got.status, got.body)
	}
	due := time.Date(2027, 1, 4, 23, 59, 59, 999999999, cal.Location())
	if pr := hp.Problems[0]; pr.Due == nil || !pr.Due.Equal(due) || !reflect.DeepEqual(pr.Provisional, want) {
		t.Errorf("problem row: %s", got.body)
	}
	if rf := hp.ReferralsOpen[0]; rf.Due == nil || !rf.Due.Equal(due) || !reflect.DeepEqual(rf.Provisional, want) {
		t.Errorf("referral row: %s", got.body)
	}
	trail := e.do("GET", "/v1/households/h1/audit?format=csv", e.admin, nil)
	if trail.status != 200 || !strings.Contains(string(trail.body), "due:  → 2027-01-04T15:59:59Z ("+en+" / "+zh+")") {
		t.Errorf("audit CSV: %d %s", trail.status, trail.body)
	}
}

// GET /v1/measures/coverage: the households due in the period visited on
// schedule, per community, by class and for key groups, against the
// policy's targets, with bilingual messages (001 §2.1, §4.3, §6.2).
func TestSeed001_4_3_CoverageOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	admin := e.token(identity.Principal{Name: "admin", Role: identity.RoleAdmin})
	var res CommandResult
	for _, id := range []string{"cov-a", "cov-b"} {
		// 低保 households: key by the policy's rules, no class given.
		r := e.do("POST", "/v1/households", admin, RegisterHouseholdRequest{HouseholdID: id, Address: "路 " + id, Community: "C9", Grid: "G9",
			ResponsibleWorker: "李四", Category: "di_bao", Risk: "yellow"})
		if r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		r.decode(t, &res)
	}
	// Next month is the first the households are due in; nobody has visited.
	next := clock.Now().In(e.app.Calendar().Location()).AddDate(0, 1, 0).Format("2006-01")
	r := e.do("GET", "/v1/measures/coverage?period="+next+"&community=C9&wait_for="+res.Position, admin, nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got Coverage
	r.decode(t, &got)
	if got.State != "open" || len(got.Communities) != 1 || got.Communities[0].Figures.KeyGroups.Due != 2 || got.Communities[0].Figures.KeyGroups.Covered != 0 ||
		got.Communities[0].Figures.ByClass["key"].Due != 2 || got.Targets.KeyGroups != 1.0 || got.Communities[0].UncoveredTotal != 2 {
		t.Fatalf("coverage %+v", got)
	}
	var kinds []string
	for _, b := range got.Communities[0].Breaches {
		kinds = append(kinds, b.Measure)
		if b.MessageEN == "" || !strings.Contains(b.MessageZH, "覆盖率") {
			t.Errorf("breach without bilingual message: %+v", b)
		}
	}
	if strings.Join(kinds, " ") != "coverage.all coverage.key_groups coverage.risk" {
		t.Errorf("breaches %v", kinds)
	}
	// A closed period is answered from its close event; as of an instant
	// before the close it was not closed.
	cur := clock.Now().In(e.app.Calendar().Location()).Format("2006-01")
	pr := e.do("POST", "/v1/problems", admin, map[string]string{"problem_id": "cov-p", "household_id": "cov-a", "description": "需要临时救助",
		"category": "policy", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"})
	if pr.status != 201 {
		t.Fatalf("report: %d %s", pr.status, pr.body)
	}
	pr.decode(t, &res)
	closed := domain.MeasuresPeriodClosed{Community: "C9", Period: cur, Figures: domain.PeriodFigures{Coverage: domain.Tally{Num: 1, Den: 2},
		CoverageKeyGroups: domain.Tally{Num: 1, Den: 2}, Resolution: domain.Tally{Num: 1, Den: 4}, HandlingImmediate: domain.Tally{Num: 1, Den: 2}},
		PolicyVersion: "p", CalendarVersion: "c", At: clock.Now(), By: "closer"}
	data, err := eventlog.Encode(uuid.New(), closed, eventlog.Envelope{At: clock.Now(), Actor: "closer", Role: domain.RoleSystem, CommandID: "close-c9", Community: "C9"}.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	flag := domain.MeasuresFlagRaised{Community: "C9", Period: cur, Measure: "handling.immediate", Figure: 0.5, Target: 1, Periods: []string{cur},
		MessageEN: "C9: immediate problems responded to within their time limit 50.0%", MessageZH: "C9：即时解决类问题按时响应率 50.0%", At: clock.Now(), By: "closer"}
	fdata, err := eventlog.Encode(uuid.New(), flag, eventlog.Envelope{At: clock.Now(), Actor: "closer", Role: domain.RoleSystem, CommandID: "close-c9", Community: "C9"}.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Append(context.Background(), domain.MeasuresStream("C9"), eventstore.NoStream(), data, fdata); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/v1/measures/coverage?period="+cur+"&community=C9", admin, nil)
	var cl Coverage
	r.decode(t, &cl)
	if r.status != 200 || cl.State != "closed" || cl.ClosedAt == nil || len(cl.Communities) != 1 || cl.Communities[0].Figures.All.Due != 2 || cl.PolicyVersion != "p" {
		t.Fatalf("closed: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/measures/coverage?period="+cur+"&community=C9&as_of=2026-01-01T00:00:00Z", admin, nil)
	r.decode(t, &cl)
	if r.status != 200 || cl.State != "not_closed" {
		t.Fatalf("as of before the close: %d %s", r.status, r.body)
	}
	// GET /v1/measures says which months are closed and what their close recorded.
	r = e.do("GET", "/v1/measures?by=community&community=C9&wait_for="+res.Position, admin, nil)
	var ms Measures
	r.decode(t, &ms)
	if r.status != 200 || len(ms.Rows) != 1 || ms.Rows[0].State != "closed" || ms.Rows[0].Closed == nil || ms.Rows[0].Closed.Resolution.Den != 4 ||
		ms.Rows[0].ResolutionRate.Den != 1 {
		t.Fatalf("measures: %d %s", r.status, r.body)
	}
	// The per-class targets of 001 §2.2.2 (decision 0117) and the flags with their messages in both languages.
	if c := ms.Rows[0].Closed; c.HandlingImmediate.Den != 2 || c.HandlingImmediate.Value == nil || len(c.FlagDetails) != 1 ||
		c.FlagDetails[0].Measure != "handling.immediate" || c.FlagDetails[0].MessageEN == "" || c.FlagDetails[0].MessageZH == "" {
		t.Fatalf("closed handling figures and flags: %s", r.body)
	}
	if r := e.do("GET", "/v1/measures/coverage?period=2026-W05", admin, nil, "Accept-Language", "zh-CN"); r.status != 400 || r.problem(t).Code != "invalid_period" {
		t.Fatalf("week: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/measures/coverage", admin, nil); r.status != 400 || r.problem(t).Field != "period" {
		t.Fatalf("no period: %d %s", r.status, r.body)
	}
}
