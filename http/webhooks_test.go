package http

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/webhook"
)

// testWebhooks is a real webhook manager on the test's store and
// read-model database (not running: no delivery is attempted).
func testWebhooks(t testing.TB, st eventstore.Store, db *sql.DB, opener domain.Opener, reveals webhook.RevealRecorder) *webhook.Manager {
	t.Helper()
	enc, err := cloudevent.NewEncoder("", "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	m, err := webhook.New(webhook.Config{Log: st, DB: db, Dialect: projections.SQLite, Encoder: enc,
		Opener: opener, Reveals: reveals})
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

// Granting a webhook the sealed fields: only an administrator, only for a
// purpose on the list, only an existing subscription, each refusal in
// English and Chinese; a grant and its withdrawal are in the record of
// reveals that auditors list, with the purpose.
func TestWebhookGrantRoutes(t *testing.T) {
	e := newEnv(t, nil)
	must := func(r resp, want int, what string) resp {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	var created WebhookCreated
	must(e.do("POST", "/v1/webhooks", e.admin, WebhookRequest{URL: "https://receiver.example.org/hook"}), 201, "create").decode(t, &created)
	id := created.Subscription.ID
	integ := e.token(identity.Principal{Name: "大屏", Role: identity.RoleIntegrator})
	for _, c := range []struct {
		token, id string
		body      WebhookGrantRequest
		status    int
		code      string
	}{
		{integ, id, WebhookGrantRequest{Purpose: "statutory_report", Reason: "r"}, 403, "role_forbidden"},
		{e.admin, id, WebhookGrantRequest{Purpose: "curiosity", Reason: "r"}, 400, "invalid_purpose"},
		{e.admin, id, WebhookGrantRequest{Purpose: "statutory_report"}, 400, "grant_reason_required"},
		{e.admin, "wh_nope", WebhookGrantRequest{Purpose: "statutory_report", Reason: "r"}, 404, "webhook_not_found"},
	} {
		r := e.do("POST", "/v1/webhooks/"+c.id+"/grant", c.token, c.body)
		if p := r.problem(t); r.status != c.status || p.Code != c.code || p.MessageEN == "" || p.MessageZH == "" {
			t.Errorf("grant %+v: %d %s", c.body, r.status, r.body)
		}
	}
	r := e.do("POST", "/v1/webhooks/"+id+"/grant/withdraw", e.admin, WebhookGrantRequest{})
	if p := r.problem(t); r.status != 409 || p.Code != "webhook_not_granted" || p.MessageZH == "" {
		t.Fatalf("withdraw without a grant: %d %s", r.status, r.body)
	}
	if n := e.access.count(); n != 0 {
		t.Fatalf("refused grants recorded: %d", n)
	}
	var sub webhook.Subscription
	must(e.do("POST", "/v1/webhooks/"+id+"/grant", e.admin, WebhookGrantRequest{Purpose: "statutory_report", Reason: "monthly report"}), 200, "grant").decode(t, &sub)
	if sub.Grant == nil || sub.Grant.Purpose != "statutory_report" || sub.Grant.Reason != "monthly report" {
		t.Fatalf("grant: %+v", sub)
	}
	var after webhook.Subscription
	must(e.do("POST", "/v1/webhooks/"+id+"/grant/withdraw", e.admin, WebhookGrantRequest{Reason: "sent"}), 200, "withdraw").decode(t, &after)
	if after.ID != id || after.Grant != nil {
		t.Fatalf("withdrawn: %+v", after)
	}
	aud := e.token(identity.Principal{Name: "审计", Role: identity.RoleAuditor})
	var rec RevealRecord
	must(e.do("GET", "/v1/sensitive-reads", aud, nil), 200, "record").decode(t, &rec)
	if !rec.Chain.Verified || len(rec.Reads) != 2 || rec.Reads[0].Purpose != "statutory_report" || !strings.Contains(rec.Reads[0].What, "withdrawn") ||
		!strings.Contains(rec.Reads[1].What, "granted") || !strings.Contains(rec.Reads[1].What, id) {
		t.Fatalf("record: %+v", rec)
	}
}
