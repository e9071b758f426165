package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	nethttp "net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// TokenStore authenticates bearer tokens and issues new ones
// (identity.Tokens). Implementations must be safe for concurrent use.
type TokenStore interface {
	// Authenticate returns the principal of token; an error refuses the
	// token (identity.ErrUnknownToken, or the cause of a failed lookup).
	Authenticate(ctx context.Context, token string) (identity.Principal, error)
	// CreateExpiring issues a token for p, created by by, expiring at
	// expiresAt (zero: never), and returns it once.
	CreateExpiring(ctx context.Context, p identity.Principal, by string, expiresAt time.Time) (string, error)
	// List lists every token (ids, never the tokens).
	List(ctx context.Context) ([]identity.TokenInfo, error)
	// Revoke revokes the token with id on every node.
	Revoke(ctx context.Context, id, by string) error
	// SetExpiry sets when the token with id expires (zero: never).
	SetExpiry(ctx context.Context, id string, expiresAt time.Time) error
}

// AccessRecorder records that a principal read sensitive fields of a
// household (PIPL: every read of them is itself recorded), returning only
// once the record is durable (package accesslog). Implementations must be
// safe for concurrent use.
type AccessRecorder interface {
	RecordAccess(ctx context.Context, who identity.Principal, householdID, what string) error
	// RecordReveal is RecordAccess for a reveal asked for with a purpose
	// (identity.Purpose), recorded with it.
	RecordReveal(ctx context.Context, who identity.Principal, householdID, what, purpose string) error
}

// AccessReader lists the recorded reads of a household's sensitive fields,
// newest first, for auditors (package accesslog).
type AccessReader interface {
	SensitiveReads(ctx context.Context, householdID string, limit, offset int) ([]accesslog.Record, error)
}

// Deps are the server's collaborators. Store and Tokens are required.
type Deps struct {
	Store  eventstore.Store
	Tokens TokenStore
	// Log receives structured logs; it never receives request bodies,
	// tokens, query strings or sensitive fields. Default: discard.
	Log *slog.Logger
	// Registry decodes domain events; default domain.NewRegistry().
	Registry *domain.Registry
	// Opener, when set, decrypts sensitive fields for principals with the
	// grant; without it they see sealed values as {"sealed": true}.
	Opener domain.Opener
	// Access records reads of sensitive fields; required when Opener is set.
	Access AccessRecorder
	// Commands runs domain commands (app.Service provides them); without it
	// (a nil interface) the command routes answer 503.
	Commands CommandService
	// Read holds the read models of the query routes.
	Read ReadModels
	// Deadlines lists running deadlines (GET /v1/deadlines?provisional=true).
	Deadlines DeadlineSource
	// Retention previews the retention task (GET /v1/retention/preview);
	// nil: the route answers 503.
	Retention RetentionPreviewer
	// Ready, when set, is consulted by /readyz besides the store.
	Ready func(ctx context.Context) error
	// Unavailable, when set, reports whether an error (from a read-model
	// database, say) means a server cannot be reached right now: such
	// errors answer 503 with Retry-After instead of 500.
	Unavailable func(error) bool
	// Now is the clock; default clock.Now (internal/clock).
	Now func() time.Time
	// Version is reported by /healthz.
	Version string
	// Users, when set, lets people sign in to the console with a password
	// (POST /v1/session); without it the user routes answer 503.
	Users UserStore
	// Console, when set, serves the browser console at / and /console/…
	// (package console); it is not an API route.
	Console nethttp.Handler
	// Positions, when set, maps the positions of the log before a
	// migration to this store's (sse_migrated.go).
	Positions PositionMap
	// Webhooks manages webhook subscriptions (package webhook); without it
	// the webhook routes answer 503.
	Webhooks WebhookAdmin
	// Consumers keeps named cursors of the event stream (package cursor);
	// without it ?consumer= and the consumer routes answer 503.
	Consumers ConsumerCursors
}

// Server is the HTTP API. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg     Config
	d       Deps
	log     *slog.Logger
	router  *mux.Router
	metrics *metrics
	idem    *idempotency
	// bigBodies holds a slot per command whose body is over bigBodyBytes
	// while it is read and handled (readBody).
	bigBodies  chan struct{}
	bigWaiting atomic.Int64
	routes     []route
	scopes     *scopeResolver
	csrf       *nethttp.CrossOriginProtection // refuses cross-origin unsafe requests that carry the session cookie

	streamSlots *streamLimiter // event streams open, per token and in all
	readsSeen   *readsSeen     // (token, event) pairs whose sensitive fields a stream revealed

	streams context.Context // cancelled at shutdown: ends event streams
	stopAll context.CancelFunc
}

// New validates cfg and builds the server and its routes.
func New(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Store == nil || d.Tokens == nil {
		return nil, errors.New("http: Deps.Store and Deps.Tokens are required")
	}
	if d.Opener != nil && d.Access == nil {
		return nil, errors.New("http: Deps.Access is required when Deps.Opener is set (every read of sensitive fields is recorded)")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.Registry == nil {
		d.Registry = domain.NewRegistry()
	}
	if d.Now == nil {
		d.Now = clock.Now
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	s := &Server{cfg: cfg, d: d, log: d.Log, metrics: newMetrics(), idem: newIdempotency(cfg.IdempotencyTTL, cfg.IdempotencyMax, cfg.IdempotencyMaxBytes, cfg.IdempotencyMaxEntryBytes, d.Now),
		bigBodies: make(chan struct{}, maxBigBodies)}
	s.metrics.watchIdempotency(s.idem)
	s.metrics.watchBodies(s)
	s.idem.onLimit = func(l string) { s.metrics.refusals.WithLabelValues(l).Inc() }
	s.streamSlots = newStreamLimiter(cfg.MaxStreamsPerToken, cfg.MaxStreams)
	s.readsSeen = newReadsSeen(maxStreamReadsSeen)
	s.streams, s.stopAll = context.WithCancel(context.Background())
	s.scopes = newScopeResolver(d.Store, d.Registry)
	s.csrf = nethttp.NewCrossOriginProtection()
	s.routes = s.buildRoutes()
	s.router = s.newRouter()
	return s, nil
}

// Handler returns the root handler (for tests with httptest).
func (s *Server) Handler() nethttp.Handler { return s.router }

// Serve answers requests on l until ctx ends, then shuts down gracefully:
// it stops accepting connections, ends event streams, and waits up to
// Config.ShutdownTimeout for in-flight requests to finish. It returns nil
// after a clean shutdown.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &nethttp.Server{
		Handler:           s.router,
		MaxHeaderBytes:    hardHeaderFactor * s.cfg.MaxHeaderBytes,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(s.stopAll)
	// The scope follower runs until Serve returns, not until ctx ends:
	// requests still in flight while shutting down resolve scopes.
	fctx, stopFollow := context.WithCancel(context.WithoutCancel(ctx))
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		s.scopes.keepFollowing(fctx, s.log, time.Second)
	}()
	defer func() { stopFollow(); <-followed }()
	errc := make(chan error, 1)
	l = countingListener{Listener: l, on431: func() { s.metrics.refusals.WithLabelValues(limitHeaderHard).Inc() },
		answer: hardHeaderAnswer(s.cfg.MaxHeaderBytes)}
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		s.stopAll()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("http: shutdown: %w", err)
	}
	s.log.Info("shut down cleanly")
	return nil
}

// handlerFunc is a route's handler: it writes the response, or returns an
// error that becomes a problem+json response.
type handlerFunc func(w nethttp.ResponseWriter, r *nethttp.Request) error

// route is one entry of the route table, which drives the router, the
// authorisation table test and the OpenAPI document.
type route struct {
	op      string // operationId
	method  string
	path    string
	roles   []identity.Role // allowed roles; nil means public (no token)
	summary string
	h       handlerFunc
	doc     opDoc
	stream  bool // server-sent events: no write timeout
}

func (s *Server) newRouter() *mux.Router {
	m := mux.NewRouter()
	m.StrictSlash(false)
	m.Use(s.recoverMW, s.observeMW)
	for _, rt := range s.routes {
		m.Handle(rt.path, s.wrap(rt)).Methods(rt.method).Name(rt.op)
	}
	if s.d.Console != nil {
		m.Handle("/", s.d.Console).Methods("GET", "HEAD").Name("console")
		m.PathPrefix("/console/").Handler(s.d.Console).Methods("GET", "HEAD").Name("console-assets")
	}
	m.NotFoundHandler = s.observeMW(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		method, path := echoMethod(r.Method), domain.Clip(r.URL.Path, maxEchoPathBytes)
		s.writeError(w, r, newErr(ErrNotFound, "route_not_found", "", fmt.Sprintf("there is no route %s %s; see /openapi.json", method, path),
			fmt.Sprintf("不存在路由 %s %s；请参见 /openapi.json", method, path)))
	}))
	m.MethodNotAllowedHandler = s.observeMW(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		method, path := echoMethod(r.Method), domain.Clip(r.URL.Path, maxEchoPathBytes)
		s.writeError(w, r, newErr(ErrMethodNotAllowed, "method_not_allowed", "", fmt.Sprintf("%s is not allowed on %s; see /openapi.json", method, path),
			fmt.Sprintf("%s 不能用于 %s；请参见 /openapi.json", method, path)))
	}))
	return m
}

// wrap authenticates and authorises the caller for rt, then runs it.
func (s *Server) wrap(rt route) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if rt.roles != nil {
			p, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if !slices.Contains(rt.roles, p.Role) {
				s.writeError(w, r, newErr(ErrForbidden, "role_forbidden", "",
					fmt.Sprintf("the %s role may not %s", roleEN(p.Role), rt.summary),
					fmt.Sprintf("%s角色无权执行此操作：%s", roleZH(p.Role), operationZH[rt.op])))
				return
			}
			if st, ok := w.(*statusWriter); ok {
				st.principal = p
			}
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		}
		if s.d.Opener != nil {
			// Sealed text is opened in the answer (decision 0108).
			ow := &openingWriter{ResponseWriter: w}
			defer ow.finish(r.Context(), s.d.Opener)
			w = ow
		}
		if err := checkPathIDs(rt.path, mux.Vars(r)); err != nil {
			s.writeError(w, r, err)
			return
		}
		if r.Body != nil && r.Body != nethttp.NoBody {
			r.Body = nethttp.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		if err := rt.h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// checkPathIDs checks the ids in a request's path ({id}, {member_id})
// against the one id rule (domain.CheckID), naming each after what it
// identifies: household_id for /v1/households/{id}, and so on.
func checkPathIDs(path string, vars map[string]string) error {
	for name, v := range vars {
		field := name
		if name == "id" {
			field = pathSubject(path) + "_id"
		}
		if err := domain.CheckID(field, v); err != nil {
			return err
		}
	}
	return nil
}

// pathSubject is what the {id} of a route path identifies: "household"
// for /v1/households/{id}…, "problem", "referral", else "resource".
func pathSubject(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/households/"):
		return "household"
	case strings.HasPrefix(path, "/v1/problems/"):
		return "problem"
	case strings.HasPrefix(path, "/v1/referrals/"):
		return "referral"
	}
	return "resource"
}

// statusWriter records the status for logs and metrics.
type statusWriter struct {
	nethttp.ResponseWriter
	status    int
	bytes     int64
	principal *identity.Principal
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = nethttp.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets the event stream flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(nethttp.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() nethttp.ResponseWriter { return w.ResponseWriter }

// knownMethods are the methods of RFC 9110 and PATCH (RFC 5789). Metrics
// and logs label a request with its method only when it is one of these,
// and "other" otherwise: the method is chosen by the client, and a label
// per invented method would grow /metrics and the logs without bound.
var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// methodLabel is the bounded label of a request's method: the method when
// it is one of knownMethods (case-sensitive, as HTTP methods are), else
// "other".
func methodLabel(m string) string {
	if slices.Contains(knownMethods, m) {
		return m
	}
	return "other"
}

// maxEchoPathBytes bounds how much of a request path an error message
// quotes (a path is bounded only by the header limit).
const maxEchoPathBytes = 256

// echoMethod quotes a method in an error message: a known one as is, any
// other clipped to domain.MaxEchoBytes and quoted.
func echoMethod(m string) string {
	if slices.Contains(knownMethods, m) {
		return m
	}
	return fmt.Sprintf("%q", domain.Clip(m, domain.MaxEchoBytes))
}

func routeName(r *nethttp.Request) string {
	if cr := mux.CurrentRoute(r); cr != nil {
		if t, err := cr.GetPathTemplate(); err == nil {
			return t
		}
	}
	return "unmatched"
}

// observeMW logs every request (method, route template, status, duration,
// principal; never bodies, tokens or query strings) and feeds the metrics.
func (s *Server) observeMW(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if _, ok := w.(*statusWriter); ok {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		reqID := r.Header.Get("X-Request-Id")
		if !visibleASCII(reqID, maxRequestIDBytes) {
			reqID = newErrorID()
		}
		sw.Header().Set("X-Request-Id", reqID)
		if err := checkHeaders(r, s.cfg.MaxHeaderBytes); err != nil {
			s.writeError(sw, r, err)
		} else {
			next.ServeHTTP(sw, r)
		}
		if sw.status == 0 {
			sw.status = nethttp.StatusOK
		}
		d := time.Since(start)
		rn := routeName(r)
		method := methodLabel(r.Method)
		s.metrics.observe(method, rn, sw.status, d)
		attrs := []any{"method", method, "route", rn, "status", sw.status, "duration_ms", float64(d.Microseconds()) / 1000, "bytes", sw.bytes, "request_id", reqID}
		if sw.principal != nil {
			attrs = append(attrs, "actor", sw.principal.Name, "role", string(sw.principal.Role))
		}
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "request", attrs...)
	})
}

func (s *Server) recoverMW(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == nethttp.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// decodeJSON decodes the request body into v strictly: the content type
// must be JSON, unknown fields and trailing data are rejected, and a body
// over the limit is 413.
func decodeJSON(r *nethttp.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newErr(ErrUnsupportedMedia, "unsupported_media_type", "Content-Type",
				"send the body as JSON with \"Content-Type: application/json\"",
				"请以 JSON 格式发送请求体，并设置 “Content-Type: application/json”")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			err = errors.New("trailing data after the JSON value")
		} else if _, e := dec.Token(); e != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err == nil {
		return checkBodyText(v)
	}
	var mbe *nethttp.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return newErr(ErrTooLarge, "body_too_large", "", fmt.Sprintf("the request body is larger than %d bytes; send less, or store attachments elsewhere and send references", mbe.Limit),
			fmt.Sprintf("请求体超过 %d 字节；请精简内容，附件请另行存储并只发送引用", mbe.Limit))
	case errors.Is(err, io.EOF):
		return newErr(ErrBadRequest, "body_required", "", "the request needs a JSON body", "请求需要 JSON 请求体")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return newErr(ErrBadRequest, "malformed_json", "", "the body is not valid JSON: "+domain.Clip(err.Error(), maxEchoErrorBytes), "请求体不是有效的 JSON"+syntaxZH(err))
	case errors.As(err, &te):
		f := clip(te.Field)
		return newErr(ErrBadRequest, "invalid_type", f, fmt.Sprintf("field %q must be a %s, not a JSON %s", f, jsonKind(te.Type.String()), te.Value),
			fmt.Sprintf("字段 %q 的类型应为%s，而不是 JSON %s", f, jsonKindZH[jsonKind(te.Type.String())], jsonKindZH[te.Value]))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The name is the client's: quote at most domain.MaxEchoBytes of
		// it, or one small body would become an answer four times its
		// size (and be kept for replay).
		f := clip(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		return newErr(ErrBadRequest, "unknown_field", f, fmt.Sprintf("field %q is not part of this request; check the spelling against /openapi.json", f),
			fmt.Sprintf("字段 %q 不属于此请求；请对照 /openapi.json 检查拼写", f))
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.err
	}
	return newErr(ErrBadRequest, "malformed_json", "", "the body could not be read as this request: "+domain.Clip(err.Error(), maxEchoErrorBytes), "无法按此请求解析请求体"+syntaxZH(err))
}

// syntaxZH says in Chinese where a JSON body broke (the decoder's own text
// is English): "：第 12 个字节处语法错误", "：内容意外结束", or nothing.
func syntaxZH(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("：第 %d 个字节处语法错误", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "：内容意外结束"
	case err != nil && strings.Contains(err.Error(), "trailing data"):
		return "：JSON 值之后还有多余内容"
	}
	return ""
}

// maxEchoErrorBytes bounds the decoder's own error text quoted in a
// malformed_json answer (it may quote the client's input).
const maxEchoErrorBytes = 200

// clip quotes client input in an error message: at most
// domain.MaxEchoBytes of it (see domain.Clip).
func clip(s string) string { return domain.Clip(s, domain.MaxEchoBytes) }

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "bool":
		return "boolean"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "."):
		return "object or string"
	}
	return "string"
}

// jsonKindZH names JSON kinds (jsonKind's and the decoder's) in Chinese.
var jsonKindZH = map[string]string{"number": "数字", "boolean": "布尔值", "bool": "布尔值", "array": "数组", "object": "对象",
	"object or string": "对象或字符串", "string": "字符串", "null": "空值"}

// fieldError lets a custom UnmarshalJSON name the field it rejects.
type fieldError struct{ err *domain.Error }

func (e *fieldError) Error() string { return e.err.Error() }

// writeJSON writes v with status.
func writeJSON(w nethttp.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
