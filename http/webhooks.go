package http

import (
	"context"
	nethttp "net/http"
	"reflect"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/webhook"
)

// WebhookAdmin manages webhook subscriptions and their delivery logs
// (package webhook's Manager). Implementations must be safe for concurrent
// use.
type WebhookAdmin interface {
	Create(ctx context.Context, req webhook.Request, by string) (webhook.Subscription, string, error)
	List(ctx context.Context) ([]webhook.Subscription, error)
	Get(ctx context.Context, id string) (webhook.Subscription, error)
	Delete(ctx context.Context, id, by string) error
	Deliveries(ctx context.Context, id, status string, limit int) ([]webhook.Delivery, error)
	Replay(ctx context.Context, id, eventID string) (webhook.Delivery, error)
	Grant(ctx context.Context, id, purpose, reason string, by identity.Principal) (webhook.Subscription, error)
	Withdraw(ctx context.Context, id, reason string, by identity.Principal) (webhook.Subscription, error)
}

// WebhookGrantRequest is the body of POST /v1/webhooks/{id}/grant and
// /grant/withdraw (decision 0106).
type WebhookGrantRequest struct {
	// Purpose is why the receiver gets the sealed fields in clear, one of
	// visit_preparation, service_referral, audit, statutory_report; only
	// for a grant.
	Purpose string `json:"purpose,omitempty"`
	// Reason says why, at most 500 characters; required for a grant,
	// optional for a withdrawal. It is recorded: put no personal data in it.
	Reason string `json:"reason,omitempty"`
}

// WebhookRequest is the body of POST /v1/webhooks.
type WebhookRequest struct {
	// URL receives the deliveries: http or https, no credentials, at most
	// 2048 bytes; redirects are not followed.
	URL string `json:"url"`
	// Types are the event types to deliver (e.g. visit.recorded); empty:
	// every type.
	Types []string `json:"types,omitempty"`
	// Communities are the communities to deliver; empty: every event.
	Communities []string `json:"communities,omitempty"`
	// From is "now" (default: the events recorded from now on) or "start"
	// (the whole log, oldest first).
	From string `json:"from,omitempty"`
}

// WebhookCreated is the body of a created subscription: the secret is
// shown once.
type WebhookCreated struct {
	Subscription webhook.Subscription `json:"subscription"`
	// Secret signs every delivery (Standard Webhooks, "whsec_" + base64).
	Secret string `json:"secret"`
	Note   string `json:"note"`
}

// WebhookList is the body of GET /v1/webhooks.
type WebhookList struct {
	Webhooks []webhook.Subscription `json:"webhooks"`
}

// WebhookDeliveryList is the body of GET /v1/webhooks/{id}/deliveries.
type WebhookDeliveryList struct {
	Deliveries []webhook.Delivery `json:"deliveries"`
}

func webhookSchemaTypes(requests, responses map[string]reflect.Type) {
	requests["WebhookRequest"] = reflect.TypeOf(WebhookRequest{})
	responses["WebhookCreated"] = reflect.TypeOf(WebhookCreated{})
	responses["WebhookList"] = reflect.TypeOf(WebhookList{})
	responses["WebhookSubscription"] = reflect.TypeOf(webhook.Subscription{})
	responses["WebhookDeliveryList"] = reflect.TypeOf(WebhookDeliveryList{})
	responses["WebhookDelivery"] = reflect.TypeOf(webhook.Delivery{})
	requests["WebhookGrantRequest"] = reflect.TypeOf(WebhookGrantRequest{})
}

// webhookRoles manage webhooks: administrators, and integrators (who may
// read every event anyway, on the event stream).
func webhookRoles() []identity.Role {
	return []identity.Role{identity.RoleIntegrator, identity.RoleAdmin}
}

func (s *Server) webhookRoutes() []route {
	rs := webhookRoles()
	return []route{
		{op: "createWebhook", method: "POST", path: "/v1/webhooks", roles: rs, summary: "subscribe a URL to the events (signed CloudEvents, Standard Webhooks); the secret is shown once", h: s.createWebhook,
			doc: opDoc{tag: "integration", body: "WebhookRequest", ok: 201, resp: "WebhookCreated"}},
		{op: "listWebhooks", method: "GET", path: "/v1/webhooks", roles: rs, summary: "list the webhook subscriptions and their checkpoints", h: s.listWebhooks,
			doc: opDoc{tag: "integration", ok: 200, resp: "WebhookList"}},
		{op: "getWebhook", method: "GET", path: "/v1/webhooks/{id}", roles: rs, summary: "one webhook subscription", h: s.getWebhook,
			doc: opDoc{tag: "integration", ok: 200, resp: "WebhookSubscription"}},
		{op: "deleteWebhook", method: "POST", path: "/v1/webhooks/{id}/delete", roles: rs, summary: "delete a webhook subscription and its delivery log", h: s.deleteWebhook,
			doc: opDoc{tag: "integration", ok: 200, resp: "WebhookSubscription"}},
		{op: "listWebhookDeliveries", method: "GET", path: "/v1/webhooks/{id}/deliveries", roles: rs, summary: "a webhook's delivery log, newest first: status, attempts, last error, latency", h: s.listWebhookDeliveries,
			doc: opDoc{tag: "integration", ok: 200, resp: "WebhookDeliveryList", params: []param{
				qp("status", "string", "only deliveries with this status", webhook.StatusDelivered, webhook.StatusRetrying, webhook.StatusParked, webhook.StatusReplayed),
				qp("limit", "integer", "at most this many (default and maximum 500)"),
			}}},
		{op: "replayWebhookDelivery", method: "POST", path: "/v1/webhooks/{id}/deliveries/{event}/replay", roles: rs, summary: "deliver a parked delivery again, once, now", h: s.replayWebhookDelivery,
			doc: opDoc{tag: "integration", ok: 200, resp: "WebhookDelivery"}},
		// Only an administrator grants sealed fields (decision 0106).
		{op: "grantWebhook", method: "POST", path: "/v1/webhooks/{id}/grant", roles: []identity.Role{identity.RoleAdmin},
			summary: "grant a webhook the sealed fields in clear for one purpose (recorded, as every delivery that carries them)", h: s.grantWebhook,
			doc: opDoc{tag: "integration", body: "WebhookGrantRequest", ok: 200, resp: "WebhookSubscription"}},
		{op: "withdrawWebhookGrant", method: "POST", path: "/v1/webhooks/{id}/grant/withdraw", roles: []identity.Role{identity.RoleAdmin},
			summary: "withdraw a webhook's grant of the sealed fields (recorded); its deliveries carry markers again", h: s.withdrawWebhookGrant,
			doc: opDoc{tag: "integration", body: "WebhookGrantRequest", ok: 200, resp: "WebhookSubscription"}},
	}
}

func (s *Server) grantWebhook(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.changeWebhookGrant(w, r, true)
}

func (s *Server) withdrawWebhookGrant(w nethttp.ResponseWriter, r *nethttp.Request) error {
	return s.changeWebhookGrant(w, r, false)
}

func (s *Server) changeWebhookGrant(w nethttp.ResponseWriter, r *nethttp.Request, grant bool) error {
	wh, err := s.webhooks()
	if err != nil {
		return err
	}
	var in WebhookGrantRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id, p := mux.Vars(r)["id"], principalFrom(r.Context())
	var sub webhook.Subscription
	if grant {
		sub, err = wh.Grant(r.Context(), id, in.Purpose, in.Reason, *p)
	} else {
		sub, err = wh.Withdraw(r.Context(), id, in.Reason, *p)
	}
	if err != nil {
		return err
	}
	s.log.Info("webhook grant changed", "id", id, "granted", grant, "purpose", in.Purpose, "by", p.Name)
	return writeJSON(w, nethttp.StatusOK, sub)
}

// webhooks returns the manager, or a 503 when the server has none.
func (s *Server) webhooks() (WebhookAdmin, error) {
	if s.d.Webhooks == nil {
		return nil, newErr(ErrUnavailable, "webhooks_unavailable", "", "webhooks are not available on this server", "此服务器未启用回调推送")
	}
	return s.d.Webhooks, nil
}

func (s *Server) createWebhook(w nethttp.ResponseWriter, r *nethttp.Request) error {
	wh, err := s.webhooks()
	if err != nil {
		return err
	}
	var in WebhookRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	by := principalFrom(r.Context()).Name
	sub, secret, err := wh.Create(r.Context(), webhook.Request{URL: in.URL, Types: in.Types, Communities: in.Communities, From: in.From}, by)
	if err != nil {
		return err
	}
	s.log.Info("webhook created", "id", sub.ID, "by", by)
	return writeJSON(w, nethttp.StatusCreated, WebhookCreated{Subscription: sub, Secret: secret,
		Note: "store this secret now: it is shown only once; verify each delivery's webhook-signature with it / 请立即保存此密钥：它只显示这一次；用它验证每次投递的 webhook-signature"})
}

func (s *Server) listWebhooks(w nethttp.ResponseWriter, r *nethttp.Request) error {
	wh, err := s.webhooks()
	if err != nil {
		return err
	}
	list, err := wh.List(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, WebhookList{Webhooks: list})
}

func (s *Server) getWebhook(w nethttp.ResponseWriter, r *nethttp.Request) error {
	wh, err := s.webhooks()
	if err != nil {
		return err
	}
	sub, err := wh.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, sub)
}

func (s *Server) deleteWebhook(w nethttp.ResponseWriter, r *nethttp.Request) error {
	wh, err := s.webhooks()
	if err != nil {
		return err
	}
	id, by := mux.Vars(r)["id"], principalFrom(r.Context()).Name
	sub, err := wh.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if err := wh.Delete(r.Context(), id, by); err != nil {
		return err
	}
	s.log.Info("webhook deleted", "id", id, "by", by)
	return writeJSON(w, nethttp.StatusOK, sub)
}

func (s *Server) listWebhookDeliveries(w nethttp.ResponseWriter, r *nethttp.Request) error {
	wh, err := s.webhooks()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := intParam(q, "limit")
	if err != nil {
		return err
	}
	list, err := wh.Deliveries(r.Context(), mux.Vars(r)["id"], q.Get("status"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, nethttp.StatusOK, WebhookDeliveryList{Deliveries: list})
}

func (s *Server) replayWebhookDelivery(w nethttp.ResponseWriter, r *nethttp.Request) error {
	wh, err := s.webhooks()
	if err != nil {
		return err
	}
	v := mux.Vars(r)
	d, err := wh.Replay(r.Context(), v["id"], v["event"])
	if err != nil {
		return err
	}
	s.log.Info("webhook delivery replayed", "id", v["id"], "event", v["event"], "status", d.Status, "by", principalFrom(r.Context()).Name)
	return writeJSON(w, nethttp.StatusOK, d)
}
