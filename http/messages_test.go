package http

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	nethttp "net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/doorstep/doorstep/identity"
)

// Chinese messages are wholly Chinese (issue 20): the only Latin words a
// Chinese message may carry are ids and codes — things a person types or
// copies as they are: parameter and field names, header names, enumeration
// values, file names, formats. latinWord finds Latin words; codeLike tells
// which of them are codes.
var (
	latinWord  = regexp.MustCompile(`[-A-Za-z0-9][A-Za-z0-9_\-./:+*]*`)
	formatVerb = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*(\d+|\*)?(\.\d+)?[a-zA-Z%]`)
	quoted     = regexp.MustCompile("`[^`]*`|\"[^\"]*\"|“[^”]*”|\\\\\"[^\\\\]*\\\\\"")
)

// technical are single words that are names of formats, standards and
// protocol elements, the same in Chinese texts.
var technical = map[string]bool{
	"JSON": true, "UUID": true, "ETag": true, "ASCII": true, "UTF": true, "YAML": true, "CSV": true, "RFC": true, "API": true,
	"HTTP": true, "URL": true, "PostgreSQL": true, "SQLite": true, "OpenAPI": true, "AES": true, "GCM": true, "SHA": true,
	"Bearer": true, "PIPL": true, "SSE": true, "ID": true, "WT": true,
	// product and protocol names
	"Doorstep": true, "EventStoreDB": true, "KurrentDB": true, "NATS": true, "JetStream": true, "RabbitMQ": true,
	"CloudEvents": true, "Watermill": true, "Ed25519": true, "OpenSSL": true,
}

// codeLike reports whether a Latin word in a Chinese text is an id or a
// code: it has a digit, an underscore, a dot, a slash, a colon or a dash
// inside (wait_for, If-Match, openapi.json, UTF-8, 2027-01-01), is in
// upper case or is a technical name.
func codeLike(w string) bool {
	w = strings.TrimRight(w, ".:/")
	if w == "" || technical[w] || strings.ToUpper(w) == w {
		return true
	}
	return strings.ContainsAny(w, "0123456789_./:-+*")
}

// latinIn returns the Latin words of a Chinese text that are not codes.
// Format verbs and quoted spans (codes shown as such) are left out.
func latinIn(zh string) []string {
	zh = formatVerb.ReplaceAllString(zh, " ")
	zh = quoted.ReplaceAllString(zh, " ")
	var out []string
	for _, w := range latinWord.FindAllString(zh, -1) {
		if strings.IndexFunc(w, unicode.IsLetter) >= 0 && !codeLike(w) {
			out = append(out, w)
		}
	}
	return out
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// chineseParts returns the Chinese parts of a string literal: the whole of
// it, or, for a bilingual "English / 中文" text, the parts with Chinese.
func chineseParts(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, p := range strings.Split(line, " / ") {
			if hasHan(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// TestChineseMessageTemplatesCarryNoEnglish scans every string literal
// with Chinese in the module's code (the message templates) for Latin
// words that are not ids or codes.
func TestChineseMessageTemplatesCarryNoEnglish(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, p := range chineseParts(s) {
				checked++
				if ws := latinIn(p); len(ws) > 0 {
					t.Errorf("%s: Chinese text %q has English words %q", fset.Position(lit.Pos()), p, ws)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 300 {
		t.Fatalf("only %d Chinese texts found: the scan is not reading the code", checked)
	}
}

// TestLatinInChineseCatchesEnglish: the scan finds what issue 20 found.
func TestLatinInChineseCatchesEnglish(t *testing.T) {
	for zh, bad := range map[string]bool{
		"department 角色无权执行此操作：record a visit (also a refusal or nobody home)": true,
		"grid 别的网格 不在您的权限范围内":                                                 true,
		"请求体不是有效的 JSON：unexpected EOF":                                        true,
		"visits_limit 须为 1 至 1000":                                            false,
		"If-Match %q 无效；请发送收到的 ETag，例如 \"7\"":                                 false,
		"请设置 “Content-Type: application/json”":                                false,
		"%s %s 不在您的权限范围内":                                                     false,
	} {
		if got := len(latinIn(zh)) > 0; got != bad {
			t.Errorf("latinIn(%q) = %q", zh, latinIn(zh))
		}
	}
}

// TestEveryOperationHasAChineseLabel: a refusal names the operation in the
// language asked for.
func TestEveryOperationHasAChineseLabel(t *testing.T) {
	e := newEnv(t, nil)
	for _, rt := range e.srv.routes {
		zh, ok := operationZH[rt.op]
		if !ok || !hasHan(zh) || len(latinIn(zh)) > 0 {
			t.Errorf("operation %s (%s) has no Chinese label (%q)", rt.op, rt.summary, zh)
		}
	}
}

// TestChineseRefusalsCarryNoEnglish provokes refusals whose Chinese text
// is assembled at run time — a role refused on every route, a scope, a
// broken body, bad parameters and preconditions — and scans each Chinese
// detail for English words.
func TestChineseRefusalsCarryNoEnglish(t *testing.T) {
	e := newEnv(t, nil)
	tokens := map[identity.Role]string{
		identity.RoleWorker:     e.token(identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}}),
		identity.RoleSupervisor: e.token(identity.Principal{Name: "王书记", Role: identity.RoleSupervisor, Communities: []string{"C1"}}),
		identity.RoleDepartment: e.token(identity.Principal{Name: "卫健局", Role: identity.RoleDepartment, Department: "卫健局"}),
		identity.RoleAuditor:    e.token(identity.Principal{Name: "督查", Role: identity.RoleAuditor}),
		identity.RoleIntegrator: e.token(identity.Principal{Name: "大屏", Role: identity.RoleIntegrator}),
		identity.RoleAdmin:      e.admin,
	}
	w := tokens[identity.RoleWorker]
	if r := e.do("POST", "/v1/households", w, registerBody("h1", "C1", "G1")); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/problems", w, ReportProblemRequest{ProblemID: "p1", HouseholdID: "h1", Description: "d",
		Category: "service", HandlingClass: "coordinated", Colour: "yellow", Urgency: "ordinary"}); r.status != 201 {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	client := e.ts.Client() // raw: some requests below are invalid on purpose
	send := func(method, path, token, body string, hdr ...string) (int, Problem) {
		t.Helper()
		req, err := nethttp.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept-Language", "zh-CN")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var p Problem
		_ = json.NewDecoder(res.Body).Decode(&p)
		return res.StatusCode, p
	}
	scanned := map[string]int{}
	check := func(what string, status int, p Problem, wantCode string) {
		t.Helper()
		if p.Code != wantCode {
			t.Fatalf("%s: %d %+v, want code %s", what, status, p, wantCode)
		}
		if !hasHan(p.Detail) || p.Detail != p.MessageZH {
			t.Fatalf("%s: detail %q is not the Chinese message %q", what, p.Detail, p.MessageZH)
		}
		if ws := latinIn(p.Detail); len(ws) > 0 {
			t.Errorf("%s: Chinese detail %q has English words %q", what, p.Detail, ws)
		}
		scanned[wantCode]++
	}
	// Every route, with a role it refuses.
	for _, rt := range e.srv.routes {
		for _, role := range []identity.Role{identity.RoleIntegrator, identity.RoleDepartment, identity.RoleAuditor, identity.RoleWorker} {
			if rt.roles == nil || slices.Contains(rt.roles, role) {
				continue
			}
			path := pathParam.ReplaceAllString(rt.path, "x")
			st, p := send(rt.method, path, tokens[role], "{}")
			check(rt.op+" as "+string(role), st, p, "role_forbidden")
			if !strings.Contains(p.Detail, operationZH[rt.op]) {
				t.Errorf("%s: %q does not name the operation", rt.op, p.Detail)
			}
			break
		}
	}
	cases := []struct {
		what, method, path, token, body, code string
		hdr                                   []string
	}{
		{"another grid", "GET", "/v1/households?grid=别的网格", w, "", "out_of_scope", nil},
		{"another community", "GET", "/v1/households?community=别的社区", tokens[identity.RoleSupervisor], "", "out_of_scope", nil},
		{"a truncated body", "POST", "/v1/households/h1/risk", w, `{"to":"red","reason":`, "malformed_json", nil},
		{"a syntax error", "POST", "/v1/households/h1/risk", w, `{"to":"red",,}`, "malformed_json", nil},
		{"trailing data", "POST", "/v1/households/h1/risk", w, `{"to":"red","reason":"x"} {}`, "malformed_json", nil},
		{"an unknown field", "POST", "/v1/households/h1/risk", w, `{"to":"red","reason":"x","colour":"red"}`, "unknown_field", nil},
		{"a wrong type", "POST", "/v1/households/h1/risk", w, `{"to":1,"reason":"x"}`, "invalid_type", nil},
		{"an unknown parameter", "GET", "/v1/households/h1?colour=red", w, "", "unknown_parameter", nil},
		{"a bad enum", "GET", "/v1/households?grid=G1&risk=purple", w, "", "invalid_risk", nil},
		{"a bad boolean", "GET", "/v1/households?grid=G1&overdue=maybe", w, "", "invalid_overdue", nil},
		{"a weak If-Match", "POST", "/v1/households/h1/risk", w, `{"to":"red","reason":"x"}`, "weak_etag", []string{"If-Match", `W/"1"`}},
		{"a stale If-Match", "POST", "/v1/households/h1/risk", w, `{"to":"red","reason":"x"}`, "version_mismatch", []string{"If-Match", `"9"`}},
		{"a list If-Match", "POST", "/v1/households/h1/risk", w, `{"to":"red","reason":"x"}`, "version_mismatch", []string{"If-Match", `"8", "9"`}},
		{"a malformed If-Match", "POST", "/v1/households/h1/risk", w, `{"to":"red","reason":"x"}`, "invalid_if_match", []string{"If-Match", `9`}},
		{"version 0", "GET", "/v1/problems/p1?version=0", w, "", "invalid_version", nil},
		{"a version beyond", "GET", "/v1/problems/p1?version=99", w, "", "version_not_found", nil},
		{"before it existed", "GET", "/v1/problems/p1?at=2001-01-01T00:00:00Z", w, "", "not_reported_then", nil},
		{"a household not registered then", "GET", "/v1/households/h1/as-of?at=2001-01-01T00:00:00Z", e.admin, "", "not_registered_then", nil},
		{"a bad time limit", "POST", "/v1/problems/p1/assign", w, `{"to":"王","time_limit":"soon"}`, "invalid_time_limit", nil},
		{"a bad visits page", "GET", "/v1/households/h1?visits_limit=0", w, "", "invalid_visits_limit", nil},
		{"a bad category", "GET", "/v1/events?category=dogs", e.admin, "", "invalid_category", nil},
		{"no consent answer", "POST", "/v1/households/h1/consent", w, `{"scope":"visits"}`, "required", nil},
	}
	for _, c := range cases {
		st, p := send(c.method, c.path, c.token, c.body, c.hdr...)
		check(c.what, st, p, c.code)
	}
	if len(scanned) < 15 || scanned["role_forbidden"] < 40 {
		t.Fatalf("too few refusals scanned: %v", scanned)
	}
}
