package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// identityTimeout bounds each record of a sensitive read (it may wait on
// PostgreSQL), so that a lost database fails the request within that time
// instead of hanging it. Token lookups are bounded by identity itself, and
// only when they reach the database (most are answered from memory).
const identityTimeout = 5 * time.Second

// authenticate returns the principal of the request's bearer token. A
// missing token answers token_required, a token the set does not hold
// token_invalid; so does a token the set could not look up (the database is
// unreachable): the caller may retry, and the cause is logged.
//
// Without an Authorization header, the session cookie of a signed-in user
// (session.go) stands for the token; an unsafe request that carries it
// must come from the console's own origin (CSRF).
func (s *Server) authenticate(r *nethttp.Request) (*identity.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			switch r.Method {
			case "GET", "HEAD", "OPTIONS":
			default:
				if err := s.crossOrigin(r); err != nil {
					return nil, err
				}
			}
			h = "Bearer " + c.Value
		}
	}
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, newErr(ErrUnauthenticated, "token_required", "Authorization",
			"this route needs a bearer token: send the header \"Authorization: Bearer <token>\"",
			"此路由需要令牌：请发送请求头 “Authorization: Bearer <令牌>”")
	}
	p, err := s.d.Tokens.Authenticate(r.Context(), strings.TrimSpace(token))
	if errors.Is(err, identity.ErrTokenRevoked) || errors.Is(err, identity.ErrTokenExpired) {
		return nil, err // 401, saying which
	}
	if err != nil {
		if !errors.Is(err, identity.ErrUnknownToken) {
			s.log.WarnContext(r.Context(), "token lookup failed", "route", routeName(r), "error", err)
		}
		return nil, newErr(ErrUnauthenticated, "token_invalid", "Authorization",
			"the bearer token is not valid; ask an administrator for a new one",
			"令牌无效；请向管理员申请新令牌")
	}
	return &p, nil
}

// recordReveal records a reveal with its purpose, durably, before the
// values are shown.
func (s *Server) recordReveal(ctx context.Context, p *identity.Principal, householdID, what string, purpose identity.Purpose) error {
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	if err := s.d.Access.RecordReveal(ctx, *p, householdID, what, string(purpose)); err != nil {
		// Not served (issue 13 item 5): the cause (a full disk, the
		// database gone) is for the log, the caller may retry.
		return &domain.Error{Kind: ErrUnavailable, Code: "read_not_recorded", Err: err,
			Message:   "the values were not shown: this read of sensitive fields could not be recorded right now (every such read must be); retry in a moment",
			MessageZH: "未显示敏感信息：此次读取暂时无法记录（每次读取敏感信息都必须记录）；请稍后重试"}
	}
	return nil
}

type principalKey struct{}

// principalFrom returns the authenticated principal of a request context.
func principalFrom(ctx context.Context) *identity.Principal {
	p, _ := ctx.Value(principalKey{}).(*identity.Principal)
	return p
}
