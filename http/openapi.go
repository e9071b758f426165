package http

import (
	"encoding"
	"encoding/json"
	nethttp "net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// schemaTypes names the Go types whose JSON shape the document describes.
// Request types are strict (additionalProperties: false, as the decoder
// rejects unknown fields); response types list their always-present fields
// as required.
func schemaTypes() (requests, responses map[string]reflect.Type) {
	requests = map[string]reflect.Type{}
	for _, v := range []any{TokenRequest{}, TokenExpiryRequest{}, RegisterHouseholdRequest{}, MemberRequest{}, ReasonRequest{}, NoteRequest{},
		RelocateRequest{}, ChangeRequest{}, CircumstancesRequest{}, NeedsRequest{}, ResourcesRequest{}, ConsentRequest{}, ArchiveRequest{}, VisitRequest{},
		ReportProblemRequest{}, ReclassifyRequest{}, AssignRequest{}, ExtendRequest{}, ProgressRequest{}, ResolveRequest{},
		SatisfactionRequest{}, RevisitRequest{}, CloseRequest{}, RequestReferralRequest{}, AcceptRequest{}, CompleteRequest{}, EscalateRequest{}} {
		t := reflect.TypeOf(v)
		requests[t.Name()] = t
	}
	responses = map[string]reflect.Type{
		"Problem":       reflect.TypeOf(Problem{}),
		"CommandResult": reflect.TypeOf(CommandResult{}),
		"Principal":     reflect.TypeOf(identity.Principal{}),
		"TokenCreated":  reflect.TypeOf(TokenCreated{}),
		"TokenList":     reflect.TypeOf(TokenList{}),
		"TokenInfo":     reflect.TypeOf(identity.TokenInfo{}),
		"Health":        reflect.TypeOf(Health{}),
		"Event":         reflect.TypeOf(streamEvent{}),
		"OpenAPIDocument": reflect.TypeOf(struct {
			OpenAPI string         `json:"openapi"`
			Info    map[string]any `json:"info"`
			Paths   map[string]any `json:"paths"`
		}{}),
	}
	for name, t := range queryTypes() {
		responses[name] = t
	}
	calendarSchemaTypes(requests, responses)
	communitySchemaTypes(requests, responses)
	amendSchemaTypes(requests, responses)
	erasureSchemaTypes(requests, responses)
	consentSchemaTypes(responses)
	retentionSchemaTypes(responses)
	revealSchemaTypes(responses)
	schemaResponseTypes(responses)
	sessionSchemaTypes(requests, responses)
	webhookSchemaTypes(requests, responses)
	consumerSchemaTypes(requests, responses)
	rectificationSchemaTypes(requests, responses)
	reliefSchemaTypes(responses)
	visitLedgerSchemaTypes(responses)
	chainSchemaTypes(responses)
	spotCheckSchemaTypes(requests, responses)
	surveySchemaTypes(requests, responses)
	festivalSchemaTypes(requests, responses)
	return requests, responses
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Head    string `json:"head,omitempty"`
}

// TokenCreated is the body of a created token: the token is shown once.
type TokenCreated struct {
	Token     string             `json:"token"`
	Principal identity.Principal `json:"principal"`
	Note      string             `json:"note"`
}

// schemaOf renders t as a JSON Schema (2020-12, as OpenAPI 3.1 uses).
func schemaOf(t reflect.Type, strict bool) map[string]any {
	switch t {
	case reflect.TypeOf(time.Time{}):
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeOf(json.RawMessage{}):
		return map[string]any{}
	case reflect.TypeOf(domain.Span{}):
		return map[string]any{"type": "string", "description": "a time limit such as \"5 working_days\""}
	}
	if t.Implements(reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), strict), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Pointer:
		return schemaOf(t.Elem(), strict)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": []string{"array", "null"}, "items": schemaOf(t.Elem(), strict)}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": schemaOf(t.Elem(), strict)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		var walk func(t reflect.Type)
		walk = func(t reflect.Type) {
			for i := range t.NumField() {
				f := t.Field(i)
				tag := f.Tag.Get("json")
				if f.Anonymous && tag == "" {
					walk(f.Type)
					continue
				}
				if !f.IsExported() || tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if name == "" {
					name = f.Name
				}
				props[name] = schemaOf(f.Type, strict)
				if !strict && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
					required = append(required, name)
				}
			}
		}
		walk(t)
		s := map[string]any{"type": "object", "properties": props}
		if strict {
			s["additionalProperties"] = false
		}
		if len(required) > 0 {
			slices.Sort(required)
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the OpenAPI 3.1 document of every route.
func (s *Server) OpenAPI() map[string]any {
	reqs, resps := schemaTypes()
	schemas := map[string]any{}
	for n, t := range reqs {
		schemas[n] = schemaOf(t, true)
	}
	for n, t := range resps {
		schemas[n] = schemaOf(t, false)
	}
	ref := func(n string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + n} }
	problem := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}}}
	}
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{"operationId": rt.op, "summary": rt.summary, "tags": []string{rt.doc.tag}}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		ps := slices.Clone(rt.doc.params)
		if rt.doc.command {
			ps = append(ps,
				param{name: "Idempotency-Key", in: "header", typ: "string", desc: "makes a retry return the same response and write nothing new"},
				param{name: "If-Match", in: "header", typ: "string", desc: "RFC 9110: the ETag (stream version) the command expects, a list of them (\"7\", \"8\"), or * (the record must exist); compared strongly, so a weak tag (W/\"7\") never matches; 412 if the condition fails, 400 if the field is malformed"},
				param{name: "X-Correlation-Id", in: "header", typ: "string", desc: "groups the commands of one conversation"})
		}
		if rt.doc.query {
			ps = append(ps,
				param{name: "wait_for", in: "query", typ: "string", desc: "a position (from a command's response) the read model must reach before answering"},
				param{name: "wait_timeout", in: "query", typ: "string", desc: "how long to wait for wait_for, e.g. 2s (bounded by the server)"})
		}
		ps = append(ps, param{name: "Accept-Language", in: "header", typ: "string", desc: "zh… for Chinese error messages, English otherwise"})
		for _, p := range ps {
			sch := map[string]any{"type": p.typ}
			if len(p.enum) > 0 {
				sch["enum"] = p.enum
			}
			params = append(params, map[string]any{"name": p.name, "in": p.in, "required": p.required, "description": p.desc, "schema": sch})
		}
		op["parameters"] = params
		if rt.doc.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(rt.doc.body)}}}
		}
		ok := map[string]any{"description": "success"}
		media := rt.doc.media
		if media == "" {
			media = "application/json"
		}
		switch {
		case rt.doc.resp != "":
			ok["content"] = map[string]any{media: map[string]any{"schema": ref(rt.doc.resp)}}
		case media == "text/event-stream":
			ok["content"] = map[string]any{media: map[string]any{"schema": map[string]any{"type": "string",
				"description": "server-sent events: each has id (its position token), event (its type) and data (an Event as JSON)"}}}
		default:
			ok["content"] = map[string]any{media: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		for _, m := range rt.doc.alt {
			ok["content"].(map[string]any)[m] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		if rt.doc.command {
			ok["headers"] = map[string]any{
				"ETag":              map[string]any{"description": "the stream version after the command", "schema": map[string]any{"type": "string"}},
				"Doorstep-Position": map[string]any{"description": "global position of the command's last event", "schema": map[string]any{"type": "string"}},
			}
		}
		if rt.doc.query {
			ok["headers"] = map[string]any{
				StalledHeader: map[string]any{"description": "set while the read models are stalled (catching up fails and is retried, e.g. a full disk): the instant the stall began; the answer comes from their last commit and may be stale",
					"schema": map[string]any{"type": "string", "format": "date-time"}},
			}
		}
		responses := map[string]any{strconv.Itoa(rt.doc.ok): ok, "default": problem("an error (RFC 9457 problem details)")}
		for _, st := range errorStatuses(rt) {
			responses[strconv.Itoa(st)] = problem(nethttp.StatusText(st))
		}
		op["responses"] = responses
		if rt.roles != nil {
			op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}}
			names := make([]string, len(rt.roles))
			for i, r := range rt.roles {
				names[i] = string(r)
			}
			op["x-roles"] = names
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Doorstep API", "version": s.d.Version,
			"description": "Event-sourced case management for community household visits. Errors are RFC 9457 problem details with messages in English and Simplified Chinese. The data of every event type (server-sent events, CloudEvents published to brokers) is described by the event catalogue at /v1/schemas. / 社区入户走访事件溯源案件管理 API。"},
		"x-event-catalogue": "/v1/schemas",
		"paths":             paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie, "description": "set by POST /v1/session (the console's sign-in)"}},
		},
	}
}

// errorStatuses lists the error statuses a route documents.
func errorStatuses(rt route) []int {
	var out []int
	if rt.roles != nil {
		out = append(out, 401, 403)
	}
	if rt.doc.body != "" || len(rt.doc.params) > 0 || rt.doc.query {
		out = append(out, 400)
	}
	if rt.doc.body != "" {
		out = append(out, 413, 415)
	}
	if rt.doc.command {
		out = append(out, 404, 409, 412, 422, 503)
	}
	if rt.doc.query {
		out = append(out, 404, 503)
	} else if strings.Contains(rt.path, "{id}") && rt.method == "GET" {
		out = append(out, 404)
	}
	return out
}

func (s *Server) openAPIRoute(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return writeJSON(w, nethttp.StatusOK, s.OpenAPI())
}
