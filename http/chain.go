package http

import (
	"context"
	"encoding/hex"
	"errors"
	nethttp "net/http"
	"reflect"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/projections/profile"
)

// The hash-chain verification of a household file (issue 19, decision
// 0143): the household's stream and the streams of its problems and
// referrals are read again from their first event from the store (not a
// read model) and every link of each chain is recomputed
// (eventstore.VerifyChain), so the file's auditors see that what it shows
// is what was recorded, without `doorstep verify` over the whole log.

// ChainStream is the verification of one stream.
type ChainStream struct {
	Stream string `json:"stream"`
	Events int    `json:"events"`
	// Head is the hash of the stream's last event (hex), what an auditor
	// compares with a signed checkpoint or an export.
	Head     string `json:"head,omitempty"`
	Verified bool   `json:"verified"`
	// BrokenAt is the first version whose link does not verify.
	BrokenAt uint64 `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ChainVerification is the body of GET /v1/households/{id}/chain.
type ChainVerification struct {
	HouseholdID string        `json:"household_id"`
	Verified    bool          `json:"verified"`
	Events      int           `json:"events"`
	Streams     []ChainStream `json:"streams"`
	CheckedAt   time.Time     `json:"checked_at"`
}

func chainSchemaTypes(responses map[string]reflect.Type) {
	responses["ChainVerification"] = reflect.TypeOf(ChainVerification{})
}

func (s *Server) chainRoutes() []route {
	return []route{
		{op: "verifyHouseholdChain", method: "GET", path: "/v1/households/{id}/chain", roles: auditRoles(),
			summary: "verify the hash chains of a household's stream and of its problems' and referrals' streams, read again from the store", h: s.verifyHouseholdChain,
			doc: opDoc{tag: "audit", ok: 200, resp: "ChainVerification"}},
	}
}

// maxChainEvents bounds the events one verification reads (a household
// file has hundreds; the bound keeps one request from reading the log).
const maxChainEvents = 100_000

func (s *Server) verifyHouseholdChain(w nethttp.ResponseWriter, r *nethttp.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	id, err := s.subject(r, "household")
	if err != nil {
		return err
	}
	streams := []string{domain.HouseholdStream(id)}
	if s.d.Read.Profiles != nil {
		pr, err := s.d.Read.Profiles.Get(r.Context(), id, nil)
		if err != nil && !errors.Is(err, profile.ErrNotFound) {
			return err
		}
		if pr != nil {
			for _, p := range pr.Problems {
				streams = append(streams, domain.ProblemStream(p.ID))
			}
			for _, rf := range pr.Referrals {
				streams = append(streams, domain.ReferralStream(rf.ID))
			}
		}
	}
	out := ChainVerification{HouseholdID: id, Verified: true, Streams: make([]ChainStream, 0, len(streams)), CheckedAt: clock.Now().UTC()}
	for _, st := range streams {
		cs, err := verifyChainOf(r.Context(), s.d.Store, st, maxChainEvents-out.Events)
		if err != nil {
			return err
		}
		out.Events += cs.Events
		out.Verified = out.Verified && cs.Verified
		out.Streams = append(out.Streams, cs)
	}
	return writeJSON(w, nethttp.StatusOK, out)
}

// verifyChainOf reads stream from its first event and checks every link,
// as eventstore.VerifyStream, counting the events and keeping the head.
func verifyChainOf(ctx context.Context, st eventstore.Store, stream string, budget int) (ChainStream, error) {
	cs := ChainStream{Stream: stream, Verified: true}
	var prev [32]byte
	var from uint64 = 1
	for {
		if cs.Events >= budget {
			return cs, newErr(ErrUnavailable, "too_many_events", "", "the file has too many events to verify in one request; run doorstep verify",
				"此档案事件过多，无法在一次请求中校验；请运行 “doorstep verify”")
		}
		page, err := st.ReadStream(ctx, stream, eventstore.Forward, from, 1000)
		if err != nil {
			return cs, err
		}
		for i := range page {
			if page[i].Version != from+uint64(i) {
				cs.Verified, cs.BrokenAt, cs.Reason = false, from+uint64(i), "version missing from the stream"
				return cs, nil
			}
		}
		if err := eventstore.VerifyChain(prev, page); err != nil {
			var ce *eventstore.ChainError
			if !errors.As(err, &ce) {
				return cs, err
			}
			cs.Verified, cs.BrokenAt, cs.Reason = false, ce.Version, ce.Reason
			cs.Events += int(ce.Version - from)
			return cs, nil
		}
		cs.Events += len(page)
		if len(page) > 0 {
			prev = page[len(page)-1].Hash
			cs.Head = hex.EncodeToString(prev[:])
		}
		if len(page) < 1000 {
			return cs, nil
		}
		from += uint64(len(page))
	}
}
