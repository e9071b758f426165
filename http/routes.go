package http

import (
	"context"
	nethttp "net/http"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// opDoc documents a route for the OpenAPI document.
type opDoc struct {
	tag    string
	params []param  // query and header parameters (path parameters come from the path)
	body   string   // request body schema (components/schemas), "" for none
	ok     int      // success status
	resp   string   // success body schema; "" for none
	media  string   // success media type; default application/json
	alt    []string // other success media types (bodies as text), e.g. text/csv
	// command: accepts Idempotency-Key and If-Match, returns ETag and Doorstep-Position.
	command bool
	// query: accepts wait_for and wait_timeout (read-your-writes).
	query bool
}

// param is a query or header parameter.
type param struct {
	name, in, typ, desc string
	required            bool
	enum                []string
}

func qp(name, typ, desc string, enum ...string) param {
	return param{name: name, in: "query", typ: typ, desc: desc, enum: enum}
}

// allRoles is every role: routes any authenticated caller may use.
func allRoles() []identity.Role { return identity.Roles() }

// readerRoles may read case files (each within its scope).
func readerRoles() []identity.Role {
	return []identity.Role{identity.RoleWorker, identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}
}

// auditRoles may read audit trails and as-of views.
func auditRoles() []identity.Role {
	return []identity.Role{identity.RoleSupervisor, identity.RoleAuditor, identity.RoleAdmin}
}

// Roles allowed on command routes (scope is checked per subject).
func writers() []identity.Role {
	return []identity.Role{identity.RoleWorker, identity.RoleSupervisor, identity.RoleAdmin}
}
func managers() []identity.Role { return []identity.Role{identity.RoleSupervisor, identity.RoleAdmin} }
func receivers() []identity.Role {
	return []identity.Role{identity.RoleDepartment, identity.RoleSupervisor, identity.RoleAdmin}
}

// buildRoutes returns the route table.
func (s *Server) buildRoutes() []route {
	rs := []route{
		{op: "health", method: "GET", path: "/healthz", summary: "check that the process is alive", h: s.health,
			doc: opDoc{tag: "system", ok: 200, resp: "Health"}},
		{op: "ready", method: "GET", path: "/readyz", summary: "check that the server can serve requests", h: s.ready,
			doc: opDoc{tag: "system", ok: 200, resp: "Health"}},
		{op: "metrics", method: "GET", path: "/metrics", summary: "Prometheus metrics", h: s.metricsRoute,
			doc: opDoc{tag: "system", ok: 200, media: "text/plain"}},
		{op: "openapi", method: "GET", path: "/openapi.json", summary: "this API's OpenAPI 3.1 document", h: s.openAPIRoute,
			doc: opDoc{tag: "system", ok: 200, resp: "OpenAPIDocument"}},
		{op: "whoami", method: "GET", path: "/v1/whoami", roles: allRoles(), summary: "show the caller's role and scope", h: s.whoami,
			doc: opDoc{tag: "access", ok: 200, resp: "Principal"}},
		{op: "createToken", method: "POST", path: "/v1/tokens", roles: []identity.Role{identity.RoleAdmin}, summary: "create an access token", h: s.createToken,
			doc: opDoc{tag: "access", body: "TokenRequest", ok: 201, resp: "TokenCreated"}},
		{op: "listTokens", method: "GET", path: "/v1/tokens", roles: []identity.Role{identity.RoleAdmin}, summary: "list the access tokens (ids, never the tokens)", h: s.listTokens,
			doc: opDoc{tag: "access", ok: 200, resp: "TokenList"}},
		{op: "revokeToken", method: "POST", path: "/v1/tokens/{id}/revoke", roles: []identity.Role{identity.RoleAdmin}, summary: "revoke an access token on every node", h: s.revokeToken,
			doc: opDoc{tag: "access", ok: 200, resp: "TokenInfo"}},
		{op: "setTokenExpiry", method: "POST", path: "/v1/tokens/{id}/expiry", roles: []identity.Role{identity.RoleAdmin}, summary: "set or clear when an access token expires", h: s.setTokenExpiry,
			doc: opDoc{tag: "access", body: "TokenExpiryRequest", ok: 200, resp: "TokenInfo"}},
		{op: "streamEvents", method: "GET", path: "/v1/events", roles: append(streamRoles(), identity.RoleWorker, identity.RoleDepartment),
			summary: "follow the event log as server-sent events (a worker: only the events of its grids, decision 0129; a department: only its referrals' events, decision 0144)", h: s.streamEvents, stream: true,
			doc: opDoc{tag: "integration", ok: 200, media: "text/event-stream", params: []param{
				qp("after", "string", "position token to start after (0 = the beginning); Last-Event-ID takes precedence"),
				qp("category", "string", "comma-separated stream categories: household, problem, referral"),
				qp("community", "string", "comma-separated communities"),
				qp("type", "string", "comma-separated event types, e.g. problem.reported"),
				qp("purpose", "string", "reveal sealed values for this purpose (recorded with it; only roles the policy grants it, with the sensitive grant); without it they are markers",
					"visit_preparation", "service_referral", "audit", "statutory_report"),
				qp("consumer", "string", "a named consumer: start after its last acknowledged position (POST /v1/consumers/{name}/ack) unless after or Last-Event-ID is given"),
				{name: "Last-Event-ID", in: "header", typ: "string", desc: "resume after this event (its position token)"},
			}}},
	}
	// Commands, then reads, each in the table's long-standing order: the
	// route × role × scope test and the OpenAPI document walk it.
	hh := householdRoutes{Server: s, cmd: s.d.Commands}
	pb := problemRoutes{Server: s, cmd: s.d.Commands}
	rf := referralRoutes{Server: s, cmd: s.d.Commands}
	rs = append(rs, hh.commandRoutes()...)
	rs = append(rs, hh.visitRoutes()...)
	rs = append(rs, pb.commandRoutes()...)
	rs = append(rs, rf.commandRoutes()...)
	rs = append(rs, hh.queryRoutes()...)
	rs = append(rs, pb.queryRoutes()...)
	rs = append(rs, rf.queryRoutes()...)
	rs = append(rs, s.alertRoutes()...)
	rs = append(rs, s.worklistRoutes()...)
	rs = append(rs, s.measureRoutes()...)
	rs = append(rs, s.amendRoutes()...)
	rs = append(rs, s.coverageRoutes()...)
	rs = append(rs, s.rectificationRoutes()...)
	rs = append(rs, s.reliefRoutes()...)
	rs = append(rs, s.visitLedgerRoutes()...)
	rs = append(rs, s.chainRoutes()...)
	rs = append(rs, s.spotCheckRoutes()...)
	rs = append(rs, s.surveyRoutes()...)
	rs = append(rs, s.festivalRoutes()...)
	rs = append(rs, s.calendarRoutes()...)
	rs = append(rs, s.communityRoutes()...)
	rs = append(rs, s.schemaRoutes()...)
	rs = append(rs, s.erasureRoutes()...)
	rs = append(rs, s.consentRoutes()...)
	rs = append(rs, s.retentionRoutes()...)
	rs = append(rs, s.revealRoutes()...)
	rs = append(rs, s.sessionRoutes()...)
	rs = append(rs, s.webhookRoutes()...)
	rs = append(rs, s.consumerRoutes()...)
	return rs
}

func (s *Server) health(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return writeJSON(w, nethttp.StatusOK, Health{Status: "ok", Version: s.d.Version})
}

func (s *Server) ready(w nethttp.ResponseWriter, r *nethttp.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	head, err := s.d.Store.Head(ctx)
	if err == nil && s.d.Ready != nil {
		err = s.d.Ready(ctx)
	}
	if err == nil && s.d.Read.Engine != nil {
		// Catching up keeps failing (a full disk): not ready until it
		// succeeds again.
		err = s.d.Read.Engine.Stalled()
	}
	if err != nil {
		s.log.Warn("not ready", "error", domain.Clip(err.Error(), maxLoggedErrorBytes))
		// The cause is internal (paths, hosts, driver messages): only an
		// authenticated caller is shown it; anyone else learns the status.
		if r.Header.Get("Authorization") != "" {
			if _, aerr := s.authenticate(r); aerr == nil {
				msg := domain.Clip(err.Error(), maxEchoErrorBytes)
				return newErr(ErrUnavailable, "not_ready", "", "the server is not ready: "+msg, "服务尚未就绪，原因（技术信息，原文）：“"+msg+"”")
			}
		}
		return newErr(ErrUnavailable, "not_ready", "", "the server is not ready; retry later (the cause is in the server's log)", "服务尚未就绪；请稍后重试（原因见服务器日志）")
	}
	return writeJSON(w, nethttp.StatusOK, Health{Status: "ready", Version: s.d.Version, Head: head.String()})
}

func (s *Server) metricsRoute(w nethttp.ResponseWriter, r *nethttp.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

func (s *Server) whoami(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return writeJSON(w, nethttp.StatusOK, principalFrom(r.Context()))
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Name        string        `json:"name"`
	Role        identity.Role `json:"role"`
	Grids       []string      `json:"grids,omitempty"`
	Communities []string      `json:"communities,omitempty"`
	Department  string        `json:"department,omitempty"`
	// Sensitive grants reading sensitive fields; default: true for workers
	// and supervisors (they need them for their households), false otherwise.
	Sensitive *bool `json:"sensitive,omitempty"`
	// ExpiresAt, an RFC 3339 instant, is when the token stops
	// authenticating; empty: never (until revoked).
	ExpiresAt string `json:"expires_at,omitempty"`
}

func (s *Server) createToken(w nethttp.ResponseWriter, r *nethttp.Request) error {
	var in TokenRequest
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
	tok, err := s.d.Tokens.CreateExpiring(r.Context(), p, principalFrom(r.Context()).Name, exp)
	if err != nil {
		return err
	}
	s.log.Info("token created", "name", p.Name, "role", string(p.Role), "by", principalFrom(r.Context()).Name)
	return writeJSON(w, nethttp.StatusCreated, TokenCreated{Token: tok, Principal: p,
		Note: "store this token now: it is shown only once / 请立即保存此令牌：它只显示这一次"})
}
