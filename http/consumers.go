package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"reflect"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/cursor"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

// ConsumerCursors keeps the named cursors of the event stream, per
// principal (package cursor). Implementations must be safe for concurrent
// use.
type ConsumerCursors interface {
	Get(ctx context.Context, owner, name string) (eventstore.Position, error)
	Ack(ctx context.Context, owner, name string, pos eventstore.Position) (cursor.Cursor, error)
	List(ctx context.Context, owner string) ([]cursor.Cursor, error)
}

// ConsumerAck is the body of POST /v1/consumers/{name}/ack.
type ConsumerAck struct {
	// Position is the id of the last event stored (its position token).
	Position string `json:"position"`
}

// ConsumerList is the body of GET /v1/consumers.
type ConsumerList struct {
	Consumers []cursor.Cursor `json:"consumers"`
}

func consumerSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["ConsumerAck"] = reflect.TypeOf(ConsumerAck{})
	responses["ConsumerList"] = reflect.TypeOf(ConsumerList{})
	responses["Consumer"] = reflect.TypeOf(cursor.Cursor{})
}

// streamRoles may follow the event stream, and so keep named consumers.
func streamRoles() []identity.Role {
	return []identity.Role{identity.RoleIntegrator, identity.RoleAuditor, identity.RoleSupervisor, identity.RoleAdmin}
}

func (s *Server) consumerRoutes() []route {
	return []route{
		{op: "listConsumers", method: "GET", path: "/v1/consumers", roles: streamRoles(), summary: "list the caller's named consumers of the event stream and their acknowledged positions", h: s.listConsumers,
			doc: opDoc{tag: "integration", ok: 200, resp: "ConsumerList"}},
		{op: "ackConsumer", method: "POST", path: "/v1/consumers/{name}/ack", roles: streamRoles(), summary: "acknowledge a named consumer's position: GET /v1/events?consumer={name} resumes after it", h: s.ackConsumer,
			doc: opDoc{tag: "integration", body: "ConsumerAck", ok: 200, resp: "Consumer"}},
	}
}

func (s *Server) consumers() (ConsumerCursors, error) {
	if s.d.Consumers == nil {
		return nil, newErr(ErrUnavailable, "consumers_unavailable", "consumer", "named consumers are not available on this server", "此服务器未启用命名消费者")
	}
	return s.d.Consumers, nil
}

// consumerPosition is where GET /v1/events?consumer=name starts for p.
func (s *Server) consumerPosition(ctx context.Context, p *identity.Principal, name string) (eventstore.Position, error) {
	c, err := s.consumers()
	if err != nil {
		return eventstore.Position{}, err
	}
	return c.Get(ctx, p.Name, name)
}

func (s *Server) listConsumers(w nethttp.ResponseWriter, r *nethttp.Request) error {
	c, err := s.consumers()
	if err != nil {
		return err
	}
	list, err := c.List(r.Context(), principalFrom(r.Context()).Name)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, ConsumerList{Consumers: list})
}

func (s *Server) ackConsumer(w nethttp.ResponseWriter, r *nethttp.Request) error {
	c, err := s.consumers()
	if err != nil {
		return err
	}
	var in ConsumerAck
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	pos, err := eventstore.ParsePosition(in.Position)
	if err != nil {
		return newErr(ErrBadRequest, "invalid_position", "position",
			fmt.Sprintf("%q is not a position token; acknowledge the id of the last event you stored (e.g. \"42\")", clip(in.Position)),
			fmt.Sprintf("%q 不是有效的位置标记；请确认最后保存的事件编号（如 “42”）", clip(in.Position)))
	}
	cur, err := c.Ack(r.Context(), principalFrom(r.Context()).Name, mux.Vars(r)["name"], pos)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, cur)
}
