package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// CommandService is what the routes consume from the command layer: the
// commands of each resource and the aggregates folded from their streams.
// command.Service provides it.
type CommandService interface {
	HouseholdCommands
	ProblemCommands
	ReferralCommands
	CalendarCommands
	CommunityCommands
	MeasuresCommands
	RectificationCommands
	SpotCheckCommands
	SurveyCommands
	FestivalCommands
}

// CommandResult is the body of every successful command response.
type CommandResult struct {
	CommandID string `json:"command_id"`
	Stream    string `json:"stream"`
	ID        string `json:"id"`
	Number    string `json:"number,omitempty"`
	// Version is the stream's version after the command (also the ETag).
	Version uint64 `json:"version"`
	// Position is the global position of the command's last event: pass it
	// as wait_for to a query to read your own write. "0" when the command
	// recorded nothing new.
	Position string `json:"position"`
	Events   int    `json:"events"`
}

// ReasonRequest is the body of the commands that need only a reason
// (a member leaves, a problem is reopened, a referral declined or
// cancelled).
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// plan is what a command route decided from its request.
type plan struct {
	// stream is the existing aggregate the command targets (for If-Match);
	// empty for a command that creates one.
	stream string
	// authorize checks the principal's scope for this command.
	authorize func(ctx context.Context, p *identity.Principal) error
	// exec runs the command.
	exec func(ctx context.Context, c command.Cmd) (command.Result, error)
	// location, if set, makes the response 201 Created with a Location.
	location func(res command.Result) string
}

// builder parses and validates a command request into a plan. The body is
// already read; it must be decoded with decodeBody.
type builder func(r *nethttp.Request, body []byte) (*plan, error)

// command wraps a builder into a handler that implements the command
// protocol: Idempotency-Key (same key and request → same response, nothing
// new written; the key is also the command id the command layer
// deduplicates on), If-Match (the stream must be at that version, else
// 412), ETag (the stream version after the command) and Doorstep-Position
// (the global position of the command's last event).
//
// Keys belong to the token (its unique id, not its name, which two tokens
// may share), and the request is parsed and the caller's scope checked
// before a stored answer is replayed: a replay never shows what the caller
// may not see now. Answers that are refused before the command runs
// (malformed input, out of scope) are not kept; a retry is refused again.
func (s *Server) command(build builder) handlerFunc {
	return func(w nethttp.ResponseWriter, r *nethttp.Request) error {
		if s.d.Commands == nil {
			return errNoCommands()
		}
		p := principalFrom(r.Context())
		body, release, err := s.readBody(r)
		if err != nil {
			return err
		}
		defer release()
		corr := r.Header.Get("X-Correlation-Id")
		if corr != "" && !visibleASCII(corr, MaxCorrelationIDBytes) {
			return newErr(ErrBadRequest, "invalid_correlation_id", "X-Correlation-Id",
				fmt.Sprintf("the X-Correlation-Id must be 1 to %d visible ASCII characters (no spaces); a UUID is a good choice, or leave the header out", MaxCorrelationIDBytes),
				fmt.Sprintf("X-Correlation-Id 须为 1 至 %d 个可见 ASCII 字符（不含空格）；建议使用 UUID，或不发送此请求头", MaxCorrelationIDBytes))
		}
		c := command.Cmd{Actor: p.Name, Role: p.Role.DomainRole(), CorrelationID: corr}
		key := r.Header.Get("Idempotency-Key")
		if key != "" {
			if err := checkKey(key); err != nil {
				return err
			}
		}
		pl, err := build(r, body)
		if err != nil {
			return err
		}
		if err := pl.authorize(r.Context(), p); err != nil {
			return err
		}
		if key != "" {
			ikey := p.TokenID() + "\x00" + key
			sum := sha256.Sum256([]byte(r.Method + "\x00" + r.URL.Path + "\x00" + strings.Join(r.Header.Values("If-Match"), ", ") + "\x00" + string(body)))
			prev, err := s.idem.begin(ikey, hex.EncodeToString(sum[:]))
			if err != nil {
				return err
			}
			if prev != nil {
				for k, v := range prev.header {
					w.Header()[k] = v
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(prev.status)
				_, err := w.Write(prev.body)
				return err
			}
			c.ID = commandID(p.TokenID(), key)
			rec := &recorder{ResponseWriter: w, limit: s.cfg.IdempotencyMaxEntryBytes}
			defer func() { s.idem.finish(ikey, rec.status, rec.Header(), rec.buf.Bytes(), !rec.over) }()
			if err := s.runCommand(rec, r, pl, c); err != nil {
				s.writeError(rec, r, err)
			}
			return nil
		}
		return s.runCommand(w, r, pl, c)
	}
}

// runCommand checks If-Match, runs a built and authorised command and
// writes its result.
func (s *Server) runCommand(w nethttp.ResponseWriter, r *nethttp.Request, pl *plan, c command.Cmd) error {
	if im := r.Header.Get("If-Match"); im != "" {
		if pl.stream == "" {
			return newErr(ErrBadRequest, "if_match_on_create", "If-Match", "If-Match applies to commands on an existing record, not to creating one",
				"If-Match 只适用于修改已有记录的命令，不适用于新建")
		}
		m, err := parseIfMatch(strings.Join(r.Header.Values("If-Match"), ", "))
		if err != nil {
			return err
		}
		if !m.any && len(m.versions) == 0 {
			return weakOnly()
		}
		// The condition travels into the append itself (its expected
		// version), so no other writer on any node can slip in between.
		if !m.any && len(m.versions) == 1 {
			c.Expect = &m.versions[0]
		} else {
			c.Match = m.match()
		}
	}
	res, err := pl.exec(r.Context(), c)
	if err != nil {
		var de *domain.Error
		if errors.Is(err, command.ErrVersionMismatch) && errors.As(err, &de) {
			return newErr(ErrPreconditionFailed, de.Code, "If-Match", de.Message, de.MessageZH)
		}
		return err
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	out := CommandResult{CommandID: res.CommandID, Stream: res.Stream, ID: res.ID, Number: res.Number,
		Version: res.LastVersion, Position: res.LastPosition.String(), Events: res.Events}
	w.Header().Set("ETag", etag(res.LastVersion))
	w.Header().Set("Doorstep-Position", out.Position)
	status := nethttp.StatusOK
	if pl.location != nil {
		w.Header().Set("Location", pl.location(res))
		status = nethttp.StatusCreated
	}
	return writeJSON(w, status, out)
}

func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// MaxCorrelationIDBytes bounds the X-Correlation-Id of a command, which is
// kept in the permanent log with every event the command records. A longer
// one, or one with other than visible ASCII, is refused (400
// invalid_correlation_id) rather than replaced: a silently replaced id
// would break the client's correlation without telling it.
const MaxCorrelationIDBytes = 128

// maxRequestIDBytes bounds the X-Request-Id echoed and logged; a longer or
// invalid one is replaced by a generated id (it is only ever a log key).
const maxRequestIDBytes = 64

// visibleASCII reports whether s is 1 to max visible ASCII characters
// (0x21–0x7E: no spaces, controls or bytes beyond ASCII).
func visibleASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func checkKey(key string) error {
	ok := len(key) <= 200
	for _, r := range key {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			ok = false
		}
	}
	if !ok {
		return newErr(ErrBadRequest, "invalid_idempotency_key", "Idempotency-Key",
			"the Idempotency-Key must be at most 200 printable characters without spaces; a UUID is a good choice",
			"Idempotency-Key 须为不超过 200 个不含空格的可打印字符；建议使用 UUID")
	}
	return nil
}

func errNoCommands() error {
	return newErr(ErrUnavailable, "commands_unavailable", "", "this server has no command service configured", "此服务器未配置命令服务")
}

func tooLarge(limit int64) error {
	return newErr(ErrTooLarge, "body_too_large", "", fmt.Sprintf("the request body is larger than %d bytes; send less, or store attachments elsewhere and send references", limit),
		fmt.Sprintf("请求体超过 %d 字节；请精简内容，附件请另行存储并只发送引用", limit))
}

// decodeBody decodes a read body strictly (see decodeJSON).
func decodeBody(r *nethttp.Request, body []byte, v any) error {
	r2 := *r
	r2.Body = io.NopCloser(bytes.NewReader(body))
	return decodeJSON(&r2, v)
}

// parseTime parses an RFC 3339 instant of a field; empty is the zero time
// unless required.
func parseTime(field, s string, required bool) (time.Time, error) {
	if s == "" {
		if required {
			return time.Time{}, newErr(ErrBadRequest, "required", field, fmt.Sprintf("%s is required (an RFC 3339 time, e.g. 2026-03-01T09:30:00+08:00)", field),
				fmt.Sprintf("“%s” 为必填项（RFC 3339 时间，例如 2026-03-01T09:30:00+08:00）", field))
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, newErr(ErrBadRequest, "invalid_time", field, fmt.Sprintf("%s %q is not an RFC 3339 time; write e.g. 2026-03-01T09:30:00+08:00", field, clip(s)),
			fmt.Sprintf("“%s” %q 不是 RFC 3339 时间；请写成例如 2026-03-01T09:30:00+08:00", field, clip(s)))
	}
	return t, nil
}

// cmdRoute declares one command route.
func (s *Server) cmdRoute(op, path, summary, tag, body string, roles []identity.Role, create bool, b builder) route {
	ok := 200
	if create {
		ok = 201
	}
	return route{op: op, method: "POST", path: path, roles: roles, summary: summary, h: s.command(b),
		doc: opDoc{tag: tag, body: body, ok: ok, resp: "CommandResult", command: true}}
}

// decodeInto returns a builder helper that decodes the body into a new T.
// An empty body is read as {}: commands whose fields are all optional
// (start a referral, close a resolved problem) need none, and the others
// report their missing fields by name.
//
// Every id in the body (a string field whose JSON name ends in "_id", or
// the items of a list whose name ends in "_ids") must follow the one id
// rule (domain.CheckID) when given.
func decodeInto[T any](r *nethttp.Request, body []byte) (T, error) {
	var v T
	if len(bytes.TrimSpace(body)) == 0 {
		return v, nil
	}
	if err := decodeBody(r, body, &v); err != nil {
		return v, err
	}
	return v, checkBodyIDs(&v)
}

// checkBodyIDs checks the ids among the top-level fields of the struct v
// points to (see decodeInto).
func checkBodyIDs(v any) error {
	rv := reflect.ValueOf(v).Elem()
	if rv.Kind() != reflect.Struct {
		return nil
	}
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fv := rv.Field(i)
		switch {
		case strings.HasSuffix(name, "_id") && fv.Kind() == reflect.String:
			if id := fv.String(); id != "" {
				if err := domain.CheckID(name, id); err != nil {
					return err
				}
			}
		case strings.HasSuffix(name, "_ids") && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			for j := range fv.Len() {
				if err := domain.CheckID(name, fv.Index(j).String()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func parseSpan(field, s string, required bool) (domain.Span, error) {
	if s == "" && required {
		return domain.Span{}, newErr(ErrBadRequest, "required", field, field+" is required, e.g. \"5 working_days\"", field+" 为必填项，例如 \"5 working_days\"")
	}
	sp, err := domain.ParseSpan(s)
	if err != nil {
		return sp, newErr(ErrBadRequest, "invalid_time_limit", field,
			fmt.Sprintf("%s %q is not a time limit; write \"<n> <unit>\" with unit hour, day, working_day, week or month, e.g. \"5 working_days\"", field, clip(s)),
			fmt.Sprintf("%s %q 不是有效时限；请写成 “<数量> <单位>”，单位为 “hour”、“day”、“working_day”、“week” 或 “month”，例如 \"5 working_days\"", field, clip(s)))
	}
	return sp, nil
}
