package http

import (
	nethttp "net/http"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/identity"
)

// TokenList is the body of GET /v1/tokens: every token (never the token
// itself, only its id), oldest first.
type TokenList struct {
	Tokens []identity.TokenInfo `json:"tokens"`
}

// TokenExpiryRequest is the body of POST /v1/tokens/{id}/expiry.
type TokenExpiryRequest struct {
	// ExpiresAt is an RFC 3339 instant from which the token no longer
	// authenticates; empty: it never expires.
	ExpiresAt string `json:"expires_at"`
}

func (s *Server) listTokens(w nethttp.ResponseWriter, r *nethttp.Request) error {
	list, err := s.d.Tokens.List(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, TokenList{Tokens: list})
}

func (s *Server) revokeToken(w nethttp.ResponseWriter, r *nethttp.Request) error {
	id, by := mux.Vars(r)["id"], principalFrom(r.Context()).Name
	if err := s.d.Tokens.Revoke(r.Context(), id, by); err != nil {
		return err
	}
	s.log.Info("token revoked", "id", id, "by", by)
	return s.tokenInfo(w, r, id)
}

func (s *Server) setTokenExpiry(w nethttp.ResponseWriter, r *nethttp.Request) error {
	var in TokenExpiryRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	at, err := parseTime("expires_at", in.ExpiresAt, false)
	if err != nil {
		return err
	}
	id, by := mux.Vars(r)["id"], principalFrom(r.Context()).Name
	if err := s.d.Tokens.SetExpiry(r.Context(), id, at); err != nil {
		return err
	}
	s.log.Info("token expiry set", "id", id, "expires_at", at, "by", by)
	return s.tokenInfo(w, r, id)
}

// tokenInfo answers the token id as it is now.
func (s *Server) tokenInfo(w nethttp.ResponseWriter, r *nethttp.Request, id string) error {
	list, err := s.d.Tokens.List(r.Context())
	if err != nil {
		return err
	}
	for _, t := range list {
		if t.ID == id {
			return writeJSON(w, nethttp.StatusOK, t)
		}
	}
	return newErr(ErrNotFound, "token_not_found", "id", "the token is gone", "令牌已不存在")
}
