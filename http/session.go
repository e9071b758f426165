package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/account"
	"github.com/doorstep/doorstep/identity"
)

// People sign in to the console with a login and a password (package
// account); a sign-in issues a session: an identity token with the user's
// principal, expiring after SessionTTL, carried in an HttpOnly cookie
// instead of the Authorization header (decision 0103). Everything that
// applies to a token (expiry, revocation on every node, idempotency keys
// per token, the route × role table) applies to a session.

// UserStore keeps the console's users (account.Users). Implementations
// must be safe for concurrent use.
type UserStore interface {
	Authenticate(ctx context.Context, login, password string) (identity.Principal, error)
	Add(ctx context.Context, login string, p identity.Principal, password, by string, expiresAt time.Time) error
	List(ctx context.Context) ([]account.User, error)
	Get(ctx context.Context, login string) (account.User, error)
	Disable(ctx context.Context, login, by string) error
	Enable(ctx context.Context, login string) error
	SetExpiry(ctx context.Context, login string, at time.Time) error
}

// SessionCookie is the name of the session cookie.
const SessionCookie = "doorstep_session"

// SessionTTL is how long a session lasts: a working day. Signing out or an
// administrator disabling the user ends it earlier.
const SessionTTL = 12 * time.Hour

// sessionBy is what a session token records as its creator: the sign-in of
// login. Disabling the user revokes the tokens so created.
func sessionBy(login string) string { return "sign-in:" + login }

// SignInRequest is the body of POST /v1/session.
type SignInRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

// Session is the answer of a sign-in: who is signed in, until when. The
// session itself travels only in the HttpOnly cookie.
type Session struct {
	Login     string             `json:"login"`
	Principal identity.Principal `json:"principal"`
	ExpiresAt time.Time          `json:"expires_at"`
}

// SignedOut is the answer of DELETE /v1/session.
type SignedOut struct {
	SignedOut bool `json:"signed_out"`
}

// UserRequest is the body of POST /v1/users: a person who signs in, with
// the role and scope a token would have.
type UserRequest struct {
	Login       string        `json:"login"`
	Password    string        `json:"password"`
	Name        string        `json:"name"`
	Role        identity.Role `json:"role"`
	Grids       []string      `json:"grids,omitempty"`
	Communities []string      `json:"communities,omitempty"`
	Department  string        `json:"department,omitempty"`
	// Sensitive: as TokenRequest.Sensitive.
	Sensitive *bool `json:"sensitive,omitempty"`
	// ExpiresAt, RFC 3339: when the account stops signing in; empty: never.
	ExpiresAt string `json:"expires_at,omitempty"`
}

// UserList is the body of GET /v1/users.
type UserList struct {
	Users []account.User `json:"users"`
}

func sessionSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["SignInRequest"] = reflect.TypeOf(SignInRequest{})
	requests["UserRequest"] = reflect.TypeOf(UserRequest{})
	responses["Session"] = reflect.TypeOf(Session{})
	responses["SignedOut"] = reflect.TypeOf(SignedOut{})
	responses["User"] = reflect.TypeOf(account.User{})
	responses["UserList"] = reflect.TypeOf(UserList{})
}

func (s *Server) sessionRoutes() []route {
	admin := []identity.Role{identity.RoleAdmin}
	return []route{
		{op: "signIn", method: "POST", path: "/v1/session", summary: "sign in with a login and password; the session is set as an HttpOnly cookie", h: s.signIn,
			doc: opDoc{tag: "access", body: "SignInRequest", ok: 200, resp: "Session"}},
		{op: "signOut", method: "DELETE", path: "/v1/session", summary: "sign out: end the session of the cookie", h: s.signOut,
			doc: opDoc{tag: "access", ok: 200, resp: "SignedOut"}},
		{op: "listUsers", method: "GET", path: "/v1/users", roles: admin, summary: "list the users who sign in (never their passwords)", h: s.listUsers,
			doc: opDoc{tag: "access", ok: 200, resp: "UserList"}},
		{op: "createUser", method: "POST", path: "/v1/users", roles: admin, summary: "create a user who signs in with a password", h: s.createUser,
			doc: opDoc{tag: "access", body: "UserRequest", ok: 201, resp: "User"}},
		{op: "disableUser", method: "POST", path: "/v1/users/{id}/disable", roles: admin, summary: "disable a user and end their sessions on every node", h: s.disableUser,
			doc: opDoc{tag: "access", ok: 200, resp: "User"}},
		{op: "setUserExpiry", method: "POST", path: "/v1/users/{id}/expiry", roles: admin, summary: "set or clear when a user stops signing in", h: s.setUserExpiry,
			doc: opDoc{tag: "access", body: "TokenExpiryRequest", ok: 200, resp: "User"}},
		{op: "enableUser", method: "POST", path: "/v1/users/{id}/enable", roles: admin, summary: "enable a user again and lift a lock-out", h: s.enableUser,
			doc: opDoc{tag: "access", ok: 200, resp: "User"}},
	}
}

func (s *Server) users() (UserStore, error) {
	if s.d.Users == nil {
		return nil, newErr(ErrUnavailable, "users_unavailable", "", "this server has no user accounts; use a bearer token",
			"此服务器未启用用户账户；请使用令牌")
	}
	return s.d.Users, nil
}

// secureRequest reports whether the client reached the server over TLS
// (directly or through a proxy that says so): the cookie is then Secure.
func secureRequest(r *nethttp.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func sessionCookie(r *nethttp.Request, value string, maxAge int) *nethttp.Cookie {
	return &nethttp.Cookie{Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secureRequest(r), SameSite: nethttp.SameSiteStrictMode}
}

// crossOrigin refuses a browser's cross-origin unsafe request (CSRF): Go's
// CrossOriginProtection reads Sec-Fetch-Site, or Origin against Host.
// Requests without those headers (curl, integrators) pass.
func (s *Server) crossOrigin(r *nethttp.Request) error {
	if err := s.csrf.Check(r); err != nil {
		return newErr(ErrForbidden, "cross_origin", "Origin",
			"a cross-origin request may not use the session cookie; open the console from this server's own address",
			"跨站请求不能使用会话凭据；请从本服务器自己的地址打开控制台")
	}
	return nil
}

func (s *Server) signIn(w nethttp.ResponseWriter, r *nethttp.Request) error {
	us, err := s.users()
	if err != nil {
		return err
	}
	if err := s.crossOrigin(r); err != nil {
		return err
	}
	var in SignInRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := us.Authenticate(r.Context(), in.Login, in.Password)
	if err != nil {
		if errors.Is(err, account.ErrSignInFailed) {
			s.metrics.refusals.WithLabelValues("sign_in_failed").Inc()
			s.log.Info("sign-in refused") // which login, and why, is in the record of sign-ins
		}
		return err
	}
	exp := s.d.Now().Add(SessionTTL)
	tok, err := s.d.Tokens.CreateExpiring(r.Context(), p, sessionBy(in.Login), exp)
	if err != nil {
		return err
	}
	s.log.Info("signed in", "login", in.Login, "role", string(p.Role))
	nethttp.SetCookie(w, sessionCookie(r, tok, int(SessionTTL/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, nethttp.StatusOK, Session{Login: in.Login, Principal: p, ExpiresAt: exp})
}

func (s *Server) signOut(w nethttp.ResponseWriter, r *nethttp.Request) error {
	c, err := r.Cookie(SessionCookie)
	if err == nil && c.Value != "" {
		if err := s.crossOrigin(r); err != nil {
			return err
		}
		if p, err := s.d.Tokens.Authenticate(r.Context(), c.Value); err == nil {
			if err := s.d.Tokens.Revoke(r.Context(), identity.TokenID(c.Value), p.Name); err != nil {
				return err
			}
		}
	}
	nethttp.SetCookie(w, sessionCookie(r, "", -1))
	return writeJSON(w, nethttp.StatusOK, SignedOut{SignedOut: true})
}

func (s *Server) listUsers(w nethttp.ResponseWriter, r *nethttp.Request) error {
	us, err := s.users()
	if err != nil {
		return err
	}
	list, err := us.List(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []account.User{}
	}
	return writeJSON(w, nethttp.StatusOK, UserList{Users: list})
}

func (s *Server) createUser(w nethttp.ResponseWriter, r *nethttp.Request) error {
	us, err := s.users()
	if err != nil {
		return err
	}
	var in UserRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := identity.Principal{Name: in.Name, Role: in.Role, Grids: in.Grids, Communities: in.Communities, Department: in.Department,
		Sensitive: in.Role == identity.RoleWorker || in.Role == identity.RoleSupervisor}
	if in.Sensitive != nil {
		p.Sensitive = *in.Sensitive
	}
	exp, err := parseTime("expires_at", in.ExpiresAt, false)
	if err != nil {
		return err
	}
	by := principalFrom(r.Context()).Name
	if err := us.Add(r.Context(), in.Login, p, in.Password, by, exp); err != nil {
		return err
	}
	s.log.Info("user created", "login", in.Login, "role", string(p.Role), "by", by)
	u, err := us.Get(r.Context(), in.Login)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusCreated, u)
}

func (s *Server) disableUser(w nethttp.ResponseWriter, r *nethttp.Request) error {
	us, err := s.users()
	if err != nil {
		return err
	}
	login, by := mux.Vars(r)["id"], principalFrom(r.Context()).Name
	if err := us.Disable(r.Context(), login, by); err != nil {
		return err
	}
	if err := EndSessions(r.Context(), s.d.Tokens, login, by); err != nil {
		return err
	}
	s.log.Info("user disabled", "login", login, "by", by)
	u, err := us.Get(r.Context(), login)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, u)
}

func (s *Server) enableUser(w nethttp.ResponseWriter, r *nethttp.Request) error {
	us, err := s.users()
	if err != nil {
		return err
	}
	login := mux.Vars(r)["id"]
	if err := us.Enable(r.Context(), login); err != nil {
		return err
	}
	s.log.Info("user enabled", "login", login, "by", principalFrom(r.Context()).Name)
	u, err := us.Get(r.Context(), login)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, u)
}

func (s *Server) setUserExpiry(w nethttp.ResponseWriter, r *nethttp.Request) error {
	us, err := s.users()
	if err != nil {
		return err
	}
	var in TokenExpiryRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	at, err := parseTime("expires_at", in.ExpiresAt, false)
	if err != nil {
		return err
	}
	login := mux.Vars(r)["id"]
	if err := us.SetExpiry(r.Context(), login, at); err != nil {
		return err
	}
	s.log.Info("user expiry set", "login", login, "expires_at", at, "by", principalFrom(r.Context()).Name)
	u, err := us.Get(r.Context(), login)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, u)
}

// EndSessions revokes every session of login still active (on every node,
// as any token revocation). `doorstep user disable` calls it too.
func EndSessions(ctx context.Context, toks interface {
	List(ctx context.Context) ([]identity.TokenInfo, error)
	Revoke(ctx context.Context, id, by string) error
}, login, by string) error {
	list, err := toks.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range list {
		if t.CreatedBy == sessionBy(login) && t.State == "active" {
			if err := toks.Revoke(ctx, t.ID, by); err != nil {
				return err
			}
		}
	}
	return nil
}
