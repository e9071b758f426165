package http

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/account"
	"github.com/doorstep/doorstep/identity"
)

// signIn signs login in and returns the session cookie's value and its
// Set-Cookie header.
func (e *testEnv) signIn(login, password string, hdr ...string) (string, string, resp) {
	e.t.Helper()
	r := e.do("POST", "/v1/session", "", SignInRequest{Login: login, Password: password}, hdr...)
	sc := r.header.Get("Set-Cookie")
	v, _, _ := strings.Cut(strings.TrimPrefix(sc, SessionCookie+"="), ";")
	return v, sc, r
}

func cookie(v string) []string { return []string{"Cookie", SessionCookie + "=" + v} }

// TestSessionCookie: a user signs in, the HttpOnly SameSite=Strict cookie
// authenticates them as their principal, a cross-origin unsafe request
// with it is refused, and signing out revokes it.
func TestSessionCookie(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const pw = "wang shuji's long password"
	sup := identity.Principal{Name: "王书记", Role: identity.RoleSupervisor, Communities: []string{"C1"}, Sensitive: true}
	if err := e.users.Add(ctx, "wang", sup, pw, "test", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, _, r := e.signIn("wang", "not the password"); r.status != 401 || r.problem(t).Code != "sign_in_failed" || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong password: %d %s", r.status, r.body)
	}
	v, sc, r := e.signIn("wang", pw)
	if r.status != 200 || v == "" {
		t.Fatalf("sign in: %d %s", r.status, r.body)
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP", sc)
	}
	if _, sc2, _ := e.signIn("wang", pw, "X-Forwarded-Proto", "https"); !strings.Contains(sc2, "Secure") {
		t.Errorf("Set-Cookie %q is not Secure behind TLS", sc2)
	}
	var who identity.Principal
	e.do("GET", "/v1/whoami", "", nil, cookie(v)...).decode(t, &who)
	if who.Name != "王书记" || who.Role != identity.RoleSupervisor {
		t.Fatalf("whoami with the cookie: %+v", who)
	}
	// CSRF: another site's form or fetch may not use the cookie.
	body := ChangeRequest{To: "red", Reason: "复核"}
	hh := "/v1/households/nowhere/risk"
	if r := e.do("POST", hh, "", body, append(cookie(v), "Sec-Fetch-Site", "cross-site")...); r.status != 403 || r.problem(t).Code != "cross_origin" {
		t.Fatalf("cross-site: %d %s", r.status, r.body)
	}
	u, _ := url.Parse(e.ts.URL)
	if r := e.do("POST", hh, "", body, append(cookie(v), "Origin", "https://evil.example")...); r.status != 403 || r.problem(t).Code != "cross_origin" {
		t.Fatalf("foreign origin: %d %s", r.status, r.body)
	}
	// The same origin reaches the handler (the household does not exist).
	if r := e.do("POST", hh, "", body, append(cookie(v), "Sec-Fetch-Site", "same-origin", "Origin", "http://"+u.Host)...); r.status != 404 {
		t.Fatalf("same origin: %d %s", r.status, r.body)
	}
	if _, _, r := e.signIn("wang", pw, "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Fatalf("cross-site sign-in: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/session", "", nil, cookie(v)...); r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign out: %d %s %s", r.status, r.body, r.header.Get("Set-Cookie"))
	}
	if r := e.do("GET", "/v1/whoami", "", nil, cookie(v)...); r.status != 401 || r.problem(t).Code != "token_revoked" {
		t.Fatalf("after sign-out: %d %s", r.status, r.body)
	}
}

// TestUsersAdmin: an admin creates a user through the API, the user signs
// in, the admin disables them and the session ends at once; five wrong
// passwords lock the account until an admin enables it.
func TestUsersAdmin(t *testing.T) {
	e := newEnv(t, nil)
	const pw = "li si's password, long"
	r := e.do("POST", "/v1/users", e.admin, UserRequest{Login: "lisi", Password: pw, Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}})
	var u account.User
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r.decode(t, &u)
	if u.Login != "lisi" || u.State != "active" || !u.Principal.Sensitive || strings.Contains(string(r.body), "argon2") {
		t.Fatalf("created %s", r.body)
	}
	if r := e.do("POST", "/v1/users", e.admin, UserRequest{Login: "lisi2", Password: "short", Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}},
		"Accept-Language", "zh-CN"); r.status != 400 || !strings.Contains(r.problem(t).Detail, "密码") {
		t.Fatalf("short password: %d %s", r.status, r.body)
	}
	v, _, _ := e.signIn("lisi", pw)
	if r := e.do("GET", "/v1/whoami", "", nil, cookie(v)...); r.status != 200 {
		t.Fatalf("whoami: %d", r.status)
	}
	if r := e.do("POST", "/v1/users/lisi/disable", e.admin, nil); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/whoami", "", nil, cookie(v)...); r.status != 401 || r.problem(t).Code != "token_revoked" {
		t.Fatalf("session after disable: %d %s", r.status, r.body)
	}
	if _, _, r := e.signIn("lisi", pw); r.status != 401 {
		t.Fatalf("sign in while disabled: %d", r.status)
	}
	e.do("POST", "/v1/users/lisi/enable", e.admin, nil)
	for range account.MaxFailures {
		e.signIn("lisi", "a wrong password")
	}
	if _, _, r := e.signIn("lisi", pw); r.status != 401 {
		t.Fatalf("sign in while locked: %d", r.status)
	}
	var list UserList
	e.do("GET", "/v1/users", e.admin, nil).decode(t, &list)
	if len(list.Users) != 1 || list.Users[0].State != "locked" {
		t.Fatalf("list %+v", list)
	}
	e.do("POST", "/v1/users/lisi/enable", e.admin, nil)
	if _, _, r := e.signIn("lisi", pw); r.status != 200 {
		t.Fatalf("sign in after enable: %d %s", r.status, r.body)
	}
	// An expiry in the past stops sign-ins; clearing it lets them again.
	past := time.Now().Add(-time.Minute).Format(time.RFC3339)
	if r := e.do("POST", "/v1/users/lisi/expiry", e.admin, TokenExpiryRequest{ExpiresAt: past}); r.status != 200 || !strings.Contains(string(r.body), `"state":"expired"`) {
		t.Fatalf("expire: %d %s", r.status, r.body)
	}
	if _, _, r := e.signIn("lisi", pw); r.status != 401 {
		t.Fatalf("sign in when expired: %d", r.status)
	}
	e.do("POST", "/v1/users/lisi/expiry", e.admin, TokenExpiryRequest{})
	if _, _, r := e.signIn("lisi", pw); r.status != 200 {
		t.Fatalf("sign in after the expiry was cleared: %d %s", r.status, r.body)
	}
}
