package http

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/webhook"
)

// testWebhooks is a real webhook manager on the test's store and
// read-model database (not running: no delivery is attempted).
func testWebhooks(t testing.TB, st eventstore.Store, db *sql.DB) *webhook.Manager {
	t.Helper()
	enc, err := cloudevent.NewEncoder("", "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	m, err := webhook.New(webhook.Config{Log: st, DB: db, Dialect: projections.SQLite, Encoder: enc})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// The webhook routes: a subscription is created with its secret shown
// once, listed and read without it; a target with credentials is refused
// in English and Chinese; a server without webhooks answers 503.
func TestWebhookRoutes(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/v1/webhooks", e.admin, WebhookRequest{URL: "https://user:pw@receiver.example.org/hook"})
	if p := r.problem(t); r.status != 400 || p.Code != "webhook_url_credentials" || p.MessageZH == "" || p.MessageEN == "" {
		t.Fatalf("credentials in the URL: %d %+v", r.status, p)
	}
	r = e.do("POST", "/v1/webhooks", e.admin, WebhookRequest{URL: "https://receiver.example.org/hook", Communities: []string{"C1"}})
	var created WebhookCreated
	r.decode(t, &created)
	if r.status != 201 || !strings.HasPrefix(created.Secret, "whsec_") || created.Subscription.CreatedBy == "" {
		t.Fatalf("create: %d %+v", r.status, created)
	}
	r = e.do("GET", "/v1/webhooks", e.admin, nil)
	if r.status != 200 || strings.Contains(string(r.body), created.Secret) || !strings.Contains(string(r.body), created.Subscription.ID) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/webhooks/"+created.Subscription.ID+"/deliveries?status=lost", e.admin, nil)
	if p := r.problem(t); r.status != 400 || p.Code != "webhook_status_invalid" {
		t.Fatalf("bad status filter: %d %+v", r.status, p)
	}
	r = e.do("GET", "/v1/webhooks/wh_nope", e.admin, nil)
	if p := r.problem(t); r.status != 404 || p.Code != "webhook_not_found" {
		t.Fatalf("unknown: %d %+v", r.status, p)
	}

	bare := newEnv(t, func(d *Deps) { d.Webhooks = nil })
	r = bare.do("GET", "/v1/webhooks", bare.admin, nil)
	if p := r.problem(t); r.status != 503 || p.Code != "webhooks_unavailable" {
		t.Fatalf("without webhooks: %d %+v", r.status, p)
	}
}
