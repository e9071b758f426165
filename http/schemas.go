package http

import (
	"fmt"
	nethttp "net/http"
	"reflect"
	"sync"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventschema"
)

// The event catalogue (package eventschema), built once: the JSON Schema of
// every event type's data as integrators receive it (CloudEvents from the
// broker relay, the server-sent stream). Public, like /openapi.json: it
// describes shapes, never data.

var catalogue = sync.OnceValues(func() (*eventschema.Catalogue, error) {
	return eventschema.New(domain.NewRegistry())
})

// SchemaIndex is the body of GET /v1/schemas.
type SchemaIndex struct {
	Schemas []SchemaRef `json:"schemas"`
}

// SchemaRef names one event type and version and where its schema is.
type SchemaRef struct {
	Type          string `json:"type"`           // CloudEvents type, e.g. cn.doorstep.visit.recorded.v1
	EventType     string `json:"event_type"`     // type in the log, e.g. visit.recorded
	SchemaVersion int    `json:"schema_version"` // version of the data
	URL           string `json:"url"`            // path of its JSON Schema, the CloudEvents dataschema
}

func (s *Server) schemaRoutes() []route {
	return []route{
		{op: "listEventSchemas", method: "GET", path: "/v1/schemas", summary: "list the JSON Schemas of every event type and version (the event catalogue)", h: s.listSchemas,
			doc: opDoc{tag: "integration", ok: 200, resp: "SchemaIndex"}},
		{op: "getEventSchema", method: "GET", path: "/v1/schemas/{type}", summary: "the JSON Schema of one event type's data, by CloudEvents type (e.g. cn.doorstep.visit.recorded.v1)", h: s.getSchema,
			doc: opDoc{tag: "integration", ok: 200, media: "application/schema+json", resp: "JSONSchema"}},
	}
}

func schemaResponseTypes(responses map[string]reflect.Type) {
	responses["SchemaIndex"] = reflect.TypeOf(SchemaIndex{})
	responses["SchemaRef"] = reflect.TypeOf(SchemaRef{})
	responses["JSONSchema"] = reflect.TypeOf(map[string]any{})
}

func (s *Server) listSchemas(w nethttp.ResponseWriter, r *nethttp.Request) error {
	cat, err := catalogue()
	if err != nil {
		return err
	}
	out := SchemaIndex{Schemas: []SchemaRef{}}
	for _, e := range cat.Entries() {
		out.Schemas = append(out.Schemas, SchemaRef{Type: e.Type, EventType: e.EventType, SchemaVersion: e.SchemaVersion, URL: cloudevent.SchemaPath(e.Type)})
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

func (s *Server) getSchema(w nethttp.ResponseWriter, r *nethttp.Request) error {
	cat, err := catalogue()
	if err != nil {
		return err
	}
	typ := mux.Vars(r)["type"]
	b, ok := cat.Schema(typ)
	if !ok {
		q := domain.Clip(typ, domain.MaxEchoBytes)
		return newErr(ErrNotFound, "schema_not_found", "type",
			fmt.Sprintf("there is no event schema %q; GET /v1/schemas lists the types (e.g. cn.doorstep.visit.recorded.v1)", q),
			fmt.Sprintf("不存在事件模式 %q；GET /v1/schemas 列出所有类型（例如 cn.doorstep.visit.recorded.v1）", q))
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.WriteHeader(nethttp.StatusOK)
	_, err = w.Write(b)
	return err
}
