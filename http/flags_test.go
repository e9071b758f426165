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

// 001 §2.4.4 over HTTP: GET /v1/measures/flags answers the flags the period
// closes recorded (measures.flag_raised), not a check computed when asked:
// a flag stays once recorded, as of an instant before its close it is not
// there, a supervisor sees only the communities in scope, and the filters
// are checked with bilingual errors.
func TestSeed001_2_4_4_RecordedFlagsOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	sup := e.token(identity.Principal{Name: "督导", Role: identity.RoleSupervisor, Communities: []string{"C1"}})
	aud := e.token(identity.Principal{Name: "纪工委", Role: identity.RoleAuditor})
	before := clock.Now().Add(-time.Minute)
	var pos eventstore.Position
	for _, c := range []struct{ community, period, measure string }{
		{"C1", "2026-06", "resolution.two_months"}, {"C2", "2026-06", "coverage.all"},
	} {
		closed := domain.MeasuresPeriodClosed{Community: c.community, Period: c.period, PolicyVersion: "p", CalendarVersion: "c", At: clock.Now(), By: "closer"}
		flag := domain.MeasuresFlagRaised{Community: c.community, Period: c.period, Measure: c.measure, Figure: 0.75, Target: 0.8,
			Periods: []string{"2026-05", "2026-06"}, MessageEN: c.community + ": below target", MessageZH: c.community + "：低于目标", At: clock.Now(), By: "closer"}
		env := eventlog.Envelope{At: clock.Now(), Actor: "closer", Role: domain.RoleSystem, CommandID: "close-" + c.community, Community: c.community}.Metadata()
		cdata, err := eventlog.Encode(uuid.New(), closed, env)
		if err != nil {
			t.Fatal(err)
		}
		fdata, err := eventlog.Encode(uuid.New(), flag, env)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.store.Append(ctx, domain.MeasuresStream(c.community), eventstore.NoStream(), cdata, fdata)
		if err != nil {
			t.Fatal(err)
		}
		pos = res.LastPosition
	}
	must := func(r resp, want int) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%d %s, want %d", r.status, r.body, want)
		}
		return r
	}
	var got MeasureFlags
	must(e.do("GET", "/v1/measures/flags?wait_for="+pos.String(), sup, nil), 200).decode(t, &got)
	if len(got.Flags) != 1 || got.Flags[0].Community != "C1" || got.Flags[0].Measure != "resolution.two_months" || got.Flags[0].Period != "2026-06" ||
		strings.Join(got.Flags[0].Periods, ",") != "2026-05,2026-06" || got.Flags[0].Figure != 0.75 || got.Flags[0].Target != 0.8 ||
		got.Flags[0].MessageZH != "C1：低于目标" || got.Flags[0].RecordedAt.Before(before) {
		t.Fatalf("C1's supervisor sees %+v", got)
	}
	must(e.do("GET", "/v1/measures/flags", aud, nil), 200).decode(t, &got)
	if len(got.Flags) != 2 {
		t.Fatalf("the auditor sees %+v", got)
	}
	must(e.do("GET", "/v1/measures/flags?measure=coverage.all", aud, nil), 200).decode(t, &got)
	if len(got.Flags) != 1 || got.Flags[0].Community != "C2" {
		t.Fatalf("by measure: %+v", got)
	}
	must(e.do("GET", "/v1/measures/flags?period=2026-05", aud, nil), 200).decode(t, &got)
	if len(got.Flags) != 0 {
		t.Fatalf("no flag was raised at May's close: %+v", got)
	}
	// As of an instant before the closes were recorded, no flag is known.
	must(e.do("GET", "/v1/measures/flags?as_of="+before.Format(time.RFC3339Nano), aud, nil), 200).decode(t, &got)
	if len(got.Flags) != 0 || got.AsOf == nil {
		t.Fatalf("as of before the closes: %+v", got)
	}
	for _, c := range []struct {
		url, tok string
		status   int
		code, zh string
	}{
		{"/v1/measures/flags?community=C2", sup, 403, "out_of_scope", "不在您的权限范围内"},
		{"/v1/measures/flags?as_of=yesterday", aud, 400, "invalid_time", "格式不正确"},
		{"/v1/measures/flags?limit=5000", aud, 400, "invalid_limit", "不能超过"},
		{"/v1/measures/flags?period=" + strings.Repeat("9", 65), aud, 400, "invalid_period", "最多 64 个字符"},
		{"/v1/measures/flags?colour=red", aud, 400, "", ""},
	} {
		r := e.do("GET", c.url, c.tok, nil, "Accept-Language", "zh-CN")
		p := r.problem(t)
		if r.status != c.status || (c.code != "" && p.Code != c.code) || !strings.Contains(p.MessageZH, c.zh) || p.MessageEN == "" {
			t.Errorf("%s: %d %s", c.url, r.status, r.body)
		}
	}
	doc := string(e.do("GET", "/openapi.json", "", nil).body)
	for _, s := range []string{`"raised_at"`, `"recorded_at"`, `the flags recorded at period closes`} {
		if !strings.Contains(doc, s) {
			t.Errorf("the OpenAPI document does not describe %s", s)
		}
	}
}
