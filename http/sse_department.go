package http

import (
	"context"
	"strings"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

// A department follows the event stream narrowed to the referrals
// addressed to it (decision 0144): its scope is a receiver, not a place,
// so each event of a referral stream is checked against the referral's
// receiver as the server knows it (the scope resolver, as for reading the
// referral); household and problem events are never sent to it.

// departmentSees reports whether the department p's stream carries ev, and
// the community of ev's household (for the stream's community filter).
func (s *Server) departmentSees(ctx context.Context, p *identity.Principal, ev *eventstore.Event) (bool, string, error) {
	if ev.Category() != "referral" {
		return false, "", nil
	}
	sc, err := s.scopes.referral(ctx, strings.TrimPrefix(ev.Stream, "referral-"), false)
	if err != nil {
		return false, "", err
	}
	return sc.exists && p.MayRead(sc.subject()), sc.community, nil
}
