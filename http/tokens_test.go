package http

import (
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// The admin token routes: a token created with an expiry is listed (by id,
// never the token), revoked and expired through the API; a revoked or
// expired token answers 401 saying which, in both languages.
func TestTokenAdminRoutes(t *testing.T) {
	e := newEnv(t, nil)
	var created TokenCreated
	r := e.do("POST", "/v1/tokens", e.admin, TokenRequest{Name: "临时审计", Role: identity.RoleAuditor,
		ExpiresAt: clock.Now().Add(24 * time.Hour).Format(time.RFC3339)})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r.decode(t, &created)
	id := identity.TokenID(created.Token)
	if r := e.do("GET", "/v1/whoami", created.Token, nil); r.status != 200 {
		t.Fatalf("new token: %d %s", r.status, r.body)
	}
	var list TokenList
	r = e.do("GET", "/v1/tokens", e.admin, nil)
	r.decode(t, &list)
	found := false
	for _, i := range list.Tokens {
		if i.ID == id {
			found = i.State == "active" && !i.ExpiresAt.IsZero()
		}
	}
	if r.status != 200 || !found {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	// Expiry in the past: 401 token_expired.
	if r := e.do("POST", "/v1/tokens/"+id+"/expiry", e.admin, TokenExpiryRequest{ExpiresAt: clock.Now().Add(-time.Minute).Format(time.RFC3339)}); r.status != 200 {
		t.Fatalf("expiry: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/whoami", created.Token, nil)
	if p := r.problem(t); r.status != 401 || p.Code != "token_expired" || p.MessageZH == "" || p.MessageEN == "" {
		t.Fatalf("expired token: %d %+v", r.status, p)
	}
	// Cleared: works again; revoked: 401 token_revoked, for good.
	if r := e.do("POST", "/v1/tokens/"+id+"/expiry", e.admin, TokenExpiryRequest{}); r.status != 200 {
		t.Fatalf("clear expiry: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/whoami", created.Token, nil); r.status != 200 {
		t.Fatalf("after clearing the expiry: %d %s", r.status, r.body)
	}
	var info identity.TokenInfo
	r = e.do("POST", "/v1/tokens/"+id+"/revoke", e.admin, nil)
	r.decode(t, &info)
	if r.status != 200 || info.State != "revoked" || info.RevokedBy == "" {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/whoami", created.Token, nil)
	if p := r.problem(t); r.status != 401 || p.Code != "token_revoked" || p.MessageZH == "" {
		t.Fatalf("revoked token: %d %+v", r.status, p)
	}
	// Unknown and malformed ids, an expiry out of range: bilingual errors.
	for _, c := range []struct {
		path   string
		body   any
		status int
		code   string
	}{
		{"/v1/tokens/0123456789abcdef/revoke", nil, 404, "token_not_found"},
		{"/v1/tokens/NOT-AN-ID/revoke", nil, 400, "invalid_token_id"},
		{"/v1/tokens/" + id + "/expiry", TokenExpiryRequest{ExpiresAt: "1600-01-01T00:00:00Z"}, 400, "invalid_expiry"},
		{"/v1/tokens/" + id + "/expiry", TokenExpiryRequest{ExpiresAt: "tomorrow"}, 400, "invalid_time"},
	} {
		r := e.do("POST", c.path, e.admin, c.body)
		if p := r.problem(t); r.status != c.status || p.Code != c.code || p.MessageZH == "" {
			t.Errorf("POST %s: %d %+v, want %d %s", c.path, r.status, p, c.status, c.code)
		}
	}
}
