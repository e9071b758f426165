package http

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"strconv"
	"strings"

	"github.com/doorstep/doorstep/account"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/audit"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/projections/worklist"
)

// Error kinds of the HTTP layer itself. Every refusal the API reports is a
// *domain.Error (one type, whatever the layer): its kind is one of these,
// a domain kind, or another package's (identity, eventstore, the read
// models); statusTable maps every kind to a status.
var (
	ErrBadRequest         = errors.New("bad request")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrForbidden          = errors.New("forbidden")
	ErrNotFound           = errors.New("not found")
	ErrMethodNotAllowed   = errors.New("method not allowed")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrTooLarge           = errors.New("request body too large")
	ErrUnsupportedMedia   = errors.New("unsupported media type")
	ErrUnavailable        = errors.New("temporarily unavailable")
	ErrIdempotencyReuse   = errors.New("idempotency key reused")
	ErrInFlight           = errors.New("request in flight")
)

// newErr returns a refusal of kind with a stable machine code, the
// offending field and a message in English and Simplified Chinese.
func newErr(kind error, code, field, en, zh string) *domain.Error {
	return &domain.Error{Kind: kind, Code: code, Field: field, Message: en, MessageZH: zh}
}

// statusRule is one row of the error table.
type statusRule struct {
	kind   error
	status int
	title  string
}

// statusTable is the one place where error kinds become HTTP statuses. The
// first row whose kind matches (errors.Is) wins, so 412 comes before the
// generic conflicts.
func statusTable() []statusRule {
	return []statusRule{
		{ErrPreconditionFailed, nethttp.StatusPreconditionFailed, "Precondition failed"},
		{ErrUnauthenticated, nethttp.StatusUnauthorized, "Unauthenticated"},
		{ErrForbidden, nethttp.StatusForbidden, "Forbidden"},
		{ErrTooLarge, nethttp.StatusRequestEntityTooLarge, "Request too large"},
		{ErrHeadersTooLarge, nethttp.StatusRequestHeaderFieldsTooLarge, "Request headers too large"},
		{eventstore.ErrEventTooLarge, nethttp.StatusRequestEntityTooLarge, "Request too large"},
		{ErrUnsupportedMedia, nethttp.StatusUnsupportedMediaType, "Unsupported media type"},
		{ErrMethodNotAllowed, nethttp.StatusMethodNotAllowed, "Method not allowed"},
		{ErrBadRequest, nethttp.StatusBadRequest, "Bad request"},
		{identity.ErrInvalidPrincipal, nethttp.StatusBadRequest, "Bad request"},
		{identity.ErrTokenRevoked, nethttp.StatusUnauthorized, "Unauthenticated"},
		{identity.ErrTokenExpired, nethttp.StatusUnauthorized, "Unauthenticated"},
		{identity.ErrTokenNotFound, nethttp.StatusNotFound, "Not found"},
		{identity.ErrTokensNotSaved, nethttp.StatusServiceUnavailable, "Service unavailable"},
		{identity.ErrRevealRefused, nethttp.StatusForbidden, "Forbidden"},
		{account.ErrSignInFailed, nethttp.StatusUnauthorized, "Unauthenticated"},
		{eventstore.ErrInvalidStream, nethttp.StatusBadRequest, "Invalid id"},
		{domain.ErrInvalid, nethttp.StatusBadRequest, "Invalid input"},
		{eventstore.ErrInvalidPosition, nethttp.StatusBadRequest, "Invalid position"},
		{ErrNotFound, nethttp.StatusNotFound, "Not found"},
		{domain.ErrNotFound, nethttp.StatusNotFound, "Not found"},
		{profile.ErrNotFound, nethttp.StatusNotFound, "Not found"},
		{audit.ErrNotFound, nethttp.StatusNotFound, "Not found"},
		{profile.ErrInvalidFilter, nethttp.StatusBadRequest, "Bad request"},
		{alerts.ErrInvalidFilter, nethttp.StatusBadRequest, "Bad request"},
		{worklist.ErrInvalidFilter, nethttp.StatusBadRequest, "Bad request"},
		{measures.ErrInvalidQuery, nethttp.StatusBadRequest, "Bad request"},
		{ErrIdempotencyReuse, nethttp.StatusUnprocessableEntity, "Idempotency key reused"},
		{ErrInFlight, nethttp.StatusConflict, "Conflict"},
		{ErrTooManyRequests, nethttp.StatusTooManyRequests, "Too many requests"},
		{domain.ErrConflict, nethttp.StatusConflict, "Conflict"},
		{eventstore.ErrConflict, nethttp.StatusConflict, "Conflict"},
		{eventstore.ErrDuplicateEvent, nethttp.StatusConflict, "Conflict"},
		{domain.ErrErased, nethttp.StatusGone, "Erased"},
		{domain.ErrRule, nethttp.StatusUnprocessableEntity, "Rule broken"},
		{ErrUnavailable, nethttp.StatusServiceUnavailable, "Service unavailable"},
		{eventstore.ErrUnavailable, nethttp.StatusServiceUnavailable, "Service unavailable"},
		{eventstore.ErrClosed, nethttp.StatusServiceUnavailable, "Service unavailable"},
		{projections.ErrWaitTimeout, nethttp.StatusServiceUnavailable, "Service unavailable"},
	}
}

// Problem is an RFC 9457 problem details document. Besides the standard
// members it carries the stable code, the field that is wrong, the message
// in both languages (Detail is the one Accept-Language chose) and, for
// internal errors, the id under which the error was logged.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance,omitempty"`
	Code      string `json:"code"`
	Field     string `json:"field,omitempty"`
	MessageEN string `json:"message_en"`
	MessageZH string `json:"message_zh"`
	ErrorID   string `json:"error_id,omitempty"`
	// Position is the current read-model position on a wait timeout.
	Position string `json:"position,omitempty"`
}

// problemFor turns err into a Problem. Errors of no known kind are logged
// under a fresh id and reported as internal errors carrying that id; their
// text never reaches the client.
func problemFor(log *slog.Logger, r *nethttp.Request, err error) Problem {
	lang := preferredLanguage(r.Header.Get("Accept-Language"))
	p := Problem{Instance: domain.Clip(r.URL.Path, maxEchoPathBytes)}
	var de *domain.Error
	var ce *eventstore.ConflictError
	switch {
	case errors.As(err, &de):
		p.Code, p.Field, p.MessageEN, p.MessageZH = de.Code, de.Field, de.Message, de.MessageZH
	case errors.Is(err, eventstore.ErrInvalidStream):
		// The HTTP edge checks ids before they reach a store; this is
		// the store's own refusal of one that slipped through.
		p.Code, p.Field = "invalid_id", "id"
		p.MessageEN = "an id in the request is not valid: " + domain.IDRule
		p.MessageZH = "请求中的编号无效：" + domain.IDRuleZH
	case errors.As(err, &ce):
		p.Code = "concurrent_change"
		p.MessageEN = fmt.Sprintf("the record changed while your request was processed (now at version %d); reload it and try again", ce.Actual)
		p.MessageZH = fmt.Sprintf("处理请求期间记录已被修改（当前版本 %d）；请刷新后重试", ce.Actual)
	}
	for _, row := range statusTable() {
		if errors.Is(err, row.kind) {
			p.Status, p.Title = row.status, row.title
			break
		}
	}
	if p.Status == 0 || p.Code == "" {
		if p.Status == nethttp.StatusServiceUnavailable || p.Status == nethttp.StatusTooManyRequests {
			p.Code = "unavailable"
			p.MessageEN = "the database is unavailable right now; retry in a moment"
			p.MessageZH = "数据库暂时不可用；请稍后重试"
		} else if p.Status != 0 {
			// A known kind from one of our packages: its message is ours
			// (the read models write "English / 中文"), safe to show.
			p.Code = strings.ReplaceAll(strings.ToLower(p.Title), " ", "_")
			p.MessageEN, p.MessageZH = err.Error(), err.Error()
		} else {
			id := newErrorID()
			log.ErrorContext(r.Context(), "internal error", "error_id", id, "method", methodLabel(r.Method), "route", routeName(r), "error", domain.Clip(err.Error(), maxLoggedErrorBytes))
			p.Status, p.Title, p.Code, p.ErrorID = nethttp.StatusInternalServerError, "Internal error", "internal_error", id
			p.MessageEN = "an internal error occurred; quote error id " + id + " when reporting it"
			p.MessageZH = "发生内部错误；报告问题时请提供错误编号 " + id
		}
	}
	if p.Status >= 500 && p.Code != "internal_error" && (de == nil || de.Err != nil) {
		// A refusal because of our side (a full disk, the database gone):
		// the answer does not show the cause, so the log must (issue 13).
		// Refusals that are their own cause (streams_full) are not logged.
		cause := err
		if de != nil {
			cause = de.Err
		}
		log.WarnContext(r.Context(), "request refused", "code", p.Code, "method", methodLabel(r.Method), "route", routeName(r), "error", domain.Clip(cause.Error(), maxLoggedErrorBytes))
	}
	p.Type = "urn:doorstep:problem:" + p.Code
	p.Detail = p.MessageEN
	if lang == "zh" {
		p.Detail = p.MessageZH
	}
	return p
}

// writeError writes err as application/problem+json.
func (s *Server) writeError(w nethttp.ResponseWriter, r *nethttp.Request, err error) {
	if s.d.Unavailable != nil && !errors.Is(err, eventstore.ErrUnavailable) && s.d.Unavailable(err) {
		err = fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	p := problemFor(s.log, r, err)
	s.metrics.countRefusal(p.Code)
	writeProblem(w, p, s.cfg.RetryAfter)
}

func writeProblem(w nethttp.ResponseWriter, p Problem, retryAfter int) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Language", "en, zh-Hans")
	h.Del("ETag")
	if p.Status == nethttp.StatusServiceUnavailable || p.Status == nethttp.StatusTooManyRequests {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	if p.Status == nethttp.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="doorstep"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// maxLoggedErrorBytes bounds the text of an internal error in the log: an
// error may quote client input, and one request must not write megabytes.
const maxLoggedErrorBytes = 2048

func newErrorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// preferredLanguage returns "zh" when Accept-Language prefers Chinese over
// English, "en" otherwise (English is the default).
func preferredLanguage(header string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		var lang string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			lang = "zh"
		case tag == "en" || strings.HasPrefix(tag, "en-"), tag == "*":
			lang = "en"
		default:
			continue
		}
		// Earlier tags win ties, as clients list them in order of preference.
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	if bestQ <= 0 {
		return "en"
	}
	return best
}
