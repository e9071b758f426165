package http

import (
	"context"
	nethttp "net/http"
	"reflect"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
)

// CommunityCommands are what the community routes consume from the
// command layer (command.Service provides them): recording who supervises a
// community.
type CommunityCommands interface {
	AssignCommunitySupervisor(ctx context.Context, c command.Cmd, community, supervisor, reason string) (command.Result, error)
	AssignDepartmentSupervisor(ctx context.Context, c command.Cmd, department, supervisor, reason string) (command.Result, error)
}

// SupervisorRequest is the body of PUT /v1/communities/{community}/supervisor.
type SupervisorRequest struct {
	Supervisor string `json:"supervisor"`
	Reason     string `json:"reason,omitempty"`
}

func communitySchemaTypes(requests, _ map[string]reflect.Type) {
	requests["SupervisorRequest"] = reflect.TypeOf(SupervisorRequest{})
}

func (s *Server) communityRoutes() []route {
	return []route{
		{op: "assignCommunitySupervisor", method: "PUT", path: "/v1/communities/{community}/supervisor", roles: []identity.Role{identity.RoleAdmin},
			summary: "record who supervises a community (deadline alerts of its households, problems and referrals go to them)", h: s.command(s.assignSupervisor),
			doc: opDoc{tag: "deadlines", body: "SupervisorRequest", ok: 200, resp: "CommandResult", command: true}},
		{op: "assignDepartmentSupervisor", method: "PUT", path: "/v1/departments/{department}/supervisor", roles: []identity.Role{identity.RoleAdmin},
			summary: "record who supervises a receiving organisation (the acceptance and completion alerts of referrals addressed to it name them)", h: s.command(s.assignDepartmentSupervisor),
			doc: opDoc{tag: "deadlines", body: "SupervisorRequest", ok: 200, resp: "CommandResult", command: true}},
	}
}

func (s *Server) assignDepartmentSupervisor(r *nethttp.Request, body []byte) (*plan, error) {
	department := mux.Vars(r)["department"]
	if err := domain.CheckID("department", department); err != nil {
		return nil, err
	}
	in, err := decodeInto[SupervisorRequest](r, body)
	if err != nil {
		return nil, err
	}
	return &plan{stream: domain.DepartmentStream(department),
		authorize: func(context.Context, *identity.Principal) error { return nil }, // admins only (route roles)
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.d.Commands.AssignDepartmentSupervisor(ctx, c, department, in.Supervisor, in.Reason)
		}}, nil
}

func (s *Server) assignSupervisor(r *nethttp.Request, body []byte) (*plan, error) {
	community := mux.Vars(r)["community"]
	if err := domain.CheckID("community", community); err != nil {
		return nil, err
	}
	in, err := decodeInto[SupervisorRequest](r, body)
	if err != nil {
		return nil, err
	}
	return &plan{stream: domain.CommunityStream(community),
		authorize: func(context.Context, *identity.Principal) error { return nil }, // admins only (route roles)
		exec: func(ctx context.Context, c command.Cmd) (command.Result, error) {
			return s.d.Commands.AssignCommunitySupervisor(ctx, c, community, in.Supervisor, in.Reason)
		}}, nil
}
