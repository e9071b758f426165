package http

import (
	"context"
	"fmt"
	nethttp "net/http"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/identity"
)

// Authorisation per subject: the route table admits roles, and these
// decide whether the principal may read or change this household, problem
// or referral (its grids, communities or department).

func outOfScope(what, id string) error {
	return newErr(ErrForbidden, "out_of_scope", "",
		fmt.Sprintf("%s %s is outside your scope (your grids, communities or department)", what, id),
		fmt.Sprintf("%s %s 不在您的权限范围内（您的网格、社区或部门）", map[string]string{"household": "家庭", "problem": "问题", "referral": "转介"}[what], id))
}

func notFound(what, id string) error {
	zh := map[string]string{"household": "家庭", "problem": "问题", "referral": "转介"}[what]
	return newErr(ErrNotFound, what+"_not_found", what+"_id", fmt.Sprintf("%s %s does not exist", what, id), fmt.Sprintf("%s %s 不存在", zh, id))
}

// access returns an authorize func for an existing subject.
func (s *Server) access(kind, id string, write, receiver bool) func(ctx context.Context, p *identity.Principal) error {
	return func(ctx context.Context, p *identity.Principal) error {
		var sc scope
		var err error
		// Commands decide on the scope as of now; reads may use the
		// followed cache (see scopeResolver.stream).
		switch kind {
		case "household":
			sc, err = s.scopes.household(ctx, id, write)
		case "problem":
			sc, err = s.scopes.problem(ctx, id, write)
		case "referral":
			sc, err = s.scopes.referral(ctx, id, write)
		}
		if err != nil {
			return err
		}
		if !sc.exists {
			return notFound(kind, id)
		}
		ok := p.MayRead(sc.subject())
		if write {
			ok = p.MayWrite(sc.subject(), receiver)
		}
		if !ok {
			return outOfScope(kind, id)
		}
		return nil
	}
}

// subject authorises a read of a household, problem or referral in the path.
func (s *Server) subject(r *nethttp.Request, kind string) (string, error) {
	id := mux.Vars(r)["id"]
	return id, s.access(kind, id, false, false)(r.Context(), principalFrom(r.Context()))
}
