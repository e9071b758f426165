package http

import (
	"context"
	nethttp "net/http"
	"reflect"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/identity"
)

// RevealAuditor lists every recorded reveal and verifies the chain of the
// record (package accesslog; decision 0101).
type RevealAuditor interface {
	Reveals(ctx context.Context, limit, offset int) ([]accesslog.Record, error)
	Verify(ctx context.Context) (accesslog.ChainReport, error)
}

// RevealRecord is the body of GET /v1/sensitive-reads: the record of reads
// and reveals of sensitive fields, newest first, with what verifying its
// chain found.
type RevealRecord struct {
	Chain accesslog.ChainReport `json:"chain"`
	Reads []accesslog.Record    `json:"reads"`
}

func revealSchemaTypes(responses map[string]reflect.Type) {
	responses["RevealRecord"] = reflect.TypeOf(RevealRecord{})
}

func (s *Server) revealRoutes() []route {
	return []route{
		{op: "listSensitiveReads", method: "GET", path: "/v1/sensitive-reads",
			roles:   []identity.Role{identity.RoleAuditor, identity.RoleAdmin, identity.RolePrivacyOfficer},
			summary: "every recorded read and reveal of sensitive fields, with its purpose (newest first), and whether the record's hash chain is intact", h: s.listSensitiveReads,
			doc: opDoc{tag: "audit", ok: 200, resp: "RevealRecord", params: []param{qp("limit", "integer", "page size (default 100)"), qp("offset", "integer", "rows to skip")}}},
	}
}

func (s *Server) listSensitiveReads(w nethttp.ResponseWriter, r *nethttp.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "limit", "offset"); err != nil {
		return err
	}
	limit, offset, err := s.page(q)
	if err != nil {
		return err
	}
	ra, ok := s.d.Access.(RevealAuditor)
	if !ok {
		return noReadModel("sensitive-read record")
	}
	rep, err := ra.Verify(r.Context())
	if err != nil {
		return err
	}
	reads, err := ra.Reveals(r.Context(), limit, offset)
	if err != nil {
		return err
	}
	if reads == nil {
		reads = []accesslog.Record{}
	}
	return writeJSON(w, nethttp.StatusOK, RevealRecord{Chain: rep, Reads: reads})
}
