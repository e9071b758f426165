package http

import (
	"io"
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
)

// TestIfMatchRFC9110 checks If-Match on commands against the cases of RFC
// 9110 §13.1.1 and §8.8.3.2: strong comparison (a weak tag never matches
// for a write), "*" for "the record exists", a list of tags (in one field
// or several), malformed fields, and a record that does not exist.
func TestIfMatchRFC9110(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	version := func() uint64 {
		v, err := e.store.StreamVersion(t.Context(), "household-h1")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Each request asks for the other risk level, so that one that passes
	// its condition always changes something.
	risk := "yellow"
	next := func() string {
		if risk == "red" {
			return "blue"
		}
		return "red"
	}
	change := func(hdr ...string) resp {
		r := e.do("POST", "/v1/households/h1/risk", w, ChangeRequest{To: next(), Reason: "变化"}, hdr...)
		if r.status == 200 {
			risk = next()
		}
		return r
	}
	cases := []struct {
		name     string
		ifMatch  string // "" leaves it out
		status   int
		code     string
		writes   bool
		zhDetail string
	}{
		{"the current strong tag matches", `"1"`, 200, "", true, ""},
		{"a weak tag of the current version never matches a write", `W/"2"`, 412, "weak_etag", false, "弱实体标签"},
		{"several weak tags are still no match", `W/"2", W/"1"`, 412, "weak_etag", false, ""},
		{"a strong tag in a list beside a weak one matches", `W/"2", "2"`, 200, "", true, ""},
		{"a stale strong tag fails", `"2"`, 412, "version_mismatch", false, "当前版本为 3"},
		{"a list containing the current version matches", `"1", "3", "9"`, 200, "", true, ""},
		{"a list without it fails", `"1", "2"`, 412, "version_mismatch", false, "1、2 之一"},
		{"* matches a record that exists", `*`, 200, "", true, ""},
		{"* with spaces", `  *  `, 200, "", true, ""},
		{"an unquoted version is malformed", `6`, 400, "invalid_if_match", false, "实体标签须带双引号"},
		{"an unclosed quote is malformed", `"6`, 400, "invalid_if_match", false, ""},
		{"* inside a list is malformed", `"6", *`, 400, "invalid_if_match", false, ""},
		{"a tag that is not a version we issue", `"abc"`, 400, "invalid_if_match", false, ""},
		{"tags must be separated by commas", `"6" "7"`, 400, "invalid_if_match", false, ""},
		{"an empty list", `, ,`, 400, "invalid_if_match", false, ""},
	}
	for _, c := range cases {
		before := version()
		hdr := []string{"Accept-Language", "zh-CN"}
		if c.ifMatch != "" {
			hdr = append(hdr, "If-Match", c.ifMatch)
		}
		r := change(hdr...)
		if r.status != c.status {
			t.Fatalf("%s (If-Match %s): status %d, want %d: %s", c.name, c.ifMatch, r.status, c.status, r.body)
		}
		if c.code != "" {
			p := r.problem(t)
			if p.Code != c.code || p.Field != "If-Match" || !strings.Contains(p.Detail, c.zhDetail) {
				t.Fatalf("%s: problem %+v, want code %s and a detail with %q", c.name, p, c.code, c.zhDetail)
			}
		}
		if wrote := version() != before; wrote != c.writes {
			t.Fatalf("%s: wrote %v, want %v", c.name, wrote, c.writes)
		}
		if c.writes && r.header.Get("ETag") != etag(version()) {
			t.Fatalf("%s: ETag %s at version %d", c.name, r.header.Get("ETag"), version())
		}
	}

	// Several If-Match field lines are one list (RFC 9110 §5.3).
	cur := version()
	req, err := nethttp.NewRequest("POST", e.ts.URL+"/v1/households/h1/risk", strings.NewReader(`{"to":"`+next()+`","reason":"两行"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("If-Match", `"99"`)
	req.Header.Add("If-Match", etag(cur))
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || version() != cur+1 {
		t.Fatalf("If-Match over two lines: %d %s", res.StatusCode, body)
	}

	// A record that does not exist: the request would be 404 without the
	// condition, so the condition is not evaluated (RFC 9110 §13.2.1).
	if r := e.do("POST", "/v1/households/nope/risk", w, ChangeRequest{To: "red", Reason: "x"}, "If-Match", "*"); r.status != 404 {
		t.Fatalf("If-Match * on a missing record: %d %s", r.status, r.body)
	}
}

// TestAsOfAVersionOrInstantARecordDoesNotHave: ?version=0 is 400, a version
// beyond the last one and an instant before the record existed are 404
// with a code saying which, for problems and referrals alike.
func TestAsOfAVersionOrInstantARecordDoesNotHave(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/problems", w, ReportProblemRequest{ProblemID: "p1", HouseholdID: "h1", Description: "需要安装扶手",
		Category: "service", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}); r.status != 201 {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/problems/p1/assign", w, AssignRequest{To: "王书记", Reason: "协调"}); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/referrals", w, RequestReferralRequest{ReferralID: "r1", ProblemID: "p1", Level: "department", To: "卫健局", Request: "上门评估"}); r.status != 201 {
		t.Fatalf("refer: %d %s", r.status, r.body)
	}
	cases := []struct {
		path   string
		status int
		code   string
		field  string
		zh     string
	}{
		{"/v1/problems/p1?version=1", 200, "", "", ""},
		{"/v1/problems/p1?version=2", 200, "", "", ""},
		{"/v1/problems/p1?version=0", 400, "invalid_version", "version", "版本 0 不存在"},
		// Version 3 is problem.referred: the referral started the work (decision 0094).
		{"/v1/problems/p1?version=999", 404, "version_not_found", "version", "版本为 1 至 3"},
		{"/v1/problems/p1?version=4", 404, "version_not_found", "version", ""},
		{"/v1/problems/p1?at=2001-01-01T00:00:00Z", 404, "not_reported_then", "at", "尚未登记"},
		{"/v1/problems/p1?at=2001-01-01T00:00:00Z&version=9", 404, "version_not_found", "version", ""},
		{"/v1/problems/nope?version=1", 404, "problem_not_found", "problem_id", ""},
		{"/v1/referrals/r1?version=1", 200, "", "", ""},
		{"/v1/referrals/r1?version=0", 400, "invalid_version", "version", ""},
		{"/v1/referrals/r1?version=2", 404, "version_not_found", "version", "没有版本 2"},
		{"/v1/referrals/r1?at=2001-01-01T00:00:00Z", 404, "not_requested_then", "at", "尚未发起"},
	}
	for _, c := range cases {
		r := e.do("GET", c.path, w, nil, "Accept-Language", "zh-CN")
		if r.status != c.status {
			t.Fatalf("%s: %d, want %d: %s", c.path, r.status, c.status, r.body)
		}
		if c.code == "" {
			var v struct {
				Version uint64 `json:"version"`
			}
			r.decode(t, &v)
			if want := c.path[len(c.path)-1] - '0'; v.Version != uint64(want) || r.header.Get("ETag") != etag(v.Version) {
				t.Fatalf("%s: version %d, ETag %s", c.path, v.Version, r.header.Get("ETag"))
			}
			continue
		}
		if p := r.problem(t); p.Code != c.code || p.Field != c.field || !strings.Contains(p.Detail, c.zh) {
			t.Fatalf("%s: %+v, want %s on %s with %q", c.path, p, c.code, c.field, c.zh)
		}
	}
}
