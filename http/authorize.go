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
// or referral (its grids, communities or department). A record outside
// what the principal may read is answered as if it did not exist (404,
// the same body), on reads and commands alike, so that the status never
// tells which ids exist elsewhere (decision 0088).

func outOfScope(what, id string) error {
	return newErr(ErrForbidden, "out_of_scope", "",
		fmt.Sprintf("%s %s is outside your scope (your grids, communities or department)", what, id),
		fmt.Sprintf("%s %s 不在您的权限范围内（您的网格、社区或部门）", map[string]string{"household": "家庭", "problem": "问题", "referral": "转介", "rectification": "整改事项"}[what], id))
}

func notFound(what, id string) error {
	zh := map[string]string{"household": "家庭", "problem": "问题", "referral": "转介", "rectification": "整改事项"}[what]
	// The same answer whether the record does not exist or is outside
	// the caller's scope (decision 0088): the message says both.
	return newErr(ErrNotFound, what+"_not_found", what+"_id", fmt.Sprintf("%s %s does not exist or is outside your scope", what, id),
		fmt.Sprintf("%s %s 不存在或不在您的权限范围内", zh, id))
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
		// A subject the principal may not read answers exactly as one
		// that does not exist (decision 0088): 403 only where the caller
		// can already see the record.
		if !sc.exists || !p.MayRead(sc.subject()) {
			return notFound(kind, id)
		}
		if write && !p.MayWrite(sc.subject(), receiver) {
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
